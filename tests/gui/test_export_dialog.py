"""The export dialog (issue 8 item 5): the selected studies to a CD folder with a DICOMDIR,
de-identified on request, with progress; refusals shown in the dialog."""

from __future__ import annotations

from pathlib import Path

from pydicom.fileset import FileSet
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

# the browser tests' fixtures (pytest finds them by name here)
from tests.gui.test_browser import (  # noqa: F401
    WAIT_MS,
    archive,
    browser,
    media,
    run_import,
    runner,
)
from viewer.gui.browser import StudyBrowser
from viewer.gui.export_dialog import ExportDialog

SCREENS = Path("/tmp/screens")


def _select_all(browser: StudyBrowser) -> None:  # noqa: F811
    browser.table.setFocus()
    browser.table.selectAll()
    assert len(browser.selected_study_uids()) == browser.model.rowCount()


def test_export_the_selected_studies_de_identified(
    qtbot: QtBot, browser: StudyBrowser, media: dict[str, Path], tmp_path: Path,  # noqa: F811
) -> None:
    run_import(qtbot, browser, [media["zhang"], media["old"]])
    _select_all(browser)
    dialog = browser.export_selected()
    assert isinstance(dialog, ExportDialog)
    qtbot.addWidget(dialog)
    target = tmp_path / "cd"
    dialog.target_edit.setText(str(target))
    qtbot.mouseClick(dialog.anonymize_box, Qt.MouseButton.LeftButton)
    assert dialog.retain_dates_box.isEnabled()
    SCREENS.mkdir(exist_ok=True)
    dialog.grab().save(str(SCREENS / "export-dialog.png"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=WAIT_MS)
    assert "Exported 5 files" in dialog.status_label.text()
    fileset = FileSet(target / "DICOMDIR")
    assert len(fileset) == 5
    everything = b"".join(p.read_bytes() for p in target.rglob("*") if p.is_file())
    assert "张".encode() not in everything and b"OLD^STUDY" not in everything
    assert b"P002" not in everything and b"P003" not in everything
    dialog.grab().save(str(SCREENS / "export-done.png"))


def test_a_folder_that_is_not_empty_is_refused_in_the_dialog(
    qtbot: QtBot, browser: StudyBrowser, media: dict[str, Path], tmp_path: Path,  # noqa: F811
) -> None:
    run_import(qtbot, browser, [media["old"]])
    _select_all(browser)
    dialog = browser.export_selected()
    qtbot.addWidget(dialog)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    dialog.target_edit.setText(str(target))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Export failed" in dialog.status_label.text(), timeout=WAIT_MS)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert dialog.export_button.isEnabled()
    # nothing chosen: said, nothing started
    dialog.target_edit.setText("")
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert "Choose an empty folder" in dialog.status_label.text()
