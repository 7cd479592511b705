"""Timings of planes and slabs for `dicom-viewer bench volume`: the issue's targets for a
512x512x1000 int16 CT, medians of several passes with every pass kept.

`synthetic_ct()` makes that volume in memory (nothing read or downloaded); `measure_planes()`
times each case on it and returns plain data the bench verb prints.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from viewer.volume.model import PLANES, Interpolation, Plane, SlabMode, Volume, orthonormal
from viewer.volume.overlay_plane import (
    PreparedOverlay,
    burn_plane_overlay,
    overlay_on_plane,
    prepare_overlay,
)
from viewer.volume.reslice import display_plane, reslice

# (name, target in ms or None, what it measures); the targets are the issue's
CASES: tuple[tuple[str, float | None, str], ...] = (
    ("axial", 8.0, "thin axial 512x512 on the voxel grid, display pipeline included"),
    ("coronal", 8.0, "thin coronal 512x512, slices interpolated, display pipeline included"),
    ("sagittal", 8.0, "thin sagittal 512x512, slices interpolated, display pipeline included"),
    ("oblique", 25.0, "double-oblique 512x512, trilinear"),
    ("oblique-nearest", 12.0, "double-oblique 512x512, nearest"),
    ("oblique-half", 12.0, "double-oblique 256x256 at twice the spacing, trilinear"),
    # what an MPR view computes while the user drags (viewer.gui.mpr_view: coarse_plane,
    # nearest, then display_values): the dragging target's path
    ("oblique-dragging", 12.0,
     "the MPR view's dragging path: double-oblique at half resolution (256x256, twice the "
     "spacing), nearest, display pipeline included"),
    # the same two with a SEG (3 segments, on a grid of its own) and an RTSTRUCT (10 ROIs)
    # cut on the plane and blended into the picture, as an MPR view does with both open
    # (viewer.gui.mpr_view._render, viewer.volume.overlay_plane; benchmark_overlays)
    ("oblique-dragging-overlays", 12.0,
     "oblique-dragging with a SEG and an RTSTRUCT cut on the plane and blended in"),
    ("oblique-overlays", 25.0,
     "double-oblique 512x512 trilinear, display pipeline and a SEG and an RTSTRUCT blended in"),
    ("slab-axial", 15.0, "20 mm MIP slab, axial 512x512"),
    ("slab-coronal", 15.0, "20 mm MIP slab, coronal 512x512"),
    ("slab-sagittal", 15.0, "20 mm MIP slab, sagittal 512x512"),
    ("slab-oblique", 150.0, "20 mm MIP slab, double-oblique 512x512, trilinear"),
    ("display-float", None, "to_display of a float32 512x512 plane (a PET or MR volume's path)"),
    # baselines in the same run: plain numpy on the same voxels (FACTS.md: sagittal 3-6 ms,
    # slab MIP axial 2 ms, coronal 7 ms, sagittal 88 ms on a quiet machine)
    ("numpy-axial", None, "numpy: one slice as float32"),
    ("numpy-sagittal", None, "numpy: voxels[:, :, i] as float32 (strided)"),
    ("numpy-slab-axial", None, "numpy: max over the 40 slices of a 20 mm slab"),
    ("numpy-slab-sagittal", None, "numpy: max over 29 columns (20 mm) along i, strided"),
)

OBLIQUE: tuple[tuple[float, float, float], tuple[float, float, float]] = orthonormal(
    (0.82, 0.45, -0.35), (0.25, 0.27, -0.93)
)


def synthetic_ct(
    slices: int = 1000, size: int = 512, spacing: float = 0.7, slice_spacing: float = 0.5
) -> Volume:
    """An int16 CT-like volume (air, body, lungs, spine, vessels, noise), axial, filled.

    The anatomy changes from slice to slice so that no plane is trivially constant; it is made
    a slice at a time (about a second for the default 500 MiB), never as float64.
    """
    voxels = np.empty((slices, size, size), dtype=np.int16)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) - (size - 1) / 2.0
    rng = np.random.default_rng(16)
    noise = rng.normal(0.0, 12.0, (size, size)).astype(np.int16)
    body = (x / (0.45 * size)) ** 2 + (y / (0.33 * size)) ** 2 <= 1.0
    for k in range(slices):
        phase = 2.0 * np.pi * k / slices
        lung_radius = 0.12 * size * (0.6 + 0.4 * np.sin(phase))
        plane = np.where(body, np.int16(40), np.int16(-1000))
        for side in (-1.0, 1.0):
            lung = ((x - side * 0.2 * size) ** 2 + (y + 0.02 * size) ** 2) <= lung_radius**2
            plane[lung] = -850
        spine = (x**2 + (y - 0.22 * size) ** 2) <= (0.05 * size) ** 2
        plane[spine] = 700
        vessel_x = 0.05 * size * np.cos(3.0 * phase)
        vessel = ((x - vessel_x) ** 2 + (y - 0.1 * size) ** 2) <= (0.025 * size) ** 2
        plane[vessel] = 300
        voxels[k] = plane
        voxels[k] += np.roll(noise, k * 7, axis=1)
    affine = np.diag([spacing, spacing, slice_spacing, 1.0])
    half = (size - 1) / 2.0 * spacing
    affine[:3, 3] = (-half, -half, -(slices - 1) * slice_spacing)
    volume = Volume(
        voxels, affine, "2.25.1", "2.25.2", modality="CT", units="HU", padding=-1024.0,
        window=(40.0, 400.0),
    )
    volume.filled[:] = True
    return volume


def measure_planes(volume: Volume, passes: int = 5) -> dict[str, dict[str, object]]:
    """Each case of `CASES` timed `passes` times after one untimed call (tables and caches warm):
    {name: {"passes_ms": [...], "median_ms": m, "target_ms": t, "what": text}} plus
    "first_call" {"seconds": s} for the very first reslice in this process and "load" {"before",
    "after"}: the 1-minute load average, since a busy machine slows every case."""
    spacing = min(volume.spacing[:2])
    results: dict[str, dict[str, object]] = {}
    planes = _planes(volume, spacing)
    started = time.perf_counter()
    reslice(volume, planes["axial"])
    results["first_call"] = {"seconds": time.perf_counter() - started}
    results["load"] = {"before": os.getloadavg()[0]}
    out = np.empty((512, 512), dtype=np.float32)
    overlays = _prepared_overlays(volume, results)
    jobs: dict[str, Callable[[], object]] = {
        "axial": lambda: display_plane(volume, planes["axial"], out=out),
        "coronal": lambda: display_plane(volume, planes["coronal"], out=out),
        "sagittal": lambda: display_plane(volume, planes["sagittal"], out=out),
        "oblique": lambda: reslice(volume, planes["oblique"], out=out),
        "oblique-nearest": lambda: reslice(
            volume, planes["oblique"], Interpolation.NEAREST, out=out
        ),
        "oblique-half": lambda: reslice(volume, planes["oblique-half"]),
        "oblique-dragging": lambda: display_plane(
            volume, planes["oblique-half"], interpolation=Interpolation.NEAREST
        ),
        "oblique-dragging-overlays": lambda: _with_overlays(
            volume, planes["oblique-half"], Interpolation.NEAREST, overlays),
        "oblique-overlays": lambda: _with_overlays(
            volume, planes["oblique"], Interpolation.LINEAR, overlays),
        "slab-axial": lambda: reslice(volume, _slab(planes["axial"]), out=out),
        "slab-coronal": lambda: reslice(volume, _slab(planes["coronal"]), out=out),
        "slab-sagittal": lambda: reslice(volume, _slab(planes["sagittal"]), out=out),
        "slab-oblique": lambda: reslice(volume, _slab(planes["oblique"]), out=out),
        "display-float": lambda: _display_float(volume, planes["axial"], out),
        **_numpy_baselines(volume),
    }
    for name, target, what in CASES:
        job = jobs[name]
        job()
        times = []
        for _ in range(passes):
            started = time.perf_counter()
            job()
            times.append((time.perf_counter() - started) * 1000.0)
        results[name] = {
            "passes_ms": times,
            "median_ms": statistics.median(times),
            "target_ms": target,
            "what": what,
        }
    results["load"]["after"] = os.getloadavg()[0]
    return results


def _prepared_overlays(volume: Volume,
                       results: dict[str, dict[str, object]]) -> list[PreparedOverlay]:
    """The synthetic SEG and RTSTRUCT ready for the volume's planes; the time each took to
    prepare (once per volume, on the overlays' worker in the GUI) goes in `results`."""
    from viewer.volume.benchmark_overlays import (
        synthetic_segmentation,
        synthetic_structure_set,
    )

    prepared = []
    for name, overlay in (("seg", synthetic_segmentation(volume)),
                          ("rtstruct", synthetic_structure_set(volume))):
        started = time.perf_counter()
        prepared.append(prepare_overlay(overlay, volume))
        results[f"prepare-{name}"] = {"seconds": time.perf_counter() - started}
    return prepared


def _with_overlays(volume: Volume, plane: Plane, interpolation: Interpolation,
                   overlays: list[PreparedOverlay]) -> np.ndarray:
    picture = display_plane(volume, plane, interpolation=interpolation)
    for prepared in overlays:
        picture = burn_plane_overlay(picture, overlay_on_plane(prepared, plane))
    return picture


def _numpy_baselines(volume: Volume) -> dict[str, Callable[[], object]]:
    voxels = volume.voxels
    nk, nj, ni = volume.shape
    dk = max(1, round(20.0 / volume.spacing[2]))
    di = max(1, round(20.0 / volume.spacing[0]))
    return {
        "numpy-axial": lambda: voxels[nk // 2].astype(np.float32),
        "numpy-sagittal": lambda: voxels[:, :, ni // 2].astype(np.float32),
        "numpy-slab-axial": lambda: voxels[nk // 2 - dk // 2 : nk // 2 + dk // 2].max(axis=0),
        "numpy-slab-sagittal": lambda: voxels[:, :, ni // 2 - di // 2 : ni // 2 + di // 2].max(
            axis=2
        ),
    }


def _planes(volume: Volume, spacing: float) -> dict[str, Plane]:
    centre = volume.center
    planes = {name: Plane(centre, *axes, spacing, 512, 512) for name, axes in PLANES.items()}
    planes["oblique"] = Plane(centre, *OBLIQUE, spacing, 512, 512)
    # viewer.gui.mpr_view.coarse_plane of the oblique plane (the tests hold the two equal)
    planes["oblique-half"] = Plane(centre, *OBLIQUE, 2 * spacing, 256, 256)
    return planes


def _slab(plane: Plane) -> Plane:
    return dataclasses.replace(plane, slab=20.0, mode=SlabMode.MIP)


def _display_float(volume: Volume, plane: Plane, values: np.ndarray) -> None:
    from viewer.dicom.display import to_display
    from viewer.volume.reslice import plane_frame_info

    to_display(values, plane_frame_info(volume, plane))
