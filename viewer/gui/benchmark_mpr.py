"""Event-loop stalls while the user drags an MPR crosshair, measured the way `bench gui` measures
them during a series load: a 5 ms QTimer heartbeat, and its longest gap counts (issue 16 target
<= 50 ms, goal 16 ms).

The drag is real mouse events on the axial view, one every MOVE_MS: first moving the point
(every view reslices), then turning the sagittal line (oblique coronal and sagittal planes, the
slow case), then a wheel burst. Also counted: how many pictures reached the screen meanwhile
(coarse ones while dragging), so a harness that drops every picture cannot look fast.

`drag_stalls(volume)` is what `bench gui` calls on the volume built from its series; run alone
(`python -m viewer.gui.benchmark_mpr --slices N`) it measures a generated 512 x 512 x N int16
CT volume, without the archive.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from viewer.volume.model import Volume

if TYPE_CHECKING:
    from viewer.gui.layers import PlaneLayer

MOVE_MS = 8  # a mouse reports a move every 8 ms (125 Hz) while dragging
DRAG_SECONDS = 3.0  # each phase


@dataclass
class MprDrag:
    phase: str
    moves: int
    longest_stall_ms: float
    median_gap_ms: float
    pictures_shown: int


def drag_stalls(volume: Volume, size: int = 1024, seconds: float = DRAG_SECONDS,
                while_open: Callable[[], None] | None = None,
                layers: list[PlaneLayer] | None = None) -> list[MprDrag]:
    """The MPR layout on `volume` in a `size`x`size` window (needs a QApplication); per
    phase, the longest heartbeat gap while dragging. `while_open()` runs after the drags,
    with the layout still open and settled (to measure its memory). `layers`: drawn on the
    planes (SEG / RTSTRUCT overlays, SR regions), each settled picture waiting for them."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QPointF, Qt, QTimer
    from PySide6.QtGui import QMouseEvent

    from viewer.gui.mpr_layout import MprLayout
    from viewer.gui.overlay_layers import OverlayLayer

    layout = MprLayout(volume)
    for view in layout.views:
        view.layers = layers or []
        view.update_plane()
    overlays = [layer for layer in layers or [] if isinstance(layer, OverlayLayer)]

    def redraw() -> None:  # an overlay ready for this volume (objects.py does it in a window)
        for view in layout.views:
            view.redraw_layers()

    for overlay in overlays:
        overlay.changed.connect(redraw)
    layout.resize(size, size)
    layout.show()
    loop = QEventLoop()

    def pump_until(condition: object, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)

    def settled() -> bool:
        return not layout.controller.interacting and all(
            v.idle and v.rendered is not None
            and len(v.rendered.placed) == len(overlays) for v in layout.views)

    pump_until(settled, 120)  # first pictures (and any compilation of the reslice kernel)
    axial = layout.views[0]
    target = axial.view.viewport()
    results: list[MprDrag] = []
    try:
        # "idle": the same heartbeat with nothing dragged, the machine's own noise to compare
        # with (others' processes share its two cores).
        for phase in ("idle", "move point", "rotate", "wheel"):
            (px, py), lines = layout.controller.state.crosshair(0, axial.plane)
            dx, dy = lines[2]
            radius = 0.25 * min(axial.plane.columns, axial.plane.rows)
            start = axial.widget_point(px + radius * dx, py + radius * dy)
            if phase == "move point":
                start = axial.widget_point(px, py)
            shown = {"n": 0}

            def count(_view: object, shown: dict[str, int] = shown) -> None:
                shown["n"] += 1

            for view in layout.views:
                view.frame_shown.connect(count)
            clock = QElapsedTimer()
            clock.start()
            gaps: list[int] = []
            last = {"t": 0}

            def beat(gaps: list[int] = gaps, last: dict[str, int] = last,
                     clock: QElapsedTimer = clock) -> None:
                now = clock.elapsed()
                gaps.append(now - last["t"])
                last["t"] = now

            heartbeat = QTimer()
            heartbeat.timeout.connect(beat)
            heartbeat.start(5)
            left = Qt.MouseButton.LeftButton
            dragging = phase in ("move point", "rotate")
            if dragging:
                _send(target, QMouseEvent.Type.MouseButtonPress, start, left, left)
            moves = 0
            t0 = time.monotonic()
            while time.monotonic() - t0 < seconds:
                t = time.monotonic() - t0
                if phase == "move point":
                    pos = start + QPointF(60 * math.sin(2 * t), 60 * math.sin(3 * t))
                    _send(target, QMouseEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, left)
                elif phase == "rotate":
                    turn = 0.6 * math.sin(2 * t)
                    centre = axial.widget_point(px, py)
                    v = start - centre
                    pos = centre + QPointF(v.x() * math.cos(turn) - v.y() * math.sin(turn),
                                           v.x() * math.sin(turn) + v.y() * math.cos(turn))
                    _send(target, QMouseEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, left)
                elif phase == "wheel":
                    layout.controller.step(0, 1 if int(t * 2) % 2 == 0 else -1)
                moves += 1
                wait = time.monotonic() + MOVE_MS / 1000
                while time.monotonic() < wait:
                    loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 2)
            if dragging:
                _send(target, QMouseEvent.Type.MouseButtonRelease, start, left,
                      Qt.MouseButton.NoButton)
            heartbeat.stop()
            for view in layout.views:
                view.frame_shown.disconnect(count)
            results.append(MprDrag(phase, moves, float(max(gaps, default=0)),
                                   float(statistics.median(gaps)) if gaps else 0.0, shown["n"]))
            pump_until(settled, 60)
        if while_open is not None:
            while_open()
    finally:
        layout.close_layout()
        layout.close()
    return results


def _send(target: object, kind: object, pos: object, button: object, buttons: object) -> None:
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QMouseEvent

    event = QMouseEvent(kind, pos, pos, button, buttons,  # type: ignore[call-overload]
                        Qt.KeyboardModifier.NoModifier)
    QCoreApplication.sendEvent(target, event)  # type: ignore[arg-type]


def generated_ct(slices: int, rows: int = 512, columns: int = 512) -> Volume:
    """A 0.7 x 0.7 x 0.7 mm int16 CT volume: a water cylinder with bright rods, air around."""
    y, x = np.mgrid[0:rows, 0:columns]
    r2 = (x - columns / 2) ** 2 + (y - rows / 2) ** 2
    section = np.where(r2 < (0.45 * columns) ** 2, 0, -1000).astype(np.int16)
    section[(x % 64 < 6) & (y % 64 < 6) & (r2 < (0.4 * columns) ** 2)] = 1000
    voxels = np.empty((slices, rows, columns), dtype=np.int16)
    for k in range(slices):
        voxels[k] = section + np.int16(k % 50)
    affine = np.diag([0.7, 0.7, 0.7, 1.0])
    volume = Volume(voxels=voxels, affine=affine, frame_of_reference_uid="1.2.3",
                    series_uid="1.2.3.4", modality="CT", units="HU", padding=-1024.0,
                    window=(40.0, 400.0))
    volume.filled[:] = True
    volume.revision = 1
    return volume
