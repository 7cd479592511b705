"""A blob phantom for the 3D tests: balls of known modality values at known patient points, in a
volume of any affine (axial, oblique, gantry-tilted), and a way to find them in a picture."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from viewer.volume.model import Volume

AIR = -1000


def blob_volume(
    affine: np.ndarray,
    shape: tuple[int, int, int],
    blobs: dict[str, tuple[tuple[float, float, float], float]],
    radius: float = 12.0,
    background: float = AIR,
) -> Volume:
    """A CT volume of `background` HU with a ball of `radius` mm per blob (patient point, HU);
    voxel centres are placed through the affine, so the balls are round in patient space
    whatever the affine."""
    nk, nj, ni = shape
    volume = Volume(
        np.full(shape, background, dtype=np.int16),
        np.asarray(affine, dtype=np.float64),
        "1.2.826.0.1.3680043.8.498.1",
        "1.2.826.0.1.3680043.8.498.2",
        modality="CT",
        units="HU",
        padding=AIR,
    )
    k, j, i = np.mgrid[0:nk, 0:nj, 0:ni]
    points = volume.to_patient(np.stack([i, j, k], axis=-1).reshape(-1, 3)).reshape(*shape, 3)
    for point, value in blobs.values():
        inside = np.linalg.norm(points - np.asarray(point), axis=-1) <= radius
        volume.voxels[inside] = int(value)
    volume.filled[:] = True
    volume.revision = 1
    return volume


def axial_affine(spacing: float = 2.0, origin: tuple[float, float, float] = (0, 0, 0)
                 ) -> np.ndarray:
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = origin
    return affine


def centroid(image: np.ndarray, grey: int, tolerance: int = 6) -> tuple[float, float]:
    """(row, column) of the centre of the pixels whose grey level is within `tolerance` of
    `grey` (a MIP picture: the three channels are equal), largest connected part only: the
    soft edges of brighter blobs pass through every grey in thin rings."""
    mask = np.abs(image[:, :, 0].astype(int) - grey) <= tolerance
    labels, count = ndimage.label(mask)
    assert count > 0, f"no blob of grey {grey} in the picture"
    sizes = np.bincount(labels.ravel())[1:]
    rows, columns = np.nonzero(labels == int(np.argmax(sizes)) + 1)
    assert rows.size > 20, f"no blob of grey {grey} in the picture"
    return float(rows.mean()), float(columns.mean())
