"""The numba kernels behind `viewer.volume.reslice`; imported on the first reslice only, so that a
reading window without a volume view never loads numba (~0.5 s; measured here, numba and the
int16 kernels keep 48 MiB of anonymous memory and ~105 MiB of files resident, ~95 MiB of it
LLVM's code: clean file pages the kernel may reclaim, counted in RSS and PSS all the same).

Both kernels fill `out[r, c]` with the combination (`mode`) of the samples at offsets along the
plane's normal; a sample outside the volume (more than half a voxel beyond the centres of the
edge voxels) or in a slice not yet filled is `padding`. Within half a voxel of the edge the
nearest edge value is used, as a scanner's reconstruction would.

- `oblique`: any affine (oblique, double-oblique, gantry tilt) through the voxel coordinates of
  pixel (0, 0) and the voxel steps of one column, one row and one millimetre along the normal.
- `aligned`: a plane whose column, row and normal directions each run along one voxel axis;
  the three axes are separable, so each one's indices and weights come as 1-D tables (built by
  the caller) and the loops run in the order that reads memory contiguously.

Compiled with `cache=True` (the caller picks a writable cache dir), `nogil=True` so GUI threads
reslice while the event loop runs, and without fastmath so results match an independent
resampler to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
from numba import njit, prange

THIN = 0
MIP = 1
MINIP = 2
AVERAGE = 3

def run(kernel: Callable[..., None], threads: int, *args: object) -> None:
    """`kernel(*args)` on at most `threads` threads (numba's count is per calling thread)."""
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, previous)))
    try:
        kernel(*args)
    finally:
        numba.set_num_threads(previous)


@njit(inline="always", cache=True, nogil=True)
def _combine(acc: float, value: float, mode: int) -> float:
    if mode == MIP:
        return max(acc, value)
    if mode == MINIP:
        return min(acc, value)
    return acc + value


@njit(inline="always", cache=True, nogil=True)
def _start(mode: int) -> float:
    if mode == MIP:
        return -np.inf
    if mode == MINIP:
        return np.inf
    return 0.0


@njit(inline="always", cache=True, nogil=True)
def _trilinear(
    voxels: np.ndarray, filled: np.ndarray, x: float, y: float, z: float, padding: float
) -> float:
    nk, nj, ni = voxels.shape
    if not (-0.5 < x < ni - 0.5 and -0.5 < y < nj - 0.5 and -0.5 < z < nk - 0.5):
        return padding
    i0 = min(max(int(np.floor(x)), 0), max(ni - 2, 0))
    j0 = min(max(int(np.floor(y)), 0), max(nj - 2, 0))
    k0 = min(max(int(np.floor(z)), 0), max(nk - 2, 0))
    i1 = min(i0 + 1, ni - 1)
    j1 = min(j0 + 1, nj - 1)
    k1 = min(k0 + 1, nk - 1)
    fx = min(max(x - i0, 0.0), 1.0)
    fy = min(max(y - j0, 0.0), 1.0)
    fz = min(max(z - k0, 0.0), 1.0)
    # a slice still loading matters only when it has weight: a plane exactly on a filled
    # slice shows while its neighbour decodes
    if not ((fz == 1.0 or filled[k0]) and (fz == 0.0 or filled[k1])):
        return padding
    a = voxels[k0, j0, i0] + fx * (float(voxels[k0, j0, i1]) - voxels[k0, j0, i0])
    b = voxels[k0, j1, i0] + fx * (float(voxels[k0, j1, i1]) - voxels[k0, j1, i0])
    lower = a + fy * (b - a)
    a = voxels[k1, j0, i0] + fx * (float(voxels[k1, j0, i1]) - voxels[k1, j0, i0])
    b = voxels[k1, j1, i0] + fx * (float(voxels[k1, j1, i1]) - voxels[k1, j1, i0])
    upper = a + fy * (b - a)
    return lower + fz * (upper - lower)


@njit(inline="always", cache=True, nogil=True)
def _nearest(
    voxels: np.ndarray, filled: np.ndarray, x: float, y: float, z: float, padding: float
) -> float:
    nk, nj, ni = voxels.shape
    if not (-0.5 < x < ni - 0.5 and -0.5 < y < nj - 0.5 and -0.5 < z < nk - 0.5):
        return padding
    # rint (half to even) as numpy does, so the two implementations agree on exact halves
    i = min(max(int(np.rint(x)), 0), ni - 1)
    j = min(max(int(np.rint(y)), 0), nj - 1)
    k = min(max(int(np.rint(z)), 0), nk - 1)
    if not filled[k]:
        return padding
    return float(voxels[k, j, i])


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def oblique(
    voxels: np.ndarray,
    filled: np.ndarray,
    origin: np.ndarray,
    step_c: np.ndarray,
    step_r: np.ndarray,
    normal: np.ndarray,
    offsets: np.ndarray,
    mode: int,
    nearest: bool,
    padding: float,
    out: np.ndarray,
) -> None:
    """out[r, c] from voxel point origin + c*step_c + r*step_r + offset*normal, per offset."""
    rows, cols = out.shape
    count = offsets.size
    for r in prange(rows):
        bx = origin[0] + r * step_r[0]
        by = origin[1] + r * step_r[1]
        bz = origin[2] + r * step_r[2]
        for c in range(cols):
            px = bx + c * step_c[0]
            py = by + c * step_c[1]
            pz = bz + c * step_c[2]
            acc = _start(mode)
            for s in range(count):
                x = px + offsets[s] * normal[0]
                y = py + offsets[s] * normal[1]
                z = pz + offsets[s] * normal[2]
                if nearest:
                    value = _nearest(voxels, filled, x, y, z, padding)
                else:
                    value = _trilinear(voxels, filled, x, y, z, padding)
                acc = value if mode == THIN else _combine(acc, value, mode)
            out[r, c] = acc / count if mode == AVERAGE else acc


@njit(inline="always", cache=True, nogil=True)
def _fill_line(
    view: np.ndarray,
    r0: int,
    r1: int,
    wr: float,
    s0: int,
    s1: int,
    ws: float,
    first: int,
    line: np.ndarray,
) -> None:
    """line[v] = view at (r, first + v, s), interpolated along the row and slab axes; the
    weights are tested once per line, not per voxel."""
    if wr == 0.0 and ws == 0.0:
        for v in range(line.size):
            line[v] = view[r0, first + v, s0]
    elif wr == 0.0:
        for v in range(line.size):
            a = float(view[r0, first + v, s0])
            line[v] = a + ws * (float(view[r0, first + v, s1]) - a)
    elif ws == 0.0:
        for v in range(line.size):
            a = float(view[r0, first + v, s0])
            line[v] = a + wr * (float(view[r1, first + v, s0]) - a)
    else:
        for v in range(line.size):
            a = float(view[r0, first + v, s0])
            a += ws * (float(view[r0, first + v, s1]) - a)
            b = float(view[r1, first + v, s0])
            b += ws * (float(view[r1, first + v, s1]) - b)
            line[v] = a + wr * (b - a)


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def aligned(
    view: np.ndarray,
    r_index: np.ndarray,
    r_weight: np.ndarray,
    r_valid: np.ndarray,
    c_index: np.ndarray,
    c_weight: np.ndarray,
    c_valid: np.ndarray,
    s_index: np.ndarray,
    s_weight: np.ndarray,
    s_valid: np.ndarray,
    mode: int,
    padding: float,
    out: np.ndarray,
) -> None:
    """out[r, c] from view[r axis, c axis, slab axis] (a transposed view of the voxels).

    x_index is (n, 2) lower and upper voxel index along that axis, x_weight the weight of the
    upper one (0 for nearest or on the grid), x_valid whether the position is inside the volume
    (and, on the slice axis, in filled slices). Per output row and slab sample, the voxels the
    row needs are first interpolated along the row and slab axes into a line along the column
    axis, which the columns then interpolate from: the branches on weights leave the inner loops,
    and a sagittal or coronal slab reads the same cache lines for neighbouring samples.
    """
    rows, cols = out.shape
    count = s_weight.size
    first = c_index[:, 0].min()
    last = c_index[:, 1].max()
    for r in prange(rows):
        if not r_valid[r]:
            for c in range(cols):
                out[r, c] = padding
            continue
        r0, r1, wr = r_index[r, 0], r_index[r, 1], r_weight[r]
        line = np.empty(last - first + 1)
        for s in range(count):
            if s_valid[s]:
                _fill_line(view, r0, r1, wr, s_index[s, 0], s_index[s, 1], s_weight[s], first,
                           line)
            for c in range(cols):
                if s_valid[s] and c_valid[c]:
                    a = line[c_index[c, 0] - first]
                    value = a + c_weight[c] * (line[c_index[c, 1] - first] - a)
                else:
                    value = padding
                if s == 0:
                    out[r, c] = value
                else:
                    out[r, c] = _combine(out[r, c], value, mode)
        if mode == AVERAGE:
            for c in range(cols):
                out[r, c] /= count


# Rows per parallel work item of `aligned_columns`: enough that one slice's rows are read
# as a block before moving to the next slice.
_CHUNK = 8


@njit(inline="always", cache=True, nogil=True)
def _accumulate_row(
    voxels: np.ndarray,
    r_is_k: bool,
    r: int,
    s: int,
    r_index: np.ndarray,
    r_weight: np.ndarray,
    c_index: np.ndarray,
    c_weight: np.ndarray,
    c_valid: np.ndarray,
    s_index: np.ndarray,
    s_weight: np.ndarray,
    s_valid: np.ndarray,
    mode: int,
    padding: float,
    first: int,
    line: np.ndarray,
    combined: np.ndarray,
    picks: bool,
    out: np.ndarray,
) -> None:
    """Sample s of output row r, combined into `combined[r]` (picks) or `out[r]`."""
    last = first + line.size
    if not s_valid[s]:
        line[:] = padding
    else:
        r0, r1, wr = r_index[r, 0], r_index[r, 1], r_weight[r]
        s0, s1, ws = s_index[s, 0], s_index[s, 1], s_weight[s]
        if r_is_k:
            a0, a1 = voxels[r0, s0, first:last], voxels[r0, s1, first:last]
            b0, b1 = voxels[r1, s0, first:last], voxels[r1, s1, first:last]
        else:
            a0, a1 = voxels[s0, r0, first:last], voxels[s1, r0, first:last]
            b0, b1 = voxels[s0, r1, first:last], voxels[s1, r1, first:last]
        _lerp_lines(a0, a1, b0, b1, ws, wr, line)
    if picks:
        row = combined[r]
        if s == 0:
            row[:] = line
        elif mode == MIP:
            np.maximum(row, line, row)
        elif mode == MINIP:
            np.minimum(row, line, row)
        else:
            row += line
        return
    for c in range(out.shape[1]):
        if c_valid[c]:
            a = line[c_index[c, 0] - first]
            value = a + c_weight[c] * (line[c_index[c, 1] - first] - a)
        else:
            value = padding
        out[r, c] = value if s == 0 else _combine(out[r, c], value, mode)


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def aligned_columns(
    voxels: np.ndarray,
    r_is_k: bool,
    r_index: np.ndarray,
    r_weight: np.ndarray,
    r_valid: np.ndarray,
    c_index: np.ndarray,
    c_weight: np.ndarray,
    c_valid: np.ndarray,
    s_index: np.ndarray,
    s_weight: np.ndarray,
    s_valid: np.ndarray,
    mode: int,
    padding: float,
    out: np.ndarray,
) -> None:
    """`aligned` for a plane whose columns run along voxel axis i (axial, coronal): the lines
    are contiguous runs of the C-ordered voxels, read as such (the compiler vectorises them).
    The rows run along k when `r_is_k` (the slab along j), else along j (the slab along k).

    Memory is read in the order it lies: a coronal row's slab is one block of a slice, so each
    row loops its samples; an axial slab spans slices, so a few rows at a time loop over the
    slices. Columns that each take one voxel (on the grid, or nearest) commute with the slab's
    combination: whole lines are combined first and the columns picked once at the end.
    """
    rows, cols = out.shape
    count = s_weight.size
    first = c_index[:, 0].min()
    size = c_index[:, 1].max() + 1 - first
    picks = not np.any(c_weight)
    combined = np.empty((rows if picks else 0, size))
    for chunk in prange((rows + _CHUNK - 1) // _CHUNK):
        line = np.empty(size)
        start, stop = chunk * _CHUNK, min(chunk * _CHUNK + _CHUNK, rows)
        for outer in range(count if not r_is_k else stop - start):
            for inner in range(stop - start if not r_is_k else count):
                r = start + (inner if not r_is_k else outer)
                s = outer if not r_is_k else inner
                if r_valid[r]:
                    _accumulate_row(
                        voxels, r_is_k, r, s, r_index, r_weight, c_index, c_weight, c_valid,
                        s_index, s_weight, s_valid, mode, padding, first, line, combined,
                        picks, out,
                    )
    for r in prange(rows):
        if not r_valid[r]:
            out[r, :] = padding
            continue
        if picks:
            for c in range(cols):
                out[r, c] = combined[r, c_index[c, 0] - first] if c_valid[c] else padding
        if mode == AVERAGE:
            for c in range(cols):
                if c_valid[c] or not picks:  # picked padding was never summed
                    out[r, c] /= count


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def extreme_lines(
    voxels: np.ndarray,
    r_is_k: bool,
    r_index: np.ndarray,
    r_valid: np.ndarray,
    c_index: np.ndarray,
    c_valid: np.ndarray,
    s_index: np.ndarray,
    s_valid: np.ndarray,
    maximum: bool,
    padding: float,
    out: np.ndarray,
) -> None:
    """`aligned_columns` for a MIP / MinIP whose every sample is one voxel (rows, columns and
    slab on the grid, or nearest): whole lines compared in the voxels' own type, as numpy's
    `max` over slices would, a chunk of rows at a time over the slices. The caller checks that
    the padding fits that type."""
    rows, cols = out.shape
    count = s_index.shape[0]
    first = c_index[:, 0].min()
    size = c_index[:, 0].max() + 1 - first
    fill = voxels.dtype.type(padding)
    for chunk in prange((rows + _CHUNK - 1) // _CHUNK):
        start, stop = chunk * _CHUNK, min(chunk * _CHUNK + _CHUNK, rows)
        best = np.empty((stop - start, size), dtype=voxels.dtype)
        for outer in range(count if not r_is_k else stop - start):
            for inner in range(stop - start if not r_is_k else count):
                n = inner if not r_is_k else outer
                s = outer if not r_is_k else inner
                r0 = r_index[start + n, 0]
                s0 = s_index[s, 0]
                if r_is_k:
                    line = voxels[r0, s0, first : first + size]
                else:
                    line = voxels[s0, r0, first : first + size]
                row = best[n]
                if not s_valid[s]:
                    for x in range(size):
                        if s == 0 or (fill > row[x]) == maximum:
                            row[x] = fill
                elif s == 0:
                    row[:] = line
                elif maximum:  # written out: the compiler vectorises these, not np.maximum
                    for x in range(size):
                        row[x] = max(row[x], line[x])
                else:
                    for x in range(size):
                        row[x] = min(row[x], line[x])
        for n in range(stop - start):
            r = start + n
            for c in range(cols):
                if r_valid[r] and c_valid[c]:
                    out[r, c] = best[n, c_index[c, 0] - first]
                else:
                    out[r, c] = padding


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def aligned_samples(
    voxels: np.ndarray,
    r_is_k: bool,
    r_index: np.ndarray,
    r_weight: np.ndarray,
    r_valid: np.ndarray,
    c_index: np.ndarray,
    c_weight: np.ndarray,
    c_valid: np.ndarray,
    s_index: np.ndarray,
    s_weight: np.ndarray,
    s_valid: np.ndarray,
    mode: int,
    padding: float,
    out: np.ndarray,
) -> None:
    """`aligned` for a slab across voxel axis i (sagittal): per pixel, the samples come from one
    contiguous run along i. The rows run along k when `r_is_k`, else along j.

    When the samples are the voxels of the run, each once and inside the volume (a slab on the
    grid, as `slab_offsets` gives), each pixel is combined straight from the run in one loop;
    otherwise the run is interpolated into a line first and the samples taken from it. A line
    buffer written and read back per pixel, or a branch inside the run's loop, cost 4-5x here
    (a 20 mm sagittal MIP of 512x512x1000: 58 ms, against 11 ms in one loop).
    """
    rows, cols = out.shape
    count = s_weight.size
    first = s_index[:, 0].min()
    size = s_index[:, 0].max() + 1 - first
    direct = size == count and not np.any(s_weight) and np.all(s_valid)
    if direct:
        seen = np.zeros(size, dtype=np.bool_)
        for s in range(count):
            seen[s_index[s, 0] - first] = True
        direct = np.all(seen)
    else:
        size = s_index[:, 1].max() + 1 - first
    for r in prange(rows):
        if not r_valid[r]:
            out[r, :] = padding
            continue
        r0, r1, wr = r_index[r, 0], r_index[r, 1], r_weight[r]
        line = np.empty(size)
        for c in range(cols):
            if not c_valid[c]:
                out[r, c] = padding
                continue
            c0, c1, wc = c_index[c, 0], c_index[c, 1], c_weight[c]
            if r_is_k:
                a0, a1 = voxels[r0, c0, first:first + size], voxels[r0, c1, first:first + size]
                b0, b1 = voxels[r1, c0, first:first + size], voxels[r1, c1, first:first + size]
            else:
                a0, a1 = voxels[c0, r0, first:first + size], voxels[c1, r0, first:first + size]
                b0, b1 = voxels[c0, r1, first:first + size], voxels[c1, r1, first:first + size]
            if direct:
                acc = _combine_run(a0, a1, b0, b1, wc, wr, mode)
            else:
                _lerp_lines(a0, a1, b0, b1, wc, wr, line)
                acc = 0.0
                for s in range(count):
                    if s_valid[s]:
                        a = line[s_index[s, 0] - first]
                        value = a + s_weight[s] * (line[s_index[s, 1] - first] - a)
                    else:
                        value = padding
                    acc = value if s == 0 else _combine(acc, value, mode)
            out[r, c] = acc / count if mode == AVERAGE else acc


@njit(inline="always", cache=True, nogil=True)
def _combine_run(
    a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray, w: float, wb: float,
    mode: int,
) -> float:
    """The combination (`mode`) of (a0 -> a1 by w) -> (b0 -> b1 by wb) over the run.

    Written out per mode and per case: with the mode tested inside the loop, or the four runs
    always read (aliased when without weight), it ran 3x slower. A run without weight is
    replaced by the one it starts from (v + 0 * (v - v) == v), so it is not read."""
    if wb == 0.0:
        b0, b1 = a0, a1
    acc = _start(mode)
    if w == 0.0:
        if mode == MIP:
            for x in range(a0.size):
                p = float(a0[x])
                acc = max(acc, p + wb * (float(b0[x]) - p))
        elif mode == MINIP:
            for x in range(a0.size):
                p = float(a0[x])
                acc = min(acc, p + wb * (float(b0[x]) - p))
        else:
            for x in range(a0.size):
                p = float(a0[x])
                acc += p + wb * (float(b0[x]) - p)
        return acc
    for x in range(a0.size):
        p = float(a0[x])
        p += w * (float(a1[x]) - p)
        q = float(b0[x])
        q += w * (float(b1[x]) - q)
        acc = _combine(acc, p + wb * (q - p), mode)
    return acc


@njit(inline="always", cache=True, nogil=True)
def _lerp_lines(
    a0: np.ndarray,
    a1: np.ndarray,
    b0: np.ndarray,
    b1: np.ndarray,
    w: float,
    wb: float,
    line: np.ndarray,
) -> None:
    """line = (a0 -> a1 by w) -> (b0 -> b1 by w) by wb, reading b only when wb has weight."""
    if wb == 0.0:
        if w == 0.0:
            for x in range(line.size):
                line[x] = a0[x]
        else:
            for x in range(line.size):
                p = float(a0[x])
                line[x] = p + w * (float(a1[x]) - p)
        return
    if w == 0.0:
        for x in range(line.size):
            p = float(a0[x])
            line[x] = p + wb * (float(b0[x]) - p)
        return
    for x in range(line.size):
        p = float(a0[x])
        p += w * (float(a1[x]) - p)
        q = float(b0[x])
        q += w * (float(b1[x]) - q)
        line[x] = p + wb * (q - p)


# Every kernel `viewer.volume.reslice` launches (it counts their loaded specialisations).
KERNELS = (oblique, aligned, aligned_columns, aligned_samples, extreme_lines)
