"""The DICOM Hanging Protocol IOD (PS3.3 A.38, modules C.23.1-C.23.3): export one of our
protocols as a Hanging Protocol instance, and import one written by us or another tool.

How our model maps to the IOD:
- matching rules: each modality of a Modality rule is a Hanging Protocol Definition Sequence
  item; Body Part rules select the image sets (Body Part Examined, NO_MATCH: images without
  it are still taken), and are a definition item (Anatomic Region Sequence, PS3.16 CID 4031
  codes) only when no modality is named: dciodvfy refuses Modality and Anatomic Region
  Sequence in one item, which PS3.3 C.23.1 allows. A priors rule is Number of Priors
  Referenced. Weights, optional rules, study description patterns and laterality rules have
  no place in the IOD: export says it dropped them. Import makes the modalities a required
  rule of weight 10, the regions (codes or Body Part Examined selectors) one of weight 6,
  lateralities one of weight 2, and Number of Priors Referenced a required priors rule.
- names: Hanging Protocol Name is an SH (16 characters); a longer name leads the description
  ("NAME: description", LO 64) and import takes it back from there.
- studies: one Image Set per study a viewport uses, selected by Modality; the current study is
  RELATIVE_TIME 0\\0 DAYS, the n-th prior ABSTRACT_PRIOR n\\n (C.23.1.1.2, PS3.17 V.3).
- stages: Display Set Presentation Groups (1, 2, ...); each viewport with a rule is a Display
  Set of one STACK image box whose Display Environment Spatial Position is its layout cell
  (x of the left edge, y of the top edge, x of the right, y of the bottom, 0\\0 the bottom left
  of the screen); an empty cell has no display set. Import infers the layout from the boxes.
- viewport rules: Filter Operations (MEMBER_OF / NOT_MEMBER_OF) on Modality, Series Description,
  Image Type, View Position and Image Laterality, and the IMAGE_PLANE filter category for
  the orientation. A code string (CS) holds only capitals, digits, space and '_': a pattern
  with wildcards on a CS attribute cannot be written and is dropped (said so); Series
  Description patterns are written as they are (LO), '*' and '?' keeping our meaning on import.
- sync groups: scroll groups are Synchronized Scrolling Sequence items; window/level and zoom
  groups have no place in the IOD (dropped, said so).
Anything else an imported file holds (sorting, reformatting, blending, VOI type, tiled boxes,
navigation indicators, other selectors and filters) is dropped and named in `dropped`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from viewer.dicom.files import describe_error
from viewer.reading.protocols import (
    HangingProtocol,
    MatchAttribute,
    MatchRule,
    Orientation,
    Stage,
    SyncGroup,
    SyncKind,
    ViewportRule,
)

HANGING_PROTOCOL_STORAGE = "1.2.840.10008.5.1.4.38.1"  # PS3.4 B.5

# Body Part Examined terms (PS3.16 annex L) and their SNOMED CT codes (CID 4031)
_REGIONS: dict[str, tuple[str, str]] = {
    "CHEST": ("816094009", "Chest"), "THORAX": ("816094009", "Thorax"),
    "HEAD": ("69536005", "Head"), "BRAIN": ("12738006", "Brain"),
    "SKULL": ("89546000", "Skull"), "ABDOMEN": ("818981001", "Abdomen"),
    "PELVIS": ("816092008", "Pelvis"), "NECK": ("45048000", "Neck"),
    "BREAST": ("76752008", "Breast"), "KNEE": ("72696002", "Knee"),
    "SPINE": ("421060004", "Spine"), "LUNG": ("39607008", "Lung"),
}
_REGION_TERMS = {code: term for term, (code, _) in reversed(_REGIONS.items())}
# Modalities a protocol that matches any modality is exported for
COMMON_MODALITIES = ("CT", "MR", "CR", "DX", "US", "XA", "MG", "PT", "NM", "RF")

_NAME_END = ": "
_CS = re.compile(r"[A-Z0-9 _]{1,16}")

# Filter attributes of our viewport rules: keyword -> (VR, field of ViewportRule)
_FILTERS = {
    "Modality": ("CS", "modality"),
    "SeriesDescription": ("LO", "series_description"),
    "ImageType": ("CS", "image_type"),
    "ViewPosition": ("CS", "view_position"),
    "ImageLaterality": ("CS", "laterality"),
}
# What a display set may say that our viewports do not (PS3.3 C.23.3)
_NOT_MODELLED = (
    "SortingOperationsSequence", "ReformattingOperationType", "BlendingOperationType",
    "VOIType", "PseudoColorType", "ShowGrayscaleInverted", "DisplaySetPatientOrientation",
    "ShowImageTrueSizeFlag", "ThreeDRenderingType",
)
_ORIENTATION_TERMS = {o: o.value.upper() for o in Orientation}


class HangingProtocolIODError(ValueError):
    """A Hanging Protocol instance that cannot be read: one line saying why."""


@dataclass(frozen=True)
class ExportedProtocol:
    """The instance written for a protocol, and what of the protocol it could not say."""

    dataset: Dataset
    dropped: tuple[str, ...]


@dataclass(frozen=True)
class ImportedProtocol:
    """The protocol read from an instance, and what of the instance it could not keep."""

    protocol: HangingProtocol
    dropped: tuple[str, ...]


# --- export ------------------------------------------------------------------------------------


def _definite(patterns: Sequence[str]) -> list[str]:
    return [p.strip().upper() for p in patterns if _CS.fullmatch(p.strip().upper())]


def _selector(keyword: str, vr: str, values: Sequence[str], operator: str = "") -> Dataset:
    item = Dataset()
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"{keyword!r} is not a DICOM keyword")
    item.SelectorAttribute = Tag(tag)
    item.SelectorAttributeVR = vr
    item.SelectorValueNumber = 0  # any value of a multi-valued attribute
    setattr(item, f"Selector{vr}Value", list(values))
    if operator:
        item.FilterByOperator = operator
    return item


def _definition(
    protocol: HangingProtocol, dropped: list[str]
) -> tuple[list[Dataset], list[str], list[str]]:
    """The Hanging Protocol Definition Sequence items, the modalities and the Body Part
    Examined terms of the protocol's rules."""
    modalities: list[str] = []
    terms: list[str] = []
    for rule in protocol.rules:
        if rule.attribute is MatchAttribute.MODALITY:
            definite = _definite(rule.patterns)
            if len(definite) < len(rule.patterns):
                dropped.append(f"modality patterns {', '.join(rule.patterns)}: the protocol is "
                               f"exported for {', '.join(definite or COMMON_MODALITIES)}")
            modalities += definite or list(COMMON_MODALITIES)
        elif rule.attribute is MatchAttribute.BODY_PART:
            for pattern in rule.patterns:
                term = pattern.strip().upper()
                if term not in _REGIONS:
                    dropped.append(f"body part {pattern!r}: no code for it")
                elif term not in terms:
                    terms.append(term)
        elif rule.attribute is not MatchAttribute.PRIORS:
            dropped.append(f"{rule.attribute.value} rule ({', '.join(rule.patterns)}): no place "
                           "in the IOD")
    if any(not r.required for r in protocol.rules) or len({r.weight for r in protocol.rules}) > 1:
        dropped.append("rule weights and optional rules: the IOD's definitions all must match")
    modalities = list(dict.fromkeys(modalities or _viewport_modalities(protocol)))
    # One criterion per item: dciodvfy refuses Modality and Anatomic Region Sequence together
    # (PS3.3 C.23.1 allows it); the regions also select the image sets (_image_sets).
    items = [_modality_item(m) for m in modalities]
    if not items and terms:
        item = Dataset()
        codes = list(dict.fromkeys(_REGIONS[t][0] for t in terms))
        item.AnatomicRegionSequence = DicomSequence([
            _code(c, next(m for t, (v, m) in _REGIONS.items() if v == c)) for c in codes
        ])
        item.Laterality = ""  # Type 2C: present with the region; no laterality asked
        items.append(item)
    if not items:
        modalities = list(COMMON_MODALITIES)
        dropped.append("no modality or body part: the protocol is exported for "
                       f"{', '.join(COMMON_MODALITIES)}")
        items = [_modality_item(m) for m in modalities]
    for item in items:
        item.ProcedureCodeSequence = DicomSequence([])
        item.ReasonForRequestedProcedureCodeSequence = DicomSequence([])
    return items, modalities, terms


def _modality_item(modality: str) -> Dataset:
    item = Dataset()
    item.Modality = modality
    return item


def _code(value: str, meaning: str) -> Dataset:
    code = Dataset()
    code.CodeValue = value
    code.CodingSchemeDesignator = "SCT"
    code.CodeMeaning = meaning
    return code


def _viewport_modalities(protocol: HangingProtocol) -> list[str]:
    return [m for stage in protocol.stages for rule in stage.viewports if rule
            for m in _definite(rule.modality)]


def _image_sets(studies: int, modalities: Sequence[str], body_parts: Sequence[str]) -> Dataset:
    image_set = Dataset()
    # one selector at least: _definition names a modality whenever no body part is named
    selectors = [_with_usage(_selector("Modality", "CS", modalities), "MATCH")
                 ] if modalities else []
    if body_parts:  # NO_MATCH: an image without Body Part Examined is still taken (C.23.1)
        selectors.append(_with_usage(_selector("BodyPartExamined", "CS", body_parts),
                                     "NO_MATCH"))
    image_set.ImageSetSelectorSequence = DicomSequence(selectors)
    times = []
    for study in range(studies):
        item = Dataset()
        item.ImageSetNumber = study + 1
        if study == 0:
            item.ImageSetSelectorCategory = "RELATIVE_TIME"
            item.RelativeTime = [0, 0]
            item.RelativeTimeUnits = "DAYS"
            item.ImageSetLabel = "Current"
        else:
            item.ImageSetSelectorCategory = "ABSTRACT_PRIOR"
            item.AbstractPriorValue = [study, study]
            item.ImageSetLabel = f"Prior {study}"
        times.append(item)
    image_set.TimeBasedImageSetsSequence = DicomSequence(times)
    return image_set


def _with_usage(item: Dataset, usage: str) -> Dataset:
    item.ImageSetSelectorUsageFlag = usage
    return item


def _cell_position(stage: Stage, index: int) -> list[float]:
    column, row = index % stage.columns, index // stage.columns
    return [column / stage.columns, 1 - row / stage.rows,
            (column + 1) / stage.columns, 1 - (row + 1) / stage.rows]


def _filters(rule: ViewportRule, where: str, dropped: list[str]) -> list[Dataset]:
    items = []
    for keyword, (vr, name) in _FILTERS.items():
        patterns: tuple[str, ...] = getattr(rule, name)
        if not patterns:
            continue
        if vr == "LO":
            items.append(_selector(keyword, vr, patterns, "MEMBER_OF"))
            continue
        wanted = [p for p in patterns if not p.startswith("!")]
        refused = [p[1:] for p in patterns if p.startswith("!")]
        if keyword == "ImageType":  # every pattern must hold: a filter each
            groups = [([p], "MEMBER_OF") for p in wanted] + [([p], "NOT_MEMBER_OF")
                                                             for p in refused]
        else:
            groups = [(wanted, "MEMBER_OF")]
        for values, operator in groups:
            definite = _definite(values)
            if len(definite) < len(values):
                others = [v for v in values if v.strip().upper() not in definite]
                dropped.append(f"{where}: {keyword} patterns {', '.join(others)} are not code "
                               "strings")
            if definite:
                items.append(_selector(keyword, vr, definite, operator))
    if rule.orientation is not None:
        item = Dataset()
        item.FilterByCategory = "IMAGE_PLANE"
        item.SelectorAttributeVR = "CS"
        item.SelectorCSValue = [_ORIENTATION_TERMS[rule.orientation]]
        item.FilterByOperator = "MEMBER_OF"
        items.append(item)
    return items


def export_protocol(
    protocol: HangingProtocol, creator: str = "dicom-viewer", level: str = "SITE"
) -> ExportedProtocol:
    """A Hanging Protocol instance (PS3.3 A.38.1) saying what the IOD can of `protocol`, with
    its file meta (save it with `dataset.save_as(path, enforce_file_format=True)`)."""
    dropped: list[str] = []
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = HANGING_PROTOCOL_STORAGE
    ds.SOPInstanceUID = generate_uid()
    now = datetime.now(UTC)
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    # The name is an SH (16 characters): a longer one leads the description (LO, 64), from
    # which import takes it back
    ds.HangingProtocolName = protocol.name[:16]
    description = protocol.description
    if len(protocol.name) > 16:
        description = f"{protocol.name}{_NAME_END}{description}"
    description = description or protocol.name  # Type 1: never empty
    if len(description) > 64:
        dropped.append(f"description after its 64th character: {description[64:]!r}")
    ds.HangingProtocolDescription = description[:64]
    ds.HangingProtocolLevel = level
    ds.HangingProtocolCreator = creator[:64]
    ds.HangingProtocolCreationDateTime = now.strftime("%Y%m%d%H%M%S+0000")
    definitions, modalities, body_parts = _definition(protocol, dropped)
    ds.HangingProtocolDefinitionSequence = DicomSequence(definitions)
    ds.NumberOfPriorsReferenced = protocol.priors_needed
    ds.ImageSetsSequence = DicomSequence([
        _image_sets(protocol.priors_needed + 1, modalities, body_parts)
    ])
    ds.HangingProtocolUserIdentificationCodeSequence = DicomSequence([])
    # Environment (C.23.2): one nominal screen; the GUI fits the layout to the real one
    ds.NumberOfScreens = 1
    screen = Dataset()
    screen.NumberOfVerticalPixels = 1080
    screen.NumberOfHorizontalPixels = 1920
    screen.DisplayEnvironmentSpatialPosition = [0.0, 1.0, 1.0, 0.0]
    screen.ScreenMinimumGrayscaleBitDepth = 8
    ds.NominalScreenDefinitionSequence = DicomSequence([screen])
    display_sets, scrolling = [], []
    number = 0
    for group, stage in enumerate(protocol.stages, start=1):
        numbers: dict[int, int] = {}
        for index, rule in enumerate(stage.viewports):
            if rule is None:
                continue
            number += 1
            numbers[index] = number
            where = f"stage {group} viewport {index + 1}"
            item = Dataset()
            item.DisplaySetNumber = number
            item.DisplaySetLabel = f"{stage.name}: {index + 1}"[:64]
            item.DisplaySetPresentationGroup = group
            item.DisplaySetPresentationGroupDescription = stage.name[:64]
            item.ImageSetNumber = rule.study + 1
            box = Dataset()
            box.ImageBoxNumber = 1
            box.DisplayEnvironmentSpatialPosition = _cell_position(stage, index)
            box.ImageBoxLayoutType = "STACK"
            item.ImageBoxesSequence = DicomSequence([box])
            item.FilterOperationsSequence = DicomSequence(_filters(rule, where, dropped))
            item.SortingOperationsSequence = DicomSequence([])
            display_sets.append(item)
        for sync in stage.sync:
            members = [numbers[i] for i in sync.viewports if i in numbers]
            if sync.kind is not SyncKind.SCROLL:
                dropped.append(f"stage {group}: {sync.kind.value} sync: no place in the IOD")
            elif len(members) >= 2:
                scroll = Dataset()
                scroll.DisplaySetScrollingGroup = members
                scrolling.append(scroll)
    ds.DisplaySetsSequence = DicomSequence(display_sets)
    ds.PartialDataDisplayHandling = "MAINTAIN_LAYOUT"  # an unmatched viewport stays empty
    if scrolling:
        ds.SynchronizedScrollingSequence = DicomSequence(scrolling)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    return ExportedProtocol(ds, tuple(dict.fromkeys(dropped)))


# --- import ------------------------------------------------------------------------------------


def _texts(item: Dataset, keyword: str) -> list[str]:
    value = item.get(keyword)
    if value is None or value == "":
        return []
    values = [value] if isinstance(value, str | int | float) else list(value)
    return [str(v).strip() for v in values if str(v).strip()]


def _one(item: Dataset, keyword: str, default: int | None = None) -> int | None:
    value = item.get(keyword)
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _selector_values(item: Dataset) -> list[str]:
    vr = str(item.get("SelectorAttributeVR", "") or "").strip()
    return _texts(item, f"Selector{vr}Value") if vr else []


def _attribute_keyword(item: Dataset) -> str:
    tag = item.get("SelectorAttribute")
    if tag is None:
        return ""
    return keyword_for_tag(Tag(tag)) or f"{Tag(tag)}"


def _rules(ds: Dataset, dropped: list[str], body_parts: list[str]) -> tuple[MatchRule, ...]:
    modalities: list[str] = []
    regions: list[str] = list(body_parts)
    lateralities: list[str] = []
    for item in ds.get("HangingProtocolDefinitionSequence", []) or []:
        modalities += _texts(item, "Modality")
        for code in item.get("AnatomicRegionSequence", []) or []:
            value = str(code.get("CodeValue", "") or "")
            term = _REGION_TERMS.get(value) or str(code.get("CodeMeaning", "") or "").upper()
            if term:
                regions.append(term)
        lateralities += _texts(item, "Laterality")
        # an empty sequence (Type 2) says nothing
        dropped.extend(f"HangingProtocolDefinitionSequence: {keyword}" for keyword in (
            "ProcedureCodeSequence", "ReasonForRequestedProcedureCodeSequence"
        ) if item.get(keyword))
    rules = []
    if modalities:
        rules.append(MatchRule(MatchAttribute.MODALITY, tuple(dict.fromkeys(modalities)),
                               weight=10, required=True))
    if regions:
        rules.append(MatchRule(MatchAttribute.BODY_PART, tuple(dict.fromkeys(regions)),
                               weight=6))
    if lateralities:
        rules.append(MatchRule(MatchAttribute.LATERALITY, tuple(dict.fromkeys(lateralities)),
                               weight=2))
    priors = _one(ds, "NumberOfPriorsReferenced", 0) or 0
    if priors > 0:
        rules.append(MatchRule(MatchAttribute.PRIORS, at_least=priors, weight=5, required=True))
    return tuple(rules)


def _image_set_studies(
    ds: Dataset, dropped: list[str], body_parts: list[str]
) -> tuple[dict[int, int], dict[int, str]]:
    """Image Set Number -> study (0 current, n the n-th prior), and the modality selector
    values of each image set; Body Part Examined selector values are added to `body_parts`."""
    studies: dict[int, int] = {}
    modalities: dict[int, str] = {}
    for image_set in ds.get("ImageSetsSequence", []) or []:
        selected: list[str] = []
        for selector in image_set.get("ImageSetSelectorSequence", []) or []:
            keyword = _attribute_keyword(selector)
            usage = str(selector.get("ImageSetSelectorUsageFlag", "") or "")
            if keyword == "Modality" and usage == "MATCH":
                selected += _selector_values(selector)
            elif keyword == "BodyPartExamined":
                body_parts += _selector_values(selector)
            else:
                dropped.append(f"image set selector {keyword or '(none)'} {usage}".strip())
        for item in image_set.get("TimeBasedImageSetsSequence", []) or []:
            number = _one(item, "ImageSetNumber")
            category = str(item.get("ImageSetSelectorCategory", "") or "")
            study: int | None = None
            if category == "RELATIVE_TIME" and _texts(item, "RelativeTime") in (["0", "0"],
                                                                                ["0"]):
                study = 0
            elif category == "ABSTRACT_PRIOR":
                values = [int(v) for v in _texts(item, "AbstractPriorValue")
                          if re.fullmatch(r"-?\d+", v)]
                if len(values) == 2 and values[0] == values[1] and values[0] >= 0:
                    study = values[0]
            if number is None or study is None:
                dropped.append(f"image set {number}: {category or 'no category'} "
                               "(only the current study and the n-th prior are modelled)")
                continue
            studies[number] = study
            if selected:
                modalities[number] = "\\".join(dict.fromkeys(selected))
    return studies, modalities


def _viewport(item: Dataset, study: int, modality: str, where: str,
              dropped: list[str]) -> ViewportRule:
    fields: dict[str, tuple[str, ...]] = {}
    orientation = None
    for op in item.get("FilterOperationsSequence", []) or []:
        category = str(op.get("FilterByCategory", "") or "")
        operator = str(op.get("FilterByOperator", "") or "")
        values = _selector_values(op)
        if category == "IMAGE_PLANE" and operator == "MEMBER_OF" and len(values) == 1:
            try:
                orientation = Orientation(values[0].lower())
                continue
            except ValueError:
                pass
        keyword = _attribute_keyword(op)
        if keyword == "Laterality":
            keyword = "ImageLaterality"
        target = _FILTERS.get(keyword)
        if category or target is None or operator not in ("MEMBER_OF", "NOT_MEMBER_OF") or (
            operator == "NOT_MEMBER_OF" and keyword != "ImageType"
        ) or not values:
            what = category or keyword or "(no attribute)"
            dropped.append(f"{where}: filter {what} {operator}".rstrip())
            continue
        name = target[1]
        new = tuple(values if operator == "MEMBER_OF" else [f"!{v}" for v in values])
        if keyword == "ImageType" and operator == "MEMBER_OF" and len(values) > 1:
            dropped.append(f"{where}: ImageType MEMBER_OF several values (kept the first)")
            new = new[:1]
        fields[name] = fields.get(name, ()) + new
    if modality and "modality" not in fields:
        fields["modality"] = tuple(modality.split("\\"))
    return ViewportRule(
        study=study,
        series_description=fields.get("series_description", ()),
        modality=fields.get("modality", ()),
        orientation=orientation,
        image_type=fields.get("image_type", ()),
        view_position=fields.get("view_position", ()),
        laterality=fields.get("laterality", ()),
    )


def _grid(boxes: list[list[float]]) -> tuple[int, int]:
    """(columns, rows) of a layout whose cells are `boxes` (x0, y_top, x1, y_bottom)."""
    columns = max(1, *(round(1 / max(b[2] - b[0], 1e-3)) for b in boxes))
    rows = max(1, *(round(1 / max(b[1] - b[3], 1e-3)) for b in boxes))
    return min(columns, 8), min(rows, 8)


def import_protocol(ds: Dataset, source: str = "") -> ImportedProtocol:
    """Our protocol from a Hanging Protocol instance (see the module docstring), and what it
    could not keep. HangingProtocolIODError (one line) when `ds` is not a Hanging Protocol
    instance, has no name or display sets, or is damaged."""
    try:
        return _import(ds, source)
    except HangingProtocolIODError:
        raise
    except Exception as exc:  # pydicom converts nested values only when they are used, so a
        # damaged file (an unknown VR, an item length that lies) raises anything, here
        raise HangingProtocolIODError(f"malformed Hanging Protocol: {describe_error(exc)}"
                                      ) from None


def _import(ds: Dataset, source: str) -> ImportedProtocol:
    if str(ds.get("SOPClassUID", "")) != HANGING_PROTOCOL_STORAGE:
        raise HangingProtocolIODError("not a Hanging Protocol instance (SOP Class "
                                      f"{ds.get('SOPClassUID', 'missing')})")
    name = str(ds.get("HangingProtocolName", "") or "").strip()
    if not name:
        raise HangingProtocolIODError("Hanging Protocol Name (0072,0002) is missing")
    display_sets = list(ds.get("DisplaySetsSequence", []) or [])
    if not display_sets:
        raise HangingProtocolIODError("Display Sets Sequence (0072,0200) is missing or empty")
    if not all(isinstance(item, Dataset) for item in display_sets):  # a damaged VR
        raise HangingProtocolIODError("Display Sets Sequence (0072,0200) is not a sequence")
    dropped: list[str] = []
    body_parts: list[str] = []
    studies, modalities = _image_set_studies(ds, dropped, body_parts)
    rules = _rules(ds, dropped, body_parts)
    groups: dict[int, list[tuple[Dataset, list[float]]]] = {}
    for item in display_sets:
        number = _one(item, "DisplaySetNumber")
        where = f"display set {number}"
        dropped.extend(f"{where}: {keyword}" for keyword in _NOT_MODELLED if item.get(keyword))
        boxes = list(item.get("ImageBoxesSequence", []) or [])
        position = [float(v) for v in (boxes[0].get("DisplayEnvironmentSpatialPosition") or [])
                    ] if boxes else []
        if len(position) != 4 or not all(math.isfinite(v) for v in position):
            dropped.append(f"{where}: no image box position")
            continue
        if len(boxes) > 1 or str(boxes[0].get("ImageBoxLayoutType", "")) != "STACK":
            dropped.append(f"{where}: image boxes other than one STACK (kept as one viewport)")
        groups.setdefault(_one(item, "DisplaySetPresentationGroup", 1) or 1, []).append(
            (item, position))
    stages = []
    for group in sorted(groups):
        members = groups[group]
        columns, rows = _grid([p for _, p in members])
        cells: list[ViewportRule | None] = [None] * (columns * rows)
        by_number: dict[int, int] = {}
        description = ""
        for item, position in members:
            number = _one(item, "DisplaySetNumber")
            where = f"display set {number}"
            image_set = _one(item, "ImageSetNumber")
            if image_set not in studies:
                dropped.append(f"{where}: image set {image_set} is not modelled")
                continue
            column = min(columns - 1, max(0, math.floor(position[0] * columns + 1e-6)))
            row = min(rows - 1, max(0, math.floor((1 - position[1]) * rows + 1e-6)))
            index = row * columns + column
            if cells[index] is not None:
                dropped.append(f"{where}: overlaps another display set")
                continue
            cells[index] = _viewport(item, studies[image_set], modalities.get(image_set, ""),
                                     where, dropped)
            if number is not None:
                by_number[number] = index
            description = description or str(
                item.get("DisplaySetPresentationGroupDescription", "") or "")
        sync = []
        for scroll in ds.get("SynchronizedScrollingSequence", []) or []:
            members_here = [by_number[int(n)] for n in _texts(scroll, "DisplaySetScrollingGroup")
                            if int(n) in by_number]
            if len(members_here) >= 2:
                sync.append(SyncGroup(SyncKind.SCROLL, tuple(members_here)))
        if not any(cells):
            dropped.append(f"presentation group {group}: no display set we can show")
            continue
        stages.append(Stage(description or f"Stage {group}", columns, rows, tuple(cells),
                            tuple(sync)))
    if not stages:
        raise HangingProtocolIODError("no display set could be placed in a layout")
    if ds.get("NavigationIndicatorSequence"):
        dropped.append("NavigationIndicatorSequence")
    description = str(ds.get("HangingProtocolDescription", "") or "")
    full, _, rest = description.partition(_NAME_END)
    if len(name) == 16 and full.startswith(name) and len(full) > 16:
        name, description = full, rest
    elif description == name:  # what we write for a protocol without a description
        description = ""
    protocol = HangingProtocol(name, rules, tuple(stages), description, source)
    return ImportedProtocol(protocol, tuple(dict.fromkeys(dropped)))
