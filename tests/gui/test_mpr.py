"""The MPR layout, offscreen, driven with real mouse and wheel events (pytest-qt), on a phantom
Volume whose HU at every patient point is known (tests/volume/mpr_phantom.py)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from tests.volume.mpr_phantom import (  # noqa: E402
    BODY_HU,
    BONE,
    BONE_HU,
    LESION,
    LESION_HU,
    SPACING,
    phantom_volume,
)
from viewer.gui.mpr_layout import MprLayout  # noqa: E402
from viewer.gui.mpr_view import MprView  # noqa: E402
from viewer.gui.viewport import Tool  # noqa: E402
from viewer.volume.model import SlabMode  # noqa: E402
from viewer.volume.reslice import reslice  # noqa: E402

SCREENS = Path(os.environ.get("VIEWER_SCREENSHOTS", "/tmp/screens"))


def shot(widget: object, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    out = SCREENS / f"{name}.png"
    assert widget.grab().save(str(out))  # type: ignore[attr-defined]
    return out


@pytest.fixture
def mpr(qtbot) -> Iterator[MprLayout]:  # type: ignore[no-untyped-def]
    layout = MprLayout(phantom_volume())
    qtbot.addWidget(layout)
    layout.resize(900, 900)
    layout.show()
    settle(qtbot, layout)
    yield layout
    layout.close_layout()


def settle(qtbot, layout: MprLayout) -> None:  # type: ignore[no-untyped-def]
    """Until every view shows its latest request at full quality."""
    qtbot.waitUntil(lambda: not layout.controller.interacting
                    and all(v.idle for v in layout.views), timeout=20000)


def click(view: MprView, pos: QPointF, button: Qt.MouseButton = Qt.MouseButton.LeftButton,
          ) -> None:
    QTest.mouseClick(view.view.viewport(), button, Qt.KeyboardModifier.NoModifier, pos.toPoint())


def drag(view: MprView, start: QPointF, end: QPointF, steps: int = 8,
         button: Qt.MouseButton = Qt.MouseButton.LeftButton) -> None:
    target = view.view.viewport()
    QTest.mousePress(target, button, Qt.KeyboardModifier.NoModifier, start.toPoint())
    for n in range(1, steps + 1):
        p = start + (end - start) * (n / steps)
        QTest.mouseMove(target, p.toPoint())
    QTest.mouseRelease(target, button, Qt.KeyboardModifier.NoModifier, end.toPoint())


def test_three_planes_show_the_phantom(qtbot, mpr: MprLayout) -> None:  # type: ignore[no-untyped-def]
    axial, coronal, sagittal = mpr.views
    for view in mpr.views:
        assert view.rendered is not None and view.rendered.picture.max() > 0
        assert view.rendered.plane == view.plane  # full resolution once settled
    # The sagittal plane through the centre cuts the bone sphere: its HU is on screen.
    assert sagittal.rendered is not None
    assert sagittal.rendered.values.max() == pytest.approx(BONE_HU)
    assert axial.overlay.content.markers is not None
    assert (axial.overlay.content.markers.left, axial.overlay.content.markers.top) == ("R", "A")
    assert (coronal.overlay.content.markers.left, coronal.overlay.content.markers.top) == ("R", "H")
    assert (sagittal.overlay.content.markers.left,
            sagittal.overlay.content.markers.top) == ("A", "H")
    assert axial.overlay.content.scale_bar is not None
    shot(mpr, "mpr_layout")


def test_a_click_sets_the_same_patient_point_in_every_view(  # type: ignore[no-untyped-def]
        qtbot, mpr: MprLayout) -> None:
    axial, coronal, sagittal = mpr.views
    pos = QPointF(axial.width() * 0.62, axial.height() * 0.41)
    expected = axial.patient_point(pos)
    click(axial, pos)
    settle(qtbot, mpr)
    point = np.asarray(mpr.controller.state.point)
    assert np.allclose(point, expected)
    for view in (coronal, sagittal):
        (x, y), _ = mpr.controller.state.crosshair(view.index, view.plane)
        seen = view.plane.to_patient(y, x)
        assert np.linalg.norm(seen - point) < view.plane.spacing / 2
        # ...and on screen, the crosshair of that view is drawn where the point is.
        screen = view.widget_point(x, y)
        assert np.allclose(view.patient_point(screen), point, atol=view.plane.spacing)


def test_wheel_moves_each_view_along_its_own_normal(  # type: ignore[no-untyped-def]
        qtbot, mpr: MprLayout) -> None:
    axial, coronal, _ = mpr.views
    before = np.asarray(mpr.controller.state.point)
    wheel(axial, -120 * 3)  # three notches towards the user: three slices on
    assert np.allclose(np.asarray(mpr.controller.state.point) - before, (0, 0, 3 * SPACING[2]))
    wheel(coronal, 120)
    assert np.allclose(np.asarray(mpr.controller.state.point) - before,
                       (0, -SPACING[1], 3 * SPACING[2]))
    settle(qtbot, mpr)
    assert axial.plane.center[2] == pytest.approx(before[2] + 3 * SPACING[2])


def wheel(view: MprView, delta: int) -> None:
    target = view.view.viewport()
    centre = QPointF(target.width() / 2, target.height() / 2)
    event = QWheelEvent(centre, QPointF(target.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, delta), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    view.eventFilter(target, event)


def test_dragging_a_crosshair_line_gives_an_oblique_plane(  # type: ignore[no-untyped-def]
        qtbot, mpr: MprLayout) -> None:
    axial = mpr.views[0]
    (px, py), lines = mpr.controller.state.crosshair(0, axial.plane)
    dx, dy = lines[2]  # the sagittal plane's line, drawn vertically in the axial view
    start = axial.widget_point(px + 40 * dx, py + 40 * dy)
    assert axial.grabbed_line(start) == 2
    turn = math.radians(30)
    end = axial.widget_point(px + 40 * (dx * math.cos(turn) - dy * math.sin(turn)),
                             py + 40 * (dx * math.sin(turn) + dy * math.cos(turn)))
    drag(axial, start, end)
    settle(qtbot, mpr)
    state = mpr.controller.state
    assert np.allclose(state.normal(0), (0, 0, 1))
    sagittal_normal = np.asarray(state.normal(2))
    # Turned about the axial normal (z) by 30 degrees, within the half-pixel the mouse allows.
    assert sagittal_normal[2] == pytest.approx(0, abs=1e-9)
    angle = math.degrees(math.acos(abs(float(sagittal_normal @ (-1, 0, 0)))))
    assert angle == pytest.approx(30, abs=1.5)
    coronal_normal = np.asarray(state.normal(1))
    assert abs(float(coronal_normal @ sagittal_normal)) < 1e-9
    shot(mpr, "mpr_oblique")
    # A second rotation, in the coronal view: double-oblique.
    coronal = mpr.views[1]
    (cx, cy), clines = state.crosshair(1, coronal.plane)
    ax, ay = clines[0]
    start = coronal.widget_point(cx + 40 * ax, cy + 40 * ay)
    end = coronal.widget_point(cx + 40 * (ax * math.cos(turn) - ay * math.sin(turn)),
                               cy + 40 * (ax * math.sin(turn) + ay * math.cos(turn)))
    drag(coronal, start, end)
    settle(qtbot, mpr)
    axial_normal = np.asarray(mpr.controller.state.normal(0))
    assert math.degrees(math.acos(abs(float(axial_normal[2])))) == pytest.approx(30, abs=1.5)
    shot(mpr, "mpr_double_oblique")
    mpr.controller.reset()
    settle(qtbot, mpr)
    assert np.allclose(mpr.controller.state.normal(2), (-1, 0, 0))


def test_slab_controls_reach_the_planes(qtbot, mpr: MprLayout) -> None:  # type: ignore[no-untyped-def]
    mpr.slab.setValue(20.0)
    mpr.mode.setCurrentIndex(mpr.mode.findData(SlabMode.AVERAGE))
    settle(qtbot, mpr)
    for view in mpr.views:
        assert (view.plane.slab, view.plane.mode) == (20.0, SlabMode.AVERAGE)
    mpr.set_slab(12.0, SlabMode.MIP)
    settle(qtbot, mpr)
    coronal = mpr.views[1]
    assert coronal.rendered is not None
    expected = reslice(mpr.volume, coronal.plane)
    assert np.array_equal(coronal.rendered.values, expected)
    # The coronal plane through the centre (y = -6.4) misses the bone sphere (y = 10, r 12)
    # but a 12 mm MIP slab reaches it (within 6 mm of the plane: y up to -0.4 ... 16.4 overlap).
    assert coronal.rendered.values.max() == pytest.approx(BONE_HU)
    assert "MIP 12.0 mm" in coronal.overlay.content.notes[0]
    shot(mpr, "mpr_slab")


def test_measurements_on_a_coronal_plane_in_mm_and_hu(  # type: ignore[no-untyped-def]
        qtbot, mpr: MprLayout) -> None:
    centre = np.asarray(LESION[0])
    mpr.controller.set_state(mpr.controller.state.with_point(centre))
    settle(qtbot, mpr)
    coronal = mpr.views[1]
    mpr.set_tool(Tool.RECTANGLE)
    row, column, off = coronal.plane.to_pixel(centre)
    assert abs(off) < 1e-9
    drag(coronal, coronal.widget_point(column - 4, row - 4),
         coronal.widget_point(column + 4, row + 4))
    found = mpr.measurements.on(coronal.key)
    assert len(found) == 1
    text = coronal.measurement_text(found[0])
    assert f"Mean {LESION_HU:.1f} HU" in text and "SD 0.0" in text
    mpr.set_tool(Tool.LENGTH)
    # 50 pixels along the coronal row (patient x) at 0.8 mm: 40.0 mm.
    drag(coronal, coronal.widget_point(20, 30), coronal.widget_point(70, 30))
    lengths = [m for m in mpr.measurements.on(coronal.key) if m.kind.value == "length"]
    pixels = math.dist(*lengths[0].points)
    assert pixels == pytest.approx(50, abs=0.5)  # the mouse lands on whole screen pixels
    assert coronal.measurement_text(lengths[0]) == f"{pixels * SPACING[0]:.1f} mm"
    mpr.set_tool(Tool.PROBE)
    QTest.mouseMove(coronal.view.viewport(), coronal.widget_point(column, row).toPoint())
    assert coronal.overlay.content.probe.endswith(f"{LESION_HU} HU")
    shot(mpr, "mpr_measurements")


def test_probe_reads_the_bone_in_the_sagittal_view(  # type: ignore[no-untyped-def]
        qtbot, mpr: MprLayout) -> None:
    mpr.controller.set_state(mpr.controller.state.with_point(BONE[0]))
    settle(qtbot, mpr)
    sagittal = mpr.views[2]
    row, column, _ = sagittal.plane.to_pixel(np.asarray(BONE[0]))
    sagittal.probe(sagittal.widget_point(column, row))
    assert sagittal.overlay.content.probe.endswith(f"{BONE_HU} HU")


def test_the_drag_benchmark_drives_every_phase(qtbot) -> None:  # type: ignore[no-untyped-def]
    from viewer.gui.benchmark_mpr import drag_stalls, generated_ct

    drags = drag_stalls(generated_ct(24, 96, 96), size=600, seconds=0.4)
    assert [d.phase for d in drags] == ["idle", "move point", "rotate", "wheel"]
    for d in drags:
        assert d.moves > 0 and d.longest_stall_ms >= d.median_gap_ms > 0
        # Every phase but the idle one redraws: pictures reached the screen meanwhile.
        assert (d.pictures_shown > 0) == (d.phase != "idle")


def test_view_commands_turn_flip_window_and_invert(  # type: ignore[no-untyped-def]
        qtbot, mpr: MprLayout) -> None:
    from viewer.dicom.presets import CT_PRESETS

    axial, coronal, _ = mpr.views
    axial.rotate(1)  # clockwise: anterior (top) goes right, the right side (R) up
    coronal.flip(True)
    settle(qtbot, mpr)
    markers = axial.overlay.content.markers
    assert markers is not None and (markers.top, markers.right) == ("R", "A")
    assert coronal.overlay.content.markers is not None
    assert coronal.overlay.content.markers.left == "L"
    assert np.allclose(mpr.controller.state.normal(0), (0, 0, 1))  # same plane, turned
    QTest.keyClick(axial, Qt.Key.Key_2)
    assert mpr.controller.window() == (CT_PRESETS[1].center, CT_PRESETS[1].width)
    QTest.keyClick(axial, Qt.Key.Key_I)
    settle(qtbot, mpr)
    assert mpr.controller.state.invert
    assert coronal.rendered is not None and coronal.rendered.job.invert
    before = np.asarray(mpr.controller.state.point)
    QTest.keyClick(coronal, Qt.Key.Key_PageDown)  # ten steps along the (flipped) normal
    moved = np.asarray(mpr.controller.state.point) - before
    assert np.allclose(moved, 10 * SPACING[1] * np.asarray(mpr.controller.state.normal(1)))
    shot(mpr, "mpr_turned_inverted")


def test_planes_fill_in_as_slices_arrive_from_another_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    import threading

    volume = phantom_volume(filled=False)
    volume.filled[: volume.shape[0] // 2] = True  # the lower half has arrived
    layout = MprLayout(volume)
    qtbot.addWidget(layout)
    layout.resize(700, 700)
    layout.show()
    settle(qtbot, layout)
    coronal = layout.views[1]
    assert coronal.rendered is not None
    top_half = coronal.rendered.values[: coronal.plane.rows // 3]  # head end: not loaded yet
    assert np.all(top_half == volume.padding)
    assert "(loading)" in coronal.overlay.content.notes[0]

    def arrive() -> None:  # as the volume loader does, on the decode pool's thread
        volume.filled[:] = True
        volume.revision += 1
        layout.volume_filled(volume)

    worker = threading.Thread(target=arrive)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: coronal.rendered is not None
                    and coronal.rendered.job.revision == volume.revision, timeout=20000)
    settle(qtbot, layout)
    assert coronal.rendered is not None
    assert np.any(coronal.rendered.values[: coronal.plane.rows // 3] == BODY_HU)
    assert "(loading)" not in coronal.overlay.content.notes[0]
    layout.close_layout()


def test_the_3d_slot_opens_the_3d_view_on_the_volume(  # type: ignore[no-untyped-def]
        qtbot, mpr: MprLayout) -> None:
    assert mpr.open3d.isEnabled()  # viewer.gui.view3d is part of the build
    mpr.open3d.click()
    assert mpr.view3d is not None and mpr.slot3d.isHidden()
    assert mpr.view3d.parent() is mpr
    view = mpr.view3d
    qtbot.waitUntil(lambda: view.isVisible() and getattr(view, "picture", None) is not None,
                    timeout=30000)
    qtbot.wait(1500)  # the full-quality picture after the quick first one
    shot(mpr, "mpr_with_3d")


def test_double_click_maximises_a_view_and_delete_removes_a_measurement(  # type: ignore[no-untyped-def]
        qtbot, mpr: MprLayout) -> None:
    coronal = mpr.views[1]
    centre = QPointF(coronal.width() / 2, coronal.height() / 2)
    QTest.mouseDClick(coronal.view.viewport(), Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier, centre.toPoint())
    assert [v.isVisible() for v in mpr.views] == [False, True, False]
    assert mpr.slot3d.isHidden()
    QTest.mouseDClick(coronal.view.viewport(), Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier, centre.toPoint())
    assert all(v.isVisible() for v in mpr.views) and mpr.slot3d.isVisible()
    settle(qtbot, mpr)
    mpr.set_tool(Tool.LENGTH)
    drag(coronal, coronal.widget_point(10, 10), coronal.widget_point(60, 10))
    assert len(mpr.measurements.on(coronal.key)) == 1
    assert coronal.delete_measurement(coronal.widget_point(35, 10))
    assert mpr.measurements.on(coronal.key) == []
