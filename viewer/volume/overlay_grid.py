"""Segmentations and RT Structure Sets as volumes on their own grids, ready to be resliced.

The MPR shows a SEG or RTSTRUCT on any plane by cutting these volumes with the same C kernels
as the image (`viewer.volume.reslice`): no second resampler.

- A SEG becomes a `Volume` on the grid of its own frames (their Image Orientation, Pixel
  Spacing and positions along the normal; a sparse SEG's absent slices are empty). BINARY
  segments are packed as bits of int16 voxels, 16 segments to a volume, and LABELMAP labels
  are the voxels: either is resliced nearest, which copies one voxel's bits exactly (a label
  is never interpolated into another). FRACTIONAL segments are one float32 volume each, the
  fraction 0..1, resliced linearly.
- An RTSTRUCT's closed planar contours are rasterised once, each ROI into a mask on a grid of
  the contours' own planes (one slice per contour plane, pixels `pixel_mm` apart in the plane),
  packed as bits like BINARY segments. A pixel is inside when its centre is (even-odd rule, so
  a contour inside another of the same ROI and plane is a hole). Each contour plane stands for
  the slab half way to its neighbours, as in the 2D viewer, where a contour shows on the frames
  within half a slice of it.

Why rasterise and reslice rather than intersect the polygons with every plane: one reslice of
a packed volume answers 16 ROIs for any plane at the cost of one image plane (the kernel's cost
grows with the plane's pixels, not the contours'); an intersection does work per contour edge
for every plane in Python, and its pieces (one chord per contour plane) must still be joined
into outlines. The price is the grid's resolution: an outline is within half a grid pixel's
diagonal of the exact one, in the plane; on planes parallel to the contours the exact contours
are drawn instead (`viewer.volume.overlay_plane`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from viewer.dicom.overlay_frame import PARALLEL
from viewer.dicom.rtstruct import StructureSet
from viewer.dicom.segmentation import Segmentation
from viewer.volume.model import Volume

BITS = 16  # segments or ROIs per packed int16 volume
# Positions along the normal closer than this (mm) are one slice of the grid.
SAME_SLICE_MM = 1e-3
# A position may lie this fraction of the spacing off the regular grid and still be on it.
GRID_TOLERANCE = 0.05
MAX_SLICES = 4096  # a grid with more slices than this comes from a damaged file
# The contours' grid is at most this many voxels per packed volume (its pixels grow past it).
MAX_STRUCTURE_VOXELS = 32_000_000
MIN_STRUCTURE_PIXEL_MM = 0.25


class OverlayGridError(ValueError):
    """The overlay's frames or contours do not lie on one grid; str is one line."""


@dataclass(frozen=True, eq=False)
class PackedVolume:
    """A volume whose voxels carry segments or ROIs: bit b of the int16 voxel is entry
    `numbers[b]` (`labels` False), or the voxel is the label number itself (`labels` True)."""

    volume: Volume
    numbers: tuple[int, ...]
    labels: bool = False


@dataclass(frozen=True, eq=False)
class FractionVolume:
    """One FRACTIONAL segment: the fraction 0..1 per voxel, float32."""

    volume: Volume
    number: int


@dataclass(frozen=True, eq=False)
class SegmentationGrid:
    """A Segmentation's segments as volumes on its own grid."""

    packed: tuple[PackedVolume, ...]
    fractions: tuple[FractionVolume, ...]


@dataclass(frozen=True, eq=False)
class StructureGrid:
    """An RT Structure Set's closed contours rasterised: `packed` (bit per ROI), the contours'
    common `normal`, the positions (mm along it) of the contour planes and their spacing;
    `problems` names what could not be placed on the grid."""

    packed: tuple[PackedVolume, ...]
    normal: np.ndarray
    positions: np.ndarray
    slice_spacing: float
    problems: tuple[str, ...]
    # the planar contours (indices into the structure set's `contours`) parallel to `normal`,
    # and the lowest and highest depth (mm along it) of each one's points: a plane parallel
    # to them finds its contours with one comparison, not a pass over every point
    planar: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    planar_low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    planar_high: np.ndarray = field(default_factory=lambda: np.zeros(0))


def segmentation_grid(seg: Segmentation) -> SegmentationGrid:
    """The segments of `seg` as volumes on the grid of its frames (see the module docstring).
    OverlayGridError when frames have no plane geometry, are not parallel, lie on other
    in-plane grids, or at positions that are not a regular grid's slices."""
    planes = []
    for frame in seg.frames:
        if frame.plane is None:
            raise OverlayGridError(f"Segmentation frame {frame.index + 1} has no plane "
                                   "position, orientation and spacing")
        planes.append(frame.plane)
    first = planes[0]
    for frame, plane in zip(seg.frames, planes, strict=True):
        if not np.allclose(plane.steps, first.steps, atol=1e-4):
            raise OverlayGridError(f"Segmentation frame {frame.index + 1} has another "
                                   "orientation or pixel spacing than frame 1")
        offset = np.linalg.pinv(first.steps) @ (plane.origin - first.origin)
        if np.any(np.abs(offset) > GRID_TOLERANCE):
            raise OverlayGridError(f"Segmentation frame {frame.index + 1} is shifted in its "
                                   "plane against frame 1")
    distances = np.array([float((p.origin - first.origin) @ first.normal) for p in planes])
    fallback = 2.0 * max((f.half_thickness or 0.0 for f in seg.frames), default=0.0)
    slots, spacing, start = _slots(distances, fallback, "Segmentation frame")
    count = int(slots.max()) + 1
    origin = first.origin + start * first.normal
    affine = _affine(first.steps, first.normal * spacing, origin)
    rows, columns = seg.pixels.shape[1:]
    shape = (count, rows, columns)
    if seg.segmentation_type == "LABELMAP":
        labels = np.zeros(shape, dtype=np.uint16)
        labels[slots] = seg.pixels  # later frames at one position win, as the 2D view's nearest
        numbers = tuple(s.number for s in seg.segments)
        return SegmentationGrid((PackedVolume(_volume(labels.view(np.int16), affine, seg),
                                              numbers, labels=True),), ())
    if seg.segmentation_type == "FRACTIONAL":
        fractions = []
        for segment in seg.segments:
            values = np.zeros(shape, dtype=np.float32)
            for frame, slot in zip(seg.frames, slots, strict=True):
                if frame.segment_number == segment.number:
                    values[slot] = seg.pixels[frame.index] / np.float32(seg.max_fractional_value)
            np.clip(values, 0.0, 1.0, out=values)
            fractions.append(FractionVolume(_volume(values, affine, seg), segment.number))
        return SegmentationGrid((), tuple(fractions))
    packed = []
    numbers_all = [s.number for s in seg.segments]
    for start_at in range(0, len(numbers_all), BITS):
        numbers = tuple(numbers_all[start_at:start_at + BITS])
        bits = np.zeros(shape, dtype=np.uint16)
        for frame, slot in zip(seg.frames, slots, strict=True):
            if frame.segment_number in numbers:
                bit = np.uint16(1 << numbers.index(frame.segment_number))
                bits[slot] |= (seg.pixels[frame.index] > 0).astype(np.uint16) * bit
        packed.append(PackedVolume(_volume(bits.view(np.int16), affine, seg), numbers))
    return SegmentationGrid(tuple(packed), ())


def structure_grid(structure_set: StructureSet, frame_of_reference_uid: str,
                   pixel_mm: float) -> StructureGrid | None:
    """The CLOSED_PLANAR contours of the ROIs in `frame_of_reference_uid` rasterised (see the
    module docstring) with pixels of `pixel_mm` (made coarser when the grid would pass
    MAX_STRUCTURE_VOXELS). Contours not parallel to the first one are left out and named in
    `problems`; OverlayGridError when the contour planes are not
    on a regular grid; None without a closed contour that has an area (points only)."""
    rois = [r for r in structure_set.rois if not r.frame_of_reference_uid
            or r.frame_of_reference_uid == frame_of_reference_uid]
    numbers_all = [r.number for r in rois]
    problems: list[str] = []
    closed = [c for c in structure_set.contours
              if c.geometric_type == "CLOSED_PLANAR" and c.roi_number in numbers_all
              and len(c.points) >= 3]
    normal: np.ndarray | None = None
    kept = []
    for contour in closed:
        n = _newell(contour.points)
        if n is None:
            continue  # no area (collinear points): nothing inside it to fill
        if normal is None:
            normal = n
        elif abs(float(n @ normal)) < 1.0 - PARALLEL:
            problems.append(f"ROI {contour.roi_number}: a contour not parallel to the others "
                            "is drawn only on planes through it")
            continue
        kept.append(contour)
    if normal is None:
        return None
    row = _perpendicular(normal)
    column = np.cross(normal, row)
    distances = np.array([float(np.mean(c.points @ normal)) for c in kept])
    slots, spacing, start = _slots(distances, 0.0, "contour")
    points = np.concatenate([c.points for c in kept])
    u, v = points @ row, points @ column
    size_u, size_v = float(u.max() - u.min()), float(v.max() - v.min())
    count = int(slots.max()) + 1
    pixel = max(float(pixel_mm), MIN_STRUCTURE_PIXEL_MM)
    while (size_u / pixel + 3) * (size_v / pixel + 3) * count > MAX_STRUCTURE_VOXELS:
        pixel *= 1.25
    # one empty pixel around the contours: the outside is never cut off at the grid's edge
    u0, v0 = float(u.min()) - pixel, float(v.min()) - pixel
    columns = int(np.ceil(size_u / pixel)) + 3
    rows = int(np.ceil(size_v / pixel)) + 3
    origin = u0 * row + v0 * column + start * normal
    steps = np.stack([row * pixel, column * pixel], axis=1)
    affine = _affine(steps, normal * spacing, origin)
    packed = []
    by_roi: dict[int, dict[int, list[np.ndarray]]] = {}  # ROI -> slot -> (N, 2) pixel x, y
    for contour, slot in zip(kept, slots, strict=True):
        xy = np.stack([(contour.points @ row - u0) / pixel,
                       (contour.points @ column - v0) / pixel], axis=1)
        by_roi.setdefault(contour.roi_number, {}).setdefault(int(slot), []).append(xy)
    present = [n for n in numbers_all if n in by_roi]
    for start_at in range(0, len(present), BITS):
        numbers = tuple(present[start_at:start_at + BITS])
        bits = np.zeros((count, rows, columns), dtype=np.uint16)
        for b, number in enumerate(numbers):
            for slot, polygons in by_roi[number].items():
                _rasterise(bits[slot], polygons, np.uint16(1 << b))
        volume = Volume(bits.view(np.int16), affine, frame_of_reference_uid,
                        structure_set.sop_instance_uid, padding=0.0)
        volume.filled[:] = True
        packed.append(PackedVolume(volume, numbers))
    positions = start + spacing * np.arange(count)
    planar = [n for n, c in enumerate(structure_set.contours)
              if c.geometric_type in ("CLOSED_PLANAR", "OPEN_PLANAR")
              and c.roi_number in numbers_all]
    depths = [structure_set.contours[n].points @ normal for n in planar]
    return StructureGrid(tuple(packed), normal, positions, spacing, tuple(problems),
                         np.asarray(planar, dtype=np.int64),
                         np.asarray([d.min() for d in depths]),
                         np.asarray([d.max() for d in depths]))


def _rasterise(plane: np.ndarray, polygons: list[np.ndarray], bit: np.uint16) -> None:
    """Set `bit` in `plane` where the pixel centres are inside the polygons (even-odd across
    them too: one inside another is a hole), within their bounding box only (a contour is a
    small part of the grid: filling the whole grid per contour cost 10x more)."""
    points = np.concatenate(polygons)
    left = max(int(np.floor(points[:, 0].min())), 0)
    top = max(int(np.floor(points[:, 1].min())), 0)
    right = min(int(np.ceil(points[:, 0].max())) + 1, plane.shape[1])
    bottom = min(int(np.ceil(points[:, 1].max())) + 1, plane.shape[0])
    if right <= left or bottom <= top:
        return
    inside = np.zeros((bottom - top, right - left), dtype=bool)
    for xy in polygons:
        inside ^= fill_polygon(xy - (left, top), bottom - top, right - left)
    plane[top:bottom, left:right][inside] |= bit


def fill_polygon(points: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """(rows, columns) bool: the pixels whose centres (integers) are inside the closed polygon
    through `points` ((N, 2) as x = column, y = row), even-odd rule. A centre on a left or
    top edge is inside, on a right or bottom edge outside (each centre on a shared edge
    belongs to one side)."""
    x0, y0 = points[:, 0], points[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    sloped = y0 != y1
    x0, y0, x1, y1 = x0[sloped], y0[sloped], x1[sloped], y1[sloped]
    low, high = np.minimum(y0, y1), np.maximum(y0, y1)
    first = np.maximum(np.ceil(low), 0).astype(np.int64)  # rows whose centre is in [low, high)
    last = np.minimum(np.ceil(high), rows).astype(np.int64)
    counts = np.maximum(last - first, 0)
    edge = np.repeat(np.arange(counts.size), counts)
    offsets = np.arange(edge.size) - np.repeat(np.cumsum(counts) - counts, counts)
    row = first[edge] + offsets
    x = x0[edge] + (row - y0[edge]) * (x1[edge] - x0[edge]) / (y1[edge] - y0[edge])
    order = np.lexsort((x, row))
    row, x = row[order], x[order]
    change = np.zeros((rows, columns + 1), dtype=np.int32)
    # crossings pair up in each row (a closed polygon crosses every row an even number of times)
    starts = np.clip(np.ceil(x[0::2]), 0, columns).astype(np.int64)
    stops = np.clip(np.ceil(x[1::2]), 0, columns).astype(np.int64)
    np.add.at(change, (row[0::2], starts), 1)
    np.add.at(change, (row[1::2], stops), -1)
    return np.cumsum(change[:, :columns], axis=1) > 0


def _slots(distances: np.ndarray, fallback: float, what: str) -> tuple[np.ndarray, float, float]:
    """Slice index of each position on a regular grid, the grid's spacing (the smallest gap
    between positions; `fallback`, else 1 mm, for a single position) and its first position."""
    distinct = np.unique(np.round(distances / SAME_SLICE_MM) * SAME_SLICE_MM)
    gaps = np.diff(distinct)
    spacing = float(gaps.min()) if gaps.size else (fallback or 1.0)
    start = float(distinct[0])
    exact = (distances - start) / spacing
    slots = np.rint(exact).astype(np.int64)
    off = np.abs(exact - slots) > GRID_TOLERANCE
    if np.any(off):
        where = float(distances[int(np.argmax(off))])
        raise OverlayGridError(f"{what} planes are not evenly spaced ({where - start:.2f} mm "
                               f"from the first is not a multiple of {spacing:.2f} mm)")
    if int(slots.max()) + 1 > MAX_SLICES:
        raise OverlayGridError(f"{what} planes span {int(slots.max()) + 1} slices of "
                               f"{spacing:.3f} mm, more than {MAX_SLICES}")
    return slots, spacing, start


def _affine(steps: np.ndarray, slice_step: np.ndarray, origin: np.ndarray) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, 0] = steps[:, 0]
    affine[:3, 1] = steps[:, 1]
    affine[:3, 2] = slice_step
    affine[:3, 3] = origin
    return affine


def _volume(voxels: np.ndarray, affine: np.ndarray, seg: Segmentation) -> Volume:
    volume = Volume(np.ascontiguousarray(voxels), affine, seg.frame_of_reference_uid,
                    seg.sop_instance_uid, padding=0.0)
    volume.filled[:] = True
    return volume


def _newell(points: np.ndarray) -> np.ndarray | None:
    """The unit normal of a planar polygon (Newell's method), None when it has no area."""
    p = points - points.mean(axis=0)
    n = np.cross(p, np.roll(p, -1, axis=0)).sum(axis=0)
    length = float(np.linalg.norm(n))
    if length < 1e-9:
        return None
    n = n / length
    # one sign for every contour whatever its winding: the largest component positive
    return n if n[int(np.argmax(np.abs(n)))] > 0 else -n


def _perpendicular(normal: np.ndarray) -> np.ndarray:
    """A unit row direction in the contours' plane: patient x projected into it (y for a
    sagittal plane), so axial contours get the axial grid."""
    axis = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    row = axis - (axis @ normal) * normal
    return row / np.linalg.norm(row)
