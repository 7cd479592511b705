"""`dicom-viewer render FILE --presentation-state PS.dcm [--frame N] [-o OUT.png]`: one frame as
a softcopy presentation state shows it (issue 17, section 8)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli import CLIError


def run(args: argparse.Namespace) -> int:
    from viewer.dicom.display import DisplayState, write_png
    from viewer.dicom.files import DicomFileError
    from viewer.dicom.presentation_apply import present_file, read_presentation_state_file
    from viewer.dicom.presentation_state import PresentationStateError

    from .windowing import chosen_window

    src: Path = args.path
    ps_path: Path = args.presentation_state
    if src.is_dir():
        raise CLIError(f"{src}: --presentation-state renders one file, not a folder")
    for path in (src, ps_path):
        if not path.is_file():
            raise CLIError(f"{path}: no such file")
    out = args.output or Path(src.name).with_suffix(".png")
    if out.is_dir():
        out = out / Path(src.name).with_suffix(".png").name
    state = DisplayState(window=chosen_window(args), invert=args.invert,
                         overlays=not args.no_overlays)
    try:
        ps = read_presentation_state_file(ps_path)
        presented = present_file(src, ps, args.frame or 1, state)
    except (DicomFileError, PresentationStateError) as exc:
        raise CLIError(str(exc)) from None
    for problem in presented.problems:  # annotation items, ICC Profile left out; the rest shown
        print(f"{ps_path}: {problem}", file=sys.stderr)
    write_png(presented.image, out)
    width, height = presented.geometry.size
    print(f"rendered 1 frame(s) with presentation state {ps.state.label!r}: {width}x{height} "
          f"-> {out}")
    return 1 if presented.problems else 0
