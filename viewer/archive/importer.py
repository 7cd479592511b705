"""The single import entry point: folders, zips, CD/DVD media, C-MOVE, C-GET and the Storage SCP
all end here (ARCHITECTURE.md, "One import path").

Per file: read the header, check that the instance can be shown later (a valid SOP Instance UID,
a known transfer syntax, pixel data that fits), then store it atomically and index it in one
transaction. The file is written before its index row: a crash in between leaves an orphan that
the next import of the same file (or `check --repair`) indexes, never a row without a file.
Files are made durable in batches (one syncfs), then their rows are committed.
Duplicates: byte-identical (after zeroing the preamble) -> already present; same SOP Instance
UID with other content -> a conflict, and the stored copy is kept (never a silent overwrite).
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from viewer.archive.archive import Archive
from viewer.archive.records import InstanceRecord
from viewer.archive.sources import Candidate, SourceError, iter_candidates
from viewer.archive.store import InvalidUID, validate_uid
from viewer.dicom.files import DicomFileError
from viewer.jobs import CancelToken, Failure, ProgressCallback, Report, no_progress

LOGGER = logging.getLogger(__name__)

class StoreFull(Exception):
    """The store's file system is full: the import stops, what was stored stays consistent."""


@dataclass
class ImportReport:
    """What an import did, item by item (CLI.md `import`)."""

    imported: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    conflicts: list[Failure] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    stopped: str = ""  # why the import stopped early (disk full), else ""

    @property
    def ok(self) -> bool:
        return not (self.failed or self.conflicts or self.stopped)


BATCH = 64  # files made durable together (one syncfs) before their rows are committed


@dataclass(frozen=True)
class _Stored:
    """A file written to the store, not yet durable or indexed."""

    label: str
    record: InstanceRecord
    warnings: str


def import_paths(
    archive: Archive,
    paths: Iterable[Path],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ImportReport:
    """Import everything below `paths` into `archive`; one bad file never stops the rest.

    Files are written in batches: each batch is made durable with one sync of the store, then
    its rows are committed. A crash leaves files without rows (picked up by the next import or
    `check --repair`), never a row whose file is not on disk.
    """
    report = ImportReport()
    walk = Report()
    candidates = list(iter_candidates(paths, walk))
    report.failed.extend(walk.failed)
    pending: list[_Stored] = []
    try:
        for n, candidate in enumerate(candidates, 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                stored = import_candidate(archive, candidate, report)
            except StoreFull as exc:
                report.stopped = str(exc)
                break
            if stored is not None:
                pending.append(stored)
            if len(pending) >= BATCH:
                _commit(archive, pending, report)
            progress(n, len(candidates), candidate.label)
        _commit(archive, pending, report)
    except StoreFull as exc:
        report.stopped = str(exc)
    finally:
        try:
            archive.index.checkpoint()
        except sqlite3.OperationalError as exc:
            if not _disk_full(exc):
                raise
            report.stopped = report.stopped or "disk full while checkpointing the index"
    return report


def _disk_full(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc)


def _commit(archive: Archive, pending: list[_Stored], report: ImportReport) -> None:
    """Make the batch's files durable, then index them."""
    from viewer.archive.index import DuplicateInstance

    if not pending:
        return
    try:
        archive.store.sync()
    except OSError as exc:
        pending.clear()  # not durable: left as orphans, never indexed
        raise StoreFull(f"the store could not be synced: {exc.strerror or exc}") from None
    for item in pending:
        try:
            archive.index.add_instance(item.record)
        except sqlite3.OperationalError as exc:
            if _disk_full(exc):  # the files stay as orphans: re-import or check --repair
                pending.clear()
                raise StoreFull(f"disk full while indexing {item.label}") from None
            raise
        except DuplicateInstance as exc:  # a concurrent import, or the same file twice
            if exc.sha256 == item.record.sha256:
                report.already_present.append(item.label)
            else:
                report.conflicts.append(Failure(item.label, "stored meanwhile by another import"))
            continue
        report.imported.append(item.label)
        report.warnings.extend(Failure(item.label, w) for w in _warnings_of(item.warnings))
    pending.clear()


def import_candidate(
    archive: Archive, candidate: Candidate, report: ImportReport
) -> _Stored | None:
    """Store one candidate file; duplicates, conflicts and failures go into `report`."""
    label = candidate.label
    try:
        with candidate.materialise() as path:
            outcome = import_file(archive, path, label)
    except DicomFileError as exc:
        report.failed.append(Failure(label, exc.reason))
        return None
    except SourceError as exc:
        report.failed.append(Failure(exc.label, exc.reason))
        return None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreFull(f"{label}: {exc.strerror or 'disk full'}") from None
        report.failed.append(Failure(label, f"cannot read: {exc.strerror or exc}"))
        return None
    if isinstance(outcome, _Stored):
        return outcome
    kind, detail = outcome
    if kind == "present":
        report.already_present.append(label)
    else:
        report.conflicts.append(Failure(label, detail))
    return None


def import_file(archive: Archive, path: Path, label: str) -> _Stored | tuple[str, str]:
    """The stored file (not yet indexed), or ("present", "") / ("conflict", reason).

    Raises DicomFileError for a file that cannot be shown later, StoreWriteError when storing
    fails.
    """
    from viewer.dicom.pixels import check_pixel_layout, read_header
    from viewer.dicom.records import summary_from_dataset

    ds = read_header(path)
    summary = summary_from_dataset(ds, label)
    uid = summary.instance.sop_instance_uid
    try:
        validate_uid(uid)
    except InvalidUID as exc:
        raise DicomFileError(label, f"unusable SOP Instance UID: {exc}") from None
    for what, value in (
        ("Study Instance UID", summary.study.study_instance_uid),
        ("Series Instance UID", summary.series.series_instance_uid),
    ):
        if not value:  # the index files every instance under its study and series
            raise DicomFileError(label, f"no {what}")
    if any(t in ds._dict for t in (0x7FE00010, 0x7FE00008, 0x7FE00009)):
        check_pixel_layout(label, ds)  # readable header, known syntax, pixel data that fits
    else:
        from viewer.dicom.codecs import NoDecoderError, plugin_order

        try:
            plugin_order(summary.instance.transfer_syntax_uid)
        except NoDecoderError as exc:
            raise DicomFileError(label, str(exc)) from None

    existing = archive.index.get_instance(uid)
    if existing is not None:
        if existing.sha256 == archive.store.sha256_of(path):
            return ("present", "")
        return ("conflict", "another file with this SOP Instance UID is stored; kept that one")
    # hashes what it writes: one pass over the bytes; durable with the batch (see _commit)
    stored = archive.store.write(uid, path, durable=False)
    digest = stored.sha256 if stored.created else archive.store.sha256_of(path)
    if not stored.created and stored.sha256 != digest:
        # the final path already held other bytes (an orphan from an earlier run): keep it
        return ("conflict", "an orphan file with this SOP Instance UID and other content is stored")
    record = InstanceRecord.from_header(summary, stored.rel_path, stored.size, stored.sha256)
    return _Stored(label, record, "\n".join(summary.warnings))


def _warnings_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]
