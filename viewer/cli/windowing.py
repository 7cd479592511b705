"""`--window C W | --preset NAME`, as `render` and `mpr` take them."""

from __future__ import annotations

import argparse

from viewer.cli import CLIError


def chosen_window(args: argparse.Namespace) -> tuple[float, float] | None:
    """The window (center, width) in modality units the user asked for, or None for the
    file's own; CLIError for an unknown preset or a width that is not positive."""
    from viewer.dicom.presets import find_preset

    window = (float(args.window[0]), float(args.window[1])) if args.window else None
    if args.preset:
        try:
            preset = find_preset(args.preset)
        except KeyError as exc:
            raise CLIError(str(exc.args[0])) from None
        window = (preset.center, preset.width)
    if window is not None and window[1] <= 0:
        raise CLIError(f"window width must be > 0, got {window[1]:g}")
    return window
