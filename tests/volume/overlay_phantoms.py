"""A sphere Segmentation on a grid of its own and a cylinder RT Structure Set over a generated
CT, for the MPR overlay tests (CLI and GUI). Patient coordinates (LPS, mm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from tests.dicom.overlay_objects import Grid, RoiSpec, description, make_rtstruct, make_seg, save

SPHERE_CENTRE, SPHERE_RADIUS = np.array([6.0, -4.0, 10.0]), 18.0
# the SEG's grid: 2 mm pixels, 40 x 40, 31 axial frames 2 mm apart from (-40, -40, -30)
SEG_ORIGIN, SEG_PIXEL, SEG_SIZE, SEG_FRAMES = np.array([-40.0, -40.0, -30.0]), 2.0, 40, 31
SEG_REACH = float(np.sqrt(3 * SEG_PIXEL**2) / 2)  # half a SEG voxel's diagonal
CYLINDER_AXIS, CYLINDER_RADIUS = (-10.0, 8.0), 22.0
CONTOUR_Z = tuple(np.arange(-24.0, 33.0, 8.0))  # contours 8 mm apart


def sphere_seg(sources: list[Dataset], path: Path) -> Path:
    """A BINARY SEG of the sphere (segment 1 "Sphere", red) on its own grid, not the CT's."""
    k, j, i = np.mgrid[0:SEG_FRAMES, 0:SEG_SIZE, 0:SEG_SIZE]
    centres = SEG_ORIGIN + np.stack([i, j, k], axis=-1) * SEG_PIXEL
    inside = np.linalg.norm(centres - SPHERE_CENTRE, axis=-1) <= SPHERE_RADIUS
    origins = [tuple(SEG_ORIGIN + (0.0, 0.0, n * SEG_PIXEL)) for n in range(SEG_FRAMES)]
    grid = Grid(SEG_PIXEL, origins, SEG_PIXEL)
    return save(make_seg(sources, inside.astype(np.uint8), "BINARY",
                         [description(1, "Sphere", "red")], grid=grid), path)


def cylinder_rtstruct(sources: list[Dataset], path: Path) -> Path:
    """An RTSTRUCT with ROI 3 "Cylinder" (green): a 90-gon of the cylinder at each CONTOUR_Z."""
    angles = np.linspace(0.0, 2 * np.pi, 90, endpoint=False)
    contours = [("CLOSED_PLANAR", np.stack([CYLINDER_AXIS[0] + CYLINDER_RADIUS * np.cos(angles),
                                            CYLINDER_AXIS[1] + CYLINDER_RADIUS * np.sin(angles),
                                            np.full(angles.size, z)], axis=1))
                for z in CONTOUR_Z]
    return save(make_rtstruct(sources, [RoiSpec(3, "Cylinder", (0, 255, 0), contours)]), path)


def cylinder_radial(points: np.ndarray) -> np.ndarray:
    """Distance (mm) of patient points from the cylinder's axis."""
    return np.hypot(points[..., 0] - CYLINDER_AXIS[0], points[..., 1] - CYLINDER_AXIS[1])
