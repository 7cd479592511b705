"""SOURCE of `mpr` and `render3d`: a Series Instance UID in the archive, or a folder / files of
one series; made into a `Volume` by the decode pool (`viewer.volume.build.load_volume`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from viewer.cli import CLIError, open_archive

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from viewer.dicom.stack import Stack
    from viewer.volume.model import Volume


@dataclass
class SourceVolume:
    """A loaded volume, a header of its series (patient, study, character set, for derived
    images) and how the user named it (for messages)."""

    volume: Volume
    header: Dataset
    name: str


def resolve_stack(args: argparse.Namespace, items: Sequence[str],
                  unreadable: list[str] | None = None) -> Stack:
    """The one series `items` name: existing files and folders (sorted by `build_stacks`), or a
    single Series Instance UID in the archive. CLIError (exit 2) when there is no image, or
    several series (listed, so the user can pick one by UID). Files left out (not images) are
    one line each on stderr, and their paths are added to `unreadable` when given."""
    from viewer.archive.stacks import series_stack
    from viewer.dicom.files import expand_paths
    from viewer.dicom.stack import build_stacks

    paths = [Path(item) for item in items]
    name = " ".join(items)
    if all(path.exists() for path in paths):
        stacks, errors = build_stacks(expand_paths(paths))
        for error in errors:  # not an image: said, and the series is read without it
            print(f"{error.path}: {error.reason}", file=sys.stderr)
            if unreadable is not None:
                unreadable.append(str(error.path))
        if not stacks:
            raise CLIError(f"{name}: no image to read")
        if len(stacks) > 1:
            listed = "; ".join(_describe(stack) for stack in stacks)
            raise CLIError(f"{name}: {len(stacks)} series, give one (by folder or by its "
                           f"Series Instance UID after import): {listed}")
        return stacks[0]
    if len(items) == 1 and not any(sep in items[0] for sep in "/\\"):
        archive = open_archive(args)
        try:
            stack = series_stack(archive, items[0])
        finally:
            archive.close()
        if stack is not None and stack.frames:
            return stack
    missing = next((str(path) for path in paths if not path.exists()), name)
    raise CLIError(f"{missing}: no such file, folder or series in the archive")


def load_source(args: argparse.Namespace, items: Sequence[str]) -> SourceVolume:
    """The volume of SOURCE, decoded by a pool of worker processes. A series that cannot form
    a volume: CLIError (exit 2) with the reason; what was repaired (a gap filled, uneven
    spacing resampled): one warning line each on stderr."""
    from viewer.decode.forkserver import start_here
    from viewer.decode.pool import DecodePool, preload_modules
    from viewer.dicom.files import DicomFileError
    from viewer.dicom.pixels import read_header
    from viewer.volume.build import VolumeError, load_volume

    stack = resolve_stack(args, items)
    name = " ".join(items)
    try:
        header = read_header(stack.frames[0][0])
    except DicomFileError as exc:
        raise CLIError(str(exc)) from None
    # the pool's fork server forked from this process, sharing its imports (as `render -j`)
    start_here(preload_modules())
    try:
        with DecodePool(depth=2) as pool:
            volume = load_volume(stack, pool)
    except VolumeError as exc:
        raise CLIError(f"{name}: {exc}") from None
    for warning in volume.warnings:
        print(f"{name}: warning: {warning}", file=sys.stderr)
    return SourceVolume(volume, header, name)


def _describe(stack: Stack) -> str:
    frames = stack.total_frames
    what = f"{stack.info.modality or '?'}, {frames} image{'s' if frames != 1 else ''}"
    return f"{stack.series_uid} ({what})"
