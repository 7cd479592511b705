"""A CT phantom Volume with known geometry and known HU at every patient point, for the MPR GUI
tests (built here, not read from files: the views take any Volume)."""

from __future__ import annotations

import numpy as np

from viewer.dicom.stack import StackInfo
from viewer.volume.model import Volume

SPACING = (0.8, 0.8, 2.0)  # mm along i (columns), j (rows), k (slices)
ORIGIN = (-60.0, -70.0, -50.0)  # centre of voxel (0, 0, 0), LPS mm
SHAPE = (51, 160, 150)  # slices, rows, columns
BODY_HU, BONE_HU, LESION_HU, AIR_HU = 40, 700, 200, -1000
BONE = ((0.0, 10.0, -10.0), 12.0)  # sphere (centre LPS, radius mm)
LESION = ((25.0, -20.0, 20.0), 8.0)
FRAME_OF_REFERENCE = "1.2.826.0.1.3680043.8.498.1"


def hu_at(points: np.ndarray) -> np.ndarray:
    """The phantom's HU at (..., 3) patient points: an ellipsoidal body with a bone sphere and a
    lesion sphere, air around."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    out = np.full(x.shape, AIR_HU, dtype=np.int16)
    out[(x / 55) ** 2 + (y / 60) ** 2 + (z / 48) ** 2 <= 1] = BODY_HU
    for (centre, radius), hu in ((BONE, BONE_HU), (LESION, LESION_HU)):
        d = np.linalg.norm(points - np.asarray(centre), axis=-1)
        out[d <= radius] = hu
    return out


def phantom_volume(filled: bool = True, frame_of_reference: str = FRAME_OF_REFERENCE) -> Volume:
    affine = np.eye(4)
    affine[:3, :3] = np.diag(SPACING)
    affine[:3, 3] = ORIGIN
    k, j, i = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in SHAPE), indexing="ij")
    ijk = np.stack([i, j, k], axis=-1)
    points = ijk @ affine[:3, :3].T + affine[:3, 3]
    volume = Volume(
        voxels=hu_at(points), affine=affine, frame_of_reference_uid=frame_of_reference,
        series_uid="1.2.826.0.1.3680043.8.498.2", modality="CT", units="HU", padding=-1024.0,
        info=StackInfo(modality="CT", series_description="MPR phantom"), window=(40.0, 400.0),
    )
    volume.filled[:] = filled
    volume.revision = 1
    return volume
