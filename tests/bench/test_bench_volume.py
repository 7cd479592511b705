"""Smoke test of `dicom-viewer bench volume` on a thin volume: every part of issue 16's targets
table runs and its output parses; timings are not checked here (the machine is shared)."""

from __future__ import annotations

import json
import re
import statistics

import pytest

from tests.bench.cli import bench_parser, run_bench

pytestmark = pytest.mark.timeout(600)

# (part, measure) rows the table must hold, each with the target
TARGET_ROWS = {
    ("build", "build / one ndarray.copy()"), ("build", "peak memory / volume"),
    ("planes", "axial"), ("planes", "coronal"), ("planes", "sagittal"), ("planes", "oblique"),
    ("planes", "oblique-nearest"), ("planes", "slab-axial"), ("planes", "slab-oblique"),
    ("fusion", "fused axial 512x512"), ("fusion", "fused oblique 512x512"),
    ("memory", "MPR + slabs peak RSS / volume"), ("3d", "first_image"), ("3d", "dragging"),
    ("3d", "settled_unshaded"), ("3d", "settled_shaded"),
}


def test_parser_knows_volume() -> None:
    args = bench_parser().parse_args(["bench", "volume", "--slices", "8"])
    assert (args.suite, args.slices) == ("volume", 8)


def test_bench_volume_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_bench(["volume", "--slices", "24", "--repeat", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["shape"] == [24, 512, 512] and data["passes"] == 2
    assert not [note for note in data["notes"] if note.startswith("NOT RUN")], data["notes"]
    rows = {(row["part"], row["name"]): row for row in data["rows"]}
    assert TARGET_ROWS <= set(rows)
    for key in TARGET_ROWS:
        row = rows[key]
        assert row["target"] > 0 and isinstance(row["met"], bool)
        assert row["median"] == pytest.approx(statistics.median(row["passes"]))
        assert all(value > 0 for value in row["passes"])
    assert len(rows["build", "peak memory / volume"]["passes"]) == 2

    assert run_bench(["volume", "--slices", "24", "--repeat", "1"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("volume: 512x512x24 int16 CT (12 MiB), median of 1 pass(es)")
    results = re.findall(r"  (PASS|FAIL)  ", table)
    assert len(results) >= len(TARGET_ROWS)
    assert re.search(r"^fusion\s+fused axial 512x512\s+\d+\.\d ms\s+<= 30\.0 ms  (PASS|FAIL)",
                     table, re.M)
