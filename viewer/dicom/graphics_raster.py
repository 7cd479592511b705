"""Burning a presentation state's graphic annotations into a rendered picture.

The `render --presentation-state` face (and print, export) calls `burn_graphics` after the
presentation state's spatial transformation; the GUI draws the same `graphics` values as
vector items instead. Conventions (PS3.3 C.10.5):

- PIXEL units are image coordinates, column\\row, 0\\0 the top-left corner of the top-left
  pixel; `image_to_output` (3x3, homogeneous) takes them to output coordinates, whose 0,0 is
  the top-left corner of the top-left output pixel. DISPLAY units are fractions of the
  displayed area box (x0, y0, x1, y1) in output coordinates.
- A line marks exactly the output pixels whose inside it passes through (a line lying on a
  pixel edge marks the pixels below / right of it); a thicker Line Thickness adds the pixels
  whose centre is within half of it. A filled shape also marks every pixel whose centre is
  inside it. A POINT is its pixel with arms of 2 pixels (a 5-pixel cross), to be seen.
- Colour: the object's style colour, else its layer's recommended grey (grey output) or
  CIELab colour (RGB output), else white. Opacity blends; nothing outside what is drawn and
  the displayed area changes.
- Text is drawn upright inside its bounding box (the box's corners taken through the
  transformation), scaled down to fit, justified; an anchor point alone puts the text beside it.
"""

from __future__ import annotations

import functools
import math
import os
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from viewer.dicom.graphics import (
    AnnotationUnits,
    CIELab,
    GraphicAnnotations,
    GraphicLayer,
    GraphicObject,
    GraphicType,
    Justification,
    TextObject,
    cielab_to_grey,
    cielab_to_rgb,
    layer_grey,
    layer_rgb,
    outline,
    output_scale,
    to_output,
)

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont, ImageFont

    Font = FreeTypeFont | ImageFont

Box = tuple[float, float, float, float]
Colour = tuple[int, ...]
_MIN_FONT = 6  # pixels: below this text is clipped rather than shrunk further
_LINE_SPACING = 1.15
_POINT_ARM = 2


def burn_graphics(
    image: np.ndarray,
    annotations: GraphicAnnotations,
    image_to_output: np.ndarray | Sequence[Sequence[float]],
    displayed_area: Box,
) -> np.ndarray:
    """A copy of `image` (uint8, rows x columns or rows x columns x 3) with the graphic and
    text objects of `annotations` drawn in, layer by layer in Graphic Layer Order (graphics,
    then texts of each layer). `image_to_output`: 3x3 from image pixel coordinates to output
    pixel coordinates; `displayed_area`: (x0, y0, x1, y1) in output coordinates, what DISPLAY
    units are relative to; nothing is drawn outside it."""
    out = np.array(image, dtype=np.uint8, copy=True)
    matrix = np.asarray(image_to_output, dtype=np.float64).reshape(3, 3)
    area = tuple(float(v) for v in displayed_area)
    canvas = _Canvas(out, (area[0], area[1], area[2], area[3]))
    if canvas.empty:
        return out
    layers = {layer.name: layer for layer in annotations.layers}
    order = [layer.name for layer in annotations.layers]
    named = {g.layer for g in annotations.graphics} | {t.layer for t in annotations.texts}
    order += sorted(named - set(order))
    for name in order:
        layer = layers.get(name)
        for graphic in (g for g in annotations.graphics if g.layer == name):
            _draw_graphic(canvas, graphic, layer, matrix, canvas.area)
        for text in (t for t in annotations.texts if t.layer == name):
            _draw_text(canvas, text, layer, matrix, canvas.area)
    return out


class _Canvas:
    """The output array and the pixels that may change: inside the image and whose centre lies
    inside the displayed area."""

    def __init__(self, out: np.ndarray, area: Box) -> None:
        self.out = out
        self.rgb = out.ndim == 3
        self.area = area
        height, width = out.shape[:2]
        x0, y0, x1, y1 = min(area[0], area[2]), min(area[1], area[3]), max(area[0], area[2]), \
            max(area[1], area[3])
        self.c0 = max(math.ceil(x0 - 0.5), 0)
        self.r0 = max(math.ceil(y0 - 0.5), 0)
        self.c1 = min(math.floor(x1 - 0.5), width - 1)
        self.r1 = min(math.floor(y1 - 0.5), height - 1)
        self.empty = self.c0 > self.c1 or self.r0 > self.r1

    def colour(self, cielab: CIELab | None, layer: GraphicLayer | None) -> Colour:
        if cielab is not None:
            return cielab_to_rgb(cielab) if self.rgb else (cielab_to_grey(cielab),)
        return layer_rgb(layer) if self.rgb else (layer_grey(layer),)

    def paint(self, cols: np.ndarray, rows: np.ndarray, colour: Colour, alpha: float | np.ndarray
              ) -> None:
        """Blend `colour` into the pixels (cols, rows) that may change, with opacity `alpha`."""
        keep = (cols >= self.c0) & (cols <= self.c1) & (rows >= self.r0) & (rows <= self.r1)
        if not keep.any():
            return
        cols, rows = cols[keep], rows[keep]
        a = np.asarray(alpha, dtype=np.float64)
        a = a[keep] if a.ndim else a
        if self.rgb:
            target = np.array(colour, dtype=np.float64)
            a = a[..., None] if a.ndim else a
        else:
            target = np.array(colour[0], dtype=np.float64)
        old = self.out[rows, cols].astype(np.float64)
        self.out[rows, cols] = np.clip(np.rint(old + (target - old) * a), 0, 255).astype(np.uint8)


# --- graphics ------------------------------------------------------------------------------------


def _draw_graphic(canvas: _Canvas, graphic: GraphicObject, layer: GraphicLayer | None,
                  matrix: np.ndarray, area: Box) -> None:
    scale = output_scale(graphic.units, matrix, area)
    path = to_output(outline(graphic, max_step=_curve_step(graphic, scale) / scale),
                     graphic.units, matrix, area)
    if not np.isfinite(path).all():
        return
    style = graphic.line_style
    if graphic.graphic_type is GraphicType.POINT:
        col, row = (math.floor(v) for v in path[0])
        if not (canvas.c0 - _POINT_ARM <= col <= canvas.c1 + _POINT_ARM
                and canvas.r0 - _POINT_ARM <= row <= canvas.r1 + _POINT_ARM):
            return  # none of its pixels can change (and a far one overflows numpy's int64)
        arms = np.arange(-_POINT_ARM, _POINT_ARM + 1)
        cols = np.concatenate([col + arms, np.full(arms.size, col)])
        rows = np.concatenate([np.full(arms.size, row), row + arms])
        colour = canvas.colour(style.on_cielab if style else None, layer)
        canvas.paint(cols, rows, colour, style.on_opacity if style else 1.0)
        return
    if graphic.filled and graphic.closed:
        fill = graphic.fill_style
        cols, rows = _inside(path, canvas)
        if fill is not None and fill.stippled:
            on = _stipple(fill.pattern, cols, rows)
            canvas.paint(cols[on], rows[on], canvas.colour(fill.on_cielab, layer),
                         fill.on_opacity)
            if fill.off_opacity > 0:
                canvas.paint(cols[~on], rows[~on], canvas.colour(fill.off_cielab, layer),
                             fill.off_opacity)
        else:
            cielab = fill.on_cielab if fill else (style.on_cielab if style else None)
            canvas.paint(cols, rows, canvas.colour(cielab, layer),
                         fill.on_opacity if fill else 1.0)
    cols, rows, along = _stroke(path, style.thickness if style else 1.0, canvas)
    if style is not None and style.dashed:
        bits = np.floor(along).astype(np.int64) % 32
        on = ((style.pattern >> bits) & 1).astype(bool)
        canvas.paint(cols[on], rows[on], canvas.colour(style.on_cielab, layer), style.on_opacity)
        if style.off_opacity > 0:
            canvas.paint(cols[~on], rows[~on], canvas.colour(style.off_cielab, layer),
                         style.off_opacity)
        return
    colour = canvas.colour(style.on_cielab if style else None, layer)
    canvas.paint(cols, rows, colour, style.on_opacity if style else 1.0)


def _curve_step(graphic: GraphicObject, scale: float) -> float:
    """Output pixels between samples of a curve: chords within 0.02 pixel of a circle or
    ellipse (sagitta step^2 / 8r), between 0.5 and 4 pixels; 2 pixels along an interpolated
    curve (within 0.03 pixel where it bends with a radius of 20 pixels or more)."""
    if graphic.graphic_type is GraphicType.INTERPOLATED:
        return 2.0
    if graphic.graphic_type not in (GraphicType.CIRCLE, GraphicType.ELLIPSE):
        return 1.0
    pts = np.asarray(graphic.points, dtype=np.float64)
    smallest = (float(np.hypot(*(pts[1] - pts[0]))) if graphic.graphic_type is GraphicType.CIRCLE
                else min(float(np.hypot(*(pts[1] - pts[0]))), float(np.hypot(*(pts[3] - pts[2])))
                         ) / 2.0)
    return min(max(math.sqrt(8.0 * max(smallest * scale, 1e-9) * 0.02), 0.5), 4.0)


def _stipple(pattern: bytes, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Fill Pattern bits for output pixels: 32x32, 4 bytes a row, bit 0 the leftmost pixel."""
    bits = np.frombuffer(pattern[:128], dtype=np.uint8).reshape(32, 4)
    x, y = cols % 32, rows % 32
    return ((bits[y, x // 8] >> (x % 8)) & 1).astype(bool)


def _stroke(path: np.ndarray, thickness: float, canvas: _Canvas
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels a polyline passes through, each once, with its distance along the path (in
    output pixels) for dashing."""
    if len(path) == 1:
        path = np.vstack([path, path])
    cols, rows, along = _crossed(path, canvas)
    if thickness > 1.0:
        starts = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
        extra = [(cols, rows, along)]
        for index, (p0, p1) in enumerate(zip(path[:-1], path[1:], strict=True)):
            c, r, t = _near(p0, p1, thickness / 2.0, canvas)
            if c.size:
                extra.append((c, r, starts[index] + t * float(np.hypot(*(p1 - p0)))))
        cols, rows, along = (np.concatenate([e[i] for e in extra]) for i in range(3))
    if cols.size == 0:
        return cols, rows, along
    # Each pixel once (blending twice would darken a translucent line where segments meet).
    key = rows * (canvas.out.shape[1] + 1) + cols
    _, first = np.unique(key, return_index=True)
    return cols[first], rows[first], along[first]


def _crossed(path: np.ndarray, canvas: _Canvas) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels whose inside a segment of the path passes through (a segment on a pixel edge:
    the pixels below / right of it; a segment of no length: its pixel), with the distance along
    the path at each. All segments at once: each is cut where it crosses a pixel edge, and the
    middle of each piece names its pixel. Only the parts over the canvas are walked."""
    p0, p1 = path[:-1], path[1:]
    d = p1 - p0
    length = np.hypot(d[:, 0], d[:, 1])
    starts = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    ta, tb, ok = _clip(p0, d, (canvas.c0 - 1.0, canvas.r0 - 1.0, canvas.c1 + 2.0,
                                canvas.r1 + 2.0))
    live = np.nonzero(ok)[0]
    segments = [live, live]
    params = [ta[live], tb[live]]
    for axis in (0, 1):
        moving = live[d[live, axis] != 0.0]
        ends = np.stack([p0[moving, axis] + ta[moving] * d[moving, axis],
                         p0[moving, axis] + tb[moving] * d[moving, axis]])
        first = np.ceil(ends.min(axis=0)).astype(np.int64)
        count = np.maximum(np.floor(ends.max(axis=0)).astype(np.int64) - first + 1, 0)
        owner = np.repeat(moving, count)
        offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        lines = np.repeat(first, count) + offset
        segments.append(owner)
        params.append(np.clip((lines - p0[owner, axis]) / d[owner, axis], ta[owner], tb[owner]))
    seg = np.concatenate(segments)
    t = np.concatenate(params)
    order = np.lexsort((t, seg))
    seg, t = seg[order], t[order]
    piece = (seg[1:] == seg[:-1]) & ((t[1:] - t[:-1]) * length[seg[:-1]] > 1e-9)
    owner = seg[:-1][piece]
    middle = ((t[1:] + t[:-1]) / 2.0)[piece]
    has_piece = np.zeros(len(p0), dtype=bool)
    has_piece[owner] = True
    lone = live[~has_piece[live]]  # no piece of any length: the pixel of its start
    owner = np.concatenate([owner, lone])
    middle = np.concatenate([middle, ta[lone]])
    pts = p0[owner] + middle[:, None] * d[owner]
    return (np.floor(pts[:, 0]).astype(np.int64), np.floor(pts[:, 1]).astype(np.int64),
            starts[owner] + middle * length[owner])


def _clip(p0: np.ndarray, d: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Liang-Barsky for many segments p0 + t d: the parameter range inside box (x0, y0, x1, y1)
    of each, and whether it has one."""
    t0 = np.zeros(len(p0))
    t1 = np.ones(len(p0))
    ok = np.ones(len(p0), dtype=bool)
    for p, q in ((-d[:, 0], p0[:, 0] - box[0]), (d[:, 0], box[2] - p0[:, 0]),
                 (-d[:, 1], p0[:, 1] - box[1]), (d[:, 1], box[3] - p0[:, 1])):
        still = p == 0.0
        ok &= ~(still & (q < 0.0))
        r = q / np.where(still, 1.0, p)
        t0 = np.where(~still & (p < 0.0), np.maximum(t0, r), t0)
        t1 = np.where(~still & (p > 0.0), np.minimum(t1, r), t1)
    return t0, t1, ok & (t0 <= t1)


def _near(p0: np.ndarray, p1: np.ndarray, radius: float, canvas: _Canvas
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels whose centre is within `radius` of the segment, with the nearest parameter."""
    lo = np.floor(np.minimum(p0, p1) - radius).astype(np.int64)
    hi = np.ceil(np.maximum(p0, p1) + radius).astype(np.int64)
    c0, c1 = max(int(lo[0]), canvas.c0), min(int(hi[0]), canvas.c1)
    r0, r1 = max(int(lo[1]), canvas.r0), min(int(hi[1]), canvas.r1)
    if c0 > c1 or r0 > r1:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    rr, cc = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
    centres = np.column_stack([cc.ravel() + 0.5, rr.ravel() + 0.5])
    d = p1 - p0
    dd = float(d @ d)
    t = np.clip(((centres - p0) @ d) / dd, 0.0, 1.0) if dd > 0 else np.zeros(len(centres))
    distance = np.hypot(*(centres - (p0 + np.outer(t, d))).T)
    keep = distance <= radius
    return cc.ravel()[keep], rr.ravel()[keep], t[keep]


def _inside(path: np.ndarray, canvas: _Canvas) -> tuple[np.ndarray, np.ndarray]:
    """Pixels whose centre is inside the closed path (even-odd rule): every row's centre line
    against every edge at once, in blocks of rows to bound the memory."""
    x0, x1 = path[:-1, 0], path[1:, 0]
    y0, y1 = path[:-1, 1], path[1:, 1]
    top = max(math.ceil(float(path[:, 1].min()) - 0.5), canvas.r0)
    bottom = min(math.floor(float(path[:, 1].max()) - 0.5), canvas.r1)
    cols: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    block = max(1, 1_000_000 // max(len(x0), 1))
    for first_row in range(top, bottom + 1, block):
        row = np.arange(first_row, min(first_row + block, bottom + 1))
        y = row[:, None] + 0.5
        spans = (y0 <= y) != (y1 <= y)  # edges crossing a row's centre line (half-open)
        with np.errstate(divide="ignore", invalid="ignore"):
            xs = np.where(spans, x0 + (y - y0) * (x1 - x0) / (y1 - y0), np.inf)
        xs.sort(axis=1)
        pairs = int(spans.sum(axis=1).max(initial=0)) // 2
        if pairs == 0:
            continue
        left, right = xs[:, 0 : 2 * pairs : 2], xs[:, 1 : 2 * pairs : 2]
        valid = np.isfinite(right)
        start = np.maximum(np.ceil(left[valid] - 0.5), canvas.c0).astype(np.int64)
        stop = np.minimum(np.ceil(right[valid] - 0.5) - 1, canvas.c1).astype(np.int64)
        count = np.maximum(stop - start + 1, 0)  # centres in [left, right)
        owner = np.repeat(np.broadcast_to(row[:, None], valid.shape)[valid], count)
        offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        cols.append(np.repeat(start, count) + offset)
        rows.append(owner)
    if not cols:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(cols), np.concatenate(rows)


# --- text ----------------------------------------------------------------------------------------


_CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_LATIN_FONTS = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf",
                "Arial.ttf", "arial.ttf", "Helvetica.ttc")
_CJK_FONTS = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf",
              "wqy-microhei.ttc", "wqy-zenhei.ttc", "DroidSansFallbackFull.ttf", "msyh.ttc",
              "PingFang.ttc")


@functools.cache
def _installed_fonts() -> dict[str, str]:
    """File name -> path of the fonts in the usual system and user folders (searched once)."""
    folders = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"),
               Path.home() / ".local/share/fonts", Path.home() / ".fonts",
               Path("/Library/Fonts"), Path("/System/Library/Fonts"),
               Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts"]
    found: dict[str, str] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for root, _dirs, files in os.walk(folder):
            for name in files:
                found.setdefault(name, os.path.join(root, name))
    return found


def find_font(text: str = "") -> str | None:
    """A TrueType/OpenType font on this system that can show `text`: a CJK font (the ones
    packaging/install.sh installs, or the system's) when it holds CJK characters, else DejaVu
    Sans or a common sans; None when there is none (Pillow's own font is used then)."""
    fonts = _installed_fonts()
    names = (*_CJK_FONTS, *_LATIN_FONTS) if _CJK.search(text) else (*_LATIN_FONTS, *_CJK_FONTS)
    return next((fonts[name] for name in names if name in fonts), None)


@functools.lru_cache(maxsize=64)
def _font(path: str | None, size: int) -> Font:
    from PIL import ImageFont

    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def _lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def _fitted(lines: list[str], text: str, width: float, height: float) -> tuple[Font, int]:
    """The largest font (and its line height) whose lines fit width x height, not below
    _MIN_FONT (then clipped)."""
    path = find_font(text)
    size = max(int(height / (len(lines) * _LINE_SPACING)), _MIN_FONT)
    while True:
        font = _font(path, size)
        widest = max(font.getlength(line) for line in lines)
        if widest <= width or size <= _MIN_FONT:
            return font, max(int(math.ceil(size * _LINE_SPACING)), 1)
        size = max(_MIN_FONT, min(size - 1, int(size * width / widest)))


def _wrapped(lines: list[str], text: str, width: float, height: float
             ) -> tuple[list[str], Font, int]:
    """The text's lines, wrapped at spaces into more lines where that lets a larger font fit
    the box (a tall narrow box: a PIXEL box on a rotated image keeps the text upright, PS3.3
    C.10.6), with that font and its line height."""
    best = (lines, *_fitted(lines, text, width, height))
    words = max(len(line.split()) for line in lines)
    for count in range(2, min(words, 8) + 1):
        candidate = [part for line in lines
                     for part in (textwrap.wrap(line, max(1, math.ceil(len(line) / count)),
                                                break_long_words=False)
                                  or [""])]
        font, line_height = _fitted(candidate, text, width, height)
        if getattr(font, "size", 0) > getattr(best[1], "size", 0):
            best = (candidate, font, line_height)
    return best


def _text_mask(lines: list[str], font: Font, line_height: int, width: int, height: int,
               justification: Justification) -> np.ndarray:
    """Coverage 0..255 of the text laid out in a width x height box, from its top."""
    from PIL import Image, ImageDraw

    picture = Image.new("L", (max(width, 1), max(height, 1)), 0)
    draw = ImageDraw.Draw(picture)
    for index, line in enumerate(lines):
        length = font.getlength(line)
        if justification is Justification.RIGHT:
            x = width - length
        elif justification is Justification.CENTER:
            x = (width - length) / 2.0
        else:
            x = 0.0
        draw.text((x, index * line_height), line, font=font, fill=255)
    coverage = np.asarray(picture, dtype=np.uint8)[:height, :width]
    coverage.flags.writeable = False
    return coverage


# Laid-out text by (text, box size, justification): a cine loop or a series redraws the same
# annotations on every frame. uint8, at most 64 of them.
@functools.lru_cache(maxsize=64)
def _boxed_text(text: str, width: int, height: int, justification: Justification) -> np.ndarray:
    lines, font, line_height = _wrapped(_lines(text), text, width, height)
    return _text_mask(lines, font, line_height, width, height, justification)


@functools.lru_cache(maxsize=64)
def _free_text(text: str, size: int) -> np.ndarray:
    """Text at `size` pixels, as wide and high as it is (placed beside an anchor point)."""
    lines = _lines(text)
    font, line_height = _fitted(lines, text, 10_000.0, size * _LINE_SPACING * len(lines))
    width = max(int(math.ceil(max(font.getlength(line) for line in lines))), 1)
    return _text_mask(lines, font, line_height, width, line_height * len(lines),
                      Justification.LEFT)


def _box_to_output(box: Box, units: AnnotationUnits, matrix: np.ndarray, area: Box) -> Box:
    """A box's four corners through the transformation; the upright box around them."""
    corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]])
    out = to_output(corners, units, matrix, area)
    return (float(out[:, 0].min()), float(out[:, 1].min()),
            float(out[:, 0].max()), float(out[:, 1].max()))


def _box_pixels(box: Box) -> tuple[int, int, int, int]:
    """The output pixels (first column, first row, last column, last row) whose centre lies in
    an output-coordinate box: where a text in that box is drawn."""
    return (math.ceil(box[0] - 0.5), math.ceil(box[1] - 0.5),
            math.floor(box[2] - 0.5), math.floor(box[3] - 0.5))


def _draw_text(canvas: _Canvas, text: TextObject, layer: GraphicLayer | None,
               matrix: np.ndarray, area: Box) -> None:
    colour = canvas.colour(text.colour, layer)
    anchor: np.ndarray | None = None
    if text.anchor is not None and text.anchor_units is not None:
        anchor = to_output(np.array([text.anchor]), text.anchor_units, matrix, area)[0]
        if not np.isfinite(anchor).all():
            anchor = None
    if text.bounding_box is not None and text.bounding_box_units is not None:
        box = _box_to_output(text.bounding_box, text.bounding_box_units, matrix, area)
        if not all(math.isfinite(v) for v in box):
            return
        c0, r0, c1, r1 = _box_pixels(box)
        if c1 < c0 or r1 < r0 or (c1 - c0 + 1) * (r1 - r0 + 1) > 16_000_000:
            coverage = None  # no pixel centre inside, or absurdly large: the anchor line only
        else:
            coverage = _boxed_text(text.text, c1 - c0 + 1, r1 - r0 + 1, text.justification)
    elif anchor is not None:
        coverage = _free_text(text.text, _anchor_font(canvas))
        height, width = coverage.shape
        c0, r0 = _beside(anchor, width, height, canvas)
        box = (c0, r0, c0 + width, r0 + height)
    else:
        return
    if coverage is not None:
        rr, cc = np.nonzero(coverage)
        canvas.paint(cc + c0, rr + r0, colour, coverage[rr, cc] / 255.0)
    if anchor is not None and text.anchor_visible:
        near = np.array([min(max(anchor[0], box[0]), box[2]), min(max(anchor[1], box[1]), box[3])])
        if float(np.hypot(*(near - anchor))) > 0.5:
            cols, rows, _ = _stroke(np.vstack([near, anchor]), 1.0, canvas)
            canvas.paint(cols, rows, colour, 1.0)


def _anchor_font(canvas: _Canvas) -> int:
    """The text height beside an anchor point: readable, growing with the picture."""
    height = canvas.r1 - canvas.r0 + 1
    return min(max(height // 32, 11), 24)


def _beside(anchor: np.ndarray, width: int, height: int, canvas: _Canvas) -> tuple[int, int]:
    """The top-left pixel of a width x height text next to the anchor (below right, flipped to
    the other side where it would leave the picture, then kept inside it)."""
    gap = 4
    col = math.floor(anchor[0]) + gap
    row = math.floor(anchor[1]) + gap
    if col + width - 1 > canvas.c1:
        col = math.floor(anchor[0]) - gap - width
    if row + height - 1 > canvas.r1:
        row = math.floor(anchor[1]) - gap - height
    col = min(max(col, canvas.c0), max(canvas.c1 - width + 1, canvas.c0))
    row = min(max(row, canvas.r0), max(canvas.r1 - height + 1, canvas.r0))
    return col, row
