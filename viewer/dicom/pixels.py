"""Reading one frame of a DICOM file as stored values, ready for the display pipeline.

A frame is read from a path, not from a dataset handed around: decode workers get a path and an
index, read the header (pixel data deferred), check it, and let pydicom decode just that frame
with the plugin `codecs` chose. Before anything is allocated the header's sizes are checked
against the bytes actually present, so a forged Rows x Columns cannot make us allocate gigabytes.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from viewer.dicom import gdcm_direct
from viewer.dicom.codecs import (
    NATIVE_SYNTAXES,
    NoDecoderError,
    plugin_order,
    syntax_name,
)
from viewer.dicom.codestreams import stream_size
from viewer.dicom.files import DicomFileError, PathLike, as_file_error, read_dataset
from viewer.dicom.frameinfo import FrameInfo, frame_info
from viewer.dicom.native_stderr import native_stderr_silenced

LOGGER = logging.getLogger(__name__)

# The largest decoded frame we agree to allocate: a 16-bit 16k x 16k slide tile still fits.
MAX_FRAME_BYTES = 1 << 30
# Elements above this size stay on disk during the header read (pixel data, big overlays).
HEADER_DEFER_SIZE = 64 * 1024
# A file up to this size is read whole when a frame is decoded: one read instead of a header
# read and a second open for the deferred pixel data (measured: 0.6 ms of a 6 ms JPEG frame).
WHOLE_FILE_READ_LIMIT = 16 * 1024 * 1024

PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel, Float, Double Float Pixel Data


@dataclass(frozen=True, eq=False)
class DecodedFrame:
    """Stored values of one frame (grey: 2-D; colour: rows x columns x 3 RGB) and how to show it."""

    array: np.ndarray
    info: FrameInfo


@dataclass(frozen=True)
class PixelLayout:
    """The checked geometry of a file's pixel data."""

    transfer_syntax: str
    frames: int
    frame_bytes: int
    encapsulated: bool


def read_header(path: PathLike) -> Dataset:
    """The dataset without reading its pixel data (it stays deferred on disk)."""
    return read_dataset(path, defer_size=HEADER_DEFER_SIZE)


def number_of_frames(path: PathLike) -> int:
    """How many frames the image in `path` has (after checking its pixel data)."""
    return check_pixel_layout(path, read_header(path)).frames


def check_pixel_layout(path: PathLike, ds: Dataset) -> PixelLayout:
    """Check the image attributes against the pixel data present; DicomFileError if unusable."""
    try:
        return _check_pixel_layout(path, ds)
    except MemoryError:
        raise
    except Exception as exc:  # a value that cannot be converted (a wrong VR): the file's fault
        raise as_file_error(path, exc) from None


def _check_pixel_layout(path: PathLike, ds: Dataset) -> PixelLayout:
    tag = next((t for t in PIXEL_DATA_TAGS if t in ds._dict), None)
    if tag is None:
        raise DicomFileError(path, "no Pixel Data: not an image")
    for keyword in ("Rows", "Columns", "BitsAllocated"):
        if ds.get(keyword) in (None, ""):
            raise DicomFileError(path, f"{keyword} is missing")
    rows, columns = int(ds.Rows), int(ds.Columns)
    bits_allocated = int(ds.BitsAllocated)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if rows <= 0 or columns <= 0:
        raise DicomFileError(path, f"invalid image size {columns} x {rows}")
    if bits_allocated not in (1, 8, 16, 32, 64) or samples not in (1, 3):
        raise DicomFileError(
            path, f"unsupported Bits Allocated {bits_allocated} / Samples per Pixel {samples}"
        )
    frames = _int(ds.get("NumberOfFrames"), 1)
    if frames < 1:
        raise DicomFileError(path, f"invalid Number of Frames {ds.NumberOfFrames}")
    pixels = rows * columns * samples  # Python ints: no overflow
    ts = str(ds.file_meta.TransferSyntaxUID)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if photometric == "YBR_FULL_422" and ts in NATIVE_SYNTAXES:
        pixels = rows * columns * 2  # two luminance and one pair of chroma per 2 pixels (C.7.6.3)
    frame_bytes = (pixels + 7) // 8 if bits_allocated == 1 else pixels * bits_allocated // 8
    if frame_bytes > MAX_FRAME_BYTES:
        raise DicomFileError(
            path,
            f"image too large: {columns} x {rows} x {samples} at {bits_allocated} bits is "
            f"{frame_bytes} bytes per frame (limit {MAX_FRAME_BYTES})",
        )
    try:
        plugin_order(ts)
    except NoDecoderError as exc:
        raise DicomFileError(path, str(exc)) from None
    encapsulated = ts not in NATIVE_SYNTAXES
    if not encapsulated:
        _check_native_length(path, ds, tag, ts, frames, frame_bytes, bits_allocated, pixels)
    return PixelLayout(ts, frames, frame_bytes, encapsulated)


def _check_native_length(
    path: PathLike,
    ds: Dataset,
    tag: int,
    ts: str,
    frames: int,
    frame_bytes: int,
    bits_allocated: int,
    pixels: int,
) -> None:
    element = ds._dict[Tag(tag)]
    if isinstance(element, RawDataElement) and element.value is None:
        declared = element.length
        if declared == 0xFFFFFFFF:
            raise DicomFileError(path, "native pixel data with undefined length")
        if ts != "1.2.840.10008.1.2.1.99":  # deflated files are inflated in memory
            present = os.path.getsize(path) - element.value_tell
            if declared > present:
                raise DicomFileError(
                    path,
                    f"pixel data truncated: {declared} bytes declared, {max(present, 0)} present",
                )
    else:
        value = ds[tag].value
        declared = len(value) if value is not None else 0
    needed = (pixels * frames + 7) // 8 if bits_allocated == 1 else frame_bytes * frames
    if declared < needed:
        raise DicomFileError(
            path,
            f"pixel data too short: {frames} frame(s) of {int(ds.Columns)} x {int(ds.Rows)} "
            f"need {needed} bytes, {declared} present",
        )


def check_stream_size(path: PathLike, ds: Dataset, transfer_syntax: str) -> None:
    """Refuse a single-frame encapsulated image whose compressed stream declares another size
    than Rows x Columns x Samples per Pixel: GDCM aborts the process on some (JPEG-LS with
    more Rows than the stream), others would decode into the wrong shape."""
    try:
        value = ds.PixelData
        if value[:4] != b"\xfe\xff\x00\xe0":
            return
        (table,) = struct.unpack_from("<I", value, 4)
        first = 8 + table  # the first fragment's item, after the Basic Offset Table
        if value[first : first + 4] != b"\xfe\xff\x00\xe0":
            return
        (length,) = struct.unpack_from("<I", value, first + 4)
        fragment = bytes(value[first + 8 : first + 8 + min(length, 1 << 16)])
    except Exception:  # damaged items: the decoder reports them with its own reason
        return
    declared = stream_size(transfer_syntax, fragment)
    if declared is None:
        return
    columns, rows, samples = declared
    header = (int(ds.Columns), int(ds.Rows), int(ds.get("SamplesPerPixel", 1) or 1))
    if (columns, samples) != (header[0], header[2]) or rows not in (0, header[1]):
        raise DicomFileError(
            path,
            f"the compressed stream holds {columns} x {rows} x {samples} samples, the header "
            f"says {header[0]} x {header[1]} x {header[2]} (columns x rows x samples)",
        )


def decode_frame(path: PathLike, index: int = 0) -> DecodedFrame:
    """Decode frame `index` (0-based) of the image in `path` with its display attributes.

    Raises DicomFileError naming the file and the problem; never a codec's raw exception.
    """
    try:
        return _decode_frame(path, index)
    except MemoryError:
        raise
    except Exception as exc:  # display attributes read now (a wrong VR, a lying length)
        raise as_file_error(path, exc) from None


def _decode_frame(path: PathLike, index: int) -> DecodedFrame:
    try:
        small = os.path.getsize(path) <= WHOLE_FILE_READ_LIMIT
    except OSError:
        small = False  # read_dataset names the problem
    ds = read_dataset(path) if small else read_header(path)
    layout = check_pixel_layout(path, ds)
    if not 0 <= index < layout.frames:
        raise DicomFileError(path, f"frame {index + 1} requested, the image has {layout.frames}")
    if layout.encapsulated and layout.frames == 1:
        check_stream_size(path, ds, layout.transfer_syntax)
    array = _decode(path, ds, index, layout)
    photometric = _decoded_photometric(ds, array)
    info = frame_info(ds, index, photometric)
    expected = (info.rows, info.columns) if array.ndim == 2 else (info.rows, info.columns, 3)
    if array.shape != expected:
        raise DicomFileError(path, f"decoded frame has shape {array.shape}, expected {expected}")
    return DecodedFrame(array, info)


def _decode(path: PathLike, ds: Dataset, index: int, layout: PixelLayout) -> np.ndarray:
    from pydicom.pixels import pixel_array

    plugins = plugin_order(layout.transfer_syntax)
    direct_ok = layout.transfer_syntax in gdcm_direct.SYNTAXES and plugins[0] == "gdcm"
    if layout.frames == 1 and direct_ok:
        with native_stderr_silenced():
            direct = gdcm_direct.decode(path, ds)
        if direct is not None:
            return direct
    # A multi-frame file is decoded from its path so that only the wanted frame is read; a
    # single frame from the header already read (its deferred pixel data is one seek away).
    source: Dataset | str = ds
    if layout.frames > 1 and "TransferSyntaxUID" in _on_disk_meta(ds):
        source = os.fspath(path)
    errors: list[str] = []
    for plugin in plugins:
        try:
            with native_stderr_silenced():
                array = pixel_array(
                    source,  # type: ignore[arg-type]
                    index=index if layout.frames > 1 else None,
                    decoding_plugin=plugin,
                )
        except MemoryError:
            raise DicomFileError(path, "not enough memory to decode the frame") from None
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # codecs raise anything (pylibjpeg-rle's Rust panics are
            # BaseExceptions: uncaught, one killed a decode worker with a traceback on stderr)
            label, reason = plugin or "native", _first_line(exc)
            errors.append(reason if reason.startswith(f"{label}:") else f"{label}: {reason}")
            LOGGER.debug("decoding %s frame %d with %s failed", path, index, plugin, exc_info=True)
            continue
        if errors:
            LOGGER.info("%s decoded by %s after %s", Path(path).name, plugin, "; ".join(errors))
        if not array.dtype.isnative:
            # Explicit VR Big Endian arrives byte-swapped; the display tables index bit patterns.
            array = array.astype(array.dtype.newbyteorder("="))
        return array
    raise DicomFileError(
        path,
        f"cannot decode frame {index + 1} ({syntax_name(layout.transfer_syntax)}): "
        + "; ".join(errors),
    )


def _on_disk_meta(ds: Dataset) -> Dataset:
    """The file meta as read; `files` adds a Transfer Syntax to old files that had none."""
    meta = getattr(ds, "file_meta", None)
    if meta is None or meta.get("FileMetaInformationGroupLength") is None:
        return Dataset()
    return meta


def _decoded_photometric(ds: Dataset, array: np.ndarray) -> str:
    stored = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if array.ndim == 3:
        return "RGB"  # pydicom converts YBR_* to RGB (as_rgb) and JPEG codecs output RGB
    return stored


def _int(value: object, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def _first_line(exc: BaseException) -> str:
    """A codec's complaint on one line (pydicom lists each plugin's reason on its own line)."""
    preamble = "Unable to decode as exceptions were raised by all available plugins:"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() != preamble]
    lines = [line for line in lines if line]
    return ("; ".join(lines) if lines else type(exc).__name__)[:300]
