"""A Volume from a series, filled from the decode pool as its frames arrive.

`VolumeLoader` plans the volume (`viewer.volume.plan`), allocates the one voxel array, asks the
pool for every frame (the centre slice and every n-th slice first, so that all three planes fill
in coarsely, then the rest) and copies each frame into its slice as its future completes,
applying that frame's rescale on the way (no banding between slices with different
slopes/intercepts). A frame is dropped from the frame cache once every target slice made from
it is filled: the voxel array is then the only copy. `load_volume` is the blocking form.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from functools import partial
from pathlib import Path

import numpy as np

from viewer.decode.cache import FrameCache
from viewer.decode.pool import DecodePool
from viewer.decode.requests import Frame, FrameRequest
from viewer.dicom.files import DicomFileError
from viewer.dicom.frameinfo import FrameValues
from viewer.dicom.stack import Stack
from viewer.jobs import Cancelled, CancelToken
from viewer.volume.model import Volume
from viewer.volume.plan import (
    Target,
    VolumeError,
    VolumePlan,
    default_budget_bytes,
    plan_volume,
)

LOGGER = logging.getLogger(__name__)

# Pool priorities: below a 2D viewport's visible frame (0) and its near neighbours.
PRIORITY_COARSE = 50
PRIORITY_REST = 51
COARSE_SLICES = 16  # about this many evenly spread slices come first
CHANGE_INTERVAL_S = 0.1
INT16_MAX = 32767
SUBMIT_BATCH = 8  # on_change at most this often while loading (and once at the end)

__all__ = [
    "VolumeError", "VolumeLoader", "VolumePlan", "copy_slice", "default_budget_bytes",
    "load_volume", "new_volume", "plan_volume",
]


def new_volume(plan: VolumePlan, stack: Stack) -> Volume:
    """The empty volume of a plan: zeroed voxels (pages are committed as slices arrive)."""
    return Volume(
        voxels=np.zeros(plan.shape, dtype=plan.dtype),
        affine=plan.affine.copy(),
        frame_of_reference_uid=plan.frame_of_reference_uid,
        series_uid=plan.series_uid,
        modality=plan.modality,
        units=plan.units,
        padding=plan.padding,
        info=stack.info,
        window=plan.window,
        suv_factor=plan.suv_factor,
        suv_reason=plan.suv_reason,
        warnings=plan.warnings,
    )


def copy_slice(
    out: np.ndarray,
    frames: list[np.ndarray],
    values: list[FrameValues],
    target: Target,
    step: int,
    padding: float,
) -> int:
    """Write target slice `out` (a view into the voxels) as modality values from its source
    frames (stored values): rescale per frame, interpolate between two frames, every `step`-th
    row and column. Returns how many non-finite values (float data) were replaced by `padding`."""
    sources = [f[::step, ::step] if step > 1 else f for f in frames]
    if target.weight == 0.0:
        _modality_into(out, sources[0], values[0])
    else:
        first = np.empty(out.shape, dtype=np.float32)
        second = np.empty(out.shape, dtype=np.float32)
        _modality_into(first, sources[0], values[0])
        _modality_into(second, sources[1], values[1])
        first *= np.float32(1.0 - target.weight)
        second *= np.float32(target.weight)
        first += second
        if out.dtype.kind == "f":
            np.copyto(out, first)
        else:
            np.rint(first, out=first)
            np.copyto(out, first, casting="unsafe")
    if out.dtype.kind != "f" or all(s.dtype.kind != "f" for s in sources):
        return 0
    bad = ~np.isfinite(out)
    count = int(np.count_nonzero(bad))
    if count:
        out[bad] = padding
    return count


def _modality_into(out: np.ndarray, stored: np.ndarray, values: FrameValues) -> None:
    """out = stored * slope + intercept, cast to out's type (int16 only when exact)."""
    if values.slope == 1.0:
        if values.intercept == 0.0:
            np.copyto(out, stored, casting="unsafe")
        elif out.dtype.kind == "f":
            np.add(stored, np.float32(values.intercept), out=out, casting="unsafe")
        elif stored.dtype.kind in "iu" and stored.dtype.itemsize <= 2:
            # In int16 throughout (4x faster than through int32): the plan checked that every
            # stored value plus the intercept fits, and unsigned values below 2**15 are the
            # same bits as int16.
            if stored.dtype == np.uint16 and values.stored_max <= INT16_MAX:
                stored = stored.view(np.int16)
            np.add(stored, np.int16(values.intercept), out=out, casting="unsafe")
        else:
            np.add(stored, np.int32(values.intercept), out=out, casting="unsafe")
        return
    np.multiply(stored, np.float32(values.slope), out=out, casting="unsafe")
    out += np.float32(values.intercept)


def coarse_first(count: int) -> tuple[list[int], int]:
    """Source indices in request order (the centre, then every n-th, then the rest) and how
    many of them are the coarse first pass."""
    if count == 0:
        return [], 0
    stride = max(1, count // COARSE_SLICES)
    coarse = list(dict.fromkeys([count // 2, *range(0, count, stride), count - 1]))
    chosen = set(coarse)
    return coarse + [s for s in range(count) if s not in chosen], len(coarse)


class VolumeLoader:
    """Fill a `Volume` of `stack` from `pool` as frames decode.

    Raises VolumeError at once when the series cannot form a volume. `volume` exists from the
    start (`filled[k]` false until slice k arrives); `on_change(volume)` is called on the pool's
    thread at most every CHANGE_INTERVAL_S and once when loading ends. `errors` lists one line
    per frame that failed, naming the file. `cache` (default: the pool's) loses each frame once
    it is copied in.
    """

    def __init__(
        self,
        stack: Stack,
        pool: DecodePool,
        cache: FrameCache | None = None,
        budget_bytes: int | None = None,
        on_change: Callable[[Volume], None] | None = None,
    ) -> None:
        self.plan = plan_volume(stack, budget_bytes)
        self.volume = new_volume(self.plan, stack)
        self.errors: list[str] = []
        self._pool = pool
        self._cache = cache if cache is not None else pool.cache
        self._on_change = on_change
        self._users = self.plan.users()
        self._waiting = [len(t.sources) for t in self.plan.targets]  # sources not yet here
        self._held: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        # Futures not yet delivered; a delivered one is forgotten at once, or its Frame (and
        # shared memory) would outlive the copy.
        self._futures: dict[int, Future[Frame]] = {}
        self._outstanding = len(self.plan.sources)
        self._done = threading.Event()
        self._cancelled = False
        self._non_finite: list[str] = []
        self._last_change = 0.0

    def start(self) -> None:
        """Request every frame; frames already cached are copied in before this returns."""
        # Frames already cached are copied at once, in slice order (memory is committed a
        # huge page at a time: spreading them would commit pages for slices still to come),
        # straight from the cache: no request, future or callback each (a 1,000-slice build
        # spent as long on those as on copying); the rest are decoded coarse first.
        sources = self.plan.sources
        cache = self._cache
        missing = []
        for s, key in enumerate(sources):
            frame = cache.get(*key) if cache is not None and not self._cancelled else None
            if frame is None:
                missing.append(s)
            else:
                self._deliver(s, frame)
            del frame  # the copy is the only place its pixels may stay
        spread, coarse = coarse_first(len(missing))
        order = [missing[n] for n in spread]
        requests = [
            FrameRequest(*sources[s], priority=PRIORITY_COARSE if n < coarse else PRIORITY_REST)
            for n, s in enumerate(order)
        ]
        # In batches: a future that is done (a frame cached meanwhile) holds its frame until
        # the batch's list is dropped.
        for start in range(0, len(requests), SUBMIT_BATCH):
            if self._cancelled:  # cancel() from another thread while we submit
                break
            batch = self._pool.submit_many(requests[start : start + SUBMIT_BATCH])
            chunk = order[start : start + SUBMIT_BATCH]
            with self._lock:
                self._futures.update(zip(chunk, batch, strict=True))
            for s, future in zip(chunk, batch, strict=True):
                future.add_done_callback(partial(self._arrived, s))
            del batch, future

    def cancel(self) -> None:
        """Drop the frames not yet decoded (our futures only: other viewers' requests stay)."""
        with self._lock:
            self._cancelled = True
            futures = list(self._futures.values())
            self._futures.clear()
            self._held.clear()
        for future in futures:
            future.cancel()
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once every frame is copied in or has failed (or the loader was cancelled)."""
        return self._done.wait(timeout)

    # -- on the pool's thread ---------------------------------------------------------------
    def _arrived(self, source: int, future: Future[Frame]) -> None:
        with self._lock:
            self._futures.pop(source, None)
        try:
            frame = future.result()
        except CancelledError:
            self._settle()
            return
        except Exception as exc:  # FrameError, PoolClosed, WorkerCrashed: a line, not a crash
            self._failed(source, exc.reason if isinstance(exc, DicomFileError) else str(exc))
            return
        self._deliver(source, frame)

    def _deliver(self, source: int, frame: Frame) -> None:
        try:
            self._copy_in(source, frame)
        except Exception as exc:  # a frame of another size or colour: that frame only
            LOGGER.debug("copying frame %s failed", self.plan.sources[source], exc_info=True)
            self._failed(source, f"{_file(self.plan.sources[source])}: {exc}")
            return
        self._settle()

    def _copy_in(self, source: int, frame: Frame) -> None:
        plan, volume = self.plan, self.volume
        if frame.array.shape != plan.frame_shape:
            raise ValueError(
                f"frame is {frame.array.shape[1]} x {frame.array.shape[0]}"
                f"{' colour' if frame.array.ndim == 3 else ''}, not like the series"
            )
        with self._lock:
            if self._cancelled:
                return
            self._held[source] = frame.array
            done = []
            for k in self._users[source]:
                self._waiting[k] -= 1
                if self._waiting[k] == 0:
                    target = plan.targets[k]
                    bad = copy_slice(
                        volume.voxels[k],
                        [self._held[s] for s in target.sources],
                        [plan.values[s] for s in target.sources],
                        target,
                        plan.step,
                        plan.padding,
                    )
                    if bad:
                        self._non_finite.append(f"{bad} in slice {k + 1}")
                    done.append(k)
            volume.filled[done] = True
            if done:
                volume.revision += 1
            released = self._release_locked({s for k in done for s in plan.targets[k].sources})
        if self._cache is not None:
            for s in released:
                self._cache.discard(*plan.sources[s])

    def _failed(self, source: int, reason: str) -> None:
        name = _file(self.plan.sources[source])
        with self._lock:
            self.errors.append(reason if reason.startswith(name) else f"{name}: {reason}")
            # The slices that needed this frame stay empty: free the frames held for them.
            for k in self._users[source]:
                self._waiting[k] = -1
            self._release_locked(
                {s for k in self._users[source] for s in self.plan.targets[k].sources}
            )
        self._settle()

    def _release_locked(self, candidates: set[int]) -> list[int]:
        """Forget the held frames whose every target slice is filled or cannot be."""
        released = [
            s
            for s in candidates
            if s in self._held
            and all(self.volume.filled[k] or self._waiting[k] < 0 for k in self._users[s])
        ]
        for s in released:
            del self._held[s]
        return released

    def _settle(self) -> None:
        with self._lock:
            self._outstanding -= 1
            finished = self._outstanding == 0
        if finished:
            self._finish()
            return
        now = time.monotonic()
        if (
            self._on_change is not None
            and not self._cancelled
            and now - self._last_change >= CHANGE_INTERVAL_S
        ):
            self._last_change = now
            self._on_change(self.volume)

    def _finish(self) -> None:
        with self._lock:
            self._held.clear()
            extra = []
            if self._non_finite:
                extra.append(
                    f"NaN or infinite values ({', '.join(self._non_finite[:3])}"
                    f"{', ...' if len(self._non_finite) > 3 else ''}): shown as "
                    f"{self.plan.padding:g}"
                )
            if not self._cancelled:
                extra.extend(_fill_unread(self.volume))
            self.volume.warnings = self.volume.warnings + tuple(extra)
        self._done.set()
        if self._on_change is not None and not self._cancelled:
            self._on_change(self.volume)


def _fill_unread(volume: Volume) -> list[str]:
    """Slices whose frames could not be read, filled like a gap from the nearest read slices
    on both sides (at the ends: left as padding); one warning line each way."""
    missing = np.flatnonzero(~volume.filled)
    if missing.size == 0:
        return []
    read = np.flatnonzero(volume.filled)
    filled = []
    for k in missing:
        above = read[read > k]
        below = read[read < k]
        if not above.size or not below.size:
            continue
        a, b = int(below[-1]), int(above[0])
        w = np.float32((k - a) / (b - a))
        mixed = volume.voxels[a].astype(np.float32) * (1 - w) + volume.voxels[b] * w
        if volume.voxels.dtype.kind != "f":
            np.rint(mixed, out=mixed)
        np.copyto(volume.voxels[k], mixed, casting="unsafe")
        filled.append(int(k))
    volume.filled[filled] = True
    if filled:
        volume.revision += 1
    lines = []
    if filled:
        names = ", ".join(str(k + 1) for k in filled[:5]) + (", ..." if len(filled) > 5 else "")
        lines.append(
            f"{len(filled)} slice{'s' if len(filled) > 1 else ''} could not be read ({names}): "
            "filled by interpolation from the slices on either side"
        )
    if len(filled) < missing.size:
        left = missing.size - len(filled)
        lines.append(
            f"{left} slice{'s' if left > 1 else ''} at the end could not be read: shown as "
            "padding"
        )
    return lines


def _file(frame: tuple[str, int]) -> str:
    return Path(frame[0]).name


def load_volume(
    stack: Stack,
    pool: DecodePool,
    budget_bytes: int | None = None,
    cancel: CancelToken | None = None,
) -> Volume:
    """The whole volume of `stack`, blocking (for the CLI). VolumeError when the series cannot
    form one or no slice could be read; frames that failed are named in `Volume.warnings`.
    Raises viewer.jobs.Cancelled when `cancel` is set."""
    loader = VolumeLoader(stack, pool, budget_bytes=budget_bytes)
    loader.start()
    while not loader.wait(0.1):
        if cancel is not None and cancel.cancelled:
            loader.cancel()
            raise Cancelled
    volume = loader.volume
    if not volume.filled.any():
        raise VolumeError(loader.errors[0] if loader.errors else "no slice could be read")
    volume.warnings = volume.warnings + tuple(loader.errors)
    return volume
