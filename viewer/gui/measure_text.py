"""What a viewport writes by a measurement, under the probe and in its corner about the
calibration lengths use, translated. The numbers and the choice of calibration come from
`viewer.dicom.measure` and `viewer.dicom.calibration` (the CLI prints the same in English);
this module only words them. Strings stay in the "Viewport" translation context, literal in
each call so that pyside6-lupdate finds them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication

from viewer.dicom import measure
from viewer.dicom.calibration import Basis, Calibration
from viewer.dicom.frameinfo import FrameInfo
from viewer.gui.measurements import Kind, Measurement


def calibration_note(calibration: Calibration) -> str:
    """The corner line saying which calibration lengths use; "" for a cross-sectional
    image's Pixel Spacing, which needs no word."""
    basis = calibration.basis
    scale = calibration.scale
    detail = scale.detail if scale is not None else ""
    if basis is Basis.PIXEL_SPACING:
        return ""
    if basis is Basis.CALIBRATED:
        if detail:
            return QCoreApplication.translate(
                "Viewport", "Lengths: Pixel Spacing, calibrated: %1").replace("%1", detail)
        return QCoreApplication.translate(
            "Viewport", "Lengths: Pixel Spacing, calibrated (method not stated)")
    if basis is Basis.UNSTATED:
        return QCoreApplication.translate(
            "Viewport", "Lengths: Pixel Spacing (calibration not stated)")
    if basis is Basis.MAGNIFICATION:
        return QCoreApplication.translate(
            "Viewport", "Lengths: Imager Pixel Spacing corrected by magnification %1"
        ).replace("%1", detail)
    if basis is Basis.DETECTOR:
        return QCoreApplication.translate(
            "Viewport",
            "Lengths: Imager Pixel Spacing at the detector (not corrected for magnification)")
    if basis is Basis.ULTRASOUND:
        listed = ", ".join(f"{r.number} ({r.units_text})" for r in calibration.regions)
        return QCoreApplication.translate(
            "Viewport", "Lengths: ultrasound regions %1").replace("%1", listed)
    return QCoreApplication.translate("Viewport", "No pixel spacing: lengths and areas in pixels")


def refusal_text(refusal: measure.Refusal) -> str:
    numbers = ", ".join(str(n) for n in refusal.regions)
    kind = measure.RefusalKind
    if refusal.kind is kind.OUTSIDE:
        return QCoreApplication.translate("Viewport", "Outside the ultrasound regions")
    if refusal.kind is kind.CROSSES:
        return QCoreApplication.translate(
            "Viewport", "Across regions %1: not measured").replace("%1", numbers)
    if refusal.kind is kind.NOT_SPATIAL:
        return (QCoreApplication.translate(
            "Viewport", "Region %1 (%2): no area or angle")
            .replace("%1", numbers).replace("%2", refusal.units))
    return QCoreApplication.translate(
        "Viewport", "Region %1 has no physical units").replace("%1", numbers)


def _region(region_number: int) -> str:
    return QCoreApplication.translate("Viewport", "region %1").replace("%1", str(region_number))


def _quantities(values: tuple[measure.Quantity, ...]) -> str:
    return ", ".join(f"{measure.format_value(v, 2)} {unit}".rstrip() for v, unit in values)


def measurement_text(m: Measurement, calibration: Calibration, frame_array: np.ndarray | None,
                     info: FrameInfo | None, modality: str) -> str:
    """The label drawn by a finished measurement: mm (or pixels), the ultrasound region it
    was measured in, or why it was refused."""
    if not m.complete or m.kind is Kind.SHUTTER:  # a shutter measures nothing
        return ""
    if m.kind is Kind.LENGTH:
        found = measure.measure_length(m.points[0], m.points[1], calibration)
        if isinstance(found, measure.Refusal):
            return refusal_text(found)
        where = f" ({_region(found.region.number)})" if found.region is not None else ""
        if found.mm is not None:
            return f"{found.mm:.1f} mm{where}"
        if found.deltas:
            return f"Δ {_quantities(found.deltas)}{where}"
        return QCoreApplication.translate("Viewport", "%1 px").replace("%1", f"{found.pixels:.1f}")
    if m.kind is Kind.ANGLE:
        angle = measure.measure_angle(m.points[0], m.points[1], m.points[2], calibration)
        if isinstance(angle, measure.Refusal):
            return refusal_text(angle)
        return "" if angle is None else f"{angle:.1f}°"
    if frame_array is None or info is None:
        return ""
    values = measure.modality_values(frame_array, info)
    if values.ndim != 2:
        return ""
    shape: measure.RoiShape = "ellipse" if m.kind is Kind.ELLIPSE else "rectangle"
    stats = measure.measure_roi(values, shape, m.points[0], m.points[-1], calibration)
    if isinstance(stats, measure.Refusal):
        return refusal_text(stats)
    if not stats.pixels:
        return QCoreApplication.translate("Viewport", "no pixels")
    unit = measure.modality_unit(info, modality)
    unit = f" {unit}" if unit else ""
    area = (f"{stats.area_mm2:.1f} mm²" if stats.area_mm2 is not None
            else QCoreApplication.translate("Viewport", "%1 px").replace(
                "%1", measure.format_value(stats.area_px, 0)))
    if stats.region is not None:
        area += f" ({_region(stats.region.number)})"
    return (QCoreApplication.translate("Viewport", "Mean %1 SD %2")
            .replace("%1", f"{stats.mean:.1f}{unit}").replace("%2", f"{stats.sd:.1f}")
            + "\n" + QCoreApplication.translate("Viewport", "Min %1 Max %2")
            .replace("%1", f"{stats.min:.0f}").replace("%2", f"{stats.max:.0f}") + "\n" + area)


def probe_text(found: measure.Probe) -> str:
    """"(x, y) value unit" in modality units; colour images show their samples; in an
    ultrasound region, the region and the pixel's physical coordinates."""
    where = f"({found.column}, {found.row})"
    if found.samples:
        text = f"{where}  " + " ".join(measure.format_value(float(v), 0) for v in found.samples)
    elif found.value is None:
        text = where
    else:
        unit = f" {found.unit}" if found.unit else ""
        text = f"{where}  {measure.format_value(found.value)}{unit}"
    if found.region is None:
        return text
    region = _region(found.region.number)
    if found.physical:
        return f"{text}  {region}: {_quantities(found.physical)}"
    return f"{text}  {region}"
