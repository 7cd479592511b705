"""`bench web`'s GUI row end to end on a small study: a study opened from Orthanc + DICOMweb
plugin, first image and whole study timed, every pass kept. The real numbers come from the
full run (300 images, 5 passes; see the report)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import pytest

pytest.importorskip("pytestqt")

from tests.net.web_peers import dicomweb_plugin  # noqa: E402
from tests.peers import require_tool  # noqa: E402


@pytest.mark.timeout(300)
def test_first_image_from_dicomweb_is_timed_every_pass() -> None:
    dicomweb_plugin()
    require_tool("Orthanc", "orthanc")
    done = subprocess.run(
        [sys.executable, "-m", "viewer.gui.benchmark_web", "--passes", "2", "--images", "12"],
        capture_output=True, text=True, timeout=280, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["images"] == 12 and result["target_s"] == 0.5
    first, whole = result["first_image_s"], result["all_arrived_s"]
    assert len(first) == len(whole) == 2
    assert all(0 < f <= w < 60 for f, w in zip(first, whole, strict=True))
    assert result["median_first_image_s"] == pytest.approx(statistics.median(first))
    assert result["ok"] == (result["median_first_image_s"] <= 0.5)
    assert [line for line in done.stderr.splitlines() if line.startswith("pass ")] == [
        f"pass {n}: first image {f:.3f} s, all 12 images in the archive {w:.3f} s"
        for n, (f, w) in enumerate(zip(first, whole, strict=True), 1)]
