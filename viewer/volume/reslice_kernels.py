"""The numba kernels behind `viewer.volume.reslice`; imported on the first reslice only, so that a
reading window without a volume view never loads numba (~0.5 s, ~60 MB).

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

import numpy as np
from numba import njit, prange

THIN = 0
MIP = 1
MINIP = 2
AVERAGE = 3

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
def _lerp_c(view: np.ndarray, a: int, b: int, c0: int, c1: int, wc: float) -> float:
    value = float(view[a, c0, b])
    if wc != 0.0:
        value += wc * (float(view[a, c1, b]) - value)
    return value


@njit(inline="always", cache=True, nogil=True)
def _lerp_cs(
    view: np.ndarray, a: int, c0: int, c1: int, wc: float, s0: int, s1: int, ws: float
) -> float:
    value = _lerp_c(view, a, s0, c0, c1, wc)
    if ws != 0.0:
        value += ws * (_lerp_c(view, a, s1, c0, c1, wc) - value)
    return value


@njit(inline="always", cache=True, nogil=True)
def _sample3(
    view: np.ndarray,
    r0: int,
    r1: int,
    wr: float,
    c0: int,
    c1: int,
    wc: float,
    s0: int,
    s1: int,
    ws: float,
) -> float:
    value = _lerp_cs(view, r0, c0, c1, wc, s0, s1, ws)
    if wr != 0.0:
        value += wr * (_lerp_cs(view, r1, c0, c1, wc, s0, s1, ws) - value)
    return value


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
    samples_inner: bool,
    padding: float,
    out: np.ndarray,
) -> None:
    """out[r, c] from view[r axis, c axis, slab axis] (a transposed view of the voxels).

    x_index is (n, 2) lower and upper voxel index along that axis, x_weight the weight of the
    upper one (0 for nearest or an exact grid, which then reads one voxel), x_valid whether the
    position is inside the volume (and, on the slice axis, in filled slices). `samples_inner`
    puts the slab loop innermost: right when the slab runs along the contiguous voxel axis (a
    sagittal slab); otherwise the column loop is innermost and a row accumulates in `out`.
    """
    rows, cols = out.shape
    count = s_weight.size
    for r in prange(rows):
        if not r_valid[r]:
            for c in range(cols):
                out[r, c] = padding
            continue
        r0, r1, wr = r_index[r, 0], r_index[r, 1], r_weight[r]
        if samples_inner:
            for c in range(cols):
                acc = _start(mode)
                for s in range(count):
                    if c_valid[c] and s_valid[s]:
                        value = _sample3(view, r0, r1, wr, c_index[c, 0], c_index[c, 1],
                                         c_weight[c], s_index[s, 0], s_index[s, 1], s_weight[s])
                    else:
                        value = padding
                    acc = value if mode == THIN else _combine(acc, value, mode)
                out[r, c] = acc / count if mode == AVERAGE else acc
            continue
        for c in range(cols):
            out[r, c] = _start(mode)
        for s in range(count):
            s0, s1, ws = s_index[s, 0], s_index[s, 1], s_weight[s]
            for c in range(cols):
                if c_valid[c] and s_valid[s]:
                    value = _sample3(view, r0, r1, wr, c_index[c, 0], c_index[c, 1],
                                     c_weight[c], s0, s1, ws)
                else:
                    value = padding
                out[r, c] = value if mode == THIN else _combine(out[r, c], value, mode)
        if mode == AVERAGE:
            for c in range(cols):
                out[r, c] /= count
