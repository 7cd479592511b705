"""Opening associations to configured nodes: one place for our AE title, time-outs, PDU size,
socket tuning, TLS, and for turning every way an association can fail into one line naming the
peer (PeerError).

Socket tuning: pynetdicom leaves Nagle's algorithm on, and against the peer's delayed ACKs every
small PDU waits up to 40 ms (measured here: 300 CT images in 5.3 s instead of 1.4 s). TCP_NODELAY
is set as soon as the connection is open, on both our calls and the associations our SCP
accepts. We offer to receive PDUs of 128 KiB rather than pynetdicom's 16 KiB: fewer PDUs, fewer
round trips through the state machine.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from pynetdicom import AE, _config, evt
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import A_ASSOCIATE
from pynetdicom.presentation import PresentationContext
from pynetdicom.transport import ThreadedAssociationServer

from viewer.config import LocalNode, NetworkTimeouts, Node, TlsFiles
from viewer.net import pdata, reactor

LOGGER = logging.getLogger(__name__)

MAX_PDU = 128 * 1024  # the largest PDU we accept (A-ASSOCIATE Maximum Length)
MAX_OTHER_PDU = 1 << 20  # A-ASSOCIATE-RQ and friends: generous, but bounded
_P_DATA_TF = 0x04


class PeerError(Exception):
    """Talking to a peer failed: `peer` names it ("PACS (ORTHANC@127.0.0.1:4242)"), `reason`
    says what happened, in one line."""

    def __init__(self, peer: str, reason: str) -> None:
        self.peer = peer
        self.reason = reason
        super().__init__(f"{peer}: {reason}")


def describe(node: Node) -> str:
    """How errors name a node: its configured name, and its AE title and address (a
    DICOMweb node: its service root, which never holds credentials)."""
    if node.dicomweb is not None:
        return f"{node.name} ({node.dicomweb.url})"
    return f"{node.name} ({node.ae_title}@{node.host}:{node.port})"


@dataclass(frozen=True)
class Local:
    """Who we are on the network, and how long we wait (from the config)."""

    node: LocalNode = LocalNode()
    timeouts: NetworkTimeouts = NetworkTimeouts()


def application_entity(local: Local) -> AE:
    """A pynetdicom AE with our AE title, time-outs and PDU size; its associations wake on data
    instead of polling (`viewer.net.reactor`) and frame C-STORE messages without pynetdicom's
    per-fragment objects (`viewer.net.pdata`)."""
    reactor.install()
    pdata.install()
    # pynetdicom's "standard" handlers log every PDU and DIMSE message it sends and receives:
    # a tenth of a 300-image send's time, with nobody reading them unless debugging
    _config.LOG_HANDLER_LEVEL = (
        "standard" if logging.getLogger("pynetdicom").isEnabledFor(logging.DEBUG) else "none"
    )
    # pynetdicom prints every C-FIND/C-GET/C-MOVE identifier it sends and receives, converting
    # each element with pydicom on the way, whether or not INFO is logged: an answer's text was
    # then decoded before `viewer.dicom.text` could correct its character set, and a name in
    # bytes invalid for its character set lost its warning (and showed pydicom's text instead)
    _config.LOG_RESPONSE_IDENTIFIERS = False
    _config.LOG_REQUEST_IDENTIFIERS = False
    ae = AE(ae_title=local.node.ae_title)
    ae.connection_timeout = local.timeouts.connect
    ae.acse_timeout = local.timeouts.acse
    ae.dimse_timeout = local.timeouts.dimse
    ae.network_timeout = local.timeouts.network
    ae.maximum_pdu_size = MAX_PDU
    return ae


def serve(
    ae: AE,
    address: tuple[str, int],
    handlers: Sequence[tuple[Any, Any]],
    ssl_context: ssl.SSLContext | None = None,
) -> ThreadedAssociationServer:
    """`ae.start_server(address, block=False, ...)`, with associations whose reactor waits for
    messages instead of polling (`viewer.net.reactor`), whose sockets are prepared as our
    own (`_prepare_socket`) and bounded in time (`_BoundedServer`). Raises OSError when
    `address` cannot be bound."""
    server = ae.make_server(
        address, ssl_context=ssl_context,
        evt_handlers=[(evt.EVT_CONN_OPEN, _prepare_socket), *handlers],
        server_class=_BoundedServer,
        request_handler=reactor.EventDrivenRequestHandler,
    )
    # serve_forever's default poll of 0.5 s is how long shutdown() can wait: a retrieve stops
    # its own SCP at the end
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"SCP@{address[1]}",
                              daemon=True)
    thread.start()
    ae._servers.append(server)  # so that ae.shutdown() stops it, as with ae.start_server
    return server


class _BoundedServer(ThreadedAssociationServer):
    """pynetdicom's threaded server, with two holes closed that let one silent peer hold more
    than its own place:
    - An accepted socket blocks without limit (Python gives it no time-out): a peer that sends
      part of a PDU and then nothing kept the association's thread in `recv` for ever, past the
      idle time-out that only counts between PDUs. Each read or write now gives up after the
      AE's `network_timeout` (our SCP's idle time-out), and the connection is closed.
    - With TLS, pynetdicom's server did the handshake in its accept loop: a peer that connected
      and sent nothing stopped every other caller from being accepted. The handshake now runs
      on the association's own thread, at its first read (OpenSSL starts it there).
    """

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        client, address = cast(socket.socket, self.socket).accept()
        client.settimeout(self.ae.network_timeout)
        if self.ssl_context:
            client = self.ssl_context.wrap_socket(client, server_side=True,
                                                  do_handshake_on_connect=False)
        return client, address


def _prepare_socket(event: evt.Event) -> None:
    """Every association's socket, the ones we request and the ones we accept (`serve`):
    Nagle's algorithm off, the PDU length guard on."""
    set_nodelay(event.assoc)
    sock = getattr(event.assoc.dul, "socket", None)
    if sock is not None:
        PduLengthGuard.install(sock, MAX_PDU)


def set_nodelay(assoc: Association) -> None:
    """Turn Nagle's algorithm off on the association's socket (see the module docstring)."""
    sock = getattr(getattr(assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # the peer hung up meanwhile: the next read says so
            LOGGER.debug("cannot set TCP_NODELAY: %r", exc)


def client_tls(tls: TlsFiles, host: str) -> tuple[ssl.SSLContext, str]:
    """pynetdicom's tls_args for calling `host` (PS3.15 BCP 195: TLS 1.2 or later, the peer's
    certificate verified against `tls.ca` or the system's trust store, our certificate sent
    when configured)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert:
        context.load_cert_chain(tls.cert, tls.key or None)
    return context, host


@contextmanager
def associated(
    node: Node,
    local: Local,
    contexts: Sequence[PresentationContext],
    ext_neg: Sequence[Any] = (),
    handlers: Sequence[tuple[Any, Any]] = (),
) -> Iterator[Association]:
    """An established association with `node` offering `contexts`, released on exit (aborted
    when the block raises). Raises PeerError saying why it could not be established."""
    ae = application_entity(local)
    ae.requested_contexts = list(contexts)
    seen: dict[str, Any] = {}

    def on_open(event: evt.Event) -> None:
        seen["open"] = True
        _prepare_socket(event)

    def on_acse(event: evt.Event) -> None:
        seen["response"] = getattr(event, "primitive", None)  # set by pynetdicom per event

    peer = describe(node)
    try:
        tls_args = client_tls(node.tls, node.host) if node.tls is not None else None
    except (OSError, ssl.SSLError) as exc:
        raise PeerError(peer, f"cannot load the TLS files: {exc}") from None
    with _transport_errors() as transport:
        assoc = ae.associate(
            node.host, node.port, ae_title=node.ae_title, ext_neg=list(ext_neg) or None,
            max_pdu=MAX_PDU,  # associate() ignores ae.maximum_pdu_size for what we receive
            tls_args=tls_args,
            evt_handlers=[(evt.EVT_CONN_OPEN, on_open), (evt.EVT_ACSE_RECV, on_acse), *handlers],
        )
    if not assoc.is_established:
        seen["transport"] = transport
        raise PeerError(peer, _why_not_established(assoc, seen, local))
    settle_before_sends(assoc)
    try:
        yield assoc
    except BaseException:
        assoc.abort()
        raise
    else:
        if assoc.is_established:
            assoc.release()
    finally:
        ae.shutdown()


_SENDS = (
    "send_c_echo", "send_c_find", "send_c_get", "send_c_move", "send_c_store",
    "send_n_action", "send_n_create", "send_n_delete", "send_n_event_report", "send_n_get",
    "send_n_set",
)
_SETTLE_S = 1.0


def settle_before_sends(assoc: Association) -> None:
    """Make back-to-back DIMSE calls safe on this association.

    pynetdicom pauses the association's reactor thread during each send_*() and resumes it
    after. A next call made before that thread has woken finds it still marked paused, sends,
    and the waking reactor then takes the response off the queue as "unexpected" and drops it:
    the call waits out the DIMSE time-out (seen with print's run of N-CREATE/N-SET/N-ACTION,
    and with C-STOREs; pynetdicom issue 875). So each call first waits, at most a second, for
    a resumed reactor to be running again; it then pauses it properly.
    """
    for name in _SENDS:
        method = getattr(assoc, name)
        setattr(assoc, name, _settled(assoc, method))


def _settled(assoc: Association, method: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        checkpoint = assoc._reactor_checkpoint
        deadline = time.monotonic() + _SETTLE_S
        while (checkpoint.is_set() and assoc._is_paused and assoc.is_established
               and time.monotonic() < deadline):
            time.sleep(0.0001)
        return method(*args, **kwargs)

    return call


@contextmanager
def _transport_errors() -> Iterator[list[str]]:
    """What pynetdicom logs while associating: the only place it says why a connection
    failed (a TLS certificate that cannot be verified, a handshake the peer refused)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info and record.exc_info[1] is not None:
                messages.append(str(record.exc_info[1]))
            else:
                messages.append(record.getMessage())

    logger = logging.getLogger("pynetdicom")
    handler = Collect(logging.ERROR)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def _why_not_established(assoc: Association, seen: dict[str, Any], local: Local) -> str:
    response = seen.get("response")
    if assoc.is_rejected and response is not None:
        return (f"association rejected ({response.result_str}, by the {response.source_str}): "
                f"{response.reason_str}")
    tls = [m for m in seen.get("transport", []) if "SSL" in m or "TLS" in m]
    if tls:
        return f"TLS handshake failed: {tls[-1]}"
    if not seen.get("open"):
        return f"cannot connect (refused, unreachable or no answer in {local.timeouts.connect:g} s)"
    if isinstance(response, A_ASSOCIATE) and response.result == 0x00:
        return "the peer accepted none of the presentation contexts offered"
    if assoc.is_aborted:
        return "the peer aborted the association request"
    return f"no answer to the association request in {local.timeouts.acse:g} s"


class PduLengthGuard:
    """Replaces one AssociationSocket's `recv`: remembers each PDU header (the DUL reads the
    6 bytes of type and length first, then the body) and raises before a body longer than
    allowed is read. The DUL's reactor turns the exception into an A-ABORT and ends the
    association. pynetdicom reads whatever length a PDU header declares, without checking it
    against the Maximum Length we negotiated (PS3.8 §9.3.5): a peer declaring 4 GiB would make
    us buffer 4 GiB. Installed on every association, ours (`associated`) and accepted ones.

    It also reads faster: pynetdicom's `recv` gathers a PDU 4 KiB per call (32 Python loop
    turns and copies for a 128 KiB PDU, 9 % of the receiving thread's samples in a profile);
    this one reads into a buffer of the PDU's size with `recv_into`, a few calls per PDU.
    """

    def __init__(self, sock: Any, limit: int) -> None:
        self._sock = sock
        self._limit = limit
        self._header_length = -1
        self._allowed = MAX_OTHER_PDU
        self.timed_out = False  # a read gave up: the peer stopped in the middle of a PDU

    @classmethod
    def install(cls, sock: Any, limit: int) -> None:
        sock.recv = cls(sock, limit)

    def __call__(self, nr_bytes: int) -> bytearray:
        expected, self._header_length = self._header_length, -1
        if expected >= 0 and nr_bytes == expected and nr_bytes > self._allowed:
            raise PduTooLong(f"peer declared a PDU of {nr_bytes} bytes, above the "
                             f"{self._allowed} negotiated")
        data = self._read(nr_bytes)
        if nr_bytes == 6 and len(data) == 6:
            pdu_type, _, length = struct.unpack(">BBL", data)
            self._allowed = self._limit if pdu_type == _P_DATA_TF else MAX_OTHER_PDU
            self._header_length = length
        return data

    def _read(self, nr_bytes: int) -> bytearray:
        """`nr_bytes` bytes, or fewer when the peer closed (as AssociationSocket.recv)."""
        raw = self._sock.socket
        buffer = bytearray(nr_bytes)
        view = memoryview(buffer)
        got = 0
        while got < nr_bytes:
            try:
                count = raw.recv_into(view[got:], nr_bytes - got)
            except TimeoutError:  # the socket's time-out (`_BoundedServer`): the DUL closes
                self.timed_out = True
                raise
            if not count:
                del view
                del buffer[got:]
                break
            got += count
        return buffer


class PduTooLong(Exception):
    """A peer's PDU declares a length above what we negotiated (PS3.8 §9.3.5)."""
