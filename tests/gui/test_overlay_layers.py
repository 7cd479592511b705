"""SEG and RTSTRUCT series of a study drawn over its CT in the reading window: segment pixels
tinted in the segment's recommended colour (in a grab of the viewport), visibility and opacity
from the overlay panel, contours as polylines through the pixel centres (never filled), and an
overlay in another Frame of Reference refused with a note in the viewport's corner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pydicom.uid import generate_uid  # noqa: E402
from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import QGraphicsPathItem  # noqa: E402

from tests.dicom.overlay_objects import (  # noqa: E402
    RoiSpec,
    ct_series,
    description,
    make_rtstruct,
    make_seg,
    save,
)
from tests.gui.windows import archive_study_window  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.importer import import_paths  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.overlay_layers import MASK, OverlayLayer  # noqa: E402
from viewer.gui.viewport import Viewport  # noqa: E402

SIZE, SLICES = 64, 6
LIVER = (slice(10, 20), slice(5, 15))  # rows, columns
SPLEEN = (slice(40, 50), slice(40, 50))
SQUARE = np.array([[20.0, 20.0], [40.0, 20.0], [40.0, 40.0], [20.0, 40.0]])  # x, y


@dataclass
class Study:
    root: Path
    study_uid: str
    seg_series: str
    rt_series: str
    foreign_series: str


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("overlays")
    ct = ct_series(root / "files" / "ct", slices=SLICES, size=SIZE)
    labels = np.zeros((SLICES, SIZE, SIZE), dtype=np.uint8)
    labels[(slice(None), *LIVER)] = 1
    labels[(slice(None), *SPLEEN)] = 2
    seg = make_seg(ct.datasets, labels, "LABELMAP",
                   [description(1, "Liver", "red"), description(2, "Spleen", "blue")])
    save(seg, root / "files" / "seg.dcm")
    rois = [RoiSpec(1, "Body", (0, 255, 0),
                    [("CLOSED_PLANAR", ct.patient(i, SQUARE)) for i in range(SLICES)])]
    rt = make_rtstruct(ct.datasets, rois)
    save(rt, root / "files" / "rt.dcm")
    foreign = make_seg(ct.datasets, labels, "LABELMAP",
                       [description(1, "Elsewhere", "red"), description(2, "Other", "blue")])
    foreign.FrameOfReferenceUID = generate_uid()  # coordinates in another patient frame
    foreign.SeriesInstanceUID = generate_uid()
    foreign.SOPInstanceUID = foreign.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    save(foreign, root / "files" / "foreign.dcm")
    with Archive(root / "archive") as archive:
        report = import_paths(archive, [root / "files"], workers=0)
        assert not report.failed, report.failed
    return Study(root, str(ct.datasets[0].StudyInstanceUID), str(seg.SeriesInstanceUID),
                 str(rt.SeriesInstanceUID), str(foreign.SeriesInstanceUID))


@pytest.fixture
def window(qtbot: Any, study: Study) -> Iterator[MainWindow]:
    with archive_study_window(qtbot, study.root / "archive", study.study_uid, SLICES) as main:
        yield main


def _open(qtbot: Any, main: MainWindow, series_uid: str) -> OverlayLayer:
    with qtbot.waitSignal(main.objects.overlay_opened, timeout=20000) as opened:
        main.reading.show_series(series_uid)
    layer: OverlayLayer = opened.args[0]
    viewport = main.reading.viewports[0]
    qtbot.waitUntil(lambda: layer.placed_now(viewport) is not None, timeout=20000)
    qtbot.wait(50)  # the queued redraw
    return layer


def _colour(viewport: Viewport, x: float, y: float) -> QColor:
    """The colour on screen at the centre of image pixel (column x, row y)."""
    scene = viewport.image.mapToScene(QPointF(x + 0.5, y + 0.5))
    point = viewport.view.mapFromScene(scene)
    return viewport.view.viewport().grab().toImage().pixelColor(point)


def _grey(colour: QColor) -> bool:
    return abs(colour.red() - colour.green()) <= 2 and abs(colour.green() - colour.blue()) <= 2


def test_segments_tint_their_pixels_with_visibility_and_opacity(qtbot: Any,
                                                                window: MainWindow,
                                                                study: Study) -> None:
    main = window
    viewport = main.reading.viewports[0]
    assert viewport.stack is not None and viewport.stack.info.modality == "CT"
    assert all(v.stack is None or v.stack.info.modality == "CT" for v in main.reading.viewports)
    liver, spleen, outside = (12.0, 15.0), (45.0, 45.0), (30.0, 30.0)  # x, y
    before = _colour(viewport, *liver)
    assert _grey(before)
    layer = _open(qtbot, main, study.seg_series)
    assert [e.name for e in layer.entries] == ["Liver", "Spleen"]
    assert len([i for i in viewport.view.scene().items() if i.data(0) == MASK]) == 2
    tinted = _colour(viewport, *liver)
    assert tinted.red() > tinted.green() + 40 and tinted.red() > tinted.blue() + 40
    blue = _colour(viewport, *spleen)
    assert blue.blue() > blue.red() + 40
    assert _grey(_colour(viewport, *outside))
    panel = main.objects.overlay_panel
    panel.opacity.setValue(100)
    full = _colour(viewport, *liver)
    assert (full.red(), full.green(), full.blue()) == pytest.approx((255, 0, 0), abs=2)
    panel.opacity.setValue(0)
    assert _colour(viewport, *liver) == before
    panel.opacity.setValue(50)
    panel.groups[0].check(1, False)  # the liver hidden, the spleen still shown
    assert _colour(viewport, *liver) == before
    assert _colour(viewport, *spleen).blue() > _colour(viewport, *spleen).red() + 40
    panel.groups[0].check(1, True)
    assert _colour(viewport, *liver).red() > before.red() or before.red() == 255
    viewport.grab().save(str(study.root / "seg.png"))
    main.grab().save(str(study.root / "seg_window.png"))
    # scrolling draws every slice's masks (placed off the GUI thread, then cached)
    for position in range(SLICES):
        viewport.set_position(position)
        qtbot.waitUntil(lambda: layer.placed_now(viewport) is not None, timeout=10000)
        qtbot.wait(20)
        assert _colour(viewport, *liver).red() > _colour(viewport, *liver).green() + 40
    # viewports made and closed by layout changes draw it too, or are let go
    main.reading.set_layout((2, 2))
    main.reading.set_layout((1, 1))
    qtbot.wait(100)
    assert main.reading.viewports[0] is viewport
    assert _colour(viewport, *liver).red() > _colour(viewport, *liver).green() + 40


def test_contours_are_outlines_through_pixel_centres(qtbot: Any, window: MainWindow,
                                                     study: Study) -> None:
    main = window
    viewport = main.reading.viewports[0]
    layer = _open(qtbot, main, study.rt_series)
    assert [(e.name, e.color) for e in layer.entries] == [("Body", (0, 255, 0))]
    paths = [i for i in viewport.view.scene().items() if isinstance(i, QGraphicsPathItem)
             and i.pen().color() == QColor(0, 255, 0)]
    assert len(paths) == 1
    # path_item puts pixel centres at +0.5: the square's corners are pixel centres 20 and 40
    bounds = paths[0].path().boundingRect()
    assert (bounds.x(), bounds.y(), bounds.width(), bounds.height()) == pytest.approx(
        (20.5, 20.5, 20.0, 20.0), abs=1e-3)
    edge = _colour(viewport, 20.0, 30.0)
    assert edge.green() > edge.red() + 60
    assert _grey(_colour(viewport, 30.0, 30.0))  # never filled
    viewport.grab().save(str(study.root / "rt.png"))
    main.objects.overlay_panel.groups[0].check(1, False)
    assert _grey(_colour(viewport, 20.0, 30.0))


def test_another_frame_of_reference_is_refused_with_a_note(qtbot: Any, window: MainWindow,
                                                           study: Study) -> None:
    main = window
    viewport = main.reading.viewports[0]
    before = _colour(viewport, 12.0, 15.0)
    with qtbot.waitSignal(main.objects.problem, timeout=20000) as told:
        layer = _open(qtbot, main, study.foreign_series)
    assert "Frame of Reference" in told.args[0] and layer.name in told.args[0]
    placed = layer.placed_now(viewport)
    assert placed is not None and "Frame of Reference" in placed.refused
    notes = viewport.overlay.content.notes
    assert any("not shown: another Frame of Reference" in n for n in notes), notes
    assert not [i for i in viewport.view.scene().items() if i.data(0) == MASK]
    assert _colour(viewport, 12.0, 15.0) == before
    viewport.grab().save(str(study.root / "foreign.png"))


def test_a_truncated_segmentation_is_named_and_nothing_drawn(qtbot: Any, window: MainWindow,
                                                             study: Study,
                                                             tmp_path: Path) -> None:
    main = window
    viewport = main.reading.viewports[0]
    whole = (study.root / "files" / "seg.dcm").read_bytes()
    cut = tmp_path / "cut-seg.dcm"
    cut.write_bytes(whole[:len(whole) - 2000])
    with qtbot.waitSignal(main.objects.problem, timeout=20000) as told:
        main.objects.open_overlay(str(cut), "SEG")
    line = told.args[0]
    assert "cut-seg.dcm" in line and "\n" not in line and "Traceback" not in line
    assert not main.objects.overlays
    assert not [i for i in viewport.view.scene().items() if i.data(0) == MASK]
