"""The decode pool with injected decoders: priorities, cancellation, crashes, errors, calls."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future
from pathlib import Path

import numpy as np
import pytest

from tests.decode import decoders
from viewer.decode import (
    DecodePool,
    Frame,
    FrameCache,
    FrameError,
    FrameRequest,
    PoolClosed,
    WorkerCrashed,
)
from viewer.dicom.files import DicomFileError

pytestmark = pytest.mark.timeout(60)

DECODE = decoders.decode


class Recorder:
    """A thread-safe on_done callback that remembers what arrived, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: list[Frame | FrameError] = []

    def __call__(self, result: Frame | FrameError) -> None:
        with self.lock:
            self.results.append(result)

    def paths(self) -> list[str]:
        with self.lock:
            return [Path(r.path).name for r in self.results]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def pool1(recorder: Recorder) -> Iterator[DecodePool]:
    with DecodePool(1, decode=DECODE, on_done=recorder, cache=FrameCache(64 << 20)) as pool:
        assert pool.wait_ready(30), "worker did not start"
        yield pool


def _occupy(pool: DecodePool, ms: int = 400, generation: int = 0) -> Future[Frame]:
    """Keep the single worker busy so that what is queued next waits in the parent's heap."""
    future = pool.submit(FrameRequest(f"/fake/sleep{ms}_blocker", 0, 0, generation))
    deadline = time.monotonic() + 10
    while pool.pending() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert pool.pending() == 0, "the blocker was not dispatched"
    return future


def test_frames_arrive_lowest_priority_number_first(pool1: DecodePool, recorder: Recorder) -> None:
    _occupy(pool1)
    priorities = [5, 3, 9, 0, 7, 3, 1, 8]
    futures = [pool1.submit(FrameRequest(f"/fake/p{i}", 0, p)) for i, p in enumerate(priorities)]
    for f in futures:
        f.result(20)
    order = [name for name in recorder.paths() if name != "sleep400_blocker"]
    # Sorted by priority; the two requests of priority 3 keep their submission order.
    expected = [f"p{i}" for i, _ in sorted(enumerate(priorities), key=lambda ip: ip[1])]
    assert order == expected


def test_requeued_frame_moves_up_and_is_decoded_once(
    pool1: DecodePool, recorder: Recorder
) -> None:
    _occupy(pool1)
    low = [pool1.submit(FrameRequest(f"/fake/n{i}", 0, 10)) for i in range(3)]
    first = pool1.submit(FrameRequest("/fake/target", 0, 50))
    again = pool1.submit(FrameRequest("/fake/target", 0, 0))  # now on screen
    assert again.result(20) is first.result(20)  # one decode, shared
    for f in low:
        f.result(20)
    names = [n for n in recorder.paths() if n != "sleep400_blocker"]
    assert names[0] == "target"
    assert names.count("target") == 1


def test_cancel_older_than_drops_queued_requests(pool1: DecodePool, recorder: Recorder) -> None:
    blocker = _occupy(pool1, 400, generation=0)
    old = [pool1.submit(FrameRequest(f"/fake/old{i}", 0, i, generation=0)) for i in range(4)]
    assert pool1.cancel_older_than(1) == 5  # four queued and the one in flight
    new = pool1.submit(FrameRequest("/fake/new", 0, 0, generation=1))
    assert new.result(20).path == "/fake/new"
    for f in [blocker, *old]:
        assert f.cancelled()
        with pytest.raises(CancelledError):
            f.result(0)
    # The in-flight decode finished and went to the cache only; queued ones never ran.
    assert pool1.cache is not None
    assert pool1.cache.get("/fake/sleep400_blocker", 0) is not None
    assert all(pool1.cache.get(f"/fake/old{i}", 0) is None for i in range(4))
    assert recorder.paths() == ["new"]


def test_cancelled_then_requested_again_is_served(pool1: DecodePool) -> None:
    _occupy(pool1, 200, generation=0)
    stale = pool1.submit(FrameRequest("/fake/again", 0, 0, generation=0))
    pool1.cancel_older_than(1)
    fresh = pool1.submit(FrameRequest("/fake/again", 0, 0, generation=1))
    frame = fresh.result(20)
    assert stale.cancelled()
    assert np.array_equal(frame.array, decoders.expected_array("/fake/again", 0))


@pytest.mark.parametrize(
    ("marker", "how"), [("segv", "SIGSEGV"), ("exit", "exit code 3")], ids=["segfault", "os_exit"]
)
def test_worker_crash_fails_that_frame_and_the_pool_survives(
    pool1: DecodePool, recorder: Recorder, marker: str, how: str
) -> None:
    pid_before = pool1.worker_pids()
    crash = pool1.submit(FrameRequest(f"/data/{marker}_file.dcm", 2, 0))
    queued = [pool1.submit(FrameRequest(f"/fake/after{i}", 0, 1)) for i in range(3)]
    with pytest.raises(FrameError) as info:
        crash.result(30)
    error = info.value
    assert error.path == f"/data/{marker}_file.dcm"
    assert error.frame_index == 2
    assert "crashed" in error.reason and how in error.reason
    assert f"/data/{marker}_file.dcm" in str(error)
    for i, f in enumerate(queued):  # served by the replacement worker
        assert np.array_equal(f.result(30).array, decoders.expected_array(f"/fake/after{i}", 0))
    assert pool1.worker_pids() != pid_before
    assert isinstance(recorder.results[0], FrameError)


def test_decode_errors_are_values(pool1: DecodePool, recorder: Recorder) -> None:
    bad = pool1.submit(FrameRequest("/data/bad.dcm", 0))
    bug = pool1.submit(FrameRequest("/data/boom.dcm", 1))
    with pytest.raises(FrameError, match="pixel data too short") as info:
        bad.result(20)
    assert info.value.path == "/data/bad.dcm"
    with pytest.raises(FrameError, match="ZeroDivisionError: decoder bug"):
        bug.result(20)
    assert [type(r) for r in recorder.results] == [FrameError, FrameError]
    assert pool1.get(FrameRequest("/fake/fine"), timeout=20).path == "/fake/fine"


def test_get_times_out(pool1: DecodePool) -> None:
    with pytest.raises(TimeoutError):
        pool1.get(FrameRequest("/fake/sleep500_slow"), timeout=0.05)


def test_frames_are_read_only_and_match(pool1: DecodePool) -> None:
    frame = pool1.get(FrameRequest("/fake/ro", 4), timeout=20)
    assert frame.array.dtype == np.int16
    assert (frame.rows, frame.columns) == (decoders.ROWS, decoders.COLUMNS)
    assert np.array_equal(frame.array, decoders.expected_array("/fake/ro", 4))
    assert frame.info.rescale_intercept == -1024.0
    with pytest.raises(ValueError, match="read-only"):
        frame.array[0, 0] = 1


def test_cache_hit_does_not_decode_again(pool1: DecodePool, recorder: Recorder) -> None:
    first = pool1.get(FrameRequest("/fake/cached"), timeout=20)
    pids = pool1.worker_pids()
    second = pool1.submit(FrameRequest("/fake/cached"))
    assert second.done() and second.result() is first
    assert pool1.worker_pids() == pids
    assert recorder.paths() == ["cached", "cached"]


def test_submit_call_results_errors_and_crash(pool1: DecodePool) -> None:
    assert pool1.submit_call(decoders.add, 2, 3).result(20) == 5
    worker_pid = pool1.submit_call(decoders.pid_of_worker).result(20)
    assert worker_pid in pool1.worker_pids() and worker_pid != os.getpid()
    with pytest.raises(DicomFileError) as info:
        pool1.submit_call(decoders.raise_dicom_error, "/data/x.dcm").result(20)
    assert (info.value.path, info.value.reason) == ("/data/x.dcm", "not a DICOM file")
    with pytest.raises(WorkerCrashed, match=r"SIGSEGV.*crash_call\('/data/y.dcm'\)"):
        pool1.submit_call(decoders.crash_call, "/data/y.dcm").result(30)
    assert pool1.submit_call(decoders.add, 1, 1).result(30) == 2


def test_two_workers_decode_in_parallel() -> None:
    with DecodePool(2, decode=DECODE) as pool:
        assert pool.wait_ready(30)
        assert len(set(pool.worker_pids())) == 2
        start = time.perf_counter()
        futures = pool.submit_many(FrameRequest(f"/fake/sleep300_{i}") for i in range(4))
        for f in futures:
            f.result(20)
        # Four 300 ms decodes on two workers: about 0.6 s, well under the serial 1.2 s.
        assert time.perf_counter() - start < 1.1


def test_decoder_that_cannot_load_closes_the_pool() -> None:
    with DecodePool(1, decode="tests.decode.decoders:no_such_function") as pool:
        with pytest.raises(PoolClosed, match="no_such_function"):
            pool.get(FrameRequest("/fake/x"), timeout=30)
        with pytest.raises(PoolClosed):
            pool.submit(FrameRequest("/fake/y")).result(5)


def test_close_fails_pending_requests_and_rejects_new_ones() -> None:
    pool = DecodePool(1, decode=DECODE)
    assert pool.wait_ready(30)
    running = pool.submit(FrameRequest("/fake/sleep300_running"))
    queued = pool.submit(FrameRequest("/fake/queued"))
    time.sleep(0.05)
    pool.close()
    assert pool.closed
    for f in (running, queued):
        with pytest.raises(PoolClosed):
            f.result(5)
    with pytest.raises(PoolClosed):
        pool.submit(FrameRequest("/fake/late")).result(1)


def test_batch_depth_two_keeps_a_job_waiting_and_survives_a_crash() -> None:
    """depth=2: the job behind a crashing one is re-queued and served, not failed."""
    with DecodePool(1, decode=DECODE, depth=2) as pool:
        assert pool.wait_ready(30)
        crash = pool.submit(FrameRequest("/data/segv_file.dcm", 0, 0))
        behind = [pool.submit(FrameRequest(f"/fake/behind{i}", 0, 1)) for i in range(4)]
        with pytest.raises(FrameError, match="crashed"):
            crash.result(30)
        for i, f in enumerate(behind):
            expected = decoders.expected_array(f"/fake/behind{i}", 0)
            assert np.array_equal(f.result(30).array, expected)


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        DecodePool(1, decode=DECODE, depth=0)
