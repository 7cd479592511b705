"""Typed header records: what a file says about its patient, study, series, instance and geometry.

Built from the header only (no pixel data), with text decoded by `viewer.dicom.text`. The JSON
form uses DICOM keywords as keys (CLI.md); keys that are not DICOM attributes are snake_case.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID

from viewer.dicom import geometry, text
from viewer.dicom.calibration import Calibration, read_calibration
from viewer.dicom.files import PathLike, read_dataset
from viewer.dicom.suv import SUVbw, suv_bw

LOGGER = logging.getLogger(__name__)

# Where header values are read from: decoded top-level values (a dict) or a nested item.
Values = Mapping[str, Any] | Dataset



@dataclass(frozen=True)
class PatientInfo:
    """Patient module (PS3.3 C.7.1.1); `name` is the decoded PN value with '^' and '='."""

    name: str
    patient_id: str
    birth_date: str  # DA, 'YYYYMMDD'
    sex: str

    @property
    def name_text(self) -> str:
        return text.person_name_text(self.name)

    @property
    def birth_date_text(self) -> str:
        return text.format_date(self.birth_date)


@dataclass(frozen=True)
class StudyInfo:
    """General Study module (PS3.3 C.7.2.1)."""

    study_instance_uid: str
    study_date: str  # DA, 'YYYYMMDD'
    study_time: str  # TM
    study_description: str
    accession_number: str
    referring_physician_name: str  # decoded PN value

    @property
    def date_text(self) -> str:
        return text.format_date(self.study_date)

    @property
    def time_text(self) -> str:
        return text.format_time(self.study_time)

    @property
    def referring_physician_text(self) -> str:
        return text.person_name_text(self.referring_physician_name)


@dataclass(frozen=True)
class SeriesInfo:
    """General Series module (PS3.3 C.7.3.1)."""

    series_instance_uid: str
    modality: str
    series_number: int | None
    series_description: str


@dataclass(frozen=True)
class InstanceInfo:
    """SOP Common, Image Pixel and transfer syntax facts about one instance."""

    sop_class_uid: str
    sop_class_name: str  # "" when the UID is not a known SOP class
    sop_instance_uid: str
    instance_number: int | None
    transfer_syntax_uid: str
    transfer_syntax_name: str
    number_of_frames: int
    photometric_interpretation: str
    rows: int | None
    columns: int | None
    bits_allocated: int | None
    bits_stored: int | None
    lossy_compression: bool | None  # Lossy Image Compression (0028,2110); None when absent


@dataclass(frozen=True)
class GeometryInfo:
    """Image Plane facts (PS3.3 C.7.6.2), in mm; from the functional groups for enhanced objects."""

    pixel_spacing: tuple[float, ...] | None  # 2 values: (row spacing, column spacing)
    imager_pixel_spacing: tuple[float, ...] | None  # 2 values, as pixel_spacing
    slice_thickness: float | None
    image_position: tuple[float, ...] | None  # 3 values: x, y, z
    image_orientation: tuple[float, ...] | None  # 6 direction cosines: row then column
    slice_location: float | None
    frame_of_reference_uid: str

    @property
    def edge_labels(self) -> geometry.EdgeLabels | None:
        if self.image_orientation is None:
            return None
        try:
            return geometry.edge_labels(self.image_orientation)
        except ValueError:
            return None

    @property
    def plane(self) -> str:
        try:
            return geometry.plane_name(self.image_orientation) if self.image_orientation else ""
        except ValueError:
            return ""


@dataclass(frozen=True)
class HeaderSummary:
    """Everything `dicom-viewer info` shows about one file."""

    path: str
    specific_character_set: tuple[str, ...]  # as declared in the file
    patient: PatientInfo
    study: StudyInfo
    series: SeriesInfo
    instance: InstanceInfo
    geometry: GeometryInfo
    warnings: tuple[str, ...]
    # How lengths are measured (viewer.dicom.calibration); read_header fills it, the archive's
    # summaries leave it out.
    calibration: Calibration | None = None
    # PET (Modality PT): the body-weight SUV factor or why there is none (viewer.dicom.suv);
    # read_header fills it, None for every other modality.
    suv: SUVbw | None = None

    def as_json(self) -> dict[str, Any]:
        """One flat JSON-ready dict: DICOM keywords for attributes, snake_case for the rest."""
        p, st, se, i, g = self.patient, self.study, self.series, self.instance, self.geometry
        labels = g.edge_labels
        lossy = {True: "01", False: "00", None: None}[i.lossy_compression]
        return {
            "path": self.path,
            "SpecificCharacterSet": list(self.specific_character_set),
            "PatientName": p.name,
            "PatientID": p.patient_id,
            "PatientBirthDate": p.birth_date,
            "PatientSex": p.sex,
            "StudyInstanceUID": st.study_instance_uid,
            "StudyDate": st.study_date,
            "StudyTime": st.study_time,
            "StudyDescription": st.study_description,
            "AccessionNumber": st.accession_number,
            "ReferringPhysicianName": st.referring_physician_name,
            "SeriesInstanceUID": se.series_instance_uid,
            "Modality": se.modality,
            "SeriesNumber": se.series_number,
            "SeriesDescription": se.series_description,
            "SOPClassUID": i.sop_class_uid,
            "sop_class_name": i.sop_class_name,
            "SOPInstanceUID": i.sop_instance_uid,
            "InstanceNumber": i.instance_number,
            "TransferSyntaxUID": i.transfer_syntax_uid,
            "transfer_syntax_name": i.transfer_syntax_name,
            "NumberOfFrames": i.number_of_frames,
            "PhotometricInterpretation": i.photometric_interpretation,
            "Rows": i.rows,
            "Columns": i.columns,
            "BitsAllocated": i.bits_allocated,
            "BitsStored": i.bits_stored,
            "LossyImageCompression": lossy,
            "PixelSpacing": _list(g.pixel_spacing),
            "ImagerPixelSpacing": _list(g.imager_pixel_spacing),
            "SliceThickness": g.slice_thickness,
            "ImagePositionPatient": _list(g.image_position),
            "ImageOrientationPatient": _list(g.image_orientation),
            "SliceLocation": g.slice_location,
            "FrameOfReferenceUID": g.frame_of_reference_uid,
            "plane": g.plane,
            "orientation_labels": None if labels is None else {
                "top": labels.top, "bottom": labels.bottom,
                "left": labels.left, "right": labels.right,
            },
            "warnings": list(self.warnings),
            "calibration": self.calibration.as_json() if self.calibration is not None else None,
            **self._suv_json(),
        }

    def _suv_json(self) -> dict[str, Any]:
        """CLI.md: `SUVbwScaleFactor` (a number) or `SUVbwReason` (a string), PET only."""
        if self.suv is None:
            return {}
        if self.suv.factor is not None:
            return {"SUVbwScaleFactor": self.suv.factor}
        return {"SUVbwReason": self.suv.reason}


def _list(values: tuple[float, ...] | None) -> list[float] | None:
    return None if values is None else list(values)


# The top-level elements read; decoding only these keeps a large enhanced header cheap.
_KEYWORDS = (
    "SpecificCharacterSet", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyDescription", "AccessionNumber",
    "ReferringPhysicianName", "SeriesInstanceUID", "Modality", "SeriesNumber",
    "SeriesDescription", "SOPClassUID", "SOPInstanceUID", "InstanceNumber", "NumberOfFrames",
    "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated", "BitsStored",
    "LossyImageCompression",
)
_GEOMETRY_KEYWORDS = (
    "PixelSpacing", "ImagerPixelSpacing", "SliceThickness", "ImagePositionPatient",
    "ImageOrientationPatient", "SliceLocation", "FrameOfReferenceUID",
    "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence",
)
NO_GEOMETRY = GeometryInfo(None, None, None, None, None, None, "")


def read_header(path: PathLike) -> HeaderSummary:
    """Read one file's header (pixel data skipped) into a HeaderSummary.

    Raises DicomFileError naming the file when it cannot be read as DICOM at all; a bad value
    in a readable file becomes a warning instead.
    """
    with text.pydicom_warnings() as messages:
        ds = read_dataset(path, stop_before_pixels=True)
    summary = summary_from_dataset(ds, str(path))
    with text.pydicom_warnings():  # an unreadable number costs the calibration, said in it
        summary = replace(summary, calibration=read_calibration(ds, summary.geometry.pixel_spacing))
    if summary.series.modality == "PT":
        summary = replace(summary, suv=suv_bw(ds))
    reading = tuple(f"reading: {m.splitlines()[0][:200]}" for m in messages if _structural(m))
    return replace(summary, warnings=reading + summary.warnings) if reading else summary


def _structural(message: str) -> bool:
    """A reader warning about the file's structure (VR or length mismatches), kept verbatim.

    The reader also converts Specific Character Set: what it says about that is said again,
    better, by `text.decoded_dataset`, and a validation message may quote a value.
    """
    LOGGER.debug("pydicom while reading: %s", message)
    lowered = message.lower()
    return not any(
        word in lowered for word in ("character set", "encoding", "decode", "invalid value")
    )


def summary_from_dataset(ds: Dataset, path: str = "", geometry: bool = True) -> HeaderSummary:
    """A HeaderSummary from a dataset whose text has not been touched yet.

    `geometry=False` leaves the Image Plane facts out (NO_GEOMETRY): the archive indexes none
    of them, and reading them is a quarter of the summary's cost on import.
    """
    with text.pydicom_warnings():  # a misspelt term is reported by decoded_values
        declared_terms = _terms(ds.get("SpecificCharacterSet"))
    d, found = text.decoded_values(ds, _KEYWORDS + (_GEOMETRY_KEYWORDS if geometry else ()))
    summary_geometry = NO_GEOMETRY
    if geometry:
        with text.pydicom_warnings() as messages:
            summary_geometry = _geometry(d, _frame_groups(d, found))
        found.extend(text.warning_for("functional groups", m) for m in messages)
    file_meta = getattr(ds, "file_meta", None)
    ts = str(file_meta.get("TransferSyntaxUID", "")) if file_meta is not None else ""
    return HeaderSummary(
        path=path,
        specific_character_set=declared_terms,
        patient=PatientInfo(
            name=text.person_name_value(d.get("PatientName")),
            patient_id=_str(d, "PatientID"),
            birth_date=_str(d, "PatientBirthDate"),
            sex=_str(d, "PatientSex"),
        ),
        study=StudyInfo(
            study_instance_uid=_str(d, "StudyInstanceUID"),
            study_date=_str(d, "StudyDate"),
            study_time=_str(d, "StudyTime"),
            study_description=_str(d, "StudyDescription"),
            accession_number=_str(d, "AccessionNumber"),
            referring_physician_name=text.person_name_value(d.get("ReferringPhysicianName")),
        ),
        series=SeriesInfo(
            series_instance_uid=_str(d, "SeriesInstanceUID"),
            modality=_str(d, "Modality"),
            series_number=_int(d, "SeriesNumber"),
            series_description=_str(d, "SeriesDescription"),
        ),
        instance=InstanceInfo(
            sop_class_uid=_str(d, "SOPClassUID"),
            sop_class_name=_uid_name(_str(d, "SOPClassUID")),
            sop_instance_uid=_str(d, "SOPInstanceUID"),
            instance_number=_int(d, "InstanceNumber"),
            transfer_syntax_uid=ts,
            transfer_syntax_name=_uid_name(ts),
            number_of_frames=max(_int(d, "NumberOfFrames") or 1, 1),
            photometric_interpretation=_str(d, "PhotometricInterpretation"),
            rows=_int(d, "Rows"),
            columns=_int(d, "Columns"),
            bits_allocated=_int(d, "BitsAllocated"),
            bits_stored=_int(d, "BitsStored"),
            lossy_compression={"01": True, "00": False}.get(_str(d, "LossyImageCompression")),
        ),
        geometry=summary_geometry,
        warnings=tuple(found),
    )


def _terms(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, MultiValue | list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def _uid_name(uid: str) -> str:
    if not uid:
        return ""
    name = UID(uid).name
    return "" if name == uid else name


def _str(ds: Values, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _int(ds: Values, keyword: str) -> int | None:
    value = ds.get(keyword)
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if value else None
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _floats(ds: Values, keyword: str, count: int) -> tuple[float, ...] | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def _float(ds: Values, keyword: str) -> float | None:
    numbers = _floats(ds, keyword, 1)
    return numbers[0] if numbers else None


def _frame_groups(ds: Values, found: list[str]) -> list[Dataset]:
    """The shared and first per-frame functional group items (PS3.3 C.7.6.16), where present."""
    groups = []
    for keyword in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        try:
            items = ds.get(keyword)
            if items:
                groups.append(items[0])
        except Exception as exc:  # a broken sequence costs its geometry, not the summary
            LOGGER.debug("cannot read %s: %r", keyword, exc)
            found.append(f"{keyword}: cannot be read ({type(exc).__name__}); ignored")
    return groups


def _from_groups(
    ds: Values, groups: Iterable[Dataset], macro: str, keyword: str
) -> list[Values]:
    """`ds` then each functional group's `macro` item: the places `keyword` may be found."""
    places = [ds]
    for group in groups:
        try:
            items = group.get(macro)
            if items:
                places.append(items[0])
        except Exception as exc:
            LOGGER.debug("cannot read %s.%s: %r", macro, keyword, exc)
    return places


def _first(places: list[Values], keyword: str, count: int) -> tuple[float, ...] | None:
    for place in places:
        try:
            numbers = _floats(place, keyword, count)
        except Exception as exc:  # a nested element pydicom cannot convert
            LOGGER.debug("cannot read %s: %r", keyword, exc)
            continue
        if numbers is not None:
            return numbers
    return None


def _geometry(ds: Values, groups: list[Dataset]) -> GeometryInfo:
    measures = _from_groups(ds, groups, "PixelMeasuresSequence", "PixelSpacing")
    orient = _from_groups(ds, groups, "PlaneOrientationSequence", "ImageOrientationPatient")
    position = _from_groups(ds, groups, "PlanePositionSequence", "ImagePositionPatient")
    thickness = _first(measures, "SliceThickness", 1)
    return GeometryInfo(
        pixel_spacing=_first(measures, "PixelSpacing", 2),
        imager_pixel_spacing=_floats(ds, "ImagerPixelSpacing", 2),
        slice_thickness=thickness[0] if thickness else None,
        image_position=_first(position, "ImagePositionPatient", 3),
        image_orientation=_first(orient, "ImageOrientationPatient", 6),
        slice_location=_float(ds, "SliceLocation"),
        frame_of_reference_uid=_str(ds, "FrameOfReferenceUID"),
    )
