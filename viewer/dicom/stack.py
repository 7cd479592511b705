"""Stacks: the frames of a series in reading order, the unit a viewport scrolls through."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from viewer.dicom import text
from viewer.dicom.calibration import IMAGER_PIXEL_SPACING
from viewer.dicom.files import DicomFileError, as_file_error
from viewer.dicom.frameinfo import FrameValues, frame_values
from viewer.dicom.geometry import slice_normal
from viewer.dicom.pixels import check_pixel_layout, read_header

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class SliceGeometry:
    """Where one frame lies in the patient (PS3.3 C.7.6.2), in mm; what sync-by-position,
    reference lines, orientation markers, the scale bar and length measurements need."""

    position: tuple[float, float, float] | None  # Image _Position (Patient): first pixel's centre
    orientation: tuple[float, float, float, float, float, float] | None  # row then column cosines
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing)
    slice_thickness: float | None
    slice_location: float | None
    frame_of_reference_uid: str
    rows: int
    columns: int
    # "ImagerPixelSpacing" when pixel_spacing came from the detector plane (projection
    # radiography: lengths are at the detector, not the patient); "" for Pixel Spacing.
    spacing_source: str = ""


@dataclass(frozen=True)
class StackInfo:
    """The patient, study and series facts a viewport's annotations show; names are decoded
    PN values ("Family^Given=Ideographic"), dates DA ("YYYYMMDD"), as in viewer.dicom.records."""

    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    series_number: int | None = None
    series_description: str = ""
    modality: str = ""
    institution_name: str = ""
    study_instance_uid: str = ""
    # What could not be decoded with the declared Specific Character Set (decoded_values'
    # warnings, "Keyword: reason"): the viewer warns that these texts may be shown wrongly.
    text_warnings: tuple[str, ...] = ()


@dataclass
class Stack:
    """Frames of one series as (path, 0-based frame index), sorted for reading.

    `geometry[i]` belongs to `frames[i]` (None when that frame has no Image Plane facts);
    empty when unknown (then every frame is treated as without geometry).
    """

    series_uid: str
    description: str = ""
    frames: list[tuple[str, int]] = field(default_factory=list)
    geometry: list[SliceGeometry | None] = field(default_factory=list)
    info: StackInfo = field(default_factory=StackInfo)
    # A stack of the series' first frame only, shown while the whole series is read: how
    # many frames the full stack has (0: this stack is complete).
    expected_frames: int = 0
    # `values[i]` (rescale, stored range, window) belongs to `frames[i]`; empty when the stack
    # was made without reading headers (from the archive index): viewer.volume.plan reads them.
    values: list[FrameValues] = field(default_factory=list)

    @property
    def total_frames(self) -> int:
        return self.expected_frames or len(self.frames)

    def geometry_of(self, index: int) -> SliceGeometry | None:
        return self.geometry[index] if 0 <= index < len(self.geometry) else None



_Position = tuple[float, float, float]
_Orientation = tuple[float, float, float, float, float, float]
# (minus the position along the normal, or 0 when not sorting by position; Instance Number; name)
_SortKey = tuple[float, float, str]


@dataclass(frozen=True)
class _Entry:
    path: str
    series_uid: str
    geometry: list[SliceGeometry | None]  # one per frame
    values: list[FrameValues]  # one per frame
    along: float | None  # the first frame's position along its normal (mm); None: unknown
    number: float  # Instance Number, 0 when absent
    name: str

    def key(self, by_position: bool) -> _SortKey:
        # Head first: the most superior slice (largest position along the normal) on top.
        along = -self.along if by_position and self.along is not None else 0.0
        return (along, self.number, self.name)


@dataclass
class _Series:
    entries: list[_Entry] = field(default_factory=list)
    # The header of the file that will come first under each order: StackInfo is decoded from
    # it alone, once per series, after the order is known.
    first_by_position: tuple[_SortKey, Dataset] | None = None
    first_by_number: tuple[_SortKey, Dataset] | None = None

    def add(self, entry: _Entry, ds: Dataset) -> None:
        self.entries.append(entry)
        if entry.along is not None:
            key = entry.key(True)
            if self.first_by_position is None or key < self.first_by_position[0]:
                self.first_by_position = (key, ds)
        key = entry.key(False)
        if self.first_by_number is None or key < self.first_by_number[0]:
            self.first_by_number = (key, ds)

    @property
    def by_position(self) -> bool:
        return all(e.along is not None for e in self.entries)


def build_stacks(paths: Iterable[Path]) -> tuple[list[Stack], list[DicomFileError]]:
    """Group image files by Series Instance UID and sort each series: by position along the
    slice normal, head first, when every file has a position and an orientation; else by
    Instance Number; then by file name. Frames of a multi-frame file keep their file order.
    Each stack carries one SliceGeometry per frame and the StackInfo of its first file.
    Files that are not displayable images are returned as errors, not raised."""
    series: dict[str, _Series] = {}
    errors: list[DicomFileError] = []
    for path in paths:
        # pydicom's warnings (an unknown character set, an invalid number) go to the debug
        # log: the text is decoded again, corrected, for StackInfo; a bad number is left out.
        with text.pydicom_warnings() as messages:
            try:
                ds = read_header(path)
                layout = check_pixel_layout(path, ds)
            except DicomFileError as exc:
                errors.append(exc)
                continue
            try:
                geometry = _frame_geometries(ds, layout.frames)
                values = frame_values(ds, layout.frames)
            except Exception as exc:  # a value pydicom converts only now (a damaged header)
                errors.append(as_file_error(path, exc))
                continue
        for message in messages:
            LOGGER.debug("%s: %s", path, message)
        _add_entry(series, str(path), ds, geometry, values)
    return _sorted_stacks(series), errors


def stacks_of_headers(headers: Iterable[tuple[str, Dataset]]) -> list[Stack]:
    """`build_stacks` for headers already read, each with the path its file has (or will
    have: a viewer lays out a study from a server's metadata before the files arrive).
    Headers without Rows, Columns or Pixel Data facts (reports, presentation states) are left
    out; Number of Frames says how many frames a header's file holds."""
    series: dict[str, _Series] = {}
    for path, ds in headers:
        with text.pydicom_warnings():
            try:
                if not ds.get("Rows") or not ds.get("Columns"):
                    continue
                frames = max(_int(ds.get("NumberOfFrames")) or 1, 1)
                geometry = _frame_geometries(ds, frames)
                values = frame_values(ds, frames)
            except Exception as exc:  # a damaged value pydicom converts only now
                LOGGER.debug("%s: header left out: %r", path, exc)
                continue
        _add_entry(series, path, ds, geometry, values)
    return _sorted_stacks(series)


def _add_entry(series: dict[str, _Series], path: str, ds: Dataset,
               geometry: list[SliceGeometry | None], values: list[FrameValues]) -> None:
    first = geometry[0] if geometry else None
    uid = str(ds.get("SeriesInstanceUID", "") or path)
    entry = _Entry(path, uid, geometry, values, _along(first), _instance_number(ds),
                   Path(path).name)
    series.setdefault(uid, _Series()).add(entry, ds)


def _sorted_stacks(series: dict[str, _Series]) -> list[Stack]:
    stacks = []
    for uid, members in series.items():
        by_position = members.by_position
        members.entries.sort(key=lambda e: e.key(by_position))
        chosen = members.first_by_position if by_position else members.first_by_number
        info = _stack_info(chosen[1]) if chosen is not None else StackInfo()
        stack = Stack(uid, info.series_description, info=info)
        for e in members.entries:
            stack.frames.extend((e.path, i) for i in range(len(e.geometry)))
            stack.geometry.extend(e.geometry)
            stack.values.extend(e.values)
        stacks.append(stack)
    return stacks


# Objects about images that carry no pixel data: structured reports, key object selections,
# presentation states, RT structure sets (a SEG has frames: build_stacks makes its stack)
PIXEL_FREE_OBJECTS = frozenset({"SR", "KO", "PR", "RTSTRUCT"})


def object_stacks(errors: Iterable[DicomFileError]) -> tuple[list[Stack], list[DicomFileError]]:
    """Of the files `build_stacks` could not show, those that are objects about images
    (PIXEL_FREE_OBJECTS, by their Modality) as one stack per series of (path, 0) entries, in
    Instance Number then file name order, as the archive lists such series; the other errors
    as they were."""
    series: dict[str, list[tuple[float, str, str]]] = {}
    first: dict[str, Dataset] = {}
    remaining = []
    for error in errors:
        try:
            with text.pydicom_warnings():
                ds = read_header(error.path)
                modality = str(ds.get("Modality", "") or "").strip().upper()
        except DicomFileError:  # unreadable: the error stands
            remaining.append(error)
            continue
        if modality not in PIXEL_FREE_OBJECTS or "PixelData" in ds:
            remaining.append(error)
            continue
        uid = str(ds.get("SeriesInstanceUID", "") or error.path)
        series.setdefault(uid, []).append((_instance_number(ds), Path(error.path).name,
                                           error.path))
        first.setdefault(uid, ds)
    stacks = []
    for uid, members in series.items():
        info = _stack_info(first[uid])
        stack = Stack(uid, info.series_description, info=info)
        stack.frames.extend((path, 0) for _, _, path in sorted(members))
        stacks.append(stack)
    return stacks, remaining


def _instance_number(ds: Dataset) -> float:
    try:
        return float(ds.get("InstanceNumber") or 0)
    except (TypeError, ValueError):
        return 0.0


def _along(geometry: SliceGeometry | None) -> float | None:
    if geometry is None or geometry.position is None or geometry.orientation is None:
        return None
    normal = _normal(geometry.orientation)
    if normal is None:
        return None
    return float(sum(p * n for p, n in zip(geometry.position, normal, strict=True)))


# --- StackInfo -----------------------------------------------------------------------------------

_INFO_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "StudyDescription", "SeriesNumber", "SeriesDescription", "Modality", "InstitutionName",
)


def _stack_info(ds: Dataset) -> StackInfo:
    """The annotation facts of a header, text decoded with its corrected Specific Character Set
    (viewer.dicom.text.decoded_values, as viewer.dicom.records does); decode before anything
    else touches the text of `ds`."""
    values, warnings = text.decoded_values(ds, _INFO_KEYWORDS)
    for line in warnings:
        LOGGER.debug("stack info: %s", line)

    def string(keyword: str) -> str:
        value = values.get(keyword)
        if value is None:
            return ""
        if isinstance(value, MultiValue | list | tuple):
            return "\\".join(str(v) for v in value)
        return str(value).strip()

    return StackInfo(
        patient_name=text.person_name_value(values.get("PatientName")),
        patient_id=string("PatientID"),
        patient_birth_date=string("PatientBirthDate"),
        patient_sex=string("PatientSex"),
        study_date=string("StudyDate"),
        study_time=string("StudyTime"),
        study_description=string("StudyDescription"),
        series_number=_series_number(values.get("SeriesNumber")),
        series_description=string("SeriesDescription"),
        modality=string("Modality"),
        institution_name=string("InstitutionName"),
        text_warnings=tuple(warnings),
    )


def _series_number(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- SliceGeometry -------------------------------------------------------------------------------


def slice_geometry_from(ds: Dataset, frame_index: int = 0) -> SliceGeometry | None:
    """The geometry of frame `frame_index` (0-based) of the image in header `ds` (PS3.3
    C.7.6.2; enhanced objects: C.7.6.16 functional groups), or None when the file has no Image
    Plane facts for it. IndexError when the image has no such frame."""
    frames = max(_int(ds.get("NumberOfFrames")) or 1, 1)
    if not 0 <= frame_index < frames:
        raise IndexError(f"frame_index: {frame_index} not in 0..{frames - 1}")
    return _frame_geometries(ds, frames)[frame_index]


def frame_geometries(ds: Dataset) -> list[SliceGeometry | None]:
    """The geometry of every frame of `ds` in file order (see `slice_geometry_from`), read in
    one pass: a multi-frame object (a Segmentation) asks for all of its frames at once."""
    return _frame_geometries(ds, max(_int(ds.get("NumberOfFrames")) or 1, 1))


def _frame_geometries(ds: Dataset, frames: int) -> list[SliceGeometry | None]:
    """One SliceGeometry per frame, in file order (PS3.3 C.7.6.2, mm).

    Enhanced objects: Plane _Position, Plane _Orientation and Pixel Measures from each frame's
    Per-frame Functional Groups item, else the Shared Functional Groups item, else the top
    level (PS3.3 C.7.6.16). Other multi-frame files repeat the file's one geometry. Pixel
    Spacing falls back to Imager Pixel Spacing (spacing_source says so). A frame with neither
    position, orientation, spacing, thickness nor slice location gets None.
    """
    rows, columns = _int(ds.get("Rows")) or 0, _int(ds.get("Columns")) or 0
    frame_of_reference = str(ds.get("FrameOfReferenceUID", "") or "").strip()
    top = _Plane(
        _floats(ds, "ImagePositionPatient", 3),
        _orientation(_floats(ds, "ImageOrientationPatient", 6)),
        _spacing(_floats(ds, "PixelSpacing", 2)),
        _positive(_floats(ds, "SliceThickness", 1)),
    )
    imager = _spacing(_floats(ds, "ImagerPixelSpacing", 2))
    location = _floats(ds, "SliceLocation", 1)
    slice_location = location[0] if location else None

    def make(plane: _Plane) -> SliceGeometry | None:
        spacing, source = plane.spacing, ""
        if spacing is None and imager is not None:
            spacing, source = imager, IMAGER_PIXEL_SPACING
        facts = (plane.position, plane.orientation, spacing, plane.thickness, slice_location)
        if all(f is None for f in facts):
            return None
        return SliceGeometry(
            position=_position(plane.position),
            orientation=plane.orientation,
            pixel_spacing=spacing,
            slice_thickness=plane.thickness,
            slice_location=slice_location,
            frame_of_reference_uid=frame_of_reference,
            rows=rows,
            columns=columns,
            spacing_source=source,
        )

    per_frame = _items(ds, "PerFrameFunctionalGroupsSequence")
    shared_items = _items(ds, "SharedFunctionalGroupsSequence")
    if not per_frame and not shared_items:
        return [make(top)] * frames  # one frozen object: the frames share the file's plane
    shared = _group_plane(shared_items[0], top) if shared_items else top
    made: dict[_Plane, SliceGeometry | None] = {}  # frames in one plane share one object
    out: list[SliceGeometry | None] = []
    for index in range(frames):
        item = per_frame[index] if index < len(per_frame) else None
        plane = _group_plane(item, shared) if item is not None else shared
        if plane not in made:
            made[plane] = make(plane)
        out.append(made[plane])
    return out


@dataclass(frozen=True)
class _Plane:
    position: tuple[float, ...] | None
    orientation: _Orientation | None
    spacing: tuple[float, float] | None
    thickness: float | None


def _group_plane(group: Dataset, fallback: _Plane) -> _Plane:
    """The plane facts of one functional groups item, each falling back to `fallback`'s."""
    position = _macro_floats(group, "PlanePositionSequence", "ImagePositionPatient", 3)
    orientation = _orientation(
        _macro_floats(group, "PlaneOrientationSequence", "ImageOrientationPatient", 6)
    )
    spacing = _spacing(_macro_floats(group, "PixelMeasuresSequence", "PixelSpacing", 2))
    thickness = _positive(_macro_floats(group, "PixelMeasuresSequence", "SliceThickness", 1))
    return _Plane(
        position if position is not None else fallback.position,
        orientation if orientation is not None else fallback.orientation,
        spacing if spacing is not None else fallback.spacing,
        thickness if thickness is not None else fallback.thickness,
    )


def _items(ds: Dataset, keyword: str) -> list[Dataset]:
    try:
        items = ds.get(keyword)
        return list(items) if items else []
    except Exception as exc:  # a broken sequence costs its geometry, not the stack
        LOGGER.debug("cannot read %s: %r", keyword, exc)
        return []


def _macro_floats(group: Dataset, macro: str, keyword: str, count: int) -> tuple[float, ...] | None:
    items = _items(group, macro)
    return _floats(items[0], keyword, count) if items else None


def _floats(ds: Dataset, keyword: str, count: int) -> tuple[float, ...] | None:
    """`count` finite numbers, or None when absent, empty, unreadable or of another length."""
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return None
        values = [value] if isinstance(value, str | int | float) else list(value)
        numbers = tuple(float(v) for v in values)
    except Exception as exc:  # an invalid DS costs that value only
        LOGGER.debug("cannot read %s: %r", keyword, exc)
        return None
    if len(numbers) != count or not all(math.isfinite(v) for v in numbers):
        return None
    return numbers


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _position(values: tuple[float, ...] | None) -> _Position | None:
    return None if values is None else (values[0], values[1], values[2])


def _spacing(values: tuple[float, ...] | None) -> tuple[float, float] | None:
    if values is None or values[0] <= 0 or values[1] <= 0:
        return None
    return values[0], values[1]


def _positive(values: tuple[float, ...] | None) -> float | None:
    return values[0] if values is not None and values[0] > 0 else None


def _orientation(values: tuple[float, ...] | None) -> _Orientation | None:
    """The six cosines when they define a plane (two non-parallel, non-zero directions)."""
    if values is None or _normal(values) is None:
        return None
    return values[0], values[1], values[2], values[3], values[4], values[5]


@functools.lru_cache(maxsize=64)  # a series has one orientation or a few
def _normal(orientation: tuple[float, ...]) -> tuple[float, float, float] | None:
    try:
        n = slice_normal(orientation)
    except ValueError:
        LOGGER.debug("orientation %r has no slice normal", orientation)
        return None
    return float(n[0]), float(n[1]), float(n[2])
