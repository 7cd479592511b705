"""`bench decode`: decoding speed against GDCM measured in the same run, on a synthetic CT series.

For each transfer syntax the same files are read four ways, ms per slice, best of `repeat` passes
(a warm page cache; pass 0 reads every file once first):
(a) GDCM alone: `gdcm.ImageReader` in this process, buffer into a numpy array (the baseline);
(b) the naive loop: pydicom `dcmread` + `ds.pixel_array`;
(c) ours in one process: `viewer.dicom.pixels.decode_frame`;
(d) ours with the pool (batch depth 2, as `render -j`): every frame requested at once, wall time
    until all are in the parent.
Then the display pipeline on one 512 x 512 16-bit frame; `dicom-viewer render DIR -o OUT -j 2`
against the naive loop (one process: pydicom + numpy + Pillow, the same PNGs), both whole
processes, alternating, at least 5 passes each, medians (every pass printed); and the cache cost
of the series against its size.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viewer.decode.cache import FrameCache
from viewer.decode.pool import DecodePool
from viewer.decode.requests import Frame, FrameRequest
from viewer.decode.tuning import tune_malloc

LOGGER = logging.getLogger(__name__)

SYNTAXES = ("explicit-le", "deflate", "jpeg-lossless-sv1", "jpeg-ls", "j2k", "rle")
ROWS = COLUMNS = 512
POOL_WORKERS = 2

# Targets from the project brief: ratio (or ms) that must not be exceeded.
TARGET_OURS_VS_GDCM = 1.3
TARGET_POOL_VS_GDCM = 1.0
TARGET_DISPLAY_MS = 2.0
TARGET_RENDER_RATIO = 0.6
TARGET_CACHE_RATIO = 1.15
RENDER_PASSES = 5  # at least: whole processes, the median counts

Progress = Callable[[str], None]


@dataclass
class SyntaxTiming:
    """ms per slice of one transfer syntax, four ways."""

    syntax: str
    gdcm_ms: float
    pydicom_ms: float
    ours_ms: float
    pool_ms: float

    @property
    def ours_vs_gdcm(self) -> float:
        return self.ours_ms / self.gdcm_ms

    @property
    def pool_vs_gdcm(self) -> float:
        return self.pool_ms / self.gdcm_ms


@dataclass
class Target:
    """A measured value against the issue's limit (`bench decode`, `bench import`)."""

    name: str
    value: float
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        return self.value <= self.limit


# Whole processes, as a user starts them: the same interpreter, environment and working
# directory (the folder holding this `viewer`, so `-m viewer` runs this very code).
_PROCESS_CWD = Path(__file__).resolve().parents[2]


# As an installed program runs: with its modules' bytecode cached. PYTHONDONTWRITEBYTECODE
# (set in some shells and CI images) would make every pass compile the viewer's modules again,
# 20-40 ms of a 0.3 s start that no user pays after the first run.
_INSTALLED_ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def viewer_command(*args: str) -> list[str]:
    """`dicom-viewer ARGS` as a process of this interpreter (what the console script runs)."""
    return [sys.executable, "-m", "viewer", *args]


def script_command(script: str, *args: str) -> list[str]:
    """A baseline script (`python -c SCRIPT ARGS`), started as `viewer_command` starts ours."""
    return [sys.executable, "-c", script, *args]


def timed_process(command: list[str]) -> tuple[float, str]:
    """Wall seconds of one whole process, start to exit, and its stdout; RuntimeError naming
    the command and its last stderr line when it fails (a failed pass measures nothing)."""
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=_PROCESS_CWD, env=_INSTALLED_ENVIRONMENT, capture_output=True, text=True,
        check=False, timeout=3600,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{' '.join(command[1:3])}: exit {done.returncode}: {last}")
    return seconds, done.stdout


def alternating(repeat: int, passes: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each measurement `repeat` times, in turn; the order reverses every pass, so neither
    side always runs first (or after the other). Every pass's seconds, in run order."""
    times: dict[str, list[float]] = {name: [] for name in passes}
    names = list(passes)
    for n in range(repeat):
        for name in names if n % 2 == 0 else reversed(names):
            times[name].append(passes[name]())
    return times


def format_passes(times: dict[str, list[float]]) -> str:
    """'name median s (pass pass ...)' for each measurement: every pass, in run order."""
    return "\n".join(
        f"  {name:<28}{statistics.median(t):8.3f} s median  ({' '.join(f'{x:.3f}' for x in t)})"
        for name, t in times.items()
    )


@dataclass
class DecodeBenchmark:
    """Everything `bench decode` measured."""

    slices: int
    rows: int
    columns: int
    workers: int
    pool_ready_s: float = 0.0
    syntaxes: list[SyntaxTiming] = field(default_factory=list)
    display_ms: float = 0.0
    display_cold_ms: float = 0.0
    copy_ms: float = 0.0
    render_pool_ms: float = 0.0
    render_naive_ms: float = 0.0
    render_warm_ms: float = 0.0
    cache_bytes: int = 0
    cache_heap_bytes: int = 0
    raw_bytes: int = 0
    render_passes: dict[str, list[float]] = field(default_factory=dict)  # seconds, run order

    @property
    def cache_ratio(self) -> float:
        return (self.cache_bytes + self.cache_heap_bytes) / max(self.raw_bytes, 1)

    def targets(self) -> list[Target]:
        out = [
            Target(f"ours/GDCM {s.syntax}", s.ours_vs_gdcm, TARGET_OURS_VS_GDCM, "x")
            for s in self.syntaxes
        ]
        out += [
            Target(f"pool/GDCM {s.syntax}", s.pool_vs_gdcm, TARGET_POOL_VS_GDCM, "x")
            for s in self.syntaxes
        ]
        out.append(Target("display 512x512 16-bit", self.display_ms, TARGET_DISPLAY_MS, "ms"))
        out.append(
            Target(
                f"render -j {self.workers} / naive loop",
                self.render_pool_ms / max(self.render_naive_ms, 1e-9),
                TARGET_RENDER_RATIO,
                "x",
            )
        )
        out.append(Target("cache / raw size", self.cache_ratio, TARGET_CACHE_RATIO, "x"))
        return out

    def to_json(self) -> str:
        data: dict[str, Any] = {
            k: v for k, v in asdict(self).items() if k != "syntaxes"
        }
        data["syntaxes"] = {
            s.syntax: {
                "gdcm_ms": s.gdcm_ms,
                "pydicom_ms": s.pydicom_ms,
                "ours_ms": s.ours_ms,
                "pool_ms": s.pool_ms,
                "ours_vs_gdcm": s.ours_vs_gdcm,
                "pool_vs_gdcm": s.pool_vs_gdcm,
            }
            for s in self.syntaxes
        }
        data["cache_ratio"] = self.cache_ratio
        data["targets"] = [{**asdict(t), "met": t.met} for t in self.targets()]
        return json.dumps(data, indent=2)


# --- data ---------------------------------------------------------------------------------------


def prepare_series(workdir: Path, slices: int, progress: Progress) -> dict[str, list[Path]]:
    """The synthetic CT series in every benchmarked syntax; reused when `workdir` has it."""
    from viewer.dicom import demo

    manifest = workdir / "bench-decode.json"
    wanted = {"slices": slices, "rows": ROWS, "columns": COLUMNS, "syntaxes": list(SYNTAXES)}
    series: dict[str, list[Path]] = {}
    if manifest.is_file() and json.loads(manifest.read_text()) == wanted:
        for syntax in SYNTAXES:
            series[syntax] = sorted((workdir / syntax).glob("CT*.dcm"))
        if all(len(files) == slices for files in series.values()):
            progress(f"reusing the {slices}-slice series in {workdir}")
            return series
    for syntax in SYNTAXES:
        shutil.rmtree(workdir / syntax, ignore_errors=True)
    progress(f"writing a {slices}-slice {ROWS}x{COLUMNS} CT series")
    source = demo.write_ct_series(workdir / "explicit-le", slices, ROWS, COLUMNS)
    series["explicit-le"] = source
    for syntax in SYNTAXES[1:]:
        progress(f"transcoding to {syntax}")
        series[syntax] = demo.transcode(source, syntax, workdir / syntax)
    manifest.write_text(json.dumps(wanted))
    return series


# --- the four readers ---------------------------------------------------------------------------


def read_gdcm(path: Path) -> np.ndarray:
    """The baseline: GDCM reads the file and decodes; its buffer becomes a numpy array."""
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(str(path))
    if not reader.Read():
        raise RuntimeError(f"GDCM cannot read {path}")
    image = reader.GetImage()
    columns, rows = image.GetDimension(0), image.GetDimension(1)
    pixel_format = image.GetPixelFormat()
    if not _GDCM_DTYPES:
        _GDCM_DTYPES.update(_gdcm_dtypes())
    dtype = _GDCM_DTYPES[pixel_format.GetScalarType()]
    # python-gdcm hands the buffer over as a str; this is how pydicom's GDCM plugin gets bytes.
    data = image.GetBuffer().encode("utf-8", "surrogateescape")
    return np.frombuffer(data, dtype=dtype).reshape(rows, columns)


def _gdcm_dtypes() -> dict[int, str]:
    import gdcm

    pf = gdcm.PixelFormat
    return {pf.UINT8: "u1", pf.INT8: "i1", pf.UINT16: "<u2", pf.INT16: "<i2"}


_GDCM_DTYPES: dict[int, str] = {}


def read_pydicom(path: Path) -> np.ndarray:
    from pydicom import dcmread

    return dcmread(path).pixel_array  # type: ignore[no-any-return]


def read_ours(path: Path) -> np.ndarray:
    from viewer.dicom.pixels import decode_frame

    return decode_frame(path, 0).array


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """Smallest wall time of `repeat` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _loop(reader: Callable[[Path], np.ndarray], files: list[Path]) -> Callable[[], None]:
    def run() -> None:
        for path in files:
            reader(path)

    return run


def _pool_all(pool: DecodePool, files: list[Path]) -> list[Frame]:
    futures = pool.submit_many(FrameRequest(str(p), 0, i) for i, p in enumerate(files))
    return [f.result(600) for f in futures]


# --- the benchmark ------------------------------------------------------------------------------


def run_decode_benchmark(
    slices: int = 300,
    workdir: Path | None = None,
    repeat: int = 3,
    progress: Progress | None = None,
) -> DecodeBenchmark:
    """Measure everything `bench decode` reports; see the module docstring."""
    say = progress or (lambda message: None)
    # Workers tune malloc (see `tuning`); the in-process readers get the same allocator so
    # that the baseline is measured as favourably as we are.
    tune_malloc()
    with _workdir(workdir) as where:
        series = prepare_series(where, slices, say)
        result = DecodeBenchmark(slices, ROWS, COLUMNS, POOL_WORKERS)
        start = time.perf_counter()
        with DecodePool(POOL_WORKERS, depth=2) as pool:
            pool.wait_ready(60)
            result.pool_ready_s = time.perf_counter() - start
            for syntax in SYNTAXES:
                say(f"decoding {syntax}")
                files = series[syntax]

                def pooled(f: list[Path] = files) -> list[Frame]:
                    return _pool_all(pool, f)

                _check_same_pixels(files[0], series["explicit-le"][0])
                for path in files:  # pass 0: page cache
                    path.read_bytes()
                n = len(files)
                result.syntaxes.append(
                    SyntaxTiming(
                        syntax,
                        gdcm_ms=best_of(repeat, _loop(read_gdcm, files)) * 1000 / n,
                        pydicom_ms=best_of(repeat, _loop(read_pydicom, files)) * 1000 / n,
                        ours_ms=best_of(repeat, _loop(read_ours, files)) * 1000 / n,
                        pool_ms=best_of(repeat, pooled) * 1000 / n,
                    )
                )
            say("cache cost")
            _measure_cache(pool, series["explicit-le"], result)
        say("display pipeline")
        _measure_display(series["explicit-le"][len(series["explicit-le"]) // 2], result)
        say("render to PNG")
        _measure_render(series["explicit-le"], where, result, max(repeat, RENDER_PASSES))
    return result


@contextmanager
def _workdir(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        yield Path(tmp)


def _check_same_pixels(path: Path, reference: Path) -> None:
    """Lossless syntaxes only: every reader must agree, or the timings compare nothing."""
    expected = read_ours(reference)
    for reader in (read_gdcm, read_pydicom, read_ours):
        got = reader(path)
        if got.shape != expected.shape or not np.array_equal(got, expected):
            raise RuntimeError(f"{reader.__name__} decodes {path} differently from the source")


def _measure_cache(pool: DecodePool, files: list[Path], result: DecodeBenchmark) -> None:
    # Python objects (Frame, FrameInfo) are on the traced heap; pixels are in shared memory,
    # which tracemalloc does not see and the cache counts in whole pages.
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cache = FrameCache(1 << 40)
    for frame in _pool_all(pool, files):
        cache.put(frame)
    heap = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    result.cache_bytes = cache.nbytes
    result.cache_heap_bytes = max(heap, 0)
    result.raw_bytes = len(files) * ROWS * COLUMNS * 2
    cache.clear()


def _measure_display(path: Path, result: DecodeBenchmark) -> None:
    from viewer.dicom import display
    from viewer.dicom.pixels import decode_frame

    decoded = decode_frame(path, 0)
    state = display.DisplayState()
    start = time.perf_counter()
    display.to_display(decoded.array, decoded.info, state)  # builds the composed LUT once
    result.display_cold_ms = (time.perf_counter() - start) * 1000
    result.display_ms = best_of(20, lambda: display.to_display(decoded.array, decoded.info, state))
    result.display_ms *= 1000
    result.copy_ms = best_of(20, lambda: np.copy(decoded.array)) * 1000


# The naive loop: what a script does without us, one process, the same PNGs as `render`.
NAIVE_RENDER_SCRIPT = """
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.multival import MultiValue
source, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
for path in sorted(source.iterdir()):
    ds = dcmread(path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    center, width = ds.WindowCenter, ds.WindowWidth
    if isinstance(center, MultiValue):
        center, width = center[0], width[0]
    low = float(center) - float(width) / 2
    grey = np.clip((hu - low) / float(width) * 255.0, 0, 255).astype(np.uint8)
    Image.fromarray(grey).save(out / (path.name + ".png"))
"""


def _measure_render(
    files: list[Path], where: Path, result: DecodeBenchmark, repeat: int
) -> None:
    """`dicom-viewer render DIR -o OUT -j 2` against the naive loop, both whole processes."""
    from viewer.dicom.display import DisplayState, render_to_png

    source = files[0].parent
    out = where / "png"
    passes = iter(range(2 * repeat))
    n = len(files)

    def timed(command: list[str], target: Path) -> float:
        try:
            seconds = timed_process(command)[0]
            if len(list(target.iterdir())) != n:
                raise RuntimeError(f"{command[2]}: {n} PNG files expected in {target}")
            return seconds
        finally:
            shutil.rmtree(target, ignore_errors=True)

    def naive() -> float:
        target = out / f"naive-{next(passes)}"
        return timed(script_command(NAIVE_RENDER_SCRIPT, str(source), str(target)), target)

    def ours() -> float:
        target = out / f"render-{next(passes)}"
        command = viewer_command("render", str(source), "-o", str(target), "-j",
                                 str(POOL_WORKERS))
        return timed(command, target)

    result.render_passes = alternating(
        repeat, {"naive loop": naive, f"render -j {POOL_WORKERS}": ours}
    )
    result.render_naive_ms = statistics.median(result.render_passes["naive loop"]) * 1000 / n
    result.render_pool_ms = (
        statistics.median(result.render_passes[f"render -j {POOL_WORKERS}"]) * 1000 / n
    )

    # as an export from the GUI would, with its pool already running (in this process)
    def render_all(pool: DecodePool) -> None:
        state = DisplayState()
        futures = [
            pool.submit_call(render_to_png, str(p), 0, state, str(out / f"{i:04d}.png"))
            for i, p in enumerate(files)
        ]
        for f in futures:
            f.result(600)

    out.mkdir(exist_ok=True)
    with DecodePool(POOL_WORKERS, depth=2) as warm:
        warm.wait_ready(60)
        result.render_warm_ms = best_of(repeat, lambda: render_all(warm)) * 1000 / n
    shutil.rmtree(out, ignore_errors=True)


# --- text output --------------------------------------------------------------------------------


def format_table(b: DecodeBenchmark) -> str:
    """The human table (parsed by the smoke test: keep the column layout)."""
    lines = [
        f"decode: {b.slices} slices {b.columns}x{b.rows} 16-bit CT, ms/slice "
        f"(best of several passes, malloc tuned in every process); pool: {b.workers} workers, "
        f"ready in {b.pool_ready_s:.2f} s",
        f"{'syntax':<20}{'GDCM':>9}{'pydicom':>9}{'ours':>9}{'pool':>9}"
        f"{'ours/GDCM':>11}{'pool/GDCM':>11}",
    ]
    lines += [
        f"{s.syntax:<20}{s.gdcm_ms:>9.2f}{s.pydicom_ms:>9.2f}{s.ours_ms:>9.2f}"
        f"{s.pool_ms:>9.2f}{s.ours_vs_gdcm:>11.2f}{s.pool_vs_gdcm:>11.2f}"
        for s in b.syntaxes
    ]
    lines += [
        "",
        f"display 512x512 16-bit -> 8-bit: {b.display_ms:.3f} ms "
        f"(first call {b.display_cold_ms:.2f} ms; numpy.copy {b.copy_ms:.3f} ms, "
        f"ratio {b.display_ms / max(b.copy_ms, 1e-9):.1f}x)",
        f"render to PNG: pool -j {b.workers} {b.render_pool_ms:.2f} ms/slice "
        f"(whole processes, median; {b.render_warm_ms:.2f} with a running pool), "
        f"naive loop {b.render_naive_ms:.2f} ms/slice, "
        f"ratio {b.render_pool_ms / max(b.render_naive_ms, 1e-9):.2f}",
        format_passes(b.render_passes),
        f"cache: {b.cache_bytes + b.cache_heap_bytes} bytes for {b.raw_bytes} raw "
        f"(pixels {b.cache_bytes}, Python objects {b.cache_heap_bytes}), "
        f"ratio {b.cache_ratio:.3f}",
        "",
        f"{'target':<34}{'value':>9}{'limit':>9}  result",
    ]
    for t in b.targets():
        lines.append(
            f"{t.name:<34}{t.value:>8.2f}{t.unit:<1}{t.limit:>8.2f}{t.unit:<1}  "
            f"{'ok' if t.met else 'MISSED'}"
        )
    return "\n".join(lines)
