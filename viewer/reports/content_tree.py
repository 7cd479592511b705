"""The content tree of a Structured Report as frozen values (PS3.3 C.17.3, C.18).

`read_content_tree(ds)` reads any SR document (Basic / Enhanced / Comprehensive / Comprehensive 3D
SR, Key Object Selection, X-Ray and CT Radiation Dose SR, TID 1500 measurement reports) into a
`ContentTree` of `ContentItem`s. It never raises for a damaged item: an item without a value
type, with a value of the wrong VR or with an empty required sequence becomes an item whose
`problem` says why, and its children are still read. A by-reference item (Referenced Content
Item Identifier, PS3.3 C.17.3.2.5) is a link: `ContentTree.resolve` finds its target, following
chains of links at most once each, so a cycle of them ends (None) instead of recursing.

Positions are written as DCMTK's dsrdump writes them: the root is "1", its second child "1.2".
Spatial coordinates (SCOORD) are image pixel coordinates, column then row, with 0,0 at the top
left corner of the top left pixel (PS3.3 C.18.6.1.2): the same convention as a presentation
state's PIXEL annotations, so a viewport maps both with one matrix.
"""

from __future__ import annotations

import math
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from viewer.dicom.files import describe_error, one_line
from viewer.dicom.text import normalise_charset, pydicom_warnings
from viewer.reports.raw_sequence import MalformedSequence, RawItem, implicit_vr, read_items

# SR Document Storage SOP Classes share this root (PS3.4 B.5); Key Object Selection is .59.
_SR_CLASS_ROOT = "1.2.840.10008.5.1.4.1.1.88."
# Concept Name Code Sequence is Type 1C: required for these value types (PS3.3 C.17.3.2.2)
_NAMED_VALUE_TYPES = frozenset({"TEXT", "CODE", "NUM", "UIDREF", "PNAME", "DATE", "TIME",
                                "DATETIME"})
_MAX_DEPTH = 200  # deeper nesting than any template asks for: a damaged file, not a report
_ISO2022 = frozenset({"ISO 2022 IR 87", "ISO 2022 IR 159", "ISO 2022 IR 149", "ISO 2022 IR 58"})

VALUE_TYPES = frozenset({
    "TEXT", "CODE", "NUM", "UIDREF", "PNAME", "DATE", "TIME", "DATETIME", "CONTAINER",
    "COMPOSITE", "IMAGE", "WAVEFORM", "SCOORD", "SCOORD3D", "TCOORD", "TABLE",
})


Node = Dataset | RawItem  # an item as pydicom read it, or straight from its bytes


class ContentTreeError(ValueError):
    """A dataset that is not a Structured Report; the message is one line."""


@dataclass(frozen=True, slots=True)
class Code:
    """A coded entry (PS3.3 8.8): value, coding scheme designator, meaning."""

    value: str
    scheme: str
    meaning: str
    scheme_version: str = ""

    def is_(self, value: str, scheme: str) -> bool:
        """Whether this is the code `value` of `scheme` (the meaning may differ by language)."""
        return self.value == value and self.scheme == scheme


@dataclass(frozen=True, slots=True)
class TextValue:
    """TEXT, and the DATE / TIME / DATETIME / UIDREF values (kept as written)."""

    text: str


@dataclass(frozen=True, slots=True)
class PersonNameValue:
    """PNAME: `value` in DICOM form ("Family^Given"), decoded in the SR's character set."""

    value: str


@dataclass(frozen=True, slots=True)
class NumericValue:
    """NUM (PS3.3 C.18.1): `number` is None when the measured value is absent (then
    `qualifier` usually says why: "Not a number", "Value unknown"...); `text` is the Numeric
    Value as written; `unit` the Measurement Units Code (UCUM)."""

    number: float | None
    text: str
    unit: Code | None
    qualifier: Code | None = None


@dataclass(frozen=True, slots=True)
class ContainerValue:
    """CONTAINER: Continuity Of Content (SEPARATE / CONTINUOUS) and its template, if named."""

    continuity: str
    template: str = ""  # Template Identifier, e.g. "1500"


@dataclass(frozen=True, slots=True)
class ReferencedSOP:
    """One item of Referenced SOP Sequence: the object, and for IMAGE the frames (1-based) or
    segments and the presentation state it was seen with; for WAVEFORM the channels."""

    sop_class_uid: str
    sop_instance_uid: str
    frames: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    presentation_state: ReferencedSOP | None = None


@dataclass(frozen=True, slots=True)
class SpatialCoordinates:
    """SCOORD (PS3.3 C.18.6): `points` as (column, row) in image pixels, 0,0 the top left corner
    of the top left pixel; `graphic_type` POINT, MULTIPOINT, POLYLINE, CIRCLE, ELLIPSE. The image
    they are on is the IMAGE item the SCOORD is SELECTED FROM (`ContentTree.scoord_images`)."""

    graphic_type: str
    points: tuple[tuple[float, float], ...]
    pixel_origin: str = ""  # Pixel Origin Interpretation: FRAME or VOLUME (tiled images)


@dataclass(frozen=True, slots=True)
class SpatialCoordinates3D:
    """SCOORD3D (PS3.3 C.18.9): `points` (x, y, z) in mm in `frame_of_reference_uid`'s patient
    coordinates; `graphic_type` POINT, MULTIPOINT, POLYLINE, POLYGON, ELLIPSE, ELLIPSOID."""

    graphic_type: str
    points: tuple[tuple[float, float, float], ...]
    frame_of_reference_uid: str


@dataclass(frozen=True, slots=True)
class TemporalCoordinates:
    """TCOORD (PS3.3 C.18.7): a range type and sample positions, time offsets (s) or
    date-times, whichever the item gives."""

    range_type: str
    sample_positions: tuple[int, ...] = ()
    time_offsets: tuple[float, ...] = ()
    datetimes: tuple[str, ...] = ()


ItemValue = (TextValue | PersonNameValue | Code | NumericValue | ContainerValue | ReferencedSOP
             | SpatialCoordinates | SpatialCoordinates3D | TemporalCoordinates)


@dataclass(frozen=True, slots=True, eq=False)
class ContentItem:
    """One content item. `relationship` is the Relationship Type to its parent ("" for the
    root); `value_type` the Value Type ("" for a by-reference item, whose `reference` is the
    position of its target); `problem` non-empty for an invalid item (its `value` is then None
    or what could be read)."""

    position: str
    relationship: str
    value_type: str
    concept: Code | None
    value: ItemValue | None
    children: tuple[ContentItem, ...] = ()
    observation_datetime: str = ""
    reference: str = ""
    problem: str = ""

    @property
    def is_reference(self) -> bool:
        return bool(self.reference)

    @property
    def depth(self) -> int:
        """0 for the root."""
        return self.position.count(".")

    def named(self, value: str, scheme: str) -> Iterator[ContentItem]:
        """The children whose concept name is the code `value` of `scheme`."""
        return (c for c in self.children if c.concept is not None and c.concept.is_(value, scheme))


@dataclass(frozen=True, slots=True, eq=False)
class ContentTree:
    """A whole SR document: header facts, the root CONTAINER and every item by position."""

    sop_class_uid: str
    sop_instance_uid: str
    root: ContentItem
    completion_flag: str = ""
    verification_flag: str = ""
    template: str = ""  # the root's Template Identifier
    warnings: tuple[str, ...] = ()
    by_position: Mapping[str, ContentItem] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The document title: the root's concept name meaning."""
        return self.root.concept.meaning if self.root.concept else ""

    def walk(self) -> Iterator[ContentItem]:
        """Every item, depth first, in document order; links are items, never followed."""
        stack = [self.root]
        while stack:
            item = stack.pop()
            yield item
            stack.extend(reversed(item.children))

    def walk_under(self, item: ContentItem) -> Iterator[ContentItem]:
        """The descendants of `item`, depth first; links are items, never followed."""
        stack = list(reversed(item.children))
        while stack:
            current = stack.pop()
            yield current
            stack.extend(reversed(current.children))

    def resolve(self, item: ContentItem) -> ContentItem | None:
        """The item a by-reference `item` points to (through a chain of links); `item` itself
        when it is not a link; None when the target is missing or the links form a cycle."""
        seen: set[str] = set()
        while item.reference:
            if item.reference in seen:
                return None
            seen.add(item.reference)
            target = self.by_position.get(item.reference)
            if target is None:
                return None
            item = target
        return item

    def link_problem(self, item: ContentItem) -> str:
        """Why a link cannot be followed ("" when it can)."""
        if not item.reference or self.resolve(item) is not None:
            return ""
        if item.reference not in self.by_position:
            return f"no content item {item.reference} in this document"
        return "a cycle of by-reference items"

    def scoord_images(self, item: ContentItem) -> tuple[ReferencedSOP, ...]:
        """The images a SCOORD item is drawn on: its SELECTED FROM IMAGE children, by value or
        by reference (PS3.3 C.18.6.1)."""
        found = []
        for child in item.children:
            if child.relationship != "SELECTED FROM":
                continue
            target = self.resolve(child)
            if target is not None and isinstance(target.value, ReferencedSOP):
                found.append(target.value)
        return tuple(found)


def is_structured_report(ds: Dataset) -> bool:
    """Whether `ds` is an SR document (by SOP Class, or a root CONTAINER with content)."""
    if _text(_get(ds, "SOPClassUID")).startswith(_SR_CLASS_ROOT):
        return True
    return "ContentSequence" in ds and _text(_get(ds, "ValueType")) == "CONTAINER"


def read_content_tree(
    ds: Dataset, content: Sequence[RawItem] | None = None
) -> ContentTree:
    """The content tree of the SR `ds` (PS3.3 C.17.3). Raises ContentTreeError (one line) when
    `ds` is not an SR; damaged items become invalid items, never an exception. `content`: the
    root's Content Sequence items when the caller read them apart (`read_report`)."""
    if not is_structured_report(ds):
        sop_class = _text(_get(ds, "SOPClassUID"))
        what = f"SOP Class {one_line(sop_class)}" if sop_class else "no SOP Class UID"
        raise ContentTreeError(f"not a Structured Report ({what})")
    terms = normalise_charset(_get(ds, "SpecificCharacterSet"))
    encodings = convert_encodings(terms)
    # one Python codec decodes every value of a single-byte or stand-alone (UTF-8, GB18030)
    # character set; ISO 2022 code extensions switch codecs inside a value: pydicom does those
    _STATE.codec = encodings[0] if len(encodings) == 1 and terms[0] not in _ISO2022 else None
    _STATE.undecodable = 0
    _STATE.encodings = encodings
    try:
        with pydicom_warnings() as messages:
            reader = _Reader(encodings, content)
            root = reader.item(ds, "1", "", 0)
            header = {k: _text(_get(ds, k)) for k in (
                "SOPClassUID", "SOPInstanceUID", "CompletionFlag", "VerificationFlag")}
        undecodable = _STATE.undecodable
    finally:
        _STATE.codec = None
    warnings = list(reader.warnings)
    if undecodable:
        warnings.append(f"{undecodable} values hold bytes not valid in the declared character "
                        "set; shown with replacement characters")
    if messages:
        warnings.append(f"{len(messages)} values do not conform to their VR or character set")
    template = root.value.template if isinstance(root.value, ContainerValue) else ""
    return ContentTree(
        sop_class_uid=header["SOPClassUID"],
        sop_instance_uid=header["SOPInstanceUID"],
        root=root,
        completion_flag=header["CompletionFlag"],
        verification_flag=header["VerificationFlag"],
        template=template,
        warnings=tuple(warnings),
        by_position=MappingProxyType(reader.by_position),
    )


class _Reader:
    """Reads items depth first, recording each by position; one instance per document."""

    def __init__(self, encodings: list[str], root_content: Sequence[RawItem] | None) -> None:
        self.encodings = encodings
        self.root_content = root_content
        self.by_position: dict[str, ContentItem] = {}
        self.warnings: list[str] = []

    def item(self, ds: Node, position: str, relationship: str, depth: int) -> ContentItem:
        if isinstance(ds, Dataset) and "SpecificCharacterSet" not in ds:
            # Why: pydicom decodes nested items with the parent's term as written; a misspelt
            # one ("ISO_IR100") would garble them. Items convert lazily, so setting it now works.
            ds._parent_encoding = self.encodings
        try:
            built = self._item(ds, position, relationship, depth)
        except Exception as exc:  # any value pydicom cannot convert: an invalid item
            built = ContentItem(position, relationship, _text(_get(ds, "ValueType")),
                                None, None, problem=f"cannot be read: {describe_error(exc)}")
        if built.problem:
            self.warnings.append(f"content item {position}: {built.problem}")
        self.by_position[position] = built
        return built

    def _item(self, ds: Node, position: str, relationship: str, depth: int) -> ContentItem:
        reference = _get(ds, "ReferencedContentItemIdentifier")
        if reference is not None:
            numbers = [int(n) for n in _many(reference)]
            problem = "" if numbers else "empty Referenced Content Item Identifier"
            target = ".".join(str(n) for n in numbers)
            return ContentItem(position, relationship, "", None, None, reference=target,
                               problem=problem)
        value_type = _text(_get(ds, "ValueType"))
        concept = _first_code(ds, "ConceptNameCodeSequence")
        children: tuple[ContentItem, ...] = ()
        problems = []
        if depth >= _MAX_DEPTH:
            problems.append(f"nested deeper than {_MAX_DEPTH} levels; its content is not read")
        else:
            children = self._children(ds, position, depth)
        if not value_type:
            problems.append("no Value Type")
            value: ItemValue | None = None
        elif value_type not in VALUE_TYPES:
            problems.append(f"unknown Value Type {one_line(value_type)!r}")
            value = None
        else:
            value, problem = _VALUE_READERS[value_type](ds)
            if problem:
                problems.append(problem)
        if relationship == "" and position != "1":
            problems.append("no Relationship Type")
        if concept is None and value_type in _NAMED_VALUE_TYPES:
            problems.append("no Concept Name Code")
        return ContentItem(
            position, relationship, value_type, concept, value, children,
            observation_datetime=_text(_get(ds, "ObservationDateTime")),
            problem="; ".join(problems),
        )

    def _children(self, ds: Node, position: str, depth: int) -> tuple[ContentItem, ...]:
        sequence = _get(ds, "ContentSequence")
        if position == "1" and self.root_content is not None:
            sequence = self.root_content
        if not sequence:
            return ()
        out = []
        for index, child in enumerate(sequence, start=1):
            relationship = _text(_get(child, "RelationshipType"))
            out.append(self.item(child, f"{position}.{index}", relationship, depth + 1))
        return tuple(out)


# --- values ---------------------------------------------------------------------------------------

_Read = tuple[ItemValue | None, str]


# Value Representations read straight from their bytes (the fast path: pydicom's conversion of
# each element cost three quarters of reading a 5,000-item tree); others go through pydicom.
_ASCII_VRS = frozenset({"CS", "UI", "DS", "IS", "DA", "TM", "DT", "AE"})
_TEXT_VRS = frozenset({"UT", "ST", "LT"})  # one value; a backslash is text
_NAME_VRS = frozenset({"LO", "SH", "PN", "UC"})  # backslash-separated values
_PN_DELIMITERS = {ord("^"), ord("=")}
_NONE: set[int] = set()
_TAGS: dict[str, int] = {}  # plain ints: BaseTag's Python-level __eq__ slowed every lookup
_STATE = threading.local()  # the codec of the document being read, per thread


def _tag(keyword: str) -> int:
    tag = _TAGS.get(keyword)
    if tag is None:
        tag = _TAGS[keyword] = int(tag_for_keyword(keyword) or 0)
    return tag


def _get(node: Node, keyword: str) -> Any:
    """The value of `keyword` in `node`: text as str (several values as a list), numbers as
    int/float (or a list), a sequence as a list of nodes; None when absent or unreadable (the
    reader of the item's value type then says what is missing)."""
    tag = _tag(keyword)
    try:
        if isinstance(node, RawItem):
            found = node.elements.get(tag)
            return None if found is None else _raw_value(node.implicit, *found)
        element = node.get_item(tag)
        if element is None:
            return None
        if isinstance(element, RawDataElement) and element.is_little_endian:
            raw = element.value
            vr = element.VR or implicit_vr(tag)
            if type(raw) is bytes and vr != "SQ":
                return _raw_value(element.is_implicit_VR, vr, raw)
            if type(raw) is bytes:
                try:
                    return list(read_items(raw, element.is_implicit_VR))
                except MalformedSequence:
                    pass  # pydicom may still make sense of it, or say why not
        return node[tag].value
    except Exception:  # a wrong VR or a value pydicom cannot convert
        return None


_NUMBERS = {"UL": "I", "US": "H", "SL": "i", "SS": "h", "FL": "f", "FD": "d"}


def _raw_value(implicit: bool, vr: str, raw: bytes | tuple[RawItem, ...]) -> Any:
    if isinstance(raw, tuple):
        return list(raw)
    if vr == "SQ":
        return list(read_items(raw, implicit))
    if vr in _ASCII_VRS:
        return _split(raw.decode("latin_1").strip(" \0"))
    if vr in _TEXT_VRS or vr in _NAME_VRS:
        codec = getattr(_STATE, "codec", None)
        if codec is None:  # ISO 2022 code extensions: pydicom switches codecs inside values
            text = decode_bytes(raw, _STATE.encodings, _PN_DELIMITERS if vr == "PN" else _NONE)
        else:
            text = _decoded(raw, codec)
        text = text.rstrip(" \0")
        return text if vr in _TEXT_VRS else _split(text)
    kind = _NUMBERS.get(vr)
    if kind is None:
        return None  # OB, UN...: nothing an SR item reads
    size = struct.calcsize(kind)
    if len(raw) % size:
        raise ValueError(f"{len(raw)} bytes are not a whole number of {vr} values")
    values = struct.unpack(f"<{len(raw) // size}{kind}", raw)
    return values[0] if len(values) == 1 else list(values)


def _split(text: str) -> Any:
    if "\\" not in text:
        return text
    return [part.strip() for part in text.split("\\")]


def _decoded(raw: bytes, codec: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        _STATE.undecodable += 1
        return raw.decode(codec, errors="replace")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _many(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def _ints(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in _many(value))


def _first_code(ds: Node, keyword: str) -> Code | None:
    sequence = _get(ds, keyword)
    if not sequence:
        return None
    item = sequence[0]
    value = _text(_get(item, "CodeValue") or _get(item, "LongCodeValue")
                  or _get(item, "URNCodeValue"))
    return Code(value, _text(_get(item, "CodingSchemeDesignator")),
                _text(_get(item, "CodeMeaning")), _text(_get(item, "CodingSchemeVersion")))


def _read_text(keyword: str) -> Any:
    def read(ds: Node) -> _Read:
        value = _get(ds, keyword)
        if value is None:
            return None, f"no {keyword}"
        # TEXT keeps its line breaks; the others are single-line values
        return TextValue(str(value) if keyword == "TextValue" else _text(value)), ""
    return read


def _read_pname(ds: Node) -> _Read:
    value = _get(ds, "PersonName")
    if value is None:
        return None, "no PersonName"
    return PersonNameValue(_text(value)), ""


def _read_code(ds: Node) -> _Read:
    code = _first_code(ds, "ConceptCodeSequence")
    return (code, "") if code is not None else (None, "empty Concept Code Sequence")


def _read_num(ds: Node) -> _Read:
    qualifier = _first_code(ds, "NumericValueQualifierCodeSequence")
    measured = _get(ds, "MeasuredValueSequence")
    if not measured:
        # an empty Measured Value Sequence is allowed with a qualifier saying why (C.18.1)
        problem = "" if qualifier is not None else "empty Measured Value Sequence"
        return NumericValue(None, "", None, qualifier), problem
    value = measured[0]
    raw = _get(value, "NumericValue")
    floating = _get(value, "FloatingPointValue")
    text = _text(raw)
    try:
        number: float | None = float(floating if floating is not None else text)
    except (TypeError, ValueError):
        number = None
    unit = _first_code(value, "MeasurementUnitsCodeSequence")
    problems = []
    if number is None or not math.isfinite(number):
        problems.append("Numeric Value is not a number")
    if unit is None:
        problems.append("no Measurement Units Code")
    return NumericValue(number, text, unit, qualifier), "; ".join(problems)


def _referenced_sop(ds: Node) -> ReferencedSOP | None:
    sequence = _get(ds, "ReferencedSOPSequence")
    if not sequence:
        return None
    item = sequence[0]
    state = None
    nested = _get(item, "ReferencedSOPSequence")  # the presentation state of an IMAGE item
    if nested:
        state = ReferencedSOP(_text(_get(nested[0], "ReferencedSOPClassUID")),
                              _text(_get(nested[0], "ReferencedSOPInstanceUID")))
    return ReferencedSOP(
        _text(_get(item, "ReferencedSOPClassUID")),
        _text(_get(item, "ReferencedSOPInstanceUID")),
        frames=_ints(_get(item, "ReferencedFrameNumber")),
        segments=_ints(_get(item, "ReferencedSegmentNumber")),
        channels=_ints(_get(item, "ReferencedWaveformChannels")),
        presentation_state=state,
    )


def _read_reference(ds: Node) -> _Read:
    reference = _referenced_sop(ds)
    if reference is None:
        return None, "empty Referenced SOP Sequence"
    if not reference.sop_instance_uid:
        return reference, "no Referenced SOP Instance UID"
    return reference, ""


def _read_container(ds: Node) -> _Read:
    templates = _get(ds, "ContentTemplateSequence")
    template = _text(_get(templates[0], "TemplateIdentifier")) if templates else ""
    continuity = _text(_get(ds, "ContinuityOfContent"))
    return ContainerValue(continuity, template), "" if continuity else "no Continuity Of Content"


def _floats(ds: Node) -> list[float]:
    return [float(v) for v in _many(_get(ds, "GraphicData"))]


def _read_scoord(ds: Node) -> _Read:
    data = _floats(ds)
    if not data or len(data) % 2:
        return None, "Graphic Data is not column\\row pairs"
    points = tuple(zip(data[0::2], data[1::2], strict=True))
    kind = _text(_get(ds, "GraphicType"))
    value = SpatialCoordinates(kind, points, _text(_get(ds, "PixelOriginInterpretation")))
    return value, "" if kind else "no Graphic Type"


def _read_scoord3d(ds: Node) -> _Read:
    data = _floats(ds)
    if not data or len(data) % 3:
        return None, "Graphic Data is not x\\y\\z triplets"
    points = tuple(zip(data[0::3], data[1::3], data[2::3], strict=True))
    kind = _text(_get(ds, "GraphicType"))
    frame_of_reference = _text(_get(ds, "ReferencedFrameOfReferenceUID"))
    problems = [p for p, bad in (("no Graphic Type", not kind),
                                 ("no Referenced Frame of Reference UID", not frame_of_reference))
                if bad]
    return SpatialCoordinates3D(kind, points, frame_of_reference), "; ".join(problems)


def _read_tcoord(ds: Node) -> _Read:
    value = TemporalCoordinates(
        _text(_get(ds, "TemporalRangeType")),
        sample_positions=_ints(_get(ds, "ReferencedSamplePositions")),
        time_offsets=tuple(float(v) for v in _many(_get(ds, "ReferencedTimeOffsets"))),
        datetimes=tuple(_text(v) for v in _many(_get(ds, "ReferencedDateTime"))),
    )
    given = value.sample_positions or value.time_offsets or value.datetimes
    return value, "" if value.range_type and given else "no Temporal Range Type or positions"


def _read_table(ds: Node) -> _Read:
    # TABLE (2024) carries its cells as child items; the item itself has no value to show
    return None, ""


_VALUE_READERS = {
    "TEXT": _read_text("TextValue"),
    "UIDREF": _read_text("UID"),
    "DATE": _read_text("Date"),
    "TIME": _read_text("Time"),
    "DATETIME": _read_text("DateTime"),
    "PNAME": _read_pname,
    "CODE": _read_code,
    "NUM": _read_num,
    "CONTAINER": _read_container,
    "COMPOSITE": _read_reference,
    "IMAGE": _read_reference,
    "WAVEFORM": _read_reference,
    "SCOORD": _read_scoord,
    "SCOORD3D": _read_scoord3d,
    "TCOORD": _read_tcoord,
    "TABLE": _read_table,
}
