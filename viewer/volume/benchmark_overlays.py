"""A Segmentation and an RT Structure Set over `bench volume`'s synthetic CT, made in memory
(nothing read or downloaded), for the MPR overlay cases of `benchmark_planes`: what an MPR view
computes per picture with a SEG and an RTSTRUCT open (viewer.gui.mpr_view._render).

The SEG: 3 BINARY segments (spheres) on a grid of its own, 256x256 pixels of 1.4 mm and 300
frames 1 mm apart per segment, as a SEG made on a coarser grid than its CT often is. The
RTSTRUCT: 10 ROIs (cylinders of 26-80 mm radius), closed 128-point contours every 2 mm over
150 mm, as a radiotherapy plan's structures are drawn.
"""

from __future__ import annotations

import numpy as np

from viewer.dicom.overlay_frame import PlaneMap
from viewer.dicom.rtstruct import Contour, StructureSet, StructureSetROI
from viewer.dicom.segmentation import Segment, Segmentation, SegmentationFrame
from viewer.volume.model import Volume

SEG_SIZE, SEG_PIXEL, SEG_FRAMES, SEG_STEP = 256, 1.4, 300, 1.0
ROIS, CONTOUR_POINTS, CONTOUR_STEP, CONTOUR_SPAN = 10, 128, 2.0, 150.0


def synthetic_segmentation(volume: Volume) -> Segmentation:
    """Three spheres about the volume's centre, on the SEG's own grid (module docstring)."""
    centre = np.asarray(volume.center)
    origin = centre - np.array([SEG_SIZE / 2 * SEG_PIXEL, SEG_SIZE / 2 * SEG_PIXEL,
                                SEG_FRAMES / 2 * SEG_STEP])
    steps = np.stack([np.array([SEG_PIXEL, 0.0, 0.0]), np.array([0.0, SEG_PIXEL, 0.0])], axis=1)
    j, i = np.mgrid[0:SEG_SIZE, 0:SEG_SIZE]
    x, y = origin[0] + i * SEG_PIXEL, origin[1] + j * SEG_PIXEL
    spheres = ((-40.0, 0.0, 0.0, 45.0), (45.0, 10.0, 20.0, 55.0), (0.0, 70.0, -30.0, 35.0))
    segments = tuple(Segment(n, f"Sphere {n}", "", "MANUAL", colour, True) for n, colour in
                     ((1, (255, 64, 64)), (2, (64, 128, 255)), (3, (255, 200, 0))))
    pixels = np.zeros((len(spheres) * SEG_FRAMES, SEG_SIZE, SEG_SIZE), dtype=np.uint8)
    frames = []
    for s, (dx, dy, dz, radius) in enumerate(spheres):
        for k in range(SEG_FRAMES):
            z = origin[2] + k * SEG_STEP
            index = s * SEG_FRAMES + k
            pixels[index] = ((x - centre[0] - dx) ** 2 + (y - centre[1] - dy) ** 2
                             + (z - centre[2] - dz) ** 2) <= radius**2
            frames.append(SegmentationFrame(
                index, s + 1, (), PlaneMap(np.array([origin[0], origin[1], z]), steps,
                                           np.array([0.0, 0.0, 1.0])), SEG_STEP / 2))
    pixels.setflags(write=False)
    return Segmentation("2.25.1", "BINARY", "", 1, volume.frame_of_reference_uid, (),
                        segments, tuple(frames), pixels)


def synthetic_structure_set(volume: Volume) -> StructureSet:
    """Ten cylinders about the volume's centre (module docstring)."""
    centre = np.asarray(volume.center)
    uid = volume.frame_of_reference_uid
    rois = tuple(StructureSetROI(n, f"ROI {n}", "MANUAL", uid, (0, 255, 0), True)
                 for n in range(1, ROIS + 1))
    angles = np.linspace(0.0, 2 * np.pi, CONTOUR_POINTS, endpoint=False)
    contours = []
    for n in range(1, ROIS + 1):
        radius = 20.0 + 6.0 * n
        cx, cy = centre[0] - 80.0 + 15.0 * n, centre[1] - 60.0 + 10.0 * n
        for z in np.arange(centre[2] - CONTOUR_SPAN / 2, centre[2] + CONTOUR_SPAN / 2,
                           CONTOUR_STEP):
            points = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles),
                               np.full(angles.size, z)], axis=1)
            points.setflags(write=False)
            contours.append(Contour(n, "CLOSED_PLANAR", points, ()))
    return StructureSet("2.25.2", "BENCH", (uid,), rois, tuple(contours), ())
