"""One MPR view: a plane of the volume (`MprState.plane`), resliced on a worker thread and shown
through the one display pipeline, with the linked crosshair and the 2D reading tools.

Rendering: each change asks for a `_Job`; one job per view is in flight at a time, and when it
ends only the latest request is run next (stale ones are dropped, the GUI thread never waits).
While the user drags, the job samples half resolution with nearest neighbour; when the drag
settles, full resolution, trilinear.

Coordinates: the picture item is placed so that view coordinates are millimetres in the plane
from its centre; a coarse picture (twice the pixel spacing) then lands exactly where the full one
does, and zoom and pan survive oblique planes whose pixel grid changes size. Crosshair lines,
measurements and reference lines are children of `frame`, an empty item in the full-resolution
plane's pixels, so they are in the same pixel coordinates as `Plane.slice_geometry` and the
measurement functions of the 2D viewport.

Mouse: left click or drag sets the crosshair point; left drag near a crosshair line (away from
the point) turns the other planes about this view's normal; right drag window/level, middle drag
pan, wheel one voxel step along the normal, Ctrl+wheel zoom; measurement tools as in the 2D
viewport.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import Future
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QVBoxLayout,
    QWidget,
)

from viewer.dicom import annotations as corner_text
from viewer.dicom import measure
from viewer.dicom.calibration import Calibration
from viewer.dicom.display import DisplayState
from viewer.dicom.frameinfo import FrameInfo
from viewer.dicom.geometry import EdgeLabels, oriented_edge_labels
from viewer.dicom.presets import CT_PRESETS
from viewer.dicom.stack import SliceGeometry
from viewer.dicom.suv_measure import suv_probe_text, suv_roi_stats
from viewer.gui.imageview import ImageView, Label, path_item
from viewer.gui.layers import PlaneLayer
from viewer.gui.measure_text import measurement_text, probe_text
from viewer.gui.measurements import Kind, Measurement, MeasurementStore, Point
from viewer.gui.mpr_state import Fusion, MprController
from viewer.gui.overlay import Overlay, OverlayContent, annotation_labels
from viewer.gui.overlay_layers import OverlayLayer
from viewer.gui.overlay_planes import OverlayStyle
from viewer.gui.viewport import MEASURE_PEN, REFERENCE_PEN, WHEEL_NOTCH, Tool
from viewer.gui.viewport_warnings import text_warnings
from viewer.volume.fusion import fuse, overlay_plane
from viewer.volume.model import Interpolation, Plane, Volume
from viewer.volume.navigation import VIEW_NAMES
from viewer.volume.overlay_plane import (
    OverlayOnPlane,
    PreparedOverlay,
    burn_plane_overlay,
    overlay_on_plane,
)
from viewer.volume.reslice import display_values, plane_frame_info, reslice

# Each plane's colour, as its crosshair line in the other views (Slicer's convention).
PLANE_COLOURS = (QColor(230, 70, 60), QColor(90, 200, 80), QColor(240, 210, 60))
GRAB_PX = 7.0  # how near (screen pixels) a press must be to a crosshair line to turn it
CENTRE_PX = 18.0  # presses this near the point move it rather than turn a line
CROSSHAIR_GAP_PX = 8.0  # screen pixels left open around the point


@dataclass(frozen=True)
class _Job:
    plane: Plane  # full resolution
    coarse: bool
    revision: int
    window: tuple[float, float] | None
    invert: bool = False
    fusion: Fusion | None = None
    fusion_key: tuple[object, ...] = ()
    overlays: tuple[PreparedOverlay, ...] = ()  # SEG / RTSTRUCT ready for this volume
    styles: tuple[OverlayStyle, ...] = ()  # each one's visibility and opacity


@dataclass(frozen=True, eq=False)
class Rendered:
    """What a job produced: the sampled plane (half resolution when coarse), its modality
    values, the FrameInfo the display pipeline used and the uint8 picture."""

    job: _Job
    plane: Plane
    values: np.ndarray
    info: FrameInfo
    picture: np.ndarray
    overlay_values: np.ndarray | None = None  # the fused volume's modality values (Bq/ml)
    placed: tuple[tuple[PreparedOverlay, OverlayOnPlane], ...] = ()  # SEG / RTSTRUCT on it


@functools.lru_cache(maxsize=16)
def _markers(orientation: tuple[float, ...]) -> EdgeLabels | None:
    """Cached: every repaint asks, and a plane turns only while the user drags it."""
    return oriented_edge_labels(orientation, 0, False, False)


def coarse_plane(plane: Plane) -> Plane:
    """The same rectangle at twice the pixel spacing (for dragging)."""
    return replace(plane, spacing=plane.spacing * 2, columns=max(1, (plane.columns + 1) // 2),
                   rows=max(1, (plane.rows + 1) // 2))


class _Cache:
    """The last values of one view (and of its fused volume), so that a window, colour map or
    opacity change does not reslice again."""

    key: tuple[object, ...] | None = None
    values: np.ndarray | None = None
    overlay_key: tuple[object, ...] | None = None
    overlay: np.ndarray | None = None
    placed: dict[tuple[Plane, int], tuple[PreparedOverlay, OverlayOnPlane]] | None = None


def _render(volume: Volume, job: _Job, cache: _Cache) -> Rendered:
    rendered = _render_picture(volume, job, cache)
    if not job.overlays:
        return rendered
    # SEG / RTSTRUCT cut on the very plane the picture was cut on and blended into it
    # (gui/overlay_planes.py says why); a window, fusion or style change finds the cuts here
    old = cache.placed or {}
    cache.placed = {}
    picture = rendered.picture
    for prepared, style in zip(job.overlays, job.styles, strict=True):
        key = (rendered.plane, id(prepared))
        found = old.get(key)
        if found is None or found[0] is not prepared:
            found = (prepared, overlay_on_plane(prepared, rendered.plane))
        cache.placed[key] = found
        # a coarse picture's contours are burnt in too: remaking their vector items for every
        # picture while dragging cost the GUI thread more than the rest of the overlay
        picture = burn_plane_overlay(picture, found[1], style.opacity, style.hidden,
                                     contours=job.coarse)
    return replace(rendered, picture=picture, placed=tuple(cache.placed.values()))


def _render_picture(volume: Volume, job: _Job, cache: _Cache) -> Rendered:
    plane = coarse_plane(job.plane) if job.coarse else job.plane
    interpolation = Interpolation.NEAREST if job.coarse else Interpolation.LINEAR
    key = (plane, interpolation, job.revision)
    if cache.key == key and cache.values is not None:
        values = cache.values
    else:
        values = reslice(volume, plane, interpolation)
        cache.key, cache.values = key, values
    info = plane_frame_info(volume, plane)
    picture = display_values(volume, plane, values,
                             DisplayState(window=job.window, invert=job.invert))
    fusion = job.fusion
    if fusion is None:
        return Rendered(job, plane, values, info, picture)
    overlay_key = (plane, interpolation, id(fusion.overlay), fusion.overlay.revision)
    if cache.overlay_key == overlay_key and cache.overlay is not None:
        overlay = cache.overlay
    else:
        overlay = overlay_plane(fusion.overlay, plane, False, interpolation)
        cache.overlay_key, cache.overlay = overlay_key, overlay
    factor = fusion.overlay.suv_factor if fusion.suv else None
    shown = overlay * np.float32(factor) if factor is not None else overlay
    picture = fuse(picture, shown, fusion.low, fusion.high, fusion.colormap, fusion.opacity)
    return Rendered(job, plane, values, info, picture, overlay)


class MprView(QWidget):
    """View `index` (0 axial, 1 coronal, 2 sagittal) of the controller's volume."""

    activated = Signal(object)
    frame_shown = Signal(object)  # a picture reached the screen (benchmarks, tests)
    maximise_requested = Signal(object)  # double-click: this view alone, and back
    _done = Signal(object, object)  # _Job, Future[Rendered]: from the worker thread

    def __init__(self, index: int, controller: MprController,
                 measurements: MeasurementStore) -> None:
        super().__init__()
        self.index = index
        self.name = VIEW_NAMES[index]
        self.controller = controller
        self.measurements = measurements
        self.tool = Tool.WINDOW
        self.active = False
        self.plane = controller.state.plane(index, controller.volume)
        self.rendered: Rendered | None = None
        self.error = ""
        self.reference_lines: list[tuple[Point, Point]] = []
        self._latest: _Job | None = None
        self._busy = False
        self._cache = _Cache()
        self._drag: tuple[str, QPointF, tuple[float, ...]] | None = None
        self._drawing: Measurement | None = None
        self._probe_text = ""
        self._items: list[QGraphicsItem] = []
        self._fitted = False
        self.layers: list[PlaneLayer] = []  # SR regions in 3D (gui/layers.py)

        self.view = ImageView()
        self.image = self.view.image
        self.frame = QGraphicsRectItem(self.view.camera)  # full-resolution plane pixels
        self.frame.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.overlay = Overlay(self.view)
        self.view.viewport().installEventFilter(self)
        self.view.viewport().setMouseTracking(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(64, 64)
        self._done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        controller.changed.connect(self.update_plane)
        measurements.listeners.append(self._on_measurements_changed)
        self.update_plane()

    # -- geometry ---------------------------------------------------------------------------
    @property
    def geometry_now(self) -> SliceGeometry:
        """The shown plane as the 2D tools see a frame (reference lines, measurements)."""
        return self.plane.slice_geometry(self.controller.volume.frame_of_reference_uid)

    @property
    def key(self) -> tuple[str, int]:
        """Measurements belong to the exact plane they were drawn on."""
        p = self.plane
        rounded = tuple(round(v, 3) for v in (*p.center, *p.orientation, p.spacing, p.slab))
        return (f"mpr:{self.controller.volume.series_uid}:{rounded}", p.columns * 100000 + p.rows)

    def zoom_factor(self) -> float:
        """Screen pixels per full-resolution image pixel."""
        return self.view.zoom() * self.plane.spacing

    def image_point(self, widget_pos: QPointF) -> Point:
        """Widget position -> full-resolution plane pixel (x = column, y = row, centres at
        integers)."""
        p = self.frame.mapFromScene(self.view.mapToScene(widget_pos.toPoint()))
        return float(p.x()) - 0.5, float(p.y()) - 0.5

    def widget_point(self, x: float, y: float) -> QPointF:
        """Full-resolution plane pixel -> widget position (inverse of `image_point`)."""
        scene = self.frame.mapToScene(QPointF(x + 0.5, y + 0.5))
        return QPointF(self.view.mapFromScene(scene))

    def patient_point(self, widget_pos: QPointF) -> np.ndarray:
        x, y = self.image_point(widget_pos)
        return self.plane.to_patient(y, x)

    @staticmethod
    def _placement(plane: Plane) -> QTransform:
        """Item pixels of `plane` -> millimetres from the plane's centre."""
        s = plane.spacing
        return QTransform(s, 0, 0, s, -plane.columns / 2 * s, -plane.rows / 2 * s)

    # -- rendering --------------------------------------------------------------------------
    def update_plane(self) -> None:
        """The state changed: the plane, the crosshair and a new picture."""
        c = self.controller
        plane = c.state.plane(self.index, c.volume)
        if plane != self.plane:
            self.plane = plane
            self._probe_text = ""
        self.frame.setTransform(self._placement(plane))
        fusion = c.fusion
        ready = [(prepared, layer.style()) for layer in self.layers
                 if isinstance(layer, OverlayLayer)
                 if (prepared := layer.prepared_for(c.volume)) is not None]
        job = _Job(plane, c.interacting, c.volume.revision, c.window(), c.state.invert, fusion,
                   fusion.key() if fusion is not None else (),
                   tuple(p for p, _ in ready), tuple(s for _, s in ready))
        # A point moved within this plane changes only its crosshair: no new picture.
        if job != self._latest:
            self._request(job)
        self._refresh()

    def _request(self, job: _Job) -> None:
        self._latest = job
        if not self._busy:
            self._submit(job)

    def _submit(self, job: _Job) -> None:
        self._busy = True
        future = self.controller.executor.submit(_render, self.controller.volume, job, self._cache)
        future.add_done_callback(partial(self._finished, job))

    def _finished(self, job: _Job, future: Future[Rendered]) -> None:
        # On the worker thread: only emit; the queued signal reaches the GUI thread.
        try:
            self._done.emit(job, future)
        except RuntimeError:  # the view was closed while this plane was being cut
            pass

    def _on_done(self, job: _Job, future: Future[Rendered]) -> None:
        self._busy = False
        if self._latest is not None and job is not self._latest:
            # Requests that came while this one ran are dropped but the latest: it runs next.
            # This picture is still newer than the one on screen, so it is shown meanwhile.
            self._submit(self._latest)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self.error = str(error) or type(error).__name__
            self._refresh()
            return
        self.error = ""
        self._show(future.result())

    @property
    def idle(self) -> bool:
        """The latest request is on screen."""
        return (not self._busy and not self.controller.pending and self.rendered is not None
                and self.rendered.job is self._latest)

    def _show(self, rendered: Rendered) -> None:
        self.rendered = rendered
        self.image.set_image(rendered.picture)
        self.image.setTransform(self._placement(rendered.plane))
        if not self._fitted:
            # Fitted once, then held in millimetres: an oblique plane's pixel grid changes size
            # as it turns, and the zoom must not jump with it.
            self.view.target = self.view.image_bounds()
            self.view.relayout()
            self._fitted = True
            self._refresh()
        elif not rendered.job.coarse:
            self._refresh()  # measurement labels and probe read full-resolution values
        self.frame_shown.emit(self)

    # -- overlay ----------------------------------------------------------------------------
    def _calibration(self) -> Calibration:
        return measure.calibration_of(self.geometry_now, plane_frame_info(
            self.controller.volume, self.plane))

    def _refresh(self) -> None:
        volume = self.controller.volume
        content = OverlayContent(active=self.active)
        info = self.rendered.info if self.rendered is not None else None
        position, total = self.controller.state.slice_position(self.index, volume)
        content.corners = corner_text.four_corners(
            volume.info, self.geometry_now, info, position, total, self.controller.window(),
            self.zoom_factor(), labels=annotation_labels())
        content.markers = _markers(self.plane.orientation)
        scale = self._calibration().scale
        if self.rendered is not None:
            content.scale_bar = corner_text.scale_bar(scale, self.zoom_factor(),
                                                      max(40.0, self.width() / 4))
        # how the volume was made from defective geometry (gaps filled, uneven spacing
        # resampled...) and text the character set could not decode: amber, top centre
        content.warnings = [*volume.warnings, *text_warnings(volume.info)]
        content.notes = [self._title(), *self.controller.load_errors(),
                         *(note for layer in self.layers if isinstance(layer, OverlayLayer)
                           for note in layer.plane_notes(volume))]
        content.probe = self._probe_text
        if self.error:
            content.problem = self.tr("Cannot reslice: %1").replace("%1", self.error)
        self.overlay.show_content(content)
        self._draw_items()

    def _title(self) -> str:
        titles = (self.tr("Axial"), self.tr("Coronal"), self.tr("Sagittal"))
        text = titles[self.index]
        if self.plane.slab > 0:
            text += f"  {self.plane.mode.value.upper()} {self.plane.slab:.1f} mm"
        if self.controller.loading():
            text += "  " + self.tr("(loading)")
        return text

    def _draw_items(self) -> None:
        scene = self.view.scene()
        for item in self._items:
            scene.removeItem(item)
        self._items = []
        if self.rendered is None:
            return
        for layer in self.layers:
            self._items.extend(layer.plane_items(self))
        for a, b in self.reference_lines:
            self._add_path([a, b], REFERENCE_PEN, dashed=True)
        point, lines = self.controller.state.crosshair(self.index, self.plane)
        reach = float(self.plane.columns + self.plane.rows)
        gap = CROSSHAIR_GAP_PX / max(self.zoom_factor(), 1e-6)  # the point itself stays visible
        for other, (dx, dy) in lines.items():
            for sign in (-1.0, 1.0):
                a = (point[0] + sign * gap * dx, point[1] + sign * gap * dy)
                b = (point[0] + sign * reach * dx, point[1] + sign * reach * dy)
                self._add_path([a, b], PLANE_COLOURS[other])
        shown = self.measurements.on(self.key)
        if self._drawing is not None:
            shown.append(self._drawing)
        for m in shown:
            self._draw_measurement(m)

    def redraw_layers(self) -> None:
        """A plane layer was added, removed or changed (an overlay became ready for this
        volume: a new job places it; visibility or opacity: only the items change)."""
        self.update_plane()

    def _draw_measurement(self, m: Measurement) -> None:
        outline = m.outline()
        self._add_path(outline, MEASURE_PEN)
        label = self.measurement_text(m)
        if label:
            text = Label(label, MEASURE_PEN, self.frame)
            x, y = m.points[-1]
            text.setPos(x + 0.5, y + 0.5)
            self._items.append(text)

    def measurement_text(self, m: Measurement) -> str:
        """The label of `m`, measured on the full-resolution values (none while coarse); an
        ROI on a PET with an SUVbw factor (the MPR's own series or the fused one) adds SUVmax
        and SUVmean."""
        r = self.rendered
        full = r is not None and r.plane == self.plane
        text = measurement_text(m, self._calibration(), r.values if full and r else None,
                                r.info if full and r else None, self.controller.volume.modality)
        pet = self._pet(r) if full and r is not None else None
        if pet is not None and m.complete and m.kind in (Kind.RECTANGLE, Kind.ELLIPSE):
            values, volume = pet
            if volume.suv_factor is not None:
                shape: measure.RoiShape = "ellipse" if m.kind is Kind.ELLIPSE else "rectangle"
                stats = suv_roi_stats(values, shape, m.points[0], m.points[-1],
                                      volume.suv_factor)
                if stats.text:
                    text += "\n" + stats.text
        return text

    def _pet(self, r: Rendered) -> tuple[np.ndarray, Volume] | None:
        """The PET values on this plane (Bq/ml) and their volume: the fused series', else the
        MPR's own when it is a PET; None otherwise."""
        fusion = self.controller.fusion
        if r.overlay_values is not None and fusion is not None:
            return r.overlay_values, fusion.overlay
        volume = self.controller.volume
        if volume.modality == "PT":
            return r.values, volume
        return None

    def _add_path(self, points: list[Point], colour: QColor, dashed: bool = False) -> None:
        self._items.append(path_item(points, colour, self.frame, dashed))

    def _on_measurements_changed(self, key: tuple[str, int]) -> None:
        if key == self.key:
            self._draw_items()

    def set_reference_lines(self, lines: list[tuple[Point, Point]]) -> None:
        if lines != self.reference_lines:
            self.reference_lines = lines
            self._draw_items()

    def set_active(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            self._refresh()

    # -- events -----------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if isinstance(event, QWheelEvent):
            self._wheel(event)
            return True
        if isinstance(event, QMouseEvent):
            return self._mouse(event)
        if event.type() == QEvent.Type.Resize:
            self.overlay.resize(self.view.size())
            self.view.relayout()
            self._refresh()
        return False

    def _wheel(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if not delta:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            scene = self.view.mapToScene(event.position().toPoint())
            self.view.scale_by(1.25 ** (-delta / WHEEL_NOTCH), self.view.camera.mapFromScene(scene))
            self._refresh()
            return
        self.controller.step(self.index, -delta / WHEEL_NOTCH)

    def _mouse(self, event: QMouseEvent) -> bool:
        kind, pos = event.type(), event.position()
        if kind == QEvent.Type.MouseButtonPress:
            self.setFocus()
            self.activated.emit(self)
            return self._press(event.button(), pos)
        if kind == QEvent.Type.MouseMove:
            return self._move(pos)
        if kind == QEvent.Type.MouseButtonRelease:
            return self._release(pos)
        if kind == QEvent.Type.MouseButtonDblClick:
            self.maximise_requested.emit(self)
            return True
        return False

    def grabbed_line(self, pos: QPointF) -> int | None:
        """The view whose crosshair line passes within GRAB_PX of `pos`, away from the point."""
        (px, py), lines = self.controller.state.crosshair(self.index, self.plane)
        centre = self.widget_point(px, py)
        if math.dist((pos.x(), pos.y()), (centre.x(), centre.y())) < CENTRE_PX:
            return None
        best: tuple[float, int] | None = None
        for other, (dx, dy) in lines.items():
            tip = self.widget_point(px + dx * 100, py + dy * 100)
            ux, uy = tip.x() - centre.x(), tip.y() - centre.y()
            norm = math.hypot(ux, uy) or 1.0
            distance = abs((pos.x() - centre.x()) * uy - (pos.y() - centre.y()) * ux) / norm
            if distance <= GRAB_PX and (best is None or distance < best[0]):
                best = (distance, other)
        return None if best is None else best[1]

    def _press(self, button: Qt.MouseButton, pos: QPointF) -> bool:
        if button == Qt.MouseButton.RightButton:
            window = self.controller.window()
            self._drag = ("window", pos, window) if window is not None else None
            return True
        if button == Qt.MouseButton.MiddleButton:
            self._drag = ("pan", pos, ())
            return True
        if button != Qt.MouseButton.LeftButton:
            return False
        kind = self.tool.measurement
        if kind is not None:
            point = self.image_point(pos)
            if self._drawing is not None and self._drawing.kind is Kind.ANGLE:
                self._drawing.points.append(point)
                self._finish_drawing()
            else:
                self._drawing = Measurement(kind, [point, point])
                self._draw_items()
            return True
        if self.tool is Tool.PROBE:
            self.probe(pos)
            return True
        if self.tool in (Tool.PAN, Tool.ZOOM):
            self._drag = (self.tool.value, pos, ())
            return True
        line = self.grabbed_line(pos)
        if line is not None:
            self._drag = ("rotate", pos, (float(line),))
            return True
        self._drag = ("point", pos, ())
        self.controller.set_state(self.controller.state.with_point(self.patient_point(pos)),
                                  interacting=True)
        return True

    def _move(self, pos: QPointF) -> bool:
        if self._drawing is not None:
            self._drawing.points[-1] = self.image_point(pos)
            self._draw_items()
            return True
        if self._drag is None:
            if self.tool is Tool.PROBE:
                self.probe(pos)
            return False
        what, start, values = self._drag
        dx, dy = pos.x() - start.x(), pos.y() - start.y()
        c = self.controller
        if what == "window":
            center, width = values
            rate = max(width, 10.0) / 200.0
            c.set_window(center + dy * rate, width + dx * rate, interacting=True)
        elif what == "point":
            c.set_state(c.state.with_point(self.patient_point(pos)), interacting=True)
        elif what == "rotate":
            angle = c.state.rotation_angle(self.index, self.plane, self.image_point(start),
                                           self.image_point(pos))
            c.set_state(c.state.rotated(self.index, angle), interacting=True)
            self._drag = ("rotate", pos, values)
        elif what == "zoom":
            self.view.scale_by(math.exp(dy / 200.0), self.view.view_rect().center())
            self._drag = ("zoom", pos, ())
            self._refresh()
        else:
            zoom = self.view.zoom()
            self.view.translate_by(-dx / zoom, -dy / zoom)
            self._drag = ("pan", pos, ())
            self._refresh()
        return True

    def _release(self, pos: QPointF) -> bool:
        if self._drawing is not None:
            self._drawing.points[-1] = self.image_point(pos)
            if self._drawing.kind is Kind.ANGLE and len(self._drawing.points) == 2:
                self._drawing.points.append(self._drawing.points[-1])
                self._draw_items()
                return True
            self._finish_drawing()
            return True
        if self._drag is not None:
            self._drag = None
            self.controller.end_interaction()
            return True
        return False

    def _finish_drawing(self) -> None:
        m, self._drawing = self._drawing, None
        if m is None:
            return
        if m.kind is Kind.ANGLE and len(m.points) > 3:
            m.points = m.points[:3]
        if math.dist(m.points[0], m.points[-1]) < 1.0 and m.kind is not Kind.ANGLE:
            self._draw_items()
            return
        self.measurements.add(self.key, m)

    def probe(self, pos: QPointF) -> None:
        """The modality value under `pos`, and for a PET (fused or not) its SUVbw, or why
        there is none."""
        r = self.rendered
        if r is None:
            return
        x, y = self.image_point(pos)
        scale = self.plane.spacing / r.plane.spacing  # 0.5 while coarse
        volume = self.controller.volume
        found = measure.probe(r.values, r.info, x * scale, y * scale, volume.modality)
        text = "" if found is None else probe_text(found)
        pet = self._pet(r)
        if pet is not None and found is not None:
            values, source = pet
            raw = float(values[found.row, found.column])
            text += "  " + suv_probe_text(raw, source.suv_factor, source.suv_reason)
        self._probe_text = text
        self._refresh()

    # -- the reading toolbar's commands, as the 2D viewport has them -----------------------
    @property
    def current_key(self) -> tuple[str, int]:
        return self.key

    def apply_preset(self, number: int) -> None:
        """1-9: the CT presets; 0: the volume's own window."""
        if 1 <= number <= len(CT_PRESETS):
            preset = CT_PRESETS[number - 1]
            self.controller.set_window(preset.center, preset.width)
        elif number == 0:
            self.controller.reset_window()

    def apply_file_window(self, _index: int) -> None:
        """A volume keeps one window, its first frame's."""
        self.controller.reset_window()

    def toggle_invert(self) -> None:
        self.controller.toggle_invert()

    def fit(self) -> None:
        self.view.target = self.view.image_bounds()
        self.view.relayout()
        self._refresh()

    def actual_pixels(self) -> None:
        """One plane pixel per screen pixel, about the centre of what is shown."""
        factor = self.zoom_factor()
        if factor > 0:
            self.view.scale_by(factor, self.view.view_rect().center())
            self._refresh()

    def rotate(self, quarter_turns: int) -> None:
        """The plane turned in itself (the picture turns clockwise on screen)."""
        c = self.controller
        c.set_state(c.state.turned(self.index, quarter_turns))

    def flip(self, horizontal: bool) -> None:
        c = self.controller
        c.set_state(c.state.flipped(self.index, horizontal))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Arrows and PageUp/PageDown step along the normal; 0-9 presets, I, F, A as in 2D."""
        key = Qt.Key(event.key())
        steps = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_Left: -1,
                 Qt.Key.Key_Right: 1, Qt.Key.Key_PageUp: -10, Qt.Key.Key_PageDown: 10}
        if key in steps:
            self.controller.step(self.index, steps[key])
        elif Qt.Key.Key_0.value <= key.value <= Qt.Key.Key_9.value and not event.modifiers():
            self.apply_preset(key.value - Qt.Key.Key_0.value)
        elif key == Qt.Key.Key_I:
            self.toggle_invert()
        elif key == Qt.Key.Key_F:
            self.fit()
        elif key == Qt.Key.Key_A:
            self.actual_pixels()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_measurement(QPointF(self.view.mapFromGlobal(self.cursor().pos())))
        elif key == Qt.Key.Key_Escape and self._drawing is not None:
            self._drawing = None
            self._draw_items()
        else:
            super().keyPressEvent(event)

    def delete_measurement(self, at: QPointF | None = None) -> bool:
        """Remove the measurement nearest `at` (widget position), else the last one drawn."""
        items = self.measurements.on(self.key)
        if not items:
            return False
        victim = items[-1]
        if at is not None:
            near = self.measurements.nearest(self.key, self.image_point(at),
                                             8 / max(self.zoom_factor(), 1e-6))
            victim = near or victim
        return self.measurements.remove(self.key, victim)

    def close_view(self) -> None:
        self.controller.changed.disconnect(self.update_plane)
        if self._on_measurements_changed in self.measurements.listeners:
            self.measurements.listeners.remove(self._on_measurements_changed)
