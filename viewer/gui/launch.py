"""`dicom-viewer [view] [PATH...]`: gather what to show, then open the window."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.config import default_archive_dir
from viewer.decode.batch import files_under
from viewer.dicom.stack import build_stacks

DEMO_SLICES = 80


def run(args: argparse.Namespace) -> int:
    """Open the viewer on args.paths (or the demo study); exit code as the CLI's (CLI.md)."""
    paths: list[Path] = list(args.paths)
    if not paths:
        archive = args.archive or default_archive_dir()
        paths = [ensure_demo_study(Path(archive) / "demo")]
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            return _fail(f"{path}: no such file or folder")
        files.extend(files_under(path) if path.is_dir() else [path])
    stacks, errors = build_stacks(files)
    for error in errors:
        print(f"dicom-viewer view: {error}", file=sys.stderr)
    if not stacks:
        return _fail("nothing to show")
    layout = args.layout or _default_layout(len(stacks))
    from viewer.gui.app import run_viewer

    code = run_viewer(stacks, layout, args.screenshot, [str(e) for e in errors])
    return max(code, 1 if errors else 0)


def _fail(message: str) -> int:
    print(f"dicom-viewer view: {message}", file=sys.stderr)
    return 2


def _default_layout(count: int) -> tuple[int, int]:
    return {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2)}.get(count, (3, 2))


def ensure_demo_study(folder: Path) -> Path:
    """The synthetic demo CT, written locally the first time (no download)."""
    from viewer.dicom.demo import write_ct_series

    if not any(folder.glob("*.dcm")):
        folder.mkdir(parents=True, exist_ok=True)
        write_ct_series(folder, slices=DEMO_SLICES)
    return folder
