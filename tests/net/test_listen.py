"""The Storage SCP (issue 6 item 5) and its faults, with DCMTK's storescu / echoscu as the peers
sending to us, plus scripted bad peers (a raw socket, a pynetdicom SCU that aborts)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import CTImageStorage  # type: ignore[attr-defined]

from tests.net.peers import LOOPBACK, OUR_AE, free_port, write_config
from tests.peers import require_tool
from viewer.archive.archive import Archive
from viewer.archive.check import check_archive
from viewer.archive.importer import ImportReport
from viewer.archive.store import ReceivingFile, Store
from viewer.config import LocalNode, Node
from viewer.dicom.demo import write_ct_series
from viewer.net import receiving
from viewer.net.association import Local
from viewer.net.storage_scp import (
    STATUS_CANNOT_UNDERSTAND,
    STATUS_DUPLICATE,
    STATUS_OUT_OF_RESOURCES,
    StorageSCP,
)

pytestmark = pytest.mark.timeout(300)

SENDER = "MODALITY1"


@contextlib.contextmanager
def running_scp(archive: Path, allow: Sequence[Node] = (),
                events: list[tuple[ImportReport, str]] | None = None) -> Iterator[StorageSCP]:
    def on_received(report: ImportReport, calling: str, uid: str) -> None:
        if events is not None:
            events.append((report, calling))

    local = Local(LocalNode(ae_title=OUR_AE, port=0))
    with StorageSCP(archive, local, allow=allow, port=0, on_received=on_received) as scp:
        yield scp


def storescu(scp: StorageSCP, files: Sequence[Path], *extra: str, aet: str = SENDER,
             wait: bool = True) -> subprocess.CompletedProcess[str]:
    exe = require_tool("storescu", "dcmtk")
    env = {**os.environ, "TCP_NODELAY": "1"}
    return subprocess.run(
        [exe, "-aet", aet, "-aec", scp.ae_title, *extra, LOOPBACK, str(scp.port),
         *map(str, files)],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )


def rows_of(archive: Path) -> dict[str, str]:
    """SOP Instance UID -> stored path, from the index, with a consistency check."""
    with Archive(archive) as opened:
        report = check_archive(opened)
        assert report.consistent, report.as_json()
        return {uid: path for uid, path, _ in opened.index.stored_checksums()}


def pixels(path: Path) -> np.ndarray:
    return pydicom.dcmread(path).pixel_array


def test_storescu_study_and_a_jpeg_ls_file_arrive_whole(tmp_path: Path) -> None:
    series = write_ct_series(tmp_path / "ct", 20, 64, 64)
    jls = tmp_path / "jls.dcm"
    subprocess.run([require_tool("dcmcjpls", "dcmtk"), str(series[0]), str(jls)], check=True)
    # a different SOP Instance UID: the same instance re-encoded would be a conflict
    ds = pydicom.dcmread(jls)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(jls)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.JPEGLSLossless
    archive = tmp_path / "archive"
    events: list[tuple[ImportReport, str]] = []
    with running_scp(archive, events=events) as scp:
        done = storescu(scp, series)
        assert done.returncode == 0, done.stderr
        done = storescu(scp, [jls], "-xt")  # -xt: propose JPEG-LS lossless
        assert done.returncode == 0, done.stderr
        summary = scp.received.summary()
        assert summary.counts == {"imported": 21}
        # sending the same files again: already present, still success
        again = storescu(scp, series[:3])
        assert again.returncode == 0, again.stderr
        assert scp.received.summary().counts == {"imported": 21, "already present": 3}
    assert len(events) == 24 and all(calling == SENDER for _, calling in events)
    rows = rows_of(archive)
    assert len(rows) == 21
    for original in [*series, jls]:
        ds = pydicom.dcmread(original, stop_before_pixels=True)
        stored = archive / rows[ds.SOPInstanceUID]
        assert stored.is_file()
        stored_ds = pydicom.dcmread(stored)
        assert stored_ds.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
        np.testing.assert_array_equal(stored_ds.pixel_array, pixels(series[0])
                                      if original == jls else pixels(original))


def test_four_concurrent_storescu_of_100_images(tmp_path: Path) -> None:
    folders = [tmp_path / f"s{n}" for n in range(4)]
    for n, folder in enumerate(folders):
        write_ct_series(folder, 100, 32, 32, patient_id=f"P{n}")
    archive = tmp_path / "archive"
    exe = require_tool("storescu", "dcmtk")
    env = {**os.environ, "TCP_NODELAY": "1"}
    with running_scp(archive) as scp:
        processes = [
            subprocess.Popen([exe, "-aet", f"SENDER{n}", "-aec", scp.ae_title, LOOPBACK,
                              str(scp.port), "+sd", str(folder)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n, folder in enumerate(folders)
        ]
        for process in processes:
            _, err = process.communicate(timeout=240)
            assert process.returncode == 0, err
        assert scp.received.summary().counts == {"imported": 400}
    assert len(rows_of(archive)) == 400
    done = subprocess.run([sys.executable, "-m", "viewer", "--archive", str(archive), "check"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("bad_uid", [
    "1.2.826.0.1.3680043.8.498/../../../../tmp/escaped",
    "1.2.826.0.1.3680043.8.498..5",
    "1.2.826.0.1.3680043.8.498." + "1" * 60,
], ids=["slash", "dotdot", "too-long"])
def test_a_hostile_sop_instance_uid_is_refused(tmp_path: Path, bad_uid: str) -> None:
    (good,) = write_ct_series(tmp_path / "ct", 1, 16, 16)
    ds = pydicom.dcmread(good)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = bad_uid
    bad = tmp_path / "bad.dcm"
    ds.save_as(bad, enforce_file_format=False)
    (other,) = write_ct_series(tmp_path / "ct2", 1, 16, 16)
    archive = tmp_path / "archive"
    events: list[tuple[ImportReport, str]] = []
    before = set(Path("/tmp").iterdir())
    with running_scp(archive, events=events) as scp:
        done = storescu(scp, [bad, other], "-nh", "-v")
        received = scp.received.summary()
    refused = [r for r in received.recent if r.outcome == "failed"]
    assert len(refused) == 1, (received, done.stderr)
    assert refused[0].status == STATUS_CANNOT_UNDERSTAND
    assert "UID" in refused[0].reason
    assert "Received Store Response (Error: CannotUnderstand)" in done.stderr
    assert received.counts == {"failed": 1, "imported": 1}
    rows = rows_of(archive)
    assert list(rows) == [pydicom.dcmread(other).SOPInstanceUID]
    assert not list(tmp_path.rglob("escaped*")) and not Path("/tmp/escaped").exists()
    assert {p for p in Path("/tmp").iterdir() if "escaped" in p.name} <= before
    files = [p for p in archive.rglob("*") if p.is_file()]
    assert all(p.suffix in {".dcm", ".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ""}
               for p in files), files


def test_a_conflict_keeps_the_stored_copy_and_fails(tmp_path: Path) -> None:
    (first,) = write_ct_series(tmp_path / "ct", 1, 16, 16)
    ds = pydicom.dcmread(first)
    ds.PatientComments = "changed content"  # same SOP Instance UID, other bytes
    changed = tmp_path / "changed.dcm"
    ds.save_as(changed)
    archive = tmp_path / "archive"
    with running_scp(archive) as scp:
        assert storescu(scp, [first]).returncode == 0
        storescu(scp, [changed])
        last = scp.received.summary().recent[-1]
    assert (last.outcome, last.status) == ("conflict", STATUS_DUPLICATE)
    rows = rows_of(archive)
    stored = pydicom.dcmread(archive / rows[ds.SOPInstanceUID])
    assert "PatientComments" not in stored


def test_the_same_instance_in_another_syntax_is_already_present(tmp_path: Path) -> None:
    """Issue 15 item 3: pydicom-data's emri_small in RLE after its Explicit VR Little Endian
    twin is the same instance: Success, counted already present, the stored copy kept."""
    from pydicom.data import get_testdata_file

    first, rle = (Path(str(get_testdata_file(n))) for n in ("emri_small.dcm",
                                                             "emri_small_RLE.dcm"))
    archive = tmp_path / "archive"
    with running_scp(archive) as scp:
        assert storescu(scp, [first]).returncode == 0
        assert storescu(scp, [rle], "-xr").returncode == 0  # -xr: sent in RLE, as stored
        last = scp.received.summary().recent[-1]
    assert (last.outcome, last.status) == ("already present", 0x0000)
    assert "another transfer syntax" in last.reason
    (path,) = rows_of(archive).values()
    assert pydicom.dcmread(archive / path).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


def test_a_full_disk_answers_out_of_resources(tmp_path: Path, small_disk: Path) -> None:
    # 256x256 16-bit: ~130 KB a file; 24 (~3.1 MB) do not fit in 2 MiB
    series = write_ct_series(tmp_path / "ct", 24, 256, 256)
    archive = small_disk / "archive"
    with running_scp(archive) as scp:
        done = storescu(scp, series, "-nh", "-v")
        received = scp.received.summary()
        full = [r for r in received.recent if r.outcome == "disk full"]
        assert full and all(r.status == STATUS_OUT_OF_RESOURCES for r in full), received
        assert "Received Store Response (Refused: OutOfResources)" in done.stderr
        imported = received.counts["imported"]
        assert 0 < imported < 24
        assert imported + len(full) == 24
    rows = rows_of(archive)  # consistent: every row has its file, no orphans
    assert len(rows) == imported


def test_echo_and_allow(tmp_path: Path) -> None:
    echoscu = require_tool("echoscu", "dcmtk")
    allowed = Node("CT1", "ALLOWEDCT", LOOPBACK, 104)
    with running_scp(tmp_path / "archive", allow=[allowed]) as scp:
        def echo(aet: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([echoscu, "-aet", aet, "-aec", scp.ae_title, LOOPBACK,
                                   str(scp.port)], capture_output=True, text=True, timeout=60,
                                  check=False)
        assert echo("ALLOWEDCT").returncode == 0
        refused = echo("OTHER")
        assert refused.returncode != 0
        assert "Calling AE Title Not Recognized" in refused.stdout + refused.stderr
        (image,) = write_ct_series(tmp_path / "ct", 1, 16, 16)
        assert storescu(scp, [image], aet="OTHER").returncode != 0
        assert storescu(scp, [image], aet="ALLOWEDCT").returncode == 0
        # calling another AE title than ours: refused, whoever calls
        wrong = subprocess.run([echoscu, "-aet", "ALLOWEDCT", "-aec", "SOMEONEELSE", LOOPBACK,
                                str(scp.port)], capture_output=True, text=True, timeout=60,
                               check=False)
        assert wrong.returncode != 0
        assert "Called AE Title Not Recognized" in wrong.stdout + wrong.stderr
    # a node elsewhere: its AE title is allowed, but not from our address
    far = Node("FAR", "FARCT", "192.0.2.7", 104)
    with running_scp(tmp_path / "archive2", allow=[far]) as scp:
        done = subprocess.run([echoscu, "-aet", "FARCT", "-aec", scp.ae_title, LOOPBACK,
                               str(scp.port)], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode != 0


def _abort_mid_store(port: int, first: Path, second: Path) -> int:
    """Store `first` completely, then send half of `second`'s data set and abort; returns the
    first C-STORE status."""
    ae = AE(ae_title="ABORTER")
    ae.add_requested_context(CTImageStorage, pydicom.dcmread(first).file_meta.TransferSyntaxUID)
    assoc = ae.associate(LOOPBACK, port, ae_title=OUR_AE, max_pdu=16384)
    assert assoc.is_established
    status = assoc.send_c_store(first)
    sent = 0
    original = assoc.dul.socket.send  # type: ignore[union-attr]
    raw = assoc.dul.socket.socket  # type: ignore[union-attr]
    assert raw is not None

    def send_half(data: bytes) -> None:
        nonlocal sent
        sent += 1
        if sent > 2:  # the command and one P-DATA PDU, then the peer goes away
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
            return
        original(data)

    assoc.dul.socket.send = send_half  # type: ignore[union-attr, method-assign]
    with contextlib.suppress(Exception):
        assoc.send_c_store(second)
    assoc.dul.socket.close()  # type: ignore[union-attr]
    assoc.abort()
    ae.shutdown()
    return int(status.Status)


def test_peer_aborts_mid_c_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = write_ct_series(tmp_path / "ct", 2, 512, 512)  # 4 PDUs of 128 KiB each
    temp = tmp_path / "systemp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where pynetdicom receives to
    archive = tmp_path / "archive"
    with running_scp(archive) as scp:
        assert _abort_mid_store(scp.port, first, second) == 0
        deadline = time.monotonic() + 10
        while scp.received.summary().associations < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scp.received.summary().associations == 1
        # the live writer's journal names what it linked into place: not a partial data set
        leftovers = [p for p in (archive / "store" / ".tmp").rglob("*")
                     if p.is_file() and p.name not in ("lock", "journal")]
        assert leftovers == [], "a partial data set was left in the store's work directory"
        # still serving
        (third,) = write_ct_series(tmp_path / "ct3", 1, 16, 16)
        assert storescu(scp, [third]).returncode == 0
    rows = rows_of(archive)
    uids = {pydicom.dcmread(p).SOPInstanceUID for p in (first, second, third)}
    assert set(rows) == uids - {pydicom.dcmread(second).SOPInstanceUID}
    assert list(temp.iterdir()) == [], "a partial data set was left behind"


def test_data_sets_are_received_straight_into_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every data set is written by pynetdicom into a file of the archive's store, and that
    file becomes the stored instance: never the system temporary folder (a tmpfs on many
    systems), never a second copy."""
    series = write_ct_series(tmp_path / "ct", 3, 64, 64)
    inodes: list[int] = []
    real = Store.receiving_file

    def spy(self: Store) -> ReceivingFile:
        made = real(self)
        inodes.append(os.stat(made.name).st_ino)
        return made

    monkeypatch.setattr(Store, "receiving_file", spy)
    monkeypatch.setattr(receiving, "_ORIGINAL", lambda *a, **k: pytest.fail("system temp used"))
    archive = tmp_path / "archive"
    with running_scp(archive) as scp:
        assert storescu(scp, series).returncode == 0
        assert scp.received.summary().counts == {"imported": 3}
    rows = rows_of(archive)
    assert len(inodes) == 3 and len(rows) == 3
    assert set(inodes) == {(archive / path).stat().st_ino for path in rows.values()}
    for path in series:
        sent = pydicom.dcmread(path)
        stored = pydicom.dcmread(archive / rows[sent.SOPInstanceUID])
        assert stored.preamble == bytes(128)
        assert stored.PixelData == sent.PixelData and stored.PatientName == sent.PatientName


def test_a_pdu_far_above_the_negotiated_maximum_aborts(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    aborted = threading.Event()
    with running_scp(archive) as scp:
        ae = AE(ae_title="HUGEPDU")
        ae.add_requested_context(CTImageStorage)
        assoc = ae.associate(LOOPBACK, scp.port, ae_title=OUR_AE,
                             evt_handlers=[(evt.EVT_ABORTED, lambda e: aborted.set())])
        assert assoc.is_established
        raw = assoc.dul.socket.socket  # type: ignore[union-attr]
        assert raw is not None
        # P-DATA-TF declaring 0xFFFFFFF0 bytes, then a little of it
        raw.sendall(struct.pack(">BBL", 0x04, 0, 0xFFFFFFF0) + b"\0" * 4096)
        assert aborted.wait(10), "the SCP did not abort the association"
        ae.shutdown()
        (image,) = write_ct_series(tmp_path / "ct", 1, 16, 16)
        assert storescu(scp, [image]).returncode == 0  # still serving others
    assert len(rows_of(archive)) == 1


def test_a_study_deleted_while_more_of_it_arrives(tmp_path: Path) -> None:
    series = write_ct_series(tmp_path / "ct", 60, 32, 32)
    study_uid = pydicom.dcmread(series[0]).StudyInstanceUID
    archive = tmp_path / "archive"
    with running_scp(archive) as scp:
        assert storescu(scp, series[:10]).returncode == 0
        stop = threading.Event()

        def delete_repeatedly() -> None:
            with Archive(archive, recover=False) as other:
                while not stop.is_set():
                    for path in other.index.delete_study(study_uid):
                        other.store.remove(path)
                    time.sleep(0.01)

        deleter = threading.Thread(target=delete_repeatedly)
        deleter.start()
        try:
            storescu(scp, series[10:50], "-nh")
        finally:
            stop.set()
            deleter.join()
        assert storescu(scp, series[50:]).returncode == 0
        counts = scp.received.summary().counts
        assert sum(counts.values()) == 60
    with Archive(archive) as opened:
        assert check_archive(opened).consistent
        study = opened.index.get_study(study_uid)
        assert study is not None
        rows = opened.index.stored_checksums()
        assert study.number_of_instances == len(rows) >= 10
        (only_series,) = opened.index.series(study_uid)
        assert len(opened.index.instances(only_series.series_instance_uid)) == len(rows)


def test_listen_cli_prints_each_instance_and_stops_on_sigterm(tmp_path: Path) -> None:
    images = write_ct_series(tmp_path / "ct", 3, 16, 16)
    port = free_port()
    config = write_config(tmp_path / "config.toml", {}, local_port=port, local_ae="CLISCP")
    archive = tmp_path / "archive"
    process = subprocess.Popen(
        [sys.executable, "-m", "viewer", "--config", str(config), "--archive", str(archive),
         "listen"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert f"listening as CLISCP on 127.0.0.1:{port}" in banner
        exe = require_tool("storescu", "dcmtk")
        subprocess.run([exe, "-aet", SENDER, "-aec", "CLISCP", LOOPBACK, str(port),
                        *map(str, images)], check=True, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    for line, image in zip(lines, images, strict=True):
        assert line == f"received from {SENDER}: {pydicom.dcmread(image).SOPInstanceUID} imported"
    assert "DEMO" not in out + err  # no patient names


def test_listen_cli_refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "viewer", "--archive", str(tmp_path / "a"), "listen",
             "--port", str(port)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
