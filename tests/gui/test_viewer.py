"""The reading window, offscreen, driven with real key, wheel and mouse events (pytest-qt)."""

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

from pydicom import dcmread  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QDropEvent, QWheelEvent  # noqa: E402

from tests.gui.windows import reading_window  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.dicom.stack import build_stacks  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.mime import series_mime  # noqa: E402
from viewer.gui.viewport import Tool, Viewport  # noqa: E402

SCREENS = Path(os.environ.get("VIEWER_SCREENSHOTS", "/tmp/screens"))


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two axial series of one study in one Frame of Reference: 12 slices at 2.5 mm, 6 at 5 mm."""
    folder = tmp_path_factory.mktemp("ct")
    first = write_ct_series(folder / "a", slices=12, rows=128, columns=128,
                            patient_name="张^三=张三", series_description="Axial 2.5",
                            slice_spacing_mm=2.5)
    ds = dcmread(first[0], stop_before_pixels=True)
    second = write_ct_series(folder / "b", slices=6, rows=128, columns=128,
                             patient_name="张^三=张三", study_uid=str(ds.StudyInstanceUID),
                             series_number=2, series_description="Axial 5",
                             slice_spacing_mm=5.0,
                             frame_of_reference_uid=str(ds.FrameOfReferenceUID))
    return first + second


@pytest.fixture
def window(qtbot, study: list[Path]) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    with reading_window(qtbot, study, 2) as main:
        yield main


def shot(widget: object, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    out = SCREENS / f"{name}.png"
    assert widget.grab().save(str(out))  # type: ignore[attr-defined]
    return out


def corners(viewport: Viewport) -> str:
    c = viewport.overlay.content.corners
    assert c is not None
    return "\n".join([*c.top_left, *c.top_right, *c.bottom_left, *c.bottom_right])


def wheel(
    widget: object, steps: float, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    """One wheel event of `steps` notches (a touchpad sends fractions of one)."""
    from PySide6.QtWidgets import QApplication

    centre = QPointF(widget.rect().center())  # type: ignore[attr-defined]
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0),  # type: ignore[attr-defined]
                        QPoint(0, round(120 * steps)), Qt.MouseButton.NoButton, modifiers,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_keyboard_and_wheel_scroll(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    viewport = window.viewports[0]
    first = viewport.frame
    assert first is not None and viewport.position == 0
    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: viewport.frame is not None and viewport.frame.key != first.key)
    assert viewport.position == 1
    wheel(viewport.view.viewport(), -3)  # wheel towards the user: forward, one slice per notch
    assert viewport.position == 4
    wheel(viewport.view.viewport(), -0.5)  # half a notch (a touchpad): not yet a slice
    assert viewport.position == 4
    wheel(viewport.view.viewport(), -0.5)
    assert viewport.position == 5
    qtbot.keyClick(viewport, Qt.Key.Key_End)
    assert viewport.position == 11
    qtbot.waitUntil(lambda: viewport.frame is not None
                    and viewport.frame.key == viewport.current_key)
    assert "Im: 12 / 12" in corners(viewport)
    qtbot.keyClick(viewport, Qt.Key.Key_Home)
    qtbot.keyClick(viewport, Qt.Key.Key_PageDown)
    assert viewport.position == 10


def test_annotations_markers_and_scale_bar(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    viewport = window.viewports[0]
    text = corners(viewport)
    assert "张三" in text  # the ideographic name group is shown
    assert "W: 400 L: 40" in text and "Im: 1 / 12" in text
    markers = viewport.overlay.content.markers
    assert markers is not None and (markers.left, markers.right, markers.top) == ("R", "L", "A")
    bar = viewport.overlay.content.scale_bar
    assert bar is not None and bar.length_mm > 0
    viewport.rotate(1)  # 90° clockwise: anterior goes to the right
    rotated = viewport.overlay.content.markers
    assert rotated is not None and rotated.right == "A"
    viewport.flip(True)
    assert viewport.overlay.content.markers.right == "P"  # type: ignore[union-attr]
    path = shot(window, "viewer-1x1")
    assert Image.open(path).size[0] >= 800


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
    assert width > 400 and center > 40  # dragged right: wider; down: higher level
    assert not np.array_equal(before, viewport.image.image)
    assert f"W: {width:.0f}" in corners(viewport)


def test_presets_invert_and_file_window(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    viewport = window.viewports[0]
    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_4)  # lung
    assert viewport.state.window == (-600, 1500)
    lung = viewport.image.image.copy()
    qtbot.keyClick(viewport, Qt.Key.Key_I)
    # Inverted before rounding down, as DCMTK does: 255 - x within one grey level.
    difference = viewport.image.image.astype(int) - (255 - lung.astype(int))
    assert np.abs(difference).max() <= 1 and lung.std() > 5
    qtbot.keyClick(viewport, Qt.Key.Key_0)
    assert viewport.current_window() == (40.0, 400.0)


def test_length_and_roi_measurements_stay_with_their_image(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    viewport = window.viewports[0]
    window.tool_actions[Tool.LENGTH].trigger()
    widget = viewport.view.viewport()
    a, b = widget.rect().center() - QPoint(60, 0), widget.rect().center() + QPoint(60, 0)
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(widget, b)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=b)
    key = viewport.current_key
    assert key is not None
    [length] = viewport.measurements.on(key)
    (x0, y0), (x1, y1) = length.points
    spacing = viewport.geometry_now.pixel_spacing[1]  # type: ignore[union-attr]
    expected = abs(x1 - x0) * spacing
    assert expected > 0 and viewport._measurement_text(length) == f"{expected:.1f} mm"

    window.tool_actions[Tool.ELLIPSE].trigger()
    c0, c1 = widget.rect().center() - QPoint(30, 30), widget.rect().center() + QPoint(30, 30)
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=c0)
    qtbot.mouseMove(widget, c1)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=c1)
    ellipse = viewport.measurements.on(key)[1]
    text = viewport._measurement_text(ellipse)
    assert "HU" in text and "mm²" in text
    shot(window, "viewer-measurements")

    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_Down)  # another image: its own (no) measurements
    assert viewport.measurements.on(viewport.current_key) == []  # type: ignore[arg-type]
    qtbot.keyClick(viewport, Qt.Key.Key_Up)
    assert len(viewport.measurements.on(key)) == 2
    assert viewport.delete_measurement()
    assert viewport.measurements.on(key) == [length]


def test_probe_reads_modality_values(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    viewport = window.viewports[0]
    window.tool_actions[Tool.PROBE].trigger()
    widget = viewport.view.viewport()
    qtbot.mouseMove(widget, widget.rect().center())
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=widget.rect().center())
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=widget.rect().center())
    assert "HU" in viewport.overlay.content.probe


def test_layouts_drop_and_synchronised_scroll(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.reading.set_layout((2, 1))
    left, right = window.viewports
    assert right.stack is not None and right.stack.description == "Axial 5"
    qtbot.waitUntil(window.all_loaded, timeout=20000)
    left.set_position(8)  # 8 x 2.5 mm from the top = 20 mm: the 5 mm series' slice 4
    g_left, g_right = left.geometry_now, right.geometry_now
    assert g_left is not None and g_right is not None
    assert abs(g_left.position[2] - g_right.position[2]) <= 2.5  # type: ignore[index]
    assert right.position == 4
    shot(window, "viewer-2x1-sync")
    # Drag a series from the strip: the left viewport now shows the 5 mm series too.
    data = series_mime(right.stack.info.study_instance_uid, right.stack.series_uid)
    target = left.rect().center()
    drop = QDropEvent(QPointF(target), Qt.DropAction.CopyAction, data,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    left.dropEvent(drop)
    assert left.stack is right.stack
    window.reading.set_layout((2, 2))
    assert len(window.viewports) == 4


def test_cine_plays_and_stops(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    viewport = window.viewports[0]
    window.reading.set_cine_fps(50)
    window.cine_action.trigger()
    qtbot.waitUntil(lambda: viewport.position >= 3, timeout=5000)
    window.cine_action.trigger()
    stopped = viewport.position
    qtbot.wait(100)
    assert viewport.position == stopped


def test_broken_slice_is_marked_in_place(qtbot, tmp_path: Path, study: list[Path]) -> None:  # type: ignore[no-untyped-def]
    import shutil

    folder = tmp_path / "series"
    folder.mkdir()
    for path in study[:12]:
        shutil.copy(path, folder / path.name)
    stacks, errors = build_stacks(sorted(folder.iterdir()))
    assert not errors
    victim = Path(stacks[0].frames[3][0])
    victim.write_bytes(victim.read_bytes()[:-5000])  # truncated after the stack was built
    pool = DecodePool(1, cache=FrameCache(16 << 20))
    try:
        main = MainWindow(stacks, (1, 1), FrameBridge(pool))
        qtbot.addWidget(main)
        main.show()
        viewport = main.viewports[0]
        qtbot.waitUntil(main.all_loaded, timeout=20000)
        viewport.set_position(3)
        qtbot.waitUntil(lambda: bool(viewport.error), timeout=20000)
        assert "Cannot decode" in viewport.overlay.content.problem
        assert victim.name in viewport.overlay.content.problem
        viewport.set_position(4)
        qtbot.waitUntil(lambda: viewport.frame is not None and not viewport.error, timeout=20000)
    finally:
        pool.close()


def test_view_screenshot_subprocess(tmp_path: Path, study: list[Path]) -> None:
    out = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "view", str(study[0].parent), "--screenshot", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    picture = np.asarray(Image.open(out).convert("L"))
    assert picture.shape[0] > 200 and picture.shape[1] > 200
    assert picture.std() > 10  # the CT is drawn, not an empty black window


def test_tag_browser_shows_the_current_image(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.show_tags()
    browser = window.tag_browser
    assert browser is not None
    qtbot.waitUntil(lambda: browser.model.rowCount() > 10, timeout=10000)
    browser.search.setText("PatientName")
    qtbot.waitUntil(lambda: browser.model.rowCount() == 1, timeout=5000)
    shot(browser, "viewer-tags")


def test_reference_line_of_a_sagittal_on_the_axial(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, study: list[Path]
) -> None:
    """A sagittal series in the axial series' Frame of Reference: the axial viewport draws where
    the sagittal slice cuts it (a vertical line at the sagittal slice's x), and moves it when
    the sagittal viewport scrolls."""
    axial = study[:12]
    head = dcmread(axial[0], stop_before_pixels=True)
    spacing = float(head.PixelSpacing[1])
    x0, y0 = float(head.ImagePositionPatient[0]), float(head.ImagePositionPatient[1])
    sagittal = write_ct_series(tmp_path / "sag", slices=5, rows=64, columns=128,
                               study_uid=str(head.StudyInstanceUID), series_number=3,
                               series_description="Sagittal",
                               frame_of_reference_uid=str(head.FrameOfReferenceUID))
    for k, path in enumerate(sagittal):  # columns run posterior, rows run down (feet)
        ds = dcmread(path)
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        ds.ImagePositionPatient = [x0 + (40 + 10 * k) * spacing, y0, 20.0]
        ds.PixelSpacing = [1.0, spacing]
        ds.save_as(path)
    stacks, errors = build_stacks([*axial, *sagittal])
    assert not errors
    ordered = sorted(stacks, key=lambda s: s.info.series_number or 0)
    pool = DecodePool(1, cache=FrameCache(32 << 20))
    try:
        main = MainWindow(ordered, (2, 1), FrameBridge(pool))
        qtbot.addWidget(main)
        main.resize(900, 600)
        main.show()
        qtbot.waitUntil(main.all_loaded, timeout=20000)
        ax, sag = main.viewports
        assert sag.stack is not None and sag.stack.description == "Sagittal"
        main.reading.sync = False  # different orientations: nothing to sync anyway
        sag.set_position(0)
        [((xa, ya), (xb, yb))] = ax.reference_lines
        columns_x = sag.geometry_now.position[0]  # type: ignore[union-attr,index]
        expected_column = (columns_x - x0) / spacing
        assert xa == pytest.approx(expected_column, abs=0.01)
        assert xb == pytest.approx(expected_column, abs=0.01)
        assert abs(yb - ya) > 50  # spans the axial image top to bottom (within the sagittal)
        sag.set_position(3)
        [((xa2, _), _)] = ax.reference_lines
        assert xa2 == pytest.approx(expected_column + 30, abs=0.01)
        shot(main, "viewer-reference-lines")
    finally:
        pool.close()


def test_zoom_pan_fit_and_actual_pixels(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    viewport = window.viewports[0]
    widget = viewport.view.viewport()
    fitted = viewport.zoom_factor()
    wheel(widget, 2, Qt.KeyboardModifier.ControlModifier)  # Ctrl+wheel: zoom, not scroll
    assert viewport.position == 0
    zoomed = viewport.zoom_factor()
    assert zoomed == pytest.approx(fitted * 1.25 * 1.25, rel=0.02)
    assert f"Zoom: {zoomed * 100:.0f}%" in corners(viewport)
    centre = viewport.view_rect().center()
    start = widget.rect().center()
    qtbot.mousePress(widget, Qt.MouseButton.MiddleButton, pos=start)
    qtbot.mouseMove(widget, start + QPoint(50, 0))
    qtbot.mouseRelease(widget, Qt.MouseButton.MiddleButton, pos=start + QPoint(50, 0))
    moved = viewport.view_rect().center()
    assert moved.x() == pytest.approx(centre.x() - 50 / zoomed, rel=0.02)  # image follows
    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_A)
    assert viewport.zoom_factor() == pytest.approx(1.0, rel=0.02)
    qtbot.keyClick(viewport, Qt.Key.Key_F)
    assert viewport.zoom_factor() == pytest.approx(fitted, rel=0.02)


def test_the_files_windows_by_key_and_menu(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """The demo CT suggests two windows (abdomen 40/400, lung -600/1500): 0 cycles them, the
    Presets menu lists them by their explanations."""
    viewport = window.viewports[0]
    assert [(w.center, w.width) for w in viewport.file_windows()] == [(40, 400), (-600, 1500)]
    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_0)
    assert viewport.current_window() == (-600.0, 1500.0)  # the file's second window
    qtbot.keyClick(viewport, Qt.Key.Key_0)
    assert viewport.current_window() == (40.0, 400.0)  # and round again
    qtbot.keyClick(viewport, Qt.Key.Key_6)  # a preset (abdomen) ...
    qtbot.keyClick(viewport, Qt.Key.Key_0)  # ... then 0: the file's first window
    assert viewport.current_window() == (40.0, 400.0)
    window._fill_file_windows()
    actions = window._file_windows.actions()
    assert len(actions) == 2 and "(L -600 W 1500)" in actions[1].text()
    actions[1].trigger()
    assert viewport.current_window() == (-600.0, 1500.0)


def test_loaded_frames_beyond_the_cache_budget_are_released(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The background load of a series bigger than the cache must not keep every frame alive
    (its futures held their Frames: a 3,000-slice CT would have defeated a 1 GiB budget)."""
    files = write_ct_series(tmp_path / "long", slices=40, rows=64, columns=64)
    stacks, errors = build_stacks(files)
    assert not errors
    frame_bytes = 64 * 64 * 2
    pool = DecodePool(1, cache=FrameCache(5 * frame_bytes))
    try:
        main = MainWindow(stacks, (1, 1), FrameBridge(pool))
        qtbot.addWidget(main)
        main.show()
        qtbot.waitUntil(lambda: main.viewports[0].frame is not None, timeout=20000)
        delivered = {"n": 0}
        pool_done = main.bridge.frame_ready
        pool_done.connect(lambda *_: delivered.__setitem__("n", delivered["n"] + 1))
        qtbot.waitUntil(lambda: pool.pending() == 0 and delivered["n"] >= 40 - 17, timeout=20000)
        qtbot.wait(200)
        import gc

        from viewer.decode import sharedmem

        gc.collect()
        assert sharedmem._UNMAPPER.wait_idle(10.0)  # released blocks are unmapped off-thread
        with open("/proc/self/maps") as maps:
            mapped = {line.split()[-2] if line.rstrip().endswith("(deleted)")
                      else line.split()[-1] for line in maps if "/dev/shm/dv" in line}
        # the cache's 5, the visible window (the frame and 8 neighbours each side) at most
        assert len(mapped) <= 5 + 17, len(mapped)
    finally:
        pool.close()


def test_zoom_about_the_cursor_and_resize_keep_the_point(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Ctrl+wheel keeps the image point under the cursor where it is; resizing a zoomed
    viewport keeps the centre of what is shown; rotating fits again."""
    from PySide6.QtWidgets import QApplication

    viewport = window.viewports[0]
    widget = viewport.view.viewport()
    at = QPointF(widget.width() * 0.3, widget.height() * 0.4)
    before = viewport.image_point(at)
    event = QWheelEvent(at, widget.mapToGlobal(at), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)
    assert viewport.image_point(at) == pytest.approx(before, abs=0.05)
    centre, size = viewport.view_rect().center(), widget.size()
    window.resize(window.width() - 150, window.height() - 80)
    qtbot.waitUntil(lambda: widget.size() != size)
    moved = viewport.view_rect().center()
    assert (moved.x(), moved.y()) == pytest.approx((centre.x(), centre.y()), abs=0.05)
    viewport.rotate(1)
    shown = viewport.view_rect()
    bounds = viewport.view.image_bounds()
    assert shown.contains(bounds.adjusted(0.01, 0.01, -0.01, -0.01))
    assert bounds.width() == pytest.approx(shown.width(), rel=0.01) or bounds.height() == (
        pytest.approx(shown.height(), rel=0.01))
