"""Presentation states in the reading window (issue 17 items 1, 2): a study with a GSPS made by
viewer.reports.create_ps (plus a DISPLAY-unit graphic and a text added with pydicom) imported
into a temporary archive; the viewport lists it, applies it (pixels of `grab()` checked where
the image transform puts them: rotation, shutter, a graphic), "none" restores the plain image,
and "save presentation state" makes a new GSPS in the archive that reopens identically."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from tests.dicom.makers import image_dataset, save  # noqa: E402
from tests.reports.dcmtk import dcmpschk  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.importer import import_paths  # noqa: E402
from viewer.config import Settings  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.presentation_state import read_presentation_state  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.measurements import Kind  # noqa: E402
from viewer.gui.measurements import Measurement as Drawn  # noqa: E402
from viewer.gui.presentation_layer import NO_STATE, BoxText  # noqa: E402
from viewer.gui.save_presentation import start_save  # noqa: E402
from viewer.gui.viewport import Viewport  # noqa: E402
from viewer.reports.create_ps import create_presentation_state  # noqa: E402
from viewer.reports.view_state import (  # noqa: E402
    Measurement,
    RectangleShutter,
    Shape,
    ViewedImage,
    ViewState,
)

ROWS, COLUMNS = 96, 128
SCREENSHOTS = os.environ.get("VIEWER_SCREENSHOTS", "")


def _image(path: Path, **attributes: Any) -> Path:
    """A CT-like image: dark background (0 HU) with a bright 16x16 block at its top-left."""
    pixels = np.full((ROWS, COLUMNS), 1024, dtype=np.uint16)
    pixels[4:20, 4:20] = 3000
    values = {"Modality": "CT", "RescaleSlope": 1, "RescaleIntercept": -1024,
              "WindowCenter": 500, "WindowWidth": 2000, "PatientName": "PS^Gui",
              "PatientID": "PSG1", "StudyDate": "20261207", "SeriesNumber": 1,
              "InstanceNumber": 1, "PixelSpacing": [0.5, 0.5]}
    values.update(attributes)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save(image_dataset(pixels, bits_stored=12, **values), path)


def _gsps(image: Path, out: Path) -> Path:
    """Rotation 90, a mid-grey rectangular shutter, a window, a length, and a DISPLAY-unit
    polyline and a text box added to the measurement layer."""
    ds = dcmread(image)
    view = ViewState(
        window=(1000.0, 1000.0), rotation=90,
        shutters=(RectangleShutter(0, 0, 100, 80),), shutter_value=0x8000,
        measurements=(Measurement(Shape.LINE, ((40.5, 60.5), (90.5, 60.5)), text=""),),
    )
    ps = create_presentation_state([ViewedImage.of(ds)], view, label="TECH",
                                   description="technologist")
    annotation = ps.GraphicAnnotationSequence[0]
    box = Dataset()
    box.BoundingBoxAnnotationUnits = "DISPLAY"
    box.BoundingBoxTopLeftHandCorner = [0.05, 0.05]
    box.BoundingBoxBottomRightHandCorner = [0.45, 0.2]
    box.BoundingBoxTextHorizontalJustification = "LEFT"
    box.UnformattedTextValue = "Ünïcode"
    line = Dataset()
    line.GraphicAnnotationUnits = "DISPLAY"
    line.GraphicDimensions = 2
    line.NumberOfGraphicPoints = 2
    line.GraphicData = [0.1, 0.9, 0.9, 0.9]
    line.GraphicType = "POLYLINE"
    line.GraphicFilled = "N"
    annotation.TextObjectSequence = [box]
    annotation.GraphicObjectSequence = [*annotation.get("GraphicObjectSequence", []), line]
    ps.save_as(out, enforce_file_format=True)
    return out


@pytest.fixture
def study(tmp_path: Path) -> Iterator[tuple[Archive, Path, Path]]:
    image = _image(tmp_path / "in" / "image.dcm")
    ps = _gsps(image, tmp_path / "in" / "ps.dcm")
    with Archive(tmp_path / "archive") as archive:
        report = import_paths(archive, [tmp_path / "in"])
        assert report.ok and len(report.imported) == 2
        yield archive, image, ps


def _window(qtbot: Any, archive: Archive, study_uid: str, pool: DecodePool,
            settings: Settings | None = None) -> MainWindow:
    main = MainWindow([], (1, 1), FrameBridge(pool), archive, settings=settings)
    qtbot.addWidget(main)
    main.resize(900, 700)
    main.show()
    main.open_study(study_uid)
    # the index lists the presentation states' series beside the image's: one viewport here
    main.reading.set_layout((1, 1))
    qtbot.waitUntil(lambda: main.viewports[0].frame is not None, timeout=20000)
    _settled(qtbot, main.viewports[0])
    qtbot.wait(50)
    return main


def _settled(qtbot: Any, viewport: Viewport) -> None:
    """Until the state the viewport wants is read (off the GUI thread) and shown."""
    layer = viewport.presentation
    assert layer is not None
    qtbot.waitUntil(lambda: layer.awaited is None, timeout=10000)


def _grab(viewport: Viewport, name: str) -> QImage:
    image = viewport.view.viewport().grab().toImage()
    if SCREENSHOTS:  # the whole viewport (corner text, the list) to look at
        viewport.grab().save(str(Path(SCREENSHOTS) / f"{name}.png"))
    return image


def _at(viewport: Viewport, x: float, y: float) -> QPointF:
    """Image pixel coordinates (0,0 the top-left corner of the top-left pixel) -> widget."""
    scene = viewport.image.mapToScene(QPointF(x, y))
    return QPointF(viewport.view.mapFromScene(scene))


def _grey(image: QImage, where: QPointF) -> tuple[int, int, int]:
    colour = image.pixelColor(round(where.x()), round(where.y()))
    return colour.red(), colour.green(), colour.blue()


def test_lists_and_applies_the_newest_state(qtbot: Any, study: tuple[Archive, Path, Path]
                                            ) -> None:
    archive, image, ps_path = study
    header = dcmread(image, stop_before_pixels=True)
    with DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        vp = main.viewports[0]
        layer = vp.presentation
        assert layer is not None and layer.applied is not None
        assert [s.label for s in layer.listed] == ["TECH"]
        assert layer.combo.isVisible() and layer.combo.count() == 2
        assert "TECH — technologist — " in layer.combo.itemText(1)
        shot = _grab(vp, "ps-applied")
        # rotation 90 clockwise: the image's top-left block is at the top-right on screen
        block = _at(vp, 12, 12)
        assert block.x() > vp.view.width() / 2 and block.y() < vp.view.height() / 2
        assert vp.quarter_turns == 1 and not vp.flip_h
        assert _grey(shot, block) == (255, 255, 255)  # 1976 HU through the state's window
        background = _grey(shot, _at(vp, 50.5, 40.5))
        assert background == (0, 0, 0)  # 0 HU: below the state's window (500..1500)
        # outside the shutter (columns 101.., rows 81..): the shutter's grey
        assert _grey(shot, _at(vp, 120.5, 40.5)) == (128, 128, 128)
        assert _grey(shot, _at(vp, 50.5, 90.5)) == (128, 128, 128)
        # the DISPLAY-unit line at 0.9 of the displayed area's height (after the turn), in
        # the layer's colour over the shutter's grey
        area = vp.image.mapRectToParent(vp.image.boundingRect())
        on_line = vp.view.mapFromScene(vp.view.camera.mapToScene(
            QPointF(area.left() + 0.5 * area.width(), area.top() + 0.9 * area.height())))
        assert _grey(shot, QPointF(on_line)) != (128, 128, 128)
        below = QPointF(on_line) + QPointF(0, 6)
        assert _grey(shot, below) == (128, 128, 128)
        # the length drawn on row 60.5 in the layer's colour, not the black background
        drawn = _grey(shot, _at(vp, 65.5, 60.5))
        assert drawn != (0, 0, 0)
        assert _grey(shot, _at(vp, 65.5, 66.5)) == (0, 0, 0)
        texts = [item for item in layer._items if isinstance(item, BoxText)]
        assert [t.text for t in texts] == ["Ünïcode"]

        # "No presentation state": the plain image, as its header says, the list kept
        layer.choose(NO_STATE)
        plain = _grab(vp, "ps-none")
        assert layer.applied is None and layer.combo.isVisible()
        assert vp.quarter_turns == 0
        block = _at(vp, 12, 12)
        assert block.x() < vp.view.width() / 2
        assert _grey(plain, block) == (255, 255, 255)
        # the file's window (L 500 W 2000): 0 HU a quarter up the greys; no shutter any more
        assert 55 < _grey(plain, _at(vp, 120.5, 40.5))[0] < 72
        assert not layer._items
        main.close()


def test_setting_none_lists_without_applying(qtbot: Any, study: tuple[Archive, Path, Path]
                                             ) -> None:
    archive, image, _ = study
    header = dcmread(image, stop_before_pixels=True)
    with DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool,
                       Settings(presentation_state="none"))
        layer = main.viewports[0].presentation
        assert layer is not None and layer.applied is None and len(layer.listed) == 1
        layer.choose(layer.listed[0].sop_instance_uid)
        _settled(qtbot, main.viewports[0])
        assert layer.applied is not None and main.viewports[0].quarter_turns == 1
        main.close()


def test_user_window_on_top_and_reset(qtbot: Any, study: tuple[Archive, Path, Path]) -> None:
    archive, image, _ = study
    header = dcmread(image, stop_before_pixels=True)
    with DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        vp = main.viewports[0]
        assert vp.current_window() == (1000.0, 1000.0)
        vp.set_window(0.0, 400.0)
        vp.rotate(1)
        assert vp.current_window() == (0.0, 400.0) and vp.quarter_turns == 2
        main.reset_view()
        assert vp.current_window() == (1000.0, 1000.0) and vp.quarter_turns == 1
        main.close()


def test_save_presentation_state_reopens_identically(
    qtbot: Any, study: tuple[Archive, Path, Path]
) -> None:
    archive, image, _ = study
    header = dcmread(image, stop_before_pixels=True)
    with DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        vp = main.viewports[0]
        assert vp.presentation is not None
        vp.presentation.choose(NO_STATE)
        vp.set_window(40.0, 400.0)
        vp.toggle_invert()
        vp.flip(True)
        vp.view.scale_by(0.5, vp.view.image_bounds().center())  # zoom x2 about the centre
        vp.view.translate_by(40.0, -14.0)  # the block (mirrored to the right) in view
        vp._fit = False
        vp._refresh()  # the corner's zoom and scale bar, as the mouse's zoom and pan do
        before = _grab(vp, "ps-before-save")
        before_zoom, before_size = vp.zoom_factor(), vp.view.viewport().size()
        key = vp.current_key
        assert key is not None
        vp.measurements.add(key, Drawn(Kind.LENGTH, [(30.0, 50.0), (70.0, 50.0)]))
        assert main.presentations is not None
        task = start_save(vp, archive, main.tasks, main.presentations, label="Mine")
        with qtbot.waitSignal(task.finished, timeout=60000):
            pass
        assert task.outcome == "ok", task.error
        uid = str(task.result)
        states = archive.index.presentation_states_for(str(header.SOPInstanceUID), 1)
        assert [s.label for s in states][:1] == ["MINE"] and len(states) == 2
        saved_path = archive.store.absolute(states[0].store_path)
        assert dcmpschk(saved_path) == []  # valid for DCMTK, as stored in the archive
        saved = dcmread(saved_path)
        assert saved.SpecificCharacterSet == "ISO_IR 192"
        parsed = read_presentation_state(saved)
        assert parsed.sop_instance_uid == uid
        assert (parsed.rotation, parsed.horizontal_flip) == (0, True)
        assert parsed.presentation_lut_shape == "INVERSE"
        texts = [t.UnformattedTextValue for a in saved.GraphicAnnotationSequence
                 for t in a.get("TextObjectSequence", [])]
        assert any("mm" in t for t in texts)  # the length's value as text
        qtbot.waitUntil(lambda: vp.presentation is not None and vp.presentation.applied
                        is not None and vp.presentation.applied.listed.sop_instance_uid == uid,
                        timeout=5000)
        assert vp.presentation.combo.count() == 3
        main.close()

        # a new window on the archive: the newest state (ours) shows the same view
        vp.measurements.clear(key)
        other = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        shown = other.viewports[0]
        assert shown.presentation is not None and shown.presentation.applied is not None
        assert shown.presentation.applied.listed.sop_instance_uid == uid
        shown.measurements.clear(key)  # ours are drawn by the state now, not by the store
        for item in list(shown.presentation._items):  # compare the pictures alone
            item.setVisible(False)
        after = _grab(shown, "ps-reopened")
        assert shown.view.viewport().size() == before_size
        assert shown.current_window() == (40.0, 400.0)
        assert shown.view.target == vp.view.target  # the same area shown
        assert abs(shown.zoom_factor() - before_zoom) / before_zoom < 0.02
        a = _pixels(before)
        b = _pixels(after)
        same = np.mean(np.abs(a.astype(int) - b.astype(int)) <= 2)
        assert same >= 0.97, same  # the corner text differs (state label, zoom digits)
        other.close()


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.bytesPerLine() * height)
    return data.reshape(height, image.bytesPerLine())[:, :width].copy()


def test_image_header_shutter_shows(qtbot: Any, tmp_path: Path) -> None:
    """A radiograph's own Display Shutter (C.7.6.11) in the viewport, no presentation state."""
    image = _image(tmp_path / "in" / "cr.dcm", Modality="CR", ShutterShape="CIRCULAR",
                   CenterOfCircularShutter=[48, 64], RadiusOfCircularShutter=30,
                   ShutterPresentationValue=0x8000)
    header = dcmread(image, stop_before_pixels=True)
    with Archive(tmp_path / "archive") as archive, \
            DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        assert import_paths(archive, [image]).ok
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        vp = main.viewports[0]
        shot = _grab(vp, "header-shutter")
        assert vp.presentation is not None and not vp.presentation.listed
        assert not vp.presentation.combo.isVisible()
        assert _grey(shot, _at(vp, 12, 12)) == (128, 128, 128)  # the block is shuttered
        assert _grey(shot, _at(vp, 64, 48))[0] < 128  # inside: the image
        main.close()


def test_unusable_state_is_listed_named_and_not_applied(qtbot: Any, tmp_path: Path) -> None:
    """A GSPS without its Displayed Area Selection (Type 1): listed, the image shown as its
    header says, one line in the corner naming the state and the reason."""
    image = _image(tmp_path / "in" / "image.dcm")
    ps = dcmread(_gsps(image, tmp_path / "ps-whole.dcm"))
    del ps.DisplayedAreaSelectionSequence
    ps.save_as(tmp_path / "in" / "ps.dcm", enforce_file_format=True)
    header = dcmread(image, stop_before_pixels=True)
    with Archive(tmp_path / "archive") as archive, \
            DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        assert len(import_paths(archive, [tmp_path / "in"]).imported) == 2
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        vp = main.viewports[0]
        layer = vp.presentation
        assert layer is not None and len(layer.listed) == 1 and layer.applied is None
        assert layer.problem == ("TECH: not applied, Displayed Area Selection Sequence missing "
                                 "(truncated or invalid presentation state)")
        assert "\n" not in layer.problem
        assert layer.problem in vp.overlay.content.notes
        assert vp.quarter_turns == 0 and vp.current_window() == (500.0, 2000.0)
        _grab(vp, "ps-unusable")
        main.close()


def test_drawn_shutter_shows_and_is_saved(qtbot: Any, study: tuple[Archive, Path, Path]) -> None:
    """The shutter tool: a rectangle drawn on the image hides what is outside it (in the
    applied state's shutter grey, replacing its rectangle); saved as the state's shutter."""
    archive, image, _ = study
    header = dcmread(image, stop_before_pixels=True)
    with DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        vp = main.viewports[0]
        key = vp.current_key
        assert key is not None and vp.presentation is not None
        vp.measurements.add(key, Drawn(Kind.SHUTTER, [(30.0, 30.0), (70.0, 70.0)]))
        vp.measurements.add(key, Drawn(Kind.SHUTTER, [(70.0, 50.0), (10.0, 10.0)]))
        assert [m.kind for m in vp.measurements.on(key)] == [Kind.SHUTTER]  # the newest
        shot = _grab(vp, "ps-drawn-shutter")
        assert _grey(shot, _at(vp, 6.5, 6.5)) == (128, 128, 128)  # the block, outside
        assert _grey(shot, _at(vp, 12.5, 12.5)) == (255, 255, 255)  # the block, inside
        assert _grey(shot, _at(vp, 90.5, 40.5)) == (128, 128, 128)  # was inside the state's
        task = start_save(vp, archive, main.tasks, main.presentations, label="shut")
        with qtbot.waitSignal(task.finished, timeout=60000):
            pass
        assert task.outcome == "ok", task.error
        states = archive.index.presentation_states_for(str(header.SOPInstanceUID), 1)
        saved = dcmread(archive.store.absolute(states[0].store_path))
        assert states[0].label == "SHUT"
        assert saved.ShutterShape == "RECTANGULAR"
        assert [saved.ShutterLeftVerticalEdge, saved.ShutterRightVerticalEdge,
                saved.ShutterUpperHorizontalEdge, saved.ShutterLowerHorizontalEdge] == \
            [11, 71, 11, 51]
        assert saved.ShutterPresentationValue == 0x8000
        assert "GraphicAnnotationSequence" not in saved  # a shutter is no measurement
        main.close()


@pytest.mark.parametrize(("mode", "extra"), [
    ("SCALE TO FIT", {}),
    ("MAGNIFY", {"PresentationPixelMagnificationRatio": 3.0}),
    ("TRUE SIZE", {}),
], ids=["scale-to-fit", "magnify", "true-size"])
def test_presentation_size_modes(qtbot: Any, tmp_path: Path, mode: str,
                                 extra: dict[str, Any]) -> None:
    """The displayed area (columns 21-60, rows 11-40) centred; SCALE TO FIT fits it, MAGNIFY
    shows 3 screen pixels per image pixel, TRUE SIZE 0.5 mm pixels at the screen's size."""
    image = _image(tmp_path / "in" / "image.dcm")
    ps = dcmread(_gsps(image, tmp_path / "ps-any.dcm"))
    ps.ImageRotation = 0
    area = ps.DisplayedAreaSelectionSequence[0]
    area.DisplayedAreaTopLeftHandCorner = [21, 11]
    area.DisplayedAreaBottomRightHandCorner = [60, 40]
    area.PresentationSizeMode = mode
    for keyword, value in extra.items():
        setattr(area, keyword, value)
    ps.save_as(tmp_path / "in" / "ps.dcm", enforce_file_format=True)
    header = dcmread(image, stop_before_pixels=True)
    with Archive(tmp_path / "archive") as archive, \
            DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        assert len(import_paths(archive, [tmp_path / "in"]).imported) == 2
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        vp = main.viewports[0]
        assert vp.presentation is not None and vp.presentation.applied is not None
        size = vp.view.viewport().size()
        centre = _at(vp, 40.0, 25.0)  # the area's centre, in the viewport's centre
        assert abs(centre.x() - size.width() / 2) <= 1 and abs(centre.y() - size.height() / 2) <= 1
        if mode == "SCALE TO FIT":
            assert vp.zoom_factor() == pytest.approx(min(size.width() / 40, size.height() / 30))
        elif mode == "MAGNIFY":
            assert vp.zoom_factor() == pytest.approx(3.0)
        else:
            screen = vp.screen()
            assert screen is not None
            assert vp.zoom_factor() == pytest.approx(0.5 / (25.4 / screen.physicalDotsPerInchX()))
        _grab(vp, f"ps-{mode.replace(' ', '-').lower()}")
        main.close()


def test_closed_viewports_are_told_nothing(qtbot: Any, study: tuple[Archive, Path, Path]) -> None:
    """A layout with fewer viewports: the removed ones' layers leave the shared measurement
    store and the archive's listeners (a change after would reach a deleted viewport)."""
    archive, image, _ = study
    header = dcmread(image, stop_before_pixels=True)
    with DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        assert main.presentations is not None
        main.reading.set_layout((2, 1))
        assert len(main.presentations.listeners) == 2
        main.reading.set_layout((1, 1))
        qtbot.waitUntil(lambda: len(main.presentations.listeners) == 1, timeout=5000)
        key = main.viewports[0].current_key
        assert key is not None
        main.viewports[0].measurements.add(key, Drawn(Kind.SHUTTER, [(5.0, 5.0), (50.0, 50.0)]))
        main.presentations.archive_changed()
        assert main.viewports[0].presentation is not None
        assert main.viewports[0].presentation.applied is not None
        main.close()


def test_pseudo_colour_state_in_the_viewport(qtbot: Any, tmp_path: Path) -> None:
    """A Pseudo-Color Softcopy Presentation State: the VOI output through its palette (red
    ramp up, green ramp down, no blue), on screen as RGB."""
    from pydicom.datadict import tag_for_keyword
    from pydicom.dataelem import DataElement

    image = _image(tmp_path / "in" / "image.dcm")
    ps = dcmread(_gsps(image, tmp_path / "ps-grey.dcm"))
    ps.SOPClassUID = "1.2.840.10008.5.1.4.1.1.11.3"  # Pseudo-Color Softcopy Presentation State
    ps.file_meta.MediaStorageSOPClassUID = ps.SOPClassUID
    del ps.PresentationLUTShape
    ramp = np.arange(256, dtype=np.uint16) * 257
    for colour, data in (("Red", ramp), ("Green", ramp[::-1]), ("Blue", np.zeros(256, np.uint16))):
        keyword = f"{colour}PaletteColorLookupTableDescriptor"
        ps[keyword] = DataElement(tag_for_keyword(keyword), "US", [256, 0, 16])
        setattr(ps, f"{colour}PaletteColorLookupTableData", data.tobytes())
    ps.save_as(tmp_path / "in" / "ps.dcm", enforce_file_format=True)
    header = dcmread(image, stop_before_pixels=True)
    with Archive(tmp_path / "archive") as archive, \
            DecodePool(1, cache=FrameCache(16 << 20)) as pool:
        assert len(import_paths(archive, [tmp_path / "in"]).imported) == 2
        main = _window(qtbot, archive, str(header.StudyInstanceUID), pool)
        vp = main.viewports[0]
        assert vp.presentation is not None and vp.presentation.applied is not None
        shot = _grab(vp, "ps-pseudo-colour")
        assert _grey(shot, _at(vp, 12.5, 12.5)) == (255, 0, 0)  # above the window: red
        assert _grey(shot, _at(vp, 50.5, 40.5)) == (0, 255, 0)  # below it: green
        main.close()
