"""The only place that turns core callbacks (decode pool futures) into Qt signals."""

from __future__ import annotations

from concurrent.futures import Future
from functools import partial

from PySide6.QtCore import QObject, Signal

from viewer.decode.pool import DecodePool
from viewer.decode.requests import Frame, FrameRequest


class FrameBridge(QObject):
    """Submits frame requests to the pool; `frame_ready`/`frame_failed` arrive on the GUI thread.

    Each viewport cancels its own futures when it moves on (a generation shared by all
    viewports would let one viewport's scrolling cancel another's visible frame).
    """

    frame_ready = Signal(object, object)  # FrameRequest, Frame
    frame_failed = Signal(object, str)  # FrameRequest, reason

    def __init__(self, pool: DecodePool) -> None:
        super().__init__()
        self.pool = pool

    def request(self, requests: list[FrameRequest]) -> list[Future[Frame]]:
        futures = self.pool.submit_many(requests)
        for request, future in zip(requests, futures, strict=True):
            future.add_done_callback(partial(self._done, request))
        return futures

    def _done(self, request: FrameRequest, future: Future[Frame]) -> None:
        # Runs on the pool's thread: only emit; Qt queues the signal to the GUI thread.
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.frame_ready.emit(request, future.result())
        else:
            self.frame_failed.emit(request, str(error))
