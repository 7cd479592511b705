"""SUVmax / SUVmean in ROIs and the probe's SUV text, against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.dicom.calibration import PIXEL_SPACING, PixelScale
from viewer.dicom.measure import roi_stats
from viewer.dicom.suv_measure import (
    suv_from_roi_stats,
    suv_mask_stats,
    suv_probe_text,
    suv_roi_stats,
)

FACTOR = 2.0e-4  # g/ml per Bq/ml

# Bq/ml; the 3x3 centre block holds 10000..18000, the border 5000.
VALUES = np.full((5, 5), 5000.0)
VALUES[1:4, 1:4] = np.arange(10000.0, 19000.0, 1000.0).reshape(3, 3)


def test_rectangle_suvmax_and_suvmean() -> None:
    stats = suv_roi_stats(VALUES, "rectangle", (1, 1), (3, 3), FACTOR)
    assert stats.pixels == 9
    assert stats.suv_max == pytest.approx(18000 * 2e-4)  # 3.6
    assert stats.suv_mean == pytest.approx(14000 * 2e-4)  # mean of 10000..18000: 2.8
    # SD of 10000..18000 step 1000 (population): 1000 * sqrt(60/9) = 2581.99 -> 0.516
    assert stats.suv_sd == pytest.approx(1000 * np.sqrt(60 / 9) * 2e-4)
    assert stats.text == "SUVmax 3.60  SUVmean 2.80"


def test_ellipse_takes_the_same_pixels_as_the_hu_statistics() -> None:
    # The circle inscribed in (0,0)-(4,4): the 13 pixel centres within 2 of (2, 2).
    scale = PixelScale(4.0, 4.0, PIXEL_SPACING)
    stats = suv_roi_stats(VALUES, "ellipse", (0, 0), (4, 4), FACTOR, scale)
    plain = roi_stats(VALUES, "ellipse", (0, 0), (4, 4), scale)
    assert stats.pixels == plain.pixels == 13
    # 9 centre pixels (sum 126000) + the 4 edge midpoints (5000 each): 146000 / 13
    assert stats.suv_mean == pytest.approx(146000 / 13 * 2e-4)
    assert suv_from_roi_stats(plain, FACTOR) == stats


def test_mask_for_any_outline() -> None:
    mask = np.zeros((5, 5), dtype=bool)
    mask[2, 1:4] = True  # 13000, 14000, 15000
    stats = suv_mask_stats(VALUES, mask, FACTOR)
    assert stats.pixels == 3
    assert stats.suv_max == pytest.approx(3.0)
    assert stats.suv_mean == pytest.approx(2.8)
    assert suv_mask_stats(VALUES, np.zeros((5, 5), dtype=bool), FACTOR).empty
    with pytest.raises(ValueError, match="shape"):
        suv_mask_stats(VALUES, np.zeros((4, 4), dtype=bool), FACTOR)


def test_empty_roi_and_bad_factor() -> None:
    outside = suv_roi_stats(VALUES, "rectangle", (10, 10), (12, 12), FACTOR)
    assert outside.empty and outside.suv_max is None and outside.text == ""
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="SUVbw factor"):
            suv_roi_stats(VALUES, "rectangle", (1, 1), (3, 3), bad)


def test_probe_text() -> None:
    assert suv_probe_text(12345.0, 2.6e-4) == "SUVbw 3.21 (12345 Bq/ml)"  # 12345 * 2.6e-4
    assert suv_probe_text(12345.4, None) == "12345 Bq/ml"
    assert suv_probe_text(100.0, None, "Units is CNTS, not BQML") == (
        "100 Bq/ml (no SUVbw: Units is CNTS, not BQML)"
    )
