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
            _LIBC.munmap(self.address, len(self))


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
