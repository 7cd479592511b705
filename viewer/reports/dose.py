"""Radiation dose summaries of dose SRs (PS3.16 TID 10011 CT, TID 10001 projection X-ray).

`dose_summary(tree)` reads a CT Radiation Dose report's irradiation events (TID 10013: CTDIvol
in mGy, DLP in mGy.cm, phantom type, acquisition type and protocol), groups them per series
(the event's Series Instance UID, or the series of its referenced images when the caller knows
them) and gives the accumulated total DLP (TID 10012, or the sum of the events when the report
leaves it out). For X-ray dose reports it gives what they hold: the accumulated quantities
(dose area product, dose at the reference point, fluoro time...) and each event's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from viewer.reports.content_tree import (
    Code,
    ContentItem,
    ContentTree,
    NumericValue,
    ReferencedSOP,
    TextValue,
)

DCM = "DCM"
CT_ACCUMULATED = ("113811", DCM)
CT_ACQUISITION = ("113819", DCM)
CT_DOSE = ("113829", DCM)
MEAN_CTDIVOL = ("113830", DCM)
DLP = ("113838", DCM)
DLP_TOTAL = ("113813", DCM)
PHANTOM_TYPE = ("113835", DCM)
ACQUISITION_TYPE = ("113820", DCM)
ACQUISITION_PROTOCOL = ("125203", DCM)
TARGET_REGION = ("123014", DCM)
IRRADIATION_EVENT_UID = ("113769", DCM)
SERIES_INSTANCE_UID = ("112002", DCM)
XRAY_ACCUMULATED = ("113702", DCM)
XRAY_EVENT = ("113706", DCM)
_DLP_UNITS = {"mGy.cm": 1.0, "Gy.cm": 1000.0, "mGy.mm": 0.1}  # UCUM codes -> mGy.cm


@dataclass(frozen=True, slots=True)
class Quantity:
    """A dose quantity as the report gives it: concept name, value, unit (UCUM code)."""

    name: str
    value: float | None
    unit: str


@dataclass(frozen=True, slots=True)
class IrradiationEvent:
    """One CT acquisition (TID 10013) or X-ray irradiation event (TID 10003). CTDIvol in mGy,
    DLP in mGy.cm (None when the report gives none, or in another unit); `quantities` every
    number of the event as given."""

    position: str
    event_uid: str
    acquisition_type: str
    protocol: str
    target_region: str
    series_uid: str
    images: tuple[ReferencedSOP, ...]
    ctdivol_mgy: float | None
    dlp_mgy_cm: float | None
    phantom: str
    quantities: tuple[Quantity, ...]


@dataclass(frozen=True, slots=True)
class SeriesDose:
    """The events of one series (`series_uid` "" for events that name none): the largest
    CTDIvol and the summed DLP."""

    series_uid: str
    events: int
    ctdivol_mgy: float | None
    dlp_mgy_cm: float | None


@dataclass(frozen=True, slots=True)
class DoseSummary:
    """A dose report's summary: "CT" or "X-Ray" (`kind` "" when the tree is no dose report)."""

    kind: str
    events: tuple[IrradiationEvent, ...]
    series: tuple[SeriesDose, ...]
    total_dlp_mgy_cm: float | None
    totals: tuple[Quantity, ...]  # the accumulated dose data as given (TID 10012 / 10002)


def dose_summary(
    tree: ContentTree, series_of: Callable[[str], str | None] | None = None
) -> DoseSummary:
    """The dose summary of `tree`. `series_of(sop_instance_uid)` (the archive's lookup) gives
    the series of an event's referenced images when the event names no series itself."""
    events, totals, kind = [], [], ""
    for item in tree.walk():
        concept = item.concept
        if concept is None or item.value_type != "CONTAINER":
            continue
        if concept.is_(*CT_ACQUISITION):
            kind = "CT"
            events.append(_event(tree, item, series_of))
        elif concept.is_(*XRAY_EVENT):
            kind = kind or "X-Ray"
            events.append(_event(tree, item, series_of))
        elif concept.is_(*CT_ACCUMULATED):
            kind = "CT"
            totals.extend(_quantities(item, recurse=False))
        elif concept.is_(*XRAY_ACCUMULATED):
            kind = kind or "X-Ray"
            totals.extend(_quantities(item, recurse=True))
    total = _in_unit(_find_number(tree.root, DLP_TOTAL), _DLP_UNITS)
    if total is None and kind == "CT":
        dlps = [e.dlp_mgy_cm for e in events if e.dlp_mgy_cm is not None]
        total = sum(dlps) if dlps else None
    return DoseSummary(kind, tuple(events), _per_series(events), total, tuple(totals))


def _find_number(item: ContentItem, wanted: tuple[str, str]) -> NumericValue | None:
    stack = [item]
    while stack:
        current = stack.pop()
        if (current.concept is not None and current.concept.is_(*wanted)
                and isinstance(current.value, NumericValue)):
            return current.value
        stack.extend(current.children)
    return None


def _in_unit(value: NumericValue | None, factors: dict[str, float]) -> float | None:
    """The number in our unit (the first key of `factors`); None for an unknown unit."""
    if value is None or value.number is None:
        return None
    unit = value.unit.value if value.unit else ""
    factor = factors.get(unit)
    return None if factor is None else value.number * factor


def _quantities(item: ContentItem, recurse: bool) -> list[Quantity]:
    out = []
    stack = list(reversed(item.children))
    while stack:
        child = stack.pop()
        value = child.value
        if isinstance(value, NumericValue) and child.concept is not None:
            unit = value.unit.value if value.unit else ""
            out.append(Quantity(child.concept.meaning, value.number, unit))
        if recurse or child.value_type == "CONTAINER":
            stack.extend(reversed(child.children))
    return out


def _first(item: ContentItem, wanted: tuple[str, str]) -> ContentItem | None:
    stack = list(reversed(item.children))
    while stack:
        child = stack.pop()
        if child.concept is not None and child.concept.is_(*wanted):
            return child
        stack.extend(reversed(child.children))
    return None


def _shown(item: ContentItem | None) -> str:
    if item is None:
        return ""
    if isinstance(item.value, Code):
        return item.value.meaning
    if isinstance(item.value, TextValue):
        return item.value.text
    return ""


def _event(
    tree: ContentTree, item: ContentItem, series_of: Callable[[str], str | None] | None
) -> IrradiationEvent:
    dose = _first(item, CT_DOSE) or item
    ctdivol = _first(dose, MEAN_CTDIVOL)
    dlp = _first(dose, DLP)
    images = tuple(
        target.value for child in tree.walk_under(item)
        if (target := tree.resolve(child)) is not None and target.value_type == "IMAGE"
        and isinstance(target.value, ReferencedSOP)
    )
    series_uid = _shown(_first(item, SERIES_INSTANCE_UID))
    if not series_uid and series_of is not None:
        series_uid = next((s for s in (series_of(i.sop_instance_uid) for i in images) if s), "")
    return IrradiationEvent(
        position=item.position,
        event_uid=_shown(_first(item, IRRADIATION_EVENT_UID)),
        acquisition_type=_shown(_first(item, ACQUISITION_TYPE)),
        protocol=_shown(_first(item, ACQUISITION_PROTOCOL)),
        target_region=_shown(_first(item, TARGET_REGION)),
        series_uid=series_uid,
        images=images,
        ctdivol_mgy=_in_unit(_number(ctdivol), {"mGy": 1.0, "Gy": 1000.0}),
        dlp_mgy_cm=_in_unit(_number(dlp), _DLP_UNITS),
        phantom=_shown(_first(dose, PHANTOM_TYPE)),
        quantities=tuple(_quantities(item, recurse=True)),
    )


def _number(item: ContentItem | None) -> NumericValue | None:
    return item.value if item is not None and isinstance(item.value, NumericValue) else None


def _per_series(events: list[IrradiationEvent]) -> tuple[SeriesDose, ...]:
    grouped: dict[str, list[IrradiationEvent]] = {}
    for event in events:
        grouped.setdefault(event.series_uid, []).append(event)
    out = []
    for series_uid, members in grouped.items():
        ctdis = [e.ctdivol_mgy for e in members if e.ctdivol_mgy is not None]
        dlps = [e.dlp_mgy_cm for e in members if e.dlp_mgy_cm is not None]
        out.append(SeriesDose(series_uid, len(members), max(ctdis) if ctdis else None,
                              sum(dlps) if dlps else None))
    return tuple(out)
