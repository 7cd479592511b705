"""`dicom-viewer render PATH [--frame N] [--window C W | --preset NAME] [-o OUT] [-j N]`
(`--overlay SEG_OR_RTSTRUCT`: viewer.cli.overlay_render)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from viewer.cli import CLIError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "render",
        help="render frames to PNG through the display pipeline",
        description="A file: one frame to PNG. A folder, or a multi-frame file with -o DIR: "
        "every frame. Without --window: the file's first window, else its VOI LUT, else the "
        "frame's min-max.",
    )
    p.add_argument("path", type=Path, help="DICOM file or folder")
    p.add_argument("--frame", type=int, help="frame number, 1-based (default 1)")
    win = p.add_mutually_exclusive_group()
    win.add_argument(
        "--window",
        nargs=2,
        type=float,
        metavar=("C", "W"),
        help="window center and width in modality units (PS3.3 C.11.2.1.2)",
    )
    win.add_argument("--preset", help="CT window preset: brain, lung, bone, abdomen, ...")
    p.add_argument("--invert", action="store_true", help="invert the grey scale")
    p.add_argument("--no-overlays", action="store_true", help="do not burn in 60xx overlays")
    p.add_argument(
        "--presentation-state", type=Path, metavar="PS.dcm",
        help="show the frame as this softcopy presentation state does (LUTs, rotation/flip, "
        "displayed area, shutters, activated overlays); one file only",
    )
    p.add_argument("-o", "--output", type=Path, help="output PNG file, or folder")
    p.add_argument(
        "--overlay", type=Path, metavar="SEG_OR_RTSTRUCT",
        help="draw a Segmentation (segments filled in their colours) or an RT Structure Set "
        "(contours outlined) over the frame: an RGB PNG",
    )
    p.add_argument(
        "-j", "--jobs", type=int, default=0, help="worker processes (default: 1 for one frame, "
        "else the number of CPUs)"
    )


def run(args: argparse.Namespace) -> int:
    from viewer.decode.batch import RenderJob, folder_jobs, run_render_jobs
    from viewer.dicom.display import DisplayState
    from viewer.dicom.files import DicomFileError
    from viewer.dicom.pixels import check_pixel_layout, read_header

    from .progress import TerminalProgress
    from .windowing import chosen_window

    src: Path = args.path
    if not src.exists():
        raise CLIError(f"{src}: no such file or folder")
    if args.presentation_state is not None and args.overlay is not None:
        raise CLIError("--presentation-state and --overlay: one at a time for now")
    if args.presentation_state is not None:
        from .render_presentation import run as run_presentation

        return run_presentation(args)
    window = chosen_window(args)
    state = DisplayState(window=window, invert=args.invert, overlays=not args.no_overlays)
    if args.overlay is not None:
        from .overlay_render import render_with_overlay

        return render_with_overlay(args, state)
    isolated = False

    if src.is_dir():
        if args.output is None:
            raise CLIError("rendering a folder needs -o DIR")
        jobs = folder_jobs(src, args.output)
        if not jobs:
            raise CLIError(f"{src}: no files to render")
        workers = args.jobs or (os.cpu_count() or 1)
    else:
        try:
            layout = check_pixel_layout(src, read_header(src))
        except DicomFileError as exc:
            raise CLIError(str(exc)) from None
        frames = layout.frames
        # A compressed file is decoded in a worker process even alone: GDCM aborts the process
        # on some damaged streams, and that must cost a worker, not this command's report.
        isolated = layout.encapsulated
        if args.frame is not None and not 1 <= args.frame <= frames:
            raise CLIError(f"{src}: frame {args.frame} requested, the image has {frames}")
        all_frames = args.frame is None and frames > 1 and _is_dir_target(args.output)
        if all_frames:
            out_dir: Path = args.output
            workers = args.jobs or (os.cpu_count() or 1)
            chunks = _chunks(frames, max(workers, 1) * 4)
            jobs = [RenderJob(str(src), str(out_dir / src.name), c) for c in chunks]
        else:
            index = (args.frame or 1) - 1
            out = args.output or Path(src.name).with_suffix(".png")
            if out.is_dir():
                out = out / Path(src.name).with_suffix(".png").name
            stem = str(out.with_suffix("")) if out.suffix.lower() == ".png" else str(out)
            jobs = [RenderJob(str(src), stem, (index,))]
            workers = 1
            if frames > 1:  # one frame of a multi-frame image still gets a plain name
                jobs = [RenderJob(str(src), stem, (index,))]
                return _single_multiframe(src, index, state, Path(f"{stem}.png"))

    if workers > 1 and len(jobs) > 1:
        # the pool's fork server forked from this process, sharing its imports, instead of a
        # fresh interpreter importing the decoder again before the first frame (as the GUI)
        from viewer.decode.forkserver import start_here
        from viewer.decode.pool import preload_modules

        start_here(preload_modules())
    report = run_render_jobs(jobs, state, workers, TerminalProgress("render"), isolated=isolated)
    for failure in report.failed:
        print(f"{failure.item}: {failure.reason}", file=sys.stderr)
    if not report.done and report.failed and not src.is_dir():
        return 2
    print(f"rendered {len(report.done)} frame(s), {len(report.failed)} file(s) failed")
    colour_failed = False
    if report.done and not src.is_dir():
        _print_calibration(src)
        colour_failed = _report_colour(src)
    return 1 if report.failed or colour_failed else 0


def _report_colour(src: Path) -> bool:
    """One line on stderr when the image's ICC Profile could not be applied (the PNG is
    written without colour management); True then."""
    from viewer.dicom.files import DicomFileError
    from viewer.dicom.frameinfo import frame_info
    from viewer.dicom.icc import profile_problem
    from viewer.dicom.pixels import read_header

    try:
        problem = profile_problem(frame_info(read_header(src)).icc_profile)
    except DicomFileError:
        return False  # rendered, so readable
    if problem:
        print(f"{src}: {problem}", file=sys.stderr)
    return problem is not None


def _print_calibration(src: Path) -> None:
    """The calibration lengths on this image use, as `info` reports it (render has no --json:
    one more line of its report); a folder's files would each have their own, so none."""
    from viewer.dicom.files import DicomFileError
    from viewer.dicom.records import read_header

    try:
        calibration = read_header(src).calibration
    except DicomFileError:
        return  # rendered, so readable: nothing to add to what the render said
    if calibration is not None:
        print(f"calibration: {calibration.describe()}")


def _is_dir_target(output: Path | None) -> bool:
    return output is not None and (output.is_dir() or output.suffix.lower() != ".png")


def _chunks(frames: int, pieces: int) -> list[tuple[int, ...]]:
    size = max(1, -(-frames // pieces))
    return [tuple(range(i, min(i + size, frames))) for i in range(0, frames, size)]


def _single_multiframe(src: Path, index: int, state: object, out: Path) -> int:
    from viewer.dicom.display import DisplayState, render_to_png
    from viewer.dicom.files import DicomFileError

    assert isinstance(state, DisplayState)
    try:
        render_to_png(src, index, state, out)
    except DicomFileError as exc:
        raise CLIError(str(exc)) from None
    print("rendered 1 frame(s), 0 file(s) failed")
    _print_calibration(src)
    return 1 if _report_colour(src) else 0
