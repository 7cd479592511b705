"""Dragging in the 3D view: event-loop stalls (a 5 ms QTimer heartbeat, as `bench gui` measures
them during a load), how long pictures take while dragging and the settled picture after the
release. Issue 16's targets: stalls <= 50 ms, a frame while dragging <= 250 ms, settled
<= 0.7 s unshaded and <= 1.2 s shaded (3D at 512x512 on software GL).

Each phase is real mouse events on the view's canvas, one every MOVE_MS, rotating back and forth
for `seconds`, then the release; the heartbeat runs until the settled picture is on screen, so a
settled render that blocked the GUI thread would show as a stall. Frame times are the render
thread's own (`Rendered.seconds`: cast and read back); `pictures_shown` counts what reached the
screen, so a harness that dropped every picture could not look fast.

`view3d_drag(volume)` is what `bench gui` calls on the volume built from its series; run alone
(`python -m viewer.gui.benchmark_view3d --slices N`) it measures the CT body phantom of
`bench volume` (512 x 512 x N int16), without the archive.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from viewer.gui.benchmark_mpr import DRAG_SECONDS, MOVE_MS
from viewer.volume.model import Volume

if TYPE_CHECKING:
    from viewer.gui.view3d import View3D
    from viewer.gui.view3d_render import Rendered

LIMITS = {"stall_ms": 50.0, "dragging_s": 0.25, "settled_unshaded_s": 0.7,
          "settled_shaded_s": 1.2}
"""Issue 16's targets."""

# (phase, mode, shading, zoom): shading None is the preset's own (CT bone: shaded).
PHASES = (
    ("idle", "vr", False, 1.0),
    ("vr unshaded", "vr", False, 1.0),
    ("vr unshaded zoomed 2x", "vr", False, 2.0),
    ("vr shaded", "vr", None, 1.0),
    ("mip", "mip", None, 1.0),
)


@dataclass
class View3DDrag:
    phase: str
    moves: int
    longest_stall_ms: float  # while dragging and until the settled picture was shown
    median_gap_ms: float
    pictures_shown: int
    dragging_median_s: float  # render time of the pictures cast while dragging
    dragging_max_s: float
    settled_s: float  # render time of the settled picture after the release
    release_to_settled_s: float  # wall clock, SETTLE_MS included
    abandoned: int  # settled renders the drag overtook

    @property
    def settled_limit(self) -> float | None:
        """The issue's limit for this phase's settled picture (a MIP has none)."""
        if self.phase.startswith("vr shaded"):
            return LIMITS["settled_shaded_s"]
        if self.phase.startswith("vr unshaded"):
            return LIMITS["settled_unshaded_s"]
        return None


def view3d_drag(volume: Volume, size: int = 512,
                seconds: float = DRAG_SECONDS) -> list[View3DDrag]:
    """The 3D view on `volume` with a `size`x`size` picture (needs a QApplication); per phase
    of PHASES, the stalls and times of a rotating drag."""
    from PySide6.QtCore import QEventLoop

    from viewer.gui.view3d import View3D

    view = View3D()
    view.resize(size, size)
    view.show()
    loop = QEventLoop()

    def pump_until(condition: Any, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)

    # The canvas must be size x size: grow the widget by what the bars take.
    pump_until(lambda: False, 0.05)
    view.resize(size + view.width() - view.canvas.width(),
                size + view.height() - view.canvas.height())
    view.set_volume(volume)
    pump_until(lambda: view.settled, 300)
    results: list[View3DDrag] = []
    try:
        for phase, mode, shade, zoom in PHASES:
            view.set_mode(mode)
            view.state = replace(view.state, shade=shade, zoom_factor=zoom, azimuth=0.0,
                                 elevation=0.0)
            view.set_view(0.0, 0.0)
            pump_until(lambda: view.idle, 300)
            # One drag first, untimed: reduced copies and gradients are made when first needed.
            if phase != "idle":
                _drag(view, loop, 0.5)
                pump_until(lambda: view.idle, 300)
            results.append(_timed_drag(view, loop, phase, seconds, pump_until))
    finally:
        view.close()
    return results


def _timed_drag(view: View3D, loop: Any, phase: str, seconds: float,
                pump_until: Any) -> View3DDrag:
    from PySide6.QtCore import QElapsedTimer, QTimer

    shown: list[Rendered] = []
    assert view.renderer is not None
    view.picture_shown.connect(shown.append)
    abandoned = view.renderer.abandoned
    clock = QElapsedTimer()
    clock.start()
    gaps: list[int] = []
    last = {"t": 0}

    def beat() -> None:
        now = clock.elapsed()
        gaps.append(now - last["t"])
        last["t"] = now

    heartbeat = QTimer()
    heartbeat.timeout.connect(beat)
    heartbeat.start(5)
    moves = 0 if phase == "idle" else _drag(view, loop, seconds)
    if phase == "idle":
        pump_until(lambda: False, seconds)
    released = time.perf_counter()
    pump_until(lambda: view.idle, 300)
    settled_at = time.perf_counter()
    heartbeat.stop()
    view.picture_shown.disconnect(shown.append)
    dragging = [r.seconds for r in shown if r.state.interacting]
    settled = [r.seconds for r in shown if not r.state.interacting]
    return View3DDrag(
        phase, moves, float(max(gaps, default=0)),
        float(statistics.median(gaps)) if gaps else 0.0, len(shown),
        round(statistics.median(dragging), 3) if dragging else 0.0,
        round(max(dragging), 3) if dragging else 0.0,
        round(settled[-1], 3) if settled else 0.0,
        round(settled_at - released, 3) if phase != "idle" else 0.0,
        view.renderer.abandoned - abandoned)


def _drag(view: View3D, loop: Any, seconds: float) -> int:
    """A left-button drag on the canvas swinging +-60 pixels about its centre: mouse events
    every MOVE_MS for `seconds`, then the release. The number of moves."""
    from PySide6.QtCore import QEventLoop, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    from viewer.gui.benchmark_mpr import _send

    left = Qt.MouseButton.LeftButton
    centre = QPointF(view.canvas.width() / 2, view.canvas.height() / 2)
    _send(view.canvas, QMouseEvent.Type.MouseButtonPress, centre, left, left)
    moves = 0
    pos = centre
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        t = time.monotonic() - t0
        pos = centre + QPointF(60 * math.sin(2 * t), 20 * math.sin(3 * t))
        _send(view.canvas, QMouseEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, left)
        moves += 1
        wait = time.monotonic() + MOVE_MS / 1000
        while time.monotonic() < wait:
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 2)
    _send(view.canvas, QMouseEvent.Type.MouseButtonRelease, pos, left, Qt.MouseButton.NoButton)
    return moves


def format_rows(results: list[View3DDrag]) -> list[str]:
    lines = []
    for r in results:
        limit = r.settled_limit
        settled = (f"settled {r.settled_s * 1000:6.0f} ms"
                   + (f" (<= {limit * 1000:.0f})" if limit else "")) if r.phase != "idle" else ""
        lines.append(
            f"3D drag ({r.phase}): longest stall {r.longest_stall_ms:5.1f} ms (<= 50), "
            f"median gap {r.median_gap_ms:4.1f} ms, {r.pictures_shown} pictures, dragging "
            f"median {r.dragging_median_s * 1000:4.0f} max {r.dragging_max_s * 1000:4.0f} ms "
            f"(<= 250), {settled}, abandoned {r.abandoned}")
    return lines
