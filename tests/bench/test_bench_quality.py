"""`bench quality` from the command line: a table of rows, each with its passes in run order
and their median; the target row is judged against its limit. Timings are not judged here
(the machine is shared): the benchmark is, on a quiet one."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from tests.peers import require_tool


def test_bench_quality_json_rows() -> None:
    require_tool("dciodvfy", "dicom3tools")
    done = subprocess.run(
        [sys.executable, "-m", "viewer", "bench", "quality", "--files", "20", "--slices", "12",
         "--repeat", "2", "--json"], capture_output=True, text=True, timeout=300, check=True)
    rows = json.loads(done.stdout)["rows"]
    names = [row["name"] for row in rows]
    assert names == ["validate DIR --json, 20-file CT: per file",
                     "validate_files (core, in process), 20-file CT: per file",
                     "dciodvfy alone, one file after another, 20-file CT: per file",
                     "export-images --format mp4, 12 frames 512x512: / ffmpeg from PNGs",
                     "export-images --format mp4, 12 frames 512x512",
                     "ffmpeg encoding the same frames from PNGs",
                     "import DIR, 20-file CT: validation on / off, time to commit",
                     "import DIR, 20-file CT, validation off: committed",
                     "import DIR, 20-file CT, validation on: committed",
                     "import DIR, 20-file CT, validation on: findings stored"]
    assert [row["target"] for row in rows] == [15.0, None, None, 1.5, None, None,
                                               1.15, None, None, None]
    assert [row["unit"] for row in rows] == ["ms", "ms", "ms", "x", "s", "s", "x", "s", "s", "s"]
    for row in rows:
        assert len(row["passes"]) == 2 and all(math.isfinite(v) and v > 0 for v in row["passes"])
        assert min(row["passes"]) <= row["median"] <= max(row["passes"])
    assert all(isinstance(rows[n]["met"], bool) for n in (0, 3, 6))
    assert done.stderr == ""  # progress goes to a terminal only
