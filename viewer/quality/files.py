"""One file: its header read by our reader, checked by dciodvfy against its IOD, and its text
against its declared Specific Character Set; plus the facts the study checks need.

A file our reader refuses gets one error with our reader's reason, and dciodvfy is not asked;
a file dciodvfy cannot read to its end gets one error with our reason for it (not dciodvfy's
findings about the part it read, which blame attributes the damage hid).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import UID
from pydicom.valuerep import CUSTOMIZABLE_CHARSET_VR

from viewer.dicom.files import DicomFileError, read_dataset
from viewer.dicom.pixels import PIXEL_DATA_TAGS, check_pixel_layout, read_header
from viewer.dicom.stack import SliceGeometry, frame_geometries
from viewer.dicom.text import decoded_values, person_name_text, pydicom_warnings
from viewer.quality.dciodvfy import check_file
from viewer.quality.findings import ERROR, WARNING, FileResult, Finding

LOGGER = logging.getLogger(__name__)

_IDENTITY = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex")
_CHARSET_TAG = "(0008,0005)"


@dataclass(frozen=True)
class InstanceFacts:
    """What the study and series checks need of one readable file (no dataset kept: a study
    of 5,000 files is checked in little memory). Text is decoded; names as PN text."""

    path: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    study_instance_uid: str
    series_instance_uid: str
    modality: str
    patient_id: str
    patient_name: str
    patient_birth_date: str
    patient_sex: str
    is_image: bool
    geometry: tuple[SliceGeometry | None, ...]  # one per frame; empty when not an image
    # dciodvfy read the file to its end: dcentvfy, which reads it too, would stumble otherwise
    whole: bool = True


def inspect_file(path: Path, tool: str | None = None) -> tuple[FileResult, InstanceFacts | None]:
    """Validate one file (PS3.3 IOD by dciodvfy, PS3.5 §6.1 character sets by us); the facts
    are None when our reader refuses the file."""
    try:
        ds = read_header(path)
    except DicomFileError as exc:
        return FileResult(str(path), "", "", "", (_unreadable(exc.reason),)), None
    with pydicom_warnings():  # what pydicom warns of (a malformed value), dciodvfy reports
        facts, values = _facts(path, ds)
    check = check_file(path, tool)
    if check.unparsed:
        reason = _our_reason(path, ds)
        finding = (_unreadable(reason) if reason else Finding(
            ERROR, "", "", "", f"the IOD could not be checked: {check.unparsed}"))
        result = FileResult(str(path), facts.sop_instance_uid, facts.sop_class_uid, "",
                            (finding,))
        return result, replace(facts, whole=False)
    findings = list(check.findings)
    if check.unknown_sop_class:
        findings.insert(0, _unknown_sop_class(facts.sop_class_uid))
    findings.extend(_charset_findings(values))
    return FileResult(str(path), facts.sop_instance_uid, facts.sop_class_uid, check.iod,
                      tuple(findings)), facts


def _facts(path: Path, ds: Dataset) -> tuple[InstanceFacts, tuple[dict[str, Any], list[str]]]:
    text_keywords = [kw for tag, elem in ds.items()
                     if _vr(tag, elem.VR) in CUSTOMIZABLE_CHARSET_VR
                     and (kw := keyword_for_tag(tag))]
    values = decoded_values(ds, dict.fromkeys([*_IDENTITY, *text_keywords]))
    decoded = values[0]
    is_image = any(tag in ds._dict for tag in PIXEL_DATA_TAGS) and "Rows" in ds
    try:
        geometry = tuple(frame_geometries(ds)) if is_image else ()
    except Exception as exc:  # a geometry value of the wrong VR: dciodvfy names it
        LOGGER.debug("no geometry for %s: %r", path, exc)
        geometry = ()
    meta = getattr(ds, "file_meta", Dataset())
    return InstanceFacts(
        path=str(path),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        sop_class_uid=_text(ds, "SOPClassUID"),
        transfer_syntax_uid=str(meta.get("TransferSyntaxUID", "") or ""),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        modality=_text(ds, "Modality"),
        patient_id=str(decoded.get("PatientID") or "").strip(),
        patient_name=person_name_text(decoded.get("PatientName")).strip(),
        patient_birth_date=_text(ds, "PatientBirthDate"),
        patient_sex=_text(ds, "PatientSex"),
        is_image=is_image,
        geometry=geometry,
    ), values


def _vr(tag: int, vr: str | None) -> str:
    if vr:  # explicit VR; implicit VR files leave it to the dictionary
        return vr
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return ""


def _text(ds: Dataset, keyword: str) -> str:
    try:
        return str(ds.get(keyword, "") or "").strip()
    except Exception:  # a value that cannot be converted: dciodvfy reports its VR
        return ""


def _our_reason(path: Path, ds: Dataset) -> str:
    """Why our reader would refuse the whole file (pixel data cut short, a value that cannot
    be read), "" when it reads it all."""
    try:
        full = read_dataset(path)
        if any(tag in full._dict for tag in PIXEL_DATA_TAGS):
            check_pixel_layout(path, ds)
    except DicomFileError as exc:
        return exc.reason
    return ""


def _unreadable(reason: str) -> Finding:
    return Finding(ERROR, "", "", "", f"cannot be read as DICOM: {reason}")


def _unknown_sop_class(uid: str) -> Finding:
    name = UID(uid).name if uid else ""
    what = f"{uid} ({name})" if name and name != uid else uid or "(none)"
    return Finding(WARNING, "(0008,0016)", "SOPClassUID", "SOP Common",
                   f"SOP Class {what} is not one dciodvfy knows: the file was not checked "
                   "against an IOD", "Error - Information Object Not found")


def _charset_findings(values: tuple[dict[str, Any], list[str]]) -> list[Finding]:
    """Text whose bytes the declared Specific Character Set cannot decode (PS3.5 §6.1): shown
    as replacement characters or as Latin-1, a name in mojibake. Our reader's warnings name
    the element ("PatientName: bytes not valid ...") or the character set term."""
    findings = []
    for line in values[1]:
        label, _, words = line.partition(": ")
        if "character set" not in words and "repertoire" not in words:
            if "Specific Character Set" in line or "code extension" in line:
                findings.append(Finding(WARNING, _CHARSET_TAG, "SpecificCharacterSet",
                                        "SOP Common", f"Specific Character Set: {line}"))
            continue
        tag = _tag_text(label)
        if "repertoire" in words:
            message = (f"{label} holds characters outside the default repertoire (ASCII) and "
                       "no Specific Character Set declares them: shown as Latin-1, perhaps "
                       "wrongly")
        else:
            message = (f"{label} holds bytes its declared Specific Character Set cannot "
                       "decode: shown with replacement characters")
        findings.append(Finding(ERROR, tag, label if tag else "", "", message))
    return findings


def _tag_text(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    return "" if tag is None else f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
