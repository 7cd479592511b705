"""Measurements as presentation-state graphics: each `Measurement` becomes one Graphic Object
(PS3.3 C.10.5.1.2) in PIXEL units and, when it has a value, one Text Object anchored to it.

The value text is the caller's, or computed here from the frame's calibration
(`viewer.dicom.measure`): a length, an angle or an area, in pixels when the image has no pixel
spacing, and the text then says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from viewer.dicom.calibration import Calibration
from viewer.dicom.frameinfo import frame_info
from viewer.dicom.measure import Length, format_value, measure_angle, measure_length, place
from viewer.reports.view_state import Measurement, Point, Shape, ViewedImage

if TYPE_CHECKING:
    import highdicom as hd

NO_SPACING = "no pixel spacing"


@dataclass(frozen=True)
class Drawn:
    """What one measurement adds to a Graphic Annotation item."""

    graphic: hd.pr.GraphicObject
    text: hd.pr.TextObject | None


def drawn(measurement: Measurement, image: ViewedImage) -> Drawn:
    """The graphic and text objects of `measurement` on `image` (its frame)."""
    import highdicom as hd  # about a second and 10 MiB: only when an object is made
    points = measurement.points
    for x, y in points:
        if not (0.0 <= x <= image.columns and 0.0 <= y <= image.rows):
            raise ValueError(
                f"{measurement.shape.value} measurement: point ({format_value(x)}, "
                f"{format_value(y)}) lies outside the {image.columns}x{image.rows} image"
            )
    graphic_type, data, filled = _graphic(measurement.shape, points)
    graphic = hd.pr.GraphicObject(graphic_type, _stored(data), "PIXEL", is_filled=filled)
    text = measurement.text
    if text is None:
        text = value_text(measurement.shape, points, _calibration(image))
    if not text:
        return Drawn(graphic, None)
    anchor = _stored([_anchor(measurement.shape, points)])[0]
    box = _stored(np.reshape(_text_box(anchor, len(text), image.columns, image.rows), (2, 2)))
    return Drawn(graphic, hd.pr.TextObject(
        text, "PIXEL", bounding_box=(box[0, 0], box[0, 1], box[1, 0], box[1, 1]),
        anchor_point=(anchor[0], anchor[1]), text_justification="LEFT",
    ))


def _stored(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Points as the file keeps them (FL, 32-bit floats), so that the dataset returned and
    the one read back from its file hold the same numbers."""
    return np.asarray(points, dtype=np.float32).astype(np.float64)


def _calibration(image: ViewedImage) -> Calibration | None:
    return frame_info(image.header, image.frame - 1).calibration


def _graphic(shape: Shape, points: Sequence[Point]) -> tuple[str, list[Point], bool]:
    """Graphic Type and Graphic Data (C.10.5.2: closed polylines repeat their first point)."""
    pts = [(float(x), float(y)) for x, y in points]
    if shape in (Shape.LINE, Shape.POLYLINE, Shape.ANGLE):
        return "POLYLINE", pts, False
    if shape is Shape.POLYGON:
        return "POLYLINE", [*pts, pts[0]], False
    if shape is Shape.RECTANGLE:
        (x0, y0), (x1, y1) = pts
        return "POLYLINE", [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], False
    if shape is Shape.ELLIPSE:
        (x0, y0), (x1, y1) = pts
        cx, cy, a, b = (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2
        if a == 0 or b == 0:
            raise ValueError("ellipse measurement: its bounding box has no area")
        across = [(cx - a, cy), (cx + a, cy)]
        down = [(cx, cy - b), (cx, cy + b)]
        # the major axis end points first, then the minor axis (C.10.5.1.2 ELLIPSE)
        return "ELLIPSE", across + down if a >= b else down + across, False
    if shape is Shape.CIRCLE:
        if pts[0] == pts[1]:
            raise ValueError("circle measurement: its radius is 0")
        return "CIRCLE", pts, False
    return "POINT", pts, False


def _anchor(shape: Shape, points: Sequence[Point]) -> Point:
    """Where the value's text is tied to the graphic: the end of a line, the vertex of an
    angle, the lower right corner of a box, the point on a circle."""
    if shape is Shape.ANGLE:
        return (float(points[1][0]), float(points[1][1]))
    if shape in (Shape.RECTANGLE, Shape.ELLIPSE):
        return (max(p[0] for p in points), max(p[1] for p in points))
    return (float(points[-1][0]), float(points[-1][1]))


def _text_box(anchor: Point, characters: int, columns: int, rows: int
              ) -> tuple[float, float, float, float]:
    """A box for the text beside its anchor, inside the image (a box in PIXEL units must lie
    on it): about 1/24 of the image high, 0.6 of that per character wide."""
    height = min(float(rows), max(8.0, min(rows, columns) / 24))
    width = min(float(columns), 0.6 * height * max(characters, 1))
    left = min(max(anchor[0] + height / 2, 0.0), columns - width)
    top = min(max(anchor[1] + height / 2, 0.0), rows - height)
    return (left, top, left + width, top + height)


def value_text(shape: Shape, points: Sequence[Point], calibration: Calibration | None) -> str:
    """The value of a measurement as shown: "12.3 mm", "41.2°", "154.3 mm²"; without a
    pixel scale "34.1 px (no pixel spacing)"; "" for a point."""
    centred = [(x - 0.5, y - 0.5) for x, y in points]  # measure.py keeps centres at integers
    scale = None
    if calibration is not None:
        placement = place(calibration, centred)
        scale = placement.scale
    if shape is Shape.POINT:
        return ""
    if shape is Shape.ANGLE:
        if calibration is not None:
            angle = measure_angle(centred[0], centred[1], centred[2], calibration)
            if isinstance(angle, float):
                return f"{format_value(angle)}°"
        return ""
    if shape is Shape.LINE and calibration is not None:
        found = measure_length(centred[0], centred[1], calibration)
        if isinstance(found, Length):
            if found.mm is not None:
                return f"{format_value(found.mm)} mm"
            if found.deltas:
                return ", ".join(f"{format_value(v)} {u}".strip() for v, u in found.deltas)
            return f"{format_value(found.pixels)} px ({NO_SPACING})"
        return f"{format_value(math.dist(*centred))} px ({found.text})"
    sx, sy = (scale.column_mm, scale.row_mm) if scale is not None else (1.0, 1.0)
    if shape in (Shape.LINE, Shape.POLYLINE):
        total = sum(math.hypot((b[0] - a[0]) * sx, (b[1] - a[1]) * sy)
                    for a, b in zip(centred, centred[1:], strict=False))
        return _with_unit(total, "mm", "px", scale is not None)
    area = _area(shape, centred) * sx * sy
    return _with_unit(area, "mm²", "px²", scale is not None)


def _with_unit(value: float, unit: str, pixel_unit: str, calibrated: bool) -> str:
    if calibrated:
        return f"{format_value(value)} {unit}"
    return f"{format_value(value)} {pixel_unit} ({NO_SPACING})"


def _area(shape: Shape, pts: Sequence[Point]) -> float:
    """Area in square pixels."""
    if shape in (Shape.RECTANGLE, Shape.ELLIPSE):
        w, h = abs(pts[1][0] - pts[0][0]), abs(pts[1][1] - pts[0][1])
        return w * h if shape is Shape.RECTANGLE else math.pi * w * h / 4
    if shape is Shape.CIRCLE:
        return math.pi * math.dist(pts[0], pts[1]) ** 2
    twice = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(pts, [*pts[1:], pts[0]], strict=True))
    return abs(twice) / 2  # the shoelace formula
