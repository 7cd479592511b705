"""`bench presentation` runs every row of issue 17's targets from the command line: each row has
its passes in run order and the median between them; timings are not judged here (the machine
is shared), the benchmark table is."""

from __future__ import annotations

import json
import math
import subprocess
import sys


def test_bench_presentation_json_rows() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "viewer", "bench", "presentation", "--repeat", "2", "--json"],
        capture_output=True, text=True, timeout=240, check=True)
    rows = json.loads(done.stdout)["rows"]
    names = [row["name"] for row in rows]
    assert any(name.startswith("GSPS applied") for name in names)
    assert any(name.startswith("hang a 6-series CT") for name in names)
    assert any(name.startswith("GSPS in a 512x512 viewport") for name in names)
    assert sum(name.startswith("hang to every first image") for name in names) == 2
    assert sum(name.startswith("open a 5,000-item SR") for name in names) == 2
    for row in rows:
        assert len(row["passes"]) == 2 and all(math.isfinite(v) for v in row["passes"])
        assert min(row["passes"]) <= row["median"] <= max(row["passes"])
        assert row["met"] is None if row["target"] is None else isinstance(row["met"], bool)
    assert done.stderr == ""  # progress goes to a terminal only
