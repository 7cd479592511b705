"""One viewport: a stack of frames shown through the display pipeline, scrolled with the wheel."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from viewer.decode.requests import Frame, FrameRequest
from viewer.dicom.display import DisplayState, choose_voi, to_display
from viewer.dicom.frameinfo import Window
from viewer.dicom.stack import Stack
from viewer.gui.bridge import FrameBridge

PREFETCH = 6  # neighbours requested on each side of the visible frame


class Viewport(QWidget):
    """Shows `stack`; wheel/arrows scroll, right-drag changes Window/Level."""

    def __init__(self, stack: Stack | None, bridge: FrameBridge, title: str = "") -> None:
        super().__init__()
        self.stack = stack
        self.bridge = bridge
        self.title = title
        self.position = 0
        self.state = DisplayState()
        self.frame: Frame | None = None
        self.error = ""
        self._drag: tuple[float, float, float, float] | None = None

        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("k")
        self.box = self.view.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.box.setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        self.label = QLabel(self)
        self.label.setStyleSheet("color: #e0e0e0; background: transparent;")
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.view.viewport().installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.addWidget(self.view)
        self.label.raise_()  # above the graphics view
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        bridge.frame_ready.connect(self._on_frame)
        bridge.frame_failed.connect(self._on_failed)
        self.request_current()

    # -- frames -----------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """The visible frame is on screen (or failed with a reason shown)."""
        return self.stack is None or not self.stack.frames or self.frame is not None or bool(
            self.error
        )

    def request_current(self) -> None:
        if not self.stack or not self.stack.frames:
            self._update_label()
            return
        generation = self.bridge.generation
        order = [self.position]
        for step in range(1, PREFETCH + 1):
            order += [self.position + step, self.position - step]
        requests = [
            FrameRequest(*self.stack.frames[i], priority=rank, generation=generation)
            for rank, i in enumerate(order)
            if 0 <= i < len(self.stack.frames)
        ]
        self.bridge.request(requests)

    def _on_frame(self, request: FrameRequest, frame: Frame) -> None:
        if self.stack and self.stack.frames and request.key == self.stack.frames[self.position]:
            self.frame, self.error = frame, ""
            self._show()

    def _on_failed(self, request: FrameRequest, reason: str) -> None:
        if self.stack and self.stack.frames and request.key == self.stack.frames[self.position]:
            self.frame, self.error = None, reason
            self.image.clear()
            self._update_label()

    def _show(self) -> None:
        if self.frame is None:
            return
        picture = to_display(self.frame.array, self.frame.info, self.state)
        self.image.setImage(picture, autoLevels=False, levels=(0, 255))
        self.box.autoRange(padding=0)
        self._update_label()

    def _update_label(self) -> None:
        lines = [self.title] if self.title else []
        if self.stack and self.stack.frames:
            lines.append(f"Image {self.position + 1} / {len(self.stack.frames)}")
        if self.frame is not None:
            voi = choose_voi(self.frame.array, self.frame.info, self.state)
            if isinstance(voi, Window):
                lines.append(f"W {voi.width:.0f}  L {voi.center:.0f}")
        if self.error:
            lines.append(self.error)
        self.label.setText("\n".join(lines))
        self.label.adjustSize()
        self.label.move(6, 4)

    # -- interaction ------------------------------------------------------------------------
    def step_frames(self, step: int) -> None:
        if not self.stack or not self.stack.frames:
            return
        new = int(np.clip(self.position + step, 0, len(self.stack.frames) - 1))
        if new == self.position:
            return
        self.position = new
        self.bridge.next_generation()
        cache = self.bridge.pool.cache
        cached = cache.get(*self.stack.frames[new]) if cache is not None else None
        if cached is not None:
            self.frame, self.error = cached, ""
            self._show()
        self.request_current()
        self._update_label()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        self.step_frames(-1 if event.angleDelta().y() > 0 else 1)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        steps: dict[int, int] = {
            Qt.Key.Key_Up.value: -1,
            Qt.Key.Key_Down.value: 1,
            Qt.Key.Key_PageUp.value: -10,
            Qt.Key.Key_PageDown.value: 10,
            Qt.Key.Key_Home.value: -(10**9),
            Qt.Key.Key_End.value: 10**9,
        }
        key = int(event.key())
        if key in steps:
            self.step_frames(steps[key])
        else:
            super().keyPressEvent(event)

    def eventFilter(self, obj: object, event: object) -> bool:  # noqa: N802 - Qt's name
        if isinstance(event, QWheelEvent):
            self.wheelEvent(event)
            return True
        if isinstance(event, QMouseEvent):
            return self._mouse(event)
        return False

    def _mouse(self, event: QMouseEvent) -> bool:
        """Right-drag: horizontal changes the window width, vertical the level (as in Weasis)."""
        kind = event.type()
        pos = event.position()
        right = event.button() == Qt.MouseButton.RightButton
        if kind == QMouseEvent.Type.MouseButtonPress and right:
            if self.frame is None:
                return True
            voi = choose_voi(self.frame.array, self.frame.info, self.state)
            if isinstance(voi, Window):
                self._drag = (pos.x(), pos.y(), voi.center, voi.width)
            return True
        if kind == QMouseEvent.Type.MouseMove and self._drag is not None:
            x0, y0, center, width = self._drag
            width = max(1.0, width + (pos.x() - x0) * max(width, 10) / 200)
            center = center + (pos.y() - y0) * max(width, 10) / 200
            self.state = DisplayState(window=(center, width), invert=self.state.invert)
            self._show()
            return True
        if kind == QMouseEvent.Type.MouseButtonRelease and self._drag is not None:
            self._drag = None
            return True
        return False

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._update_label()
