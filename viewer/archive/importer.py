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
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from viewer.archive.archive import Archive
from viewer.archive.records import InstanceRecord
from viewer.archive.sources import Candidate, SourceError, iter_candidates
from viewer.archive.store import InstanceKey, InvalidUID
from viewer.dicom.files import DicomFileError
from viewer.dicom.records import HeaderSummary
from viewer.jobs import Cancelled, CancelToken, Failure, ProgressCallback, Report, no_progress

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


class _Batches:
    """Files become durable in the background while the next batch is read and written.

    A full batch is handed to a thread that syncs the store (syncfs releases the GIL), and its
    rows are committed once that sync has returned: the disk writes back one batch while the
    CPU parses the next. Rows are only ever committed for files already durable, so a crash
    still leaves files without rows, never rows without files.
    """

    def __init__(self, archive: Archive, report: ImportReport) -> None:
        self._archive = archive
        self._report = report
        self._pending: list[_Stored] = []
        self._syncing: tuple[list[_Stored], Future[None]] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-sync")

    def add(self, stored: _Stored) -> None:
        self._pending.append(stored)
        if len(self._pending) >= BATCH:
            self._hand_over()

    def finish(self) -> None:
        """Make everything durable and indexed; raises StoreFull."""
        self._hand_over()
        self._settle()

    def abandon(self) -> None:
        """Stop without indexing what was not committed yet (left as orphans for re-import or
        `check --repair`); waits for a sync in flight so no thread outlives the import."""
        if self._syncing is not None:
            self._syncing[1].exception()
            self._syncing = None
        self._pending.clear()
        self._pool.shutdown(wait=True)

    def _hand_over(self) -> None:
        self._settle()
        if self._pending:
            batch, self._pending = self._pending, []
            self._syncing = (batch, self._pool.submit(self._archive.store.sync))

    def _settle(self) -> None:
        """Wait for the batch in flight to be durable, then commit its rows."""
        if self._syncing is None:
            return
        batch, synced = self._syncing
        self._syncing = None
        try:
            synced.result()
        except OSError as exc:  # not durable: left as orphans, never indexed
            raise StoreFull(f"the store could not be synced: {exc.strerror or exc}") from None
        _index(self._archive, batch, self._report)


def import_paths(
    archive: Archive,
    paths: Iterable[Path],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ImportReport:
    """Import everything below `paths` into `archive`; one bad file never stops the rest.

    Each file is examined (header, checks) here while the files examined before it are copied
    into the store by a writer thread: parsing holds the GIL, copying and creating directories
    mostly wait for the disk, so the two overlap. Stored files are made durable in batches,
    then their rows are committed. A crash leaves files without rows (picked up by the next
    import or `check --repair`), never a row whose file is not on disk. Cancelling stops
    examining; what was stored by then is made durable and indexed, then Cancelled is raised.
    """
    report = ImportReport()
    walk = Report()
    candidates = list(iter_candidates(paths, walk))
    report.failed.extend(walk.failed)
    batches = _Batches(archive, report)
    writer = _Writer(archive, report, batches)
    try:
        for n, candidate in enumerate(candidates, 1):
            if cancel is not None and cancel.cancelled:
                writer.drain()
                batches.finish()
                raise Cancelled
            writer.submit(candidate)
            progress(n, len(candidates), candidate.label)
        writer.drain()
        batches.finish()
    except StoreFull as exc:
        report.stopped = str(exc)
    finally:
        writer.close()
        batches.abandon()
        try:
            archive.index.checkpoint()
        except sqlite3.OperationalError as exc:
            if not _disk_full(exc):
                raise
            report.stopped = report.stopped or "disk full while checkpointing the index"
    return report


WRITE_AHEAD = 4  # files examined but not yet stored: bounds open temp files from archives


class _Writer:
    """Examines candidates in the calling thread and stores them in a writer thread, in order."""

    def __init__(self, archive: Archive, report: ImportReport, batches: _Batches) -> None:
        self._archive = archive
        self._report = report
        self._batches = batches
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-write")
        self._queue: deque[tuple[str, ExitStack, Future[_Stored | tuple[str, str]]]] = deque()

    def submit(self, candidate: Candidate) -> None:
        label = candidate.label
        stack = ExitStack()
        try:
            path = stack.enter_context(candidate.materialise())
            examined = examine_file(self._archive, path, label)
        except BaseException as exc:
            stack.close()
            if not isinstance(exc, Exception) or not _report_failure(self._report, label, exc):
                raise
            return
        job = self._pool.submit(store_examined, self._archive, path, examined)
        self._queue.append((label, stack, job))
        while self._queue and (len(self._queue) > WRITE_AHEAD or self._queue[0][2].done()):
            self._settle_oldest()

    def drain(self) -> None:
        while self._queue:
            self._settle_oldest()

    def close(self) -> None:
        """Wait for writes in flight without indexing them (after StoreFull or an error): their
        files stay as orphans for a re-import or `check --repair`."""
        while self._queue:
            _, stack, job = self._queue.popleft()
            job.exception()
            stack.close()
        self._pool.shutdown(wait=True)

    def _settle_oldest(self) -> None:
        label, stack, job = self._queue.popleft()
        try:
            outcome = job.result()
        except Exception as exc:
            if not _report_failure(self._report, label, exc):
                raise
            return
        finally:
            stack.close()
        if isinstance(outcome, _Stored):
            self._batches.add(outcome)
            return
        kind, detail = outcome
        if kind == "present":
            self._report.already_present.append(label)
        else:
            self._report.conflicts.append(Failure(label, detail))


def _report_failure(report: ImportReport, label: str, exc: Exception) -> bool:
    """Put a per-file failure into `report`; False when `exc` is not one. Raises StoreFull."""
    if isinstance(exc, DicomFileError):
        report.failed.append(Failure(label, exc.reason))
    elif isinstance(exc, SourceError):
        report.failed.append(Failure(exc.label, exc.reason))
    elif isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreFull(f"{label}: {exc.strerror or 'disk full'}") from None
        report.failed.append(Failure(label, f"cannot read: {exc.strerror or exc}"))
    else:
        return False
    return True


def _disk_full(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc)


def _index(archive: Archive, batch: list[_Stored], report: ImportReport) -> None:
    """Commit the rows of a batch whose files are durable."""
    from viewer.archive.index import DuplicateInstance

    for item in batch:
        try:
            archive.index.add_instance(item.record)
        except sqlite3.OperationalError as exc:
            if _disk_full(exc):  # the files stay as orphans: re-import or check --repair
                raise StoreFull(f"disk full while indexing {item.label}") from None
            raise
        except DuplicateInstance as exc:  # a concurrent import, or the same file twice
            if exc.store_path != item.record.store_path:
                # Same SOP Instance UID filed under another study or series: ours is not
                # indexed and never will be, so it goes (the indexed file is kept).
                archive.store.remove(item.record.store_path)
            if exc.sha256 == item.record.sha256:
                report.already_present.append(item.label)
            else:
                report.conflicts.append(Failure(item.label, "stored meanwhile by another import"))
            continue
        report.imported.append(item.label)
        report.warnings.extend(Failure(item.label, w) for w in _warnings_of(item.warnings))


@dataclass(frozen=True)
class Examined:
    """A file that can be shown later, and what the index already holds under its UID."""

    label: str
    summary: HeaderSummary
    stored_sha256: str | None  # the indexed copy's checksum; None when the UID is new


def examine_file(archive: Archive, path: Path, label: str) -> Examined:
    """Read the header and check that the instance can be shown later: a usable SOP Instance
    UID, study and series UIDs, a known transfer syntax, pixel data that fits the file.

    Raises DicomFileError naming `label` (the path, or `x.zip!a.dcm`) and the problem.
    """
    from viewer.dicom.pixels import check_pixel_layout, read_header
    from viewer.dicom.records import summary_from_dataset

    try:
        ds = read_header(path)
        # the index keeps each instance's geometry, so a viewer opens a series without headers
        summary = summary_from_dataset(ds, label, geometry=True)
        if any(t in ds._dict for t in (0x7FE00010, 0x7FE00008, 0x7FE00009)):
            check_pixel_layout(path, ds)  # readable header, known syntax, pixel data that fits
        else:
            from viewer.dicom.codecs import NoDecoderError, plugin_order

            try:
                plugin_order(summary.instance.transfer_syntax_uid)
            except NoDecoderError as exc:
                raise DicomFileError(path, str(exc)) from None
    except DicomFileError as exc:
        raise DicomFileError(label, exc.reason) from None
    key = instance_key(summary)
    try:
        key.validated()
    except InvalidUID as exc:
        raise DicomFileError(label, f"unusable {exc}") from None
    uid = key.sop_instance_uid
    existing = archive.index.get_instance(uid)
    return Examined(label, summary, existing.sha256 if existing is not None else None)


def store_examined(archive: Archive, path: Path, examined: Examined) -> _Stored | tuple[str, str]:
    """The stored file (durable with its batch, not yet indexed), or ("present", "") /
    ("conflict", reason). Raises StoreWriteError when storing fails. Thread-safe: touches only
    the store, never the index."""
    summary = examined.summary
    if examined.stored_sha256 is not None:
        if examined.stored_sha256 == archive.store.sha256_of(path):
            return ("present", "")
        return ("conflict", "another file with this SOP Instance UID is stored; kept that one")
    # hashes what it writes: one pass over the bytes
    stored = archive.store.write(instance_key(summary), path, durable=False)
    digest = stored.sha256 if stored.created else archive.store.sha256_of(path)
    if not stored.created and stored.sha256 != digest:
        # the final path already held other bytes (an orphan from an earlier run): keep it
        return ("conflict", "an orphan file with this SOP Instance UID and other content is stored")
    record = InstanceRecord.from_header(summary, stored.rel_path, stored.size, stored.sha256)
    return _Stored(examined.label, record, "\n".join(summary.warnings))


def instance_key(summary: HeaderSummary) -> InstanceKey:
    """Where the instance of `summary` goes in the store."""
    return InstanceKey(
        summary.study.study_instance_uid,
        summary.series.series_instance_uid,
        summary.instance.sop_instance_uid,
    )


def _warnings_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]
