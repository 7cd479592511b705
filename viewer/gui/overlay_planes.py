"""Segmentations and RT Structure Sets on the MPR views' planes (viewer.volume.overlay_plane).

Each opened overlay (`OverlayLayer`) is drawn by the 2D viewports and, through this module, by
the MPR views, with the same overlay panel settings (segment and ROI visibility, opacity):
- once per volume, on the overlays' worker thread: `prepare_overlay` checks the Frame of
  Reference (a refusal is kept and shown as a note in every MPR view and once in the status
  bar: never drawn in the wrong place) and builds the overlay's grid volumes;
- per plane, in the MPR view's own render job (mpr_view._render), right after the picture:
  `place_plane` cuts the prepared overlay on the very plane the picture was cut on (coarse
  while dragging, as the picture), so a stale plane is dropped with its picture and the
  overlay is never out of step with the image under it. The masks are cropped to premultiplied
  colour there, off the GUI thread;
- on the GUI thread, items only: the crops' pixmaps are made once per placed plane.
Items are children of the view's picture item, in the pixels of the plane it shows (0,0 the
top left pixel's corner): segments as alpha layers at the panel's opacity, outlines of ROIs
cut by the plane as opaque one-pixel layers in their ROI Display Color, contours on planes
parallel to them as polylines through their exact points.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QGraphicsItem

from viewer.dicom.overlay_frame import OverlayMismatch
from viewer.dicom.overlay_raster import Overlay
from viewer.gui.imageview import path_item
from viewer.volume.model import Plane, Volume
from viewer.volume.overlay_grid import OverlayGridError
from viewer.volume.overlay_plane import PreparedOverlay, overlay_on_plane, prepare_overlay

if TYPE_CHECKING:
    from viewer.gui.overlay_layers import ContourLine, SegmentLayer

LOGGER = logging.getLogger(__name__)
PIXMAPS_KEPT = 6  # placed planes whose pixmaps stay made (three views, and the one before)


@dataclass(frozen=True, eq=False)
class PlacedPlane:
    """An overlay on one plane, ready to draw (pixel coordinates of `plane`)."""

    plane: Plane
    segments: tuple[SegmentLayer, ...]
    outlines: tuple[SegmentLayer, ...]
    contours: tuple[ContourLine, ...]


def place_plane(prepared: PreparedOverlay, plane: Plane) -> PlacedPlane:
    """`prepared` on `plane` as crops and lines (any thread)."""
    from viewer.gui.overlay_layers import ContourLine, segment_layer  # noqa: PLC0415 - a cycle

    on = overlay_on_plane(prepared, plane)
    segments = tuple(layer for m in on.masks
                     if (layer := segment_layer(m.segment.number, m.mask, m.segment.color)))
    outlines = tuple(layer for o in on.outlines
                     if (layer := segment_layer(o.roi.number, o.mask, o.roi.color)))
    contours = tuple(
        ContourLine(c.roi.number, c.roi.color, tuple((float(x), float(y)) for x, y in c.points),
                    c.closed, c.geometric_type == "POINT")
        for c in on.contours)
    return PlacedPlane(plane, segments, outlines, contours)


class PlaneOverlay:
    """One overlay's MPR side: its preparation per volume and its items on a view's plane.
    `ready` is called (on the worker thread) when a preparation ends, either way."""

    def __init__(self, overlay: Overlay, executor: Executor, ready: Callable[[str], None]) -> None:
        self.overlay = overlay
        self._executor = executor
        self._ready = ready
        self._lock = threading.Lock()
        # volume -> its PreparedOverlay, or the one-line refusal; dropped with the volume
        self._done: weakref.WeakKeyDictionary[Volume, PreparedOverlay | str] = (
            weakref.WeakKeyDictionary())
        self._pending: weakref.WeakSet[Volume] = weakref.WeakSet()
        self._pixmaps: dict[int, tuple[PlacedPlane, list[QPixmap], list[QPixmap]]] = {}

    def prepared(self, volume: Volume) -> PreparedOverlay | None:
        """The overlay ready for `volume`'s planes; None while it is being prepared (started
        here on first asking) or when it is refused (`refusal`)."""
        with self._lock:
            found = self._done.get(volume)
            if found is None and volume not in self._pending:
                self._pending.add(volume)
                self._executor.submit(self._prepare, volume)
        return found if isinstance(found, PreparedOverlay) else None

    def refusal(self, volume: Volume) -> str:
        with self._lock:
            found = self._done.get(volume)
        return found if isinstance(found, str) else ""

    def _prepare(self, volume: Volume) -> None:
        result: PreparedOverlay | str
        try:
            result = prepare_overlay(self.overlay, volume)
        except (OverlayMismatch, OverlayGridError) as exc:
            result = str(exc)
        except Exception as exc:  # numpy on a damaged overlay: refused there, named
            LOGGER.debug("preparing an overlay for the MPR failed", exc_info=True)
            result = f"cannot be placed in the volume: {exc}"
        with self._lock:
            self._done[volume] = result
            self._pending.discard(volume)
        self._ready(result if isinstance(result, str) else "")

    def items(self, placed: PlacedPlane, parent: QGraphicsItem, visible: dict[int, bool],
              opacity: float) -> list[QGraphicsItem]:
        """Items of `placed` over `parent` (the view's picture, in `placed.plane`'s pixels)."""
        from viewer.gui.overlay_layers import mask_item, pixmap_of  # noqa: PLC0415 - a cycle

        made = self._pixmaps.get(id(placed))
        if made is None or made[0] is not placed:
            made = (placed, [pixmap_of(s) for s in placed.segments],
                    [pixmap_of(s) for s in placed.outlines])
            self._pixmaps[id(placed)] = made
            while len(self._pixmaps) > PIXMAPS_KEPT:
                del self._pixmaps[next(iter(self._pixmaps))]
        out: list[QGraphicsItem] = []
        for segment, picture in zip(placed.segments, made[1], strict=True):
            if visible.get(segment.number, True):
                item = mask_item(segment, picture, parent)
                item.setOpacity(opacity)
                out.append(item)
        for outline, picture in zip(placed.outlines, made[2], strict=True):
            if visible.get(outline.number, True):  # outlined, never faded: as on 2D frames
                out.append(mask_item(outline, picture, parent))
        for contour in placed.contours:
            if not visible.get(contour.number, True):
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
