"""Graphic annotations of a presentation state: layers, graphic objects and text objects.

PS3.3 C.10.5 (Graphic Annotation Module) and C.10.7 (Graphic Layer Module). The parse yields
frozen values in the units the file uses (PIXEL: image coordinates, column\\row, 0\\0 at the
top-left corner of the top-left pixel; DISPLAY: fractions 0..1 of the displayed area), so the
GUI can draw them as vector items and `graphics_raster.burn_graphics` can burn them into a
picture: nothing here is a raster. `outline` and `to_output` are the geometry both share.

A malformed item (a layer not declared, a wrong number of points, data that is not a finite
number, text without a value) is left out with a one-line reason in `problems`; it never raises.
"""

from __future__ import annotations

import enum
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from pydicom.dataset import Dataset

from viewer.dicom.colour import cielab_to_rgb
from viewer.dicom.text import decoded_dataset, pydicom_warnings, warning_for

LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

Point = tuple[float, float]
CIELab = tuple[int, int, int]  # DICOM-encoded PCS values: L* 0..65535, a*/b* 0..65535 (0x8080 = 0)


class AnnotationUnits(enum.Enum):
    """Graphic / Bounding Box / Anchor Point Annotation Units (PS3.3 C.10.5.1.1)."""

    PIXEL = "PIXEL"
    DISPLAY = "DISPLAY"


class GraphicType(enum.Enum):
    """Graphic Type (0070,0023) and the number of points each needs (PS3.3 C.10.5.2)."""

    POINT = "POINT"
    POLYLINE = "POLYLINE"
    INTERPOLATED = "INTERPOLATED"
    CIRCLE = "CIRCLE"
    ELLIPSE = "ELLIPSE"


class Justification(enum.Enum):
    """Bounding Box Text Horizontal Justification (0070,0012)."""

    LEFT = "LEFT"
    RIGHT = "RIGHT"
    CENTER = "CENTER"


@dataclass(frozen=True)
class GraphicLayer:
    """One item of the Graphic Layer Sequence (C.10.7). Lower `order` is drawn first.

    `recommended_grey`: a P-value 0..65535 for monochrome display; `recommended_cielab`: the
    DICOM-encoded CIELab triplet for colour display (`cielab_to_rgb`); None when absent.
    """

    name: str
    order: int
    recommended_grey: int | None = None
    recommended_cielab: CIELab | None = None
    description: str = ""


@dataclass(frozen=True)
class LineStyle:
    """Line Style Sequence item (C.10.5.1.2): colours as CIELab, opacities 0..1, thickness in
    output (display) pixels, and for DASHED lines the 32-bit Line Pattern (bit 0 first, one bit
    per output pixel along the line)."""

    on_cielab: CIELab | None = None
    on_opacity: float = 1.0
    off_cielab: CIELab | None = None
    off_opacity: float = 0.0
    thickness: float = 1.0
    dashed: bool = False
    pattern: int = 0xFFFFFFFF


@dataclass(frozen=True)
class FillStyle:
    """Fill Style Sequence item (C.10.5.1.3): SOLID fill, or STIPPELED with the 32x32 bitmap
    `pattern` (128 bytes, rows top to bottom, bit 0 of each byte leftmost) repeated over the
    output, on-bits in the on colour and off-bits in the off colour."""

    on_cielab: CIELab | None = None
    on_opacity: float = 1.0
    off_cielab: CIELab | None = None
    off_opacity: float = 0.0
    stippled: bool = False
    pattern: bytes = b""


@dataclass(frozen=True)
class GraphicObject:
    """One item of a Graphic Object Sequence: `points` are (column, row) pairs in `units`.

    POINT: one point; POLYLINE: the vertices (closed when the last equals the first);
    INTERPOLATED: a smooth curve through the points; CIRCLE: centre, then a point on the
    circle; ELLIPSE: the two ends of the major axis, then the two ends of the minor axis.
    `filled` only for closed shapes (a closed polyline or interpolated curve, circle, ellipse).
    """

    units: AnnotationUnits
    graphic_type: GraphicType
    points: tuple[Point, ...]
    filled: bool
    layer: str
    line_style: LineStyle | None = None
    fill_style: FillStyle | None = None

    @property
    def closed(self) -> bool:
        if self.graphic_type in (GraphicType.CIRCLE, GraphicType.ELLIPSE):
            return True
        return (self.graphic_type is not GraphicType.POINT and len(self.points) > 2
                and self.points[0] == self.points[-1])


@dataclass(frozen=True)
class TextObject:
    """One item of a Text Object Sequence (C.10.5.1.1): at least a bounding box or an anchor.

    `bounding_box` (left, top, right, bottom) in `bounding_box_units`, normalised so left <=
    right and top <= bottom; the text is drawn inside it, upright, `justification` across.
    `anchor` (column, row) in `anchor_units`; `anchor_visible`: joined to the text by a line.
    `colour`: the Text Style's CIELab colour, else None (the layer's).
    """

    text: str
    layer: str
    bounding_box: tuple[float, float, float, float] | None = None
    bounding_box_units: AnnotationUnits | None = None
    justification: Justification = Justification.LEFT
    anchor: Point | None = None
    anchor_units: AnnotationUnits | None = None
    anchor_visible: bool = False
    colour: CIELab | None = None


@dataclass(frozen=True)
class GraphicAnnotations:
    """What a presentation state draws on one image/frame, layers ordered by Graphic Layer
    Order (then declaration), graphics and texts in the same layer order (then file order).
    `problems`: one line per item left out, naming the item and the reason."""

    layers: tuple[GraphicLayer, ...]
    graphics: tuple[GraphicObject, ...]
    texts: tuple[TextObject, ...]
    problems: tuple[str, ...] = field(default=())


class _Skip(ValueError):
    """An item left out; the message is the reason."""


# --- reading -------------------------------------------------------------------------------------


def read_graphic_annotations(
    ds: Dataset, sop_instance_uid: str, frame: int = 1
) -> GraphicAnnotations:
    """The graphic layers, graphic objects and text objects of presentation state `ds` that
    apply to image `sop_instance_uid`, frame `frame` (1-based, as Referenced Frame Number).

    A Graphic Annotation item applies when its Referenced Image Sequence names that image (with
    no Referenced Frame Number, or one listing `frame`), or when it has none and the image is
    among those the presentation state references (PS3.3 C.10.5.1). Text is decoded with the
    presentation state's Specific Character Set (misspellings corrected, bad bytes replaced
    and reported). Never raises for bad content: what cannot be used is in `problems`.
    """
    problems: list[str] = []
    with pydicom_warnings():
        source, notes = decoded_dataset(
            ds, ("GraphicAnnotationSequence", "GraphicLayerSequence", "ReferencedSeriesSequence")
        )
    problems.extend(notes)
    declared = _layers(source, problems)
    by_name = {layer.name: (index, layer) for index, layer in enumerate(declared)}
    in_ps = _referenced_by_ps(source, sop_instance_uid, frame)
    graphics: list[tuple[tuple[int, int], GraphicObject]] = []
    texts: list[tuple[tuple[int, int], TextObject]] = []
    for index, item in enumerate(_items(source, "GraphicAnnotationSequence", problems)):
        where = f"Graphic Annotation Sequence item {index + 1}"
        try:
            if not _applies(item, sop_instance_uid, frame, in_ps):
                continue
            name = _text(item, "GraphicLayer", where, problems).strip()
            if not name:
                raise _Skip("no Graphic Layer")
            if name not in by_name:
                raise _Skip(f"layer {name!r} is not declared in the Graphic Layer Sequence")
        except _Skip as exc:
            problems.append(f"{where}: {exc}; left out")
            continue
        except Exception as exc:  # a value pydicom cannot convert: this item only
            LOGGER.debug("%s unreadable: %r", where, exc)
            problems.append(f"{where}: cannot be read ({type(exc).__name__}); left out")
            continue
        rank = (declared[by_name[name][0]].order, by_name[name][0])
        for sub, obj in enumerate(_items(item, "GraphicObjectSequence", problems)):
            label = f"{where}, Graphic Object {sub + 1}"
            parsed = _guarded(_graphic, obj, name, label, problems)
            if parsed is not None:
                graphics.append((rank, parsed))
        for sub, obj in enumerate(_items(item, "TextObjectSequence", problems)):
            label = f"{where}, Text Object {sub + 1}"
            text = _guarded(_text_object, obj, name, label, problems)
            if text is not None:
                texts.append((rank, text))
    used = {g.layer for _, g in graphics} | {t.layer for _, t in texts}
    layers = sorted((layer for layer in declared if layer.name in used),
                    key=lambda layer: (layer.order, by_name[layer.name][0]))
    # sorted() is stable: file order holds within a layer.
    return GraphicAnnotations(
        layers=tuple(layers),
        graphics=tuple(g for _, g in sorted(graphics, key=lambda pair: pair[0])),
        texts=tuple(t for _, t in sorted(texts, key=lambda pair: pair[0])),
        problems=tuple(problems),
    )


def _guarded(parse: Callable[[Dataset, str, str, list[str]], _T], item: Dataset, layer: str,
             label: str, problems: list[str]) -> _T | None:
    try:
        return parse(item, layer, label, problems)
    except _Skip as exc:
        problems.append(f"{label}: {exc}; left out")
    except Exception as exc:  # a value pydicom cannot convert: this object only
        LOGGER.debug("%s unreadable: %r", label, exc)
        problems.append(f"{label}: cannot be read ({type(exc).__name__}); left out")
    return None


def _items(ds: Dataset, keyword: str, problems: list[str] | None = None) -> list[Dataset]:
    """The items of sequence `keyword`; none when it cannot be read (said in `problems`)."""
    try:
        value = ds.get(keyword)
    except Exception as exc:  # an undecodable sequence: no items, and the reason
        LOGGER.debug("%s unreadable: %r", keyword, exc)
        if problems is not None:
            problems.append(f"{keyword}: cannot be read ({type(exc).__name__}); left out")
        return []
    if value is None:
        return []
    return [item for item in value if isinstance(item, Dataset)]


def _layers(ds: Dataset, problems: list[str]) -> list[GraphicLayer]:
    layers: list[GraphicLayer] = []
    seen: set[str] = set()
    for index, item in enumerate(_items(ds, "GraphicLayerSequence", problems)):
        where = f"Graphic Layer Sequence item {index + 1}"
        try:
            name = _text(item, "GraphicLayer", where, problems).strip()
            if not name:
                raise _Skip("no Graphic Layer name")
            if name in seen:
                raise _Skip(f"layer {name!r} declared twice")
            order = _integer(item.get("GraphicLayerOrder"), "Graphic Layer Order")
            grey = item.get("GraphicLayerRecommendedDisplayGrayscaleValue")
            layers.append(GraphicLayer(
                name=name,
                order=order,
                recommended_grey=_p_value(grey) if grey is not None else None,
                recommended_cielab=_cielab(item, "GraphicLayerRecommendedDisplayCIELabValue"),
                description=_text(item, "GraphicLayerDescription", where, problems),
            ))
            seen.add(name)
        except _Skip as exc:
            problems.append(f"{where}: {exc}; left out")
        except Exception as exc:  # a value pydicom cannot convert: this layer only
            LOGGER.debug("%s unreadable: %r", where, exc)
            problems.append(f"{where}: cannot be read ({type(exc).__name__}); left out")
    return layers


def _referenced_by_ps(ds: Dataset, sop_instance_uid: str, frame: int) -> bool:
    """Whether the PS's Referenced Series Sequence lists the image (and frame). A PS listing no
    image at all is not valid (its Type 1 sequence is missing): its annotations then apply to
    any image, and refusing such a PS is the caller's decision (`applies_to`)."""
    series = _items(ds, "ReferencedSeriesSequence")
    images = [image for s in series for image in _items(s, "ReferencedImageSequence")]
    if not images:
        return True
    for image in images:
        try:
            if _names(image, sop_instance_uid, frame):
                return True
        except _Skip:  # a damaged frame list: this entry names no frame safely
            continue
    return False


def _applies(item: Dataset, sop_instance_uid: str, frame: int, in_ps: bool) -> bool:
    images = _items(item, "ReferencedImageSequence")
    if not images:
        return in_ps
    return any(_names(image, sop_instance_uid, frame) for image in images)


def _names(image: Dataset, sop_instance_uid: str, frame: int) -> bool:
    if str(image.get("ReferencedSOPInstanceUID", "")).strip() != sop_instance_uid:
        return False
    frames = image.get("ReferencedFrameNumber")
    if frames is None or frames == "":
        return True
    values = frames if isinstance(frames, Sequence) and not isinstance(frames, str) else [frames]
    try:
        return frame in {int(v) for v in values}
    except (TypeError, ValueError) as exc:
        raise _Skip("Referenced Frame Number is not a number") from exc


def _graphic(item: Dataset, layer: str, where: str, problems: list[str]) -> GraphicObject:
    units = _units(item, "GraphicAnnotationUnits", "Graphic Annotation Units")
    dimensions = item.get("GraphicDimensions")
    if dimensions is not None and _integer(dimensions, "Graphic Dimensions") != 2:
        raise _Skip(f"Graphic Dimensions {dimensions} (only 2 is defined)")
    kind_text = str(item.get("GraphicType", "")).strip().upper()
    try:
        kind = GraphicType(kind_text)
    except ValueError:
        raise _Skip(f"Graphic Type {kind_text!r} is not one of "
                    f"{', '.join(t.value for t in GraphicType)}") from None
    data = _floats(item.get("GraphicData"), "Graphic Data")
    if len(data) % 2:
        raise _Skip(f"Graphic Data holds {len(data)} values, not column\\row pairs")
    points = tuple((data[i], data[i + 1]) for i in range(0, len(data), 2))
    declared = item.get("NumberOfGraphicPoints")
    if declared is None or _integer(declared, "Number of Graphic Points") != len(points):
        raise _Skip(f"Number of Graphic Points {declared} but Graphic Data holds "
                    f"{len(points)} points")
    exact = {GraphicType.POINT: 1, GraphicType.CIRCLE: 2, GraphicType.ELLIPSE: 4}.get(kind)
    if exact is not None and len(points) != exact:
        raise _Skip(f"{kind.value} needs exactly {exact} point(s), it has {len(points)}")
    if exact is None and len(points) < 2:
        raise _Skip(f"{kind.value} needs at least 2 points, it has {len(points)}")
    filled = str(item.get("GraphicFilled", "N")).strip().upper() == "Y"
    graphic = GraphicObject(
        units=units, graphic_type=kind, points=points, filled=filled, layer=layer,
        line_style=_line_style(item), fill_style=_fill_style(item),
    )
    if filled and not graphic.closed:
        problems.append(f"{where}: Graphic Filled Y on an open {kind.value}; drawn unfilled")
        graphic = GraphicObject(units, kind, points, False, layer, graphic.line_style,
                                graphic.fill_style)
    return graphic


def _text_object(item: Dataset, layer: str, where: str, problems: list[str]) -> TextObject:
    text = _text(item, "UnformattedTextValue", where, problems)
    if not text.strip():
        raise _Skip("no Unformatted Text Value")
    box: tuple[float, float, float, float] | None = None
    box_units: AnnotationUnits | None = None
    justification = Justification.LEFT
    if "BoundingBoxTopLeftHandCorner" in item or "BoundingBoxBottomRightHandCorner" in item:
        tl = _pair(item.get("BoundingBoxTopLeftHandCorner"), "Bounding Box Top Left Hand Corner")
        br = _pair(item.get("BoundingBoxBottomRightHandCorner"),
                   "Bounding Box Bottom Right Hand Corner")
        box_units = _units(item, "BoundingBoxAnnotationUnits", "Bounding Box Annotation Units")
        # C.10.5.1.1 lets TLHC lie right of or below BRHC (a box drawn on a flipped image).
        box = (min(tl[0], br[0]), min(tl[1], br[1]), max(tl[0], br[0]), max(tl[1], br[1]))
        if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
            raise _Skip("the bounding box has no area")
        word = str(item.get("BoundingBoxTextHorizontalJustification", "LEFT")).strip().upper()
        try:
            justification = Justification(word or "LEFT")
        except ValueError:
            problems.append(f"{where}: justification {word!r} unknown; LEFT used")
    anchor: Point | None = None
    anchor_units: AnnotationUnits | None = None
    visible = False
    if "AnchorPoint" in item:
        anchor = _pair(item.get("AnchorPoint"), "Anchor Point")
        anchor_units = _units(item, "AnchorPointAnnotationUnits", "Anchor Point Annotation Units")
        visible = str(item.get("AnchorPointVisibility", "N")).strip().upper() == "Y"
    if box is None and anchor is None:
        raise _Skip("neither a bounding box nor an anchor point")
    style = _items(item, "TextStyleSequence")
    colour = _cielab(style[0], "TextColorCIELabValue") if style else None
    return TextObject(text=text, layer=layer, bounding_box=box, bounding_box_units=box_units,
                      justification=justification, anchor=anchor, anchor_units=anchor_units,
                      anchor_visible=visible, colour=colour)


def _line_style(item: Dataset) -> LineStyle | None:
    styles = _items(item, "LineStyleSequence")
    if not styles:
        return None
    s = styles[0]
    thickness = s.get("LineThickness")
    pattern = s.get("LinePattern")
    return LineStyle(
        on_cielab=_cielab(s, "PatternOnColorCIELabValue"),
        on_opacity=_opacity(s.get("PatternOnOpacity"), 1.0),
        off_cielab=_cielab(s, "PatternOffColorCIELabValue"),
        off_opacity=_opacity(s.get("PatternOffOpacity"), 0.0),
        thickness=_positive(thickness, 1.0),
        dashed=str(s.get("LineDashingStyle", "SOLID")).strip().upper() == "DASHED",
        pattern=int(pattern) & 0xFFFFFFFF if isinstance(pattern, int) else 0xFFFFFFFF,
    )


def _fill_style(item: Dataset) -> FillStyle | None:
    styles = _items(item, "FillStyleSequence")
    if not styles:
        return None
    s = styles[0]
    pattern = s.get("FillPattern")
    pattern_bytes = bytes(pattern) if isinstance(pattern, bytes | bytearray) else b""
    stippled = (str(s.get("FillMode", "SOLID")).strip().upper() == "STIPPELED"
                and len(pattern_bytes) >= 128)
    return FillStyle(
        on_cielab=_cielab(s, "PatternOnColorCIELabValue"),
        on_opacity=_opacity(s.get("PatternOnOpacity"), 1.0),
        off_cielab=_cielab(s, "PatternOffColorCIELabValue"),
        off_opacity=_opacity(s.get("PatternOffOpacity"), 0.0),
        stippled=stippled,
        pattern=pattern_bytes[:128] if stippled else b"",
    )


# --- values --------------------------------------------------------------------------------------


def _text(item: Dataset, keyword: str, where: str, problems: list[str]) -> str:
    with pydicom_warnings() as messages:
        value = item.get(keyword)
        text = "" if value is None else str(value)
    problems.extend(warning_for(f"{where}: {keyword}", m) for m in messages)
    # ST keeps trailing spaces and may hold escapes pydicom left (ISO 2022 IR 58).
    return re.sub("\x1b[\x20-\x2f]{1,3}[\x30-\x7e]", "", text).rstrip(" \x00")


def _integer(value: object, name: str) -> int:
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        raise _Skip(f"{name} {value!r} is not a number") from None
    if not math.isfinite(number) or number != int(number):
        raise _Skip(f"{name} {value!r} is not a whole number")
    return int(number)


def _floats(value: object, name: str) -> list[float]:
    if value is None:
        raise _Skip(f"no {name}")
    values: Iterable[Any] = (value if isinstance(value, Sequence) and not isinstance(value, str)
                             else [value])
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise _Skip(f"{name} is not numeric") from None
    if not all(math.isfinite(v) for v in out):
        raise _Skip(f"{name} holds a value that is not a finite number")
    return out


def _pair(value: object, name: str) -> Point:
    numbers = _floats(value, name)
    if len(numbers) != 2:
        raise _Skip(f"{name} holds {len(numbers)} values, not column\\row")
    return numbers[0], numbers[1]


def _units(item: Dataset, keyword: str, name: str) -> AnnotationUnits:
    word = str(item.get(keyword, "")).strip().upper()
    try:
        return AnnotationUnits(word)
    except ValueError:
        shown = repr(word) if word else "missing"
        raise _Skip(f"{name} {shown} (PIXEL or DISPLAY are drawn)") from None


def _p_value(value: object) -> int:
    return min(max(_integer(value, "grey P-value"), 0), 0xFFFF)


def _cielab(item: Dataset, keyword: str) -> CIELab | None:
    value = item.get(keyword)
    if value is None:
        return None
    try:
        numbers = [int(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(numbers) != 3:
        return None
    clipped = [min(max(n, 0), 0xFFFF) for n in numbers]
    return clipped[0], clipped[1], clipped[2]


def _opacity(value: object, default: float) -> float:
    try:
        number = float(str(value)) if value is not None else default
    except ValueError:
        return default
    return min(max(number, 0.0), 1.0) if math.isfinite(number) else default


def _positive(value: object, default: float) -> float:
    try:
        number = float(str(value)) if value is not None else default
    except ValueError:
        return default
    return number if math.isfinite(number) and number > 0 else default


# --- colour --------------------------------------------------------------------------------------

# CIE XYZ (D50, the PCS white of PS3.3 C.10.7.1.1) to linear sRGB, Bradford-adapted to D65.
def cielab_to_grey(value: CIELab) -> int:
    """The 8-bit grey for a CIELab colour on a monochrome display: L* scaled to 0..255 (P-values
    are perceptually linear, as L* is)."""
    return int(round(value[0] * 255.0 / 0xFFFF))


def layer_grey(layer: GraphicLayer | None) -> int:
    """The 8-bit grey a layer is drawn in on grey output: its recommended grey P-value
    (P x 255 / 65535), else the lightness of its CIELab colour, else white (255)."""
    if layer is not None and layer.recommended_grey is not None:
        return int(round(layer.recommended_grey * 255 / 0xFFFF))
    if layer is not None and layer.recommended_cielab is not None:
        return cielab_to_grey(layer.recommended_cielab)
    return 255


def layer_rgb(layer: GraphicLayer | None) -> tuple[int, int, int]:
    """The 8-bit sRGB colour a layer is drawn in on colour output: its CIELab colour, else its
    grey, else white."""
    if layer is not None and layer.recommended_cielab is not None:
        return cielab_to_rgb(layer.recommended_cielab)
    grey = layer_grey(layer)
    return grey, grey, grey


# --- geometry shared by the raster and the GUI's vector items -------------------------------------


def outline(graphic: GraphicObject, max_step: float = 0.5) -> np.ndarray:
    """The graphic's path as (N, 2) float points (column, row) in its own units: the vertices
    of a POINT or POLYLINE, and INTERPOLATED curves, circles and ellipses sampled so that
    consecutive points are at most `max_step` apart. Closed shapes end on their first point.

    INTERPOLATED is a centripetal Catmull-Rom spline through every point (closed when the last
    point equals the first): smooth, and never overshooting between close points.
    """
    pts = np.asarray(graphic.points, dtype=np.float64)
    kind = graphic.graphic_type
    step = max(max_step, 1e-6)
    if kind is GraphicType.CIRCLE:
        radius = float(np.hypot(*(pts[1] - pts[0])))
        return _conic(pts[0], np.array([radius, 0.0]), np.array([0.0, radius]), step)
    if kind is GraphicType.ELLIPSE:
        centre = (pts[0] + pts[1]) / 2.0
        return _conic(centre, (pts[1] - pts[0]) / 2.0, (pts[3] - pts[2]) / 2.0, step)
    if kind is GraphicType.INTERPOLATED and len(pts) > 2:
        return _catmull_rom(pts, graphic.closed, step)
    return pts


def _conic(centre: np.ndarray, u: np.ndarray, v: np.ndarray, step: float) -> np.ndarray:
    """centre + u cos t + v sin t, t over a full turn, ending where it starts."""
    perimeter = 2.0 * math.pi * max(float(np.hypot(*u)), float(np.hypot(*v)))
    count = min(max(int(math.ceil(perimeter / step)), 8), 100_000)
    t = np.linspace(0.0, 2.0 * math.pi, count + 1)
    out = centre + np.outer(np.cos(t), u) + np.outer(np.sin(t), v)
    out[-1] = out[0]
    return out


def _catmull_rom(pts: np.ndarray, closed: bool, step: float) -> np.ndarray:
    """Every piece of the spline at once: piece k runs from point k to point k + 1, sampled
    so that consecutive samples are at most `step` apart."""
    if closed:
        core = pts[:-1]
        ext = np.vstack([core[-1:], core, core[:2]])
    else:
        ext = np.vstack([2 * pts[0] - pts[1], pts, 2 * pts[-1] - pts[-2]])
    quads = np.stack([ext[:-3], ext[1:-2], ext[2:-1], ext[3:]], axis=1)  # (pieces, 4, 2)
    gaps = np.hypot(*np.diff(quads, axis=1).transpose(2, 0, 1))  # (pieces, 3)
    quads, gaps = quads[gaps[:, 1] > 0.0], gaps[gaps[:, 1] > 0.0]
    if not len(quads):
        return pts[:1]
    # Centripetal knots (alpha 1/2); a repeated neighbour gets a tiny interval, not zero.
    lengths = np.sqrt(np.maximum(gaps, 1e-9))
    knots = np.column_stack([np.zeros(len(quads)), np.cumsum(lengths, axis=1)])
    # A piece is longer than its chord where it bends: 1.2x is enough for most curves drawn.
    count = np.clip(np.ceil(1.2 * gaps[:, 1] / step), 2, 100_000).astype(np.int64)
    samples = _catmull_rom_samples(quads, knots, count)
    ends = np.concatenate([[0], np.cumsum(count)])
    previous = np.concatenate([quads[:1, 1], samples[:-1]])
    previous[ends[:-1]] = quads[:, 1]  # each piece starts at its own first point
    spacing = np.maximum.reduceat(np.hypot(*(samples - previous).T), ends[:-1])
    if (spacing > step).any():  # longer than its chord where it bends: once more, finer
        count = np.minimum(np.ceil(count * np.maximum(spacing / step, 1.0) * 1.01),
                           100_000).astype(np.int64)
        samples = _catmull_rom_samples(quads, knots, count)
    out = np.vstack([quads[:1, 1], samples])
    out[-1] = quads[-1, 2]  # end exactly on the last point (the first, when closed)
    return out


def _catmull_rom_samples(quads: np.ndarray, knots: np.ndarray, count: np.ndarray) -> np.ndarray:
    """`count[k]` points of piece k between its second point (excluded) and its third
    (Barry-Goldman's pyramid), all pieces in one array."""
    owner = np.repeat(np.arange(len(quads)), count)
    ends = np.cumsum(count) - count
    fraction = (np.arange(int(count.sum())) - np.repeat(ends, count) + 1) / np.repeat(count, count)
    t0, t1, t2, t3 = (knots[owner, j][:, None] for j in range(4))
    p0, p1, p2, p3 = (quads[owner, j] for j in range(4))
    t = t1 + fraction[:, None] * (t2 - t1)
    a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
    a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
    a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
    b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
    b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
    result: np.ndarray = (t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2
    return result


def to_output(
    points: np.ndarray,
    units: AnnotationUnits,
    image_to_output: np.ndarray | Sequence[Sequence[float]],
    displayed_area: tuple[float, float, float, float],
) -> np.ndarray:
    """(N, 2) points in `units` -> (N, 2) output pixel coordinates (0,0 the top-left corner of
    the top-left output pixel). PIXEL points go through the 3x3 `image_to_output` (homogeneous);
    DISPLAY points are fractions of `displayed_area` (x0, y0, x1, y1), 0\\0 its top-left corner
    and 1\\1 its bottom-right corner (PS3.3 C.10.5.1.1)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if units is AnnotationUnits.DISPLAY:
        x0, y0, x1, y1 = (float(v) for v in displayed_area)
        return np.column_stack([x0 + pts[:, 0] * (x1 - x0), y0 + pts[:, 1] * (y1 - y0)])
    matrix = np.asarray(image_to_output, dtype=np.float64).reshape(3, 3)
    homogeneous = np.column_stack([pts, np.ones(len(pts))]) @ matrix.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return homogeneous[:, :2] / homogeneous[:, 2:3]


def output_scale(
    units: AnnotationUnits,
    image_to_output: np.ndarray | Sequence[Sequence[float]],
    displayed_area: tuple[float, float, float, float],
) -> float:
    """Output pixels per unit (the largest stretch), to sample curves finely enough."""
    if units is AnnotationUnits.DISPLAY:
        x0, y0, x1, y1 = displayed_area
        return max(abs(x1 - x0), abs(y1 - y0), 1e-9)
    matrix = np.asarray(image_to_output, dtype=np.float64).reshape(3, 3)
    # The Frobenius norm bounds the largest stretch from above: curves come out a little finer.
    return max(float(np.sqrt(np.sum(matrix[:2, :2] ** 2))), 1e-9)
