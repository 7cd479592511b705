"""The single import entry point: folders, zips, CD/DVD media, C-MOVE, C-GET and the Storage SCP
all end here (ARCHITECTURE.md, "One import path").

Per file: read the header, check that the instance can be shown later (a valid SOP Instance UID,
a known transfer syntax, pixel data that fits), then store it atomically and index it in one
transaction. Worker processes examine and store; the importing process only indexes. The file
is written before its index row, never a row without a file; what a writer links into place is
journaled (archive/journal.py), so a crash in between leaves files that the next opening of the
archive indexes. Files are made durable
in batches (one syncfs), then their rows are committed. Duplicates: byte-identical (after
zeroing the preamble) -> already present; the same instance in another transfer syntax (same SOP
Class, attributes and decoded pixels, viewer/dicom/sameness.py) -> already present in another
transfer syntax, counted apart; same SOP Instance UID with other content -> a conflict. Either
way the stored copy is kept (never a silent overwrite).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import multiprocessing
import multiprocessing.util
import os
import signal
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from viewer.archive.archive import Archive
from viewer.archive.journal import note_intent, note_stored
from viewer.archive.records import InstanceRecord
from viewer.archive.retention import enforce_quota
from viewer.archive.sources import Candidate, SourceError, iter_candidates
from viewer.archive.store import (
    InstanceKey,
    InvalidUID,
    ReceivingFile,
    StoreWriteError,
    relative_path,
)
from viewer.dicom.files import DicomFileError, describe_error
from viewer.dicom.quiet import debug_enabled, quiet_libraries
from viewer.dicom.records import HeaderSummary
from viewer.dicom.references import ObjectReferences, references_of
from viewer.jobs import Cancelled, CancelToken, Failure, ProgressCallback, Report, no_progress

LOGGER = logging.getLogger(__name__)

class StoreFull(Exception):
    """The store's file system is full: the import stops, what was stored stays consistent."""


@dataclass
class ImportReport:
    """What an import did, item by item (CLI.md `import`)."""

    imported: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    # the same instance (same UID, attributes and decoded pixels) stored in another syntax
    present_other_syntax: list[str] = field(default_factory=list)
    conflicts: list[Failure] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    stopped: str = ""  # why the import stopped early (disk full), else ""
    # Study Instance UIDs of the instances imported (what a validator after it is given)
    study_uids: set[str] = field(default_factory=set)

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
    workers: int | None = None,
) -> ImportReport:
    """Import everything below `paths` into `archive`; one bad file never stops the rest.

    Files are examined (header, checks) and copied into the store by `workers` processes
    (default: one per CPU, at most 4, and none for fewer than PARALLEL_MIN files: examining is
    pure Python, so threads would queue on the GIL). This process only indexes: stored files
    are made durable in batches, then their rows are committed. A crash leaves files without
    rows (picked up by the next import or `check --repair`), never a row whose file is not on
    disk. Cancelling stops examining; what was stored by then is made durable and indexed, then
    Cancelled is raised.
    """
    report = ImportReport()
    walk = Report()
    candidates = list(iter_candidates(paths, walk))
    report.failed.extend(walk.failed)
    if workers is None:
        workers = default_workers() if len(candidates) >= PARALLEL_MIN else 0
    batches = _Batches(archive, report)
    pipeline = _Pipeline(archive, report, batches, workers)
    try:
        for n, candidate in enumerate(candidates, 1):
            if cancel is not None and cancel.cancelled:
                pipeline.drain()
                batches.finish()
                raise Cancelled
            pipeline.submit(candidate)
            progress(n, len(candidates), candidate.label)
        pipeline.drain()
        batches.finish()
    except StoreFull as exc:
        report.stopped = str(exc)
    finally:
        pipeline.close()
        batches.abandon()
        try:
            archive.index.checkpoint()
        except sqlite3.OperationalError as exc:
            if not _disk_full(exc):
                raise
            report.stopped = report.stopped or "disk full while checkpointing the index"
    enforce_quota(archive)  # a bounded store: prune when past its quota (archive.retention)
    return report


def import_file(archive: Archive, path: Path | ReceivingFile, label: str) -> ImportReport:
    """Import one file now: stored durably (fsync of the file and its directories) and indexed
    before this returns. For the Storage SCP and C-GET, which answer each C-STORE only once its
    instance is safe. Thread-safe: several associations may import at once. `label` names the
    file in the report (for a received dataset: the calling AE and the SOP Instance UID).
    A full disk is reported in `stopped`; nothing half-written stays behind."""
    if isinstance(path, ReceivingFile):
        path.start_sync()  # its fsync runs while the header is examined
    outcome = examine_and_store(archive, path, label, durable=True)
    if isinstance(outcome, _Stored):
        report = ImportReport()
        try:
            _index(archive, [outcome], report)
        except StoreFull as exc:
            report.stopped = str(exc)
        return report
    return report_of(label, outcome)


def report_of(label: str, outcome: tuple[str, str]) -> ImportReport:
    """The report of one file that was not stored: already present, a conflict, failed, or
    the disk full (`examine_and_store`'s outcome kinds)."""
    report = ImportReport()
    kind, detail = outcome
    if kind == "full":
        report.stopped = detail
    else:
        _add_outcome(report, label, kind, detail)
    return report


def _add_outcome(report: ImportReport, label: str, kind: str, detail: str) -> None:
    """Count a file that was not stored (any outcome kind but "full") in `report`."""
    if kind == "present":
        report.already_present.append(label)
    elif kind == OTHER_SYNTAX:
        report.present_other_syntax.append(label)
    elif kind == "conflict":
        report.conflicts.append(Failure(label, detail))
    else:
        report.failed.append(Failure(label, detail))


PARALLEL_MIN = 32  # fewer files are examined here: starting the workers takes ~0.3 s
MAX_WORKERS = 4  # beyond this the disk, not the CPU, limits an import
# Files go to a worker in chunks: one round trip per chunk, not per file (the pickling and
# the queue locks cost a tenth of a worker's time file by file). A chunk closes at CHUNK_FILES
# files or CHUNK_BYTES bytes, whichever comes first.
CHUNK_FILES = 8
CHUNK_BYTES = 64 << 20
CHUNKS_AHEAD = 4  # chunks handed to workers and not yet back: bounds temp files from zips
WRITE_AHEAD = CHUNK_FILES * CHUNKS_AHEAD  # files stored and not yet handed to a batch, at most


def default_workers() -> int:
    """One import worker per CPU this process may use, at most MAX_WORKERS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


# What examining and storing one file came to: the stored file, or (kind, detail) where kind is
# "present", OTHER_SYNTAX, "conflict", "failed" or "full" (the store's disk is full: the import
# stops).
Outcome = _Stored | tuple[str, str]


@dataclass
class _Chunk:
    """Candidates materialised (zip entries extracted) for one worker task."""

    stack: ExitStack = field(default_factory=ExitStack)
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, label)
    size: int = 0


class _Pipeline:
    """Hands candidates to `examine_and_store` - in worker processes, or here when `workers` is
    0 - and settles their outcomes in the order the candidates came."""

    def __init__(
        self, archive: Archive, report: ImportReport, batches: _Batches, workers: int
    ) -> None:
        self._archive = archive
        self._report = report
        self._batches = batches
        self._pool = _worker_pool(archive.root, workers) if workers > 0 else None
        self._chunk = _Chunk()
        self._queue: deque[tuple[_Chunk, Future[list[Outcome]]]] = deque()

    def submit(self, candidate: Candidate) -> None:
        chunk = self._chunk
        try:
            path = chunk.stack.enter_context(candidate.materialise())
            size = path.stat().st_size
        except SourceError as exc:
            self._report.failed.append(Failure(exc.label, exc.reason))
            return
        except OSError as exc:
            self._report.failed.append(Failure(candidate.label, f"cannot read: {exc.strerror}"))
            return
        chunk.files.append((str(path), candidate.label))
        chunk.size += size
        if self._pool is None or len(chunk.files) >= CHUNK_FILES or chunk.size >= CHUNK_BYTES:
            self._dispatch()
        while self._queue and (len(self._queue) > CHUNKS_AHEAD or self._queue[0][1].done()):
            self._settle_oldest()

    def drain(self) -> None:
        self._dispatch()
        while self._queue:
            self._settle_oldest()

    def close(self) -> None:
        """Wait for the files in flight without indexing them (after StoreFull or an error):
        what they stored stays as orphans for a re-import or `check --repair`."""
        self._chunk.stack.close()
        while self._queue:
            chunk, job = self._queue.popleft()
            job.exception()
            chunk.stack.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _dispatch(self) -> None:
        chunk, self._chunk = self._chunk, _Chunk()
        if not chunk.files:
            return
        job: Future[list[Outcome]]
        if self._pool is None:
            job = Future()
            job.set_result(_examine_and_store_all(self._archive, chunk.files))
        else:
            job = self._pool.submit(_examine_and_store_in_worker, chunk.files)
        self._queue.append((chunk, job))

    def _settle_oldest(self) -> None:
        chunk, job = self._queue.popleft()
        try:
            outcomes = job.result()
        finally:
            chunk.stack.close()
        for (_, label), outcome in zip(chunk.files, outcomes, strict=True):
            self._settle(label, outcome)

    def _settle(self, label: str, outcome: Outcome) -> None:
        if isinstance(outcome, _Stored):
            self._batches.add(outcome)
            return
        kind, detail = outcome
        if kind == "full":
            raise StoreFull(detail)
        _add_outcome(self._report, label, kind, detail)


def _examine_and_store_all(archive: Archive, files: list[tuple[str, str]]) -> list[Outcome]:
    """The outcomes of `files` ((path, label) pairs), in order; stops storing at a full disk
    (the rest of the chunk is not tried)."""
    outcomes: list[Outcome] = []
    for path, label in files:
        outcome = examine_and_store(archive, Path(path), label)
        outcomes.append(outcome)
        if not isinstance(outcome, _Stored) and outcome[0] == "full":
            outcomes.extend(("failed", "not imported: the store is full") for _ in
                            files[len(outcomes):])
            break
    return outcomes


def examine_and_store(
    archive: Archive, path: Path | ReceivingFile, label: str, durable: bool = False
) -> Outcome:
    """Examine one file and store it (not yet indexed; durable now with `durable`, else with
    its batch); every problem with the file comes back as an outcome naming it, never as an
    exception."""
    try:
        return store_examined(archive, path, examine_file(archive, path, label), durable)
    except DicomFileError as exc:
        return ("failed", exc.reason)
    except StoreWriteError as exc:
        if exc.errno in _DISK_FULL:
            return ("full", f"{label}: {exc.strerror or 'disk full'}")
        return ("failed", exc.strerror or str(exc))
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            return ("full", f"{label}: {exc.strerror or 'disk full'}")
        return ("failed", f"cannot read: {exc.strerror or exc}")
    except MemoryError:
        return ("failed", "unreadable: a length in the file asks for more memory than there is")
    except Exception as exc:  # a reader bug on damaged bytes costs this file, not the import
        LOGGER.debug("examining %s failed", label, exc_info=True)
        return ("failed", f"unreadable: {type(exc).__name__}: {describe_error(exc)}")


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _worker_pool(root: Path, workers: int) -> ProcessPoolExecutor:
    """Worker processes that examine and store into the archive at `root` (forkserver where
    the platform has it: never fork, the GUI's threads may hold locks)."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # no effect once the server runs (the GUI's decode pool may have started it)
        context.set_forkserver_preload([__name__])  # type: ignore[attr-defined]
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker,
        initargs=(str(root), os.getpid(), debug_enabled()),
    )


_worker: dict[str, Archive] = {}  # in a worker process: "archive", opened by _start_worker


def _start_worker(root: str, importer_pid: int, debug: bool) -> None:
    """Open the archive in a worker (no recovery: the importer did that and is writing now)
    and end the worker when the importer dies, so that a killed import leaves no process.
    `debug`: the importer's --debug (its warnings filters and logging do not reach here)."""
    quiet_libraries(debug)  # pydicom's complaints are in the report, naming the file
    _die_with_parent()
    threading.Thread(target=_watch_importer, args=(importer_pid,), daemon=True).start()
    archive = _worker["archive"] = Archive(Path(root), recover=False)
    # close() at the worker's normal exit removes its store work directory
    multiprocessing.util.Finalize(archive, archive.close, exitpriority=10)


def _die_with_parent() -> None:
    """Linux: SIGKILL this process as soon as its parent (the fork server, which ends with the
    importer) ends. Elsewhere `_watch_importer` alone notices, within its poll interval."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _watch_importer(pid: int) -> None:
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # alive
            pass
        time.sleep(0.2)


def _examine_and_store_in_worker(files: list[tuple[str, str]]) -> list[Outcome]:
    return _examine_and_store_all(_worker["archive"], files)


def _disk_full(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc)


def _index(archive: Archive, batch: list[_Stored], report: ImportReport) -> None:
    """Commit the rows of a batch whose files are durable, in one transaction."""
    try:
        outcomes = archive.index.add_instances([item.record for item in batch])
    except sqlite3.OperationalError as exc:
        if _disk_full(exc):  # the files stay as orphans: re-import or check --repair
            raise StoreFull(f"disk full while indexing {batch[0].label} and the rest of its "
                            f"batch ({len(batch)} files)") from None
        raise
    for item, duplicate in zip(batch, outcomes, strict=True):
        if duplicate is None:
            report.imported.append(item.label)
            report.study_uids.add(item.record.study_instance_uid)
            report.warnings.extend(Failure(item.label, w) for w in _warnings_of(item.warnings))
            continue
        # a concurrent import, or the same file twice
        kind, detail = "present", ""
        if duplicate.sha256 != item.record.sha256:
            kind, detail = _same_or_conflict(
                archive, archive.store.absolute(item.record.store_path), duplicate.store_path
            )
        if duplicate.store_path != item.record.store_path:
            # Same SOP Instance UID filed under another study or series: ours is not indexed
            # and never will be, so it goes (the indexed file is kept).
            archive.store.remove(item.record.store_path)
        _add_outcome(report, item.label, kind, detail)


@dataclass(frozen=True)
class Examined:
    """A file that can be shown later, and what the index already holds under its UID."""

    label: str
    summary: HeaderSummary
    stored_sha256: str | None  # the indexed copy's checksum; None when the UID is new
    stored_path: str | None = None  # the indexed copy's store path; None when the UID is new
    # what a presentation state, KOS, SR, SEG or RTSTRUCT references; None for an image
    references: ObjectReferences | None = None


def examine_file(archive: Archive, path: Path | ReceivingFile, label: str) -> Examined:
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
        elif all(k in ds._dict for k in (0x00280010, 0x00280011, 0x00280100)):
            # pydicom stops quietly at an element cut short: an image whose file ends before
            # its Pixel Data reads as an object without pixels (Rows, Columns, Bits Allocated)
            raise DicomFileError(path, "image attributes but no Pixel Data (cut short?)")
        else:
            from viewer.dicom.codecs import NoDecoderError, plugin_order

            try:
                plugin_order(summary.instance.transfer_syntax_uid)
            except NoDecoderError as exc:
                raise DicomFileError(path, str(exc)) from None
    except DicomFileError as exc:
        raise DicomFileError(label, exc.reason) from None
    # indexed in the instance row's transaction (schema 005); images pay one string test
    references = references_of(ds, summary.instance.sop_class_uid)
    key = instance_key(summary)
    try:
        key.validated()
    except InvalidUID as exc:
        raise DicomFileError(label, f"unusable {exc}") from None
    uid = key.sop_instance_uid
    existing = archive.index.get_instance(uid)
    if existing is None:
        return Examined(label, summary, None, references=references)
    return Examined(label, summary, existing.sha256, existing.store_path, references)


def store_examined(
    archive: Archive, path: Path | ReceivingFile, examined: Examined, durable: bool = False
) -> _Stored | tuple[str, str]:
    """The stored file (not yet indexed; durable now with `durable`, else with its batch), or
    ("present", "") / ("conflict", reason). Raises StoreWriteError when storing fails.
    Thread-safe: touches only the store, never the index."""
    summary = examined.summary
    if examined.stored_sha256 is not None:
        if examined.stored_sha256 == archive.store.sha256_of(path):
            return ("present", "")
        return _same_or_conflict(archive, path, examined.stored_path)
    key = instance_key(summary)
    # journaled before the link and after it, so that a writer killed before its row is
    # committed leaves what the next opening needs to index the file (archive/journal.py)
    note_intent(archive, relative_path(key), key.sop_instance_uid)
    # hashes what it writes: one pass over the bytes
    stored = archive.store.write(key, path, durable=durable)
    digest = stored.sha256 if stored.created else archive.store.sha256_of(path)
    if not stored.created and stored.sha256 != digest:
        # the final path already held other bytes, stored moments earlier by this import (not
        # indexed yet), by a concurrent one or before a crash: kept
        return _same_or_conflict(archive, path, stored.rel_path)
    record = InstanceRecord.from_header(
        summary, stored.rel_path, stored.size, stored.sha256, examined.references)
    if stored.created:
        note_stored(archive, record)
    return _Stored(examined.label, record, "\n".join(summary.warnings))


OTHER_SYNTAX = "other_syntax"  # an outcome kind: the same instance, in another transfer syntax
OTHER_SYNTAX_REASON = "already present in another transfer syntax: kept the stored one"
CONFLICT_REASON = (
    "another file with this SOP Instance UID and other content is stored; kept that one"
)


def _same_or_conflict(
    archive: Archive, path: Path | ReceivingFile, stored_path: str | None
) -> tuple[str, str]:
    """(OTHER_SYNTAX, reason) when `path` holds the instance stored at `stored_path` in another
    encoding, else ("conflict", reason): only reached when the bytes differ, never on the
    common path of a new UID."""
    from viewer.dicom.sameness import same_instance

    if stored_path is not None and same_instance(archive.store.absolute(stored_path), path):
        return (OTHER_SYNTAX, OTHER_SYNTAX_REASON)
    return ("conflict", CONFLICT_REASON)


def instance_key(summary: HeaderSummary) -> InstanceKey:
    """Where the instance of `summary` goes in the store."""
    return InstanceKey(
        summary.study.study_instance_uid,
        summary.series.series_instance_uid,
        summary.instance.sop_instance_uid,
    )


def _warnings_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]
