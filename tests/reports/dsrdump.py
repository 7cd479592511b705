"""DCMTK's dsrdump as the reference reader: its tree parsed into (position, relationship, value
type, concept meaning, value) rows, one per content item."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.peers import require_tool

_LINE = re.compile(r"^(?P<position>[\d.]+)  <(?P<body>.*)>(?: \{[^}]*\})?$")
_HEAD = re.compile(r"^(?P<relationship>[a-z ]*?) ?(?P<value_type>[A-Z0-9]+):")
_CONCEPT = re.compile(r'^\(([^,]*),([^,]*),"(.*?)"\)')
_REFERENCE = re.compile(r"^(?P<relationship>[a-z ]+) (?P<target>[\d.]+|\?)$")


@dataclass(frozen=True)
class DumpedItem:
    position: str
    relationship: str  # upper case, as in the file ("HAS OBS CONTEXT")
    value_type: str  # "" for a by-reference item
    concept: str  # meaning
    value: str  # as dsrdump prints it after "=" (by-reference: the target position)


def dsrdump(path: Path, *options: str) -> list[DumpedItem]:
    """The items of `path` as dsrdump prints them (long values in full, UTF-8)."""
    tool = require_tool("dsrdump", "dcmtk")
    result = subprocess.run(
        [tool, "-Ph", "+Pn", "+Pl", "+U8", "+Pu", "-Ee", "-Ev", *options, str(path)],
        capture_output=True, check=True, timeout=60,
    )
    items = []
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        found = _LINE.match(line)
        if found:
            items.append(_item(found["position"], found["body"]))
    return items


def _item(position: str, body: str) -> DumpedItem:
    reference = _REFERENCE.match(body)
    if reference:
        return DumpedItem(position, reference["relationship"].upper(), "", "",
                          reference["target"])
    head = _HEAD.match(body)
    assert head is not None, body
    rest = body[head.end():]
    concept = _CONCEPT.match(rest)
    meaning = concept.group(3) if concept else ""
    rest = rest[concept.end():] if concept else rest
    assert rest.startswith("="), body
    return DumpedItem(position, head["relationship"].upper(), head["value_type"], meaning,
                      rest[1:])


def quoted(value: str) -> str:
    """The text of a dsrdump value "..." (TEXT, UIDREF, PNAME, DATE, TIME, DATETIME, NUM's
    number), with dsrdump's escapes of control characters undone."""
    match = re.match(r'^"(.*?)"(?: |$)', value)
    assert match is not None, value
    return match.group(1).replace("\\r", "\r").replace("\\n", "\n")


def code_parts(value: str) -> tuple[str, str, str]:
    """(value, scheme, meaning) of a dsrdump code "(value,scheme,"meaning")"."""
    match = re.search(r'\(([^,]*),([^,]*),"(.*?)"\)', value)
    assert match is not None, value
    return match.group(1), match.group(2), match.group(3)
