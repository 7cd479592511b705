"""Hanging protocols: the frozen model and its TOML files.

A protocol says which studies it suits (matching rules with weights) and how to hang them: stages
the reader steps through (next/previous), each a layout of COLUMNSxROWS viewports (CLI.md), a
rule per viewport naming the series to show (from the current study or the n-th prior), and sync
groups (scroll, window/level, zoom) of viewports.

The files: the defaults shipped in `viewer/reading/defaults/*.toml` and the user's own in the
"hanging" folder beside the config file; a user file overrides the default of the same file
name. A file with an error is left out with one line naming the file and the key; the others
still load (`load_protocols` returns both).

The TOML form (every key is checked; an unknown key is an error, so a typo is never ignored):

    [protocol]
    name = "CT chest with prior"        # required
    description = "..."                 # optional

    [[match]]                            # matching rules: the best total weight hangs a study
    attribute = "modality"               # modality | body_part | study_description |
                                         # laterality | priors
    values = ["CT"]                      # case-insensitive patterns with * and ? (not: priors)
    at_least = 1                         # priors only: the number of priors at least
    weight = 10                          # > 0; added when the rule holds
    required = true                      # default false: when it fails, the protocol is out

    [[stage]]
    name = "Axial"                       # optional
    layout = "2x1"                       # COLUMNSxROWS; viewports fill rows left to right
    [[stage.viewport]]                   # one per layout cell, in that order (fewer: empty)
    empty = true                         # this cell stays empty (no other key then)
    study = 0                            # 0 current, 1 newest prior, 2 the one before ...
    series_description = ["*lung*"]      # patterns; every key given must hold
    modality = ["CT"]
    orientation = "axial"                # axial | coronal | sagittal | oblique (from IOP)
    image_type = ["!LOCALIZER"]          # patterns, each must match a value of Image Type;
                                         # "!X": no value may match X
    view_position = ["PA"]               # View Position (0018,5101), radiographs
    laterality = ["L"]                   # (Image) Laterality
    [[stage.sync]]
    kind = "scroll"                      # scroll | window | zoom
    viewports = [1, 2]                   # 1-based, in layout order
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)

MAX_VIEWPORTS = 64  # a 8x8 layout; more is a typo


class MatchAttribute(Enum):
    """What a matching rule looks at (study-level facts)."""

    MODALITY = "modality"  # any series' Modality
    BODY_PART = "body_part"  # any series' Body Part Examined
    STUDY_DESCRIPTION = "study_description"
    LATERALITY = "laterality"  # any series' (Image) Laterality
    PRIORS = "priors"  # the number of relevant priors


class Orientation(Enum):
    """An image plane, from Image Orientation (Patient) (PS3.3 C.7.6.2.1.1)."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"
    OBLIQUE = "oblique"


class SyncKind(Enum):
    """What a sync group keeps together."""

    SCROLL = "scroll"  # slice position (by position in one Frame of Reference, else offset)
    WINDOW = "window"  # window/level
    ZOOM = "zoom"  # zoom and pan


@dataclass(frozen=True)
class MatchRule:
    """A matching rule: it holds when any value of `attribute` matches one of `patterns`
    (for PRIORS: when the study has at least `at_least` priors)."""

    attribute: MatchAttribute
    patterns: tuple[str, ...] = ()
    at_least: int = 0
    weight: float = 1.0
    required: bool = False


@dataclass(frozen=True)
class ViewportRule:
    """Which series a viewport shows: of study `study` (0 the current study, n the n-th
    prior, newest first), the first series (in series order) meeting every criterion given;
    an empty tuple / None means any."""

    study: int = 0
    series_description: tuple[str, ...] = ()
    modality: tuple[str, ...] = ()
    orientation: Orientation | None = None
    image_type: tuple[str, ...] = ()
    view_position: tuple[str, ...] = ()
    laterality: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncGroup:
    """Viewports (0-based, in layout order) that move together in `kind`."""

    kind: SyncKind
    viewports: tuple[int, ...]


@dataclass(frozen=True)
class Stage:
    """One screenful: `columns` x `rows` viewports filled row by row, left to right;
    `viewports` holds a rule per cell (None: the cell stays empty)."""

    name: str
    columns: int
    rows: int
    viewports: tuple[ViewportRule | None, ...]
    sync: tuple[SyncGroup, ...] = ()

    @property
    def layout(self) -> str:
        """COLUMNSxROWS (CLI.md)."""
        return f"{self.columns}x{self.rows}"


@dataclass(frozen=True)
class HangingProtocol:
    """A hanging protocol; `source` names the file it came from (or '' when built in code)."""

    name: str
    rules: tuple[MatchRule, ...]
    stages: tuple[Stage, ...]
    description: str = ""
    source: str = ""

    @property
    def priors_needed(self) -> int:
        """How many priors the viewports ask for (the highest `study` of any rule)."""
        return max(
            (rule.study for stage in self.stages for rule in stage.viewports if rule), default=0
        )


class ProtocolError(ValueError):
    """A protocol file that cannot be used: `str()` is one line naming the file and the key."""


@dataclass(frozen=True)
class LoadedProtocols:
    """What `load_protocols` found: the usable protocols by name order, and one line per file
    left out."""

    protocols: tuple[HangingProtocol, ...]
    errors: tuple[str, ...]


def matches(patterns: Iterable[str], value: str) -> bool:
    """Whether `value` matches one of `patterns`: '*' any run, '?' one character, case- and
    surrounding-space-insensitive (a DICOM code string is upper case, a user's pattern need
    not be)."""
    folded = value.strip().casefold()
    return any(fnmatch.fnmatchcase(folded, p.strip().casefold()) for p in patterns)


_LAYOUT = re.compile(r"([1-9]\d?)x([1-9]\d?)")


def parse_layout(text: str) -> tuple[int, int]:
    """'COLUMNSxROWS' as (columns, rows); ValueError naming the text."""
    found = _LAYOUT.fullmatch(text.strip().lower())
    if not found or int(found[1]) * int(found[2]) > MAX_VIEWPORTS:
        raise ValueError(f"layout must be COLUMNSxROWS (at most {MAX_VIEWPORTS} viewports), "
                         f"not {text!r}")
    return int(found[1]), int(found[2])


# --- reading TOML ----------------------------------------------------------------------------


class _Table:
    """A TOML table read key by key, so that an error names its dotted key."""

    def __init__(self, data: object, key: str) -> None:
        if not isinstance(data, dict):
            raise ProtocolError(f"{key}: must be a table")
        self.data: dict[str, Any] = data
        self.key = key
        self.seen: set[str] = set()

    def _get(self, name: str, required: bool) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if required:
                raise ProtocolError(f"{self.key}.{name}: missing")
            return None
        return self.data[name]

    def text(self, name: str, required: bool = False, default: str = "") -> str:
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ProtocolError(f"{self._name(name)}: must be text")
        return value

    def number(self, name: str, default: float, minimum: float) -> float:
        value = self._get(name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise ProtocolError(f"{self._name(name)}: must be a number >= {minimum:g}")
        return float(value)

    def integer(self, name: str, default: int, minimum: int) -> int:
        value = self._get(name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ProtocolError(f"{self._name(name)}: must be a whole number >= {minimum}")
        return value

    def flag(self, name: str) -> bool:
        value = self._get(name, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ProtocolError(f"{self._name(name)}: must be true or false")
        return value

    def patterns(self, name: str) -> tuple[str, ...]:
        value = self._get(name, False)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(
            isinstance(v, str) and v.strip() for v in value
        ):
            raise ProtocolError(f"{self._name(name)}: must be text or a list of text")
        return tuple(value)

    def tables(self, name: str) -> list[_Table]:
        value = self._get(name, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ProtocolError(f"{self._name(name)}: must be an array of tables ([[{name}]])")
        return [_Table(item, f"{self._name(name)}[{i + 1}]") for i, item in enumerate(value)]

    def table(self, name: str) -> _Table:
        return _Table(self._get(name, True), self._name(name))

    def done(self) -> None:
        """Unknown keys are errors: a misspelt key must not be silently ignored."""
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ProtocolError(f"{self._name(unknown[0])}: unknown key")

    def _name(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name


def _enum(table: _Table, name: str, kind: type[Enum], required: bool = False) -> Any:
    text = table.text(name, required)
    if not text:
        return None
    try:
        return kind(text.strip().lower())
    except ValueError:
        allowed = " | ".join(str(m.value) for m in kind)  # type: ignore[attr-defined]
        raise ProtocolError(f"{table._name(name)}: must be {allowed}, not {text!r}") from None


def _rule(table: _Table) -> MatchRule:
    attribute = _enum(table, "attribute", MatchAttribute, required=True)
    weight = table.number("weight", 1.0, 0.0)
    required = table.flag("required")
    if attribute is MatchAttribute.PRIORS:
        at_least = table.integer("at_least", 1, 0)
        patterns: tuple[str, ...] = ()
    else:
        at_least = 0
        patterns = table.patterns("values")
        if not patterns:
            raise ProtocolError(f"{table.key}.values: missing")
    table.done()
    return MatchRule(attribute, patterns, at_least, weight, required)


def _viewport(table: _Table) -> ViewportRule | None:
    if table.flag("empty"):
        others = sorted(set(table.data) - {"empty"})
        if others:
            raise ProtocolError(f"{table._name(others[0])}: not allowed with empty = true")
        return None
    rule = ViewportRule(
        study=table.integer("study", 0, 0),
        series_description=table.patterns("series_description"),
        modality=table.patterns("modality"),
        orientation=_enum(table, "orientation", Orientation),
        image_type=table.patterns("image_type"),
        view_position=table.patterns("view_position"),
        laterality=table.patterns("laterality"),
    )
    table.done()
    return rule


def _stage(table: _Table, number: int) -> Stage:
    name = table.text("name", default=f"Stage {number}")
    layout = table.text("layout", required=True)
    try:
        columns, rows = parse_layout(layout)
    except ValueError as exc:
        raise ProtocolError(f"{table.key}.layout: {exc}") from None
    viewports = [_viewport(t) for t in table.tables("viewport")]
    if len(viewports) > columns * rows:
        raise ProtocolError(f"{table.key}.viewport: {len(viewports)} viewports in a "
                            f"{columns}x{rows} layout")
    cells: list[ViewportRule | None] = [*viewports, *[None] * (columns * rows - len(viewports))]
    groups = []
    for sync in table.tables("sync"):
        kind = _enum(sync, "kind", SyncKind, required=True)
        members = sync._get("viewports", True)
        if (not isinstance(members, list) or len(members) < 2 or not all(
            isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= len(cells)
            for m in members
        )):
            raise ProtocolError(f"{sync.key}.viewports: must list two or more viewport numbers "
                                f"1..{len(cells)}")
        sync.done()
        groups.append(SyncGroup(kind, tuple(m - 1 for m in members)))
    table.done()
    return Stage(name, columns, rows, tuple(cells), tuple(groups))


def parse_protocol(data: Mapping[str, Any], source: str = "") -> HangingProtocol:
    """A protocol from the TOML document `data` (see the module docstring); ProtocolError
    naming the key."""
    top = _Table(dict(data), "")
    head = top.table("protocol")
    name = head.text("name", required=True).strip()
    if not name:
        raise ProtocolError("protocol.name: empty")
    description = head.text("description")
    head.done()
    rules = tuple(_rule(t) for t in top.tables("match"))
    stages = tuple(_stage(t, i + 1) for i, t in enumerate(top.tables("stage")))
    if not stages:
        raise ProtocolError("stage: missing (a protocol needs one [[stage]] at least)")
    top.done()
    return HangingProtocol(name, rules, stages, description, source)


def read_protocol_file(path: Path) -> HangingProtocol:
    """One protocol file; ProtocolError "FILE: key: reason" (one line)."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{path}: cannot be read: {getattr(exc, 'strerror', None) or exc}"
                            ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(f"{path}: not TOML: {exc}") from None
    try:
        return parse_protocol(data, str(path))
    except ProtocolError as exc:
        raise ProtocolError(f"{path}: {exc}") from None


def default_protocol_files() -> dict[str, Path]:
    """The shipped protocols (package data), by file name."""
    folder = resources.files("viewer.reading").joinpath("defaults")
    return {
        entry.name: Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".toml")
    }


def user_protocol_dir(config_file: Path) -> Path:
    """The user's protocol folder: "hanging" beside the config file."""
    return Path(config_file).parent / "hanging"


def load_protocols(
    user_dir: Path | None = None, defaults: Mapping[str, Path] | None = None
) -> LoadedProtocols:
    """The shipped defaults overlaid by the `.toml` files of `user_dir` (a user file replaces
    the default of the same file name, whether or not it loads). A file with an error is left
    out with one line in `errors`; the others still load. Protocols are ordered by name."""
    files = dict(default_protocol_files() if defaults is None else defaults)
    if user_dir is not None and user_dir.is_dir():
        files.update({p.name: p for p in sorted(user_dir.glob("*.toml"))})
    protocols, errors = [], []
    for name in sorted(files):
        try:
            protocols.append(read_protocol_file(files[name]))
        except ProtocolError as exc:
            LOGGER.warning("%s", exc)
            errors.append(str(exc))
    protocols.sort(key=lambda p: (p.name.casefold(), p.source))
    return LoadedProtocols(tuple(protocols), tuple(errors))


# --- writing TOML --------------------------------------------------------------------------------


def _toml_text(value: str) -> str:
    # a JSON string is a TOML basic string: the same escapes (\", \\, \n, \uXXXX)
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_toml_text(v) for v in values) + "]"


def protocol_to_toml(protocol: HangingProtocol) -> str:
    """`protocol` as a protocol file (the form `parse_protocol` reads back to an equal
    protocol, `source` aside): how an imported DICOM Hanging Protocol joins the user's
    folder."""
    lines = ["[protocol]", f"name = {_toml_text(protocol.name)}"]
    if protocol.description:
        lines.append(f"description = {_toml_text(protocol.description)}")
    for rule in protocol.rules:
        lines += ["", "[[match]]", f"attribute = {_toml_text(rule.attribute.value)}"]
        if rule.attribute is MatchAttribute.PRIORS:
            lines.append(f"at_least = {rule.at_least}")
        else:
            lines.append(f"values = {_toml_list(rule.patterns)}")
        lines.append(f"weight = {rule.weight!r}")
        if rule.required:
            lines.append("required = true")
    for stage in protocol.stages:
        lines += ["", "[[stage]]", f"name = {_toml_text(stage.name)}",
                  f"layout = {_toml_text(stage.layout)}"]
        # cells after the last rule stay empty by themselves; an empty cell before one is
        # written as a viewport that nothing can fill
        last = max((i for i, r in enumerate(stage.viewports) if r is not None), default=-1)
        for cell in stage.viewports[:last + 1]:
            lines.append("[[stage.viewport]]")
            if cell is None:
                lines.append("empty = true")
                continue
            if cell.study:
                lines.append(f"study = {cell.study}")
            for name in ("series_description", "modality", "image_type", "view_position",
                         "laterality"):
                patterns: tuple[str, ...] = getattr(cell, name)
                if patterns:
                    lines.append(f"{name} = {_toml_list(patterns)}")
            if cell.orientation is not None:
                lines.append(f"orientation = {_toml_text(cell.orientation.value)}")
        for group in stage.sync:
            members = ", ".join(str(i + 1) for i in group.viewports)
            lines += ["[[stage.sync]]", f"kind = {_toml_text(group.kind.value)}",
                      f"viewports = [{members}]"]
    return "\n".join(lines) + "\n"
