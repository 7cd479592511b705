"""Moving decoded arrays from a worker to the parent through POSIX shared memory, without copies.

Life of a block: the parent picks a unique name for each job; the worker creates the block under
that name, copies the decoded array into it, closes its own mapping and sends only
(shape, dtype). The parent maps the block and unlinks its name at once: the memory then lives
exactly as long as the numpy arrays that view it (freed by the kernel when the last mapping goes),
so nothing can be left behind in /dev/shm once a frame has reached the parent. A block whose
worker died, or whose message was never read, is unlinked by name (`discard_block`).

Both sides share the parent's resource tracker (spawn passes it to children), so a block
registered by a worker and unlinked by the parent leaves the tracker balanced, and a block
stranded by a killed parent is still removed when the tracker exits.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import mmap
import os
import queue
import sys
import threading
import time
from multiprocessing import shared_memory

import numpy as np

LOGGER = logging.getLogger(__name__)


class _ParentMapping(shared_memory.SharedMemory):
    """An attached block whose Python mapping outlives this object (where libc's mmap cannot
    be called): the arrays viewing it own it.

    SharedMemory.__del__ would close the mmap, which fails (BufferError) while an ndarray still
    views it; the memoryview held by the array keeps the mmap alive and unmaps it when released.
    """

    def __del__(self) -> None:
        return


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long)
        libc.munmap.restype = ctypes.c_int
        libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()
_MAP_FAILED = ctypes.c_void_p(-1).value


def _read_only_view(fd: int, size: int) -> memoryview:
    """The block behind `fd` mapped read-only, as a buffer that unmaps itself when the last
    array viewing it is gone. Python's mmap would keep a duplicate of the descriptor for the
    mapping's whole life: one per frame shown, until sockets got numbers past 1023, where
    select() (pynetdicom) refuses them."""
    assert _LIBC is not None
    address = _LIBC.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    if address is None or address == _MAP_FAILED:
        error = ctypes.get_errno()
        raise OSError(error, f"cannot map a shared memory block: {os.strerror(error)}")
    block = MappedBlock.of_size(size).from_address(address)
    block.address = address
    return memoryview(block).cast("B")


class MappedBlock(ctypes.Array):  # type: ignore[type-arg]
    """A ctypes view of a mapping that unmaps it when garbage: the arrays viewing the block
    hold it through their memoryview."""

    _type_ = ctypes.c_char
    _length_ = 0
    address: int | None = None

    @classmethod
    def of_size(cls, size: int) -> type[MappedBlock]:
        return _unmapping_type(size)

    def __del__(self) -> None:
        if self.address is not None and _LIBC is not None:
            _UNMAPPER.release(self.address, len(self))


class _Unmapper:
    """Unmaps released blocks on a thread of its own.

    Returning a frame's pages to the kernel costs about 1 µs per 4 KiB page here (0.12 s for
    the 1,000 frames of a CT, more than copying them): the thread that dropped the last array
    of a frame (a volume build copying frames out, the GUI evicting them) should not wait for
    it. At most `limit` bytes wait at once, so memory is returned promptly; past that the
    releasing thread unmaps itself, which also shares the work when frames go faster than one
    thread can unmap them. Nothing views a block once it is queued, so unmapping it later is
    safe.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._pending = 0
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        self._owner = -1  # the pid whose thread runs: a forked child has none
        # A child forked while the thread held the lock would wait on it forever.
        os.register_at_fork(after_in_child=self._forget_thread)

    def _forget_thread(self) -> None:
        self._lock = threading.Lock()
        self._owner, self._pending = -1, 0

    def release(self, address: int, size: int) -> None:
        """Unmap the block at `address` soon (here when the thread is not running: in a
        forked child, at exit, or before any block was taken)."""
        assert _LIBC is not None
        with self._lock:
            queued = self._owner == os.getpid() and self._pending + size <= self._limit
            if queued:
                self._pending += size
        if queued and not sys.is_finalizing():
            self._queue.put((address, size))
        else:
            _LIBC.munmap(address, size)

    def start(self) -> None:
        """Run the unmapping thread in this process. Called where a block is mapped, never
        from `__del__`: a finaliser runs wherever the garbage collector fires, and starting a
        thread there can wait forever (at interpreter exit, or inside threading's own locks)."""
        with self._lock:
            if self._owner == os.getpid():
                return
            pending: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
            threading.Thread(target=self._run, args=(pending,), name="shm-unmap",
                             daemon=True).start()
            self._owner, self._pending, self._queue = os.getpid(), 0, pending

    def _run(self, pending: queue.SimpleQueue[tuple[int, int]]) -> None:
        assert _LIBC is not None
        while True:
            address, size = pending.get()
            _LIBC.munmap(address, size)  # ctypes lets go of the GIL for the call
            with self._lock:
                self._pending -= size

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """For tests: True once every queued block is unmapped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            time.sleep(0.001)
        return False


# 32 MiB: 64 frames of 512 x 512 x 16 bits waiting at most, 6 % of a 1,000-slice CT.
_UNMAPPER = _Unmapper(32 << 20)


@functools.lru_cache(maxsize=64)  # the frames of a series share a few sizes
def _unmapping_type(size: int) -> type[MappedBlock]:
    return type("MappedBlock", (MappedBlock,), {"_type_": ctypes.c_char, "_length_": size})


def write_block(name: str, array: np.ndarray) -> tuple[tuple[int, ...], str]:
    """In a worker: copy `array` into a new block `name`; return (shape, dtype string)."""
    size = max(int(array.nbytes), 1)  # a block cannot be empty
    shm = shared_memory.SharedMemory(name=name, create=True, size=size)
    try:
        view: np.ndarray = np.ndarray(array.shape, dtype=array.dtype, buffer=shm.buf)
        view[...] = array
        del view  # release the export so close() can unmap
    except BaseException:
        shm.close()
        shm.unlink()
        raise
    shm.close()
    return tuple(int(n) for n in array.shape), array.dtype.str


def take_block(name: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """In the parent: map block `name` as a read-only array and unlink its name at once."""
    if _LIBC is None:
        shm = _ParentMapping(name=name)
        shm.unlink()
        buffer = shm.buf
    else:
        _UNMAPPER.start()
        attached = shared_memory.SharedMemory(name=name)
        try:
            attached.unlink()
            buffer = _read_only_view(attached._fd, attached.size)  # type: ignore[attr-defined]
        finally:
            attached.close()  # its own mapping and descriptor: ours lives on without them
    array: np.ndarray = np.ndarray(shape, dtype=np.dtype(dtype), buffer=buffer)
    array.flags.writeable = False  # shared by the cache and every viewer of the frame
    return array


def discard_block(name: str) -> bool:
    """Unlink block `name` if it exists (its worker died or its result was never read)."""
    try:
        shm = _ParentMapping(name=name)
    except FileNotFoundError:
        return False
    try:
        shm.unlink()
    except FileNotFoundError:
        return False
    finally:
        shm.close()
    LOGGER.debug("discarded shared memory block %s", name)
    return True


def block_real_bytes(size: int) -> int:
    """Memory a mapping of `size` bytes really takes: whole pages."""
    page = mmap.PAGESIZE
    return -(-size // page) * page
