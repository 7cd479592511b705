"""The store's quota in the study browser's status area (issue 15 item 5): used / quota and
what missing storage commitment protects, counted off the GUI thread; and opening a study in
the reading window records it as viewed (the order pruning removes studies in)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from pytestqt.qtbot import QtBot  # noqa: E402

from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.importer import import_paths  # noqa: E402
from viewer.archive.retention import (  # noqa: E402
    RetentionPolicy,
    human_size,
    record_commitment,
    store_size,
)
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.quota import QuotaStatus  # noqa: E402
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
            f"Store: {human_size(used)} of {human_size(used // 2)}; not committed by a PACS: "
            f"{human_size(uncommitted)}, studies: 1")
        assert "c03030" in label.styleSheet()  # over the quota: red
        assert human_size(used - used // 2) in label.toolTip()
        SCREENS.mkdir(exist_ok=True)
        label.adjustSize()
        label.grab().save(str(SCREENS / "quota_status.png"))

        archive.retention = None
        label.refresh()
        qtbot.waitUntil(lambda: "no quota" in label.text(), timeout=10_000)
        assert label.text() == f"Store: {human_size(used)} (no quota)"
        assert label.styleSheet() == ""
    finally:
        tasks.shutdown()
        archive.close()
