"""FrameCache: LRU order, a budget counted in the real bytes the arrays keep alive."""

from __future__ import annotations

import numpy as np
import pytest

from tests.decode import decoders
from viewer.decode import Frame, FrameCache, FrameRequest
from viewer.decode.cache import array_real_bytes, frame_real_bytes
from viewer.decode.pool import DecodePool
from viewer.dicom.frameinfo import LUT

FRAME_BYTES = 100 * 100 * 2


def frame(name: str, index: int = 0, shape: tuple[int, int] = (100, 100)) -> Frame:
    return Frame(name, index, np.zeros(shape, np.uint16), decoders.fake_info())


def test_evicts_least_recently_used_within_budget() -> None:
    cache = FrameCache(3 * FRAME_BYTES)
    for name in "abc":
        assert cache.put(frame(name))
    assert cache.nbytes == 3 * FRAME_BYTES
    assert cache.get("a") is not None  # a is now the most recent: b goes first
    cache.put(frame("d"))
    assert [k[0] for k in cache.keys()] == ["c", "a", "d"]
    assert cache.evictions == 1
    assert cache.get("b") is None
    assert cache.nbytes == 3 * FRAME_BYTES
    assert (cache.hits, cache.misses) == (1, 1)


def test_replacing_a_frame_does_not_count_it_twice() -> None:
    cache = FrameCache(10 * FRAME_BYTES)
    cache.put(frame("a"))
    cache.put(frame("a"))
    assert len(cache) == 1 and cache.nbytes == FRAME_BYTES


def test_frame_larger_than_budget_is_not_kept() -> None:
    cache = FrameCache(FRAME_BYTES - 1)
    assert not cache.put(frame("big"))
    assert len(cache) == 0 and cache.nbytes == 0


def test_views_count_the_buffer_they_keep_alive() -> None:
    volume = np.zeros((10, 100, 100), np.int16)
    assert array_real_bytes(volume[3]) == volume.nbytes
    assert array_real_bytes(volume[3].copy()) == FRAME_BYTES


def test_lut_arrays_of_the_frame_info_count() -> None:
    import dataclasses

    lut = LUT(first_mapped=0, bits=16, data=np.zeros(4096, np.uint16))
    info = dataclasses.replace(decoders.fake_info(), modality_lut=lut)
    f = Frame("x", 0, np.zeros((100, 100), np.uint16), info)
    assert frame_real_bytes(f) == FRAME_BYTES + lut.data.nbytes


def test_discard_and_shrinking_budget() -> None:
    cache = FrameCache(10 * FRAME_BYTES)
    for i in range(3):
        cache.put(frame("multi", i))
    cache.put(frame("other"))
    assert cache.discard("multi", 1) == 1
    assert cache.discard("multi") == 2
    assert list(cache.keys()) == [("other", 0)]
    for name in "abcd":
        cache.put(frame(name))
    cache.set_budget(2 * FRAME_BYTES)
    assert [k[0] for k in cache.keys()] == ["c", "d"]
    assert cache.nbytes == 2 * FRAME_BYTES


def test_rejects_negative_budget() -> None:
    with pytest.raises(ValueError, match="budget_bytes"):
        FrameCache(-1)


@pytest.mark.timeout(60)
def test_pool_frames_cost_about_their_raw_size() -> None:
    # 64 x 48 int16 = 6144 bytes per frame, two pages of shared memory (8192): the page is the
    # real granularity and is what the cache must count.
    cache = FrameCache(1 << 30)
    with DecodePool(1, decode=decoders.decode, cache=cache) as pool:
        futures = pool.submit_many(FrameRequest(f"/fake/s{i}") for i in range(20))
        frames = [f.result(30) for f in futures]
    raw = sum(f.array.nbytes for f in frames)
    assert raw == 20 * 6144
    assert cache.nbytes == 20 * 8192
    assert len(cache) == 20
