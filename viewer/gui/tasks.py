"""Core jobs off the GUI thread: imports, deletes, thumbnails.

A job is a Qt-free callable `fn(progress, cancel) -> result` (viewer.jobs). `TaskRunner.start`
runs it on a thread pool and returns a `Task` whose signals (progress, succeeded, failed,
cancelled, finished) are emitted on the GUI thread, whatever thread the job runs on: the worker
only queues events to the Task, which re-emits them from the thread it lives in. Progress is
throttled in the worker (at most one update per PROGRESS_INTERVAL_S, plus the last one), so a
job reporting every file cannot flood the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal, Slot

from viewer.jobs import Cancelled, CancelToken, ProgressCallback

LOGGER = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress updates per second reach the GUI
DEFAULT_THREADS = 3  # jobs mostly wait on the disk: one import, one delete, thumbnails

Job = Callable[[ProgressCallback, CancelToken], Any]


class Task(QObject):
    """One job submitted to a TaskRunner. Signals arrive on the GUI thread; exactly one of
    succeeded / failed / cancelled is emitted, then finished."""

    progress = Signal(int, int, str)  # done, total, label
    succeeded = Signal(object)  # the job's return value
    failed = Signal(str)  # the error text (never a traceback)
    cancelled = Signal()
    finished = Signal()

    # Emitted from the worker thread, delivered (queued) to the slots below on our thread.
    _progress_from_worker = Signal(int, int, str)
    _end_from_worker = Signal(str, object)  # outcome ("ok" | "failed" | "cancelled"), payload

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.token = CancelToken()
        self.outcome = ""  # "", then "ok", "failed" or "cancelled" once finished
        self.result: Any = None
        self.error = ""
        self.dropped = False  # its runner shut down: what the job still reports is not delivered
        queued = Qt.ConnectionType.QueuedConnection
        self._progress_from_worker.connect(self._deliver_progress, queued)
        self._end_from_worker.connect(self._deliver_end, queued)

    @property
    def running(self) -> bool:
        return not self.outcome

    def cancel(self) -> None:
        """Ask the job to stop; it does so at its next check of the CancelToken."""
        self.token.cancel()

    @Slot(int, int, str)
    def _deliver_progress(self, done: int, total: int, label: str) -> None:
        if self.running and not self.dropped:
            self.progress.emit(done, total, label)

    @Slot(str, object)
    def _deliver_end(self, outcome: str, payload: object) -> None:
        self.outcome = outcome
        if self.dropped:  # its handlers may use what is closed by now (the archive)
            return
        if outcome == "ok":
            self.result = payload
            self.succeeded.emit(payload)
        elif outcome == "cancelled":
            self.cancelled.emit()
        else:
            self.error = str(payload)
            self.failed.emit(self.error)
        self.finished.emit()


class _Throttle:
    """A ProgressCallback for the worker: forwards the first call, then at most one per
    interval; `flush` sends the last one if it was held back (the bar ends at its end)."""

    def __init__(self, emit: Callable[[int, int, str], None], interval_s: float) -> None:
        self._emit = emit
        self._interval = interval_s
        self._last_sent = -float("inf")
        self._held: tuple[int, int, str] | None = None

    def __call__(self, done: int, total: int, label: str) -> None:
        now = time.monotonic()
        if now - self._last_sent >= self._interval:
            self._last_sent = now
            self._held = None
            self._emit(done, total, label)
        else:
            self._held = (done, total, label)

    def flush(self) -> None:
        if self._held is not None:
            self._emit(*self._held)
            self._held = None


class TaskRunner(QObject):
    """Runs jobs on its own QThreadPool; create it and call `start` on the GUI thread."""

    def __init__(self, threads: int = DEFAULT_THREADS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._active: list[Task] = []  # keeps running Tasks alive until they finish

    def start(self, fn: Job, name: str = "", priority: int = 0) -> Task:
        """Run `fn(progress, cancel)` on a pool thread; higher `priority` starts first among
        queued jobs. Connect to the returned Task's signals before control returns to the
        event loop (they are queued, so none is missed)."""
        task = Task(name or getattr(fn, "__name__", "task"), self)
        self._active.append(task)
        task.finished.connect(lambda: self._forget(task))
        self._pool.start(lambda: _run(fn, task), priority)
        return task

    def active(self) -> list[Task]:
        """Tasks started and not yet finished (as seen on the GUI thread)."""
        return list(self._active)

    def cancel_all(self) -> None:
        for task in self._active:
            task.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every job has returned (their signals may still be queued)."""
        return bool(self._pool.waitForDone(timeout_ms))

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every job and wait for them: call before closing the archive they use.
        Their results, still queued for the event loop, are dropped: a handler run after the
        window closed would touch a closed archive."""
        self.cancel_all()
        done = self.wait(timeout_ms)
        for task in self._active:  # kept alive: a job past the timeout still reports to it
            task.dropped = True
        return done

    def _forget(self, task: Task) -> None:
        if task in self._active:
            self._active.remove(task)
        task.deleteLater()


def _run(fn: Job, task: Task) -> None:
    """The worker side: run the job, report through the Task's queued signals."""
    throttle = _Throttle(task._progress_from_worker.emit, PROGRESS_INTERVAL_S)
    outcome, payload = "failed", "interrupted"  # unless the job returns or raises Exception
    try:
        task.token.raise_if_cancelled()  # cancelled while still queued
        payload = fn(throttle, task.token)
        outcome = "ok"
    except Cancelled:
        outcome = "cancelled"
    except Exception as exc:
        # The user sees the message; the traceback only goes to the debug log.
        LOGGER.warning("task %r failed: %s", task.name, type(exc).__name__)
        LOGGER.debug("task %r failed", task.name, exc_info=True)
        outcome, payload = "failed", str(exc) or type(exc).__name__
    finally:
        throttle.flush()
        task._end_from_worker.emit(outcome, payload)
