"""Received instances whose sender keeps its copy: stored at once, durable and indexed in batches.

`import_file` makes each instance durable (fsync of the file and of its directory) and indexes it
before it returns, because the Storage SCP answers a modality's C-STORE with it and the modality
may then delete its copy. A retrieve (C-MOVE into our SCP, C-GET) is different: the PACS we pull
from keeps every instance, so an instance lost to a crash is simply retrieved again. There the
per-file fsyncs are two journal commits per instance (about 2 ms of the 3 ms `import_file`
takes here) for a promise nobody needs.

`DeferredImport` stores each instance as the batch import does (`examine_and_store` with
durable=False: the same checks, the same atomic link into place), answers at once, and every
BATCH instances, and at `finish()`, syncs the store's file system once and commits the batch's
rows in one transaction. The archive's invariant holds: rows are only ever committed for durable
files, so a crash leaves at most files without rows, which the next retrieve (already present)
or `check --repair` picks up.
"""

from __future__ import annotations

import threading
from pathlib import Path

from viewer.archive.archive import Archive
from viewer.archive.importer import (
    BATCH,
    ImportReport,
    StoreFull,
    _index,
    _Stored,
    examine_and_store,
    report_of,
)
from viewer.archive.store import StoreWriteError
from viewer.jobs import Failure


class DeferredImport:
    """Import received files now, make them durable and index them in batches (thread-safe:
    several associations may add at once). `finish()` must be called before the archive
    closes; until then the newest instances are stored but not yet in the index."""

    def __init__(self, batch: int = BATCH) -> None:
        self._batch = batch
        self._lock = threading.Lock()
        self._pending: list[_Stored] = []
        self._archive: Archive | None = None
        self._stopped = ""  # the disk filled up: nothing more is indexed
        self._corrections: list[tuple[str, ImportReport]] = []

    def add(self, archive: Archive, path: Path, label: str) -> ImportReport:
        """Examine and store `path` (same checks and statuses as `import_file`); a stored file
        counts as imported now, its row follows with its batch."""
        outcome = examine_and_store(archive, path, label, durable=False)
        if not isinstance(outcome, _Stored):
            return report_of(label, outcome)
        with self._lock:
            self._archive = archive
            self._pending.append(outcome)
            if len(self._pending) >= self._batch:
                self._commit()
            if self._stopped:
                return ImportReport(stopped=self._stopped)
        return ImportReport(imported=[label])

    def finish(self, archive: Archive) -> list[tuple[str, ImportReport]]:
        """Make the rest durable and indexed in `archive` (the same archive, possibly another
        `Archive` object on it: the receiver's may be closed by now). Returns the instances
        whose outcome is not the "imported" `add` answered, as (SOP Instance UID, its report):
        stored meanwhile by a concurrent import (already present, conflict), or not indexed
        because the disk filled up (`stopped`; those files stay without rows, as after a
        crash)."""
        with self._lock:
            self._archive = archive
            self._commit()
            corrections, self._corrections = self._corrections, []
            return corrections

    def _commit(self) -> None:
        batch, self._pending = self._pending, []
        if not batch or self._archive is None:
            return
        report = ImportReport()
        try:
            if self._stopped:
                raise StoreFull(self._stopped)
            self._archive.store.sync()
            _index(self._archive, batch, report)
        except (StoreFull, StoreWriteError) as exc:
            self._stopped = self._stopped or str(exc)
            report = ImportReport(stopped=self._stopped)
        for item in batch:
            if item.label not in report.imported:
                self._corrections.append((item.record.sop_instance_uid, _one(report, item.label)))


def _one(report: ImportReport, label: str) -> ImportReport:
    """What `report` says of `label` alone."""
    if report.stopped:
        return ImportReport(stopped=report.stopped)
    if label in report.already_present:
        return ImportReport(already_present=[label])
    conflicts = [c for c in report.conflicts if c.item == label]
    return ImportReport(conflicts=conflicts or [Failure(label, "not indexed")])
