"""SEG and RTSTRUCT overlays on MPR planes, against analytic shapes: a sphere SEG on a grid of
its own (not the CT's) and a cylinder RTSTRUCT, on axial, coronal, sagittal and 30-degree
oblique planes (viewer.volume.overlay_plane)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.dicom.overlay_objects import (
    CTSeries,
    Grid,
    RoiSpec,
    ct_series,
    description,
    make_rtstruct,
    make_seg,
)
from viewer.dicom.overlay_frame import OverlayMismatch
from viewer.dicom.rtstruct import StructureSet, read_structure_set
from viewer.dicom.segmentation import Segmentation, read_segmentation
from viewer.volume.model import Interpolation, Plane, Volume, orthonormal
from viewer.volume.overlay_grid import OverlayGridError, fill_polygon
from viewer.volume.overlay_plane import burn_plane_overlay, overlay_on_plane, prepare_overlay
from viewer.volume.reslice import reslice

SPHERE_CENTRE = np.array([4.3, -7.1, 10.2])
SPHERE_RADIUS = 14.0
# the SEG's own grid: 2 mm pixels, axial frames 2.5 mm apart (the CT: 3 mm pixels, 4 mm apart)
SEG_ORIGIN = np.array([-30.0, -30.0, -10.0])
SEG_PIXEL, SEG_STEP, SEG_SIZE, SEG_FRAMES = 2.0, 2.5, 32, 17
CYLINDER_AXIS = (5.2, -3.4)
CYLINDER_RADIUS = 16.0
CONTOUR_Z = tuple(-8.0 + 4.0 * n for n in range(7))  # on 4 mm, half a step past each end
COS30, SIN30 = math.cos(math.radians(30)), math.sin(math.radians(30))

PLANES = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
    "oblique30": ((1.0, 0.0, 0.0), (0.0, COS30, SIN30)),  # axial turned 30 degrees about x
}


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> CTSeries:
    return ct_series(tmp_path_factory.mktemp("ct"), slices=8, size=24)


def ct_volume(ct: CTSeries, frame_of_reference: str | None = None) -> Volume:
    """A volume in the CT's Frame of Reference (its voxels do not matter to an overlay)."""
    affine = np.diag([3.0, 3.0, 4.0, 1.0])
    return Volume(np.zeros((8, 24, 24), dtype=np.int16), affine,
                  frame_of_reference or ct.frame_of_reference_uid, "1.2.3")


def plane(name: str, center: tuple[float, float, float], size: int = 48,
          spacing: float = 1.1) -> Plane:
    row, column = orthonormal(*PLANES[name])
    return Plane(center=center, row=row, column=column, spacing=spacing, columns=size,
                 rows=size)


def pixel_points(p: Plane) -> np.ndarray:
    r, c = np.mgrid[0:p.rows, 0:p.columns]
    return p.to_patient(r, c)


def sphere_seg(ct: CTSeries, seg_type: str = "BINARY") -> Segmentation:
    k, j, i = np.mgrid[0:SEG_FRAMES, 0:SEG_SIZE, 0:SEG_SIZE]
    centres = SEG_ORIGIN + np.stack([i * SEG_PIXEL, j * SEG_PIXEL, k * SEG_STEP], axis=-1)
    inside = np.linalg.norm(centres - SPHERE_CENTRE, axis=-1) <= SPHERE_RADIUS
    origins = [tuple(SEG_ORIGIN + (0.0, 0.0, n * SEG_STEP)) for n in range(SEG_FRAMES)]
    grid = Grid(SEG_PIXEL, origins, thickness=SEG_STEP)
    if seg_type == "LABELMAP":
        labels = inside.astype(np.uint8) * 2
        labels[inside & (centres[..., 0] > SPHERE_CENTRE[0])] = 3  # the sphere's +x half
        ds = make_seg(ct.datasets, labels, "LABELMAP",
                      [description(2, "West", "red"), description(3, "East", "blue")],
                      grid=grid)
    else:
        ds = make_seg(ct.datasets, inside.astype(np.uint8), "BINARY",
                      [description(1, "Sphere", "red")], grid=grid)
    return read_segmentation(ds)


def nearest_seg_voxel(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The SEG voxel whose cell holds each point (computed from the SEG's definition here,
    not from the code under test), whether it is in the grid, and where a point is on a
    cell's border (ties, left out of exact comparisons)."""
    ijk = (points - SEG_ORIGIN) / np.array([SEG_PIXEL, SEG_PIXEL, SEG_STEP])
    nearest = np.rint(ijk)
    sizes = np.array([SEG_SIZE, SEG_SIZE, SEG_FRAMES])
    inside = np.all((ijk > -0.5) & (ijk < sizes - 0.5), axis=-1)
    tie = np.any(np.abs(np.abs(ijk - nearest) - 0.5) < 1e-6, axis=-1)
    centre = SEG_ORIGIN + nearest * np.array([SEG_PIXEL, SEG_PIXEL, SEG_STEP])
    return centre, inside, tie


@pytest.mark.parametrize("name", list(PLANES))
def test_sphere_segmentation_on_any_plane(ct: CTSeries, name: str) -> None:
    prepared = prepare_overlay(sphere_seg(ct), ct_volume(ct))
    p = plane(name, (3.1, -6.3, 9.7))
    (mask,) = overlay_on_plane(prepared, p).masks
    assert mask.segment.label == "Sphere" and mask.mask.dtype == np.bool_
    assert mask.mask.shape == (p.rows, p.columns)
    points = pixel_points(p)
    centre, in_grid, tie = nearest_seg_voxel(points)
    expected = in_grid & (np.linalg.norm(centre - SPHERE_CENTRE, axis=-1) <= SPHERE_RADIUS)
    # exactly the SEG voxel each pixel centre falls in: no half-pixel shift anywhere
    np.testing.assert_array_equal(mask.mask[~tie], expected[~tie])
    # and against the sphere itself, within half a SEG voxel's diagonal
    reach = math.dist((0, 0, 0), (SEG_PIXEL, SEG_PIXEL, SEG_STEP)) / 2
    distance = np.linalg.norm(points - SPHERE_CENTRE, axis=-1)
    assert mask.mask[distance < SPHERE_RADIUS - reach].all()
    assert not mask.mask[distance > SPHERE_RADIUS + reach].any()
    assert mask.mask.sum() > 100


@pytest.mark.parametrize("name", list(PLANES))
def test_cut_in_the_covered_rectangle_equals_the_whole_plane(ct: CTSeries, name: str) -> None:
    """Only the part of the plane the SEG's grid covers is resliced: the same pixels as
    reslicing the whole (large) plane."""
    prepared = prepare_overlay(sphere_seg(ct), ct_volume(ct))
    assert prepared.segments is not None
    (packed,) = prepared.segments.packed
    p = plane(name, (2.7, -5.9, 8.3), size=160, spacing=0.9)
    whole = reslice(packed.volume, p, Interpolation.NEAREST) > 0
    (mask,) = overlay_on_plane(prepared, p).masks
    np.testing.assert_array_equal(mask.mask, whole)
    assert whole.any() and not whole.all()


def test_a_slab_shows_the_overlay_of_its_central_plane(ct: CTSeries) -> None:
    prepared = prepare_overlay(sphere_seg(ct), ct_volume(ct))
    thin = plane("oblique30", (3.1, -6.3, 9.7))
    slab = Plane(thin.center, thin.row, thin.column, thin.spacing, thin.columns, thin.rows,
                 slab=20.0)
    (a,) = overlay_on_plane(prepared, thin).masks
    (b,) = overlay_on_plane(prepared, slab).masks
    np.testing.assert_array_equal(a.mask, b.mask)


def test_labelmap_labels_are_never_interpolated(ct: CTSeries) -> None:
    prepared = prepare_overlay(sphere_seg(ct, "LABELMAP"), ct_volume(ct))
    p = plane("oblique30", (3.1, -6.3, 9.7))
    placed = overlay_on_plane(prepared, p)
    masks = {m.segment.number: m.mask for m in placed.masks}
    assert set(masks) == {2, 3}
    assert not (masks[2] & masks[3]).any()
    centre, in_grid, tie = nearest_seg_voxel(pixel_points(p))
    sphere = in_grid & (np.linalg.norm(centre - SPHERE_CENTRE, axis=-1) <= SPHERE_RADIUS)
    east = sphere & (centre[..., 0] > SPHERE_CENTRE[0])
    np.testing.assert_array_equal(masks[3][~tie], east[~tie])
    np.testing.assert_array_equal(masks[2][~tie], (sphere & ~east)[~tie])


def test_fractional_segment_is_resliced_linearly(ct: CTSeries) -> None:
    """A ramp along x (fraction = (20 + 5 i) / 255 at column i) is linear in x on any plane
    inside the grid: a linear reslice gives it back exactly."""
    i = np.arange(SEG_SIZE, dtype=np.float64)
    ramp = np.broadcast_to((20.0 + 5.0 * i) / 255.0, (SEG_FRAMES, SEG_SIZE, SEG_SIZE))
    origins = [tuple(SEG_ORIGIN + (0.0, 0.0, n * SEG_STEP)) for n in range(SEG_FRAMES)]
    seg = read_segmentation(make_seg(
        ct.datasets, np.ascontiguousarray(ramp, dtype=np.float32), "FRACTIONAL",
        [description(1, "Ramp", "orange")], grid=Grid(SEG_PIXEL, origins, SEG_STEP)))
    prepared = prepare_overlay(seg, ct_volume(ct))
    p = plane("oblique30", (1.0, 1.0, 10.0), size=30)
    (mask,) = overlay_on_plane(prepared, p).masks
    points = pixel_points(p)
    ijk = (points - SEG_ORIGIN) / np.array([SEG_PIXEL, SEG_PIXEL, SEG_STEP])
    within = np.all((ijk >= 0) & (ijk <= [SEG_SIZE - 1, SEG_SIZE - 1, SEG_FRAMES - 1]), axis=-1)
    expected = (20.0 + 5.0 * ijk[..., 0]) / 255.0
    assert within.sum() > 500
    np.testing.assert_allclose(mask.mask[within], expected[within], atol=2e-6)


def cylinder_rtstruct(ct: CTSeries) -> StructureSet:
    angles = np.linspace(0.0, 2 * np.pi, 72, endpoint=False)
    contours = []
    for z in CONTOUR_Z:
        ring = np.stack([CYLINDER_AXIS[0] + CYLINDER_RADIUS * np.cos(angles),
                         CYLINDER_AXIS[1] + CYLINDER_RADIUS * np.sin(angles),
                         np.full(angles.size, z)], axis=1)
        contours.append(("CLOSED_PLANAR", ring))
    ds = make_rtstruct(ct.datasets, [RoiSpec(7, "Cylinder", (0, 255, 0), contours)])
    return read_structure_set(ds)


def surface_depth(points: np.ndarray) -> np.ndarray:
    """mm inside the cylinder's surface (negative outside): its contours stand for the slab
    of half a contour step (2 mm) each side."""
    radial = CYLINDER_RADIUS - np.hypot(points[..., 0] - CYLINDER_AXIS[0],
                                        points[..., 1] - CYLINDER_AXIS[1])
    low, high = CONTOUR_Z[0] - 2.0, CONTOUR_Z[-1] + 2.0
    return np.minimum(radial, np.minimum(points[..., 2] - low, high - points[..., 2]))


def test_cylinder_contours_exact_on_a_parallel_plane(ct: CTSeries) -> None:
    prepared = prepare_overlay(cylinder_rtstruct(ct), ct_volume(ct), pixel_mm=0.5)
    for z in (4.0, 5.5):  # on a contour plane, and 1.5 mm from it: the contour at z = 4
        p = plane("axial", (1.0, 2.0, z), spacing=0.8, size=64)
        placed = overlay_on_plane(prepared, p)
        assert not placed.outlines
        (contour,) = placed.contours
        assert contour.roi.name == "Cylinder" and contour.closed
        angles = np.linspace(0.0, 2 * np.pi, 72, endpoint=False)
        # pixel centres at integers: (x - centre x) / spacing + (columns - 1) / 2
        x = (CYLINDER_AXIS[0] + CYLINDER_RADIUS * np.cos(angles) - 1.0) / 0.8 + 31.5
        y = (CYLINDER_AXIS[1] + CYLINDER_RADIUS * np.sin(angles) - 2.0) / 0.8 + 31.5
        np.testing.assert_allclose(contour.points, np.stack([x, y], axis=1), atol=1e-9)
    beyond = overlay_on_plane(prepared, plane("axial", (1.0, 2.0, 18.5)))
    assert not beyond.contours and not beyond.outlines


@pytest.mark.parametrize("name", ["coronal", "sagittal", "oblique30"])
def test_cylinder_outline_on_other_planes(ct: CTSeries, name: str) -> None:
    prepared = prepare_overlay(cylinder_rtstruct(ct), ct_volume(ct), pixel_mm=0.5)
    p = plane(name, (4.0, -2.0, 3.0), size=64, spacing=1.0)
    placed = overlay_on_plane(prepared, p)
    assert not placed.contours
    (outline,) = placed.outlines
    assert outline.roi.color == (0, 255, 0)
    depth = surface_depth(pixel_points(p))
    # a pixel is inside when its centre's grid voxel is: up to half a grid pixel's diagonal
    # (0.36 mm) off; an outline pixel has a neighbour (1 mm away) outside
    slack = 0.5 * math.sqrt(2) * 0.5 + 0.02
    drawn = outline.mask
    assert drawn.sum() > 60
    assert not drawn[depth < -slack].any()
    assert not drawn[depth > p.spacing + slack].any()
    # closed: every clearly inside pixel next to a clearly outside one is on the outline
    outside = depth < -slack
    near_outside = np.zeros_like(outside)
    near_outside[1:] |= outside[:-1]
    near_outside[:-1] |= outside[1:]
    near_outside[:, 1:] |= outside[:, :-1]
    near_outside[:, :-1] |= outside[:, 1:]
    must = (depth > slack) & near_outside
    assert must.sum() > 8
    assert drawn[must].all()


def test_fill_polygon_takes_pixel_centres_exactly() -> None:
    square = np.array([[1.0, 1.0], [4.0, 1.0], [4.0, 3.0], [1.0, 3.0]])
    inside = fill_polygon(square, 6, 6)
    expected = np.zeros((6, 6), dtype=bool)
    expected[1:3, 1:4] = True  # left and top edges in, right and bottom out
    np.testing.assert_array_equal(inside, expected)
    # a hole: the same ROI's inner contour on the same plane is cut out (even-odd)
    outer = np.array([[0.5, 0.5], [9.5, 0.5], [9.5, 9.5], [0.5, 9.5]])
    inner = np.array([[3.5, 3.5], [6.5, 3.5], [6.5, 6.5], [3.5, 6.5]])
    ring = fill_polygon(outer, 10, 10) ^ fill_polygon(inner, 10, 10)
    assert ring[2, 2] and not ring[5, 5] and ring.sum() == 81 - 9


def test_another_frame_of_reference_is_refused(ct: CTSeries) -> None:
    other = ct_volume(ct, "1.2.826.0.1.3680043.8.498.1")
    for overlay in (sphere_seg(ct), cylinder_rtstruct(ct)):
        with pytest.raises(OverlayMismatch, match="Frame of Reference") as caught:
            prepare_overlay(overlay, other)
        assert "\n" not in str(caught.value)


def test_burned_plane_is_coloured(ct: CTSeries, tmp_path: Path) -> None:
    volume = ct_volume(ct)
    p = plane("oblique30", (4.0, -4.0, 8.0), size=64, spacing=1.0)
    grey = np.full((p.rows, p.columns), 100, dtype=np.uint8)
    seg = overlay_on_plane(prepare_overlay(sphere_seg(ct), volume), p)
    rt = overlay_on_plane(prepare_overlay(cylinder_rtstruct(ct), volume, pixel_mm=0.5), p)
    out = burn_plane_overlay(burn_plane_overlay(grey, seg, 0.5), rt)
    (mask,) = seg.masks
    (outline,) = rt.outlines
    red = np.asarray(mask.segment.color, dtype=np.float64)
    blended = np.rint(100 + 0.5 * (red - 100))
    only_segment = mask.mask & ~outline.mask
    np.testing.assert_array_equal(out[only_segment], np.broadcast_to(blended, (
        int(only_segment.sum()), 3)))
    assert (out[outline.mask] == (0, 255, 0)).all()
    untouched = ~mask.mask & ~outline.mask
    assert (out[untouched] == 100).all()


def test_segmentation_frames_off_a_regular_grid_are_refused_in_one_line(ct: CTSeries) -> None:
    origins = [(-30.0, -30.0, z) for z in (0.0, 2.5, 5.0, 6.1)]  # the last is off the 2.5 grid
    pixels = np.zeros((4, 8, 8), dtype=np.uint8)
    pixels[:, 2:5, 2:5] = 1
    seg = read_segmentation(make_seg(ct.datasets, pixels, "BINARY",
                                     [description(1, "Box", "red")],
                                     grid=Grid(2.0, origins, 2.5)))
    with pytest.raises(OverlayGridError, match="not evenly spaced") as caught:
        prepare_overlay(seg, ct_volume(ct))
    assert "\n" not in str(caught.value)


def test_points_only_structure_set_shows_markers_near_the_plane(ct: CTSeries) -> None:
    points = np.array([[3.0, -2.0, 4.0], [10.0, 5.0, 30.0]])
    rt = read_structure_set(make_rtstruct(
        ct.datasets, [RoiSpec(2, "Marks", (255, 0, 255), [("POINT", points[:1]),
                                                        ("POINT", points[1:])])]))
    prepared = prepare_overlay(rt, ct_volume(ct))
    assert prepared.structures is None  # nothing to fill: no grid
    p = plane("oblique30", (3.0, -2.0, 4.0))
    (marker,) = overlay_on_plane(prepared, p).contours
    assert marker.geometric_type == "POINT"
    np.testing.assert_allclose(marker.points, [[(p.columns - 1) / 2, (p.rows - 1) / 2]],
                               atol=1e-9)
