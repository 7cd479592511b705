"""Faults of the Qt bindings themselves that would crash the viewer after a while of use."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter, QPen  # noqa: E402


def test_painting_keeps_none_alive(qapp) -> None:  # type: ignore[no-untyped-def]
    """PySide6 6.12.0 dropped a reference to None on every QPainter.setPen(): the process
    aborted with 'deallocating None' after some thousand repaints (pyproject pins it out)."""
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    try:
        before = sys.getrefcount(None)
        for _ in range(2000):
            painter.setPen(QPen(QColor(255, 220, 0), 1.5))
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(QPointF(2, 12), "W: 400 L: 40")
        assert sys.getrefcount(None) >= before
    finally:
        painter.end()
