"""Issue 19's `validate` target: <= 15 ms per file on a 1,000-file CT, the median of passes.

Measured three ways, alternating within each pass so that load on a shared machine falls on
all alike: `dicom-viewer validate DIR --json` as a process (the target: what a user runs, its
start-up included), `validate_files` in this process (the core alone), and the baseline that
bounds both: dciodvfy run on every file in turn, one process after another, as a shell loop
would.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from viewer.dicom.demo import write_ct_series
from viewer.dicom.files import expand_paths
from viewer.quality.dciodvfy import tool_path
from viewer.quality.validate import validate_files

TARGET_MS_PER_FILE = 15.0


@dataclass(frozen=True)
class QualityBenchmark:
    """Milliseconds per file, one value per pass in run order."""

    files: int
    cli_ms: list[float]
    core_ms: list[float]
    dciodvfy_ms: list[float]
    errors: int  # errors validate found on the series: 0, or the series is not a clean control


def measure_validate(
    passes: int, files: int = 1000, workdir: Path | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> QualityBenchmark:
    """Validate a synthetic 512x512 CT series of `files` slices `passes` times each way."""
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as scratch:
        folder = (workdir or Path(scratch)) / f"ct-{files}"
        paths = expand_paths([folder]) if folder.is_dir() else []
        if len(paths) != files:
            progress(f"writing a {files}-slice CT")
            paths = write_ct_series(folder, slices=files)
        tool = tool_path()
        cli, core, alone = [], [], []
        errors = 0
        for number in range(1, passes + 1):
            progress(f"pass {number} of {passes}")
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "viewer", "validate", str(folder),
                                   "--json"], capture_output=True, check=False)
            cli.append((time.perf_counter() - start) * 1000 / files)
            if done.returncode not in (0, 1):
                raise RuntimeError(f"validate failed: {done.stderr.decode(errors='replace')}")
            start = time.perf_counter()
            report = validate_files(paths)
            core.append((time.perf_counter() - start) * 1000 / files)
            errors = report.errors
            start = time.perf_counter()
            for path in paths:
                subprocess.run([tool, "-new", str(path)], capture_output=True, check=False)
            alone.append((time.perf_counter() - start) * 1000 / files)
    return QualityBenchmark(files, cli, core, alone, errors)
