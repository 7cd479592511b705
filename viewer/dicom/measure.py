"""Measurements on one frame: lengths, angles, ROI statistics and the pixel probe, Qt-free.

Coordinates are image pixel coordinates (x = column, y = row), with pixel centres at integer
coordinates: pixel (x=0, y=0) covers [-0.5, 0.5) x [-0.5, 0.5). Lengths in mm come from the
frame's calibration (`viewer.dicom.calibration`): Pixel Spacing, Imager Pixel Spacing corrected by
the magnification factor or at the detector, or the ultrasound region under the measurement.

Ultrasound, decided here: a length, area or angle uses the one region holding all its points
and is refused (`Refusal`) when its points lie in different regions or outside every region.
In a region whose axes are not both cm (M-mode: s and cm; Doppler: s and cm/s) a straight line
is not a distance: a length there gives the two differences in their own units (`Length.deltas`:
a time and a depth or velocity, as callipers on such a trace are read), and areas and angles
are refused. The GUI draws; the CLI may print the same numbers.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from viewer.dicom.calibration import (
    CM,
    IMAGER_PIXEL_SPACING,
    UNIT_SYMBOLS,
    Calibration,
    PixelScale,
    UltrasoundRegion,
    calibrate,
    valid_spacing,
)
from viewer.dicom.display import apply_modality
from viewer.dicom.frameinfo import FrameInfo
from viewer.dicom.stack import SliceGeometry

LOGGER = logging.getLogger(__name__)

Point = tuple[float, float]  # (x, y) = (column, row) in image pixels
RoiShape = Literal["rectangle", "ellipse"]
Quantity = tuple[float, str]  # a physical value and its unit symbol ("mm", "s", "cm/s" ...)


def calibration_of(geometry: SliceGeometry | None, info: FrameInfo | None) -> Calibration:
    """How the frame is measured: the decoded frame's own calibration (read from its header
    by `frame_info`, ultrasound regions and magnification included) when it has one; else,
    while the frame is still decoding or for a FrameInfo made without one, the spacing either
    argument knows (Pixel Spacing first, then Imager Pixel Spacing)."""
    if info is not None and info.calibration is not None and info.calibration.source:
        return info.calibration
    pixel: list[Sequence[float] | None] = []
    imager: list[Sequence[float] | None] = []
    if geometry is not None:
        target = imager if geometry.spacing_source == IMAGER_PIXEL_SPACING else pixel
        target.append(geometry.pixel_spacing)
    if info is not None:
        pixel.append(info.pixel_spacing)
        imager.append(info.imager_pixel_spacing)
    return calibrate(_first_valid(pixel), _first_valid(imager))


def _first_valid(candidates: list[Sequence[float] | None]) -> tuple[float, float] | None:
    for candidate in candidates:
        valid = valid_spacing(candidate)
        if valid is not None:
            return valid
    return None


# --- where a measurement lies: ultrasound regions -------------------------------------------------


class RefusalKind(enum.Enum):
    OUTSIDE = "outside"  # a point lies outside every ultrasound region
    CROSSES = "crosses"  # the points lie in different regions
    NOT_SPATIAL = "not_spatial"  # an area or angle in a region whose axes are not both cm
    NO_UNITS = "no_units"  # a region without physical units on either axis


@dataclass(frozen=True)
class Refusal:
    """Why a measurement has no physical value; `text` in English (the GUI translates
    `kind` with `regions` and `units`)."""

    kind: RefusalKind
    regions: tuple[int, ...] = ()
    units: str = ""

    @property
    def text(self) -> str:
        numbers = " and ".join(str(n) for n in self.regions)
        if self.kind is RefusalKind.OUTSIDE:
            return "outside every ultrasound region"
        if self.kind is RefusalKind.CROSSES:
            return f"crosses ultrasound regions {numbers}"
        if self.kind is RefusalKind.NOT_SPATIAL:
            return f"region {numbers} is not in cm on both axes ({self.units})"
        return f"region {numbers} has no physical units"


@dataclass(frozen=True)
class Placement:
    """The scale a measurement at some points uses: the frame's, or that of the one
    ultrasound region holding every point (`region`); or why there is none (`refusal`)."""

    scale: PixelScale | None
    region: UltrasoundRegion | None = None
    refusal: Refusal | None = None


def place(calibration: Calibration, points: Sequence[Point]) -> Placement:
    """Which scale measures `points`. Ultrasound: the region holding all of them (regions
    may nest, as a colour-flow box in a B-mode sector: a cm region first, then the smallest);
    points in different regions, or outside every region, are refused."""
    if not calibration.regions:
        return Placement(calibration.scale)
    holding = [r for r in calibration.regions if all(r.contains(*p) for p in points)]
    if holding:
        region = min(holding, key=lambda r: (not r.spatial, r.area))
        return Placement(region.scale(), region)
    owners = [_region_at(calibration.regions, p) for p in points]
    if any(owner is None for owner in owners):
        return Placement(None, refusal=Refusal(RefusalKind.OUTSIDE))
    numbers = tuple(sorted({owner.number for owner in owners if owner is not None}))
    return Placement(None, refusal=Refusal(RefusalKind.CROSSES, numbers))


def _region_at(regions: Sequence[UltrasoundRegion], point: Point) -> UltrasoundRegion | None:
    holding = [r for r in regions if r.contains(*point)]
    return min(holding, key=lambda r: (not r.spatial, r.area)) if holding else None


def _spatial_refusal(placement: Placement) -> Refusal | None:
    """Areas and angles need distances on both axes: a refusal in an M-mode or Doppler
    region (or an outside/crossing one from `place`)."""
    if placement.refusal is not None:
        return placement.refusal
    region = placement.region
    if region is not None and placement.scale is None:
        return Refusal(RefusalKind.NOT_SPATIAL, (region.number,), region.units_text)
    return None


# --- length and angle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Length:
    """A distance in image pixels, and in mm when the frame has a pixel scale.

    `region`: the ultrasound region measured in. `deltas`: in a region whose axes are not
    both cm, the horizontal and vertical differences in their units (cm shown as mm), absolute.
    """

    pixels: float
    mm: float | None
    region: UltrasoundRegion | None = None
    deltas: tuple[Quantity, ...] = ()


def length(p0: Point, p1: Point, scale: PixelScale | None) -> Length:
    """Distance between two points (x, y); mm with anisotropic spacing taken into account."""
    dx, dy = float(p1[0]) - float(p0[0]), float(p1[1]) - float(p0[1])
    mm = math.hypot(dx * scale.column_mm, dy * scale.row_mm) if scale is not None else None
    return Length(math.hypot(dx, dy), mm)


def measure_length(p0: Point, p1: Point, calibration: Calibration) -> Length | Refusal:
    """The length p0-p1 as the frame's calibration measures it (see the module docstring)."""
    placement = place(calibration, (p0, p1))
    if placement.refusal is not None:
        return placement.refusal
    found = length(p0, p1, placement.scale)
    region = placement.region
    if region is None or placement.scale is not None:
        return Length(found.pixels, found.mm, region)
    dx, dy = float(p1[0]) - float(p0[0]), float(p1[1]) - float(p0[1])
    deltas = tuple(
        _quantity(abs(pixels * delta), units)
        for pixels, delta, units in ((dx, region.delta_x, region.units_x),
                                     (dy, region.delta_y, region.units_y))
        if units != 0
    )
    if not deltas:
        return Refusal(RefusalKind.NO_UNITS, (region.number,))
    return Length(found.pixels, None, region, deltas)


def _quantity(value: float, units: int) -> Quantity:
    """A value in Physical Units code `units`, cm given as mm (as every other length here)."""
    if units == CM:
        return value * 10.0, "mm"
    return value, UNIT_SYMBOLS.get(units, "")


def measure_angle(a: Point, vertex: Point, b: Point,
                  calibration: Calibration) -> float | None | Refusal:
    """`angle_degrees` in the scale of the region (or frame) holding all three points."""
    placement = place(calibration, (a, vertex, b))
    refusal = _spatial_refusal(placement)
    if refusal is not None:
        return refusal
    return angle_degrees(a, vertex, b, placement.scale)


def angle_degrees(a: Point, vertex: Point, b: Point, scale: PixelScale | None) -> float | None:
    """The angle a-vertex-b at `vertex` in degrees, 0..180, measured in the patient plane (mm
    when the scale is known, so non-square pixels do not skew it); None when an arm has no
    length (as while the user is still placing the points)."""
    sx, sy = (scale.column_mm, scale.row_mm) if scale is not None else (1.0, 1.0)
    ux, uy = (float(a[0]) - vertex[0]) * sx, (float(a[1]) - vertex[1]) * sy
    vx, vy = (float(b[0]) - vertex[0]) * sx, (float(b[1]) - vertex[1]) * sy
    if math.hypot(ux, uy) == 0.0 or math.hypot(vx, vy) == 0.0:
        return None
    # atan2 of cross and dot is exact near 0 and 180 degrees, where acos loses precision.
    return math.degrees(math.atan2(abs(ux * vy - uy * vx), ux * vx + uy * vy))


# --- regions of interest -------------------------------------------------------------------------


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the pixels whose centres lie inside an ROI, in modality units.

    `sd` is the population standard deviation (ddof=0). An ROI with no pixel inside the image
    has `pixels == 0` (`empty`), None for mean/sd/min/max, area 0.
    `area_px` is the pixel count (one px² per pixel); `area_mm2` the same in mm² (None
    without a pixel scale).
    """

    pixels: int
    mean: float | None
    sd: float | None
    min: float | None
    max: float | None
    area_px: float
    area_mm2: float | None
    region: UltrasoundRegion | None = None  # the ultrasound region measured in

    @property
    def empty(self) -> bool:
        return self.pixels == 0


_EPSILON = 1e-9  # a pixel centre on the outline (to rounding) counts as inside


def roi_mask(
    rows: int, columns: int, shape: RoiShape, corner0: Point, corner1: Point
) -> tuple[slice, slice, np.ndarray] | None:
    """The pixels inside an ROI as (row slice, column slice, boolean mask of that box), clipped
    to a rows x columns image; None when no pixel centre lies inside.

    Rectangle: centres within the corners' bounds, bounds included. Ellipse: centres within the
    ellipse inscribed in that rectangle (a degenerate ellipse is its segment).
    """
    if shape not in ("rectangle", "ellipse"):
        raise ValueError(f"shape must be 'rectangle' or 'ellipse', not {shape!r}")
    x0, x1 = sorted((float(corner0[0]), float(corner1[0])))
    y0, y1 = sorted((float(corner0[1]), float(corner1[1])))
    if not all(math.isfinite(v) for v in (x0, x1, y0, y1)):
        return None
    c_start = max(math.ceil(x0 - _EPSILON), 0)
    c_stop = min(math.floor(x1 + _EPSILON), columns - 1) + 1
    r_start = max(math.ceil(y0 - _EPSILON), 0)
    r_stop = min(math.floor(y1 + _EPSILON), rows - 1) + 1
    if c_start >= c_stop or r_start >= r_stop:
        return None
    box = (slice(r_start, r_stop), slice(c_start, c_stop))
    a, b = (x1 - x0) / 2.0, (y1 - y0) / 2.0
    if shape == "rectangle" or a == 0.0 or b == 0.0:
        return box[0], box[1], np.ones((r_stop - r_start, c_stop - c_start), dtype=bool)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    u = ((np.arange(c_start, c_stop, dtype=np.float64) - cx) / a) ** 2
    v = ((np.arange(r_start, r_stop, dtype=np.float64) - cy) / b) ** 2
    # v + u <= 1 as v <= 1 - u: one broadcast comparison, no full-size float temporary.
    mask = np.less_equal(v[:, np.newaxis], (1.0 + _EPSILON - u)[np.newaxis, :])
    if not mask.any():
        return None
    return box[0], box[1], mask


def roi_stats(
    values: np.ndarray,
    shape: RoiShape,
    corner0: Point,
    corner1: Point,
    scale: PixelScale | None,
) -> RoiStats:
    """Mean, SD (population, ddof=0), min, max and area of a rectangle or ellipse ROI.

    `values`: the 2-D frame in modality units (see `modality_values`); corners in image pixel
    coordinates, in any order. See `roi_mask` for which pixels count.
    """
    if values.ndim != 2:
        raise ValueError(f"values must be a 2-D frame, not shape {values.shape}")
    found = roi_mask(values.shape[0], values.shape[1], shape, corner0, corner1)
    per_pixel_mm2 = scale.row_mm * scale.column_mm if scale is not None else None
    if found is None:
        return RoiStats(0, None, None, None, None, 0.0, 0.0 if per_pixel_mm2 is not None else None)
    rows, columns, mask = found
    # Boolean indexing copies: a 1-D array of our own, so the SD pass can work in place
    # (fresh multi-MB temporaries cost more in page faults than the arithmetic).
    inside = values[rows, columns][mask]
    if inside.dtype != np.float64:
        inside = inside.astype(np.float64)
    count = int(inside.size)
    mean = float(inside.mean())
    low, high = float(inside.min()), float(inside.max())
    # Two-pass variance, sum((x - mean)^2) / n: no cancellation for HU-sized values.
    np.subtract(inside, mean, out=inside)
    sd = math.sqrt(float(np.dot(inside, inside)) / count)
    return RoiStats(
        pixels=count,
        mean=mean,
        sd=sd,
        min=low,
        max=high,
        area_px=float(count),
        area_mm2=count * per_pixel_mm2 if per_pixel_mm2 is not None else None,
    )


def measure_roi(
    values: np.ndarray,
    shape: RoiShape,
    corner0: Point,
    corner1: Point,
    calibration: Calibration,
) -> RoiStats | Refusal:
    """`roi_stats` in the scale of the region (or frame) holding the ROI; an ROI across
    ultrasound regions, or in one whose axes are not both cm, is refused."""
    placement = place(calibration, (corner0, corner1))
    refusal = _spatial_refusal(placement)
    if refusal is not None:
        return refusal
    stats = roi_stats(values, shape, corner0, corner1, placement.scale)
    return replace(stats, region=placement.region) if placement.region is not None else stats


# --- modality values and the probe ---------------------------------------------------------------


def modality_values(array: np.ndarray, info: FrameInfo) -> np.ndarray:
    """Stored values -> modality values as float64 (HU for CT): the Modality LUT when present,
    else Rescale Slope/Intercept (PS3.3 C.11.1), by the display pipeline's own stage.

    Colour and palette frames have no modality transform: their samples are returned as float.
    """
    if not info.is_monochrome or array.ndim != 2:
        return array.astype(np.float64)
    return np.asarray(apply_modality(array, info), dtype=np.float64)


def modality_unit(info: FrameInfo | None, modality: str) -> str:
    """The unit of modality values: "HU" for Rescale Type HU, or for CT without a Rescale Type
    (PS3.3 C.8.2.1: CT rescales to Hounsfield units); else the Rescale Type as written; "" when
    unknown, unspecified ("US", C.11.1.1.2) or for colour frames."""
    if info is not None and not info.is_monochrome:
        return ""
    rescale_type = (info.rescale_type if info is not None else "").strip()
    if rescale_type.upper() == "HU":
        return "HU"
    if rescale_type.upper() == "US":
        return ""
    if rescale_type:
        return rescale_type
    return "HU" if modality.strip().upper() == "CT" else ""


@dataclass(frozen=True)
class Probe:
    """The pixel under the cursor.

    Grey frames: `stored` is the stored value and `value` the modality value in `unit`.
    Colour frames: `samples` holds R, G, B (`stored` and `value` None, `unit` "").
    Palette frames: `stored` is the index, `samples` its palette colour, `value` None.
    Ultrasound: `region` is the region under the pixel, `physical` the pixel centre's
    physical x and y in that region's units (cm as mm), from its reference pixel (empty when
    the region has none).
    """

    column: int
    row: int
    stored: int | float | None
    value: float | None
    unit: str
    samples: tuple[int | float, ...] = ()
    region: UltrasoundRegion | None = None
    physical: tuple[Quantity, ...] = ()


def _number(value: np.generic) -> int | float:
    return int(value) if isinstance(value, np.integer) else float(value)


def probe(
    array: np.ndarray, info: FrameInfo, x: float, y: float, modality: str = ""
) -> Probe | None:
    """The value at image point (x, y), rounded to the nearest pixel centre; None outside.

    `modality` (the series' Modality) decides the unit when the file names none (see
    `modality_unit`).
    """
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    column, row = math.floor(x + 0.5), math.floor(y + 0.5)  # half-up: the pixel's own square
    if not (0 <= row < array.shape[0] and 0 <= column < array.shape[1]):
        return None
    found = _probe_value(array, info, column, row, modality)
    regions = info.calibration.regions if info.calibration is not None else ()
    region = _region_at(regions, (column, row))
    if region is None:
        return found
    where = region.physical(column, row)
    physical: tuple[Quantity, ...] = ()
    if where is not None:
        physical = tuple(_quantity(value, units) for value, units in
                         ((where[0], region.units_x), (where[1], region.units_y)) if units != 0)
    return replace(found, region=region, physical=physical)


def _probe_value(array: np.ndarray, info: FrameInfo, column: int, row: int,
                 modality: str) -> Probe:
    pixel = array[row, column]
    if array.ndim == 3:
        samples = tuple(_number(s) for s in np.asarray(pixel).ravel())
        return Probe(column, row, None, None, "", samples)
    stored = _number(pixel)
    if info.photometric == "PALETTE COLOR" and info.palette is not None:
        index = min(max(int(stored) - info.palette.first_mapped, 0), len(info.palette.rgb) - 1)
        colour = tuple(int(c) for c in info.palette.rgb[index])
        return Probe(column, row, stored, None, "", colour)
    if not info.is_monochrome:
        return Probe(column, row, stored, None, "")
    value = float(np.asarray(apply_modality(np.asarray([pixel]), info), dtype=np.float64)[0])
    return Probe(column, row, stored, value, modality_unit(info, modality))


def format_value(value: float, decimals: int = 1) -> str:
    """A measured value for display: integers without decimals, others with `decimals`
    ("-1000", "35.3"); never "-0.0"."""
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text
