"""A Segmentation or RT Structure Set on any MPR plane (axial, coronal, sagittal, oblique).

`prepare_overlay(overlay, volume)` checks that the overlay is in the volume's Frame of
Reference (a mismatch is an `OverlayMismatch`, one line: never drawn in the wrong place) and
builds its grid volumes once (`viewer.volume.overlay_grid`). `overlay_on_plane(prepared,
plane)` then gives, for one plane (a slab: its central plane), in the plane's pixels (pixel
centres at integers, as `Plane.to_patient`: no half-pixel shift):
- each segment present as a `SegmentMask` (bool, or float32 0..1 for FRACTIONAL), resliced
  from the SEG's own grid: nearest for BINARY and LABELMAP, linear for FRACTIONAL;
- on a plane parallel to the structure set's contours, within half a contour spacing of a
  contour plane: those contours themselves, exact, as `StructureContour`s (x = column,
  y = row), like the 2D viewer;
- on any other plane each ROI's intersection outline (`RoiOutline`): the plane pixels inside
  the ROI that touch one outside it (4-neighbours), from its rasterised mask resliced nearest.
Open contours and points are drawn on planes within half a contour spacing of them, as markers.
`burn_plane_overlay` blends it into a displayed picture as `render --overlay` does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from viewer.dicom.overlay_frame import PARALLEL, OverlayMismatch
from viewer.dicom.overlay_raster import (
    DEFAULT_OPACITY,
    Overlay,
    as_rgb,
    outline_contours,
)
from viewer.dicom.rtstruct import StructureContour, StructureSet, StructureSetROI
from viewer.dicom.segmentation import Segmentation, SegmentMask
from viewer.volume.model import Interpolation, Plane, Volume
from viewer.volume.overlay_grid import (
    PackedVolume,
    SegmentationGrid,
    StructureGrid,
    segmentation_grid,
    structure_grid,
)
from viewer.volume.reslice import reslice


@dataclass(frozen=True, eq=False)
class RoiOutline:
    """An ROI cut by a plane: the outline's pixels as indices (`rows`, `columns`) into the
    plane's `shape` (an outline is a thin part of the plane: drawing by index is ~10x cheaper
    than by a whole-plane mask)."""

    roi: StructureSetROI
    rows: np.ndarray
    columns: np.ndarray
    shape: tuple[int, int]

    @property
    def mask(self) -> np.ndarray:
        """(rows, columns) bool, True on the outline."""
        mask = np.zeros(self.shape, dtype=bool)
        mask[self.rows, self.columns] = True
        return mask


@dataclass(frozen=True, eq=False)
class OverlayOnPlane:
    """What of an overlay lies on one plane (see the module docstring)."""

    masks: tuple[SegmentMask, ...] = ()
    contours: tuple[StructureContour, ...] = ()
    outlines: tuple[RoiOutline, ...] = ()


@dataclass(frozen=True, eq=False)
class PreparedOverlay:
    """An overlay ready for any plane of a volume in its Frame of Reference."""

    overlay: Overlay
    frame_of_reference_uid: str
    segments: SegmentationGrid | None = None
    structures: StructureGrid | None = None


def prepare_overlay(overlay: Overlay, volume: Volume,
                    pixel_mm: float | None = None) -> PreparedOverlay:
    """`overlay` checked against `volume`'s Frame of Reference and its grid volumes built.
    `pixel_mm`: the RTSTRUCT rasterising grid's pixel (default: half the volume's finest
    spacing, at most 1 mm: the outlines' steps then stay below the planes' pixels).
    OverlayMismatch (one line) for another or a missing Frame of Reference; OverlayGridError
    (overlay_grid) when the overlay's own geometry cannot form a grid."""
    ours = volume.frame_of_reference_uid
    if isinstance(overlay, Segmentation):
        _check(overlay.frame_of_reference_uid, ours, "Segmentation")
        return PreparedOverlay(overlay, ours, segments=segmentation_grid(overlay))
    named = overlay.frame_of_reference_uids + tuple(r.frame_of_reference_uid
                                                    for r in overlay.rois)
    uids = tuple(dict.fromkeys(u for u in named if u))
    _check(ours if ours in uids else (uids[0] if uids else ""), ours, "RT Structure Set")
    step = min(min(volume.spacing) / 2, 1.0) if pixel_mm is None else pixel_mm
    return PreparedOverlay(overlay, ours, structures=structure_grid(overlay, ours, step))


def _check(theirs: str, ours: str, kind: str) -> None:
    if not theirs:
        raise OverlayMismatch(f"the {kind} names no Frame of Reference: it cannot be placed "
                              "in the volume")
    if not ours:
        raise OverlayMismatch(f"the volume has no Frame of Reference to place the {kind} in")
    if theirs != ours:
        raise OverlayMismatch(f"the {kind}'s Frame of Reference {theirs} is not the volume's "
                              f"{ours}: refused, it would be drawn in the wrong place")


def overlay_on_plane(prepared: PreparedOverlay, plane: Plane) -> OverlayOnPlane:
    """The overlay on `plane` (its central plane when it is a slab); see the module
    docstring. Safe to call from several threads."""
    thin = replace(plane, slab=0.0) if plane.slab else plane
    if prepared.segments is not None:
        return OverlayOnPlane(masks=_segment_masks(prepared, thin))
    return _structures(prepared, thin)


def _segment_masks(prepared: PreparedOverlay, plane: Plane) -> tuple[SegmentMask, ...]:
    seg = prepared.overlay
    grid = prepared.segments
    assert isinstance(seg, Segmentation) and grid is not None
    found: dict[int, np.ndarray] = {}
    for packed in grid.packed:
        found.update(_unpack(packed, plane))
    for fraction in grid.fractions:
        values = _cut(fraction.volume, plane, Interpolation.LINEAR)
        if values is not None and np.any(values > 0):
            np.clip(values, 0.0, 1.0, out=values)
            found[fraction.number] = values
    return tuple(SegmentMask(segment, found[segment.number])
                 for segment in seg.segments if segment.number in found)


def _unpack(packed: PackedVolume, plane: Plane) -> dict[int, np.ndarray]:
    """Entry number -> bool mask on `plane`, for the entries present there."""
    values = _cut(packed.volume, plane, Interpolation.NEAREST)
    if values is None:
        return {}
    words = np.rint(values).astype(np.int16).view(np.uint16)
    out: dict[int, np.ndarray] = {}
    if packed.labels:
        present = set(np.unique(words).tolist())
        for number in packed.numbers:
            if number in present:
                out[number] = words == number
        return out
    union = np.bitwise_or.reduce(words, axis=None) if words.size else 0
    for bit, number in enumerate(packed.numbers):
        if int(union) & (1 << bit):
            out[number] = (words & np.uint16(1 << bit)) != 0
    return out


def _cut(volume: Volume, plane: Plane, interpolation: Interpolation) -> np.ndarray | None:
    """`reslice` of an overlay's grid volume on `plane`, computed only in the rectangle of
    the plane that the grid's projection covers (a SEG or a structure is often a small part
    of a plane: the kernel's cost is per pixel cut), 0 elsewhere; None when it covers none.
    The rectangle is a plane of the same orientation and spacing whose pixel (r, c) is the
    plane's pixel (r + top, c + left)."""
    steps = np.linalg.norm(volume.affine[:3, :3], axis=0)  # a voxel's edges, mm
    reach = float(np.linalg.norm(steps)) / 2 / plane.spacing + 1  # half its diagonal, + 1
    corners = volume.corners() - np.asarray(plane.center)
    c = corners @ np.asarray(plane.row) / plane.spacing + (plane.columns - 1) / 2
    r = corners @ np.asarray(plane.column) / plane.spacing + (plane.rows - 1) / 2
    left = max(int(np.floor(c.min() - reach)), 0)
    right = min(int(np.ceil(c.max() + reach)), plane.columns - 1)
    top = max(int(np.floor(r.min() - reach)), 0)
    bottom = min(int(np.ceil(r.max() + reach)), plane.rows - 1)
    if right < left or bottom < top:
        return None
    if (left, top, right, bottom) == (0, 0, plane.columns - 1, plane.rows - 1):
        return reslice(volume, plane, interpolation)
    centre = plane.to_patient((top + bottom) / 2, (left + right) / 2)
    part = replace(plane, center=(float(centre[0]), float(centre[1]), float(centre[2])),
                   columns=right - left + 1, rows=bottom - top + 1)
    out = np.zeros((plane.rows, plane.columns), dtype=np.float32)
    out[top:bottom + 1, left:right + 1] = reslice(volume, part, interpolation)
    return out


def _structures(prepared: PreparedOverlay, plane: Plane) -> OverlayOnPlane:
    structure_set, grid = prepared.overlay, prepared.structures
    assert isinstance(structure_set, StructureSet)
    # ROIs of another Frame of Reference (a set spanning several) are not in this volume
    rois = {r.number: r for r in structure_set.rois if not r.frame_of_reference_uid
            or r.frame_of_reference_uid == prepared.frame_of_reference_uid}
    normal = np.asarray(plane.normal)
    markers = _markers(structure_set, grid, plane, rois)
    if grid is None:
        return OverlayOnPlane(contours=markers)
    parallel = abs(float(normal @ grid.normal)) >= 1.0 - PARALLEL
    if parallel:
        where = float(np.asarray(plane.center) @ grid.normal)
        nearest = int(np.argmin(np.abs(grid.positions - where)))
        if abs(grid.positions[nearest] - where) <= grid.slice_spacing / 2 + 1e-6:
            return OverlayOnPlane(contours=_contours_near(
                structure_set, grid, plane, rois, grid.positions[nearest]) + markers)
        return OverlayOnPlane(contours=markers)
    outlines = []
    for packed in grid.packed:
        for number, inside in _unpack(packed, plane).items():
            box = _box(inside)
            if box is None:
                continue
            # the outline within the ROI's bounding box (one pixel more each side, so that
            # the box's edge is not taken for the picture's)
            grown = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in box)
            rows, columns = np.nonzero(outline_of(inside[grown]))
            outlines.append(RoiOutline(rois[number], rows + grown[0].start,
                                       columns + grown[1].start, inside.shape))
    order = {r.number: i for i, r in enumerate(structure_set.rois)}
    outlines.sort(key=lambda o: order[o.roi.number])
    return OverlayOnPlane(contours=markers, outlines=tuple(outlines))


def _contours_near(structure_set: StructureSet, grid: StructureGrid, plane: Plane,
                   rois: dict[int, StructureSetROI], position: float
                   ) -> tuple[StructureContour, ...]:
    """The planar contours on the contour plane at `position` (mm along the grid's normal),
    in `plane`'s pixel coordinates."""
    half = grid.slice_spacing / 2 + 1e-6
    near = (grid.planar_low >= position - half) & (grid.planar_high <= position + half)
    out = []
    for index in grid.planar[near]:
        contour = structure_set.contours[int(index)]
        roi = rois.get(contour.roi_number)
        if roi is not None:
            out.append(StructureContour(roi, contour.geometric_type,
                                        _frozen(to_plane_pixels(plane, contour.points))))
    return tuple(out)


def _markers(structure_set: StructureSet, grid: StructureGrid | None, plane: Plane,
             rois: dict[int, StructureSetROI]) -> tuple[StructureContour, ...]:
    """POINT and OPEN_NONPLANAR points within half a contour spacing of the plane (0.5 mm
    without a grid), as markers."""
    half = grid.slice_spacing / 2 if grid is not None else 0.5
    normal = np.asarray(plane.normal)
    out = []
    for contour in structure_set.contours:
        roi = rois.get(contour.roi_number)
        if roi is None or contour.geometric_type not in ("POINT", "OPEN_NONPLANAR"):
            continue
        distance = np.abs((contour.points - np.asarray(plane.center)) @ normal)
        near = contour.points[distance <= half + 1e-6]
        if len(near):
            out.append(StructureContour(roi, "POINT", _frozen(to_plane_pixels(plane, near))))
    return tuple(out)


def to_plane_pixels(plane: Plane, points: np.ndarray) -> np.ndarray:
    """(N, 3) patient points -> (N, 2) plane pixel coordinates (x = column, y = row, pixel
    centres at integers), projected along the plane's normal."""
    d = np.asarray(points, dtype=np.float64) - np.asarray(plane.center)
    x = d @ np.asarray(plane.row) / plane.spacing + (plane.columns - 1) / 2.0
    y = d @ np.asarray(plane.column) / plane.spacing + (plane.rows - 1) / 2.0
    return np.stack([x, y], axis=1)


def outline_of(inside: np.ndarray) -> np.ndarray:
    """The pixels of `inside` with a 4-neighbour outside it: a one-pixel outline, never a
    fill. Beyond the picture's edge counts as inside: a structure that goes on past the
    edge is not closed there by a line that is none of its outline."""
    padded = np.pad(inside, 1, mode="edge")
    interior = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    return inside & ~interior


def burn_plane_overlay(picture: np.ndarray, placed: OverlayOnPlane,
                       opacity: float = DEFAULT_OPACITY, hidden: frozenset[int] = frozenset(),
                       contours: bool = True) -> np.ndarray:
    """The displayed plane (uint8 grey or RGB) as a new RGB picture: each segment blended in
    its colour (weight opacity x the mask's value, as `overlay_raster.blend_segments`, within
    its bounding box only), outlines and (with `contours`) contours drawn in their ROI Display
    Colors, never filled. Segments and ROIs whose numbers are in `hidden` are left out."""
    out = as_rgb(picture)
    for item in placed.masks:
        if item.segment.number in hidden:
            continue
        box = _box(item.mask)
        if box is None:
            continue
        colour = np.asarray(item.segment.color, dtype=np.float32)
        if item.mask.dtype == np.bool_:
            # one weight everywhere: each channel through a 256-entry table (the same float32
            # arithmetic as below, 4x less work than blending every pixel of the box)
            inside = item.mask[box]
            grey = np.arange(256, dtype=np.float32)[:, None]
            table = np.clip(np.rint(grey + np.float32(opacity) * (colour - grey)), 0, 255)
            table = table.astype(np.uint8)
            region = out[box]
            for channel in range(3):
                plane = region[..., channel]
                plane[inside] = table[plane[inside], channel]
            continue
        region = out[box].astype(np.float32)
        weight = item.mask[box].astype(np.float32) * np.float32(opacity)
        region += weight[:, :, None] * (colour - region)
        out[box] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    for outline in placed.outlines:
        if outline.roi.number not in hidden:
            out[outline.rows, outline.columns] = outline.roi.color
    if contours:
        out = outline_contours(out, [c for c in placed.contours if c.roi.number not in hidden])
    return out


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if not rows.size:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
