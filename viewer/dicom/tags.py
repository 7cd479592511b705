"""Every attribute of a file as a tree, for the tag browser: file meta (PS3.10 §7.1), the dataset,
sequence items (PS3.5 §7.5) and private elements with their creator (PS3.5 §7.8.1).

Values are shown as text: decoded with the file's (corrected) character set by `text`, long or
binary values abbreviated, and bulk pixel data shown by its length only, never loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.encaps import parse_basic_offsets, parse_fragments
from pydicom.filereader import read_deferred_data_element
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian
from pydicom.valuerep import PersonName

from viewer.dicom import text
from viewer.dicom.files import PathLike, read_dataset

LOGGER = logging.getLogger(__name__)

# Elements larger than this are not read with the header; only bulk data is left unread for
# good, the rest is read on its own (a big defined-length sequence is deferred too).
DEFER_SIZE = 16 * 1024
HEX_BYTES = 64  # binary values: this many bytes shown in hex
TEXT_CHARS = 256  # text values: this many characters shown
LIST_VALUES = 32  # multi-values: this many shown

# Float Pixel Data, Double Float Pixel Data, Pixel Data (PS3.3 C.7.6.3): shown by length only.
_BULK = frozenset({BaseTag(0x7FE00008), BaseTag(0x7FE00009), BaseTag(0x7FE00010)})
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN", "OB or OW", "US or OW"})
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class TagNode:
    """One row of the tag tree.

    `tag` is "(gggg,eeee)" ("" for a sequence item); `keyword` and `name` come from the data
    dictionary (a private element's name carries its creator in brackets, and `private_creator`
    holds it); `value_text` is the value as shown; `item_number` is 1, 2 ... for a sequence item
    (its `name` is "Item n") and 0 otherwise.
    """

    tag: str
    keyword: str
    name: str
    vr: str
    value_text: str
    children: tuple[TagNode, ...] = ()
    private_creator: str = ""
    item_number: int = 0


def tag_tree(path: PathLike) -> list[TagNode]:
    """The attributes of the DICOM file at `path`: file meta information first, then the dataset
    in tag order, sequences with their items as children. Pixel data is never read.

    Raises viewer.dicom.files.DicomFileError for a file that cannot be read.
    """
    # pydicom's warnings about the file (a missing delimiter, an odd VR) are logged, not shown:
    # the tree itself shows what could be read.
    with text.pydicom_warnings() as messages:
        ds = read_dataset(path, defer_size=DEFER_SIZE)
        if ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
            # Deferred reads seek in the file, which does not hold the inflated stream.
            ds = read_dataset(path)
        body, bulk = _split_bulk(ds)
    decoded, problems = text.decoded_dataset(body)
    for line in [*messages, *problems]:
        LOGGER.debug("tag tree of %s: %s", path, line)
    nodes = [_node(elem) for elem in ds.file_meta]
    rows: list[tuple[BaseTag, TagNode]] = [(elem.tag, _node(elem)) for elem in decoded]
    rows.extend((tag, _bulk_node(ds, raw)) for tag, raw in bulk.items())
    nodes.extend(node for _, node in sorted(rows, key=lambda row: row[0]))
    return nodes


def filter_tree(nodes: Sequence[TagNode], needle: str) -> list[TagNode]:
    """The nodes matching `needle` (case-insensitive, in tag, keyword, name or value) with their
    ancestors; a matching node keeps its whole subtree. An empty needle keeps everything."""
    wanted = needle.strip().casefold()
    if not wanted:
        return list(nodes)
    out = []
    for node in nodes:
        if _matches(node, wanted):
            out.append(node)
            continue
        children = filter_tree(node.children, needle)
        if children:
            out.append(_with_children(node, children))
    return out


def count_nodes(nodes: Iterable[TagNode]) -> int:
    """All nodes of the forest, children included."""
    return sum(1 + count_nodes(node.children) for node in nodes)


def _matches(node: TagNode, wanted: str) -> bool:
    compact = node.tag.strip("()").replace(",", "")  # "00100010" finds (0010,0010) too
    fields = (node.tag, compact, node.keyword, node.name, node.value_text, node.private_creator)
    return any(wanted in field.casefold() for field in fields)


def _with_children(node: TagNode, children: list[TagNode]) -> TagNode:
    return TagNode(node.tag, node.keyword, node.name, node.vr, node.value_text, tuple(children),
                   node.private_creator, node.item_number)


# --- reading --------------------------------------------------------------------------------------


def _split_bulk(ds: FileDataset) -> tuple[Dataset, dict[BaseTag, RawDataElement]]:
    """The dataset without its bulk data (as raw elements, unread), and the bulk elements.

    Other deferred elements are read now, still raw, so that `text` decodes them with the
    corrected character set.
    """
    body = Dataset()
    bulk: dict[BaseTag, RawDataElement] = {}
    for tag in list(ds.keys()):
        elem = ds.get_item(tag, keep_deferred=True)
        if tag in _BULK and isinstance(elem, RawDataElement):
            bulk[tag] = elem
            continue
        if isinstance(elem, RawDataElement) and elem.value is None and elem.length != 0:
            elem = read_deferred_data_element(
                ds.fileobj_type, ds.filename or "", ds.timestamp, elem
            )
        body[tag] = elem
    return body, bulk


def _bulk_node(ds: FileDataset, raw: RawDataElement) -> TagNode:
    vr = raw.VR or dictionary_VR(raw.tag)
    if vr == "OB or OW":
        vr = "OW"  # Pixel Data in Implicit VR Little Endian is OW (PS3.5 §A.1)
    if raw.length != _UNDEFINED_LENGTH:
        value = _length_text(raw.length)
    else:
        value = _encapsulated_text(ds, raw)
    return _element_node(raw.tag, vr, value)


def _encapsulated_text(ds: FileDataset, raw: RawDataElement) -> str:
    """'encapsulated, n fragments (m bytes)' from the item headers only (PS3.5 §A.4)."""
    endian = "<" if raw.is_little_endian else ">"
    try:
        if raw.value is not None:
            from io import BytesIO

            return _fragments_text(BytesIO(raw.value), 0, endian)
        with Path(str(ds.filename)).open("rb") as fh:
            fh.seek(raw.value_tell)
            return _fragments_text(fh, raw.value_tell, endian)
    except (OSError, ValueError) as exc:
        LOGGER.debug("cannot walk the pixel data fragments: %r", exc)
        return "encapsulated (undefined length)"


def _fragments_text(fh: BinaryIO, start: int, endian: str) -> str:
    parse_basic_offsets(fh, endianness=endian)  # leaves fh after the Basic Offset Table
    count, offsets = parse_fragments(fh, endianness=endian)
    if not offsets:
        return "encapsulated, 0 fragments"
    fh.seek(offsets[-1] + 4)
    last = int.from_bytes(fh.read(4), "little" if endian == "<" else "big")
    size = offsets[-1] + 8 + last + 8 - start  # through the Sequence Delimitation Item
    return f"encapsulated, {count} fragment{'s' if count != 1 else ''} ({size:,} bytes)"


# --- nodes ----------------------------------------------------------------------------------------


def _node(elem: DataElement) -> TagNode:
    if elem.VR == "SQ":
        items = tuple(_item_node(index, item) for index, item in enumerate(elem.value, start=1))
        count = len(items)
        value = f"{count} item{'s' if count != 1 else ''}"
        return _element_node(elem.tag, "SQ", value, items, elem)
    return _element_node(elem.tag, str(elem.VR), _value_text(elem), (), elem)


def _item_node(number: int, item: Dataset) -> TagNode:
    children = tuple(_node(elem) for elem in item)
    return TagNode("", "", f"Item {number}", "", "", children, item_number=number)


def _element_node(
    tag: BaseTag,
    vr: str,
    value: str,
    children: tuple[TagNode, ...] = (),
    elem: DataElement | None = None,
) -> TagNode:
    if elem is None:
        keyword, name, creator = _dictionary_names(tag)
    else:
        keyword, name = elem.keyword, elem.name
        creator = str(elem.private_creator or "") if tag.is_private else ""
        if creator and not tag.is_private_creator:
            name = f"[{creator}] {name.strip('[]')}"
    return TagNode(f"({tag.group:04X},{tag.element:04X})", keyword, name, vr, value, children,
                   creator)


def _dictionary_names(tag: BaseTag) -> tuple[str, str, str]:
    probe = DataElement(tag, "OB", None)
    return probe.keyword, probe.name, ""


def _value_text(elem: DataElement) -> str:
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        if elem.VR in _BINARY_VRS or not value.isascii():
            return _hex_text(bytes(value))
        value = value.decode("ascii")
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    shown = [_one_value(v, elem.VR) for v in values[:LIST_VALUES]]
    joined = "\\".join(shown)
    if len(values) > LIST_VALUES:
        joined += f"\\… ({len(values)} values)"
    if len(joined) > TEXT_CHARS:
        joined = f"{joined[:TEXT_CHARS]}… ({len(joined):,} characters)"
    return joined


def _one_value(value: Any, vr: str) -> str:
    if isinstance(value, PersonName):
        return text.person_name_value(value)
    if vr == "AT" and isinstance(value, int):
        tag = BaseTag(value)
        return f"({tag.group:04X},{tag.element:04X})"
    if isinstance(value, UID) and value.is_valid and value.name != value:
        return f"{value} ({value.name})"  # "1.2.840.10008.1.2.1 (Explicit VR Little Endian)"
    if isinstance(value, bytes | bytearray):
        return _hex_text(bytes(value))
    return str(value)


def _hex_text(data: bytes) -> str:
    shown = data[:HEX_BYTES].hex(" ")
    return f"{shown} … ({len(data):,} bytes)" if len(data) > HEX_BYTES else shown


def _length_text(length: int) -> str:
    return f"({length:,} bytes)"
