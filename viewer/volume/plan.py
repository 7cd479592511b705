"""How a series becomes a volume, decided from its headers alone: `plan_volume`.

The plan sorts the frames by position along the slice normal (never Instance Number), checks
that they can form one volume (one line saying why not: `VolumeError`), lays a regular grid of
target slices over them (spacing: the most common step; a target between two source frames is
interpolated from them), and chooses the voxel type and resolution that fit the memory budget.
What the user must know (gaps, uneven spacing, duplicates, gantry tilt, reduced resolution)
becomes one warning line each, naming what and where.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.dicom.files import DicomFileError
from viewer.dicom.frameinfo import FrameValues, frame_values
from viewer.dicom.pixels import check_pixel_layout, read_header
from viewer.dicom.stack import SliceGeometry, Stack
from viewer.dicom.suv import SUVbw, earliest_acquisition, suv_bw

LOGGER = logging.getLogger(__name__)

INT16_RANGE = (-32768.0, 32767.0)
# Positions closer than this along the normal (mm) are one position: duplicates.
DUPLICATE_MM = 0.01
# Steps within this fraction of the common step count as even (scanners round positions).
EVEN_TOLERANCE = 0.02
# A step this many common steps long or more is a gap (at least one slice missing).
GAP_STEPS = 1.5
# Resolution reductions tried, in order, when the volume does not fit the budget.
REDUCTIONS = (2, 4)
MIN_BUDGET_FALLBACK = 1 << 30


class VolumeError(ValueError):
    """A series that cannot become a volume; str() is one line saying why."""


@dataclass(frozen=True)
class Target:
    """Target slice k = (1 - weight) * source `first` + weight * source `second`."""

    first: int
    second: int
    weight: float

    @property
    def sources(self) -> tuple[int, ...]:
        return (self.first,) if self.weight == 0.0 else (self.first, self.second)


@dataclass(frozen=True)
class VolumePlan:
    """Everything needed to fill a volume, before any pixel is decoded.

    `sources[s]` is the (path, frame index) of source frame s, sorted along the normal, with
    `values[s]` its rescale; `targets[k]` says how target slice k is made from them. `step` is
    the resolution reduction (1: full; 2: every 2nd row and column).
    """

    series_uid: str
    frame_of_reference_uid: str
    modality: str
    units: str
    sources: tuple[tuple[str, int], ...]
    values: tuple[FrameValues, ...]
    targets: tuple[Target, ...]
    shape: tuple[int, int, int]  # (slices, rows, columns) of the voxel array
    frame_shape: tuple[int, int]  # (Rows, Columns) of the source frames
    dtype: np.dtype
    affine: np.ndarray
    padding: float
    window: tuple[float, float] | None
    step: int
    warnings: tuple[str, ...]
    # PET: SUVbw per modality value, or None and the reason (viewer.dicom.suv)
    suv_factor: float | None = None
    suv_reason: str = ""

    @property
    def nbytes(self) -> int:
        k, j, i = self.shape
        return k * j * i * self.dtype.itemsize

    def users(self) -> list[list[int]]:
        """For each source frame, the target slices made from it."""
        out: list[list[int]] = [[] for _ in self.sources]
        for k, target in enumerate(self.targets):
            for s in target.sources:
                out[s].append(k)
        return out


def default_budget_bytes() -> int:
    """Half of the memory available now (MemAvailable in /proc/meminfo), else 1 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except (OSError, ValueError, IndexError):
        pass
    return MIN_BUDGET_FALLBACK


def stack_values(stack: Stack) -> list[FrameValues]:
    """The stack's per-frame rescale: from the stack when build_stacks read it, else from the
    headers (one read per file: stacks from the archive index carry no rescale)."""
    if len(stack.values) == len(stack.frames):
        return stack.values
    by_file: dict[str, list[FrameValues]] = {}
    out = []
    for path, index in stack.frames:
        if path not in by_file:
            try:
                ds = read_header(path)
                frames = check_pixel_layout(path, ds).frames
                by_file[path] = frame_values(ds, frames)
            except DicomFileError as exc:
                raise VolumeError(str(exc)) from None
        values = by_file[path]
        if index >= len(values):
            raise VolumeError(f"{Path(path).name}: has no frame {index + 1}")
        out.append(values[index])
    return out


def plan_volume(stack: Stack, budget_bytes: int | None = None) -> VolumePlan:
    """The plan of a volume for `stack` (no pixel data read); VolumeError saying why when the
    series cannot form one. `budget_bytes`: memory the voxels may take (default: half of the
    available memory); over it the volume is planned at reduced resolution, or refused."""
    frames = list(stack.frames)
    if len(frames) < 2:
        raise VolumeError("a single image: a volume needs at least two slices")
    geometry = [stack.geometry_of(n) for n in range(len(frames))]
    first = _check_geometry(frames, geometry)
    values = stack_values(stack)
    if any(v.samples != 1 for v in values):
        raise VolumeError("colour images: a volume holds one value per voxel")
    row = np.asarray(first.orientation[:3], dtype=np.float64)  # type: ignore[index]
    column = np.asarray(first.orientation[3:], dtype=np.float64)  # type: ignore[index]
    row, column = row / np.linalg.norm(row), column / np.linalg.norm(column)
    normal = np.cross(row, column)
    normal /= np.linalg.norm(normal)
    positions = np.array([g.position for g in geometry], dtype=np.float64)  # type: ignore[union-attr]
    along = positions @ normal
    order = np.argsort(along, kind="stable")  # stable: the stack's order breaks ties
    warnings: list[str] = []
    kept = _drop_duplicates(order, along, frames, warnings, _axis_label(normal))
    if len(kept) < 2:
        raise VolumeError("every frame lies at one position along the normal: not a volume")
    kept_along = along[kept]
    kept_positions = positions[kept]
    spacing = _common_step(np.diff(kept_along))
    direction = _stacking_direction(kept_positions, kept_along)
    _check_collinear(kept_positions, kept_along, direction, first)
    targets, spacing = _targets(kept_along, spacing, warnings, _axis_label(normal))
    tilt = math.degrees(math.acos(min(1.0, 1.0 / float(np.linalg.norm(direction)))))
    if tilt > 0.01:
        warnings.append(
            f"gantry tilt of {tilt:.1f}°: the slices are sheared along the stacking direction; "
            "planes are reformatted in true patient space"
        )
    kept_values = [values[int(s)] for s in kept]
    dtype = _voxel_type(kept_values)
    padding = _padding(stack.info.modality, kept_values)
    rows, columns = first.rows, first.columns
    dy, dx = first.pixel_spacing  # type: ignore[misc]  # (row spacing, column spacing)
    budget = default_budget_bytes() if budget_bytes is None else int(budget_bytes)
    step = _reduction(len(targets), rows, columns, dtype, budget, warnings)
    affine = np.eye(4)
    affine[:3, 0] = row * dx * step
    affine[:3, 1] = column * dy * step
    affine[:3, 2] = direction * spacing
    affine[:3, 3] = kept_positions[0]
    units = next((v.units for v in kept_values if v.units), "")
    if not units and stack.info.modality == "CT":
        units = "HU"
    suv = _suv(frames[int(s)][0] for s in kept) if stack.info.modality == "PT" else None
    return VolumePlan(
        series_uid=stack.series_uid,
        frame_of_reference_uid=first.frame_of_reference_uid,
        modality=stack.info.modality,
        units=units,
        sources=tuple(frames[int(s)] for s in kept),
        values=tuple(kept_values),
        targets=tuple(targets),
        shape=(len(targets), -(-rows // step), -(-columns // step)),
        frame_shape=(rows, columns),
        dtype=dtype,
        affine=affine,
        padding=padding,
        window=values[0].window,
        step=step,
        warnings=tuple(warnings),
        suv_factor=suv.factor if suv is not None else None,
        suv_reason=suv.reason if suv is not None else "",
    )


def _suv(paths: Iterable[str]) -> SUVbw:
    """The series' SUVbw factor: from its first file, with QIBA's check against the earliest
    Acquisition Date/Time of all its files (a PET series has a few hundred headers: cheap)."""
    headers = []
    for path in dict.fromkeys(paths):
        try:
            headers.append(read_header(path))
        except DicomFileError:
            continue  # the frame's own failure is reported when its pixels are read
    if not headers:
        return SUVbw(None, "no readable header")
    return suv_bw(headers[0], earliest_acquisition(headers))


def _name(frame: tuple[str, int]) -> str:
    return f"{Path(frame[0]).name} frame {frame[1] + 1}"


def _check_geometry(
    frames: list[tuple[str, int]], geometry: list[SliceGeometry | None]
) -> SliceGeometry:
    """The first frame's geometry once every frame has one that matches it."""
    for frame, g in zip(frames, geometry, strict=True):
        missing = [
            name
            for name, value in (
                ("Image Position (Patient)", g.position if g else None),
                ("Image Orientation (Patient)", g.orientation if g else None),
                ("Pixel Spacing", g.pixel_spacing if g and not g.spacing_source else None),
            )
            if value is None
        ]
        if missing:
            raise VolumeError(f"{_name(frame)}: no {' or '.join(missing)}: no volume geometry")
    first = geometry[0]
    assert first is not None and first.orientation is not None and first.pixel_spacing
    uids = {g.frame_of_reference_uid for g in geometry if g is not None}
    if len(uids) > 1:
        raise VolumeError(f"{len(uids)} different Frame of Reference UIDs: not one volume")
    # Vectorised: a 1,000-slice series is checked in a millisecond (a loop of np.allclose
    # took 50 ms); only the first offender is named.
    known = [g for g in geometry if g is not None]
    orientations = np.array([g.orientation for g in known], dtype=np.float64)
    sizes = np.array([(g.rows, g.columns) for g in known])
    spacings = np.array([g.pixel_spacing for g in known], dtype=np.float64)
    # Compared with what most frames have, so that the odd one out is the one named.
    usual = _most_common(np.round(orientations, 3))
    bad_orientation = np.max(np.abs(orientations - orientations[usual]), axis=1) > 1e-3
    bad_size = np.any(sizes != sizes[_most_common(sizes)], axis=1)
    usual_spacing = spacings[_most_common(spacings)]
    bad_spacing = ~np.all(np.isclose(spacings, usual_spacing, rtol=1e-3, atol=1e-4), axis=1)
    bad = bad_orientation | bad_size | bad_spacing
    if not bad.any():
        return first
    n = int(np.flatnonzero(bad)[0])
    frame, g = frames[n], known[n]
    other = int(np.flatnonzero(~bad)[0]) if not bad.all() else 0
    reference, ref = frames[other], known[other]
    assert g.pixel_spacing is not None and ref.pixel_spacing is not None
    if bad_orientation[n]:
        raise VolumeError(
            f"mixed orientations: {_name(frame)} is not in the plane of {_name(reference)}"
        )
    if bad_size[n]:
        raise VolumeError(
            f"different sizes: {_name(frame)} is {g.columns} x {g.rows}, "
            f"{_name(reference)} {ref.columns} x {ref.rows} (columns x rows)"
        )
    raise VolumeError(
        f"different Pixel Spacing: {_name(frame)} has {g.pixel_spacing[0]:g} x "
        f"{g.pixel_spacing[1]:g} mm, {_name(reference)} {ref.pixel_spacing[0]:g} x "
        f"{ref.pixel_spacing[1]:g} mm"
    )


def _most_common(rows: np.ndarray) -> int:
    """The index of a row equal to the most frequent row of a 2-D array."""
    _, first, counts = np.unique(rows, axis=0, return_index=True, return_counts=True)
    return int(first[np.argmax(counts)])


def _axis_label(normal: np.ndarray) -> str:
    """How positions along the normal are named: z for axial slices."""
    return "z " if abs(normal[2]) > 0.99 else ""


def _where(label: str, a: float, b: float | None = None) -> str:
    span = f"{a:.1f}" if b is None else f"{a:.1f} to {b:.1f}"
    return f"({label}{span} mm)" if label else f"({span} mm along the slice normal)"


def _drop_duplicates(
    order: np.ndarray,
    along: np.ndarray,
    frames: list[tuple[str, int]],
    warnings: list[str],
    label: str,
) -> np.ndarray:
    """The sorted frame indices with one frame per position: the first in the stack's order
    (the stable sort keeps it first) is kept; one warning for all duplicates."""
    kept = [int(order[0])]
    dropped: list[tuple[int, int]] = []  # (kept, dropped)
    for n in order[1:]:
        if along[n] - along[kept[-1]] < DUPLICATE_MM:
            dropped.append((kept[-1], int(n)))
        else:
            kept.append(int(n))
    if dropped:
        a, b = dropped[0]
        more = f" (and {len(dropped) - 1} more duplicates)" if len(dropped) > 1 else ""
        warnings.append(
            f"duplicate position: {_name(frames[b])} lies where {_name(frames[a])} does "
            f"{_where(label, along[a])}{more}: kept {_name(frames[a])}"
        )
    return np.asarray(kept)


def _common_step(steps: np.ndarray) -> float:
    """The most common step between slices (rounded to 0.01 mm); the smaller on a tie."""
    counts = Counter(round(float(s), 2) for s in steps)
    best = max(counts.values())
    step = min(s for s, c in counts.items() if c == best)
    # Average the steps that rounded to it: rounding must not shift slices over 1,000 steps.
    near = steps[np.abs(steps - step) <= 0.005 + 1e-9]
    return float(near.mean()) if near.size else step


def _stacking_direction(positions: np.ndarray, along: np.ndarray) -> np.ndarray:
    """The patient-space move per mm along the normal (unit length unless the gantry is
    tilted): from the first slice to the last, so one misplaced slice cannot bend it."""
    return np.asarray((positions[-1] - positions[0]) / (along[-1] - along[0]))


def _check_collinear(
    positions: np.ndarray, along: np.ndarray, direction: np.ndarray, first: SliceGeometry
) -> None:
    predicted = positions[0] + np.outer(along - along[0], direction)
    off = np.linalg.norm(positions - predicted, axis=1)
    worst = int(np.argmax(off))
    limit = max(0.5 * min(first.pixel_spacing or (1.0, 1.0)), 0.1)
    if off[worst] > limit:
        raise VolumeError(
            f"slice positions do not lie on one line (slice {worst + 1} is {off[worst]:.1f} mm "
            "off it): not one volume"
        )


def _targets(
    along: np.ndarray, spacing: float, warnings: list[str], label: str
) -> tuple[list[Target], float]:
    """A regular grid of slices from the first source to the last, and its spacing; warnings
    for the gaps and the uneven steps that had to be resampled."""
    steps = np.diff(along)
    tolerance = EVEN_TOLERANCE * spacing
    uneven = np.abs(steps - spacing) > tolerance
    gaps = steps >= GAP_STEPS * spacing
    warnings.extend(
        f"gap of {steps[n]:.1f} mm between slices {n + 1} and {n + 2} "
        f"{_where(label, along[n], along[n + 1])}: filled by interpolation"
        for n in np.flatnonzero(gaps)
    )
    odd = uneven & ~gaps
    if odd.any():
        low, high = float(steps[odd].min()), float(steps[odd].max())
        span = f"{low:.2f} mm" if high - low < 0.005 else f"{low:.2f} to {high:.2f} mm"
        first = int(np.flatnonzero(odd)[0])
        warnings.append(
            f"uneven spacing: {int(odd.sum())} steps of {span} (first between slices "
            f"{first + 1} and {first + 2} {_where(label, along[first], along[first + 1])}) "
            f"where most are {spacing:.2f} mm: resampled to {spacing:.2f} mm"
        )
    if not uneven.any():
        # The sources are the grid when none strays from it (small steady rounding errors
        # must not add up over 1,000 slices): spacing from the end slices.
        even = float(along[-1] - along[0]) / (len(along) - 1)
        grid = along[0] + even * np.arange(len(along))
        drift = float(np.max(np.abs(along - grid)))
        if drift <= tolerance:
            return [Target(k, k, 0.0) for k in range(len(along))], even
        warnings.append(
            f"uneven spacing: slice positions stray up to {drift:.2f} mm from a regular "
            f"grid: resampled to {spacing:.2f} mm"
        )
    # Never past the last source by more than the tolerance: a slice there would repeat it.
    count = int(math.floor((along[-1] - along[0]) / spacing + EVEN_TOLERANCE)) + 1
    grid = along[0] + spacing * np.arange(count)
    targets = []
    for z in grid:
        b = int(np.clip(np.searchsorted(along, z), 1, len(along) - 1))
        a = b - 1
        w = float(np.clip((z - along[a]) / (along[b] - along[a]), 0.0, 1.0))
        if w * (along[b] - along[a]) <= tolerance:
            targets.append(Target(a, a, 0.0))
        elif (1 - w) * (along[b] - along[a]) <= tolerance:
            targets.append(Target(b, b, 0.0))
        else:
            targets.append(Target(a, b, w))
    return targets, spacing


def _voxel_type(values: list[FrameValues]) -> np.dtype:
    """int16 when every slice maps to integers that fit it, else float32."""
    for v in values:
        low, high = v.modality_range
        if v.slope != 1.0 or v.intercept != round(v.intercept):
            return np.dtype(np.float32)
        if low < INT16_RANGE[0] or high > INT16_RANGE[1]:
            return np.dtype(np.float32)
    return np.dtype(np.int16)


def _padding(modality: str, values: list[FrameValues]) -> float:
    """What shows outside the volume: air for CT, no activity for PET, else the lowest value
    the series can hold."""
    if modality == "CT":
        return -1024.0
    if modality == "PT":
        return 0.0
    low = min(v.modality_range[0] for v in values)
    return low if math.isfinite(low) else 0.0


def _reduction(
    slices: int, rows: int, columns: int, dtype: np.dtype, budget: int, warnings: list[str]
) -> int:
    full = slices * rows * columns * dtype.itemsize
    if full <= budget:
        return 1
    for step in REDUCTIONS:
        reduced = slices * -(-rows // step) * -(-columns // step) * dtype.itemsize
        if reduced <= budget:
            warnings.append(
                f"reduced resolution: the volume needs {_mb(full)}, over the memory budget of "
                f"{_mb(budget)}: built from every {_ordinal(step)} row and column "
                f"({_mb(reduced)})"
            )
            return step
    smallest = slices * -(-rows // REDUCTIONS[-1]) * -(-columns // REDUCTIONS[-1])
    raise VolumeError(
        f"too large: the volume needs {_mb(full)} ({_mb(smallest * dtype.itemsize)} at "
        f"1/{REDUCTIONS[-1]} resolution), over the memory budget of {_mb(budget)}"
    )


def _mb(nbytes: int) -> str:
    mb = nbytes / 1e6
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"


def _ordinal(n: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(n, f"{n}th")


__all__ = [
    "Target", "VolumeError", "VolumePlan", "default_budget_bytes", "plan_volume",
    "stack_values",
]
