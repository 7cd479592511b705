"""`info FILE [--json]` on PET files: SUVbwScaleFactor, or SUVbwReason naming the attribute."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from tests.peers import require_tool
from tests.volume.pet_series import Sphere, write_pet_series
from viewer.cli import main

# The generator's header: 75 kg, 370 MBq FDG (6586.2 s) at 09:30:00, Series Time 10:30:00.
FACTOR = 75000 / (3.7e8 * 0.5 ** (3600 / 6586.2))


@pytest.fixture(scope="module")
def pet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pet")
    series = write_pet_series(folder, generate_uid(), (-20.0, -20.0, -8.0), (20.0, 20.0, 8.0),
                              spheres=(Sphere((0.0, 0.0, 0.0), 8.0, 6.0),))
    return series.paths[0]


def run_info(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    code = main(["info", *map(str, args)])
    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    return out


def test_json_has_the_factor(capsys: pytest.CaptureFixture[str], pet_file: Path) -> None:
    doc = json.loads(run_info(capsys, pet_file, "--json"))
    assert doc["Modality"] == "PT"
    assert doc["SUVbwScaleFactor"] == pytest.approx(FACTOR, rel=1e-9)
    assert "SUVbwReason" not in doc


def test_plain_text_has_an_suv_line(capsys: pytest.CaptureFixture[str], pet_file: Path) -> None:
    out = run_info(capsys, pet_file)
    line = next(x for x in out.splitlines() if x.startswith("SUVbw"))
    assert f"{FACTOR:.6g} g/ml per Bq/ml" in line
    assert "SeriesDate/SeriesTime" in line


def test_missing_weight_removed_by_dcmodify(
    capsys: pytest.CaptureFixture[str], pet_file: Path, tmp_path: Path
) -> None:
    dcmodify = require_tool("dcmodify", "dcmtk")
    copy = tmp_path / "no_weight.dcm"
    copy.write_bytes(pet_file.read_bytes())
    subprocess.run([dcmodify, "-nb", "-ea", "(0010,1030)", str(copy)], check=True,
                   capture_output=True)
    doc = json.loads(run_info(capsys, copy, "--json"))
    assert doc["SUVbwReason"] == "PatientWeight is missing"
    assert "SUVbwScaleFactor" not in doc
    out = run_info(capsys, copy)
    assert any(x.startswith("SUVbw") and "PatientWeight is missing" in x for x in out.splitlines())


def test_other_modalities_have_no_suv_keys(capsys: pytest.CaptureFixture[str]) -> None:
    from pydicom.data import get_testdata_file  # noqa: PLC0415

    path = get_testdata_file("CT_small.dcm")
    assert isinstance(path, str)
    doc = json.loads(run_info(capsys, path, "--json"))
    assert "SUVbwScaleFactor" not in doc and "SUVbwReason" not in doc
