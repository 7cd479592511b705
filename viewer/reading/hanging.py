"""Hanging a study: the best-scoring protocol, and which series goes in which viewport.

`hang(study, priors, protocols)` is pure: study and series facts in (`StudyFacts`,
`SeriesFacts`: what the archive index holds plus what one header per series says), a `Hanging`
out. The GUI then loads each assigned series into its viewport; an unmatched viewport stays empty.

Scoring: a protocol whose required rule fails is out; the others score the sum of the weights of
their rules that hold, and the highest score wins (ties: the protocol whose viewports are filled
most in its first stage, then the name). A protocol is not chosen when it scores nothing at all,
or when none of its viewports would show a series of this study (a CR without View Position
matches the chest protocol's rules and none of its cells).

Assignment: in each stage, viewports are filled in layout order; each takes the first series (in
series order: Series Number, then as listed) of its study that meets its rule and that no earlier
viewport of the same stage shows. Series holding no images (SR, KO, PR, SEG, RTSTRUCT) are never
hung.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from viewer.reading.protocols import (
    HangingProtocol,
    MatchAttribute,
    MatchRule,
    Orientation,
    Stage,
    ViewportRule,
    matches,
)

# Modalities of series that hold no images to hang (PS3.3 C.7.3.1.1.1)
NON_IMAGE_MODALITIES = frozenset(
    {"SR", "KO", "PR", "SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "REG", "DOC", "FID", "PLAN"}
)

_OBLIQUE_LIMIT = 0.8  # |normal component| below this on every axis: oblique (about 37 degrees)


@dataclass(frozen=True)
class SeriesFacts:
    """What hanging needs of a series: index columns (modality, description, number, the first
    image's orientation) and one header's Body Part Examined, Image Type, (Image) Laterality
    and View Position."""

    series_instance_uid: str
    modality: str
    series_description: str = ""
    series_number: int | None = None
    orientation: Orientation | None = None
    body_part: str = ""
    image_type: tuple[str, ...] = ()
    laterality: str = ""
    view_position: str = ""
    instances: int = 0

    @property
    def has_images(self) -> bool:
        return self.modality.upper() not in NON_IMAGE_MODALITIES


@dataclass(frozen=True)
class StudyFacts:
    """A study as hanging sees it; `series` in series order."""

    study_instance_uid: str
    patient_id: str
    study_date: str  # 'YYYYMMDD'
    study_time: str
    study_description: str
    series: tuple[SeriesFacts, ...]

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(sorted({s.modality for s in self.series if s.modality}))


@dataclass(frozen=True)
class ViewportAssignment:
    """A viewport of a stage: the series it shows (None: empty) of which study (0 current, n
    the n-th prior)."""

    index: int  # 0-based, in layout order
    study: int
    study_instance_uid: str | None
    series_instance_uid: str | None


@dataclass(frozen=True)
class StageAssignment:
    """A stage with its layout, a viewport assignment per cell and its sync groups."""

    stage: Stage
    viewports: tuple[ViewportAssignment, ...]

    @property
    def filled(self) -> int:
        return sum(v.series_instance_uid is not None for v in self.viewports)


@dataclass(frozen=True)
class Hanging:
    """The chosen protocol (None: none matched), its score, the scores of every protocol
    considered (None: a required rule failed) and the stages with their assignments."""

    protocol: HangingProtocol | None
    score: float
    stages: tuple[StageAssignment, ...]
    scores: tuple[tuple[str, float | None], ...] = ()


def orientation_of(iop: Sequence[float] | None) -> Orientation | None:
    """The plane of Image Orientation (Patient) (row and column direction cosines, LPS): the
    axis the normal is nearest to, or OBLIQUE when no axis is within about 37 degrees."""
    if iop is None or len(iop) != 6:
        return None
    rx, ry, rz, cx, cy, cz = (float(v) for v in iop)
    normal = (ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx)
    size = sum(c * c for c in normal) ** 0.5
    if size < 1e-6:
        return None
    axis = max(range(3), key=lambda i: abs(normal[i]))
    if abs(normal[axis]) / size < _OBLIQUE_LIMIT:
        return Orientation.OBLIQUE
    return (Orientation.SAGITTAL, Orientation.CORONAL, Orientation.AXIAL)[axis]


def rule_holds(rule: MatchRule, study: StudyFacts, priors: int) -> bool:
    """Whether a matching rule holds for `study` with `priors` relevant priors."""
    if rule.attribute is MatchAttribute.PRIORS:
        return priors >= rule.at_least
    if rule.attribute is MatchAttribute.STUDY_DESCRIPTION:
        values: list[str] = [study.study_description]
    elif rule.attribute is MatchAttribute.MODALITY:
        values = [s.modality for s in study.series if s.has_images]
    elif rule.attribute is MatchAttribute.BODY_PART:
        values = [s.body_part for s in study.series if s.body_part]
    else:
        values = [s.laterality for s in study.series if s.laterality]
    return any(matches(rule.patterns, v) for v in values)


def score(protocol: HangingProtocol, study: StudyFacts, priors: int) -> float | None:
    """The protocol's score for `study`: the sum of the weights of the rules that hold; None
    when a required rule fails."""
    total = 0.0
    for rule in protocol.rules:
        if rule_holds(rule, study, priors):
            total += rule.weight
        elif rule.required:
            return None
    return total


def series_fits(rule: ViewportRule, series: SeriesFacts) -> bool:
    """Whether `series` meets every criterion of a viewport rule."""
    if not series.has_images:
        return False
    if rule.modality and not matches(rule.modality, series.modality):
        return False
    if rule.series_description and not matches(rule.series_description,
                                               series.series_description):
        return False
    if rule.orientation is not None and series.orientation is not rule.orientation:
        return False
    if rule.image_type and not all(
        _image_type_holds(p, series.image_type) for p in rule.image_type
    ):
        return False
    if rule.view_position and not matches(rule.view_position, series.view_position):
        return False
    return not (rule.laterality and not matches(rule.laterality, series.laterality))


def _image_type_holds(pattern: str, values: Sequence[str]) -> bool:
    """'X' holds when a value of Image Type matches X; '!X' when none does."""
    if pattern.startswith("!"):
        return not any(matches((pattern[1:],), v) for v in values)
    return any(matches((pattern,), v) for v in values)


def assign_stage(stage: Stage, studies: Sequence[StudyFacts]) -> StageAssignment:
    """The series of `studies` (0 the current study, then the priors newest first) in the
    viewports of `stage` (see the module docstring)."""
    used: set[str] = set()
    cells = []
    for index, rule in enumerate(stage.viewports):
        if rule is None or rule.study >= len(studies):
            cells.append(ViewportAssignment(index, rule.study if rule else 0, None, None))
            continue
        study = studies[rule.study]
        chosen = next(
            (s for s in study.series
             if s.series_instance_uid not in used and series_fits(rule, s)),
            None,
        )
        if chosen is not None:
            used.add(chosen.series_instance_uid)
        cells.append(ViewportAssignment(
            index, rule.study, study.study_instance_uid,
            None if chosen is None else chosen.series_instance_uid,
        ))
    return StageAssignment(stage, tuple(cells))


def apply_protocol(
    protocol: HangingProtocol, study: StudyFacts, priors: Sequence[StudyFacts]
) -> tuple[StageAssignment, ...]:
    """Every stage of `protocol` assigned for `study` and its `priors` (newest first)."""
    studies = (study, *priors)
    return tuple(assign_stage(stage, studies) for stage in protocol.stages)


def hang(
    study: StudyFacts, priors: Sequence[StudyFacts], protocols: Sequence[HangingProtocol]
) -> Hanging:
    """Hang `study` with its relevant `priors` (newest first) by the best-scoring of
    `protocols` (see the module docstring). Pure: nothing is read or loaded."""
    scores: list[tuple[str, float | None]] = []
    best: tuple[float, int] | None = None
    chosen: tuple[HangingProtocol, tuple[StageAssignment, ...]] | None = None
    # by name, so that of equals the first name wins whatever order the caller gives
    for protocol in sorted(protocols, key=lambda p: (p.name.casefold(), p.source)):
        value = score(protocol, study, len(priors))
        scores.append((protocol.name, value))
        if value is None or value <= 0:
            continue
        stages = apply_protocol(protocol, study, priors)
        if not any(stage.filled for stage in stages):
            continue  # its rules match the study but none of its series: it would show nothing
        key = (value, stages[0].filled)  # higher score, then more viewports filled at first
        if best is None or key > best:
            best, chosen = key, (protocol, stages)
    if chosen is None or best is None:
        return Hanging(None, 0.0, (), tuple(scores))
    return Hanging(chosen[0], best[0], chosen[1], tuple(scores))
