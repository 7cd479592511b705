"""Calibration as each modality declares it (viewer.dicom.calibration, measure): generated files
of each kind, written by pydicom and read back through `frame_info`, measured against values
worked out by hand.

- US: two regions, a B-mode sector in cm and a PW Doppler spectrum in s and cm/s (PS3.3 C.8.5.5).
- DX: Imager Pixel Spacing with an Estimated Radiographic Magnification Factor (C.8.11.7).
- CR: Pixel Spacing calibrated FIDUCIAL beside a different Imager Pixel Spacing (10.7.1.3).
- OT: no spacing at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from tests.dicom.makers import image_dataset, save
from viewer.dicom.calibration import (
    IMAGER_PIXEL_SPACING,
    PIXEL_SPACING,
    ULTRASOUND_REGIONS,
    Basis,
    Calibration,
    calibrate,
)
from viewer.dicom.frameinfo import FrameInfo, frame_info
from viewer.dicom.measure import (
    Length,
    Refusal,
    RefusalKind,
    RoiStats,
    calibration_of,
    measure_angle,
    measure_length,
    measure_roi,
    probe,
)

US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"


def _with_class(ds: Dataset, sop_class: str) -> Dataset:
    ds.SOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    return ds


def _region(**values: Any) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def ultrasound_file(path: Path) -> Path:
    """300 x 200 US image: region 1 a B-mode sector at x 10..149, y 10..189, 0.02 cm per pixel,
    the transducer (reference pixel, value 0 cm) at (80, 10); region 2 a PW Doppler spectrum
    at x 160..289, 0.01 s and -1.5 cm/s per pixel, its baseline (0 cm/s) at row 100."""
    pixels = np.zeros((200, 300), np.uint8)
    pixels[10:190, 10:150] = 90  # the sector, grey
    pixels[10:190, 160:290] = 30  # the spectrum, dark, with its baseline bright
    pixels[100, 160:290] = 200
    ds = image_dataset(pixels, Modality="US")
    ds.SequenceOfUltrasoundRegions = [
        _region(RegionSpatialFormat=1, RegionDataType=1, RegionFlags=0,
                RegionLocationMinX0=10, RegionLocationMinY0=10,
                RegionLocationMaxX1=149, RegionLocationMaxY1=189,
                ReferencePixelX0=70, ReferencePixelY0=0,
                PhysicalUnitsXDirection=3, PhysicalUnitsYDirection=3,
                ReferencePixelPhysicalValueX=0.0, ReferencePixelPhysicalValueY=0.0,
                PhysicalDeltaX=0.02, PhysicalDeltaY=0.02),
        _region(RegionSpatialFormat=3, RegionDataType=3, RegionFlags=0,
                RegionLocationMinX0=160, RegionLocationMinY0=10,
                RegionLocationMaxX1=289, RegionLocationMaxY1=189,
                ReferencePixelX0=0, ReferencePixelY0=90,
                PhysicalUnitsXDirection=4, PhysicalUnitsYDirection=7,
                ReferencePixelPhysicalValueX=0.0, ReferencePixelPhysicalValueY=0.0,
                PhysicalDeltaX=0.01, PhysicalDeltaY=-1.5),
    ]
    return save(_with_class(ds, US_IMAGE), path)


def dx_file(path: Path, **extra: Any) -> Path:
    """DX, Imager Pixel Spacing 0.15 mm, magnification 1.2: 0.125 mm at the patient."""
    ds = image_dataset(np.zeros((64, 64), np.uint16), Modality="DX",
                       ImagerPixelSpacing=[0.15, 0.15],
                       EstimatedRadiographicMagnificationFactor=1.2, **extra)
    return save(_with_class(ds, DX_IMAGE), path)


def cr_file(path: Path) -> Path:
    """CR whose Pixel Spacing (0.2 mm) was calibrated on a fiducial; the plate's 0.16 mm."""
    ds = image_dataset(np.zeros((64, 64), np.uint16), Modality="CR",
                       PixelSpacing=[0.2, 0.2], ImagerPixelSpacing=[0.16, 0.16],
                       PixelSpacingCalibrationType="FIDUCIAL",
                       PixelSpacingCalibrationDescription="ruler on the cassette")
    return save(_with_class(ds, CR_IMAGE), path)


def plain_file(path: Path) -> Path:
    return save(image_dataset(np.zeros((64, 64), np.uint16)), path)


def _info(path: Path) -> FrameInfo:
    return frame_info(pydicom.dcmread(path))


def _calibration(path: Path) -> Calibration:
    return calibration_of(None, _info(path))


# --- ultrasound -----------------------------------------------------------------------------------


@pytest.fixture
def us(tmp_path: Path) -> Calibration:
    return _calibration(ultrasound_file(tmp_path / "us.dcm"))


def test_ultrasound_regions_are_read(us: Calibration) -> None:
    assert us.source == ULTRASOUND_REGIONS and us.basis is Basis.ULTRASOUND
    first, second = us.regions
    assert (first.min_x, first.min_y, first.max_x, first.max_y) == (10, 10, 149, 189)
    assert first.spatial and first.units_text == "cm"
    assert not second.spatial and second.units_text == "s, cm/s"
    assert us.note == "Ultrasound regions 1 (cm), 2 (s, cm/s)"
    # One spatial region: its scale is the image's (the scale bar's), 0.2 mm per pixel.
    assert us.scale is not None
    assert (us.scale.row_mm, us.scale.column_mm) == pytest.approx((0.2, 0.2))


def test_length_in_the_b_mode_region_is_in_mm(us: Calibration) -> None:
    found = measure_length((20.0, 50.0), (50.0, 90.0), us)  # 30 x 40 px = 50 px
    assert isinstance(found, Length)
    assert found.pixels == pytest.approx(50.0)
    assert found.mm == pytest.approx(10.0)  # 50 px x 0.02 cm = 1 cm
    assert found.region is not None and found.region.number == 1
    assert found.region.label == "region 1 (cm)"


def test_area_in_the_b_mode_region_is_in_square_mm(us: Calibration) -> None:
    values = np.zeros((200, 300))
    stats = measure_roi(values, "rectangle", (20.0, 20.0), (29.0, 29.0), us)
    assert isinstance(stats, RoiStats)
    assert stats.pixels == 100
    assert stats.area_mm2 == pytest.approx(100 * 0.2 * 0.2)
    assert stats.region is not None and stats.region.number == 1


def test_a_length_on_the_doppler_spectrum_is_a_time_and_a_velocity(us: Calibration) -> None:
    found = measure_length((170.0, 100.0), (220.0, 60.0), us)
    assert isinstance(found, Length)
    assert found.mm is None  # s x cm/s has no distance
    assert found.region is not None and found.region.number == 2
    (dt, t_unit), (dv, v_unit) = found.deltas
    assert (t_unit, v_unit) == ("s", "cm/s")
    assert dt == pytest.approx(0.5)  # 50 px x 0.01 s
    assert dv == pytest.approx(60.0)  # 40 px x 1.5 cm/s


def test_area_and_angle_on_the_doppler_spectrum_are_refused(us: Calibration) -> None:
    values = np.zeros((200, 300))
    refused = measure_roi(values, "ellipse", (170.0, 40.0), (200.0, 80.0), us)
    assert refused == Refusal(RefusalKind.NOT_SPATIAL, (2,), "s, cm/s")
    assert refused.text == "region 2 is not in cm on both axes (s, cm/s)"
    angle = measure_angle((170.0, 40.0), (180.0, 80.0), (200.0, 40.0), us)
    assert isinstance(angle, Refusal) and angle.kind is RefusalKind.NOT_SPATIAL


def test_a_measurement_across_regions_or_outside_them_is_refused(us: Calibration) -> None:
    across = measure_length((100.0, 50.0), (200.0, 50.0), us)
    assert across == Refusal(RefusalKind.CROSSES, (1, 2))
    assert across.text == "crosses ultrasound regions 1 and 2"
    outside = measure_length((2.0, 2.0), (20.0, 20.0), us)
    assert isinstance(outside, Refusal) and outside.kind is RefusalKind.OUTSIDE
    roi = measure_roi(np.zeros((200, 300)), "rectangle", (100.0, 50.0), (200.0, 80.0), us)
    assert isinstance(roi, Refusal) and roi.kind is RefusalKind.CROSSES
    # The pixel under a point decides: x = 149.4 is still column 149, region 1.
    inside = measure_length((20.0, 50.0), (149.4, 50.0), us)
    assert isinstance(inside, Length) and inside.mm == pytest.approx(129.4 * 0.2)


def test_angle_in_the_b_mode_region(us: Calibration) -> None:
    angle = measure_angle((50.0, 20.0), (20.0, 20.0), (20.0, 60.0), us)
    assert angle == pytest.approx(90.0)


def test_probe_gives_the_physical_coordinates_in_its_region(tmp_path: Path) -> None:
    path = ultrasound_file(tmp_path / "us.dcm")
    info = _info(path)
    array = np.zeros((200, 300), np.uint8)
    sector = probe(array, info, 80.0, 60.0, "US")
    assert sector is not None and sector.region is not None and sector.region.number == 1
    (x, x_unit), (depth, depth_unit) = sector.physical
    assert (x, depth, x_unit, depth_unit) == (pytest.approx(0.0), pytest.approx(10.0), "mm", "mm")
    spectrum = probe(array, info, 170.0, 70.0, "US")
    assert spectrum is not None and spectrum.region is not None and spectrum.region.number == 2
    (t, t_unit), (v, v_unit) = spectrum.physical
    assert (t, t_unit) == (pytest.approx(0.1), "s")  # 10 px after the time origin
    assert (v, v_unit) == (pytest.approx(45.0), "cm/s")  # 30 px above the baseline
    between = probe(array, info, 155.0, 60.0, "US")
    assert between is not None and between.region is None and between.physical == ()


def test_a_real_ultrasound_file_with_a_sector_and_an_ecg_trace() -> None:
    # pydicom's examples_palette.dcm: region 1 a B-mode sector in cm, its reference pixel
    # (the transducer) at (120 + 340, 60 + 36); region 2 an ECG trace, time only.
    path = get_testdata_file("examples_palette.dcm")
    assert isinstance(path, str)
    ds = pydicom.dcmread(path)
    info = frame_info(ds)
    calibration = calibration_of(None, info)
    sector, ecg = calibration.regions
    assert sector.data_type == 1 and sector.spatial
    assert (ecg.data_type, ecg.unit_x, ecg.unit_y) == (10, "s", "")
    found = measure_length((200.0, 100.0), (230.0, 140.0), calibration)
    assert isinstance(found, Length) and found.region is sector
    assert found.mm == pytest.approx(50 * float(ds.SequenceOfUltrasoundRegions[0].PhysicalDeltaX)
                                     * 10)
    at_transducer = probe(np.zeros((ds.Rows, ds.Columns), np.uint8), info, 460.0, 96.0, "US")
    assert at_transducer is not None and at_transducer.region is sector
    assert at_transducer.physical == ((0.0, "mm"), (0.0, "mm"))
    # On the ECG trace a length is a time; the trace's y axis has no unit.
    trace = measure_length((200.0, 530.0), (300.0, 560.0), calibration)
    assert isinstance(trace, Length) and trace.region is ecg
    assert trace.deltas == (pytest.approx((100 * ecg.delta_x, "s")),)


def test_a_region_with_a_zero_delta_has_no_unit_on_that_axis(tmp_path: Path) -> None:
    ds = pydicom.dcmread(ultrasound_file(tmp_path / "us.dcm"))
    ds.SequenceOfUltrasoundRegions[0].PhysicalDeltaY = 0.0
    calibration = calibration_of(None, frame_info(ds))
    sector = calibration.regions[0]
    assert (sector.unit_x, sector.unit_y, sector.spatial) == ("cm", "", False)
    found = measure_length((20.0, 50.0), (50.0, 90.0), calibration)
    assert isinstance(found, Length) and found.mm is None
    assert found.deltas == (pytest.approx((6.0, "mm")),)  # 30 px x 0.02 cm, across only
    area = measure_roi(np.zeros((200, 300)), "rectangle", (20.0, 20.0), (29.0, 29.0), calibration)
    assert area == Refusal(RefusalKind.NOT_SPATIAL, (1,), "cm, no unit")


# --- projection radiography -----------------------------------------------------------------------


def test_dx_imager_spacing_is_corrected_by_the_magnification_factor(tmp_path: Path) -> None:
    calibration = _calibration(dx_file(tmp_path / "dx.dcm"))
    assert calibration.source == IMAGER_PIXEL_SPACING and calibration.magnification == 1.2
    assert calibration.note == "Imager Pixel Spacing corrected by magnification 1.2"
    found = measure_length((0.0, 0.0), (30.0, 40.0), calibration)
    assert isinstance(found, Length) and found.mm == pytest.approx(50 * 0.15 / 1.2)
    stats = measure_roi(np.zeros((64, 64)), "rectangle", (0.0, 0.0), (9.0, 9.0), calibration)
    assert isinstance(stats, RoiStats) and stats.area_mm2 == pytest.approx(100 * 0.125**2)


def test_dx_pixel_spacing_equal_to_imager_spacing_is_not_a_calibration(tmp_path: Path) -> None:
    # PS3.3 10.7.1.3: the same values mean nothing was calibrated; the factor still applies.
    calibration = _calibration(dx_file(tmp_path / "dx.dcm", PixelSpacing=[0.15, 0.15]))
    assert calibration.scale is not None and calibration.scale.basis is Basis.MAGNIFICATION
    assert calibration.scale.row_mm == pytest.approx(0.125)


def test_dx_without_magnification_is_at_the_detector(tmp_path: Path) -> None:
    path = dx_file(tmp_path / "dx.dcm")
    ds = pydicom.dcmread(path)
    del ds.EstimatedRadiographicMagnificationFactor
    calibration = calibration_of(None, frame_info(ds))
    assert calibration.scale is not None and calibration.scale.basis is Basis.DETECTOR
    assert calibration.note.startswith("Imager Pixel Spacing at the detector")
    found = measure_length((0.0, 0.0), (30.0, 40.0), calibration)
    assert isinstance(found, Length) and found.mm == pytest.approx(7.5)


def test_cr_calibrated_pixel_spacing_wins_and_names_its_type(tmp_path: Path) -> None:
    calibration = _calibration(cr_file(tmp_path / "cr.dcm"))
    assert calibration.source == PIXEL_SPACING
    assert calibration.calibration_type == "FIDUCIAL"
    assert calibration.calibration_description == "ruler on the cassette"
    assert calibration.note == "Pixel Spacing, calibrated: FIDUCIAL"
    found = measure_length((0.0, 0.0), (30.0, 40.0), calibration)
    assert isinstance(found, Length) and found.mm == pytest.approx(10.0)
    stats = measure_roi(np.zeros((64, 64)), "ellipse", (0.0, 0.0), (0.0, 0.0), calibration)
    assert isinstance(stats, RoiStats) and stats.area_mm2 == pytest.approx(0.04)


@pytest.mark.parametrize(
    ("pixel", "imager", "kind", "projection", "basis", "row_mm"),
    [
        ((0.2, 0.2), (0.16, 0.16), "", True, Basis.CALIBRATED, 0.2),
        ((0.2, 0.2), None, "GEOMETRY", True, Basis.CALIBRATED, 0.2),
        ((0.2, 0.2), None, "", True, Basis.UNSTATED, 0.2),
        ((0.2, 0.2), None, "", False, Basis.PIXEL_SPACING, 0.2),
        ((0.16, 0.16), (0.16, 0.16), "", True, Basis.DETECTOR, 0.16),
        (None, (0.16, 0.16), "", True, Basis.DETECTOR, 0.16),
        (None, None, "", True, Basis.NONE, None),
    ],
    ids=["differs", "type-only", "projection-unstated", "cross-sectional", "equal",
         "imager-only", "none"],
)
def test_the_standards_order(pixel: tuple[float, float] | None,
                             imager: tuple[float, float] | None, kind: str, projection: bool,
                             basis: Basis, row_mm: float | None) -> None:
    calibration = calibrate(pixel, imager, calibration_type=kind, projection=projection)
    assert calibration.basis is basis
    assert (calibration.scale.row_mm if calibration.scale else None) == row_mm


def test_a_non_positive_magnification_factor_is_ignored() -> None:
    calibration = calibrate(None, (0.15, 0.15), magnification=0.0, projection=True)
    assert calibration.basis is Basis.DETECTOR and calibration.magnification is None


# --- nothing --------------------------------------------------------------------------------------


def test_an_image_without_spacing_measures_in_pixels(tmp_path: Path) -> None:
    info = _info(plain_file(tmp_path / "ot.dcm"))
    calibration = calibration_of(None, info)
    assert calibration.source == "" and calibration.basis is Basis.NONE
    assert calibration.note == "uncalibrated (pixels)"
    assert calibration.scale is None
    found = measure_length((0.0, 0.0), (3.0, 4.0), calibration)
    assert isinstance(found, Length) and (found.pixels, found.mm) == (5.0, None)
    assert calibration.as_json()["source"] is None
