"""What crosses into and out of the decode pool: small records, never open files or datasets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from viewer.dicom.files import DicomFileError

if TYPE_CHECKING:
    from viewer.dicom.frameinfo import FrameInfo

FrameKey = tuple[str, int]
"""(path, 0-based frame index): how frames are named in the pool and the cache."""


def frame_key(path: str | os.PathLike[str], frame_index: int) -> FrameKey:
    return (os.fspath(path), int(frame_index))


@dataclass(frozen=True)
class FrameRequest:
    """Decode frame `frame_index` (0-based) of the file at `path`.

    `priority`: lower numbers are dispatched first (the visible frame 0, its neighbours 1, 2, ...).
    `generation`: grows each time the user moves on; `DecodePool.cancel_older_than` drops the
    requests of older generations that no worker has started yet.
    """

    path: str
    frame_index: int = 0
    priority: int = 0
    generation: int = 0

    def __post_init__(self) -> None:
        # Accept a Path for convenience but keep a str: keys must compare equal across callers.
        object.__setattr__(self, "path", os.fspath(self.path))
        if self.frame_index < 0:
            raise ValueError(f"frame_index must be >= 0, got {self.frame_index}")

    @property
    def key(self) -> FrameKey:
        return (self.path, self.frame_index)


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame: stored values (read-only array) and how to display them.

    `array` is what `viewer.dicom.pixels.decode_frame` produced: 2-D for monochrome and palette
    images, (rows, columns, 3) RGB for colour. When it came from a worker it maps the shared
    memory block the worker wrote, without a copy.
    """

    path: str
    frame_index: int
    array: np.ndarray
    info: FrameInfo

    @property
    def key(self) -> FrameKey:
        return (self.path, self.frame_index)

    @property
    def rows(self) -> int:
        return int(self.array.shape[0])

    @property
    def columns(self) -> int:
        return int(self.array.shape[1])


class FrameError(DicomFileError):
    """A frame that could not be decoded: file, frame and reason (a value at the edge)."""

    def __init__(self, path: str | os.PathLike[str], frame_index: int, reason: str) -> None:
        super().__init__(path, reason)
        self.frame_index = int(frame_index)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.frame_index, self.reason))


class WorkerCrashed(RuntimeError):
    """A worker process died (a native codec crashed, or it was killed) while running a call."""

    def __init__(self, reason: str, how: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.how = how  # "signal 11, SIGSEGV", "exit code 3": for a report naming the file

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.how))


class PoolClosed(RuntimeError):
    """The pool was shut down, or its worker processes cannot start."""
