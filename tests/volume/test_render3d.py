"""3D rendering: the camera conventions of CLI.md, found in real VTK pictures of a blob phantom
(blobs at the patient's left, front and head), presets, MIP, the clip box, oblique and tilted
series in true patient space, interaction and progressive loading."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from tests.volume.render3d_phantom import AIR, axial_affine, blob_volume, centroid
from viewer.volume.model import Volume
from viewer.volume.render3d import PRESETS, Scene3D, render_image
from viewer.volume.render3d_presets import view_geometry

SIZE = (240, 240)
WINDOW = (-1000.0, 1000.0)  # MIP grey = (HU + 1000) / 2000 * 255
CENTRE = np.array([10.0, -20.0, 150.0])
BLOBS = {
    "left": (tuple(CENTRE + (50, 0, 0)), 1000.0),
    "anterior": (tuple(CENTRE + (0, -50, 0)), 600.0),
    "head": (tuple(CENTRE + (0, 0, 50)), 300.0),
}
GREY = {name: round((value + 1000) / 2000 * 255) for name, (_, value) in BLOBS.items()}
SHAPE = (80, 100, 100)  # 160 x 200 x 200 mm at 2 mm


def _affine(columns: np.ndarray, shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """An affine of the given (3, 3) step columns whose middle voxel is at CENTRE."""
    nk, nj, ni = shape
    affine = np.eye(4)
    affine[:3, :3] = columns
    affine[:3, 3] = CENTRE - columns @ np.array([(ni - 1) / 2, (nj - 1) / 2, (nk - 1) / 2])
    return affine


def _rotation(about_z: float, about_x: float) -> np.ndarray:
    cz, sz = math.cos(math.radians(about_z)), math.sin(math.radians(about_z))
    cx, sx = math.cos(math.radians(about_x)), math.sin(math.radians(about_x))
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    return rz @ rx


AXIAL = _affine(np.diag([2.0, 2.0, 2.0]))
# An oblique acquisition: frames turned 30 degrees about Z and 20 about X, anisotropic voxels.
OBLIQUE = _affine(_rotation(30, 20) @ np.diag([1.8, 2.0, 2.4]))
# Gantry tilt of 25 degrees: the frames' column direction tilts about X, but the table (the
# slice step) moves along Z: the affine is sheared.
TILT = math.radians(25)
TILTED = _affine(np.array([[2.0, 0, 0], [0, 2.0 * math.cos(TILT), 0],
                           [0, -2.0 * math.sin(TILT), 2.0]]))


@pytest.fixture(scope="module")
def axial() -> Volume:
    return blob_volume(AXIAL, SHAPE, BLOBS)


def _mip(volume: Volume, azimuth: float = 0.0, elevation: float = 0.0) -> np.ndarray:
    return render_image(volume, "mip", azimuth=azimuth, elevation=elevation, size=SIZE,
                        window=WINDOW)


def _find(image: np.ndarray) -> dict[str, tuple[float, float]]:
    return {name: centroid(image, grey) for name, grey in GREY.items()}


def test_anterior_view_has_the_head_up_and_the_patients_left_on_the_right(
        axial: Volume) -> None:
    found = _find(_mip(axial))
    left, anterior, head = found["left"], found["anterior"], found["head"]
    mm = view_geometry(axial, 0, 0, SIZE).mm_per_pixel
    # The anterior blob is in front of the centre: in the middle of the picture.
    assert anterior[0] == pytest.approx((SIZE[1] - 1) / 2, abs=1.0)
    assert anterior[1] == pytest.approx((SIZE[0] - 1) / 2, abs=1.0)
    # Patient's left (+X) to the image's right, the head (+Z) up, both 50 mm away: pixels square.
    assert left[1] - anterior[1] == pytest.approx(50 / mm, abs=1.0)
    assert left[0] == pytest.approx(anterior[0], abs=1.0)
    assert anterior[0] - head[0] == pytest.approx(50 / mm, abs=1.0)
    assert head[1] == pytest.approx(anterior[1], abs=1.0)


def test_azimuth_90_looks_from_the_patients_left_with_posterior_on_the_right(
        axial: Volume) -> None:
    found = _find(_mip(axial, azimuth=90))
    mm = view_geometry(axial, 90, 0, SIZE).mm_per_pixel
    # The left blob faces the camera (centre); the anterior blob is on the image's left.
    assert found["left"][1] == pytest.approx((SIZE[0] - 1) / 2, abs=1.0)
    assert found["left"][1] - found["anterior"][1] == pytest.approx(50 / mm, abs=1.0)
    assert found["left"][0] - found["head"][0] == pytest.approx(50 / mm, abs=1.0)


def test_positive_elevation_looks_down_from_the_head(axial: Volume) -> None:
    level = _find(_mip(axial))
    above = _find(_mip(axial, elevation=30))
    mm = view_geometry(axial, 0, 30, SIZE).mm_per_pixel
    centre_row = (SIZE[1] - 1) / 2
    # Seen from above the front, the anterior blob (nearer the camera) sinks below the centre
    # by 50 mm * sin 30, and the head blob comes down to 50 mm * cos 30 above it.
    assert above["anterior"][0] - centre_row == pytest.approx(25 / mm, abs=1.0)
    assert centre_row - above["head"][0] == pytest.approx(50 * math.cos(math.radians(30)) / mm,
                                                          abs=1.0)
    assert above["head"][0] > level["head"][0]
    assert above["left"][0] == pytest.approx(centre_row, abs=1.0)


@pytest.mark.parametrize(("affine", "azimuth", "elevation"), [
    pytest.param(OBLIQUE, 0, 0, id="oblique-anterior"),
    pytest.param(OBLIQUE, 90, 20, id="oblique-left-above"),
    pytest.param(TILTED, 0, 0, id="gantry-tilt-anterior"),
    pytest.param(TILTED, 90, 0, id="gantry-tilt-left"),
    pytest.param(TILTED, -40, -25, id="gantry-tilt-right-below"),
])
def test_oblique_and_tilted_series_stand_in_true_patient_space(
        affine: np.ndarray, azimuth: float, elevation: float) -> None:
    volume = blob_volume(affine, SHAPE, BLOBS)
    geometry = view_geometry(volume, azimuth, elevation, SIZE)
    found = _find(_mip(volume, azimuth, elevation))
    for name, (point, _) in BLOBS.items():
        expected = geometry.to_pixel(point)
        assert found[name] == pytest.approx(expected, abs=1.5), name


def test_mip_shows_the_maximum_along_each_ray() -> None:
    # A 1000 HU blob hidden behind a 400 HU one (seen from the front), and a lone 400 HU blob.
    blobs = {
        "front": (tuple(CENTRE + (0, -40, 0)), 400.0),
        "behind": (tuple(CENTRE + (0, 40, 0)), 1000.0),
        "lone": (tuple(CENTRE + (-50, 0, 0)), 400.0),
    }
    volume = blob_volume(AXIAL, SHAPE, blobs)
    image = _mip(volume)
    geometry = view_geometry(volume, 0, 0, SIZE)
    r, c = (round(v) for v in geometry.to_pixel(blobs["front"][0]))
    assert image[r, c].tolist() == [255, 255, 255]
    r, c = (round(v) for v in geometry.to_pixel(blobs["lone"][0]))
    assert image[r, c, 0] == pytest.approx(1400 / 2000 * 255, abs=3)
    assert image[0, 0].tolist() == [0, 0, 0]


def test_clip_box_removes_what_lies_outside(axial: Volume) -> None:
    geometry = view_geometry(axial, 0, 0, SIZE)
    box = (CENTRE[0] - 100, CENTRE[0] + 30, CENTRE[1] - 100, CENTRE[1] + 100,
           CENTRE[2] - 100, CENTRE[2] + 100)
    clipped = render_image(axial, "mip", size=SIZE, clip=box, window=WINDOW)
    r, c = (round(v) for v in geometry.to_pixel(BLOBS["left"][0]))
    assert clipped[r, c, 0] == 0  # the left blob (x = +50 mm) is outside the box
    r, c = (round(v) for v in geometry.to_pixel(BLOBS["anterior"][0]))
    assert clipped[r, c, 0] == pytest.approx(GREY["anterior"], abs=3)
    with pytest.raises(ValueError, match="clip box is empty"):
        render_image(axial, "mip", size=SIZE, clip=(10, 0, 0, 1, 0, 1))


def _body() -> Volume:
    """A cylinder of soft tissue (40 HU) with fat, a lung, a contrast-filled vessel and a bone."""
    shape = (60, 96, 96)
    volume = blob_volume(axial_affine(3.0), shape, {}, background=AIR)
    k, j, i = np.mgrid[0:shape[0], 0:shape[1], 0:shape[2]]
    r = np.hypot(i - 47.5, j - 47.5)
    voxels = volume.voxels
    voxels[(r < 44)] = -100
    voxels[(r < 40)] = 40
    voxels[(np.hypot(i - 30, j - 45) < 12)] = -850
    voxels[(np.hypot(i - 62, j - 40) < 4)] = 300
    voxels[(np.hypot(i - 48, j - 75) < 7)] = 900
    volume.revision += 1
    return volume


def test_each_preset_gives_its_own_picture() -> None:
    volume = _body()
    pictures = {name: render_image(volume, "vr", name, azimuth=20, elevation=15, size=(160, 160))
                for name in PRESETS}
    for name, picture in pictures.items():
        assert np.count_nonzero(picture.max(axis=2) > 20) > 500, f"{name} shows nothing"
    names = list(pictures)
    for n, a in enumerate(names):
        for b in names[n + 1:]:
            # Compared where either shows something: bone and angio differ on a small rod.
            shown = (pictures[a].max(axis=2) > 20) | (pictures[b].max(axis=2) > 20)
            difference = np.abs(pictures[a].astype(int) - pictures[b].astype(int))[shown].mean()
            assert difference > 20, f"{a} and {b} look the same"
    assert {p.shade for p in PRESETS.values()} == {True}


def test_unknown_mode_or_preset_is_one_clear_error(axial: Volume) -> None:
    with pytest.raises(ValueError, match="unknown 3D preset 'ct-brain'"):
        render_image(axial, preset="ct-brain")
    with pytest.raises(ValueError, match="unknown 3D mode 'surface'"):
        render_image(axial, mode="surface")


def test_scene_drags_at_reduced_resolution_and_follows_a_growing_volume() -> None:
    volume = blob_volume(AXIAL, SHAPE, {"anterior": BLOBS["anterior"]})
    volume.filled[SHAPE[0] // 2:] = False  # the upper half (the head blob) not loaded yet
    scene = Scene3D(volume, "mip", size=SIZE, window=WINDOW)
    try:
        full = scene.render()
        scene.interacting(True)
        assert scene.mapper.GetImageSampleDistance() == 4.0  # a MIP: every fourth pixel
        dragged = scene.render()
        scene.interacting(False)
        assert scene.mapper.GetImageSampleDistance() == 1.0
        # Reduced resolution: the same picture, blurred.
        assert np.abs(full.astype(int) - dragged.astype(int)).mean() < 4
        assert np.count_nonzero(full[:, :, 0] == GREY["head"]) == 0
        # The rest of the series arrives in the same array: the scene shows it after update.
        head_only = blob_volume(AXIAL, SHAPE, {"head": BLOBS["head"]})
        upper = slice(SHAPE[0] // 2, None)
        volume.voxels[upper] = np.maximum(volume.voxels[upper], head_only.voxels[upper])
        volume.filled[:] = True
        assert not scene.update_volume()
        volume.revision += 1
        assert scene.update_volume()
        assert centroid(scene.render(), GREY["head"]) == pytest.approx(
            scene.geometry.to_pixel(BLOBS["head"][0]), abs=1.5)
        # Zoom and pan move the picture as the geometry says.
        scene.zoom(2.0)
        scene.pan(20, -10)
        assert centroid(scene.render(), GREY["anterior"]) == pytest.approx(
            scene.geometry.to_pixel(BLOBS["anterior"][0]), abs=1.5)
    finally:
        scene.close()


def test_voxels_are_shared_with_vtk_not_copied(axial: Volume) -> None:
    scene = Scene3D(axial, "mip", size=(32, 32))
    try:
        from vtkmodules.util.numpy_support import vtk_to_numpy

        shared = vtk_to_numpy(scene.image.GetPointData().GetScalars())
        assert np.shares_memory(shared, axial.voxels)
        assert scene.opengl_renderer()
    finally:
        scene.close()


def test_importing_render3d_does_not_import_vtk() -> None:
    code = ("import sys, viewer.volume.render3d; "
            "sys.exit(any(m.startswith(('vtk', 'vtkmodules')) for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0



def test_shading_a_large_volume_casts_a_block_averaged_copy_in_the_same_place(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from viewer.volume import render3d

    volume = blob_volume(TILTED, SHAPE, {"left": BLOBS["left"]})
    monkeypatch.setattr(render3d, "REDUCE_ABOVE_VOXELS", volume.voxels.size // 4)
    scene = Scene3D(volume, "vr", "ct-bone", size=SIZE)
    try:
        shaded = scene.render()
        assert scene.reduction == 2
        reduced_mapper = scene.mapper
        scene.set_shading(False)
        unshaded = scene.render()
        assert scene.reduction == 1  # settled unshaded pictures use every voxel
        scene.interacting(True)
        scene.render()
        assert scene.reduction == 2  # dragging casts the averaged copy
        assert scene.mapper is reduced_mapper  # kept, with its gradients
        scene.interacting(False)
    finally:
        scene.close()
    expected = view_geometry(volume, 0, 0, SIZE).to_pixel(BLOBS["left"][0])
    for picture in (shaded, unshaded):
        rows, columns = np.nonzero(picture.max(axis=2) > 30)
        assert (rows.mean(), columns.mean()) == pytest.approx(expected, abs=1.5)


def test_measure_3d_times_every_stage_on_a_body_phantom() -> None:
    from viewer.volume.benchmark_3d import LIMITS, body_phantom, measure_3d

    volume = body_phantom((60, 64, 64), spacing=6.0, slice_spacing=6.0)
    values = set(np.unique(np.round(volume.voxels[10], -2)).tolist())
    assert {-1000, -100, 0, 300, 700} <= values  # air, fat, soft tissue, aorta, vertebra
    assert values & {-900, -800}  # lung
    results = measure_3d(volume, passes=2, size=(64, 64))
    assert set(LIMITS) <= set(results)
    for name, limit in LIMITS.items():
        timing = results[name]
        assert len(timing["passes"]) == 2 and timing["limit"] == limit
        assert 0 < timing["median"] == pytest.approx(np.median(timing["passes"]), abs=1e-3)
    assert results["shape"] == [60, 64, 64] and results["opengl_renderer"]


def test_the_averaged_copy_follows_a_growing_volume(monkeypatch: pytest.MonkeyPatch) -> None:
    from viewer.volume import render3d

    volume = blob_volume(AXIAL, SHAPE, BLOBS)
    head_slices = slice(SHAPE[0] // 2, None)
    upper = volume.voxels[head_slices].copy()
    volume.voxels[head_slices] = AIR
    volume.filled[head_slices] = False
    monkeypatch.setattr(render3d, "REDUCE_ABOVE_VOXELS", volume.voxels.size // 4)
    scene = Scene3D(volume, "mip", size=SIZE, window=WINDOW)
    try:
        scene.interacting(True)
        r, c = (round(v) for v in scene.geometry.to_pixel(BLOBS["head"][0]))
        assert scene.render()[r, c, 0] == 0 and scene.reduction == 2
        volume.voxels[head_slices] = upper
        volume.filled[:] = True
        volume.revision += 1
        assert scene.update_volume()
        # The MIP's copy keeps each 2x2x2 block's maximum: the ball keeps its value.
        assert scene.render()[r, c, 0] == pytest.approx(GREY["head"], abs=4)
    finally:
        scene.close()


def test_mr_preset_follows_the_volumes_intensity_range() -> None:
    from viewer.volume.render3d_presets import intensity_range, resolve_preset

    volume = blob_volume(AXIAL, SHAPE, {"a": BLOBS["anterior"]}, radius=30, background=0)
    volume.voxels[:] = np.where(volume.voxels > 0, 800, 100)
    volume.modality, volume.units = "MR", ""
    low, high = intensity_range(volume)
    assert (low, high) == (100.0, 800.0)
    preset = resolve_preset(PRESETS["mr-default"], volume)
    assert preset.opacities[0][0] == 100.0 and preset.opacities[-1][0] == 800.0
    picture = render_image(volume, "vr", "mr-default", size=(120, 120))
    geometry = view_geometry(volume, 0, 0, (120, 120))
    r, c = (round(v) for v in geometry.to_pixel(BLOBS["anterior"][0]))
    assert picture[r, c].max() > 100 and picture[2, 2].max() < 40


@pytest.mark.parametrize("how", ["mean", "max"])
def test_block_reduction_matches_a_reshape(how: str) -> None:
    from viewer.volume.render3d_blocks import CHUNK, reduce_blocks, reduced_shape

    voxels = np.random.default_rng(3).integers(-1000, 3000, (21, 14, 17)).astype(np.int16)
    out = np.zeros(reduced_shape(voxels.shape, 2), dtype=np.int16)
    reduce_blocks(voxels, 2, out, how)
    blocks = voxels[:20, :14, :16].reshape(10, 2, 7, 2, 8, 2).astype(np.float64)
    expected = blocks.mean(axis=(1, 3, 5)) if how == "mean" else blocks.max(axis=(1, 3, 5))
    assert np.array_equal(out, np.rint(expected).astype(np.int16))
    # Only the blocks of the slices named are redone.
    out[:] = 0
    slices = np.zeros(21, dtype=bool)
    slices[4] = True
    reduce_blocks(voxels, 2, out, how, slices)
    # ... a step of CHUNK output slices at a time.
    assert out[:CHUNK].any() and not out[CHUNK:].any()


def test_a_mip_wider_than_its_voxels_is_cast_through_the_block_maxima(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from viewer.volume import render3d

    # A small bright ball (a 6 mm vessel in cross-section) must not vanish from a MIP whose
    # 5 mm pixels are cast through the 2x2x2 block maxima (4 mm voxels). (Cast through every
    # voxel at these pixels, the rays happen to pass beside it: grey 14 here.)
    blobs = {"vessel": (tuple(CENTRE + (0, 0, 0)), 1000.0)}
    volume = blob_volume(AXIAL, SHAPE, blobs, radius=3.0)
    monkeypatch.setattr(render3d, "REDUCE_ABOVE_VOXELS", volume.voxels.size // 4)
    scene = Scene3D(volume, "mip", size=(64, 64), window=WINDOW)
    try:
        picture = scene.render()
        assert scene.reduction == 2 and not scene.visibly_reduced
        assert picture.max() >= 180
        scene.zoom(8.0)  # 0.6 mm pixels: finer than the 4 mm of a reduced voxel
        picture = scene.render()
        assert scene.reduction == 1 and picture.max() == 255
    finally:
        scene.close()
