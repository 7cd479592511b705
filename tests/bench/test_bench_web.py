"""`bench web` end to end on a small study: it starts its own Orthanc with the DICOMweb plugin,
and every row of issue 18's targets comes out with its passes, its baseline's where it is a
ratio, and a verdict. Timings are not judged here (the machine is shared); the table is."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.net.web_peers import dicomweb_plugin
from tests.peers import require_tool
from viewer.cli.bench_web import FIRST_IMAGE, first_image_row

pytestmark = [pytest.mark.timeout(300), pytest.mark.peers]

SLICES = 12


def test_bench_web_rows_are_present_and_well_formed(tmp_path: Path) -> None:
    require_tool("Orthanc", "orthanc")
    require_tool("storescu", "dcmtk")
    dicomweb_plugin()
    done = subprocess.run(
        [sys.executable, "-m", "viewer", "bench", "web", "--passes", "1", "--slices",
         str(SLICES), "--workdir", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # progress goes to a terminal only
    document = json.loads(done.stdout)
    assert document["images"] == SLICES
    rows = {row["name"]: row for row in document["rows"]}
    assert list(rows) == [
        f"WADO-RS retrieve of {SLICES} images into a fresh archive",
        f"STOW-RS send of {SLICES} images",
        f"memory sending {SLICES} images by STOW-RS (peak RSS above ready)",
        f"memory sending {2 * SLICES} images by STOW-RS (peak RSS above ready)",
        FIRST_IMAGE,
    ]
    retrieve, send, memory, bigger, first = document["rows"]
    for row, target in ((retrieve, 1.0), (send, 1.2)):
        assert row["unit"] == "x" and row["target"] == target and row["baseline"]
        assert len(row["passes"]) == len(row["baseline_passes"]) == 1
        assert all(math.isfinite(s) and s > 0 for s in row["passes"] + row["baseline_passes"])
        assert row["value"] == pytest.approx(row["passes"][0] / row["baseline_passes"][0])
        assert row["met"] is (row["value"] <= target)
    for row in (memory, bigger):
        assert row["unit"] == "MB" and row["target"] == 100.0 and len(row["passes"]) == 1
        assert math.isfinite(row["value"]) and row["met"] is (row["value"] <= 100.0)
    assert first["unit"] == "s" and first["target"] == 0.5
    assert len(first["passes"]) == 1 and first["note"] == "", first["note"]
    assert not list(tmp_path.iterdir())  # the Orthanc, the files and the archives are gone


def test_first_image_row_never_invents_a_number() -> None:
    # no server at this URL: the GUI benchmark (when built) fails, and the row says why
    row = first_image_row("http://127.0.0.1:9/dicom-web", 1, "1.2.3", Path("none.dcm"))
    assert row.name == FIRST_IMAGE and not row.met
    if row.passes:
        pytest.fail(f"a first image was measured from no server: {row.passes}")
    assert row.note.startswith("viewer.gui.benchmark_web"), row.note
