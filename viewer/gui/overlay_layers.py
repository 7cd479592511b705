"""Segmentations and RT Structure Sets over 2D viewports: one `OverlayLayer` per opened object.

The core places an overlay on one image frame (`overlay_raster.overlay_on_frame`: masks on the
image's pixel grid, resampled when the SEG lies on another grid; contours in pixel-centre
coordinates) from the image's header. That needs a file read and numpy work, so it runs on a
worker thread, never on the GUI thread, for the frame shown and its neighbours, and each
frame's result is cached (within a byte budget): scrolling back and forth draws from the
cache. What is drawn is vector and alpha layers, children of the viewport's image item:
- a segment as an RGBA image of its bounding box in the segment's recommended colour, alpha
  = the mask's value (a FRACTIONAL segment in proportion), the layer's opacity on the item;
- a contour as a polyline through the pixel centres its points fall on (never filled);
- an overlay that cannot be placed on the image (another Frame of Reference, another series
  without a common one) as a note in the viewport's corner, never drawn.
Visibility (per segment / ROI) and opacity change only the items: nothing is recomputed.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem
from shiboken6 import isValid

from viewer.decode.requests import FrameKey
from viewer.dicom.overlay_frame import OverlayMismatch
from viewer.dicom.overlay_raster import DEFAULT_OPACITY, Overlay, overlay_on_frame
from viewer.dicom.rtstruct import StructureSet
from viewer.dicom.segmentation import Segmentation
from viewer.gui.imageview import path_item
from viewer.gui.overlay_planes import ContourPaths, OverlayStyle, PlaneOverlay
from viewer.gui.viewport import Viewport

if TYPE_CHECKING:  # the volume room loads with the first MPR view, not with the window
    from viewer.gui.mpr_view import MprView
    from viewer.volume.model import Volume
    from viewer.volume.overlay_plane import PreparedOverlay

LOGGER = logging.getLogger(__name__)
# B, G, R, A bytes are ARGB32 words only on little-endian machines; big-endian ones get
# Qt's byte-ordered premultiplied RGBA (then the crops' channel order is R, G, B, A)
_PREMULTIPLIED = (QImage.Format.Format_ARGB32_Premultiplied if sys.byteorder == "little"
                  else QImage.Format.Format_RGBA8888_Premultiplied)

NEIGHBOURS = 4  # frames placed ahead on each side of the one shown
CACHE_BYTES = 192 << 20  # placed frames kept per overlay (RGBA crops of the segments)
HEADERS_KEPT = 2 * NEIGHBOURS + 1  # image headers kept per overlay (few: each is many objects)
PIXMAPS_KEPT = 64  # frames whose segment pixmaps stay made (GUI thread)
MASK = "segment"  # item data 0 of a segment's item (tests find them by it)
NOTE_CHARS = 60  # a refusal's reason in the viewport's corner is cut to this


@dataclass(frozen=True, eq=False)
class SegmentLayer:
    """One segment on one frame: a crop (`rgba`, rows x columns x 4, premultiplied B, G, R,
    alpha bytes) at `left`, `top` in image pixels (pixel (0, 0) covers [0, 1) x [0, 1))."""

    number: int
    rgba: np.ndarray
    left: int
    top: int


@dataclass(frozen=True, eq=False)
class ContourLine:
    """One contour on one frame: its ROI, points (x, y) with pixel centres at integers."""

    number: int
    color: tuple[int, int, int]
    points: tuple[tuple[float, float], ...]
    closed: bool
    marker: bool  # a POINT contour: a cross at each point


@dataclass(frozen=True, eq=False)
class PlacedFrame:
    """An overlay on one image frame, ready to draw; `refused` the one-line reason it is not
    drawn there (then nothing else is set)."""

    segments: tuple[SegmentLayer, ...] = ()
    contours: tuple[ContourLine, ...] = ()
    refused: str = ""

    @property
    def nbytes(self) -> int:
        return sum(s.rgba.nbytes for s in self.segments) + 64 * len(self.contours) + 64


@dataclass(frozen=True)
class Entry:
    """A segment or an ROI as the overlay panel lists it."""

    number: int
    name: str
    color: tuple[int, int, int]


def overlay_kind(overlay: Overlay) -> str:
    return "SEG" if isinstance(overlay, Segmentation) else "RTSTRUCT"


def overlay_entries(overlay: Overlay) -> list[Entry]:
    """The segments (by number) or ROIs (in file order) of `overlay`."""
    if isinstance(overlay, Segmentation):
        return [Entry(s.number, s.label or s.description or f"Segment {s.number}", s.color)
                for s in overlay.segments]
    return [Entry(r.number, r.name or f"ROI {r.number}", r.color) for r in overlay.rois]


def place_frame(overlay: Overlay, header: Dataset, frame: int) -> PlacedFrame:
    """`overlay` on frame `frame` (0-based) of the image of `header`, as layers to draw: each
    segment cropped to its bounding box (a liver on a 512x512 slice is a fraction of it)."""
    try:
        placed = overlay_on_frame(overlay, header, frame)
    except OverlayMismatch as exc:
        return PlacedFrame(refused=str(exc))
    except IndexError as exc:
        return PlacedFrame(refused=str(exc))
    segments = [layer for item in placed.masks
                if (layer := segment_layer(item.segment.number, item.mask, item.segment.color))
                is not None]
    contours = tuple(
        ContourLine(c.roi.number, c.roi.color, tuple((float(x), float(y)) for x, y in c.points),
                    c.closed, c.geometric_type == "POINT")
        for c in placed.contours)
    return PlacedFrame(tuple(segments), contours)


def segment_layer(number: int, mask: np.ndarray,
                  color: tuple[int, int, int]) -> SegmentLayer | None:
    """A mask (bool, or float 0..1) cropped to its bounding box as premultiplied colour
    (`SegmentLayer`); None when it is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = mask[top:bottom, left:right]
    if crop.dtype == np.bool_:
        alpha = crop.astype(np.float32)
    else:  # FRACTIONAL: the colour in proportion to the value
        alpha = np.clip(crop, 0.0, 1.0).astype(np.float32)
    # premultiplied BGRA (QImage's ARGB32_Premultiplied in memory on little-endian
    # machines): the raster engine blends it as it is, without a conversion per paint
    rgba = np.empty((*crop.shape, 4), dtype=np.uint8)
    red, green, blue = color
    order = (blue, green, red) if sys.byteorder == "little" else (red, green, blue)
    for channel, value in enumerate(order):
        rgba[..., channel] = np.rint(alpha * value).astype(np.uint8)
    rgba[..., 3] = np.rint(alpha * 255).astype(np.uint8)
    return SegmentLayer(number, rgba, int(left), int(top))


def mask_item(layer: SegmentLayer, picture: QPixmap, parent: QGraphicsItem) -> QGraphicsItem:
    """A segment's crop over the image, one image pixel per unit, unsmoothed (it covers
    exactly the segment's pixels). A C++ item: painting it never waits for Python (nor for
    the GIL, which the placing worker may hold)."""
    item = QGraphicsPixmapItem(picture, parent)
    item.setOffset(layer.left, layer.top)
    item.setTransformationMode(Qt.TransformationMode.FastTransformation)
    item.setData(0, MASK)
    return item


def pixmap_of(layer: SegmentLayer) -> QPixmap:
    rows, columns = layer.rgba.shape[:2]
    image = QImage(layer.rgba.data, columns, rows, columns * 4, _PREMULTIPLIED)
    return QPixmap.fromImage(image)  # a copy: the crop may go with its frame


class OverlayLayer(QObject):
    """One opened Segmentation or RT Structure Set, drawn by every viewport it can be placed
    on. `visible` (number -> shown) and `opacity` (segments) are the panel's; `changed` is
    emitted when they change."""

    changed = Signal()
    refused = Signal(str)  # the first full reason this overlay is not drawn somewhere
    _placed = Signal(object)  # a FrameKey whose PlacedFrame is in the cache (worker -> GUI)
    _plane_ready = Signal(str)  # prepared for a volume's planes, or why not (worker -> GUI)

    def __init__(self, overlay: Overlay, name: str, executor: Executor,
                 read_header: Callable[[Path], Dataset]) -> None:
        super().__init__()
        self.overlay = overlay
        self.name = name
        self.kind = overlay_kind(overlay)
        self.entries = overlay_entries(overlay)
        self.visible = {e.number: True for e in self.entries}
        self.opacity = DEFAULT_OPACITY
        self.viewports: list[Viewport] = []  # where to redraw when a frame is placed
        self._executor = executor
        self._read_header = read_header
        self._lock = threading.Lock()  # the cache and the wanted set, shared with the worker
        self._cache: OrderedDict[FrameKey, PlacedFrame] = OrderedDict()
        self._cached_bytes = 0
        self._headers: OrderedDict[str, Dataset] = OrderedDict()  # worker thread only
        self._wanted: set[FrameKey] = set()
        self._queued: set[FrameKey] = set()
        self._told = False  # `refused` is emitted once
        self._pixmaps: OrderedDict[FrameKey, tuple[PlacedFrame, list[QPixmap]]] = OrderedDict()
        self._placed.connect(self._on_placed)
        self.planes = PlaneOverlay(overlay, executor, self._plane_ready.emit)
        self._contour_paths = ContourPaths()
        self._plane_ready.connect(self._on_plane_ready)

    # -- the panel's settings -------------------------------------------------------------
    def set_visible(self, number: int, shown: bool) -> None:
        if self.visible.get(number) != shown:
            self.visible[number] = shown
            self.changed.emit()

    def set_opacity(self, opacity: float) -> None:
        opacity = min(max(opacity, 0.0), 1.0)
        if opacity != self.opacity:
            self.opacity = opacity
            self.changed.emit()

    # -- ViewportLayer ----------------------------------------------------------------------
    def items(self, viewport: Viewport) -> list[QGraphicsItem]:
        placed = self._for(viewport)
        if placed is None or placed.refused:
            return []
        parent = viewport.image
        out: list[QGraphicsItem] = []
        pictures = self._pixmaps_of(viewport.current_key, placed)
        for segment, picture in zip(placed.segments, pictures, strict=True):
            if self.visible.get(segment.number, True):
                item = mask_item(segment, picture, parent)
                item.setOpacity(self.opacity)
                out.append(item)
        for contour in placed.contours:
            if not self.visible.get(contour.number, True):
                continue
            colour = QColor(*contour.color)
            if contour.marker:
                for x, y in contour.points:
                    out.append(path_item([(x - 2, y), (x + 2, y)], colour, parent))
                    out.append(path_item([(x, y - 2), (x, y + 2)], colour, parent))
                continue
            points = list(contour.points)
            if contour.closed and len(points) > 2:
                points.append(points[0])
            out.append(path_item(points, colour, parent))
        return out

    def _pixmaps_of(self, key: FrameKey | None, placed: PlacedFrame) -> list[QPixmap]:
        """The segments' pixmaps of a placed frame, made once (on the GUI thread, as
        pixmaps must be) and kept for the frames last drawn."""
        found = self._pixmaps.get(key) if key is not None else None
        if found is None or found[0] is not placed:
            found = (placed, [pixmap_of(s) for s in placed.segments])
            if key is not None:
                self._pixmaps[key] = found
                while len(self._pixmaps) > PIXMAPS_KEPT:
                    self._pixmaps.popitem(last=False)
        elif key is not None:
            self._pixmaps.move_to_end(key)
        return found[1]

    def notes(self, viewport: Viewport) -> list[str]:
        placed = self.placed_now(viewport)
        if placed is None or not placed.refused:
            return []
        # the corner is narrow: the gist there, the full reason (with UIDs) in the status bar
        if "Frame of Reference" in placed.refused:
            why = self.tr("another Frame of Reference")
        else:
            why = placed.refused if len(placed.refused) <= NOTE_CHARS else (
                placed.refused[:NOTE_CHARS - 1] + "…")
        return [self.tr("%1 not shown: %2").replace("%1", self.name).replace("%2", why)]

    def placed_now(self, viewport: Viewport) -> PlacedFrame | None:
        """The viewport's current frame as placed, or None while it is being placed."""
        key = viewport.current_key
        if key is None:
            return None
        with self._lock:
            return self._cache.get(key)

    # -- PlaneLayer: the MPR views (overlay_planes.py) ----------------------------------------
    def prepared_for(self, volume: Volume) -> PreparedOverlay | None:
        """This overlay ready for `volume`'s planes, None while being prepared or refused."""
        return self.planes.prepared(volume)

    def style(self) -> OverlayStyle:
        """The panel's settings, as an MPR view's render job blends the overlay with them."""
        return OverlayStyle(frozenset(n for n, shown in self.visible.items() if not shown),
                            self.opacity)

    def plane_items(self, view: MprView) -> list[QGraphicsItem]:
        """Contours on a plane parallel to them, on a settled picture (the rest, and a coarse
        picture's contours, are blended into the picture by the render job)."""
        rendered = view.rendered
        if rendered is None or rendered.job.coarse:
            return []
        prepared = self.planes.prepared(view.controller.volume)
        for ready, on in rendered.placed:
            if ready is prepared:
                return self._contour_paths.items(on, view.image, self.visible)
        return []

    def plane_notes(self, volume: Volume) -> list[str]:
        reason = self.planes.refusal(volume)
        if not reason:
            return []
        why = self.tr("another Frame of Reference") if "Frame of Reference" in reason else (
            reason if len(reason) <= NOTE_CHARS else reason[:NOTE_CHARS - 1] + "…")
        return [self.tr("%1 not shown: %2").replace("%1", self.name).replace("%2", why)]

    def _on_plane_ready(self, reason: str) -> None:
        if reason and not self._told:
            self._told = True
            self.refused.emit(f"{self.name}: {reason}")
        self.changed.emit()

    # -- placing off the GUI thread -----------------------------------------------------------
    def _for(self, viewport: Viewport) -> PlacedFrame | None:
        key = viewport.current_key
        stack = viewport.stack
        if key is None or stack is None:
            return None
        # viewports closed by a layout change since they asked no longer want their frames
        self.viewports = [v for v in self.viewports if isValid(v)]
        if viewport not in self.viewports:
            self.viewports.append(viewport)
        around = [stack.frames[i] for i in _around(viewport.position, len(stack.frames))]
        with self._lock:
            placed = self._cache.get(key)
            if placed is not None:
                self._cache.move_to_end(key)
            # the frames around every viewport's current one stay wanted
            self._wanted = {k for v in self.viewports if v.stack is not None
                            and v.current_key is not None for k in _keys_around(v)}
            todo = [k for k in around if k not in self._cache and k not in self._queued]
            self._queued.update(todo)
        for k in todo:
            self._executor.submit(self._place, k)
        return placed

    def _place(self, key: FrameKey) -> None:
        """On the worker: place `key` unless the viewports have scrolled away from it."""
        with self._lock:
            wanted = key in self._wanted
            if not wanted:
                self._queued.discard(key)
        if not wanted:
            return
        path, frame = key
        try:
            header = self._headers.get(path)
            if header is None:
                header = self._read_header(Path(path))
                self._headers[path] = header
                while len(self._headers) > HEADERS_KEPT:
                    self._headers.popitem(last=False)
            placed = place_frame(self.overlay, header, frame)
        except Exception as exc:  # a damaged image header: refused there, named
            LOGGER.debug("placing %s on %s failed", self.name, path, exc_info=True)
            placed = PlacedFrame(refused=f"{Path(path).name}: {exc}")
        with self._lock:
            self._queued.discard(key)
            self._cache[key] = placed
            self._cached_bytes += placed.nbytes
            while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
                _, dropped = self._cache.popitem(last=False)
                self._cached_bytes -= dropped.nbytes
        self._placed.emit(key)

    def _on_placed(self, key: FrameKey) -> None:
        with self._lock:
            placed = self._cache.get(key)
        if placed is not None and placed.refused and not self._told:
            self._told = True
            self.refused.emit(f"{self.name}: {placed.refused}")
        for viewport in list(self.viewports):
            if viewport.current_key != key:
                continue
            try:
                viewport.redraw_layers()
            except RuntimeError:  # closed by a layout change since it asked
                self.viewports.remove(viewport)


def _around(position: int, count: int) -> list[int]:
    order = [position]
    for step in range(1, NEIGHBOURS + 1):
        order += [position + step, position - step]
    return [i for i in order if 0 <= i < count]


def _keys_around(viewport: Viewport) -> list[FrameKey]:
    stack = viewport.stack
    if stack is None:
        return []
    return [stack.frames[i] for i in _around(viewport.position, len(stack.frames))]


def structure_set_problems(overlay: Overlay) -> tuple[str, ...]:
    """The contours an RT Structure Set leaves out, and why (shown by the panel)."""
    return overlay.problems if isinstance(overlay, StructureSet) else ()
