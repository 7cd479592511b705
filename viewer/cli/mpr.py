"""`dicom-viewer mpr SOURCE [--plane P | --orientation RX,RY,RZ,CX,CY,CZ] [--center X,Y,Z]
[--spacing MM] [--size COLS,ROWS] [--slab MM --mode M] [--interpolation I] [--window C W |
--preset NAME] [--fuse SOURCE2 [--colormap NAME] [--opacity F]] [--overlay SEG_OR_RTSTRUCT.dcm]
-o OUT.png|OUT.dcm [--json]`.

One plane of a volume (CLI.md, issue 16 item 5): pixel (r, c) lies at
center + (c - (COLS-1)/2)*spacing*row + (r - (ROWS-1)/2)*spacing*column (LPS mm)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.cli import CLIError
from viewer.cli.windowing import chosen_window

if TYPE_CHECKING:
    import numpy as np

    from viewer.cli.volume_source import SourceVolume
    from viewer.volume.model import Interpolation, Plane

PLANE_NAMES = ("axial", "coronal", "sagittal")


def numbers(count: int, kind: type = float) -> Any:
    """An argparse type: `count` comma-separated numbers (`--center=-10.5,20,-300`)."""

    def parse(text: str) -> tuple[Any, ...]:
        parts = [p.strip() for p in text.split(",")]
        try:
            values = tuple(kind(p) for p in parts)
        except ValueError:
            values = ()
        if len(values) != count:
            noun = "integers" if kind is int else "numbers"
            raise argparse.ArgumentTypeError(
                f"expected {count} comma-separated {noun}, got {text!r}"
            )
        return values

    return parse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mpr",
        help="one reformatted plane of a volume to PNG or a derived DICOM image",
        description="SOURCE: a Series Instance UID in the archive, or a folder / files of one "
        "series. Planes are radiological: axial 1,0,0,0,1,0; coronal 1,0,0,0,0,-1; sagittal "
        "0,1,0,0,0,-1 (LPS, as Image Orientation (Patient)). Defaults: the volume's centre, "
        "its finest spacing, a size covering the volume. Write negative numbers with '=': "
        "--center=-10.5,20,-300.",
    )
    p.add_argument("source", nargs="+", help="series UID, or folder / files of one series")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--plane", choices=PLANE_NAMES, help="a standard plane (default axial)")
    where.add_argument(
        "--orientation", type=numbers(6), metavar="RX,RY,RZ,CX,CY,CZ",
        help="row and column direction cosines, as Image Orientation (Patient)",
    )
    p.add_argument("--center", type=numbers(3), metavar="X,Y,Z",
                   help="the centre of the pixel grid in patient mm (default: the volume's)")
    p.add_argument("--spacing", type=float, metavar="MM",
                   help="pixel spacing in mm (default: the volume's finest)")
    p.add_argument("--size", type=numbers(2, int), metavar="COLS,ROWS",
                   help="columns and rows (default: enough to cover the volume)")
    p.add_argument("--slab", type=float, default=0.0, metavar="MM",
                   help="slab thickness in mm, total, centred on the plane (default: thin)")
    p.add_argument("--mode", choices=("mip", "minip", "average"),
                   help="how a slab combines (default mip)")
    p.add_argument("--interpolation", choices=("linear", "nearest"), default="linear")
    win = p.add_mutually_exclusive_group()
    win.add_argument("--window", nargs=2, type=float, metavar=("C", "W"),
                     help="window center and width in modality units (PS3.3 C.11.2.1.2)")
    win.add_argument("--preset", help="CT window preset: brain, lung, bone, abdomen, ...")
    p.add_argument("--fuse", metavar="SOURCE2",
                   help="a second series in the same Frame of Reference drawn over the plane")
    p.add_argument("--colormap", default="hot-iron", help="fusion colour map (hot-iron)")
    p.add_argument("--opacity", type=float, default=0.5, help="fusion opacity 0-1 (0.5)")
    p.add_argument("--fuse-window", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="the overlay's range shown by the colour map: SUVbw for a PET that "
                   "has it, else modality values (default: the GUI's, "
                   "viewer.volume.fusion.default_overlay_window)")
    p.add_argument("--overlay", type=Path, action="append", metavar="SEG_OR_RTSTRUCT.dcm",
                   help="a Segmentation or RT Structure Set in the series' Frame of Reference "
                   "drawn on the plane (segments blended, structures outlined): an RGB PNG; "
                   "may be given more than once")
    p.add_argument("-o", "--output", type=Path, help="OUT.png or OUT.dcm")
    p.add_argument("--json", action="store_true",
                   help="print the plane as one JSON document (DICOM keywords)")


def run(args: argparse.Namespace) -> int:
    from viewer.cli.volume_source import load_source
    from viewer.volume.model import Interpolation
    from viewer.volume.reslice import reslice
    from viewer.volume.reslice_kernels import KernelsNotBuilt, library

    out = _check_arguments(args)
    if out is not None:
        try:  # before reading the series: a checkout that was never installed says so at once
            library()
        except KernelsNotBuilt as exc:
            raise CLIError(str(exc)) from None
    source = load_source(args, args.source)
    plane = plane_from_args(args, source)
    interpolation = Interpolation(args.interpolation)
    if out is not None and out.suffix.lower() == ".dcm":
        values = reslice(source.volume, plane, interpolation)
        _write_dicom(out, source, plane, values, interpolation)
    elif out is not None:
        _write_png(args, out, source, plane, interpolation)
    if args.json:
        print(json.dumps(plane_json(plane, out), indent=2))
    else:
        print(f"{out}: {plane.columns}x{plane.rows} pixels of {plane.spacing:g} mm, first pixel "
              f"at {_vector(plane.first_pixel)} mm")
    return 0


def _check_arguments(args: argparse.Namespace) -> Path | None:
    """Everything that can be refused before reading a single file."""
    out: Path | None = args.output
    if out is None and not args.json:
        raise CLIError("give -o OUT.png or OUT.dcm (or --json to print the plane only)")
    if out is not None and out.suffix.lower() not in (".png", ".dcm"):
        raise CLIError(f"{out}: the output must end in .png or .dcm")
    if out is not None and not out.parent.is_dir():
        raise CLIError(f"{out.parent}: no such folder")
    if args.spacing is not None and not args.spacing > 0:
        raise CLIError(f"--spacing must be more than 0, got {args.spacing:g}")
    if args.size is not None and min(args.size) < 1:
        raise CLIError(f"--size must be at least 1,1, got {args.size[0]},{args.size[1]}")
    if not args.slab >= 0:
        raise CLIError(f"--slab must be 0 or more mm, got {args.slab:g}")
    if args.mode is not None and args.slab == 0:
        raise CLIError("--mode needs --slab MM")
    chosen_window(args)  # an unknown preset or a bad width, before the series is read
    if args.fuse is not None and out is not None and out.suffix.lower() == ".dcm":
        raise CLIError("--fuse makes a colour picture: write it to OUT.png, not a .dcm")
    if args.overlay and out is not None and out.suffix.lower() == ".dcm":
        raise CLIError("--overlay makes a colour picture: write it to OUT.png, not a .dcm")
    for path in args.overlay or ():
        if not path.is_file():
            raise CLIError(f"{path}: no such file")
    if args.fuse is not None:
        from viewer.volume.fusion import COLORMAPS

        if args.colormap not in COLORMAPS:
            raise CLIError(f"--colormap {args.colormap}: not one of {', '.join(COLORMAPS)}")
    if not 0.0 <= args.opacity <= 1.0:
        raise CLIError(f"--opacity must be between 0 and 1, got {args.opacity:g}")
    if args.fuse_window is not None and not args.fuse_window[0] < args.fuse_window[1]:
        raise CLIError("--fuse-window LOW HIGH needs LOW < HIGH")
    return out


def plane_from_args(args: argparse.Namespace, source: SourceVolume) -> Plane:
    """The plane the arguments ask for, defaults from `covering_plane`."""
    from viewer.volume.model import PLANES, SlabMode, covering_plane

    if args.orientation is not None:
        row, column = tuple(args.orientation[:3]), tuple(args.orientation[3:])
    else:
        row, column = PLANES[args.plane or "axial"]
    try:
        plane = covering_plane(source.volume, row, column, args.center, args.spacing)
    except ValueError as exc:
        raise CLIError(f"--orientation: {exc}") from None
    if args.size is not None:
        plane = replace(plane, columns=args.size[0], rows=args.size[1])
    if args.slab > 0:
        plane = replace(plane, slab=args.slab, mode=SlabMode(args.mode or "mip"))
    return plane


def plane_json(plane: Plane, out: Path | None) -> dict[str, Any]:
    """The plane as `--json` prints it: the Image Plane attributes of the derived image."""
    from viewer.volume.derived import slice_thickness

    document: dict[str, Any] = {
        # rounded to a nanometre: the float noise of the plane arithmetic is no information
        "ImagePositionPatient": [round(v, 6) + 0.0 for v in plane.first_pixel],
        "ImageOrientationPatient": [round(v, 9) + 0.0 for v in plane.orientation],
        "PixelSpacing": [plane.spacing, plane.spacing],
        "Rows": plane.rows,
        "Columns": plane.columns,
        "SliceThickness": slice_thickness(plane),
    }
    if out is not None:
        document["path"] = str(out)
    return document


def _derived(source: SourceVolume, plane: Plane, values: np.ndarray,
             interpolation: Interpolation) -> Any:
    from pydicom.uid import generate_uid

    from viewer.volume.derived import plane_dataset

    try:
        return plane_dataset(
            source.volume, plane, values, series_uid=generate_uid(), series_number=None,
            instance_number=1, description="MPR", source=source.header,
            interpolation=interpolation,
        )
    except ValueError as exc:
        raise CLIError(f"{source.name}: {exc}") from None


def _write_dicom(out: Path, source: SourceVolume, plane: Plane, values: np.ndarray,
                 interpolation: Interpolation) -> None:
    from viewer.volume.derived import save_plane

    dataset = _derived(source, plane, values, interpolation)
    try:
        save_plane(out, dataset)
    except OSError as exc:
        raise CLIError(f"{out}: cannot write: {exc.strerror or exc}") from None


def _write_png(args: argparse.Namespace, out: Path, source: SourceVolume, plane: Plane,
               interpolation: Interpolation) -> None:
    """Greyscale through the display pipeline, of the very pixels and attributes OUT.dcm would
    hold (so the PNG is what another viewer shows of the derived image); fused: RGB."""
    import numpy as np

    from viewer.dicom.display import DisplayState, to_display, write_png
    from viewer.dicom.frameinfo import frame_info
    from viewer.volume.reslice import reslice

    window = chosen_window(args)
    state = DisplayState(window=window)
    if args.fuse is not None:
        image = _fused(args, source, plane, state)
    else:
        values = reslice(source.volume, plane, interpolation)
        dataset = _derived(source, plane, values, interpolation)
        stored = np.frombuffer(dataset.PixelData, "<i2").reshape(dataset.Rows, dataset.Columns)
        image = to_display(stored, frame_info(dataset), state)
    for path in args.overlay or ():
        image = _with_overlay(path, source, plane, image)
    try:
        write_png(image, out)
    except OSError as exc:
        raise CLIError(f"{out}: cannot write: {exc.strerror or exc}") from None


def _fused(args: argparse.Namespace, source: SourceVolume, plane: Plane,
           state: Any) -> np.ndarray:
    """The plane with the second series over it (viewer.volume.fusion.fused_plane)."""
    from viewer.cli.volume_source import load_source
    from viewer.volume.fusion import check_fusable, default_overlay_window, fused_plane
    from viewer.volume.reslice import plane_frame_info

    overlay = load_source(args, [args.fuse])
    try:
        check_fusable(source.volume, overlay.volume)
    except ValueError as exc:  # VolumeError: another Frame of Reference, ...
        raise CLIError(f"{args.fuse}: {exc}") from None
    suv = overlay.volume.suv_factor is not None
    low, high = args.fuse_window or default_overlay_window(overlay.volume, suv)
    try:
        image: np.ndarray = fused_plane(
            source.volume, overlay.volume, plane, state, low, high, args.colormap,
            args.opacity, suv=suv, base_info=plane_frame_info(source.volume, plane),
        )
    except ValueError as exc:  # VolumeError, FusionError: one line
        raise CLIError(f"{args.fuse}: {exc}") from None
    return image


def _with_overlay(path: Path, source: SourceVolume, plane: Plane,
                  image: np.ndarray) -> np.ndarray:
    """`image` (the plane, grey or fused) with the SEG's segments blended and the RTSTRUCT's
    structures outlined on it (viewer.volume.overlay_plane); one line naming both for an
    overlay that cannot be placed in this volume."""
    import sys

    from viewer.dicom.files import DicomFileError, read_dataset
    from viewer.dicom.overlay_frame import OverlayMismatch
    from viewer.dicom.overlay_raster import OverlayError, read_overlay
    from viewer.dicom.rtstruct import StructureSet
    from viewer.dicom.text import pydicom_warnings
    from viewer.volume.overlay_grid import OverlayGridError
    from viewer.volume.overlay_plane import burn_plane_overlay, overlay_on_plane, prepare_overlay

    try:
        with pydicom_warnings():
            overlay = read_overlay(read_dataset(path))
    except DicomFileError as exc:
        raise CLIError(str(exc)) from None
    except OverlayError as exc:
        raise CLIError(f"{path}: {exc}") from None
    try:
        prepared = prepare_overlay(overlay, source.volume)
    except (OverlayMismatch, OverlayGridError) as exc:
        raise CLIError(f"{path}: cannot be drawn on {source.name}: {exc}") from None
    if isinstance(overlay, StructureSet):
        grid = prepared.structures
        for problem in (*overlay.problems, *(grid.problems if grid is not None else ())):
            print(f"{path}: {problem}", file=sys.stderr)
    return burn_plane_overlay(image, overlay_on_plane(prepared, plane))


def _vector(values: tuple[float, ...]) -> str:
    return ",".join(f"{round(v, 6) + 0.0:g}" for v in values)
