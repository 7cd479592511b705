"""The reading window's hanging benchmark end to end on small series: both hangings are timed
and printed with every pass. The real numbers come from the full run (see the report)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("pytestqt")


@pytest.mark.timeout(300)
def test_hanging_benchmark_times_every_viewport() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "viewer.gui.benchmark_hanging", "--passes", "2", "--slices", "3",
         "--json"],
        capture_output=True, text=True, timeout=280, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    result = json.loads(done.stdout)
    assert done.returncode == (0 if result["pass"] else 1), done.stderr
    assert result["target_s"] == 0.3 and (result["rows"], result["columns"]) == (512, 512)
    shipped, heavy = result["hangings"]
    assert (shipped["protocol"], shipped["layout"]) == ("CT chest with prior", "2x1")
    assert shipped["viewports_with_images"] == 2
    assert heavy["layout"] == "3x3" and heavy["viewports_with_images"] == 9
    for hanging in (shipped, heavy):
        assert not hanging["errors"] and len(hanging["passes_s"]) == 2
        assert all(0 < s < 30 for s in hanging["passes_s"])
        assert hanging["median_s"] == pytest.approx(sum(hanging["passes_s"]) / 2)
