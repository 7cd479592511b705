"""Measurements against values worked out by hand: spacing, lengths, angles, ROI statistics,
modality values (rescale and Modality LUT, PS3.3 C.11.1) and the pixel probe."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from viewer.dicom.calibration import IMAGER_PIXEL_SPACING, PIXEL_SPACING, Basis, PixelScale
from viewer.dicom.frameinfo import FrameInfo, frame_info
from viewer.dicom.measure import (
    angle_degrees,
    calibration_of,
    format_value,
    length,
    modality_unit,
    modality_values,
    probe,
    roi_stats,
)
from viewer.dicom.pixels import decode_frame
from viewer.dicom.stack import SliceGeometry


def _testdata(name: str) -> str:
    path = get_testdata_file(name)
    assert isinstance(path, str), name
    return path


def _geometry(spacing: tuple[float, float] | None, source: str = "") -> SliceGeometry:
    return SliceGeometry(
        position=(0.0, 0.0, 0.0),
        orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        pixel_spacing=spacing,
        slice_thickness=1.0,
        slice_location=0.0,
        frame_of_reference_uid="1.2.3",
        rows=10,
        columns=12,
        spacing_source=source,
    )


def _info(**fields: object) -> FrameInfo:
    base: dict[str, object] = {
        "rows": 10,
        "columns": 12,
        "samples_per_pixel": 1,
        "photometric": "MONOCHROME2",
        "stored_photometric": "MONOCHROME2",
        "bits_allocated": 16,
        "bits_stored": 16,
        "signed": True,
    }
    base.update(fields)
    return FrameInfo(**base)  # type: ignore[arg-type]


def pixel_scale(geometry: SliceGeometry | None, info: FrameInfo | None) -> PixelScale | None:
    return calibration_of(geometry, info).scale


# --- pixel scale ----------------------------------------------------------------------------------


def test_pixel_spacing_is_row_then_column() -> None:
    scale = pixel_scale(_geometry((0.5, 0.8)), None)
    assert scale == PixelScale(row_mm=0.5, column_mm=0.8, source=PIXEL_SPACING)
    assert scale.note == ""


def test_pixel_spacing_preferred_over_imager_spacing_from_either_argument() -> None:
    # A Pixel Spacing that differs from Imager Pixel Spacing was calibrated (PS3.3 10.7.1.3).
    geometry = _geometry((0.2, 0.2), IMAGER_PIXEL_SPACING)
    info = _info(pixel_spacing=(0.18, 0.19), imager_pixel_spacing=(0.2, 0.2))
    assert pixel_scale(geometry, info) == PixelScale(0.18, 0.19, PIXEL_SPACING, Basis.CALIBRATED)


def test_imager_pixel_spacing_carries_a_note() -> None:
    scale = pixel_scale(None, _info(imager_pixel_spacing=(0.143, 0.15)))
    assert scale is not None
    assert (scale.row_mm, scale.column_mm, scale.source) == (0.143, 0.15, IMAGER_PIXEL_SPACING)
    assert "detector" in scale.note and "magnification" in scale.note
    from_geometry = pixel_scale(_geometry((0.1, 0.1), IMAGER_PIXEL_SPACING), None)
    assert from_geometry is not None and from_geometry.source == IMAGER_PIXEL_SPACING


@pytest.mark.parametrize(
    "spacing",
    [None, (0.0, 0.5), (-0.5, 0.5), (math.nan, 0.5), (0.5, math.inf)],
    ids=["absent", "zero", "negative", "nan", "infinite"],
)
def test_no_usable_spacing_gives_none(spacing: tuple[float, float] | None) -> None:
    assert pixel_scale(_geometry(spacing), _info(pixel_spacing=spacing)) is None
    assert pixel_scale(None, None) is None


def test_a_bad_pixel_spacing_falls_back_to_imager_spacing() -> None:
    scale = pixel_scale(None, _info(pixel_spacing=(math.nan, 1.0), imager_pixel_spacing=(1, 1)))
    assert scale == PixelScale(1.0, 1.0, IMAGER_PIXEL_SPACING, Basis.DETECTOR)


# --- length and angle -----------------------------------------------------------------------------


def test_length_with_anisotropic_spacing() -> None:
    scale = PixelScale(row_mm=2.0, column_mm=0.5, source=PIXEL_SPACING)
    # dx = 4 columns * 0.5 mm = 2 mm, dy = 3 rows * 2 mm = 6 mm
    measured = length((1.0, 1.0), (5.0, 4.0), scale)
    assert measured.pixels == pytest.approx(5.0)
    assert measured.mm == pytest.approx(math.sqrt(40.0))
    assert length((5.0, 4.0), (1.0, 1.0), None).mm is None


def test_angle_is_right_in_mm_not_in_pixels() -> None:
    # u = (2, 1) px, v = (-2, 1) px; with columns 1 mm and rows 2 mm both are (±2, 2) mm: 90°.
    # In pixels the angle is acos((-4 + 1) / 5).
    scale = PixelScale(row_mm=2.0, column_mm=1.0, source=PIXEL_SPACING)
    a, vertex, b = (12.0, 11.0), (10.0, 10.0), (8.0, 11.0)
    assert angle_degrees(a, vertex, b, scale) == pytest.approx(90.0)
    assert angle_degrees(a, vertex, b, None) == pytest.approx(math.degrees(math.acos(-0.6)))


def test_angle_limits_and_degenerate_arms() -> None:
    assert angle_degrees((1, 0), (0, 0), (-3, 0), None) == pytest.approx(180.0)
    assert angle_degrees((1, 0), (0, 0), (5, 0), None) == pytest.approx(0.0)
    assert angle_degrees((0, 0), (0, 0), (5, 0), None) is None


# --- ROI statistics -------------------------------------------------------------------------------


def _frame() -> np.ndarray:
    """10 x 12: a gradient 100 + column, with a constant -1000 block in rows 6-8, columns 0-3."""
    values = 100.0 + np.tile(np.arange(12, dtype=np.float64), (10, 1))
    values[6:9, 0:4] = -1000.0
    return values


SCALE = PixelScale(row_mm=0.5, column_mm=0.8, source=PIXEL_SPACING)


def test_rectangle_counts_centres_inside_inclusive_any_corner_order() -> None:
    # columns ceil(2.3)..5 = 3, 4, 5 (values 103..105), rows 1..floor(3.7) = 1, 2, 3
    for c0, c1 in [((2.3, 1.0), (5.0, 3.7)), ((5.0, 3.7), (2.3, 1.0)), ((2.3, 3.7), (5.0, 1.0))]:
        stats = roi_stats(_frame(), "rectangle", c0, c1, SCALE)
        assert stats.pixels == 9
        assert stats.mean == pytest.approx(104.0)
        assert stats.sd == pytest.approx(math.sqrt(2.0 / 3.0))  # population SD of 103, 104, 105
        assert (stats.min, stats.max) == (103.0, 105.0)
        assert stats.area_px == 9.0
        assert stats.area_mm2 == pytest.approx(9 * 0.5 * 0.8)


def test_rectangle_on_a_constant_region() -> None:
    stats = roi_stats(_frame(), "rectangle", (0, 6), (3, 8), None)
    summary = (stats.pixels, stats.mean, stats.sd, stats.min, stats.max)
    assert summary == (12, -1000, 0, -1000, -1000)
    assert stats.area_mm2 is None


def test_ellipse_inscribed_in_the_rectangle() -> None:
    # Circle of radius 2 around (2, 2): rows dy=0 -> 5 pixels, dy=±1 -> 3 each, dy=±2 -> 1 each.
    stats = roi_stats(_frame(), "ellipse", (0.0, 0.0), (4.0, 4.0), SCALE)
    assert stats.pixels == 13
    assert stats.mean == pytest.approx(102.0)  # symmetric about column 2
    # sum of dx^2: 4+1+0+1+4 + 2*(1+0+1) = 14
    assert stats.sd == pytest.approx(math.sqrt(14.0 / 13.0))
    assert (stats.min, stats.max) == (100.0, 104.0)
    assert stats.area_mm2 == pytest.approx(13 * 0.4)


def test_rois_are_clipped_to_the_image() -> None:
    # Quarter circle inside: (0,0) (1,0) (2,0) (0,1) (1,1) (0,2) -> columns 0,1,2,0,1,0
    quarter = roi_stats(_frame(), "ellipse", (-2.0, -2.0), (2.0, 2.0), None)
    assert quarter.pixels == 6
    assert quarter.mean == pytest.approx((100 + 101 + 102 + 100 + 101 + 100) / 6)
    corner = roi_stats(_frame(), "rectangle", (10.5, 8.0), (40.0, 30.0), SCALE)
    assert (corner.pixels, corner.mean, corner.sd) == (2, 111.0, 0.0)


@pytest.mark.parametrize(
    ("shape", "c0", "c1"),
    [
        ("rectangle", (-5.0, -5.0), (-1.0, -1.0)),
        ("ellipse", (12.6, 0.0), (20.0, 5.0)),
        ("rectangle", (2.2, 2.2), (2.8, 2.8)),
        ("ellipse", (math.nan, 0.0), (3.0, 3.0)),
    ],
    ids=["outside", "right-of-image", "between-centres", "nan"],
)
def test_empty_roi_has_no_statistics(shape: str, c0: tuple[float, float],
                                     c1: tuple[float, float]) -> None:
    stats = roi_stats(_frame(), shape, c0, c1, SCALE)  # type: ignore[arg-type]
    assert stats.empty and stats.pixels == 0
    assert (stats.mean, stats.sd, stats.min, stats.max) == (None, None, None, None)
    assert (stats.area_px, stats.area_mm2) == (0.0, 0.0)
    assert roi_stats(_frame(), shape, c0, c1, None).area_mm2 is None  # type: ignore[arg-type]


def test_degenerate_ellipse_is_its_segment() -> None:
    stats = roi_stats(_frame(), "ellipse", (1.0, 2.0), (4.0, 2.0), None)
    assert (stats.pixels, stats.mean) == (4, 102.5)


def test_bad_roi_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        roi_stats(_frame(), "polygon", (0, 0), (1, 1), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2-D"):
        roi_stats(np.zeros((2, 2, 3)), "rectangle", (0, 0), (1, 1), None)


def test_full_frame_ellipse_is_close_to_pi_a_b() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(40.0, 10.0, (512, 512))
    stats = roi_stats(values, "ellipse", (0.0, 0.0), (511.0, 511.0), None)
    assert stats.pixels == pytest.approx(math.pi * 255.5**2, rel=0.005)
    yy, xx = np.mgrid[0:512, 0:512]
    inside = (xx - 255.5) ** 2 + (yy - 255.5) ** 2 <= 255.5**2
    assert stats.pixels == int(inside.sum())
    assert stats.mean == pytest.approx(float(values[inside].mean()))
    assert stats.sd == pytest.approx(float(values[inside].std()))


# --- modality values and the probe ----------------------------------------------------------------


def test_modality_values_from_rescale() -> None:
    path = _testdata("CT_small.dcm")
    decoded = decode_frame(path)
    info = frame_info(pydicom.dcmread(path))
    assert (info.rescale_slope, info.rescale_intercept) == (1.0, -1024.0)
    values = modality_values(decoded.array, info)
    assert values.dtype == np.float64
    assert decoded.array[10, 20] == 185 and values[10, 20] == 185 - 1024
    assert np.array_equal(values, decoded.array.astype(np.float64) - 1024.0)


def test_modality_values_from_a_modality_lut() -> None:
    path = _testdata("mlut_18.dcm")
    ds = pydicom.dcmread(path)
    item = ds.ModalityLUTSequence[0]
    first = int(item.LUTDescriptor[1])
    assert first == -2048  # LUT Descriptor 4096\-2048\16: stored -2048 maps to LUTData[0]
    decoded = decode_frame(path)
    info = frame_info(ds)
    values = modality_values(decoded.array, info)
    for row, column in [(0, 0), (10, 20), (256, 256), (511, 511)]:
        stored = int(decoded.array[row, column])
        assert values[row, column] == float(item.LUTData[stored - first])
    assert decoded.array[10, 20] == 2047 and values[10, 20] == 65535.0  # the LUT's last entry
    assert decoded.array[0, 0] == -1 and values[0, 0] == 32759.0


def test_colour_frames_have_no_modality_transform() -> None:
    rgb = np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
    info = _info(photometric="RGB", samples_per_pixel=3, bits_allocated=8, bits_stored=8,
                 rescale_intercept=-1024.0)
    assert np.array_equal(modality_values(rgb, info), rgb.astype(np.float64))
    found = probe(rgb, info, 2.0, 1.0)
    assert found is not None
    assert (found.column, found.row, found.samples) == (2, 1, (15, 16, 17))
    assert (found.stored, found.value, found.unit) == (None, None, "")


def test_probe_rounds_to_the_nearest_pixel_and_knows_hu() -> None:
    path = _testdata("CT_small.dcm")
    decoded = decode_frame(path)
    found = probe(decoded.array, decoded.info, 20.4, 9.6, "CT")
    assert found is not None
    assert (found.column, found.row, found.stored, found.value, found.unit) == (
        20, 10, 185, -839.0, "HU"
    )
    assert isinstance(found.stored, int)
    # Pixel (0, 0) covers [-0.5, 0.5): the half-way point belongs to the next pixel.
    assert probe(decoded.array, decoded.info, -0.5, 0.0, "CT") is not None
    assert probe(decoded.array, decoded.info, -0.51, 0.0, "CT") is None
    assert probe(decoded.array, decoded.info, 127.49, 127.49, "CT") is not None
    assert probe(decoded.array, decoded.info, 127.5, 0.0, "CT") is None
    assert probe(decoded.array, decoded.info, 0.0, math.nan, "CT") is None


def test_probe_through_a_modality_lut_has_no_unit() -> None:
    path = _testdata("mlut_18.dcm")
    decoded = decode_frame(path)
    found = probe(decoded.array, decoded.info, 20.0, 10.0, "OT")
    assert found is not None and (found.stored, found.value, found.unit) == (2047, 65535.0, "")


@pytest.mark.parametrize(
    ("rescale_type", "modality", "unit"),
    [
        ("HU", "MR", "HU"),
        ("hu", "CT", "HU"),
        ("", "CT", "HU"),
        ("", "ct ", "HU"),
        ("OD", "CR", "OD"),
        ("MGML", "CT", "MGML"),
        ("US", "CT", ""),
        ("", "MR", ""),
    ],
)
def test_modality_unit(rescale_type: str, modality: str, unit: str) -> None:
    assert modality_unit(_info(rescale_type=rescale_type), modality) == unit


def test_modality_unit_of_colour_and_unknown_frames() -> None:
    assert modality_unit(_info(photometric="RGB"), "CT") == ""
    assert modality_unit(None, "CT") == "HU"


@pytest.mark.parametrize(
    ("value", "text"),
    [(-1000.0, "-1000"), (35.26, "35.3"), (-0.04, "0.0"), (0.0, "0"), (2.5, "2.5")],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text
