"""The 3D view's render thread: the VTK scene lives on it and is used by it alone (VTK objects
are not thread-safe), so the GUI thread never waits for a picture.

The view sends requests (a `SceneState`); the latest wins: one waiting request is replaced by a
newer one, and a settled (full-quality) render still running when a newer request arrives is
abandoned through the scene's abort check (within about 0.2 s) and its picture dropped. A
picture cast while dragging is let finish: it is what the user sees meanwhile. VTK's Render
releases the GIL, so the GUI thread keeps turning while a picture is cast. Finished pictures
come back through the `rendered` signal, queued onto the GUI thread.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, SignalInstance

from viewer.volume.model import Volume
from viewer.volume.render3d_presets import SceneState

LOGGER = logging.getLogger(__name__)

CLOSE_WAIT_S = 5.0  # closing waits this long for a render to notice it was abandoned
# The ray caster's threads take every core; lowered below the GUI thread they still get all
# the idle CPU, but the GUI thread is scheduled first when it wakes (a heartbeat or a mouse
# move). Measured dragging on a 512x512x1000 CT, on two cores shared with other processes
# (load 2-4): longest stall 17-87 ms at nice 0; 8-16 ms at +2 with pictures as fast as at 0;
# 9-52 ms at +5, and there the other processes won the cores: settled pictures 2-3x slower.
RENDER_NICENESS = 2


@dataclass(frozen=True)
class Rendered:
    """A finished picture and what it was cast from. `serial` orders requests; `reduction` is
    1 when every voxel was cast, else the block size of the averaged copy; `visibly_reduced`:
    that copy's voxels are wider than the picture's pixels (a view should say so)."""

    serial: int
    state: SceneState
    picture: np.ndarray
    reduction: int
    visibly_reduced: bool
    image_sample_distance: float
    opengl_renderer: str
    seconds: float


class RenderThread(QObject):
    """Renders `volume` on a thread of its own. `request(state)` returns the request's serial;
    `rendered(Rendered)` and `failed(serial, reason)` arrive on the thread this object lives on."""

    rendered = Signal(object)
    failed = Signal(int, str)  # the request's serial, the reason

    def __init__(self, volume: Volume, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.volume = volume
        self._wake = threading.Condition()
        self._waiting: tuple[int, SceneState] | None = None
        self._serial = 0
        self._running: tuple[int, SceneState] | None = None
        self._closing = False
        self.abandoned = 0  # settled renders stopped because a newer request came
        self._thread = threading.Thread(target=self._run, name="render3d", daemon=True)
        self._thread.start()

    def request(self, state: SceneState) -> int:
        with self._wake:
            self._serial += 1
            self._waiting = (self._serial, state)
            self._wake.notify()
            return self._serial

    @property
    def busy(self) -> bool:
        """A render is running or waiting."""
        with self._wake:
            return self._running is not None or self._waiting is not None

    def close(self) -> None:
        """Stop: abandon the render under way, free the scene (on its own thread)."""
        with self._wake:
            self._closing = True
            self._waiting = None
            self._wake.notify()
        self._thread.join(CLOSE_WAIT_S)
        if self._thread.is_alive():
            LOGGER.warning("the 3D render thread did not stop within %.0f s", CLOSE_WAIT_S)

    def _should_abort(self) -> bool:
        # Asked by VTK from inside a render, on the render thread.
        with self._wake:
            running = self._running
            return self._closing or (running is not None and not running[1].interacting
                                     and self._waiting is not None)

    def _emit(self, signal: SignalInstance, *args: object) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the view went away while this picture was cast
            pass

    def _run(self) -> None:
        from viewer.volume.render3d import Scene3D

        _lower_priority(RENDER_NICENESS)
        scene: Scene3D | None = None
        renderer = ""
        try:
            while True:
                with self._wake:
                    while self._waiting is None and not self._closing:
                        self._wake.wait()
                    if self._closing:
                        return
                    assert self._waiting is not None
                    self._running, self._waiting = self._waiting, None
                serial, state = self._running
                start = time.perf_counter()
                try:
                    if scene is None:
                        scene = Scene3D(self.volume, state.mode, state.preset, size=state.size)
                        scene.abort_when(self._should_abort)
                    scene.apply(state)
                    scene.update_volume()
                    picture = scene.render()
                    if scene.aborted:
                        self.abandoned += 1
                        continue
                    if not renderer:
                        renderer = scene.opengl_renderer()
                    result = Rendered(serial, state, picture, scene.reduction,
                                      scene.visibly_reduced,
                                      float(scene.mapper.GetImageSampleDistance()), renderer,
                                      time.perf_counter() - start)
                except (RuntimeError, ValueError, MemoryError) as error:
                    LOGGER.warning("3D rendering failed: %s", error)
                    self._emit(self.failed, serial, str(error))
                    continue
                finally:
                    with self._wake:
                        self._running = None
                self._emit(self.rendered, result)
        finally:
            if scene is not None:
                scene.close()


def _lower_priority(niceness: int) -> None:
    """Raise this thread's nice value by `niceness` (Linux: per thread, and inherited by the
    threads VTK starts from it); elsewhere, or when refused, the priority stays."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
    except OSError as error:
        LOGGER.debug("could not lower the render thread's priority: %s", error)
