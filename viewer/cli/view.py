"""`dicom-viewer [view] [PATH...] [--layout CxR] [--screenshot PNG]`: the GUI."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from viewer.cli import CLIError

DEMO_SLICES = 80


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


def run(args: argparse.Namespace) -> int:
    from viewer.config import default_archive_dir
    from viewer.decode.batch import files_under
    from viewer.dicom.stack import build_stacks

    paths: list[Path] = list(args.paths)
    if not paths:
        archive = args.archive or default_archive_dir()
        paths = [ensure_demo_study(Path(archive) / "demo")]
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise CLIError(f"{path}: no such file or folder")
        files.extend(files_under(path) if path.is_dir() else [path])
    stacks, errors = build_stacks(files)
    if not stacks:
        reasons = "; ".join(str(e) for e in errors[:3])
        raise CLIError(f"nothing to show{': ' + reasons if reasons else ''}")
    layout = args.layout or _default_layout(len(stacks))
    from viewer.gui.app import run_viewer

    return run_viewer(stacks, layout, args.screenshot, [str(e) for e in errors])


def _default_layout(count: int) -> tuple[int, int]:
    return {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2)}.get(count, (3, 2))


def ensure_demo_study(folder: Path) -> Path:
    """The synthetic demo CT, written locally the first time (no download)."""
    from viewer.dicom.demo import write_ct_series

    if not any(folder.glob("*.dcm")):
        folder.mkdir(parents=True, exist_ok=True)
        write_ct_series(folder, slices=DEMO_SLICES)
    return folder
