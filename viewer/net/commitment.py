"""Storage commitment SCU (PS3.4 annex J, Storage Commitment Push Model): after a send, ask the
peer to take responsibility for the instances, and learn per instance whether it did.

N-ACTION (Action Type 1) carries a Transaction UID of ours and the Referenced SOP Sequence. The
answer, an N-EVENT-REPORT (Event Type 1: all committed; 2: some failed, with a Failure Reason
each), may come on the same association while we keep it open, or on a new association the
peer opens to our AE title and port (J.3.3). We keep the association open for a while, and
listen on our port meanwhile, unless a `listen` holds it (then only the same association can
bring the answer). A report whose Transaction UID is not ours is refused and ignored. The wait
is bounded: no answer in time is a result of its own ("not answered"), never a hang.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import evt
from pynetdicom.presentation import build_context, build_role
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StorageCommitmentPushModel,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from viewer.archive.index import Index
from viewer.archive.retention import record_commitment
from viewer.config import Node
from viewer.net.association import (
    Local,
    PeerError,
    application_entity,
    associated,
    describe,
    serve,
)

LOGGER = logging.getLogger(__name__)

WELL_KNOWN_INSTANCE = "1.2.840.10008.1.20.1.1"  # Storage Commitment Push Model SOP Instance
SAME_ASSOCIATION_S = 5.0  # how long the N-ACTION's association waits for the report

# Failure Reason (0008,1197), PS3.3 C.14.1.1
FAILURE_REASONS = {
    0x0110: "processing failure",
    0x0112: "no such object instance (the peer does not have it)",
    0x0119: "class-instance conflict",
    0x0131: "duplicate transaction UID",
    0x0213: "resource limitation",
    0x0122: "referenced SOP class not supported",
}


@dataclass(frozen=True)
class CommitResult:
    """Per instance: committed, failed with a reason, or not answered (`answered` False: no
    report arrived in time, so nothing is known)."""

    peer: str
    transaction_uid: str
    answered: bool
    committed: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (SOP Instance UID, reason)
    requested: int = 0
    via: str = ""  # "same association" or "new association"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.answered and not self.failed and len(self.committed) == self.requested


@dataclass
class _Waiter:
    transaction_uid: str
    done: threading.Event = field(default_factory=threading.Event)
    report: Dataset | None = None
    event_type: int = 0
    via: str = ""

    def on_report(self, event: evt.Event, via: str) -> tuple[int, None]:
        """The N-EVENT-REPORT response: (status, no event reply)."""
        info = event.event_information
        if str(info.get("TransactionUID", "")) != self.transaction_uid:
            LOGGER.warning("storage commitment report for another transaction: refused")
            return 0x0119, None  # class-instance conflict: not a transaction of ours
        self.report, self.event_type, self.via = info, int(event.event_type or 0), via
        self.done.set()
        return 0x0000, None


def request_commitment(
    node: Node, local: Local, instances: Sequence[tuple[str, str]], wait_s: float = 60.0
) -> CommitResult:
    """Ask `node` to commit `instances` ((SOP Class UID, SOP Instance UID) pairs) and wait at
    most `wait_s` for its answer. Raises PeerError when the N-ACTION is refused or the node
    cannot be reached."""
    peer = describe(node)
    started = time.perf_counter()
    waiter = _Waiter(generate_uid())
    listener = _listen(local, waiter)
    try:
        context = build_context(StorageCommitmentPushModel)
        # SCP/SCU role selection (J.3.2): we are the SCU, and accept N-EVENT-REPORTs on it
        role = build_role(StorageCommitmentPushModel, scu_role=True, scp_role=True)
        handlers = [(evt.EVT_N_EVENT_REPORT, lambda e: waiter.on_report(e, "same association"))]
        with associated(node, local, [context], ext_neg=[role], handlers=handlers) as assoc:
            status, _ = assoc.send_n_action(
                _action(waiter.transaction_uid, instances), 1, StorageCommitmentPushModel,
                WELL_KNOWN_INSTANCE,
            )
            if "Status" not in status:
                raise PeerError(peer, "no answer to the storage commitment request")
            code = int(status.Status)
            if code != 0x0000:
                raise PeerError(peer, f"storage commitment request refused (0x{code:04X})")
            waiter.done.wait(min(SAME_ASSOCIATION_S, wait_s))
        if not waiter.done.is_set() and listener is not None:
            waiter.done.wait(max(0.0, wait_s - (time.perf_counter() - started)))
    finally:
        if listener is not None:
            listener.shutdown()
    seconds = time.perf_counter() - started
    if waiter.report is None:
        return CommitResult(peer, waiter.transaction_uid, False, requested=len(instances),
                            seconds=seconds)
    committed = tuple(
        str(item.ReferencedSOPInstanceUID)
        for item in waiter.report.get("ReferencedSOPSequence", [])
    )
    failed = tuple(
        (str(item.ReferencedSOPInstanceUID), _reason(item))
        for item in waiter.report.get("FailedSOPSequence", [])
    )
    return CommitResult(peer, waiter.transaction_uid, True, committed, failed, len(instances),
                        waiter.via, seconds)


def record_result(index: Index, node: Node, result: CommitResult,
                  sop_instance_uids: Sequence[str] | None = None) -> int:
    """Record in the archive's index what `node` answered, per instance: committed by its AE
    title, or failed with the reason (viewer.archive.retention: a study leaves a bounded cache
    only when every instance is committed). `sop_instance_uids` limits it to the instances
    sent from the archive's own files (another file with the same UID proves nothing about
    ours). An unanswered request records nothing. Returns the rows recorded."""
    if not result.answered:
        return 0
    keep = None if sop_instance_uids is None else set(sop_instance_uids)
    committed = [uid for uid in result.committed if keep is None or uid in keep]
    failed = [(uid, why) for uid, why in result.failed if keep is None or uid in keep]
    return record_commitment(index, node.ae_title, result.transaction_uid, committed, failed)


def _action(transaction_uid: str, instances: Sequence[tuple[str, str]]) -> Dataset:
    ds = Dataset()
    ds.TransactionUID = transaction_uid
    refs = []
    for sop_class, sop_instance in instances:
        ref = Dataset()
        ref.ReferencedSOPClassUID = sop_class
        ref.ReferencedSOPInstanceUID = sop_instance
        refs.append(ref)
    ds.ReferencedSOPSequence = refs
    return ds


def _reason(item: Dataset) -> str:
    code = item.get("FailureReason")
    if code is None:
        return "failed (no reason given)"
    return f"0x{int(code):04X} {FAILURE_REASONS.get(int(code), 'failure')}"


def _listen(local: Local, waiter: _Waiter) -> ThreadedAssociationServer | None:
    """A server on our port taking the report on a new association; None when the port is
    taken (a `listen` runs there)."""
    ae = application_entity(local)
    ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    ae.add_supported_context(Verification)
    handlers: list[Any] = [
        (evt.EVT_N_EVENT_REPORT, lambda e: waiter.on_report(e, "new association")),
    ]
    try:
        return serve(ae, (local.node.host, local.node.port), handlers)
    except OSError as exc:
        LOGGER.info("port %d taken (%s): the report can only come on the same association",
                    local.node.port, exc.strerror or exc)
        return None
