"""The text in a viewport's four corners and its scale bar, Qt-free and language-neutral.

The layout follows reading-workstation habits (Weasis, RadiAnt): patient top left, study and
series top right, image position bottom left, display state bottom right. The words around the
values ("Im:", "W:") come from a `labels` mapping, so the GUI passes translated ones and the CLI
the English defaults. A value that is missing leaves its whole line out.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from viewer.dicom.calibration import PixelScale
from viewer.dicom.frameinfo import FrameInfo
from viewer.dicom.geometry import position_along_normal
from viewer.dicom.stack import SliceGeometry, StackInfo
from viewer.dicom.text import format_date, format_time, person_name_text

LOGGER = logging.getLogger(__name__)

# The words around the values, by key; the GUI passes translated ones (missing keys: English).
# A label is put before its value with one space ("Im: 12 / 240"), except the age units, which
# follow the number ("45Y"; "45岁"). An empty label leaves the bare value.
#   patient_id  "ID:"    "ID: 12345"
#   birth_date  "DOB:"   "DOB: 1979-03-14 (45Y)"   (age at the study date when both are known)
#   age_years / age_months / age_days  "Y" / "M" / "D"   "45Y", "7M", "12D"  (DICOM AS habits)
#   sex         "Sex:"   "Sex: F"                   (the DICOM code M, F, O)
#   series      "Se:"    "Se: 3 AXIAL 1.0"          (number, then the series description)
#   image       "Im:"    "Im: 12 / 240"             (1-based)
#   location    "Loc:"   "Loc: -12.5 mm"
#   thickness   "Thk:"   "Thk: 1.0 mm"
#   lossy       "LOSSY"  the whole line, when Lossy Image Compression is 01
#   window, level  "W:", "L:"   "W: 400 L: 40"
#   zoom        "Zoom:"  "Zoom: 150%"
DEFAULT_LABELS: Mapping[str, str] = {
    "patient_id": "ID:",
    "birth_date": "DOB:",
    "age_years": "Y",
    "age_months": "M",
    "age_days": "D",
    "sex": "Sex:",
    "series": "Se:",
    "image": "Im:",
    "location": "Loc:",
    "thickness": "Thk:",
    "lossy": "LOSSY",
    "window": "W:",
    "level": "L:",
    "zoom": "Zoom:",
}


@dataclass(frozen=True)
class Corners:
    """Lines of text for each corner of a viewport, top line first."""

    top_left: tuple[str, ...] = ()
    top_right: tuple[str, ...] = ()
    bottom_left: tuple[str, ...] = ()
    bottom_right: tuple[str, ...] = ()


def _labeller(labels: Mapping[str, str] | None) -> Callable[[str], str]:
    def label(key: str) -> str:
        chosen = (labels or {}).get(key)
        return (chosen if chosen is not None else DEFAULT_LABELS[key]).strip()

    return label


def _line(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _mm(value: float) -> str:
    """-12.5 -> "-12.5", 1 -> "1.0", 0.625 -> "0.625": at least one decimal, at most three."""
    text = f"{value:.3f}".rstrip("0")
    text = text + "0" if text.endswith(".") else text
    return "0.0" if text == "-0.0" else text


def _number(value: float) -> str:
    """Window values: whole numbers as integers, small fractional ones (SUV, ratios) kept."""
    if float(value).is_integer() or abs(value) >= 100:
        return str(round(value))
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(format_date(value))
    except ValueError:
        return None


def age_at(birth: str, when: str, labels: Mapping[str, str] | None = None) -> str:
    """Age on DA date `when` of someone born on DA date `birth`, as DICOM Age String habits
    write it (PS3.5 AS: "45Y", "7M", "12D"); "" when either date is unknown or out of order."""
    born, on = _parse_date(birth), _parse_date(when)
    if born is None or on is None or on < born:
        return ""
    label = _labeller(labels)
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if years >= 1:
        return f"{years}{label('age_years')}"
    months = (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)
    if months >= 1:
        return f"{months}{label('age_months')}"
    return f"{(on - born).days}{label('age_days')}"


def _slice_location(geometry: SliceGeometry) -> float | None:
    if geometry.slice_location is not None and math.isfinite(geometry.slice_location):
        return geometry.slice_location
    # Enhanced multi-frame objects have no Slice Location: the position along the normal is
    # what it would say for the usual axial, sagittal and coronal stacks.
    if geometry.position is not None and geometry.orientation is not None:
        try:
            return position_along_normal(geometry.position, geometry.orientation)
        except ValueError:
            return None
    return None


def four_corners(
    info: StackInfo,
    geometry: SliceGeometry | None,
    frame: FrameInfo | None,
    index: int,
    total: int,
    window: tuple[float, float] | None,
    zoom: float,
    labels: Mapping[str, str] | None = None,
) -> Corners:
    """The four corners' text for frame `index` (0-based) of a `total`-frame stack.

    `window` is (center, width) in modality units as in DisplayState (shown as W then L);
    `zoom` is screen pixels per image pixel (1.0 = 100%). `labels`: the words by key, see
    DEFAULT_LABELS; missing keys use the English ones. Patient names keep every PN group, so
    an ideographic name ("Zhang^San=张^三") is shown with its Chinese characters.
    """
    label = _labeller(labels)

    top_left: list[str] = []
    name = person_name_text(info.patient_name)
    if name:
        top_left.append(name)
    if info.patient_id.strip():
        top_left.append(_line(label("patient_id"), info.patient_id.strip()))
    if info.patient_birth_date.strip():
        age = age_at(info.patient_birth_date, info.study_date, labels)
        birth = format_date(info.patient_birth_date)
        top_left.append(_line(label("birth_date"), birth, f"({age})" if age else ""))
    if info.patient_sex.strip():
        top_left.append(_line(label("sex"), info.patient_sex.strip()))

    top_right: list[str] = []
    if info.institution_name.strip():
        top_right.append(info.institution_name.strip())
    when = _line(format_date(info.study_date), format_time(info.study_time))
    if when:
        top_right.append(when)
    if info.study_description.strip():
        top_right.append(info.study_description.strip())
    number = "" if info.series_number is None else _line(label("series"), str(info.series_number))
    series = _line(number, info.series_description.strip())
    if series:
        top_right.append(series)
    if info.modality.strip():
        top_right.append(info.modality.strip())

    bottom_left: list[str] = []
    if total >= 1 and 0 <= index < total:
        bottom_left.append(_line(label("image"), f"{index + 1} / {total}"))
    if geometry is not None:
        location = _slice_location(geometry)
        if location is not None:
            bottom_left.append(_line(label("location"), f"{_mm(location)} mm"))
        thickness = geometry.slice_thickness
        if thickness is not None and math.isfinite(thickness) and thickness > 0:
            bottom_left.append(_line(label("thickness"), f"{_mm(thickness)} mm"))
    if frame is not None and frame.lossy:
        bottom_left.append(label("lossy") or DEFAULT_LABELS["lossy"])

    bottom_right: list[str] = []
    if window is not None and all(math.isfinite(v) for v in window):
        center, width = window
        bottom_right.append(
            _line(label("window"), _number(width), label("level"), _number(center))
        )
    if math.isfinite(zoom) and zoom > 0:
        bottom_right.append(_line(label("zoom"), f"{round(zoom * 100)}%"))

    return Corners(tuple(top_left), tuple(top_right), tuple(bottom_left), tuple(bottom_right))


# --- scale bar -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleBar:
    """A horizontal bar of `length_mm`, `length_px_on_screen` screen pixels long, labelled."""

    length_mm: float
    length_px_on_screen: float
    text: str


def _scale_text(length_mm: float) -> str:
    if length_mm >= 50:
        return f"{length_mm / 10:g} cm"
    if length_mm >= 0.1:
        return f"{length_mm:g} mm"
    return f"{length_mm * 1000:g} µm"


def scale_bar(scale: PixelScale | None, zoom: float, max_length_px: float) -> ScaleBar | None:
    """The longest "nice" horizontal length (1, 2 or 5 x 10^n mm) whose bar is at most
    `max_length_px` screen pixels at `zoom` (screen pixels per image pixel), by the column
    spacing; None without a pixel scale or room for a bar."""
    if scale is None or not (math.isfinite(zoom) and zoom > 0):
        return None
    if not (math.isfinite(max_length_px) and max_length_px > 0):
        return None
    px_per_mm = zoom / scale.column_mm
    longest_mm = max_length_px / px_per_mm
    exponent = math.floor(math.log10(longest_mm))
    for step in (5, 2, 1):
        length_mm = step * 10.0**exponent
        # Relative slack: 10**n from floating point must not push an exact fit off by one.
        if length_mm <= longest_mm * (1 + 1e-9):
            length_mm = float(f"{length_mm:.12g}")  # 0.30000000000000004 -> 0.3
            return ScaleBar(length_mm, length_mm * px_per_mm, _scale_text(length_mm))
    return None  # unreachable: 1 x 10^floor(log10(x)) <= x
