"""The Storage SCP under load and faults (issue 15 item 4), every time as a real `listen` process:
16 DCMTK storescu at once; more associations than `[local] max_associations`; a raw socket that
associates and goes silent (freed after `[network] idle_timeout`) or never associates; random
bytes and a malformed A-ASSOCIATE-RQ; a peer that aborts in the middle of a data set's P-DATA.
Each misbehaving peer gives one line on stderr naming it, never a traceback; the server keeps
serving; nothing partial is stored and `check` finds the archive consistent."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, Verification  # type: ignore[attr-defined]

from tests.net.peers import LOOPBACK, free_port
from tests.peers import require_tool
from viewer.dicom.demo import write_ct_series

pytestmark = pytest.mark.timeout(120)

SCP_AE = "FAULTSCP"


@dataclass
class Listener:
    """A running `dicom-viewer listen` process."""

    process: subprocess.Popen[str]
    port: int
    archive: Path

    def stop(self) -> tuple[int, list[str], list[str]]:
        """SIGTERM; (exit code, stdout lines, stderr lines)."""
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out.splitlines(), err.splitlines()

    def alive(self) -> bool:
        return self.process.poll() is None


@contextlib.contextmanager
def listening(tmp_path: Path, *, max_associations: int = 16, idle: float = 60,
              acse: float = 30) -> Iterator[Listener]:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[local]\nae_title = "{SCP_AE}"\nport = {port}\nmax_associations = {max_associations}\n'
        f"\n[network]\nidle_timeout = {idle}\nacse_timeout = {acse}\n", encoding="utf-8")
    archive = tmp_path / "archive"
    process = subprocess.Popen(
        [sys.executable, "-m", "viewer", "--config", str(config), "--archive", str(archive),
         "listen"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert f"listening as {SCP_AE} on 127.0.0.1:{port}" in banner, banner
        yield Listener(process, port, archive)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def storescu(port: int, files: Sequence[Path], aet: str = "MODALITY") -> subprocess.Popen[str]:
    exe = require_tool("storescu", "dcmtk")
    return subprocess.Popen(
        [exe, "-aet", aet, "-aec", SCP_AE, LOOPBACK, str(port), *map(str, files)],
        env={**os.environ, "TCP_NODELAY": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def sent_ok(process: subprocess.Popen[str]) -> None:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err


def check_consistent(archive: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "viewer", "--archive", str(archive), "check"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def imported(out: list[str]) -> set[str]:
    """SOP Instance UIDs `listen` reported imported."""
    return {line.split(": ")[1].split()[0] for line in out if line.endswith(" imported")}


def uid_of(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def no_traceback(err: list[str]) -> None:
    text = "\n".join(err)
    assert "Traceback" not in text and "pynetdicom" not in text and "pydicom" not in text, text


def problems(err: list[str]) -> list[str]:
    """listen's one-line reports about peers (the banner and the final summary left out)."""
    return [line for line in err if line.startswith("dicom-viewer listen: ")]


def associate_rq(called: str, calling: str) -> bytes:
    """An A-ASSOCIATE-RQ PDU (PS3.8 9.3.2) proposing Verification in Implicit VR Little Endian."""
    def item(kind: int, body: bytes) -> bytes:
        return struct.pack(">BBH", kind, 0, len(body)) + body

    context = item(0x20, bytes([1, 0, 0, 0]) + item(0x30, Verification.encode())
                   + item(0x40, b"1.2.840.10008.1.2"))
    user = item(0x50, item(0x51, struct.pack(">L", 16384)) + item(0x52, b"1.2.3.4"))
    body = (struct.pack(">HH", 1, 0) + called.ljust(16).encode() + calling.ljust(16).encode()
            + bytes(32) + item(0x10, b"1.2.840.10008.3.1.1.1") + context + user)
    return struct.pack(">BBL", 0x01, 0, len(body)) + body


def read_until_closed(sock: socket.socket, limit_s: float) -> bytes:
    """Everything the server sends until it closes the connection (within `limit_s`)."""
    sock.settimeout(limit_s)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_sixteen_storescu_at_once(tmp_path: Path) -> None:
    folders = [write_ct_series(tmp_path / f"s{n}", 3, 32, 32, patient_id=f"P{n}")
               for n in range(16)]
    with listening(tmp_path) as scp:
        senders = [storescu(scp.port, files, aet=f"SENDER{n}") for n, files in enumerate(folders)]
        for sender in senders:
            sent_ok(sender)
        code, out, err = scp.stop()
    assert code == 0, err
    assert [line for line in out if not line.endswith(" imported")] == [], err
    assert imported(out) == {uid_of(p) for files in folders for p in files}
    assert len(out) == 48 and problems(err) == [], err
    check_consistent(scp.archive)


def test_more_associations_than_the_maximum(tmp_path: Path) -> None:
    (first, second) = write_ct_series(tmp_path / "ct", 2, 16, 16)
    echoscu = require_tool("echoscu", "dcmtk")
    with listening(tmp_path, max_associations=2) as scp:
        ae = AE(ae_title="HOLDER")
        ae.add_requested_context(CTImageStorage, pydicom.dcmread(first).file_meta.TransferSyntaxUID)
        held = [ae.associate(LOOPBACK, scp.port, ae_title=SCP_AE) for _ in range(2)]
        assert all(assoc.is_established for assoc in held)
        extra = subprocess.run([echoscu, "-v", "-aet", "EXTRA", "-aec", SCP_AE, LOOPBACK,
                                str(scp.port)], capture_output=True, text=True, timeout=30,
                               check=False)
        assert extra.returncode != 0
        said = extra.stdout + extra.stderr
        assert "Rejected Transient" in said and "Local Limit Exceeded" in said, said
        # the two admitted ones complete
        for assoc, image in zip(held, (first, second), strict=True):
            assert assoc.send_c_store(image).Status == 0
            assoc.release()
        ae.shutdown()
        code, out, err = scp.stop()
    assert code == 0
    assert imported(out) == {uid_of(first), uid_of(second)}
    (line,) = problems(err)
    assert line.startswith("dicom-viewer listen: EXTRA@127.0.0.1:"), line
    assert line.endswith("association rejected (rejected transient): local limit exceeded "
                         "(at most 2 associations at once: [local] max_associations)"), line
    no_traceback(err)
    check_consistent(scp.archive)


def test_a_silent_peer_is_freed_after_the_idle_time_out(tmp_path: Path) -> None:
    images = write_ct_series(tmp_path / "ct", 3, 16, 16)
    # the limit counts connections not yet associated too (pynetdicom's active acceptors):
    # the two silent ones and one storescu fit
    with listening(tmp_path, max_associations=3, idle=1.5, acse=1.5) as scp:
        silent = socket.create_connection((LOOPBACK, scp.port))
        silent.sendall(associate_rq(SCP_AE, "SILENT"))
        mute = socket.create_connection((LOOPBACK, scp.port))  # never asks to associate
        started = time.monotonic()
        sent_ok(storescu(scp.port, images))  # served meanwhile
        answer = read_until_closed(silent, 10)
        freed_after = time.monotonic() - started
        assert answer[:1] == b"\x02"  # A-ASSOCIATE-AC ...
        assert b"\x07\x00\x00\x00\x00\x04" in answer  # ... then our A-ABORT
        assert 1.0 < freed_after < 8, freed_after
        assert read_until_closed(mute, 10) == b""
        silent.close()
        mute.close()
        # the slots are free again: three associations at once are admitted
        again = [storescu(scp.port, [image]) for image in images]
        for sender in again:
            sent_ok(sender)
        code, out, err = scp.stop()
    assert code == 0
    assert imported(out) == {uid_of(p) for p in images}
    lines = problems(err)
    assert len(lines) == 2, err
    assert any("SILENT@127.0.0.1:" in line and line.endswith(
        "silent for 1.5 s: association aborted ([network] idle_timeout)") for line in lines)
    assert any(line.endswith("no association request in 1.5 s: connection closed "
                             "([network] acse_timeout)") for line in lines), lines
    no_traceback(err)


def test_a_peer_silent_in_the_middle_of_a_pdu_is_freed(tmp_path: Path) -> None:
    """The idle timer counts only between PDUs: a peer that stopped inside one held its
    association's thread in a read for ever (the place too, until it hung up)."""
    images = write_ct_series(tmp_path / "ct", 2, 16, 16)
    with listening(tmp_path, idle=1.5) as scp:
        with socket.create_connection((LOOPBACK, scp.port)) as stuck:
            stuck.sendall(associate_rq(SCP_AE, "STUCK")[:20])
            started = time.monotonic()
            sent_ok(storescu(scp.port, images))  # served meanwhile
            assert read_until_closed(stuck, 10) == b""
            assert time.monotonic() - started < 8
        code, out, err = scp.stop()
    assert code == 0
    assert imported(out) == {uid_of(p) for p in images}
    (line,) = problems(err)
    assert line.startswith("dicom-viewer listen: 127.0.0.1:"), line
    assert line.endswith("silent for 1.5 s in the middle of a PDU: connection closed "
                         "([network] idle_timeout)"), line
    no_traceback(err)


def test_connections_closed_before_associating_free_their_place_at_once(
    tmp_path: Path
) -> None:
    """A port scan or a health check: connect, close. pynetdicom's acceptor counted each against
    the limit until the ACSE time-out (30 s here), shutting real senders out meanwhile."""
    images = write_ct_series(tmp_path / "ct", 2, 16, 16)
    with listening(tmp_path, max_associations=2, acse=30) as scp:
        for _ in range(6):
            socket.create_connection((LOOPBACK, scp.port)).close()
        time.sleep(0.5)  # the server reads each end of file within its 10 ms idle wait
        senders = [storescu(scp.port, [image]) for image in images]
        for sender in senders:
            sent_ok(sender)
        code, out, err = scp.stop()
    assert code == 0
    assert imported(out) == {uid_of(p) for p in images}
    assert problems(err) == [], err  # a quiet close is no problem


@pytest.mark.parametrize("garbage", [
    random.Random(1).randbytes(4096),
    random.Random(2).randbytes(64),
    b"\x01\x00\x00\x00\x00\x40" + random.Random(3).randbytes(64),  # an A-ASSOCIATE-RQ of noise
    b"\x04\x00\x00\x00\x00\x10" + bytes(16),  # P-DATA-TF before any association
    associate_rq(SCP_AE, "BADPDU")[:-30] + b"\x99" * 30,  # a user item cut into noise
], ids=["random-4k", "random-64", "rq-noise", "pdata-first", "rq-truncated-item"])
def test_garbage_pdus_leave_the_server_serving(tmp_path: Path, garbage: bytes) -> None:
    images = write_ct_series(tmp_path / "ct", 2, 16, 16)
    with listening(tmp_path, acse=2, idle=2) as scp:
        with socket.create_connection((LOOPBACK, scp.port)) as sock:
            sock.sendall(garbage)
            with contextlib.suppress(OSError):
                read_until_closed(sock, 10)
        sent_ok(storescu(scp.port, images))
        assert scp.alive()
        code, out, err = scp.stop()
    assert code == 0
    assert imported(out) == {uid_of(p) for p in images}
    (line,) = problems(err)
    assert line.startswith("dicom-viewer listen: 127.0.0.1:") or "BADPDU@" in line, line
    assert "association aborted" in line or "connection closed" in line, line
    no_traceback(err)
    check_consistent(scp.archive)


A_ABORT_PDU = bytes([0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0])  # PS3.8 9.3.8, source: service user


def abort_mid_data_set(port: int, first: Path, second: Path, silent: bool = False) -> int:
    """Store `first`, then send `second`'s command and part of its data set, then A-ABORT (or,
    `silent`, nothing more until the SCP gives up)."""
    ae = AE(ae_title="ABORTER")
    ae.add_requested_context(CTImageStorage, pydicom.dcmread(first).file_meta.TransferSyntaxUID)
    assoc = ae.associate(LOOPBACK, port, ae_title=SCP_AE, max_pdu=16384)
    assert assoc.is_established
    status = int(assoc.send_c_store(first).Status)
    sock = assoc.dul.socket
    assert sock is not None and sock.socket is not None
    raw = sock.socket
    original = sock.send
    writes = 0

    def cut(data: bytes) -> None:
        nonlocal writes
        writes += 1
        if writes == 3 and not silent:  # the command and one write of the data set went out
            with contextlib.suppress(OSError):
                raw.sendall(A_ABORT_PDU)
                raw.shutdown(socket.SHUT_RDWR)
        if writes < 3:
            original(data)

    sock.send = cut  # type: ignore[method-assign]
    with contextlib.suppress(Exception):
        # silent: no answer comes; the SCP aborts after its idle time-out, which ends the wait
        assoc.send_c_store(second)
    assoc.abort()
    ae.shutdown()
    return status


def test_an_abort_mid_data_set_stores_nothing_of_it(tmp_path: Path) -> None:
    first, second = write_ct_series(tmp_path / "ct", 2, 512, 512)  # ~512 KB each
    (third,) = write_ct_series(tmp_path / "ct3", 1, 16, 16)
    with listening(tmp_path) as scp:
        assert abort_mid_data_set(scp.port, first, second) == 0
        sent_ok(storescu(scp.port, [third]))
        code, out, err = scp.stop()
    assert code == 0
    assert imported(out) == {uid_of(first), uid_of(third)}
    (line,) = problems(err)
    assert "ABORTER@127.0.0.1:" in line, line
    assert line.endswith("the peer aborted the association; a data set was cut off "
                         "mid-transfer: nothing of it stored"), line
    leftovers = [p for p in (scp.archive / "store" / ".tmp").rglob("*")
                 if p.is_file() and p.name != "lock"]
    assert leftovers == []
    no_traceback(err)
    check_consistent(scp.archive)


def test_a_peer_silent_mid_data_set_is_aborted_and_nothing_of_it_stored(tmp_path: Path) -> None:
    first, second = write_ct_series(tmp_path / "ct", 2, 512, 512)
    with listening(tmp_path, idle=1.5) as scp:
        assert abort_mid_data_set(scp.port, first, second, silent=True) == 0
        code, out, err = scp.stop()
    assert code == 0
    assert imported(out) == {uid_of(first)}
    (line,) = problems(err)
    assert line.endswith("silent for 1.5 s: association aborted ([network] idle_timeout); a "
                         "data set was cut off mid-transfer: nothing of it stored"), line
    assert [p for p in (scp.archive / "store" / ".tmp").rglob("*")
            if p.is_file() and p.name != "lock"] == []
    no_traceback(err)
    check_consistent(scp.archive)
