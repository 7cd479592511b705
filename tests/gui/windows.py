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


@contextmanager
def archive_study_window(qtbot: Any, root: Path, study_uid: str, slices: int,
                         width: int = 900) -> Iterator[MainWindow]:
    """A `width`x700 reading window on the archive at `root`, with `study_uid` opened as the
    browser opens it, once its first viewport holds all `slices` frames and everything shown is
    decoded; its task runner and decode pool are shut down afterwards."""
    from viewer.archive.archive import Archive
    from viewer.gui.tasks import TaskRunner

    pool = DecodePool(1, cache=FrameCache(64 << 20))
    tasks = TaskRunner()
    try:
        with Archive(root) as archive:
            main = MainWindow([], None, FrameBridge(pool), archive, tasks=tasks)
            qtbot.addWidget(main)
            main.resize(width, 700)
            main.show()
            main.open_study(study_uid)
            qtbot.waitUntil(lambda: main.all_loaded() and main.reading.viewports[0].frame_count
                            == slices, timeout=20000)
            yield main
            main.close()
    finally:
        tasks.shutdown()
        pool.close()
