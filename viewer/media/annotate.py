"""Annotations burned into exported pictures: the corner texts, orientation markers and
measurements as a viewport shows them, drawn at the image's own resolution.

The viewport draws the same values (viewer.dicom.annotations.four_corners, the edge labels of
viewer.dicom.geometry, the measurement outlines and labels it computes) as Qt items; an export
has no screen, so they are rasterised here with Pillow in the viewport's colours. For teaching
files `patient_text=False` leaves out what identifies the patient (name, ID, birth date,
institution, study date and time): those fields are blanked before the corners are laid out,
so a line that would hold them is not drawn at all.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from viewer.dicom.annotations import Corners, four_corners
from viewer.dicom.frameinfo import FrameInfo
from viewer.dicom.geometry import EdgeLabels, oriented_edge_labels
from viewer.dicom.graphics_raster import find_font
from viewer.dicom.stack import SliceGeometry, StackInfo

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont, ImageFont

    Font = FreeTypeFont | ImageFont

Point = tuple[float, float]

TEXT_RGB = (255, 255, 255)  # the viewport's corner text
MEASURE_RGB = (255, 220, 0)  # the viewport's MEASURE_PEN
SHADOW_RGB = (0, 0, 0)  # an outline under the text keeps it legible on bright tissue


@dataclass(frozen=True)
class MeasurementMark:
    """A measurement as the viewport draws it: its outline (image pixels, column then row, 0,0
    the top-left pixel's centre) and its label ("42.1 mm")."""

    outline: tuple[Point, ...]
    text: str


@dataclass(frozen=True)
class Annotations:
    """Everything burned over one exported frame."""

    corners: Corners
    edges: EdgeLabels | None = None
    measurements: tuple[MeasurementMark, ...] = ()


def without_patient_text(info: StackInfo) -> StackInfo:
    """`info` with the fields that identify the patient (PS3.15 E.1 basic profile: name, ID,
    birth date, institution, study date/time) blanked, for teaching files."""
    return dataclasses.replace(info, patient_name="", patient_id="", patient_birth_date="",
                               institution_name="", study_date="", study_time="")


def frame_annotations(
    info: StackInfo,
    geometry: SliceGeometry | None,
    frame: FrameInfo | None,
    index: int,
    total: int,
    window: tuple[float, float] | None,
    *,
    patient_text: bool = True,
    measurements: Sequence[MeasurementMark] = (),
    labels: Mapping[str, str] | None = None,
    turns: tuple[int, bool] = (0, False),
) -> Annotations:
    """The annotations of frame `index` of a `total`-frame series shown with `window` (center,
    width; None: the frame's own, unknown here, so no W/L line), turned by `turns` (quarter
    turns clockwise, then a horizontal mirror) for the orientation markers. An export is drawn
    one image pixel per output pixel, so there is no zoom line."""
    shown = info if patient_text else without_patient_text(info)
    corners = four_corners(shown, geometry, frame, index, total, window, math.nan, labels)
    edges = None
    if geometry is not None and geometry.orientation is not None:
        edges = oriented_edge_labels(geometry.orientation, turns[0], turns[1], False)
    return Annotations(corners, edges, tuple(measurements))


def burn_annotations(image: np.ndarray, annotations: Annotations) -> np.ndarray:
    """A copy of `image` (uint8 grey or RGB) with the annotations drawn; grey becomes RGB only
    when there are measurements (drawn in the viewport's yellow), so a plain export of a grey
    series stays grey."""
    from PIL import Image, ImageDraw

    coloured = image.ndim == 3 or bool(annotations.measurements)
    picture = Image.fromarray(np.ascontiguousarray(image))
    picture = picture.convert("RGB") if coloured else picture.convert("L")
    draw = ImageDraw.Draw(picture)
    rows, columns = image.shape[:2]
    size = max(9, round(min(rows, columns) / 40))  # ~13 px on a 512 image, as on screen
    texts = [line for corner in dataclasses.astuple(annotations.corners) for line in corner]
    font = _font(" ".join(texts), size)
    line = round(size * 1.25)
    margin = max(2, size // 3)
    ink: int | tuple[int, ...] = TEXT_RGB if coloured else 255
    shadow: int | tuple[int, ...] = SHADOW_RGB if coloured else 0

    def put(x: float, y: float, text: str, anchor: str, fill: int | tuple[int, ...]) -> None:
        draw.text((x, y), text, font=font, fill=fill, anchor=anchor,
                  stroke_width=1, stroke_fill=shadow)

    c = annotations.corners
    for n, text in enumerate(c.top_left):
        put(margin, margin + n * line, text, "la", ink)
    for n, text in enumerate(c.top_right):
        put(columns - margin, margin + n * line, text, "ra", ink)
    for n, text in enumerate(reversed(c.bottom_left)):
        put(margin, rows - margin - n * line, text, "ld", ink)
    for n, text in enumerate(reversed(c.bottom_right)):
        put(columns - margin, rows - margin - n * line, text, "rd", ink)
    if annotations.edges is not None:
        e = annotations.edges
        put(columns / 2, margin, e.top, "ma", ink)
        put(columns / 2, rows - margin, e.bottom, "md", ink)
        put(margin, rows / 2, e.left, "lm", ink)
        put(columns - margin, rows / 2, e.right, "rm", ink)
    for mark in annotations.measurements:
        # + 0.5: outline points are pixel centres, Pillow's coordinates pixel corners
        points = [(x + 0.5, y + 0.5) for x, y in mark.outline]
        if len(points) >= 2:
            draw.line(points, fill=MEASURE_RGB, width=max(1, size // 10))
        if mark.text and points:
            x, y = max(points, key=lambda p: (p[0], -p[1]))
            put(min(x + margin, columns - margin), y, mark.text,
                "rm" if x + margin > columns * 0.8 else "lm", MEASURE_RGB)
    return np.asarray(picture)


def _font(text: str, size: int) -> Font:
    return _load_font(find_font(text), size)


@functools.lru_cache(maxsize=16)
def _load_font(path: str | None, size: int) -> Font:
    from PIL import ImageFont

    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass  # unreadable font file: Pillow's own font still draws
    return ImageFont.load_default(size)
