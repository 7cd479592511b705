"""The store's quota in the study browser's status area (issue 15 item 5): used / quota and
what missing storage commitment protects, counted off the GUI thread; and opening a study in
the reading window records it as viewed (the order pruning removes studies in)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from pytestqt.qtbot import QtBot  # noqa: E402

from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.importer import import_paths  # noqa: E402
from viewer.archive.retention import (  # noqa: E402
    RetentionPolicy,
    record_commitment,
    store_size,
    studies,
)
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.quota import QuotaStatus, data_size  # noqa: E402
from viewer.gui.tasks import TaskRunner  # noqa: E402

SCREENS = Path("/tmp/screens")


def _archive(tmp_path: Path) -> tuple[Archive, dict[str, int], str]:
    """Two studies; the first committed by PACS instance by instance. Returns the open
    archive, each study's size and the committed study's UID."""
    for n in (1, 2):
        write_ct_series(tmp_path / "src" / str(n), 3, 32, 32, patient_name=f"QUOTA^{n}",
                        patient_id=str(n))
    archive = Archive(tmp_path / "archive")
    assert import_paths(archive, [tmp_path / "src"]).ok
    rows = archive.index.search_studies()
    first = next(r for r in rows if r.patient_name == "QUOTA^1")
    sops = [i.sop_instance_uid for se in archive.index.series(first.study_instance_uid)
            for i in archive.index.instances(se.series_instance_uid)]
    assert record_commitment(archive.index, "PACS", "1.2.3", sops, []) == 3
    return archive, {r.study_instance_uid: r.size for r in rows}, first.study_instance_uid


def test_quota_status_shows_used_quota_and_uncommitted(qtbot: QtBot, tmp_path: Path) -> None:
    archive, sizes, committed = _archive(tmp_path)
    uncommitted = sum(size for uid, size in sizes.items() if uid != committed)
    used = store_size(archive.index)
    archive.retention = RetentionPolicy(used // 2, frozenset({"PACS"}))  # over the quota
    tasks = TaskRunner()
    try:
        label = QuotaStatus(archive, tasks)
        qtbot.addWidget(label)
        label.show()
        qtbot.waitUntil(lambda: label.usage is not None, timeout=10_000)
        assert label.text() == (
            f"Store: {data_size(used)} of {data_size(used // 2)}; not committed by a PACS: "
            f"{data_size(uncommitted)}, studies: 1")
        assert "c03030" in label.styleSheet()  # over the quota: red
        assert data_size(used - used // 2) in label.toolTip()
        SCREENS.mkdir(exist_ok=True)
        label.adjustSize()
        label.grab().save(str(SCREENS / "quota_status.png"))

        archive.retention = None
        label.refresh()
        qtbot.waitUntil(lambda: "no quota" in label.text(), timeout=10_000)
        assert label.text() == f"Store: {data_size(used)} (no quota)"
        assert label.styleSheet() == ""
    finally:
        tasks.shutdown()
        archive.close()


def test_the_study_browser_shows_the_quota_and_opening_a_study_records_the_view(
    qtbot: QtBot, tmp_path: Path
) -> None:
    archive, sizes, committed = _archive(tmp_path)
    used = store_size(archive.index)
    archive.retention = RetentionPolicy(2 * used, frozenset({"PACS"}))  # under the quota
    uncommitted = sum(size for uid, size in sizes.items() if uid != committed)
    pool = DecodePool(1, cache=FrameCache(64 << 20))
    window = MainWindow([], None, FrameBridge(pool), archive)
    try:
        qtbot.addWidget(window)
        window.resize(1100, 600)
        window.show()
        assert window.browser is not None
        status = window.browser.quota_status
        expected = (f"Store: {data_size(used)} of {data_size(2 * used)}; not committed by "
                    f"a PACS: {data_size(uncommitted)}, studies: 1")
        qtbot.waitUntil(lambda: status.text() == expected, timeout=10_000)
        assert status.isVisible() and status.styleSheet() == ""
        SCREENS.mkdir(exist_ok=True)
        assert window.grab().save(str(SCREENS / "browser_quota.png"))

        def last_viewed(uid: str) -> str | None:
            return next(s.last_viewed for s in studies(archive.index, ()) if s.study_uid == uid)

        assert last_viewed(committed) is None
        window.open_study(committed)  # the reading window opens it
        qtbot.waitUntil(window.all_loaded, timeout=20_000)
        qtbot.waitUntil(lambda: [len(v.stack.frames) for v in window.viewports] == [3],  # type: ignore[union-attr]
                        timeout=20_000)  # the whole series read: no timer left on the archive
        viewed = last_viewed(committed)
        assert viewed is not None and viewed >= next(
            s.last_used for s in studies(archive.index, ()) if s.study_uid != committed)
    finally:
        window.tasks.shutdown()
        window.close()
        archive.close()
        pool.close()


def test_view_records_the_study_as_viewed(tmp_path: Path) -> None:
    archive, _, committed = _archive(tmp_path)
    archive.close()
    folder = tmp_path / "src" / "1"  # QUOTA^1, the committed study
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "--archive", str(tmp_path / "archive"), "--config",
         str(tmp_path / "none.toml"), "view", str(folder), "--screenshot",
         str(tmp_path / "shot.png")],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    with Archive(tmp_path / "archive") as reopened:
        viewed = {s.study_uid: s.last_viewed for s in studies(reopened.index, ())}
    assert viewed[committed] is not None
    assert sum(at is None for at in viewed.values()) == 1  # the other study: not viewed
