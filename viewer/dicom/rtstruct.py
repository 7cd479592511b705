"""RT Structure Sets (PS3.3 A.19, C.8.8.5-C.8.8.6): ROIs and their contours on an image frame.

`read_structure_set(ds)` turns an RT Structure Set into a frozen `StructureSet`: its ROIs
(number, name, ROI Display Color, generation algorithm, Frame of Reference) and their contours
(CLOSED_PLANAR, OPEN_PLANAR, POINT) in patient mm. A contour that cannot be drawn (a planar
contour of one point, Contour Data that is not triplets or disagrees with Number of Contour
Points) is left out and named in `problems`; the other contours stay usable.

`contours_on_frame(structure_set, image_header, frame)` gives the contours lying on one image
frame (every point within half the Slice Thickness of its plane) as `StructureContour`s in the
image's pixel coordinates (x = column, y = row; a point at the centre of pixel (r, c) is (c, r):
no half-pixel shift, the fault users reported in Horos #447). A viewport draws them as vector
polylines; `render --overlay` outlines them with `overlay_raster.outline_contours`. A Frame of
Reference the image does not share raises `OverlayMismatch` (OHIF #3537: never drawn wrong).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.dicom.overlay_frame import (
    DEFAULT_HALF_THICKNESS_MM,
    OverlayMismatch,
    check_frame_of_reference,
    target_frame,
)

LOGGER = logging.getLogger(__name__)

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
GEOMETRIC_TYPES = ("CLOSED_PLANAR", "OPEN_PLANAR", "POINT", "OPEN_NONPLANAR")
# The fewest points each type can be drawn with (a closed contour of two is a line, still seen).
_MIN_POINTS = {"CLOSED_PLANAR": 2, "OPEN_PLANAR": 2, "OPEN_NONPLANAR": 2, "POINT": 1}
DEFAULT_ROI_COLOR = (255, 255, 0)


class StructureSetError(ValueError):
    """An RT Structure Set that cannot be read: the message is the one-line reason."""


@dataclass(frozen=True)
class StructureSetROI:
    """One ROI (Structure Set ROI Sequence item with its ROI Contour Sequence item). `color`
    is the ROI Display Color (sRGB 0-255), else `DEFAULT_ROI_COLOR` (`display_color` False)."""

    number: int
    name: str
    generation_algorithm: str
    frame_of_reference_uid: str
    color: tuple[int, int, int]
    display_color: bool


@dataclass(frozen=True, eq=False)
class Contour:
    """One Contour Sequence item: `points` (N, 3) in patient mm (read-only), the images it
    names in its Contour Image Sequence."""

    roi_number: int
    geometric_type: str
    points: np.ndarray
    referenced_sop_instance_uids: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class StructureSet:
    """A read RT Structure Set; `problems` names each contour left out and why."""

    sop_instance_uid: str
    label: str
    frame_of_reference_uids: tuple[str, ...]
    rois: tuple[StructureSetROI, ...]
    contours: tuple[Contour, ...]
    problems: tuple[str, ...]

    def roi(self, number: int) -> StructureSetROI | None:
        return next((r for r in self.rois if r.number == number), None)


@dataclass(frozen=True, eq=False)
class StructureContour:
    """A contour on one image frame: `points` (N, 2) as (x = column, y = row), pixel centres
    at integers. `closed` for CLOSED_PLANAR (the last point joins the first); a POINT contour
    has one point per marker."""

    roi: StructureSetROI
    geometric_type: str
    points: np.ndarray

    @property
    def closed(self) -> bool:
        return self.geometric_type == "CLOSED_PLANAR"


def read_structure_set(ds: Dataset) -> StructureSet:
    """Read an RT Structure Set data set. StructureSetError for another SOP class, a Structure
    Set without ROIs, or attributes that cannot be read (a truncated file)."""
    try:
        return _read(ds)
    except StructureSetError:
        raise
    except Exception as exc:  # pydicom raises anything on damaged values: each is the file's
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise StructureSetError(f"malformed RT Structure Set: {text[:200]}") from None


def _read(ds: Dataset) -> StructureSet:
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if sop_class != RT_STRUCTURE_SET_STORAGE:
        raise StructureSetError(f"not an RT Structure Set (SOP Class {sop_class or 'missing'})")
    # the Referenced Frame of Reference Sequence, and the Frame of Reference module that
    # recent editions of the IOD add at the top level
    named = [str(item.get("FrameOfReferenceUID", "") or "").strip()
             for item in ds.get("ReferencedFrameOfReferenceSequence") or []]
    named.append(str(ds.get("FrameOfReferenceUID", "") or "").strip())
    frames_of_reference = tuple(dict.fromkeys(uid for uid in named if uid))
    roi_items = list(ds.get("StructureSetROISequence") or [])
    if not roi_items:
        raise StructureSetError("no ROIs (the Structure Set ROI Sequence is empty or missing)")
    colors: dict[int, tuple[int, int, int]] = {}
    contour_items: list[tuple[int, Dataset]] = []
    for item in ds.get("ROIContourSequence") or []:
        if "ReferencedROINumber" not in item:
            raise StructureSetError("an ROI Contour Sequence item has no Referenced ROI Number")
        number = int(item.ReferencedROINumber)
        color = _color(item.get("ROIDisplayColor"))
        if color is not None:
            colors[number] = color
        contour_items.extend((number, c) for c in item.get("ContourSequence") or [])
    rois = []
    for item in roi_items:
        if "ROINumber" not in item:
            raise StructureSetError("a Structure Set ROI Sequence item has no ROI Number")
        number = int(item.ROINumber)
        rois.append(StructureSetROI(
            number=number,
            name=str(item.get("ROIName", "") or ""),
            generation_algorithm=str(item.get("ROIGenerationAlgorithm", "") or ""),
            frame_of_reference_uid=str(item.get("ReferencedFrameOfReferenceUID", "") or "")
            .strip(),
            color=colors.get(number, DEFAULT_ROI_COLOR),
            display_color=number in colors,
        ))
    names = {r.number: r.name for r in rois}
    contours: list[Contour] = []
    problems: list[str] = []
    for position, (number, item) in enumerate(contour_items, start=1):
        where = f"ROI {number} {names.get(number, '(not in the Structure Set ROI Sequence)')!r}"
        contour, problem = _contour(number, item)
        if problem:
            problems.append(f"{where} contour {position}: {problem}; not drawn")
        elif contour is not None:
            contours.append(contour)
    return StructureSet(
        sop_instance_uid=str(ds.get("SOPInstanceUID", "") or ""),
        label=str(ds.get("StructureSetLabel", "") or ""),
        frame_of_reference_uids=frames_of_reference,
        rois=tuple(rois),
        contours=tuple(contours),
        problems=tuple(problems),
    )


def _color(value: object) -> tuple[int, int, int] | None:
    try:
        numbers = [int(v) for v in value]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if len(numbers) != 3:
        return None
    r, g, b = (min(max(n, 0), 255) for n in numbers)
    return r, g, b


def _contour(number: int, item: Dataset) -> tuple[Contour | None, str]:
    kind = str(item.get("ContourGeometricType", "") or "").strip().upper()
    if kind not in GEOMETRIC_TYPES:
        return None, f"Contour Geometric Type {kind or 'missing'} is not one of " \
                     f"{', '.join(GEOMETRIC_TYPES)}"
    data = item.get("ContourData")
    values = [] if data is None or data == "" else (
        [data] if isinstance(data, int | float | str) else list(data))
    try:
        numbers = np.asarray([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None, "Contour Data holds values that are not numbers"
    if numbers.size % 3:
        return None, f"Contour Data has {numbers.size} values, not x\\y\\z triplets"
    points = numbers.reshape(-1, 3)
    declared = item.get("NumberOfContourPoints")
    if declared not in (None, "") and int(declared) != len(points):
        return None, (f"Number of Contour Points is {int(declared)}, the Contour Data holds "
                      f"{len(points)}")
    if len(points) < _MIN_POINTS[kind]:
        return None, f"{kind} with {len(points)} point(s), at least {_MIN_POINTS[kind]} needed"
    if not np.all(np.isfinite(points)):
        return None, "Contour Data holds a value that is not finite"
    points.setflags(write=False)
    images = tuple(
        str(ref.get("ReferencedSOPInstanceUID", "") or "")
        for ref in item.get("ContourImageSequence") or []
    )
    return Contour(number, kind, points, images), ""


def contours_on_frame(structure_set: StructureSet, image_header: Dataset,
                      frame: int = 0) -> list[StructureContour]:
    """The contours lying on frame `frame` (0-based) of the image whose header is
    `image_header`, in the image's pixel coordinates (see the module docstring), in ROI then
    file order. A contour lies on the frame when every point is within half the image's Slice
    Thickness of its plane (0.5 mm without one); an OPEN_NONPLANAR contour contributes its
    points near the plane as markers. OverlayMismatch when no Frame of Reference of the
    structure set is the image's, or the image has no plane geometry to place contours on."""
    target = target_frame(image_header, frame)
    uids = structure_set.frame_of_reference_uids + tuple(
        r.frame_of_reference_uid for r in structure_set.rois)
    check_frame_of_reference(uids, target, "RT Structure Set")
    plane = target.plane
    if plane is None:
        raise OverlayMismatch("the image has no Image Position, Orientation and Pixel Spacing "
                              "to place contours on")
    if not target.frame_of_reference_uid and not any(u for u in uids):
        raise OverlayMismatch("neither the RT Structure Set nor the image names a Frame of "
                              "Reference: the contours cannot be placed")
    half = target.half_thickness or DEFAULT_HALF_THICKNESS_MM
    out: list[StructureContour] = []
    rois = {r.number: r for r in structure_set.rois}
    for contour in structure_set.contours:
        roi = rois.get(contour.roi_number)
        if roi is None:
            continue
        if roi.frame_of_reference_uid and target.frame_of_reference_uid and (
                roi.frame_of_reference_uid != target.frame_of_reference_uid):
            continue  # a multi-frame-of-reference set: this ROI lies elsewhere
        distance = np.abs(plane.distance(contour.points))
        if contour.geometric_type == "OPEN_NONPLANAR":
            near = contour.points[distance <= half + 1e-6]
            if len(near):
                out.append(StructureContour(roi, "POINT", _frozen(plane.to_pixels(near))))
            continue
        if np.all(distance <= half + 1e-6):
            out.append(StructureContour(roi, contour.geometric_type,
                                        _frozen(plane.to_pixels(contour.points))))
    order = {r.number: i for i, r in enumerate(structure_set.rois)}
    out.sort(key=lambda c: order[c.roi.number])
    return out


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
