"""How a frame's pixels map to physical units, as each modality declares it; Qt-free.

Three ways, chosen in the standard's order:
- Ultrasound: the Sequence of Ultrasound Regions (0018,6011), PS3.3 C.8.5.5. Each region has
  its own pixel bounds, units and Physical Delta X/Y; a measurement uses the region it lies in.
- Projection radiography (CR, DX, MG, IO, XA, RF): PS3.3 10.7.1.3 and C.8.11.7. Imager Pixel
  Spacing is at the detector; divided by the Estimated Radiographic Magnification Factor it
  is at the patient (the plane of the magnification estimate). A Pixel Spacing that differs
  from Imager Pixel Spacing, or that names a Pixel Spacing Calibration Type, has been
  calibrated (GEOMETRY or FIDUCIAL) and is used as it stands.
- Everything else: Pixel Spacing in the patient plane (C.7.6.2.1.1).
A `Calibration` says which was used and why, in words a reader sees beside a length.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports this module for its constants: no pydicom at start-up
    from pydicom.dataset import Dataset
    from pydicom.tag import BaseTag

LOGGER = logging.getLogger(__name__)

PIXEL_SPACING = "PixelSpacing"
IMAGER_PIXEL_SPACING = "ImagerPixelSpacing"
ULTRASOUND_REGIONS = "SequenceOfUltrasoundRegions"

# Modalities whose images are projections through the patient (PS3.3 C.7.3.1.1.1).
PROJECTION_MODALITIES = frozenset({"CR", "DX", "MG", "IO", "PX", "XA", "RF"})

# Physical Units X/Y Direction (0018,6024/6026), PS3.3 C.8.5.5.1.15: the symbol shown.
CM = 3
UNIT_SYMBOLS = {
    0: "", 1: "%", 2: "dB", 3: "cm", 4: "s", 5: "Hz", 6: "dB/s", 7: "cm/s",
    8: "cm²", 9: "cm²/s", 10: "cm³", 11: "cm³/s", 12: "°",
}


class Basis(enum.Enum):
    """What a pixel scale rests on; each has the note a reader is shown (`note_text`)."""

    PIXEL_SPACING = "pixel_spacing"  # cross-sectional images: the patient plane
    CALIBRATED = "calibrated"  # Pixel Spacing calibrated (GEOMETRY, FIDUCIAL or unstated)
    UNSTATED = "unstated"  # a projection image's Pixel Spacing with no word on its meaning
    MAGNIFICATION = "magnification"  # Imager Pixel Spacing / ERMF
    DETECTOR = "detector"  # Imager Pixel Spacing at the detector
    ULTRASOUND = "ultrasound"  # one ultrasound region
    NONE = "none"  # no calibration: pixels


def note_text(basis: Basis, detail: str = "") -> str:
    """The English note for a basis; `detail`: the calibration type, the magnification factor
    or "region N (units)", as the basis needs. The GUI has translated twins of these."""
    if basis is Basis.PIXEL_SPACING:
        return ""
    if basis is Basis.CALIBRATED:
        return (f"Pixel Spacing, calibrated: {detail}" if detail
                else "Pixel Spacing, calibrated (method not stated)")
    if basis is Basis.UNSTATED:
        return "Pixel Spacing (calibration not stated)"
    if basis is Basis.MAGNIFICATION:
        return f"Imager Pixel Spacing corrected by magnification {detail}"
    if basis is Basis.DETECTOR:
        return "Imager Pixel Spacing at the detector (not corrected for magnification)"
    if basis is Basis.ULTRASOUND:
        return f"Ultrasound {detail}" if detail else "Ultrasound regions"
    return "uncalibrated (pixels)"


@dataclass(frozen=True)
class PixelScale:
    """mm per pixel of one frame (or of one ultrasound region).

    `row_mm`: distance between the centres of adjacent rows, i.e. the vertical (y) step;
    `column_mm`: distance between adjacent columns, the horizontal (x) step. Pixel Spacing is
    stored in that order (row spacing first, PS3.3 C.7.6.2.1.1). `source` is the attribute it
    comes from (PIXEL_SPACING, IMAGER_PIXEL_SPACING or ULTRASOUND_REGIONS), `basis` and
    `detail` what the reader is told about it (`note`).
    """

    row_mm: float
    column_mm: float
    source: str
    basis: Basis = Basis.PIXEL_SPACING
    detail: str = ""

    @property
    def note(self) -> str:
        """"" for cross-sectional Pixel Spacing; else how the spacing was calibrated."""
        return note_text(self.basis, self.detail)


# --- ultrasound regions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UltrasoundRegion:
    """One item of the Sequence of Ultrasound Regions (PS3.3 C.8.5.5).

    Bounds are inclusive pixel indices (Region Location Min/Max X0, Y0, X1, Y1). The deltas are
    physical units per pixel, signed (a Doppler velocity axis usually grows upwards). The
    reference pixel, when given, is relative to the region's Min X0/Y0 (C.8.5.5.1.16).
    """

    number: int  # 1-based position in the sequence, as the reader is told
    min_x: int
    min_y: int
    max_x: int
    max_y: int
    spatial_format: int
    data_type: int
    units_x: int
    units_y: int
    delta_x: float
    delta_y: float
    reference_x: int | None = None
    reference_y: int | None = None
    reference_value_x: float = 0.0
    reference_value_y: float = 0.0

    @property
    def unit_x(self) -> str:
        return UNIT_SYMBOLS.get(self.units_x, "")

    @property
    def unit_y(self) -> str:
        return UNIT_SYMBOLS.get(self.units_y, "")

    @property
    def spatial(self) -> bool:
        """Both axes are distances (cm): lengths, areas and angles have a meaning."""
        return self.units_x == CM and self.units_y == CM

    @property
    def units_text(self) -> str:
        """"cm", or "s, cm/s" for a region whose axes differ; "no units" when neither has one."""
        if self.unit_x == self.unit_y:
            return self.unit_x or "no units"
        return f"{self.unit_x or 'no unit'}, {self.unit_y or 'no unit'}"

    @property
    def label(self) -> str:
        """"region 2 (cm)": how a measurement names the region it used."""
        return f"region {self.number} ({self.units_text})"

    @property
    def area(self) -> int:
        return (self.max_x - self.min_x + 1) * (self.max_y - self.min_y + 1)

    def contains(self, x: float, y: float) -> bool:
        """Whether the pixel under image point (x, y) (pixel centres at integers) is inside."""
        column, row = math.floor(x + 0.5), math.floor(y + 0.5)
        return self.min_x <= column <= self.max_x and self.min_y <= row <= self.max_y

    def scale(self) -> PixelScale | None:
        """mm per pixel when both axes are in cm and the deltas are usable."""
        if not self.spatial or self.delta_x == 0 or self.delta_y == 0:
            return None
        return PixelScale(abs(self.delta_y) * 10.0, abs(self.delta_x) * 10.0, ULTRASOUND_REGIONS,
                          Basis.ULTRASOUND, self.label)

    def physical(self, x: float, y: float) -> tuple[float, float] | None:
        """The physical value at image point (x, y) in the region's units (cm, s, cm/s ...),
        from the reference pixel; None when the region has none."""
        if self.reference_x is None or self.reference_y is None:
            return None
        origin_x, origin_y = self.min_x + self.reference_x, self.min_y + self.reference_y
        return (self.reference_value_x + (x - origin_x) * self.delta_x,
                self.reference_value_y + (y - origin_y) * self.delta_y)

    def as_json(self) -> dict[str, Any]:
        row_mm = column_mm = None
        scale = self.scale()
        if scale is not None:
            row_mm, column_mm = scale.row_mm, scale.column_mm
        return {
            "number": self.number,
            "RegionLocationMinX0": self.min_x,
            "RegionLocationMinY0": self.min_y,
            "RegionLocationMaxX1": self.max_x,
            "RegionLocationMaxY1": self.max_y,
            "RegionSpatialFormat": self.spatial_format,
            "RegionDataType": self.data_type,
            "PhysicalUnitsXDirection": self.units_x,
            "PhysicalUnitsYDirection": self.units_y,
            "PhysicalDeltaX": self.delta_x,
            "PhysicalDeltaY": self.delta_y,
            "ReferencePixelX0": self.reference_x,
            "ReferencePixelY0": self.reference_y,
            "ReferencePixelPhysicalValueX": self.reference_value_x,
            "ReferencePixelPhysicalValueY": self.reference_value_y,
            "unit_x": self.unit_x,
            "unit_y": self.unit_y,
            "row_mm": row_mm,
            "column_mm": column_mm,
        }


def ultrasound_regions(ds: Dataset) -> tuple[UltrasoundRegion, ...]:
    """The usable items of the Sequence of Ultrasound Regions (0018,6011); an item without its
    Type 1 bounds, units or deltas is left out (logged at DEBUG)."""
    try:
        items = list(_get(ds, "SequenceOfUltrasoundRegions") or [])
    except Exception as exc:  # a broken sequence costs the calibration, not the image
        LOGGER.debug("cannot read the Sequence of Ultrasound Regions: %r", exc)
        return ()
    regions = []
    for number, item in enumerate(items, start=1):
        try:
            region = _region(number, item)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            LOGGER.debug("ultrasound region %d unusable: %r", number, exc)
            continue
        if region is not None:
            regions.append(region)
    return tuple(regions)


def _region(number: int, item: Dataset) -> UltrasoundRegion | None:
    bounds = [_get(item, k) for k in ("RegionLocationMinX0", "RegionLocationMinY0",
                                      "RegionLocationMaxX1", "RegionLocationMaxY1")]
    deltas = [_get(item, k) for k in ("PhysicalDeltaX", "PhysicalDeltaY")]
    if any(v is None or v == "" for v in (*bounds, *deltas)):
        LOGGER.debug("ultrasound region %d lacks its bounds or deltas", number)
        return None
    min_x, min_y, max_x, max_y = (int(v) for v in bounds)
    delta_x, delta_y = float(deltas[0]), float(deltas[1])
    if max_x < min_x or max_y < min_y or not (math.isfinite(delta_x) and math.isfinite(delta_y)):
        LOGGER.debug("ultrasound region %d has empty bounds or bad deltas", number)
        return None
    units_x = int(_get(item, "PhysicalUnitsXDirection") or 0)
    units_y = int(_get(item, "PhysicalUnitsYDirection") or 0)
    # A zero delta calibrates nothing along its axis: that axis is treated as without units.
    units_x, units_y = (units_x if delta_x else 0), (units_y if delta_y else 0)
    ref_x, ref_y = _get(item, "ReferencePixelX0"), _get(item, "ReferencePixelY0")
    return UltrasoundRegion(
        number=number,
        min_x=min_x, min_y=min_y, max_x=max_x, max_y=max_y,
        spatial_format=int(_get(item, "RegionSpatialFormat") or 0),
        data_type=int(_get(item, "RegionDataType") or 0),
        units_x=units_x,
        units_y=units_y,
        delta_x=delta_x,
        delta_y=delta_y,
        reference_x=None if ref_x in (None, "") else int(ref_x),
        reference_y=None if ref_y in (None, "") else int(ref_y),
        reference_value_x=float(_get(item, "ReferencePixelPhysicalValueX") or 0.0),
        reference_value_y=float(_get(item, "ReferencePixelPhysicalValueY") or 0.0),
    )


# --- the calibration of a frame -------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """How one frame is measured: `scale` for the whole frame (None: no single scale, as for
    an ultrasound image whose regions differ, or none at all), the `regions` of an ultrasound
    image (each measured on its own), and what the reader is told (`note`)."""

    source: str  # PIXEL_SPACING, IMAGER_PIXEL_SPACING, ULTRASOUND_REGIONS or "" (none)
    scale: PixelScale | None
    magnification: float | None = None  # Estimated Radiographic Magnification Factor used
    calibration_type: str = ""  # Pixel Spacing Calibration Type (0028,0A02)
    calibration_description: str = ""  # Pixel Spacing Calibration Description (0028,0A04)
    regions: tuple[UltrasoundRegion, ...] = ()

    @property
    def basis(self) -> Basis:
        if self.regions:
            return Basis.ULTRASOUND
        return self.scale.basis if self.scale is not None else Basis.NONE

    @property
    def note(self) -> str:
        if self.regions:
            listed = ", ".join(f"{r.number} ({r.units_text})" for r in self.regions)
            return f"Ultrasound regions {listed}"
        return self.scale.note if self.scale is not None else note_text(Basis.NONE)

    def describe(self) -> str:
        """One line for the command line: the note and the scale, "Imager Pixel Spacing
        corrected by magnification 1.2 (0.125 x 0.125 mm, row x column)"; for ultrasound,
        each region's units and scale (row x column)."""
        if self.regions:  # each region its own scale: the image-wide one would mislead
            return "Ultrasound regions " + ", ".join(
                f"{r.number} ({r.units_text}: {s.row_mm:g} x {s.column_mm:g} mm)"
                if (s := r.scale()) is not None else f"{r.number} ({r.units_text})"
                for r in self.regions)
        head = self.note or "Pixel Spacing"
        if self.scale is None:
            return head
        return f"{head} ({self.scale.row_mm:g} x {self.scale.column_mm:g} mm, row x column)"

    def as_json(self) -> dict[str, Any]:
        """`info --json`'s "calibration": DICOM keywords for attributes, snake_case else."""
        return {
            "source": self.source or None,
            "row_mm": self.scale.row_mm if self.scale is not None else None,
            "column_mm": self.scale.column_mm if self.scale is not None else None,
            "basis": self.basis.value,
            "note": self.note,
            "EstimatedRadiographicMagnificationFactor": self.magnification,
            "PixelSpacingCalibrationType": self.calibration_type or None,
            "PixelSpacingCalibrationDescription": self.calibration_description or None,
            "regions": [r.as_json() for r in self.regions],
        }


UNCALIBRATED = Calibration("", None)


def valid_spacing(pair: Sequence[float] | None) -> tuple[float, float] | None:
    """(row, column) when both are finite and > 0; else None."""
    if pair is None or len(pair) != 2:
        return None
    try:
        row, column = float(pair[0]), float(pair[1])
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(row) and math.isfinite(column)) or row <= 0 or column <= 0:
        LOGGER.debug("unusable pixel spacing %r ignored", pair)
        return None
    return row, column


def calibrate(
    pixel_spacing: Sequence[float] | None,
    imager_pixel_spacing: Sequence[float] | None = None,
    *,
    magnification: float | None = None,
    calibration_type: str = "",
    calibration_description: str = "",
    projection: bool = False,
    regions: Iterable[UltrasoundRegion] = (),
) -> Calibration:
    """Choose the calibration of a frame in the standard's order (see the module docstring).

    `projection`: the image is a projection radiograph (modality CR, DX, MG, IO, PX, XA, RF);
    a projection's Pixel Spacing that neither differs from Imager Pixel Spacing nor names its
    calibration type is used, but said to be of unstated meaning (PS3.3 10.7.1.3).
    """
    found = tuple(regions)
    if found:
        return Calibration(ULTRASOUND_REGIONS, _common_scale(found), regions=found)
    pixel = valid_spacing(pixel_spacing)
    imager = valid_spacing(imager_pixel_spacing)
    kind = calibration_type.strip().upper()
    description = calibration_description.strip()
    same = pixel is not None and imager is not None and all(
        math.isclose(a, b, rel_tol=1e-6) for a, b in zip(pixel, imager, strict=True))
    if pixel is not None and not same and (kind or imager is not None or description):
        # Calibrated by the modality or an operator: use it as it stands (10.7.1.3).
        scale = PixelScale(*pixel, PIXEL_SPACING, Basis.CALIBRATED, kind)
        return Calibration(PIXEL_SPACING, scale, calibration_type=kind,
                           calibration_description=description)
    if imager is not None:
        factor = magnification if magnification is not None and _usable(magnification) else None
        if factor is not None:
            scale = PixelScale(imager[0] / factor, imager[1] / factor, IMAGER_PIXEL_SPACING,
                               Basis.MAGNIFICATION, f"{factor:g}")
            return Calibration(IMAGER_PIXEL_SPACING, scale, magnification=factor)
        return Calibration(IMAGER_PIXEL_SPACING,
                           PixelScale(*imager, IMAGER_PIXEL_SPACING, Basis.DETECTOR))
    if pixel is not None:
        basis = Basis.UNSTATED if projection else Basis.PIXEL_SPACING
        return Calibration(PIXEL_SPACING, PixelScale(*pixel, PIXEL_SPACING, basis))
    return UNCALIBRATED


def _usable(factor: float) -> bool:
    return math.isfinite(factor) and factor > 0


def _common_scale(regions: tuple[UltrasoundRegion, ...]) -> PixelScale | None:
    """The one mm scale of the spatial regions, when they all agree (for the scale bar)."""
    scales = {(s.row_mm, s.column_mm) for r in regions if (s := r.scale()) is not None}
    if len(scales) != 1:
        return None
    row_mm, column_mm = scales.pop()
    return PixelScale(row_mm, column_mm, ULTRASOUND_REGIONS, Basis.ULTRASOUND, "regions")


def read_calibration(ds: Dataset, pixel_spacing: Sequence[float] | None) -> Calibration:
    """The calibration of an image from its header; `pixel_spacing` is the frame's Pixel
    Spacing as already resolved (from the functional groups for enhanced objects)."""
    # By tag (_get): every decoded frame pays for this, and a keyword lookup of an absent
    # attribute costs ~6 us in pydicom against ~0.1 us for a tag (measured here).
    if _tags()["SequenceOfUltrasoundRegions"] in ds:
        regions = ultrasound_regions(ds)
        if regions:
            return calibrate(None, regions=regions)
    return calibrate(
        pixel_spacing,
        _numbers(ds, "ImagerPixelSpacing"),
        magnification=_number(ds, "EstimatedRadiographicMagnificationFactor"),
        calibration_type=_text(ds, "PixelSpacingCalibrationType"),
        calibration_description=_text(ds, "PixelSpacingCalibrationDescription"),
        projection=_text(ds, "Modality").upper() in PROJECTION_MODALITIES,
    )


_KEYWORDS = (
    "SequenceOfUltrasoundRegions", "ImagerPixelSpacing", "EstimatedRadiographicMagnificationFactor",
    "PixelSpacingCalibrationType", "PixelSpacingCalibrationDescription", "Modality",
    "RegionLocationMinX0", "RegionLocationMinY0", "RegionLocationMaxX1", "RegionLocationMaxY1",
    "PhysicalDeltaX", "PhysicalDeltaY", "PhysicalUnitsXDirection", "PhysicalUnitsYDirection",
    "ReferencePixelX0", "ReferencePixelY0", "RegionSpatialFormat", "RegionDataType",
    "ReferencePixelPhysicalValueX", "ReferencePixelPhysicalValueY",
)


@functools.cache
def _tags() -> dict[str, BaseTag]:
    from pydicom.datadict import tag_for_keyword  # noqa: PLC0415 - see the imports above
    from pydicom.tag import BaseTag  # noqa: PLC0415

    return {k: BaseTag(tag_for_keyword(k) or 0) for k in _KEYWORDS}


def _get(ds: Dataset, keyword: str) -> Any:
    """The value of `keyword` in `ds`, None when absent."""
    tag = _tags()[keyword]
    return ds[tag].value if tag in ds else None


def _numbers(ds: Dataset, keyword: str) -> tuple[float, ...] | None:
    try:
        value = _get(ds, keyword)
        if value is None or value == "":
            return None
        values = [value] if isinstance(value, str | int | float) else list(value)
        return tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        LOGGER.debug("cannot read %s: %r", keyword, exc)
        return None


def _number(ds: Dataset, keyword: str) -> float | None:
    numbers = _numbers(ds, keyword)
    return numbers[0] if numbers is not None and len(numbers) == 1 else None


def _text(ds: Dataset, keyword: str) -> str:
    try:
        return str(_get(ds, keyword) or "").strip()
    except (TypeError, ValueError):
        return ""
