"""The Storage SCP (PS3.4 Annex B): receive C-STOREs from modalities and PACS into the archive.

Every received instance goes through `archive.importer.import_file` (ARCHITECTURE.md, "One
import path"): validated, stored durably and indexed before the C-STORE response is sent, so a
success status means the instance is safe on disk. (The SCP that `retrieve --via move` runs for
itself imports through `archive.deferred.DeferredImport` instead: the PACS keeps its copy, so the
files are made durable and indexed in batches; see viewer.net.retrieve.)

Receiving to a file: pynetdicom's `_config.STORE_RECV_CHUNKED_DATASET` makes the DUL write each
incoming data set, fragment by fragment, into a temporary file that already is a PS3.10 file
(preamble, "DICM", File Meta Information built from the command's SOP class and instance and the
context's transfer syntax, then the data set as received), so a large data set never sits in
memory. That switch is PROCESS-WIDE: `start()` turns it on for every acceptor in this process
(C-GET's storage sub-operations too); their handlers must read the received file
(`receiving.received_data_set`) or `event.dataset` (which reads that file), never
`event.encoded_dataset()`. Our associations receive into the archive's store
(viewer.net.receiving): hashed on arrival, then linked into place without a copy. pynetdicom
removes the file's temporary name after the handler returns; when the peer aborts mid-transfer it
leaves it behind, so `_on_close` removes it. Should the switch be off (someone reset it), the data
set is written to a temporary file inside the archive root.

Statuses (PS3.4 B.2.3, PS3.7 Annex C):
- 0x0000 Success: imported, or a byte-identical copy was already stored.
- 0x0111 Duplicate SOP Instance (failure) for a conflict: another instance with this SOP
  Instance UID and other content is stored. The stored copy is kept and the received one is
  discarded, so a warning (B0xx means "stored, with changes") would tell the sender its data is
  safe when it is not; a failure lets it retry elsewhere or alert someone.
- 0xA700 Refused: Out of Resources when the archive's disk is full (`report.stopped`).
- 0xC000 Error: Cannot understand when the data set cannot be stored: unreadable header, a SOP
  Instance UID that is not a UID ('/', '..', over 64 characters), an unknown transfer syntax,
  pixel data that does not fit. ErrorComment (0000,0902) says why, without patient data.
- 0x0110 Processing failure for anything unexpected (a bug, an I/O error), logged.

Threads: pynetdicom runs each association in its own thread; all of them share one Archive
(`Index` serialises its calls with a lock; `import_file` is thread-safe). The index is
checkpointed (WAL fsynced) when an association ends; stored files are fsynced one by one.

PDU length (PS3.8 §9.3.5): each socket `association.serve` accepts gets `PduLengthGuard`, which
refuses a P-DATA-TF PDU longer than MAX_PDU (other PDUs: longer than 1 MiB): the association is
aborted (A-ABORT) and nothing is stored.

Load and misbehaving peers, all pynetdicom's own mechanisms: at most `[local] max_associations`
associations at once (pynetdicom's `maximum_associations`; one more is rejected-transient with
reason "local-limit-exceeded", PS3.8 §9.3.4); an association whose peer sends nothing for
`[network] idle_timeout` seconds is aborted (its `network_timeout`, the DUL's idle timer, and
the accepted socket's time-out for a peer silent inside a PDU, see `association.serve`); a
connection that sends no association request within `[network] acse_timeout` is closed (the
ARTIM timer), and one that closes before sending it frees its place at once
(`viewer.net.reactor`). Each connection that ends other than by a normal release or a quiet
close before associating gives one line (`on_problem(peer, reason)`, and a WARNING log):
rejected and why, aborted by the peer, silent too long, a protocol error, a data set cut off
(nothing of it stored).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import _config, evt
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import A_ABORT, A_ASSOCIATE, A_P_ABORT
from pynetdicom.transport import ThreadedAssociationServer

from viewer.archive.archive import Archive
from viewer.archive.importer import OTHER_SYNTAX_REASON, ImportReport, import_file
from viewer.archive.retention import RetentionPolicy, enforce_quota
from viewer.archive.store import ReceivingFile
from viewer.config import Node, TlsFiles
from viewer.net.association import (
    Local,
    application_entity,
    serve,
)
from viewer.net.receiving import receive_into, received_data_set
from viewer.net.sop_classes import storage_scp_contexts

LOGGER = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
STATUS_DUPLICATE = 0x0111  # conflict: see the module docstring
STATUS_PROCESSING_FAILURE = 0x0110
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_CANNOT_UNDERSTAND = 0xC000

RECENT = 200  # received instances remembered for `ReceivedLog.recent`
_RECEIVING_PREFIX = ".receiving-"

# how a received file is imported: `import_file` (durable and indexed before the answer), or a
# retrieve's `DeferredImport.add` (the PACS keeps its copy: durable and indexed in batches)
ImportOne = Callable[[Archive, Path | ReceivingFile, str], ImportReport]
# (how it was imported, the calling AE title, the SOP Instance UID)
OnReceived = Callable[[ImportReport, str, str], None]
# (the peer: "AET@host:port" or "host:port", what went wrong): one line
OnProblem = Callable[[str, str], None]


@dataclass(frozen=True)
class Received:
    """One received instance: who sent it, its SOP Instance UID (from the C-STORE request),
    what became of it ("imported", "already present", "conflict", "failed", "disk full"),
    why (empty when imported), and the status we answered."""

    calling_ae: str
    sop_instance_uid: str
    outcome: str
    reason: str
    status: int
    at: float  # time.time() when answered


@dataclass(frozen=True)
class ReceivedSummary:
    """Counts since start, and the last `RECENT` instances, oldest first."""

    counts: dict[str, int]
    associations: int
    recent: tuple[Received, ...]


@dataclass
class ReceivedLog:
    """What the SCP received; thread-safe, read by the CLI and the GUI."""

    limit: int = RECENT
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counts: dict[str, int] = field(default_factory=dict)
    _associations: int = 0
    _recent: deque[Received] = field(default_factory=deque)

    def add(self, item: Received) -> None:
        with self._lock:
            self._counts[item.outcome] = self._counts.get(item.outcome, 0) + 1
            self._recent.append(item)
            while len(self._recent) > self.limit:
                self._recent.popleft()

    def association_ended(self) -> None:
        with self._lock:
            self._associations += 1

    def summary(self) -> ReceivedSummary:
        with self._lock:
            return ReceivedSummary(dict(self._counts), self._associations, tuple(self._recent))


def outcome_of(report: ImportReport) -> tuple[str, str, int]:
    """(outcome, reason, C-STORE status) of one received instance's import report."""
    if report.stopped:
        return "disk full", report.stopped, STATUS_OUT_OF_RESOURCES
    if report.imported:
        return "imported", "", STATUS_SUCCESS
    if report.already_present:
        return "already present", "", STATUS_SUCCESS
    if report.present_other_syntax:  # the same instance: success, as for a byte-identical copy
        return "already present", OTHER_SYNTAX_REASON, STATUS_SUCCESS
    if report.conflicts:
        return "conflict", report.conflicts[0].reason, STATUS_DUPLICATE
    if report.failed:
        return "failed", report.failed[0].reason, STATUS_CANNOT_UNDERSTAND
    return "failed", "nothing was imported", STATUS_PROCESSING_FAILURE


class StorageSCP:
    """A Storage SCP (and Verification SCP) storing into the archive at `archive_root`.

    Listens on `local.node.host` (loopback by default) at `port` (default `local.node.port`;
    0: a free port, see `.port`) as `ae_title` (default `local.node.ae_title`). With `allow`,
    only those nodes may associate: other calling AE titles are rejected (A-ASSOCIATE-RJ,
    "calling AE title not recognised", PS3.8 §9.3.4) and connections from addresses that are
    none of theirs are closed before the association request is read.
    """

    def __init__(
        self,
        archive_root: Path,
        local: Local,
        allow: Sequence[Node] = (),
        port: int | None = None,
        ae_title: str | None = None,
        on_received: OnReceived | None = None,
        import_one: ImportOne = import_file,
        retention: RetentionPolicy | None = None,
        on_problem: OnProblem | None = None,
    ) -> None:
        self.archive_root = Path(archive_root)
        self.local = local
        self.allow = tuple(allow)
        self.ae_title = ae_title or local.node.ae_title
        self._port = local.node.port if port is None else port
        self.on_received = on_received
        self.on_problem = on_problem
        self._import_one = import_one
        self.retention = retention
        self._connections: weakref.WeakKeyDictionary[Association, _Connection] = (
            weakref.WeakKeyDictionary())
        self._connections_lock = threading.Lock()
        self.received = ReceivedLog()
        self._archive: Archive | None = None
        self._server: ThreadedAssociationServer | None = None
        self._allowed_addresses: frozenset[str] = frozenset()

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the archive and start listening (returns at once; associations run in
        threads). Raises OSError when the address cannot be bound."""
        if self._server is not None:
            return
        _config.STORE_RECV_CHUNKED_DATASET = True  # process-wide: see the module docstring
        archive = Archive(self.archive_root, retention=self.retention)
        _remove_stale_receiving(archive.root)
        ae = application_entity(self.local)
        ae.ae_title = self.ae_title
        ae.maximum_associations = self.local.node.max_associations
        ae.network_timeout = self.local.timeouts.idle  # the DUL's idle timer (module docstring)
        # a sender that calls another AE title meant another system: tell it, do not store
        ae.require_called_aet = True
        ae.supported_contexts = storage_scp_contexts()
        receive_into(ae, archive.store)
        if self.allow:
            ae.require_calling_aet = sorted({node.ae_title for node in self.allow})
            self._allowed_addresses = _addresses(self.allow)
        handlers: list[Any] = [
            (evt.EVT_CONN_OPEN, self._on_open),
            (evt.EVT_CONN_CLOSE, self._on_close),
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ACSE_SENT, self._on_acse_sent),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_ECHO, _on_echo),
        ]
        try:
            self._server = serve(
                ae, (self.local.node.host, self._port), handlers,
                _server_tls(self.local.node.tls) if self.local.node.tls else None,
            )
        except BaseException:
            archive.close()
            raise
        self._archive = archive
        LOGGER.info("Storage SCP %s listening on %s:%d", self.ae_title, *self.address)

    def stop(self) -> None:
        """Stop listening, end the associations in progress (aborted) and close the archive."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # also aborts the associations still running
            for assoc in list(server.active_associations):
                assoc.join(10)
        archive, self._archive = self._archive, None
        if archive is not None:
            with contextlib.suppress(Exception):
                archive.index.checkpoint()
            archive.close()

    def __enter__(self) -> StorageSCP:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) we listen on; the actual port once started (also when 0 was asked)."""
        if self._server is not None:
            host, port = self._server.server_address[:2]
            return str(host), int(port)
        return self.local.node.host, self._port

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def archive(self) -> Archive:
        """The archive received instances go to (open while the SCP runs)."""
        if self._archive is None:
            raise RuntimeError("the Storage SCP is not running")
        return self._archive

    # --- handlers (association threads) --------------------------------------------------------

    def _on_open(self, event: evt.Event) -> None:
        """`serve` has prepared the socket (Nagle off, PDU length guard); a peer that is none
        of the allowed nodes is cut off before its association request is read."""
        sock = getattr(event.assoc.dul, "socket", None)
        peer = _peer_host(getattr(event, "address", ""))  # set by pynetdicom for this event
        connection = self._connection(event.assoc)
        if sock is not None and self.allow and peer not in self._allowed_addresses:
            connection.problem = "not an allowed node: connection closed"
            sock.close()

    def _on_requested(self, event: evt.Event) -> None:
        self._connection(event.assoc).requested = True

    def _on_acse_sent(self, event: evt.Event) -> None:
        """Our A-ASSOCIATE-RJ (why we refused) and our A-ABORT (why we gave up)."""
        primitive = getattr(event, "primitive", None)  # set by pynetdicom for this event
        connection = self._connection(event.assoc)
        if isinstance(primitive, A_ASSOCIATE) and primitive.result in (0x01, 0x02):
            reason = (f"association rejected ({primitive.result_str.lower()}): "
                      f"{primitive.reason_str.lower()}")
            if (primitive.result, primitive.result_source, primitive.diagnostic) == _TOO_MANY:
                reason += (f" (at most {self.local.node.max_associations} associations at "
                           "once: [local] max_associations)")
            connection.problem = connection.problem or reason
        elif isinstance(primitive, A_ABORT | A_P_ABORT) and not connection.problem:
            dul = event.assoc.dul
            if dul.idle_timer_expired():
                connection.problem = (f"silent for {self.local.timeouts.idle:g} s: association "
                                      "aborted ([network] idle_timeout)")
            else:
                connection.problem = "association aborted"

    def _connection(self, assoc: Association) -> _Connection:
        with self._connections_lock:
            found = self._connections.get(assoc)
            if found is None:
                found = self._connections[assoc] = _Connection(time.monotonic())
            return found

    def _on_close(self, event: evt.Event) -> None:
        cut_off = _remove_partial_dataset(event.assoc)
        with self._connections_lock:
            connection = self._connections.pop(event.assoc, None) or _Connection(0.0)
        self._report(event.assoc, connection, cut_off)
        self.received.association_ended()
        archive = self._archive
        if archive is not None:
            try:
                archive.index.checkpoint()  # the rows of this association are durable now
                enforce_quota(archive)  # an association is a batch: prune past the quota
            except Exception as exc:  # noqa: BLE001 - a full disk must not kill the server
                LOGGER.warning("checkpoint or prune after an association failed: %r", exc)

    def _report(self, assoc: Association, connection: _Connection, cut_off: bool) -> None:
        """One line for a connection that ended other than by a release or a quiet close."""
        protocol_error = str(getattr(assoc.dul, "protocol_error", "") or "")
        reason = connection.problem
        if not reason and getattr(assoc.dul, "peer_aborted", False):
            reason = "the peer aborted the association"
        if protocol_error and (not reason or reason == "association aborted"):
            reason = f"{protocol_error}: association aborted"
        if not reason and getattr(getattr(assoc.dul.socket, "recv", None), "timed_out", False):
            reason = (f"silent for {self.local.timeouts.idle:g} s in the middle of a PDU: "
                      "connection closed ([network] idle_timeout)")
        if (not reason and not connection.requested
                and time.monotonic() - connection.opened >= self.local.timeouts.acse):
            reason = (f"no association request in {self.local.timeouts.acse:g} s: "
                      "connection closed ([network] acse_timeout)")
        if cut_off:
            reason = (f"{reason or 'connection closed'}; a data set was cut off mid-transfer: "
                      "nothing of it stored")
        if not reason:
            return
        peer = _peer_label(assoc)
        LOGGER.warning("%s: %s", peer, reason)
        if self.on_problem is not None:
            try:
                self.on_problem(peer, reason)
            except Exception as exc:  # noqa: BLE001 - a callback never kills the server
                LOGGER.error("the on_problem callback failed: %r", exc)

    def _on_store(self, event: evt.Event) -> Dataset:
        calling = str(event.assoc.requestor.ae_title).strip()
        sop_instance_uid = str(getattr(event.request, "AffectedSOPInstanceUID", "") or "")
        label = f"{calling}: {sop_instance_uid}"
        try:
            report = self._import(event, label)
            outcome, reason, status = outcome_of(report)
        except Exception as exc:  # one bad data set never kills the server
            # one line; the traceback only for debugging (no tracebacks for users, CLI.md)
            LOGGER.error("receiving %s failed: %r", label, exc)
            LOGGER.debug("receiving %s failed", label, exc_info=True)
            report = ImportReport()
            outcome, reason, status = "failed", f"processing failure: {exc!r}", \
                STATUS_PROCESSING_FAILURE
        self.received.add(Received(calling, sop_instance_uid, outcome, reason, status,
                                   time.time()))
        if self.on_received is not None:
            try:
                self.on_received(report, calling, sop_instance_uid)
            except Exception as exc:  # noqa: BLE001 - a callback never kills the server
                LOGGER.error("the on_received callback failed: %r", exc)
        answer = Dataset()
        answer.Status = status
        if reason:
            answer.ErrorComment = _error_comment(reason, label)
        return answer

    def _import(self, event: evt.Event, label: str) -> ImportReport:
        archive = self.archive
        received = received_data_set(event.request)  # a PS3.10 file written while receiving
        if received is None:
            return self._import_from_memory(archive, event, label)
        if isinstance(received, ReceivingFile) and received.error is not None:
            if received.error.errno in _DISK_FULL:
                return ImportReport(stopped=f"{label}: {received.error.strerror or 'disk full'}")
            raise received.error  # answered as a processing failure
        return self._import_one(archive, received, label)

    def _import_from_memory(self, archive: Archive, event: evt.Event, label: str) -> ImportReport:
        fd, name = tempfile.mkstemp(dir=archive.root, prefix=_RECEIVING_PREFIX, suffix=".dcm")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(event.encoded_dataset(include_meta=True))
            return self._import_one(archive, path, label)
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                return ImportReport(stopped=f"{label}: {exc.strerror or 'disk full'}")
            raise
        finally:
            path.unlink(missing_ok=True)


def _on_echo(event: evt.Event) -> int:
    return STATUS_SUCCESS


_DISK_FULL = {28, 122}  # ENOSPC, EDQUOT


def _error_comment(reason: str, label: str) -> str:
    """ErrorComment (LO: at most 64 characters, no backslash), without the label's AE title."""
    text = reason.replace(label, "").replace("\\", "/").strip(" :")
    return text[:64]


def _remove_partial_dataset(assoc: Association) -> bool:
    """Remove the temporary file of a data set whose transfer was cut off (pynetdicom does it
    only for complete ones); True when there was one."""
    message = getattr(getattr(assoc, "dimse", None), "message", None)
    partial = getattr(message, "_data_set_file", None)
    if partial is None:
        return False
    with contextlib.suppress(OSError):
        partial.close()
    with contextlib.suppress(OSError):
        os.unlink(partial.name)
    LOGGER.info("removed a partially received data set")
    return True


@dataclass
class _Connection:
    """What happened on one accepted connection, for its one line (`StorageSCP._report`)."""

    opened: float  # time.monotonic()
    requested: bool = False  # an A-ASSOCIATE-RQ arrived
    problem: str = ""


# A-ASSOCIATE-RJ (result, source, reason): rejected-transient, service-provider (presentation),
# local-limit-exceeded (PS3.8 §9.3.4, table 9-21)
_TOO_MANY = (0x02, 0x03, 0x02)


def _peer_label(assoc: Association) -> str:
    """"AET@host:port" (the calling AE title once the association request arrived)."""
    requestor = assoc.requestor
    where = f"{requestor.address}:{requestor.port}"
    title = str(requestor.ae_title or "").strip()
    return f"{title}@{where}" if title else where


def _remove_stale_receiving(root: Path) -> None:
    """Temporary files of a receiver that crashed (only written when chunked receiving is off)."""
    for stale in root.glob(f"{_RECEIVING_PREFIX}*"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _peer_host(address: Any) -> str:
    return str(address[0]) if isinstance(address, tuple) else str(address)


def _addresses(nodes: Sequence[Node]) -> frozenset[str]:
    """The IP addresses of `nodes` (resolved once, at start)."""
    found: set[str] = set()
    for node in nodes:
        try:
            infos = socket.getaddrinfo(node.host, None, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            LOGGER.warning("allowed node %s: cannot resolve %s: %s", node.name, node.host, exc)
            continue
        found.update(str(info[4][0]) for info in infos)
    return frozenset(found)


def _server_tls(tls: TlsFiles) -> ssl.SSLContext:
    """Our SCP's TLS context (PS3.15 BCP 195: TLS 1.2 or later; client certificates verified
    against `tls.ca` when one is configured)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tls.ca or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert, tls.key or None)
    context.verify_mode = ssl.CERT_REQUIRED if tls.ca else ssl.CERT_NONE
    return context
