"""viewer.net.reactor: pynetdicom's polling loops made event-driven, and what pins them."""

from __future__ import annotations

import contextlib
import select
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pynetdicom import evt
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from tests.net.peers import LOOPBACK, OUR_AE
from viewer.config import LocalNode, Node
from viewer.dicom.demo import write_ct_series
from viewer.net import reactor
from viewer.net.association import Local, application_entity, associated, serve
from viewer.net.store_scu import send_files

pytestmark = pytest.mark.timeout(120)

# sha256 of pynetdicom 3.0.4's DULServiceProvider.run_reactor and Association._run_reactor, the
# loops viewer.net.reactor copies. When pynetdicom changes them this test fails: compare the
# new loops with the copies, carry the changes over, then update the hash.
PINNED = "ad3c3e0679cc162a7fa86d562ca5bbbab2ccfbec0260062b24827f9dd71e7141"


@contextlib.contextmanager
def echo_scp(ae_title: str, on_echo: Callable[[evt.Event], int]) -> Iterator[Node]:
    """A Verification SCP of ours (`serve`) answering C-ECHO with `on_echo`; yields its node."""
    scp_ae = application_entity(Local(LocalNode(ae_title=ae_title, port=0)))
    scp_ae.add_supported_context(Verification)
    server = serve(scp_ae, (LOOPBACK, 0), [(evt.EVT_C_ECHO, on_echo)])
    try:
        yield Node("SCP", ae_title, LOOPBACK, server.server_address[1], None)
    finally:
        server.shutdown()
        scp_ae.shutdown()


def test_the_copied_pynetdicom_loops_are_the_pinned_ones() -> None:
    assert reactor.pynetdicom_sources_hash() == PINNED


def test_idle_wait_returns_when_woken_not_at_its_timeout() -> None:
    wake = reactor._WakeUp()
    try:
        threading.Timer(0.05, wake.notify).start()
        t0 = time.monotonic()
        ready, _, _ = select.select([wake], [], [], 10.0)
        assert ready and time.monotonic() - t0 < 5.0
        wake.drain()
        ready, _, _ = select.select([wake], [], [], 0)
        assert not ready  # drained: the next wait sleeps again
    finally:
        wake.close()


def test_both_ends_use_the_event_driven_loops_and_answer_many_messages(tmp_path: Path) -> None:
    """Requestor and acceptor run EventDrivenDUL; 200 C-ECHOs over one association all get
    their answers."""
    seen: dict[str, object] = {}

    def on_echo(event: evt.Event) -> int:
        seen["acceptor dul"] = type(event.assoc.dul)
        return 0x0000

    with echo_scp("REACTOR", on_echo) as node:
        local = Local(LocalNode(ae_title=OUR_AE))
        with associated(node, local, [build_context(Verification)]) as assoc:
            assert isinstance(assoc.dul, reactor.EventDrivenDUL)
            statuses = {int(assoc.send_c_echo(msg_id=i + 1).Status) for i in range(200)}
    assert statuses == {0}
    assert seen["acceptor dul"] is reactor.EventDrivenDUL


def test_coalesced_p_data_arrive_whole_and_in_order(tmp_path: Path) -> None:
    """Data sets sent through the direct, coalesced P-DATA path reach a pynetdicom SCP byte for
    byte (PDUs of 16 KiB, so a 512x512 slice is ~33 PDUs written in a few calls)."""
    from pynetdicom.sop_class import CTImageStorage  # type: ignore[attr-defined]

    files = write_ct_series(tmp_path / "ct", 20, 512, 512)
    received: dict[str, bytes] = {}

    def on_store(event: evt.Event) -> int:
        ds = event.dataset
        received[str(ds.SOPInstanceUID)] = ds.PixelData
        return 0x0000

    scp_ae = application_entity(Local(LocalNode(ae_title="REACTOR", port=0)))
    scp_ae.maximum_pdu_size = 16384
    scp_ae.add_supported_context(CTImageStorage, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    server = serve(scp_ae, (LOOPBACK, 0), [(evt.EVT_C_STORE, on_store)])
    try:
        node = Node("SCP", "REACTOR", LOOPBACK, server.server_address[1], None)
        report = send_files(node, Local(LocalNode(ae_title=OUR_AE)), files)
    finally:
        server.shutdown()
        scp_ae.shutdown()
    assert report.ok
    for path in files:
        ds = dcmread(path)
        assert received[str(ds.SOPInstanceUID)] == ds.PixelData


def test_a_pdu_longer_than_we_accept_aborts_our_own_association() -> None:
    """A peer answering with a P-DATA-TF PDU that declares 200 MB (we offered 128 KiB, PS3.8
    9.3.5): our side refuses it before reading the body and the association is aborted,
    instead of buffering whatever length the peer declares."""
    def on_echo(event: evt.Event) -> int:
        raw = event.assoc.dul.socket.socket
        raw.sendall(struct.pack(">BBL", 0x04, 0, 200 * 1024 * 1024) + b"\0" * 64)
        return 0x0000

    with echo_scp("HOSTILE", on_echo) as node, associated(
        node, Local(LocalNode(ae_title=OUR_AE)), [build_context(Verification)]
    ) as assoc:
        t0 = time.monotonic()
        answer = assoc.send_c_echo()
        assert "Status" not in answer  # no answer: the association ended
        assert time.monotonic() - t0 < 10
        assert assoc.is_aborted


def test_state_machine_events_keep_the_send_lock_and_the_pending_pdus() -> None:
    # Regression: the send lock and the coalescing buffer were re-created on every state
    # machine event (a merge put them in the event hook), so a PDU received while another
    # thread was sending swapped the lock under it and dropped PDUs not yet written.
    from pynetdicom import AE
    from pynetdicom.association import Association

    assoc = Association(AE(), "requestor")
    dul = reactor.EventDrivenDUL(assoc)
    lock, pending = dul._send_lock, dul._pending
    pending.append(b"not yet written")
    for event in ("Evt6", "Evt16", "Evt19", "Evt3"):
        dul.event_queue.put(event)
    assert dul._send_lock is lock
    assert dul._pending is pending and pending == [b"not yet written"]
