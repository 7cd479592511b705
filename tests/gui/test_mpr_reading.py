"""The MPR layout inside the reading window: reference lines between MPR views and 2D viewports
of the same Frame of Reference, and the layout taking a viewport's place and giving it back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402
from pydicom.encaps import encapsulate  # noqa: E402
from pydicom.uid import JPEGLosslessSV1  # noqa: E402

from tests.gui.windows import reading_window  # noqa: E402
from tests.volume.mpr_phantom import phantom_volume  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.dicom.geometry import patient_point  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One axial series, 12 slices of 2.5 mm from z = 0 down, centred on x = y = 0."""
    return write_ct_series(tmp_path_factory.mktemp("ct"), slices=12, rows=128, columns=128,
                           series_description="Axial 2.5", slice_spacing_mm=2.5)


@pytest.fixture
def window(qtbot, series: list[Path]) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    with reading_window(qtbot, series, 1) as main:
        main.reading.set_layout((2, 1))
        yield main


def settle(qtbot, main: MainWindow) -> None:  # type: ignore[no-untyped-def]
    layout = main.reading.mpr
    assert layout is not None
    qtbot.waitUntil(lambda: not layout.controller.interacting
                    and all(v.idle for v in layout.views), timeout=20000)


def test_reference_lines_between_mpr_views_and_a_2d_viewport(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, series: list[Path]) -> None:
    reading = window.reading
    frame_of_reference = str(dcmread(series[0], stop_before_pixels=True).FrameOfReferenceUID)
    flat = reading.viewports[0]
    host = reading.viewports[1]
    layout = reading.show_mpr(phantom_volume(frame_of_reference=frame_of_reference), host)
    settle(qtbot, window)
    assert host.isHidden() and layout.isVisible()
    axial, coronal, sagittal = layout.views
    # The 2D axial image shows where the coronal and sagittal planes cut it (the axial MPR
    # plane is parallel to it: no line).
    assert len(flat.reference_lines) == 2
    # The coronal MPR view shows the 2D slice as a horizontal line at the slice's height.
    g = flat.geometry_now
    assert g is not None
    z = float(patient_point(g, 0, 0)[2])
    assert len(coronal.reference_lines) == 1
    (x0, y0), (x1, y1) = coronal.reference_lines[0]
    row_expected = coronal.plane.to_pixel(np.array([0.0, coronal.plane.center[1], z]))[0]
    assert y0 == pytest.approx(row_expected, abs=0.5) and y1 == pytest.approx(y0, abs=1e-6)
    assert axial.reference_lines == []  # parallel planes
    assert len(sagittal.reference_lines) == 1
    # Scrolling the 2D series moves its line in the MPR views...
    flat.set_position(6)
    (_, y6), _ = coronal.reference_lines[0]
    assert y6 == pytest.approx(y0 + 6 * 2.5 / coronal.plane.spacing, abs=0.5)
    # ...and moving the crosshair moves the MPR planes' lines on the 2D image.
    before = list(flat.reference_lines)
    layout.controller.set_state(layout.controller.state.with_point((10.0, -15.0, -5.0)))
    settle(qtbot, window)
    assert flat.reference_lines != before
    reading.close_mpr()
    assert reading.mpr is None and not host.isHidden()
    assert flat.reference_lines == []  # the viewport given back is empty: nothing to draw


def test_no_reference_lines_across_frames_of_reference(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow) -> None:
    reading = window.reading
    layout = reading.show_mpr(phantom_volume(), reading.viewports[1])
    settle(qtbot, window)
    assert reading.viewports[0].reference_lines == []
    assert all(v.reference_lines == [] for v in layout.views)


def test_mpr_opens_on_the_active_series_and_fills_from_the_pool(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow) -> None:
    reading = window.reading
    flat = reading.viewports[0]
    assert window.reading.open_mpr() == ""
    layout = reading.mpr
    assert layout is not None and layout.source_file == flat.stack.frames[0][0]  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: layout.volume.complete, timeout=30000)
    settle(qtbot, window)
    # The axial MPR plane through the 2D viewport's slice shows that slice's modality values.
    g = flat.geometry_now
    assert g is not None and flat.frame is not None
    centre = patient_point(g, (g.columns - 1) / 2, (g.rows - 1) / 2)
    layout.controller.set_state(layout.controller.state.with_point(centre))
    settle(qtbot, window)
    axial = layout.views[0]
    assert axial.rendered is not None
    info = flat.frame.info
    expected = flat.frame.array * info.rescale_slope + info.rescale_intercept
    row, column, _ = axial.plane.to_pixel(patient_point(g, 0, 0))
    r0, c0 = round(row), round(column)
    shown = axial.rendered.values[r0:r0 + g.rows, c0:c0 + g.columns]
    assert np.allclose(shown, expected, atol=0.01)
    window.grab().save("/tmp/screens/mpr_reading_window.png")


def test_a_single_image_is_refused_with_one_line(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    one = write_ct_series(tmp_path / "one", slices=1, rows=64, columns=64)
    with reading_window(qtbot, one, 1) as main:
        problem = main.reading.open_mpr()
        assert problem and "\n" not in problem
        assert main.reading.mpr is None


def test_toolbar_commands_reach_the_mpr_view_clicked_last(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow) -> None:
    from viewer.dicom.presets import CT_PRESETS

    reading = window.reading
    flat = reading.viewports[0]
    layout = reading.show_mpr(phantom_volume(), reading.viewports[1])
    settle(qtbot, window)
    reading.for_active(lambda v: v.apply_preset(3))
    assert layout.controller.window() == (CT_PRESETS[2].center, CT_PRESETS[2].width)
    assert flat.state.window is None  # the 2D viewport kept its own
    reading._activate(flat)  # a click in the 2D viewport
    reading.for_active(lambda v: v.apply_preset(1))
    assert flat.state.window == (CT_PRESETS[0].center, CT_PRESETS[0].width)
    assert layout.controller.window() == (CT_PRESETS[2].center, CT_PRESETS[2].width)


def test_a_frame_that_fails_is_named_in_the_mpr_views(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = write_ct_series(tmp_path / "cut", slices=8, rows=64, columns=64)
    broken = files[3]
    # A sound header whose compressed pixels cannot be decoded.
    ds = dcmread(broken)
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xc3 not a JPEG stream \xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds.save_as(broken, enforce_file_format=True)
    with reading_window(qtbot, files, 1) as main:
        assert main.reading.open_mpr() == ""
        layout = main.reading.mpr
        assert layout is not None
        errors = layout.controller.load_errors
        qtbot.waitUntil(lambda: any(broken.name in line for line in errors()), timeout=30000)
        settle(qtbot, main)
        layout.controller.reset()
        settle(qtbot, main)
        notes = layout.views[1].overlay.content.notes
        assert any(broken.name in line and "\n" not in line for line in notes)
        assert "(loading)" not in notes[0]  # the loader is done: the slice will not come
        main.grab().save("/tmp/screens/mpr_frame_failed.png")


def test_fusing_a_pet_series_of_the_study_from_the_fusion_row(  # type: ignore[no-untyped-def]
        qtbot, tmp_path: Path) -> None:
    import re

    from tests.volume.pet_series import Sphere, write_pet_series

    ct = write_ct_series(tmp_path / "ct", slices=20, rows=64, columns=64,
                         series_description="CT")
    header = dcmread(ct[0], stop_before_pixels=True)
    # The CT: 64 x 0.7 mm square, 20 slices 1 mm apart about z = 0.
    hot = Sphere((5.0, 5.0, 0.0), 10.0, 6.0)
    pet = write_pet_series(tmp_path / "pet", str(header.FrameOfReferenceUID),
                           (-22.0, -22.0, -9.5), (22.0, 22.0, 9.5), spheres=(hot,),
                           background_suv=1.0, study_uid=str(header.StudyInstanceUID))
    with reading_window(qtbot, ct + pet.paths, 2) as main:
        reading = main.reading
        reading.show_series(str(header.SeriesInstanceUID), reading.viewports[0])
        assert reading.open_mpr() == ""
        layout = reading.mpr
        assert layout is not None
        combo = layout.fusion.series
        index = combo.findData(pet.series_uid)
        assert index > 0  # offered: same study and Frame of Reference
        combo.setCurrentIndex(index)
        combo.activated.emit(index)
        fusion = layout.controller.fusion
        assert fusion is not None and fusion.suv  # the loader's volume carries its SUVbw factor
        qtbot.waitUntil(lambda: fusion.overlay.complete and layout.volume.complete, timeout=30000)
        layout.controller.set_state(layout.controller.state.with_point(hot.center))
        settle(qtbot, main)
        axial = layout.views[0]
        row, column, _ = axial.plane.to_pixel(np.asarray(hot.center))
        axial.probe(axial.widget_point(column, row))
        found = re.search(r"SUVbw ([0-9.]+)", axial.overlay.content.probe)
        assert found is not None and float(found.group(1)) == pytest.approx(hot.suv, abs=0.05)
        assert axial.rendered is not None and axial.rendered.picture.ndim == 3
        assert "HU" in axial.overlay.content.probe and "-1024 HU" not in axial.overlay.content.probe
        main.grab().save("/tmp/screens/mpr_fusion_reading_window.png")
