"""The report panel and the TID 1500 regions in the reading window: SR series of a study opened
beside its CT (rows as `sr` prints them, links that jump, invalid items marked), the dose table
of a CT Radiation Dose SR with its series resolved through the archive, SCOORD drawn on the
frame it references with its measurements as label, SCOORD3D on the nearest slice with its
distance, a click on a measurement showing its slice, and a 5,000-item SR on screen quickly
after its read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pydicom.sr.codedict import codes  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402
from PySide6.QtCore import QModelIndex, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QGraphicsPathItem  # noqa: E402

from tests.dicom.overlay_objects import ct_series  # noqa: E402
from tests.gui.windows import archive_study_window  # noqa: E402
from tests.reports.makers import (  # noqa: E402
    ct_dose_sr,
    ct_image,
    key_object_selection,
    save,
    with_cycle,
    with_invalid_items,
)
from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.importer import import_paths  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.imageview import Label  # noqa: E402
from viewer.gui.report_layer import REGION_PEN  # noqa: E402
from viewer.gui.report_model import INVALID, LINK, LoadedReport, load_report  # noqa: E402
from viewer.gui.report_panel import ReportPanel  # noqa: E402
from viewer.gui.viewport import Viewport  # noqa: E402
from viewer.reports.benchmark import comprehensive_sr  # noqa: E402
from viewer.reports.describe import tree_lines  # noqa: E402
from viewer.reports.report_file import read_report  # noqa: E402

SLICES, SIZE = 6, 32
POLYLINE = np.array([[2.5, 3.0], [10.0, 3.0], [10.0, 12.5], [2.5, 3.0]])  # column, row
OFF_PLANE_MM = 1.5


@dataclass
class Study:
    root: Path
    study_uid: str
    sr_series: str
    flat_uid: str  # the image the SCOORD is on
    solid_uid: str  # the image whose plane the SCOORD3D lies 1.5 mm from
    dose_path: Path
    dose_series: tuple[str, str]
    nodule: tuple[float, float, float]  # the SCOORD3D point, patient mm


def _measurement_report(flat: Any, solid: Any, point: np.ndarray) -> Any:
    source = hd.sr.SourceImageForRegion(flat.SOPClassUID, flat.SOPInstanceUID)
    lesion = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="lesion 1"),
        referenced_region=hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                                            graphic_data=POLYLINE, source_image=source),
        finding_type=codes.SCT.Lesion,
        measurements=[hd.sr.Measurement(name=codes.SCT.Area, value=52.25,
                                        unit=codes.UCUM.SquareMillimeter)],
    )
    nodule = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="nodule 2"),
        referenced_region=hd.sr.ImageRegion3D(
            graphic_type=hd.sr.GraphicTypeValues3D.POINT, graphic_data=point[None, :],
            frame_of_reference_uid=str(solid.FrameOfReferenceUID)),
        finding_type=codes.SCT.Nodule,
        measurements=[hd.sr.Measurement(name=codes.SCT.Volume, value=3.2,
                                        unit=codes.UCUM.CubicMillimeter)],
    )
    context = hd.sr.ObservationContext(observer_person_context=hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name="Östberg^Åsa")))
    report = hd.sr.MeasurementReport(observation_context=context,
                                     procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
                                     imaging_measurements=[lesion, nodule])
    return hd.sr.Comprehensive3DSR(
        evidence=[flat, solid], content=report[0], series_instance_uid=generate_uid(),
        series_number=99, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="tests", is_complete=True)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("reports")
    files = root / "files"
    ct = ct_series(files / "ct", slices=SLICES, size=SIZE)
    for ds in ct.datasets:  # highdicom copies these as evidence
        ds.ReferringPhysicianName = ds.get("ReferringPhysicianName", "")
        ds.AccessionNumber = ds.get("AccessionNumber", "")
        ds.StudyID = ds.get("StudyID", "")
    flat, solid = ct.datasets[2], ct.datasets[4]
    normal = np.cross([float(v) for v in solid.ImageOrientationPatient[:3]],
                      [float(v) for v in solid.ImageOrientationPatient[3:]])
    point = ct.patient(4, np.array([[20.0, 8.0]]))[0] + OFF_PLANE_MM * normal
    sr = _measurement_report(flat, solid, point)
    save(sr, files / "sr.dcm")
    dose_series = (generate_uid(), generate_uid())
    dose_files = root / "dose"
    dose_files.mkdir()
    for n, (uid, description) in enumerate(zip(dose_series, ("Chest", "Head"), strict=True)):
        image = ct_image(series_uid=uid)
        image.SeriesDescription, image.SeriesNumber = description, n + 2
        save(image, dose_files / f"{n}.dcm")
    dose_path = save(ct_dose_sr(list(dose_series)), root / "dose.dcm")
    with Archive(root / "archive") as archive:
        report = import_paths(archive, [files, dose_files], workers=0)
        assert not report.failed, report.failed
    return Study(root, str(ct.datasets[0].StudyInstanceUID), str(sr.SeriesInstanceUID),
                 str(flat.SOPInstanceUID), str(solid.SOPInstanceUID), dose_path, dose_series,
                 (float(point[0]), float(point[1]), float(point[2])))


@pytest.fixture
def window(qtbot: Any, study: Study) -> Iterator[MainWindow]:
    with archive_study_window(qtbot, study.root / "archive", study.study_uid, SLICES,
                              width=1100) as main:
        yield main


def _rows(panel: ReportPanel) -> list[tuple[QModelIndex, str]]:
    """Every row of the tree, depth first."""
    model = panel.model
    assert model is not None
    out: list[tuple[QModelIndex, str]] = []

    def walk(parent: QModelIndex) -> None:
        for row in range(model.rowCount(parent)):
            index = model.index(row, 0, parent)
            out.append((index, str(model.data(index))))
            walk(index)

    walk(QModelIndex())
    return out


def _region_items(viewport: Viewport) -> list[QGraphicsPathItem]:
    return [i for i in viewport.view.scene().items() if isinstance(i, QGraphicsPathItem)
            and i.pen().color() == REGION_PEN]


def _labels(viewport: Viewport) -> list[str]:
    return [i.text for i in viewport.view.scene().items() if isinstance(i, Label)]


def _open_report(qtbot: Any, main: MainWindow, series_uid: str) -> LoadedReport:
    with qtbot.waitSignal(main.objects.report_shown, timeout=20000) as shown:
        main.reading.show_series(series_uid)
    report: LoadedReport = shown.args[0]
    return report


def _click(qtbot: Any, panel: ReportPanel, position: str) -> None:
    assert panel.model is not None
    index = panel.model.index_of(position)
    panel.tree.scrollTo(index)
    qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.tree.visualRect(index).center())


def test_tid1500_regions_on_their_frames_and_a_click_shows_them(qtbot: Any,
                                                                window: MainWindow,
                                                                study: Study) -> None:
    main = window
    viewport = main.reading.viewports[0]
    report = _open_report(qtbot, main, study.sr_series)
    panel = main.objects.report_panel
    assert main.objects.report_dock.isVisible()
    # one row per item, as `sr` prints them (without the indentation: the tree indents)
    assert [text for _, text in _rows(panel)] == [
        line.strip() for line in tree_lines(read_report(study.root / "files" / "sr.dcm"))]
    lesion, nodule = report.groups
    stack = viewport.stack
    assert stack is not None
    flat_key = (report.image_paths[study.flat_uid], 0)
    assert main.archive is not None  # the SCOORD3D names no image: find its slice's file
    row = main.archive.index.get_instance(study.solid_uid)
    assert row is not None
    solid_key = (str(main.archive.store.absolute(row.store_path)), 0)
    # a click on the lesion's group shows its image
    _click(qtbot, panel, lesion.position)
    assert viewport.current_key == flat_key
    regions = _region_items(viewport)
    assert len(regions) == 1
    bounds = regions[0].path().boundingRect()  # SCOORD: 0,0 at the top left pixel's corner
    assert (bounds.x(), bounds.y(), bounds.width(), bounds.height()) == pytest.approx(
        (2.5, 3.0, 7.5, 9.5))
    assert any("lesion 1" in t and "Area: 52.25 mm2" in t for t in _labels(viewport))
    viewport.grab().save(str(study.root / "scoord.png"))
    # elsewhere nothing of the lesion
    viewport.set_position(stack.frames.index(flat_key) + 1)
    assert not any("lesion 1" in t for t in _labels(viewport))
    # the nodule (SCOORD3D): on its nearest slice, with how far it lies from it
    _click(qtbot, panel, nodule.position)
    assert viewport.current_key == solid_key
    labels = [t for t in _labels(viewport) if "Volume" in t]
    assert labels and f"{OFF_PLANE_MM:.1f} mm from this plane" in labels[0]
    viewport.grab().save(str(study.root / "scoord3d.png"))
    main.grab().save(str(study.root / "report_window.png"))


def test_links_jump_and_invalid_items_are_marked(qtbot: Any, window: MainWindow,
                                                 study: Study, tmp_path: Path) -> None:
    main = window
    panel = main.objects.report_panel
    cycle = save(with_cycle(), tmp_path / "cycle.dcm")
    with qtbot.waitSignal(main.objects.report_shown, timeout=20000):
        main.objects.open_report(str(cycle))
    model = panel.model
    assert model is not None
    link = model.index_of("1.1.1")  # -> 1.1, its parent
    assert model.data(link, Qt.ItemDataRole.ForegroundRole) == LINK
    assert model.data(model.index_of("1.2"), Qt.ItemDataRole.ForegroundRole) == INVALID  # cycle
    _click(qtbot, panel, "1.1.1")
    assert panel.tree.currentIndex() == model.index_of("1.1")
    invalid = save(with_invalid_items(), tmp_path / "invalid.dcm")
    with qtbot.waitSignal(main.objects.report_shown, timeout=20000) as shown:
        main.objects.open_report(str(invalid))
    model = panel.model
    assert model is not None
    marked = [item.position for item in shown.args[0].items
              if model.data(model.index_of(item.position), Qt.ItemDataRole.ForegroundRole)
              == INVALID]
    assert marked == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]  # not 1.7, "kept"
    assert "no Value Type" in model.data(model.index_of("1.1"), Qt.ItemDataRole.ToolTipRole)
    truncated = tmp_path / "cut.dcm"
    truncated.write_bytes(cycle.read_bytes()[:300])
    with qtbot.waitSignal(main.objects.problem, timeout=20000) as told:
        main.objects.open_report(str(truncated))
    assert told.args[0].startswith("cut.dcm") or str(truncated) in told.args[0]
    assert panel.model is None and "cut.dcm" in panel.title.text()


def test_dose_table_per_series_from_the_archive(qtbot: Any, window: MainWindow,
                                                study: Study) -> None:
    main = window
    with qtbot.waitSignal(main.objects.report_shown, timeout=20000):
        main.objects.open_report(str(study.dose_path))
    panel = main.objects.report_panel
    assert panel.dose.isVisible()
    assert panel.dose_rows() == [
        ["2: Chest", "2", "12.25", "612.50"],
        ["3: Head", "1", "45.00", "300.00"],
        ["Total", "3", "", "912.50"],
    ]
    panel.grab().save(str(study.root / "dose.png"))


def test_a_5000_item_report_is_shown_quickly_after_its_read(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "big.dcm"
    comprehensive_sr(5000).save_as(path, enforce_file_format=True)
    report = load_report(str(path))  # the job the panel runs off the GUI thread
    assert len(report.items) >= 5000
    panel = ReportPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 800)
    panel.show()
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        panel.show_report(report)
        QApplication.processEvents()  # laid out and painted
        panel.tree.viewport().repaint()
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[2] <= 0.5, timings


def test_a_key_object_selection_shows_its_tree(qtbot: Any, window: MainWindow, study: Study,
                                               tmp_path: Path) -> None:
    main = window
    image = ct_image()
    path = save(key_object_selection([image]), tmp_path / "kos.dcm")
    with qtbot.waitSignal(main.objects.report_shown, timeout=20000):
        main.objects.open_report(str(path))
    panel = main.objects.report_panel
    rows = [text for _, text in _rows(panel)]
    assert rows[0].startswith("CONTAINER Of Interest")
    assert any(image.SOPInstanceUID in text for text in rows)
    assert any("Größe nachmessen" in text for text in rows)


def test_a_3d_region_on_the_mpr_planes_through_it(qtbot: Any, window: MainWindow,
                                                  study: Study) -> None:
    main = window
    _open_report(qtbot, main, study.sr_series)
    assert main.reading.open_mpr() == ""
    layout = main.reading.mpr
    assert layout is not None
    qtbot.waitUntil(lambda: layout.volume.complete, timeout=30000)
    layout.controller.set_state(layout.controller.state.with_point(np.asarray(study.nodule)))
    qtbot.waitUntil(lambda: all(v.idle for v in layout.views), timeout=30000)
    for view in layout.views:
        view.redraw_layers()
        texts = [i.text for i in view.view.scene().items() if isinstance(i, Label)]
        assert any("Volume: 3.2 mm3" in t and "0.0 mm from this plane" in t for t in texts), (
            view.name, texts)
    layout.grab().save(str(study.root / "mpr_scoord3d.png"))
    main.reading.close_mpr()
