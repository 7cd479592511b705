"""Image plane geometry in the patient coordinate system (PS3.3 C.7.6.2): pure numpy.

Patient axes are LPS: +x towards the patient's Left, +y Posterior, +z Head. Image Orientation
(Patient) holds the row direction (along a row, increasing column index) then the column direction
(down a column, increasing row index).

Image pixel coordinates are (x, y) = (column, row) with pixel centres at integers: Image Position
(Patient) is the centre of pixel (0, 0), and an image of R rows and C columns covers
x in [-0.5, C - 0.5], y in [-0.5, R - 0.5] (PS3.3 C.7.6.2.1.1).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:  # stack imports this module: the type only, no import cycle at run time
    from viewer.dicom.stack import SliceGeometry

LOGGER = logging.getLogger(__name__)

# Secondary axes whose direction cosine is below this are not named: a 10 degree tilt
# (sin = 0.17) keeps the single letter, 45 degrees gives "RA" (PS3.3 C.7.6.2.1.1 leaves the
# threshold to the application).
OBLIQUE_THRESHOLD = 0.25
_POSITIVE = ("L", "P", "H")
_NEGATIVE = ("R", "A", "F")


@dataclass(frozen=True)
class EdgeLabels:
    """Patient direction shown at each edge of the displayed image (PS3.3 C.7.6.1.1.1)."""

    top: str
    bottom: str
    left: str
    right: str


@dataclass(frozen=True)
class SliceOrder:
    """Slices sorted by position along the normal, with the spacing found between them (mm)."""

    order: tuple[int, ...]  # indices into the input, in increasing position along the normal
    positions: tuple[float, ...]  # position along the normal of each sorted slice (mm)
    spacing: float | None  # median distance between neighbours (mm); None below two slices
    uniform: bool  # every distance within tolerance of `spacing`
    gaps: tuple[int, ...]  # sorted index i where the step i -> i+1 is larger than expected
    duplicates: tuple[int, ...]  # sorted index i where slice i+1 is at the same position


def _orientation(iop: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    cosines = np.asarray(iop, dtype=np.float64).reshape(-1)
    if cosines.shape != (6,) or not np.all(np.isfinite(cosines)):
        raise ValueError(f"orientation: expected 6 finite direction cosines, got {iop!r}")
    row, col = cosines[:3], cosines[3:]
    row_norm, col_norm = np.linalg.norm(row), np.linalg.norm(col)
    if row_norm < 1e-6 or col_norm < 1e-6:
        raise ValueError(f"orientation: a direction cosine vector is zero: {iop!r}")
    return row / row_norm, col / col_norm


def direction_label(vector: ArrayLike, threshold: float = OBLIQUE_THRESHOLD) -> str:
    """Letters for a direction in LPS, main axis first ("L", "RA", "HPL"...; PS3.3 C.7.6.1.1.1)."""
    v = np.asarray(vector, dtype=np.float64).reshape(3)
    norm = np.linalg.norm(v)
    if norm == 0:
        raise ValueError("vector: zero length has no direction")
    v = v / norm
    letters: list[str] = []
    # Rounded so that equal components from stored decimals tie, and ties keep x, y, z order.
    for axis in np.argsort(-np.round(np.abs(v), 6), kind="stable"):
        if abs(v[axis]) < threshold and letters:
            break
        letters.append(_POSITIVE[axis] if v[axis] > 0 else _NEGATIVE[axis])
    return "".join(letters)


def edge_labels(iop: ArrayLike, threshold: float = OBLIQUE_THRESHOLD) -> EdgeLabels:
    """Orientation labels of the four edges of an image with Image Orientation (Patient) `iop`.

    The right edge is where the row direction points, the bottom where the column direction
    points; the opposite edges get the opposite letters.
    """
    row, col = _orientation(iop)
    return EdgeLabels(
        top=direction_label(-col, threshold),
        bottom=direction_label(col, threshold),
        left=direction_label(-row, threshold),
        right=direction_label(row, threshold),
    )


def slice_normal(iop: ArrayLike) -> NDArray[np.float64]:
    """Unit normal of the image plane: row x column (points from one slice to the next)."""
    row, col = _orientation(iop)
    normal = np.cross(row, col)
    length = np.linalg.norm(normal)
    if length < 1e-6:
        raise ValueError("orientation: row and column directions are parallel")
    return np.asarray(normal / length, dtype=np.float64)


def reading_key(
    position: Sequence[float] | None, orientation: Sequence[float] | None
) -> float | None:
    """Position along the slice normal (mm): the key a series is read in, head first by its
    largest value. None without a position or an orientation, or when the orientation has no
    normal. The arithmetic is archive.stacks' (the same doubles, so index and stacks agree)."""
    if position is None or orientation is None:
        return None
    try:
        n = slice_normal(orientation)
    except ValueError:
        return None
    normal = (float(n[0]), float(n[1]), float(n[2]))
    return position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2]


def plane_name(iop: ArrayLike, tolerance: float = 0.9) -> str:
    """"axial", "sagittal", "coronal" or "oblique", from the axis the slice normal lies along."""
    normal = np.abs(slice_normal(iop))
    axis = int(np.argmax(normal))
    if normal[axis] < tolerance:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def position_along_normal(ipp: ArrayLike, iop: ArrayLike) -> float:
    """Distance (mm) of Image Position (Patient) `ipp` along the slice normal from the origin."""
    position = np.asarray(ipp, dtype=np.float64).reshape(-1)
    if position.shape != (3,):
        raise ValueError(f"position: expected 3 coordinates, got {ipp!r}")
    return float(np.dot(position, slice_normal(iop)))


def sort_slices(
    positions: ArrayLike,
    iop: ArrayLike,
    *,
    tolerance_mm: float = 0.01,
    relative_tolerance: float = 0.05,
) -> SliceOrder:
    """Sort slices of one plane by position along its normal and check the spacing between them.

    `positions`: N x 3 Image Position (Patient) values; `iop`: the shared Image Orientation
    (Patient). Neighbours closer than `tolerance_mm` are duplicates; a step that differs from the
    median step by more than max(tolerance_mm, relative_tolerance x median) breaks uniformity, and
    a larger-than-median one is reported as a gap (missing slices). The sort is stable.
    """
    points = np.asarray(positions, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"positions: expected an N x 3 array, got shape {points.shape}")
    along = points @ slice_normal(iop)
    order = np.argsort(along, kind="stable")
    sorted_along = along[order]
    steps = np.diff(sorted_along)
    duplicates = tuple(int(i) for i in np.flatnonzero(steps < tolerance_mm))
    distinct = steps[steps >= tolerance_mm]
    spacing = float(np.median(distinct)) if distinct.size else None
    if spacing is None:
        uniform = not duplicates
        gaps: tuple[int, ...] = ()
    else:
        allowed = max(tolerance_mm, relative_tolerance * spacing)
        uniform = not duplicates and bool(np.all(np.abs(distinct - spacing) <= allowed))
        gaps = tuple(int(i) for i in np.flatnonzero(steps > spacing + allowed))
    if not uniform:
        LOGGER.debug("uneven slice spacing: %s", steps)
    return SliceOrder(
        order=tuple(int(i) for i in order),
        positions=tuple(float(p) for p in sorted_along),
        spacing=spacing,
        uniform=uniform,
        gaps=gaps,
        duplicates=duplicates,
    )


def same_orientation(orientations: Sequence[ArrayLike], tolerance: float = 1e-3) -> bool:
    """True when every Image Orientation (Patient) matches the first within `tolerance`."""
    if not orientations:
        return True
    first = np.concatenate(_orientation(orientations[0]))
    return all(
        bool(np.allclose(np.concatenate(_orientation(o)), first, atol=tolerance))
        for o in orientations[1:]
    )


# --- a view rotated or flipped -------------------------------------------------------------------


def oriented_edge_labels(
    orientation: ArrayLike | None,
    quarter_turns: int,
    flip_horizontal: bool,
    flip_vertical: bool,
    threshold: float = OBLIQUE_THRESHOLD,
) -> EdgeLabels | None:
    """Orientation markers of an image shown rotated and/or flipped (PS3.3 C.7.6.1.1.1).

    Convention: the image is first rotated clockwise on screen by `quarter_turns` x 90 degrees
    (negative turns anticlockwise), then mirrored on screen: `flip_horizontal` swaps the left and
    right edges of the rotated picture, `flip_vertical` its top and bottom. None when
    `orientation` is missing or not a valid Image Orientation (Patient).
    """
    if orientation is None:
        return None
    try:
        row, col = _orientation(orientation)
        slice_normal(orientation)  # row and column along one line define no plane
    except ValueError:
        return None
    right, down = row, col  # the patient directions towards the screen's right and bottom
    for _ in range(quarter_turns % 4):
        # Clockwise: what was at the top goes to the right, what was on the right goes down.
        right, down = -down, right
    if flip_horizontal:
        right = -right
    if flip_vertical:
        down = -down
    return EdgeLabels(
        top=direction_label(-down, threshold),
        bottom=direction_label(down, threshold),
        left=direction_label(-right, threshold),
        right=direction_label(right, threshold),
    )


# --- pixels and patient points -------------------------------------------------------------------

_Vec3 = tuple[float, float, float]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a: Sequence[float], b: Sequence[float]) -> _Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


@dataclass(frozen=True)
class _ImagePlane:
    """An image's plane in mm: its first pixel's centre, the steps to the next column and the
    next row, and the unit normal. Plain floats: these are 3-vectors, and numpy's per-call cost
    would dominate (reference lines are recomputed for every viewport pair on each scroll)."""

    origin: _Vec3
    step_x: _Vec3
    step_y: _Vec3
    normal: _Vec3
    # The inverse of the Gram matrix of the two steps, for `pixel`.
    inverse: tuple[float, float, float]

    def pixel(self, offset: Sequence[float]) -> tuple[float, float]:
        """The (x, y) pixel step of a patient offset from `origin`, projected along the normal:
        least squares on the two steps, exact for sheared row and column directions too."""
        u, v = _dot(self.step_x, offset), _dot(self.step_y, offset)
        a, b, c = self.inverse
        return a * u + b * v, b * u + c * v


def _image_plane(geometry: SliceGeometry) -> _ImagePlane | None:
    try:
        return _cached_plane(geometry)
    except TypeError:  # a geometry holding lists instead of tuples cannot be a cache key
        return _cached_plane.__wrapped__(geometry)


@functools.lru_cache(maxsize=1024)  # the frames on screen, asked again on every scroll
def _cached_plane(geometry: SliceGeometry) -> _ImagePlane | None:
    """The plane of `geometry`, or None without a position, orientation or positive pixel
    spacing. Pixel Spacing is (row spacing, column spacing): the step to the next column is the
    column spacing along the row direction (PS3.3 C.7.6.2.1.1)."""
    if geometry.position is None or geometry.orientation is None or not geometry.pixel_spacing:
        return None
    try:
        row, col = _orientation(geometry.orientation)
        normal = slice_normal(geometry.orientation)
    except ValueError:
        return None
    origin = tuple(float(v) for v in geometry.position)
    row_spacing, column_spacing = (float(v) for v in geometry.pixel_spacing)
    if len(origin) != 3 or not all(math.isfinite(v) for v in origin):
        return None
    if not (row_spacing > 0 and column_spacing > 0):  # also False for NaN
        return None
    step_x = tuple(float(v) for v in row * column_spacing)
    step_y = tuple(float(v) for v in col * row_spacing)
    xx, xy, yy = _dot(step_x, step_x), _dot(step_x, step_y), _dot(step_y, step_y)
    det = xx * yy - xy * xy  # > 0: the directions are not parallel (slice_normal checked)
    return _ImagePlane(
        origin=(origin[0], origin[1], origin[2]),
        step_x=(step_x[0], step_x[1], step_x[2]),
        step_y=(step_y[0], step_y[1], step_y[2]),
        normal=(float(normal[0]), float(normal[1]), float(normal[2])),
        inverse=(yy / det, -xy / det, xx / det),
    )


def _require_plane(geometry: SliceGeometry) -> _ImagePlane:
    plane = _image_plane(geometry)
    if plane is None:
        raise ValueError(
            "geometry: a position, an orientation and a positive pixel spacing are needed"
        )
    return plane


def patient_point(geometry: SliceGeometry, x: float, y: float) -> NDArray[np.float64]:
    """The patient point (mm, LPS) at image pixel (x = column, y = row), pixel centres at
    integers (PS3.3 C.7.6.2.1.1). ValueError when the geometry has no position, orientation
    or pixel spacing."""
    plane = _require_plane(geometry)
    o, sx, sy = plane.origin, plane.step_x, plane.step_y
    return np.array([o[k] + x * sx[k] + y * sy[k] for k in range(3)], dtype=np.float64)


def image_point(geometry: SliceGeometry, point: ArrayLike) -> tuple[float, float]:
    """The image pixel (x = column, y = row) a patient point (mm) projects onto, along the
    plane's normal; the inverse of `patient_point` for points in the plane."""
    plane = _require_plane(geometry)
    p = np.asarray(point, dtype=np.float64).reshape(3)
    x, y = plane.pixel([float(p[k]) - plane.origin[k] for k in range(3)])
    return float(x), float(y)


# --- synchronised scrolling by position ----------------------------------------------------------

# Two slices closer than this along the normal lie in the same plane (stored decimals).
SAME_PLANE_MM = 0.01


class StackPlanes:
    """Where the slices of one stack lie along their common normal: built once per stack, it
    answers `nearest` with a binary search (O(log n)).

    A stack can be synchronised by position only when its located slices (those with a position
    and an orientation) share one non-empty Frame of Reference UID and one orientation; otherwise
    `usable` is False and `nearest` always answers None. Slices without geometry are skipped.
    """

    def __init__(
        self, geometries: Sequence[SliceGeometry | None], orientation_tolerance: float = 1e-3
    ) -> None:
        self.frame_of_reference_uid = ""
        self.normal: NDArray[np.float64] | None = None
        self.spacing: float | None = None  # median distinct step between slices (mm)
        self.default_tolerance: float | None = None
        self._along = np.empty(0)  # sorted positions along the normal (mm)
        self._index = np.empty(0, dtype=np.intp)  # the stack index of each sorted position
        located = [
            (i, g)
            for i, g in enumerate(geometries)
            if g is not None and g.position is not None and g.orientation is not None
        ]
        if not located:
            return
        uids = {g.frame_of_reference_uid for _, g in located}
        if len(uids) != 1 or not next(iter(uids)):
            LOGGER.debug("stack has %d Frames of Reference: no sync by position", len(uids))
            return
        orientations = np.array([g.orientation for _, g in located], dtype=np.float64)
        try:
            normal = slice_normal(orientations[0])
            first = np.concatenate(_orientation(orientations[0]))
        except ValueError:
            return
        lengths = np.linalg.norm(orientations.reshape(-1, 2, 3), axis=2, keepdims=True)
        unit = (orientations.reshape(-1, 2, 3) / np.maximum(lengths, 1e-12)).reshape(-1, 6)
        if not np.all(np.abs(unit - first) <= orientation_tolerance):
            LOGGER.debug("stack slices have several orientations: no sync by position")
            return
        along = np.array([g.position for _, g in located], dtype=np.float64) @ normal
        order = np.argsort(along, kind="stable")  # ties keep the lower stack index first
        self.frame_of_reference_uid = next(iter(uids))
        self.normal = normal
        self._along = along[order]
        self._index = np.array([i for i, _ in located], dtype=np.intp)[order]
        steps = np.diff(self._along)
        distinct = steps[steps >= SAME_PLANE_MM]
        if distinct.size:
            self.spacing = float(np.median(distinct))
            self.default_tolerance = self.spacing / 2
        else:  # one plane: a slab as thick as the slice
            thickness = located[0][1].slice_thickness
            if thickness is not None and thickness > 0:
                self.default_tolerance = float(thickness)

    @property
    def usable(self) -> bool:
        return self.normal is not None

    def nearest(
        self,
        point: ArrayLike,
        frame_of_reference_uid: str,
        tolerance_mm: float | None = None,
    ) -> int | None:
        """The index of the slice whose plane is nearest `point` (mm, distance along the normal).

        None when the stack is not usable, `point` is in another (or an unknown) Frame of
        Reference, or the nearest plane is farther than `tolerance_mm` (default: half the slice
        spacing; the slice thickness for a single plane; otherwise the plane itself only). Of
        slices at the same position, the lowest index wins.
        """
        if self.normal is None or frame_of_reference_uid != self.frame_of_reference_uid:
            return None
        target = float(np.asarray(point, dtype=np.float64).reshape(3) @ self.normal)
        if not np.isfinite(target):
            return None
        along = self._along
        right = int(np.searchsorted(along, target))
        candidates = [k for k in (right - 1, right) if 0 <= k < along.size]
        best = min(candidates, key=lambda k: abs(along[k] - target))
        tolerance = tolerance_mm if tolerance_mm is not None else self.default_tolerance
        if tolerance is None:
            tolerance = SAME_PLANE_MM
        if abs(along[best] - target) > tolerance + 1e-9:
            return None
        first = int(np.searchsorted(along, along[best], side="left"))  # lowest index of ties
        return int(self._index[first])


def nearest_slice(
    geometries: Sequence[SliceGeometry | None],
    point: ArrayLike,
    frame_of_reference_uid: str,
    tolerance_mm: float | None = None,
) -> int | None:
    """The index of the slice of a stack nearest `point` (mm) along the stack's normal, for
    synchronised scrolling by position (see StackPlanes.nearest). Build a StackPlanes once
    per stack instead when asking many times."""
    return StackPlanes(geometries).nearest(point, frame_of_reference_uid, tolerance_mm)


# --- reference lines -----------------------------------------------------------------------------

# Planes whose normals are closer than this (sine of the angle) are parallel: no line.
PARALLEL_SINE = 1e-3

Segment = tuple[tuple[float, float], tuple[float, float]]


def reference_line(target: SliceGeometry | None, other: SliceGeometry | None) -> Segment | None:
    """Where `other`'s image lies on `target`'s image: the classic reference (scout) line.

    The line where the two image planes meet, clipped to both image rectangles (pixel edges),
    as two points in `target`'s pixel coordinates (x = column, y = row), the one with the
    smaller x first (smaller y when vertical). None when either geometry lacks a position,
    orientation or pixel spacing, the Frames of Reference differ or are unknown, the planes are
    parallel, or the line misses either image.
    """
    if target is None or other is None:
        return None
    if not target.frame_of_reference_uid or (
        target.frame_of_reference_uid != other.frame_of_reference_uid
    ):
        return None
    plane_t, plane_o = _image_plane(target), _image_plane(other)
    if plane_t is None or plane_o is None:
        return None
    normal_t, normal_o = plane_t.normal, plane_o.normal
    direction = _cross(normal_t, normal_o)
    sine = math.sqrt(_dot(direction, direction))
    if sine < PARALLEL_SINE:
        return None
    direction = (direction[0] / sine, direction[1] / sine, direction[2] / sine)
    # The point of the line nearest the origin, a n_t + b n_o, lies on both planes:
    # a + b cos = h_t and a cos + b = h_o, with h the planes' distances from the origin.
    cosine = _dot(normal_t, normal_o)
    h_t, h_o = _dot(normal_t, plane_t.origin), _dot(normal_o, plane_o.origin)
    det = 1.0 - cosine * cosine  # = sine^2 > 0
    a, b = (h_t - cosine * h_o) / det, (h_o - cosine * h_t) / det
    on_line = [a * normal_t[k] + b * normal_o[k] for k in range(3)]
    # Both images map the line to pixels linearly: start + t * step, t in mm along the line.
    start_t = plane_t.pixel([on_line[k] - plane_t.origin[k] for k in range(3)])
    step_t = plane_t.pixel(direction)
    start_o = plane_o.pixel([on_line[k] - plane_o.origin[k] for k in range(3)])
    step_o = plane_o.pixel(direction)
    span: tuple[float, float] | None = (-math.inf, math.inf)
    span = _clip(span, start_t, step_t, target.columns, target.rows)
    span = _clip(span, start_o, step_o, other.columns, other.rows)
    if span is None or span[1] - span[0] < 1e-9:
        return None
    ends = [(start_t[0] + t * step_t[0], start_t[1] + t * step_t[1]) for t in span]
    # Rounded so that a vertical line is ordered by y, not by the noise in its x.
    ends.sort(key=lambda p: (round(p[0], 6), round(p[1], 6)))
    return ends[0], ends[1]


def _clip(
    span: tuple[float, float] | None,
    start: tuple[float, float],
    step: tuple[float, float],
    columns: int,
    rows: int,
) -> tuple[float, float] | None:
    """Liang-Barsky: the part of `span` where start + t * step lies inside the image."""
    if span is None:
        return None
    low, high = span
    for axis, size in ((0, columns), (1, rows)):
        lo, hi = -0.5, size - 0.5
        if abs(step[axis]) < 1e-12:
            if not lo <= start[axis] <= hi:
                return None
            continue
        t_lo, t_hi = sorted(((lo - start[axis]) / step[axis], (hi - start[axis]) / step[axis]))
        low, high = max(low, t_lo), min(high, t_hi)
    return (low, high) if low <= high else None
