"""The main window. Until the study browser lands it shows the given files, or the demo study."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QGridLayout, QMainWindow, QMessageBox, QWidget

from viewer.decode.cache import FrameCache
from viewer.decode.pool import DecodePool
from viewer.dicom.stack import Stack
from viewer.gui.bridge import FrameBridge
from viewer.gui.viewport import Viewport

LOGGER = logging.getLogger(__name__)
CACHE_BUDGET = 1 << 30  # 1 GiB of decoded frames


class MainWindow(QMainWindow):
    def __init__(self, stacks: list[Stack], layout: tuple[int, int], bridge: FrameBridge) -> None:
        super().__init__()
        self.setWindowTitle("dicom-viewer")
        columns, rows = layout
        grid = QGridLayout()
        grid.setSpacing(2)
        self.viewports: list[Viewport] = []
        for n in range(columns * rows):
            stack = stacks[n] if n < len(stacks) else None
            title = stack.description if stack else ""
            viewport = Viewport(stack, bridge, title)
            grid.addWidget(viewport, n // columns, n % columns)
            self.viewports.append(viewport)
        central = QWidget()
        central.setLayout(grid)
        central.setStyleSheet("background: #202020;")
        self.setCentralWidget(central)
        self.resize(1024, 800)

    def all_loaded(self) -> bool:
        return all(v.loaded for v in self.viewports)


def run_viewer(
    stacks: list[Stack],
    layout: tuple[int, int],
    screenshot: Path | None = None,
    problems: list[str] | None = None,
    timeout_s: float = 60.0,
) -> int:
    """Open the window on `stacks`; with `screenshot`, save the window once shown and exit."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    pool = DecodePool(cache=FrameCache(CACHE_BUDGET))
    try:
        bridge = FrameBridge(pool)
        window = MainWindow(stacks, layout, bridge)
        window.show()
        if problems and screenshot is None:
            QMessageBox.warning(window, "dicom-viewer", "\n".join(problems[:20]))
        if screenshot is not None:
            return _screenshot_when_loaded(app, window, screenshot, timeout_s)
        return int(app.exec())
    finally:
        pool.close()


def _screenshot_when_loaded(
    app: QApplication, window: MainWindow, out: Path, timeout_s: float
) -> int:
    waited = {"ms": 0}
    result = {"code": 0}

    def poll() -> None:
        waited["ms"] += 50
        if window.all_loaded() or waited["ms"] > timeout_s * 1000:
            if not window.all_loaded():
                LOGGER.warning("screenshot taken before every viewport was decoded")
                result["code"] = 1
            app.processEvents()
            if not window.grab().save(str(out), "PNG"):
                print(f"{out}: cannot write the screenshot", file=sys.stderr)
                result["code"] = 2
            app.quit()
        else:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)
    app.exec()
    return result["code"]
