"""Typed rows of the archive index: what the importer passes in and what queries return.

Small frozen dataclasses (ARCHITECTURE.md, "Data that crosses rooms"); no open files or datasets.
Person names are kept as decoded PN values ("Family^Given=Ideographic=Phonetic", PS3.5 §6.2.1);
`name_key` builds the case-insensitive search key the index matches DICOM wildcards against.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, NamedTuple

from viewer.dicom import text
from viewer.dicom.records import GeometryInfo, HeaderSummary
from viewer.dicom.references import ObjectReferences
from viewer.dicom.stack import IMAGER_PIXEL_SPACING

STATUS_OK = "ok"
STATUS_MISSING = "missing"

Position = tuple[float, float, float]
Orientation = tuple[float, float, float, float, float, float]
Spacing = tuple[float, float]


def name_key(value: str) -> str:
    """The search form of a name or pattern: NFKC-normalised, then casefolded.

    NFKC folds full-width Latin letters typed by CJK input methods into ASCII, and casefold is
    Unicode's caseless matching (so 'ß' matches 'SS'); both sides of a comparison use this key.
    """
    return unicodedata.normalize("NFKC", value).casefold()


def dicom_date(value: str) -> str:
    """A DA value as 'YYYYMMDD' (PS3.5 §6.2); the ACR-NEMA form 'YYYY.MM.DD' is converted so
    that date ranges compare as text. Anything else is kept as it is."""
    value = value.strip()
    if re.fullmatch(r"\d{4}\.\d{2}\.\d{2}", value):
        return value.replace(".", "")
    return value


@dataclass(frozen=True)
class InstanceRecord:
    """One stored instance with its patient, study and series facts, ready to be indexed."""

    patient_name: str  # decoded PN value
    patient_id: str
    patient_birth_date: str  # DA
    patient_sex: str
    study_instance_uid: str
    study_date: str  # DA 'YYYYMMDD'
    study_time: str  # TM
    study_description: str
    accession_number: str
    referring_physician_name: str  # decoded PN value
    series_instance_uid: str
    modality: str
    series_number: int | None
    series_description: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    instance_number: int | None
    number_of_frames: int
    store_path: str  # relative to the archive root
    size: int  # bytes of the stored file
    sha256: str  # hex digest of the stored bytes
    # What a viewer needs to open the series without reading headers (schema 002); None when
    # the file does not say (or the record comes from an index older than schema 002).
    rows: int | None = None
    columns: int | None = None
    image_position: Position | None = None  # mm, LPS; the first frame's for enhanced objects
    image_orientation: Orientation | None = None  # row then column direction cosines
    pixel_spacing: Spacing | None = None  # mm: (row spacing, column spacing)
    spacing_source: str = ""  # IMAGER_PIXEL_SPACING when pixel_spacing is Imager Pixel Spacing
    slice_thickness: float | None = None  # mm
    slice_location: float | None = None  # mm
    frame_of_reference_uid: str = ""
    lossy: bool | None = None  # Lossy Image Compression: '01' True, '00' False, absent None
    # What a presentation state, KOS, SR, SEG or RTSTRUCT references (schema 005); None for
    # other instances, and for a record that did not read them (check --repair fills them).
    references: ObjectReferences | None = None

    @classmethod
    def from_header(
        cls, summary: HeaderSummary, store_path: str, size: int, sha256: str,
        references: ObjectReferences | None = None,
    ) -> InstanceRecord:
        """The record of a file whose header is `summary`, stored at `store_path`; with the
        `references` of a referencing object (viewer.dicom.references)."""
        p, st, se, i = summary.patient, summary.study, summary.series, summary.instance
        g = summary.geometry
        spacing, source = _spacing(g)
        return cls(
            patient_name=p.name,
            patient_id=p.patient_id,
            patient_birth_date=dicom_date(p.birth_date),
            patient_sex=p.sex,
            study_instance_uid=st.study_instance_uid,
            study_date=dicom_date(st.study_date),
            study_time=st.study_time,
            study_description=st.study_description,
            accession_number=st.accession_number,
            referring_physician_name=st.referring_physician_name,
            series_instance_uid=se.series_instance_uid,
            modality=se.modality,
            series_number=se.series_number,
            series_description=se.series_description,
            sop_instance_uid=i.sop_instance_uid,
            sop_class_uid=i.sop_class_uid,
            transfer_syntax_uid=i.transfer_syntax_uid,
            instance_number=i.instance_number,
            number_of_frames=i.number_of_frames,
            store_path=store_path,
            size=size,
            sha256=sha256,
            rows=i.rows,
            columns=i.columns,
            image_position=_position(g.image_position),
            image_orientation=_orientation(g.image_orientation),
            pixel_spacing=spacing,
            spacing_source=source,
            slice_thickness=_finite_one(g.slice_thickness),
            slice_location=_finite_one(g.slice_location),
            frame_of_reference_uid=g.frame_of_reference_uid,
            lossy=i.lossy_compression,
            references=references,
        )


def _finite(values: tuple[float, ...] | None, count: int) -> tuple[float, ...] | None:
    """`values` when it has `count` finite numbers, else None: SQLite stores NaN as NULL, and
    a half-known position is no position."""
    if values is None or len(values) != count or not all(math.isfinite(v) for v in values):
        return None
    return tuple(float(v) for v in values)


def _finite_one(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _position(values: tuple[float, ...] | None) -> Position | None:
    v = _finite(values, 3)
    return None if v is None else (v[0], v[1], v[2])


def _orientation(values: tuple[float, ...] | None) -> Orientation | None:
    v = _finite(values, 6)
    return None if v is None else (v[0], v[1], v[2], v[3], v[4], v[5])


def _spacing(g: GeometryInfo) -> tuple[Spacing | None, str]:
    """Pixel Spacing (in the patient, PS3.3 C.7.6.2.1.1) when present, else Imager Pixel Spacing
    (at the detector, PS3.3 C.8.11.4.1.1) marked as such, so a length can say which it is."""
    for values, source in ((g.pixel_spacing, ""), (g.imager_pixel_spacing, IMAGER_PIXEL_SPACING)):
        v = _finite(values, 2)
        if v is not None:
            return (v[0], v[1]), source
    return None, ""


@dataclass(frozen=True)
class StudyRow:
    """A study as the browser lists it; counts and size are stored aggregates."""

    study_instance_uid: str
    study_date: str
    study_time: str
    study_description: str
    accession_number: str
    referring_physician_name: str  # decoded PN value
    modalities: tuple[str, ...]  # Modalities in Study, sorted
    number_of_series: int
    number_of_instances: int
    size: int  # bytes
    patient_name: str  # decoded PN value
    patient_id: str
    patient_birth_date: str
    patient_sex: str

    @property
    def patient_name_text(self) -> str:
        return text.person_name_text(self.patient_name)

    def as_json(self) -> dict[str, Any]:
        """DICOM keywords for attributes, snake_case for the rest (CLI.md)."""
        return {
            "PatientName": self.patient_name,
            "PatientID": self.patient_id,
            "PatientBirthDate": self.patient_birth_date,
            "PatientSex": self.patient_sex,
            "StudyInstanceUID": self.study_instance_uid,
            "StudyDate": self.study_date,
            "StudyTime": self.study_time,
            "StudyDescription": self.study_description,
            "AccessionNumber": self.accession_number,
            "ReferringPhysicianName": self.referring_physician_name,
            "ModalitiesInStudy": list(self.modalities),
            "NumberOfStudyRelatedSeries": self.number_of_series,
            "NumberOfStudyRelatedInstances": self.number_of_instances,
            "size": self.size,
        }


@dataclass(frozen=True)
class SeriesRow:
    """A series of a study; `number_of_instances` is a stored aggregate."""

    series_instance_uid: str
    study_instance_uid: str
    series_number: int | None
    modality: str
    series_description: str
    number_of_instances: int

    def as_json(self) -> dict[str, Any]:
        return {
            "SeriesInstanceUID": self.series_instance_uid,
            "StudyInstanceUID": self.study_instance_uid,
            "SeriesNumber": self.series_number,
            "Modality": self.modality,
            "SeriesDescription": self.series_description,
            "NumberOfSeriesRelatedInstances": self.number_of_instances,
        }


@dataclass(frozen=True)
class InstanceRow:
    """An indexed instance; `status` is 'ok' or 'missing' (its file was not found by `check`)."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    instance_number: int | None
    number_of_frames: int
    store_path: str
    size: int
    sha256: str
    imported_at: str  # ISO 8601, UTC
    status: str
    # schema 002; None (and "") for rows indexed before it, see InstanceRecord
    rows: int | None = None
    columns: int | None = None
    image_position: Position | None = None
    image_orientation: Orientation | None = None
    pixel_spacing: Spacing | None = None
    spacing_source: str = ""
    slice_thickness: float | None = None
    slice_location: float | None = None
    frame_of_reference_uid: str = ""
    lossy: bool | None = None

    def as_json(self) -> dict[str, Any]:
        pixel_spacing = imager_spacing = None
        if self.pixel_spacing is not None:
            if self.spacing_source == IMAGER_PIXEL_SPACING:
                imager_spacing = list(self.pixel_spacing)
            else:
                pixel_spacing = list(self.pixel_spacing)
        return {
            "SOPInstanceUID": self.sop_instance_uid,
            "SeriesInstanceUID": self.series_instance_uid,
            "StudyInstanceUID": self.study_instance_uid,
            "SOPClassUID": self.sop_class_uid,
            "TransferSyntaxUID": self.transfer_syntax_uid,
            "InstanceNumber": self.instance_number,
            "NumberOfFrames": self.number_of_frames,
            "path": self.store_path,
            "size": self.size,
            "sha256": self.sha256,
            "imported_at": self.imported_at,
            "status": self.status,
            "Rows": self.rows,
            "Columns": self.columns,
            "ImagePositionPatient": _list(self.image_position),
            "ImageOrientationPatient": _list(self.image_orientation),
            "PixelSpacing": pixel_spacing,
            "ImagerPixelSpacing": imager_spacing,
            "SliceThickness": self.slice_thickness,
            "SliceLocation": self.slice_location,
            "FrameOfReferenceUID": self.frame_of_reference_uid,
            "LossyImageCompression": {True: "01", False: "00", None: None}[self.lossy],
        }


def _list(values: tuple[float, ...] | None) -> list[float] | None:
    return None if values is None else list(values)


class StackRow(NamedTuple):
    """An instance as a viewer needs it to place its frames (Index.stack_rows): the fields of
    InstanceRow that a stack uses, as a tuple, because a 1,000-slice series must open in a few
    milliseconds and a frozen dataclass costs several microseconds per row to build."""

    sop_instance_uid: str
    instance_number: int | None
    number_of_frames: int
    store_path: str
    rows: int | None
    columns: int | None
    image_position: Position | None
    image_orientation: Orientation | None
    pixel_spacing: Spacing | None
    spacing_source: str
    slice_thickness: float | None
    slice_location: float | None
    frame_of_reference_uid: str
    # The reading key the index stores (schema 003); None: not stored, computed when needed.
    along_normal: float | None = None
