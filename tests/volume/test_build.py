"""A volume from a series: geometry against the files, voxels against the phantom, every refusal
and warning, the decode pool path, memory and progressive filling (issue 16, Must show 1)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from tests.peers import require_tool
from tests.volume.series import (
    TILT_DEGREES,
    frame_points,
    near_sphere,
    phantom_hu,
    write_ct_series,
)
from viewer.decode.cache import FrameCache
from viewer.decode.pool import DecodePool
from viewer.dicom.demo import transcode
from viewer.dicom.stack import Stack, build_stacks
from viewer.volume.build import (
    VolumeError,
    VolumeLoader,
    coarse_first,
    load_volume,
    plan_volume,
)
from viewer.volume.model import Volume


@pytest.fixture(scope="module")
def pool() -> Iterator[DecodePool]:
    with DecodePool(2, cache=FrameCache(256 << 20)) as decode_pool:
        yield decode_pool


@pytest.fixture(scope="module")
def series_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("series")


def _series(root: Path, kind: str) -> list[Path]:
    """The series of `kind` in its default shape, written once per module."""
    folder = root / kind
    if folder.exists():
        return sorted(folder.iterdir())
    return write_ct_series(folder, kind)


def _stack(files: list[Path]) -> Stack:
    stacks, errors = build_stacks(files)
    assert not errors and len(stacks) == 1
    return stacks[0]


def _voxel_points(volume: Volume) -> np.ndarray:
    k, j, i = np.meshgrid(*(np.arange(n) for n in volume.shape), indexing="ij")
    return volume.to_patient(np.stack([i, j, k], axis=-1))


# --- geometry ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["axial", "oblique", "tilt", "enhanced"])
def test_affine_puts_every_file_pixel_where_its_header_says(
    series_root: Path, pool: DecodePool, kind: str
) -> None:
    files = _series(series_root, kind)
    volume = load_volume(_stack(files), pool)
    if kind == "enhanced":
        ds = dcmread(files[0], stop_before_pixels=True)
        iop = ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0]
        positions = [
            np.array([float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient])
            for item in ds.PerFrameFunctionalGroupsSequence
        ]
        row = np.array([float(v) for v in iop.ImageOrientationPatient[:3]])
        column = np.array([float(v) for v in iop.ImageOrientationPatient[3:]])
        points = [
            p + np.mgrid[0:64, 0:64][1][..., None] * 3.0 * row
            + np.mgrid[0:64, 0:64][0][..., None] * 3.0 * column
            for p in positions
        ]
    else:
        points = [frame_points(f) for f in files]
    assert len(points) == volume.shape[0]
    for file_points in points:
        ijk = volume.to_voxel(file_points)
        k = ijk[0, 0, 2]
        assert abs(k - round(k)) < 1e-6  # every file is one slice of the grid
        expected_ij = np.stack(np.meshgrid(np.arange(64), np.arange(64), indexing="xy"), -1)
        assert np.allclose(ijk[..., :2], expected_ij, atol=1e-6)
        assert np.allclose(ijk[..., 2], k, atol=1e-6)


def test_slices_sort_by_position_not_instance_number(series_root: Path) -> None:
    files = _series(series_root, "axial")
    numbers = [int(dcmread(f, stop_before_pixels=True).InstanceNumber) for f in files]
    assert numbers != sorted(numbers)  # the generator scrambles them
    plan = plan_volume(_stack(files))
    z = [float(dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]) for p, _ in
         plan.sources]
    assert z == sorted(z)
    assert plan.affine[2, 2] == pytest.approx(4.0)


def test_gantry_tilt_gives_a_sheared_affine_and_says_the_angle(
    series_root: Path, pool: DecodePool
) -> None:
    volume = load_volume(_stack(_series(series_root, "tilt")), pool)
    column, step = volume.affine[:3, 1], volume.affine[:3, 2]
    assert abs(column @ step) > 0.1  # the stacking step is not perpendicular to the frames
    assert np.allclose(step / np.linalg.norm(step), [0, 0, 1], atol=1e-6)  # table motion
    assert volume.warnings == (
        f"gantry tilt of {TILT_DEGREES:.1f}°: the slices are sheared along the stacking "
        "direction; planes are reformatted in true patient space",
    )


# --- voxel values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "dtype", "tolerance"),
    [
        ("axial", np.int16, 0.5),
        ("oblique", np.int16, 0.5),
        ("tilt", np.int16, 0.5),
        ("duplicates", np.int16, 0.5),
        ("intercepts", np.int16, 0.5),  # per-slice intercepts, still integers: int16
        ("rescale", np.float32, 1.5),  # a slope of 2 stores every other HU
        ("enhanced", np.int16, 0.5),
    ],
)
def test_voxels_are_the_phantom_hu_at_their_patient_points(
    series_root: Path, pool: DecodePool, kind: str, dtype: type, tolerance: float
) -> None:
    volume = load_volume(_stack(_series(series_root, kind)), pool)
    assert volume.voxels.dtype == dtype
    assert volume.complete
    error = np.abs(volume.voxels.astype(np.float64) - phantom_hu(_voxel_points(volume)))
    assert error.max() <= tolerance
    assert volume.padding == -1024.0 and volume.window == (40.0, 400.0)
    assert volume.units == "HU"


def test_per_slice_rescale_leaves_no_banding(series_root: Path, pool: DecodePool) -> None:
    # Neighbouring slices stored with intercepts -1024, -1000 and -1100 hold the same HU
    # ramp: slice means step by exactly the ramp's 1.5 HU/mm x 4 mm.
    volume = load_volume(_stack(_series(series_root, "intercepts")), pool)
    centre = volume.voxels[:, 5:15, 5:15].astype(np.float64).mean(axis=(1, 2))
    assert np.allclose(np.diff(centre), 6.0, atol=0.2)


@pytest.mark.parametrize("kind", ["uneven", "gap"])
def test_resampled_slices_follow_the_phantom(
    series_root: Path, pool: DecodePool, kind: str
) -> None:
    volume = load_volume(_stack(_series(series_root, kind)), pool)
    assert volume.spacing[2] == pytest.approx(4.0)
    points = _voxel_points(volume)
    away = ~near_sphere(points, margin=8.0)  # interpolation across a sphere's edge blurs it
    error = np.abs(volume.voxels.astype(np.float64) - phantom_hu(points))
    assert error[away].max() <= 1.0


def test_float_data_with_nan_and_inf_is_padded_and_said(
    series_root: Path, pool: DecodePool
) -> None:
    volume = load_volume(_stack(_series(series_root, "float")), pool)
    assert volume.voxels.dtype == np.float32
    assert np.isfinite(volume.voxels).all()
    assert volume.padding == 0.0
    middle = volume.shape[0] - 1 - volume.shape[0] // 2  # frames are stored last slice first
    assert volume.voxels[middle, 0, 0] == 0.0 and volume.voxels[middle, 0, 1] == 0.0
    assert volume.warnings == (f"NaN or infinite values (2 in slice {middle + 1}): shown as 0",)
    error = np.abs(volume.voxels - phantom_hu(_voxel_points(volume)))
    error[middle, 0, :2] = 0
    assert error.max() < 1e-3


def test_dcmtk_jpeg_ls_series_gives_the_same_voxels(
    series_root: Path, pool: DecodePool, tmp_path: Path
) -> None:
    require_tool("dcmcjpls", "dcmtk")
    files = _series(series_root, "oblique")
    encoded = transcode(files, "jpeg-ls", tmp_path / "jls")
    assert str(dcmread(encoded[0], stop_before_pixels=True).file_meta.TransferSyntaxUID) == (
        "1.2.840.10008.1.2.4.80"
    )
    original = load_volume(_stack(files), pool)
    compressed = load_volume(_stack(encoded), pool)
    assert np.array_equal(original.voxels, compressed.voxels)
    assert np.allclose(original.affine, compressed.affine)


def test_stack_without_rescale_reads_it_from_the_headers(series_root: Path) -> None:
    # Stacks from the archive index carry no per-frame rescale.
    stack = _stack(_series(series_root, "rescale"))
    stack.values = []
    plan = plan_volume(stack)
    assert plan.dtype == np.float32
    assert {(v.slope, v.intercept) for v in plan.values} == {
        (1.0, -1024.0), (2.0, -1024.0), (1.0, -2000.0)
    }


# --- warnings ------------------------------------------------------------------------------------


def test_gap_is_named_and_filled(series_root: Path) -> None:
    plan = plan_volume(_stack(_series(series_root, "gap")))
    assert plan.warnings == (
        "gap of 8.0 mm between slices 20 and 21 (z -2.0 to 6.0 mm): filled by interpolation",
    )
    assert plan.shape[0] == 40
    assert plan.targets[20].weight == pytest.approx(0.5)


def test_uneven_spacing_is_named_and_resampled(series_root: Path) -> None:
    plan = plan_volume(_stack(_series(series_root, "uneven")))
    (line,) = plan.warnings
    assert re.fullmatch(
        r"uneven spacing: 5 steps of 5\.60 mm \(first between slices 7 and 8 \(z -?\d+\.\d to "
        r"-?\d+\.\d mm\)\) where most are 4\.00 mm: resampled to 4\.00 mm",
        line,
    ), line


def test_duplicates_say_which_frame_was_kept(series_root: Path) -> None:
    plan = plan_volume(_stack(_series(series_root, "duplicates")))
    assert plan.warnings == (
        "duplicate position: slice0014.dcm frame 1 lies where slice0013.dcm frame 1 does "
        "(z -26.0 mm): kept slice0013.dcm frame 1",
    )
    assert plan.shape[0] == 40
    assert ("slice0014.dcm" not in {Path(p).name for p, _ in plan.sources})


def test_over_budget_builds_at_half_resolution_and_says_so(
    series_root: Path, pool: DecodePool
) -> None:
    stack = _stack(_series(series_root, "oblique"))
    full = 40 * 64 * 64 * 2
    volume = load_volume(stack, pool, budget_bytes=full // 3)
    assert volume.shape == (40, 32, 32)
    assert volume.spacing[:2] == pytest.approx((6.0, 6.0))
    assert volume.warnings == (
        "reduced resolution: the volume needs 0.3 MB, over the memory budget of 0.1 MB: built "
        "from every 2nd row and column (0.1 MB)",
    )
    error = np.abs(volume.voxels.astype(np.float64) - phantom_hu(_voxel_points(volume)))
    assert error.max() <= 0.5


def test_far_over_budget_is_refused_with_the_sizes(tmp_path: Path) -> None:
    stack = _stack(write_ct_series(tmp_path, "axial", shape=(40, 512, 512)))
    with pytest.raises(VolumeError) as caught:
        plan_volume(stack, budget_bytes=1_000_000)
    assert str(caught.value) == (
        "too large: the volume needs 21 MB (1.3 MB at 1/4 resolution), over the memory budget "
        "of 1.0 MB"
    )


# --- refusals ------------------------------------------------------------------------------------


def _edited(files: list[Path], index: int, folder: Path, **changes: object) -> list[Path]:
    """Copies of `files` in `folder`, file `index` with attributes changed (None: deleted)."""
    folder.mkdir()
    out = []
    for n, path in enumerate(files):
        ds = dcmread(path)
        if n == index:
            for keyword, value in changes.items():
                if value is None:
                    delattr(ds, keyword)
                else:
                    setattr(ds, keyword, value(ds) if callable(value) else value)
        target = folder / path.name
        ds.save_as(target)
        out.append(target)
    return out


def test_single_image_is_refused(series_root: Path) -> None:
    with pytest.raises(VolumeError, match=r"^a single image: a volume needs at least two slices$"):
        plan_volume(_stack(_series(series_root, "axial")[:1]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"ImageOrientationPatient": ["0", "1", "0", "0", "0", "-1"]},
            r"mixed orientations: slice0005\.dcm frame 1 is not in the plane of "
            r"slice\d{4}\.dcm frame 1",
        ),
        (
            {"ImagePositionPatient": None},
            r"slice0005\.dcm frame 1: no Image Position \(Patient\): no volume geometry",
        ),
        (
            {"PixelSpacing": ["2", "2"]},
            r"different Pixel Spacing: slice0005\.dcm frame 1 has 2 x 2 mm, slice\d{4}\.dcm "
            r"frame 1 3 x 3 mm",
        ),
        (
            {"FrameOfReferenceUID": "1.2.3.4"},
            r"2 different Frame of Reference UIDs: not one volume",
        ),
        (
            {"ImagePositionPatient": lambda ds: [  # 20 mm off the line
                str(float(ds.ImagePositionPatient[0]) + 20), *ds.ImagePositionPatient[1:]
            ]},
            r"slice positions do not lie on one line \(slice \d+ is 20\.0 mm off it\): "
            r"not one volume",
        ),
    ],
    ids=["orientation", "no-position", "spacing", "frame-of-reference", "not-collinear"],
)
def test_a_series_that_cannot_form_a_volume_is_refused_in_one_line(
    series_root: Path, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    files = _series(series_root, "axial")
    with pytest.raises(VolumeError) as caught:
        plan_volume(_stack(_edited(files, 5, tmp_path / "edited", **changes)))
    assert re.fullmatch(message, str(caught.value)), str(caught.value)
    assert "\n" not in str(caught.value)


def test_different_sizes_are_refused(series_root: Path, tmp_path: Path) -> None:
    files = _series(series_root, "axial")
    small = write_ct_series(tmp_path / "small", "axial", shape=(40, 32, 32))
    ds = dcmread(small[5])
    big = dcmread(files[5])
    ds.SeriesInstanceUID, ds.FrameOfReferenceUID = big.SeriesInstanceUID, big.FrameOfReferenceUID
    ds.ImagePositionPatient = big.ImagePositionPatient
    ds.save_as(tmp_path / "slice0005.dcm")
    mixed = [f for f in files if f.name != "slice0005.dcm"] + [tmp_path / "slice0005.dcm"]
    with pytest.raises(VolumeError, match=r"^different sizes: .* is 32 x 32, .* 64 x 64 "):
        plan_volume(_stack(mixed))


def test_frames_all_at_one_position_are_refused(series_root: Path, tmp_path: Path) -> None:
    files = _series(series_root, "axial")[:3]
    folder = tmp_path / "same"
    folder.mkdir()
    for path in files:
        ds = dcmread(path)
        ds.ImagePositionPatient = ["0", "0", "0"]
        ds.save_as(folder / path.name)
    with pytest.raises(VolumeError, match="^every frame lies at one position along the normal"):
        plan_volume(_stack(sorted(folder.iterdir())))


# --- the decode pool: memory, progress, failures --------------------------------------------------


def test_the_voxel_array_is_the_only_copy(series_root: Path) -> None:
    cache = FrameCache(256 << 20)
    with DecodePool(2, cache=cache) as own_pool:
        volume = load_volume(_stack(_series(series_root, "axial")), own_pool)
        assert len(cache) == 0 and cache.nbytes == 0  # every frame dropped once copied
    assert volume.voxels.base is None and volume.voxels.flags.owndata
    assert volume.complete


def test_frames_fill_in_progressively_and_on_change_reports_them(series_root: Path) -> None:
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def changed(volume: Volume) -> None:
        with lock:
            seen.append((volume.revision, int(volume.filled.sum())))

    with DecodePool(1, cache=FrameCache(64 << 20)) as own_pool:
        loader = VolumeLoader(_stack(_series(series_root, "axial")), own_pool, on_change=changed)
        assert not loader.volume.filled.any()
        loader.start()
        assert loader.wait(60)
    assert loader.volume.complete and not loader.errors
    assert seen[-1] == (40, 40)  # one revision per slice; the last call sees it complete
    counts = [filled for _, filled in seen]
    assert counts == sorted(counts) and len(seen) >= 2


def test_coarse_slices_are_requested_first() -> None:
    assert coarse_first(0) == ([], 0)
    order, coarse = coarse_first(100)
    assert order[0] == 50  # the centre
    assert sorted(order) == list(range(100))
    assert set(order[:coarse]) >= {0, 50, 99} and coarse <= 20
    assert max(np.diff(sorted(order[:coarse]))) <= 7  # spread over the whole series


def test_a_frame_that_fails_is_named_and_the_rest_loads(
    series_root: Path, tmp_path: Path
) -> None:
    files = [p for p in _series(series_root, "axial")]
    folder = tmp_path / "broken"
    folder.mkdir()
    copies = []
    for path in files:
        target = folder / path.name
        target.write_bytes(path.read_bytes())
        copies.append(target)
    stack = _stack(copies)
    broken = copies[7]
    broken.write_bytes(broken.read_bytes()[:2000])  # cut short after the header was read
    with DecodePool(2, cache=FrameCache(64 << 20)) as own_pool:
        volume = load_volume(stack, own_pool)
    assert volume.complete
    z = float(dcmread(broken, stop_before_pixels=True).ImagePositionPatient[2])
    k = round(float(volume.to_voxel(np.array([0.0, 0.0, z]))[2]))
    points = _voxel_points(volume)[k]
    away = ~near_sphere(points, margin=8.0)
    error = np.abs(volume.voxels[k].astype(np.float64) - phantom_hu(points))
    assert error[away].max() <= 1.0  # the ramp, interpolated from the slices beside it
    assert volume.warnings == (
        f"1 slice could not be read ({k + 1}): filled by interpolation from the slices on "
        "either side",
        "slice0007.dcm: malformed DICOM: element (7FE0,0010) claims 8192 bytes, more than the "
        "file",
    )


def test_cancel_stops_the_load(series_root: Path) -> None:
    with DecodePool(1) as own_pool:
        loader = VolumeLoader(_stack(_series(series_root, "axial")), own_pool)
        loader.start()
        loader.cancel()
        assert loader.wait(10)
        # The cancelled requests leave the queue without being decoded.
        deadline = time.monotonic() + 20
        while own_pool.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert own_pool.pending() == 0
    assert int(loader.volume.filled.sum()) <= 2  # at most the one a worker had begun


def test_benchmark_build_frees_each_frame_as_it_copies() -> None:
    from viewer.volume.benchmark_build import measure_build

    result = measure_build(passes=2, shape=(100, 512, 512))
    assert len(result["passes"]["build_s"]) == 2 and result["build_s"] > 0
    # Frames plus voxels stay near one volume (2.0 if the frames outlived the build); at
    # 52 MB the interpreter's own growth (~15 MB) is a visible share of it.
    assert result["peak_memory_vs_volume"] < 1.6


def test_small_steady_rounding_does_not_add_up(tmp_path: Path) -> None:
    # Steps of 4.001 mm are even (within 2%), and 39 of them are not 39 x 4.00 mm: the grid
    # spacing comes from the end slices, so the last slice is where its file says.
    files = write_ct_series(tmp_path, "axial")
    for n, path in enumerate(files):
        ds = dcmread(path)
        ds.ImagePositionPatient = [*ds.ImagePositionPatient[:2], f"{-78 + n * 4.001:.4f}"]
        ds.save_as(path)
    plan = plan_volume(_stack(files))
    assert plan.warnings == () and plan.shape[0] == 40
    last = plan.affine @ np.array([0, 0, 39, 1.0])
    assert last[2] == pytest.approx(-78 + 39 * 4.001, abs=1e-6)
