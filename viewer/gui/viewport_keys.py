"""The viewport's keys: scrolling (arrows, Page Up/Down, Home, End), window presets (0-9),
invert (I), fit (F), actual pixels (A), delete the measurement under the cursor (Delete,
Backspace), and Escape to drop a measurement being drawn."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QKeyEvent

if TYPE_CHECKING:
    from viewer.gui.viewport import Viewport

STEPS = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1,
         Qt.Key.Key_PageUp: -10, Qt.Key.Key_PageDown: 10}


def handle(viewport: Viewport, event: QKeyEvent) -> bool:
    """Act on `event`; False when the key is not the viewport's (Qt passes it on)."""
    key = Qt.Key(event.key())
    if key in STEPS:
        viewport.step_frames(STEPS[key])
    elif key == Qt.Key.Key_Home:
        viewport.set_position(0)
    elif key == Qt.Key.Key_End:
        viewport.set_position(viewport.frame_count - 1)
    elif Qt.Key.Key_0.value <= key.value <= Qt.Key.Key_9.value and not event.modifiers():
        viewport.apply_preset(key.value - Qt.Key.Key_0.value)
    elif key == Qt.Key.Key_I:
        viewport.toggle_invert()
    elif key == Qt.Key.Key_F:
        viewport.fit()
    elif key == Qt.Key.Key_A:
        viewport.actual_pixels()
    elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
        cursor = viewport.view.mapFromGlobal(viewport.cursor().pos())
        viewport.delete_measurement(QPointF(cursor))
    elif key == Qt.Key.Key_Escape:
        return viewport.cancel_drawing()
    else:
        return False
    return True
