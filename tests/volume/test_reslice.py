"""Planes and slabs against an independent resampler (scipy.ndimage.map_coordinates) on volumes
with axial, oblique, double-oblique and gantry-tilted (sheared) affines."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from viewer.dicom.display import DisplayState, apply_window, to_display
from viewer.dicom.frameinfo import Window
from viewer.volume import reslice_kernels
from viewer.volume.model import (
    PLANES,
    Interpolation,
    Plane,
    SlabMode,
    Volume,
    covering_plane,
    orthonormal,
)
from viewer.volume.reslice import (
    _aligned_axes,
    _sample,
    display_plane,
    plane_frame_info,
    reslice,
    slab_offsets,
)

SHAPE = (23, 31, 37)  # slices, rows, columns: small, and different so axes cannot be confused


def _rotation(axis: int, degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    a, b = [n for n in range(3) if n != axis]
    m = np.eye(3)
    m[a, a] = m[b, b] = np.cos(t)
    m[a, b], m[b, a] = -np.sin(t), np.sin(t)
    return m


def _affine(kind: str) -> np.ndarray:
    """Voxel (i, j, k) -> LPS mm, with anisotropic spacing (0.7 x 0.9 in-plane, 1.6 slices)."""
    spacing = np.diag([0.7, 0.9, 1.6])
    if kind == "axial":
        directions = np.eye(3)
    elif kind == "oblique":
        directions = _rotation(0, 25.0)
    elif kind == "double-oblique":
        directions = _rotation(2, -17.0) @ _rotation(0, 32.0)
    else:  # gantry tilt: axial frames, each slice shifted along y: the stack is sheared
        directions = np.eye(3)
    affine = np.eye(4)
    affine[:3, :3] = directions @ spacing
    if kind == "gantry-tilt":
        affine[1, 2] = 1.6 * np.tan(np.radians(20.0))
    affine[:3, 3] = (-12.0, 7.5, -40.0)
    return affine


AFFINES = ("axial", "oblique", "double-oblique", "gantry-tilt")
OBLIQUE_AXES = orthonormal((0.8, 0.35, -0.2), (0.1, 0.4, -0.9))


def _volume(kind: str, content: str, dtype: type = np.int16, padding: float = -1024.0) -> Volume:
    rng = np.random.default_rng(16)
    if content == "random":
        voxels = rng.integers(-1000, 2000, SHAPE)
    else:  # smooth: a few blurred blobs, as anatomy looks at CT resolution
        voxels = ndimage.gaussian_filter(rng.normal(0, 1, SHAPE), 2.0)
        voxels = voxels / np.abs(voxels).max() * 1500.0
    volume = Volume(np.asarray(voxels).astype(dtype), _affine(kind), "1.2.3", "1.2.3.4",
                    padding=padding, window=(40.0, 400.0))
    volume.filled[:] = True
    return volume


def _planes(volume: Volume) -> dict[str, Plane]:
    """The three radiological planes and a double-oblique one, moved off the voxel grid (no
    sample exactly half-way, where nearest-neighbour rounding is a matter of taste)."""
    shift = np.array([0.31, -0.23, 0.37])
    planes = {}
    orientations = dict(PLANES)
    orientations["oblique"] = OBLIQUE_AXES
    # rows along i, and columns along k: the two loop orders the radiological planes do not use
    orientations["axial-transposed"] = ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0))
    orientations["sagittal-transposed"] = ((0.0, 0.0, -1.0), (0.0, 1.0, 0.0))
    for name, (row, column) in orientations.items():
        plane = covering_plane(volume, row, column, spacing=0.61)
        centre = np.asarray(plane.center) + shift
        planes[name] = dataclasses.replace(plane, center=tuple(float(x) for x in centre))
    return planes


def _reference(volume: Volume, plane: Plane, order: int, offset: float = 0.0) -> np.ndarray:
    """scipy's resampling of the plane, with the outside / unfilled rules of the module doc."""
    rows, cols = np.meshgrid(np.arange(plane.rows), np.arange(plane.columns), indexing="ij")
    points = plane.to_patient(rows, cols) + offset * np.asarray(plane.normal)
    i, j, k = np.moveaxis(volume.to_voxel(points), -1, 0)
    values = ndimage.map_coordinates(
        volume.voxels.astype(np.float64), [k, j, i], order=order, mode="nearest"
    )
    nk, nj, ni = volume.shape
    inside = (i > -0.5) & (i < ni - 0.5) & (j > -0.5) & (j < nj - 0.5)
    inside &= (k > -0.5) & (k < nk - 0.5)
    if order == 0:
        near = np.clip(np.rint(k), 0, nk - 1).astype(int)
        inside &= volume.filled[near]
    else:
        lower = np.clip(np.floor(k), 0, nk - 2).astype(int)
        weight = np.clip(k - lower, 0, 1)
        inside &= volume.filled[lower] | (weight == 1)
        inside &= volume.filled[lower + 1] | (weight == 0)
    return np.where(inside, values, volume.padding)


def _tolerance(volume: Volume) -> float:
    """1e-3 of the volume's value range: a few HU on a CT."""
    return 1e-3 * float(np.ptp(volume.voxels))


@pytest.mark.parametrize("content", ["random", "smooth"])
@pytest.mark.parametrize("kind", AFFINES)
@pytest.mark.parametrize("interpolation", list(Interpolation), ids=lambda x: x.value)
def test_planes_match_scipy(kind: str, content: str, interpolation: Interpolation) -> None:
    volume = _volume(kind, content)
    order = 1 if interpolation is Interpolation.LINEAR else 0
    for name, plane in _planes(volume).items():
        ours = reslice(volume, plane, interpolation)
        # a sheared (gantry tilt) stack has no plane along its voxel axes but the axial one's
        # rows and columns, and that one's normal crosses slices obliquely
        assert _fast_path(volume, plane) == (kind == "axial" and name != "oblique")
        reference = _reference(volume, plane, order)
        assert ours.dtype == np.float32 and ours.shape == (plane.rows, plane.columns)
        inside = reference != volume.padding
        assert inside.mean() > 0.3, name  # the plane really cuts the volume
        np.testing.assert_allclose(ours, reference, rtol=0, atol=_tolerance(volume), err_msg=name)


@pytest.mark.parametrize("kind", ["axial", "gantry-tilt", "double-oblique"])
@pytest.mark.parametrize("mode", list(SlabMode), ids=lambda x: x.value)
def test_slabs_match_brute_force(kind: str, mode: SlabMode) -> None:
    volume = _volume(kind, "smooth", dtype=np.float32)
    combine = {SlabMode.MIP: np.max, SlabMode.MINIP: np.min, SlabMode.AVERAGE: np.mean}[mode]
    for name, plane in _planes(volume).items():
        slab = dataclasses.replace(plane, slab=7.3, mode=mode)
        offsets = _spec_offsets(volume, slab, name)
        reference = combine([_reference(volume, slab, 1, d) for d in offsets], axis=0)
        np.testing.assert_allclose(
            reslice(volume, slab), reference, rtol=0, atol=_tolerance(volume), err_msg=name
        )


def _spec_offsets(volume: Volume, plane: Plane, name: str) -> np.ndarray:
    """slab_offsets' rule written out independently: on an axial stack, the voxel planes within
    the slab; otherwise samples no further apart than the finest spacing (0.7 mm), the outer two
    on the slab's faces."""
    half = plane.slab / 2
    axis = {"axial": 2, "axial-transposed": 2, "coronal": 1, "sagittal": 0}.get(name)
    if not np.allclose(volume.affine[:3, :3], np.diag(np.diag(volume.affine[:3, :3]))) or (
        axis is None and name != "sagittal-transposed"
    ):
        return np.linspace(-half, half, int(np.ceil(plane.slab / 0.7)) + 1)
    axis = 0 if axis is None else axis
    unit = np.zeros(3)
    unit[axis] = 1.0
    positions = volume.to_patient(np.arange(-50, 100)[:, None] * unit)
    distances = (positions - np.asarray(plane.center)) @ np.asarray(plane.normal)
    return np.sort(distances[np.abs(distances) <= half])


def test_slab_offsets() -> None:
    volume = _volume("double-oblique", "smooth")
    plane = _planes(volume)["axial"]
    assert slab_offsets(volume, plane).tolist() == [0.0]
    for thickness in (0.5, 0.7, 1.4, 20.0, 33.3):
        offsets = slab_offsets(volume, dataclasses.replace(plane, slab=thickness))
        assert offsets[0] == pytest.approx(-thickness / 2) and offsets[-1] == pytest.approx(
            thickness / 2
        )
        assert np.all(np.diff(offsets) <= 0.7 + 1e-9) and offsets.size >= 2
        np.testing.assert_allclose(offsets, -offsets[::-1], atol=1e-12)
    # along the axis of an axial stack: its slices (1.6 mm apart) inside the slab
    volume = _volume("axial", "smooth")
    plane = _planes(volume)["axial"]
    for thickness in (2.0, 7.3, 20.0):
        slab = dataclasses.replace(plane, slab=thickness)
        offsets = slab_offsets(volume, slab)
        np.testing.assert_allclose(np.diff(offsets), 1.6)
        np.testing.assert_allclose(offsets, _spec_offsets(volume, slab, "axial"))
    # thinner than a slice: the faces, or the one slice between them
    offsets = slab_offsets(volume, dataclasses.replace(plane, slab=0.2))
    assert offsets.size and np.all(np.abs(offsets) <= 0.1 + 1e-9)


@pytest.mark.parametrize("kind", AFFINES)
def test_pixel_convention_on_a_linear_field(kind: str) -> None:
    """A field linear in patient space is reproduced exactly by trilinear interpolation, so each
    pixel must hold the field at center + (c-(cols-1)/2)*spacing*row + (r-(rows-1)/2)*spacing*col,
    the issue's convention, whatever the affine."""
    volume = _volume(kind, "smooth", dtype=np.float32)
    gradient = np.array([1.5, -2.0, 3.25])
    k, j, i = np.indices(volume.shape)
    patient = volume.to_patient(np.stack([i, j, k], axis=-1))
    volume.voxels = (patient @ gradient).astype(np.float32)
    centre = np.asarray(volume.center)
    for name, (row, column) in {**PLANES, "oblique": ((0.6, 0.8, 0.0), (0.0, 0.0, -1.0))}.items():
        plane = Plane(tuple(centre + (0.2, -0.1, 0.3)), row, column, 0.55, 9, 7)
        ours = reslice(volume, plane)
        r, c = np.indices((7, 9))
        expected = (
            centre
            + (0.2, -0.1, 0.3)
            + ((c - 4) * 0.55)[..., None] * np.asarray(row)
            + ((r - 3) * 0.55)[..., None] * np.asarray(column)
        ) @ gradient
        np.testing.assert_allclose(ours, expected, atol=2e-3, err_msg=name)


@pytest.mark.parametrize("interpolation", list(Interpolation), ids=lambda x: x.value)
@pytest.mark.parametrize("slab", [0.0, 6.0])
@pytest.mark.parametrize("mode", list(SlabMode), ids=lambda x: x.value)
def test_orthogonal_fast_path_equals_general_kernel(
    interpolation: Interpolation, slab: float, mode: SlabMode
) -> None:
    volume = _volume("axial", "random")
    for name, thin in _planes(volume).items():
        if name == "oblique":
            continue
        plane = dataclasses.replace(thin, slab=slab, mode=mode)
        assert _fast_path(volume, plane)
        offsets = slab_offsets(volume, plane)
        shape = (plane.rows, plane.columns)
        fast = _sample(volume, plane, offsets, interpolation, np.empty(shape, np.float32), True)
        general = _sample(volume, plane, offsets, interpolation, np.empty(shape, np.float32), False)
        np.testing.assert_allclose(fast, general, atol=_tolerance(volume), err_msg=name)
        np.testing.assert_array_equal(fast, reslice(volume, plane, interpolation))


def _fast_path(volume: Volume, plane: Plane) -> bool:
    to_voxel = np.linalg.inv(volume.affine)[:3, :3]
    steps = [to_voxel @ np.asarray(v) for v in (plane.row, plane.column, plane.normal)]
    return _aligned_axes(*steps) is not None


@pytest.mark.parametrize("kind", ["axial", "double-oblique"])
def test_padding_outside(kind: str) -> None:
    volume = _volume(kind, "random", padding=-2048.0)
    plane = _planes(volume)["axial"]
    far = plane.moved(500.0)
    assert np.all(reslice(volume, far) == -2048.0)
    assert np.all(reslice(volume, dataclasses.replace(far, slab=10.0)) == -2048.0)
    # a plane twice as wide as the volume: a frame of padding around the data
    wide = dataclasses.replace(plane, columns=plane.columns * 2, rows=plane.rows * 2)
    for interpolation in Interpolation:
        for mode in SlabMode:
            slab = dataclasses.replace(wide, slab=5.0, mode=mode)
            for values in (reslice(volume, wide, interpolation), reslice(volume, slab)):
                assert np.all(values[0] == -2048.0) and np.all(values[:, -1] == -2048.0)
                assert np.any(values != -2048.0)


@pytest.mark.parametrize("interpolation", list(Interpolation), ids=lambda x: x.value)
def test_unfilled_slices_show_padding(interpolation: Interpolation) -> None:
    volume = _volume("axial", "random")
    volume.filled[10] = False
    order = 1 if interpolation is Interpolation.LINEAR else 0
    on_slice = Plane(tuple(volume.to_patient(np.array([18.0, 15.0, 10.0]))), (1, 0, 0), (0, 1, 0),
                     0.7, 37, 31)
    assert np.all(reslice(volume, on_slice, interpolation) == volume.padding)
    # exactly on the filled neighbour: shown while slice 10 still decodes
    below = reslice(volume, on_slice.moved(-1.6), interpolation)
    assert np.all(below != volume.padding)
    np.testing.assert_allclose(
        below, _reference(volume, on_slice.moved(-1.6), order), atol=_tolerance(volume)
    )
    # the coronal and oblique planes show a band of padding where slice 10 is
    for name, plane in _planes(volume).items():
        np.testing.assert_allclose(
            reslice(volume, plane, interpolation),
            _reference(volume, plane, order),
            atol=_tolerance(volume),
            err_msg=name,
        )
    volume.filled[:] = False
    assert np.all(reslice(volume, _planes(volume)["oblique"]) == volume.padding)


def test_out_buffer_and_threads() -> None:
    volume = _volume("double-oblique", "random")
    planes = list(_planes(volume).values())
    expected = [reslice(volume, p) for p in planes]
    buffer = np.empty((planes[0].rows, planes[0].columns), dtype=np.float32)
    assert reslice(volume, planes[0], out=buffer) is buffer
    np.testing.assert_array_equal(buffer, expected[0])
    with pytest.raises(ValueError, match="float32"):
        reslice(volume, planes[1], out=buffer)
    results: dict[int, list[np.ndarray]] = {n: [] for n in range(4)}

    def work(n: int) -> None:
        for _ in range(5):
            results[n].append(reslice(volume, planes[n]))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(4):
        for result in results[n]:
            np.testing.assert_array_equal(result, expected[n])


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_display_goes_through_the_one_pipeline(dtype: type) -> None:
    volume = _volume("oblique", "smooth", dtype=dtype)
    plane = _planes(volume)["coronal"]
    info = plane_frame_info(volume, plane)
    assert info.photometric == "MONOCHROME2" and info.rescale_slope == 1.0
    assert info.pixel_spacing == (0.61, 0.61)
    assert (info.rows, info.columns) == (plane.rows, plane.columns)
    values = reslice(volume, plane)
    # whole-number volumes (CT) are shown in whole units, as their frames are
    shown = np.rint(values) if dtype is np.int16 else values
    grey = display_plane(volume, plane)
    expected = np.floor(apply_window(shown, Window(40.0, 400.0)) + 1e-9).astype(np.uint8)
    np.testing.assert_array_equal(grey, expected)
    chosen = display_plane(volume, plane, DisplayState(window=(500.0, 2000.0)))
    np.testing.assert_array_equal(
        chosen, to_display(shown, info, DisplayState(window=(500.0, 2000.0)))
    )
    assert len(np.unique(chosen)) > 50


def test_every_kernel_is_built_for_every_voxel_type() -> None:
    """The compiled library exports each kernel for int16 and float32 voxels; another voxel type
    is refused by name rather than read as the wrong one."""
    library = reslice_kernels.library()
    for name in ("oblique", "aligned", "aligned_columns", "aligned_samples", "extreme_lines"):
        for suffix in ("i16", "f32"):
            assert getattr(library, f"{name}_{suffix}").restype is not None, (name, suffix)
    volume = _volume("axial", "random", dtype=np.float64)
    with pytest.raises(ValueError, match="float64"):
        reslice(volume, _planes(volume)["oblique"])


def test_a_missing_build_is_one_clear_line(tmp_path: Path) -> None:
    """A source checkout that was never installed has no compiled kernels: the first reslice
    says so in one line, naming what to run, and `mpr` prints that line (exit 2) before it
    reads a file."""
    script = (
        "import importlib.machinery, sys\n"
        "importlib.machinery.EXTENSION_SUFFIXES[:] = ['.not-built.so']\n"
        "from viewer.volume.reslice_kernels import KernelsNotBuilt, library\n"
        "try:\n"
        "    library()\n"
        "except KernelsNotBuilt as exc:\n"
        "    print(exc)\n"
        "from viewer.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--archive", str(tmp_path / "archive"), "mpr",
         str(tmp_path / "no-series"), "-o", str(tmp_path / "plane.png")],
        check=False, capture_output=True, text=True, timeout=60,
    )
    assert done.stdout == "reslice kernels not built: run packaging/install.sh\n"
    assert done.stderr == "dicom-viewer mpr: reslice kernels not built: run packaging/install.sh\n"
    assert done.returncode == 2


def test_no_compiler_is_loaded_at_run_time() -> None:
    """The kernels are compiled ahead of time: a process that reslices every kind of plane and
    slab loads no JIT (numba, llvmlite) and gets its first plane at once."""
    root = Path(__file__).resolve().parents[2]  # tests/ importable from any working folder
    script = (
        f"import sys, time; sys.path.insert(0, {str(root)!r})\n"
        "from tests.volume.test_reslice import _planes, _volume\n"
        "from dataclasses import replace\n"
        "from viewer.volume.model import Interpolation, SlabMode\n"
        "from viewer.volume.reslice import reslice\n"
        "volume = _volume('axial', 'random')\n"
        "started = time.perf_counter()\n"
        "reslice(volume, _planes(volume)['oblique'])\n"
        "first = time.perf_counter() - started\n"
        "for plane in _planes(volume).values():\n"
        "    for interpolation in Interpolation:\n"
        "        reslice(volume, plane, interpolation)\n"
        "    for mode in SlabMode:\n"
        "        reslice(volume, replace(plane, slab=5.0, mode=mode))\n"
        "print(first, sorted(m for m in ('numba', 'llvmlite') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=120)
    first, loaded = done.stdout.split(maxsplit=1)
    assert loaded.strip() == "[]"
    assert float(first) < 0.5, first  # numba: ~1.5 s from its cache, 6-18 s compiling


@pytest.mark.parametrize("name", ["oblique", "sagittal"])
def test_kernels_release_the_gil(name: str) -> None:
    """A GUI reslices on a worker thread: while a slab is computed, Python code (the event
    loop) keeps running."""
    # the sagittal slab is combined ~5x faster than the oblique one: more of it to take long
    shape, slab = ((160, 160, 160), 60.0) if name == "oblique" else ((160, 256, 256), 120.0)
    voxels = np.random.default_rng(1).normal(0, 100, shape).astype(np.float32)
    volume = Volume(voxels, np.eye(4), "1.2.3", "1.2.3.4")
    volume.filled[:] = True
    row, column = dict(PLANES, oblique=OBLIQUE_AXES)[name]
    spacing = 0.5
    for _ in range(4):  # finer planes until one takes long enough to tell (a faster machine)
        plane = dataclasses.replace(
            covering_plane(volume, row, column, spacing=spacing), slab=slab,
            mode=SlabMode.AVERAGE,
        )
        started = time.perf_counter()
        reslice(volume, plane)  # compiled, and timed alone
        alone = time.perf_counter() - started
        if alone > 0.05:
            break
        spacing /= 1.5
    worker = threading.Thread(target=reslice, args=(volume, plane))
    longest_wait = 0.0
    worker.start()
    last = time.perf_counter()
    while worker.is_alive():
        now = time.perf_counter()
        longest_wait, last = max(longest_wait, now - last), now
    worker.join()
    # holding the GIL, the kernel would stop this loop for its whole run
    assert alone > 0.02 and longest_wait < alone / 2, (alone, longest_wait)


def test_benchmark_planes_reports_every_case() -> None:
    from viewer.volume.benchmark_planes import CASES, measure_planes, synthetic_ct

    volume = synthetic_ct(slices=24, size=64)
    assert volume.voxels.dtype == np.int16 and volume.complete
    voxels = volume.voxels
    assert (voxels < -900).any() and (np.abs(voxels - 40) < 40).any() and (voxels > 600).any()
    results = measure_planes(volume, passes=2)
    from viewer.gui.mpr_view import coarse_plane
    from viewer.volume.benchmark_planes import _planes as bench_planes

    timed = bench_planes(volume, 0.7)
    assert timed["oblique-half"] == coarse_plane(timed["oblique"])  # the dragging path's plane
    for name, target, _what in CASES:
        assert len(results[name]["passes_ms"]) == 2, name  # type: ignore[arg-type]
        assert results[name]["target_ms"] == target
    assert results["first_call"]["seconds"] >= 0


@pytest.mark.parametrize("mode", list(SlabMode), ids=lambda x: x.value)
@pytest.mark.parametrize(
    ("where", "slab"),
    [("inside", 6.0), ("across the edge", 6.0), ("between two voxel planes", 0.3)],
)
def test_sagittal_slab_paths_equal_general_kernel(where: str, slab: float, mode: SlabMode) -> None:
    """A sagittal slab (across voxel axis i) is combined straight from each pixel's run when
    its samples are the run's voxels, else through an interpolated line: samples outside the
    volume (a slab across its edge) or between voxel planes (thinner than the spacing). Both
    agree with the per-pixel kernel, in both row orders."""
    volume = _volume("axial", "random")
    planes = _planes(volume)
    for name in ("sagittal", "sagittal-transposed"):
        plane = dataclasses.replace(planes[name], slab=slab, mode=mode)
        # the plane's centre at voxel i = 1.4 (1 mm inside the edge voxels' centres), or
        # half-way between two voxel planes
        if where != "inside":
            i, j, k = volume.to_voxel(np.asarray(plane.center))
            i = 1.4 if where == "across the edge" else np.floor(i) + 0.5
            centre = volume.to_patient(np.array([i, j, k]))
            plane = dataclasses.replace(plane, center=tuple(float(x) for x in centre))
        offsets = slab_offsets(volume, plane)
        shape = (plane.rows, plane.columns)
        fast = _sample(volume, plane, offsets, Interpolation.LINEAR,
                       np.empty(shape, np.float32), True)
        general = _sample(volume, plane, offsets, Interpolation.LINEAR,
                          np.empty(shape, np.float32), False)
        if not (where == "across the edge" and mode is SlabMode.MINIP):  # padding is lowest
            assert np.any(fast != volume.padding), name
        np.testing.assert_allclose(fast, general, atol=_tolerance(volume), err_msg=name)


@pytest.mark.parametrize("mode", list(SlabMode), ids=lambda x: x.value)
def test_planes_and_slabs_equal_on_one_and_all_cores(
    mode: SlabMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large planes and slabs run on every core when one is spare (reslice._core_spare,
    _PARALLEL_SAMPLES, _SLAB_SAMPLES, _BUSY_SAMPLES): the values are exactly those of one
    thread, for every kernel and row order."""
    from viewer.volume import reslice as module

    volume = _volume("axial", "random")
    tilted = _volume("double-oblique", "random")
    cases = [(volume, p) for p in _planes(volume).values()] + [
        (tilted, _planes(tilted)["axial"])
    ]
    results = {}
    monkeypatch.setattr(module, "_core_spare", lambda: True)
    for threshold in (2**62, 0):
        for name in ("_PARALLEL_SAMPLES", "_SLAB_SAMPLES", "_BUSY_SAMPLES"):
            monkeypatch.setattr(module, name, threshold)
        results[threshold] = [
            reslice(v, dataclasses.replace(p, slab=slab, mode=mode), interpolation)
            for v, p in cases
            for slab in (0.0, 6.0)
            for interpolation in Interpolation
        ]
    for one, every in zip(results[2**62], results[0], strict=True):
        np.testing.assert_array_equal(one, every)


def test_bench_memory_child_reports_the_kernels_parts() -> None:
    """bench volume's MPR memory child (a small volume here): the peak against the volume,
    and what loading the kernels costs, anonymous and file-backed apart."""
    from viewer.volume.benchmark import VolumeBenchmark, _memory_rows

    result = VolumeBenchmark((8, 512, 512), 1)
    _memory_rows(result, 8)
    names = [row.name for row in result.rows]
    assert "MPR + slabs peak RSS / volume" in names
    parts = next(note for note in result.notes if note.startswith("the reslice kernels"))
    numbers = dict(zip(("RssAnon", "RssFile", "PSS"),
                       (float(x.rstrip(",")) for x in parts.split()[-5::2]), strict=True))
    # a few hundred KiB of compiled code, where numba and its kernels took ~150 MiB
    assert all(0 <= value < 8 for value in numbers.values()), parts



def test_a_second_thread_only_with_a_core_spare(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second thread waits for a core on a busy machine (a coronal slab 12.5 -> 40 ms at
    load 3 on 2 cores): large slabs and planes take every core only with one spare, except an
    oblique slab, which gains even then."""
    from viewer.volume import reslice as module

    cores = os.cpu_count() or 1
    monkeypatch.setattr(module.os, "getloadavg", lambda: (cores - 0.2, 0.0, 0.0))
    assert not module._core_spare()
    monkeypatch.setattr(module.os, "getloadavg", lambda: (cores - 1.0, 0.0, 0.0))
    assert module._core_spare()
    launched: list[tuple[str, int]] = []
    real_launch = module._launch

    def launch(kernel: reslice_kernels.Launch, threads: int) -> None:
        launched.append((kernel.name, threads))
        real_launch(kernel, threads)

    monkeypatch.setattr(module, "_launch", launch)
    for name in ("_PARALLEL_SAMPLES", "_SLAB_SAMPLES", "_BUSY_SAMPLES"):
        monkeypatch.setattr(module, name, 1)
    volume = _volume("axial", "random")
    planes = _planes(volume)
    cases = {
        "sagittal slab": dataclasses.replace(planes["sagittal"], slab=6.0, mode=SlabMode.AVERAGE),
        "oblique slab": dataclasses.replace(planes["oblique"], slab=6.0, mode=SlabMode.AVERAGE),
    }
    for spare in (True, False):
        monkeypatch.setattr(module, "_core_spare", lambda spare=spare: spare)
        for plane in cases.values():
            reslice(volume, plane)
    assert launched == [("aligned_samples", cores), ("oblique", cores),
                        ("aligned_samples", 1), ("oblique", cores)]


@pytest.mark.parametrize("mode", list(SlabMode), ids=lambda x: x.value)
def test_rows_split_anywhere_give_the_same_values(
    mode: SlabMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernels fill the row range they are given; however the rows are split (here one
    row per call, against the kernels' chunks of 8), every kernel gives the same values."""
    from viewer.volume import reslice as module

    volume = _volume("axial", "random")
    tilted = _volume("double-oblique", "random")
    cases = [(volume, p) for p in _planes(volume).values()] + [(tilted, _planes(tilted)["axial"])]
    planes = [
        (v, dataclasses.replace(p, slab=slab, mode=mode), interpolation)
        for v, p in cases
        for slab in (0.0, 6.0)
        for interpolation in Interpolation
    ]
    whole = [reslice(v, p, interpolation) for v, p, interpolation in planes]
    launched: set[str] = set()

    def row_by_row(launch: reslice_kernels.Launch, threads: int) -> None:
        launched.add(launch.name)
        for row in range(launch.rows):
            launch(row, row + 1)

    monkeypatch.setattr(module, "_launch", row_by_row)
    for (v, p, interpolation), expected in zip(planes, whole, strict=True):
        np.testing.assert_array_equal(reslice(v, p, interpolation), expected)
    expected_kernels = {"oblique", "aligned", "aligned_columns", "aligned_samples"}
    if mode is not SlabMode.AVERAGE:
        expected_kernels.add("extreme_lines")
    assert launched == expected_kernels


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_voxels_in_any_memory_order(dtype: type) -> None:
    """Voxels that are not C-ordered (a Fortran-ordered copy: voxel axis i no longer contiguous)
    go through the kernels' general strides and give the same planes and slabs."""
    volume = _volume("axial", "random", dtype=dtype)
    other = dataclasses.replace(volume, voxels=np.asfortranarray(volume.voxels),
                                filled=volume.filled.copy())
    assert not other.voxels.flags.c_contiguous
    for plane in _planes(volume).values():
        for interpolation in Interpolation:
            np.testing.assert_array_equal(reslice(other, plane, interpolation),
                                          reslice(volume, plane, interpolation))
        for mode in SlabMode:
            slab = dataclasses.replace(plane, slab=6.0, mode=mode)
            np.testing.assert_allclose(reslice(other, slab), reslice(volume, slab),
                                       atol=_tolerance(volume))
