"""`dicom-viewer bench volume`: issue 16's targets table on a synthetic 512x512xN int16 CT.

Each part is measured by the module of the helper who owns it (`benchmark_build.measure_build`,
`benchmark_planes.measure_planes`, `benchmark_3d.measure_3d`); this module adds the fused frame
and the memory of MPR with slabs, and turns everything into rows: the median of every pass, the
passes in run order, the target and PASS/FAIL. A part whose module is not installed is listed
as not run, with the module's name.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from viewer.volume.model import PLANES, Plane, SlabMode, Volume, orthonormal

ROWS, COLUMNS = 512, 512
FUSED_TARGET_MS = 30.0
MEMORY_TARGET = 1.3  # process tree's peak RSS / the volume's bytes, MPR + slabs
PET_SPACING_MM = 4.0
# A double-oblique direction pair (the planes benchmark uses its own; any will do)
OBLIQUE = orthonormal((0.82, 0.45, -0.35), (0.25, 0.27, -0.93))


@dataclass
class Row:
    """One measured quantity: `passes` in run order, `target` the issue's limit (None: shown
    for information), in `unit` ("ms", "s" or "x" for a ratio)."""

    part: str
    name: str
    unit: str
    passes: list[float]
    target: float | None = None
    what: str = ""

    @property
    def median(self) -> float:
        return float(statistics.median(self.passes))

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.median <= self.target


@dataclass
class VolumeBenchmark:
    shape: tuple[int, int, int]
    passes: int
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def targets(self) -> list[Row]:
        return [row for row in self.rows if row.target is not None]

    def to_json(self) -> str:
        return json.dumps({
            "shape": list(self.shape), "passes": self.passes,
            "rows": [{**asdict(row), "median": row.median, "met": row.met} for row in self.rows],
            "notes": self.notes,
        }, indent=2)

    def table(self) -> str:
        slices, rows, columns = self.shape
        mib = slices * rows * columns * 2 / 2**20
        lines = [f"volume: {columns}x{rows}x{slices} int16 CT ({mib:.0f} MiB), median of "
                 f"{self.passes} pass(es), every pass in run order"]
        lines.append(f"{'part':<7} {'measure':<34} {'median':>10} {'target':>11}  result  passes")
        for row in self.rows:
            result = {None: "-", True: "PASS", False: "FAIL"}[row.met]
            target = "" if row.target is None else f"<= {_value(row.target, row.unit)}"
            passes = " ".join(_value(p, row.unit, bare=True) for p in row.passes)
            lines.append(f"{row.part:<7} {row.name:<34} {_value(row.median, row.unit):>10} "
                         f"{target:>11}  {result:<6}  {passes}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def _value(value: float, unit: str, bare: bool = False) -> str:
    if unit == "x":
        return f"{value:.2f}" if bare else f"{value:.2f}x"
    if unit == "s":
        return f"{value:.2f}" if bare else f"{value:.2f} s"
    return f"{value:.1f}" if bare else f"{value:.1f} ms"


def run_volume_benchmark(
    slices: int = 1000, passes: int = 5, progress: Callable[[str], None] | None = None
) -> VolumeBenchmark:
    """Every part of the volume targets on a 512x512x`slices` int16 CT, in this order: the
    build (its own memory first, while this process is small), planes and slabs, the fused
    frame, MPR memory (a child process), 3D."""
    say = progress or (lambda message: None)
    shape = (slices, ROWS, COLUMNS)
    result = VolumeBenchmark(shape, passes)
    say("build")
    _part(result, "viewer.volume.benchmark_build", lambda: _build_rows(result, shape, passes))
    say("synthetic CT")
    volume = _part(result, "viewer.volume.benchmark_planes", lambda: _synthetic(slices))
    if volume is None:
        return result
    say("planes")
    _part(result, "viewer.volume.benchmark_planes", lambda: _plane_rows(result, volume, passes))
    say("fused frame")
    _part(result, "viewer.volume.fusion", lambda: _fused_rows(result, volume, passes))
    say("memory")
    _memory_rows(result, slices)
    say("3D")
    _part(result, "viewer.volume.benchmark_3d", lambda: _3d_rows(result, volume, passes))
    result.notes.append("event-loop stalls while dragging a crosshair: `bench gui`")
    return result


def _part(result: VolumeBenchmark, module: str, run: Callable[[], Any]) -> Any:
    """Run one part; a module of the part that is not installed is noted, not fatal."""
    try:
        return run()
    except ModuleNotFoundError as exc:
        if not (exc.name and module.startswith(exc.name)):
            raise
        result.notes.append(f"NOT RUN: {module} is not installed")
        return None


def _synthetic(slices: int) -> Volume:
    from viewer.volume.benchmark_planes import synthetic_ct

    volume: Volume = synthetic_ct(slices=slices, size=ROWS)
    return volume


def _build_rows(result: VolumeBenchmark, shape: tuple[int, int, int], passes: int) -> None:
    from viewer.volume.benchmark_build import measure_build

    measured = measure_build(passes, shape)
    runs, targets = measured["passes"], measured["targets"]
    result.rows.append(Row("build", "build / one ndarray.copy()", "x", runs["build_vs_copy"],
                           targets["build_vs_copy"], "from 1 cached frame per slice"))
    result.rows.append(Row("build", "peak memory / volume", "x", runs["peak_memory_vs_volume"],
                           targets["peak_memory_vs_volume"]))
    result.rows.append(Row("build", "build (information)", "s", runs["build_s"]))
    result.rows.append(Row("build", "ndarray.copy() (baseline)", "s", runs["copy_s"]))


def _plane_rows(result: VolumeBenchmark, volume: Volume, passes: int) -> None:
    from viewer.volume.benchmark_planes import measure_planes

    # {case: {"passes_ms": [...], "target_ms": t | None, "what": text}, plus "first_call":
    # {"seconds": s} and "load": {"before": l, "after": l} (1-minute load averages)
    measured: dict[str, dict[str, Any]] = measure_planes(volume, passes)
    for name, case in measured.items():
        if "passes_ms" in case:
            result.rows.append(Row("planes", name, "ms", [float(t) for t in case["passes_ms"]],
                                   case["target_ms"], str(case.get("what", ""))))
    first, load = measured.get("first_call", {}), measured.get("load", {})
    if "seconds" in first:
        result.notes.append(f"first reslice in this process (kernels loaded): "
                            f"{first['seconds']:.2f} s")
    for kind in ("seg", "rtstruct"):
        prepared = measured.get(f"prepare-{kind}", {})
        if "seconds" in prepared:
            result.notes.append(f"{kind.upper()} of the overlay cases prepared for the volume "
                                f"(once, off the GUI thread): {prepared['seconds']:.2f} s")
    if "before" in load and "after" in load:
        result.notes.append(f"load average during the planes: {load['before']:.1f} before, "
                            f"{load['after']:.1f} after (2 cores)")


def pet_overlay(ct: Volume, spacing: float = PET_SPACING_MM) -> Volume:
    """A PET-like float32 overlay on a `spacing` grid covering `ct`, in its Frame of Reference:
    5,000 Bq/ml background, a 25 mm hot sphere of 40,000 at the centre; SUVbw factor 2e-4
    (so 1 and 8 SUV)."""
    lo, hi = ct.corners().min(axis=0), ct.corners().max(axis=0)
    counts = np.floor((hi - lo) / spacing).astype(int) + 1
    ni, nj, nk = (int(n) for n in counts)
    k, j, i = np.ogrid[0:nk, 0:nj, 0:ni]
    centre = (counts - 1) / 2.0
    r2 = ((i - centre[0]) ** 2 + (j - centre[1]) ** 2 + (k - centre[2]) ** 2) * spacing**2
    voxels = np.where(r2 <= 25.0**2, np.float32(40000.0), np.float32(5000.0))
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = lo
    pet = Volume(voxels.astype(np.float32), affine, ct.frame_of_reference_uid, "2.25.3",
                 modality="PT", units="BQML", padding=0.0, suv_factor=2e-4)
    pet.filled[:] = True
    return pet


def _fused_rows(result: VolumeBenchmark, volume: Volume, passes: int) -> None:
    from viewer.dicom.display import DisplayState
    from viewer.volume.fusion import fused_plane
    from viewer.volume.reslice import plane_frame_info

    pet = pet_overlay(volume)
    spacing = min(volume.spacing[:2])
    state = DisplayState(window=(40.0, 400.0))
    for name, (row, column) in (("axial", PLANES["axial"]), ("oblique", OBLIQUE)):
        plane = Plane(volume.center, row, column, spacing, COLUMNS, ROWS)
        info = plane_frame_info(volume, plane)

        def frame(plane: Plane = plane, info: Any = info) -> None:
            fused_plane(volume, pet, plane, state, 0.0, 5.0, "hot-iron", 0.5, suv=True,
                        base_info=info)

        times = _timed(frame, passes)
        result.rows.append(Row("fusion", f"fused {name} 512x512", "ms", times, FUSED_TARGET_MS,
                               f"PET {PET_SPACING_MM:g} mm over the CT, hot iron, SUV 0-5"))


def _timed(job: Callable[[], None], passes: int) -> list[float]:
    job()  # warm: kernels compiled or loaded, tables cached
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        job()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def _memory_rows(result: VolumeBenchmark, slices: int) -> None:
    """MPR + slabs in a fresh child process: its peak RSS against the volume's bytes."""
    command = [sys.executable, "-c",
               f"from viewer.volume.benchmark import memory_child; memory_child({slices})"]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "ModuleNotFoundError" in last:
            result.notes.append(f"NOT RUN: MPR memory: {last}")
            return
        raise RuntimeError(f"the MPR memory child failed: {last}")
    measured = json.loads(done.stdout)
    result.rows.append(Row("memory", "MPR + slabs peak RSS / volume", "x",
                           [measured["peak_ratio"]], MEMORY_TARGET,
                           "child process: 3 views + oblique, thin and 20 mm slabs"))
    result.rows.append(Row("memory", "same, above the bare interpreter", "x",
                           [measured["above_baseline_ratio"]]))
    mib = 2**20
    result.notes.append(
        "MPR memory, RSS in MiB: interpreter with imports {:.0f}, + kernels and volume {:.0f}, "
        "after the first reslice {:.0f}, peak {:.0f}, at the end {:.0f}".format(
            measured["baseline_bytes"] / mib, measured["volume_bytes"] / mib,
            measured["first_reslice_bytes"] / mib, measured["peak_bytes"] / mib,
            measured["settled_bytes"] / mib))
    result.notes.append(
        "the reslice kernels (loaded first) added, in MiB: RssAnon {:.1f}, RssFile "
        "{:.1f}, PSS {:.1f}".format(*(
            (measured["kernels"][key] - measured["baseline"][key]) / mib
            for key in ("RssAnon", "RssFile", "Pss"))))


def memory_child(slices: int) -> None:
    """Run in a child: load the reslice kernels, build the synthetic CT, cut what the MPR
    layout shows (three views and an oblique, thin and 20 mm slabs of each mode, twice), print
    peak RSS ratios as JSON.

    The kernels load first, as in the reading window: its views cut their first planes while
    the volume fills (its pages untouched until a slice arrives)."""
    from viewer.volume.benchmark_planes import synthetic_ct
    from viewer.volume.reslice import reslice
    from viewer.volume.reslice_kernels import library

    baseline = _status_bytes("VmRSS")
    parts_baseline = _memory_parts()
    library()
    parts_kernels = _memory_parts()
    volume = synthetic_ct(slices=slices, size=ROWS)
    spacing = min(volume.spacing[:2])
    with_volume = _status_bytes("VmRSS")
    planes = [Plane(volume.center, row, column, spacing, COLUMNS, ROWS)
              for row, column in (*PLANES.values(), OBLIQUE)]
    reslice(volume, planes[0])
    first_reslice = _status_bytes("VmRSS")
    for _ in range(2):
        for plane in planes:
            reslice(volume, plane)
            for mode in SlabMode:
                reslice(volume, replace(plane, slab=20.0, mode=mode))
    peak = _status_bytes("VmHWM")
    print(json.dumps({
        "peak_ratio": peak / volume.voxels.nbytes,
        "above_baseline_ratio": (peak - baseline) / volume.voxels.nbytes,
        "peak_bytes": peak, "baseline_bytes": baseline, "volume_bytes": with_volume,
        "first_reslice_bytes": first_reslice, "settled_bytes": _status_bytes("VmRSS"),
        "baseline": parts_baseline, "kernels": parts_kernels,
    }))


def _memory_parts() -> dict[str, int]:
    """RssAnon and RssFile (/proc/self/status) and PSS (smaps_rollup), in bytes: what a
    library's code costs (file-backed, shared) apart from what the process allocated."""
    parts = {key: _status_bytes(key) for key in ("RssAnon", "RssFile")}
    with open("/proc/self/smaps_rollup", encoding="ascii") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                parts["Pss"] = int(line.split()[1]) * 1024
    return parts


def _status_bytes(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    return 0


def _3d_rows(result: VolumeBenchmark, volume: Volume, passes: int) -> None:
    from viewer.volume.benchmark_3d import measure_3d

    measured = measure_3d(volume, passes)
    for name, value in measured.items():
        if isinstance(value, dict) and "passes" in value:
            result.rows.append(Row("3d", name.removesuffix("_s"), "s", list(value["passes"]),
                                   value.get("limit")))
    result.notes.append(f"3D on {measured.get('opengl_renderer', '?')}, "
                        f"{measured.get('size', '?')} pixels")
