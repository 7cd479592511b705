"""`info FILE [--json]` and `render FILE` report the calibration lengths use ("calibration"),
for generated files of each kind (tests/dicom/test_calibration.py's makers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_info import fields, info_json
from tests.dicom.test_calibration import cr_file, dx_file, plain_file, ultrasound_file
from viewer.cli import main


def test_ultrasound_regions_in_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = info_json(capsys, ultrasound_file(tmp_path / "us.dcm"))
    calibration = doc["calibration"]
    assert calibration["source"] == "SequenceOfUltrasoundRegions"
    assert calibration["basis"] == "ultrasound"
    assert calibration["note"] == "Ultrasound regions 1 (cm), 2 (s, cm/s)"
    assert (calibration["row_mm"], calibration["column_mm"]) == pytest.approx((0.2, 0.2))
    first, second = calibration["regions"]
    assert first["number"] == 1 and first["RegionDataType"] == 1
    assert (first["RegionLocationMinX0"], first["RegionLocationMaxY1"]) == (10, 189)
    assert (first["unit_x"], first["unit_y"]) == ("cm", "cm")
    assert (first["row_mm"], first["column_mm"]) == pytest.approx((0.2, 0.2))
    assert (second["PhysicalUnitsXDirection"], second["PhysicalUnitsYDirection"]) == (4, 7)
    assert (second["unit_x"], second["unit_y"]) == ("s", "cm/s")
    assert second["PhysicalDeltaY"] == -1.5 and second["row_mm"] is None
    assert (second["ReferencePixelX0"], second["ReferencePixelY0"]) == (0, 90)
    # the existing keys stay as they were
    assert doc["Modality"] == "US" and doc["PixelSpacing"] is None


def test_dx_magnification_in_json_and_text(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    path = dx_file(tmp_path / "dx.dcm")
    calibration = info_json(capsys, path)["calibration"]
    expected: dict[str, Any] = {
        "source": "ImagerPixelSpacing", "basis": "magnification",
        "note": "Imager Pixel Spacing corrected by magnification 1.2",
        "EstimatedRadiographicMagnificationFactor": 1.2,
        "PixelSpacingCalibrationType": None, "PixelSpacingCalibrationDescription": None,
        "regions": [],
    }
    assert {k: calibration[k] for k in expected} == expected
    assert calibration["row_mm"] == pytest.approx(0.125)
    assert main(["info", str(path)]) == 0
    lines = dict(fields(capsys.readouterr().out))
    assert lines["Calibration"] == (
        "Imager Pixel Spacing corrected by magnification 1.2 (0.125 x 0.125 mm, row x column)")


def test_cr_calibration_type_in_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    calibration = info_json(capsys, cr_file(tmp_path / "cr.dcm"))["calibration"]
    assert calibration["source"] == "PixelSpacing" and calibration["basis"] == "calibrated"
    assert calibration["PixelSpacingCalibrationType"] == "FIDUCIAL"
    assert calibration["PixelSpacingCalibrationDescription"] == "ruler on the cassette"
    assert calibration["note"] == "Pixel Spacing, calibrated: FIDUCIAL"
    assert (calibration["row_mm"], calibration["column_mm"]) == (0.2, 0.2)


def test_no_spacing_in_json_and_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = plain_file(tmp_path / "ot.dcm")
    calibration = info_json(capsys, path)["calibration"]
    assert calibration == {
        "source": None, "row_mm": None, "column_mm": None, "basis": "none",
        "note": "uncalibrated (pixels)", "EstimatedRadiographicMagnificationFactor": None,
        "PixelSpacingCalibrationType": None, "PixelSpacingCalibrationDescription": None,
        "regions": [],
    }
    assert main(["info", str(path)]) == 0
    assert dict(fields(capsys.readouterr().out))["Calibration"] == "uncalibrated (pixels)"


def test_render_reports_the_calibration(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    path = ultrasound_file(tmp_path / "us.dcm")
    assert main(["render", str(path), "-o", str(tmp_path / "us.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "rendered 1 frame(s), 0 file(s) failed",
        "calibration: Ultrasound regions 1 (cm: 0.2 x 0.2 mm), 2 (s, cm/s)",
    ]
    assert (tmp_path / "us.png").stat().st_size > 0
