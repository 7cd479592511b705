"""Smoke test of `dicom-viewer bench import` on a few files and a small index: it runs and its
output parses. Timings are not checked (the machine is shared); the full run is `bench import`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.bench.cli import NUMBER, bench_parser, run_bench
from viewer.archive.benchmark import SEARCHES, build_search_index
from viewer.archive.index import Index

pytestmark = pytest.mark.timeout(240)

def test_parser_defaults_for_import() -> None:
    parser = bench_parser()
    args = parser.parse_args(["bench", "import"])
    assert (args.suite, args.files, args.studies, args.json) == ("import", 1000, 2000, False)


def test_bench_import_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workdir = tmp_path / "work"
    argv = ["import", "--files", "6", "--studies", "40", "--workdir", str(workdir)]
    assert run_bench(argv) == 0
    table = capsys.readouterr().out
    assert table.startswith("import: 6 files 512x512 uncompressed CT")
    baseline = re.search(rf"^baseline dcmread.*\s{NUMBER} s$", table, re.M)
    ours = re.search(rf"^dicom-viewer import\s+{NUMBER} s$", table, re.M)
    assert baseline and ours
    baseline_s, import_s = float(baseline.group(1)), float(ours.group(1))
    assert min(baseline_s, import_s) > 0
    ratio = re.search(rf"^target import / baseline: {NUMBER} x <= 1.5 x  (ok|MISSED)$", table, re.M)
    assert ratio, table
    per_file = re.search(rf"^ms per file: baseline / import\s+{NUMBER}\s+{NUMBER}$", table, re.M)
    assert per_file, table
    base_ms, import_ms = map(float, per_file.groups())
    assert base_ms == pytest.approx(baseline_s * 1000 / 6, abs=2)
    assert float(ratio.group(1)) == pytest.approx(import_ms / base_ms, abs=0.02, rel=0.02)
    assert "over 2000 instances in 40 studies" in table
    for pattern in SEARCHES:
        row = re.search(rf"^  {re.escape(pattern)}\s+{NUMBER} ms  \((\d+) studies\)$", table, re.M)
        assert row, f"no row for {pattern} in:\n{table}"
    assert re.search(rf"^target studies --patient-name: {NUMBER} ms <= 50 ms  (ok|MISSED)$",
                     table, re.M)
    # The series is kept in --workdir, and nothing else is left there.
    assert len(list((workdir / "ct-6").glob("CT*.dcm"))) == 6
    assert [p.name for p in workdir.iterdir()] == ["ct-6"]

    assert run_bench([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == 6 and data["studies"] == 40 and data["instances"] == 2000
    assert data["baseline_s"] > 0 and data["import_s"] > 0
    assert data["ratio"] == pytest.approx(data["import_s"] / data["baseline_s"])
    assert set(data["search_ms"]) == set(SEARCHES)
    assert data["total_bytes"] > 6 * 512 * 512 * 2
    assert {t["name"] for t in data["targets"]} == {"import / baseline", "studies --patient-name"}
    assert all(isinstance(t["met"], bool) for t in data["targets"])


def test_search_index_matches_names(tmp_path: Path) -> None:
    """The generated index answers the benchmark's patterns with the rows they should match."""
    with Index(tmp_path / "index.sqlite3") as index:
        assert build_search_index(index, 100) == 100 * 50
        smith = index.search_studies(patient_name="SMITH*")
        assert smith and {s.patient_name.split("^")[0] for s in smith} == {"SMITH"}
        chinese = index.search_studies(patient_name="张*")  # the ideographic group matches
        every = index.search_studies()
        assert len(every) == 100
        assert len(chinese) == sum("=张" in s.patient_name for s in every) > 0
        assert all(s.number_of_instances == 50 for s in smith)
