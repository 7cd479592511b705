"""Process tuning for decoding: keep glibc from returning big buffers to the kernel per frame.

Decoding a 512 x 512 frame allocates and frees a few buffers of 0.5-2 MB (the codec's output,
GDCM's string copy, pydicom's array). glibc serves blocks that large with mmap and gives them
back with munmap, so every frame faults in hundreds of fresh zeroed pages: measured here, 610
page faults and 3 ms of system time per JPEG-LS frame (25 % of its decode). Serving them from
the heap, and keeping up to `trim` bytes of freed heap, removes the faults. An idle worker
gives that heap back (`release_free_memory`): a loaded series should not cost 20 MiB a worker.
"""

from __future__ import annotations

import ctypes
import logging
import sys

LOGGER = logging.getLogger(__name__)

# mallopt parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 128 << 20  # freed heap kept for the next frames before it is returned
TOP_PAD = 16 << 20

_tuned = False


def tune_malloc() -> bool:
    """Tune glibc malloc for repeated large decodes (once per process). False if not glibc."""
    global _tuned  # noqa: PLW0603 - a once-per-process flag
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = all(
        mallopt(param, value) == 1
        for param, value in (
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (_M_TOP_PAD, TOP_PAD),
        )
    )
    if not ok:
        LOGGER.debug("mallopt refused a setting: malloc left partly untuned")
    _tuned = ok
    return ok


def release_free_memory() -> None:
    """Return the freed heap kept for the next frames to the kernel (glibc malloc_trim); for a
    worker with nothing to do. A no-op where malloc is not glibc's."""
    if _tuned:
        trim_heap()


def trim_heap() -> None:
    """Give the freed heap back to the kernel now (glibc malloc_trim), whatever this process's
    malloc settings; for the GUI process once a burst of decoded frames has been taken in. A
    no-op where malloc is not glibc's."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
