"""The managed store: UID validation, hashed fan-out paths, atomic writes, preamble zeroing,
disk full (simulated and on a real 1 MiB tmpfs), recovery of an interrupted writer."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from viewer.archive import store as store_module
from viewer.archive.store import (
    TMP_DIR,
    InstanceKey,
    InvalidUID,
    Store,
    StoreWriteError,
    relative_path,
    sha256_of,
    validate_uid,
)

UID = "1.2.826.0.1.3680043.8.498.12345"
STUDY = "1.2.826.0.1.3680043.8.498.1"
SERIES = "1.2.826.0.1.3680043.8.498.1.2"


def key(sop_instance_uid: str) -> InstanceKey:
    """The key of an instance of the one study and series most tests use."""
    return InstanceKey(STUDY, SERIES, sop_instance_uid)


def part_file(preamble: bytes = b"\xab" * 128, body: bytes = b"\x02\x00\x00\x00UL" * 100) -> bytes:
    """Bytes shaped like a PS3.10 file: preamble, "DICM", then anything."""
    return preamble + b"DICM" + body


def temp_files(store: Store) -> list[Path]:
    """Every file under the store's temporary area except work-directory lock files."""
    tmp = store.directory / TMP_DIR
    if not tmp.exists():
        return []
    return [p for p in tmp.rglob("*") if p.is_file() and p.name != "lock"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "archive") as s:
        yield s


@pytest.mark.parametrize("uid", ["0", "1.2", "1.2.840.10008.5.1.4.1.1.2", "2.25.0.10", "1" * 64])
def test_valid_uids(uid: str) -> None:
    assert validate_uid(uid) == uid


@pytest.mark.parametrize(
    ("uid", "reason"),
    [
        ("", "empty"),
        ("1.2/3", "dot-separated"),
        ("../../etc/passwd", "dot-separated"),
        ("1.02.3", "leading zeros"),
        ("1..2", "dot-separated"),
        ("1.2.", "dot-separated"),
        (" 1.2", "dot-separated"),
        ("1.2\x00", "dot-separated"),
        ("1" * 65, "longer than 64"),
    ],
)
def test_invalid_uids_are_refused(uid: str, reason: str, store: Store, tmp_path: Path) -> None:
    with pytest.raises(InvalidUID, match=reason):
        validate_uid(uid)
    source = tmp_path / "f.dcm"
    source.write_bytes(part_file())
    with pytest.raises(InvalidUID):
        store.write(key(uid), source)
    assert list(store.iter_files()) == []


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_path_is_made_of_uid_hashes_with_two_level_fan_out(store: Store, tmp_path: Path) -> None:
    # store/<study bucket>/<series>/<SOP instance>.dcm
    expected = f"store/{sha(STUDY)[:2]}/{sha(SERIES)}/{sha(UID)}.dcm"
    assert relative_path(key(UID)) == expected
    source = tmp_path / "Patient Name^with spaces.dcm"
    source.write_bytes(part_file())
    stored = store.write(key(UID), source)
    assert stored.rel_path == expected
    assert stored.created
    path = store.absolute(stored.rel_path)
    assert path == store.root.joinpath(*expected.split("/"))
    assert path.is_file()
    assert UID not in str(path) and "Patient" not in str(path)
    assert list(store.iter_files()) == [stored.rel_path]


def test_a_series_shares_one_directory(store: Store) -> None:
    paths = [store.write(key(f"1.2.3.{n}"), io.BytesIO(part_file())).rel_path for n in range(5)]
    assert len({p.rsplit("/", 1)[0] for p in paths}) == 1
    other = store.write(InstanceKey(STUDY, "1.2.9", "1.2.9.1"), io.BytesIO(part_file()))
    assert other.rel_path.rsplit("/", 1)[0] not in {p.rsplit("/", 1)[0] for p in paths}


@pytest.mark.parametrize("which", ["study", "series", "sop"])
def test_each_uid_of_the_key_is_validated(which: str, store: Store) -> None:
    uids = {"study": STUDY, "series": SERIES, "sop": UID} | {which: "../x"}
    bad = InstanceKey(uids["study"], uids["series"], uids["sop"])
    named = {"study": "Study", "series": "Series", "sop": "SOP"}[which]
    with pytest.raises(InvalidUID, match=named):
        store.write(bad, io.BytesIO(part_file()))
    assert list(store.iter_files()) == []


def test_removing_the_last_file_of_a_series_removes_its_directory(store: Store) -> None:
    first = store.write(key("1.2.3.1"), io.BytesIO(part_file()))
    second = store.write(key("1.2.3.2"), io.BytesIO(part_file()))
    series_dir = store.absolute(first.rel_path).parent
    assert store.remove(first.rel_path)
    assert series_dir.is_dir()  # the series still holds a file
    assert store.remove(second.rel_path)
    assert not series_dir.exists()
    assert not store.remove(second.rel_path)
    again = store.write(key("1.2.3.1"), io.BytesIO(part_file()))  # the directory comes back
    assert store.absolute(again.rel_path).is_file()


def test_preamble_is_zeroed_and_checksum_is_of_stored_bytes(store: Store, tmp_path: Path) -> None:
    data = part_file(preamble=b"MZ" + b"\x90" * 126)  # a PE header in the preamble
    source = tmp_path / "poly.dcm"
    source.write_bytes(data)
    stored = store.write(key(UID), source)
    written = store.absolute(stored.rel_path).read_bytes()
    assert written == bytes(128) + data[128:]
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(written).hexdigest()
    assert sha256_of(source) == stored.sha256 == store.checksum(stored.rel_path)
    assert source.read_bytes() == data  # the source is not touched


def test_file_without_dicm_prefix_is_copied_unchanged(store: Store) -> None:
    data = b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" * 20  # a bare dataset, no PS3.10 header
    stored = store.write(key(UID), io.BytesIO(data))
    assert store.absolute(stored.rel_path).read_bytes() == data
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


def test_small_file_and_stream_sources(store: Store) -> None:
    stored = store.write(key("1.2.3"), io.BytesIO(b"tiny"))
    assert store.absolute(stored.rel_path).read_bytes() == b"tiny"


def test_existing_file_is_never_overwritten(store: Store, tmp_path: Path) -> None:
    first = store.write(key(UID), io.BytesIO(part_file(body=b"first" * 10)))
    other = part_file(body=b"other content")
    again = store.write(key(UID), io.BytesIO(other))
    assert not again.created
    assert again.rel_path == first.rel_path
    assert again.sha256 == first.sha256 != hashlib.sha256(other).hexdigest()
    assert store.absolute(first.rel_path).read_bytes() == bytes(128) + b"DICM" + b"first" * 10
    assert temp_files(store) == []
    # byte-identical after zeroing the preamble: the caller sees equal checksums
    same = store.write(key(UID), io.BytesIO(part_file(preamble=b"\x01" * 128, body=b"first" * 10)))
    assert not same.created and same.sha256 == first.sha256


class FailingSource(io.RawIOBase):
    """A source that yields some bytes, then fails like a scratched CD."""

    def __init__(self) -> None:
        self.calls = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.calls += 1
        if self.calls > 3:
            raise OSError(errno.EIO, "Input/output error")
        n = min(len(buffer), 1000)
        buffer[:n] = b"D" * n
        return n


def test_source_failing_mid_copy_leaves_nothing(store: Store) -> None:
    with pytest.raises(OSError, match="Input/output") as caught:
        store.write(key(UID), FailingSource())  # type: ignore[arg-type]
    assert not isinstance(caught.value, StoreWriteError)  # a read error, not a store error
    assert not store.absolute(relative_path(key(UID))).exists()
    assert temp_files(store) == []
    assert list(store.iter_files()) == []


def test_disk_full_simulated(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = store.write(key("1.2.3"), io.BytesIO(part_file()))
    real_write = os.write
    written = [0]

    def write(fd: int, data: bytes | memoryview) -> int:
        if written[0] > 3000:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_write(fd, bytes(data[:1000]))  # short writes: the copy loop must finish them
        written[0] += n
        return n

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(StoreWriteError, match=f"disk full while storing SOP Instance {UID}") as e:
        store.write(key(UID), io.BytesIO(part_file(body=b"x" * 10000)))
    monkeypatch.undo()
    assert e.value.errno == errno.ENOSPC
    assert not store.absolute(relative_path(key(UID))).exists()
    assert temp_files(store) == []
    assert list(store.iter_files()) == [kept.rel_path]
    assert store.checksum(kept.rel_path) == kept.sha256


@pytest.fixture
def tiny_filesystem() -> Iterator[Path]:
    """A real 1 MiB tmpfs (needs root and mount); skipped where it cannot be mounted."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux (the simulated test still runs)")
    mount_point = Path(tempfile.mkdtemp(prefix="tiny-store-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        mount_point.rmdir()


def test_disk_full_on_a_real_small_filesystem(tiny_filesystem: Path) -> None:
    store = Store(tiny_filesystem / "archive")
    stored = []
    with pytest.raises(StoreWriteError, match="disk full while storing") as caught:
        for n in range(1, 20):
            body = os.urandom(200_000)
            stored.append((store.write(key(f"1.2.3.{n}"), io.BytesIO(part_file(body=body))), body))
    assert caught.value.errno == errno.ENOSPC
    assert 2 <= len(stored) <= 5  # 1 MiB holds at most five 200 kB files
    failed_uid = f"1.2.3.{len(stored) + 1}"
    assert not store.absolute(relative_path(key(failed_uid))).exists()
    assert temp_files(store) == []
    assert sorted(store.iter_files()) == sorted(s.rel_path for s, _ in stored)
    for s, body in stored:  # earlier files intact
        assert store.absolute(s.rel_path).read_bytes() == bytes(128) + b"DICM" + body
    store.close()


def test_remove_absolute_and_iter_files(store: Store) -> None:
    a = store.write(key("1.2.3"), io.BytesIO(b"a" * 200))
    b = store.write(key("1.2.4"), io.BytesIO(b"b" * 200))
    assert sorted(store.iter_files()) == sorted([a.rel_path, b.rel_path])
    assert store.remove(a.rel_path)
    assert not store.remove(a.rel_path)
    assert list(store.iter_files()) == [b.rel_path]
    (store.directory / "ab").mkdir(exist_ok=True)
    (store.directory / "ab" / "README").write_text("not ours")
    assert list(store.iter_files()) == [b.rel_path]
    for bad in ("../index.sqlite3", "/etc/passwd", "store/../../x.dcm", "store/ab/cd/x.dcm"):
        with pytest.raises(ValueError, match="not a store path"):
            store.absolute(bad)


WRITER = """
import io, sys, time
from pathlib import Path
from viewer.archive.store import Store
store = Store(Path(sys.argv[1]))
work = store._work_dir()
(work / "half-written.part").write_bytes(b"partial")
print("ready", flush=True)
time.sleep(60)
"""


def test_recover_removes_only_dead_writers_temp_files(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    mine = Store(root)
    mine.write(key("1.2.3"), io.BytesIO(b"kept"))  # creates this store's own (live) work dir
    own_part = mine._work_dir() / "in-progress.part"
    own_part.write_bytes(b"x")
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        other = Store(root)
        assert other.recover() == 0  # both writers are alive
        assert own_part.exists()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert other.recover() == 1  # the killed writer's half-written file
        assert own_part.exists()
        assert len(temp_files(other)) == 1
        mine.close()
        assert temp_files(other) == []
        assert other.recover() == 0
        other.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert list(Store(root).iter_files()) == [relative_path(key("1.2.3"))]


def test_recover_on_a_fresh_store(store: Store) -> None:
    assert store.recover() == 0
    assert store_module.STORE_DIR == "store"


def test_threads_racing_on_one_uid_never_overwrite(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    bodies = [part_file(body=bytes([n]) * 300_000) for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda b: store.write(key(UID), io.BytesIO(b)), bodies))
    winners = [r for r in results if r.created]
    assert len(winners) == 1
    stored = store.absolute(winners[0].rel_path).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == winners[0].sha256
    assert all(r.sha256 == winners[0].sha256 for r in results)  # losers see the winner's file
    assert temp_files(store) == []
    assert len(list((store.directory / TMP_DIR).iterdir())) == 1  # one work dir per Store


def test_unnamed_temporary_files_where_the_kernel_has_them(store: Store) -> None:
    stored = store.write(key(UID), io.BytesIO(part_file()))
    if sys.platform.startswith("linux"):
        assert store._unnamed, "O_TMPFILE and linkat through /proc should work on Linux"
    assert [p.name for p in (store.directory / TMP_DIR).rglob("*") if p.is_file()] == ["lock"]
    assert store.checksum(stored.rel_path) == stored.sha256
    again = store.write(key(UID), io.BytesIO(part_file(body=b"other")))
    assert not again.created and again.sha256 == stored.sha256  # never an overwrite


def test_named_temporary_files_where_unnamed_ones_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_unnamed_files_work", lambda work: False)
    with Store(tmp_path / "archive") as named:
        stored = named.write(key(UID), io.BytesIO(part_file()), durable=False)
        assert not named._unnamed
        assert temp_files(named) == []
        data = named.absolute(stored.rel_path).read_bytes()
        assert data[:128] == bytes(128) and hashlib.sha256(data).hexdigest() == stored.sha256


def test_reused_buffer_never_leaks_an_earlier_file(store: Store) -> None:
    """The copy buffer is reused file after file: a short file after a long one holds only its
    own bytes, and a file under 132 bytes is stored as it is (no preamble to zero)."""
    store.write(key("1.1"), io.BytesIO(part_file(body=b"x" * 5000)))
    short = store.write(key("1.2"), io.BytesIO(b"\xab" * 100))
    assert store.absolute(short.rel_path).read_bytes() == b"\xab" * 100
    assert short.size == 100


def received(store: Store, data: bytes, pieces: int = 7) -> store_module.ReceivingFile:
    """`data` written into a new ReceivingFile of `store` in `pieces` writes, as pynetdicom
    writes a data set fragment by fragment."""
    receiving = store.receiving_file()
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        receiving.write(data[start:start + step])
    receiving.file.flush()
    return receiving


def test_a_received_file_is_linked_into_place_not_copied(store: Store) -> None:
    data = part_file(preamble=bytes(128), body=os.urandom(600_000))  # spans write-back steps
    receiving = received(store, data)
    temporary = Path(receiving.name)
    assert temporary.parent.parent == store.directory / TMP_DIR  # in this store's work dir
    inode = temporary.stat().st_ino
    assert store.sha256_of(receiving) == hashlib.sha256(data).hexdigest()
    stored = store.write(key(UID), receiving)
    receiving.close()
    final = store.absolute(stored.rel_path)
    assert final.stat().st_ino == inode  # the received file itself: no copy
    assert final.read_bytes() == data
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.checksum(stored.rel_path) == stored.sha256
    assert not temporary.exists() and temp_files(store) == []


def test_a_received_file_synced_in_the_background_is_stored_durably(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """start_sync's fsync runs on another thread; write(durable=True) waits for that one
    fsync instead of making its own, and close() never closes the file under it."""
    synced: list[tuple[int, str]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append((fd, threading.current_thread().name))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    data = part_file(preamble=bytes(128), body=os.urandom(300_000))
    receiving = received(store, data)
    fd = receiving.fileno()
    receiving.start_sync()
    stored = store.write(key(UID), receiving, durable=True)
    receiving.close()
    assert store.absolute(stored.rel_path).read_bytes() == data
    file_syncs = [name for synced_fd, name in synced if synced_fd == fd]
    assert len(file_syncs) == 1 and file_syncs[0].startswith("received-fsync")
    unused = received(store, data)  # examined, then refused: closed with its fsync started
    unused.start_sync()
    unused.close()
    assert unused.fileno() == -1


def test_a_received_file_of_a_store_opened_by_a_relative_path_is_linked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dicom-viewer --archive ./here listen` copied every received file: tempfile names the
    file absolutely, the work directory was relative, and the two never compared equal."""
    monkeypatch.chdir(tmp_path)
    with Store(Path("relative")) as store:
        receiving = received(store, part_file(preamble=bytes(128)))
        inode = os.stat(receiving.name).st_ino
        stored = store.write(key(UID), receiving)
        receiving.close()
        assert store.absolute(stored.rel_path).stat().st_ino == inode


def test_a_received_file_with_a_preamble_is_copied_with_it_zeroed(store: Store) -> None:
    data = part_file(preamble=b"MZ" + b"\x90" * 126)
    receiving = received(store, data, pieces=40)  # the preamble arrives in several writes
    assert not receiving.preamble_zero
    stored = store.write(key(UID), receiving)
    receiving.close()
    expected = bytes(128) + data[128:]
    assert store.absolute(stored.rel_path).read_bytes() == expected
    assert stored.sha256 == hashlib.sha256(expected).hexdigest()
    assert store.sha256_of(receiving) == stored.sha256


def test_a_received_file_of_another_store_is_copied(store: Store, tmp_path: Path) -> None:
    data = part_file(preamble=bytes(128))
    with Store(tmp_path / "other") as other:
        receiving = received(other, data)
        stored = store.write(key(UID), receiving)
        receiving.close()
        assert Path(receiving.name).exists()  # still the other store's to remove
    assert store.absolute(stored.rel_path).read_bytes() == data


def test_a_received_file_that_failed_to_write_is_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiving = store.receiving_file()
    receiving.write(bytes(128) + b"DICM")

    def full(fd: int, view: memoryview) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_module, "_write_all", full)
    receiving.write(b"\x02\x00" * 100)  # kept, not raised: the transfer goes on
    assert receiving.error is not None and receiving.error.errno == errno.ENOSPC
    assert receiving.size == 132 + 200
    with pytest.raises(StoreWriteError, match=f"disk full while storing SOP Instance {UID}"):
        store.write(key(UID), receiving)
    assert not store.exists(key(UID))
    receiving.close()
    Path(receiving.name).unlink()


def test_a_received_file_meets_an_existing_one(store: Store) -> None:
    first = store.write(key(UID), io.BytesIO(part_file(preamble=bytes(128), body=b"first")))
    receiving = received(store, part_file(preamble=bytes(128), body=b"second"))
    again = store.write(key(UID), receiving)
    receiving.close()
    assert not again.created and again.sha256 == first.sha256  # never overwritten
    assert Path(receiving.name).exists()  # left for its owner to remove
    Path(receiving.name).unlink()


def test_received_files_are_written_on_a_real_small_filesystem(tiny_filesystem: Path) -> None:
    with Store(tiny_filesystem / "archive") as store:
        receiving = received(store, part_file(preamble=bytes(128), body=os.urandom(2 << 20)))
        assert receiving.error is not None and receiving.error.errno == errno.ENOSPC
        with pytest.raises(StoreWriteError, match="disk full while storing") as caught:
            store.write(key(UID), receiving)
        assert caught.value.errno == errno.ENOSPC
        receiving.close()
        Path(receiving.name).unlink()
        assert temp_files(store) == [] and list(store.iter_files()) == []
