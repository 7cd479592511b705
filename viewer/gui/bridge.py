"""The only place that turns core callbacks (decode pool futures, a DICOMweb study streaming
in) into Qt signals."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from viewer.decode.pool import DecodePool
from viewer.decode.requests import Frame, FrameRequest

# Held requests below this priority (the visible frames, their neighbours, the thumbnails) are
# fetched alone, at once; the background load (viewport.BACKGROUND_PRIORITY and after) comes
# with the stream's bulk retrieve anyway, and fetching it alone as well would send it twice.
URGENT_BELOW = 1000


class FrameBridge(QObject):
    """Submits frame requests to the pool; `frame_ready`/`frame_failed` arrive on the GUI thread.

    Each viewport cancels its own futures when it moves on (a generation shared by all
    viewports would let one viewport's scrolling cancel another's visible frame).

    A study opened from a DICOMweb node shows frames whose files are still on their way:
    while `pending(path)` says so, a request for it is held (its future waits; cancelling it
    drops it) and `wanted` is told the held paths, most wanted (lowest priority number) first,
    so that the instance of the visible slice is fetched next (those below URGENT_BELOW only);
    `arrived(path)` hands the held
    requests to the pool, `give_up(reason)` fails them.
    """

    frame_ready = Signal(object, object)  # FrameRequest, Frame
    frame_failed = Signal(object, str)  # FrameRequest, reason
    _held_changed = Signal()  # from any thread: a held future ended

    def __init__(self, pool: DecodePool) -> None:
        super().__init__()
        self.pool = pool
        self.pending: Callable[[str], bool] | None = None
        self.wanted: Callable[[list[str]], None] | None = None
        self._held: dict[str, list[tuple[FrameRequest, Future[Frame]]]] = {}
        self._rewant = QTimer(self)  # once per event-loop turn, however many requests moved
        self._rewant.setSingleShot(True)
        self._rewant.setInterval(0)
        self._rewant.timeout.connect(self._tell_wanted)
        # A held future ends on the thread that ends it (the pool's, for one handed on): the
        # timer is started on the GUI thread.
        self._held_changed.connect(self._rewant.start, Qt.ConnectionType.QueuedConnection)

    def request(self, requests: list[FrameRequest]) -> list[Future[Frame]]:
        pending = self.pending
        held = {id(r) for r in requests if pending is not None and pending(r.path)}
        now = [r for r in requests if id(r) not in held]
        submitted = iter(self.pool.submit_many(now)) if now else iter(())
        futures: list[Future[Frame]] = []
        for request in requests:
            if id(request) in held:
                future: Future[Frame] = Future()
                future.add_done_callback(lambda _f: self._held_changed.emit())
                self._held.setdefault(request.path, []).append((request, future))
            else:
                future = next(submitted)
            future.add_done_callback(partial(self._done, request))
            futures.append(future)
        if held:
            self._rewant.start()
        return futures

    def arrived(self, path: str) -> None:
        """The file of `path` is in the store: its held requests go to the pool."""
        waiting = [(r, f) for r, f in self._held.pop(path, []) if not f.cancelled()]
        if not waiting:
            return
        real = self.pool.submit_many([r for r, _ in waiting])
        for (_, proxy), future in zip(waiting, real, strict=True):
            future.add_done_callback(partial(_forward, proxy))
            proxy.add_done_callback(partial(_cancel_with, future))

    def give_up(self, reason: str) -> None:
        """Nothing more will arrive: every held request fails with `reason`."""
        held, self._held = self._held, {}
        for entries in held.values():
            for _, future in entries:
                if future.set_running_or_notify_cancel():
                    future.set_exception(RuntimeError(reason))

    def stop_holding(self) -> None:
        """No study is streaming any more: drop what is held (its viewports are gone)."""
        self.pending = self.wanted = None
        held, self._held = self._held, {}
        for entries in held.values():
            for _, future in entries:
                future.cancel()

    def _tell_wanted(self) -> None:
        if self.wanted is None:
            return
        best: dict[str, int] = {}
        for path, entries in list(self._held.items()):
            live = [r.priority for r, f in entries if not f.cancelled()]
            if not live:
                del self._held[path]
            elif min(live) < URGENT_BELOW:
                best[path] = min(live)
        self.wanted(sorted(best, key=best.__getitem__))

    def _done(self, request: FrameRequest, future: Future[Frame]) -> None:
        # Runs on the pool's thread: only emit; Qt queues the signal to the GUI thread.
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.frame_ready.emit(request, future.result())
        else:
            self.frame_failed.emit(request, str(error))


def _forward(proxy: Future[Frame], future: Future[Frame]) -> None:
    """The pool's answer to a held request, into the future its viewport holds."""
    if future.cancelled() or not proxy.set_running_or_notify_cancel():
        return
    error = future.exception()
    if error is None:
        proxy.set_result(future.result())
    else:
        proxy.set_exception(error)


def _cancel_with(future: Future[Frame], proxy: Future[Frame]) -> None:
    """The viewport gave up a held request: so does the pool."""
    if proxy.cancelled():
        future.cancel()


class StreamSignals(QObject):
    """A DICOMweb study streaming in (viewer.net.web.progressive.StudyStream), its callbacks
    as signals on the GUI thread."""

    head = Signal(str)  # the path of the first instance's file
    layout = Signal(object)  # StudyLayout
    arrived = Signal(str)  # the path of an instance's file
    finished = Signal(object)  # StreamOutcome
