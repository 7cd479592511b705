"""The retention records in the index (schema 004): the upgrade from version 3 keeps every row,
last-viewed times fall back to the import, commitments follow the instance they are for.
(Commitment from a real PACS and pruning: tests/net/test_retention.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

from pydicom.uid import generate_uid

from tests.archive.test_index import study_record
from viewer.archive.archive import INDEX_NAME, Archive
from viewer.archive.check import check_archive
from viewer.archive.importer import import_paths
from viewer.archive.index import Index, default_schema_dir
from viewer.archive.retention import (
    KEEP_WITHIN_QUOTA,
    RetentionPolicy,
    carry_out,
    plan,
    record_commitment,
    record_view,
    store_size,
    studies,
    usage,
)
from viewer.dicom.demo import write_ct_series


def _version_3(root: Path, schema: Path) -> None:
    schema.mkdir()
    for name in ("001_initial.sql", "002_instance_geometry.sql", "003_reading_order.sql"):
        shutil.copy(Path(str(default_schema_dir())) / name, schema)
    root.mkdir()
    with Index(root / INDEX_NAME, schema_dir=schema) as old:
        assert old.schema_version == 3
        for study in (1, 2):
            for n in (1, 2):
                old.add_instance(study_record(study, f"P^{study}", n))


def test_upgrade_from_version_3_keeps_rows_and_commits_nothing(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _version_3(root, tmp_path / "schema_v3")
    with Archive(root) as archive:
        assert archive.index.schema_version >= 4
        assert {s.study_instance_uid for s in archive.index.search_studies()} == {
            "1.2.9.1", "1.2.9.2"}
        assert archive.index.get_instance(study_record(2, "P^2", 2).sop_instance_uid)
        state = studies(archive.index, {"PACS"})
        assert [(s.instances, s.committed, s.last_viewed) for s in state] == [(2, 0, None)] * 2
        assert all(s.last_used for s in state)  # the import time stands in
        assert store_size(archive.index) == sum(
            study_record(s, "", n).size for s in (1, 2) for n in (1, 2))
        # nothing is committed after an upgrade, so even a tiny quota removes nothing
        planned = plan(archive.index, RetentionPolicy(1, frozenset({"PACS"})))
        assert planned.removed == () and planned.kept_uncommitted == 2


def test_views_order_studies_and_commitments_follow_their_instance(tmp_path: Path) -> None:
    with Index(tmp_path / INDEX_NAME) as index:
        for study in (1, 2, 3):
            for n in (1, 2):
                index.add_instance(study_record(study, f"P^{study}", n))
        uids = {s: f"1.2.9.{s}" for s in (1, 2, 3)}
        assert record_view(index, uids[3], "2020-01-01T00:00:00Z")
        assert record_view(index, uids[1], "2021-01-01T00:00:00Z")
        assert not record_view(index, "9.9.9")
        # study 2 was never viewed: its import (now) is later than both views
        assert [s.study_uid for s in studies(index, ())] == [uids[3], uids[1], uids[2]]

        sops = [study_record(1, "", n).sop_instance_uid for n in (1, 2)]
        assert record_commitment(index, "PACS", "1.2.3.4", sops, []) == 2
        assert record_commitment(index, "PACS", "1.2.3.4", ["9.9.9"], []) == 0  # not ours
        [one] = [s for s in studies(index, {"PACS"}) if s.study_uid == uids[1]]
        assert one.fully_committed and one.committed_by == ("PACS",)
        [other] = [s for s in studies(index, {"OTHER"}) if s.study_uid == uids[1]]
        assert not other.fully_committed  # another node's commitment does not count
        # the node's later answer replaces its earlier one
        record_commitment(index, "PACS", "1.2.3.5", [], [(sops[0], "0x0112 lost")])
        [one] = [s for s in studies(index, {"PACS"}) if s.study_uid == uids[1]]
        assert (one.committed, one.failed) == (1, 1)
        # an instance removed and indexed again is a new row: no commitment
        record_commitment(index, "PACS", "1.2.3.6", sops, [])
        index.remove_instance(sops[1])
        index.add_instance(study_record(1, "P^1", 2))
        [one] = [s for s in studies(index, {"PACS"}) if s.study_uid == uids[1]]
        assert (one.instances, one.committed) == (2, 1)

        quota = RetentionPolicy(store_size(index), frozenset({"PACS"}))
        shown = usage(index, quota)
        assert (shown.used, shown.quota, shown.protected_studies) == (
            store_size(index), store_size(index), 3)
        assert {d.reason for d in plan(index, quota).decisions} == {KEEP_WITHIN_QUOTA}



def test_a_prune_rechecks_each_study_when_it_removes_it(tmp_path: Path) -> None:
    """Between the plan and the removal a study may get a new instance (not committed) or be
    opened by a reader: it stays. The third, unchanged, goes."""
    uids = [generate_uid() for _ in range(3)]
    for n, uid in enumerate(uids):
        write_ct_series(tmp_path / "src" / str(n), 2, 16, 16, study_uid=uid,
                        patient_name=f"P^{n}")
    with Archive(tmp_path / "archive") as archive:
        assert import_paths(archive, [tmp_path / "src"]).ok
        for n, uid in enumerate(uids):
            record_view(archive.index, uid, f"2026-0{n + 1}-01T00:00:00Z")
            sops = [i.sop_instance_uid for se in archive.index.series(uid)
                    for i in archive.index.instances(se.series_instance_uid)]
            record_commitment(archive.index, "PACS", "1.2.3", sops, [])
        policy = RetentionPolicy(1, frozenset({"PACS"}))
        planned = plan(archive.index, policy)
        assert [d.study.study_uid for d in planned.removed] == uids
        write_ct_series(tmp_path / "more", 1, 16, 16, study_uid=uids[0], series_number=2)
        assert import_paths(archive, [tmp_path / "more"]).ok  # no policy: no prune here
        record_view(archive.index, uids[1])
        done = carry_out(archive, policy, planned)
        assert [d.study.study_uid for d in done.removed] == [uids[2]]
        assert {d.study.study_uid: d.reason for d in done.kept} == {
            uids[0]: "changed while pruning", uids[1]: "opened while pruning"}
        assert [uid for uid, _ in done.failed] == [uids[0]]
        assert {s.study_instance_uid for s in archive.index.search_studies()} == set(uids[:2])
        assert check_archive(archive).consistent
