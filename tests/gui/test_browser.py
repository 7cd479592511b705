"""The study browser and the task runner, offscreen, driven with real mouse and key events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QInputMethodEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from tests.dicom.makers import image_dataset, save  # noqa: E402
from viewer.archive import importer, thumbnails  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.browser import StudyBrowser  # noqa: E402
from viewer.gui.browser_models import StudyTableModel  # noqa: E402
from viewer.gui.mime import SERIES_MIME  # noqa: E402
from viewer.gui.search_fields import date_bound, search_pattern  # noqa: E402
from viewer.gui.tasks import TaskRunner  # noqa: E402
from viewer.jobs import CancelToken, ProgressCallback  # noqa: E402

SCREENS = Path("/tmp/screens")
WAIT_MS = 60_000


# --- data ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three studies in three folders: two CTs in 2024 (one Chinese name, two series) and a
    secondary capture from 2023."""
    root = tmp_path_factory.mktemp("media")
    doe = root / "doe"
    study = "1.2.826.0.1.3680043.8.498.101"
    write_ct_series(doe / "s1", slices=5, rows=64, columns=64, patient_name="DOE^JANE",
                    patient_id="P001", study_uid=study, series_number=1,
                    series_description="Axial 5 mm")
    write_ct_series(doe / "s2", slices=3, rows=64, columns=64, patient_name="DOE^JANE",
                    patient_id="P001", study_uid=study, series_number=2,
                    series_description="Coronal", seed=1)
    zhang = root / "zhang"
    write_ct_series(zhang, slices=4, rows=64, columns=64, patient_name="张^三",
                    patient_id="P002", study_description="胸部 CT 平扫")
    old = root / "old"
    old.mkdir()
    pixels = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 4096)
    save(image_dataset(pixels, bits_stored=12, PatientName="OLD^STUDY", PatientID="P003",
                       StudyDate="20230615", StudyTime="101500", StudyDescription="Old scan",
                       SeriesNumber=1, SeriesDescription="Scan"), old / "sc.dcm")
    return {"root": root, "doe": doe, "zhang": zhang, "old": old}


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive(tmp_path / "archive") as opened:
        yield opened


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.shutdown()


@pytest.fixture
def browser(qtbot: QtBot, archive: Archive, runner: TaskRunner) -> Iterator[StudyBrowser]:
    widget = StudyBrowser(archive, runner)
    qtbot.addWidget(widget)
    widget.resize(1150, 720)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    runner.shutdown()  # no job may outlive the archive it uses


def run_import(qtbot: QtBot, browser: StudyBrowser, paths: list[Path]) -> None:
    """Import through the entry point the buttons and drops call; wait for the end."""
    with qtbot.waitSignal(browser.archive_changed, timeout=WAIT_MS):
        browser.import_paths(paths)
    assert not browser.busy


def names(browser: StudyBrowser) -> list[str]:
    model = browser.model
    return [model.index(r, StudyTableModel.NAME).data() for r in range(model.rowCount())]


def row_center(browser: StudyBrowser, row: int) -> QPoint:
    return browser.table.visualRect(browser.model.index(row, StudyTableModel.NAME)).center()


def double_click(qtbot: QtBot, widget: QWidget, pos: QPoint) -> None:
    """A real double click: QTest.mouseDClick alone sends only the second press (Qt 6), which
    item views ignore without the first."""
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(widget, Qt.MouseButton.LeftButton, pos=pos)


def screenshot(widget: QWidget, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    QApplication.processEvents()
    out = SCREENS / name
    assert widget.grab().save(str(out), "PNG")
    return out


def wait_thumbnails(qtbot: QtBot, browser: StudyBrowser) -> None:
    model = browser.series_model
    qtbot.waitUntil(
        lambda: model.rowCount() > 0
        and all(model.has_thumbnail(uid) for uid in model.series_uids()),
        timeout=WAIT_MS,
    )


# --- the task runner -----------------------------------------------------------------------------


def test_task_result_arrives_on_gui_thread_and_job_runs_off_it(
    qtbot: QtBot,
    runner: TaskRunner,
) -> None:
    gui = threading.get_ident()
    ran_on: list[int] = []
    delivered_on: list[int] = []

    def job(progress: ProgressCallback, cancel: CancelToken) -> int:
        ran_on.append(threading.get_ident())
        return 42

    task = runner.start(job, "answer")
    task.succeeded.connect(lambda value: delivered_on.append(threading.get_ident()))
    with qtbot.waitSignal(task.succeeded, timeout=WAIT_MS) as blocker:
        pass
    assert blocker.args == [42]
    assert ran_on and ran_on[0] != gui
    assert delivered_on == [gui]
    qtbot.waitUntil(lambda: not runner.active())


def test_task_progress_is_throttled_and_ends_at_the_last_value(
    qtbot: QtBot,
    runner: TaskRunner,
) -> None:
    seen: list[tuple[int, int]] = []

    def job(progress: ProgressCallback, cancel: CancelToken) -> float:
        start = time.monotonic()
        for n in range(1, 200_001):
            progress(n, 200_000, "")
        return time.monotonic() - start

    task = runner.start(job)
    task.progress.connect(lambda done, total, _label: seen.append((done, total)))
    with qtbot.waitSignal(task.finished, timeout=WAIT_MS):
        pass
    elapsed = task.result
    assert seen[-1] == (200_000, 200_000)
    # At most one update per 50 ms, plus the first and the last.
    assert len(seen) <= elapsed / 0.05 + 3, (len(seen), elapsed)


def test_task_error_text_and_cancel(qtbot: QtBot, runner: TaskRunner) -> None:
    def broken(progress: ProgressCallback, cancel: CancelToken) -> None:
        raise OSError(28, "No space left on device")

    task = runner.start(broken)
    with qtbot.waitSignal(task.failed, timeout=WAIT_MS) as blocker:
        pass
    assert blocker.args == ["[Errno 28] No space left on device"]
    assert task.outcome == "failed"

    started = threading.Event()

    def waits(progress: ProgressCallback, cancel: CancelToken) -> None:
        started.set()
        while True:
            cancel.raise_if_cancelled()
            time.sleep(0.005)

    task = runner.start(waits)
    assert started.wait(10)
    with qtbot.waitSignal(task.cancelled, timeout=WAIT_MS):
        task.cancel()
    assert task.outcome == "cancelled"


# --- search helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "end", "expected"),
    [
        ("", False, ""),
        ("2024-03-05", False, "20240305"),
        ("20240305", True, "20240305"),
        ("2024.03.05", False, "20240305"),
        ("2024-02", True, "20240229"),
        ("2023-02", True, "20230228"),
        ("2024", False, "20240101"),
        ("2024", True, "20241231"),
        ("2024-13-01", False, None),
        ("2024-02-30", False, None),
        ("yesterday", False, None),
    ],
)
def test_date_bound(typed: str, end: bool, expected: str | None) -> None:
    assert date_bound(typed, end) == expected


def test_search_pattern() -> None:
    assert search_pattern("  ") == ""
    assert search_pattern("doe") == "doe*"
    assert search_pattern("d?e^j*") == "d?e^j*"
    assert search_pattern("d?e") == "d?e*"
    assert search_pattern("doe jane") == "doe*jane*"


# --- the browser ---------------------------------------------------------------------------------


def test_empty_archive_offers_import_and_demo(
    qtbot: QtBot,
    browser: StudyBrowser,
    tmp_path: Path,
) -> None:
    assert browser._pages.currentWidget() is browser._empty_page
    assert not browser.demo_button.isVisible()
    calls: list[int] = []

    def demo() -> None:
        calls.append(1)
        browser.import_prepared(
            lambda: write_ct_series(tmp_path / "demo", slices=4, rows=64, columns=64)
        )

    browser.set_demo_offer(demo)
    assert browser.demo_button.isVisible()
    screenshot(browser, "browser_empty.png")
    with qtbot.waitSignal(browser.archive_changed, timeout=WAIT_MS):
        qtbot.mouseClick(browser.demo_button, Qt.MouseButton.LeftButton)
    assert calls == [1]
    assert browser._pages.currentWidget() is browser._table_page
    assert names(browser) == ["DEMO, CT"]


def test_import_lists_the_study(
    qtbot: QtBot,
    browser: StudyBrowser,
    media: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[int] = []
    real_import = importer.import_paths

    def spy(*args: Any, **kwargs: Any) -> importer.ImportReport:
        threads.append(threading.get_ident())
        return real_import(*args, **kwargs)

    monkeypatch.setattr(importer, "import_paths", spy)
    run_import(qtbot, browser, [media["doe"]])
    assert threads and threading.get_ident() not in threads  # never on the GUI thread
    assert names(browser) == ["DOE, JANE"]
    model = browser.model
    assert model.index(0, StudyTableModel.SERIES).data() == "2"
    assert model.index(0, StudyTableModel.IMAGES).data() == "8"
    assert model.index(0, StudyTableModel.DATE).data() == "2024-01-02 09:30"
    box = browser.summary_box
    assert box is not None and box.isVisible()
    assert "Imported: 8" in box.text() and "Failed: 0" in box.text()
    box.close()
    # Importing again: everything already present, nothing new listed.
    run_import(qtbot, browser, [media["doe"]])
    assert browser.summary_box is not None
    assert "Already present: 8" in browser.summary_box.text()
    assert names(browser) == ["DOE, JANE"]


def test_search_by_wildcard_chinese_name_and_id(
    qtbot: QtBot,
    browser: StudyBrowser,
    media: dict[str, Path],
) -> None:
    run_import(qtbot, browser, [media["root"]])
    assert browser.summary_box is not None
    browser.summary_box.close()
    assert sorted(names(browser)) == ["DOE, JANE", "OLD, STUDY", "张, 三"]

    browser.name_edit.setFocus()
    qtbot.keyClicks(browser.name_edit, "d?e")  # as you type: no button press
    qtbot.waitUntil(lambda: names(browser) == ["DOE, JANE"], timeout=5000)
    browser.name_edit.clear()
    qtbot.keyClicks(browser.name_edit, "*STU*")
    qtbot.waitUntil(lambda: names(browser) == ["OLD, STUDY"], timeout=5000)
    browser.name_edit.clear()
    commit = QInputMethodEvent()  # Chinese arrives from an input method, not as key presses
    commit.setCommitString("张")
    QApplication.sendEvent(browser.name_edit, commit)
    qtbot.waitUntil(lambda: names(browser) == ["张, 三"], timeout=5000)
    assert browser.model.index(0, StudyTableModel.DESCRIPTION).data() == "胸部 CT 平扫"
    qtbot.mouseClick(
        browser.table.viewport(), Qt.MouseButton.LeftButton, pos=row_center(browser, 0)
    )
    wait_thumbnails(qtbot, browser)
    screenshot(browser, "browser_chinese.png")

    browser.name_edit.clear()
    browser.id_edit.setText("P003")
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    assert names(browser) == ["OLD, STUDY"]
    browser.id_edit.clear()
    browser.modality_combo.setCurrentIndex(browser.modality_combo.findData("CT"))
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    assert sorted(names(browser)) == ["DOE, JANE", "张, 三"]
    browser.name_edit.setText("nobody")
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    assert names(browser) == []
    assert browser._pages.currentWidget() is browser._table_page  # not the empty-archive page
    assert browser.status_label.text() == "No study matches the search."


def test_date_range_filter(qtbot: QtBot, browser: StudyBrowser, media: dict[str, Path]) -> None:
    run_import(qtbot, browser, [media["root"]])
    browser.date_from_edit.setText("2024-01-01")
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    assert sorted(names(browser)) == ["DOE, JANE", "张, 三"]
    browser.date_from_edit.clear()
    browser.date_to_edit.setText("2023-12-31")
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    assert names(browser) == ["OLD, STUDY"]
    browser.date_from_edit.setText("2023-06")
    browser.date_to_edit.setText("2023-06")
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    assert names(browser) == ["OLD, STUDY"]
    browser.date_from_edit.setText("2023-06-16")
    browser.date_to_edit.clear()
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    assert sorted(names(browser)) == ["DOE, JANE", "张, 三"]
    # A date that cannot be read is marked and left out of the search.
    browser.date_from_edit.setText("2023-13")
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    assert len(names(browser)) == 3
    assert "border" in browser.date_from_edit.styleSheet()


def test_thumbnails_are_made_by_the_decode_pool(
    qtbot: QtBot, archive: Archive, runner: TaskRunner, media: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a pool, no thumbnail is rendered in the GUI process (a worker decodes, runs the
    display pipeline, scales and writes the PNG); they still appear, off the GUI thread."""
    from viewer.decode.pool import DecodePool

    def not_here(*_args: object) -> None:
        raise AssertionError("thumbnail rendered in the GUI process")

    from viewer.dicom import display

    monkeypatch.setattr(display, "render_frame", not_here)  # the workers keep the real one
    with DecodePool(1) as pool:
        browser = StudyBrowser(archive, runner, pool=pool)
        qtbot.addWidget(browser)
        browser.resize(1150, 720)
        browser.show()
        failures: list[str] = []
        monkeypatch.setattr(browser.thumbnails, "_failed", lambda _uid, why: failures.append(why))
        run_import(qtbot, browser, [media["root"]])
        assert browser.summary_box is not None
        browser.summary_box.close()
        row = names(browser).index("DOE, JANE")
        qtbot.mouseClick(browser.table.viewport(), Qt.MouseButton.LeftButton,
                         pos=row_center(browser, row))
        wait_thumbnails(qtbot, browser)
        assert failures == []
        icon = browser.series_model.index(0).data(Qt.ItemDataRole.DecorationRole)
        image = icon.pixmap(128, 128).toImage().convertToFormat(QImage.Format.Format_Grayscale8)
        grey = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
        assert grey.std() > 10  # a rendered CT slice, not the flat placeholder
        screenshot(browser, "browser-pool-thumbnails.png")
        runner.shutdown()


def test_selection_shows_series_thumbnails_and_keyboard(
    qtbot: QtBot,
    browser: StudyBrowser,
    media: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_import(qtbot, browser, [media["root"]])
    assert browser.summary_box is not None
    browser.summary_box.close()
    threads: list[int] = []
    real_thumbnail = thumbnails.thumbnail

    def spy(archive: Archive, series_uid: str, *rest: Any) -> Path:
        threads.append(threading.get_ident())
        return real_thumbnail(archive, series_uid, *rest)

    monkeypatch.setattr(thumbnails, "thumbnail", spy)
    row = names(browser).index("DOE, JANE")
    qtbot.mouseClick(browser.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=row_center(browser, row))
    series = browser.series_model
    assert series.rowCount() == 2  # placeholders at once, thumbnails later
    wait_thumbnails(qtbot, browser)
    labels = [series.index(r).data() for r in range(2)]
    assert labels == ["#1 CT\nAxial 5 mm\n5 images", "#2 CT\nCoronal\n3 images"]
    icon = series.index(0).data(Qt.ItemDataRole.DecorationRole)
    image = icon.pixmap(128, 128).toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    grey = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    assert grey.std() > 10  # a rendered CT slice, not the flat placeholder
    assert len(threads) == 2 and threading.get_ident() not in threads
    screenshot(browser, "browser.png")

    # Keyboard: the next study with the arrow keys, its one series shown.
    browser.table.setFocus()
    step, other = (Qt.Key.Key_Down, row + 1) if row == 0 else (Qt.Key.Key_Up, row - 1)
    qtbot.keyClick(browser.table, step)
    assert browser.current_study_uid() == browser.model.study(other).study_instance_uid
    assert series.rowCount() == 1
    wait_thumbnails(qtbot, browser)

    # Sorting by clicking the Patient name header, then again for the other direction.
    before = browser.current_study_uid()
    header = browser.table.horizontalHeader()
    x = header.sectionViewportPosition(StudyTableModel.NAME) + 20
    by_name = ["DOE, JANE", "OLD, STUDY", "张, 三"]
    assert names(browser) not in (by_name, by_name[::-1])  # newest first, as searched
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    first = names(browser)
    assert first in (by_name, by_name[::-1])
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    assert names(browser) == first[::-1]
    # The current study stays current (and selected) through the sorts.
    assert browser.current_study_uid() == before
    assert browser.selected_study_uids() == [before]
    screenshot(browser, "browser_sorted.png")


def test_double_click_and_enter_open(
    qtbot: QtBot,
    browser: StudyBrowser,
    media: dict[str, Path],
) -> None:
    run_import(qtbot, browser, [media["doe"], media["zhang"]])
    row = names(browser).index("张, 三")
    uid = browser.model.study(row).study_instance_uid
    with qtbot.waitSignal(browser.open_study, timeout=5000) as opened:
        double_click(qtbot, browser.table.viewport(), row_center(browser, row))
    assert opened.args == [uid]

    browser.table.setFocus()
    with qtbot.waitSignal(browser.open_study, timeout=5000) as opened:
        qtbot.keyClick(browser.table, Qt.Key.Key_Return)
    assert opened.args == [uid]

    series_uid = browser.series_model.series(0).series_instance_uid
    rect = browser.series_view.visualRect(browser.series_model.index(0))
    with qtbot.waitSignal(browser.open_series, timeout=5000) as opened:
        double_click(qtbot, browser.series_view.viewport(), rect.center())
    assert opened.args == [uid, series_uid]
    mime = browser.series_model.mimeData([browser.series_model.index(0)])
    assert series_uid in bytes(mime.data(SERIES_MIME).data()).decode()


def test_drop_files_imports_them(
    qtbot: QtBot,
    browser: StudyBrowser,
    media: dict[str, Path],
) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(media["zhang"])), QUrl.fromLocalFile(str(media["old"]))])
    target = browser._empty_page  # shown while the archive is empty; the browser takes the drop
    assert browser._pages.currentWidget() is target
    pos = QPointF(target.rect().center())
    enter = QDragEnterEvent(target.rect().center(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(browser.archive_changed, timeout=WAIT_MS):
        QApplication.sendEvent(target, drop)
    assert drop.isAccepted()
    assert sorted(names(browser)) == ["OLD, STUDY", "张, 三"]

    # A drag without files (a series dragged from the strip) is refused.
    series_only = QMimeData()
    series_only.setData(SERIES_MIME, b"{}")
    enter = QDragEnterEvent(target.rect().center(), Qt.DropAction.CopyAction, series_only,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    assert not enter.isAccepted()


def test_delete_with_confirmation(
    qtbot: QtBot,
    browser: StudyBrowser,
    archive: Archive,
    media: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_import(qtbot, browser, [media["doe"], media["old"]])
    row = names(browser).index("DOE, JANE")
    uid = browser.model.study(row).study_instance_uid
    files = [
        archive.store.absolute(i.store_path)
        for s in archive.index.series(uid)
        for i in archive.index.instances(s.series_instance_uid)
    ]
    assert len(files) == 8 and all(f.exists() for f in files)
    qtbot.mouseClick(browser.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=row_center(browser, row))
    wait_thumbnails(qtbot, browser)

    questions: list[str] = []
    answers = iter([False, True])
    def confirm(title: str, question: str) -> bool:
        questions.append(question)
        return next(answers)

    monkeypatch.setattr(browser, "confirm", confirm)
    browser.table.setFocus()
    qtbot.keyClick(browser.table, Qt.Key.Key_Delete)  # declined: nothing happens
    assert questions and "DOE, JANE" in questions[0] and "Studies: 1" in questions[0]
    assert not browser.busy and archive.index.get_study(uid) is not None

    with qtbot.waitSignal(browser.archive_changed, timeout=WAIT_MS):
        qtbot.mouseClick(browser.delete_button, Qt.MouseButton.LeftButton)
    assert len(questions) == 2
    assert names(browser) == ["OLD, STUDY"]
    assert archive.index.get_study(uid) is None
    assert not any(f.exists() for f in files)
    assert browser.series_model.rowCount() == 0


def test_bad_file_is_reported_with_its_reason(
    qtbot: QtBot,
    browser: StudyBrowser,
    media: dict[str, Path],
    tmp_path: Path,
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.dcm").write_bytes((media["old"] / "sc.dcm").read_bytes())
    data = (media["zhang"] / "CT0001.dcm").read_bytes()
    (folder / "truncated.dcm").write_bytes(data[: len(data) // 2])
    (folder / "README.txt").write_text("not DICOM")
    run_import(qtbot, browser, [folder])
    box = browser.summary_box
    assert box is not None
    assert "Imported: 1" in box.text() and "Failed: 2" in box.text()
    details = box.detailedText()
    assert "truncated.dcm: " in details and "README.txt: " in details
    assert "Traceback" not in details
    assert "truncated.dcm" in box.informativeText()
    assert names(browser) == ["OLD, STUDY"]
    screenshot(box, "browser_summary.png")


def test_cancel_import(qtbot: QtBot, browser: StudyBrowser, media: dict[str, Path]) -> None:
    release = threading.Event()

    def slow() -> list[Path]:
        release.wait(30)  # a long walk: the user presses Cancel meanwhile
        return [media["doe"]]

    browser.import_prepared(slow)
    assert browser.busy and browser.cancel_button.isVisible()
    screenshot(browser, "browser_progress.png")
    qtbot.mouseClick(browser.cancel_button, Qt.MouseButton.LeftButton)
    release.set()
    qtbot.waitUntil(lambda: not browser.busy, timeout=WAIT_MS)
    assert "cancelled" in browser.status_label.text()
    assert not browser.cancel_button.isVisible()
