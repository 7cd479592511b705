"""Damaging DICOM files on purpose, reproducibly: the mutations of the fuzz suite and `bench fuzz`.

Each mutation takes the bytes of a valid PS3.10 file and a seeded `random.Random` and returns
damaged bytes, the way files arrive damaged from the field: bits flipped, cut short, a Value
Length that lies (PS3.5 7.1; at the top level or inside a sequence), garbage inserted, chunks
duplicated, a damaged deflate stream (PS3.5 A.5), damaged encapsulated fragments or Basic
Offset Table (PS3.5 A.4), a wrong VR, and absurd Rows / Columns / Number of Frames. The same
seed gives the same bytes, so a crash found once is found again.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

_DEFLATED = "1.2.840.10008.1.2.1.99"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
_ITEM = b"\xfe\xff\x00\xe0"  # (FFFE,E000) little endian
_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0"
_PIXEL_DATA = 0x7FE00010


@dataclass(frozen=True)
class Element:
    """Where a top-level element (or file meta element) sits in the file's bytes."""

    tag: int
    vr: str | None  # None: implicit VR
    value_offset: int
    length: int
    length_offset: int
    length_size: int  # 2 or 4 bytes
    little_endian: bool


@dataclass(frozen=True)
class Layout:
    """The parts of a file the structural mutations aim at."""

    transfer_syntax: str
    meta_end: int  # offset of the first dataset byte (the deflate stream for deflated files)
    elements: tuple[Element, ...]


def layout_of(data: bytes) -> Layout | None:
    """Element positions of `data` (a valid file), or None when pydicom cannot read it."""
    from pydicom import dcmread

    try:
        ds = dcmread(BytesIO(data), force=True)
    except Exception:  # a seed pydicom cannot read just gets the byte-level mutations
        return None
    ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
    meta_end = 132
    elements: list[Element] = []
    raw_items = [*ds.file_meta._dict.items()]
    if ts != _DEFLATED:  # a deflated dataset's offsets are in the inflated stream
        raw_items += [*ds._dict.items()]
    for tag, raw in raw_items:
        tell = getattr(raw, "value_tell", None)
        length = getattr(raw, "length", None)
        if tell is None or length is None:  # only raw (not yet converted) elements say where
            continue
        group = int(tag) >> 16
        implicit = bool(getattr(raw, "is_implicit_VR", False)) and group != 2
        little = bool(getattr(raw, "is_little_endian", True)) or group == 2
        vr = None if implicit else str(raw.VR)
        size = 4 if implicit or vr in _LONG_VRS else 2
        elements.append(Element(int(tag), vr, tell, length, tell - size, size, little))
        if group == 2:
            meta_end = max(meta_end, tell + length)
    return Layout(ts, meta_end, tuple(elements))


Mutation = Callable[[bytes, Layout | None, random.Random], bytes]


def flip_bytes(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(out))
        out[at] ^= rng.randint(1, 255)
    return bytes(out)


def truncate(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    start = min(layout.meta_end if layout else 132, len(data) - 1)
    return data[: rng.randint(start, len(data) - 1)]


def insert_garbage(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    at = rng.randrange(132, len(data)) if len(data) > 132 else 0
    return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]


def duplicate_chunk(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    chunk = data[start : start + rng.randint(1, 512)]
    at = rng.randrange(len(data))
    return data[:at] + chunk * rng.randint(1, 4) + data[at:]


def lie_in_length(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    """An element's Value Length larger, smaller, odd or undefined (0xFFFFFFFF)."""
    if layout is None or not layout.elements:
        return flip_bytes(data, layout, rng)
    element = rng.choice(layout.elements)
    limit = (1 << (8 * element.length_size)) - 1
    choices = [
        element.length + rng.randint(1, 4096),
        max(element.length - rng.randint(1, 64), 0),
        element.length | 1,
        limit,
        rng.randint(0, limit),
    ]
    value = min(rng.choice(choices), limit)
    fmt = ("<" if element.little_endian else ">") + ("H" if element.length_size == 2 else "I")
    out = bytearray(data)
    struct.pack_into(fmt, out, element.length_offset, value)
    return bytes(out)


def lie_in_nested_length(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    """A length inside a sequence lying: an item's (FFFE,E000) Item Length, or the 4-byte
    Value Length of a nested SQ, UT or OB element (explicit VR little endian, PS3.5 7.5),
    found by their bytes. Structured reports, presentation states and segmentations keep
    nearly everything they say inside sequences, where `lie_in_length` never reaches."""
    lengths = [m + 4 for m in _find_all(data, _ITEM)]
    for vr in (b"SQ\0\0", b"UT\0\0", b"OB\0\0"):
        lengths += [m + 4 for m in _find_all(data, vr)]
    lengths = [at for at in lengths if at + 4 <= len(data)]
    if not lengths:
        return lie_in_length(data, layout, rng)
    at = rng.choice(lengths)
    (length,) = struct.unpack_from("<I", data, at)
    value = rng.choice([
        0xFFFFFFFF, 0, length + rng.randint(1, 4096), max(length - rng.randint(1, 32), 0),
        length | 1, rng.randint(0, 0xFFFFFFFE),
    ]) if length != 0xFFFFFFFF else rng.randint(0, 256)
    out = bytearray(data)
    struct.pack_into("<I", out, at, min(value, 0xFFFFFFFF))
    return bytes(out)


def _find_all(data: bytes, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def wrong_vr(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    explicit = [e for e in (layout.elements if layout else ()) if e.vr is not None]
    if not explicit:
        return flip_bytes(data, layout, rng)
    element = rng.choice(explicit)
    header = element.length_offset - (4 if element.length_size == 4 else 2)
    vr = rng.choice([b"SQ", b"UN", b"OB", b"US", b"UL", b"FD", b"DS", b"XX", b"\0\0"])
    out = bytearray(data)
    out[header : header + 2] = vr
    return bytes(out)


def huge_dimensions(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    """Rows / Columns (US) or Number of Frames (IS) far beyond the pixel data present."""
    targets = [e for e in (layout.elements if layout else ())
               if e.tag in (0x00280010, 0x00280011, 0x00280008)]
    if not targets:
        return flip_bytes(data, layout, rng)
    element = rng.choice(targets)
    out = bytearray(data)
    if element.tag == 0x00280008:  # IS: the same length, a bigger number
        digits = max(element.length, 1)
        text = str(rng.choice([0, 10 ** digits - 1, 65535, 99999999]))[:digits].ljust(digits)
        out[element.value_offset : element.value_offset + digits] = text.encode()
    elif element.length >= 2:
        fmt = "<H" if element.little_endian else ">H"
        struct.pack_into(fmt, out, element.value_offset, rng.choice([0, 1, 0xFFFF, 0x8000]))
    return bytes(out)


def damage_fragments(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    """Encapsulated Pixel Data: an item length, a Basic Offset Table entry or the sequence
    delimiter damaged (PS3.5 A.4)."""
    pixel = next((e for e in (layout.elements if layout else ()) if e.tag == _PIXEL_DATA), None)
    if pixel is None or pixel.length != 0xFFFFFFFF:
        return flip_bytes(data, layout, rng)
    items = []
    at = data.find(_ITEM, pixel.value_offset)
    while at != -1:
        items.append(at)
        at = data.find(_ITEM, at + 8)
    if not items:
        return flip_bytes(data, layout, rng)
    out = bytearray(data)
    choice = rng.randrange(4)
    if choice == 0:  # an item's length lies
        item = rng.choice(items)
        lie = rng.choice([0, 1, 0xFFFFFFFF, rng.randrange(1 << 32)])
        struct.pack_into("<I", out, item + 4, lie)
    elif choice == 1:  # the Basic Offset Table points elsewhere
        first = items[0]
        (bot_length,) = struct.unpack_from("<I", out, first + 4)
        if bot_length >= 4:
            entry = first + 8 + 4 * rng.randrange(bot_length // 4)
            struct.pack_into("<I", out, entry, rng.randrange(1 << 32))
        else:  # an empty table claims entries
            struct.pack_into("<I", out, first + 4, rng.choice([4, 8, 0x1000]))
    elif choice == 2:  # no sequence delimiter: the fragments run to the end of the file
        end = data.rfind(_SEQUENCE_DELIMITER)
        if end != -1:
            del out[end:]
    else:  # a fragment's bytes damaged
        item = rng.choice(items)
        for _ in range(rng.randint(1, 16)):
            at = rng.randrange(item + 8, len(out))
            out[at] ^= rng.randint(1, 255)
    return bytes(out)


def damage_deflate(data: bytes, layout: Layout | None, rng: random.Random) -> bytes:
    """Deflated Explicit VR Little Endian: the raw deflate stream cut, flipped or padded, or the
    inflated dataset mutated and deflated again (PS3.5 A.5)."""
    if layout is None or layout.transfer_syntax != _DEFLATED:
        return truncate(data, layout, rng)
    head, stream = data[: layout.meta_end], data[layout.meta_end :]
    choice = rng.randrange(4)
    if choice == 0 and len(stream) > 1:
        return head + stream[: rng.randrange(1, len(stream))]
    if choice == 1:
        return head + flip_bytes(stream, None, rng)
    if choice == 2:
        return head + stream + rng.randbytes(rng.randint(1, 64))
    try:
        inflated = zlib.decompress(stream, -zlib.MAX_WBITS)
    except zlib.error:
        return head + flip_bytes(stream, None, rng)
    damaged = rng.choice([flip_bytes, insert_garbage, duplicate_chunk])(inflated, None, rng)
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return head + packer.compress(damaged) + packer.flush()


MUTATIONS: dict[str, Mutation] = {
    "flip": flip_bytes,
    "truncate": truncate,
    "length": lie_in_length,
    "nested": lie_in_nested_length,
    "garbage": insert_garbage,
    "duplicate": duplicate_chunk,
    "deflate": damage_deflate,
    "fragments": damage_fragments,
    "vr": wrong_vr,
    "dimensions": huge_dimensions,
}


def mutate(data: bytes, layout: Layout | None, rng: random.Random) -> tuple[str, bytes]:
    """One mutation (sometimes two stacked) chosen by `rng`, aimed at what the file holds:
    deflate and fragment damage only where there is a deflate stream or fragments."""
    names = ["flip", "truncate", "length", "garbage", "duplicate", "vr", "dimensions"]
    if layout is not None and layout.transfer_syntax == _DEFLATED:
        names += ["deflate"] * 3
    elif layout is not None and any(
        e.tag == _PIXEL_DATA and e.length == 0xFFFFFFFF for e in layout.elements
    ):
        names += ["fragments"] * 3
    if layout is not None and any(e.vr == "SQ" for e in layout.elements):
        names += ["nested"] * 2
    applied = []
    for _ in range(1 if rng.random() < 0.8 else 2):
        name = rng.choice(names)
        try:
            data = MUTATIONS[name](data, layout, rng) or data
        except (struct.error, IndexError, ValueError):  # a layout the first mutation moved
            name, data = "flip", flip_bytes(data, None, rng)
        applied.append(name)
    return "+".join(applied), data
