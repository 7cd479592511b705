"""The kernels behind `viewer.volume.reslice`: C (reslice_kernels.c, compiled ahead of time by
setup.py at `pip install` into `_reslice_kernels*.so` / `.pyd` beside this file) loaded with
ctypes on the first reslice. Nothing is compiled at run time: loading costs ~1 ms and ~0.15 MiB,
where numba's JIT and its cached kernels kept ~125 MiB (PSS) resident in the process (bench
volume's MPR memory child, 512x512x1000 int16: peak 1.36x the volume with numba, 1.12x now).

Each function here binds one kernel to its arrays and returns a `Launch`: called with a row range
[start, stop) it fills those rows of `out`, without the GIL (ctypes releases it), so
`viewer.volume.reslice` can split the rows over threads. What the kernels compute, and the rules
for samples outside the volume or in slices not yet filled, is in reslice_kernels.c.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.machinery
from collections.abc import Callable
from pathlib import Path

import numpy as np

THIN = 0
MIP = 1
MINIP = 2
AVERAGE = 3

# Rows the kernels that read several rows of one slice together take at a time (CHUNK in the C
# source): a split of the rows between threads falls on a multiple of it.
CHUNK = 8

NOT_BUILT = "reslice kernels not built: run packaging/install.sh"

# The voxel types a volume is built with (viewer.volume.plan) and each one's kernel suffix.
_SUFFIXES = {np.dtype(np.int16): "i16", np.dtype(np.float32): "f32"}

_P = ctypes.c_void_p
_I64 = ctypes.c_int64
_I32 = ctypes.c_int32
_F64 = ctypes.c_double
_TABLES = [_P, _P, _P] * 3  # (index, weight, valid) of the row, column and slab axes
_ARGTYPES: dict[str, list[type]] = {
    "oblique": [_P, _I64, _I64, _I64, _I64, _I64, _I64, _P, _P, _P, _P, _P, _P, _I64, _I32,
                _I32, _F64, _P, _I64, _I64, _I64],
    "aligned": [_P, _I64, _I64, _I64, *_TABLES, _I64, _I32, _F64, _P, _I64, _I64, _I64],
    "aligned_columns": [_P, _I64, _I64, _I32, *_TABLES, _I64, _I32, _F64, _P, _I64, _I64, _I64],
    "aligned_samples": [_P, _I64, _I64, _I32, *_TABLES, _I64, _I32, _F64, _P, _I64, _I64, _I64],
    "extreme_lines": [_P, _I64, _I64, _I32, _P, _P, _P, _P, _P, _P, _I64, _I32, _F64, _P, _I64,
                      _I64, _I64],
}


class KernelsNotBuilt(RuntimeError):
    """The compiled kernels are missing (a source checkout never installed)."""


class Launch:
    """One kernel bound to its arrays: `launch(start, stop)` fills rows [start, stop) of the
    output. The arrays are kept referenced for as long as the launch lives."""

    def __init__(self, name: str, function: Callable[..., int], rows: int,
                 arrays: tuple[np.ndarray, ...], args: tuple[object, ...]) -> None:
        self.name = name
        self.rows = rows
        self._function = function
        self._arrays = arrays
        self._args = args

    def __call__(self, start: int, stop: int) -> None:
        if self._function(*self._args, start, stop) != 0:
            raise MemoryError(f"reslice kernel {self.name}: no memory for its work buffers")


@functools.cache
def library() -> ctypes.CDLL:
    """The compiled kernels, loaded once; KernelsNotBuilt when no build is found."""
    here = Path(__file__).parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_reslice_kernels{suffix}"
        if path.is_file():
            try:
                loaded = ctypes.CDLL(str(path))
            except OSError as exc:
                raise KernelsNotBuilt(f"{NOT_BUILT} ({path.name}: {exc})") from None
            break
    else:
        raise KernelsNotBuilt(NOT_BUILT)
    for name, argtypes in _ARGTYPES.items():
        for suffix in _SUFFIXES.values():
            function = getattr(loaded, f"{name}_{suffix}")
            function.argtypes = argtypes
            function.restype = ctypes.c_int
    return loaded


def _kernel(name: str, voxels: np.ndarray) -> Callable[..., int]:
    suffix = _SUFFIXES.get(voxels.dtype)
    if suffix is None:
        raise ValueError(f"no reslice kernel for {voxels.dtype} voxels (int16 or float32 only)")
    function: Callable[..., int] = getattr(library(), f"{name}_{suffix}")
    return function


def _element_strides(array: np.ndarray) -> tuple[int, ...]:
    return tuple(stride // array.itemsize for stride in array.strides)


def _tables(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """(index, weight, valid) triples as the C types: int64, float64 and one byte per bool."""
    kinds = (np.int64, np.float64, np.bool_)
    return tuple(np.ascontiguousarray(a, dtype=kinds[n % 3]) for n, a in enumerate(arrays))


def _check_out(out: np.ndarray) -> None:
    if out.dtype != np.float32 or not out.flags.c_contiguous or out.ndim != 2:
        raise ValueError("out must be a C-contiguous float32 (rows, columns) array")


def oblique(
    voxels: np.ndarray, filled: np.ndarray, origin: np.ndarray, step_c: np.ndarray,
    step_r: np.ndarray, normal: np.ndarray, offsets: np.ndarray, mode: int, nearest: bool,
    padding: float, out: np.ndarray,
) -> Launch:
    """out[r, c] from voxel point origin + c*step_c + r*step_r + offset*normal, per offset,
    trilinear or nearest (any affine: oblique, double-oblique, gantry tilt)."""
    _check_out(out)
    function = _kernel("oblique", voxels)
    vectors = tuple(np.ascontiguousarray(v, dtype=np.float64)
                    for v in (origin, step_c, step_r, normal, offsets))
    flags = np.ascontiguousarray(filled, dtype=np.bool_)
    arrays = (voxels, flags, *vectors, out)
    args = (voxels.ctypes.data, *voxels.shape, *_element_strides(voxels), flags.ctypes.data,
            *(v.ctypes.data for v in vectors), vectors[-1].size, mode, int(nearest),
            float(padding), out.ctypes.data, out.shape[1])
    return Launch("oblique", function, out.shape[0], arrays, args)


def aligned(
    view: np.ndarray, r_index: np.ndarray, r_weight: np.ndarray, r_valid: np.ndarray,
    c_index: np.ndarray, c_weight: np.ndarray, c_valid: np.ndarray, s_index: np.ndarray,
    s_weight: np.ndarray, s_valid: np.ndarray, mode: int, padding: float, out: np.ndarray,
) -> Launch:
    """out[r, c] from view[r axis, c axis, slab axis] (any strides: a transposed view of the
    voxels). x_index is (n, 2) lower and upper voxel index along that axis, x_weight the upper
    one's weight (0 for nearest or on the grid), x_valid whether the position is inside the
    volume (and, on the slice axis, in filled slices)."""
    _check_out(out)
    tables = _tables(r_index, r_weight, r_valid, c_index, c_weight, c_valid, s_index, s_weight,
                     s_valid)
    args = (view.ctypes.data, *_element_strides(view), *(t.ctypes.data for t in tables),
            s_weight.size, mode, float(padding), out.ctypes.data, out.shape[1])
    return Launch("aligned", _kernel("aligned", view), out.shape[0], (view, *tables, out), args)


def aligned_columns(
    voxels: np.ndarray, r_is_k: bool, r_index: np.ndarray, r_weight: np.ndarray,
    r_valid: np.ndarray, c_index: np.ndarray, c_weight: np.ndarray, c_valid: np.ndarray,
    s_index: np.ndarray, s_weight: np.ndarray, s_valid: np.ndarray, mode: int, padding: float,
    out: np.ndarray,
) -> Launch:
    """`aligned` for a plane whose columns run along voxel axis i (axial, coronal) of C-ordered
    voxels; rows along k when `r_is_k` (the slab along j), else along j (the slab along k)."""
    tables = _tables(r_index, r_weight, r_valid, c_index, c_weight, c_valid, s_index, s_weight,
                     s_valid)
    return _contiguous("aligned_columns", voxels, r_is_k, tables, mode, padding, out)


def aligned_samples(
    voxels: np.ndarray, r_is_k: bool, r_index: np.ndarray, r_weight: np.ndarray,
    r_valid: np.ndarray, c_index: np.ndarray, c_weight: np.ndarray, c_valid: np.ndarray,
    s_index: np.ndarray, s_weight: np.ndarray, s_valid: np.ndarray, mode: int, padding: float,
    out: np.ndarray,
) -> Launch:
    """`aligned` for a slab across voxel axis i (sagittal) of C-ordered voxels; rows along k when
    `r_is_k`, else along j."""
    tables = _tables(r_index, r_weight, r_valid, c_index, c_weight, c_valid, s_index, s_weight,
                     s_valid)
    return _contiguous("aligned_samples", voxels, r_is_k, tables, mode, padding, out)


def _contiguous(name: str, voxels: np.ndarray, r_is_k: bool, tables: tuple[np.ndarray, ...],
                mode: int, padding: float, out: np.ndarray) -> Launch:
    _check_out(out)
    if not voxels.flags.c_contiguous:
        raise ValueError(f"{name} needs C-ordered voxels")
    args = (voxels.ctypes.data, voxels.shape[1], voxels.shape[2], int(r_is_k),
            *(t.ctypes.data for t in tables), tables[7].size, mode, float(padding),
            out.ctypes.data, out.shape[1])
    return Launch(name, _kernel(name, voxels), out.shape[0], (voxels, *tables, out), args)


def extreme_lines(
    voxels: np.ndarray, r_is_k: bool, r_index: np.ndarray, r_valid: np.ndarray,
    c_index: np.ndarray, c_valid: np.ndarray, s_index: np.ndarray, s_valid: np.ndarray,
    maximum: bool, padding: float, out: np.ndarray,
) -> Launch:
    """`aligned_columns` for a MIP / MinIP whose every sample is one voxel: lines compared in
    the voxels' own type (the caller checks that the padding fits it)."""
    _check_out(out)
    if not voxels.flags.c_contiguous:
        raise ValueError("extreme_lines needs C-ordered voxels")
    indices = [np.ascontiguousarray(a, dtype=np.int64) for a in (r_index, c_index, s_index)]
    valid = [np.ascontiguousarray(a, dtype=np.bool_) for a in (r_valid, c_valid, s_valid)]
    tables = (indices[0], valid[0], indices[1], valid[1], indices[2], valid[2])
    args = (voxels.ctypes.data, voxels.shape[1], voxels.shape[2], int(r_is_k),
            *(t.ctypes.data for t in tables), indices[2].shape[0], int(maximum), float(padding),
            out.ctypes.data, out.shape[1])
    return Launch("extreme_lines", _kernel("extreme_lines", voxels), out.shape[0],
                  (voxels, *tables, out), args)
