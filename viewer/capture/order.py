"""Whose and which order: the patient, study and request attributes a DICOMized file carries.

An `Order` comes from a modality worklist item (found by its Accession Number by the face that
queried it), from a study in the archive, or typed by the user and validated here. Text is kept
decoded (Python str), with the Specific Character Set of its source: the new instances are
written in that set when every value fits in it (a Chinese name from a UTF-8 or GB18030
worklist stays right and is written as its source wrote it), else in ISO_IR 192 (UTF-8).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from viewer.dicom import text
from viewer.dicom.files import DicomFileError, read_dataset

if TYPE_CHECKING:
    from viewer.archive.archive import Archive

UTF8 = "ISO_IR 192"


class OrderError(ValueError):
    """Patient or order data that cannot be used; the message names the field and why."""


@dataclass(frozen=True)
class Order:
    """Patient (PS3.3 C.7.1.1), General Study (C.7.2.1) and request attributes (the Request
    Attributes Sequence, C.7.3.1) of the instances to create; text decoded."""

    patient_name: str
    patient_id: str
    study_instance_uid: str
    patient_birth_date: str = ""
    patient_sex: str = ""
    accession_number: str = ""
    referring_physician_name: str = ""
    study_date: str = ""
    study_time: str = ""
    study_id: str = ""
    study_description: str = ""
    requested_procedure_id: str = ""
    requested_procedure_description: str = ""
    scheduled_procedure_step_id: str = ""
    scheduled_procedure_step_description: str = ""
    specific_character_set: tuple[str, ...] = ()  # of the source; () is the default repertoire
    source: str = ""  # "worklist", "archive" or "typed": shown in the confirm dialog

    def text_values(self) -> tuple[str, ...]:
        return (self.patient_name, self.patient_id, self.accession_number,
                self.referring_physician_name, self.study_id, self.study_description,
                self.requested_procedure_id, self.requested_procedure_description,
                self.scheduled_procedure_step_id, self.scheduled_procedure_step_description)


class WorklistEntry(Protocol):
    """What `order_from_worklist` reads of viewer.net.worklist.WorklistItem (this room does not
    import the network room)."""

    @property
    def patient_name(self) -> str: ...

    @property
    def patient_id(self) -> str: ...

    @property
    def patient_birth_date(self) -> str: ...

    @property
    def patient_sex(self) -> str: ...

    @property
    def accession_number(self) -> str: ...

    @property
    def requested_procedure_id(self) -> str: ...

    @property
    def requested_procedure_description(self) -> str: ...

    @property
    def study_instance_uid(self) -> str: ...

    @property
    def referring_physician_name(self) -> str: ...

    @property
    def step_id(self) -> str: ...

    @property
    def step_description(self) -> str: ...

    @property
    def specific_character_set(self) -> str: ...


def order_from_worklist(item: WorklistEntry, today: datetime.datetime | None = None) -> Order:
    """The order of a scheduled procedure step. Its Study Instance UID is kept (IHE SWF: the
    instances made for the step join the study the RIS named); an item without one gets a new
    study. The study date is the day the files are DICOMized (the study happens now)."""
    now = today or datetime.datetime.now()
    order = Order(
        patient_name=item.patient_name,
        patient_id=item.patient_id,
        study_instance_uid=item.study_instance_uid or generate_uid(),
        patient_birth_date=item.patient_birth_date,
        patient_sex=item.patient_sex,
        accession_number=item.accession_number,
        referring_physician_name=item.referring_physician_name,
        study_date=now.strftime("%Y%m%d"),
        study_time=now.strftime("%H%M%S"),
        study_description=item.requested_procedure_description,
        requested_procedure_id=item.requested_procedure_id,
        requested_procedure_description=item.requested_procedure_description,
        scheduled_procedure_step_id=item.step_id,
        scheduled_procedure_step_description=item.step_description,
        specific_character_set=_terms(item.specific_character_set),
        source="worklist",
    )
    _require_patient(order.patient_name, order.patient_id,
                     f"worklist item {order.accession_number}")
    return order


def order_from_study(archive: Archive, study_uid: str) -> Order:
    """The order of a study in the archive: its patient and study attributes as its first
    stored instance holds them (with that file's character set). OrderError when the study is
    not in the archive or its file cannot be read."""
    study = archive.index.get_study(study_uid)
    if study is None:
        raise OrderError(f"{study_uid}: no such study in the archive")
    for series in archive.index.series(study_uid):
        for row in archive.index.instances(series.series_instance_uid):
            try:
                ds = read_dataset(archive.store.absolute(row.store_path), stop_before_pixels=True)
            except DicomFileError:
                continue  # another instance of the study may still be readable
            return _order_of_instance(ds, study_uid)
    raise OrderError(f"{study_uid}: no readable instance of the study in the archive")


def _order_of_instance(ds: Dataset, study_uid: str) -> Order:
    decoded, _ = text.decoded_dataset(ds, _STUDY_KEYWORDS)

    def value(keyword: str) -> str:
        raw = decoded.get(keyword, "")
        if dictionary_VR(keyword) == "PN":
            return text.person_name_value(raw)
        return str(raw or "").strip()

    return Order(
        patient_name=value("PatientName"), patient_id=value("PatientID"),
        study_instance_uid=study_uid,
        patient_birth_date=value("PatientBirthDate"), patient_sex=value("PatientSex"),
        accession_number=value("AccessionNumber"),
        referring_physician_name=value("ReferringPhysicianName"),
        study_date=value("StudyDate"), study_time=value("StudyTime"),
        study_id=value("StudyID"), study_description=value("StudyDescription"),
        specific_character_set=_terms(ds.get("SpecificCharacterSet")),
        source="archive",
    )


_STUDY_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                   "AccessionNumber", "ReferringPhysicianName", "StudyDate", "StudyTime",
                   "StudyID", "StudyDescription")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_SEXES = ("M", "F", "O")


def typed_order(patient_id: str, patient_name: str, birth_date: str = "", sex: str = "",
                accession_number: str = "", today: datetime.datetime | None = None) -> Order:
    """An order typed by the user, validated: Patient ID and Name required (LO and PN: at most
    64 characters per value or name group, no backslash or control character, at most five
    components), birth date YYYYMMDD and not in the future, sex M, F or O. A new study."""
    now = today or datetime.datetime.now()
    patient_id, patient_name = patient_id.strip(), patient_name.strip()
    _require_patient(patient_name, patient_id, "typed patient")
    _check_text("patient ID", patient_id, 64)
    _check_text("accession number", accession_number, 16)
    for group in patient_name.split("="):
        _check_text("patient name", group, 64)
        if group.count("^") > 4:
            raise OrderError(f"patient name {patient_name!r}: at most five ^-separated components")
    if patient_name.count("=") > 2:
        raise OrderError(f"patient name {patient_name!r}: at most three =-separated groups")
    if birth_date:
        try:
            born = datetime.datetime.strptime(birth_date, "%Y%m%d")
        except ValueError:
            raise OrderError(f"birth date {birth_date!r}: not a date YYYYMMDD") from None
        if born.date() > now.date() or not re.fullmatch(r"\d{8}", birth_date):
            raise OrderError(f"birth date {birth_date!r}: not a date YYYYMMDD in the past")
    sex = sex.strip().upper()
    if sex and sex not in _SEXES:
        raise OrderError(f"sex {sex!r}: one of M, F, O")
    charset = () if all(v.isascii() for v in (patient_name, patient_id, accession_number)) \
        else (UTF8,)
    return Order(patient_name=patient_name, patient_id=patient_id,
                 study_instance_uid=generate_uid(), patient_birth_date=birth_date,
                 patient_sex=sex, accession_number=accession_number,
                 study_date=now.strftime("%Y%m%d"), study_time=now.strftime("%H%M%S"),
                 specific_character_set=charset, source="typed")


def _require_patient(name: str, patient_id: str, where: str) -> None:
    if not patient_id:
        raise OrderError(f"{where}: no Patient ID")
    if not name.strip("^= "):
        raise OrderError(f"{where}: no Patient's Name")


def _check_text(what: str, value: str, limit: int) -> None:
    if _CONTROL.search(value):
        raise OrderError(f"{what} {value!r}: no backslash or control character allowed")
    if len(value) > limit:
        raise OrderError(f"{what}: at most {limit} characters ({len(value)} given)")


def _terms(value: object) -> tuple[str, ...]:
    """Specific Character Set as a tuple of defined terms ("" for the default repertoire
    first, as PS3.3 C.12.1.1.2 allows); () when none."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        terms = value.split("\\")
    elif isinstance(value, Iterable):  # a MultiValue of several terms
        terms = [str(v) for v in value]
    else:
        terms = [str(value)]
    terms = [t.strip() for t in terms]
    return tuple(terms) if any(terms) else ()


def writing_charset(order: Order) -> tuple[str, ...]:
    """The Specific Character Set to write `order`'s text in: the source's when every value
    can be encoded in it, else ISO_IR 192 (UTF-8 carries any text)."""
    values = [v for v in order.text_values() if v]
    if all(v.isascii() for v in values):
        return order.specific_character_set  # the default repertoire fits any set
    from pydicom.charset import convert_encodings

    terms = list(order.specific_character_set) or [""]
    try:
        encodings = convert_encodings(terms)
    except (LookupError, ValueError):
        return (UTF8,)
    for value in values:
        for char in value:
            if not any(_encodes(char, encoding) for encoding in encodings):
                return (UTF8,)
    return order.specific_character_set


def _encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
