"""The size of a frame as its compressed stream states it, checked against the header before a
codec sees the stream.

GDCM aborts the whole process (an uncaught C++ exception: SIGABRT) when Rows x Columns promise
more than a JPEG-LS stream holds, and decoders allocate what the stream, not the header, says.
Reading the stream's own size costs a few bytes: JPEG's and JPEG-LS's SOF segment (ITU-T T.81
B.2.2, T.87 C.2.2) and JPEG 2000's / HTJ2K's SIZ marker segment (ITU-T T.800 A.5.1).
"""

from __future__ import annotations

import struct

from pydicom import uid

JPEG_SYNTAXES = frozenset({
    uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLossless, uid.JPEGLosslessSV1,
    uid.JPEGLSLossless, uid.JPEGLSNearLossless,
})
J2K_SYNTAXES = frozenset({
    uid.JPEG2000Lossless, uid.JPEG2000, uid.HTJ2KLossless, uid.HTJ2KLosslessRPCL, uid.HTJ2K,
})
# SOF0-3, 5-7, 9-11, 13-15 (T.81 Table B.1; C4, C8 and CC are other markers) and JPEG-LS SOF55
_SOF = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC),
                  *range(0xCD, 0xD0), 0xF7})
_SOS = 0xDA
_SCAN_LIMIT = 1 << 16  # tables before the frame header are small; give up beyond this


def stream_size(transfer_syntax: str, fragment: bytes) -> tuple[int, int, int] | None:
    """(columns, rows, samples) the first fragment of a frame declares, or None when this
    syntax has no such header here or it cannot be found (the codec then judges the stream).
    Rows 0 means "given later" (a JPEG DNL segment)."""
    if transfer_syntax in JPEG_SYNTAXES:
        return _jpeg_size(fragment)
    if transfer_syntax in J2K_SYNTAXES:
        return _j2k_size(fragment)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int, int] | None:
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 4 <= min(len(data), _SCAN_LIMIT):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _SOF and at + 10 <= len(data):
            rows, columns, samples = struct.unpack_from(">HHB", data, at + 5)
            return columns, rows, samples
        if marker == _SOS:
            return None
        (length,) = struct.unpack_from(">H", data, at + 2)
        at += 2 + length
    return None


def _j2k_size(data: bytes) -> tuple[int, int, int] | None:
    start = data.find(b"\xff\x4f\xff\x51", 0, 256)  # SOC then SIZ, perhaps inside a JP2 box
    if start == -1 or start + 42 > len(data):
        return None
    x, y, x0, y0 = struct.unpack_from(">IIII", data, start + 8)
    (samples,) = struct.unpack_from(">H", data, start + 40)
    return x - x0, y - y0, samples
