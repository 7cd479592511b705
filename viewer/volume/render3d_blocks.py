"""Block-reduced copies of a volume for the 3D views: each output voxel the mean (for volume
rendering) or the maximum (for MIP, which must keep a small vessel's peak) of a factor^3 block.
Pure numpy, filled a few slices at a time so nothing of the volume's size is allocated."""

from __future__ import annotations

import numpy as np

CHUNK = 8  # output slices per step


def reduced_shape(shape: tuple[int, int, int], factor: int) -> tuple[int, int, int]:
    """(slices, rows, columns) of the copy: whole blocks only (at most factor-1 voxels of each
    axis's far end are left out)."""
    return shape[0] // factor, shape[1] // factor, shape[2] // factor


def reduce_blocks(voxels: np.ndarray, factor: int, out: np.ndarray, how: str,
                  slices: np.ndarray | None = None) -> None:
    """Write into `out` (reduced_shape) the `how` ('mean' or 'max') of each block of `voxels`;
    only the output slices whose source slices are True in `slices` (all when None)."""
    nk, nj, ni = out.shape
    work = np.empty((CHUNK, nj, ni), dtype=np.float32 if how == "mean" else voxels.dtype)
    for start in range(0, nk, CHUNK):
        stop = min(start + CHUNK, nk)
        if slices is not None and not slices[start * factor:stop * factor].any():
            continue
        part = work[:stop - start]
        first = True
        # The factor^3 strided sub-grids, added (or maxed) one after the other: numpy's fast
        # strided loops instead of a 6-D reshape and reduction.
        for a in range(factor):
            for b in range(factor):
                for c in range(factor):
                    grid = voxels[start * factor + a:stop * factor:factor,
                                  b:nj * factor:factor, c:ni * factor:factor]
                    if first:
                        part[...] = grid
                        first = False
                    elif how == "mean":
                        part += grid
                    else:
                        np.maximum(part, grid, out=part)
        if how == "mean":
            part /= factor**3
            out[start:stop] = np.rint(part) if out.dtype.kind in "iu" else part
        else:
            out[start:stop] = part
