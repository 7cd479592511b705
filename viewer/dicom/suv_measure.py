"""SUVbw in the measurements: ROI statistics and the pixel probe of a PET frame or plane.

Pure functions on modality values (Bq/ml, PET Units BQML) and the SUVbw factor of the series
(`viewer.dicom.suv`): SUV = value * factor, with factor > 0, so SUVmax and SUVmean are the
Bq/ml maximum and mean times the factor. The GUI shows them; the CLI may print the same.

No SUVpeak: PERCIST defines it as the highest mean in a 1 cm^3 sphere, a 3-D neighbourhood that
one plane's ROI cannot give; a 2-D stand-in under the same name would mislead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from viewer.dicom.calibration import PixelScale
from viewer.dicom.measure import Point, RoiShape, RoiStats, format_value, roi_stats


@dataclass(frozen=True)
class SUVStats:
    """SUVbw statistics of an ROI (g/ml), from the pixels whose centres lie inside it."""

    pixels: int
    suv_max: float | None
    suv_mean: float | None
    suv_sd: float | None

    @property
    def empty(self) -> bool:
        return self.pixels == 0

    @property
    def text(self) -> str:
        """"SUVmax 5.12  SUVmean 3.40" (or "" for an empty ROI)."""
        if self.suv_max is None or self.suv_mean is None:
            return ""
        return f"SUVmax {self.suv_max:.2f}  SUVmean {self.suv_mean:.2f}"


def suv_from_roi_stats(stats: RoiStats, factor: float) -> SUVStats:
    """The Bq/ml statistics of an ROI (`measure.roi_stats` / `measure_roi`) as SUVbw."""
    _check_factor(factor)
    if stats.empty or stats.max is None or stats.mean is None:
        return SUVStats(0, None, None, None)
    return SUVStats(
        pixels=stats.pixels,
        suv_max=stats.max * factor,
        suv_mean=stats.mean * factor,
        suv_sd=stats.sd * factor if stats.sd is not None else None,
    )


def suv_roi_stats(
    values: np.ndarray,
    shape: RoiShape,
    corner0: Point,
    corner1: Point,
    factor: float,
    scale: PixelScale | None = None,
) -> SUVStats:
    """SUVmax / SUVmean / SD of a rectangle or ellipse ROI on a 2-D frame of Bq/ml values
    (the same pixels as `measure.roi_stats`)."""
    return suv_from_roi_stats(roi_stats(values, shape, corner0, corner1, scale), factor)


def suv_mask_stats(values: np.ndarray, mask: np.ndarray, factor: float) -> SUVStats:
    """SUV statistics of the pixels where `mask` (same shape as `values`) is True: for an ROI of
    any outline (polygon, freehand, a segment)."""
    _check_factor(factor)
    if mask.shape != values.shape:
        raise ValueError(f"mask {mask.shape} and values {values.shape} differ in shape")
    inside = values[mask].astype(np.float64)
    if inside.size == 0:
        return SUVStats(0, None, None, None)
    mean = float(inside.mean())
    sd = math.sqrt(float(np.mean((inside - mean) ** 2)))
    return SUVStats(int(inside.size), float(inside.max()) * factor, mean * factor, sd * factor)


def suv_probe_text(value: float, factor: float | None, reason: str = "") -> str:
    """The probe's line for a PET pixel of `value` Bq/ml: "SUVbw 3.21 (12345 Bq/ml)", or the
    Bq/ml alone (with why there is no SUV, when `reason` is given)."""
    activity = f"{format_value(value, 0)} Bq/ml" if math.isfinite(value) else str(value)
    if factor is None:
        return f"{activity} (no SUVbw: {reason})" if reason else activity
    return f"SUVbw {value * factor:.2f} ({activity})"


def _check_factor(factor: float) -> None:
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"the SUVbw factor must be a positive number, not {factor!r}")
