"""Smoke test of `dicom-viewer bench net` on a few images: every section runs against its real
peers (storescp, storescu, movescu, Orthanc) and the table and JSON carry each measurement.
Timings are not checked (the machine is shared); the full run is `bench net`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.peers import require_tool
from viewer.net.benchmark import (
    SECTIONS,
    Measurement,
    NetBenchmark,
    format_table,
    run_net_benchmark,
)

pytestmark = pytest.mark.timeout(240)


def test_every_section_measures_ours_and_its_baseline(tmp_path: Path) -> None:
    for tool, package in (("storescp", "dcmtk"), ("storescu", "dcmtk"), ("movescu", "dcmtk"),
                          ("Orthanc", "orthanc")):
        require_tool(tool, package)
    result = run_net_benchmark(images=4, workdir=tmp_path / "work", repeat=1)
    assert [m.name for m in result.measurements] == list(SECTIONS)
    for m in result.measurements:
        assert m.baseline_s > 0 and m.ours_s > 0 and len(m.runs_ours) == 1
    table = format_table(result)
    for name in SECTIONS:
        assert f"\n{name} " in table
    document = json.loads(result.to_json())
    assert {m["name"] for m in document["measurements"]} == set(SECTIONS)


def test_an_over_4x_listen_names_its_suspect() -> None:
    def measured(name: str, ours: float) -> Measurement:
        return Measurement(name, "storescu -> storescp", 0.4, ours, 2.5, 1.5, (0.4,), (ours,))

    slow_handler = NetBenchmark(300, 1, 16384, [measured("listen", 1.7),
                                                measured("listen-floor", 1.0)])
    assert "not Nagle: listen-floor is 2.5x" in format_table(slow_handler)
    nagle = NetBenchmark(300, 1, 16384, [measured("listen", 5.2),
                                         measured("listen-floor", 5.0)])
    assert "is Nagle's algorithm back on?" in format_table(nagle)
    assert [m.name for m in nagle.regressions] == ["listen", "listen-floor"]


def test_a_line_counts_the_medians_and_prints_every_pass() -> None:
    m = Measurement.of_passes("listen", "storescu -> Orthanc",
                              ((1.6, 2.9, 1.5, 1.7, 1.4), (2.0, 1.8, 9.0, 1.9, 2.1)), 1.0, 1.0)
    assert (m.baseline_s, m.ours_s) == (1.6, 2.0)
    table = format_table(NetBenchmark(300, 1, 16384, [m]))
    assert "passes: baseline 1.600 2.900 1.500 1.700 1.400 / ours 2.000 1.800 9.000 1.900 2.100" \
        in table
    assert "1.25x" in table and "MISSED" in table
