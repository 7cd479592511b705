"""A progress line on stderr, only when stderr is a terminal (CLI.md)."""

from __future__ import annotations

import sys
import time


class TerminalProgress:
    """Callable as a `viewer.jobs.ProgressCallback`; redraws at most ten times a second."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._enabled = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int, item: str = "") -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = width * done // total if total else width
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{self._label} [{bar}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
