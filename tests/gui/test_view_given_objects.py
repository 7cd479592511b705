"""`dicom-viewer view PATH` on a folder holding images and the objects made for them, outside
any archive (issue 17, gap 1): the images with the SEG drawn over them, the SR in its report
panel (its region on its image), the presentation state listed and applied; an SR alone opens
its report; a presentation state alone says it needs its images. The screenshot is checked."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from tests.gui.given_objects import BODY, LIVER, GivenFolder, given_folder  # noqa: E402
from tests.gui.test_report_panel import _region_items  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.files import files_under  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.launch import Given, gather  # noqa: E402
from viewer.gui.viewport import Viewport  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> GivenFolder:
    return given_folder(tmp_path_factory.mktemp("given") / "folder")


@pytest.fixture
def pool() -> Iterator[DecodePool]:
    with DecodePool(1, cache=FrameCache(64 << 20)) as decode:
        yield decode


def _window(qtbot: Any, pool: DecodePool, given: Given) -> MainWindow:
    """The window `view` opens on what `gather` made of the files (no archive here)."""
    main = MainWindow(given.stacks, None, FrameBridge(pool), None,
                      presentations=given.presentations)
    qtbot.addWidget(main)
    main.resize(1100, 700)
    main.show()
    qtbot.waitUntil(main.all_loaded, timeout=20000)
    qtbot.wait(50)  # the queued redraws
    return main


def _colour(viewport: Viewport, x: float, y: float) -> QColor:
    """The colour on screen at the centre of image pixel (column x, row y)."""
    scene = viewport.image.mapToScene(QPointF(x + 0.5, y + 0.5))
    return viewport.view.viewport().grab().toImage().pixelColor(
        viewport.view.mapFromScene(scene))


def test_images_with_the_seg_drawn_the_sr_beside_and_the_state_applied(
        qtbot: Any, pool: DecodePool, folder: GivenFolder) -> None:
    given = gather(files_under(folder.root))
    assert given.problems == []
    assert sorted(s.info.modality for s in given.stacks) == ["CT", "KO", "RTSTRUCT", "SEG", "SR"]
    assert given.presentations is not None
    main = _window(qtbot, pool, given)
    viewport = main.reading.viewports[0]
    assert viewport.stack is not None and viewport.stack.info.modality == "CT"
    # the presentation state given with the images: listed and applied (turned 90 degrees)
    layer = viewport.presentation
    assert layer is not None and layer.applied is not None
    assert layer.applied.listed.label == "GIVEN" and viewport.quarter_turns == 1
    # the SEG drawn over its segment, in its red; outside it, grey; the structure outlined
    # (each overlay file is read on its own task: they open in the order their reads finish)
    assert sorted([e.name for e in o.entries] for o in main.objects.overlays) == [["Body"],
                                                                                  ["Liver"]]
    edge = _colour(viewport, BODY[0][0], (BODY[0][1] + BODY[2][1]) / 2)  # on its left side
    assert edge.green() > edge.red() + 40 and edge.green() > edge.blue() + 40
    inside = _colour(viewport, (LIVER[1].start + LIVER[1].stop) / 2,
                     (LIVER[0].start + LIVER[0].stop) / 2)
    assert inside.red() > inside.green() + 40 and inside.red() > inside.blue() + 40
    outside = _colour(viewport, 50.0, 50.0)
    assert abs(outside.red() - outside.green()) <= 2
    # the SR in its panel, its region drawn on the image it is on (a file, not in an archive)
    report = main.objects.report_layer
    assert main.objects.report_dock.isVisible() and report is not None
    shown = main.objects.report_panel.report
    assert shown is not None and Path(shown.path) == folder.sr
    on = str(folder.ct.files[0])
    index = viewport.stack.frames.index((on, 0))
    viewport.set_position(index)
    qtbot.waitUntil(lambda: viewport.loaded and viewport.current_key == (on, 0), timeout=10000)
    qtbot.waitUntil(lambda: len(_region_items(viewport)) == 1, timeout=10000)
    main.grab().save(str(folder.root.parent / "given_window.png"))
    main.close()


def test_an_sr_alone_opens_its_report(qtbot: Any, pool: DecodePool, folder: GivenFolder) -> None:
    given = gather([folder.sr])
    assert given.problems == [] and [s.info.modality for s in given.stacks] == ["SR"]
    main = _window(qtbot, pool, given)
    assert main.objects.report_dock.isVisible() and main.objects.report_layer is not None
    assert all(v.stack is None for v in main.reading.viewports)  # nothing to hang
    main.close()


def test_a_key_object_selection_alone_opens_as_a_report(qtbot: Any, pool: DecodePool,
                                                        folder: GivenFolder) -> None:
    main = _window(qtbot, pool, gather([folder.kos]))
    assert main.objects.report_dock.isVisible() and main.objects.report_layer is not None
    main.close()


def _view(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "viewer", *args], capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def _ours(stderr: str) -> list[str]:
    """Our lines on stderr (Qt's offscreen plugin adds its own notes)."""
    return [line for line in stderr.splitlines() if line.startswith("dicom-viewer")]


def test_a_presentation_state_alone_says_it_needs_its_images(tmp_path: Path,
                                                             folder: GivenFolder) -> None:
    given = gather([folder.ps])
    assert given.stacks == [] and len(given.problems) == 1
    assert given.problems[0].startswith(f"{folder.ps}: ")
    assert "open it with its images" in given.problems[0]
    done = _view("--archive", str(tmp_path / "archive"), "view", str(folder.ps))
    assert done.returncode == 2
    assert _ours(done.stderr) == [f"dicom-viewer view: {given.problems[0]}",
                                  "dicom-viewer view: nothing to show"]


def test_view_screenshot_shows_them(tmp_path: Path, folder: GivenFolder) -> None:
    out = tmp_path / "shot.png"
    done = _view("--archive", str(tmp_path / "archive"), "view", str(folder.root),
                 "--screenshot", str(out))
    assert (done.returncode, _ours(done.stderr)) == (0, [])
    picture = np.asarray(Image.open(out).convert("RGB")).astype(int)
    red = (picture[..., 0] > picture[..., 1] + 40) & (picture[..., 0] > picture[..., 2] + 40)
    assert red.sum() > 2000  # the segment, blended over the CT
    rows, columns = np.nonzero(red)
    width = picture.shape[1]
    # the state turned the image 90 degrees clockwise: the segment, top left in the pixel
    # data, is in the viewport's top right, left of the docks on the right
    assert columns.mean() > width * 0.3 and rows.mean() < picture.shape[0] * 0.5
