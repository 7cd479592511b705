"""Give back the memory of LLVM's code once numba has loaded the reslice kernels.

numba needs LLVM (llvmlite's `libllvmlite.so`) only to compile a kernel or to load one from its
cache; running a loaded kernel never touches it. Importing numba and loading the first kernel
make ~95 MiB of that library's code and read-only data resident in the process (measured here:
RssFile 18 -> 121 MiB, of a 197 MiB process), counted in its RSS and PSS though nothing reads
it again while the user reslices. `release_compiler_pages()` drops this process's mapping of
those pages (madvise MADV_DONTNEED): they are unmodified copies of the file, so the kernel's
page cache keeps them (and may evict them) and a later compile faults them back in unchanged.

Only mappings that are private, not writable and hold no page of their own (`Anonymous: 0`
in /proc/self/smaps) are dropped: a relocated read-only segment (RELRO) holds modified pages
that dropping would revert to the file's bytes.
"""

from __future__ import annotations

import ctypes
import logging
import sys

LOGGER = logging.getLogger(__name__)

_LIBRARY = "libllvmlite.so"
_MADV_DONTNEED = 4  # <sys/mman.h> on Linux


def release_compiler_pages() -> int:
    """Drop the resident pages of LLVM's unmodified read-only mappings from this process;
    returns the bytes they held (0 where there is no /proc or no glibc)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        regions = _droppable_regions()
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return 0
    madvise = libc.madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    released = 0
    for start, stop, resident in regions:
        if madvise(start, stop - start, _MADV_DONTNEED) == 0:
            released += resident
    LOGGER.debug("released %d KiB of %s pages", released // 1024, _LIBRARY)
    return released


def _droppable_regions() -> list[tuple[int, int, int]]:
    """(start, stop, resident bytes) of LLVM's private read-only mappings without pages of
    their own, from /proc/self/smaps."""
    regions = []
    header: list[str] | None = None
    resident = 0
    with open("/proc/self/smaps", encoding="ascii", errors="replace") as smaps:
        for line in smaps:
            fields = line.split()
            if not fields:
                continue
            if not fields[0].endswith(":"):  # a mapping's header: range perms offset dev inode path
                header, resident = fields, 0
            elif header is None or len(header) < 6 or not header[5].endswith(_LIBRARY):
                continue
            elif fields[0] == "Rss:":
                resident = int(fields[1]) * 1024
            elif fields[0] == "Anonymous:":
                perms = header[1]
                if "w" not in perms and perms.endswith("p") and fields[1] == "0" and resident:
                    start, stop = (int(x, 16) for x in header[0].split("-"))
                    regions.append((start, stop, resident))
    return regions
