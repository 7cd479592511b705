"""DICOMweb in the window (issue 18 item 2) against Orthanc with its DICOMweb plugin on
loopback: the PACS tab echoes, searches and retrieves from a DICOMweb node as from a DIMSE one
(same columns, progress, one-line errors: a 401 says authentication), and "Open" shows a
study of the node without retrieving it first: its first image at once, the rest arriving in
the background into the archive, the slice scrolled to fetched first; a server cutting the
stream mid-way is one line and what arrived stays; closing the window cancels the stream,
nothing half written in the store. Driven with real mouse events, offscreen."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from tests.net.peers import write_config  # noqa: E402
from tests.net.web_peers import (  # noqa: E402
    ScriptedServer,
    WebOrthanc,
    run_orthanc_web,
    scripted_server,
)
from viewer.archive.archive import Archive  # noqa: E402
from viewer.cli import main  # noqa: E402
from viewer.config import Settings, load_settings  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.pacs import PacsPanel  # noqa: E402
from viewer.gui.pacs_models import QueryResultModel  # noqa: E402

pytestmark = pytest.mark.timeout(240)

SCREENS = Path("/tmp/screens")
WAIT_MS = 60_000
CT_STUDY = "1.2.826.0.1.3680043.8.498.7101"
TWO_SERIES_STUDY = "1.2.826.0.1.3680043.8.498.7102"
SLICES = 40


def screenshot(widget: QWidget, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    QApplication.processEvents()
    assert widget.grab().save(str(SCREENS / name), "PNG")


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_ct_series(tmp_path_factory.mktemp("ct"), SLICES, 128, 128,
                           patient_name="WEB^ANNA", patient_id="W001", study_uid=CT_STUDY,
                           study_description="CT abdomen")


@pytest.fixture(scope="module")
def two_series(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A study of two series (6 and 4 slices), the second with another description."""
    root = tmp_path_factory.mktemp("two")
    common = {"patient_name": "TWO^SERIES", "patient_id": "W002",
              "study_uid": TWO_SERIES_STUDY, "study_description": "CT and scout"}
    return [*write_ct_series(root / "a", 6, 64, 64, series_number=1, **common),  # type: ignore[arg-type]
            *write_ct_series(root / "b", 4, 64, 64, series_number=2, seed=3,
                             series_description="Axial 5 mm", **common)]  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, ct: list[Path], two_series: list[Path]
        ) -> Iterator[WebOrthanc]:
    with run_orthanc_web(tmp_path_factory.mktemp("orthanc")) as served:
        served.orthanc.upload(*ct, *two_series)
        yield served


@pytest.fixture
def pool() -> Iterator[DecodePool]:
    decode = DecodePool(1, cache=FrameCache(64 << 20))
    yield decode
    decode.close()


def web_settings(folder: Path, url: str, *options: str) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder / "config.toml", {})
    assert main(["--config", str(config), "nodes", "add", "WEB", "--dicomweb", url,
                 *options]) == 0
    return load_settings(config)


def open_window(qtbot: QtBot, pool: DecodePool, archive: Archive,
                settings: Settings) -> tuple[MainWindow, PacsPanel]:
    window = MainWindow([], None, FrameBridge(pool), archive, settings=settings)
    qtbot.addWidget(window)
    window.resize(1200, 760)
    window.show()
    panel = window.pacs
    assert panel is not None
    window.tabs.setCurrentWidget(panel)
    return window, panel


def click(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def search_all(qtbot: QtBot, panel: PacsPanel) -> None:
    click(qtbot, panel.search_button)
    qtbot.waitUntil(lambda: panel._find_task is None and panel.model.rowCount() > 0,
                    timeout=WAIT_MS)


def select_row(qtbot: QtBot, panel: PacsPanel, row: int) -> None:
    rect = panel.table.visualRect(panel.model.index(row, QueryResultModel.ID))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, rect.center())


def select_study(qtbot: QtBot, panel: PacsPanel, study_uid: str) -> None:
    """Click the study's row; wait for its series (the panel asks for them at once)."""
    row = next(r for r in range(panel.model.rowCount()) if panel.model.study_uid(r) == study_uid)
    rect = panel.table.visualRect(panel.model.index(row, QueryResultModel.ID))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, rect.center())
    qtbot.waitUntil(lambda: panel.series_model.study_uid == study_uid
                    and panel._series_task is None, timeout=WAIT_MS)


def check_consistent(archive_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = main(["--archive", str(archive_root), "check"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    leftovers = [p for p in (archive_root / "store" / ".tmp").rglob("*") if p.is_file()
                 and not p.name.endswith((".lock", ".journal"))] \
        if (archive_root / "store" / ".tmp").exists() else []
    assert leftovers == []


# --- the PACS tab over DICOMweb --------------------------------------------------------------


def test_the_pacs_tab_echoes_searches_and_retrieves_over_dicomweb(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, web: WebOrthanc, ct: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = web_settings(tmp_path, web.url)
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_window(qtbot, pool, archive, settings)
        # the node list says the transport; Echo is a QIDO-RS probe; C-MOVE/C-GET do not apply
        assert panel.node_combo.currentText() == f"WEB  (DICOMweb {web.url})"
        assert "QIDO-RS" in panel.echo_button.toolTip()
        assert not panel.via_combo.isVisible()
        assert panel.via_label.text() == "Retrieve with: WADO-RS"
        click(qtbot, panel.echo_button)
        qtbot.waitUntil(lambda: "success" in panel.echo_label.text(), timeout=WAIT_MS)

        qtbot.keyClicks(panel.name_edit, "WEB*")
        search_all(qtbot, panel)
        model = panel.model
        assert model.rowCount() == 1 and model.study_uid(0) == CT_STUDY
        cell = {c: model.data(model.index(0, c)) for c in range(model.columnCount())}
        assert cell[QueryResultModel.NAME] == "WEB, ANNA"
        assert cell[QueryResultModel.ID] == "W001"
        assert cell[QueryResultModel.DESCRIPTION] == "CT abdomen"
        assert cell[QueryResultModel.MODALITIES] == "CT"
        assert cell[QueryResultModel.IMAGES] == str(SLICES)
        assert cell[QueryResultModel.LOCAL] == ""
        select_row(qtbot, panel, 0)
        qtbot.waitUntil(lambda: panel.series_model.rowCount() == 1, timeout=WAIT_MS)
        assert panel.open_button.isVisible() and panel.open_button.isEnabled()
        screenshot(window, "pacs-dicomweb-search.png")

        statuses: list[str] = []
        panel.status_message.connect(statuses.append)
        click(qtbot, panel.retrieve_button)
        assert panel.busy and panel.cancel_button.isVisible()
        qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
        assert f"{SLICES} images imported" in panel.status_label.text(), statuses[-3:]
        assert any("Study 1 of 1:" in s and "completed" in s for s in statuses), statuses
        assert model.data(model.index(0, QueryResultModel.LOCAL)) == str(SLICES)
        # the server's bytes: pixel data byte-identical
        originals = {str(dcmread(p).SOPInstanceUID): dcmread(p).PixelData for p in ct}
        stored = archive.study_files(CT_STUDY)
        assert len(stored) == SLICES
        assert all(dcmread(p).PixelData == originals[str(dcmread(p).SOPInstanceUID)]
                   for p in stored)
        screenshot(window, "pacs-dicomweb-retrieved.png")
        window.close()
    check_consistent(tmp_path / "archive", capsys)


def test_a_401_says_authentication_in_one_line(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, ct: list[Path]
) -> None:
    with run_orthanc_web(tmp_path / "orthanc", users={"alice": "s3cret"}) as locked:
        for options, words in (((), "authentication needed"),
                               (("--auth-basic", "alice:wrong"), "authentication refused")):
            settings = web_settings(tmp_path / words.split()[1], locked.url, *options)
            with Archive(tmp_path / "archive") as archive:
                window, panel = open_window(qtbot, pool, archive, settings)
                click(qtbot, panel.echo_button)
                echo_line = panel.echo_label
                qtbot.waitUntil(lambda line=echo_line: "failed" in line.text(), timeout=WAIT_MS)
                text = panel.echo_label.text()
                assert words in text and "HTTP 401" in text and "WEB" in text, text
                assert "\n" not in text and "Traceback" not in text
                click(qtbot, panel.search_button)
                status_line = panel.status_label
                qtbot.waitUntil(lambda line=status_line: "Search failed" in line.text(),
                                timeout=WAIT_MS)
                assert words in panel.status_label.text()
                if options:
                    screenshot(window, "pacs-dicomweb-401.png")
                window.close()


# --- a study opened without retrieving it first ------------------------------------------------


def test_open_shows_the_first_image_then_the_series_as_it_arrives(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, web: WebOrthanc, ct: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = web_settings(tmp_path, web.url)
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_window(qtbot, pool, archive, settings)
        search_all(qtbot, panel)
        select_study(qtbot, panel, CT_STUDY)
        qtbot.waitUntil(panel.open_button.isEnabled, timeout=WAIT_MS)
        viewport = window.reading.viewports[0]
        shown: list[float] = []
        viewport.frame_shown.connect(lambda _v: shown.append(time.perf_counter()))
        started = time.perf_counter()
        click(qtbot, panel.open_button)
        assert window.tabs.currentWidget() is window.reading
        qtbot.waitUntil(lambda: bool(shown), timeout=WAIT_MS)
        first = shown[0] - started
        assert viewport.frame is not None
        assert first < 5.0, first  # the target (0.5 s) is measured by `bench web`

        # the series' metadata replaces the head in place: the whole series to scroll
        qtbot.waitUntil(lambda: viewport.frame_count == SLICES, timeout=WAIT_MS)
        assert viewport.stack is not None
        assert viewport.stack.info.patient_name.startswith("WEB")
        # the slice scrolled to is shown (fetched first when it had not arrived)
        viewport.set_position(SLICES - 1)
        qtbot.waitUntil(lambda: viewport.frame is not None
                        and viewport.frame.key == viewport.current_key, timeout=WAIT_MS)
        screenshot(window, "web-open-progressive.png")
        # the rest arrives in the background, into the archive, indexed
        opener = window.web_open
        assert opener is not None
        qtbot.waitUntil(lambda: not opener.streaming, timeout=WAIT_MS)
        assert f"all {SLICES} images in the archive" in window.statusBar().currentMessage()
        assert archive.index.get_study(CT_STUDY).number_of_instances == SLICES
        for n in range(0, SLICES, 7):  # every slice shows, from the archive's files
            viewport.set_position(n)
            qtbot.waitUntil(lambda: viewport.frame is not None
                            and viewport.frame.key == viewport.current_key, timeout=WAIT_MS)
        originals = {str(dcmread(p).SOPInstanceUID): dcmread(p).PixelData for p in ct}
        assert all(dcmread(p).PixelData == originals[str(dcmread(p).SOPInstanceUID)]
                   for p in archive.study_files(CT_STUDY))
        window.tabs.setCurrentWidget(panel)
        row = next(r for r in range(panel.model.rowCount())
                   if panel.model.study_uid(r) == CT_STUDY)
        assert panel.model.data(panel.model.index(row, QueryResultModel.LOCAL)) == str(SLICES)
        window.close()
    check_consistent(tmp_path / "archive", capsys)


def test_a_study_of_two_series_opens_one_per_viewport(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, web: WebOrthanc, two_series: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = web_settings(tmp_path, web.url)
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_window(qtbot, pool, archive, settings)
        search_all(qtbot, panel)
        select_study(qtbot, panel, TWO_SERIES_STUDY)
        qtbot.waitUntil(panel.open_button.isEnabled, timeout=WAIT_MS)
        click(qtbot, panel.open_button)
        reading = window.reading
        qtbot.waitUntil(lambda: reading.layout_shape == (2, 1) and all(
            v.stack is not None and v.frame is not None for v in reading.viewports),
            timeout=WAIT_MS)
        assert [v.frame_count for v in reading.viewports] == [6, 4]
        assert [v.stack.description for v in reading.viewports if v.stack] == [
            "Axial 1.0 mm", "Axial 5 mm"]
        assert reading.strip.count() == 2
        opener = window.web_open
        assert opener is not None
        qtbot.waitUntil(lambda: not opener.streaming, timeout=WAIT_MS)
        screenshot(window, "web-open-two-series.png")
        assert archive.index.get_study(TWO_SERIES_STUDY).number_of_instances == 10
        window.close()
    check_consistent(tmp_path / "archive", capsys)


def _proxy(target: str, cut_series: bool = False, delay_series_s: float = 0.0
           ) -> AbstractContextManager[ScriptedServer]:
    """A DICOMweb server in front of `target` (Orthanc's root) that answers everything as
    Orthanc does, except a series' WADO-RS (the background stream): `cut_series`, half its
    body, then the connection closes, as a server going away mid-way; `delay_series_s`, only
    after that many seconds, as a busy server."""

    def respond(handler: BaseHTTPRequestHandler, _body: bytes) -> None:
        root = handler.path.split("/dicom-web", 1)[1]
        request = urllib.request.Request(target + root,
                                         headers={"Accept": handler.headers["Accept"]})
        with urllib.request.urlopen(request, timeout=30) as answer:
            body, kind = answer.read(), answer.headers["Content-Type"]
        path = root.split("?", 1)[0].rstrip("/")
        series_bulk = path.count("/") == 4 and "/series/" in path  # /studies/S/series/X
        if series_bulk:
            time.sleep(delay_series_s)
        handler.send_response(200)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body[:len(body) // 2] if series_bulk and cut_series else body)
        handler.wfile.flush()
        handler.close_connection = True

    return scripted_server(respond)


def test_the_slice_scrolled_to_comes_before_the_rest(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, web: WebOrthanc, ct: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The background stream waits DELAY s at the server: the slices the reader scrolls to
    show before it starts, each fetched alone, the one looked at first."""
    delay = 6.0
    with _proxy(web.url, delay_series_s=delay) as proxy:
        settings = web_settings(tmp_path, proxy.url)
        with Archive(tmp_path / "archive") as archive:
            window, panel = open_window(qtbot, pool, archive, settings)
            search_all(qtbot, panel)
            select_study(qtbot, panel, CT_STUDY)
            qtbot.waitUntil(panel.open_button.isEnabled, timeout=WAIT_MS)
            started = time.perf_counter()
            click(qtbot, panel.open_button)
            viewport = window.reading.viewports[0]
            qtbot.waitUntil(lambda: viewport.frame_count == SLICES, timeout=WAIT_MS)
            for position in (SLICES - 1, SLICES // 2, 3):
                viewport.set_position(position)
                qtbot.waitUntil(lambda: viewport.frame is not None
                                and viewport.frame.key == viewport.current_key,
                                timeout=WAIT_MS)
            assert time.perf_counter() - started < delay  # before the bulk's first byte
            alone = [p for m, p in proxy.requests if m == "GET" and "/instances/" in p
                     and not p.endswith("/metadata") and "?" not in p]
            shown = {str(dcmread(viewport.stack.frames[n][0]).SOPInstanceUID)
                     for n in (SLICES - 1, SLICES // 2, 3)} if viewport.stack else set()
            asked = {p.rsplit("/", 1)[1] for p in alone}
            assert shown <= asked, (shown, asked)
            window.close()
    check_consistent(tmp_path / "archive", capsys)


def test_cancel_a_dicomweb_retrieve_keeps_what_arrived(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, web: WebOrthanc,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Cancel during a WADO-RS retrieve (the server answers after 2 s): the retrieve stops at
    the next chunk, says so, and keeps the instances completed before."""
    with _proxy(web.url, delay_series_s=2.0) as proxy:
        settings = web_settings(tmp_path, proxy.url)
        with Archive(tmp_path / "archive") as archive:
            window, panel = open_window(qtbot, pool, archive, settings)
            search_all(qtbot, panel)
            select_study(qtbot, panel, CT_STUDY)
            qtbot.waitUntil(lambda: panel.series_model.rowCount() == 1, timeout=WAIT_MS)
            panel.series_table.selectRow(0)
            click(qtbot, panel.retrieve_series_button)  # the series: the delayed resource
            assert panel.busy and panel.cancel_button.isVisible()
            click(qtbot, panel.cancel_button)
            qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
            text = panel.status_label.text()
            assert text.startswith("Retrieve cancelled") and "what arrived is kept" in text
            kept = archive.index.get_study(CT_STUDY)
            count = kept.number_of_instances if kept is not None else 0
            assert count < SLICES
            assert len(archive.study_files(CT_STUDY)) == count
            window.close()
    check_consistent(tmp_path / "archive", capsys)


def test_a_server_gone_mid_way_is_one_line_and_what_arrived_stays(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, web: WebOrthanc,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _proxy(web.url, cut_series=True) as proxy:
        settings = web_settings(tmp_path, proxy.url)
        with Archive(tmp_path / "archive") as archive:
            window, panel = open_window(qtbot, pool, archive, settings)
            search_all(qtbot, panel)
            select_study(qtbot, panel, CT_STUDY)
            qtbot.waitUntil(panel.open_button.isEnabled, timeout=WAIT_MS)
            click(qtbot, panel.open_button)
            opener = window.web_open
            assert opener is not None
            viewport = window.reading.viewports[0]
            qtbot.waitUntil(lambda: viewport.frame is not None, timeout=WAIT_MS)
            qtbot.waitUntil(lambda: not opener.streaming, timeout=WAIT_MS)
            line = window.statusBar().currentMessage()
            assert "cut short" in line and "\n" not in line and "Traceback" not in line, line
            assert "arrived; kept" in line
            window.close()
        with Archive(tmp_path / "archive") as archive:
            kept = archive.index.get_study(CT_STUDY)
            assert kept is not None and 0 < kept.number_of_instances < SLICES
            assert len(archive.study_files(CT_STUDY)) == kept.number_of_instances
    check_consistent(tmp_path / "archive", capsys)


def test_closing_the_window_cancels_the_stream_nothing_half_written(
    qtbot: QtBot, tmp_path: Path, pool: DecodePool, web: WebOrthanc,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = web_settings(tmp_path, web.url)
    with Archive(tmp_path / "archive") as archive:
        window, panel = open_window(qtbot, pool, archive, settings)
        search_all(qtbot, panel)
        select_study(qtbot, panel, CT_STUDY)
        qtbot.waitUntil(panel.open_button.isEnabled, timeout=WAIT_MS)
        click(qtbot, panel.open_button)
        opener = window.web_open
        assert opener is not None and opener.stream is not None
        stream = opener.stream
        viewport = window.reading.viewports[0]
        qtbot.waitUntil(lambda: viewport.frame is not None, timeout=WAIT_MS)
        window.close()
        assert stream.token.cancelled and stream.wait(0)  # ended before the window closed
        assert not any(t.name.startswith("web-") for t in threading.enumerate())
    check_consistent(tmp_path / "archive", capsys)
