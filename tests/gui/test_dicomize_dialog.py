"""DICOMization by drag and drop (issue 18 item 4): photos and a PDF dropped on the study
browser join the selected study after a dialog showing whose it is; refused files are listed
and nothing can start."""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmread
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.capture.conftest import inputs  # noqa: F401
from tests.gui.test_browser import (  # noqa: F401
    WAIT_MS,
    archive,
    browser,
    media,
    row_center,
    run_import,
    runner,
    screenshot,
)
from tests.gui.windows import archive_study_window
from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.dicom.demo import write_ct_series
from viewer.gui.browser import StudyBrowser
from viewer.gui.dicomize_dialog import DicomizeDialog


def _drop(browser: StudyBrowser, paths: list[Path]) -> None:  # noqa: F811
    """A drag entering the browser's study page, then the drop (as a file manager does)."""
    _drop_on(browser._pages.currentWidget(), paths)


def _drop_on(target: QWidget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(target.rect().center(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(target.rect().center()), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()


def test_drop_photos_and_pdf_on_the_selected_study(
        qtbot: QtBot, browser: StudyBrowser, media: dict[str, Path],  # noqa: F811
        inputs: dict[str, Path]) -> None:  # noqa: F811
    run_import(qtbot, browser, [media["zhang"]])
    qtbot.mouseClick(browser.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=row_center(browser, 0))
    study_uid = browser.current_study_uid()
    assert study_uid is not None
    _drop(browser, [inputs["jpeg"], inputs["pdf"]])
    dialog = browser.dicomize_dialog
    assert isinstance(dialog, DicomizeDialog)
    qtbot.addWidget(dialog)
    assert "张, 三" in dialog.patient_label.text() and "P002" in dialog.patient_label.text()
    assert study_uid in dialog.study_label.text()
    assert dialog.files_list.count() == 2 and dialog.start_button.isEnabled()
    screenshot(dialog, "dicomize-dialog.png")
    with qtbot.waitSignal(dialog.dicomized, timeout=WAIT_MS) as done:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    report = done.args[0]
    assert len(report.instances) == 2 and report.study_instance_uid == study_uid
    assert "Imported 2 instance(s)" in dialog.status_label.text()
    series = browser.archive.index.series(study_uid)
    assert sorted(s.modality for s in series) == ["CT", "DOC", "XC"]
    row = browser.archive.index.get_instance(report.instances[0].sop_instance_uid)
    assert row is not None
    assert dcmread(browser.archive.store.absolute(row.store_path)).PatientName == "张^三"


def test_a_refused_file_is_listed_and_nothing_starts(
        qtbot: QtBot, browser: StudyBrowser, media: dict[str, Path],  # noqa: F811
        inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    run_import(qtbot, browser, [media["old"]])
    qtbot.mouseClick(browser.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=row_center(browser, 0))
    fake = tmp_path / "scan.pdf"
    fake.write_bytes(b"<html>not a pdf</html>")
    _drop(browser, [inputs["png"], fake])
    dialog = browser.dicomize_dialog
    assert isinstance(dialog, DicomizeDialog)
    qtbot.addWidget(dialog)
    assert not dialog.start_button.isEnabled()
    assert dialog.files_list.count() == 1 and dialog.files_list.item(0).text().startswith(
        "scan.pdf: not a PDF")
    screenshot(dialog, "dicomize-refused.png")
    before = browser.archive.index.series(browser.current_study_uid() or "")
    dialog.start()
    assert dialog.task is None and browser.archive.index.series(
        browser.current_study_uid() or "") == before


def test_a_drop_without_a_selected_study_says_so(
        qtbot: QtBot, browser: StudyBrowser, media: dict[str, Path],  # noqa: F811
        inputs: dict[str, Path]) -> None:  # noqa: F811
    run_import(qtbot, browser, [media["old"]])
    browser.table.clearSelection()
    browser.table.setCurrentIndex(browser.model.index(-1, -1))
    _drop(browser, [inputs["jpeg"]])
    assert browser.dicomize_dialog is None
    assert "Select the study" in browser.status_label.text()


def test_drop_on_the_open_study_in_the_reading_tab(
        qtbot: QtBot, tmp_path: Path, inputs: dict[str, Path]) -> None:  # noqa: F811
    study_uid = "1.2.826.0.1.3680043.8.498.4242"
    write_ct_series(tmp_path / "ct", slices=3, rows=64, columns=64, patient_name="WANG^WU",
                    patient_id="P042", study_uid=study_uid)
    with Archive(tmp_path / "archive") as opened:
        assert import_paths(opened, [tmp_path / "ct"]).ok
    with archive_study_window(qtbot, tmp_path / "archive", study_uid, 3) as main:
        assert main.open_study_uid == study_uid
        _drop_on(main.reading.viewports[0], [inputs["jpeg"]])
        assert main.browser is not None
        dialog = main.browser.dicomize_dialog
        assert isinstance(dialog, DicomizeDialog)
        assert "P042" in dialog.patient_label.text() and study_uid in dialog.study_label.text()
        with qtbot.waitSignal(dialog.dicomized, timeout=WAIT_MS):
            qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        modalities = sorted(s.modality for s in main.browser.archive.index.series(study_uid))
        assert modalities == ["CT", "XC"]
        dialog.close()
