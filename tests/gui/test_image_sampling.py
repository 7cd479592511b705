"""The viewport's image item samples the picture itself (nearest neighbour at device pixel
centres, imageview.ImageItem) instead of letting Qt scale, turn or mirror it: every device
pixel must be the one Qt's own drawImage of the picture gives, for scales up and down,
quarter turns, mirrors, fractional and whole-pixel shifts, pictures partly off the device and
RGB pictures.

Ties included: device pixel centres exactly on the edge between two image pixels (x2: every
other one; x3.3 and x0.37: some, up to Qt's fixed-point rounding) and image edges exactly on
device pixel centres (x1 half-pixel shift, x0.5).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QImage, QPainter, QTransform  # noqa: E402
from PySide6.QtWidgets import QStyleOptionGraphicsItem  # noqa: E402

from viewer.gui.imageview import ImageItem, wrap_qimage  # noqa: E402

WIDTH, HEIGHT = 300, 220


def _placed(turns: int, mirror: bool, zoom: float, dx: float, dy: float,
            rows: int, columns: int) -> QTransform:
    t = QTransform()  # as Viewport._apply_transform and the camera: turn, mirror, zoom, pan
    t.translate(dx, dy)
    t.scale(zoom, zoom)
    t.translate(columns / 2, rows / 2)
    t.scale(-1 if mirror else 1, 1)
    t.rotate(90 * turns)
    t.translate(-columns / 2, -rows / 2)
    return t


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    return np.frombuffer(image.constBits(), np.uint32).reshape(HEIGHT, -1)[:, :WIDTH].copy()


def _qt(picture: np.ndarray, transform: QTransform) -> np.ndarray:
    device = QImage(WIDTH, HEIGHT, QImage.Format.Format_RGB32)
    device.fill(0)
    painter = QPainter(device)
    painter.setWorldTransform(transform)
    painter.drawImage(QRectF(0, 0, picture.shape[1], picture.shape[0]), wrap_qimage(picture))
    painter.end()
    return _pixels(device)


def _item(item: ImageItem, transform: QTransform) -> np.ndarray:
    device = QImage(WIDTH, HEIGHT, QImage.Format.Format_RGB32)
    device.fill(0)
    painter = QPainter(device)
    painter.setWorldTransform(transform)
    item.paint(painter, QStyleOptionGraphicsItem(), None)
    painter.end()
    return _pixels(device)


PLACEMENTS = {  # (zoom, dx, dy)
    "x8/7 displayed area": (8 / 7, -36.571428571428555, -20.25),
    "x1 whole pixels": (1.0, 7.0, -13.0),
    "x1 fractional shift": (1.0, 7.4, -13.6),
    "x1 half-pixel shift": (1.0, 7.5, -13.5),
    "x3.3 partly off": (3.3, -150.3, -40.7),
    "x0.37 shrunk": (0.37, 12.2, 5.9),
    "x2 centres on edges": (2.0, 0.5, -3.5),
    "x0.5 edges on centres": (0.5, 20.5, 9.5),
    "x1.9 off the left": (1.9, -400.0, 3.0),
}


@pytest.mark.parametrize("colour", [False, True], ids=["grey", "rgb"])
@pytest.mark.parametrize("placement", list(PLACEMENTS))
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
@pytest.mark.parametrize("mirror", [False, True], ids=["", "mirrored"])
def test_same_pixels_as_qt(qtbot: Any, placement: str, turns: int, mirror: bool,
                           colour: bool) -> None:
    rows, columns = 151, 203
    shape = (rows, columns, 3) if colour else (rows, columns)
    picture = np.random.default_rng(turns).integers(0, 256, shape, dtype=np.uint8)
    transform = _placed(turns, mirror, *PLACEMENTS[placement], rows, columns)
    item = ImageItem()
    item.set_image(picture)
    expected = _qt(picture, transform)
    assert np.array_equal(_item(item, transform), expected)
    assert np.array_equal(_item(item, transform), expected)  # again, from what it kept
    shown = picture[::-1].copy()  # the next frame of a scroll: same placement, new pixels
    item.set_image(shown)
    assert np.array_equal(_item(item, transform), _qt(shown, transform))

