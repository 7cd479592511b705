"""`dicom-viewer export-images SOURCE --format png|jpeg|tiff|mp4|gif [--window C W | --preset
NAME] [--fps N] [--annotations [--no-patient-text]] -o OUT` (issue 19, item 3).

SOURCE as `mpr`'s: a file, a folder of one series, or a Series Instance UID in the archive."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli import CLIError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export-images",
        help="a series as PNG/JPEG/TIFF pictures or an MP4/GIF cine loop",
        description="Frames through the display pipeline, as `render` shows them. Stills: one "
        "file per frame in OUT (a folder; 0001.png ...), or OUT itself for one frame. Video: "
        "one file, at the series' Cine Rate / Frame Time / Recommended Display Frame Rate, "
        "else --fps, else 10 frames per second; encoded by the system's ffmpeg.",
    )
    p.add_argument("source", nargs="+", help="a file, a folder of one series, or a Series "
                   "Instance UID in the archive")
    p.add_argument("--format", required=True, dest="image_format",
                   choices=["png", "jpeg", "tiff", "mp4", "gif"], help="what to write")
    win = p.add_mutually_exclusive_group()
    win.add_argument("--window", nargs=2, type=float, metavar=("C", "W"),
                     help="window center and width in modality units (PS3.3 C.11.2.1.2)")
    win.add_argument("--preset", help="CT window preset: brain, lung, bone, abdomen, ...")
    p.add_argument("--fps", type=float, help="frames per second of a video when the series "
                   "declares none (default 10)")
    p.add_argument("--annotations", action="store_true", help="burn in the corner texts and "
                   "orientation markers as the viewer shows them")
    p.add_argument("--no-patient-text", action="store_true", help="with --annotations: leave "
                   "out the patient's name, ID, birth date, the institution and the study "
                   "date and time (teaching files)")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="a folder (stills), a file (one still, or the video)")


def run(args: argparse.Namespace) -> int:
    from viewer.dicom.display import DisplayState
    from viewer.jobs import Cancelled
    from viewer.media.image_export import ExportOptions, export_stack
    from viewer.media.video import VideoError

    from .progress import TerminalProgress
    from .volume_source import resolve_stack
    from .windowing import chosen_window

    if args.fps is not None and not args.fps > 0:
        raise CLIError(f"--fps must be > 0, got {args.fps:g}")
    window = chosen_window(args)
    options = ExportOptions(args.image_format, DisplayState(window=window), args.fps,
                            args.annotations, patient_text=not args.no_patient_text)
    unreadable: list[str] = []  # files of SOURCE that are not images: each one failure
    stack = resolve_stack(args, args.source, unreadable)
    out: Path = args.output
    try:
        result = export_stack(stack, out, options, progress=TerminalProgress("export-images"))
    except VideoError as exc:
        raise CLIError(f"{out}: {exc}") from None
    except Cancelled:
        raise CLIError(f"{out}: cancelled") from None
    report = result.report
    for failure in report.failed:
        print(f"{failure.item}: {failure.reason}", file=sys.stderr)
    if options.image_format in ("mp4", "gif"):
        frames = len(stack.frames) - len(report.failed)  # a bad frame is left out
        print(f"wrote {out}: {frames} frame(s) at {result.rate:g} frames per second "
              f"({result.rate_source})")
    else:
        print(f"wrote {len(report.done)} picture(s), {len(report.failed)} frame(s) failed")
    if not report.done:
        return 2
    return 1 if report.failed or unreadable else 0
