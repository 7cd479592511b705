"""Frames through shared memory: identical to in-process decoding, and nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.decode import decoders
from tests.peers import require_tool
from viewer.decode import DecodePool, FrameRequest, PoolClosed
from viewer.decode.sharedmem import discard_block, take_block, write_block
from viewer.dicom import demo
from viewer.dicom.pixels import decode_frame

pytestmark = pytest.mark.timeout(120)

SHM = Path("/dev/shm")
ROOT = Path(__file__).resolve().parents[2]


def our_blocks(pid: int | None = None) -> list[str]:
    prefix = f"dv{(pid or os.getpid()):x}"
    return sorted(p.name for p in SHM.iterdir() if p.name.startswith(prefix))


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    base = tmp_path_factory.mktemp("ct")
    files = demo.write_ct_series(base / "explicit-le", slices=3, rows=96, columns=80)
    series = {"explicit-le": files}
    for syntax, tool in [("rle", "dcmcrle"), ("jpeg-ls", "dcmcjpls"), ("j2k", "gdcmconv")]:
        if require_tool_quietly(tool):
            series[syntax] = demo.transcode(files, syntax, base / syntax)
    return series


def require_tool_quietly(name: str) -> bool:
    try:
        require_tool(name)
    except pytest.skip.Exception:
        return False
    return True


@pytest.fixture(scope="module")
def real_pool() -> Iterator[DecodePool]:
    with DecodePool(2) as pool:  # the default decoder: viewer.dicom.pixels.decode_frame
        yield pool


@pytest.mark.parametrize("syntax", ["explicit-le", "rle", "jpeg-ls", "j2k"])
def test_round_trip_equals_in_process_decode(
    real_pool: DecodePool, ct_series: dict[str, list[Path]], syntax: str
) -> None:
    if syntax not in ct_series:
        require_tool({"rle": "dcmcrle", "jpeg-ls": "dcmcjpls", "j2k": "gdcmconv"}[syntax])
    files = ct_series[syntax]
    futures = real_pool.submit_many(FrameRequest(str(p), 0, i) for i, p in enumerate(files))
    for path, future in zip(files, futures, strict=True):
        frame = future.result(60)
        local = decode_frame(path, 0)
        assert frame.array.dtype == local.array.dtype
        assert frame.array.shape == local.array.shape == (96, 80)
        assert np.array_equal(frame.array, local.array)
        assert frame.info.rescale_intercept == local.info.rescale_intercept == -1024
        assert frame.info.windows == local.info.windows
        assert frame.info.pixel_spacing == local.info.pixel_spacing
    assert our_blocks() == []


def test_bad_file_through_the_real_decoder(real_pool: DecodePool, tmp_path: Path) -> None:
    bad = tmp_path / "not-dicom.dcm"
    bad.write_bytes(b"hello" * 100)
    with pytest.raises(Exception, match="not a DICOM file") as info:
        real_pool.get(FrameRequest(str(bad)), timeout=60)
    assert getattr(info.value, "path", None) == str(bad)


def test_block_helpers_round_trip_and_unlink() -> None:
    name = f"dv{os.getpid():x}test_{time.monotonic_ns():x}"
    source = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)[:, ::-1]  # not contiguous
    shape, dtype = write_block(name, source)
    assert (SHM / name).exists()
    array = take_block(name, shape, dtype)
    assert not (SHM / name).exists()  # unlinked at once: the mapping lives with the array
    assert np.array_equal(array, source) and not array.flags.writeable
    del array
    name2 = name + "b"
    write_block(name2, np.zeros(0, np.int16))  # empty frames still get a block
    assert discard_block(name2) and not discard_block(name2)


def test_close_with_work_in_flight_leaves_no_blocks() -> None:
    pool = DecodePool(2, decode=decoders.decode)
    assert pool.wait_ready(30)
    futures = pool.submit_many(FrameRequest(f"/fake/sleep150_{i}") for i in range(6))
    futures[0].result(20)
    pool.close(timeout=0.05)  # workers are terminated mid-decode
    assert our_blocks() == []
    assert all(f.done() for f in futures)
    assert any(isinstance(f.exception(), PoolClosed) for f in futures)


SCRIPT = """
import sys, time
from tests.decode import decoders
from viewer.decode import DecodePool, FrameRequest, FrameCache

if __name__ == "__main__":
    cache = FrameCache(1 << 20)  # small: evictions happen
    pool = DecodePool(2, decode=decoders.decode, cache=cache)
    frames = [f.result(30) for f in pool.submit_many(
        FrameRequest(f"/fake/f{i}", 0, i) for i in range(40))]
    try:
        pool.get(FrameRequest("/fake/segv_x"), timeout=30)
    except Exception as exc:
        print("crash:", exc)
    slow = pool.submit_many(FrameRequest(f"/fake/sleep200_{i}", 0, 0, 0) for i in range(4))
    time.sleep(0.1)
    pool.cancel_older_than(1)
    print("frames", len(frames), "cached", len(cache))
    {ending}
"""


@pytest.mark.parametrize(
    "ending",
    ["pool.close()", "pass  # no close: the pool must clean up at exit"],
    ids=["closed", "left-open"],
)
def test_process_exit_leaves_no_blocks_and_no_tracker_warnings(ending: str) -> None:
    code = textwrap.dedent(SCRIPT).replace("{ending}", ending)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "frames 40" in out
    assert "crash: /fake/segv_x: decoder process crashed (signal 11, SIGSEGV)" in out
    assert "leaked" not in err and "resource_tracker" not in err, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert our_blocks(proc.pid) == []


def test_taken_blocks_hold_no_file_descriptors() -> None:
    """A frame in the parent is a mapping, not an open descriptor: 1,500 frames taken (a CT
    scrolled through) leave the descriptor count where it was, so a socket opened afterwards
    still gets a number select() accepts (< 1024; pynetdicom polls with select)."""
    before = len(os.listdir("/proc/self/fd"))
    arrays = []
    for n in range(1500):
        name = f"dvtest{os.getpid():x}_{n:x}"
        shape, dtype = write_block(name, np.full((4, 4), n, dtype=np.int16))
        arrays.append(take_block(name, shape, dtype))
    assert len(os.listdir("/proc/self/fd")) <= before + 2
    assert all(int(a[0, 0]) == n for n, a in enumerate(arrays))  # the mappings still work


def _shared_mappings() -> int:
    """Mappings of this process onto (unlinked) POSIX shared memory blocks."""
    with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
        return sum(1 for line in maps if "/dev/shm/dvunmap" in line)


def test_released_frames_are_unmapped_off_the_releasing_thread() -> None:
    """Dropping frames queues their unmapping on the unmapper's thread (its cost, ~1 µs per
    page, off the GUI's and the volume build's threads), and every block is unmapped soon after:
    none stays mapped, and no more than the unmapper's limit ever waits."""
    from viewer.decode import sharedmem

    before = _shared_mappings()
    frame = np.ones((512, 512), dtype=np.int16)  # 512 KiB: 64 fit under the 32 MiB limit
    arrays = []
    for n in range(200):
        name = f"dvunmap{os.getpid():x}_{n:x}"
        arrays.append(take_block(name, *write_block(name, frame)))
    assert _shared_mappings() == before + 200
    arrays.clear()
    assert sharedmem._UNMAPPER.wait_idle(10.0)
    assert _shared_mappings() == before


def test_a_forked_child_unmaps_in_place() -> None:
    """A child forked while the unmapper runs has no such thread: it unmaps where it releases
    (and exits cleanly, instead of queueing for a thread that does not exist)."""
    name = f"dvunmapfork{os.getpid():x}"
    array = take_block(name, *write_block(name, np.ones((64, 64), dtype=np.int16)))
    pid = os.fork()
    if pid == 0:  # the child: its mapping must be gone as soon as it lets go of the array
        mapped = _shared_mappings()
        del array
        os._exit(0 if _shared_mappings() == mapped - 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert int(array.sum()) == 64 * 64  # the parent's mapping is untouched
