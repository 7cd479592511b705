"""Image plane geometry in the patient coordinate system (PS3.3 C.7.6.2): pure numpy.

Patient axes are LPS: +x towards the patient's Left, +y Posterior, +z Head. Image Orientation
(Patient) holds the row direction (along a row, increasing column index) then the column direction
(down a column, increasing row index).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

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
