"""Burning graphic annotations: analytic checks of every graphic type in PIXEL and DISPLAY
units, under an identity and a rotated / flipped / zoomed image-to-output transform; text in
its box, anchor lines, colours, styles, and graphics outside the picture."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from viewer.dicom.graphics import (
    AnnotationUnits,
    GraphicAnnotations,
    GraphicLayer,
    GraphicObject,
    GraphicType,
    Justification,
    LineStyle,
    TextObject,
    cielab_to_rgb,
)
from viewer.dicom.graphics_raster import burn_graphics, find_font

PIXEL, DISPLAY = AnnotationUnits.PIXEL, AnnotationUnits.DISPLAY
ROWS, COLS = 64, 80
BASE = 100
IDENTITY = np.eye(3)
WHOLE = (0.0, 0.0, float(COLS), float(ROWS))

Pixels = set[tuple[int, int]]


def _graphic(kind: GraphicType, points: list[tuple[float, float]], units: AnnotationUnits = PIXEL,
             filled: bool = False, layer: str = "L", style: LineStyle | None = None
             ) -> GraphicObject:
    return GraphicObject(units, kind, tuple(points), filled, layer, style)


def _burn(graphics: list[GraphicObject] = (), texts: list[TextObject] = (),  # type: ignore[assignment]
          matrix: np.ndarray = IDENTITY, area: tuple[float, float, float, float] = WHOLE,
          shape: tuple[int, ...] = (ROWS, COLS), layers: tuple[GraphicLayer, ...] | None = None,
          ) -> tuple[np.ndarray, Pixels]:
    base = np.full(shape, BASE, np.uint8)
    names = {g.layer for g in graphics} | {t.layer for t in texts}
    declared = layers if layers is not None else tuple(GraphicLayer(n, 1) for n in sorted(names))
    out = burn_graphics(base, GraphicAnnotations(declared, tuple(graphics), tuple(texts)), matrix,
                        area)
    assert out.shape == base.shape and out.dtype == np.uint8
    changed = out != BASE if out.ndim == 2 else (out != BASE).any(axis=2)
    rows, cols = np.nonzero(changed)
    return out, set(zip(cols.tolist(), rows.tolist(), strict=True))


def crossed(p0: tuple[float, float], p1: tuple[float, float], width: int = COLS,
            height: int = ROWS) -> Pixels:
    """The pixels (column, row) whose inside the segment passes through, by dense sampling
    (samples on a pixel edge are skipped): independent of the rasteriser."""
    a, b = np.array(p0, float), np.array(p1, float)
    t = np.linspace(0.0, 1.0, 400_001)[:, None]
    pts = a + t * (b - a)
    frac = pts - np.floor(pts)
    inside = ((frac > 1e-7) & (frac < 1 - 1e-7)).all(axis=1)
    cells = np.floor(pts[inside]).astype(int)
    keep = (cells[:, 0] >= 0) & (cells[:, 0] < width) & (cells[:, 1] >= 0) & (cells[:, 1] < height)
    return set(map(tuple, cells[keep].tolist()))  # type: ignore[arg-type]


def _through(matrix: np.ndarray, p: tuple[float, float]) -> tuple[float, float]:
    x, y, w = matrix @ np.array([p[0], p[1], 1.0])
    return x / w, y / w


# --- lines ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "points",
    [[(10.5, 20.5), (60.5, 20.5)], [(3.2, 4.7), (71.9, 58.3)], [(40.3, 2.1), (44.8, 61.6)],
     [(5.5, 5.5), (70.25, 5.5), (70.25, 50.75), (12.1, 33.3)], [(77.7, 1.2), (2.3, 62.9)]],
    ids=["horizontal", "shallow", "steep", "polyline", "falling"],
)
def test_a_polyline_changes_exactly_the_pixels_on_its_path(points: list[tuple[float, float]]
                                                           ) -> None:
    out, changed = _burn([_graphic(GraphicType.POLYLINE, points)])
    expected: Pixels = set()
    for p0, p1 in zip(points[:-1], points[1:], strict=True):
        expected |= crossed(p0, p1)
    assert changed == expected
    assert set(np.unique(out[out != BASE]).tolist()) == {255}  # white: the layer has no colour


def test_lines_on_pixel_edges_mark_the_pixels_below_and_right() -> None:
    _, changed = _burn([_graphic(GraphicType.POLYLINE, [(10.0, 10.0), (50.0, 10.0), (50.0, 40.0)])])
    assert changed == {(c, 10) for c in range(10, 50)} | {(50, r) for r in range(10, 40)}


def test_a_point_is_a_five_pixel_cross() -> None:
    _, changed = _burn([_graphic(GraphicType.POINT, [(30.4, 20.9)])])
    assert changed == {(c, 20) for c in range(28, 33)} | {(30, r) for r in range(18, 23)}


def _near_circle(centre: tuple[float, float], radius: float) -> tuple[Pixels, Pixels, Pixels]:
    """Pixels whose centre lies within 0.2 of the circle (surely crossed), pixels the circle
    cannot cross (centre farther than half a diagonal), and centres inside (by 0.01)."""
    rr, cc = np.mgrid[0:ROWS, 0:COLS]
    d = np.hypot(cc + 0.5 - centre[0], rr + 0.5 - centre[1])
    def cells(mask: np.ndarray) -> Pixels:
        return set(zip(cc[mask].tolist(), rr[mask].tolist(), strict=True))
    return (cells(np.abs(d - radius) < 0.2), cells(np.abs(d - radius) > math.sqrt(0.5) + 1e-6),
            cells(d < radius - 0.01))


@pytest.mark.parametrize("filled", [False, True], ids=["outline", "filled"])
def test_circle(filled: bool) -> None:
    _, changed = _burn([_graphic(GraphicType.CIRCLE, [(40.0, 30.0), (52.0, 30.0)],
                                 filled=filled)])
    on, off, inside = _near_circle((40.0, 30.0), 12.0)
    assert on <= changed
    if filled:
        assert inside <= changed
        assert not (changed & (off - inside))
    else:
        assert not (changed & off)


def test_filled_ellipse_in_display_units() -> None:
    """DISPLAY units: fractions of the displayed area box (here 10..70 x 4..60 of 80 x 64)."""
    area = (10.0, 4.0, 70.0, 60.0)
    # Major axis horizontal from 0.1 to 0.9 of the width, minor from 0.25 to 0.75 of the height.
    ellipse = _graphic(GraphicType.ELLIPSE, [(0.1, 0.5), (0.9, 0.5), (0.5, 0.25), (0.5, 0.75)],
                       DISPLAY, filled=True)
    _, changed = _burn([ellipse], area=area)
    cx, cy, a, b = 40.0, 32.0, 24.0, 14.0
    rr, cc = np.mgrid[0:ROWS, 0:COLS]
    level = ((cc + 0.5 - cx) / a) ** 2 + ((rr + 0.5 - cy) / b) ** 2
    inside = set(zip(cc[level < 0.98].tolist(), rr[level < 0.98].tolist(), strict=True))
    outside = set(zip(cc[level > 1.15].tolist(), rr[level > 1.15].tolist(), strict=True))
    assert inside <= changed
    assert not (changed & outside)


def test_filled_closed_polyline_fills_every_pixel_centre_inside() -> None:
    square = [(10.0, 10.0), (30.0, 10.0), (30.0, 20.0), (10.0, 20.0), (10.0, 10.0)]
    _, changed = _burn([_graphic(GraphicType.POLYLINE, square, filled=True)])
    inside = {(c, r) for c in range(10, 30) for r in range(10, 20)}
    edges = {(30, r) for r in range(10, 20)} | {(c, 20) for c in range(10, 30)}
    assert changed == inside | edges


def test_interpolated_curve_is_smooth_through_its_points() -> None:
    points = [(5.5, 50.5), (20.5, 40.5), (35.5, 55.5), (60.5, 30.5)]
    _, changed = _burn([_graphic(GraphicType.INTERPOLATED, points)])
    for x, y in points:
        assert (math.floor(x), math.floor(y)) in changed
    # One 8-connected path, and no corner: the curve leaves the polyline between the points.
    polyline: Pixels = set()
    for p0, p1 in zip(points[:-1], points[1:], strict=True):
        polyline |= crossed(p0, p1)
    assert changed != polyline and len(changed & polyline) > len(polyline) // 3
    assert _connected(changed)
    straight = [(5.5, 5.5), (25.5, 5.5), (45.5, 5.5)]
    _, line = _burn([_graphic(GraphicType.INTERPOLATED, straight)])
    assert line == crossed(straight[0], straight[-1])


def _connected(cells: Pixels) -> bool:
    todo = [next(iter(cells))]
    seen = {todo[0]}
    while todo:
        c, r = todo.pop()
        for dc in (-1, 0, 1):
            for dr in (-1, 0, 1):
                n = (c + dc, r + dr)
                if n in cells and n not in seen:
                    seen.add(n)
                    todo.append(n)
    return seen == cells


# --- transforms and the displayed area -----------------------------------------------------------


def test_rotated_and_zoomed_output() -> None:
    """Rotation 90 degrees clockwise, then zoom x2: image (x, y) -> (2 (H - y), 2 x)."""
    matrix = np.array([[0.0, -2.0, 2.0 * ROWS], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    shape = (2 * COLS, 2 * ROWS)  # the output is rotated: rows x columns swap
    line = _graphic(GraphicType.POLYLINE, [(10.5, 20.25), (60.5, 20.25)])
    _, changed = _burn([line], matrix=matrix, area=(0, 0, 2 * ROWS, 2 * COLS), shape=shape)
    assert changed == {(87, r) for r in range(21, 121)}


@pytest.mark.parametrize(
    "matrix",
    [np.array([[-1.0, 0.0, COLS], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
     np.array([[1.0, 0.0, 0.0], [0.0, -1.0, ROWS], [0.0, 0.0, 1.0]]),
     np.array([[1.5 * math.cos(0.5), -1.5 * math.sin(0.5), 30.0],
               [1.5 * math.sin(0.5), 1.5 * math.cos(0.5), -10.0], [0.0, 0.0, 1.0]])],
    ids=["flip-horizontal", "flip-vertical", "rotate-zoom-pan"],
)
def test_pixel_units_follow_the_transform(matrix: np.ndarray) -> None:
    points = [(12.3, 8.6), (50.2, 30.7), (20.9, 44.1)]
    _, changed = _burn([_graphic(GraphicType.POLYLINE, points)], matrix=matrix)
    expected: Pixels = set()
    for p0, p1 in zip(points[:-1], points[1:], strict=True):
        expected |= crossed(_through(matrix, p0), _through(matrix, p1))
    assert changed == expected
    # A filled circle stays filled where its transformed inside is.
    circle = _graphic(GraphicType.CIRCLE, [(30.0, 30.0), (38.0, 30.0)], filled=True)
    _, filled = _burn([circle], matrix=matrix)
    scale = math.sqrt(abs(np.linalg.det(matrix[:2, :2])))
    centre = _through(matrix, (30.0, 30.0))
    _, off, inside = _near_circle(centre, 8.0 * scale)
    assert inside <= filled and not (filled & (off - inside))


def test_display_units_ignore_the_transform_and_nothing_leaves_the_displayed_area() -> None:
    area = (10.0, 20.0, 70.0, 50.0)
    rotate = np.array([[0.0, -1.0, ROWS], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    across = _graphic(GraphicType.POLYLINE, [(-0.5, 0.5), (1.5, 0.5)], DISPLAY)
    point = _graphic(GraphicType.POINT, [(0.5, 0.25)], DISPLAY)
    _, changed = _burn([across, point], matrix=rotate, area=area)
    cross = {(c, 27) for c in range(38, 43)} | {(40, r) for r in range(25, 30)}
    assert changed == {(c, 35) for c in range(10, 70)} | cross
    # PIXEL graphics are clipped to the displayed area too.
    _, clipped = _burn([_graphic(GraphicType.POLYLINE, [(0.5, 30.5), (79.5, 30.5)])], area=area)
    assert clipped == {(c, 30) for c in range(10, 70)}


def test_graphics_outside_the_picture_are_clipped_quickly() -> None:
    start = time.perf_counter()
    far = _graphic(GraphicType.POLYLINE, [(-1e9, 5.5), (1e9, 5.5)])
    gone = _graphic(GraphicType.CIRCLE, [(-500.0, -500.0), (-490.0, -500.0)], filled=True)
    huge = _graphic(GraphicType.CIRCLE, [(40.0, 32.0), (4e6, 32.0)], filled=True)
    _, changed = _burn([far, gone])
    assert changed == {(c, 5) for c in range(COLS)}
    _, everything = _burn([huge])
    assert len(everything) == ROWS * COLS
    # A projective transform sending points to infinity: drawn as far as finite, no crash.
    vanishing = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    _burn([_graphic(GraphicType.POLYLINE, [(1.0, 1.0), (5.0, 5.0)])], matrix=vanishing)
    assert time.perf_counter() - start < 5.0


# --- colour and style ----------------------------------------------------------------------------


def test_layer_colours_and_order() -> None:
    grey = GraphicLayer("GREY", 2, recommended_grey=0x8000)
    lab = (0x8000, 0xA000, 0x6000)
    colour = GraphicLayer("LAB", 1, recommended_cielab=lab)
    horizontal = _graphic(GraphicType.POLYLINE, [(0.5, 10.5), (79.5, 10.5)], layer="GREY")
    vertical = _graphic(GraphicType.POLYLINE, [(20.5, 0.5), (20.5, 63.5)], layer="LAB")
    out, _ = _burn([horizontal, vertical], layers=(colour, grey))
    assert out[10, 5] == 128  # P-value 0x8000 -> 128
    assert out[10, 20] == 128  # the higher Graphic Layer Order is drawn last, on top
    assert out[30, 20] == round(0x8000 * 255 / 0xFFFF)  # L* on grey output
    rgb, _ = _burn([horizontal, vertical], layers=(colour, grey), shape=(ROWS, COLS, 3))
    assert tuple(rgb[30, 20]) == cielab_to_rgb(lab)
    assert tuple(rgb[10, 5]) == (128, 128, 128)


def test_line_style_colour_opacity_thickness_and_dashes() -> None:
    red = (0x8000, 0xD000, 0xB000)
    half = LineStyle(on_cielab=red, on_opacity=0.5)
    out, changed = _burn([_graphic(GraphicType.POLYLINE, [(0.5, 10.5), (79.5, 10.5)],
                                   style=half)], shape=(ROWS, COLS, 3))
    expected = np.rint(BASE + (np.array(cielab_to_rgb(red)) - BASE) * 0.5)
    assert np.array_equal(out[10, 40], expected)
    thick = LineStyle(thickness=3.0)
    _, changed = _burn([_graphic(GraphicType.POLYLINE, [(10.5, 20.5), (60.5, 20.5)],
                                 style=thick)])
    core = {(c, r) for c in range(10, 61) for r in (19, 20, 21)}
    caps = {(c, r) for r in (19, 20, 21) for c in (9, 61)
            if math.hypot(c + 0.5 - (10.5 if c < 30 else 60.5), r - 20) <= 1.5}
    assert changed == core | caps
    dashed = LineStyle(dashed=True, pattern=0x0F0F0F0F)
    _, changed = _burn([_graphic(GraphicType.POLYLINE, [(0.0, 30.5), (64.0, 30.5)],
                                 style=dashed)])
    assert changed == {(c, 30) for c in range(64) if (c // 4) % 2 == 0}


# --- text ----------------------------------------------------------------------------------------


def _text(value: str, box: tuple[float, float, float, float] | None = None,
          anchor: tuple[float, float] | None = None, units: AnnotationUnits = PIXEL,
          justification: Justification = Justification.LEFT, visible: bool = True
          ) -> TextObject:
    return TextObject(value, "L", box, units if box else None, justification, anchor,
                      units if anchor else None, visible)


def _box_pixels(box: tuple[float, float, float, float]) -> Pixels:
    return {(c, r) for c in range(COLS) for r in range(ROWS)
            if box[0] <= c + 0.5 <= box[2] and box[1] <= r + 0.5 <= box[3]}


@pytest.mark.parametrize("value", ["Lesion 12 mm", "A much longer text than the box holds",
                                   "two\r\nlines", "右肺结节"],
                         ids=["short", "long", "lines", "cjk"])
def test_text_stays_inside_its_box(value: str) -> None:
    box = (10.0, 40.0, 70.0, 58.0)
    _, changed = _burn(texts=[_text(value, box)])
    assert changed and changed <= _box_pixels(box)
    assert len(changed) > 20


def test_text_justification() -> None:
    box = (4.0, 10.0, 76.0, 30.0)

    def mean_column(justification: Justification) -> float:
        _, changed = _burn(texts=[_text("short", box, justification=justification)])
        assert changed <= _box_pixels(box)
        return float(np.mean([c for c, _ in changed]))

    left, centre, right = (mean_column(j) for j in (Justification.LEFT, Justification.CENTER,
                                                   Justification.RIGHT))
    assert left < centre < right
    assert abs(centre - 40.0) < 3.0


def test_text_box_in_display_units_and_through_a_rotation() -> None:
    area = (8.0, 8.0, 72.0, 56.0)
    _, changed = _burn(texts=[_text("Note", (0.25, 0.5, 0.75, 1.0), units=DISPLAY)], area=area)
    assert changed and changed <= _box_pixels((24.0, 32.0, 56.0, 56.0))
    rotate = np.array([[0.0, -1.0, ROWS], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    _, turned = _burn(texts=[_text("Note", (10.0, 20.0, 40.0, 30.0))], matrix=rotate,
                      area=(0, 0, ROWS, COLS), shape=(COLS, ROWS))
    # Corners (10,20) and (40,30) -> (44,10) and (34,40): the upright box 34..44 x 10..40.
    assert turned and turned <= {(c, r) for c in range(34, 44) for r in range(10, 40)}


def test_a_visible_anchor_is_joined_to_its_box() -> None:
    box = (40.0, 40.0, 76.0, 58.0)
    _, changed = _burn(texts=[_text("Mass", box, anchor=(10.5, 12.5))])
    line = crossed((40.0, 40.0), (10.5, 12.5))  # from the nearest point of the box
    assert line <= changed
    assert (10, 12) in changed
    assert changed - line <= _box_pixels(box)
    _, hidden = _burn(texts=[_text("Mass", box, anchor=(10.5, 12.5), visible=False)])
    assert hidden <= _box_pixels(box)


def test_text_with_only_an_anchor_is_placed_beside_it() -> None:
    _, changed = _burn(texts=[_text("Cyst", anchor=(20.5, 20.5), visible=False)])
    assert changed and all(c > 20 and r > 20 for c, r in changed)
    _, corner = _burn(texts=[_text("Cyst", anchor=(76.5, 60.5), visible=False)])
    assert corner and all(c < 76 and r < 60 for c, r in corner)  # flipped, kept on the image
    _, joined = _burn(texts=[_text("Cyst", anchor=(20.5, 20.5), visible=True)])
    assert (20, 20) in joined and changed < joined


def test_a_cjk_font_is_found_for_cjk_text() -> None:
    """packaging/install.sh installs fonts-noto-cjk and fonts-dejavu."""
    cjk, latin = find_font("右肺结节"), find_font("Lesion")
    assert cjk is not None and "CJK" in cjk
    assert latin is not None and "DejaVu" in latin


def test_text_wraps_at_spaces_in_a_narrow_box() -> None:
    """A PIXEL box turned 90 degrees is tall and narrow; the text stays upright, so it wraps
    rather than shrinking below legibility."""
    box = (30.0, 2.0, 62.0, 62.0)
    _, changed = _burn(texts=[_text("Length 130.2 mm", box)])
    assert changed <= _box_pixels(box)
    rows = sorted({r for _, r in changed})
    assert rows[-1] - rows[0] > 20  # more than one line
    columns = sorted({c for c, _ in changed})
    assert columns[-1] - columns[0] > 20  # and still wide glyphs, not a sliver
