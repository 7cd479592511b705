"""One viewport: a stack of frames through the display pipeline, with the reading tools.

Why plain Qt (QGraphicsView, `imageview.py`) and not pyqtgraph: the memory target of a
1,000-slice CT (the process tree within 1.3x the raw volume). Importing pyqtgraph after
PySide6.QtWidgets added ~35 MiB RSS (26 MiB private dirty) to the GUI process: all 145 of its
modules and QtOpenGL, for one image, a few lines and labels; without it `bench gui` measures
the GUI process at 95 MiB PSS instead of 114-120. What it gave us is kept: the uint8
picture is shown through a QImage wrapping the array without a copy (the fastest path we measured
for scrolling), zoom and pan are a target rectangle fitted with the aspect locked, and items
parented to the image (measurements, reference lines) follow rotation, flip and zoom by
construction, in image pixel coordinates, with cosmetic pens and labels that ignore the
transformations. Text that must stay upright and unscaled (annotations, markers, scale bar) is
painted by `overlay.Overlay` in screen space.

Mouse: wheel scrolls, Ctrl+wheel zooms about the cursor, right-drag is window/level, middle-drag
pans, left-drag does the active tool, double-click maximises. Keys: arrows and PageUp/PageDown
scroll, Home/End jump, 1-9 CT presets, 0 the file's window, I invert, F fit, A 1:1 pixels,
Delete removes the measurement under the cursor (or the last one on the image).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from viewer.decode.requests import Frame, FrameKey, FrameRequest
from viewer.dicom import annotations as corner_text
from viewer.dicom import measure
from viewer.dicom.calibration import Calibration
from viewer.dicom.display import DisplayState, choose_voi, to_display
from viewer.dicom.frameinfo import FrameInfo, Window
from viewer.dicom.presets import CT_PRESETS
from viewer.dicom.stack import SliceGeometry, Stack
from viewer.gui import viewport_keys
from viewer.gui.bridge import URGENT_BELOW, FrameBridge
from viewer.gui.imageview import ImageView, Label, path_item
from viewer.gui.layers import ViewportLayer
from viewer.gui.measure_text import calibration_note, measurement_text, probe_text
from viewer.gui.measurements import Kind, Measurement, MeasurementStore, Point
from viewer.gui.mime import dropped_series
from viewer.gui.overlay import Overlay, OverlayContent, annotation_labels, orientation_markers
from viewer.gui.viewport_warnings import StackWarnings, frame_warnings

if TYPE_CHECKING:
    from viewer.gui.presentation_layer import PresentationLayer

WHEEL_NOTCH = 120  # angleDelta of one wheel notch (Qt: eighths of a degree)
PREFETCH = 8  # neighbours requested on each side of the visible frame, before the rest
BACKGROUND_PRIORITY = URGENT_BELOW  # the rest of the series loads behind every visible request
MEASURE_PEN = QColor(255, 220, 0)
REFERENCE_PEN = QColor(60, 200, 255)


class Tool(enum.Enum):
    WINDOW = "window"
    PAN = "pan"
    ZOOM = "zoom"
    PROBE = "probe"
    LENGTH = "length"
    ANGLE = "angle"
    RECTANGLE = "rectangle"
    ELLIPSE = "ellipse"
    SHUTTER = "shutter"  # a rectangle outside which the image is hidden (presentation_layer)

    @property
    def measurement(self) -> Kind | None:
        return {Tool.LENGTH: Kind.LENGTH, Tool.ANGLE: Kind.ANGLE,
                Tool.RECTANGLE: Kind.RECTANGLE, Tool.ELLIPSE: Kind.ELLIPSE,
                Tool.SHUTTER: Kind.SHUTTER}.get(self)


class Viewport(QWidget):
    """Shows one Stack. The reading area owns the layout, sync and the shared tool."""

    position_changed = Signal(object)  # this viewport, after its frame index changed
    activated = Signal(object)  # clicked or focused: becomes the active viewport
    series_dropped = Signal(object, str, str)  # this viewport, study UID, series UID
    maximise_requested = Signal(object)
    frame_shown = Signal(object)  # a decoded frame reached the screen (for benchmarks, tests)
    view_changed = Signal(object, str)  # this viewport, "window" or "zoom" (zoom and pan)

    def __init__(self, bridge: FrameBridge, measurements: MeasurementStore) -> None:
        super().__init__()
        self.bridge = bridge
        self.measurements = measurements
        self.stack: Stack | None = None
        self.position = 0
        self.state = DisplayState()
        self.frame: Frame | None = None
        self.error = ""
        self.tool = Tool.WINDOW
        self.quarter_turns = 0
        self.flip_h = False
        self.flip_v = False
        self.active = False
        self.reference_lines: list[tuple[Point, Point]] = []
        self._fit = True
        self._last_window: tuple[float, float] | None = None
        self._first_pending = True  # no frame of this stack shown yet
        self._wheel_rest = 0  # wheel movement short of a notch, kept for the next event
        self._visible: dict[FrameKey, Future[Frame]] = {}
        # The background load's futures not delivered yet, to cancel them; a delivered one is
        # dropped at once: its result would keep the frame (and its shared memory) alive past
        # the cache's budget.
        self._background: dict[FrameKey, Future[Frame]] = {}
        self._background_requested = False
        self._drag: tuple[str, QPointF, tuple[float, ...]] | None = None
        self._drawing: Measurement | None = None
        self._probe_text = ""
        self._stack_warnings = StackWarnings()
        self._items: list[QGraphicsItem] = []
        self._layer_items = 0  # how many of _items the layers drew (first)
        # Lines added to the corner text for the shown frame (key image flag...), set by the
        # reading area: each gives "" when it has nothing to say about that frame.
        self.frame_notes: list[Callable[[FrameKey], str]] = []
        # SR regions, SEG and RTSTRUCT overlays (gui/layers.py): the reading area's list
        self.layers: list[ViewportLayer] = []
        self.presentation: PresentationLayer | None = None  # attached by presentation_layer

        self.view = ImageView()
        self.image = self.view.image  # .image: the uint8 picture on screen (None: empty)
        self.overlay = Overlay(self.view)
        self.view.viewport().installEventFilter(self)
        self.view.viewport().setMouseTracking(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.setMinimumSize(64, 64)
        # Queued even within the GUI thread: a cache hit completes its future during
        # submit, and a direct call would re-enter the viewport in the middle of a request.
        queued = Qt.ConnectionType.QueuedConnection
        bridge.frame_ready.connect(self._on_frame, queued)
        bridge.frame_failed.connect(self._on_failed, queued)
        measurements.listeners.append(self._on_measurements_changed)

    # -- what is shown ----------------------------------------------------------------------
    def set_stack(self, stack: Stack | None, position: int | None = None) -> None:
        """Show `stack` (None: empty), from `position` (default: the first frame)."""
        self._cancel_all()
        self.stack = stack
        self.frame, self.error, self._probe_text = None, "", ""
        self.state = DisplayState()
        self._last_window = None
        self._first_pending = True
        self.quarter_turns, self.flip_h, self.flip_v, self._fit = 0, False, False, True
        self.image.clear()
        if self.presentation is not None:
            self.presentation.clear()
        count = len(stack.frames) if stack else 0
        self.position = 0 if position is None else int(np.clip(position, 0, max(count - 1, 0)))
        self._apply_transform()
        self._request_visible()
        self._refresh()

    def complete_stack(self, full: Stack) -> None:
        """Replace a one-frame head (Stack.expected_frames) by the whole series, in place."""
        # The head may be any frame of the series (a DICOMweb study's first instance listed):
        # it stays on screen, at its place in the series.
        shown = self.current_key
        at = full.frames.index(shown) if shown is not None and shown in full.frames else None
        if at is None:
            self.set_stack(full)  # not the head of this series: show it from the start
            return
        self.stack = full
        self.position = at
        if not self._first_pending:  # the first image is there: neighbours, then the rest
            self._request_visible()
            self._request_background()
        self._refresh()

    @property
    def frame_count(self) -> int:
        return len(self.stack.frames) if self.stack else 0

    @property
    def current_key(self) -> FrameKey | None:
        if not self.stack or not self.stack.frames:
            return None
        return self.stack.frames[self.position]

    @property
    def geometry_now(self) -> SliceGeometry | None:
        return self.stack.geometry_of(self.position) if self.stack else None

    @property
    def loaded(self) -> bool:
        """The visible frame is on screen, or its failure is shown."""
        return self.current_key is None or self.frame is not None or bool(self.error)

    def zoom_factor(self) -> float:
        """Screen pixels per image pixel (along the image's columns)."""
        return self.view.zoom()

    def view_rect(self) -> QRectF:
        """What the viewport shows, in view coordinates: image pixels after the image's
        transform (`self.image.transform()`: aspect, rotation, flip)."""
        return self.view.view_rect()

    # -- frames -----------------------------------------------------------------------------
    def _request_visible(self) -> None:
        if not self.stack or not self.stack.frames:
            return
        count = len(self.stack.frames)
        order = [self.position]
        # The first image of a series goes alone: neighbours decoded at the same time would
        # compete with it for the CPU (two cores here) and delay what the reader waits for.
        for step in range(1, 0 if self._first_pending else PREFETCH + 1):
            order += [self.position + step, self.position - step]
        wanted = [self.stack.frames[i] for i in order if 0 <= i < count]
        for key in [k for k in self._visible if k not in wanted]:
            self._visible.pop(key).cancel()
        cache = self.bridge.pool.cache
        requests = [
            FrameRequest(path, index, priority=rank)
            for rank, (path, index) in enumerate(wanted)
            if (path, index) not in self._visible
            # A cached frame needs no request: set_position shows it at once, and scrolling
            # a loaded series then asks the pool for nothing.
            and (cache is None or cache.get(path, index) is None or self.frame is None)
        ]
        for request, future in zip(requests, self.bridge.request(requests), strict=True):
            self._visible[request.key] = future

    def _request_background(self) -> None:
        """After the first image: the whole series, nearest frames first, behind the visible."""
        if (self._background_requested or not self.stack
                or len(self.stack.frames) <= 2 * PREFETCH + 1):
            return
        count = len(self.stack.frames)
        order = sorted(range(count), key=lambda i: abs(i - self.position))
        requests = [
            FrameRequest(*self.stack.frames[i], priority=BACKGROUND_PRIORITY + rank)
            for rank, i in enumerate(order)
            if self.stack.frames[i] not in self._visible
        ]
        self._background_requested = True
        futures = self.bridge.request(requests)
        self._background = {
            r.key: f for r, f in zip(requests, futures, strict=True) if not f.done()
        }

    def _cancel_all(self) -> None:
        for future in (*self._visible.values(), *self._background.values()):
            future.cancel()
        self._visible.clear()
        self._background = {}
        self._background_requested = False

    def _on_frame(self, request: FrameRequest, frame: Frame) -> None:
        self._background.pop(request.key, None)
        self._visible.pop(request.key, None)  # delivered: asked again if needed again
        shown = self.frame is not None and self.frame.key == request.key
        if request.key == self.current_key and not shown:
            self.frame, self.error = frame, ""
            self._show()
            self._after_first()

    def _after_first(self) -> None:
        """The first image is on screen (or failed): now its neighbours, then the rest."""
        if self._first_pending:
            self._first_pending = False
            self._request_visible()
        self._request_background()

    def _on_failed(self, request: FrameRequest, reason: str) -> None:
        self._background.pop(request.key, None)
        # A neighbour that failed before the reader scrolled to it is asked again then, so
        # that its failure is shown in place (a done future would never be delivered again).
        self._visible.pop(request.key, None)
        if request.key == self.current_key:
            self.frame, self.error = None, reason
            self.image.clear()
            self._refresh()
            self._after_first()

    def display_info(self) -> FrameInfo | None:
        """How the current frame is shown: its own FrameInfo, or a presentation state's."""
        if self.frame is None:
            return None
        return self.presentation.frame_info(self.frame) if self.presentation else self.frame.info

    def redisplay(self) -> None:
        """Render the current frame again (after a change of window or presentation state)."""
        self._show()

    def _show(self) -> None:
        info = self.display_info()
        if self.frame is None or info is None:
            return
        picture = to_display(self.frame.array, info, self.state)
        first = self.image.image is None
        self.image.set_image(picture)  # wrapped as a Grayscale8/RGB888 QImage, not copied
        if first or self._fit:
            self._apply_transform()
        if self.presentation is not None:
            self.presentation.shown()
        self._refresh()
        self.frame_shown.emit(self)

    # -- view transform -----------------------------------------------------------------------
    def _aspect(self) -> float:
        """Row spacing / column spacing: non-square pixels are shown in true proportion."""
        g = self.geometry_now
        spacing = g.pixel_spacing if g is not None else None
        if not spacing and self.frame is not None:
            spacing = self.frame.info.pixel_spacing or self.frame.info.imager_pixel_spacing
        if spacing and spacing[0] > 0 and spacing[1] > 0:
            return float(spacing[0] / spacing[1])
        return 1.0

    def _apply_transform(self) -> None:
        picture = self.image.image
        if picture is None:
            return
        rows, columns = picture.shape[:2]
        aspect = self._aspect()
        cx, cy = columns / 2, rows * aspect / 2
        t = QTransform()  # applied to a point in reverse order of these calls
        t.translate(cx, cy)  # rotate first, then mirror on screen (geometry's convention)
        t.scale(-1 if self.flip_h else 1, -1 if self.flip_v else 1)
        t.rotate(90 * self.quarter_turns)
        t.translate(-cx, -cy)
        t.scale(1, aspect)
        self.image.setTransform(t)
        if self._fit:
            self.view.fit_image()

    def set_view(self, quarter_turns: int, flip_h: bool, area: QRectF | None,
                 zoom: float | None = None) -> None:
        """Turns, then a mirror, and `area` (image pixels) fitted in the viewport, or at `zoom`
        screen pixels per image pixel about its centre; `area` None: the whole image fitted."""
        self.quarter_turns, self.flip_h, self.flip_v = quarter_turns % 4, flip_h, False
        self._fit = area is None
        self._apply_transform()
        if area is not None:
            shown = self.image.mapRectToParent(area)
            if zoom:
                size = self.view.viewport().size()
                centre = shown.center()
                shown = QRectF(0, 0, size.width() / zoom, size.height() / zoom)
                shown.moveCenter(centre)
            self.view.target = shown
            self.view.relayout()
        self._refresh()

    def rotate(self, quarter_turns: int) -> None:
        self.quarter_turns = (self.quarter_turns + quarter_turns) % 4
        self._fit = True
        self._apply_transform()
        self._refresh()

    def flip(self, horizontal: bool) -> None:
        if horizontal:
            self.flip_h = not self.flip_h
        else:
            self.flip_v = not self.flip_v
        self._apply_transform()
        self._refresh()

    def fit(self) -> None:
        self._fit = True
        self.view.fit_image()
        self._refresh()
        self.view_changed.emit(self, "zoom")

    def match_zoom(self, other: Viewport) -> None:
        """Show the part of the image `other` shows, zoom and pan (a sync group)."""
        self._fit = other._fit
        self.view.target = None if other._fit or other.view.target is None else QRectF(
            other.view.target)
        self.view.relayout()
        self._refresh()

    def actual_pixels(self) -> None:
        """1:1 - one image pixel per screen pixel, about the current centre."""
        self._set_zoom(1.0)

    def _set_zoom(self, factor: float, about: QPointF | None = None) -> None:
        self._fit = False
        current = self.zoom_factor()
        if current <= 0:
            return
        scale = current / factor
        centre = about if about is not None else self.view.view_rect().center()
        self.view.scale_by(scale, centre)
        self._refresh()
        self.view_changed.emit(self, "zoom")

    # -- scrolling --------------------------------------------------------------------------
    def set_position(self, position: int, notify: bool = True) -> None:
        if not self.stack or not self.stack.frames:
            return
        new = int(np.clip(position, 0, len(self.stack.frames) - 1))
        if new == self.position:
            return
        self.position = new
        self._probe_text = ""
        cache = self.bridge.pool.cache
        cached = cache.get(*self.stack.frames[new]) if cache is not None else None
        if cached is not None:
            self.frame, self.error = cached, ""
            self._show()  # refreshes the overlay too
        else:
            self.frame = None  # keep the old picture until the new one arrives: no flicker
            self._refresh()
        self._request_visible()
        if notify:
            self.position_changed.emit(self)

    def step_frames(self, step: int) -> None:
        self.set_position(self.position + step)

    # -- window / level ------------------------------------------------------------------------
    def current_window(self) -> tuple[float, float] | None:
        """The window on screen; while the next frame decodes, the last one shown."""
        if self.frame is None:
            return self.state.window or self._last_window
        voi = choose_voi(self.frame.array, self.display_info() or self.frame.info, self.state)
        self._last_window = (voi.center, voi.width) if isinstance(voi, Window) else None
        return self._last_window

    def set_window(self, center: float, width: float) -> None:
        self.set_display_state(
            DisplayState(window=(center, max(width, 1.0)), invert=self.state.invert))
        self.view_changed.emit(self, "window")

    def set_display_state(self, state: DisplayState) -> None:
        """Window, invert and the file's VOI choices as given (a sync group's, without
        `view_changed`)."""
        self.state = state
        self._show()

    def file_windows(self) -> list[Window]:
        """The windows the current file suggests (Window Center/Width, PS3.3 C.11.2.1.2)."""
        return list(self.frame.info.windows) if self.frame is not None else []

    def apply_file_window(self, index: int) -> None:
        """The file's window number `index` (0-based), its explanation shown by the menu."""
        self.state = DisplayState(window_index=index, invert=self.state.invert)
        self._show()
        self._refresh()
        self.view_changed.emit(self, "window")

    def apply_preset(self, number: int) -> None:
        """Keys 1-9: the CT presets in order; 0: the file's own window, and pressed again
        while a file's window is shown, the file's next window (abdomen, then lung ...)."""
        if number == 0:
            count = len(self.file_windows())
            showing_file_window = self.state.window is None and self.state.voi_lut_index is None
            index = (self.state.window_index + 1) % count if showing_file_window and count else 0
            self.state = DisplayState(window_index=index, invert=self.state.invert)
        elif 1 <= number <= len(CT_PRESETS):
            preset = CT_PRESETS[number - 1]
            self.state = DisplayState(window=(preset.center, preset.width),
                                      invert=self.state.invert)
        self._show()
        self._refresh()
        self.view_changed.emit(self, "window")

    def toggle_invert(self) -> None:
        self.state = DisplayState(
            window=self.state.window, window_index=self.state.window_index,
            voi_lut_index=self.state.voi_lut_index, voi_function=self.state.voi_function,
            invert=not self.state.invert, overlays=self.state.overlays,
        )
        self._show()
        self.view_changed.emit(self, "window")

    def presentation_state_uid(self) -> str | None:
        """The SOP Instance UID of the presentation state the current image is shown with
        (a key image remembers it); None while none is applied."""
        return None

    # -- annotations ---------------------------------------------------------------------------
    def refresh_annotations(self) -> None:
        """Redraw the corner text (a note's source changed: a key image flag set)."""
        self._refresh()

    def _calibration(self) -> Calibration:
        return measure.calibration_of(self.geometry_now, self.frame.info if self.frame else None)

    def _refresh(self) -> None:
        """Recompute what is drawn over the image: text, markers, measurements, lines."""
        content = OverlayContent(active=self.active)
        if self.stack is not None and self.stack.frames:
            info = self.frame.info if self.frame is not None else None
            content.corners = corner_text.four_corners(
                self.stack.info, self.geometry_now, info, self.position, self.stack.total_frames,
                self.current_window(), self.zoom_factor(), labels=annotation_labels(),
            )
            g = self.geometry_now
            if g is not None and g.orientation is not None:
                content.markers = orientation_markers(
                    g.orientation, self.quarter_turns, self.flip_h, self.flip_v
                )
            calibration = self._calibration()
            scale = calibration.scale
            if scale is not None and self.image.image is not None:
                content.scale_bar = corner_text.scale_bar(
                    scale, self.zoom_factor(), max(40.0, self.width() / 4)
                )
            # Which calibration lengths use (PS3.3 10.7.1.3, C.8.5.5); before the frame is
            # decoded only the stack's spacing is known, so the note waits for the frame.
            # Where lengths should be in mm and are not, a warning says so instead of the note.
            content.warnings = self._stack_warnings.of(self.stack)
            if self.frame is not None:
                missing = frame_warnings(self.stack, self.geometry_now, calibration)
                content.warnings = [*missing, *content.warnings]
                note = "" if missing else calibration_note(calibration)
                if note:
                    content.notes.append(note)
            key = self.stack.frames[self.position]
            content.notes += [text for note_of in self.frame_notes if (text := note_of(key))]
            if self.presentation is not None and self.presentation.problem:
                content.notes.append(self.presentation.problem)
            content.probe = self._probe_text
        if self.error:
            content.problem = self.tr("Cannot decode: %1").replace("%1", self.error)
        elif self.stack is not None and not self.stack.frames:
            content.problem = self.tr("No image in this series")
        for layer in self.layers:
            content.notes.extend(layer.notes(self))
        self.overlay.show_content(content)
        self._draw_items()

    def _draw_items(self) -> None:
        scene = self.view.scene()
        for item in self._items:
            scene.removeItem(item)
        self._items = []
        key = self.current_key
        if key is None or self.image.image is None:
            return
        for layer in self.layers:  # under the lines and measurements
            self._items.extend(layer.items(self))
        self._layer_items = len(self._items)  # the rest are marks (drawn_marks)
        for a, b in self.reference_lines:
            self._items.append(path_item([a, b], REFERENCE_PEN, self.image, dashed=True))
        shown = self.measurements.on(key)
        if self._drawing is not None:
            shown.append(self._drawing)
        for m in shown:
            self._draw_measurement(m)

    def drawn_marks(self) -> list[QGraphicsItem]:
        """The measurement and reference-line items over the image (not the layers')."""
        return self._items[self._layer_items:]

    def redraw_layers(self) -> None:
        """A layer has new content for this viewport (computed off the GUI thread)."""
        self._refresh()

    def _draw_measurement(self, m: Measurement) -> None:
        if not m.points:
            return
        outline = m.outline()
        self._items.append(path_item(outline, MEASURE_PEN, self.image))
        label = self._measurement_text(m)
        if label:
            text = Label(label, MEASURE_PEN, self.image)
            x, y = m.points[-1]
            text.setPos(x + 0.5, y + 0.5)
            self._items.append(text)

    def _measurement_text(self, m: Measurement) -> str:
        frame = self.frame
        return measurement_text(m, self._calibration(), frame.array if frame else None,
                                frame.info if frame else None,
                                self.stack.info.modality if self.stack else "")

    def _on_measurements_changed(self, key: FrameKey) -> None:
        if key == self.current_key:
            self._draw_items()

    def set_reference_lines(self, lines: list[tuple[Point, Point]]) -> None:
        if lines != self.reference_lines:
            self.reference_lines = lines
            self._draw_items()

    # -- events -----------------------------------------------------------------------------
    def image_point(self, widget_pos: QPointF) -> Point:
        """Viewport-widget coordinates -> image pixel coordinates (pixel centres at integers)."""
        scene = self.view.mapToScene(widget_pos.toPoint())
        item = self.image.mapFromScene(scene)
        return (float(item.x()) - 0.5, float(item.y()) - 0.5)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if isinstance(event, QWheelEvent):
            self.wheelEvent(event)
            return True
        if isinstance(event, QMouseEvent):
            return self._mouse(event)
        if event.type() == QEvent.Type.Resize:
            self.overlay.resize(self.view.size())
            self.view.relayout()  # fitted: fit again; zoomed: keep what is shown, centred
            self._refresh()
        return False

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        """One notch (120 eighths of a degree) = one slice, or x1.25 zoom with Ctrl; the
        small deltas of touchpads and free-spinning wheels add up to notches."""
        delta = event.angleDelta().y()
        if not delta:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            factor = self.zoom_factor() * 1.25 ** (delta / WHEEL_NOTCH)
            scene = self.view.mapToScene(event.position().toPoint())
            self._set_zoom(factor, self.view.camera.mapFromScene(scene))
            return
        self._wheel_rest += delta
        notches = int(self._wheel_rest / WHEEL_NOTCH)  # towards zero: the rest carries over
        if notches:
            self._wheel_rest -= notches * WHEEL_NOTCH
            self.step_frames(-notches)

    def _mouse(self, event: QMouseEvent) -> bool:
        kind = event.type()
        pos = event.position()
        if kind == QEvent.Type.MouseButtonDblClick:
            self.maximise_requested.emit(self)
            return True
        if kind == QEvent.Type.MouseButtonPress:
            self.setFocus()
            self.activated.emit(self)
            return self._press(event.button(), pos)
        if kind == QEvent.Type.MouseMove:
            return self._move(pos, event.buttons())
        if kind == QEvent.Type.MouseButtonRelease:
            return self._release(pos)
        return False

    def _press(self, button: Qt.MouseButton, pos: QPointF) -> bool:
        if button == Qt.MouseButton.RightButton:
            return self._start_drag("window", pos)
        if button == Qt.MouseButton.MiddleButton:
            return self._start_drag("pan", pos)
        if button != Qt.MouseButton.LeftButton:
            return False
        kind = self.tool.measurement
        if kind is not None and self.current_key is not None and self.image.image is not None:
            point = self.image_point(pos)
            if self._drawing is not None and self._drawing.kind is Kind.ANGLE:
                self._drawing.points.append(point)  # the angle's third point: click
                self._finish_drawing()
            else:
                self._drawing = Measurement(kind, [point, point])
                self._draw_items()
            return True
        if self.tool is Tool.PROBE:
            self._probe(pos)
            return True
        return self._start_drag(self.tool.value, pos)

    def _start_drag(self, what: str, pos: QPointF) -> bool:
        if what == "window":
            window = self.current_window()
            if window is None:
                return True
            self._drag = ("window", pos, window)
        elif what == "zoom":
            self._drag = ("zoom", pos, (self.zoom_factor(),))
        else:
            self._drag = ("pan", pos, ())
        return True

    def _move(self, pos: QPointF, buttons: Qt.MouseButton) -> bool:
        if self._drawing is not None:
            self._drawing.points[-1] = self.image_point(pos)
            self._draw_items()
            return True
        if self.tool is Tool.PROBE and not self._drag:
            self._probe(pos)
            return False
        if self._drag is None:
            return False
        what, start, values = self._drag
        dx, dy = pos.x() - start.x(), pos.y() - start.y()
        if what == "window":
            # As in Weasis and RadiAnt: right = wider, down = higher level; faster for wide windows.
            center, width = values
            rate = max(width, 10.0) / 200.0
            self.set_window(center + dy * rate, width + dx * rate)
            self._refresh()
        elif what == "zoom":
            self._set_zoom(values[0] * math.exp(-dy / 200.0))
            self._drag = ("zoom", pos, (self.zoom_factor(),))
        else:
            factor = self.zoom_factor()
            self._fit = False
            self.view.translate_by(-dx / factor, -dy / factor)
            self._drag = ("pan", pos, ())
            self.view_changed.emit(self, "zoom")
        return True

    def _release(self, pos: QPointF) -> bool:
        if self._drawing is not None:
            self._drawing.points[-1] = self.image_point(pos)
            if self._drawing.kind is Kind.ANGLE and len(self._drawing.points) == 2:
                self._drawing.points.append(self._drawing.points[-1])  # rubber band to the 3rd
                self._draw_items()
                return True
            self._finish_drawing()
            return True
        if self._drag is not None:
            self._drag = None
            return True
        return False

    def _finish_drawing(self) -> None:
        m, self._drawing = self._drawing, None
        key = self.current_key
        if m is None or key is None:
            return
        if m.kind is Kind.ANGLE and len(m.points) > 3:
            m.points = m.points[:3]
        if math.dist(m.points[0], m.points[-1]) < 1.0 and m.kind is not Kind.ANGLE:
            self._draw_items()  # a click, not a drag: nothing measured
            return
        self.measurements.add(key, m)

    def _probe(self, pos: QPointF) -> None:
        if self.frame is None:
            return
        x, y = self.image_point(pos)
        modality = self.stack.info.modality if self.stack else ""
        found = measure.probe(self.frame.array, self.frame.info, x, y, modality)
        self._probe_text = "" if found is None else probe_text(found)
        self._refresh()

    def delete_measurement(self, at: QPointF | None = None) -> bool:
        """Remove the measurement nearest `at` (widget position), else the last one drawn."""
        key = self.current_key
        if key is None:
            return False
        items = self.measurements.on(key)
        if not items:
            return False
        victim = items[-1]
        if at is not None:
            near = self.measurements.nearest(key, self.image_point(at), 8 / self.zoom_factor())
            victim = near or victim
        return self.measurements.remove(key, victim)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if not viewport_keys.handle(self, event):
            super().keyPressEvent(event)

    def cancel_drawing(self) -> bool:
        """Drop the measurement being drawn (Escape); False when none was."""
        if self._drawing is None:
            return False
        self._drawing = None
        self._draw_items()
        return True

    def focusInEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        super().focusInEvent(event)  # type: ignore[arg-type]
        self.activated.emit(self)

    def set_active(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            self._refresh()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if dropped_series(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        series = dropped_series(event.mimeData())
        if series is not None:
            event.acceptProposedAction()
            self.series_dropped.emit(self, *series)

    def close_viewport(self) -> None:
        self._cancel_all()
        self.bridge.frame_ready.disconnect(self._on_frame)
        self.bridge.frame_failed.disconnect(self._on_failed)
        if self._on_measurements_changed in self.measurements.listeners:
            self.measurements.listeners.remove(self._on_measurements_changed)
