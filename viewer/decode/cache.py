"""An LRU cache of decoded frames with a memory budget counted in real bytes.

Frames are kept exactly as decoded (stored values, usually int16/uint16): display conversions are
recomputed per view and never cached, so a series costs about its raw pixel size. The cost of a
frame is the memory its array really keeps alive: the whole owning buffer (a view of a bigger
array counts the bigger array; a shared memory block counts whole pages), plus LUT, palette and
overlay arrays carried by its FrameInfo.
"""

from __future__ import annotations

import dataclasses
import logging
import mmap
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from viewer.decode.requests import Frame, FrameKey, frame_key
from viewer.decode.sharedmem import MappedBlock, block_real_bytes

LOGGER = logging.getLogger(__name__)


def array_real_bytes(array: np.ndarray) -> int:
    """Bytes kept alive by `array`: its owning buffer, not just the elements it shows."""
    owner: object = array
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    if isinstance(owner, np.ndarray):
        return int(owner.nbytes)
    if isinstance(owner, mmap.mmap | memoryview | MappedBlock):
        # A mapped shared memory block: the kernel counts whole pages.
        return block_real_bytes(memoryview(owner).nbytes)
    try:
        return memoryview(owner).nbytes  # type: ignore[arg-type]
    except TypeError:
        return int(array.nbytes)


def frame_real_bytes(frame: Frame) -> int:
    """Real memory of a cached frame: its pixels and the arrays of its FrameInfo."""
    total = array_real_bytes(frame.array)
    info = frame.info
    if dataclasses.is_dataclass(info):
        for field in dataclasses.fields(info):
            total += _nested_array_bytes(getattr(info, field.name))
    return total


def _nested_array_bytes(value: object) -> int:
    # One level into LUT / Palette / Overlay records and tuples of them; nothing else is big.
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple):
        return sum(_nested_array_bytes(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(
            int(v.nbytes)
            for v in (getattr(value, f.name) for f in dataclasses.fields(value))
            if isinstance(v, np.ndarray)
        )
    return 0


class FrameCache:
    """Thread-safe LRU of `Frame`s keyed by (path, frame_index), within `budget_bytes`.

    The decode pool puts frames from its dispatcher thread while the viewer reads from its own.
    A frame larger than the whole budget is not kept.
    """

    def __init__(self, budget_bytes: int) -> None:
        if budget_bytes < 0:
            raise ValueError(f"budget_bytes must be >= 0, got {budget_bytes}")
        self._budget = int(budget_bytes)
        self._lock = threading.Lock()
        self._frames: OrderedDict[FrameKey, tuple[Frame, int]] = OrderedDict()
        self._nbytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @property
    def budget_bytes(self) -> int:
        return self._budget

    @property
    def nbytes(self) -> int:
        """Real bytes held now."""
        with self._lock:
            return self._nbytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._frames

    def keys(self) -> Iterator[FrameKey]:
        """Keys from least to most recently used (a snapshot)."""
        with self._lock:
            return iter(list(self._frames))

    def get(self, path: str | os.PathLike[str], frame_index: int = 0) -> Frame | None:
        """The cached frame, marked most recently used, or None."""
        key = frame_key(path, frame_index)
        with self._lock:
            entry = self._frames.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._frames.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, frame: Frame) -> bool:
        """Keep `frame` (replacing one with the same key); evict the least recently used
        frames until the budget holds. False when the frame alone exceeds the budget."""
        cost = frame_real_bytes(frame)
        key = frame.key
        with self._lock:
            old = self._frames.pop(key, None)
            if old is not None:
                self._nbytes -= old[1]
            if cost > self._budget:
                return False
            self._frames[key] = (frame, cost)
            self._nbytes += cost
            self._evict_locked()
            return True

    def discard(self, path: str | os.PathLike[str], frame_index: int | None = None) -> int:
        """Forget one frame, or every frame of a file (deleted or re-imported); count dropped."""
        path = os.fspath(path)
        with self._lock:
            if frame_index is not None:  # one key: no scan (a volume drops 1,000 one by one)
                entry = self._frames.pop((path, int(frame_index)), None)
                if entry is None:
                    return 0
                self._nbytes -= entry[1]
                return 1
            keys = [k for k in self._frames if k[0] == path]
            for k in keys:
                self._nbytes -= self._frames.pop(k)[1]
            return len(keys)

    def set_budget(self, budget_bytes: int) -> None:
        with self._lock:
            self._budget = int(budget_bytes)
            self._evict_locked()

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._nbytes = 0

    def _evict_locked(self) -> None:
        while self._nbytes > self._budget and self._frames:
            key, (_, cost) = self._frames.popitem(last=False)
            self._nbytes -= cost
            self.evictions += 1
            LOGGER.debug("evicted frame %d (%d bytes)", key[1], cost)
