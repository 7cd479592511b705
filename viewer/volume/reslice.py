"""Planes and slabs cut from a volume: a `Plane` in, an array of modality values out.

The output is float32 (rows, columns) of modality values; it goes through `viewer.dicom.display`
like any frame (`plane_frame_info`, `display_plane`). Points outside the volume (beyond half a
voxel past the edge voxels' centres), or in slices not yet filled, show `volume.padding`.

C kernels (reslice_kernels.c, compiled at install; bound with ctypes in
`viewer.volume.reslice_kernels`, loaded on the first reslice) do the work, their rows split over
threads here:
- a plane whose row, column and normal each run along one voxel axis (axial on an axial volume;
  coronal and sagittal, with the slices interpolated) is sampled separably from 1-D index and
  weight tables, by the kernel whose loops read voxel axis i (contiguous) innermost;
- any other plane (oblique, double-oblique, a gantry-tilted volume's sheared affine) goes through
  the volume's inverse affine, trilinear or nearest, per pixel.
A slab (`plane.slab` > 0) is combined in the same kernels from samples at `slab_offsets` along
the normal.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from viewer.dicom.display import DisplayState, to_display
from viewer.dicom.frameinfo import FrameInfo, Window
from viewer.volume import reslice_kernels as kernels
from viewer.volume.model import Interpolation, Plane, Volume

# Within this many voxels of a voxel centre a sample is taken as exactly on it: an orthogonal
# plane on the voxel grid then reads one voxel instead of interpolating float rounding.
_SNAP = 1e-6
# Direction components below this (relative) are float rounding of an exact zero.
_ALIGNED = 1e-9

# Which launches run on every core (their rows split between threads, `_launch`). A second
# thread helps only if it gets a core: measured on 512x512x1000 (20 mm MIP slabs, 512x512
# planes, 2 cores; with the numba kernels these C ones replaced, which split rows alike), with a
# core spare (load ~1.5-2.4) two threads took coronal slab 12.7 -> 7.3 ms, sagittal 19.3 ->
# 11.3, thin oblique 23.9 -> 13.2 (nearest 19.9 -> 10.0); with both cores busy (load ~3) a
# second thread waited for a core in 4 ms scheduler ticks: coronal slab 12.5 -> 40.0 ms. So a
# kernel goes on every core only with a core spare (`_core_spare`) and enough work: from
# _PARALLEL_SAMPLES for the per-pixel (oblique) kernel, whose pixels each miss the cache
# elsewhere (a second thread overlaps the misses), and from _SLAB_SAMPLES for coronal and
# sagittal slabs (strided runs). An oblique slab (_BUSY_SAMPLES and more) takes every core even
# on a busy machine: 169 vs 112 ms at load ~4. Thin separable planes and axial slabs (whole
# slices, bandwidth-bound: 3.4 vs 4.0 ms) stay on the calling thread.
_PARALLEL_SAMPLES = 200_000
_SLAB_SAMPLES = 2_000_000
_BUSY_SAMPLES = 2_000_000
# Pieces of rows per thread of a launch on several (`_launch`): enough that a thread that starts
# late finds little left, few enough that calling the kernel per piece costs nothing (~10 us).
_PIECES_PER_THREAD = 8

# One kernel at a time: two launched at once would only fight for the same cores. Callers on
# other threads wait here without holding the GIL.
_LAUNCH = threading.Lock()
# The threads that take a launch's other row ranges (the calling thread takes the first); made
# on the first launch that splits, used only under _LAUNCH.
_POOL: list[ThreadPoolExecutor] = []


def reslice(
    volume: Volume,
    plane: Plane,
    interpolation: Interpolation = Interpolation.LINEAR,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The plane (or slab, when plane.slab > 0) as float32 (rows, columns) modality values.

    `out`, when given, is a C-contiguous float32 (rows, columns) array filled and returned
    (a view redrawing at the same size reuses its buffer). Safe to call from several threads.
    """
    shape = (plane.rows, plane.columns)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous float32 {shape}, not {out.dtype} {out.shape}")
    if out.size == 0:
        return out
    return _sample(volume, plane, slab_offsets(volume, plane), interpolation, out, True)


def _sample(
    volume: Volume,
    plane: Plane,
    offsets: np.ndarray,
    interpolation: Interpolation,
    out: np.ndarray,
    separable: bool,
) -> np.ndarray:
    """`reslice` at the given slab offsets; `separable` False sends even a plane on the voxel
    axes through the per-pixel kernel (the tests compare the two)."""
    inverse = np.linalg.inv(volume.affine)
    to_voxel = inverse[:3, :3]
    origin = to_voxel @ np.asarray(plane.first_pixel) + inverse[:3, 3]
    step_c = to_voxel @ (plane.spacing * np.asarray(plane.row))
    step_r = to_voxel @ (plane.spacing * np.asarray(plane.column))
    normal = to_voxel @ np.asarray(plane.normal)
    mode = kernels.THIN if offsets.size == 1 else getattr(kernels, plane.mode.name)
    nearest = interpolation is Interpolation.NEAREST
    filled = np.ascontiguousarray(volume.filled, dtype=np.bool_)
    voxels = volume.voxels
    axes = _aligned_axes(step_c, step_r, normal) if separable else None
    if axes is not None:
        c_axis, r_axis, s_axis = axes
        sizes = (voxels.shape[2], voxels.shape[1], voxels.shape[0])  # along i, j, k
        tables = [
            _axis_table(
                origin[axis] + np.arange(count) * step[axis],
                sizes[axis],
                filled if axis == 2 else None,
                nearest,
            )
            for axis, count, step in (
                (r_axis, plane.rows, step_r),
                (c_axis, plane.columns, step_c),
            )
        ]
        s_table = _axis_table(
            origin[s_axis] + offsets * normal[s_axis],
            sizes[s_axis],
            filled if s_axis == 2 else None,
            nearest,
        )
        padding = float(volume.padding)
        args = (*tables[0], *tables[1], *s_table, mode, padding, out)
        slab_threads = _threads(out.size * offsets.size >= _SLAB_SAMPLES and _core_spare())
        # the loop that reads voxel axis i (contiguous in memory) goes innermost
        if c_axis == 0 and voxels.flags.c_contiguous:
            extreme = mode in (kernels.MIP, kernels.MINIP)
            if extreme and _single_voxels(volume, tables[0], tables[1], s_table):
                launch = kernels.extreme_lines(
                    voxels, r_axis == 2, tables[0][0], tables[0][2], tables[1][0], tables[1][2],
                    s_table[0], s_table[2], mode == kernels.MIP, padding, out,
                )
                _launch(launch, 1)
            else:
                _launch(kernels.aligned_columns(voxels, r_axis == 2, *args), slab_threads)
        elif s_axis == 0 and offsets.size > 1 and voxels.flags.c_contiguous:
            _launch(kernels.aligned_samples(voxels, r_axis == 2, *args), slab_threads)
        else:  # (a thin sagittal plane: 14 ms against 16-21 ms per pixel, loaded machine)
            # numpy axis of voxel axis a (i, j, k) is 2 - a
            view = voxels.transpose(2 - r_axis, 2 - c_axis, 2 - s_axis)
            _launch(kernels.aligned(view, *args), 1)
        return out
    samples = out.size * offsets.size
    threads = _threads(
        samples >= _BUSY_SAMPLES or (samples >= _PARALLEL_SAMPLES and _core_spare())
    )
    launch = kernels.oblique(voxels, filled, origin, step_c, step_r, normal, offsets, mode,
                             nearest, float(volume.padding), out)
    _launch(launch, threads)
    return out


def _launch(launch: kernels.Launch, threads: int) -> None:
    """Run `launch` over all its rows, on `threads` threads: the calling thread and the pool's
    take pieces of rows (multiples of the kernels' CHUNK) in turn until none is left. A pool
    thread that gets no core for a while (another process has it) then costs nothing: the
    calling thread does the pieces it would have done and does not wait for it (with halves
    fixed in advance a plane took twice as long whenever that happened, measured here). Every
    row's values are the same however the rows are split."""
    chunks = -(-launch.rows // kernels.CHUNK)
    parts = max(1, min(threads, chunks))
    with _LAUNCH:
        if parts == 1:
            launch(0, launch.rows)
            return
        count = min(chunks, parts * _PIECES_PER_THREAD)
        bounds = [min(launch.rows, chunks * n // count * kernels.CHUNK) for n in range(count + 1)]
        taken = itertools.count()  # next() on it is atomic under the GIL

        def work() -> None:
            while (n := next(taken)) < count:
                launch(bounds[n], bounds[n + 1])

        if not _POOL:  # parts <= _threads(True): one thread per core beside the caller's
            _POOL.append(ThreadPoolExecutor(_threads(True) - 1, thread_name_prefix="reslice"))
        others = [_POOL[0].submit(work) for _ in range(parts - 1)]
        try:
            work()
        finally:
            for future in others:
                if not future.cancel():  # started: finishing its last piece
                    future.result()


def _threads(parallel: bool) -> int:
    return (os.cpu_count() or 1) if parallel else 1


def _core_spare() -> bool:
    """Whether a core is idle: the 1-minute load average (this process's running threads
    included) at least half a core below the number of cores."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not measurable here (Windows): assume a spare core
        return True
    return load <= (os.cpu_count() or 1) - 0.5


def slab_offsets(volume: Volume, plane: Plane) -> np.ndarray:
    """Distances (mm) along the normal from the plane of the samples a slab combines
    (`plane.slab` is the total thickness, centred on the plane; a thin plane is the single
    offset 0).

    A slab on the voxel grid's axes (an axial slab of an axial stack: row, column and normal
    each along one voxel axis) samples the voxel planes within it, each exactly: nothing is
    interpolated across slices, so a MIP shows only values that are in the data and an average
    is the mean of the slices it covers (between two slices a linear interpolation holds nothing
    new). Any other slab samples evenly, no further apart than the volume's finest spacing, the
    outer two on the slab's faces.
    """
    if plane.slab <= 0:
        return np.zeros(1)
    half = plane.slab / 2.0
    inverse = np.linalg.inv(volume.affine)
    normal = inverse[:3, :3] @ np.asarray(plane.normal)
    row = inverse[:3, :3] @ np.asarray(plane.row)
    column = inverse[:3, :3] @ np.asarray(plane.column)
    axes = _aligned_axes(row, column, normal)
    if axes is not None:
        axis = axes[2]
        centre = (inverse[:3, :3] @ np.asarray(plane.center) + inverse[:3, 3])[axis]
        reach = half * abs(normal[axis])  # the slab's half thickness in voxels along that axis
        planes = np.arange(np.ceil(centre - reach - _SNAP), np.floor(centre + reach + _SNAP) + 1)
        if planes.size:
            return np.sort((planes - centre) / normal[axis])
    step = min(volume.spacing)
    count = max(int(np.ceil(plane.slab / step - 1e-9)), 1) + 1
    return np.linspace(-half, half, count)


def plane_frame_info(volume: Volume, plane: Plane) -> FrameInfo:
    """What `dicom.display.to_display` needs for a `reslice` output: modality values already
    (slope 1, intercept 0), MONOCHROME2, the volume's window, the plane's square pixels."""
    windows: tuple[Window, ...] = ()
    if volume.window is not None:
        center, width = volume.window
        windows = (Window(float(center), float(width)),)
    return FrameInfo(
        rows=plane.rows,
        columns=plane.columns,
        samples_per_pixel=1,
        photometric="MONOCHROME2",
        stored_photometric="MONOCHROME2",
        bits_allocated=32,
        bits_stored=32,
        signed=True,
        rescale_type=volume.units,
        windows=windows,
        pixel_spacing=(plane.spacing, plane.spacing),
    )


def display_plane(
    volume: Volume,
    plane: Plane,
    state: DisplayState | None = None,
    interpolation: Interpolation = Interpolation.LINEAR,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The plane as uint8 grey (rows, columns), through the one display pipeline.

    A volume of whole numbers up to 16 bits (CT in HU) is displayed from its values rounded to
    whole units, as its own frames are: the pipeline then maps them through one cached lookup
    table (0.4 ms for 512x512 here) instead of float arithmetic on every pixel (4.7 ms).
    """
    values = reslice(volume, plane, interpolation, out=out)
    return display_values(volume, plane, values, state)


def display_values(
    volume: Volume, plane: Plane, values: np.ndarray, state: DisplayState | None = None
) -> np.ndarray:
    """`values` (what `reslice` gave for `plane`) as uint8 grey, as `display_plane` shows them;
    for a view that keeps the values too (probe, measurements)."""
    info = plane_frame_info(volume, plane)
    if _whole_16_bit(volume):
        whole = np.rint(values).astype(np.int16)
        return to_display(whole, replace(info, bits_allocated=16, bits_stored=16), state)
    return to_display(values, info, state)


def _whole_16_bit(volume: Volume) -> bool:
    kind = volume.voxels.dtype
    if kind.kind not in "iu" or kind.itemsize > 2 or kind == np.uint16:
        return False  # uint16 values above 32767 would not fit the int16 the table reads
    return bool(float(volume.padding).is_integer() and -32768 <= volume.padding <= 32767)


def _single_voxels(volume: Volume, *tables: tuple[np.ndarray, ...]) -> bool:
    """Samples that each take one voxel, with a padding the voxels' type holds: a MIP / MinIP
    is then compared in that type, no interpolation arithmetic at all."""
    if any(np.any(table[1]) for table in tables):
        return False
    dtype = volume.voxels.dtype
    return bool(dtype.type(volume.padding) == volume.padding)


def _aligned_axes(
    step_c: np.ndarray, step_r: np.ndarray, normal: np.ndarray
) -> tuple[int, int, int] | None:
    """The voxel axes (0 = i, 1 = j, 2 = k) along which a column, a row and the normal step,
    when each steps along exactly one and the three differ; None for an oblique plane."""
    axes = []
    for step in (step_c, step_r, normal):
        magnitude = np.abs(step)
        largest = int(np.argmax(magnitude))
        others = np.delete(magnitude, largest)
        if not magnitude[largest] > 0 or np.any(others > _ALIGNED * magnitude[largest]):
            return None
        axes.append(largest)
    if len(set(axes)) != 3:
        return None
    return axes[0], axes[1], axes[2]


def _axis_table(
    coords: np.ndarray, size: int, filled: np.ndarray | None, nearest: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, 2) lower/upper voxel index, (n,) upper weight and (n,) validity of positions along one
    voxel axis, with the rules of the per-pixel kernel (see reslice_kernels)."""
    snapped = np.rint(coords)
    coords = np.where(np.abs(coords - snapped) < _SNAP, snapped, coords)
    valid = (coords > -0.5) & (coords < size - 0.5)
    index = np.empty((coords.size, 2), dtype=np.intp)
    if nearest:
        index[:, 0] = np.clip(np.rint(coords), 0, size - 1)
        index[:, 1] = index[:, 0]
        weight = np.zeros(coords.size)
        if filled is not None:
            valid &= filled[index[:, 0]]
        return index, weight, valid
    lower = np.clip(np.floor(coords), 0, max(size - 2, 0)).astype(np.intp)
    index[:, 0] = lower
    index[:, 1] = np.minimum(lower + 1, size - 1)
    weight = np.clip(coords - lower, 0.0, 1.0)
    if filled is not None:
        valid &= ((weight == 1.0) | filled[index[:, 0]]) & ((weight == 0.0) | filled[index[:, 1]])
    # all weight on the upper voxel (the last one along the axis): one voxel, as on the grid
    on_upper = weight == 1.0
    index[on_upper, 0] = index[on_upper, 1]
    weight[on_upper] = 0.0
    return index, weight, valid
