"""`dicom-viewer render3d SOURCE [--mode mip|vr] [--preset NAME] [--azimuth DEG]
[--elevation DEG] [--size W,H] -o OUT.png`: a 3D rendering of a volume, parallel projection.

Azimuth 0, elevation 0 looks at the patient's front, head up, the patient's left on the image's
right; azimuth turns about the long axis towards the patient's left (90: seen from the left);
a positive elevation looks down from the head's side (viewer.volume.render3d.render_image)."""

from __future__ import annotations

import argparse
from pathlib import Path

from viewer.cli import CLIError
from viewer.cli.mpr import numbers


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "render3d",
        help="a 3D rendering (volume rendering or MIP) of a series to PNG",
        description="SOURCE: a Series Instance UID in the archive, or a folder / files of one "
        "series. Write negative angles with '=': --azimuth=-30.",
    )
    p.add_argument("source", nargs="+", help="series UID, or folder / files of one series")
    p.add_argument("--mode", choices=("mip", "vr"), default="vr",
                   help="vr: volume rendering with a preset; mip: maximum intensity (vr)")
    p.add_argument("--preset", help="volume rendering preset (default: the first for the "
                   "series' modality)")
    p.add_argument("--azimuth", type=float, default=0.0, metavar="DEG",
                   help="degrees about the patient's long axis towards the left (0: anterior)")
    p.add_argument("--elevation", type=float, default=0.0, metavar="DEG",
                   help="degrees up: positive looks down from the head's side (0)")
    p.add_argument("--size", type=numbers(2, int), default=(512, 512), metavar="W,H",
                   help="image width and height in pixels (512,512)")
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.png")


def run(args: argparse.Namespace) -> int:
    out: Path = args.output
    if out.suffix.lower() != ".png":
        raise CLIError(f"{out}: the output must end in .png")
    if not out.parent.is_dir():
        raise CLIError(f"{out.parent}: no such folder")
    if min(args.size) < 1:
        raise CLIError(f"--size must be at least 1,1, got {args.size[0]},{args.size[1]}")
    from viewer.volume.render3d import PRESETS

    if args.preset is not None and args.preset not in PRESETS:
        raise CLIError(f"--preset {args.preset}: not one of {', '.join(PRESETS)}")

    from viewer.cli.volume_source import load_source
    from viewer.dicom.display import write_png
    from viewer.volume.render3d import render_image

    source = load_source(args, args.source)
    preset = args.preset or default_preset(source.volume.modality, list(PRESETS))
    image = render_image(source.volume, args.mode, preset, args.azimuth, args.elevation,
                         tuple(args.size))
    try:
        write_png(image, out)
    except OSError as exc:
        raise CLIError(f"{out}: cannot write: {exc.strerror or exc}") from None
    what = f"volume rendering ({preset})" if args.mode == "vr" else "MIP"
    print(f"{out}: {what} {args.size[0]}x{args.size[1]}, azimuth {args.azimuth:g}, "
          f"elevation {args.elevation:g}")
    return 0


def default_preset(modality: str, names: list[str]) -> str:
    """The first preset named after the modality ('ct-...' for CT, 'mr-...' for MR), else the
    first of all."""
    prefix = modality.lower()
    return next((n for n in names if prefix and n.lower().startswith(prefix)), names[0])
