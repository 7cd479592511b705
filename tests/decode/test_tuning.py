"""tune_malloc: frame-sized buffers come from the heap and stay there, not mmap/munmap each time.

Decoding allocates and frees buffers of a few MB per frame (GDCM hands its output over as a str,
then bytes, then an array); untuned glibc serves them with mmap and returns them with munmap, so
each frame faults in fresh zeroed pages (measured: ~700 page faults per 512x512 frame through
GDCM, 25 % of a JPEG-LS decode). Checked here on a 24 MiB block, as glibc places it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import ctypes, sys
from viewer.decode.tuning import tune_malloc
if sys.argv[1] == "tuned":
    assert tune_malloc() and tune_malloc()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def heap():
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            lo, hi = line.split()[0].split("-")
            return int(lo, 16), int(hi, 16)
    return 0, 0

size = 24 << 20
first = libc.malloc(size)
lo, hi = heap()
in_heap = lo <= first < hi
libc.free(first)
kept = heap()[1] >= hi  # the freed top of the heap was not given back
print(in_heap, kept)
"""


def placement(mode: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=True,
    )
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_frame_sized_buffers_come_from_the_heap_once_tuned() -> None:
    assert placement("default") == "False True"  # glibc: a 24 MiB block is its own mmap
    assert placement("tuned") == "True True"  # tuned: from the heap, and kept after free
