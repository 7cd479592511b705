"""The only place that turns core callbacks (decode pool futures) into Qt signals."""

from __future__ import annotations

from concurrent.futures import Future
from functools import partial

from PySide6.QtCore import QObject, Signal

from viewer.decode.pool import DecodePool
from viewer.decode.requests import Frame, FrameRequest


class FrameBridge(QObject):
    """Submits frame requests to the pool; `frame_ready`/`frame_failed` arrive on the GUI thread."""

    frame_ready = Signal(object, object)  # FrameRequest, Frame
    frame_failed = Signal(object, str)  # FrameRequest, reason

    def __init__(self, pool: DecodePool) -> None:
        super().__init__()
        self.pool = pool
        self.generation = 0

    def request(self, requests: list[FrameRequest]) -> None:
        for request, future in zip(requests, self.pool.submit_many(requests), strict=True):
            future.add_done_callback(partial(self._done, request))

    def next_generation(self) -> int:
        """A new generation: queued requests of older ones are dropped (the user moved on)."""
        self.generation += 1
        self.pool.cancel_older_than(self.generation)
        return self.generation

    def _done(self, request: FrameRequest, future: Future[Frame]) -> None:
        # Runs on the pool's thread: only emit; Qt queues the signal to the GUI thread.
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.frame_ready.emit(request, future.result())
        else:
            self.frame_failed.emit(request, str(error))
