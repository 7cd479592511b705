"""Findings in the window: the browser's badges and import summary, the Data quality panel
(sorting, Validate again, CSV/HTML export) and the viewport's warnings; real files damaged
with pydicom, validated by dciodvfy, shown offscreen. Screenshots go to /tmp/screens."""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

pytest.importorskip("pytestqt")

from pydicom.dataelem import DataElement  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from tests.gui.windows import reading_window  # noqa: E402
from tests.peers import require_tool  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.browser import StudyBrowser  # noqa: E402
from viewer.gui.browser_models import StudyTableModel  # noqa: E402
from viewer.gui.import_job import ImportSummary  # noqa: E402
from viewer.gui.quality_badges import ERROR_COLOUR, badge_colour  # noqa: E402
from viewer.gui.quality_panel import FindingsModel  # noqa: E402
from viewer.gui.tasks import TaskRunner  # noqa: E402
from viewer.quality.report_table import finding_rows  # noqa: E402
from viewer.quality.store import study_report  # noqa: E402

SCREENS = Path("/tmp/screens")
WAIT_MS = 90_000
CLEAN = "1.2.826.0.1.3680043.8.498.7101"
DAMAGED = "1.2.826.0.1.3680043.8.498.7102"


@pytest.fixture(autouse=True)
def dciodvfy() -> str:
    return require_tool("dciodvfy", "dicom3tools")


@pytest.fixture
def media(tmp_path: Path) -> dict[str, list[Path]]:
    """A clean CT study, and a study of two series: one with a slice missing and a file
    without Pixel Spacing, one whose file has Patient's Sex '<X>' (markup in DICOM text)."""
    clean = write_ct_series(tmp_path / "clean", slices=4, rows=32, columns=32, study_uid=CLEAN,
                            patient_name="CLEAN^CT", patient_id="C1")
    gap = write_ct_series(tmp_path / "gap", slices=6, rows=32, columns=32, study_uid=DAMAGED,
                          patient_name="DAMAGED^CT", patient_id="D1", series_number=1)
    gap[3].unlink()  # a slice missing: a gap
    ds = pydicom.dcmread(gap[1])
    del ds.PixelSpacing
    ds.save_as(gap[1])
    sex = write_ct_series(tmp_path / "sex", slices=3, rows=32, columns=32, study_uid=DAMAGED,
                          patient_name="DAMAGED^CT", patient_id="D1", series_number=2, seed=2)
    ds = pydicom.dcmread(sex[0])
    with warnings.catch_warnings():  # pydicom warns of the invalid CS we mean to write
        warnings.simplefilter("ignore")
        ds.PatientSex = "<X>"
    ds.save_as(sex[0])
    return {"clean": clean, "damaged": [p for p in gap if p.exists()] + sex}


@pytest.fixture
def browser(qtbot: QtBot, tmp_path: Path) -> Iterator[StudyBrowser]:
    runner = TaskRunner()
    with Archive(tmp_path / "archive") as archive:
        widget = StudyBrowser(archive, runner)
        qtbot.addWidget(widget)
        widget.resize(1150, 720)
        widget.show()
        qtbot.waitExposed(widget)
        yield widget
        widget.quality.stop()  # no validation may outlive the archive
        runner.shutdown()


def import_and_validate(qtbot: QtBot, browser: StudyBrowser, paths: list[Path],
                        studies: set[str]) -> None:
    done: set[str] = set()
    browser.quality.study_done.connect(done.add)
    with qtbot.waitSignal(browser.archive_changed, timeout=WAIT_MS):
        browser.import_paths(paths)
    qtbot.waitUntil(lambda: studies <= done, timeout=WAIT_MS)


def name_cell(browser: StudyBrowser, study_uid: str, role: Qt.ItemDataRole) -> object:
    row = browser.model.row_of(study_uid)
    assert row is not None
    return browser.model.index(row, StudyTableModel.NAME).data(role)


def test_badges_and_import_summary(qtbot: QtBot, browser: StudyBrowser,
                                   media: dict[str, list[Path]]) -> None:
    import_and_validate(qtbot, browser, [*media["clean"], *media["damaged"]], {CLEAN, DAMAGED})
    # the clean study has no badge; the damaged one a red badge and its counts in the tooltip
    assert name_cell(browser, CLEAN, Qt.ItemDataRole.DecorationRole) is None
    assert name_cell(browser, DAMAGED, Qt.ItemDataRole.DecorationRole) is not None
    counts = browser.quality.counts(DAMAGED)
    assert counts is not None and counts.errors >= 2 and counts.warnings >= 2
    assert badge_colour(counts) == ERROR_COLOUR
    tooltip = str(name_cell(browser, DAMAGED, Qt.ItemDataRole.ToolTipRole))
    assert f"{counts.errors} error(s), {counts.warnings} warning(s)" in tooltip
    # the summary says what validation found, once known
    box = browser.summary_box
    assert isinstance(box, ImportSummary)
    qtbot.waitUntil(lambda: "error" in box.quality_line, timeout=WAIT_MS)
    files_with_errors = len({r.sop_instance_uid for r in finding_rows(
        study_report(browser.archive, DAMAGED)) if r.severity == "error" and r.sop_instance_uid})
    assert f"in {files_with_errors} files" in box.quality_line
    assert box.quality_line in box.informativeText()
    box.close()
    # each series of the damaged study has its own badge and counts
    browser.table.selectRow(browser.model.row_of(DAMAGED) or 0)
    qtbot.waitUntil(lambda: browser.series_model.study_uid == DAMAGED, timeout=WAIT_MS)
    model = browser.series_model
    per_series = [model.quality(uid) for uid in model.series_uids()]
    assert all(c is not None and c.errors >= 1 for c in per_series)
    tooltip = str(model.index(0).data(Qt.ItemDataRole.ToolTipRole))
    assert "error(s)" in tooltip
    qtbot.waitUntil(lambda: browser.thumbnails_pending() == 0, timeout=WAIT_MS)
    SCREENS.mkdir(exist_ok=True)
    assert browser.grab().save(str(SCREENS / "quality_browser_badges.png"))


def test_panel_sorts_revalidates_and_exports(qtbot: QtBot, browser: StudyBrowser,
                                             media: dict[str, list[Path]],
                                             tmp_path: Path) -> None:
    import_and_validate(qtbot, browser, media["damaged"], {DAMAGED})
    dialog = browser.show_quality(DAMAGED)
    qtbot.addWidget(dialog)
    expected = finding_rows(study_report(browser.archive, DAMAGED))
    assert dialog.model.rowCount() == len(expected) >= 5
    kinds = {r.module for r in expected if not r.sop_instance_uid}
    assert {"gap", "pixel-spacing", "identity"} <= kinds  # series and study findings listed
    # severity first (errors, then warnings); then sorted by file, by keyword
    shown = dialog.shown_rows()
    severities = [r.severity for r in shown]
    assert severities == sorted(severities, key={"error": 0, "warning": 1}.__getitem__)
    dialog.table.sortByColumn(FindingsModel.KEYWORD, Qt.SortOrder.AscendingOrder)
    keywords = [r.keyword.casefold() for r in dialog.shown_rows()]
    assert keywords == sorted(keywords)
    # files in reading order: series by series, images by number, a series' own findings first
    dialog.table.sortByColumn(FindingsModel.FILE, Qt.SortOrder.AscendingOrder)
    keys = dialog.model.sort_keys
    order = [keys[r.sop_instance_uid or r.series_instance_uid] for r in dialog.shown_rows()
             if r.sop_instance_uid or r.series_instance_uid]
    assert order == sorted(order)
    labels = [str(dialog.proxy.index(n, FindingsModel.FILE).data())
              for n in range(dialog.proxy.rowCount())]
    assert labels.index("Series 1") < labels.index("Series 2")
    dialog.table.sortByColumn(FindingsModel.SEVERITY, Qt.SortOrder.AscendingOrder)
    dialog.resize(1100, 420)
    SCREENS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(SCREENS / "quality_panel.png"))

    # Validate again: off the GUI thread, with progress; the same findings come back
    with qtbot.waitSignal(dialog.revalidated, timeout=WAIT_MS):
        task = dialog.validate_again()
        assert not dialog.validate_button.isEnabled() and task.running
    qtbot.waitUntil(dialog.validate_button.isEnabled, timeout=WAIT_MS)
    assert sorted(dialog.model.rows, key=str) == sorted(expected, key=str)

    # CSV: every row, in the order shown; HTML: DICOM text escaped
    dialog.export(tmp_path / "findings.csv")
    with (tmp_path / "findings.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["Severity", "File", "Tag", "Keyword", "Module", "Message"]
    assert [tuple(r) for r in table[1:]] == [r.cells() for r in dialog.shown_rows()]
    dialog.export(tmp_path / "findings.html")
    page = (tmp_path / "findings.html").read_text(encoding="utf-8")
    assert "'&lt;X&gt;'" in page or "&#x27;&lt;X&gt;&#x27;" in page
    assert "<X>" not in page
    assert page.count("<tr class=") == len(expected)


def test_cancel_keeps_the_last_report(qtbot: QtBot, browser: StudyBrowser,
                                      media: dict[str, list[Path]]) -> None:
    import_and_validate(qtbot, browser, media["damaged"], {DAMAGED})
    dialog = browser.show_quality(DAMAGED)
    qtbot.addWidget(dialog)
    before = dialog.model.rows
    task = dialog.validate_again()
    dialog.cancel()
    qtbot.waitUntil(lambda: not task.running, timeout=WAIT_MS)
    assert dialog.model.rows == before  # never a partial report


def test_viewport_warns_about_defective_attributes(qtbot: QtBot, tmp_path: Path) -> None:
    """Files opened as `view PATH` does: no stored findings, the warning comes from the
    headers. A slice missing, a slice without Pixel Spacing and a name in bytes the declared
    character set cannot decode."""
    paths = write_ct_series(tmp_path / "ct", slices=6, rows=64, columns=64)
    paths[3].unlink()
    paths = [p for p in paths if p.exists()]
    ds = pydicom.dcmread(paths[0])
    del ds.PixelSpacing
    ds.SpecificCharacterSet = "ISO_IR 6"
    ds[0x00100010] = DataElement(0x00100010, "PN", "张三".encode("gb18030"))
    ds.save_as(paths[0])
    with reading_window(qtbot, paths, 1) as main:
        viewport = main.reading.viewports[0]
        qtbot.waitUntil(lambda: viewport.frame is not None, timeout=WAIT_MS)
        viewport.set_position(0)
        qtbot.waitUntil(lambda: viewport.frame is not None
                        and viewport.position == 0, timeout=WAIT_MS)
        viewport.redisplay()
        warnings = viewport.overlay.content.warnings
        assert any("Pixel Spacing missing" in w for w in warnings), warnings
        assert any("Slices missing" in w for w in warnings), warnings
        assert any("Patient's Name may be shown wrongly" in w for w in warnings), warnings
        assert not any("No pixel spacing" in n for n in viewport.overlay.content.notes)
        SCREENS.mkdir(exist_ok=True)
        assert main.grab().save(str(SCREENS / "quality_viewport_warning.png"))
        # a slice with Pixel Spacing: lengths in mm, no such warning; the stack's stay
        viewport.set_position(1)
        qtbot.waitUntil(lambda: viewport.position == 1 and viewport.frame is not None,
                        timeout=WAIT_MS)
        viewport.redisplay()
        warnings = viewport.overlay.content.warnings
        assert not any("Pixel Spacing missing" in w for w in warnings)
        assert any("Slices missing" in w for w in warnings)


def test_clean_series_shows_no_warning(qtbot: QtBot, tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path / "ct", slices=5, rows=64, columns=64)
    with reading_window(qtbot, paths, 1) as main:
        viewport = main.reading.viewports[0]
        viewport.redisplay()
        assert viewport.overlay.content.warnings == []


def test_a_study_there_before_is_validated_when_its_panel_opens(
        qtbot: QtBot, tmp_path: Path, media: dict[str, list[Path]]) -> None:
    """Studies already in the archive are not all validated when the window opens (that would
    compete with reading them); their panel validates them, and their badge follows."""
    from viewer.archive import importer

    with Archive(tmp_path / "archive") as archive:
        importer.import_paths(archive, media["damaged"])
    runner = TaskRunner()
    with Archive(tmp_path / "archive") as archive:
        browser = StudyBrowser(archive, runner)
        qtbot.addWidget(browser)
        assert not browser.quality.busy()
        assert name_cell(browser, DAMAGED, Qt.ItemDataRole.DecorationRole) is None
        assert "not validated" in str(name_cell(browser, DAMAGED, Qt.ItemDataRole.ToolTipRole))
        with qtbot.waitSignal(browser.quality.study_done, timeout=WAIT_MS):
            dialog = browser.show_quality(DAMAGED)
        qtbot.addWidget(dialog)
        assert dialog.model.rowCount() >= 5
        counts = browser.quality.counts(DAMAGED)
        assert counts is not None and counts.errors >= 2
        assert name_cell(browser, DAMAGED, Qt.ItemDataRole.DecorationRole) is not None
        runner.shutdown()


def test_reading_window_opens_the_findings_of_its_study(qtbot: QtBot, tmp_path: Path,
                                                        media: dict[str, list[Path]]) -> None:
    from tests.gui.windows import archive_study_window
    from viewer.archive import importer

    with Archive(tmp_path / "archive") as archive:
        importer.import_paths(archive, media["damaged"])
    with archive_study_window(qtbot, tmp_path / "archive", DAMAGED, 5) as main:
        action = next(a for a in main.reading_tools.actions() if a.text() == "Data quality…")
        action.trigger()
        assert main.browser is not None
        dialog = main.browser.quality_dialog
        assert dialog is not None and dialog.study_uid == DAMAGED
        qtbot.waitUntil(lambda: dialog.model.rowCount() >= 5, timeout=WAIT_MS)
        labels = {dialog.model.index(r, FindingsModel.FILE).data()
                  for r in range(dialog.model.rowCount())}
        assert {"Series 1", "Series 2"} <= labels  # series findings, by number
        assert any(str(label).startswith("Series 2, image ") for label in labels)


def test_mpr_warns_of_the_gap_it_filled(qtbot: QtBot, tmp_path: Path) -> None:
    """The MPR's planes cross the slices: a gap filled by interpolation is said in amber over
    every plane, not in a corner note."""
    paths = write_ct_series(tmp_path / "ct", slices=12, rows=32, columns=32)
    paths[5].unlink()
    paths = [p for p in paths if p.exists()]
    with reading_window(qtbot, paths, 1) as main:
        assert main.reading.open_mpr() == ""
        layout = main.reading.mpr
        assert layout is not None
        qtbot.waitUntil(lambda: not layout.controller.interacting
                        and all(v.idle for v in layout.views), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: any("gap of 2.0 mm" in w
                                    for w in layout.views[1].overlay.content.warnings),
                        timeout=WAIT_MS)
        assert not any("gap of" in n for n in layout.views[1].overlay.content.notes)
        SCREENS.mkdir(exist_ok=True)
        assert main.grab().save(str(SCREENS / "quality_mpr_warning.png"))


def test_validation_waits_for_the_import_to_end(qtbot: QtBot, browser: StudyBrowser,
                                                tmp_path: Path) -> None:
    """The browser refreshes while an import runs (studies appear as they are indexed); the
    validation of what it imports starts only after the import committed."""
    paths = write_ct_series(tmp_path / "big", slices=200, rows=32, columns=32, study_uid=CLEAN)
    busy_while_importing: list[bool] = []
    browser.imports.progress.connect(
        lambda *_: busy_while_importing.append(browser.quality.busy()))
    browser._live_timer.setInterval(1)  # refresh as often as the event loop allows
    import_and_validate(qtbot, browser, paths, {CLEAN})
    assert busy_while_importing and not any(busy_while_importing)
    counts = browser.quality.counts(CLEAN)
    assert counts is not None and not counts.pending and counts.errors == 0
