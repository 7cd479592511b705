"""`dicom-viewer print NODE PATH|SERIES_UID... [--key-images STUDY_UID] [--layout CxR]
[--film-size S] [--orientation O] [--copies N] [--medium M] [--window C W] [--color]`:
compose films through the display pipeline (viewer.printing.compose) and print them on a
configured DICOM printer (viewer.printing.scu)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.cli import CLIError, config_node, load_config, open_archive

if TYPE_CHECKING:
    from viewer.dicom.display import DisplayState
    from viewer.printing.compose import ImageSource
    from viewer.printing.scu import PrintResult


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "print",
        help="print images on a DICOM printer (Basic Grayscale / Color Print Management)",
        description="Images in reading order fill the boxes of each film row by row; more "
        "images than boxes make several films. Exit 0 when every film printed, 1 when an "
        "image could not be decoded (its box is left empty) or a film was not printed, 2 "
        "when nothing could be printed (bad input, printer unreachable or refusing).",
    )
    p.add_argument("node", help="a printer node name from `nodes list`")
    p.add_argument("items", nargs="*", metavar="PATH|SERIES_UID",
                   help="a file, a folder (recursive) or a Series Instance UID in the archive")
    p.add_argument("--key-images", metavar="STUDY_UID",
                   help="first, the key images of this study (its Key Object Selection "
                   "documents in the archive), each through the presentation state it is seen "
                   "with")
    p.add_argument("--layout", default="1x1", help="COLUMNSxROWS image boxes (1x1)")
    p.add_argument("--film-size", default="14INX17IN", help="Film Size ID (14INX17IN)")
    p.add_argument("--orientation", default="PORTRAIT", help="PORTRAIT or LANDSCAPE")
    p.add_argument("--copies", type=int, default=1, help="number of copies (1)")
    p.add_argument("--medium", help="Medium Type: PAPER, CLEAR FILM, BLUE FILM, ...")
    p.add_argument("--priority", help="Print Priority: HIGH, MED, LOW")
    p.add_argument("--destination", help="Film Destination: MAGAZINE, PROCESSOR, BIN_i")
    p.add_argument("--magnification", help="Magnification Type: REPLICATE, BILINEAR, CUBIC, NONE")
    p.add_argument("--trim", action=argparse.BooleanOptionalAction, default=None,
                   help="trim (a box around each image)")
    p.add_argument("--window", nargs=2, type=float, metavar=("C", "W"),
                   help="window center and width in modality units (default: the file's)")
    p.add_argument("--color", action="store_true", help="Basic Color Print Management (RGB)")
    p.add_argument("--bits", type=int, choices=(8, 12), default=8,
                   help="grey bits per pixel sent to the printer (8)")
    p.add_argument("--pixels-per-mm", type=float, default=4.0,
                   help="image box resolution on the film (4 px/mm, about 100 dpi)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from viewer.dicom.display import DisplayState
    from viewer.net.association import Local, PeerError
    from viewer.printing.compose import FilmSpec, PixelDepth, compose_films, sources_from_frames
    from viewer.printing.film import Layout, Orientation
    from viewer.printing.scu import PrintError, PrintOptions, print_films

    from .progress import TerminalProgress

    settings = load_config(args)
    node = config_node(settings, args.node)
    depth = PixelDepth.RGB if args.color else (
        PixelDepth.GRAY12 if args.bits == 12 else PixelDepth.GRAY8)
    try:
        spec = FilmSpec(Layout.parse(args.layout), args.film_size.strip().upper(),
                        Orientation.parse(args.orientation), depth, args.pixels_per_mm)
        options = PrintOptions(copies=args.copies, priority=args.priority, medium=args.medium,
                               destination=args.destination, magnification=args.magnification,
                               trim=args.trim)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if not args.items and not args.key_images:
        raise CLIError("nothing to print: give files, folders, series or --key-images STUDY_UID")
    state = DisplayState(window=tuple(args.window)) if args.window else None
    sources = _key_image_sources(args, state) if args.key_images else []
    frames, unreadable = _resolve(args) if args.items else ([], [])
    composition = compose_films([*sources, *sources_from_frames(frames, state)], spec,
                                TerminalProgress("compose"))
    try:
        result = print_films(node, Local(settings.local, settings.network), composition,
                             options, TerminalProgress("print"))
    except PrintError as exc:
        if exc.result is not None and exc.result.films_printed:
            _print(args, exc.result, unreadable)
            print(f"dicom-viewer print: {exc}", file=sys.stderr)
            return 1
        raise CLIError(str(exc)) from None
    except PeerError as exc:
        raise CLIError(str(exc)) from None
    _print(args, result, unreadable)
    return 0 if result.ok and not unreadable else 1


def _key_image_sources(args: argparse.Namespace, state: DisplayState | None
                       ) -> list[ImageSource]:
    """The study's key images, as the reading window's "key images only" print makes them:
    each with the stored presentation state its KOS item names (None: the image's own)."""
    from viewer.printing.compose import ImageSource
    from viewer.reading.key_images import key_image_frames, saved_flags

    with open_archive(args) as archive:
        if archive.index.get_study(args.key_images) is None:
            raise CLIError(f"{args.key_images}: no such study in the archive")
        frames = key_image_frames(archive, saved_flags(archive, args.key_images))
    if not frames:
        raise CLIError(f"{args.key_images}: the study has no key images in the archive")
    return [ImageSource(path, index, state, presentation_state=ps) for path, index, ps in frames]


def _resolve(args: argparse.Namespace) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """(path, frame) in reading order for every item: files and folders as build_stacks sorts
    them, series from the archive index; and the files that are no image, with the reason."""
    from viewer.archive.stacks import series_stack
    from viewer.dicom.files import expand_paths
    from viewer.dicom.stack import build_stacks

    frames: list[tuple[str, int]] = []
    unreadable: list[tuple[str, str]] = []
    archive = None
    try:
        for item in args.items:
            path = Path(item)
            if path.exists():
                stacks, errors = build_stacks(expand_paths([path]))
                for stack in stacks:
                    frames.extend(stack.frames)
                unreadable.extend((e.path, e.reason) for e in errors)
                continue
            if archive is None:
                archive = open_archive(args)
            series = series_stack(archive, item)
            if series is None:
                raise CLIError(f"{item}: no such file, folder or series in the archive")
            frames.extend(series.frames)
    finally:
        if archive is not None:
            archive.close()
    if not frames:
        raise CLIError("nothing to print: no image among the items given")
    return frames, unreadable


def _print(args: argparse.Namespace, result: PrintResult,
           unreadable: list[tuple[str, str]]) -> None:
    if args.json:
        document: dict[str, Any] = {
            "peer": result.peer,
            "printer": {"PrinterStatus": result.printer.status,
                        "PrinterStatusInfo": result.printer.status_info},
            "films": result.films,
            "films_printed": result.films_printed,
            "boxes": result.boxes,
            "seconds": round(result.seconds, 3),
            "presentation_lut": result.presentation_lut,
            "empty_boxes": [{"film": f.film, "ImageBoxPosition": f.position, "path": f.item,
                             "reason": f.reason} for f in result.empty_boxes],
            "films_skipped": list(result.films_skipped),
            "not_images": [{"path": p, "reason": r} for p, r in unreadable],
            "warnings": [{"operation": w.operation, "status": f"0x{w.status:04X}",
                          "reason": w.message} for w in result.warnings],
            "changed": [{"attribute": r.attribute, "requested": r.requested, "used": r.used}
                        for r in result.refused],
            "events": [{"event": e.name, "reason": e.status_info} for e in result.events],
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        status = result.printer.status or "unknown"
        print(f"{result.peer}: printed {result.films_printed} of {result.films} film(s), "
              f"{result.boxes} image(s) in {result.seconds:.2f} s (printer {status}"
              f"{': ' + result.printer.status_info if result.printer.status_info else ''})")
    for f in result.empty_boxes:
        print(f"{f.item}: not printed (film {f.film}, box {f.position} left empty): {f.reason}",
              file=sys.stderr)
    for path, reason in unreadable:
        print(f"{path}: not printed: {reason}", file=sys.stderr)
    for number in result.films_skipped:
        print(f"film {number}: not printed: none of its images could be decoded", file=sys.stderr)
    for w in result.warnings:
        print(f"{result.peer}: {w}", file=sys.stderr)
    for r in result.refused:
        print(f"{result.peer}: {r.attribute} {r.requested} not taken, the printer uses {r.used}",
              file=sys.stderr)
    for e in result.events:
        print(f"{result.peer}: printer event {e.name} {e.status_info}".rstrip(), file=sys.stderr)
