"""The worklist panel (issue 18 item 3) against real peers on loopback: Orthanc's worklists
plugin answering the query (a Chinese name from a UTF-8 worklist among the items), the MPPS SCP
of tests.net.mpps_peer seeing the step start and end. Driven with mouse clicks, offscreen."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from tests.net.mpps_peer import MppsSCP, serving_mpps  # noqa: E402
from tests.net.peers import Orthanc, free_port, write_config  # noqa: E402
from tests.net.worklist_peer import run_orthanc_worklists, write_item  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.importer import import_paths  # noqa: E402
from viewer.config import Settings, load_settings  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.worklist_model import WorklistModel  # noqa: E402
from viewer.gui.worklist_panel import WorklistPanel  # noqa: E402

pytestmark = pytest.mark.timeout(240)

SCREENS = Path("/tmp/screens")
WAIT_MS = 60_000
TODAY = datetime.date.today().strftime("%Y%m%d")
TOMORROW = (datetime.date.today() + datetime.timedelta(days=1)).strftime("%Y%m%d")


@pytest.fixture(scope="module")
def ris_worklist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """Four items today (one Chinese name written as UTF-8, one MR), one tomorrow."""
    folder = tmp_path_factory.mktemp("worklist")
    database = folder / "worklists"
    write_item(database, "a", "DOE^JANE", "ISO_IR 100", "CT", "CT1", TODAY, "A1")
    write_item(database, "b", "张^三", "ISO_IR 192", "CT", "CT1", TODAY, "A2")
    write_item(database, "c", "MÜLLER^JÖRG", "ISO_IR 100", "MR", "MR1", TODAY, "A3")
    write_item(database, "d", "SMITH^ANN", "ISO_IR 100", "CT", "CT2", TODAY, "A4")
    write_item(database, "e", "LATER^TOM", "ISO_IR 100", "CT", "CT1", TOMORROW, "A5")
    with run_orthanc_worklists(folder / "orthanc", database) as orthanc:
        yield orthanc


@pytest.fixture
def ris() -> Iterator[MppsSCP]:
    with serving_mpps() as scp:
        yield scp


@pytest.fixture
def pool() -> Iterator[DecodePool]:
    decode = DecodePool(1, cache=FrameCache(32 << 20))
    yield decode
    decode.close()


def configured(tmp_path: Path, worklist: tuple[str, int], ris: MppsSCP | None = None,
               **network: float) -> Path:
    nodes = {"WL": worklist, **({"RIS": ("RIS", ris.port)} if ris is not None else {})}
    path = write_config(tmp_path / "config.toml", nodes, **network)
    path.write_text(path.read_text(encoding="utf-8") + '[worklist]\nnode = "WL"\n'
                    + ('mpps_node = "RIS"\n' if ris is not None else ""), encoding="utf-8")
    return path


def open_worklist_tab(qtbot: QtBot, pool: DecodePool, archive: Archive,
                      settings: Settings) -> tuple[MainWindow, WorklistPanel]:
    window = MainWindow([], None, FrameBridge(pool), archive, settings=settings)
    qtbot.addWidget(window)
    window.resize(1250, 640)
    window.show()
    panel = window.worklist
    assert panel is not None
    window.tabs.setCurrentWidget(panel)
    return window, panel


def click(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def click_row(qtbot: QtBot, panel: WorklistPanel, accession: str) -> None:
    model = panel.model
    (row,) = [r for r in range(model.rowCount()) if model.item(r).accession_number == accession]
    rect = panel.table.visualRect(model.index(row, WorklistModel.ACCESSION))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, rect.center())
    assert panel.selected_item() is model.item(row)


def search(qtbot: QtBot, panel: WorklistPanel) -> None:
    click(qtbot, panel.search_button)
    qtbot.waitUntil(lambda: panel._query_task is None, timeout=WAIT_MS)


def wait_step(qtbot: QtBot, panel: WorklistPanel) -> None:
    qtbot.waitUntil(lambda: panel._step_task is None, timeout=WAIT_MS)


def shown(panel: WorklistPanel, column: int) -> list[str]:
    return sorted(panel.model.display(r, column) for r in range(panel.model.rowCount()))


def screenshot(widget: QWidget, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    QApplication.processEvents()
    path = SCREENS / name
    assert widget.grab().save(str(path), "PNG")
    return path


def no_dialog(window: MainWindow) -> bool:
    return not any(w.isVisible() for w in QApplication.topLevelWidgets()
                   if w is not window and w.isWindow() and w.windowType() == Qt.WindowType.Dialog)


def test_today_query_then_start_and_complete_the_step(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, ris_worklist: Orthanc, ris: MppsSCP
) -> None:
    settings = load_settings(configured(tmp_path, (ris_worklist.ae_title, ris_worklist.port),
                                        ris))
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_worklist_tab(qtbot, pool, archive, settings)
        assert panel.node_combo.currentData() == "WL" and panel.mpps_combo.currentData() == "RIS"
        search(qtbot, panel)  # today by default: the item of tomorrow is not there
        assert shown(panel, WorklistModel.ACCESSION) == ["A1", "A2", "A3", "A4"]
        assert "张, 三" in shown(panel, WorklistModel.NAME)  # UTF-8 from the worklist, decoded
        assert "MÜLLER, JÖRG" in shown(panel, WorklistModel.NAME)
        assert panel.status_label.text().startswith("Scheduled procedure steps on WL (")
        assert panel.status_label.text().endswith("): 4")
        screenshot(panel, "worklist-today.png")
        # the filters go to the query: modality, station AE title, patient name
        panel.modality_combo.setCurrentIndex(panel.modality_combo.findData("CT"))
        qtbot.keyClicks(panel.station_edit, "CT1")
        search(qtbot, panel)
        assert shown(panel, WorklistModel.ACCESSION) == ["A1", "A2"]
        panel.name_edit.setText("张")  # typed through an input method: QTest types ASCII only
        search(qtbot, panel)
        assert shown(panel, WorklistModel.ACCESSION) == ["A2"]
        panel.name_edit.clear()
        panel.any_date_box.setChecked(True)
        search(qtbot, panel)
        assert shown(panel, WorklistModel.ACCESSION) == ["A1", "A2", "A5"]
        assert shown(panel, WorklistModel.WHEN)[0] == (
            f"{TODAY[:4]}-{TODAY[4:6]}-{TODAY[6:]} 09:30")

        click_row(qtbot, panel, "A2")
        item = panel.selected_item()
        assert item is not None
        earlier = write_ct_series(tmp_path / "earlier", 2, 16, 16,
                                  study_uid=item.study_instance_uid, patient_name="张^三")
        import_paths(archive, earlier)  # in the archive before the step: not the step's
        assert panel.start_button.isEnabled() and not panel.complete_button.isEnabled()
        click(qtbot, panel.start_button)
        wait_step(qtbot, panel)
        (uid,) = ris.steps
        assert "IN PROGRESS" in panel.status_label.text() and uid in panel.status_label.text()
        created = ris.steps[uid]
        assert str(created.PatientName) == "张^三"
        assert created.PerformedProcedureStepStatus == "IN PROGRESS"
        assert created.ScheduledStepAttributesSequence[0].AccessionNumber == "A2"
        assert "IN PROGRESS" in shown(panel, WorklistModel.STEP)
        assert not panel.start_button.isEnabled() and panel.complete_button.isEnabled()

        made = write_ct_series(tmp_path / "made", 3, 16, 16, study_uid=item.study_instance_uid,
                               patient_name="张^三")
        import_paths(archive, made)  # what the step acquired (or DICOMized)
        screenshot(panel, "worklist-in-progress.png")
        click(qtbot, panel.complete_button)
        wait_step(qtbot, panel)
        done = ris.steps[uid]
        assert done.PerformedProcedureStepStatus == "COMPLETED"
        (series,) = done.PerformedSeriesSequence
        assert len(series.ReferencedImageSequence) == 3
        assert panel.status_label.text().startswith("Accession A2 COMPLETED on RIS with 1 series")
        assert "COMPLETED" in shown(panel, WorklistModel.STEP)
        # a step that has ended: no second N-SET, not even asked for
        assert not panel.complete_button.isEnabled()
        assert not panel.discontinue_button.isEnabled()
        panel.discontinue_step()
        assert "a step that has ended cannot be changed" in panel.status_label.text()
        assert ris.sets == 1
        # another query keeps what was done to the item
        search(qtbot, panel)
        assert "COMPLETED" in shown(panel, WorklistModel.STEP)
        window.close()


def test_an_unreachable_node_and_a_refused_n_set_are_one_line(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, ris_worklist: Orthanc, ris: MppsSCP
) -> None:
    dead = free_port()  # nothing listens there
    config = write_config(tmp_path / "config.toml", {
        "DEAD": ("NOBODY", dead), "WL": (ris_worklist.ae_title, ris_worklist.port),
        "RIS": ("RIS", ris.port)}, connect=2, acse=2)
    config.write_text(config.read_text(encoding="utf-8") + '[worklist]\nnode = "DEAD"\n'
                      'mpps_node = "RIS"\n', encoding="utf-8")
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_worklist_tab(qtbot, pool, archive, load_settings(config))
        search(qtbot, panel)
        text = panel.status_label.text()
        assert text.startswith(f"Worklist query failed: DEAD (NOBODY@127.0.0.1:{dead})")
        assert "\n" not in text and "Traceback" not in text
        assert no_dialog(window)
        # choosing another node is kept in the config file
        panel.node_combo.setCurrentIndex(panel.node_combo.findData("WL"))
        assert load_settings(config).worklist_node == "WL"
        search(qtbot, panel)
        click_row(qtbot, panel, "A1")
        click(qtbot, panel.start_button)
        wait_step(qtbot, panel)
        (uid,) = ris.steps
        ris.steps[uid].PerformedProcedureStepStatus = "DISCONTINUED"  # ended elsewhere
        click(qtbot, panel.complete_button)
        wait_step(qtbot, panel)
        text = panel.status_label.text()
        assert text.startswith("COMPLETED failed: RIS (RIS@127.0.0.1:") and "0x0110" in text
        assert "\n" not in text
        assert no_dialog(window)
        # refused by the peer: the step is still IN PROGRESS here, and can be ended again
        item = panel.selected_item()
        assert item is not None
        step = panel.step_of(item)
        assert step is not None and step.status == "IN PROGRESS"
        assert panel.discontinue_button.isEnabled()
        screenshot(panel, "worklist-refused.png")
        window.close()


def test_files_dropped_on_an_item_are_for_its_order(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, ris_worklist: Orthanc
) -> None:
    photo = tmp_path / "wound.png"
    image = QImage(32, 24, QImage.Format.Format_RGB32)
    image.fill(QColor("darkred"))
    assert image.save(str(photo))
    settings = load_settings(configured(tmp_path, (ris_worklist.ae_title, ris_worklist.port)))
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_worklist_tab(qtbot, pool, archive, settings)
        search(qtbot, panel)
        model = panel.model
        (row,) = [r for r in range(model.rowCount()) if model.item(r).accession_number == "A2"]
        click_row(qtbot, panel, "A1")
        # onto A2's row, in the table's viewport: Qt hands the drag on to the panel
        viewport = panel.table.viewport()
        target = QPointF(panel.table.visualRect(model.index(row, 0)).center())
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(photo))])
        enter = QDragEnterEvent(target.toPoint(), Qt.DropAction.CopyAction, data,
                                Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, enter)
        assert enter.isAccepted()
        drop = QDropEvent(target, Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                          Qt.KeyboardModifier.NoModifier)
        with qtbot.waitSignal(panel.dicomize_requested, timeout=5000) as caught:
            QApplication.sendEvent(viewport, drop)
        paths, item = caught.args
        assert paths == [photo]
        assert item is model.item(row) and panel.selected_item() is item  # the row dropped on
        assert item.accession_number == "A2" and str(item.identifier.PatientName) == "张^三"
        # the main window opens the DICOMize dialog for that item's order: its patient, study
        dialog = window.browser.dicomize_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.order.accession_number == "A2" and dialog.order.patient_name == "张^三"
        assert dialog.order.study_instance_uid == item.study_instance_uid
        dialog.reject()
        window.close()
