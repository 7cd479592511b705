"""Consistency across files: patient identity within a study, one SOP Instance UID per content,
and each series' geometry (Frame of Reference, Pixel Spacing, orientation, gaps and spacing).

The slice order and its gaps are viewer.dicom.geometry's `sort_slices`, the one slice sorter;
the geometry of each frame is viewer.dicom.stack's. Severity: a wrong patient, two contents
under one UID or two Frames of Reference in one series make the data wrong (error); gaps,
uneven steps, mixed orientations and missing spacing can be real acquisitions (warning).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from viewer.dicom.files import read_dataset
from viewer.dicom.geometry import plane_name, same_orientation, sort_slices
from viewer.quality.files import InstanceFacts
from viewer.quality.findings import (
    DUPLICATE,
    ERROR,
    FRAME_OF_REFERENCE,
    GAP,
    IDENTITY,
    ORIENTATION,
    PIXEL_SPACING,
    SPACING,
    WARNING,
    StudyFinding,
)

LOGGER = logging.getLogger(__name__)

# Projection radiography: a length needs Pixel Spacing or Imager Pixel Spacing as much as a
# cross-sectional image needs Pixel Spacing.
PROJECTION_MODALITIES = frozenset({"CR", "DX", "MG", "XA", "RF", "IO", "PX"})
# A step this many common steps long or more has at least one slice missing (as viewer.volume).
_GAP_STEPS = 1.5
# sort_slices' own tolerances: a step this close to the common step is even
_TOLERANCE_MM = 0.01
_RELATIVE_TOLERANCE = 0.05
_IDENTITY: tuple[tuple[str, str, Callable[[InstanceFacts], str]], ...] = (
    ("Patient ID", "PatientID", lambda f: f.patient_id),
    ("Patient's Name", "PatientName", lambda f: f.patient_name),
    ("Patient's Birth Date", "PatientBirthDate", lambda f: f.patient_birth_date),
    ("Patient's Sex", "PatientSex", lambda f: f.patient_sex),
)


def study_findings(facts: Iterable[InstanceFacts]) -> list[StudyFinding]:
    """Every consistency finding over these files: identity per study, duplicates over all,
    geometry per series; in study, then series order of first appearance."""
    facts = list(facts)
    by_study: dict[str, list[InstanceFacts]] = defaultdict(list)
    for fact in facts:
        by_study[fact.study_instance_uid].append(fact)
    out: list[StudyFinding] = []
    for study_uid, members in by_study.items():
        out.extend(identity_findings(study_uid, members))
        by_series: dict[str, list[InstanceFacts]] = defaultdict(list)
        for fact in members:
            by_series[fact.series_instance_uid].append(fact)
        for series_uid, series in by_series.items():
            out.extend(series_findings(study_uid, series_uid, series))
    out.extend(duplicate_findings(facts))
    return out


def identity_findings(study_uid: str, members: list[InstanceFacts]) -> list[StudyFinding]:
    """A series whose patient ID, name, birth date or sex differs from the rest of its study
    (the value most of the study's files hold). Empty values are unknown, not different."""
    out = []
    for name, _keyword, value_of in _IDENTITY:
        counts = Counter(_same_person(value_of(f)) for f in members if value_of(f))
        if len(counts) < 2:
            continue
        majority = counts.most_common(1)[0][0]
        shown = {_same_person(value_of(f)): value_of(f) for f in members if value_of(f)}
        odd: dict[str, Counter[str]] = defaultdict(Counter)
        for fact in members:
            value = _same_person(value_of(fact))
            if value and value != majority:
                odd[fact.series_instance_uid][value] += 1
        for series_uid, values in odd.items():
            listed = ", ".join(f"'{shown[v]}' ({n} file{'s' * (n > 1)})" for v, n in values.items())
            out.append(StudyFinding(
                ERROR, study_uid, series_uid, IDENTITY,
                f"{name} is {listed} in this series but '{shown[majority]}' in "
                f"{counts[majority]} other file(s) of the study: images of another patient "
                "may have been merged into this study"))
    return out


def _same_person(value: str) -> str:
    """Names compare without case and trailing empty components ("DOE^JOHN^^" = "Doe^John")."""
    return value.upper().rstrip("^= ")


def duplicate_findings(facts: list[InstanceFacts]) -> list[StudyFinding]:
    """One SOP Instance UID in several files: an error when their contents differ (a PACS keeps
    one of them and loses the other), a warning when they are copies."""
    by_uid: dict[str, list[InstanceFacts]] = defaultdict(list)
    for fact in facts:
        if fact.sop_instance_uid:
            by_uid[fact.sop_instance_uid].append(fact)
    out = []
    for uid, copies in by_uid.items():
        if len(copies) < 2:
            continue
        first = copies[0]
        differing = [c for c in copies[1:] if not _same_content(first, c)]
        names = ", ".join(Path(c.path).name for c in copies)
        if differing:
            out.append(StudyFinding(
                ERROR, first.study_instance_uid, first.series_instance_uid, DUPLICATE,
                f"SOP Instance UID {uid} is used by {len(copies)} files with different content "
                f"({names}): a PACS keeps one and loses the others"))
        else:
            out.append(StudyFinding(
                WARNING, first.study_instance_uid, first.series_instance_uid, DUPLICATE,
                f"SOP Instance UID {uid} is stored {len(copies)} times with the same content "
                f"({names})"))
    return out


def _same_content(a: InstanceFacts, b: InstanceFacts) -> bool:
    """Every attribute's value equal (file meta and trailing padding aside), and the pixels:
    the same bytes in one transfer syntax, the same decoded values across two."""
    try:
        first, second = read_dataset(a.path), read_dataset(b.path)
        if not _same_values(first, second, top=True):
            return False
        if a.transfer_syntax_uid == b.transfer_syntax_uid:
            return all(first.get(k) == second.get(k) for k in _PIXELS)
        if not any(k in first for k in _PIXELS):
            return not any(k in second for k in _PIXELS)
        return bool(np.array_equal(first.pixel_array, second.pixel_array))
    except Exception as exc:  # a codec missing or a damaged value: not shown to be the same
        LOGGER.debug("%s and %s not compared: %r", a.path, b.path, exc)
        return False


_PIXELS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_PADDING = 0xFFFCFFFC  # Data Set Trailing Padding (PS3.10 7.2): no content


def _same_values(first: Dataset, second: Dataset, top: bool = False) -> bool:
    skip = {_PADDING, *(tag_for_keyword(k) for k in _PIXELS)} if top else {_PADDING}
    tags = [t for t in {*first.keys(), *second.keys()} if t not in skip]
    for tag in tags:
        if tag not in first or tag not in second:
            return False
        one, other = first[tag], second[tag]
        if one.VR == "SQ" and other.VR == "SQ":
            if len(one.value) != len(other.value) or not all(
                    _same_values(x, y) for x, y in zip(one.value, other.value, strict=True)):
                return False
        elif one.value != other.value:
            return False
    return True


def series_findings(study_uid: str, series_uid: str,
                    series: list[InstanceFacts]) -> list[StudyFinding]:
    """The geometry of one series' images (PS3.3 C.7.6.2): one Frame of Reference, Pixel
    Spacing where lengths are measured, one orientation, evenly spaced slices without gaps."""
    # one instance stored twice is one slice (duplicate_findings reports the copies)
    images = list({f.sop_instance_uid or f.path: f for f in reversed(series)
                   if f.is_image}.values())[::-1]
    if not images:
        return []

    def finding(severity: str, kind: str, message: str) -> StudyFinding:
        return StudyFinding(ERROR if severity == ERROR else WARNING, study_uid, series_uid,
                            kind, message)

    out = []
    frames = [g for f in images for g in f.geometry if g is not None]
    references = sorted({g.frame_of_reference_uid for g in frames if g.frame_of_reference_uid})
    if len(references) > 1:
        out.append(finding(ERROR, FRAME_OF_REFERENCE,
                           f"{len(references)} Frames of Reference in one series "
                           f"({', '.join(references[:3])}): its images cannot be placed in one "
                           "patient space, so reference lines and linked scrolling are wrong"))
    measured = [f for f in images if _measured(f)]
    unscaled = [f for f in measured if not f.geometry or f.geometry[0] is None
                or f.geometry[0].pixel_spacing is None]
    if unscaled:
        out.append(finding(WARNING, PIXEL_SPACING,
                           f"{len(unscaled)} of {len(images)} images have no Pixel Spacing: "
                           "lengths and areas measured on them are in pixels, not millimetres"))
    oriented = [g for g in frames if g.orientation is not None]
    if not oriented:
        return out
    if not same_orientation([g.orientation for g in oriented if g.orientation is not None]):
        planes = Counter(_plane(g.orientation) for g in oriented if g.orientation)
        listed = ", ".join(f"{n} {p}" for p, n in planes.most_common())
        out.append(finding(WARNING, ORIENTATION,
                           f"images of this series lie in more than one orientation ({listed}): "
                           "it cannot be read or reformatted as one stack"))
        return out
    out.extend(finding(WARNING, kind, message) for kind, message in _spacing(images))
    return out


def _measured(fact: InstanceFacts) -> bool:
    first = fact.geometry[0] if fact.geometry else None
    cross_sectional = first is not None and first.orientation is not None
    return cross_sectional or fact.modality in PROJECTION_MODALITIES


def _plane(orientation: tuple[float, ...]) -> str:
    try:
        return plane_name(orientation)
    except ValueError:
        return "invalid"


def _spacing(images: list[InstanceFacts]) -> list[tuple[str, str]]:
    """Gaps and uneven steps along the slice normal; a multi-frame file that repeats one plane
    for every frame (not an enhanced object) counts once."""
    positions: list[tuple[float, float, float]] = []
    orientation = None
    for fact in images:
        positions.extend(dict.fromkeys(g.position for g in fact.geometry
                                       if g is not None and g.position is not None))
        orientation = orientation or next(
            (g.orientation for g in fact.geometry if g is not None and g.orientation), None)
    if orientation is None:
        return []
    return slice_spacing_problems(positions, orientation)


def slice_spacing_problems(positions: Sequence[tuple[float, float, float]],
                           orientation: Sequence[float]) -> list[tuple[str, str]]:
    """(kind, message) for gaps, slices sharing a position and uneven steps among these Image
    Positions (Patient) of one orientation (PS3.3 C.7.6.2); the series check and the viewer's
    warning over a stack both ask this."""
    if len(positions) < 3:
        return []
    try:
        order = sort_slices(np.asarray(positions), orientation)
    except ValueError:
        return []
    out = []
    along = order.positions
    step = order.spacing or 0.0
    # sort_slices calls any step past the tolerance a gap; a user means missing slices
    gaps = [i for i in order.gaps if along[i + 1] - along[i] >= _GAP_STEPS * step]
    if gaps:
        first = gaps[0]
        missing = sum(round((along[i + 1] - along[i]) / step) - 1 for i in gaps)
        out.append((GAP, f"{len(gaps)} gap(s) in the slices, about {missing} slice(s) "
                         f"missing: e.g. {along[first + 1] - along[first]:.2f} mm between "
                         f"{along[first]:.2f} and {along[first + 1]:.2f} mm along the normal "
                         f"where the series steps {step:.2f} mm"))
    if order.duplicates:
        out.append((SPACING, f"{len(order.duplicates)} slice(s) share a position with another "
                             "(several acquisitions or phases in one series?)"))
    else:
        steps = np.diff(np.asarray(along))
        allowed = max(_TOLERANCE_MM, _RELATIVE_TOLERANCE * step)
        uneven = [s for i, s in enumerate(steps) if i not in gaps and abs(s - step) > allowed]
        if uneven:
            out.append((SPACING, f"uneven spacing: {len(uneven)} step(s) between slices differ "
                                 f"from the series' {step:.2f} mm (from {min(uneven):.2f} to "
                                 f"{max(uneven):.2f} mm): distances across slices and "
                                 "reformatted planes are distorted"))
    return out
