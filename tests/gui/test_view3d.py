"""The 3D view: offscreen (this process) and on an X server (Xvfb, a child process), with the
blob phantom; and the reading window must not import VTK before a 3D view opens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402

from tests.peers import require_tool  # noqa: E402
from tests.volume.render3d_phantom import axial_affine, blob_volume, centroid  # noqa: E402
from viewer.gui.view3d import View3D  # noqa: E402
from viewer.volume.model import Volume  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHAPE = (80, 100, 100)  # 2 mm voxels: x and y from 0 to 198 mm, z from 0 to 158 mm
CENTRE = np.array([99.0, 99.0, 79.0])
BLOBS = {
    "left": (tuple(CENTRE + (50, 0, 0)), 1000.0),
    "anterior": (tuple(CENTRE + (0, -50, 0)), 600.0),
    "head": (tuple(CENTRE + (0, 0, 50)), 300.0),
}
# The default CT MIP ramp runs from -200 to 1300 HU.
GREY = {name: round((value + 200) / 1500 * 255) for name, (_, value) in BLOBS.items()}


def phantom() -> Volume:
    return blob_volume(axial_affine(2.0), SHAPE, BLOBS)


def wait_settled(qtbot: Any, view: View3D, renders: int) -> None:
    qtbot.waitUntil(lambda: view.renders > renders and view.settled, timeout=20000)


def test_view3d_shows_rotates_zooms_and_clips_offscreen(qtbot: Any) -> None:
    view = View3D()
    qtbot.addWidget(view)
    view.resize(420, 460)
    view.show()
    view.set_mode("mip")
    view.set_volume(phantom())
    wait_settled(qtbot, view, 0)
    assert view.picture is not None and view.shown is not None
    assert not view.shown.state.interacting
    found = {name: centroid(view.picture, grey) for name, grey in GREY.items()}
    assert found["left"][1] > found["anterior"][1] + 20  # the patient's left on the right
    assert found["head"][0] < found["anterior"][0] - 20  # the head up

    # A left drag of 180 pixels to the left turns the camera 90 degrees towards the patient's
    # left; while it drags, pictures are cast at reduced resolution.
    centre = QPoint(view.canvas.width() // 2, view.canvas.height() // 2)
    qtbot.mousePress(view.canvas, Qt.MouseButton.LeftButton, pos=centre)
    before = view.renders
    qtbot.mouseMove(view.canvas, centre - QPoint(180, 0))
    qtbot.waitUntil(lambda: view.renders > before, timeout=10000)
    assert view.shown is not None and view.shown.state.interacting
    assert view.shown.image_sample_distance == 4.0  # a MIP: every fourth pixel
    assert view.state.azimuth == pytest.approx(90.0)
    qtbot.mouseRelease(view.canvas, Qt.MouseButton.LeftButton, pos=centre - QPoint(180, 0))
    wait_settled(qtbot, view, view.renders)
    assert view.shown.image_sample_distance == 1.0
    assert view.shown.state.azimuth == pytest.approx(90.0)
    found = {name: centroid(view.picture, grey) for name, grey in GREY.items()}
    assert found["anterior"][1] < found["left"][1] - 20  # seen from the left: front on the left

    # The wheel zooms in about the centre: the blobs move apart.
    spread = found["left"][1] - found["anterior"][1]
    before = view.renders
    qtbot.wait(1)
    view.canvas.wheelEvent(_wheel(view.canvas, 240))
    wait_settled(qtbot, view, before)
    zoomed = {name: centroid(view.picture, grey) for name, grey in GREY.items()}
    assert zoomed["left"][1] - zoomed["anterior"][1] == pytest.approx(spread * 1.21, rel=0.05)

    # A clip box on the patient's right 60 % of x (x = 0 to 119 mm) takes the left blob away.
    view.reset_view()
    before = view.renders
    view.set_clip_fractions((0.0, 0.6, 0.0, 1.0, 0.0, 1.0))
    wait_settled(qtbot, view, before)
    assert view.clip_box.isVisible()
    assert not np.any(np.abs(view.picture[:, :, 0].astype(int) - GREY["left"]) <= 2)
    assert centroid(view.picture, GREY["anterior"])

    # A preset puts the view back into volume rendering, in colour.
    view.set_clip_fractions(None)
    before = view.renders
    view.set_preset("ct-angio")
    wait_settled(qtbot, view, before)
    assert view.mode_box.currentData() == "vr"
    red = view.picture[:, :, 0].astype(int) - view.picture[:, :, 2].astype(int)
    assert np.count_nonzero(red > 60) > 50


def _wheel(widget: Any, delta: int) -> Any:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    pos = QPointF(widget.width() / 2, widget.height() / 2)
    return QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(0, 0), QPoint(0, delta),
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                       Qt.ScrollPhase.NoScrollPhase, False)


def test_view3d_follows_a_volume_that_is_still_loading(qtbot: Any) -> None:
    volume = phantom()
    upper = volume.voxels[SHAPE[0] // 2:].copy()
    volume.voxels[SHAPE[0] // 2:] = -1000
    volume.filled[SHAPE[0] // 2:] = False
    view = View3D()
    qtbot.addWidget(view)
    view.resize(300, 340)
    view.show()
    view.set_mode("mip")
    view.set_volume(volume)
    wait_settled(qtbot, view, 0)
    assert view.status.text().endswith("Loading…")
    where = view.to_pixel(BLOBS["head"][0])
    assert where is not None
    r, c = (round(v) for v in where)
    assert view.picture[r, c, 0] == 0  # the head blob's slices have not arrived
    volume.voxels[SHAPE[0] // 2:] = upper
    volume.filled[:] = True
    volume.revision += 1
    qtbot.waitUntil(lambda: "Loading" not in view.status.text(), timeout=10000)
    assert view.picture[r, c, 0] == pytest.approx(GREY["head"], abs=2)
    assert not view._progress.isActive()


def test_view3d_says_why_when_there_is_nothing_to_show(qtbot: Any) -> None:
    view = View3D()
    qtbot.addWidget(view)
    view.set_volume(None)
    assert view.picture is None and view.renderer is None and view.idle
    with pytest.raises(ValueError, match="unknown choice"):
        view.set_preset("ct-brain")


def _heartbeat(qtbot: Any) -> tuple[Any, list[int]]:
    """A 5 ms QTimer and the gaps between its beats (ms), as `bench gui` watches the loop."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    clock = QElapsedTimer()
    clock.start()
    gaps: list[int] = []
    last = [0]

    def beat() -> None:
        gaps.append(clock.elapsed() - last[0])
        last[0] = clock.elapsed()

    timer = QTimer()
    timer.timeout.connect(beat)
    timer.start(5)
    return timer, gaps


@pytest.fixture(scope="module")
def slow_volume() -> Volume:
    """A CT whose settled MIP zoomed in takes a good fraction of a second on this machine."""
    from viewer.volume.benchmark_3d import body_phantom

    return body_phantom((240, 384, 384), spacing=1.0, slice_spacing=1.0)


def test_a_slow_settled_render_does_not_stall_the_event_loop(qtbot: Any,
                                                            slow_volume: Volume) -> None:
    view = View3D()
    qtbot.addWidget(view)
    view.resize(560, 600)
    view.show()
    view.set_mode("mip")
    view.set_volume(slow_volume)
    wait_settled(qtbot, view, 0)
    view.zoom(2.0)
    wait_settled(qtbot, view, view.renders)
    timer, gaps = _heartbeat(qtbot)
    view.set_view(30.0, -20.0)
    qtbot.waitUntil(lambda: view.idle and view.shown is not None
                    and view.shown.state.azimuth == 30.0, timeout=60000)
    timer.stop()
    assert view.shown is not None and not view.shown.state.interacting
    assert view.shown.seconds >= 0.25, "the render was too quick to show anything"
    assert len(gaps) >= view.shown.seconds * 1000 / 25  # the loop turned all along
    assert max(gaps) <= 50, sorted(gaps)[-5:]


def test_a_drag_abandons_the_settled_render_it_overtakes(qtbot: Any,
                                                         slow_volume: Volume) -> None:
    view = View3D()
    qtbot.addWidget(view)
    view.resize(560, 600)
    view.show()
    view.set_mode("mip")
    view.set_volume(slow_volume)
    wait_settled(qtbot, view, 0)
    view.zoom(2.0)
    wait_settled(qtbot, view, view.renders)
    assert view.shown is not None
    settled_s = view.shown.seconds
    assert view.renderer is not None
    abandoned = view.renderer.abandoned
    view.set_view(60.0, 0.0)  # a settled render, slow
    qtbot.wait(50)
    assert view.renderer.busy
    start = time.perf_counter()
    view.begin_interaction()
    view.drag("rotate", -20, 0)  # the camera turns 10 degrees: azimuth 70
    qtbot.waitUntil(lambda: view.shown is not None and view.shown.state.azimuth == 70.0,
                    timeout=30000)
    coarse_s = time.perf_counter() - start
    assert view.shown.state.interacting  # the coarse picture came next: nothing at azimuth 60
    assert view.renderer.abandoned == abandoned + 1
    assert coarse_s < settled_s, (coarse_s, settled_s)
    view.end_interaction()
    wait_settled(qtbot, view, view.renders)
    assert not view.shown.state.interacting and view.shown.state.azimuth == 70.0


# -- on an X server ---------------------------------------------------------------------------

@pytest.fixture
def xvfb() -> Iterator[str]:
    """An Xvfb server on a free display number; its DISPLAY."""
    binary = require_tool("Xvfb", "xvfb")
    for number in range(90, 190):
        if not Path(f"/tmp/.X{number}-lock").exists() and \
                not Path(f"/tmp/.X11-unix/X{number}").exists():
            break
    else:
        pytest.fail("no free X display number between :90 and :189")
    server = subprocess.Popen([binary, f":{number}", "-screen", "0", "1024x768x24",
                               "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Xvfb :{number} did not start")
            time.sleep(0.05)
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


XVFB_SCRIPT = """
import json, sys
import numpy as np
from PIL import Image
from PySide6.QtWidgets import QApplication
from tests.gui.test_view3d import phantom
from viewer.gui.view3d import View3D

app = QApplication([])
view = View3D()
view.resize(400, 440)
view.show()
view.set_mode(sys.argv[2])
view.set_volume(phantom())
while not view.settled:
    app.processEvents()
Image.fromarray(view.picture).save(sys.argv[1] + "/picture.png")
view.grab().save(sys.argv[1] + "/widget.png")
print(json.dumps({"platform": app.platformName(), "renderer": view.shown.opengl_renderer,
                  "shape": list(view.picture.shape)}))
"""


@pytest.mark.parametrize("mode", ["mip", "vr"])
def test_view3d_on_an_x_server(xvfb: str, tmp_path: Path, mode: str) -> None:
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    env.pop("VTK_DEFAULT_OPENGL_WINDOW", None)
    done = subprocess.run([sys.executable, "-c", XVFB_SCRIPT, str(tmp_path), mode], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no VTK or Qt warning text
    report = json.loads(done.stdout)
    assert report["platform"] == "xcb"
    assert "llvmpipe" in report["renderer"] or report["renderer"]
    from PIL import Image

    picture = np.asarray(Image.open(tmp_path / "picture.png").convert("RGB"))
    widget = np.asarray(Image.open(tmp_path / "widget.png").convert("RGB"))
    if mode == "mip":
        found = {name: centroid(picture, grey) for name, grey in GREY.items()}
        assert found["left"][1] > found["anterior"][1] + 20
        assert found["head"][0] < found["anterior"][0] - 20
    else:
        assert np.count_nonzero(picture.max(axis=2) > 40) > 200
    # The widget's own screenshot holds the picture (not a black GL surface).
    assert np.count_nonzero(widget.max(axis=2) > 40) >= np.count_nonzero(
        picture.max(axis=2) > 40) * 0.9


VIEWER_XVFB_SCRIPT = """
import json, sys, time
from pathlib import Path
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from viewer.dicom.demo import write_ct_series
from viewer.__main__ import main

out = Path(sys.argv[1])
write_ct_series(out / "series", slices=120, rows=256, columns=256)
app = QApplication(sys.argv[:1])
report = {}

def pump(condition, timeout_s, what=""):
    start = time.monotonic()
    while not condition() and time.monotonic() < start + timeout_s:
        app.processEvents()
        time.sleep(0.002)
    if what:
        report.setdefault("waits", {})[what] = [round(time.monotonic() - start, 2), condition()]
    return condition()

def drive():
    from viewer.gui.app import MainWindow
    window = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
    window.resize(1200, 900)
    pump(window.all_loaded, 60, "series shown")
    report["mpr"] = window.reading.open_mpr()
    mpr = window.reading.mpr
    pump(lambda: mpr.volume.complete, 60, "volume")
    mpr.open3d.click()
    view = mpr.view3d
    pump(lambda: view.settled, 60, "3D opened")
    canvas = view.canvas
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    gaps, last, coarse = [], time.monotonic(), 0
    for step in range(1, 61):  # 180 pixels left, 60 down: azimuth +90, elevation +30
        QTest.mouseMove(canvas, centre + QPoint(-3 * step, step))
        end = time.monotonic() + 0.016
        while time.monotonic() < end:
            app.processEvents()
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            time.sleep(0.002)
        coarse += bool(view.shown.state.interacting)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       centre + QPoint(-180, 60))
    pump(lambda: view.settled, 60, "settled")
    pump(lambda: False, 0.3)  # Qt paints the picture it was given
    # What the X server shows where the canvas is: the picture, centred in the label.
    screen = app.primaryScreen().grabWindow(0).toImage()
    origin = canvas.mapToGlobal(QPoint((canvas.width() - view.picture.shape[1]) // 2,
                                       (canvas.height() - view.picture.shape[0]) // 2))
    screen.copy(origin.x(), origin.y(), view.picture.shape[1],
                view.picture.shape[0]).save(str(out / "on_screen.png"))
    from PIL import Image
    Image.fromarray(view.picture).save(str(out / "picture.png"))
    report.update(azimuth=view.state.azimuth, elevation=view.state.elevation,
                  longest_gap_ms=max(gaps) * 1000, coarse_steps=coarse,
                  platform=app.platformName(), settled_mode=view.shown.state.mode)
    app.quit()

QTimer.singleShot(100, drive)
report["exit"] = main(["view", str(out / "series")])
print(json.dumps(report))
"""


def test_the_viewer_on_an_x_server_drags_in_the_3d_view(xvfb: str, tmp_path: Path) -> None:
    """The real window: a CT opened, MPR, the 3D slot opened, a mouse drag in it; the event
    loop keeps turning and the X server shows the settled picture."""
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT),
           "VIEWER_ARCHIVE": str(tmp_path / "archive")}
    env.pop("VTK_DEFAULT_OPENGL_WINDOW", None)
    done = subprocess.run([sys.executable, "-c", VIEWER_XVFB_SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["exit"] == 0 and report["mpr"] == "" and report["platform"] == "xcb"
    assert all(done for _, done in report["waits"].values()), report
    assert report["azimuth"] == pytest.approx(90.0) and report["elevation"] == pytest.approx(30.0)
    assert report["coarse_steps"] >= 10, report  # coarse pictures shown while dragging
    assert report["longest_gap_ms"] <= 50, report
    from PIL import Image

    picture = np.asarray(Image.open(tmp_path / "picture.png").convert("RGB")).astype(int)
    on_screen = np.asarray(Image.open(tmp_path / "on_screen.png").convert("RGB")).astype(int)
    assert np.count_nonzero(picture.max(axis=2) > 40) > 500  # bone seen from the left
    assert np.mean(np.abs(picture - on_screen)) < 2.0


# -- the reading window ----------------------------------------------------------------------

NO_VTK_SCRIPT = """
import sys
from viewer.dicom.demo import write_ct_series
from viewer.__main__ import main

write_ct_series(sys.argv[1] + "/series", slices=12, rows=96, columns=96)
code = main(["view", sys.argv[1] + "/series", "--screenshot", sys.argv[1] + "/window.png"])
import viewer.gui.view3d  # the 3D view's module is cheap to import: VTK waits for a volume
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("vtk", "vtkmodules"))
print(code, len(loaded), loaded[:3])
"""


def test_reading_window_does_not_import_vtk(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "VIEWER_ARCHIVE": str(tmp_path / "archive")}
    done = subprocess.run([sys.executable, "-c", NO_VTK_SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.stdout.split()[:2] == ["0", "0"], done.stdout + done.stderr
    assert (tmp_path / "window.png").stat().st_size > 1000
