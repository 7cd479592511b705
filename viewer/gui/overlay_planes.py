"""Segmentations and RT Structure Sets on the MPR views' planes (viewer.volume.overlay_plane).

Each opened overlay (`OverlayLayer`) is drawn by the 2D viewports and, through this module, by
the MPR views, with the same overlay panel settings (segment and ROI visibility, opacity):
- once per volume, on the overlays' worker thread: `prepare_overlay` checks the Frame of
  Reference (a refusal is kept and shown as a note in every MPR view and once in the status
  bar: never drawn in the wrong place) and builds the overlay's grid volumes;
- per plane, in the MPR view's own render job (mpr_view._render), right after the picture:
  the prepared overlay is cut on the very plane the picture was cut on (coarse while
  dragging, as the picture) and its segments and outlines are blended into the picture there,
  off the GUI thread, with the panel's visibility and opacity (`OverlayStyle`, part of the
  job: a change re-blends the kept cut, nothing is resliced). A stale plane is dropped with
  its picture, and the overlay is never out of step with the image under it.
  Why blended rather than drawn as items like the 2D viewports' layers: three views of a
  SEG and an RTSTRUCT of 13 segments and ROIs made 39 alpha pixmaps per picture for the GUI
  thread to convert and paint. Measured with `benchmark_mpr.drag_stalls` on a 512x512x300 CT
  (3 passes each, alternating, load ~3 on 2 cores), longest event-loop stall per drag phase:
  no overlay 17-29 ms; as items 48-120 ms; blended here 25-55 ms;
- on the GUI thread, only the contours of a settled plane parallel to them: polylines through
  their exact points (children of the view's picture item, in its pixels), sharp at any zoom;
  while dragging they are burnt into the coarse picture too.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from viewer.dicom.overlay_frame import OverlayMismatch
from viewer.dicom.overlay_raster import Overlay

if TYPE_CHECKING:  # the volume room loads with the first MPR view, not with the window
    from viewer.dicom.rtstruct import StructureContour
    from viewer.volume.model import Volume
    from viewer.volume.overlay_plane import OverlayOnPlane, PreparedOverlay

LOGGER = logging.getLogger(__name__)
PATHS_KEPT = 8  # placed planes whose contour paths stay made (three views, and a few before)


@dataclass(frozen=True)
class OverlayStyle:
    """What the overlay panel says of one overlay: the entries hidden and the segments'
    opacity."""

    hidden: frozenset[int]
    opacity: float


class PlaneOverlay:
    """One overlay's MPR side: its preparation per volume. `ready` is called (on the worker
    thread) with "" or the refusal when a preparation ends."""

    def __init__(self, overlay: Overlay, executor: Executor, ready: Callable[[str], None]) -> None:
        self.overlay = overlay
        self._executor = executor
        self._ready = ready
        self._lock = threading.Lock()
        # volume -> its PreparedOverlay, or the one-line refusal; dropped with the volume
        self._done: weakref.WeakKeyDictionary[Volume, PreparedOverlay | str] = (
            weakref.WeakKeyDictionary())
        self._pending: weakref.WeakSet[Volume] = weakref.WeakSet()

    def prepared(self, volume: Volume) -> PreparedOverlay | None:
        """The overlay ready for `volume`'s planes; None while it is being prepared (started
        here on first asking) or when it is refused (`refusal`)."""
        with self._lock:
            found = self._done.get(volume)
            if found is None and volume not in self._pending:
                self._pending.add(volume)
                self._executor.submit(self._prepare, volume)
        return None if found is None or isinstance(found, str) else found

    def refusal(self, volume: Volume) -> str:
        with self._lock:
            found = self._done.get(volume)
        return found if isinstance(found, str) else ""

    def _prepare(self, volume: Volume) -> None:
        from viewer.volume.overlay_grid import OverlayGridError  # noqa: PLC0415 - see above
        from viewer.volume.overlay_plane import prepare_overlay  # noqa: PLC0415

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


class ContourPaths:
    """The contours and point markers of the planes last shown, as painter paths made once
    (GUI thread): a view redraws its items on every crosshair move, and remaking ten ROIs'
    polylines each time was most of an MPR view's redraw (py-spy: 12 % of the GUI thread
    while dragging)."""

    def __init__(self) -> None:
        self._made: dict[int, tuple[OverlayOnPlane, list[tuple[int, QColor, QPainterPath]]]] = {}

    def items(self, on: OverlayOnPlane, parent: QGraphicsItem,
              visible: dict[int, bool]) -> list[QGraphicsItem]:
        """Items over `parent` (the view's picture, in the pixels of the plane `on` was placed
        on): polylines through the points (pixel centres at integers), a cross per point."""
        made = self._made.get(id(on))
        if made is None or made[0] is not on:
            made = (on, [(c.roi.number, QColor(*c.roi.color), _path(c)) for c in on.contours])
            self._made[id(on)] = made
            while len(self._made) > PATHS_KEPT:
                del self._made[next(iter(self._made))]
        out: list[QGraphicsItem] = []
        for number, colour, path in made[1]:
            if visible.get(number, True):
                item = QGraphicsPathItem(path, parent)
                pen = QPen(colour)
                pen.setCosmetic(True)
                pen.setWidthF(1.5)
                item.setPen(pen)
                out.append(item)
        return out


def _path(contour: StructureContour) -> QPainterPath:
    path = QPainterPath()
    points = [QPointF(float(x) + 0.5, float(y) + 0.5) for x, y in contour.points]  # centres
    if contour.geometric_type == "POINT":
        for p in points:
            path.moveTo(p.x() - 2, p.y())
            path.lineTo(p.x() + 2, p.y())
            path.moveTo(p.x(), p.y() - 2)
            path.lineTo(p.x(), p.y() + 2)
        return path
    if contour.closed and len(points) > 2:
        points.append(points[0])
    path.addPolygon(QPolygonF(points))
    return path
