"""Smoke test of `dicom-viewer bench start`: every command runs as its own process, every pass is
printed, and the medians parse. Timings are not checked (the machine is shared)."""

from __future__ import annotations

import json
import re
import statistics

import pytest

from tests.bench.cli import NUMBER, run_bench

pytestmark = pytest.mark.timeout(240)

COMMANDS = ("python -c pass", "python -c 'import pydicom'", "dicom-viewer info FILE",
            "dicom-viewer --help")


def test_bench_start_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_bench(["start", "--repeat", "3"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("start: whole processes, page cache warm, median of 3 alternating")
    medians = {}
    for name in COMMANDS:
        row = re.search(rf"^  {re.escape(name)}\s+{NUMBER} s median  \(([\d. ]+)\)$", table, re.M)
        assert row, f"no row for {name} in:\n{table}"
        passes = [float(x) for x in row.group(2).split()]
        assert len(passes) == 3 and min(passes) > 0
        medians[name] = float(row.group(1))
        assert medians[name] == pytest.approx(statistics.median(passes), abs=0.001)
    target = re.search(rf"^target info FILE cold: {NUMBER} s <= 0.25 s  (ok|MISSED)$", table, re.M)
    assert target and float(target.group(1)) == medians["dicom-viewer info FILE"]

    assert run_bench(["start", "--repeat", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["passes_s"]) == set(COMMANDS)
    assert data["info_s"] == data["passes_s"]["dicom-viewer info FILE"][0]
    assert isinstance(data["met"], bool) and data["target_s"] == 0.25
