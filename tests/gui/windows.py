"""The reading window on files, for the GUI tests: decoded by a real pool, shown offscreen."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from viewer.decode.cache import FrameCache
from viewer.decode.pool import DecodePool
from viewer.dicom.stack import build_stacks
from viewer.gui.app import MainWindow
from viewer.gui.bridge import FrameBridge


@contextmanager
def reading_window(qtbot: Any, paths: list[Path], series: int,
                   cache_bytes: int = 64 << 20) -> Iterator[MainWindow]:
    """A 900x700 reading window on `paths` (which must make `series` stacks, without errors),
    once everything shown is decoded; its decode pool is closed afterwards."""
    stacks, errors = build_stacks(paths)
    assert not errors and len(stacks) == series
    pool = DecodePool(1, cache=FrameCache(cache_bytes))
    try:
        main = MainWindow(stacks, (1, 1), FrameBridge(pool))
        qtbot.addWidget(main)
        main.resize(900, 700)
        main.show()
        qtbot.waitUntil(main.all_loaded, timeout=20000)
        yield main
    finally:
        pool.close()
