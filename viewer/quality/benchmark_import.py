"""Issue 19's import target: importing with validation on takes <= 1.15x importing with it off,
in time to commit (the files importable and shown), the median of passes.

Both are `dicom-viewer import DIR --json` as a process into a fresh archive, with and without
`--no-validate`, alternating (which goes first swaps every pass) so that load on a shared
machine falls on both alike. "Committed" is when another process sees every instance in the
index (viewer.archive.archive.committed_instances, polled every few milliseconds); the command
with validation then goes on to validate, and its exit is when the findings are stored (shown
for information).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from viewer.archive.archive import committed_instances
from viewer.dicom.demo import write_ct_series
from viewer.dicom.files import expand_paths

TARGET_RATIO = 1.15
_POLL_S = 0.005


@dataclass(frozen=True)
class ImportValidationBenchmark:
    """Seconds per pass in run order: time to commit with validation off and on, and the time
    until the findings were stored (the process with validation on, start to exit)."""

    files: int
    off_commit: list[float]
    on_commit: list[float]
    on_findings: list[float]

    @property
    def ratios(self) -> list[float]:
        return [on / off for on, off in zip(self.on_commit, self.off_commit, strict=True)]


def measure_import_validation(
    passes: int, files: int = 1000, workdir: Path | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> ImportValidationBenchmark:
    """Import a synthetic 512x512 CT of `files` slices `passes` times each way."""
    with tempfile.TemporaryDirectory(prefix="bench-quality-import-", dir=workdir) as scratch:
        folder = (workdir or Path(scratch)) / f"ct-{files}"
        if len(expand_paths([folder]) if folder.is_dir() else []) != files:
            progress(f"writing a {files}-slice CT")
            shutil.rmtree(folder, ignore_errors=True)
            write_ct_series(folder, slices=files)
        off: list[float] = []
        on: list[float] = []
        findings: list[float] = []
        for number in range(1, passes + 1):
            progress(f"pass {number} of {passes}")
            for validate in ((False, True) if number % 2 else (True, False)):
                archive = Path(scratch) / f"archive-{number}-{validate}"
                committed, ended = _import(folder, archive, files, validate)
                (on if validate else off).append(committed)
                if validate:
                    findings.append(ended)
                shutil.rmtree(archive, ignore_errors=True)
    return ImportValidationBenchmark(files, off, on, findings)


def _import(folder: Path, archive: Path, files: int, validate: bool) -> tuple[float, float]:
    """Seconds until every file is committed, and until the process ended."""
    command = [sys.executable, "-m", "viewer", "--archive", str(archive), "import",
               str(folder), "--json", *([] if validate else ["--no-validate"])]
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        committed = None
        while committed is None and process.poll() is None:
            if committed_instances(archive) >= files:
                committed = time.perf_counter() - start
            else:
                time.sleep(_POLL_S)
        out, err = process.communicate()
        ended = time.perf_counter() - start
    if committed is None and committed_instances(archive) >= files:
        committed = ended  # committed between the last poll and the exit
    if process.returncode != 0 or committed is None:
        last = (err.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"import {folder}: exit {process.returncode}: {last}")
    findings = json.loads(out)["findings"]
    if validate and (findings is None or any(s["pending"]
                                             for s in findings["studies"].values())):
        raise RuntimeError(f"import {folder}: the findings were not stored")
    return committed, ended
