"""Each file against its IOD: one injected defect per file, every kind issue 19 lists, found
by the real dciodvfy and reported as an error on that attribute (and nothing else as an error);
the defects of our own file checks (character sets); files dciodvfy cannot parse; a SOP class
it does not know."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from viewer.quality.files import inspect_file
from viewer.quality.findings import ERROR, WARNING


def _set(keyword: str, value: object) -> Callable[[Dataset], None]:
    def change(ds: Dataset) -> None:
        setattr(ds, keyword, value)
    return change


def _delete(keyword: str) -> Callable[[Dataset], None]:
    def change(ds: Dataset) -> None:
        delattr(ds, keyword)
    return change


def _raw_text(keyword_tag: int, vr: str, raw: bytes,
              charset: str | None) -> Callable[[Dataset], None]:
    def change(ds: Dataset) -> None:
        if charset is None:
            ds.pop("SpecificCharacterSet", None)
        else:
            ds.SpecificCharacterSet = charset
        ds[keyword_tag] = DataElement(keyword_tag, vr, raw)
    return change


# (id, change, keyword at fault, words the message must hold)
DEFECTS = [
    ("missing-type1", _delete("RescaleIntercept"), "RescaleIntercept", "is missing"),
    ("empty-type1", _set("ImageType", ""), "ImageType", "is empty"),
    ("missing-type2", _delete("PatientName"), "PatientName", "even if empty (Type 2)"),
    ("missing-type2c", _delete("PositionReferenceIndicator"), "PositionReferenceIndicator",
     "is missing"),
    ("enumerated-value", _set("PatientSex", "X"), "PatientSex", "not one of the values"),
    ("malformed-date", _set("StudyDate", "2026-12-01"), "StudyDate", "not a valid date"),
    ("malformed-uid", _set("SeriesInstanceUID", "1.2.abc"), "SeriesInstanceUID",
     "not a valid UID"),
    ("value-too-long", _set("PatientID", "A" * 70), "PatientID", "at most 64"),
    ("value-multiplicity", _set("PixelSpacing", ["0.7", "0.7", "0.7"]), "PixelSpacing",
     "has 3 values"),
    ("vr", _set("PhotometricInterpretation", "monochrome2"), "PhotometricInterpretation", ""),
    ("charset-undecodable", _raw_text(0x00100010, "PN", "Müller^Hans".encode("latin-1"),
                                      "ISO_IR 192"), "PatientName", "cannot decode"),
    ("charset-undeclared", _raw_text(0x00081030, "LO", "Thorax ärztlich".encode("latin-1"),
                                     None), "StudyDescription", "no Specific Character Set"),
]


@pytest.mark.parametrize(("change", "keyword", "words"), [d[1:] for d in DEFECTS],
                         ids=[d[0] for d in DEFECTS])
def test_one_defect_is_one_error_on_its_attribute(
    ct_series: list[Path], tmp_path: Path, change: Callable[[Dataset], None], keyword: str,
    words: str,
) -> None:
    ds = dcmread(ct_series[2])
    with warnings.catch_warnings():  # pydicom warns of the very defect we write
        warnings.simplefilter("ignore")
        change(ds)
    path = tmp_path / "defect.dcm"
    ds.save_as(path, enforce_file_format=False)
    result, facts = inspect_file(path)
    errors = [f for f in result.findings if f.severity == ERROR]
    assert errors, result.findings
    assert {f.keyword for f in errors} == {keyword}, errors
    assert any(words in f.message for f in errors), errors
    assert result.iod == "CT Image"
    assert facts is not None
    for finding in errors:
        assert finding.tag.startswith("(") and len(finding.tag) == 11
        assert "\n" not in finding.message


def test_dciodvfy_errors_keep_its_words_and_module(ct_series: list[Path], tmp_path: Path) -> None:
    ds = dcmread(ct_series[0])
    del ds.PatientName
    path = tmp_path / "no-name.dcm"
    ds.save_as(path, enforce_file_format=True)
    result, _ = inspect_file(path)
    (finding,) = result.findings
    assert (finding.severity, finding.tag, finding.keyword, finding.module) == (
        ERROR, "(0010,0010)", "PatientName", "Patient")
    assert finding.message == ("Patient's Name is missing: the Patient module requires it, "
                               "even if empty (Type 2)")
    said = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True,
                          check=False)
    assert finding.detail in (said.stdout + said.stderr).splitlines()


def test_a_file_cut_short_gets_our_readers_reason_only(ct_series: list[Path],
                                                        tmp_path: Path) -> None:
    path = tmp_path / "cut.dcm"
    path.write_bytes(ct_series[0].read_bytes()[:1500])
    said = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True,
                          check=False)
    assert "read failed" in said.stdout + said.stderr  # dciodvfy cannot parse it
    result, _ = inspect_file(path)
    (finding,) = result.findings
    assert finding.severity == ERROR
    assert finding.message.startswith("cannot be read as DICOM: ")
    assert "more than the file" in finding.message


def test_pixel_data_cut_short_is_our_readers_reason(ct_series: list[Path],
                                                    tmp_path: Path) -> None:
    data = ct_series[0].read_bytes()
    path = tmp_path / "short-pixels.dcm"
    path.write_bytes(data[: len(data) - 100])
    result, _ = inspect_file(path)
    (finding,) = result.findings
    assert finding.severity == ERROR and "cannot be read as DICOM" in finding.message


def test_a_file_that_is_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not an image\n" * 40)
    result, facts = inspect_file(path)
    assert facts is None
    assert result.iod == "" and result.sop_instance_uid == ""
    (finding,) = result.findings
    assert finding.severity == ERROR and "DICM" in finding.message


@pytest.mark.filterwarnings("ignore:Invalid value for VR IS")  # the file's fault, as reported
def test_a_file_dciodvfy_stops_on_is_an_error_not_a_crash(tmp_path: Path) -> None:
    # pydicom's badVR.dcm makes dciodvfy abort (an assertion in its reader); ours reads it
    from pydicom.data import get_testdata_file

    path = Path(str(get_testdata_file("badVR.dcm")))
    result, facts = inspect_file(path)
    assert facts is not None
    (finding,) = result.findings
    assert finding.severity == ERROR
    assert finding.message.startswith("the IOD could not be checked: dciodvfy stopped on it")


def test_an_unknown_sop_class_is_a_warning(ct_series: list[Path], tmp_path: Path) -> None:
    ds = dcmread(ct_series[0])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.826.0.1.3680043.9.9999.1"
    path = tmp_path / "unknown.dcm"
    ds.save_as(path, enforce_file_format=True)
    result, facts = inspect_file(path)
    assert facts is not None
    assert result.iod == ""
    assert [f.severity for f in result.findings] == [WARNING]
    assert result.findings[0].keyword == "SOPClassUID"
    assert "not one dciodvfy knows" in result.findings[0].message
