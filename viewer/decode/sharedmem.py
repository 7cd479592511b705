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

import logging
import mmap
from multiprocessing import shared_memory

import numpy as np

LOGGER = logging.getLogger(__name__)


class _ParentMapping(shared_memory.SharedMemory):
    """An attached block whose mapping outlives this object: the arrays viewing it own it.

    SharedMemory.__del__ would close the mmap, which fails (BufferError) while an ndarray still
    views it; the memoryview held by the array keeps the mmap alive and unmaps it when released.
    """

    def __del__(self) -> None:
        return


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
    shm = _ParentMapping(name=name)
    shm.unlink()
    array: np.ndarray = np.ndarray(shape, dtype=np.dtype(dtype), buffer=shm.buf)
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
