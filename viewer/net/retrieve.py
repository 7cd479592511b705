"""Retrieving a study or series from a PACS into the archive: C-GET now (PS3.4 C.4.3), C-MOVE
beside it (C.4.2) with the same progress, cancel and report types.

What C-GET and C-MOVE share lives in `Retrieval`: it follows the peer's responses (Pending with
the Number of Remaining / Completed / Failed / Warning Sub-operations, PS3.7 9.1.3 and 9.1.4),
reports progress, sends C-CANCEL once the CancelToken is set, records how each received instance
was imported and builds the RetrieveReport. C-GET receives the instances as C-STORE
sub-operations on its own association; C-MOVE's arrive at our Storage SCP, whose handler calls
`Retrieval.record` the same way (it is thread-safe).

C-GET needs the storage SOP classes of the instances negotiated up front, with us in the SCP role
(SCP/SCU Role Selection, PS3.7 D.3.3.4), and an association holds at most 128 presentation
contexts. So we first ask the peer which SOP classes the study holds (C-FIND: SOPClassesInStudy
at study level, else SOPClassUID at image level). Known classes get one presentation context per
transfer syntax, so that the peer can send each instance as it is stored (byte for byte, no
transcoding); when the peer cannot tell, or there are many classes, `COMMON_STORAGE_CLASSES`
(the image, presentation-state, SR, RT and document classes of everyday modalities) get one
context each with all our transfer syntaxes.

Each received dataset is written (file meta + the peer's bytes, never re-encoded) to a temporary
file (by pynetdicom, or in a private folder under the archive root), then handed to
`archive.deferred.DeferredImport`: examined and stored as every import does before we answer the
C-STORE, made durable and indexed in batches of 64 and at the end of the retrieve (the PACS keeps
its copy, so the per-instance fsyncs of the Storage SCP's `import_file` buy nothing here; an
instance lost to a crash is retrieved again). The answers are the Storage SCP's statuses:
0x0000 imported or already present; 0xA700 the disk is full (the retrieve stops: C-CANCEL);
0xC000 the dataset cannot be imported; 0x0111 Duplicate SOP Instance when another instance with
the same SOP Instance UID is already stored (the stored one is kept); failures carry an Error
Comment saying why.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext, build_context, build_role
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)
from pynetdicom.status import code_to_category

from viewer.archive.archive import Archive
from viewer.archive.deferred import DeferredImport
from viewer.archive.importer import ImportReport
from viewer.archive.retention import enforce_quota
from viewer.archive.store import ReceivingFile
from viewer.config import Node
from viewer.jobs import CancelToken, Failure
from viewer.net.association import Local, PeerError, associated, describe
from viewer.net.query import QueryLevel, find, status_text
from viewer.net.receiving import receive_into, received_data_set
from viewer.net.sop_classes import COMMON_STORAGE_CLASSES, transfer_syntax_uids
from viewer.net.storage_scp import outcome_of

LOGGER = logging.getLogger(__name__)

MAX_CONTEXTS = 128  # PS3.8 9.3.2.2: presentation context IDs are odd numbers 1..255

# What C-GET negotiates (as C-STORE SCP) comes from the same tables as the Storage SCP's.
TRANSFER_SYNTAXES: tuple[str, ...] = tuple(transfer_syntax_uids())


# C-STORE statuses we answer (PS3.4 B.2.3)
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
DUPLICATE_SOP_INSTANCE = 0x0111  # a conflict: as the Storage SCP answers it
CANCEL = 0xFE00


class Outcome(Enum):
    """What became of one received instance."""

    IMPORTED = "imported"
    ALREADY_PRESENT = "already_present"
    CONFLICT = "conflict"
    FAILED = "failed"


@dataclass(frozen=True)
class InstanceOutcome:
    """One received instance: how it was imported, why not (`reason`), and the C-STORE
    status we answered."""

    sop_instance_uid: str
    outcome: Outcome
    reason: str = ""
    status: int = SUCCESS


@dataclass(frozen=True)
class SubOperations:
    """The sub-operation counts of a C-GET / C-MOVE response (PS3.7 9.1.3.1.6, 9.1.4.1.6);
    `remaining` is None when the response left it out (final responses usually do)."""

    remaining: int | None = None
    completed: int = 0
    failed: int = 0
    warning: int = 0

    @property
    def done(self) -> int:
        return self.completed + self.failed + self.warning

    @property
    def total(self) -> int | None:
        return None if self.remaining is None else self.done + self.remaining


@dataclass(frozen=True)
class RetrieveProgress:
    """Passed to the progress callback after each response and each received instance:
    the peer's latest counts and how many instances we have received so far."""

    suboperations: SubOperations
    received: int
    expected: int | None = None  # instances the peer said the study/series holds (C-FIND)


RetrieveProgressCallback = Callable[[RetrieveProgress], None]


@dataclass(frozen=True)
class RetrieveReport:
    """What a retrieve did. `status`: the final C-GET/C-MOVE status (0x0000 success, 0xB000
    some sub-operations failed, 0xFE00 cancelled, a failure code), None when the peer never
    sent one (`error` says why). `suboperations`: the counts of the last response.
    `instances`: every instance we received, with its import outcome. `stopped`: why the
    import stopped early (disk full), else ""."""

    peer: str
    via: str  # "get" or "move"
    study_uid: str
    series_uid: str | None
    status: int | None
    suboperations: SubOperations
    instances: tuple[InstanceOutcome, ...]
    failed_sop_instances: tuple[str, ...] = ()  # Failed SOP Instance UID List (0008,0058)
    cancelled: bool = False
    stopped: str = ""
    error: str = ""  # the peer's Error Comment, or why the retrieve ended without a final status
    expected: int | None = None
    not_found: bool = False  # the peer's C-FIND found no such study / series: no C-GET sent
    seconds: float = 0.0
    note: str = ""  # C-MOVE into another process's Storage SCP: no per-instance outcomes

    def _with(self, outcome: Outcome) -> tuple[InstanceOutcome, ...]:
        return tuple(i for i in self.instances if i.outcome is outcome)

    @property
    def imported(self) -> tuple[InstanceOutcome, ...]:
        return self._with(Outcome.IMPORTED)

    @property
    def already_present(self) -> tuple[InstanceOutcome, ...]:
        return self._with(Outcome.ALREADY_PRESENT)

    @property
    def conflicts(self) -> tuple[InstanceOutcome, ...]:
        return self._with(Outcome.CONFLICT)

    @property
    def failed(self) -> tuple[InstanceOutcome, ...]:
        return self._with(Outcome.FAILED)

    @property
    def nothing_found(self) -> bool:
        """The peer had nothing to send (an unknown study or series)."""
        if self.not_found:
            return True
        return (not self.instances and self.suboperations.done == 0 and not self.error
                and not self.cancelled and self.status is not None
                and code_to_category(self.status) != "Failure")

    @property
    def ok(self) -> bool:
        """Everything the peer had was retrieved and is in the archive."""
        return (self.status == SUCCESS and not self.cancelled and not self.stopped
                and not self.error and not self.conflicts and not self.failed
                and self.suboperations.failed == 0)


class Retrieval:
    """The state of one C-GET or C-MOVE, shared by the thread following the responses and the
    threads importing received instances (see the module docstring)."""

    def __init__(
        self,
        progress: RetrieveProgressCallback | None = None,
        cancel: CancelToken | None = None,
        expected: int | None = None,
    ) -> None:
        self._progress = progress
        self._cancel = cancel
        self.expected = expected
        self._lock = threading.Lock()
        self._instances: list[InstanceOutcome] = []
        self.suboperations = SubOperations()
        self.status: int | None = None
        self.failed_sop_instances: tuple[str, ...] = ()
        self.error = ""
        self.stopped = ""
        self.cancel_sent = False
        self._assoc: Association | None = None
        self._msg_id = 1
        self._context_id: int | None = None

    def record(self, sop_instance_uid: str, report: ImportReport) -> Dataset:
        """Record how a received instance was imported; the C-STORE response status for it.
        A full disk stops the retrieve (C-CANCEL)."""
        outcome = _outcome_of(sop_instance_uid, report)
        with self._lock:
            self._instances.append(outcome)
            if report.stopped and not self.stopped:
                self.stopped = report.stopped
        self._notify()
        if report.stopped:
            self.request_cancel()
        self.cancel_if_asked()
        return store_status(outcome)

    def amend(self, corrections: list[tuple[str, ImportReport]]) -> None:
        """Replace the outcomes of instances whose deferred indexing came out otherwise
        (`DeferredImport.finish`)."""
        with self._lock:
            for sop_instance_uid, report in corrections:
                outcome = _outcome_of(sop_instance_uid, report)
                for i, known in enumerate(self._instances):
                    if known.sop_instance_uid == sop_instance_uid:
                        self._instances[i] = outcome
                if report.stopped and not self.stopped:
                    self.stopped = report.stopped

    def fail(self, sop_instance_uid: str, reason: str, status: int) -> Dataset:
        """Record an instance that could not even be written to a temporary file."""
        return self.record(sop_instance_uid, ImportReport(stopped=reason)
                           if status == OUT_OF_RESOURCES else _failed_report(reason))

    def attach(self, assoc: Association, msg_id: int, context_id: int | None) -> None:
        """The association and message the C-CANCEL must name."""
        self._assoc, self._msg_id, self._context_id = assoc, msg_id, context_id

    def request_cancel(self) -> None:
        """Send C-CANCEL for the retrieve now (once), e.g. when the disk is full."""
        with self._lock:
            if self.cancel_sent or self._assoc is None or not self._assoc.is_established:
                return
            self.cancel_sent = True
            assoc, msg_id, context_id = self._assoc, self._msg_id, self._context_id
        LOGGER.info("sending C-CANCEL for message %d", msg_id)
        assoc.send_c_cancel(msg_id, context_id)

    def cancel_if_asked(self) -> None:
        if self._cancel is not None and self._cancel.cancelled:
            self.request_cancel()

    def follow(self, responses: Iterator[tuple[Dataset, Dataset | None]]) -> None:
        """Consume the C-GET / C-MOVE responses until the final one (or the peer stops
        answering: then `error` says so)."""
        for answer, identifier in responses:
            if "Status" not in answer:
                self.error = "the peer stopped answering (time-out or aborted)"
                break
            status = int(answer.Status)
            self.suboperations = SubOperations(
                _count(answer, "NumberOfRemainingSuboperations"),
                _count(answer, "NumberOfCompletedSuboperations") or 0,
                _count(answer, "NumberOfFailedSuboperations") or 0,
                _count(answer, "NumberOfWarningSuboperations") or 0,
            )
            if code_to_category(status) == "Pending":
                self._notify()
                self.cancel_if_asked()
                continue
            self.status = status
            if code_to_category(status) in ("Failure", "Warning", "Cancel"):
                comment = str(answer.get("ErrorComment", "") or "").strip()
                if code_to_category(status) == "Failure":
                    self.error = status_text(answer)
                elif comment:
                    self.error = comment
                if identifier is not None:
                    failed = identifier.get("FailedSOPInstanceUIDList", None)
                    if failed:
                        values = [failed] if isinstance(failed, str) else list(failed)
                        self.failed_sop_instances = tuple(str(v) for v in values)
            self._notify()
            break

    def report(
        self, peer: str, via: str, study_uid: str, series_uid: str | None, seconds: float
    ) -> RetrieveReport:
        with self._lock:
            instances = tuple(self._instances)
        return RetrieveReport(
            peer, via, study_uid, series_uid, self.status, self.suboperations, instances,
            self.failed_sop_instances, self.cancel_sent or self.status == CANCEL, self.stopped,
            self.error, self.expected, seconds=seconds,
        )

    def _notify(self) -> None:
        if self._progress is None:
            return
        with self._lock:
            received = len(self._instances)
        self._progress(RetrieveProgress(self.suboperations, received, self.expected))


def store_status(outcome: InstanceOutcome) -> Dataset:
    """The C-STORE response status for an import outcome, with an Error Comment (LO, at most
    64 characters) saying why it failed."""
    status = Dataset()
    status.Status = outcome.status
    if outcome.status != SUCCESS and outcome.reason:
        status.ErrorComment = outcome.reason[:64]
    return status


def _failed_report(reason: str) -> ImportReport:
    report = ImportReport()
    report.failed.append(Failure("", reason))
    return report


def _count(answer: Dataset, keyword: str) -> int | None:
    value = answer.get(keyword, None)
    return None if value is None or value == "" else int(value)


def retrieve_identifier(study_uid: str, series_uid: str | None = None) -> Dataset:
    """The C-GET / C-MOVE identifier: a study, or one series of it (PS3.4 C.4.2.1.4 / C.4.3.1.3,
    Study Root: the unique keys of the levels above the retrieve level)."""
    ds = Dataset()
    ds.QueryRetrieveLevel = QueryLevel.SERIES.value if series_uid else QueryLevel.STUDY.value
    ds.StudyInstanceUID = study_uid
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    return ds


@dataclass(frozen=True)
class StorageClasses:
    """What we negotiate to receive: the SOP classes, whether the peer told us (C-FIND) and
    how many instances it said to expect."""

    sop_classes: tuple[str, ...]
    from_peer: bool
    expected: int | None = None
    notes: tuple[str, ...] = field(default=())
    matched: bool | None = None  # False: the peer's C-FIND found no such study / series


def storage_classes(
    node: Node, local: Local, study_uid: str, series_uid: str | None = None
) -> StorageClasses:
    """Ask the peer which SOP classes the study (or series) holds, by C-FIND (Study Root):
    SOPClassesInStudy at study level, else SOPClassUID at image level; COMMON_STORAGE_CLASSES
    when it cannot tell. Raises PeerError only when the peer cannot be reached at all."""
    notes: list[str] = []
    expected: int | None = None
    matched: bool | None = None
    count_key = "NumberOfSeriesRelatedInstances" if series_uid else "NumberOfStudyRelatedInstances"
    level = QueryLevel.SERIES if series_uid else QueryLevel.STUDY
    keys: dict[str, str | None] = {"StudyInstanceUID": study_uid}
    if series_uid:
        keys["SeriesInstanceUID"] = series_uid
    try:
        found = find(node, local, level, keys, "study",
                     return_keys=["SOPClassesInStudy", count_key])
        if not found.results and found.status == 0:
            return StorageClasses(COMMON_STORAGE_CLASSES, False, 0, ("no match",), False)
        if found.results:
            matched = True
            number = found.results[0].get(count_key)
            expected = number if isinstance(number, int) else None
            classes = found.results[0].get("SOPClassesInStudy")
            if isinstance(classes, tuple) and classes:
                return StorageClasses(tuple(dict.fromkeys(classes)), True, expected,
                                      matched=True)
        # Strict peers (dcmqrscp) refuse an image-level query without the series: then the
        # common classes it is.
        found = find(node, local, QueryLevel.IMAGE, keys, "study",
                     return_keys=["SOPInstanceUID", "SOPClassUID"])
        classes = tuple(dict.fromkeys(
            str(r.get("SOPClassUID")) for r in found.results if r.get("SOPClassUID")
        ))
        if classes:
            return StorageClasses(classes, True, expected or len(found.results), matched=True)
        notes.append("the peer's C-FIND names no SOP classes for it")
    except PeerError as exc:
        if exc.reason.startswith("cannot connect"):
            raise  # the C-GET would not get through either: say so once, not after two waits
        notes.append(f"C-FIND for the SOP classes failed ({exc.reason})")
    LOGGER.info("offering the common storage SOP classes: %s", "; ".join(notes))
    return StorageClasses(COMMON_STORAGE_CLASSES, False, expected, tuple(notes), matched)


def storage_contexts(
    sop_classes: tuple[str, ...], room: int = MAX_CONTEXTS - 1
) -> tuple[list[PresentationContext], list[Any]]:
    """Presentation contexts and SCP/SCU role selection items (PS3.7 D.3.3.4) for receiving
    `sop_classes` as C-STORE SCP within `room` contexts: one context per transfer syntax when
    they fit (the peer then sends each instance in the transfer syntax it is stored in), else
    one context per class offering every transfer syntax (first come, first kept)."""
    sop_classes = sop_classes[:room]
    contexts: list[PresentationContext] = []
    if len(sop_classes) * len(TRANSFER_SYNTAXES) <= room:
        for sop_class in sop_classes:
            contexts.extend(build_context(sop_class, [ts]) for ts in TRANSFER_SYNTAXES)
    else:
        contexts = [build_context(c, list(TRANSFER_SYNTAXES)) for c in sop_classes]
    roles = [build_role(c, scp_role=True) for c in sop_classes]
    return contexts, roles


class _Receiver:
    """The C-STORE handler of a C-GET association: received bytes -> temp file -> import."""

    def __init__(self, archive: Archive, node: Node, retrieval: Retrieval, work: Path,
                 deferred: DeferredImport) -> None:
        self._archive = archive
        self._import = deferred.add
        self._node = node
        self._retrieval = retrieval
        self._work = work
        self._numbers = itertools.count()

    def __call__(self, event: evt.Event) -> Dataset:
        request = event.request
        sop_uid = str(getattr(request, "AffectedSOPInstanceUID", "") or "")
        label = f"{self._node.name}: {sop_uid}"
        # pynetdicom has already written it to a file when STORE_RECV_CHUNKED_DATASET is set
        # (process-wide, by the Storage SCP): then import that file as it is.
        received = received_data_set(request)
        if isinstance(received, ReceivingFile) and received.error is not None:
            reason = f"{label}: {received.error.strerror or received.error}"
            return self._retrieval.fail(sop_uid, reason, OUT_OF_RESOURCES)
        if received is not None:
            try:
                return self._retrieval.record(sop_uid, self._import(self._archive, received,
                                                                    label))
            finally:
                Path(received).unlink(missing_ok=True)
        path = self._work / f"{next(self._numbers)}.dcm"  # never a name from the dataset
        try:
            with open(path, "wb") as f:
                f.write(event.encoded_dataset(include_meta=True))
        except OSError as exc:
            path.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                return self._retrieval.fail(sop_uid, f"{label}: disk full", OUT_OF_RESOURCES)
            return self._retrieval.fail(sop_uid, f"cannot write: {exc.strerror or exc}",
                                        OUT_OF_RESOURCES)
        except Exception as exc:  # the peer's data set or file meta cannot be encoded
            path.unlink(missing_ok=True)
            return self._retrieval.fail(sop_uid, f"cannot read the data set: {exc}",
                                        CANNOT_UNDERSTAND)
        try:
            return self._retrieval.record(sop_uid, self._import(self._archive, path, label))
        finally:
            path.unlink(missing_ok=True)


def _outcome_of(sop_instance_uid: str, report: ImportReport) -> InstanceOutcome:
    """A received instance's outcome, from the import report of that instance alone, with the
    status the Storage SCP answers for the same report (`storage_scp.outcome_of`)."""
    kind, reason, status = outcome_of(report)
    return InstanceOutcome(sop_instance_uid, _OUTCOMES.get(kind, Outcome.FAILED), reason, status)


_OUTCOMES = {"imported": Outcome.IMPORTED, "already present": Outcome.ALREADY_PRESENT,
             "conflict": Outcome.CONFLICT}


def get(
    node: Node,
    local: Local,
    archive: Archive,
    study_uid: str,
    series_uid: str | None = None,
    progress: RetrieveProgressCallback | None = None,
    cancel: CancelToken | None = None,
    sop_classes: tuple[str, ...] | None = None,
) -> RetrieveReport:
    """C-GET a study (or one series of it) from `node` into `archive` (PS3.4 C.4.3, Study
    Root), every instance through `archive.importer.import_file`.

    `sop_classes`: the storage SOP classes to negotiate (default: asked by C-FIND, see
    `storage_classes`). `progress` is called after every response and received instance;
    `cancel`, checked as often, sends C-CANCEL and the report says `cancelled` (what arrived
    until then is imported). Raises PeerError when the association cannot be established or the
    peer accepts no C-GET context; a peer that aborts later gives a report with `error`.
    """
    peer = describe(node)
    started = time.perf_counter()
    if sop_classes is None:
        classes = storage_classes(node, local, study_uid, series_uid)
    else:
        classes = StorageClasses(tuple(sop_classes), False)
    if classes.matched is False:
        # Peers answer a C-GET for an unknown study with a bare failure (Orthanc: 0xC000);
        # the C-FIND has said it more clearly already.
        return RetrieveReport(peer, "get", study_uid, series_uid, None, SubOperations(), (),
                              expected=0, not_found=True,
                              seconds=time.perf_counter() - started)
    model = str(StudyRootQueryRetrieveInformationModelGet)
    contexts, roles = storage_contexts(classes.sop_classes)
    retrieval = Retrieval(progress, cancel, classes.expected)
    work = Path(tempfile.mkdtemp(prefix=".retrieve-", dir=archive.root))
    deferred = DeferredImport(archive)
    receiver = _Receiver(archive, node, retrieval, work, deferred)
    try:
        with associated(node, local, [build_context(model), *contexts], ext_neg=roles,
                        handlers=[(evt.EVT_C_STORE, receiver)]) as assoc:
            receive_into(assoc.ae, archive.store)  # before the first C-STORE arrives
            get_context = _accepted(assoc, model)
            if get_context is None:
                raise PeerError(peer, "the peer does not accept C-GET (Study Root)")
            responses = assoc.send_c_get(retrieve_identifier(study_uid, series_uid), model)
            retrieval.attach(assoc, 1, get_context)
            retrieval.cancel_if_asked()
            retrieval.follow(responses)
    finally:
        retrieval.amend(deferred.finish())
        shutil.rmtree(work, ignore_errors=True)
    report = retrieval.report(peer, "get", study_uid, series_uid, time.perf_counter() - started)
    enforce_quota(archive)  # a bounded store: prune past its quota (archive.retention)
    LOGGER.info("C-GET from %s: status %s, %d received, %d imported in %.2f s", peer,
                "none" if report.status is None else f"0x{report.status:04X}",
                len(report.instances), len(report.imported), report.seconds)
    return report


def _accepted(assoc: Association, abstract_syntax: str) -> int | None:
    for cx in assoc.accepted_contexts:
        if cx.abstract_syntax == abstract_syntax:
            return int(cx.context_id) if cx.context_id is not None else None
    return None


def move(
    node: Node,
    local: Local,
    archive: Archive,
    study_uid: str,
    series_uid: str | None = None,
    progress: RetrieveProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrieveReport:
    """C-MOVE a study (or one series of it) from `node` to us (PS3.4 C.4.2, Study Root): the
    peer opens its own association to our Storage SCP (`local.node`: our AE title and port,
    which `node` must know as a move destination) and every instance goes through
    `archive.importer.import_file`.

    For the duration, a Storage SCP is started on our port, accepting only `node`. When the
    port is taken (a `listen` already runs there, CLI.md), that one receives the instances:
    the report then has the peer's counts but no per-instance outcomes (`note` says so).
    Progress and cancel as for `get`. Raises PeerError when the association cannot be
    established or the peer accepts no C-MOVE context.
    """
    from viewer.net.storage_scp import StorageSCP

    peer = describe(node)
    started = time.perf_counter()
    classes = storage_classes(node, local, study_uid, series_uid)
    if classes.matched is False:
        return RetrieveReport(peer, "move", study_uid, series_uid, None, SubOperations(), (),
                              expected=0, not_found=True,
                              seconds=time.perf_counter() - started)
    retrieval = Retrieval(progress, cancel, classes.expected)

    def received(report: ImportReport, calling_ae: str, sop_instance_uid: str) -> None:
        retrieval.record(sop_instance_uid, report)

    scp: StorageSCP | None = None
    deferred = DeferredImport(archive)  # commits in our archive, open until we return
    listener = StorageSCP(archive.root, local, allow=[node], on_received=received,
                          import_one=deferred.add)
    try:
        listener.start()
        scp = listener
    except OSError as exc:  # the port is taken: a `listen` receives for us
        LOGGER.info("our port %d is taken (%s): the running listener receives the C-MOVE",
                    local.node.port, exc.strerror or exc)
    model = str(StudyRootQueryRetrieveInformationModelMove)
    try:
        with associated(node, local, [build_context(model)]) as assoc:
            move_context = _accepted(assoc, model)
            if move_context is None:
                raise PeerError(peer, "the peer does not accept C-MOVE (Study Root)")
            responses = assoc.send_c_move(retrieve_identifier(study_uid, series_uid),
                                          local.node.ae_title, model)
            retrieval.attach(assoc, 1, move_context)
            retrieval.cancel_if_asked()
            retrieval.follow(responses)
    finally:
        if scp is not None:
            scp.stop()  # the associations end first: nothing is added after finish()
        retrieval.amend(deferred.finish())
    report = retrieval.report(peer, "move", study_uid, series_uid, time.perf_counter() - started)
    enforce_quota(archive)
    if report.status in (0xA801, 0xC000) and not report.suboperations.done:
        # A801 Move Destination Unknown; Orthanc says C000 for the same thing
        report = dataclasses.replace(
            report, note=f"does {peer} know our AE title {local.node.ae_title} (port "
                         f"{local.node.port}) as a C-MOVE destination?")
    if scp is None:
        report = dataclasses.replace(
            report, note=f"received by the Storage SCP already listening on port "
                         f"{local.node.port}: per-instance outcomes are in its log")
    LOGGER.info("C-MOVE from %s: status %s, %d received, %d imported in %.2f s", peer,
                "none" if report.status is None else f"0x{report.status:04X}",
                len(report.instances), len(report.imported), report.seconds)
    return report
