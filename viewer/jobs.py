"""Qt-free job plumbing shared by the GUI and the CLI: progress, cancellation and reports."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class Cancelled(Exception):
    """Raised inside a job when its CancelToken was cancelled."""


class CancelToken:
    """A flag a user sets (Cancel button, Ctrl-C) and a job polls between items."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled


ProgressCallback = Callable[[int, int, str], None]
"""progress(done, total, current item label)."""


def no_progress(done: int, total: int, label: str) -> None:
    """A progress callback that shows nothing."""


@dataclass(frozen=True)
class Failure:
    """One item of a batch that could not be done: the file or peer, and why."""

    item: str
    reason: str


@dataclass
class Report:
    """What a batch job did: items done, and failures with their reasons."""

    done: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    def fail(self, item: str, reason: str) -> None:
        self.failed.append(Failure(item, reason))

    @property
    def ok(self) -> bool:
        return not self.failed
