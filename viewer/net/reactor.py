"""Event-driven wake-ups for pynetdicom's two polling loops.

pynetdicom moves every PDU and every DIMSE message between threads through queues that are
polled: the DUL reactor (one thread per association, PS3.8 state machine) sleeps 1 ms whenever
a turn of its loop found nothing to do, and an acceptor's association reactor sleeps 1 ms before
each look at the DIMSE message queue (pynetdicom's own source says "TODO: try and make this
event based"). Each C-STORE crosses those sleeps several times: the request's last PDU waits for
the DUL's next turn, the complete message for the association reactor's, and the response for
the DUL's again. Profiled here (py-spy, 300 CT images from DCMTK storescu into our Storage SCP),
the DUL thread spent most of its samples in that sleep, and a pass took 1.5 s on top of the
archive's own work against storescp's 0.4 s for everything.

What this module changes, and nothing else:
- `EventDrivenDUL` is pynetdicom's DULServiceProvider whose idle wait is a `select` on the
  association's socket and on a wake-up socket pair instead of a blind sleep: it returns as soon
  as the peer sends a byte or the local user queues a primitive (A-ASSOCIATE, A-RELEASE,
  A-ABORT) or kills the provider. The wait is bounded (IDLE_WAIT_S), so the ARTIM timer and the
  other polled conditions are still seen within 10 ms.
  P-DATA in the data transfer state does not go through the reactor at all: the caller's thread
  sends the P-DATA-TF PDU itself (the state machine's DT-1 does nothing else), under a lock the
  reactor's own sends take too.
- `event_driven_acceptor` gives an acceptor's association reactor the same treatment: it waits
  (at most 1 ms, as before) for the DIMSE message queue to receive a message instead of sleeping.
  The pause protocol of pynetdicom's send_*() methods is untouched: the reactor only learns that
  a message is there and still takes it after its checkpoint, so it never steals a response
  from a caller that paused it.
- A P-DATA-TF PDU received in the data transfer state goes straight to DIMSE from
  `_read_pdu_data` (the state machine's DT-2 does nothing else), without pynetdicom's PDU
  objects and queue crossings, when nothing would see the difference: viewer.net.pdv says when,
  and pins the pynetdicom code that copy stands in for.

Both loops are copies of pynetdicom 3.0's with that one difference (and one fix: when the DUL
loop aborts the association on an exception, a PDU longer than we accept for instance, it
wakes a caller waiting for a DIMSE response, as the state machine's abort actions do);
`pynetdicom_sources_hash` and its test pin the originals, so an upgrade that changes them fails
the test and sends someone here to look again. `install()` makes every association created
afterwards in this process use `EventDrivenDUL` (as `_config.STORE_*` switches, process-wide);
`EventDrivenRequestHandler` is the request handler our servers pass to `ae.make_server`.

Two more things a server needs to say what went wrong with a peer, in one line:
- `EventDrivenDUL.protocol_error` remembers the first protocol error of the connection: an
  invalid or unrecognised PDU (the state machine's Evt19) or the exception that made the loop
  abort (a PDU longer than we accept). pynetdicom only logs these, with tracebacks.
  `peer_aborted`: an A-ABORT PDU arrived (Evt16), known before the connection's EVT_CONN_CLOSE
  (pynetdicom's EVT_ABORTED comes from another thread, before or after it).
- A connection that closes before its association request arrived (a port scan, a health
  check, a peer that gave up) frees its place at once: pynetdicom's acceptor thread waited the
  whole ACSE time-out for a request that could no longer come, and `maximum_associations`
  counted it meanwhile (16 quick connections shut everyone out for 30 s).
- Every accepted connection ends with exactly one EVT_CONN_CLOSE. pynetdicom triggers it from
  the state machine's close actions only; when its loop dies on an exception the association
  ends without it (and a partly received data set stayed behind), so the request handler's
  association thread triggers it itself at its end when nothing else did.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import queue
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Sequence
from typing import Any, cast

import pynetdicom.association
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.dul import LOGGER as DUL_LOGGER
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu import A_ABORT_RQ, P_DATA_TF
from pynetdicom.pdu_primitives import P_DATA
from pynetdicom.transport import RequestHandler

from viewer.net.pdv import decode_p_data

# How long the DUL waits for data or a wake-up before looking at its timers again. Everything
# it must react to at once wakes it; what it polls (the ARTIM timer of association set-up and
# release, Sta13's closing socket) can wait this long. pynetdicom polls every 1 ms: each poll
# takes the GIL from the thread encoding or importing.
IDLE_WAIT_S = 0.01
_P_DATA_TF = 0x04
COALESCE_BYTES = 256 * 1024  # P-DATA-TF PDUs written to the socket in one call, at most


class _WakeUp:
    """A socket pair: `notify()` from any thread makes a `select` on `fileno()` return."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)

    def fileno(self) -> int:
        return self._reader.fileno()

    def notify(self) -> None:
        with contextlib.suppress(OSError):  # full (a wake-up is pending anyway) or closed
            self._writer.send(b"\0")

    def drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._reader.recv(4096):
                pass

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


class _NotifyingQueue(queue.Queue):  # type: ignore[type-arg]
    """A queue that calls `on_put` after each put (queue.Queue's documented `_put` hook)."""

    def __init__(self, on_put: Any) -> None:
        super().__init__()
        self._on_put = on_put

    def _put(self, item: Any) -> None:
        super()._put(item)
        self._on_put()


class _RecordingQueue(queue.Queue):  # type: ignore[type-arg]
    """The state machine's event queue, calling `on_put(event)` for each event put."""

    def __init__(self, on_put: Any) -> None:
        super().__init__()
        self._on_put = on_put

    def _put(self, item: Any) -> None:
        super()._put(item)
        self._on_put(item)


_INVALID_PDU = "Evt19"  # PS3.8 9.2.2: unrecognised or invalid PDU received
_ASSOCIATE_RQ = "Evt6"  # A-ASSOCIATE-RQ PDU received
_ABORT_RECEIVED = "Evt16"  # A-ABORT PDU received
_IDLE = "Sta1"  # no transport connection


class EventDrivenDUL(DULServiceProvider):
    """pynetdicom's DUL service provider, waking on data instead of polling (module docstring).
    `protocol_error`: the first protocol error the peer made on this connection ("" if none);
    `peer_aborted`: the peer sent an A-ABORT."""

    def __init__(self, assoc: Association) -> None:
        super().__init__(assoc)
        self.protocol_error = ""
        self.peer_aborted = False
        self._requested = False  # an A-ASSOCIATE-RQ arrived
        self._send_lock = threading.Lock()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._wake = _WakeUp()
        self.to_provider_queue = _NotifyingQueue(self._wake.notify)
        self.event_queue = _RecordingQueue(self._on_state_machine_event)
        do_action = self.state_machine.do_action

        def do_action_then_look(event: str) -> None:
            do_action(event)
            if (self.state_machine.current_state == _IDLE and not self._requested
                    and assoc.is_acceptor):
                self._requested = True  # wake it once
                # the acceptor waits in receive_pdu for the request; None is what it gets
                # when its wait times out, and it then ends the association (module docstring)
                self.to_user_queue.put(None)  # type: ignore[arg-type]

        self.state_machine.do_action = do_action_then_look  # type: ignore[method-assign]

    def _on_state_machine_event(self, event: str) -> None:
        if event == _ASSOCIATE_RQ:
            self._requested = True
        elif event == _ABORT_RECEIVED:
            self.peer_aborted = True
        elif event == _INVALID_PDU and not self.protocol_error:
            self.protocol_error = "sent an invalid or unrecognised PDU"

    def send_pdu(self, primitive: Any) -> None:
        """P-DATA in the data transfer state is sent from the caller's thread (DT-1, PS3.8
        9.2: Sta6 + P-DATA request -> send P-DATA-TF, stay in Sta6); everything else is queued
        for the state machine, as pynetdicom does. Handing each PDU of a 500 KB data set to the
        reactor thread cost a thread switch per PDU, half the sending time. The PDUs of one
        message are written together, up to COALESCE_BYTES at a time, and always when a last
        fragment (message control header bit 1, PS3.8 E.2) has been added: the peer answers
        only once it has the whole message."""
        if (isinstance(primitive, P_DATA) and self.state_machine.current_state == "Sta6"
                and self.to_provider_queue.empty()):
            pdu = P_DATA_TF(primitive)
            encoded = pdu.encode()
            last = any(pdv[1][:1] and pdv[1][0] & 0x02
                       for pdv in primitive.presentation_data_value_list)
            with self._send_lock:
                self._pending.append(encoded)
                self._pending_bytes += len(encoded)
                if last or self._pending_bytes >= COALESCE_BYTES:
                    self._flush()
            evt.trigger(self.assoc, evt.EVT_PDU_SENT, {"pdu": pdu})
        else:
            super().send_pdu(primitive)

    def send_encoded(self, pdus: Sequence[bytes | bytearray | memoryview]) -> bool:
        """Write P-DATA-TF PDUs already encoded (viewer.net.pdata) from the caller's thread, as
        `send_pdu` does; False, writing nothing, when P-DATA would not go straight to the
        socket (not in Sta6, or primitives wait for the state machine)."""
        if self.state_machine.current_state != "Sta6" or not self.to_provider_queue.empty():
            return False
        with self._send_lock:
            self._flush()
            if self.socket is not None:
                self.socket.send(pdus[0] if len(pdus) == 1 else b"".join(pdus))  # type: ignore[arg-type]
        return True

    def _flush(self) -> None:
        """Write the PDUs waiting in `_pending` (with `_send_lock` held)."""
        if self._pending and self.socket is not None:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self.socket.send(data)
        self._pending.clear()
        self._pending_bytes = 0

    def _send(self, pdu: Any) -> None:
        with self._send_lock:  # the reactor's own PDUs go after P-DATA written before them
            self._flush()
            super()._send(pdu)

    def _read_pdu_data(self) -> None:
        """pynetdicom 3.0's DULServiceProvider._read_pdu_data, handing a P-DATA-TF PDU in Sta6
        straight to DIMSE when nothing would see the difference (viewer.net.pdv)."""
        bytestream = bytearray()
        sock = cast(Any, self.socket)
        try:
            bytestream.extend(sock.recv(6))
        except (OSError, TimeoutError) as exc:
            DUL_LOGGER.error("Connection closed before the entire PDU was received")
            DUL_LOGGER.exception(exc)
            self.event_queue.put("Evt17")
            return
        try:
            pdu_type, _, pdu_length = struct.unpack(">BBL", bytestream)
        except struct.error:
            self.event_queue.put("Evt17")
            return
        if pdu_type not in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07):
            DUL_LOGGER.error(f"Unknown PDU type received '0x{pdu_type:02X}'")
            self.event_queue.put("Evt19")
            return
        try:
            bytestream += sock.recv(pdu_length)
        except (OSError, TimeoutError) as exc:
            DUL_LOGGER.error("Connection closed before the entire PDU was received")
            DUL_LOGGER.exception(exc)
            self.event_queue.put("Evt17")
            return
        if len(bytestream) != 6 + pdu_length:
            DUL_LOGGER.error(
                f"The received PDU is shorter than expected ({len(bytestream)} of "
                f"{6 + pdu_length} bytes received)")
            self.event_queue.put("Evt17")
            return
        if pdu_type == _P_DATA_TF and self._p_data_straight_to_dimse():
            primitive = decode_p_data(bytestream)
            if primitive is not None:
                self.assoc.dimse.receive_primitive(primitive)  # DT-2; stays in Sta6
                return
        try:
            pdu, event = self._decode_pdu(bytestream)
            self.event_queue.put(event)
        except Exception as exc:
            DUL_LOGGER.error("Unable to decode the received PDU data")
            DUL_LOGGER.exception(exc)
            self.event_queue.put("Evt19")
            return
        self._recv_pdu.put(pdu)

    def _p_data_straight_to_dimse(self) -> bool:
        assoc = self.assoc
        return (self.state_machine.current_state == "Sta6" and self.event_queue.empty()
                and self._recv_pdu.empty() and not assoc.get_handlers(evt.EVT_DATA_RECV)
                and not assoc.get_handlers(evt.EVT_PDU_RECV)
                and not assoc.get_handlers(evt.EVT_FSM_TRANSITION))

    def kill_dul(self) -> None:
        super().kill_dul()
        self._wake.notify()

    def _idle_wait(self, timeout: float) -> None:
        """Return when the socket has data, a primitive was queued, or `timeout` passed.
        poll, not select: no limit on descriptor numbers (a viewer holds many files open)."""
        sock = getattr(self.socket, "socket", None)
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return  # decrypted bytes already buffered: poll would not see them
        poller = select.poll()
        poller.register(self._wake, select.POLLIN)
        if sock is not None and getattr(self.socket, "_is_connected", False):
            try:
                poller.register(sock, select.POLLIN)
            except (OSError, ValueError):  # closed meanwhile: the loop's next look says so
                time.sleep(timeout)
                return
        if poller.poll(timeout * 1000):
            self._wake.drain()

    def run_reactor(self) -> None:
        """pynetdicom 3.0's DULServiceProvider.run_reactor with `_idle_wait` for its sleep."""
        try:
            self._run_reactor_loop()
        finally:
            self._wake.close()

    def _run_reactor_loop(self) -> None:
        self._idle_timer.start()
        self.socket = cast(Any, self.socket)
        sleep = False

        while True:
            if not self.assoc._dul_ready.is_set():
                self.assoc._dul_ready.set()
                sleep = True

            if sleep:
                self._idle_wait(IDLE_WAIT_S)

            if self._kill_thread:
                break

            if self.artim_timer.expired:
                self.event_queue.put("Evt18")

            try:
                if self._process_recv_primitive():
                    pass
                elif self._is_transport_event():
                    self._idle_timer.restart()
            except Exception as exc:
                self.protocol_error = self.protocol_error or str(exc) or repr(exc)
                DUL_LOGGER.error("Exception in DUL.run(), aborting association")
                DUL_LOGGER.exception(exc)
                abort_pdu = A_ABORT_RQ()
                abort_pdu.source = 0x02
                abort_pdu.reason_diagnostic = 0x00
                self.socket.send(abort_pdu.encode())
                self.assoc.is_aborted = True
                self.assoc.is_established = False
                self.assoc._kill = True
                self._kill_thread = True
                # not in pynetdicom's loop: wake a caller waiting for a DIMSE response, as the
                # state machine's abort actions (AA-2, AA-3, AA-4) do, instead of letting it
                # wait out the DIMSE time-out for an association that is gone
                self.assoc.dimse.msg_queue.put((None, None))
                return

            try:
                event = self.event_queue.get(block=False)
            except queue.Empty:
                sleep = True
                continue

            self.state_machine.do_action(event)
            sleep = False


def install() -> None:
    """Every association created from now on in this process uses `EventDrivenDUL`."""
    pynetdicom.association.DULServiceProvider = EventDrivenDUL  # type: ignore[misc]


def event_driven_acceptor(assoc: Association) -> None:
    """Make a not yet started acceptor's reactor wait for DIMSE messages instead of sleeping."""
    arrived = threading.Event()
    assoc.dimse.msg_queue = _NotifyingQueue(arrived.set)
    assoc._run_reactor = lambda: _acceptor_reactor(assoc, arrived)  # type: ignore[method-assign]


def _acceptor_reactor(self: Association, arrived: threading.Event) -> None:
    """pynetdicom 3.0's Association._run_reactor, waiting on `arrived` for its sleep."""
    from pynetdicom.association import LOGGER

    self._is_paused = False
    while not self._kill:
        arrived.wait(0.001)
        arrived.clear()  # a message queued from here on is taken below or wakes the next wait

        self._is_paused = True
        self._reactor_checkpoint.wait()
        self._is_paused = False

        context_id, msg = self.dimse.get_msg(block=False)
        if msg:
            self._serve_request(msg, cast(int, context_id))
            if not self.dimse.msg_queue.empty():
                arrived.set()  # pipelined requests: serve the next without waiting

        if self.is_established and self.acse.is_release_requested():
            self.acse.send_release(is_response=True)
            LOGGER.info("Association Released")
            self.is_released = True
            self.is_established = False
            evt.trigger(self, evt.EVT_RELEASED, {})
            self.kill()
            return

        if self.acse.is_aborted():
            log_msg = "Association Aborted"
            if self.acse.is_aborted("a-p-abort"):
                log_msg += " (A-P-ABORT)"
            LOGGER.info(log_msg)
            self.dul.receive_pdu(wait=False)
            self.is_aborted = True
            self.is_established = False
            evt.trigger(self, evt.EVT_ABORTED, {})
            self.kill()
            return

        if not self.dul.is_alive():
            self.kill()
            return

        if self.dul.idle_timer_expired():
            LOGGER.error("Network timeout reached")
            if self.network_timeout_response == "A-RELEASE":
                self._is_paused = True
                self._reactor_checkpoint.wait()
                self.release()
                self._is_paused = False
            else:
                self.abort()

            self.kill()
            return


class EventDrivenRequestHandler(RequestHandler):
    """pynetdicom's request handler whose associations use the event-driven reactor."""

    def _create_association(self) -> Association:
        assoc = super()._create_association()
        event_driven_acceptor(assoc)
        _close_exactly_once(assoc)
        return assoc


def _close_exactly_once(assoc: Association) -> None:
    """Make the association thread trigger EVT_CONN_CLOSE (and close the socket) at its end
    when the state machine did not (module docstring)."""
    closed = threading.Event()
    assoc.bind(evt.EVT_CONN_CLOSE, lambda event: closed.set())
    address = (assoc.requestor.address, assoc.requestor.port)

    def run() -> None:
        try:
            threading.Thread.run(assoc)
        finally:
            if not closed.is_set():
                sock = assoc.dul.socket
                if sock is not None and sock.socket is not None:
                    with contextlib.suppress(OSError):
                        sock.socket.shutdown(socket.SHUT_RDWR)
                    with contextlib.suppress(OSError):
                        sock.socket.close()
                evt.trigger(assoc, evt.EVT_CONN_CLOSE, {"address": address})

    assoc.run = run  # type: ignore[method-assign]


def pynetdicom_sources_hash() -> str:
    """sha256 of the pynetdicom methods this module copies: DULServiceProvider.run_reactor and
    Association._run_reactor."""
    digest = hashlib.sha256()
    for method in (DULServiceProvider.run_reactor, Association._run_reactor):
        digest.update(inspect.getsource(method).encode())
    return digest.hexdigest()
