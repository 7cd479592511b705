"""`dicom-viewer bench quality`: issue 19's targets, one table row per measured quantity.

A row maker takes the passes, the sizes (`--files` slices of the CT to validate, `--slices`
frames of the video), `--workdir` and a progress callback, and
returns its rows (viewer.cli.bench_rows's `Row`: passes in run order, unit, target);
`ROW_MAKERS` lists them in table order. Another quality target (image export, import with
validation on) is one more maker appended to it; the table, JSON and --strict follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from viewer.cli.bench_rows import Row

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    files: int = 1000  # slices of the CT `validate` reads
    frames: int = 300  # frames of the series exported as MP4


RowMaker = Callable[[int, Sizes, Path | None, Progress], list[Row]]


def validate_rows(passes: int, sizes: Sizes, workdir: Path | None,
                  progress: Progress) -> list[Row]:
    """`validate` on a CT of `sizes.files` 512x512 slices (viewer.quality.benchmark), per
    file."""
    from viewer.quality.benchmark import TARGET_MS_PER_FILE, measure_validate

    measured = measure_validate(passes, sizes.files, workdir, progress)
    count = f"{measured.files:,}-file CT"
    return [
        Row(f"validate DIR --json, {count}: per file", "ms", measured.cli_ms,
            TARGET_MS_PER_FILE),
        Row(f"validate_files (core, in process), {count}: per file", "ms", measured.core_ms),
        Row(f"dciodvfy alone, one file after another, {count}: per file", "ms",
            measured.dciodvfy_ms),
    ]


def mp4_export_rows(passes: int, sizes: Sizes, workdir: Path | None,
                    progress: Progress) -> list[Row]:
    """`export-images --format mp4` of a `sizes.frames`-frame CT against ffmpeg encoding the
    same frames from PNGs (viewer.media.benchmark_export): the ratio per pass (alternating),
    and both sides' seconds."""
    import tempfile

    from viewer.media.benchmark_export import TARGET, measure_mp4_export

    with tempfile.TemporaryDirectory(prefix="bench-quality-mp4-", dir=workdir) as work:
        ours, baseline = measure_mp4_export(Path(work), sizes.frames, passes, progress)
    name = f"export-images --format mp4, {sizes.frames} frames 512x512"
    return [
        Row(f"{name}: / ffmpeg from PNGs", "x", [o / b for o, b in zip(ours, baseline,
                                                                        strict=True)], TARGET),
        Row(f"{name}", "s", ours),
        Row("ffmpeg encoding the same frames from PNGs", "s", baseline),
    ]


def import_validation_rows(passes: int, sizes: Sizes, workdir: Path | None,
                           progress: Progress) -> list[Row]:
    """`import DIR` of a `sizes.files`-slice CT with validation on against off, in time to
    commit (viewer.quality.benchmark_import): the ratio per pass (alternating), both sides'
    seconds, and when the findings were stored."""
    from viewer.quality.benchmark_import import TARGET_RATIO, measure_import_validation

    measured = measure_import_validation(passes, sizes.files, workdir, progress)
    name = f"import DIR, {measured.files:,}-file CT"
    return [
        Row(f"{name}: validation on / off, time to commit", "x", measured.ratios,
            TARGET_RATIO),
        Row(f"{name}, validation off: committed", "s", measured.off_commit),
        Row(f"{name}, validation on: committed", "s", measured.on_commit),
        Row(f"{name}, validation on: findings stored", "s", measured.on_findings),
    ]


ROW_MAKERS: list[RowMaker] = [validate_rows, mp4_export_rows, import_validation_rows]


def measure_rows(passes: int, sizes: Sizes, workdir: Path | None, progress: Progress
                 ) -> list[Row]:
    return [row for make in ROW_MAKERS for row in make(passes, sizes, workdir, progress)]
