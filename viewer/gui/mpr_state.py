"""The MPR views' shared state on the GUI thread: one `MprState` (Qt-free, viewer.volume.navigation)
and the volume it navigates, with a signal when either changes.

Views write through the setters and redraw on `changed`; they never talk to each other. The
volume may still be filling: `volume_filled()` may be called from any thread (the volume
loader calls back from the decode pool's thread) and reaches the views through a queued signal.
While the user drags (`interacting`), views reslice coarsely; `SETTLE_MS` after the last
movement they redraw at full quality.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

from viewer.volume.model import SlabMode, Volume
from viewer.volume.navigation import MprState

SETTLE_MS = 150
FRAME_MS = 16  # state changes reach the views at most once per screen refresh (60 Hz)
RESLICE_THREADS = 2  # numpy and the C reslice kernels release the GIL; the machine has two cores


@dataclass(frozen=True, eq=False)
class Fusion:
    """A second volume over the MPR planes (viewer.volume.fusion): its window [low, high] in
    SUVbw when `suv` (else its modality units), colour map and opacity (0..1, linear)."""

    overlay: Volume
    low: float
    high: float
    colormap: str = "hot-iron"
    opacity: float = 0.5
    suv: bool = False

    def key(self) -> tuple[object, ...]:
        return (id(self.overlay), self.overlay.revision, self.low, self.high, self.colormap,
                self.opacity, self.suv)


LARGE_BUFFER_BYTES = 1 << 20
M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc malloc.h)


def return_large_buffers_to_the_system() -> None:
    """Make glibc serve allocations of LARGE_BUFFER_BYTES or more with their own mappings, so
    that freeing one gives its memory back at once.

    Why: every picture an MPR view draws passes through a few plane-sized temporaries (values,
    the display pipeline's float steps) on the reslice threads. glibc's default threshold
    grows after each large free, after which such buffers come from the threads' heap arenas
    and stay there: with the layout open on a 500 MiB volume the process kept 153 MiB more
    than before it opened (numpy reslice, 3 s of drags); with a fixed 1 MiB threshold, 39 MiB.
    Only glibc has mallopt; elsewhere nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES)
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return


class MprController(QObject):
    changed = Signal()  # the state, the volume's contents or the quality changed
    _filled = Signal()  # from any thread, queued to the GUI thread

    def __init__(self, volume: Volume) -> None:
        super().__init__()
        return_large_buffers_to_the_system()
        self.volume = volume
        self.state = MprState.centred(volume)
        self.interacting = False
        self.fusion: Fusion | None = None
        # The volume loader's per-frame failures (one line each, naming the file), if any.
        self.load_errors: Callable[[], list[str]] = list
        # Whether slices are still to come (the loader knows: a failed slice never fills).
        self.loading: Callable[[], bool] = lambda: not self.volume.complete
        self.executor = ThreadPoolExecutor(RESLICE_THREADS, thread_name_prefix="mpr-reslice")
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._settled)
        # A mouse reports moves at 125 Hz or more: the views follow at most once per frame,
        # with the latest state, and the event loop stays free in between.
        self._coalesce = QTimer(self)
        self._coalesce.setSingleShot(True)
        self._coalesce.timeout.connect(self._emit)
        self._last_emit = QElapsedTimer()
        self._filled.connect(self._schedule, Qt.ConnectionType.QueuedConnection)

    # -- writers --------------------------------------------------------------------------
    def set_state(self, state: MprState, interacting: bool = False) -> None:
        """The new state; `interacting`: part of a drag or scroll burst (coarse until it
        settles)."""
        self.state = state
        if interacting:
            self.interacting = True
            self._settle.start()
        self._schedule()

    @property
    def pending(self) -> bool:
        """A change not yet passed to the views."""
        return self._coalesce.isActive()

    def _schedule(self) -> None:
        if self._coalesce.isActive():
            return
        since = self._last_emit.elapsed() if self._last_emit.isValid() else FRAME_MS
        self._coalesce.start(max(0, FRAME_MS - int(since)))

    def _emit(self) -> None:
        self._last_emit.start()
        self.changed.emit()

    def step(self, index: int, steps: float) -> None:
        self.set_state(self.state.stepped(index, steps, self.volume), interacting=True)

    def set_slab(self, thickness_mm: float, mode: SlabMode) -> None:
        self.set_state(replace(self.state, slab=max(0.0, float(thickness_mm)), mode=mode))

    def set_window(self, center: float, width: float, interacting: bool = False) -> None:
        self.set_state(replace(self.state, window=(center, max(width, 1.0))), interacting)

    def set_fusion(self, fusion: Fusion | None, interacting: bool = False) -> None:
        """Fuse (or stop fusing) a second volume over every plane."""
        self.fusion = fusion
        if interacting:
            self.interacting = True
            self._settle.start()
        self._schedule()

    def reset_window(self) -> None:
        """The volume's own window (its first frame's)."""
        self.set_state(replace(self.state, window=None))

    def toggle_invert(self) -> None:
        self.set_state(replace(self.state, invert=not self.state.invert))

    def window(self) -> tuple[float, float] | None:
        return self.state.window or self.volume.window

    def reset(self) -> None:
        self.set_state(self.state.reset(self.volume))

    def end_interaction(self) -> None:
        """A drag ended: full quality at once."""
        self._settle.stop()
        self._settled()

    def volume_filled(self, _volume: object = None) -> None:
        """More slices arrived (any thread): redraw."""
        self._filled.emit()

    def close(self) -> None:
        self._settle.stop()
        self._coalesce.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _settled(self) -> None:
        if self.interacting:
            self.interacting = False
            self._schedule()
