"""Fusion: colour maps, the linear blend, slab independence, the Frame of Reference check, and
SUVbw at a hot sphere of a generated PET in a CT's Frame of Reference."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from tests.peers import require_tool
from tests.volume.pet_series import PetSeries, Sphere, read_pet_volume, write_pet_series
from viewer.dicom.display import DisplayState
from viewer.dicom.frameinfo import FrameInfo
from viewer.volume.fusion import (
    COLORMAPS,
    SUV_WINDOW,
    FusionError,
    check_fusable,
    default_overlay_window,
    fuse,
    fused_plane,
    overlay_plane,
)
from viewer.volume.model import PLANES, SlabMode, Volume, covering_plane

FOR_UID = generate_uid()
BOX_MIN, BOX_MAX = (-100.0, -100.0, -60.0), (100.0, 100.0, 60.0)
HOT = Sphere((20.0, -10.0, 4.0), 20.0, 8.0)
WARM = Sphere((-40.0, 30.0, -20.0), 16.0, 4.0)
CT_HU = 40  # soft tissue everywhere in the CT box


def ct_volume(for_uid: str = FOR_UID) -> Volume:
    """A CT of 2 mm voxels over the box, uniform CT_HU: built directly, as the fusion only
    needs its geometry and values."""
    counts = [int(round((hi - lo) / 2.0)) + 1 for lo, hi in zip(BOX_MIN, BOX_MAX, strict=True)]
    voxels = np.full((counts[2], counts[1], counts[0]), CT_HU, dtype=np.int16)
    affine = np.eye(4)
    affine[:3, :3] = np.diag([2.0, 2.0, 2.0])
    affine[:3, 3] = BOX_MIN
    volume = Volume(voxels, affine, for_uid, generate_uid(), modality="CT", units="HU",
                    padding=-1024.0, window=(40.0, 400.0))
    volume.filled[:] = True
    return volume


def ct_info(rows: int, columns: int) -> FrameInfo:
    """How a CT plane of float32 HU is displayed (identity rescale, MONOCHROME2)."""
    return FrameInfo(rows, columns, 1, "MONOCHROME2", "MONOCHROME2", 32, 32, True,
                     rescale_type="HU")


@pytest.fixture(scope="module")
def pet(tmp_path_factory: pytest.TempPathFactory) -> tuple[PetSeries, Volume]:
    folder = tmp_path_factory.mktemp("pet")
    series = write_pet_series(folder, FOR_UID, BOX_MIN, BOX_MAX, spheres=(HOT, WARM))
    return series, read_pet_volume(series.paths)


def test_generated_pet_is_a_valid_pet_image_as_scanners_write_it(
    pet: tuple[PetSeries, Volume],
) -> None:
    series, volume = pet
    dciodvfy = require_tool("dciodvfy", "dicom3tools")
    done = subprocess.run([dciodvfy, str(series.paths[5])], capture_output=True, text=True,
                          check=False)
    report = done.stdout + done.stderr
    assert "PETImage" in report
    assert not [line for line in report.splitlines() if line.startswith("Error")], report
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in series.paths]
    slopes = {float(ds.RescaleSlope) for ds in headers}
    assert len(slopes) > 1  # a slope of each slice's own
    by_position = sorted(headers, key=lambda ds: float(ds.ImagePositionPatient[2]))
    numbers = [int(ds.InstanceNumber) for ds in by_position]
    assert numbers == sorted(numbers, reverse=True)  # Instance Numbers against position
    assert {str(ds.FrameOfReferenceUID) for ds in headers} == {FOR_UID}
    assert volume.spacing == (4.0, 4.0, 4.0)


# --- colour maps and the blend ------------------------------------------------------------------


def test_colormap_ends() -> None:
    hot = COLORMAPS["hot-iron"]
    # DICOM Hot Iron (PS3.6 B.1.1): black to white through red (red full at the middle).
    assert hot.shape == (256, 3) and hot.dtype == np.uint8
    assert tuple(hot[0]) == (0, 0, 0) and tuple(hot[255]) == (255, 255, 255)
    assert tuple(hot[128]) == (255, 0, 0)
    assert tuple(COLORMAPS["rainbow"][0]) == (0, 0, 255)
    # Index 128 is 0.5 + 0.5/255 of the way: just past green, (128 - 127.5) * 4 = 2 of red.
    assert tuple(COLORMAPS["rainbow"][128]) == (2, 255, 0)
    # Index 64 is just past cyan (63.75): blue down by (64 - 63.75) * 4 = 1.
    assert tuple(COLORMAPS["rainbow"][64]) == (0, 255, 254)
    assert tuple(COLORMAPS["rainbow"][255]) == (255, 0, 0)
    assert tuple(COLORMAPS["grey"][0]) == (0, 0, 0) and tuple(COLORMAPS["grey"][255]) == (255,) * 3
    base = np.zeros((1, 4), dtype=np.uint8)
    values = np.array([[2.0, 5.0, 9.0, 100.0]], dtype=np.float32)  # low, high, above high
    for name, table in COLORMAPS.items():
        out = fuse(base, values, 2.0, 9.0, name, 1.0)
        assert tuple(out[0, 0]) == tuple(table[0]), name
        assert tuple(out[0, 2]) == tuple(table[255]), name
        assert tuple(out[0, 3]) == tuple(table[255]), name
        # 5 of 2..9 is 3/7 of the way: index 3/7 * 255 = 109.3 -> 109
        assert tuple(out[0, 1]) == tuple(table[109]), name


def test_opacity_is_linear_and_half_is_exactly_halfway() -> None:
    base = np.full((2, 3), 100, dtype=np.uint8)
    values = np.full((2, 3), 200.0, dtype=np.float32)  # grey 0..255 window: colour 200
    half = fuse(base, values, 0.0, 255.0, "grey", 0.5)
    assert half.shape == (2, 3, 3)
    assert (half == 150).all()  # (100 + 200) / 2
    for a in np.linspace(0.0, 1.0, 21):
        out = fuse(base, values, 0.0, 255.0, "grey", float(a))
        assert (out == int(np.floor(100 + a * 100 + 0.5))).all(), a
    # RGB base, per channel
    rgb = np.zeros((1, 1, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    out = fuse(rgb, np.full((1, 1), 255.0, dtype=np.float32), 0.0, 255.0, "grey", 0.25)
    assert tuple(out[0, 0]) == (255, 64, 64)  # 0.75*255 + 0.25*255; 0.25*255 = 63.75 -> 64


def test_values_below_low_leave_the_base_visible() -> None:
    base = np.arange(6, dtype=np.uint8).reshape(2, 3) * 40
    values = np.array([[0.0, 1.9, np.nan], [2.0, 3.0, -5.0]], dtype=np.float32)
    out = fuse(base, values, 2.0, 4.0, "hot-iron", 0.7)
    for r, c in ((0, 0), (0, 1), (0, 2), (1, 2)):
        assert tuple(out[r, c]) == (base[r, c],) * 3
    assert tuple(out[1, 0]) != (base[1, 0],) * 3


def test_bad_arguments_are_one_line_errors() -> None:
    base = np.zeros((2, 2), dtype=np.uint8)
    values = np.zeros((2, 2), dtype=np.float32)
    for args, words in (
        ((0.0, 1.0, "viridis", 0.5), "unknown colour map"),
        ((1.0, 1.0, "grey", 0.5), "low < high"),
        ((0.0, 1.0, "grey", 1.5), "opacity"),
    ):
        with pytest.raises(FusionError, match=words) as caught:
            fuse(base, values, *args)  # type: ignore[arg-type]
        assert "\n" not in str(caught.value)
    with pytest.raises(FusionError, match="one grid"):
        fuse(base, np.zeros((3, 2), dtype=np.float32), 0.0, 1.0, "grey", 0.5)


# --- volumes: Frame of Reference, SUV at the sphere, slabs ---------------------------------------


def test_other_frame_of_reference_is_refused(pet: tuple[PetSeries, Volume]) -> None:
    _, pet_volume = pet
    other = ct_volume(generate_uid())
    with pytest.raises(FusionError) as caught:
        check_fusable(other, pet_volume)
    message = str(caught.value)
    assert "\n" not in message and "Frame of Reference" in message
    assert pet_volume.frame_of_reference_uid in message and other.frame_of_reference_uid in message
    plane = covering_plane(other, *PLANES["axial"])
    with pytest.raises(FusionError):
        fused_plane(other, pet_volume, plane, None, 1.0, 8.0, "hot-iron", 0.5,
                    base_info=ct_info(plane.rows, plane.columns))
    with pytest.raises(FusionError, match="no Frame of Reference"):
        check_fusable(ct_volume(), replace_for(pet_volume, ""))
    check_fusable(ct_volume(), pet_volume)  # the same Frame of Reference: fine


def replace_for(volume: Volume, for_uid: str) -> Volume:
    copy = Volume(volume.voxels, volume.affine, for_uid, volume.series_uid)
    copy.filled[:] = True
    return copy


def test_suv_at_the_hot_sphere_centre(pet: tuple[PetSeries, Volume]) -> None:
    series, pet_volume = pet
    # The factor from the header, by hand: 75 kg, 370 MBq decayed over 3600 s (6586.2 s half-life).
    assert pet_volume.suv_factor == pytest.approx(75000 / (3.7e8 * 0.5 ** (3600 / 6586.2)),
                                                  rel=1e-9)
    ct = ct_volume()
    for name in ("axial", "coronal", "sagittal"):
        plane = covering_plane(ct, *PLANES[name], center=HOT.center)
        r, c, _ = plane.to_pixel(np.asarray(HOT.center))
        r, c = round(r), round(c)
        suv = overlay_plane(pet_volume, plane)
        assert suv[r, c] == pytest.approx(HOT.suv, rel=1e-4), name  # int16 quantisation
        bqml = overlay_plane(pet_volume, plane, suv=False)
        assert bqml[r, c] == pytest.approx(HOT.suv / series.dose.factor, rel=1e-4)
        # The fused pixel: CT 40 HU under window 40/400 is grey 127 (C.11.2.1.2:
        # ((40 - 39.5) / 399 + 0.5) * 255 = 127.8 -> 127); SUV 8 of 0..10 is hot iron index
        # 8/10 * 255 = 204; half opacity: halfway between, rounded half up.
        state = DisplayState(window=(40.0, 400.0))
        fused = fused_plane(ct, pet_volume, plane, state, 0.0, 10.0, "hot-iron", 0.5,
                            base_info=ct_info(plane.rows, plane.columns))
        colour = COLORMAPS["hot-iron"][204].astype(float)
        assert tuple(fused[r, c]) == tuple(np.floor(127 + 0.5 * (colour - 127) + 0.5).astype(int))
    # The warm sphere too, through an axial plane at its centre.
    plane = covering_plane(ct, *PLANES["axial"], center=WARM.center)
    r, c, _ = plane.to_pixel(np.asarray(WARM.center))
    assert overlay_plane(pet_volume, plane)[round(r), round(c)] == pytest.approx(4.0, rel=1e-4)


def test_slab_thickness_never_changes_the_blend(pet: tuple[PetSeries, Volume]) -> None:
    _, pet_volume = pet
    ct = ct_volume()
    thin = covering_plane(ct, *PLANES["axial"], center=HOT.center)
    info = ct_info(thin.rows, thin.columns)
    state = DisplayState(window=(40.0, 400.0))
    base = fused_plane(ct, pet_volume, thin, state, 0.0, 10.0, "hot-iron", 0.0, base_info=info)
    r, c, _ = thin.to_pixel(np.asarray(HOT.center))
    r, c = round(r), round(c)
    for slab, mode in ((10.0, SlabMode.MIP), (20.0, SlabMode.AVERAGE), (30.0, SlabMode.MIP)):
        thick = replace(thin, slab=slab, mode=mode)
        values = overlay_plane(pet_volume, thick)
        for opacity in (0.3, 0.6):
            fused = fused_plane(ct, pet_volume, thick, state, 0.0, 10.0, "hot-iron", opacity,
                                base_info=info)
            colour = COLORMAPS["hot-iron"][
                np.clip(np.floor(values / 10.0 * 255 + 0.5), 0, 255).astype(int)
            ].astype(float)
            # Wherever the overlay shows, the blend is exactly `opacity` of the way from the
            # grey to the colour, whatever the slab made of the values.
            # (Within one grey level: a product landing on a half rounds either way in binary.)
            expected = np.floor(base + opacity * (colour - base) + 0.5)
            shown = values >= 0.0
            assert np.abs(fused[shown] - expected[shown]).max() <= 1, (slab, opacity)
        # Inside the sphere's core the slab's values are the thin plane's: same picture.
        thin_fused = fused_plane(ct, pet_volume, thin, state, 0.0, 10.0, "hot-iron", 0.6,
                                 base_info=info)
        core = (slice(r - 2, r + 3), slice(c - 2, c + 3))
        if mode is SlabMode.MIP or slab <= 20.0:
            assert np.array_equal(fused[core], thin_fused[core]), slab


def test_suv_requested_without_a_factor_is_refused(pet: tuple[PetSeries, Volume]) -> None:
    _, pet_volume = pet
    no_factor = replace_for(pet_volume, FOR_UID)
    no_factor.suv_reason = "PatientWeight is missing"
    plane = covering_plane(ct_volume(), *PLANES["axial"])
    with pytest.raises(FusionError, match="SUVbw is not available: PatientWeight is missing"):
        overlay_plane(no_factor, plane)
    assert overlay_plane(no_factor, plane, suv=False).max() > 0


def test_default_overlay_window(pet: tuple[PetSeries, Volume]) -> None:
    _, pet_volume = pet
    assert default_overlay_window(pet_volume) == SUV_WINDOW == (1.0, 10.0)
    # Bq/ml: the 1st..99.5th percentile of the values: background 1 and spheres of 4 and 8
    # SUV, as activity (SUV / factor).
    factor = 75000 / (3.7e8 * 0.5 ** (3600 / 6586.2))
    low, high = default_overlay_window(pet_volume, suv=False)
    assert low == pytest.approx(1.0 / factor, rel=1e-3)
    assert 4.0 / factor <= high <= 8.0 / factor * 1.001
    mr = replace_for(pet_volume, FOR_UID)
    mr.window = (300.0, 200.0)
    assert default_overlay_window(mr, suv=False) == (200.0, 400.0)
    empty = replace_for(pet_volume, FOR_UID)
    empty.filled[:] = False
    assert default_overlay_window(empty, suv=False) == (0.0, 1.0)


def test_built_pet_volume_carries_suv_and_matches_the_reference(
    pet: tuple[PetSeries, Volume],
) -> None:
    """The volume loader reads what the test's own reader reads, per-slice slopes included, and
    carries the series' SUVbw factor (Series Time 10:30, injection 09:30, 75 kg, 370 MBq F-18)."""
    from viewer.decode.cache import FrameCache
    from viewer.decode.pool import DecodePool
    from viewer.dicom.stack import build_stacks
    from viewer.volume.build import load_volume

    series, reference = pet
    stacks, errors = build_stacks(series.paths)
    assert not errors and len(stacks) == 1
    with DecodePool(1, cache=FrameCache(64 << 20)) as pool:
        volume = load_volume(stacks[0], pool)
    assert volume.suv_factor == pytest.approx(75000 / (3.7e8 * 0.5 ** (3600 / 6586.2)), rel=1e-9)
    assert volume.suv_reason == ""
    assert np.allclose(volume.affine, reference.affine)
    assert np.allclose(volume.voxels, reference.voxels, rtol=1e-6, atol=1e-3)


def test_default_base_display_is_the_volume_plane_display(pet: tuple[PetSeries, Volume]) -> None:
    """Without base_info the base goes through reslice.display_plane: the same picture as the
    explicit plane_frame_info path for whole-HU CT."""
    from viewer.volume.reslice import plane_frame_info

    _, pet_volume = pet
    ct = ct_volume()
    plane = covering_plane(ct, *PLANES["coronal"])
    default = fused_plane(ct, pet_volume, plane, None, 1.0, 10.0, "hot-iron", 0.5)
    explicit = fused_plane(ct, pet_volume, plane, None, 1.0, 10.0, "hot-iron", 0.5,
                           base_info=plane_frame_info(ct, plane))
    assert default.shape == (plane.rows, plane.columns, 3)
    assert np.array_equal(default, explicit)
