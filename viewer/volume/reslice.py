"""Planes and slabs cut from a volume: a `Plane` in, an array of modality values out.

The output is float32 (rows, columns) of modality values; it goes through `viewer.dicom.display`
like any frame (`plane_frame_info`). Points outside the volume, or in slices not yet filled,
show `volume.padding`.
"""

from __future__ import annotations

import numpy as np

from viewer.volume.model import Interpolation, Plane, SlabMode, Volume


def reslice(
    volume: Volume,
    plane: Plane,
    interpolation: Interpolation = Interpolation.LINEAR,
) -> np.ndarray:
    """The plane (or slab, when plane.slab > 0) as float32 (rows, columns) modality values."""
    offsets = slab_offsets(volume, plane)
    normal = np.asarray(plane.normal)
    result: np.ndarray | None = None
    for offset in offsets:
        sample = _sample(volume, plane, offset * normal, interpolation)
        if result is None:
            result = sample
        elif plane.mode is SlabMode.MIP:
            np.maximum(result, sample, out=result)
        elif plane.mode is SlabMode.MINIP:
            np.minimum(result, sample, out=result)
        else:
            result += sample
    assert result is not None
    if plane.mode is SlabMode.AVERAGE and len(offsets) > 1:
        result /= len(offsets)
    return result


def slab_offsets(volume: Volume, plane: Plane) -> np.ndarray:
    """Distances (mm) from the plane of the sample planes a slab combines: spaced by the
    volume's finest spacing or less, symmetric about 0, spanning the slab's thickness."""
    if plane.slab <= 0:
        return np.zeros(1)
    step = min(volume.spacing)
    count = max(int(np.ceil(plane.slab / step)), 1) + 1
    half = plane.slab / 2.0
    return np.linspace(-half, half, count)


def _sample(
    volume: Volume, plane: Plane, shift: np.ndarray, interpolation: Interpolation
) -> np.ndarray:
    rows, cols = plane.rows, plane.columns
    r, c = np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64),
                       indexing="ij")
    points = plane.to_patient(r, c) + shift
    ijk = volume.to_voxel(points)
    return _interpolate(volume, ijk, interpolation)


def _interpolate(volume: Volume, ijk: np.ndarray, interpolation: Interpolation) -> np.ndarray:
    nk, nj, ni = volume.shape
    vox = volume.voxels
    i, j, k = ijk[..., 0], ijk[..., 1], ijk[..., 2]
    inside = (i > -0.5) & (i < ni - 0.5) & (j > -0.5) & (j < nj - 0.5) & (k > -0.5) & (k < nk - 0.5)
    out = np.full(i.shape, volume.padding, dtype=np.float32)
    if interpolation is Interpolation.NEAREST:
        ii = np.clip(np.rint(i), 0, ni - 1).astype(np.intp)
        jj = np.clip(np.rint(j), 0, nj - 1).astype(np.intp)
        kk = np.clip(np.rint(k), 0, nk - 1).astype(np.intp)
        inside &= volume.filled[kk]
        out[inside] = vox[kk[inside], jj[inside], ii[inside]]
        return out
    i0 = np.clip(np.floor(i), 0, max(ni - 2, 0)).astype(np.intp)
    j0 = np.clip(np.floor(j), 0, max(nj - 2, 0)).astype(np.intp)
    k0 = np.clip(np.floor(k), 0, max(nk - 2, 0)).astype(np.intp)
    fi = np.clip(i - i0, 0.0, 1.0)
    fj = np.clip(j - j0, 0.0, 1.0)
    fk = np.clip(k - k0, 0.0, 1.0)
    i1 = np.minimum(i0 + 1, ni - 1)
    j1 = np.minimum(j0 + 1, nj - 1)
    k1 = np.minimum(k0 + 1, nk - 1)
    inside &= volume.filled[k0] & volume.filled[k1]
    acc = np.zeros(i.shape, dtype=np.float64)
    for kk, wk in ((k0, 1 - fk), (k1, fk)):
        for jj, wj in ((j0, 1 - fj), (j1, fj)):
            for ii, wi in ((i0, 1 - fi), (i1, fi)):
                acc += vox[kk, jj, ii] * (wk * wj * wi)
    out[inside] = acc[inside]
    return out
