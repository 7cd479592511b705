"""Content items as one line of text and as JSON: what `sr` prints and the report panel shows.

`item_line` follows DCMTK's dsrdump: relationship, value type, concept name, then the value (text,
code meaning, UID, person name; a number with its unit) on one line, control characters escaped
so that a multi-line TEXT stays one line. By-reference and invalid items have lines too.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydicom.uid import RE_VALID_UID, UID

from viewer.reports.content_tree import (
    Code,
    ContainerValue,
    ContentItem,
    ContentTree,
    NumericValue,
    PersonNameValue,
    ReferencedSOP,
    SpatialCoordinates,
    SpatialCoordinates3D,
    TemporalCoordinates,
    TextValue,
)
from viewer.reports.dose import DoseSummary
from viewer.reports.measurements import MeasurementGroup

_ESCAPES = str.maketrans({"\r": "\\r", "\n": "\\n", "\t": "\\t"})


def _escaped(text: str) -> str:
    text = text.translate(_ESCAPES)
    return "".join(c if c.isprintable() else "?" for c in text)


def _number(value: float) -> str:
    return f"{value:g}"


def _sop_name(uid: str) -> str:
    if not RE_VALID_UID.match(uid):  # pydicom's UID() warns of a damaged one
        return uid
    name = UID(uid).name
    return name if name and name != uid else uid


def reference_text(reference: ReferencedSOP) -> str:
    """A referenced object: SOP class name, instance UID, frames / segments / channels, and the
    presentation state an image was seen with."""
    parts = [f"{_sop_name(reference.sop_class_uid)} {reference.sop_instance_uid}".strip()]
    if reference.frames:
        parts.append("frames " + ",".join(str(f) for f in reference.frames))
    if reference.segments:
        parts.append("segments " + ",".join(str(s) for s in reference.segments))
    if reference.channels:
        parts.append("channels " + ",".join(str(c) for c in reference.channels))
    if reference.presentation_state is not None:
        parts.append(f"presentation state {reference.presentation_state.sop_instance_uid}")
    return "; ".join(parts)


def value_text(tree: ContentTree, item: ContentItem) -> str:
    """The value of `item` as one line ("" for a CONTAINER without anything to say)."""
    if item.reference:
        target = tree.resolve(item)
        if target is None:
            return f"-> {item.reference} ({tree.link_problem(item)})"
        name = target.concept.meaning if target.concept else ""
        return f"-> {item.reference} ({' '.join(p for p in (target.value_type, name) if p)})"
    value = item.value
    text = ""
    if isinstance(value, TextValue):
        text = value.text
    elif isinstance(value, PersonNameValue):
        text = value.value
    elif isinstance(value, Code):
        text = value.meaning or f"({value.value}, {value.scheme})"
    elif isinstance(value, NumericValue):
        text = _numeric_text(value)
    elif isinstance(value, ContainerValue):
        text = value.continuity + (f", TID {value.template}" if value.template else "")
    elif isinstance(value, ReferencedSOP):
        text = reference_text(value)
    elif isinstance(value, SpatialCoordinates):
        points = ", ".join(f"{_number(c)}/{_number(r)}" for c, r in value.points)
        images = "; ".join(i.sop_instance_uid for i in tree.scoord_images(item))
        text = f"{value.graphic_type} {points}" + (f" on {images}" if images else "")
    elif isinstance(value, SpatialCoordinates3D):
        points = ", ".join("/".join(_number(v) for v in p) for p in value.points)
        text = f"{value.graphic_type} {points} in {value.frame_of_reference_uid}"
    elif isinstance(value, TemporalCoordinates):
        given = (value.sample_positions or value.time_offsets or value.datetimes)
        text = f"{value.range_type} " + ",".join(
            v if isinstance(v, str) else _number(v) for v in given)
    if item.problem:
        text = f"{text} (invalid: {item.problem})" if text else f"invalid: {item.problem}"
    return _escaped(text.strip(" "))


def _numeric_text(value: NumericValue) -> str:
    if value.number is None and not value.text:
        return value.qualifier.meaning if value.qualifier else ""
    unit = value.unit.value if value.unit else ""
    return f"{value.text or _number(value.number or 0.0)} {unit}".strip()


def item_line(tree: ContentTree, item: ContentItem) -> str:
    """One indented line: relationship, value type, concept name, "=" and the value."""
    head = [item.relationship.lower(), item.value_type or ("" if item.reference else "?")]
    if item.concept is not None:
        head.append(_escaped(item.concept.meaning))
    value = value_text(tree, item)
    line = " ".join(p for p in head if p)
    return "  " * item.depth + (f"{line} = {value}" if value else line)


def tree_lines(tree: ContentTree) -> list[str]:
    """Every item of `tree` as `item_line`, in document order."""
    return [item_line(tree, item) for item in tree.walk()]


def _code_json(code: Code | None) -> dict[str, str] | None:
    return None if code is None else asdict(code)


def _value_json(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, TextValue):
        return value.text
    if isinstance(value, PersonNameValue):
        return value.value
    return asdict(value)


def item_json(tree: ContentTree, item: ContentItem) -> dict[str, Any]:
    """`item` and its children as JSON-ready dicts (`text` is `value_text`)."""
    out: dict[str, Any] = {
        "position": item.position,
        "relationship": item.relationship,
        "value_type": item.value_type,
        "concept": _code_json(item.concept),
        "value": _value_json(item.value),
        "text": value_text(tree, item),
    }
    if item.observation_datetime:
        out["ObservationDateTime"] = item.observation_datetime
    if item.reference:
        out["reference"] = item.reference
        out["reference_problem"] = tree.link_problem(item) or None
    if item.problem:
        out["problem"] = item.problem
    if item.children:
        out["children"] = [item_json(tree, child) for child in item.children]
    return out


def groups_json(groups: tuple[MeasurementGroup, ...]) -> list[dict[str, Any]]:
    """TID 1500 measurement groups as JSON-ready dicts."""
    return [asdict(group) for group in groups]


def dose_json(summary: DoseSummary) -> dict[str, Any] | None:
    """A dose summary as a JSON-ready dict; None when the document is no dose report."""
    return asdict(summary) if summary.kind else None
