"""Smoke test of `dicom-viewer bench decode` on a tiny series: it runs and its output parses.

Timings are not checked here (the machine is shared); the full run is `bench decode`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.bench.cli import NUMBER, bench_parser, run_bench
from tests.peers import require_tool
from viewer.decode.benchmark import SYNTAXES

pytestmark = pytest.mark.timeout(240)

def test_parser_knows_the_suites() -> None:
    parser = bench_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "nosuchsuite"])
    for suite in ("decode", "import", "net", "print", "export", "start", "gui"):
        assert parser.parse_args(["bench", suite]).suite == suite
    args = parser.parse_args(["bench", "decode"])
    assert (args.suite, args.slices, args.workdir, args.json) == ("decode", None, None, False)


def test_bench_decode_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for tool in ("dcmconv", "dcmcjpeg", "dcmcjpls", "dcmcrle", "gdcmconv"):
        require_tool(tool)
    workdir = tmp_path / "work"
    assert run_bench(["decode", "--slices", "8", "--workdir", str(workdir), "--repeat", "1"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("decode: 8 slices 512x512")
    numbers = r"\s+".join([NUMBER] * 6)
    for syntax in SYNTAXES:
        match = re.search(rf"^{re.escape(syntax)}\s+{numbers}$", table, re.M)
        assert match, f"no row for {syntax} in:\n{table}"
        gdcm, pydicom, ours, pool, ours_ratio, pool_ratio = map(float, match.groups())
        assert min(gdcm, pydicom, ours, pool) > 0
        assert ours_ratio == pytest.approx(ours / gdcm, abs=0.02, rel=0.02)
        assert pool_ratio == pytest.approx(pool / gdcm, abs=0.02, rel=0.02)
    assert re.search(r"^display 512x512 16-bit -> 8-bit: \d+\.\d+ ms", table, re.M)
    assert re.search(r"^render to PNG: pool -j 2 \d+\.\d+ ms/slice", table, re.M)
    cache = re.search(r"^cache: (\d+) bytes for (\d+) raw .* ratio (\d+\.\d+)$", table, re.M)
    assert cache and int(cache.group(2)) == 8 * 512 * 512 * 2
    assert 1.0 <= float(cache.group(3)) < 2.0
    assert len(re.findall(r"  (ok|MISSED)$", table, re.M)) == 2 * len(SYNTAXES) + 3
    # The series is kept in --workdir and reused by the next run.
    assert len(list((workdir / "jpeg-ls").glob("CT*.dcm"))) == 8

    assert run_bench(["decode", "--slices", "8", "--workdir", str(workdir), "--repeat", "1",
                      "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["slices"] == 8 and set(data["syntaxes"]) == set(SYNTAXES)
    assert all(v["gdcm_ms"] > 0 and v["pool_ms"] > 0 for v in data["syntaxes"].values())
    assert {t["name"] for t in data["targets"]} >= {"cache / raw size", "display 512x512 16-bit"}
    assert all(isinstance(t["met"], bool) for t in data["targets"])
