"""`dicom-viewer bench gui` end to end on a small series: every target is measured and printed.
The real numbers come from the full run (1,000 slices); see the issue notes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")


def test_bench_gui_measures_every_target(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "viewer", "bench", "gui", "--slices", "40",
         "--workdir", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["slices"] == 40
    names = [t["name"] for t in result["targets"]]
    assert len(names) == 12 and any("stall" in n for n in names)
    # The MPR part: a crosshair dragged in each phase over the series' volume, which the
    # process tree then holds (the frames left the cache as the volume took them in).
    assert set(result["mpr_drag_stall_ms"]) == {"idle", "move point", "rotate", "wheel"}
    assert result["volume_bytes"] == result["raw_volume_bytes"]
    # The 3D part: a rotating drag in the 3D view on that volume, each phase's pictures shown.
    view3d = {d["phase"]: d for d in result["view3d_drag"]}
    assert set(view3d) == {"idle", "vr unshaded", "vr unshaded zoomed 2x", "vr shaded", "mip"}
    for phase, drag in view3d.items():
        assert drag["longest_stall_ms"] > 0
        if phase != "idle":
            assert drag["moves"] > 10 and drag["pictures_shown"] >= 2
            assert 0 < drag["dragging_median_s"] < 30 and 0 < drag["settled_s"] < 30
    assert result["mpr_memory_bytes"] > result["volume_bytes"]
    assert result["mpr_memory_parts"]["shared memory"] < result["volume_bytes"]
    assert 0 < result["first_image_full_s"] < 30 and 0 < result["first_image_one_s"] < 30
    assert result["scroll_fps_1x1"] > 1 and result["scroll_fps_2x2"] > 1
    # The whole tree holds at least the decoded series (40 x 512 x 512 x 2 bytes).
    assert result["memory_bytes"] > result["raw_volume_bytes"]
    # Shared memory is the tree's own frames (not the machine's Shmem): the series, give or
    # take a frame of the 1-slice series still shown.
    frame = 512 * 512 * 2
    shared = result["memory_parts"]["shared memory"]
    assert result["raw_volume_bytes"] <= shared <= result["raw_volume_bytes"] + 2 * frame
