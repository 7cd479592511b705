"""Arguments of `dicom-viewer [view] [PATH...] [--layout CxR] [--screenshot PNG]`.

Only the parser lives here: `viewer.__main__` hands the `view` verb to `viewer.gui.launch`, since
the command line never imports Qt.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def parse_layout(text: str) -> tuple[int, int]:
    """'3x4' -> (3 columns, 4 rows), as DICOM's STANDARD\\C,R (CLI.md)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"layout must be COLUMNSxROWS like 2x2, not {text!r}")
    columns, rows = int(match.group(1)), int(match.group(2))
    if not (1 <= columns <= 8 and 1 <= rows <= 8):
        raise argparse.ArgumentTypeError(f"layout {text} out of range (1x1 to 8x8)")
    return columns, rows


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("view", help="open files or folders in the viewer (the default verb)")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders; none: the demo study")
    p.add_argument("--layout", type=parse_layout, help="viewports as COLUMNSxROWS")
    p.add_argument("--screenshot", type=Path, help="save the window as PNG once decoded, exit")
