"""Priors: the patient's earlier studies that a reader compares with the current one.

Relevance (`is_relevant`), the same for the archive and for a PACS:
- the same Patient ID (exactly; a study without a Patient ID has no priors), a different study;
- earlier: its Study Date and Time before the current study's (a study without a date is
  neither current nor prior to anything);
- an imaging modality in common (SR, KO, PR, SEG, RT objects do not count; CR and DX count as
  one, as do PT and NM: a department moving from one to the other still compares them);
- the same anatomy when both studies name one: regions (chest, head, abdomen, pelvis, spine,
  neck, breast, extremity) are recognised by words of the study and series descriptions; when
  either study names no region, the modality alone decides.

`relevant_priors(index, study_uid)` lists them from the archive, newest first.
`fetch_newest_prior(...)` asks a PACS for the patient's studies (C-FIND), and retrieves the
newest relevant prior when the archive does not hold it yet: a blocking function with a
CancelToken, for a worker thread.
`paired_slice(...)` scrolls a prior with the current series by a fixed offset.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from viewer.archive.archive import Archive
from viewer.archive.index import Index
from viewer.archive.records import StudyRow
from viewer.config import Node, Settings
from viewer.jobs import Cancelled, CancelToken
from viewer.reading.hanging import NON_IMAGE_MODALITIES

if TYPE_CHECKING:  # pynetdicom is imported by the function that talks to a PACS, not here
    from viewer.net.association import Local
    from viewer.net.query import FindResult
    from viewer.net.retrieve import RetrieveProgressCallback, RetrieveReport

LOGGER = logging.getLogger(__name__)

# Modalities a reader compares with each other (a family per modality; others: itself).
_FAMILY = {"DX": "CR", "PT": "NM"}

# Words of descriptions and Body Part Examined values naming a region (PS3.16 CID 4031 terms
# and what technologists type). A word matches when it starts with one of the stems.
REGIONS: dict[str, tuple[str, ...]] = {
    "chest": ("chest", "thora", "lung", "pulm", "cxr", "ctpa", "heart", "cardi", "corona"),
    "head": ("head", "brain", "skull", "cran", "cereb", "neuro", "sella", "orbit"),
    "abdomen": ("abd", "liver", "hepat", "pancrea", "kidney", "renal", "bowel", "colon"),
    "pelvis": ("pelv", "prostat", "bladder", "uter", "ovar", "hip"),
    "spine": ("spine", "spinal", "cspine", "lspine", "tspine", "lumb", "sacr", "vertebr"),
    "neck": ("neck", "thyro", "larynx", "pharyn", "carotid"),
    "breast": ("breast", "mamm"),
    "extremity": ("knee", "shoulder", "ankle", "wrist", "hand", "foot", "elbow", "femur",
                  "tibia", "humer", "forearm", "leg", "arm"),
}
_WORD = re.compile(r"[^\W_]+")


def regions_of(texts: Iterable[str]) -> frozenset[str]:
    """The regions named by words of `texts` (descriptions, Body Part Examined values)."""
    found: set[str] = set()
    for text in texts:
        for word in _WORD.findall(text.casefold()):
            found.update(
                region for region, stems in REGIONS.items()
                if any(word.startswith(stem) for stem in stems)
            )
    return frozenset(found)


def _families(modalities: Iterable[str]) -> frozenset[str]:
    return frozenset(
        _FAMILY.get(m, m) for m in (m.strip().upper() for m in modalities)
        if m and m not in NON_IMAGE_MODALITIES
    )


@dataclass(frozen=True)
class StudySummary:
    """What relevance looks at: a study's identity, date and time, modalities and the regions
    its descriptions name."""

    study_instance_uid: str
    patient_id: str
    study_date: str
    study_time: str
    modalities: tuple[str, ...]
    regions: frozenset[str]
    study_description: str = ""

    @property
    def when(self) -> tuple[str, str]:
        """Sortable date and time (TM without fraction, padded)."""
        return self.study_date, self.study_time.split(".")[0].ljust(6, "0")


def is_earlier(current: StudySummary, candidate: StudySummary) -> bool:
    """Whether `candidate` is another, earlier study of the same patient (a prior, relevant
    or not)."""
    if (not current.patient_id or candidate.patient_id != current.patient_id
            or candidate.study_instance_uid == current.study_instance_uid):
        return False
    return bool(current.study_date and candidate.study_date and candidate.when < current.when)


def is_relevant(current: StudySummary, candidate: StudySummary) -> bool:
    """Whether `candidate` is a relevant prior of `current` (see the module docstring)."""
    if not is_earlier(current, candidate):
        return False
    if not _families(current.modalities) & _families(candidate.modalities):
        return False
    if current.regions and candidate.regions:
        return bool(current.regions & candidate.regions)
    return True


def summary_of(index: Index, study: StudyRow) -> StudySummary:
    """A study of the archive as relevance sees it: its study and series descriptions."""
    descriptions = [study.study_description, *(
        s.series_description for s in index.series(study.study_instance_uid)
    )]
    return StudySummary(
        study.study_instance_uid, study.patient_id, study.study_date, study.study_time,
        study.modalities, regions_of(descriptions), study.study_description,
    )


def _same_patient(index: Index, patient_id: str) -> list[StudyRow]:
    # search_studies takes DICOM wildcards: '*' and '?' in an ID are matched exactly after
    rows = index.search_studies(patient_id=patient_id) if patient_id.strip("*") else []
    return [row for row in rows if row.patient_id == patient_id]


def relevant_priors(index: Index, study_uid: str) -> list[StudyRow]:
    """The relevant priors of study `study_uid` held by the archive, newest first (empty when
    the study is not in the archive)."""
    current = index.get_study(study_uid)
    if current is None or not current.patient_id:
        return []
    here = summary_of(index, current)
    rows = {r.study_instance_uid: r for r in _same_patient(index, current.patient_id)}
    found = [summary_of(index, row) for row in rows.values()]
    found = sorted((s for s in found if is_relevant(here, s)), key=lambda s: s.when,
                   reverse=True)
    return [rows[s.study_instance_uid] for s in found]


# --- a prior from a PACS -----------------------------------------------------------------------


@dataclass(frozen=True)
class PriorFetch:
    """What `fetch_newest_prior` did: the newest relevant prior the PACS holds (None: none),
    whether it was already in the archive, the retrieve's report when one ran, and a line
    saying what happened."""

    prior: StudySummary | None
    already_in_archive: bool
    report: RetrieveReport | None
    message: str


def _text(result: FindResult, keyword: str) -> str:
    return result.text(keyword).strip()


def _remote_summary(result: FindResult, modalities: Sequence[str]) -> StudySummary:
    description = _text(result, "StudyDescription")
    return StudySummary(
        _text(result, "StudyInstanceUID"), _text(result, "PatientID"),
        _text(result, "StudyDate"), _text(result, "StudyTime"), tuple(modalities),
        regions_of([description]), description,
    )


def _modalities(node: Node, local: Local, result: FindResult,
                cancel: CancelToken | None) -> tuple[str, ...]:
    """Modalities in Study as the PACS answered, else from a series-level C-FIND (a PACS may
    leave the study-level key empty)."""
    value = result.get("ModalitiesInStudy", "")
    listed = tuple(v for v in (value if isinstance(value, tuple) else (str(value),)) if v)
    if listed:
        return listed
    from viewer.net.query import find

    series = find(node, local, "series",
                  {"StudyInstanceUID": _text(result, "StudyInstanceUID"), "Modality": ""},
                  return_keys=("SeriesInstanceUID",), cancel=cancel)
    return tuple(sorted({_text(s, "Modality") for s in series.results} - {""}))


def fetch_newest_prior(
    node: Node,
    local: Local,
    archive: Archive,
    study_uid: str,
    via: str = "get",
    cancel: CancelToken | None = None,
    progress: RetrieveProgressCallback | None = None,
) -> PriorFetch:
    """Find the newest relevant prior of archive study `study_uid` at PACS `node` and retrieve
    it into `archive` (C-GET, or C-MOVE with `via="move"`) unless the archive holds it already.

    The PACS is asked for the patient's studies by Patient ID (C-FIND, Study Root, study
    level); relevance as in the module docstring, the current study's regions from the archive
    and the candidates' from their Study Description. Blocking: run it on a worker thread.
    `cancel` is passed to the C-FIND and the retrieve; cancelled before the retrieve starts,
    it raises `viewer.jobs.Cancelled`, during it, the report says `cancelled`. Raises
    `viewer.net.association.PeerError` when the PACS cannot be asked, ValueError for an
    unknown study or `via`.
    """
    from viewer.net.query import find
    from viewer.net.retrieve import get, move

    if via not in ("get", "move"):
        raise ValueError(f"via must be 'get' or 'move', not {via!r}")
    current_row = archive.index.get_study(study_uid)
    if current_row is None:
        raise ValueError(f"study {study_uid} is not in the archive")
    current = summary_of(archive.index, current_row)
    if not current.patient_id:
        return PriorFetch(None, False, None, "the study has no Patient ID: no priors")
    keys = {"PatientID": current.patient_id, "StudyInstanceUID": "", "StudyDate": "",
            "StudyTime": "", "StudyDescription": "", "ModalitiesInStudy": ""}
    answer = find(node, local, "study", keys, return_keys=(), cancel=cancel)
    if answer.cancelled or (cancel is not None and cancel.cancelled):
        raise Cancelled
    # newest first; stop at the first relevant one (series-level finds only when needed)
    answers = sorted(answer.results, key=lambda r: (_text(r, "StudyDate"),
                                                    _text(r, "StudyTime")), reverse=True)
    prior = None
    for result in answers:
        if not is_earlier(current, _remote_summary(result, ())):
            continue
        candidate = _remote_summary(result, _modalities(node, local, result, cancel))
        if is_relevant(current, candidate):
            prior = candidate
            break
    if cancel is not None:
        cancel.raise_if_cancelled()
    if prior is None:
        return PriorFetch(None, False, None, f"{answer.peer}: no relevant prior")
    if archive.index.get_study(prior.study_instance_uid) is not None:
        return PriorFetch(prior, True, None, f"the newest relevant prior ({prior.study_date}) "
                                             "is already in the archive")
    retrieve = get if via == "get" else move
    report = retrieve(node, local, archive, prior.study_instance_uid, progress=progress,
                      cancel=cancel)
    LOGGER.info("prior of %s: %d instance(s) retrieved from %s", prior.study_date,
                len(report.imported), report.peer)
    what = "cancelled" if report.cancelled else "retrieved" if report.ok else "retrieved in part"
    return PriorFetch(prior, False, report, f"prior of {prior.study_date} {what} from "
                                            f"{report.peer} ({len(report.imported)} imported)")


def fetch_prior_if_configured(
    settings: Settings,
    archive: Archive,
    study_uid: str,
    cancel: CancelToken | None = None,
    progress: RetrieveProgressCallback | None = None,
) -> PriorFetch | None:
    """`fetch_newest_prior` from the node the config names (`[reading] prior_node`, by
    `prior_retrieve`), as the reading window runs it on a worker thread when a study opens;
    None when no node is named."""
    if not settings.prior_node:
        return None
    from viewer.net.association import Local

    return fetch_newest_prior(
        settings.node(settings.prior_node), Local(settings.local, settings.network), archive,
        study_uid, via=settings.prior_retrieve, cancel=cancel, progress=progress,
    )


# --- scrolling a prior with the current series ---------------------------------------------------


def paired_slice(
    current_position: float, offset: float, prior_positions: Sequence[float]
) -> int | None:
    """The index of the prior's slice to show with the current slice at `current_position`
    (mm along the slice normal): the prior slice nearest to `current_position + offset`, the
    offset the reader set once for the pair (prior position minus current position). None
    when the prior has no slices or the target lies beyond its first or last slice by more
    than half its mean spacing (nothing there to compare). `prior_positions` in any order."""
    if not prior_positions:
        return None
    target = current_position + offset
    order = sorted(range(len(prior_positions)), key=lambda i: prior_positions[i])
    ordered = [prior_positions[i] for i in order]
    half = (ordered[-1] - ordered[0]) / (len(ordered) - 1) / 2 if len(ordered) > 1 else 0.5
    if target < ordered[0] - half or target > ordered[-1] + half:
        return None
    at = bisect.bisect_left(ordered, target)
    nearest = min((i for i in (at - 1, at) if 0 <= i < len(ordered)),
                  key=lambda i: (abs(ordered[i] - target), i))
    return order[nearest]
