"""The archive's index of what references what (schema 005): filled on import (in-process and by
worker processes), by a dead writer's recovery, by `check --repair`'s rebuild, and by the
upgrade of an archive whose index predates it; emptied with the instances it belongs to."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from tests.archive.test_recovery import dead_writer
from tests.dicom.makers import save
from tests.dicom.referencing import (
    comprehensive_sr,
    ct_series,
    key_object_document,
    presentation_state,
    segmentation,
    structure_set,
)
from viewer.archive.archive import INDEX_NAME, Archive
from viewer.archive.check import check_archive
from viewer.archive.importer import import_file, import_paths
from viewer.archive.index import Index, default_schema_dir, schema_steps
from viewer.cli import main

NEWEST = schema_steps(default_schema_dir())[-1].version  # an upgrade ends at the newest step


@dataclass
class Study:
    """A CT study with everything that references its images, written to `folder`."""

    folder: Path
    images: list[Dataset]  # three single-frame images, then one of three frames
    old: Dataset  # GSPS of the three single-frame images, created 2026-01-01
    new: Dataset  # GSPS of the first image, created 2026-01-05
    frame2: Dataset  # GSPS of frame 2 of the multi-frame image
    kos: Dataset  # flags images 0 (seen with `new`) and 2
    sr: Dataset
    seg: Dataset
    rtstruct: Dataset

    @property
    def uid(self) -> str:
        return str(self.images[0].StudyInstanceUID)

    def objects(self) -> list[Dataset]:
        return [self.old, self.new, self.frame2, self.kos, self.sr, self.seg, self.rtstruct]


def make_study(folder: Path) -> Study:
    images = ct_series(3)
    multi = ct_series(1, study_uid=images[0].StudyInstanceUID, frames=3, series_number=2)[0]
    old = presentation_state(images, "OLD", "first look", created=("20260101", "080000"))
    new = presentation_state(images[:1], "NEW", "bone, 骨窗", created=("20260105", "093000"))
    frame2 = presentation_state([multi], "FRAME2", frames=(2,), created=("20260103", "1200"))
    kos = key_object_document([images[0], images[2]], title=codes.DCM.OfInterest,
                              seen_with={images[0].SOPInstanceUID: new})
    study = Study(folder, [*images, multi], old, new, frame2, kos, comprehensive_sr(images[1:2]),
                  segmentation(images), structure_set(images))
    folder.mkdir(parents=True, exist_ok=True)
    for n, ds in enumerate(study.images + study.objects()):
        save(ds, folder / f"{n:02d}.dcm")
    return study


@pytest.fixture
def study(tmp_path: Path) -> Study:
    return make_study(tmp_path / "src")


@pytest.fixture
def archive(tmp_path: Path, study: Study) -> Iterator[Archive]:
    with Archive(tmp_path / "archive") as opened:
        report = import_paths(opened, [study.folder])
        assert report.ok and len(report.imported) == 11
        yield opened


def snapshot(index: Index, study: Study) -> dict[str, Any]:
    """Every query's answer for the study, as JSON, to compare one index with another."""
    images = [im.SOPInstanceUID for im in study.images]
    return {
        "states": {uid: [r.as_json() for r in index.presentation_states_for(uid)]
                   for uid in images},
        "frames": [[r.label for r in index.presentation_states_for(images[3], frame)]
                   for frame in (1, 2, 3)],
        "documents": [r.as_json() for r in index.key_object_documents(study.uid)],
        "keys": [r.as_json() for r in index.key_images(study.uid)],
        "referencing": {uid: sorted(r.kind for r in index.objects_referencing(uid))
                        for uid in images},
    }


def check_queries(index: Index, study: Study) -> None:
    images = [im.SOPInstanceUID for im in study.images]
    states = index.presentation_states_for(images[0])
    assert [(s.label, s.description) for s in states] == [
        ("NEW", "bone, 骨窗"), ("OLD", "first look")]  # newest first
    assert [s.sop_instance_uid for s in states] == [study.new.SOPInstanceUID,
                                                    study.old.SOPInstanceUID]
    assert states[0].content_date == "20260105" and states[0].store_path.endswith(".dcm")
    assert [s.label for s in index.presentation_states_for(images[1])] == ["OLD"]
    assert [[s.label for s in index.presentation_states_for(images[3], f)] for f in (1, 2, 3)] \
        == [[], ["FRAME2"], []]
    assert [s.label for s in index.presentation_states_for(images[3])] == ["FRAME2"]

    (document,) = index.key_object_documents(study.uid)
    assert (document.sop_instance_uid, document.title) == (study.kos.SOPInstanceUID,
                                                           "Of Interest")
    keys = index.key_images(study.uid)
    assert [(k.sop_instance_uid, k.frame) for k in keys] == [(images[0], None), (images[2], None)]
    assert [k.instance_number for k in keys] == [1, 3]
    assert {k.series_instance_uid for k in keys} == {study.images[0].SeriesInstanceUID}
    assert keys[0].presentation_state is not None and keys[1].presentation_state is None
    assert (keys[0].presentation_state.sop_instance_uid,
            keys[0].presentation_state.label) == (study.new.SOPInstanceUID, "NEW")

    assert sorted(r.kind for r in index.objects_referencing(images[0])) == [
        "key-objects", "presentation", "presentation", "rtstruct", "seg"]
    assert sorted(r.kind for r in index.objects_referencing(images[1])) == [
        "presentation", "rtstruct", "seg", "sr"]
    assert [r.kind for r in index.objects_referencing(images[3])] == ["presentation"]
    # the KOS names the presentation state its image is seen with
    assert [r.kind for r in index.objects_referencing(study.new.SOPInstanceUID)] == [
        "key-objects"]


def _count(index: Index, table: str) -> int:
    return int(index.read(f"SELECT COUNT(*) FROM {table}")[0][0])


def test_import_indexes_references(archive: Archive, study: Study) -> None:
    check_queries(archive.index, study)
    assert _count(archive.index, "referencing_objects") == 7
    assert archive.index.objects_without_references() == []
    assert check_archive(archive).consistent


def test_import_by_worker_processes(tmp_path: Path, study: Study) -> None:
    """32 files or more are examined in worker processes: their references cross back."""
    extra = ct_series(30, study_uid=study.uid, series_number=3)
    for n, ds in enumerate(extra):
        save(ds, study.folder / f"extra{n:02d}.dcm")
    with Archive(tmp_path / "parallel") as archive:
        report = import_paths(archive, [study.folder], workers=2)
        assert report.ok and len(report.imported) == 41
        check_queries(archive.index, study)


def test_one_file_at_a_time(tmp_path: Path, study: Study) -> None:
    """import_file: the Storage SCP's and C-GET's path, durable and indexed per C-STORE."""
    with Archive(tmp_path / "scp") as archive:
        for path in sorted(study.folder.iterdir()):
            assert import_file(archive, path, path.name).imported == [path.name]
        check_queries(archive.index, study)


def test_deleting_removes_references(archive: Archive, study: Study) -> None:
    first = study.images[0].SOPInstanceUID
    archive.index.remove_instance(study.new.SOPInstanceUID)
    assert [s.label for s in archive.index.presentation_states_for(first)] == ["OLD"]
    (key, _) = archive.index.key_images(study.uid)
    assert key.presentation_state is not None and key.presentation_state.label is None
    assert _count(archive.index, "referencing_objects") == 6
    archive.index.remove_instance(study.kos.SOPInstanceUID)
    assert archive.index.key_images(study.uid) == []
    assert archive.index.delete_study(study.uid)
    assert archive.index.presentation_states_for(first) == []
    assert _count(archive.index, "referencing_objects") == 0
    assert _count(archive.index, "object_references") == 0


def test_rebuild_by_check_repair(tmp_path: Path, archive: Archive, study: Study) -> None:
    before = snapshot(archive.index, study)
    root = archive.root
    archive.close()
    for name in (INDEX_NAME, INDEX_NAME + "-wal", INDEX_NAME + "-shm"):
        (root / name).unlink(missing_ok=True)
    with Archive(root) as rebuilt:
        report = check_archive(rebuilt, repair=True)
        assert len(report.reindexed) == 11 and report.unresolved == 0
        check_queries(rebuilt.index, study)
        assert snapshot(rebuilt.index, study) == before
        assert check_archive(rebuilt).consistent


@pytest.mark.parametrize("mode", ["whole", "intents"])
def test_recovery_of_a_dead_writer(tmp_path: Path, study: Study, mode: str) -> None:
    """From the journal's records ("whole") or from the files' headers ("intents")."""
    root = tmp_path / "archive"
    Archive(root).close()
    dead_writer(root, mode, sorted(study.folder.iterdir()))
    with Archive(root) as opened:
        assert len(opened.recovered.indexed) == 11
        check_queries(opened.index, study)


def as_main_left_it(root: Path) -> None:
    """Turn the index back into schema 004, as main's code (deedaa7) writes it: 005 and 006
    only add tables (and 006 a trigger), so dropping them and the version leaves what that
    code would have indexed."""
    db = sqlite3.connect(root / INDEX_NAME)
    try:
        db.executescript("""DROP TRIGGER instances_pending_validation;
                            DROP TABLE instance_findings; DROP TABLE study_findings;
                            DROP TABLE study_validation;
                            DROP TABLE object_references; DROP TABLE referencing_objects;
                            PRAGMA user_version = 4;""")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"patients", "studies", "series", "instances", "commitments"}
    finally:
        db.close()


def test_upgrade_back_fills_from_stored_files(archive: Archive, study: Study) -> None:
    before = snapshot(archive.index, study)
    root = archive.root
    archive.close()
    as_main_left_it(root)
    with Archive(root) as upgraded:
        assert upgraded.index.schema_version == NEWEST
        check_queries(upgraded.index, study)
        assert snapshot(upgraded.index, study) == before
        assert check_archive(upgraded).consistent


def test_a_file_missing_during_the_upgrade_is_indexed_by_repair(
    tmp_path: Path, archive: Archive, study: Study
) -> None:
    root = archive.root
    kos_path = archive.index.key_object_documents(study.uid)[0].store_path
    archive.close()
    as_main_left_it(root)
    aside = tmp_path / "aside.dcm"
    (root / kos_path).rename(aside)
    with Archive(root) as upgraded:  # the upgrade goes on without it
        assert upgraded.index.schema_version == NEWEST
        assert upgraded.index.key_images(study.uid) == []
        assert upgraded.index.objects_without_references() == [
            (study.kos.SOPInstanceUID, kos_path)]
    aside.rename(root / kos_path)
    code, report = run_check(root)
    assert code == 1 and report["unindexed_references"] == [study.kos.SOPInstanceUID]
    code, report = run_check(root, "--repair")
    assert report["references_indexed"] == [study.kos.SOPInstanceUID]
    assert report["unresolved"] == 0
    code, report = run_check(root)
    assert code == 0 and report["consistent"] is True
    with Archive(root) as repaired:
        check_queries(repaired.index, study)


def test_damaged_objects_import_consistently(tmp_path: Path) -> None:
    """Damaged presentation states, KOS, SR, SEG and RTSTRUCT files (viewer/dicom/mutations.py)
    are imported or refused one by one; each one imported has its reference rows, so `check`
    finds the index consistent."""
    from tests.dicom.test_references import _seeds
    from viewer.dicom.mutations import layout_of, mutate

    rng = random.Random(5)
    src = tmp_path / "damaged"
    src.mkdir()
    for name, data in _seeds():
        layout = layout_of(data)
        for n in range(16):
            (src / f"{name}-{n:02d}.dcm").write_bytes(mutate(data, layout, rng)[1])
    with Archive(tmp_path / "archive") as archive:
        report = import_paths(archive, [src], workers=0)
        handled = (len(report.imported) + len(report.failed) + len(report.conflicts)
                   + len(report.already_present) + len(report.present_other_syntax))
        assert handled == 96 and report.imported
        assert all("\n" not in f.reason for f in report.failed)
        assert archive.index.objects_without_references() == []
        assert check_archive(archive).consistent


def run_check(root: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--archive", str(root), "check", *flags, "--json"])
    return code, json.loads(out.getvalue())
