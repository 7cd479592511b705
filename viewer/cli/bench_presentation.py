"""`dicom-viewer bench presentation`: issue 17's targets, each row PASS/FAIL against its limit.

The rows come from the rooms that own them: applying a GSPS to a 512x512 frame in the display
pipeline (viewer.dicom.benchmark_presentation) and in a viewport with its graphics as vector
items (viewer.gui.benchmark_presentation), burning its graphics for the raster faces
(viewer.dicom.benchmark_graphics, for information), hanging a 6-series CT with 2 priors from the
archive, in the core (viewer.reading.benchmark: protocols, facts, matching) and to the first
image of every viewport (viewer.gui.benchmark_hanging), and opening a 5,000-item SR tree
(viewer.reports.benchmark). The reading window's rows run in a child process
(viewer.gui.benchmark_reading): the command line never imports Qt. Each row is the median of
the passes, every pass shown in run order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

from viewer.cli.bench_rows import Row


def measure_rows(passes: int, progress: Callable[[str], None]) -> list[Row]:
    from viewer.dicom.benchmark_graphics import measure_graphics
    from viewer.dicom.benchmark_presentation import measure_presentation
    from viewer.reading.benchmark import measure_hanging
    from viewer.reports.benchmark import measure_sr_tree

    rows = []
    progress("presentation state")
    gsps = measure_presentation(passes)
    rows.append(Row("GSPS applied to a 512x512 frame: added", "ms",
                    [p["added_ms"] for p in gsps["passes"]], gsps["target_ms"]))
    progress("graphics")
    graphics = measure_graphics(passes)
    rows.append(Row(f"GSPS graphics burned in ({graphics['graphics']} graphics, "
                    f"{graphics['texts']} texts)", "ms", graphics["passes"]["burn_ms"]))
    progress("hanging")
    hanging = measure_hanging(passes)
    rows.append(Row("hang a 6-series CT with 2 priors (core)", "s", hanging["passes_s"],
                    hanging["target_s"]))
    progress("SR tree")
    sr = measure_sr_tree(passes)
    rows.append(Row("open a 5,000-item SR (defined lengths)", "s", sr["passes_s"],
                    sr["target_s"]))
    rows.append(Row("open a 5,000-item SR (undefined lengths)", "s",
                    sr["undefined_length_passes_s"], sr["target_s"]))
    progress("the reading window")
    rows.extend(_reading_window_rows(passes))
    return rows


def _reading_window_rows(passes: int) -> list[Row]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    done = subprocess.run(
        [sys.executable, "-m", "viewer.gui.benchmark_reading", "--passes", str(passes)],
        capture_output=True, text=True, env=env, check=False, timeout=1800)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the reading window's benchmark failed: {last}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    viewport = measured["viewport_presentation"]
    rows = [Row(f"GSPS in a 512x512 viewport ({viewport['items']} vector items): added", "ms",
                [p["added_ms"] for p in viewport["passes"]], viewport["target_ms"])]
    hanging = measured["hanging"]
    rows += [Row(f"hang to every first image, {hung['layout']} ({hung['protocol'][:16]})", "s",
                 hung["passes_s"], hanging["target_s"]) for hung in hanging["hangings"]]
    return rows
