"""Four-corner annotations and the scale bar, with values written out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.dicom.makers import image_dataset
from viewer.dicom.annotations import (
    DEFAULT_LABELS,
    Corners,
    ScaleBar,
    age_at,
    four_corners,
    scale_bar,
)
from viewer.dicom.calibration import IMAGER_PIXEL_SPACING, PIXEL_SPACING, PixelScale
from viewer.dicom.frameinfo import frame_info
from viewer.dicom.stack import SliceGeometry, StackInfo

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _geometry(
    location: float | None = -12.5,
    thickness: float | None = 1.0,
    position: tuple[float, float, float] | None = (-100.0, -100.0, -12.5),
) -> SliceGeometry:
    return SliceGeometry(
        position=position,
        orientation=AXIAL,
        pixel_spacing=(0.5, 0.5),
        slice_thickness=thickness,
        slice_location=location,
        frame_of_reference_uid="1.2.3",
        rows=512,
        columns=512,
    )


FULL = StackInfo(
    patient_name="张^三=张三",
    patient_id="PID-0042",
    patient_birth_date="19790314",
    patient_sex="M",
    study_date="20240313",
    study_time="101112.123",
    study_description="CT 头部平扫",
    series_number=3,
    series_description="AXIAL 1.0",
    modality="CT",
    institution_name="Example Hospital",
)


def test_full_corners_as_a_reading_workstation_shows_them() -> None:
    corners = four_corners(FULL, _geometry(), None, 11, 240, (40.0, 400.0), 1.5)
    assert corners == Corners(
        top_left=("张, 三 = 张三", "ID: PID-0042", "DOB: 1979-03-14 (44Y)", "Sex: M"),
        top_right=(
            "Example Hospital",
            "2024-03-13 10:11:12",
            "CT 头部平扫",
            "Se: 3 AXIAL 1.0",
            "CT",
        ),
        bottom_left=("Im: 12 / 240", "Loc: -12.5 mm", "Thk: 1.0 mm"),
        bottom_right=("W: 400 L: 40", "Zoom: 150%"),
    )


def test_lossy_frames_say_so() -> None:
    pixels = np.zeros((4, 4), dtype=np.uint16)
    lossy = frame_info(image_dataset(pixels, LossyImageCompression="01"))
    kept = frame_info(image_dataset(pixels, LossyImageCompression="00"))
    assert four_corners(FULL, None, lossy, 0, 1, None, 1.0).bottom_left == ("Im: 1 / 1", "LOSSY")
    assert four_corners(FULL, None, kept, 0, 1, None, 1.0).bottom_left == ("Im: 1 / 1",)


def test_missing_values_leave_their_lines_out() -> None:
    corners = four_corners(StackInfo(), None, None, 0, 1, None, 1.0)
    assert corners == Corners((), (), ("Im: 1 / 1",), ("Zoom: 100%",))
    sparse = StackInfo(patient_birth_date="19790314", series_description="LOCALIZER")
    geometry = _geometry(location=None, thickness=None, position=None)
    corners = four_corners(sparse, geometry, None, 5, 3, (math.nan, 1.0), 0.0)
    assert corners == Corners(("DOB: 1979-03-14",), ("LOCALIZER",), (), ())
    text = "\n".join(line for group in corners.__dict__.values() for line in group)
    assert "None" not in text and "nan" not in text


def test_slice_location_falls_back_to_the_position_along_the_normal() -> None:
    geometry = _geometry(location=None, thickness=0.625, position=(-100.0, -100.0, -20.25))
    corners = four_corners(StackInfo(), geometry, None, 0, 2, None, 1.0)
    assert corners.bottom_left == ("Im: 1 / 2", "Loc: -20.25 mm", "Thk: 0.625 mm")


@pytest.mark.parametrize(
    ("birth", "study", "age"),
    [
        ("19790314", "20240313", "44Y"),  # the day before the birthday
        ("19790314", "20240314", "45Y"),
        ("20231115", "20240314", "3M"),
        ("20240301", "20240315", "14D"),
        ("2024.03.01", "20240301", "0D"),  # ACR-NEMA dates are read too
        ("20240316", "20240315", ""),  # born after the study: no age
        ("1979", "20240315", ""),
        ("19790314", "", ""),
    ],
)
def test_age_at_study_date(birth: str, study: str, age: str) -> None:
    assert age_at(birth, study) == age


def test_translated_labels_with_english_for_missing_keys() -> None:
    labels = {
        "image": "图像:",
        "window": "窗宽:",
        "level": "窗位:",
        "age_years": "岁",
        "patient_id": "",  # an empty label leaves the bare value
    }
    corners = four_corners(FULL, None, None, 0, 10, (-600.0, 1500.0), 2.0, labels)
    assert corners.bottom_left == ("图像: 1 / 10",)
    assert corners.bottom_right == ("窗宽: 1500 窗位: -600", "Zoom: 200%")
    assert corners.top_left[1:3] == ("PID-0042", "DOB: 1979-03-14 (44岁)")
    assert age_at("20231115", "20240314", {"age_months": "个月"}) == "3个月"


def test_every_default_label_is_used() -> None:
    info = StackInfo(patient_id="1", patient_birth_date="20240101", patient_sex="F",
                     study_date="20240102", series_number=1)
    lossy = frame_info(image_dataset(np.zeros((2, 2), np.uint8), LossyImageCompression="01"))
    shown: set[str] = set()
    for key in DEFAULT_LABELS:
        marked = {key: f"<{key}>"}
        corners = four_corners(info, _geometry(), lossy, 0, 1, (1.0, 2.0), 1.0, marked)
        text = "\n".join(line for group in corners.__dict__.values() for line in group)
        if key.startswith("age_"):  # one birth/study pair shows one unit: check them apart
            text = "\n".join(age_at(b, "20240301", marked)
                             for b in ("19790101", "20231231", "20240229"))
        if f"<{key}>" in text:
            shown.add(key)
    assert shown == set(DEFAULT_LABELS)


def test_window_values_keep_small_fractions() -> None:
    corners = four_corners(StackInfo(), None, None, 0, 1, (2.5, 5.0), 1.0)
    assert corners.bottom_right[0] == "W: 5 L: 2.5"
    corners = four_corners(StackInfo(), None, None, 0, 1, (1035.6, 2000.4), 0.333)
    assert corners.bottom_right == ("W: 2000 L: 1036", "Zoom: 33%")


# --- scale bar ------------------------------------------------------------------------------------

HALF_MM = PixelScale(row_mm=2.0, column_mm=0.5, source=PIXEL_SPACING)  # the bar uses columns


@pytest.mark.parametrize(
    ("zoom", "bar"),
    [
        (1.0, ScaleBar(50.0, 100.0, "5 cm")),  # room for 50 mm: exactly 5 x 10^1
        (2.0, ScaleBar(20.0, 80.0, "20 mm")),  # room for 25 mm
        (3.0, ScaleBar(10.0, 60.0, "10 mm")),  # room for 16.7 mm
        (0.25, ScaleBar(200.0, 100.0, "20 cm")),  # room for 200 mm
        (0.3, ScaleBar(100.0, 60.0, "10 cm")),  # room for 166.7 mm
        (20.0, ScaleBar(2.0, 80.0, "2 mm")),  # room for 2.5 mm
    ],
)
def test_scale_bar_at_several_zooms(zoom: float, bar: ScaleBar) -> None:
    found = scale_bar(HALF_MM, zoom, 100.0)
    assert found is not None
    assert (found.length_mm, found.text) == (bar.length_mm, bar.text)
    assert found.length_px_on_screen == pytest.approx(bar.length_px_on_screen)


@pytest.mark.parametrize(
    ("column_mm", "bar"),
    [
        (0.1, ScaleBar(10.0, 100.0, "10 mm")),  # an exact fit, despite floating point
        (0.003, ScaleBar(0.2, 66.667, "0.2 mm")),
        (0.0005, ScaleBar(0.05, 100.0, "50 µm")),
    ],
)
def test_scale_bar_for_fine_pixels(column_mm: float, bar: ScaleBar) -> None:
    found = scale_bar(PixelScale(1.0, column_mm, IMAGER_PIXEL_SPACING), 1.0, 100.0)
    assert found is not None
    assert (found.length_mm, found.text) == (bar.length_mm, bar.text)
    assert found.length_px_on_screen == pytest.approx(bar.length_px_on_screen, rel=1e-4)


def test_no_scale_bar_without_scale_zoom_or_room() -> None:
    assert scale_bar(None, 1.0, 100.0) is None
    assert scale_bar(HALF_MM, 0.0, 100.0) is None
    assert scale_bar(HALF_MM, 1.0, 0.0) is None
    assert scale_bar(HALF_MM, math.inf, 100.0) is None
