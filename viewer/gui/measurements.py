"""Measurements drawn by the user, kept with the image they were drawn on (Qt-free model).

Points are image pixel coordinates (x = column, y = row; pixel centres at integers), so a
measurement stays on its anatomy whatever the zoom, pan, rotation or flip of the viewport.
The numbers shown come from `viewer.dicom.measure`, computed on the frame's modality values.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from viewer.decode.requests import FrameKey


class Kind(enum.Enum):
    LENGTH = "length"
    ANGLE = "angle"
    RECTANGLE = "rectangle"
    ELLIPSE = "ellipse"
    SHUTTER = "shutter"  # a rectangular display shutter the user drew (two corners)

    @property
    def points_needed(self) -> int:
        return 3 if self is Kind.ANGLE else 2


Point = tuple[float, float]


@dataclass(eq=False)  # identity: two equal-looking measurements are still two
class Measurement:
    kind: Kind
    points: list[Point]

    @property
    def complete(self) -> bool:
        return len(self.points) >= self.kind.points_needed

    def outline(self) -> list[Point]:
        """The polyline drawn for it, in image pixels (an ellipse as 72 chords)."""
        if self.kind in (Kind.LENGTH, Kind.ANGLE):
            return list(self.points)
        (x0, y0), (x1, y1) = self.points[0], self.points[-1]
        if self.kind in (Kind.RECTANGLE, Kind.SHUTTER):
            return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2
        return [(cx + rx * math.cos(2 * math.pi * n / 72), cy + ry * math.sin(2 * math.pi * n / 72))
                for n in range(73)]

    def distance_to(self, point: Point) -> float:
        """Image-pixel distance from `point` to the drawn outline (for picking one to delete)."""
        if self.kind in (Kind.LENGTH, Kind.ANGLE):
            pairs = list(zip(self.points, self.points[1:], strict=False))
        else:
            (x0, y0), (x1, y1) = self.points[0], self.points[-1]
            if self.kind is Kind.ELLIPSE:
                return _ellipse_distance(point, (x0, y0), (x1, y1))
            corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
            pairs = list(zip(corners, corners[1:], strict=False))
        if not pairs:
            return math.dist(point, self.points[0])
        return min(_segment_distance(point, a, b) for a, b in pairs)


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2))
    return math.dist(p, (ax + t * dx, ay + t * dy))


def _ellipse_distance(p: Point, c0: Point, c1: Point) -> float:
    """Approximate distance to the ellipse inscribed in the rectangle c0-c1."""
    cx, cy = (c0[0] + c1[0]) / 2, (c0[1] + c1[1]) / 2
    rx, ry = abs(c1[0] - c0[0]) / 2 or 1e-9, abs(c1[1] - c0[1]) / 2 or 1e-9
    angle = math.atan2((p[1] - cy) / ry, (p[0] - cx) / rx)
    return math.dist(p, (cx + rx * math.cos(angle), cy + ry * math.sin(angle)))


@dataclass
class MeasurementStore:
    """Every measurement of a reading session, per frame; `changed(key)` after each edit."""

    by_frame: dict[FrameKey, list[Measurement]] = field(default_factory=dict)
    listeners: list[Callable[[FrameKey], None]] = field(default_factory=list)

    def on(self, key: FrameKey) -> list[Measurement]:
        return list(self.by_frame.get(key, ()))

    def add(self, key: FrameKey, measurement: Measurement) -> None:
        self.by_frame.setdefault(key, []).append(measurement)
        self._changed(key)

    def remove(self, key: FrameKey, measurement: Measurement) -> bool:
        items = self.by_frame.get(key, [])
        if measurement not in items:
            return False
        items.remove(measurement)
        self._changed(key)
        return True

    def clear(self, key: FrameKey) -> int:
        removed = len(self.by_frame.pop(key, []))
        if removed:
            self._changed(key)
        return removed

    def nearest(self, key: FrameKey, point: Point, within: float) -> Measurement | None:
        """The measurement on `key` whose outline passes closest to `point`, if within."""
        best: tuple[float, Measurement] | None = None
        for m in self.by_frame.get(key, ()):
            d = m.distance_to(point)
            if d <= within and (best is None or d < best[0]):
                best = (d, m)
        return best[1] if best else None

    def _changed(self, key: FrameKey) -> None:
        for listener in list(self.listeners):
            listener(key)
