"""archive.deferred.DeferredImport: what a retrieve receives is stored at once and indexed in
batches, only ever after the batch is durable; concurrent imports are reported as such."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom

from viewer.archive.archive import Archive
from viewer.archive.check import check_archive
from viewer.archive.deferred import DeferredImport
from viewer.archive.importer import import_file
from viewer.dicom.demo import write_ct_series


def _received_copies(files: list[Path], folder: Path) -> list[Path]:
    """What a receiver hands over: temporary files it deletes afterwards."""
    folder.mkdir()
    copies = []
    for f in files:
        copies.append(folder / f.name)
        shutil.copyfile(f, copies[-1])
    return copies


def _uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_rows_follow_their_batch_and_finish_indexes_the_rest(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "ct", 10, 64, 64)
    copies = _received_copies(files, tmp_path / "rx")
    with Archive(tmp_path / "archive") as archive:
        deferred = DeferredImport(archive, batch=4)
        for n, path in enumerate(copies):
            report = deferred.add(archive, path, path.name)
            assert report.imported == [path.name]
            path.unlink()  # the receiver's temporary file goes; the stored copy stays
            indexed = {f for f in files if archive.index.get_instance(_uid(f)) is not None}
            # rows only for full batches (committed in the background once full)
            assert indexed <= set(files[: (n + 1) // 4 * 4])
        assert deferred.finish() == []
        assert all(archive.index.get_instance(_uid(f)) is not None for f in files)
        assert check_archive(archive).consistent


def test_an_instance_stored_meanwhile_by_another_import_is_corrected(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "ct", 3, 64, 64)
    copies = _received_copies(files, tmp_path / "rx")
    with Archive(tmp_path / "archive") as archive:
        deferred = DeferredImport(archive, batch=64)
        for path in copies:
            assert deferred.add(archive, path, path.name).imported
        # a concurrent import of the same file indexes the identical stored file first
        assert import_file(archive, files[1], "other import").imported
        corrections = deferred.finish()
        assert [(uid, r.already_present) for uid, r in corrections] == [
            (_uid(files[1]), [copies[1].name])
        ]
        assert check_archive(archive).consistent


def test_bad_input_is_answered_at_once_as_import_file_would(tmp_path: Path) -> None:
    bad = tmp_path / "not-dicom.dcm"
    bad.write_bytes(b"README: this CD holds a viewer\n")
    with Archive(tmp_path / "archive") as archive:
        deferred = DeferredImport(archive)
        report = deferred.add(archive, bad, "bad")
        assert report.failed and report.failed[0].item == "bad"
        assert report.failed == import_file(archive, bad, "bad").failed
        assert deferred.finish() == []
