"""`dicom-viewer bench web`: issue 18's targets, each row PASS/FAIL against its limit.

The network rows come from viewer.net.benchmark_web (Orthanc with DICOMweb started here, the
study stored once). The first image of a study opened from a DICOMweb node is the reading
window's: `python -m viewer.gui.benchmark_web --passes N --url URL --study UID --warm-up FILE`
runs as a child (the command line never imports Qt) against the same Orthanc and prints
{"passes_s": [...], "target_s": 0.5, ...}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from viewer.net.benchmark_web import Row

FIRST_IMAGE = "first image of a study opened from a DICOMweb node"
FIRST_IMAGE_TARGET_S = 0.5
GUI_MODULE = "viewer.gui.benchmark_web"


def measure_rows(images: int, passes: int, workdir: Path | None,
                 progress: Callable[[str], None]) -> list[Row]:
    """Every row of the table, in the order of the issue's targets."""
    from viewer.net.benchmark_web import (
        bigger_series,
        measure_retrieve,
        measure_send,
        measure_send_memory,
        web_pacs,
    )

    with tempfile.TemporaryDirectory(prefix="bench-web-", dir=workdir) as scratch:
        work = Path(scratch)
        with web_pacs(work, images, progress) as pacs:
            rows = [measure_retrieve(pacs, passes, work, progress),
                    measure_send(pacs, passes, work, progress),
                    measure_send_memory(pacs, pacs.files, passes, progress)]
            bigger = bigger_series(work, 2 * images, progress)
            rows.append(measure_send_memory(pacs, bigger, passes, progress))
            if pacs.instances() != images:  # the first image is of the study alone
                raise RuntimeError(f"Orthanc holds {pacs.instances()} instances, not {images}")
            progress("first image from the DICOMweb node")
            rows.append(first_image_row(pacs.url, passes, pacs.study_uid, pacs.files[0]))
    return rows


def first_image_row(url: str, passes: int, study_uid: str, warm_up: Path) -> Row:
    """The reading window's first image from the DICOMweb node at `url`, measured by
    viewer.gui.benchmark_web in a child process (`warm_up`: one of the study's files, which
    the child's decode worker reads before the clock starts); a FAIL naming the reason when it
    fails: never a number it did not measure."""
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    command = [sys.executable, "-m", GUI_MODULE, "--passes", str(passes), "--url", url,
               "--study", study_uid, "--warm-up", str(warm_up)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                              timeout=900)
    except subprocess.TimeoutExpired:
        return Row(FIRST_IMAGE, "s", (), FIRST_IMAGE_TARGET_S,
                   note=f"{GUI_MODULE} did not finish within 900 s")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Row(FIRST_IMAGE, "s", (), FIRST_IMAGE_TARGET_S,
                   note=f"{GUI_MODULE} failed (exit {done.returncode}): {last[:200]}")
    try:
        measured = json.loads((done.stdout.strip().splitlines() or [""])[-1])
        seconds = tuple(float(s) for s in measured["passes_s"])
        target = float(measured.get("target_s", FIRST_IMAGE_TARGET_S))
    except (ValueError, KeyError, TypeError):
        return Row(FIRST_IMAGE, "s", (), FIRST_IMAGE_TARGET_S,
                   note=f"{GUI_MODULE} printed no {{\"passes_s\": [...]}} line")
    if not seconds:
        return Row(FIRST_IMAGE, "s", (), target, note=f"{GUI_MODULE} measured no pass")
    return Row(FIRST_IMAGE, "s", seconds, target)


def table(rows: list[Row], images: int, passes: int) -> str:
    lines = [f"web: {images} uncompressed 512x512 CT images in Orthanc with its DICOMweb "
             f"plugin on loopback (TCP_NODELAY=1); median of {passes} pass(es), every pass in "
             "run order",
             f"{'measure':<66} {'value':>9} {'target':>10}  result"]
    for row in rows:
        value = "-" if row.value is None else _number(row.value, row.unit)
        target = f"<= {_number(row.target, row.unit)}"
        lines.append(f"{row.name:<66} {value:>9} {target:>10}  "
                     f"{'PASS' if row.met else 'FAIL'}")
        if row.note:
            lines.append(f"{'':4}{row.note}")
        elif row.baseline_passes:
            lines.append(f"{'':4}ours s: {_passes(row.passes)} / {row.baseline} s: "
                         f"{_passes(row.baseline_passes)}")
        else:
            lines.append(f"{'':4}passes {row.unit}: {_passes(row.passes, row.unit)}")
    return "\n".join(lines)


def to_json(rows: list[Row], images: int) -> str:
    return json.dumps({"images": images, "rows": [row.to_dict() for row in rows]}, indent=2)


def _number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:.3f} s"


def _passes(values: tuple[float, ...], unit: str = "s") -> str:
    return " ".join(f"{v:.1f}" if unit == "MB" else f"{v:.3f}" for v in values)
