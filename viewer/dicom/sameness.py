"""Whether two files with one SOP Instance UID hold the same instance in different encodings.

PS3.5 §10 lets a transfer syntax change how an instance is encoded (byte order, explicit or
implicit VR, compressed pixel data) but not what it is. Two files are the same instance when they
have the same SOP Class and SOP Instance UID, the same attributes once decoded - apart from the
File Meta Information (group 0002), the pixel data and the attributes a transfer syntax change
rewrites with it (Photometric Interpretation, Planar Configuration, Lossy Image Compression, and
Bits Stored / High Bit, which JPEG 2000 encoders may set from the codestream's precision:
pydicom-data's 693_J2KR.dcm says 16 where its uncompressed twin says 14) - and the same
pixel values, frame by frame, once decoded. A lossy encoding therefore counts as other content:
its pixels differ (PS3.3 C.7.6.1.1.5 asks for a new SOP Instance UID then).

Only called when a UID is already stored with other bytes, never on the common path.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from viewer.dicom.files import DicomFileError, PathLike, read_dataset

LOGGER = logging.getLogger(__name__)

# Rewritten by a transfer syntax change (PS3.5 §8.2, PS3.3 C.7.6.3.1.2 and C.7.6.1.1.5); the
# decoded pixel values, compared instead, say whether the image is the same.
_ENCODING_TAGS = frozenset({
    0x00280004, 0x00280006, 0x00280101, 0x00280102, 0x00282110, 0x00282112, 0x00282114,
})
_TRAILING_PADDING = 0xFFFCFFFC
_SWAPPED_VRS = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def same_instance(first: PathLike, second: PathLike) -> bool:
    """True when `first` and `second` hold the same instance (module docstring); False when
    they differ or either cannot be read or decoded."""
    try:
        a, b = read_dataset(first), read_dataset(second)
        if _uid(a, "SOPClassUID") != _uid(b, "SOPClassUID") or _uid(
            a, "SOPInstanceUID"
        ) != _uid(b, "SOPInstanceUID"):
            return False
        if _attributes(a, a.is_little_endian) != _attributes(b, b.is_little_endian):
            return False
        return _same_pixels(first, a, second, b)
    except DicomFileError as exc:
        LOGGER.debug("comparing %s and %s: %s", first, second, exc.reason)
        return False


def _uid(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "")).strip()


def _attributes(ds: Dataset, little_endian: bool | None) -> dict[int, Any]:
    """tag -> decoded value, the transfer-syntax-dependent elements left out; private elements
    read without their VR (UN, implicit VR) are left out too: their value cannot be decoded."""
    values: dict[int, Any] = {}
    for element in ds:
        tag = int(element.tag)
        if (tag >> 16) in (0x0002, 0x7FE0) or tag & 0xFFFF == 0 or tag in _ENCODING_TAGS:
            continue
        if tag == _TRAILING_PADDING or (element.VR == "UN" and element.tag.is_private):
            continue
        values[tag] = _plain(element.VR, element.value, little_endian)
    return values


def _plain(vr: str, value: Any, little_endian: bool | None) -> Any:
    if isinstance(value, Sequence):
        return [_attributes(item, little_endian) for item in value]
    if isinstance(value, MultiValue):
        return [_plain(vr, v, little_endian) for v in value]
    if isinstance(value, bytes) and vr in _SWAPPED_VRS and little_endian is False:
        width = _SWAPPED_VRS[vr]
        words = np.frombuffer(value[: len(value) - len(value) % width], f">u{width}")
        return words.astype(f"<u{width}").tobytes()
    if isinstance(value, str):
        return value.rstrip(" \x00")
    return value


def _same_pixels(first: PathLike, a: Dataset, second: PathLike, b: Dataset) -> bool:
    from viewer.dicom.pixels import PIXEL_DATA_TAGS, check_pixel_layout, decode_frame

    has_a = any(t in a._dict for t in PIXEL_DATA_TAGS)
    has_b = any(t in b._dict for t in PIXEL_DATA_TAGS)
    if not (has_a and has_b):
        return has_a == has_b
    frames = check_pixel_layout(first, a).frames
    if check_pixel_layout(second, b).frames != frames:
        return False
    return all(
        np.array_equal(decode_frame(first, n).array, decode_frame(second, n).array)
        for n in range(frames)
    )
