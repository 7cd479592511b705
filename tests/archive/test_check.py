"""`check [--repair]` on a real archive: orphans, missing files, checksum mismatches, temp files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from tests.dicom.makers import image_dataset, save
from viewer.archive.archive import Archive
from viewer.archive.check import check_archive
from viewer.archive.importer import import_paths
from viewer.archive.records import STATUS_MISSING, STATUS_OK
from viewer.archive.store import TMP_DIR, InstanceKey
from viewer.cli import main

STUDY, SERIES = generate_uid(), generate_uid()


def key(sop_instance_uid: str) -> InstanceKey:
    return InstanceKey(STUDY, SERIES, sop_instance_uid)


def _image(folder: Path, name: str, number: int) -> Path:
    ds = image_dataset(np.full((4, 4), number, dtype=np.uint16), bits_stored=12)
    ds.PatientName, ds.PatientID, ds.Modality = "DOE^JANE", "P1", "CT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.InstanceNumber = STUDY, SERIES, number
    folder.mkdir(parents=True, exist_ok=True)
    return save(ds, folder / name)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    src = tmp_path / "src"
    for n in range(3):
        _image(src, f"IM{n}", n + 1)
    with Archive(tmp_path / "archive") as opened:
        assert len(import_paths(opened, [src]).imported) == 3
        yield opened


def _paths(archive: Archive) -> list[str]:
    return [row.store_path for row in archive.index.instances(SERIES)]


def test_fresh_import_is_consistent(archive: Archive) -> None:
    report = check_archive(archive)
    assert report.consistent and report.unresolved == 0
    assert (report.instances, report.files) == (3, 3)


def test_missing_file_is_found_and_marked(archive: Archive) -> None:
    victim = archive.index.instances(SERIES)[1]
    assert archive.store.remove(victim.store_path)
    report = check_archive(archive)
    assert [i.sop_instance_uid for i in report.missing] == [victim.sop_instance_uid]
    assert not report.consistent and not report.orphans and not report.mismatched
    assert archive.index.get_instance(victim.sop_instance_uid).status == STATUS_OK  # type: ignore[union-attr]

    repaired = check_archive(archive, repair=True)
    assert repaired.marked_missing == [victim.sop_instance_uid]
    assert archive.index.get_instance(victim.sop_instance_uid).status == STATUS_MISSING  # type: ignore[union-attr]
    again = check_archive(archive, repair=True)
    assert [i.sop_instance_uid for i in again.missing] == [victim.sop_instance_uid]
    assert again.marked_missing == [] and not again.consistent


def test_missing_row_restored_when_the_file_comes_back(archive: Archive) -> None:
    victim = archive.index.instances(SERIES)[0]
    saved = archive.store.absolute(victim.store_path).read_bytes()
    archive.store.remove(victim.store_path)
    check_archive(archive, repair=True)
    archive.store.absolute(victim.store_path).write_bytes(saved)
    report = check_archive(archive, repair=True)
    assert report.consistent and report.restored == [victim.sop_instance_uid]
    assert archive.index.get_instance(victim.sop_instance_uid).status == STATUS_OK  # type: ignore[union-attr]


def test_orphan_is_reindexed_from_its_header(tmp_path: Path, archive: Archive) -> None:
    extra = _image(tmp_path / "more", "IM9", 9)
    from pydicom import dcmread

    uid = str(dcmread(extra).SOPInstanceUID)
    stored = archive.store.write(key(uid), extra)  # in the store, no row: a crash before indexing
    report = check_archive(archive)
    assert report.orphans == [stored.rel_path] and not report.consistent
    assert archive.index.get_instance(uid) is None

    repaired = check_archive(archive, repair=True)
    assert repaired.reindexed == [stored.rel_path] and repaired.unresolved == 0
    row = archive.index.get_instance(uid)
    assert row is not None
    assert (row.store_path, row.sha256, row.size) == (stored.rel_path, stored.sha256, stored.size)
    assert row.series_instance_uid == SERIES and row.instance_number == 9
    assert archive.index.get_study(STUDY).number_of_instances == 4  # type: ignore[union-attr]
    assert check_archive(archive).consistent


def test_invalid_orphan_is_reported_not_deleted(archive: Archive) -> None:
    stored = archive.store.write(key(generate_uid()), Path(__file__))  # not DICOM at all
    renamed = archive.store.write(key(generate_uid()), archive.store.absolute(_paths(archive)[0]))
    for repair in (False, True, True):
        report = check_archive(archive, repair=repair)
        assert sorted(report.orphans) == sorted([stored.rel_path, renamed.rel_path])
    reasons = {f.item: f.reason for f in report.not_indexed}
    assert "not a readable DICOM" in reasons[stored.rel_path]
    assert "does not match its Study, Series and SOP Instance UIDs" in reasons[renamed.rel_path]
    assert report.reindexed == [] and report.unresolved == 2
    assert archive.store.absolute(stored.rel_path).exists()
    assert archive.store.absolute(renamed.rel_path).exists()


def test_checksum_mismatch_is_reported_and_kept(archive: Archive) -> None:
    victim = archive.index.instances(SERIES)[2]
    path = archive.store.absolute(victim.store_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a flipped bit in the pixel data: still readable, wrong content
    path.write_bytes(bytes(data))
    for repair in (False, True, True):
        report = check_archive(archive, repair=repair)
        assert [i.sop_instance_uid for i in report.mismatched] == [victim.sop_instance_uid]
        assert victim.sha256 in report.mismatched[0].reason
        assert not report.consistent and not report.orphans and not report.missing
    assert path.read_bytes() == bytes(data)  # never "fixed" by deleting or rewriting
    assert archive.index.get_instance(victim.sop_instance_uid) is not None


def test_leftover_temp_files_found_and_removed(archive: Archive) -> None:
    dead = archive.store.directory / TMP_DIR / "w-dead"
    dead.mkdir(parents=True)
    (dead / "lock").write_bytes(b"")  # nobody holds its flock: the writer died
    (dead / "x.part").write_bytes(b"half")
    report = check_archive(archive)
    assert report.temp_files == [f"store/{TMP_DIR}/w-dead/x.part"]
    # a live writer's work directory (this archive's own, holding its lock) is not leftover
    live = archive.store.write(key(generate_uid()), Path(__file__))
    archive.store.remove(live.rel_path)
    assert archive.store.leftover_temp_files() == report.temp_files
    repaired = check_archive(archive, repair=True)
    assert repaired.temp_removed == 1 and not dead.exists()
    assert check_archive(archive).consistent


def test_cli_exit_codes_and_json(tmp_path: Path, archive: Archive,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    root = str(archive.root)
    assert main(["--archive", root, "check"]) == 0
    assert "consistent" in capsys.readouterr().out
    victim = archive.index.instances(SERIES)[0]
    archive.store.remove(victim.store_path)
    extra = _image(tmp_path / "more", "IM7", 7)
    from pydicom import dcmread

    orphan = archive.store.write(key(str(dcmread(extra).SOPInstanceUID)), extra)
    assert main(["--archive", root, "check", "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["orphans"] == [orphan.rel_path] and not found["consistent"]
    assert [m["SOPInstanceUID"] for m in found["missing"]] == [victim.sop_instance_uid]
    assert main(["--archive", root, "check", "--repair", "--json"]) == 1
    repaired = json.loads(capsys.readouterr().out)
    assert repaired["reindexed"] == [orphan.rel_path]
    assert repaired["marked_missing"] == [victim.sop_instance_uid]
    # after repair only the missing file stays reported
    assert main(["--archive", root, "check"]) == 1
    captured = capsys.readouterr()
    assert "0 orphans, 1 missing" in captured.out and victim.store_path in captured.err
