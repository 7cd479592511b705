"""The MP4 row of `bench quality` (issue 19): `export-images SERIES --format mp4` of a 300-frame
512x512 CT against encoding the same frames with ffmpeg from PNGs (target: <= 1.5x).

Both sides are whole processes, alternated pass by pass, with the same encoder arguments
(viewer.media.video.encoder_arguments); the PNGs are the frames `export-images --format png`
writes for the series, made once before timing. Ours includes Python's start, reading and
decoding the series and the display pipeline; the baseline only ffmpeg decoding PNGs.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

TARGET = 1.5
RATE = 10  # frames per second, both sides


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{' '.join(command[:4])}...: exit {done.returncode}: {last}")
    return elapsed


def measure_mp4_export(work: Path, frames: int = 300, repeat: int = 5,
                       progress: Callable[[str], None] | None = None
                       ) -> tuple[list[float], list[float]]:
    """Seconds per pass of our export and of the baseline, alternating, in run order; the
    series and the PNGs are written in `work` first."""
    from viewer.dicom.demo import write_ct_series
    from viewer.media.video import encoder_arguments, ffmpeg_program

    say = progress or (lambda _message: None)
    ffmpeg = ffmpeg_program()
    series = work / f"ct{frames}"
    if not series.is_dir() or len(list(series.glob("*.dcm"))) != frames:
        say(f"writing a {frames}-slice CT")
        write_ct_series(series, slices=frames)
    viewer = [sys.executable, "-m", "viewer"]
    pngs = work / "pngs"
    say("rendering the baseline's PNGs")
    _seconds([*viewer, "export-images", str(series), "--format", "png", "-o", str(pngs)])
    ours = [*viewer, "export-images", str(series), "--format", "mp4", "--fps", str(RATE),
            "-o", str(work / "ours.mp4")]
    baseline = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                "-framerate", str(RATE), "-i", str(pngs / "%04d.png"),
                *encoder_arguments("mp4"), str(work / "baseline.mp4")]
    ours_s: list[float] = []
    baseline_s: list[float] = []
    for n in range(repeat):
        say(f"mp4 export: pass {n + 1} of {repeat}")
        ours_s.append(_seconds(ours))
        baseline_s.append(_seconds(baseline))
    return ours_s, baseline_s
