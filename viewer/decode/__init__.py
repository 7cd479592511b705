"""The frame decoding process pool, its priority queue and its frame cache."""

from viewer.decode.cache import FrameCache
from viewer.decode.pool import DecodePool
from viewer.decode.requests import Frame, FrameError, FrameRequest, PoolClosed, WorkerCrashed

__all__ = ["DecodePool", "Frame", "FrameCache", "FrameError", "FrameRequest", "PoolClosed",
           "WorkerCrashed"]
