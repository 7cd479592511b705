"""`dicom-viewer sr FILE [--json]` as a user runs it: a process, its output and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file

from tests.reports import makers
from tests.reports.dsrdump import dsrdump


def sr(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "default"}  # a library warning would show
    return subprocess.run([sys.executable, "-m", "viewer", "sr", *map(str, args)],
                          check=False, capture_output=True, text=True, timeout=120,
                          env=env)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sr-cli")
    return makers.save(makers.tid1500_report(makers.ct_image()), folder / "tid1500.dcm")


@pytest.mark.peers
def test_one_indented_line_per_item_as_dsrdump_nests_them(report: Path) -> None:
    done = sr(report)
    assert done.returncode == 0 and done.stderr == ""
    tree_lines = done.stdout.split("\n\n")[0].splitlines()
    dumped = dsrdump(report)
    assert len(tree_lines) == len(dumped)
    for line, item in zip(tree_lines, dumped, strict=True):
        depth = (len(line) - len(line.lstrip(" "))) // 2
        assert depth == item.position.count("."), line
        assert item.concept in line, line
    assert "  contains NUM Area = 52.25 mm2" in done.stdout
    assert "has obs context PNAME Person Observer Name = Östberg^Åsa" in done.stdout
    assert "contains SCOORD3D Image Region = POINT 12.5/-40/101.25 in " in done.stdout
    assert "lesion 1: Lesion" in done.stdout


def test_json_is_one_document(report: Path) -> None:
    done = sr(report, "--json")
    assert done.returncode == 0
    document: dict[str, Any] = json.loads(done.stdout)
    assert document["title"] == "Imaging Measurement Report"
    groups = document["measurement_groups"]
    assert [g["tracking_identifier"] for g in groups] == ["lesion 1", "nodule 2"]
    assert groups[0]["regions"][0]["points"] == [[2.5, 3.0], [10.0, 3.0], [10.0, 12.5],
                                                 [2.5, 3.0]]
    number = document["content"]["children"][4]["children"][0]["children"][4]
    assert number["value"]["number"] == 52.25 and number["text"] == "52.25 mm2"
    assert document["dose"] is None


def test_dose_summary_lines(tmp_path: Path) -> None:
    path = makers.save(makers.ct_dose_sr(["1.2.3", "1.2.4"]), tmp_path / "dose.dcm")
    done = sr(path)
    assert done.returncode == 0
    assert "  series 1.2.3: 2 events, CTDIvol 12.25 mGy, DLP 612.5 mGy.cm" in done.stdout
    assert "  total DLP 912.5 mGy.cm" in done.stdout


def test_references_and_invalid_items_never_crash(tmp_path: Path) -> None:
    cycle = sr(makers.save(makers.with_cycle(), tmp_path / "cycle.dcm"))
    assert cycle.returncode == 0
    assert "  inferred from = -> 1.3 (a cycle of by-reference items)" in cycle.stdout
    assert "    inferred from = -> 1.1 (TEXT Finding)" in cycle.stdout
    invalid = sr(makers.save(makers.with_invalid_items(), tmp_path / "invalid.dcm"), "--json")
    assert invalid.returncode == 0
    assert json.loads(invalid.stdout)["content"]["children"][0]["problem"] == "no Value Type"
    # each warning is one line naming the file
    lines = invalid.stderr.splitlines()
    assert len(lines) == 6 and all(str(tmp_path / "invalid.dcm") in line for line in lines)


def test_pydicom_sr_with_references() -> None:
    done = sr(get_testdata_file("test-SR.dcm"))
    assert done.returncode == 0, done.stderr
    assert "      selected from = -> 1.3.2 (SCOORD SCoord Code)" in done.stdout
    assert "    contains NUM Diameter = 3 cm" in done.stdout


def test_not_an_sr_and_truncated_files_exit_2_with_one_line(tmp_path: Path) -> None:
    image = makers.save(makers.ct_image(), tmp_path / "image.dcm")
    done = sr(image)
    assert done.returncode == 2
    assert done.stderr == f"dicom-viewer sr: {image}: not a Structured Report (SOP Class " \
                          f"{makers.CT_IMAGE})\n"
    whole = makers.save(makers.basic_text_sr(), tmp_path / "whole.dcm").read_bytes()
    for cut in (len(whole) - 7, len(whole) // 2, 200):
        truncated = tmp_path / f"cut{cut}.dcm"
        truncated.write_bytes(whole[:cut])
        done = sr(truncated)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and str(truncated) in done.stderr
