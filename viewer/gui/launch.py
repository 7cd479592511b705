"""`dicom-viewer [view] [PATH...]`: gather what to show, then open the window."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from viewer.config import default_archive_dir
from viewer.dicom.files import files_under
from viewer.dicom.stack import Stack, build_stacks, object_stacks
from viewer.gui.layers import OBJECT_MODALITIES

if TYPE_CHECKING:
    from viewer.gui.presentation_source import FilePresentations


def run(args: argparse.Namespace) -> int:
    """Open the window: the study browser on the archive, and PATHs (if any) in the viewer.
    Exit code as the CLI's (CLI.md)."""
    from viewer.archive.archive import Archive

    files: list[Path] = []
    for path in args.paths:
        if not path.exists():
            return _fail(f"{path}: no such file or folder")
        files.extend(files_under(path) if path.is_dir() else [path])
    given = gather(files)
    stacks, problems, presentations = given.stacks, given.problems, given.presentations
    for problem in problems:
        print(f"dicom-viewer view: {problem}", file=sys.stderr)
    if args.paths and not stacks:
        return _fail("nothing to show")
    from viewer.config import ConfigError, load_settings

    prepare_gui_process()
    from viewer.gui.app import run_viewer

    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        return _fail(str(exc))
    # $VIEWER_LANGUAGE overrides the config file; neither: the system locale.
    language = os.environ.get("VIEWER_LANGUAGE") or settings.language or None

    from viewer.archive.retention import RetentionPolicy, record_view

    root = Path(args.archive or default_archive_dir())
    try:
        archive = Archive(root, retention=RetentionPolicy.from_settings(settings))
    except OSError as exc:
        return _fail(f"{root}: cannot open the archive: {exc.strerror or exc}")
    with archive:
        # `view` reads these studies (when the archive holds them): pruning keeps them longer
        for row in filter(None, map(archive.index.get_series, {s.series_uid for s in stacks})):
            record_view(archive.index, row.study_instance_uid)
        from viewer.config import default_config_file
        from viewer.reading.protocols import user_protocol_dir

        code = run_viewer(stacks, args.layout, args.screenshot, problems,
                          archive=archive, language=language, settings=settings,
                          protocol_dir=user_protocol_dir(
                              getattr(args, "config", None) or default_config_file()),
                          presentations=presentations)
    return max(code, 1 if problems else 0)


@dataclass
class Given:
    """What `view PATH` shows: the stacks (images, and objects about them), the presentation
    states given with them (None: none), and one line per file that cannot be shown."""

    stacks: list[Stack]
    problems: list[str]
    presentations: FilePresentations | None = None


def gather(files: list[Path]) -> Given:
    """The files of `view PATH` as stacks. Reports, key objects, structure sets and
    presentation states have no pixels: they are shown over or beside the images given with
    them (a SEG has frames: build_stacks makes its stack); a presentation state goes into the
    viewports' lists of the images it references, not into the series strip."""
    stacks, errors = build_stacks(files) if files else ([], [])
    objects, errors = object_stacks(errors)
    problems = [str(e) for e in errors]
    presentations = None
    state_paths = [p for s in objects if s.info.modality == "PR" for p, _ in s.frames]
    if state_paths:
        from viewer.gui.presentation_source import given_presentations

        images = [p for s in stacks if s.info.modality not in OBJECT_MODALITIES
                  for p, _ in s.frames]
        presentations, unusable = given_presentations(state_paths, images)
        problems += unusable
    stacks += [s for s in objects if s.info.modality != "PR"]
    return Given(stacks, problems, presentations)


def prepare_gui_process() -> None:
    """What a process must do before it imports Qt or starts a thread, in this order: fork the
    decode fork server from it (`viewer.decode.forkserver`), then import PySide6 without its
    source cache (`qt_import`). The application and `bench gui` both call it."""
    from viewer.decode.forkserver import start_here
    from viewer.decode.pool import preload_modules
    from viewer.gui.qt_import import import_qt

    start_here(preload_modules())
    import_qt()


def _fail(message: str) -> int:
    print(f"dicom-viewer view: {message}", file=sys.stderr)
    return 2
