"""The 3D view: volume rendering (presets) or 3D MIP of a volume, rotated, zoomed and panned with
the mouse, cut by a clip box.

VTK renders offscreen (`viewer.volume.render3d.Scene3D`, the CPU ray caster) on a render thread
of its own (`view3d_render`: the GUI thread never waits for a picture) and the picture is
shown as a Qt image. On software OpenGL the ray casting is done on the CPU whichever window VTK
draws in, so nothing is lost against embedding QVTKRenderWindowInteractor, and the same widget
works on every Qt platform: a desktop, Xvfb, and `QT_QPA_PLATFORM=offscreen`, where Qt cannot
host a GL window (and where `QWidget.grab()` of an embedded VTK window would be black anyway).
VTK is imported when the first volume is set, never before.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from viewer.gui.imageview import wrap_qimage
from viewer.gui.view3d_render import Rendered, RenderThread
from viewer.volume.model import Volume
from viewer.volume.render3d_presets import PRESETS, Clip, SceneState, ViewGeometry

if TYPE_CHECKING:
    from viewer.volume.model import Vec3

LOGGER = logging.getLogger(__name__)

DEGREES_PER_PIXEL = 0.5  # a drag across a 512-pixel view turns the volume by 256 degrees
SETTLE_MS = 200  # the full-quality picture follows this long after the last drag or wheel
PROGRESS_MS = 500  # how often a volume still loading is looked at for new slices
WHEEL_ZOOM = 1.1  # per wheel notch (120 eighths of a degree)


class _Canvas(QLabel):
    """Shows the scene's picture; mouse drags rotate (left), zoom (right) and pan (middle or
    Shift+left); the wheel zooms."""

    def __init__(self, view: View3D) -> None:
        super().__init__()
        self.view = view
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(64, 64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("background: black; color: #dddddd;")
        self._last: QPoint | None = None
        self._drag = ""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # Not the picture's size (QLabel's own hint): a picture cast at the canvas's size
        # must not resize the canvas, which would ask for another picture, and so on.
        return QSize(256, 256)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        button = event.button()
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton
                                                     and shift):
            self._drag = "pan"
        elif button == Qt.MouseButton.RightButton:
            self._drag = "zoom"
        elif button == Qt.MouseButton.LeftButton:
            self._drag = "rotate"
        else:
            return
        self._last = event.position().toPoint()
        self.view.begin_interaction()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._last is None:
            return
        pos = event.position().toPoint()
        dx, dy = pos.x() - self._last.x(), pos.y() - self._last.y()
        self._last = pos
        self.view.drag(self._drag, dx, dy)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._last is not None:
            self._last = None
            self.view.end_interaction()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.view.begin_interaction()
            self.view.zoom(WHEEL_ZOOM**notches)
            self.view.end_interaction()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.view.canvas_resized()


class _ClipBox(QWidget):
    """Six sliders: the clip box's two faces on each patient axis, in % of the volume's extent
    (right-left, anterior-posterior, foot-head)."""

    def __init__(self, view: View3D) -> None:
        super().__init__()
        self.view = view
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.sliders: list[QSlider] = []
        axes = (self.tr("Right – Left"), self.tr("Anterior – Posterior"), self.tr("Foot – Head"))
        for row, name in enumerate(axes):
            grid.addWidget(QLabel(name), row, 0)
            for column, value in ((1, 0), (2, 100)):
                slider = QSlider(Qt.Orientation.Horizontal)
                slider.setRange(0, 100)
                slider.setValue(value)
                slider.valueChanged.connect(self._changed)
                slider.sliderPressed.connect(view.begin_interaction)
                slider.sliderReleased.connect(view.end_interaction)
                grid.addWidget(slider, row, column)
                self.sliders.append(slider)

    def fractions(self) -> tuple[float, ...]:
        return tuple(s.value() / 100.0 for s in self.sliders)

    def _changed(self) -> None:
        # A minimum pushed past its maximum pushes the maximum along (and the other way).
        for axis in range(3):
            low, high = self.sliders[2 * axis], self.sliders[2 * axis + 1]
            if low.value() >= high.value():
                if self.sender() is low:
                    high.setValue(min(low.value() + 1, 100))
                    low.setValue(high.value() - 1)
                else:
                    low.setValue(max(high.value() - 1, 0))
                    high.setValue(low.value() + 1)
        self.view.clip_changed()


class View3D(QWidget):
    """A 3D view of one volume with preset and mode selectors and a clip box.

    `set_volume(volume)` shows a volume (it may still be loading: the view picks up new slices
    as its revision grows). What to show is `state` (a SceneState); pictures are cast on the
    render thread: while the mouse drags at reduced resolution, and at full quality SETTLE_MS
    after the drag stops. `picture` is the last picture shown, (height, width, 3) uint8, for
    screenshots; `shown` says what it was cast from; `idle` when nothing is under way.
    `picture_shown(Rendered)` after each picture reached the screen."""

    picture_shown = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.volume: Volume | None = None
        self.renderer: RenderThread | None = None
        self.state = SceneState()
        self.picture: np.ndarray | None = None
        self.shown: Rendered | None = None
        self.renders = 0
        self._requested = 0  # the serial of the newest request
        self._answered = 0  # the newest serial a picture or a failure came back for

        labels = {"ct-bone": self.tr("CT bone"), "ct-soft-tissue": self.tr("CT soft tissue"),
                  "ct-lung": self.tr("CT lung"), "ct-angio": self.tr("CT angio"),
                  "mr-default": self.tr("MR default")}
        self.preset_box = QComboBox()
        for name, preset in PRESETS.items():
            self.preset_box.addItem(labels.get(name, preset.label), name)
        self.preset_box.currentIndexChanged.connect(self._preset_chosen)
        self.mode_box = QComboBox()
        self.mode_box.addItem(self.tr("Volume rendering"), "vr")
        self.mode_box.addItem(self.tr("MIP"), "mip")
        self.mode_box.currentIndexChanged.connect(self._mode_chosen)
        self.clip_check = QCheckBox(self.tr("Clip box"))
        self.clip_check.toggled.connect(self._clip_toggled)
        reset = QPushButton(self.tr("Reset view"))
        reset.clicked.connect(self.reset_view)
        bar = QHBoxLayout()
        bar.setContentsMargins(2, 2, 2, 2)
        for widget in (self.preset_box, self.mode_box, self.clip_check, reset):
            bar.addWidget(widget)
        bar.addStretch(1)
        self.clip_box = _ClipBox(self)
        self.clip_box.setVisible(False)
        self.canvas = _Canvas(self)
        self.status = QLabel()
        self.status.setStyleSheet("color: #dddddd; background: #101010;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.clip_box)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.status)

        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._settled)
        # Mouse moves come faster than pictures: one request per turn of the event loop (and
        # the render thread keeps only the newest).
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self._render)
        self._progress = QTimer(self)
        self._progress.setInterval(PROGRESS_MS)
        self._progress.timeout.connect(self._check_progress)
        self._revision = 0

    # -- the volume ------------------------------------------------------------------------

    def set_volume(self, volume: Volume | None) -> None:
        """Show `volume` (None: nothing): a quick first picture, then the full one."""
        self._close_scene()
        self.volume = volume
        if volume is None:
            self._show_text("")
            return
        if volume.modality not in ("CT", "") and self._preset().startswith("ct-"):
            self._select(self.preset_box, "mr-default")
        # Until the settle timer fires the view is as while dragging: a request made meanwhile
        # (the canvas taking its size) replaces the first one and must be as quick.
        self.state = SceneState(mode=self._mode(), preset=self._preset(), clip=self.clip(),
                                size=self._canvas_size(), interacting=True)
        self._revision = volume.revision
        self.renderer = RenderThread(volume, self)
        self.renderer.rendered.connect(self._show)
        self.renderer.failed.connect(self._failed)
        # The first picture unshaded and reduced: it needs no gradients and, for a large
        # volume, only the averaged copy; the full picture follows.
        self._request(replace(self.state, shade=False))
        self._settle.start()
        if not volume.complete:
            self._progress.start()

    def closeEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        self._close_scene()
        super().closeEvent(event)  # type: ignore[arg-type]

    def _close_scene(self) -> None:
        self._progress.stop()
        self._settle.stop()
        self._pending.stop()
        if self.renderer is not None:
            self.renderer.rendered.disconnect(self._show)
            self.renderer.failed.disconnect(self._failed)
            self.renderer.close()
            self.renderer.deleteLater()
            self.renderer = None
        self._answered = self._requested

    def _check_progress(self) -> None:
        if self.renderer is None or self.volume is None:
            self._progress.stop()
            return
        if self.volume.complete:
            self._progress.stop()
        # While a picture is cast the next tick looks again: a new request would abandon a
        # settled render every tick, and a slow one would never be seen until the load ends.
        if not self.state.interacting and self.volume.revision != self._revision \
                and self.renderer is not None and not self.renderer.busy:
            self._revision = self.volume.revision
            self._render()

    @property
    def idle(self) -> bool:
        """No picture under way or due: the one shown is the last one asked for."""
        return not (self._settle.isActive() or self._pending.isActive()
                    or self._answered < self._requested)

    @property
    def settled(self) -> bool:
        """Idle with the full-quality picture on screen. (The quick first picture may never
        show: a request made before the render thread took it replaces it.)"""
        return self.idle and self.shown is not None and not self.shown.state.interacting

    @property
    def geometry3d(self) -> ViewGeometry | None:
        """Where the shown picture puts patient points (None before the first picture)."""
        if self.volume is None or self.shown is None:
            return None
        return self.shown.state.geometry(self.volume)

    # -- what the user does ----------------------------------------------------------------

    def begin_interaction(self) -> None:
        self._settle.stop()
        if self.renderer is not None and not self.state.interacting:
            self.state = replace(self.state, interacting=True)

    def end_interaction(self) -> None:
        self._settle.start()

    def drag(self, what: str, dx: int, dy: int) -> None:
        """A mouse drag of (dx, dy) widget pixels (y down): rotate as if the mouse pulled the
        volume's near surface, zoom (up is closer) or pan."""
        if self.renderer is None:
            return
        if what == "rotate":
            # Pulling the front surface right shows more of the patient's right side: the camera
            # turns towards the right (azimuth down); pulling it down shows the top of the head.
            self.state = self.state.rotated(-dx * DEGREES_PER_PIXEL, dy * DEGREES_PER_PIXEL)
        elif what == "zoom":
            self.state = self.state.zoomed(1.01 ** (-dy))
        elif what == "pan":
            self.state = self.state.panned(dx, -dy)
        self._pending.start()

    def zoom(self, factor: float) -> None:
        if self.renderer is not None:
            self.state = self.state.zoomed(factor)
            self._pending.start()

    def reset_view(self) -> None:
        self.state = replace(self.state, azimuth=0.0, elevation=0.0, zoom_factor=1.0,
                             pan_pixels=(0.0, 0.0))
        self._render()

    def set_view(self, azimuth: float, elevation: float) -> None:
        self.state = replace(self.state, azimuth=float(azimuth), elevation=float(elevation))
        self._render()

    def set_preset(self, name: str) -> None:
        self._select(self.preset_box, name)

    def set_mode(self, mode: str) -> None:
        self._select(self.mode_box, mode)

    def set_clip_fractions(self, fractions: tuple[float, ...] | None) -> None:
        """The clip box as (low, high) fractions of the volume's extent on each patient axis
        (x, y, z); None turns it off."""
        self.clip_check.setChecked(fractions is not None)
        if fractions is not None:
            for slider, value in zip(self.clip_box.sliders, fractions, strict=True):
                slider.blockSignals(True)
                slider.setValue(round(value * 100))
                slider.blockSignals(False)
            self.clip_changed()

    def clip(self) -> Clip | None:
        """The clip box in patient mm, or None when off."""
        if self.volume is None or not self.clip_check.isChecked():
            return None
        corners = self.volume.corners()
        half = np.asarray(self.volume.spacing).max() / 2
        low, high = corners.min(axis=0) - half, corners.max(axis=0) + half
        f = self.clip_box.fractions()
        box = [float(low[a] + f[2 * a + side] * (high[a] - low[a]))
               for a in range(3) for side in (0, 1)]
        return box[0], box[1], box[2], box[3], box[4], box[5]

    def clip_changed(self) -> None:
        self.state = replace(self.state, clip=self.clip())
        if self.renderer is not None:
            self._pending.start()
            if not self.state.interacting:
                self._settle.start()

    def to_pixel(self, point: Vec3) -> tuple[float, float] | None:
        """(row, column) of a patient point in the shown picture."""
        geometry = self.geometry3d
        return None if geometry is None else geometry.to_pixel(point)

    # -- internals -------------------------------------------------------------------------

    def _settled(self) -> None:
        if self.renderer is None:
            return
        self.state = replace(self.state, interacting=False)
        self._render()

    def _render(self) -> None:
        self._pending.stop()
        self._request(self.state)

    def _request(self, state: SceneState) -> None:
        if self.renderer is not None:
            self._requested = self.renderer.request(state)

    def _show(self, result: Rendered) -> None:
        if result.serial <= self._answered:
            return  # overtaken by a picture that came back first
        self._answered = result.serial
        self.picture = result.picture
        self.shown = result
        self.renders += 1
        self.canvas.setPixmap(QPixmap.fromImage(wrap_qimage(result.picture)))
        notes = []
        if result.visibly_reduced and not result.state.interacting:
            notes.append(self.tr("Shaded at 1/%1 resolution").replace(
                "%1", str(result.reduction)))
        if self.volume is not None and not self.volume.complete:
            notes.append(self.tr("Loading…"))
        self.status.setText("  ".join(notes))
        self.picture_shown.emit(result)

    def _failed(self, serial: int, reason: str) -> None:
        self._answered = max(self._answered, serial)
        self._show_text(self.tr("3D view unavailable: %1").replace("%1", reason))

    def _show_text(self, text: str) -> None:
        self.canvas.clear()
        self.picture = None
        self.status.setText(text)

    def canvas_resized(self) -> None:
        size = self._canvas_size()
        if size != self.state.size:
            self.state = replace(self.state, size=size)
            if self.renderer is not None:
                self._pending.start()

    def _canvas_size(self) -> tuple[int, int]:
        size: QSize = self.canvas.size()
        return max(size.width(), 16), max(size.height(), 16)

    def _preset(self) -> str:
        return str(self.preset_box.currentData())

    def _mode(self) -> str:
        return str(self.mode_box.currentData())

    @staticmethod
    def _select(box: QComboBox, value: str) -> None:
        index = box.findData(value)
        if index < 0:
            raise ValueError(f"unknown choice {value!r}")
        box.setCurrentIndex(index)

    def _preset_chosen(self) -> None:
        self.state = replace(self.state, preset=self._preset())
        if self._mode() != "vr":
            self._select(self.mode_box, "vr")  # renders through _mode_chosen
        else:
            self._render()

    def _mode_chosen(self) -> None:
        self.state = replace(self.state, mode=self._mode())
        self._render()

    def _clip_toggled(self, on: bool) -> None:
        self.clip_box.setVisible(on)
        self.clip_changed()
