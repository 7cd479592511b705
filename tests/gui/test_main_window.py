"""The main window end to end: import into the archive, open a study from the browser, read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402

from viewer.archive.archive import Archive  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    pool = DecodePool(1, cache=FrameCache(64 << 20))
    archive = Archive(tmp_path / "archive")
    main = MainWindow([], None, FrameBridge(pool), archive)
    qtbot.addWidget(main)
    main.resize(1000, 720)
    main.show()
    yield main
    main.tasks.shutdown()
    archive.close()
    pool.close()


def test_import_then_open_a_study_with_the_default_hanging(qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                           window: MainWindow) -> None:
    assert window.browser is not None and not window.reading_tools.isVisible()
    first = write_ct_series(tmp_path / "a", 10, 96, 96, series_description="Axial")
    study = str(dcmread(first[0], stop_before_pixels=True).StudyInstanceUID)
    write_ct_series(tmp_path / "b", 5, 96, 96, study_uid=study, series_number=2,
                    series_description="Thick")
    window.browser.import_paths([tmp_path / "a", tmp_path / "b"])
    qtbot.waitUntil(lambda: not window.browser.busy, timeout=30000)  # type: ignore[union-attr]
    window.open_study(study)
    assert window.tabs.currentWidget() is window.reading and window.reading_tools.isVisible()
    assert window.reading.layout_shape == (2, 1)  # two series: side by side, in series order
    assert [v.stack.description for v in window.viewports] == ["Axial", "Thick"]  # type: ignore[union-attr]
    qtbot.waitUntil(window.all_loaded, timeout=20000)
    assert all(v.frame is not None for v in window.viewports)
    strip = window.reading.strip
    qtbot.waitUntil(lambda: [len(v.stack.frames) for v in window.viewports] == [10, 5])  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: all(not strip.item(n).icon().isNull() for n in range(2)),
                    timeout=20000)  # each series' middle frame, decoded by the pool
    out = Path("/tmp/screens")
    out.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(out / "main-window-study.png"))


def test_demo_study_is_offered_and_imported(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    assert window.archive is not None and window.archive.index.search_studies() == []
    window.load_demo_study()
    qtbot.waitUntil(lambda: not window.browser.busy, timeout=120000)  # type: ignore[union-attr]
    [demo] = window.archive.index.search_studies()
    assert demo.number_of_instances == 80


def test_an_error_in_a_handler_is_one_line_not_a_crash(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    import sys

    from viewer.gui.app import _report_errors

    previous = sys.excepthook
    _report_errors(window)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            sys.excepthook(*sys.exc_info())  # what PySide6 does with an exception in a slot
        assert "Internal error (ValueError)" in window.statusBar().currentMessage()
        assert window.isVisible()
    finally:
        sys.excepthook = previous
