"""A turned or mirrored picture (a presentation state's rotation and flip, the user's): every
image pixel lands on screen where the image item's transform puts it (what the presentation
tests' positions rely on), for all eight quarter turns and mirrors, with non-square pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtGui import QTransform  # noqa: E402

from viewer.gui.imageview import ImageView  # noqa: E402

ROWS, COLUMNS = 6, 9


@pytest.mark.parametrize("aspect", [1.0, 1.5])
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
@pytest.mark.parametrize("mirror", [False, True])
def test_every_pixel_where_the_transform_puts_it(qtbot: Any, turns: int, mirror: bool,
                                                 aspect: float) -> None:
    picture = np.random.default_rng(turns).integers(0, 256, (ROWS, COLUMNS), dtype=np.uint8)
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(420, 360)
    view.show()
    view.image.set_image(picture)
    cx, cy = COLUMNS / 2, ROWS * aspect / 2
    t = QTransform()  # as Viewport._apply_transform: turn, then mirror, rows stretched
    t.translate(cx, cy)
    t.scale(-1 if mirror else 1, 1)
    t.rotate(90 * turns)
    t.translate(-cx, -cy)
    t.scale(1, aspect)
    view.image.setTransform(t)
    view.fit_image()
    shot = view.viewport().grab().toImage()
    for row in range(ROWS):
        for column in range(COLUMNS):
            scene = view.image.mapToScene(QPointF(column + 0.5, row + 0.5))
            where = view.mapFromScene(scene)
            grey = shot.pixelColor(where.x(), where.y()).red()
            assert grey == picture[row, column], (row, column)
