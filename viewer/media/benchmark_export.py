"""The MP4 row of `bench quality` (issue 19): `export-images SERIES --format mp4` of a 300-frame
512x512 CT against encoding the same frames with ffmpeg from PNGs (target: <= 1.5x).

Both sides are whole processes, alternated pass by pass, with the same encoder arguments
(viewer.media.video.encoder_arguments); the PNGs are the frames `export-images --format png`
writes for the series, made once before timing. Ours includes Python's start, reading and
decoding the series and the display pipeline; the baseline only ffmpeg decoding PNGs.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TARGET = 1.5
RATE = 10  # frames per second, both sides


@dataclass
class Mp4ExportBench:
    """Seconds per pass for our export and the ffmpeg-from-PNGs baseline, same order."""

    frames: int
    ours_s: list[float] = field(default_factory=list)
    baseline_s: list[float] = field(default_factory=list)
    target: float = TARGET

    @property
    def ratio(self) -> float:
        """Median of our passes over the median of the baseline's."""
        return statistics.median(self.ours_s) / statistics.median(self.baseline_s)

    @property
    def met(self) -> bool:
        return self.ratio <= self.target

    def row(self) -> str:
        verdict = "PASS" if self.met else "FAIL"
        return (f"mp4 export, {self.frames} frames 512x512: "
                f"{statistics.median(self.ours_s):.2f} s vs ffmpeg from PNGs "
                f"{statistics.median(self.baseline_s):.2f} s = {self.ratio:.2f}x "
                f"(target <= {self.target:g}x) {verdict}\n"
                f"  passes: ours {' '.join(f'{s:.2f}' for s in self.ours_s)} / baseline "
                f"{' '.join(f'{s:.2f}' for s in self.baseline_s)}")

    def to_dict(self) -> dict[str, object]:
        return {"name": "mp4_export", "frames": self.frames, "ours_s": self.ours_s,
                "baseline_s": self.baseline_s, "ratio": self.ratio, "target": self.target,
                "met": self.met}


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{' '.join(command[:4])}...: exit {done.returncode}: {last}")
    return elapsed


def measure_mp4_export(work: Path, frames: int = 300, repeat: int = 5,
                       progress: Callable[[str], None] | None = None) -> Mp4ExportBench:
    """Run the row in `work` (the series is kept there and reused); medians of `repeat`."""
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
    result = Mp4ExportBench(frames)
    for n in range(repeat):
        say(f"pass {n + 1} of {repeat}")
        result.ours_s.append(_seconds(ours))
        result.baseline_s.append(_seconds(baseline))
    return result


def main(argv: list[str] | None = None) -> int:
    """`python -m viewer.media.benchmark_export [WORKDIR]`: the row alone, as JSON."""
    import tempfile

    args = sys.argv[1:] if argv is None else argv
    with tempfile.TemporaryDirectory(prefix="bench-mp4-") as scratch:
        work = Path(args[0]) if args else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        result = measure_mp4_export(work)
    print(json.dumps(result.to_dict(), indent=2))
    print(result.row(), file=sys.stderr)
    return 0 if result.met else 1


if __name__ == "__main__":
    raise SystemExit(main())
