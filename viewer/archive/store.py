"""The managed store: PS3.10 files under `<root>/store`, named only by hashes of their UIDs.

A file's path is `store/<ab>/<sha256 of the Series Instance UID>/<sha256 of the SOP Instance
UID>.dcm`, where `ab` are the first two hex digits of the sha256 of the Study Instance UID: a
two-level fan-out (256 study buckets, then one directory per series). No attribute text ever
reaches the file system, so a hostile UID or name cannot escape the store. Grouping a series in
one directory keeps the files a viewer reads together close on disk, and a new series costs one
directory, not one per file: creating an inode is what dominates storing a file on ext4.

Writes are atomic: the bytes go to a temporary file inside the store (same file system), are
fsynced, then linked to the final name and the directory is fsynced. On Linux the temporary file
is unnamed (O_TMPFILE, named by linkat): a crash leaves the whole file or nothing. Elsewhere it
is a named file, which `recover()` deletes the next time the archive opens. Each `Store` writes
its temporary files in its own work directory, locked while it lives, so that `recover()` in one
process never deletes what a concurrent import in another is still writing. Files are copied
through one reused buffer per thread: read, preamble zeroed, hashed and written in one pass.

A writer also keeps a journal in its work directory (`journal()`, one line per entry; the
importer writes what it links into place, see archive/journal.py). `recover(replay)` hands the
journal of each dead writer to `replay` while it holds that writer's lock, so that two processes
opening the archive at once never both replay one journal, and no live writer's is touched.

A data set received over the network is not copied at all: `receiving_file()` gives the network
layer a `ReceivingFile` in the work directory, hashed as it is written and already on its way to
the disk, and `write()` links that very file into place.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from viewer.archive.workdirs import (
    JOURNAL,
    LOCK,
    RECOVERY_LOCK,
    claimed,
    lock_work_dir,
    owner_alive,
    reap,
    recovery_lock,
)

LOGGER = logging.getLogger(__name__)

STORE_DIR = "store"
TMP_DIR = ".tmp"
_CHUNK = 1 << 20
_PREAMBLE = 128
_MAX_UID = 64
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_REL_PATH = re.compile(rf"{STORE_DIR}/[0-9a-f]{{2}}/[0-9a-f]{{64}}/[0-9a-f]{{64}}\.dcm")
_BUCKET = re.compile(r"[0-9a-f]{2}")
_SERIES = re.compile(r"[0-9a-f]{64}")
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# Hard links unsupported (FAT, some network shares): fall back to check-then-replace.
_NO_LINK = {errno.EPERM, errno.EXDEV, getattr(errno, "ENOTSUP", errno.EPERM), errno.EOPNOTSUPP}

Source = str | os.PathLike[str] | BinaryIO


class InvalidUID(ValueError):
    """A SOP Instance UID that is not a valid UID (PS3.5 §9.1); the message says why."""


class StoreWriteError(OSError):
    """Writing to the store failed (disk full, I/O error); nothing half-written was left.

    `errno` is the underlying error number (ENOSPC for a full disk); `strerror` says what
    happened in words ("disk full while storing SOP Instance ...").
    """


@dataclass(frozen=True)
class StoredFile:
    """A file in the store. `created` is False when the final path already held a file: then
    nothing was written and `size`/`sha256` describe the file already stored, so the caller
    compares checksums to tell a duplicate from a conflict."""

    rel_path: str  # relative to the archive root, '/'-separated
    size: int
    sha256: str  # of the stored bytes (preamble zeroed)
    created: bool = True


def validate_uid(uid: str) -> str:
    """`uid` when it is a valid UID (PS3.5 §9.1: digits and dots, at most 64 characters, no
    leading zero in a component other than '0'); raises InvalidUID naming the reason."""
    if not uid:
        raise InvalidUID("empty UID")
    if len(uid) > _MAX_UID:
        raise InvalidUID(f"UID longer than {_MAX_UID} characters ({len(uid)})")
    if not _UID.fullmatch(uid):
        raise InvalidUID("UID is not dot-separated numbers without leading zeros (PS3.5 9.1)")
    return uid


@dataclass(frozen=True)
class InstanceKey:
    """The UIDs that place an instance in the store."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str

    def validated(self) -> InstanceKey:
        """This key when all three UIDs are valid; raises InvalidUID naming the bad one."""
        for what, uid in (
            ("Study Instance UID", self.study_instance_uid),
            ("Series Instance UID", self.series_instance_uid),
            ("SOP Instance UID", self.sop_instance_uid),
        ):
            try:
                validate_uid(uid)
            except InvalidUID as exc:
                raise InvalidUID(f"{what}: {exc}") from None
        return self


def relative_path(key: InstanceKey) -> str:
    """The store path of the instance `key`, relative to the archive root (raises InvalidUID)."""
    key.validated()
    study = _digest(key.study_instance_uid)
    series = _digest(key.series_instance_uid)
    return f"{STORE_DIR}/{study[:2]}/{series}/{_digest(key.sop_instance_uid)}.dcm"


def _digest(uid: str) -> str:
    return hashlib.sha256(uid.encode("ascii")).hexdigest()


def sha256_of(source: Source) -> str:
    """The sha256 hex digest of `source` as the store would hold it (preamble zeroed)."""
    digest = hashlib.sha256()
    with _opened(source) as stream:
        for block in _zeroed_blocks(stream):
            digest.update(block)
    return digest.hexdigest()


_buffers = threading.local()


def _buffer() -> memoryview:
    """This thread's copy buffer, reused file after file. A new 1 MiB bytes object per file
    (and a second one to zero the preamble) cost the import workers more system time than the
    copy itself: fresh memory for every file."""
    view: memoryview | None = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(_CHUNK))
    return view


def _zeroed_blocks(stream: BinaryIO) -> Iterator[memoryview]:
    """The bytes of `stream` with the 128-byte preamble zeroed when bytes 128..131 are "DICM",
    read block by block into this thread's buffer: each block is a view that the next one
    overwrites, so use it (hash, write) before asking for the next.

    PS3.10 §7.5: the preamble's content is application-defined and may carry anything (even an
    executable, as in the PEDICOM polyglots); the store keeps none of it.
    """
    buffer = _buffer()
    size = _fill(stream, buffer)  # a whole file, usually: one read, one write
    if size >= _PREAMBLE + 4 and buffer[_PREAMBLE:_PREAMBLE + 4] == b"DICM":
        buffer[:_PREAMBLE] = bytes(_PREAMBLE)
    while size:
        yield buffer[:size]
        size = _fill(stream, buffer)


def _fill(stream: BinaryIO, buffer: memoryview) -> int:
    """Read into `buffer` until it is full or the stream ends; the bytes read."""
    readinto = getattr(stream, "readinto", None)
    filled = 0
    while filled < len(buffer):
        if readinto is not None:
            count = readinto(buffer[filled:]) or 0
        else:
            part = stream.read(len(buffer) - filled)
            count = len(part)
            buffer[filled:filled + count] = part
        if count == 0:
            break
        filled += count
    return filled


class ReceivingFile:
    """A data set being received over the network straight into a store's work directory
    (`Store.receiving_file`): written piece by piece, hashed as it is written, its write-back
    started every WRITE_BACK_STEP bytes, so that `Store.write` links it into place instead of
    copying it, and the fsync before the answer finds little left to write.

    File-like for pynetdicom (`write`, `flush`, `close`, `name`, `file`) and path-like (its
    temporary name, for reading the header). A write that fails (a full disk) is kept in `error`
    instead of raised: the transfer then completes and the receiver answers Out of Resources,
    where an exception would abort the association in the middle of a message.
    """

    WRITE_BACK_STEP = 256 << 10

    def __init__(self, fd: int, path: Path) -> None:
        self.name = str(path)
        self.file = self  # pynetdicom flushes `.file` after each fragment
        self.error: OSError | None = None
        self._fd = fd
        self._digest = hashlib.sha256()
        self._size = 0
        self._written_back = 0
        self._preamble_zero = True
        self._synced: Future[None] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        if self._size < _PREAMBLE and any(view[:_PREAMBLE - self._size]):
            self._preamble_zero = False  # the store keeps no preamble: `write` will copy
        if self.error is None:
            try:
                _write_all(self._fd, view)
            except OSError as exc:
                self.error = exc
        self._digest.update(view)
        self._size += len(view)
        if self.error is None and self._size - self._written_back >= self.WRITE_BACK_STEP:
            _start_write_back(self._fd, self._written_back, self._size - self._written_back)
            self._written_back = self._size
        return len(view)

    def flush(self) -> None:
        """Nothing to do: every write goes straight to the kernel."""

    def start_sync(self) -> None:
        """Start the fsync of the received bytes on another thread, so that the caller can
        examine the header meanwhile (the fsync releases the GIL); `sync` waits for it."""
        if self._synced is None and self._fd >= 0 and self.error is None:
            self._synced = _background_syncs().submit(os.fsync, self._fd)

    def sync(self) -> None:
        """Make the received bytes durable: fsync now, or wait for the one `start_sync` began
        (raising its OSError)."""
        if self._synced is None:
            os.fsync(self._fd)
        else:
            self._synced.result()

    def close(self) -> None:
        if self._synced is not None:  # never close the fd under a running fsync
            self._synced.exception()  # waits; its error, if any, was `sync`'s to raise
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def fileno(self) -> int:
        return self._fd

    def __fspath__(self) -> str:
        return self.name

    @property
    def size(self) -> int:
        return self._size

    @property
    def sha256(self) -> str:
        """The digest of the bytes received (the stored bytes when `preamble_zero`)."""
        return self._digest.hexdigest()

    @property
    def preamble_zero(self) -> bool:
        return self._preamble_zero


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view):]


_SYNC_FILE_RANGE_WRITE = 2


def _start_write_back(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a range to disk now, without waiting for it (Linux's
    sync_file_range; elsewhere nothing: the fsync does it all)."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


class Store:
    """The managed file store under `root/store` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        # absolute: tempfile names its files absolutely, and `write` adopts a ReceivingFile
        # only when its folder is this store's work directory (a relative --archive made every
        # received file a copy)
        self.root = Path(os.path.abspath(root))
        self.directory = self.root / STORE_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self._work: Path | None = None
        self._lock_fd: int | None = None
        self._work_lock = threading.Lock()  # SCP association threads share one Store
        self._unnamed = False  # temporary files are O_TMPFILE (set with the work directory)
        self._journal_fd: int | None = None
        self._journal_lines = 0

    @staticmethod
    def sha256_of(source: Source) -> str:
        """`sha256_of`, without reading a received file again."""
        if isinstance(source, ReceivingFile) and source.preamble_zero and source.error is None:
            return source.sha256
        return sha256_of(source)

    def receiving_file(self) -> ReceivingFile:
        """A new named file in this store's work directory for a data set being received (see
        ReceivingFile); `write()` adopts it. Its name is removed by whoever closes it after
        use; a crash leaves it to `recover()`."""
        return ReceivingFile(*self._named_temp(self._work_dir()))

    def absolute(self, rel_path: str) -> Path:
        """The absolute path of a store path; refuses anything that is not a store path, so a
        tampered index cannot point outside the store."""
        if not _REL_PATH.fullmatch(rel_path):
            raise ValueError(f"not a store path: {rel_path!r}")
        return self.root.joinpath(*rel_path.split("/"))

    def exists(self, key: InstanceKey) -> bool:
        return self.absolute(relative_path(key)).exists()

    def checksum(self, rel_path: str) -> str:
        """The sha256 of a stored file's bytes."""
        return sha256_of(self.absolute(rel_path))

    def write(self, key: InstanceKey, source: Source, durable: bool = True) -> StoredFile:
        """Store `source` (a path or a binary stream) as the instance `key`, atomically.

        `durable=False` skips the fsyncs of this file and its directories: a batch import writes
        many files, then makes them all durable with one `sync()` before indexing any of them.

        Never overwrites: when the final path exists, returns its StoredFile with
        created=False. Raises InvalidUID, StoreWriteError (temporary file removed), or whatever
        reading `source` raised (temporary file removed).

        Where the file system has O_TMPFILE (Linux), the temporary file has no name at all until
        it is linked into place: a crash leaves nothing to clean up, and there is no temporary
        name to create and unlink per file. A `ReceivingFile` of this store is linked into
        place as it is (no copy) when its preamble is zero and nothing failed writing it.
        """
        rel_path = relative_path(key)
        sop_instance_uid = key.sop_instance_uid
        final = self.absolute(rel_path)
        if final.exists():
            return self._already_stored(rel_path)
        if isinstance(source, ReceivingFile):
            if source.error is not None:
                raise _write_error(source.error, sop_instance_uid)
            if source.preamble_zero and Path(source.name).parent == self._work:
                return self._adopt(rel_path, final, source, sop_instance_uid, durable)
        try:
            fd, tmp = self._open_temp()
        except OSError as exc:
            raise _write_error(exc, sop_instance_uid) from exc
        try:
            try:
                with _opened(source) as stream:
                    size, digest = _copy(stream, fd, sop_instance_uid)
                if durable:
                    os.fsync(fd)
                if tmp is None:
                    linked = self._link_open(fd, final, sop_instance_uid, durable)
            finally:
                os.close(fd)
            if tmp is not None:
                linked = self._link(tmp, final, sop_instance_uid, durable)
        except BaseException:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise
        if not linked:  # another writer stored this UID meanwhile
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            return self._already_stored(rel_path)
        LOGGER.debug("stored %s (%d bytes)", rel_path, size)
        return StoredFile(rel_path, size, digest)

    def remove(self, rel_path: str) -> bool:
        """Delete a stored file, and its series directory when that became empty; False when
        the file was not there."""
        path = self.absolute(rel_path)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        try:
            path.parent.rmdir()
        except OSError:  # not empty (the usual case), or removed meanwhile
            _fsync_dir(path.parent)
        else:
            _fsync_dir(path.parent.parent)
        return True

    def iter_files(self) -> Iterator[str]:
        """Every stored file's relative path (for `check --repair`), in no particular order."""
        for first in _subdirs(self.directory, _BUCKET):
            for second in _subdirs(first, _SERIES):
                with os.scandir(second) as entries:
                    for entry in entries:
                        rel = f"{STORE_DIR}/{first.name}/{second.name}/{entry.name}"
                        if entry.is_file(follow_symlinks=False) and _REL_PATH.fullmatch(rel):
                            yield rel

    def recover(self, replay: Callable[[Path], None] | None = None) -> int:
        """Delete the work directories left by dead writers; returns how many temporary files
        they held. Before a directory goes, `replay(its journal)` runs (when it has one) while
        this process holds the dead writer's lock; when `replay` raises, the directory stays for
        the next opening and the exception propagates.

        Work directories of live writers (this one or another process's), and those another
        process is recovering right now, are left alone. Only `store/.tmp` is read: opening a
        large archive does not walk the store.
        """
        tmp_root = self.directory / TMP_DIR
        if not tmp_root.is_dir():
            return 0
        # One recoverer at a time: a second process opening the archive meanwhile waits here
        # instead of taking the held lock of a directory being recovered for a live writer's
        # and reading an index that does not have those rows yet.
        with recovery_lock(self.directory / RECOVERY_LOCK):
            removed = self._recover(tmp_root, replay)
        if removed:
            LOGGER.info("removed %d temporary file(s) left by an interrupted import", removed)
        return removed

    def _recover(self, tmp_root: Path, replay: Callable[[Path], None] | None) -> int:
        removed = 0
        with os.scandir(tmp_root) as entries:
            for entry in entries:
                path = Path(entry.path)
                if path == self._work:
                    continue
                if not entry.is_dir(follow_symlinks=False):  # nothing is written here: stray
                    path.unlink(missing_ok=True)
                    removed += 1
                    continue
                with claimed(path) as dead:
                    if not dead:
                        continue
                    journal = path / JOURNAL
                    if replay is not None and journal.is_file():
                        replay(journal)
                    removed += reap(path)
        return removed

    def journal(self, line: str) -> None:
        """Append `line` (no newline in it) to this writer's journal, in its work directory.
        Not fsynced: the batch's `sync()` (or the caller) makes it durable with the files; a
        killed process's writes are in the page cache already. Thread-safe."""
        data = memoryview(f"{line}\n".encode())
        with self._work_lock:
            if self._journal_fd is None:
                work = self._work or self._make_work_dir()
                self._journal_fd = os.open(
                    work / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
                )
            _write_all(self._journal_fd, data)
            self._journal_lines += 1

    @property
    def journal_lines(self) -> int:
        """Lines in this writer's journal (to know when it is worth compacting)."""
        return self._journal_lines

    def compact_journal(self, keep: Callable[[list[str]], list[str]]) -> None:
        """Replace this writer's journal by `keep(its lines)` (what is still worth replaying),
        atomically; appends wait meanwhile, so no line is lost."""
        with self._work_lock:
            if self._journal_fd is None or self._work is None:
                return
            journal = self._work / JOURNAL
            lines = journal.read_text(encoding="utf-8").splitlines()
            kept = keep(lines)
            fresh = self._work / f"{JOURNAL}.new"
            fresh.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
            os.replace(fresh, journal)
            os.close(self._journal_fd)
            self._journal_fd = os.open(journal, os.O_WRONLY | os.O_APPEND)
            self._journal_lines = len(kept)

    def leftover_temp_files(self) -> list[str]:
        """Temporary files of dead writers (what `recover()` would delete), relative to the
        archive root; live writers' work directories are not counted."""
        tmp_root = self.directory / TMP_DIR
        if not tmp_root.is_dir():
            return []
        found: list[Path] = []
        with os.scandir(tmp_root) as entries:
            for entry in entries:
                path = Path(entry.path)
                if not entry.is_dir(follow_symlinks=False):
                    found.append(path)  # nothing is written directly there: a stray file
                elif path != self._work and not owner_alive(path):
                    found.extend(p for p in path.iterdir() if p.name != LOCK)
        return sorted(p.relative_to(self.root).as_posix() for p in found)

    def close(self) -> None:
        """Release and remove this store's work directory."""
        with self._work_lock:
            self._close()

    def _close(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _adopt(
        self, rel_path: str, final: Path, received: ReceivingFile, uid: str, durable: bool
    ) -> StoredFile:
        """Give a received file of this store its final name (it loses its temporary one)."""
        if durable:
            try:
                received.sync()
            except OSError as exc:
                raise _write_error(exc, uid) from exc
        if not self._link(Path(received.name), final, uid, durable):
            return self._already_stored(rel_path)  # another writer stored this UID meanwhile
        LOGGER.debug("stored %s (%d bytes, as received)", rel_path, received.size)
        return StoredFile(rel_path, received.size, received.sha256)

    def _already_stored(self, rel_path: str) -> StoredFile:
        path = self.absolute(rel_path)
        return StoredFile(rel_path, path.stat().st_size, sha256_of(path), created=False)

    def _work_dir(self) -> Path:
        with self._work_lock:
            return self._work or self._make_work_dir()

    def _make_work_dir(self) -> Path:
        if self._work is None:
            tmp_root = self.directory / TMP_DIR
            tmp_root.mkdir(exist_ok=True)
            work = Path(tempfile.mkdtemp(dir=tmp_root, prefix="w-"))
            self._work, self._lock_fd = work, lock_work_dir(work)
            self._unnamed = _unnamed_files_work(work)
        return self._work

    def _open_temp(self) -> tuple[int, Path | None]:
        """A new temporary file for writing: (fd, None) when it is unnamed (O_TMPFILE, linked
        into place by `_link_open`), else (fd, its path in the work directory)."""
        work = self._work_dir()
        if self._unnamed:
            return os.open(work, _O_TMPFILE | os.O_WRONLY, 0o600), None
        return self._named_temp(work)

    @staticmethod
    def _named_temp(work: Path) -> tuple[int, Path]:
        """A new named temporary file in the work directory `work`: (fd, path)."""
        fd, name = tempfile.mkstemp(dir=work, suffix=".part")
        return fd, Path(name)

    def _link_open(self, fd: int, final: Path, uid: str, durable: bool) -> bool:
        """Give the unnamed file `fd` (fsynced when `durable`) its final name; False when that
        name exists (linkat fails atomically then: never an overwrite)."""
        try:
            _link_into(self.directory, final, durable, lambda name: _link_unnamed(fd, name))
        except FileExistsError:
            return False
        except OSError as exc:
            raise _write_error(exc, uid) from exc
        if durable:
            try:
                _fsync_dir(final.parent)
            except OSError as exc:  # failed means not stored: take back the name we gave
                final.unlink(missing_ok=True)
                raise _write_error(exc, uid) from exc
        return True

    def sync(self) -> None:
        """Make every file written with durable=False durable, directories included (syncfs of
        the store's file system: one call for a whole batch instead of three fsyncs a file)."""
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            if _syncfs(fd) != 0:
                err = ctypes.get_errno()
                reason = f"cannot make the stored files durable: {os.strerror(err)}"
                raise StoreWriteError(err, reason)
        finally:
            os.close(fd)

    def _link(self, tmp: Path, final: Path, uid: str, durable: bool = True) -> bool:
        """Give the fsynced temporary file its final name; False when that name exists.

        os.link fails atomically when the name exists, so two imports storing the same UID at
        once cannot overwrite each other (os.replace would, silently).
        """
        placed = False
        try:
            try:
                _link_into(self.directory, final, durable, lambda name: os.link(tmp, name))
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
                if final.exists():
                    return False
                os.replace(tmp, final)
                placed = True
            else:
                placed = True
                tmp.unlink()
            if durable:
                _fsync_dir(final.parent)
        except OSError as exc:
            if placed:  # failed means not stored: take back the name we gave
                final.unlink(missing_ok=True)
            raise _write_error(exc, uid) from exc
        return True


def _write_error(exc: OSError, uid: str) -> StoreWriteError:
    if exc.errno in _DISK_FULL:
        what = "disk full while storing"
    else:
        what = "cannot write to the store while storing"
    reason = f"{what} SOP Instance {uid} ({exc.strerror or exc})"
    return StoreWriteError(exc.errno or errno.EIO, reason)


def _copy(stream: BinaryIO, fd: int, uid: str) -> tuple[int, str]:
    """Copy `stream` to `fd` with the preamble zeroed; (bytes written, sha256 hex)."""
    digest = hashlib.sha256()
    size = 0
    for block in _zeroed_blocks(stream):
        digest.update(block)
        try:
            _write_all(fd, block)
        except OSError as exc:
            raise _write_error(exc, uid) from exc
        size += len(block)
    return size, digest.hexdigest()


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb", buffering=0) as stream:  # reads straight into our buffer
            yield stream  # type: ignore[misc]
    else:
        yield source


def _subdirs(path: Path, name: re.Pattern[str]) -> Iterator[Path]:
    with os.scandir(path) as entries:
        dirs = [
            Path(e.path) for e in entries
            if e.is_dir(follow_symlinks=False) and name.fullmatch(e.name)
        ]
    yield from dirs


def _link_into(top: Path, final: Path, durable: bool, link: Callable[[Path], None]) -> None:
    """`link(final)` (a hard link of the temporary file), creating the directories first; once
    more when a concurrent `remove()` took the (then empty) series directory away between the
    two."""
    for attempt in (1, 2):
        _make_dirs(top, final.parent, durable)
        try:
            link(final)
            return
        except FileNotFoundError:
            if attempt == 2:
                raise


def _make_dirs(top: Path, path: Path, durable: bool = True) -> None:
    """Create `path` below `top`, fsyncing the parent of each new directory so that a new
    fan-out directory survives a power loss together with the file linked into it."""
    missing: list[Path] = []
    while path != top and not path.is_dir():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue  # a concurrent writer made it
        if durable:
            _fsync_dir(directory.parent)


_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_AT_FDCWD = -100
_AT_SYMLINK_FOLLOW = 0x400


def _link_unnamed(fd: int, final: Path) -> None:
    """linkat(AT_FDCWD, "/proc/self/fd/<fd>", AT_FDCWD, final, AT_SYMLINK_FOLLOW): the way
    open(2) documents for naming an O_TMPFILE file (AT_EMPTY_PATH would need a capability).
    os.link() calls plain link(2) here, which does not follow the /proc symlink."""
    if _libc is None:
        raise OSError(errno.ENOSYS, "no libc")
    src = f"/proc/self/fd/{fd}".encode()
    if _libc.linkat(_AT_FDCWD, src, _AT_FDCWD, os.fsencode(final), _AT_SYMLINK_FOLLOW) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(final))


def _unnamed_files_work(work: Path) -> bool:
    """Whether O_TMPFILE files can be made in `work` and linked into place (tried once per
    store: the kernel, the file system and a mounted /proc must all allow it)."""
    if not _O_TMPFILE or _libc is None or not hasattr(_libc, "linkat"):
        return False
    probe = work / "probe"
    try:
        fd = os.open(work, _O_TMPFILE | os.O_WRONLY, 0o600)
    except OSError:
        return False
    try:
        _link_unnamed(fd, probe)
    except OSError:
        return False
    finally:
        os.close(fd)
    probe.unlink(missing_ok=True)
    return True


def _load_libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # no C library to load (some Windows builds)
        return None


_libc = _load_libc()
_sync_file_range: Callable[[int, int, int, int], int] | None = None
if _libc is not None and hasattr(_libc, "sync_file_range"):
    _libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    _sync_file_range = _libc.sync_file_range
if _libc is not None and hasattr(_libc, "linkat"):
    _libc.linkat.argtypes = [
        ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
    ]


def _syncfs(fd: int) -> int:
    """syncfs(2) where libc has it (Linux); else a global sync, which is slower but as safe."""
    if _libc is not None and hasattr(_libc, "syncfs"):
        return int(_libc.syncfs(fd))
    os.sync()
    return 0


_SYNC_THREADS = 4  # fsyncs of received files in flight at once (they mostly wait for the disk)
_syncs: ThreadPoolExecutor | None = None
_syncs_lock = threading.Lock()


def _background_syncs() -> ThreadPoolExecutor:
    global _syncs  # noqa: PLW0603 - one pool per process, made when the first file arrives
    with _syncs_lock:
        if _syncs is None:
            _syncs = ThreadPoolExecutor(_SYNC_THREADS, thread_name_prefix="received-fsync")
        return _syncs


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync; NTFS journals metadata
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
