"""What an object made for other images references: presentation states, key object selections,
structured reports, segmentations and RT structure sets.

`object_references(ds)` reads, from a dataset, which SOP Instances (and frames) the object
references and what names it: its kind, label, description, document title and content
date/time. The archive indexes the result, so that a viewer finds, from an image, the
presentation states, key object documents, reports and overlays made for it without reading a
single file. Where the references are read from:

- Softcopy presentation states (PS3.3 C.11.11, Presentation State Relationship): Referenced
  Series Sequence > Referenced Image Sequence, with Referenced Frame Number; blending states
  name their images in Blending Sequence items the same way.
- Key Object Selection and SR documents (PS3.3 C.17.3, C.18.3): the IMAGE, COMPOSITE and
  WAVEFORM content items of the tree, each IMAGE item with the presentation state it names
  (its Referenced SOP Sequence's own Referenced SOP Sequence, PS3.3 Table 10-3); then the
  Current Requested Procedure Evidence and Pertinent Other Evidence sequences (PS3.3 C.17.2),
  which also give the series of each referenced instance.
- Segmentations (PS3.3 C.8.20): Referenced Series Sequence > Referenced Instance Sequence
  (Common Instance Reference, C.12.2), and each frame's Derivation Image > Source Image
  Sequence (with the source frame).
- RT Structure Sets (PS3.3 C.8.8.5): Contour Image Sequences of the Referenced Frame of
  Reference Sequence and of every contour.

A malformed reference (no or an invalid UID, a frame that is not a positive integer, an item
that is not a dataset, a value pydicom cannot convert) is skipped; reading never raises for
what a file holds. Frames are 1-based, as in Referenced Frame Number; None means the whole
instance (every frame).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from viewer.dicom import text

LOGGER = logging.getLogger(__name__)

KIND_PRESENTATION = "presentation"
KIND_KEY_OBJECTS = "key-objects"
KIND_SR = "sr"
KIND_SEG = "seg"
KIND_RTSTRUCT = "rtstruct"
KINDS = (KIND_PRESENTATION, KIND_KEY_OBJECTS, KIND_SR, KIND_SEG, KIND_RTSTRUCT)

# How a reference is made: an image the object applies to or shows (a presentation state's,
# segmentation's or structure set's image; an SR/KOS IMAGE item), another object in the
# content tree (an SR/KOS COMPOSITE or WAVEFORM item), or an instance named only in an
# evidence sequence (for a KOS: the presentation states its images are seen with).
ROLE_IMAGE = "image"
ROLE_COMPOSITE = "composite"
ROLE_EVIDENCE = "evidence"
ROLES = (ROLE_IMAGE, ROLE_COMPOSITE, ROLE_EVIDENCE)

_PS_PREFIX = "1.2.840.10008.5.1.4.1.1.11."  # every Softcopy Presentation State Storage class
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."  # every SR Storage class, KOS included
KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
_SEG_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation Storage
    "1.2.840.10008.5.1.4.1.1.66.7",  # Label Map Segmentation Storage
})
RT_STRUCTURE_SET = "1.2.840.10008.5.1.4.1.1.481.3"

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_MAX_UID = 64
# Content tree walk: a hostile tree is bounded in depth and size, never followed forever.
_MAX_DEPTH = 100
_MAX_ITEMS = 1_000_000


@dataclass(frozen=True)
class Reference:
    """One referenced SOP Instance (or one frame of it).

    `frame`: the 1-based Referenced Frame Number, None for the whole instance.
    `presentation_state_uid`: the softcopy presentation state a KOS or SR IMAGE item says the
    image is to be seen with, else None. `series_instance_uid` and `sop_class_uid`: as the
    object says them ("" when it does not).
    """

    sop_instance_uid: str
    frame: int | None = None
    presentation_state_uid: str | None = None
    sop_class_uid: str = ""
    series_instance_uid: str = ""
    role: str = ROLE_IMAGE

    def as_json(self) -> dict[str, Any]:
        return {
            "ReferencedSOPInstanceUID": self.sop_instance_uid,
            "ReferencedSOPClassUID": self.sop_class_uid,
            "SeriesInstanceUID": self.series_instance_uid,
            "frame": self.frame,
            "presentation_state": self.presentation_state_uid,
            "role": self.role,
        }


@dataclass(frozen=True)
class ObjectReferences:
    """What an object references and how it names itself (see the module docstring).

    `kind`: one of KINDS, None for an image (or anything else that references nothing here).
    `label`: Content Label (PS, SEG), Structure Set Label (RTSTRUCT); for a KOS or SR, which
    have none, the document title. `description`: Content Description; a KOS's Key Object
    Description text item; Structure Set Name or Description; else the Series Description.
    `title`: a KOS or SR document's title (its Concept Name's Code Meaning: "Of Interest",
    "For Teaching", ...), or a presentation state's Concept Name when it has one.
    `content_date` / `content_time`: DA / TM as stored (presentation states: Presentation
    Creation Date/Time; RTSTRUCT: Structure Set Date/Time; else Content Date/Time).
    `references`: in the object's order, each (instance, frame, presentation state) once.
    """

    kind: str | None
    label: str = ""
    description: str = ""
    title: str = ""
    content_date: str = ""
    content_time: str = ""
    references: tuple[Reference, ...] = ()

    @property
    def triples(self) -> tuple[tuple[str, int | None, str | None], ...]:
        """The references as (SOP Instance UID, frame or None, presentation state UID or
        None), in the object's order."""
        return tuple(
            (r.sop_instance_uid, r.frame, r.presentation_state_uid) for r in self.references)

    def referencing(self, sop_instance_uid: str, frame: int | None = None) -> tuple[Reference, ...]:
        """The references to `sop_instance_uid`; with `frame` (1-based), those that apply to
        that frame (the frame itself or the whole instance)."""
        return tuple(
            r for r in self.references
            if r.sop_instance_uid == sop_instance_uid
            and (frame is None or r.frame is None or r.frame == frame)
        )

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict that `from_json` reads back (the import journal keeps it)."""
        return {
            "kind": self.kind,
            "label": self.label,
            "description": self.description,
            "title": self.title,
            "content_date": self.content_date,
            "content_time": self.content_time,
            "references": [
                [r.sop_instance_uid, r.frame, r.presentation_state_uid, r.sop_class_uid,
                 r.series_instance_uid, r.role]
                for r in self.references
            ],
        }

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ObjectReferences:
        """The inverse of `as_json`; ValueError / TypeError / KeyError on anything else."""
        kind = values["kind"]
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        references = []
        for uid, frame, ps, sop_class, series, role in values["references"]:
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}")
            references.append(Reference(
                str(uid), None if frame is None else int(frame),
                None if ps is None else str(ps), str(sop_class), str(series), role,
            ))
        return cls(
            kind, str(values["label"]), str(values["description"]), str(values["title"]),
            str(values["content_date"]), str(values["content_time"]), tuple(references),
        )


NO_REFERENCES = ObjectReferences(None)


def kind_of(sop_class_uid: str) -> str | None:
    """The kind of object a SOP Class UID is (one of KINDS), or None for anything else."""
    uid = sop_class_uid.strip().rstrip("\0")
    if uid.startswith(_PS_PREFIX):
        return KIND_PRESENTATION
    if uid == KEY_OBJECT_SELECTION:
        return KIND_KEY_OBJECTS
    if uid.startswith(_SR_PREFIX):
        return KIND_SR
    if uid in _SEG_CLASSES:
        return KIND_SEG
    if uid == RT_STRUCTURE_SET:
        return KIND_RTSTRUCT
    return None


def object_references(ds: Dataset) -> ObjectReferences:
    """The references and names of the object `ds` (module docstring); NO_REFERENCES for an
    image or any other SOP Class. Never raises for what the dataset holds; pydicom's warnings
    about its values are kept from the user (logged at DEBUG)."""
    with text.pydicom_warnings() as messages:
        kind = kind_of(_text(ds, "SOPClassUID"))
        try:
            found = NO_REFERENCES if kind is None else _object_references(ds, kind)
        except Exception:  # a top-level value pydicom cannot convert: the kind alone
            LOGGER.debug("references of an object could not be read", exc_info=True)
            found = ObjectReferences(kind)
    for message in messages:
        LOGGER.debug("pydicom while reading references: %s", message)
    return found


def references_of(ds: Dataset, sop_class_uid: str) -> ObjectReferences | None:
    """What the archive indexes for an instance of `sop_class_uid` (as its index row says it):
    None for a class that references nothing here, else `indexed_references`."""
    kind = kind_of(sop_class_uid)
    return None if kind is None else indexed_references(ds, kind)


def indexed_references(ds: Dataset, kind: str) -> ObjectReferences:
    """`object_references(ds)`, of `kind` (the kind of the SOP class the index holds) even
    when the dataset's own SOP Class UID cannot be read: every referencing instance gets its
    row, and one that references nothing readable is still one."""
    found = object_references(ds)
    return found if found.kind == kind else ObjectReferences(kind)


def _object_references(ds: Dataset, kind: str) -> ObjectReferences:
    names, _ = text.decoded_values(ds, _NAME_KEYWORDS)
    series_description = _str(names.get("SeriesDescription"))
    if kind == KIND_PRESENTATION:
        return ObjectReferences(
            kind,
            label=_str(names.get("ContentLabel")),
            description=_str(names.get("ContentDescription")),
            title=_concept_name(ds),
            content_date=_text(ds, "PresentationCreationDate") or _text(ds, "ContentDate"),
            content_time=_text(ds, "PresentationCreationTime") or _text(ds, "ContentTime"),
            references=_unique(_presentation_references(ds)),
        )
    if kind in (KIND_KEY_OBJECTS, KIND_SR):
        title = _concept_name(ds)
        content = list(_content_references(ds))
        description = _key_object_description(ds) if kind == KIND_KEY_OBJECTS else ""
        return ObjectReferences(
            kind,
            label=_str(names.get("ContentLabel")) or title,
            description=description or series_description,
            title=title,
            content_date=_text(ds, "ContentDate"),
            content_time=_text(ds, "ContentTime"),
            references=_unique(_with_evidence(ds, content)),
        )
    if kind == KIND_SEG:
        return ObjectReferences(
            kind,
            label=_str(names.get("ContentLabel")),
            description=_str(names.get("ContentDescription")) or series_description,
            content_date=_text(ds, "ContentDate"),
            content_time=_text(ds, "ContentTime"),
            references=_unique(_segmentation_references(ds)),
        )
    return ObjectReferences(
        kind,
        label=_str(names.get("StructureSetLabel")),
        description=(_str(names.get("StructureSetName"))
                     or _str(names.get("StructureSetDescription")) or series_description),
        content_date=_text(ds, "StructureSetDate"),
        content_time=_text(ds, "StructureSetTime"),
        references=_unique(_structure_set_references(ds)),
    )


_NAME_KEYWORDS = (
    "ContentLabel", "ContentDescription", "SeriesDescription", "StructureSetLabel",
    "StructureSetName", "StructureSetDescription",
)


# --- presentation states -------------------------------------------------------------------------


def _presentation_references(ds: Dataset) -> Iterator[Reference]:
    yield from _series_images(ds, "ReferencedImageSequence")
    for blending in _items(ds, "BlendingSequence"):  # Blending Softcopy PS (C.11.14)
        yield from _series_images(blending, "ReferencedImageSequence")


def _series_images(ds: Dataset, images_keyword: str) -> Iterator[Reference]:
    """Referenced Series Sequence > `images_keyword` items as image references."""
    for series in _items(ds, "ReferencedSeriesSequence"):
        series_uid = _uid(series, "SeriesInstanceUID") or ""
        for image in _items(series, images_keyword):
            yield from _sop_references(image, series_uid, ROLE_IMAGE)


def _sop_references(
    item: Dataset, series_uid: str, role: str, presentation_state: str | None = None
) -> Iterator[Reference]:
    """The references of one SOP Instance Reference item (Referenced SOP Instance UID, Class,
    Frame Number), one per frame it names; nothing when the item is malformed."""
    try:
        uid = _uid(item, "ReferencedSOPInstanceUID")
        if uid is None:
            return
        sop_class = _uid(item, "ReferencedSOPClassUID") or ""
        frames = _frames(item)
    except Exception:  # a value pydicom cannot convert: this item is skipped
        LOGGER.debug("a malformed reference item was skipped", exc_info=True)
        return
    if frames is None:
        return
    for frame in frames:
        yield Reference(uid, frame, presentation_state, sop_class, series_uid, role)


def _frames(item: Dataset) -> list[int | None] | None:
    """The item's Referenced Frame Numbers ([None] when it names none: the whole instance), or
    None when it names frames but not one of them is a positive integer (the item is malformed:
    widening it to the whole instance would be wrong)."""
    if "ReferencedFrameNumber" not in item:
        return [None]
    value = item.ReferencedFrameNumber
    if value is None or value == "":
        return [None]
    values = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    frames: list[int | None] = []
    for v in values:
        try:
            number = int(v)
            whole = not isinstance(v, float) or v.is_integer()
        except (TypeError, ValueError, OverflowError):
            continue
        if number >= 1 and whole:
            frames.append(number)
    return frames or None


# --- KOS and SR ----------------------------------------------------------------------------------


def _content_references(ds: Dataset) -> Iterator[Reference]:
    """IMAGE, COMPOSITE and WAVEFORM items of the content tree, depth first in document
    order. By-reference items (Referenced Content Item Identifier, no value) are not
    followed: a cycle of them cannot loop, and a dataset that contains itself is walked once."""
    stack: list[tuple[Dataset, int]] = [(ds, 0)]
    seen: set[int] = set()
    visited = 0
    while stack and visited < _MAX_ITEMS:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        visited += 1
        if depth > 0:
            yield from _content_item_references(node)
        if depth < _MAX_DEPTH:
            children = _items(node, "ContentSequence")
            stack.extend((child, depth + 1) for child in reversed(children))


def _content_item_references(item: Dataset) -> Iterator[Reference]:
    try:
        value_type = _text(item, "ValueType")
    except Exception:
        return
    if value_type == "IMAGE":
        role = ROLE_IMAGE
    elif value_type in ("COMPOSITE", "WAVEFORM"):
        role = ROLE_COMPOSITE
    else:
        return
    for ref in _items(item, "ReferencedSOPSequence"):
        presentation_state = None
        if role == ROLE_IMAGE:
            for nested in _items(ref, "ReferencedSOPSequence"):
                presentation_state = _uid(nested, "ReferencedSOPInstanceUID")
                if presentation_state is not None:
                    break
        yield from _sop_references(ref, "", role, presentation_state)


def _with_evidence(ds: Dataset, content: list[Reference]) -> Iterator[Reference]:
    """`content` with each reference's series filled from the evidence sequences, then the
    evidence the content does not reference."""
    evidence: dict[str, Reference] = {}
    for keyword in ("CurrentRequestedProcedureEvidenceSequence",
                    "PertinentOtherEvidenceSequence"):
        for study in _items(ds, keyword):
            for ref in _series_images(study, "ReferencedSOPSequence"):
                evidence.setdefault(ref.sop_instance_uid, ref)
    named = set()
    for ref in content:
        named.add(ref.sop_instance_uid)
        listed = evidence.get(ref.sop_instance_uid)
        if listed is None:
            yield ref
        else:
            yield Reference(
                ref.sop_instance_uid, ref.frame, ref.presentation_state_uid,
                ref.sop_class_uid or listed.sop_class_uid, listed.series_instance_uid, ref.role,
            )
    for uid, ref in evidence.items():
        if uid not in named:
            yield Reference(uid, ref.frame, None, ref.sop_class_uid, ref.series_instance_uid,
                            ROLE_EVIDENCE)


def _key_object_description(ds: Dataset) -> str:
    """The TEXT item (113012, DCM, "Key Object Description") of a KOS (TID 2010)."""
    for item in _items(ds, "ContentSequence"):
        try:
            if _text(item, "ValueType") != "TEXT":
                continue
            names = _items(item, "ConceptNameCodeSequence")
            if names and _text(names[0], "CodeValue") == "113012":
                return _str(item.get("TextValue"))
        except Exception:
            continue
    return ""


def _concept_name(ds: Dataset) -> str:
    names = _items(ds, "ConceptNameCodeSequence")
    try:
        return _str(names[0].get("CodeMeaning")) if names else ""
    except Exception:
        return ""


# --- SEG and RTSTRUCT ----------------------------------------------------------------------------


def _segmentation_references(ds: Dataset) -> Iterator[Reference]:
    yield from _series_images(ds, "ReferencedInstanceSequence")
    series_of = {}
    for series in _items(ds, "ReferencedSeriesSequence"):
        series_uid = _uid(series, "SeriesInstanceUID")
        if series_uid is not None:
            for image in _items(series, "ReferencedInstanceSequence"):
                uid = _uid(image, "ReferencedSOPInstanceUID")
                if uid is not None:
                    series_of[uid] = series_uid
    groups = _items(ds, "SharedFunctionalGroupsSequence") + _items(
        ds, "PerFrameFunctionalGroupsSequence")
    for group in groups:
        for derivation in _items(group, "DerivationImageSequence"):
            for source in _items(derivation, "SourceImageSequence"):
                for ref in _sop_references(source, "", ROLE_IMAGE):
                    yield _in_series(ref, series_of)
    for source in _items(ds, "SourceImageSequence"):
        for ref in _sop_references(source, "", ROLE_IMAGE):
            yield _in_series(ref, series_of)


def _in_series(ref: Reference, series_of: dict[str, str]) -> Reference:
    series = series_of.get(ref.sop_instance_uid)
    if series is None:
        return ref
    return Reference(ref.sop_instance_uid, ref.frame, None, ref.sop_class_uid, series, ref.role)


def _structure_set_references(ds: Dataset) -> Iterator[Reference]:
    series_of: dict[str, str] = {}
    for frame_of_reference in _items(ds, "ReferencedFrameOfReferenceSequence"):
        for study in _items(frame_of_reference, "RTReferencedStudySequence"):
            for series in _items(study, "RTReferencedSeriesSequence"):
                series_uid = _uid(series, "SeriesInstanceUID") or ""
                for image in _items(series, "ContourImageSequence"):
                    for ref in _sop_references(image, series_uid, ROLE_IMAGE):
                        series_of.setdefault(ref.sop_instance_uid, series_uid)
                        yield ref
    for roi in _items(ds, "ROIContourSequence"):
        for contour in _items(roi, "ContourSequence"):
            for image in _items(contour, "ContourImageSequence"):
                for ref in _sop_references(image, "", ROLE_IMAGE):
                    yield _in_series(ref, series_of)


# --- reading values safely -----------------------------------------------------------------------


def _unique(references: Iterable[Reference]) -> tuple[Reference, ...]:
    """Each (instance, frame, presentation state) once, in first-seen order; an image
    reference wins over the same instance named as composite or evidence."""
    kept: dict[tuple[str, int | None, str | None], Reference] = {}
    for ref in references:
        key = (ref.sop_instance_uid, ref.frame, ref.presentation_state_uid)
        known = kept.get(key)
        if known is None:
            kept[key] = ref
        elif known.role != ROLE_IMAGE and ref.role == ROLE_IMAGE:
            kept[key] = ref
        elif not known.series_instance_uid and ref.series_instance_uid:
            kept[key] = Reference(*key, known.sop_class_uid or ref.sop_class_uid,
                                  ref.series_instance_uid, known.role)
    return tuple(kept.values())


def _items(ds: Dataset, keyword: str) -> list[Dataset]:
    """The dataset items of sequence `keyword`; [] when absent, not a sequence or unreadable."""
    try:
        value = ds.get(keyword) if isinstance(ds, Dataset) else None
        if value is None or isinstance(value, (str, bytes)):
            return []
        return [item for item in value if isinstance(item, Dataset)]
    except Exception:
        LOGGER.debug("sequence %s could not be read", keyword, exc_info=True)
        return []


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:
        return ""
    return _str(value)


def _str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        value = "\\".join(str(v) for v in value)
    return str(value).strip().rstrip("\0").strip()


def _uid(ds: Dataset, keyword: str) -> str | None:
    """A UID value when it is one (PS3.5 9.1: digits and dots, at most 64 characters)."""
    uid = _text(ds, keyword)
    if len(uid) > _MAX_UID or not _UID.fullmatch(uid):
        return None
    return uid
