"""How fast a volume is built from cached frames, and how much memory the build takes.

`measure_build` times `VolumeLoader` filling a 512x512x1000 int16 CT volume from 1,000 frames
already in the decode pool's `FrameCache` (put there in shared memory exactly as the pool does:
`sharedmem.write_block` then `take_block`), against one `ndarray.copy()` of a volume of the same
size, alternating, and reads the peak resident memory of the build from the kernel (VmHWM
after resetting it through /proc/self/clear_refs). Targets (issue 16): build <= 1.0x the copy;
peak memory <= 1.1x the volume.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from viewer.decode.cache import FrameCache
from viewer.decode.pool import DecodePool
from viewer.decode.requests import Frame
from viewer.decode.sharedmem import take_block, write_block
from viewer.dicom.frameinfo import FrameInfo, FrameValues
from viewer.dicom.stack import SliceGeometry, Stack, StackInfo
from viewer.volume.build import VolumeLoader

LOGGER = logging.getLogger(__name__)

SHAPE = (1000, 512, 512)  # slices, rows, columns
PIXEL_SPACING = 0.7
SLICE_SPACING = 1.0
INTERCEPT = -1024


def bench_stack(shape: tuple[int, int, int] = SHAPE) -> Stack:
    """A CT stack of `shape` whose frames are never read from disk (they are all cached)."""
    slices, rows, columns = shape
    values = FrameValues(1.0, float(INTERCEPT), 0.0, 4095.0, 1, "HU", (40.0, 400.0))
    frames = [(f"/bench-volume/slice{k:04d}.dcm", 0) for k in range(slices)]
    geometry: list[SliceGeometry | None] = [
        SliceGeometry(
            position=(0.0, 0.0, k * SLICE_SPACING),
            orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
            pixel_spacing=(PIXEL_SPACING, PIXEL_SPACING),
            slice_thickness=SLICE_SPACING,
            slice_location=k * SLICE_SPACING,
            frame_of_reference_uid="1.2.826.0.1.3680043.8.498.1",
            rows=rows,
            columns=columns,
        )
        for k in range(slices)
    ]
    return Stack(
        "1.2.826.0.1.3680043.8.498.2", "bench", frames=frames, geometry=geometry,
        info=StackInfo(modality="CT"), values=[values] * slices,
    )


def fill_cache(cache: FrameCache, stack: Stack, seed: int = 0) -> None:
    """Put one 12-bit frame per slice of `stack` into `cache`, through shared memory, each
    read once (resident, as after display)."""
    rng = np.random.default_rng(seed)
    rows, columns = stack.geometry[0].rows, stack.geometry[0].columns  # type: ignore[union-attr]
    info = FrameInfo(
        rows=rows, columns=columns, samples_per_pixel=1, photometric="MONOCHROME2",
        stored_photometric="MONOCHROME2", bits_allocated=16, bits_stored=12, signed=False,
        rescale_intercept=float(INTERCEPT), rescale_type="HU",
    )
    pattern = rng.integers(0, 4096, size=(rows, columns), dtype=np.uint16)
    prefix = f"dvb{os.getpid():x}{secrets.token_hex(2)}_"
    for k, (path, index) in enumerate(stack.frames):
        name = f"{prefix}{k:x}"
        shape, dtype = write_block(name, np.roll(pattern, k, axis=1))
        array = take_block(name, shape, dtype)
        # Read once, as a viewport does when it shows the frame: its pages are then mapped
        # here and counted in this process's resident memory, as the peak must count them.
        array.sum()
        cache.put(Frame(path, index, array, info))


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def _peak_bytes() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _build(
    stack: Stack, pool: DecodePool, cache: FrameCache
) -> tuple[float, float, float, int]:
    """One build from a full cache: (seconds, CPU seconds, peak bytes, volume bytes). Every
    frame is a cache hit, so the copies run on this thread and its CPU time counts them all."""
    peak_known = _reset_peak()
    start, cpu = time.perf_counter(), time.thread_time()
    loader = VolumeLoader(stack, pool)
    loader.start()
    finished = loader.wait(600)
    seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
    peak = _peak_bytes() if peak_known else _rss_bytes()
    if not finished or not loader.volume.complete or len(cache):
        raise RuntimeError("the benchmark build did not complete from the cache")
    return seconds, cpu, peak, loader.volume.voxels.nbytes


def _copy(reference: np.ndarray) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.thread_time()
    copy = reference.copy()
    seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
    del copy
    return seconds, cpu


def measure_build(passes: int = 5, shape: tuple[int, int, int] = SHAPE) -> dict[str, Any]:
    """Medians and every pass of: the build from cached frames (s), one ndarray.copy() of a
    volume of the same size (s), their ratio within each pass (the two alternate in order),
    the same in CPU time of the thread (less disturbed by other processes on a busy machine),
    and the build's peak memory above the process's memory before the frames were cached, as
    a multiple of the volume's size (frames plus voxels; 1.0 when each frame is freed as it
    is copied)."""
    stack = bench_stack(shape)
    reference = np.ones(shape, dtype=np.int16)  # what the copy copies: resident, like a volume
    build_s: list[float] = []
    copy_s: list[float] = []
    build_cpu: list[float] = []
    copy_cpu: list[float] = []
    peaks: list[float] = []
    cache = FrameCache(2 * int(np.prod(shape)) * 2 + (64 << 20))
    with DecodePool(1, cache=cache) as pool:
        for n in range(passes):
            gc.collect()
            copies = [_copy(reference)] if n % 2 else []
            before = _rss_bytes()
            fill_cache(cache, stack)
            seconds, cpu, peak, nbytes = _build(stack, pool, cache)
            build_s.append(seconds)
            build_cpu.append(cpu)
            peaks.append((peak - before) / nbytes)
            gc.collect()
            if not n % 2:
                copies.append(_copy(reference))
            copy_s.append(copies[0][0])
            copy_cpu.append(copies[0][1])
    ratios = [b / c for b, c in zip(build_s, copy_s, strict=True)]
    cpu_ratios = [b / c for b, c in zip(build_cpu, copy_cpu, strict=True)]
    return {
        "shape": list(shape),
        "volume_mb": round(int(np.prod(shape)) * 2 / 1e6, 1),
        "build_s": round(statistics.median(build_s), 4),
        "copy_s": round(statistics.median(copy_s), 4),
        "build_vs_copy": round(statistics.median(ratios), 3),
        "build_vs_copy_cpu": round(statistics.median(cpu_ratios), 3),
        "peak_memory_vs_volume": round(statistics.median(peaks), 3),
        "passes": {
            "build_s": [round(t, 4) for t in build_s],
            "copy_s": [round(t, 4) for t in copy_s],
            "build_vs_copy": [round(r, 3) for r in ratios],
            "build_cpu_s": [round(t, 4) for t in build_cpu],
            "copy_cpu_s": [round(t, 4) for t in copy_cpu],
            "build_vs_copy_cpu": [round(r, 3) for r in cpu_ratios],
            "peak_memory_vs_volume": [round(p, 3) for p in peaks],
        },
        "targets": {"build_vs_copy": 1.0, "peak_memory_vs_volume": 1.1},
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure_build()))
