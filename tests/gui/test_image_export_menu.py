"""The reading window's Export menu (issue 19, item 3), offscreen: the viewport as a PNG equal
to `render`'s with the viewport's window, with its corner texts and measurement burned in when
asked; the series as an MP4 (checked with ffprobe) through a task, cancellable; the clipboard."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from tests.gui.windows import reading_window  # noqa: E402
from tests.peers import require_tool  # noqa: E402
from viewer.cli import main as cli  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.measurements import Kind, Measurement  # noqa: E402

pytestmark = pytest.mark.timeout(300)

SCREENS = Path(os.environ.get("VIEWER_SCREENSHOTS", "/tmp/screens"))
WAIT_MS = 60_000
SLICES = 8


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_ct_series(tmp_path_factory.mktemp("ct"), SLICES, 256, 256,
                           patient_name="TEACHING^CASE")


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def test_viewport_png_and_annotations(qtbot: QtBot, series: list[Path], tmp_path: Path) -> None:
    with reading_window(qtbot, series, 1) as window:
        menu = window.image_export
        titles = [a.text() for a in menu.menu.actions()]
        assert "Viewport as PNG…" in titles and "Series as MP4 video…" in titles
        assert "Copy viewport to clipboard" in titles
        viewport = window.reading.viewports[0]
        viewport.set_position(3)
        viewport.set_window(-600, 1500)
        qtbot.waitUntil(lambda: viewport.loaded, timeout=WAIT_MS)

        # at the image's resolution, upright and fitted: one image pixel per picture pixel
        menu.size_choice.actions()[1].setChecked(True)
        menu.annotate.setChecked(False)
        plain = tmp_path / "plain.png"
        with qtbot.waitSignal(menu.finished, timeout=WAIT_MS):
            menu.export_viewport(viewport, plain, "png")
        rendered = tmp_path / "render.png"
        assert cli(["render", str(series[3]), "--window", "-600", "1500", "-o",
                    str(rendered)]) == 0
        np.testing.assert_array_equal(_pixels(plain), _pixels(rendered))

        # a length drawn on the frame, then exported with the annotations
        key = viewport.current_key
        assert key is not None
        viewport.measurements.add(key, Measurement(Kind.LENGTH, [(30.0, 50.0), (90.0, 50.0)]))
        menu.annotate.setChecked(True)
        annotated = tmp_path / "annotated.png"
        with qtbot.waitSignal(menu.finished, timeout=WAIT_MS):
            menu.export_viewport(viewport, annotated, "png")
        picture = _pixels(annotated)
        assert picture.ndim == 3  # the measurement's yellow made it RGB
        yellow = (picture[..., 0] > 200) & (picture[..., 1] > 180) & (picture[..., 2] < 80)
        assert yellow[50, 32:88].all()  # the length's line, along row 50
        grey = np.repeat(_pixels(rendered)[..., None], 3, axis=2)
        assert (picture[:40, :50] != grey[:40, :50]).any()  # the patient's corner
        SCREENS.mkdir(parents=True, exist_ok=True)
        Image.fromarray(picture).save(SCREENS / "export-viewport-annotated.png")
        menu.menu.popup(window.mapToGlobal(window.rect().center()))
        QApplication.processEvents()
        assert menu.menu.grab().save(str(SCREENS / "export-menu.png"), "PNG")
        menu.menu.hide()

        menu.patient_text.setChecked(False)
        teaching = tmp_path / "teaching.png"
        with qtbot.waitSignal(menu.finished, timeout=WAIT_MS):
            menu.export_viewport(viewport, teaching, "png")
        # of the patient's four lines only "Sex: O" is left: far less text in that corner
        corner = (slice(0, 60), slice(0, 100))
        assert 0 < (_pixels(teaching)[corner] != grey[corner]).sum() < 0.5 * (
            picture[corner] != grey[corner]).sum()

        assert menu.copy_viewport()
        copied = QApplication.clipboard().image()
        assert (copied.width(), copied.height()) == (256, 256)


def test_series_as_mp4_through_a_task(qtbot: QtBot, series: list[Path], tmp_path: Path) -> None:
    ffprobe = require_tool("ffprobe", "ffmpeg")
    with reading_window(qtbot, series, 1) as window:
        menu = window.image_export
        out = tmp_path / "series.mp4"
        with qtbot.waitSignal(menu.finished, timeout=WAIT_MS):
            task = menu.export_series(window.reading.viewports[0], out, "mp4")
            assert task is not None
        probe = subprocess.run(
            [ffprobe, "-v", "error", "-count_frames", "-show_entries",
             "stream=width,height,r_frame_rate,nb_read_frames", "-of", "json", str(out)],
            check=True, capture_output=True, text=True, timeout=60)
        stream = json.loads(probe.stdout)["streams"][0]
        assert (stream["width"], stream["height"]) == (256, 256)
        assert stream["r_frame_rate"] == "10/1" and int(stream["nb_read_frames"]) == SLICES

        cancelled = tmp_path / "cancelled.mp4"
        task = menu.export_series(window.reading.viewports[0], cancelled, "mp4")
        assert task is not None
        task.cancel()  # the job checks before each frame: it stops before the first
        qtbot.waitUntil(lambda: menu.task is None, timeout=WAIT_MS)
        assert task.outcome == "cancelled"
        assert not cancelled.exists()
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
