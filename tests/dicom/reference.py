"""Helpers for comparing our display pipeline with DCMTK's dcmj2pnm.

Every image among pydicom's test files (including the pydicom-data package) becomes one case
per tested frame. DCMTK renders it at an explicit window (PS3.3 C.11.2.1.2) with overlays off;
where dcmj2pnm cannot decode the transfer syntax (JPEG 2000, HTJ2K), the file is first
decompressed by another independent tool (gdcmconv --raw, ojph_expand), never by our code.

A file with pixel data is left out ONLY when EXCLUDED below gives the reason.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Pass criteria (the brief's numbers): nearly every pixel within one grey level, and a small
# mean error, so a constant offset, an inversion or a wrong palette cannot pass.
MIN_FRACTION_WITHIN_1 = 0.995
MAX_MEAN_ABS_DIFF = 0.75

_RGB32 = (
    "Bits Allocated 32 colour: dcmj2pnm 3.6.7 refuses it ('PixelData has a value representation "
    "other than OB (with BitsAllocated <= 16) or OW')"
)

_BE32 = (
    "Bits Allocated 32 in Explicit VR Big Endian (retired, PS3.5 A.3): DCMTK byte-swaps the OW "
    "Pixel Data as 16-bit words, so its 32-bit samples come out with their halves exchanged "
    "(e.g. 0x0EE80013 for 0x00130EE8) and saturate; pydicom's reading equals the little-endian "
    "rtdose.dcm / rtdose_1frame.dcm, which ARE compared"
)

# Files with pixel data that are NOT compared, keyed by case file id (see `file_id`), each with
# the reason. Anything not listed here and holding Pixel Data is compared.
EXCLUDED: dict[str, str] = {
    "SC_rgb_32bit.dcm": _RGB32,
    "SC_rgb_32bit_2frame.dcm": _RGB32,
    "SC_rgb_expb_32bit.dcm": _RGB32,
    "SC_rgb_expb_32bit_2frame.dcm": _RGB32,
    "MR_truncated.dcm": "deliberately truncated: Pixel Data (8192 bytes) runs past the end of "
    "the file; dcmj2pnm refuses it ('premature end of stream')",
    "SC_rgb_jpeg.dcm": "deliberately mis-encoded: the data set is Implicit VR although its "
    "Transfer Syntax (JPEG Baseline) requires Explicit VR (PS3.5 A.4); DCMTK cannot parse it",
    "badVR.dcm": "deliberately invalid: Number of Frames is '1A', not an IS (PS3.5 6.2); "
    "there is no frame count to render",
    "rtdose_expb.dcm": _BE32,
    "rtdose_expb_1frame.dcm": _BE32,
    "no_meta.dcm": "deliberately malformed: no preamble or file meta, and the data set starts "
    "one byte off, so pydicom finds no elements and DCMTK reads a bogus tag (0820,0500)",
    "emri_small_jpeg_2k_lossless_too_short.dcm": "deliberately truncated: the encapsulated "
    "Pixel Data ends before its Sequence Delimitation Item; gdcmconv refuses it and dcmj2pnm "
    "has no JPEG 2000 decoder",
    "JPEG2000-embedded-sequence-delimiter.dcm": "the JPEG 2000 codestream contains the bytes "
    "FFFE,E0DD (a sequence delimiter); dcmj2pnm has no JPEG 2000 decoder and gdcmconv 3.0.21, "
    "our only independent one, fails on it ('Invalid number of tiles'): no reference exists",
}

# Cases where DCMTK itself deviates from PS3.3 and the pass rule fails for that reason alone.
# Each is checked for exactly that deviation (see `known_difference_holds`), so any other
# error still fails, and an entry that starts to pass is reported as stale.
YBR_INTEGER = "dcmtk-ybr-integer"
KNOWN_DIFFERENCES: dict[str, tuple[str, str]] = {
    "SC_ybr_full_uncompressed.dcm": (
        YBR_INTEGER,
        "DCMTK converts YBR_FULL to RGB with integer approximations: up to 1.85 levels from the "
        "equations of PS3.3 C.7.6.3.1.2 (mean 0.50); ours is the equations rounded (max 0.48)",
    ),
}

# Transfer syntaxes dcmj2pnm (DCMTK 3.6.7 with dcmjpeg, dcmjpls, RLE, deflate) cannot decode,
# and the independent tool that decompresses them first.
_J2K = {
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93",
}
_HTJ2K = {"1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}
# dcmj2pnm is built without the JPEG-LS codec (DCMTK ships that in dcml2pnm/dcmdjpls).
_JPEG_LS = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
_JPEG = {
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
}


@dataclass(frozen=True)
class Case:
    """One frame of one file to render: `frame` is 0-based; `colour` means no window.

    `window` forces a window; otherwise `choose_window` picks one from the file.
    """

    id: str
    path: Path
    frame: int
    colour: bool
    window: tuple[float, float] | None = None


@dataclass(frozen=True)
class Comparison:
    fraction_within_1: float
    mean_abs_diff: float
    max_abs_diff: int
    mean_signed_diff: float  # ours - DCMTK: a constant offset shows up here

    @property
    def passed(self) -> bool:
        return (
            self.fraction_within_1 >= MIN_FRACTION_WITHIN_1
            and self.mean_abs_diff <= MAX_MEAN_ABS_DIFF
        )

    def describe(self) -> str:
        return (
            f"{100 * self.fraction_within_1:.2f}% within +-1 (need "
            f"{100 * MIN_FRACTION_WITHIN_1:.1f}%), mean |diff| {self.mean_abs_diff:.3f} "
            f"(max allowed {MAX_MEAN_ABS_DIFF}), max |diff| {self.max_abs_diff}, "
            f"mean ours-dcmtk {self.mean_signed_diff:+.2f}"
        )


class ToolError(RuntimeError):
    """An external tool failed: the message names it and quotes its stderr."""


# ---------------------------------------------------------------------------------------------
# Inventory of pydicom's test files
# ---------------------------------------------------------------------------------------------


def testdata_roots() -> list[Path]:
    """The folders holding pydicom's own test files and the pydicom-data package's files."""
    from pydicom.data import get_testdata_files

    roots: set[Path] = set()
    for name in get_testdata_files():
        p = Path(name)
        for parent in (p.parent, *p.parents):
            if parent.name in ("test_files", "data") and parent.parent.name in (
                "data", "data_store",
            ):
                roots.add(parent)
                break
    return sorted(roots)


def file_id(path: Path, roots: Sequence[Path]) -> str:
    for root in roots:
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.name


@dataclass(frozen=True)
class Inventory:
    cases: list[Case]
    not_images: dict[str, str]  # file id -> why it is not an image
    excluded: dict[str, str]  # file id -> reason from EXCLUDED
    all_ids: set[str]


def _frames(ds: object) -> int:
    """Number of Frames, or 1 when absent or unparsable (a broken file still gets a case)."""
    try:
        return max(int(getattr(ds, "NumberOfFrames", 1) or 1), 1)
    except (TypeError, ValueError):
        return 1


def _has_pixel_data_tag(path: Path) -> bool:
    """Whether the bytes hold tag (7FE0,0010) in either byte order."""
    data = path.read_bytes()
    return b"\xe0\x7f\x10\x00" in data or b"\x7f\xe0\x00\x10" in data


def inventory() -> Inventory:
    """Every file pydicom.data.get_testdata_files() lists, sorted into cases and exclusions."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_files

    roots = testdata_roots()
    cases: list[Case] = []
    not_images: dict[str, str] = {}
    excluded: dict[str, str] = {}
    all_ids: set[str] = set()
    with warnings.catch_warnings():
        # Several files are deliberately odd; what matters here is only what they hold.
        warnings.simplefilter("ignore")
        names = sorted(set(get_testdata_files()))
    for name in names:
        path = Path(name)
        if not path.is_file():
            continue  # get_testdata_files() also lists folders
        fid = file_id(path, roots)
        all_ids.add(fid)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = dcmread(path, stop_before_pixels=False, force=True, defer_size=1024)
        except Exception as exc:  # noqa: BLE001 - a non-DICOM file is an inventory entry
            not_images[fid] = f"not readable as DICOM ({type(exc).__name__})"
            continue
        if "PixelData" not in ds and _has_pixel_data_tag(path) and fid in EXCLUDED:
            excluded[fid] = EXCLUDED[fid]
            continue
        if "PixelData" not in ds and _has_pixel_data_tag(path):
            # pydicom could not reach the Pixel Data of a file that has one: still a case.
            cases.append(Case(fid, path, 0, False))
            continue
        if "PixelData" not in ds:
            kinds = [k for k in ("FloatPixelData", "DoubleFloatPixelData") if k in ds]
            not_images[fid] = (
                f"float pixel data ({kinds[0]}) has no display pipeline in DCMTK"
                if kinds
                else "no Pixel Data (7FE0,0010): not an image"
            )
            continue
        if "Rows" not in ds or "Columns" not in ds:
            not_images[fid] = (
                "Pixel Data without an Image Pixel module (no Rows/Columns): not an image"
            )
            continue
        if fid in EXCLUDED:
            excluded[fid] = EXCLUDED[fid]
            continue
        frames = _frames(ds)
        colour = str(ds.get("PhotometricInterpretation", "")).upper() not in (
            "MONOCHROME1", "MONOCHROME2",
        )
        for frame in sorted({0, frames - 1}):
            suffix = f"#f{frame}" if frames > 1 else ""
            cases.append(Case(fid + suffix, path, frame, colour))
    return Inventory(cases, not_images, excluded, all_ids)


# ---------------------------------------------------------------------------------------------
# The DCMTK side
# ---------------------------------------------------------------------------------------------


def _run(args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip() or f"exit {proc.returncode}"
        raise ToolError(f"{Path(args[0]).name}: {err}")
    return proc


def dcmtk_input(path: Path, work: Path) -> tuple[Path, str]:
    """A file dcmj2pnm can read, and how it was obtained ('as is' or the decompressing tool)."""
    from pydicom import dcmread

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = dcmread(path, stop_before_pixels=True, force=True)
    syntax = str(ds.file_meta.get("TransferSyntaxUID", ""))
    work.mkdir(parents=True, exist_ok=True)
    source, route = path, "as is"
    if syntax in _J2K:
        source, route = _gdcm_raw(path, work / "raw.dcm"), "gdcmconv --raw"
    elif syntax in _HTJ2K:
        source, route = _htj2k_to_raw(path, work), "ojph_expand"
    elif syntax in _JPEG_LS:
        out = work / "djpls.dcm"
        try:
            _run(["dcmdjpls", str(path), str(out)])
            source, route = out, "dcmdjpls"
        except ToolError as exc:
            # Some files from early CharLS releases are read by GDCM but not by DCMTK.
            source = _gdcm_raw(path, work / "raw.dcm")
            route = f"gdcmconv --raw (dcmdjpls failed: {str(exc)[:80]})"
    if "SegmentedRedPaletteColorLookupTableData" in ds:
        # DCMTK does not support segmented palettes (PS3.3 C.7.9.2); GDCM expands them.
        out = work / "lut.dcm"
        _run(["gdcmconv", "--decompress-lut", "-i", str(source), "-o", str(out)])
        source, route = out, f"{route}, gdcmconv --decompress-lut"
    return source, route


def _gdcm_raw(path: Path, out: Path) -> Path:
    _run(["gdcmconv", "--raw", "-i", str(path), "-o", str(out)])
    return out


def decoded_copy(path: Path, work: Path) -> Path:
    """An uncompressed copy made by DCMTK (JPEG) or GDCM, for min/max when pydicom cannot."""
    from pydicom import dcmread

    syntax = str(dcmread(path, stop_before_pixels=True, force=True).file_meta.get(
        "TransferSyntaxUID", ""))
    out = work / "window-source.dcm"
    if syntax in _JPEG:
        _run(["dcmdjpeg", str(path), str(out)])
        return out
    return _gdcm_raw(path, out)


def _htj2k_to_raw(path: Path, work: Path) -> Path:
    """Decode each HTJ2K codestream with OpenJPH's ojph_expand and store it uncompressed."""
    from pydicom import dcmread
    from pydicom.encaps import generate_fragmented_frames
    from pydicom.uid import ExplicitVRLittleEndian

    ds = dcmread(path)
    frames = _frames(ds)
    samples = int(ds.SamplesPerPixel)
    dtype = np.dtype("<u2" if int(ds.BitsAllocated) > 8 else "u1")
    decoded = []
    encapsulated = generate_fragmented_frames(ds.PixelData, number_of_frames=frames)
    for i, fragments in enumerate(encapsulated):
        j2c, raw = work / f"f{i}.j2c", work / f"f{i}.raw"
        j2c.write_bytes(b"".join(fragments))
        _run(["ojph_expand", "-i", str(j2c), "-o", str(raw)])
        planes = np.fromfile(raw, dtype=dtype).reshape(samples, int(ds.Rows), int(ds.Columns))
        decoded.append(np.moveaxis(planes, 0, -1) if samples > 1 else planes[0])
    ds.PixelData = np.stack(decoded).astype(dtype).tobytes()
    ds["PixelData"].VR = "OW" if dtype.itemsize == 2 else "OB"
    ds["PixelData"].is_undefined_length = False
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if samples > 1:
        ds.PlanarConfiguration = 0
    out = work / "raw.dcm"
    ds.save_as(out, enforce_file_format=True)
    return out


def choose_window(path: Path, frame: int) -> tuple[float, float]:
    """The file's first window (PS3.3 C.11.2.1.2), else min..max of the modality values."""
    from pydicom import dcmread
    from pydicom.pixels import apply_modality_lut

    ds = dcmread(path, force=True)
    if "WindowCenter" in ds and "WindowWidth" in ds:
        centers, widths = ds["WindowCenter"].value, ds["WindowWidth"].value
        center = float(centers[0] if isinstance(centers, Sequence | list) else centers)
        width = float(widths[0] if isinstance(widths, Sequence | list) else widths)
        if width >= 1:
            return center, width
    arr = ds.pixel_array
    if _frames(ds) > 1:
        arr = arr[frame]
    values = apply_modality_lut(arr, ds).astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    return (lo + hi) / 2.0, max(hi - lo, 1.0)


def dcmj2pnm(
    source: Path,
    frame: int,
    window: tuple[float, float] | None,
    out: Path,
    extra: Sequence[str] = (),
) -> None:
    """Render one frame to an 8-bit PNG: explicit window (or none for colour), no overlays.

    `extra` adds dcmj2pnm options, e.g. ("+Wl", "1") for the file's first VOI LUT.
    """
    args = ["dcmj2pnm", "+F", str(frame + 1), "-O", "+on", *extra]
    if window is not None:
        args += ["+Ww", repr(window[0]), repr(window[1])]
    _run([*args, str(source), str(out)])


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img)


@dataclass(frozen=True)
class Rendered:
    case: Case
    window: tuple[float, float] | None
    route: str  # how DCMTK got a readable file
    png: Path | None
    error: str | None


def render_all(cases: Iterable[Case], cache: Path, workers: int = 2) -> dict[str, Rendered]:
    """Render every case with DCMTK in parallel; errors are kept per case, not raised."""

    def one(case: Case) -> Rendered:
        work = cache / case.id.replace("/", "__").replace("#", "_")
        window: tuple[float, float] | None = None
        route = "?"
        try:
            source, route = dcmtk_input(case.path, work)
            if case.window is not None:
                window = case.window
            elif not case.colour:
                try:
                    window = choose_window(source, case.frame)
                except Exception:  # noqa: BLE001 - e.g. 12-bit JPEG that pydicom cannot decode
                    window = choose_window(decoded_copy(source, work), case.frame)
            png = work / f"dcmtk-f{case.frame}.png"
            dcmj2pnm(source, case.frame, window, png)
            return Rendered(case, window, route, png, None)
        except (ToolError, subprocess.TimeoutExpired) as exc:
            return Rendered(case, window, route, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - reported per case by the test
            return Rendered(case, window, route, None, f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {r.case.id: r for r in pool.map(one, list(cases))}


def known_difference_holds(kind: str, ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Whether ours differs from DCMTK exactly as the KNOWN_DIFFERENCES kind says."""
    diff = ours.astype(np.int32) - theirs.astype(np.int32)
    if kind == YBR_INTEGER:
        return bool(np.abs(diff).max() <= 2 and np.abs(diff).mean() <= MAX_MEAN_ABS_DIFF)
    raise ValueError(f"unknown kind of difference {kind!r}")


def compare(ours: np.ndarray, theirs: np.ndarray) -> Comparison:
    diff = ours.astype(np.int32) - theirs.astype(np.int32)
    absdiff = np.abs(diff)
    return Comparison(
        fraction_within_1=float(np.mean(absdiff <= 1)),
        mean_abs_diff=float(absdiff.mean()),
        max_abs_diff=int(absdiff.max()),
        mean_signed_diff=float(diff.mean()),
    )


def tools_present() -> list[str]:
    return [t for t in ("dcmj2pnm", "gdcmconv", "ojph_expand") if shutil.which(t)]


def png_bytes(arr: np.ndarray) -> bytes:
    """An array as PNG bytes, to save side-by-side evidence when a case fails."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def artifacts_dir() -> Path | None:
    """Where failing renders are saved for inspection: env VIEWER_REFERENCE_ARTIFACTS."""
    value = os.environ.get("VIEWER_REFERENCE_ARTIFACTS")
    return Path(value) if value else None
