"""Received instances whose sender keeps its copy: stored at once, durable and indexed in batches.

`import_file` makes each instance durable (fsync of the file and of its directory) and indexes it
before it returns, because the Storage SCP answers a modality's C-STORE with it and the modality
may then delete its copy. A retrieve (C-MOVE into our SCP, C-GET) is different: the PACS we pull
from keeps every instance, so an instance lost to a crash is simply retrieved again. There the
per-file fsyncs are two journal commits per instance (0.8-1.5 ms here, a third to a half of what
`import_file` takes) for a promise nobody needs.

`DeferredImport` stores each instance as the batch import does (`examine_and_store` with
durable=False: the same checks, the same atomic link into place), answers at once, and every BATCH
instances (on a thread of its own, off the receiving thread), and at `finish()`, syncs the store's
file system once and commits the batch's rows in one transaction. The archive's invariant holds:
rows are only ever committed for durable files, so a crash leaves at most files without rows, which
the next retrieve (already present) or `check --repair` picks up.
"""

from __future__ import annotations

import logging
import queue
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
from viewer.archive.store import ReceivingFile, StoreWriteError
from viewer.jobs import Failure

LOGGER = logging.getLogger(__name__)


class DeferredImport:
    """Import received files now, make them durable and index them in batches, in `archive`
    (thread-safe: several associations may add at once). A full batch is committed by a
    background thread, so the C-STORE that fills it is not answered a sync later; rows are
    committed in the order the batches filled. `finish()` commits the rest and waits; call it
    before `archive` closes."""

    def __init__(self, archive: Archive, batch: int = BATCH) -> None:
        self._archive = archive
        self._batch = batch
        self._lock = threading.Lock()
        self._pending: list[_Stored] = []
        self._stopped = ""  # the disk filled up: nothing more is indexed
        self._corrections: list[tuple[str, ImportReport]] = []
        self._batches: queue.Queue[list[_Stored] | None] = queue.Queue()
        self._committer: threading.Thread | None = None

    def add(self, archive: Archive, path: Path | ReceivingFile, label: str) -> ImportReport:
        """Examine and store `path` through `archive` (the receiver's: the same archive as
        ours, possibly another `Archive` object on it), with the same checks and statuses as
        `import_file`; a stored file counts as imported now, its row follows with its batch."""
        outcome = examine_and_store(archive, path, label, durable=False)
        if not isinstance(outcome, _Stored):
            return report_of(label, outcome)
        with self._lock:
            self._pending.append(outcome)
            if len(self._pending) >= self._batch:
                self._hand_over_locked()
            if self._stopped:
                return ImportReport(stopped=self._stopped)
        return ImportReport(imported=[label])

    def finish(self) -> list[tuple[str, ImportReport]]:
        """Make the rest durable and indexed, and wait for it. Returns the instances whose
        outcome is not the "imported" `add` answered, as (SOP Instance UID, its report):
        stored meanwhile by a concurrent import (already present, conflict), or not indexed
        because the disk filled up (`stopped`; those files stay without rows, as after a
        crash)."""
        with self._lock:
            self._hand_over_locked()
            committer, self._committer = self._committer, None
            if committer is not None:
                self._batches.put(None)
        if committer is not None:
            committer.join()
        with self._lock:
            corrections, self._corrections = self._corrections, []
        return corrections

    def _hand_over_locked(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        if self._committer is None:
            self._committer = threading.Thread(target=self._commit_batches, daemon=True,
                                               name="deferred-import")
            self._committer.start()
        self._batches.put(batch)

    def _commit_batches(self) -> None:
        while (batch := self._batches.get()) is not None:
            self._commit(batch)

    def _commit(self, batch: list[_Stored]) -> None:
        report = ImportReport()
        try:
            if self._stopped:
                raise StoreFull(self._stopped)
            self._archive.store.sync()
            _index(self._archive, batch, report)
        except (StoreFull, StoreWriteError) as exc:
            report = ImportReport(stopped=self._stop(str(exc)))
        except Exception as exc:  # noqa: BLE001 - reported per instance, never lost silently
            LOGGER.exception("committing %d received instances failed", len(batch))
            report = ImportReport(stopped=self._stop(f"cannot index the received instances: "
                                                     f"{exc}"))
        corrections = [(item.record.sop_instance_uid, _one(report, item.label))
                       for item in batch if item.label not in report.imported]
        with self._lock:
            self._corrections.extend(corrections)

    def _stop(self, reason: str) -> str:
        with self._lock:
            self._stopped = self._stopped or reason
            return self._stopped


def _one(report: ImportReport, label: str) -> ImportReport:
    """What `report` says of `label` alone."""
    if report.stopped:
        return ImportReport(stopped=report.stopped)
    if label in report.already_present:
        return ImportReport(already_present=[label])
    if label in report.present_other_syntax:
        return ImportReport(present_other_syntax=[label])
    conflicts = [c for c in report.conflicts if c.item == label]
    return ImportReport(conflicts=conflicts or [Failure(label, "not indexed")])
