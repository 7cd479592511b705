"""The files to DICOMize, examined before anything is built: what each is, and why one is
refused (the whole call then imports nothing).

- JPEG: the markers up to the first scan are read (PS3.5 8.2.1 maps them to DICOM): a
  baseline 8-bit bitstream (SOF0) is kept as it is; a progressive (SOF2, whose transfer
  syntax PS3.5 has retired) or 8-bit extended (SOF1) one is decoded and its pixels stored
  uncompressed, marked as lossy compressed once already; 12-bit, lossless, arithmetic-coded,
  hierarchical and CMYK JPEGs are refused (no photo camera writes them, and VL images are
  8-bit). Every JPEG is decoded once by Pillow: a truncated or damaged file is refused here,
  not in a viewer later.
- PNG: decoded by Pillow to 8-bit greyscale or RGB (alpha dropped against white, 16-bit
  greyscale kept at 16 bits).
- PDF: "%PDF-" at the start and "%%EOF" in its last 1024 bytes (ISO 32000-1 7.5.2, 7.5.5);
  at most MAX_PDF_BYTES.
Images are refused past MAX_PIXELS or 65535 rows or columns (DICOM's Rows/Columns are US),
read from the header before any pixel is decoded (no decompression bomb), and image files past
MAX_IMAGE_BYTES. A baseline JPEG must end with its EOI marker; bytes after it are not kept.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

MAX_PDF_BYTES = 64 << 20  # held in memory twice (file and data set) while encapsulating
MAX_PIXELS = 100_000_000  # 100 megapixels: above any phone or camera photo here
MAX_SIDE = 65535
MAX_IMAGE_BYTES = 128 << 20  # a JPEG or PNG file: read whole to be examined and stored


# what a drop on the browser DICOMizes rather than imports (by name: examine() reads content)
CAPTURE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".pdf"})


def is_capture_file(path: Path) -> bool:
    return path.suffix.lower() in CAPTURE_SUFFIXES


class Kind(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    PDF = "pdf"


class InputRefused(ValueError):
    """A file that cannot be DICOMized: `path` and `reason` (one line)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class JpegInfo:
    """What the frame header (SOF) and APP segments of a JPEG say."""

    process: int  # the SOF marker's low nibble: 0 baseline, 1 extended, 2 progressive...
    precision: int
    rows: int
    columns: int
    components: int
    adobe_transform: int | None  # APP14 "Adobe" colour transform: 0 RGB, 1 YCbCr
    exif_orientation: int  # 1 when none
    end: int  # the offset just past its end-of-image marker; 0 when there is none


@dataclass(frozen=True)
class Examined:
    """A file ready to build: its kind, and for JPEG its header facts."""

    path: Path
    kind: Kind
    size: int
    jpeg: JpegInfo | None = None
    warnings: tuple[str, ...] = ()


def examine(path: Path) -> Examined:
    """What `path` is, checked deeply enough that building it cannot fail. Raises
    InputRefused naming the file and the reason."""
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            head = stream.read(32)
    except OSError as exc:
        raise InputRefused(path, f"cannot read: {exc.strerror or exc}") from None
    if not path.is_file():
        raise InputRefused(path, "not a regular file")
    if size == 0:
        raise InputRefused(path, "empty file (0 bytes)")
    if head.startswith(b"\xff\xd8\xff"):
        return _examine_jpeg(path, size)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        if size > MAX_IMAGE_BYTES:
            raise InputRefused(path, f"image file of {size / (1 << 20):.1f} MiB: larger than "
                                     f"the {MAX_IMAGE_BYTES >> 20} MiB accepted")
        if head[12:16] == b"IHDR":  # the size, before Pillow reads any more (PNG 11.2.2)
            columns, rows = struct.unpack(">II", head[16:24])
            _check_size(path, rows, columns)
        _check_image(path, "PNG")
        return Examined(path, Kind.PNG, size)
    if path.suffix.lower() == ".pdf" or head.startswith(b"%PDF-"):
        return _examine_pdf(path, size, head)
    raise InputRefused(path, "not a JPEG, PNG or PDF file (its content is neither)")


def _examine_pdf(path: Path, size: int, head: bytes) -> Examined:
    if size > MAX_PDF_BYTES:
        raise InputRefused(path, f"PDF of {size / (1 << 20):.1f} MiB: larger than the "
                                 f"{MAX_PDF_BYTES >> 20} MiB accepted")
    if not head.startswith(b"%PDF-"):
        raise InputRefused(path, "not a PDF: it does not start with %PDF-")
    with path.open("rb") as stream:
        stream.seek(max(0, size - 1024))
        tail = stream.read()
    if b"%%EOF" not in tail:
        raise InputRefused(path, "not a complete PDF: no %%EOF at its end (cut short?)")
    return Examined(path, Kind.PDF, size)


def _examine_jpeg(path: Path, size: int) -> Examined:
    if size > MAX_IMAGE_BYTES:
        raise InputRefused(path, f"image file of {size / (1 << 20):.1f} MiB: larger than the "
                                 f"{MAX_IMAGE_BYTES >> 20} MiB accepted")
    try:
        info = jpeg_info(path.read_bytes())
    except ValueError as exc:
        raise InputRefused(path, f"damaged JPEG: {exc}") from None
    if info.precision != 8:
        raise InputRefused(path, f"{info.precision}-bit JPEG: only 8-bit photos are converted")
    if info.process not in (0, 1, 2):
        raise InputRefused(path, "lossless, hierarchical or arithmetic-coded JPEG: "
                                 "not a photo format converted here")
    if info.components not in (1, 3):
        raise InputRefused(path, f"JPEG with {info.components} colour components (CMYK?): "
                                 "only greyscale and colour photos are converted")
    _check_size(path, info.rows, info.columns)
    if info.end == 0:
        raise InputRefused(path, "truncated JPEG: no end-of-image marker")
    _check_image(path, "JPEG")
    notes: list[str] = []
    if info.end < size and info.process == 0:
        notes.append(f"{path}: the {size - info.end} bytes after the JPEG's end-of-image "
                     "marker (a motion photo's video?) are not kept")
    if info.exif_orientation not in (0, 1):
        notes.append(f"{path}: its EXIF orientation ({info.exif_orientation}) asks viewers to "
                     "turn it; DICOM viewers show the pixels as stored")
    return Examined(path, Kind.JPEG, size, info, tuple(notes))


def _check_size(path: Path, rows: int, columns: int) -> None:
    if rows == 0 or columns == 0:
        raise InputRefused(path, "image without rows or columns")
    if rows > MAX_SIDE or columns > MAX_SIDE or rows * columns > MAX_PIXELS:
        raise InputRefused(path, f"image of {columns}x{rows} pixels: larger than "
                                 f"{MAX_PIXELS // 1_000_000} megapixels or {MAX_SIDE} a side")


def _check_image(path: Path, what: str) -> None:
    """Decode once with Pillow (header first: the size is checked before any pixel)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(path, image.height, image.width)
                image.load()
    except InputRefused:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
            Image.DecompressionBombError, struct.error) as exc:
        raise InputRefused(path, f"damaged or truncated {what}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_info(data: bytes) -> JpegInfo:
    """The frame header of a JPEG interchange stream (ISO 10918-1 B.2), read marker by marker
    up to the first scan. ValueError when the markers are not a JPEG's."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("no start-of-image marker")
    pos, adobe, orientation = 2, None, 1
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes before a marker
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        segment = data[pos + 4:pos + 2 + length]
        if length < 2 or len(segment) != length - 2:
            raise ValueError("a segment runs past the end of the file")
        if marker == 0xEE and segment.startswith(b"Adobe") and len(segment) >= 12:
            adobe = segment[11]
        elif marker == 0xE1 and segment.startswith(b"Exif\0\0"):
            orientation = _exif_orientation(segment[6:])
        elif marker in _SOF:
            if len(segment) < 6:
                raise ValueError("frame header cut short")
            precision, rows, columns, components = struct.unpack(">BHHB", segment[:6])
            return JpegInfo(marker & 0x0F, precision, rows, columns, components, adobe,
                            orientation, _end_of_image(data, pos + 2 + length))
        elif marker == 0xDA:
            break
        pos += 2 + length
    raise ValueError("no frame header before the image data (cut short?)")


def _end_of_image(data: bytes, pos: int) -> int:
    """The offset just past the EOI marker that ends the image begun before `pos`, found by
    walking the marker segments and the entropy-coded data of each scan (where 0xFF is
    followed by 0x00 stuffing or a restart marker, ISO 10918-1 B.1.1.5); 0 when it is cut
    short. What follows the EOI (a phone's appended video) is no part of the JPEG."""
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            return 0
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if pos + 4 > len(data):
            return 0
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        pos += 2 + length
        if marker != 0xDA:
            continue
        while True:  # the scan's entropy-coded data, up to the next marker
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= len(data):
                return 0
            following = data[pos + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                pos += 2
            elif following == 0xFF:
                pos += 1
            else:
                break
    return 0


def _exif_orientation(tiff: bytes) -> int:
    """Orientation (0x0112) from the first IFD of an EXIF block; 1 when absent or unreadable."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    (offset,) = struct.unpack(order + "I", tiff[4:8])
    if offset + 2 > len(tiff):
        return 1
    (count,) = struct.unpack(order + "H", tiff[offset:offset + 2])
    for i in range(count):
        entry = tiff[offset + 2 + 12 * i:offset + 14 + 12 * i]
        if len(entry) < 12:
            break
        tag, _, _ = struct.unpack(order + "HHI", entry[:8])
        if tag == 0x0112:
            return int(struct.unpack(order + "H", entry[8:10])[0])
    return 1


def decoded_pixels(path: Path) -> tuple[np.ndarray, str]:
    """The pixels of a PNG (or a progressive JPEG) as uint8 greyscale or RGB, or uint16
    greyscale; and their Photometric Interpretation."""
    from PIL import Image

    with Image.open(path) as image:
        mode = image.mode
        if mode in ("I;16", "I;16B", "I;16L", "I"):
            array = np.asarray(image, dtype=np.uint32)
            return np.clip(array, 0, 65535).astype(np.uint16), "MONOCHROME2"
        if mode == "L":
            return np.asarray(image, dtype=np.uint8), "MONOCHROME2"
        if mode == "RGB":  # no convert(): it copies the whole image once more
            return np.asarray(image, dtype=np.uint8), "RGB"
        if mode == "1":
            return np.asarray(image.convert("L"), dtype=np.uint8), "MONOCHROME2"
        if mode in ("LA", "RGBA", "PA", "P") and (mode != "P" or "transparency" in image.info):
            rgba = image.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            flat.alpha_composite(rgba)
            return np.asarray(flat.convert("RGB"), dtype=np.uint8), "RGB"
        return np.asarray(image.convert("RGB"), dtype=np.uint8), "RGB"
