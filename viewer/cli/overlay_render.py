"""`dicom-viewer render FILE --overlay SEG_OR_RTSTRUCT.dcm [--frame N] [-o OUT.png]`.

The frame through the display pipeline, then the Segmentation's segments blended in their
recommended colours or the RT Structure Set's contours outlined in their ROI Display Colors
(viewer.dicom.overlay_raster): an RGB PNG. An overlay that cannot be placed on the image (another
Frame of Reference, another series) is refused in one line naming both files: exit 2, no PNG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli import CLIError
from viewer.dicom.display import DisplayState


def render_with_overlay(args: argparse.Namespace, state: DisplayState) -> int:
    from viewer.dicom.display import render_frame, write_png
    from viewer.dicom.files import DicomFileError, read_dataset
    from viewer.dicom.overlay_frame import OverlayMismatch
    from viewer.dicom.overlay_raster import (
        OverlayError,
        burn_overlay,
        overlay_on_frame,
        read_overlay,
    )
    from viewer.dicom.pixels import check_pixel_layout, read_header
    from viewer.dicom.rtstruct import StructureSet

    src: Path = args.path
    overlay_path: Path = args.overlay
    if src.is_dir():
        raise CLIError(f"{src}: --overlay draws on one file, not a folder")
    if not overlay_path.exists():
        raise CLIError(f"{overlay_path}: no such file")
    try:
        header = read_header(src)
        frames = check_pixel_layout(src, header).frames
    except DicomFileError as exc:
        raise CLIError(str(exc)) from None
    if args.frame is not None and not 1 <= args.frame <= frames:
        raise CLIError(f"{src}: frame {args.frame} requested, the image has {frames}")
    index = (args.frame or 1) - 1
    try:
        overlay = read_overlay(read_dataset(overlay_path))
    except DicomFileError as exc:
        raise CLIError(str(exc)) from None
    except OverlayError as exc:
        raise CLIError(f"{overlay_path}: {exc}") from None
    try:
        placed = overlay_on_frame(overlay, header, index)
    except OverlayMismatch as exc:
        raise CLIError(f"{overlay_path}: cannot be drawn on {src}: {exc}") from None
    try:
        picture = render_frame(src, index, state)
    except DicomFileError as exc:
        raise CLIError(str(exc)) from None
    problems = overlay.problems if isinstance(overlay, StructureSet) else ()
    for problem in problems:
        print(f"{overlay_path}: {problem}", file=sys.stderr)
    out = args.output or Path(src.name).with_suffix(".png")
    if out.is_dir():
        out = out / Path(src.name).with_suffix(".png").name
    write_png(burn_overlay(picture, placed), out)
    drawn = (f"{len(placed.masks)} segment(s)" if not isinstance(overlay, StructureSet)
             else f"{len(placed.contours)} contour(s)")
    print(f"rendered 1 frame(s) with {drawn} of {overlay_path.name}: {out}")
    return 1 if problems else 0
