"""A TaskRunner shut down (the window closing) delivers nothing more: a job's result still
queued for the event loop would otherwise reach a handler after the archive it reads closed
(the PACS tab's series answer did: sqlite3.ProgrammingError on a closed database)."""

from __future__ import annotations

import threading
from typing import Any

from viewer.gui.tasks import TaskRunner
from viewer.jobs import CancelToken, ProgressCallback


def test_results_queued_at_shutdown_are_dropped(qtbot: Any) -> None:
    runner = TaskRunner(2)
    started = threading.Event()
    delivered: list[str] = []

    def job(progress: ProgressCallback, cancel: CancelToken) -> str:
        started.set()
        progress(1, 2, "half")
        return "answer"  # ignores the cancel: its result is queued all the same

    task = runner.start(job)
    for signal in ("progress", "succeeded", "failed", "cancelled", "finished"):
        getattr(task, signal).connect(lambda *_a, name=signal: delivered.append(name))
    assert started.wait(10)
    assert runner.shutdown(10_000)  # the job has returned; its signals wait in the queue
    qtbot.wait(50)  # the event loop runs them
    assert delivered == []


def test_before_shutdown_results_arrive(qtbot: Any) -> None:
    runner = TaskRunner(1)
    task = runner.start(lambda progress, cancel: 42)
    with qtbot.waitSignal(task.succeeded, timeout=10_000) as got:
        pass
    assert got.args == [42]
    qtbot.wait(20)  # its finished and the runner's clean-up run
    assert runner.active() == []
    runner.shutdown()
