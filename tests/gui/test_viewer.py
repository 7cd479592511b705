"""The viewer window, offscreen, driven with real key, wheel and mouse events (pytest-qt)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402

from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.dicom.stack import build_stacks  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_ct_series(tmp_path_factory.mktemp("ct"), slices=12, rows=128, columns=128)


@pytest.fixture
def window(qtbot, series: list[Path]) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major")
    stacks, errors = build_stacks(series)
    assert not errors and len(stacks) == 1
    pool = DecodePool(1, cache=FrameCache(64 << 20))
    main = MainWindow(stacks, (1, 1), FrameBridge(pool))
    qtbot.addWidget(main)
    main.show()
    qtbot.waitUntil(main.all_loaded, timeout=20000)
    yield main
    pool.close()


def test_slices_in_anatomical_order(series: list[Path]) -> None:
    stacks, _ = build_stacks(reversed(series))
    assert [Path(p).name for p, _ in stacks[0].frames] == [p.name for p in series]


def test_keyboard_and_wheel_scroll(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    viewport = window.viewports[0]
    first = viewport.frame
    assert first is not None and viewport.position == 0
    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: viewport.frame is not None and viewport.frame.key != first.key)
    assert viewport.position == 1
    qtbot.keyClick(viewport, Qt.Key.Key_End)
    assert viewport.position == 11
    assert viewport.stack is not None
    last = viewport.stack.frames[11]
    qtbot.waitUntil(lambda: viewport.frame is not None and viewport.frame.key == last)
    qtbot.keyClick(viewport, Qt.Key.Key_Home)
    assert viewport.position == 0
    assert "Image 1 / 12" in viewport.label.text()


def test_right_drag_changes_window_level(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    viewport = window.viewports[0]
    widget = viewport.view.viewport()
    before = viewport.image.image.copy()
    start = widget.rect().center()
    qtbot.mousePress(widget, Qt.MouseButton.RightButton, pos=start)
    qtbot.mouseMove(widget, start + QPoint(80, 40))
    qtbot.mouseRelease(widget, Qt.MouseButton.RightButton, pos=start + QPoint(80, 40))
    assert viewport.state.window is not None
    center, width = viewport.state.window
    assert (center, width) != (40.0, 400.0) and width > 400  # dragged right: wider
    assert not np.array_equal(before, viewport.image.image)
    assert f"W {width:.0f}" in viewport.label.text()


def test_file_window_is_the_default(window: MainWindow) -> None:
    viewport = window.viewports[0]
    assert viewport.frame is not None
    first = viewport.frame.info.windows[0]
    assert (first.center, first.width) == (40.0, 400.0)
    assert "W 400  L 40" in viewport.label.text()


def test_view_screenshot_subprocess(tmp_path: Path, series: list[Path]) -> None:
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "view", str(series[0].parent), "--screenshot", str(shot)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    picture = np.asarray(Image.open(shot).convert("L"))
    assert picture.shape[0] > 200 and picture.shape[1] > 200
    assert picture.std() > 10  # the CT is drawn, not an empty black window
