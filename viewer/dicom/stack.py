"""Stacks: the frames of a series in reading order, the unit a viewport scrolls through."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from viewer.dicom.files import DicomFileError
from viewer.dicom.geometry import position_along_normal
from viewer.dicom.pixels import check_pixel_layout, read_header

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class SliceGeometry:
    """Where one frame lies in the patient (PS3.3 C.7.6.2), in mm; what sync-by-position,
    reference lines, orientation markers, the scale bar and length measurements need."""

    position: tuple[float, float, float] | None  # Image Position (Patient): first pixel's centre
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

    def geometry_of(self, index: int) -> SliceGeometry | None:
        return self.geometry[index] if 0 <= index < len(self.geometry) else None


@dataclass(frozen=True)
class _Entry:
    path: str
    frames: int
    series_uid: str
    description: str
    sort_key: tuple[float, float, str]


def build_stacks(paths: Iterable[Path]) -> tuple[list[Stack], list[DicomFileError]]:
    """Group image files by Series Instance UID and sort each series: by position along the
    slice normal when every file has geometry, else by Instance Number, then by file name.
    Files that are not displayable images are returned as errors, not raised."""
    entries: list[_Entry] = []
    errors: list[DicomFileError] = []
    for path in paths:
        try:
            ds = read_header(path)
            layout = check_pixel_layout(path, ds)
        except DicomFileError as exc:
            errors.append(exc)
            continue
        entries.append(
            _Entry(
                str(path),
                layout.frames,
                str(ds.get("SeriesInstanceUID", "") or str(path)),
                str(ds.get("SeriesDescription", "") or ""),
                _sort_key(ds, path),
            )
        )
    by_series: dict[str, list[_Entry]] = {}
    for entry in entries:
        by_series.setdefault(entry.series_uid, []).append(entry)
    stacks = []
    for uid, members in by_series.items():
        members.sort(key=lambda e: e.sort_key)
        stack = Stack(uid, members[0].description)
        for e in members:
            stack.frames.extend((e.path, i) for i in range(e.frames))
        stacks.append(stack)
    return stacks, errors


def _sort_key(ds: Dataset, path: Path) -> tuple[float, float, str]:
    get = ds.get
    ipp, iop = get("ImagePositionPatient"), get("ImageOrientationPatient")
    position = 0.0
    if ipp is not None and iop is not None and len(ipp) == 3 and len(iop) == 6:
        # Head first: the most superior slice (largest position along the normal) on top.
        position = -position_along_normal([float(v) for v in ipp], [float(v) for v in iop])
    try:
        number = float(get("InstanceNumber") or 0)
    except (TypeError, ValueError):
        number = 0.0
    return (position, number, path.name)
