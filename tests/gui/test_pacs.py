"""The PACS panel and the GUI's Storage SCP against real peers on loopback (issue 6: "the GUI
gets a query/retrieve/send panel in the browser and shows the SCP's status"): Orthanc for
echo / C-FIND / C-MOVE / C-GET, DCMTK storescp receiving what we send, DCMTK storescu sending
to the window's Storage SCP. Driven with real mouse and key events, offscreen."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402
from PySide6.QtCore import QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QContextMenuEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMenu, QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from tests.gui.translations import compile_zh_cn  # noqa: E402
from tests.net.peers import (  # noqa: E402
    LOOPBACK,
    OUR_AE,
    Orthanc,
    free_port,
    run_orthanc,
    run_storescp,
    write_config,
)
from tests.peers import require_tool  # noqa: E402
from viewer.archive import importer  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.config import ConfigError, Settings, load_settings  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.dicom.text import person_name_text  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.browser import StudyBrowser  # noqa: E402
from viewer.gui.i18n import install_translator  # noqa: E402
from viewer.gui.pacs import PacsPanel  # noqa: E402
from viewer.gui.pacs_models import QueryResultModel, SeriesResultModel  # noqa: E402
from viewer.gui.tasks import TaskRunner  # noqa: E402

pytestmark = pytest.mark.timeout(240)

SCREENS = Path("/tmp/screens")
WAIT_MS = 60_000
DOE_STUDY = "1.2.826.0.1.3680043.8.498.7001"
ZHANG_STUDY = "1.2.826.0.1.3680043.8.498.7002"


def screenshot(widget: QWidget, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    QApplication.processEvents()
    assert widget.grab().save(str(SCREENS / name), "PNG")


# --- peers and windows ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("studies")
    return {
        "doe": write_ct_series(root / "doe", 5, 64, 64, patient_name="DOE^JANE",
                               patient_id="P001", study_uid=DOE_STUDY,
                               study_description="CT chest"),
        "zhang": write_ct_series(root / "zhang", 4, 64, 64, patient_name="Zhang^San=张^三",
                                 patient_id="P002", study_uid=ZHANG_STUDY,
                                 study_description="胸部 CT 平扫"),
    }


@pytest.fixture(scope="module")
def our_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory, studies: dict[str, list[Path]],
            our_port: int) -> Iterator[Orthanc]:
    """Orthanc holding both studies, knowing us as a C-MOVE destination; (AE title, port)."""
    folder = tmp_path_factory.mktemp("orthanc")
    with run_orthanc(folder, {"US": (OUR_AE, LOOPBACK, our_port)},
                     DefaultEncoding="Utf8") as pacs:
        pacs.upload(*studies["doe"], *studies["zhang"])
        yield pacs


@pytest.fixture
def pool() -> Iterator[DecodePool]:
    decode = DecodePool(1, cache=FrameCache(32 << 20))
    yield decode
    decode.close()


def open_window(qtbot: QtBot, pool: DecodePool, archive: Archive,
                settings: Settings) -> MainWindow:
    window = MainWindow([], None, FrameBridge(pool), archive, settings=settings)
    qtbot.addWidget(window)
    window.resize(1200, 760)
    window.show()
    return window


def open_pacs_tab(qtbot: QtBot, pool: DecodePool, archive: Archive,
                  settings: Settings) -> tuple[MainWindow, PacsPanel]:
    """The window, showing its PACS tab."""
    window = open_window(qtbot, pool, archive, settings)
    panel = window.pacs
    assert panel is not None
    window.tabs.setCurrentWidget(panel)
    return window, panel


def close_window(window: MainWindow) -> None:
    window.close()  # stops the tasks and the Storage SCP (closeEvent)


def wait_idle(qtbot: QtBot, panel: PacsPanel) -> None:
    qtbot.waitUntil(lambda: not panel.busy and panel._find_task is None
                    and panel._echo_task is None and panel._series_task is None,
                    timeout=WAIT_MS)


def click(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def click_row(qtbot: QtBot, panel: PacsPanel, row: int,
              modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    table = panel.table
    rect = table.visualRect(panel.model.index(row, QueryResultModel.ID))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def row_of(panel: PacsPanel, study_uid: str) -> int:
    rows = [r for r in range(panel.model.rowCount()) if panel.model.study_uid(r) == study_uid]
    assert len(rows) == 1
    return rows[0]


# --- tests ---------------------------------------------------------------------------------------


def test_echo_search_and_retrieve_by_move_and_get(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, orthanc: Orthanc, our_port: int
) -> None:
    ae_title, port = orthanc.ae_title, orthanc.port
    config = write_config(tmp_path / "config.toml", {"PACS": (ae_title, port)},
                          local_port=our_port)
    with Archive(tmp_path / "archive") as archive:
        window = open_window(qtbot, pool, archive, load_settings(config))
        panel, browser = window.pacs, window.browser
        assert panel is not None and browser is not None
        window.tabs.setCurrentWidget(panel)
        assert not panel.no_nodes_label.isVisible()
        assert "Storage SCP off" in panel.scp_label.text()

        click(qtbot, panel.echo_button)
        qtbot.waitUntil(lambda: "success" in panel.echo_label.text(), timeout=WAIT_MS)
        assert f"PACS ({ae_title}@127.0.0.1:{port})" in panel.echo_label.text()

        # patient name with a wildcard, lower case: Orthanc matches names case-insensitively
        qtbot.keyClicks(panel.name_edit, "do*")
        qtbot.keyClick(panel.name_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT_MS)
        wait_idle(qtbot, panel)
        model = panel.model
        assert model.study_uid(0) == DOE_STUDY
        assert model.data(model.index(0, QueryResultModel.NAME)) == person_name_text("DOE^JANE")
        assert model.data(model.index(0, QueryResultModel.ID)) == "P001"
        assert model.data(model.index(0, QueryResultModel.DESCRIPTION)) == "CT chest"
        assert model.data(model.index(0, QueryResultModel.MODALITIES)) == "CT"
        assert model.data(model.index(0, QueryResultModel.IMAGES)) == "5"
        assert model.data(model.index(0, QueryResultModel.LOCAL)) == ""  # not in our archive
        date = model.data(model.index(0, QueryResultModel.DATE))
        assert len(date) == 10 and date[4] == "-"

        # a date range that excludes it, then the modality that does not match
        panel.date_from_edit.setText("1990-01-01")
        panel.date_to_edit.setText("1990-12")
        click(qtbot, panel.search_button)
        qtbot.waitUntil(lambda: panel.model.rowCount() == 0 and panel._find_task is None,
                        timeout=WAIT_MS)
        panel.date_from_edit.clear()
        panel.date_to_edit.clear()
        panel.name_edit.clear()
        click(qtbot, panel.search_button)
        qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=WAIT_MS)
        wait_idle(qtbot, panel)
        zhang = row_of(panel, ZHANG_STUDY)
        assert model.data(model.index(zhang, QueryResultModel.NAME)) == "Zhang, San = 张, 三"
        assert model.data(model.index(zhang, QueryResultModel.DESCRIPTION)) == "胸部 CT 平扫"
        screenshot(window, "pacs-search.png")

        # C-MOVE the first, with progress, into the archive; the study list shows it
        statuses: list[str] = []
        panel.status_message.connect(statuses.append)
        click_row(qtbot, panel, row_of(panel, DOE_STUDY))
        assert panel.retrieve_button.isEnabled()
        click(qtbot, panel.retrieve_button)
        assert panel.busy and panel.cancel_button.isVisible()
        wait_idle(qtbot, panel)
        assert "5 images imported" in panel.status_label.text(), panel.status_label.text()
        assert any("Study 1 of 1:" in s and "completed" in s for s in statuses), statuses
        assert panel.summary_box is None
        assert [browser.model.study(r).study_instance_uid
                for r in range(browser.model.rowCount())] == [DOE_STUDY]
        assert browser.model.study(0).number_of_instances == 5
        doe = row_of(panel, DOE_STUDY)
        assert model.data(model.index(doe, QueryResultModel.LOCAL)) == "5"

        # C-GET the second
        panel.via_combo.setCurrentIndex(panel.via_combo.findData("get"))
        click_row(qtbot, panel, row_of(panel, ZHANG_STUDY))
        click(qtbot, panel.retrieve_button)
        wait_idle(qtbot, panel)
        assert "4 images imported" in panel.status_label.text(), panel.status_label.text()
        assert browser.model.rowCount() == 2
        assert {s.study_instance_uid for s in archive.index.search_studies()} == {
            DOE_STUDY, ZHANG_STUDY}
        screenshot(window, "pacs-retrieved.png")
        window.tabs.setCurrentWidget(browser)
        screenshot(window, "pacs-studies-after-retrieve.png")
        close_window(window)


def test_cancel_a_retrieve_keeps_what_arrived(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, orthanc: Orthanc, our_port: int
) -> None:
    files = write_ct_series(tmp_path / "big", 120, 128, 128, patient_name="CANCEL^ME",
                            patient_id="P009")
    orthanc.upload(*files)
    config = write_config(tmp_path / "config.toml", {"PACS": (orthanc.ae_title, orthanc.port)},
                          local_port=our_port)
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_pacs_tab(qtbot, pool, archive, load_settings(config))
        qtbot.keyClicks(panel.name_edit, "cancel")
        click(qtbot, panel.search_button)
        qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT_MS)
        wait_idle(qtbot, panel)
        panel.via_combo.setCurrentIndex(panel.via_combo.findData("get"))
        click_row(qtbot, panel, 0)
        clicked: list[str] = []

        def cancel_once(text: str) -> None:
            if "completed" in text and not clicked and panel.cancel_button.isVisible():
                clicked.append(text)
                click(qtbot, panel.cancel_button)

        panel.status_message.connect(cancel_once)
        click(qtbot, panel.retrieve_button)
        wait_idle(qtbot, panel)
        assert clicked
        assert "Retrieve cancelled" in panel.status_label.text(), panel.status_label.text()
        stored = archive.index.search_studies()
        assert len(stored) == 1 and 0 < stored[0].number_of_instances < 120
        close_window(window)


def test_send_local_studies_to_storescp_reports_each_failed_file(
    qtbot: QtBot, tmp_path: Path, studies: dict[str, list[Path]]
) -> None:
    with run_storescp(tmp_path / "received", "STORESCP") as storescp, \
            Archive(tmp_path / "archive") as archive:
        importer.import_paths(archive, [*studies["doe"], *studies["zhang"]])
        config = write_config(tmp_path / "config.toml", {"STORE": ("STORESCP", storescp.port)})
        runner = TaskRunner()
        browser = StudyBrowser(archive, runner)
        panel = PacsPanel(load_settings(config), archive, runner, browser)
        qtbot.addWidget(browser)
        qtbot.addWidget(panel)
        browser.resize(1000, 600)
        browser.show()
        panel.resize(1000, 600)
        panel.show()

        # right-click the first study: Send to > STORE
        table = browser.table
        doe_row = browser.model.row_of(DOE_STUDY)
        assert doe_row is not None
        where = table.visualRect(browser.model.index(doe_row, 1)).center()
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=where)
        choose_in_context_menu(qtbot, table.viewport(), where, ["Send to", "STORE"])
        wait_idle(qtbot, panel)
        assert len(storescp.received()) == 5
        received = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID)
                    for p in storescp.received()}
        assert received == {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID)
                            for p in studies["doe"]}
        assert "5 of 5 files, 0 failed" in panel.status_label.text(), panel.status_label.text()
        assert panel.summary_box is None

        # one stored file gone from the store: that file fails with its reason, the rest go
        (series,) = archive.index.series(ZHANG_STUDY)
        gone = archive.store.absolute(archive.index.instances(series.series_instance_uid)[0]
                                      .store_path)
        gone.unlink()
        panel.send_studies([ZHANG_STUDY], "STORE")
        wait_idle(qtbot, panel)
        assert len(storescp.received()) == 5 + 3
        assert "3 of 4 files, 1 failed" in panel.status_label.text(), panel.status_label.text()
        box = panel.summary_box
        assert box is not None and box.isVisible()
        assert gone.name in box.informativeText()
        screenshot(box, "pacs-send-failures.png")
        runner.shutdown()


def choose_in_context_menu(qtbot: QtBot, viewport: QWidget, pos: QPoint,
                           path: list[str]) -> None:
    """Open the context menu at `pos` (a context-menu event, as a right click sends) and
    trigger the entry `path`: submenu titles, then the start of the action's text."""
    chosen: list[str] = []

    def pick() -> None:
        top = QApplication.activePopupWidget()
        assert isinstance(top, QMenu)
        menu = top
        for title in path[:-1]:
            action = next(a for a in menu.actions() if a.text() == title)
            assert action.isEnabled()
            sub = action.menu()
            assert isinstance(sub, QMenu)
            menu = sub
        leaf = next(a for a in menu.actions() if a.text().startswith(path[-1]))
        chosen.append(leaf.text())
        top.close()
        leaf.trigger()

    QTimer.singleShot(200, pick)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, viewport.mapToGlobal(pos))
    QApplication.sendEvent(viewport, event)
    qtbot.waitUntil(lambda: bool(chosen), timeout=5000)


def test_an_unreachable_node_is_named_in_one_line(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool
) -> None:
    dead = free_port()  # nothing listens there
    config = write_config(tmp_path / "config.toml", {"DEAD": ("NOBODY", dead)},
                          connect=2, acse=2)
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_pacs_tab(qtbot, pool, archive, load_settings(config))
        click(qtbot, panel.echo_button)
        qtbot.waitUntil(lambda: "failed" in panel.echo_label.text(), timeout=WAIT_MS)
        text = panel.echo_label.text()
        assert f"DEAD (NOBODY@127.0.0.1:{dead})" in text and "\n" not in text
        click(qtbot, panel.search_button)
        qtbot.waitUntil(lambda: "Search failed" in panel.status_label.text(), timeout=WAIT_MS)
        assert f"DEAD (NOBODY@127.0.0.1:{dead})" in panel.status_label.text()
        assert "Traceback" not in panel.status_label.text()
        assert panel.summary_box is None  # a failed search is a status line, not a dialog
        assert not any(isinstance(w, type(panel.summary_box)) and w.isVisible()
                       for w in QApplication.topLevelWidgets() if w is not window)
        screenshot(window, "pacs-unreachable.png")
        close_window(window)


def test_the_panel_in_chinese(
    qtbot: QtBot, tmp_path: Path, orthanc: Orthanc, qapp: QApplication
) -> None:
    qm = compile_zh_cn(tmp_path / "qm")
    config = write_config(tmp_path / "config.toml", {"PACS": (orthanc.ae_title, orthanc.port)})
    assert install_translator(qapp, "zh_CN", directory=qm) == "zh_CN"
    runner = TaskRunner()
    try:
        with Archive(tmp_path / "archive") as archive:
            panel = PacsPanel(load_settings(config), archive, runner)
            qtbot.addWidget(panel)
            panel.resize(1200, 520)
            panel.show()
            assert panel.retrieve_button.text() == "获取"
            assert panel.model.headerData(QueryResultModel.ACCESSION,
                                          Qt.Orientation.Horizontal) == "检查号"
            assert panel.scp_label.text().startswith("存储 SCP 已关闭")
            qtbot.keyClicks(panel.name_edit, "zhang")
            click(qtbot, panel.search_button)
            qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT_MS)
            # The found study is selected, and its series asked for SERIES_DELAY_MS later:
            # wait for them too, or their answer arrives after this panel is gone.
            qtbot.waitUntil(lambda: panel.series_model.rowCount() > 0, timeout=WAIT_MS)
            wait_idle(qtbot, panel)
            assert panel.status_label.text().startswith("在 PACS (")
            screenshot(panel, "pacs-zh_CN.png")
    finally:
        runner.shutdown()
        install_translator(qapp, "en", directory=qm)


def test_no_node_configured_points_to_nodes_add(qtbot: QtBot, tmp_path: Path) -> None:
    with Archive(tmp_path / "archive") as archive:
        runner = TaskRunner()
        panel = PacsPanel(Settings(), archive, runner)
        qtbot.addWidget(panel)
        panel.resize(900, 500)
        panel.show()
        assert panel.no_nodes_label.isVisible()
        assert "dicom-viewer nodes add" in panel.no_nodes_label.text()
        assert not panel.echo_button.isEnabled() and not panel.search_button.isEnabled()
        assert panel.scp_label.text() == (
            "Storage SCP off (enable [gui] storage_scp in config.toml)"
        )
        screenshot(panel, "pacs-no-nodes.png")
        runner.shutdown()


def test_the_window_storage_scp_receives_from_storescu(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, studies: dict[str, list[Path]]
) -> None:
    storescu = require_tool("storescu", "dcmtk")
    port = free_port()
    config = write_config(tmp_path / "config.toml", {}, local_port=port)
    config.write_text(config.read_text() + "\n[gui]\nstorage_scp = true\n")
    settings = load_settings(config)
    assert settings.storage_scp
    files = write_ct_series(tmp_path / "incoming", 30, 64, 64, patient_name="WANG^WU")
    with Archive(tmp_path / "archive") as archive:
        window = open_window(qtbot, pool, archive, settings)
        panel, browser = window.pacs, window.browser
        assert panel is not None and browser is not None
        assert panel.storage.running
        assert panel.scp_label.text() == (
            f"Storage SCP: listening as {OUR_AE} on 127.0.0.1:{port} — 0 received"
        )
        refreshes: list[float] = []
        panel.storage.archive_changed.connect(lambda: refreshes.append(time.monotonic()))
        started = time.monotonic()
        done = subprocess.run(
            [storescu, "-aet", "MODALITY", "-aec", OUR_AE, LOOPBACK, str(port),
             *map(str, files)],
            env={**os.environ, "TCP_NODELAY": "1"}, capture_output=True, text=True,
            timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        sent_for = time.monotonic() - started
        qtbot.waitUntil(lambda: browser.model.rowCount() == 1
                        and browser.model.study(0).number_of_instances == 30, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: "30 received" in panel.scp_label.text(), timeout=WAIT_MS)
        # Throttled: 30 instances, but at most one refresh per second (plus the last one).
        assert 1 <= len(refreshes) <= sent_for + 2, (len(refreshes), sent_for)
        assert all(b - a >= 0.9 for a, b in zip(refreshes, refreshes[1:], strict=False))
        window.tabs.setCurrentWidget(panel)
        screenshot(window, "pacs-scp.png")
        close_window(window)
        assert not panel.storage.running
        with socket.socket() as s:  # nobody listens there any more (TIME_WAIT aside)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((LOOPBACK, port))
            s.listen()


def test_move_into_the_running_window_scp(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, orthanc: Orthanc, our_port: int
) -> None:
    """With the window's SCP on our port, C-MOVE's instances arrive there (the core's own
    listener cannot bind): the panel counts the PACS's completed sub-operations."""
    config = write_config(tmp_path / "config.toml", {"PACS": (orthanc.ae_title, orthanc.port)},
                          local_port=our_port)
    config.write_text(config.read_text() + "\n[gui]\nstorage_scp = true\n")
    with Archive(tmp_path / "archive") as archive:
        window = open_window(qtbot, pool, archive, load_settings(config))
        panel, browser = window.pacs, window.browser
        assert panel is not None and browser is not None and panel.storage.running
        qtbot.keyClicks(panel.id_edit, "P001")
        click(qtbot, panel.search_button)
        qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT_MS)
        wait_idle(qtbot, panel)
        click_row(qtbot, panel, 0)
        click(qtbot, panel.retrieve_button)
        wait_idle(qtbot, panel)
        assert "5 images imported" in panel.status_label.text(), panel.status_label.text()
        qtbot.waitUntil(lambda: "5 received" in panel.scp_label.text(), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: browser.model.rowCount() == 1, timeout=WAIT_MS)
        assert browser.model.study(0).study_instance_uid == DOE_STUDY
        close_window(window)


def test_a_taken_port_is_shown_not_raised(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool
) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "config.toml", {}, local_port=port)
        config.write_text(config.read_text() + "\n[gui]\nstorage_scp = true\n")
        with Archive(tmp_path / "archive") as archive:
            window = open_window(qtbot, pool, archive, load_settings(config))
            assert window.pacs is not None and not window.pacs.storage.running
            text = window.pacs.scp_label.text()
            assert text.startswith(f"Storage SCP could not start on 127.0.0.1:{port}: "), text
            close_window(window)


def test_storage_scp_setting_must_be_a_boolean(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[gui]\nstorage_scp = "yes"\n')
    with pytest.raises(ConfigError, match=r"config\.toml: \[gui\] storage_scp must be true"):
        load_settings(config)
    config.write_text("[gui]\n")
    assert load_settings(config).storage_scp is False


def test_the_series_of_a_study_and_retrieving_one_of_them(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, orthanc: Orthanc, our_port: int
) -> None:
    """Selecting a study asks the PACS for its series (C-FIND, series level); "Retrieve
    series" pulls only the selected one (C-MOVE with the Series Instance UID), and both lists
    then say what the archive holds."""
    study_uid = "1.2.826.0.1.3680043.8.498.7003"
    common = {"patient_name": "SERIES^TWO", "patient_id": "P010", "study_uid": study_uid}
    axial = write_ct_series(tmp_path / "axial", 5, 64, 64, series_number=2,
                            series_description="Axial 5 mm", **common)
    scout = write_ct_series(tmp_path / "scout", 2, 64, 64, series_number=1,
                            series_description="Topogram", **common)
    orthanc.upload(*axial, *scout)
    config = write_config(tmp_path / "config.toml", {"PACS": (orthanc.ae_title, orthanc.port)},
                          local_port=our_port)
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_pacs_tab(qtbot, pool, archive, load_settings(config))
        assert not panel.retrieve_series_button.isEnabled()
        qtbot.keyClicks(panel.name_edit, "series^two")
        click(qtbot, panel.search_button)
        qtbot.waitUntil(lambda: panel.series_model.rowCount() == 2, timeout=WAIT_MS)
        wait_idle(qtbot, panel)
        series = panel.series_model
        assert series.study_uid == study_uid
        assert "2" in panel.series_label.text()

        def cell(row: int, column: int) -> str:
            return str(series.data(series.index(row, column)))

        # by series number: the topogram first
        assert [cell(r, SeriesResultModel.NUMBER) for r in range(2)] == ["1", "2"]
        assert [cell(r, SeriesResultModel.DESCRIPTION) for r in range(2)] == [
            "Topogram", "Axial 5 mm"]
        assert [cell(r, SeriesResultModel.MODALITY) for r in range(2)] == ["CT", "CT"]
        assert [cell(r, SeriesResultModel.IMAGES) for r in range(2)] == ["2", "5"]
        assert [cell(r, SeriesResultModel.LOCAL) for r in range(2)] == ["", ""]

        rect = panel.series_table.visualRect(series.index(1, SeriesResultModel.DESCRIPTION))
        qtbot.mouseClick(panel.series_table.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, rect.center())
        assert panel.retrieve_series_button.isEnabled()
        statuses: list[str] = []
        panel.status_message.connect(statuses.append)
        click(qtbot, panel.retrieve_series_button)
        wait_idle(qtbot, panel)
        assert "5 images imported" in panel.status_label.text(), panel.status_label.text()
        assert any("Series 1 of 1:" in s for s in statuses), statuses
        (stored,) = archive.index.series(study_uid)
        assert stored.series_description == "Axial 5 mm" and stored.number_of_instances == 5
        assert [cell(r, SeriesResultModel.LOCAL) for r in range(2)] == ["", "5"]
        assert panel.model.data(panel.model.index(0, QueryResultModel.LOCAL)) == "5"
        screenshot(window, "pacs-series.png")

        # another study selected: the list follows; none selected: it empties
        panel.table.clearSelection()
        qtbot.waitUntil(lambda: series.rowCount() == 0, timeout=WAIT_MS)
        assert "Select one study" in panel.series_label.text()
        assert not panel.retrieve_series_button.isEnabled()
        close_window(window)
