"""C-FIND SCU (PS3.4 C.4.1): query a PACS at patient, study, series or image level, in the
Patient Root or Study Root information model.

The request identifier is built with pydicom from DICOM keywords: the caller's matching keys
(wildcards `*` and `?`, date and time ranges "20240101-20240131", PS3.4 C.2.2.2) plus the level's
return keys (an empty value asks the peer to return that attribute). Text outside ASCII is sent in
UTF-8 (Specific Character Set "ISO_IR 192", PS3.5 6.1.2.5.3); every answer is decoded with its
own Specific Character Set through `viewer.dicom.text`, so a name stored as GB18030 or UTF-8
comes back right whatever the peer answers in.

Errors: a peer that cannot be reached, aborts, times out or answers with a Failure status raises
PeerError (the results received before a failure are lost with it: a failed C-FIND has no
trustworthy partial answer). A Cancel status (after our C-CANCEL) is a report with `cancelled`.
A pending answer whose identifier cannot be decoded is left out and counted in `lost`, with a
warning naming the match; text that is not valid in its character set is shown with
replacement characters, with a warning naming the match and the attribute (never the value).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.valuerep import PersonName
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)
from pynetdicom.status import code_to_category

from viewer.config import Node
from viewer.dicom.text import decoded_values, person_name_text, person_name_value
from viewer.jobs import CancelToken
from viewer.net.association import Local, PeerError, associated, describe

LOGGER = logging.getLogger(__name__)

UTF8 = "ISO_IR 192"


class QueryLevel(Enum):
    """Query/Retrieve Level (0008,0052), PS3.4 C.4.1.1.3.1."""

    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"

    @classmethod
    def of(cls, value: QueryLevel | str) -> QueryLevel:
        """`value` as a level ("study", "IMAGE" ...); ValueError naming the argument."""
        if isinstance(value, QueryLevel):
            return value
        try:
            return cls(str(value).upper())
        except ValueError:
            raise ValueError(
                f"level must be one of patient, study, series, image; not {value!r}"
            ) from None


class InformationModel(Enum):
    """The Query/Retrieve information models (PS3.4 C.6.1 and C.6.2)."""

    PATIENT_ROOT = "patient"
    STUDY_ROOT = "study"

    @classmethod
    def of(cls, value: InformationModel | str) -> InformationModel:
        """`value` as a model ("patient" or "study"); ValueError naming the argument."""
        if isinstance(value, InformationModel):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(f"model must be 'patient' or 'study', not {value!r}") from None

    @property
    def find_sop_class(self) -> str:
        if self is InformationModel.PATIENT_ROOT:
            return str(PatientRootQueryRetrieveInformationModelFind)
        return str(StudyRootQueryRetrieveInformationModelFind)


_PATIENT_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")
_STUDY_KEYS = (
    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyDescription", "AccessionNumber",
    "StudyID", "ReferringPhysicianName", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
_SERIES_KEYS = (
    "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription", "SeriesDate",
    "BodyPartExamined", "NumberOfSeriesRelatedInstances",
)
_IMAGE_KEYS = ("SOPInstanceUID", "SOPClassUID", "InstanceNumber")


def default_keys(level: QueryLevel | str, model: InformationModel | str) -> tuple[str, ...]:
    """The return keys asked for at `level` in `model` when the caller names none.

    Hierarchical queries (PS3.4 C.4.1.2.1) carry the unique keys of the levels above; only the
    Study Root model has the patient's attributes at study level (C.6.2.1), so a Patient Root
    study query asks for PatientID alone there.
    """
    level, model = QueryLevel.of(level), InformationModel.of(model)
    if level is QueryLevel.PATIENT:
        return (*_PATIENT_KEYS, "NumberOfPatientRelatedStudies")
    upper: tuple[str, ...] = (
        _PATIENT_KEYS if model is InformationModel.STUDY_ROOT else ("PatientID",)
    )
    if level is QueryLevel.STUDY:
        return (*upper, *_STUDY_KEYS)
    if level is QueryLevel.SERIES:
        return ("StudyInstanceUID", *_SERIES_KEYS)
    return ("StudyInstanceUID", "SeriesInstanceUID", *_IMAGE_KEYS)


Value = str | int | float | tuple[str, ...]


@dataclass(frozen=True)
class FindResult:
    """One match: DICOM keyword -> value, decoded with the answer's character set.

    Person names are in DICOM form ("Family^Given=Ideographic"); text of an attribute whose VM
    allows several values (ModalitiesInStudy) is always a tuple;
    IS/US/UL values are ints, DS/FL/FD floats, everything else text ("" when the peer returned
    the key empty). `warnings` name elements whose bytes were not valid in their character set.
    """

    level: QueryLevel
    values: Mapping[str, Value]
    warnings: tuple[str, ...] = ()

    def get(self, keyword: str, default: str = "") -> Value:
        return self.values.get(keyword, default)

    def text(self, keyword: str) -> str:
        """The value for a table cell: person names formatted, multiple values joined by '\\'."""
        value = self.values.get(keyword, "")
        if isinstance(value, tuple):
            return "\\".join(value)
        if keyword in _PERSON_NAME_KEYWORDS:
            return person_name_text(str(value))
        return str(value)

    def as_json(self) -> dict[str, Any]:
        """DICOM keywords as keys (CLI.md); person names as decoded text, tuples as lists."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.values.items()}


@dataclass(frozen=True)
class FindReport:
    """What a C-FIND returned: the matches in the order received, the final status (0x0000
    success, 0xFE00 cancelled) and how long it took; `lost`: pending answers whose identifier
    could not be decoded (left out of `results`)."""

    peer: str
    level: QueryLevel
    model: InformationModel
    results: tuple[FindResult, ...]
    status: int
    cancelled: bool = False
    seconds: float = 0.0
    warnings: tuple[str, ...] = field(default=())  # "match N: Keyword: what was wrong"
    lost: int = 0


def find(
    node: Node,
    local: Local,
    level: QueryLevel | str,
    keys: Mapping[str, str | None] | None = None,
    model: InformationModel | str = "study",
    return_keys: Iterable[str] | None = None,
    cancel: CancelToken | None = None,
) -> FindReport:
    """C-FIND `node` at `level` (PS3.4 C.4.1) in the Patient Root or Study Root `model`.

    `keys`: DICOM keyword -> matching value (wildcards, ranges; "" or None: return the key).
    `return_keys`: the attributes to return besides `keys` (default: `default_keys(level,
    model)`). `cancel`: checked between matches; when set, C-CANCEL is sent and the report
    holds the matches received so far with `cancelled`. Raises ValueError for a bad keyword,
    level or model (Study Root has no patient level), PeerError for a peer-level failure.
    """
    level, model = QueryLevel.of(level), InformationModel.of(model)
    if level is QueryLevel.PATIENT and model is InformationModel.STUDY_ROOT:
        raise ValueError("level patient needs model patient: Study Root has no patient level")
    identifier = build_identifier(
        level, keys or {}, default_keys(level, model) if return_keys is None else return_keys
    )
    peer = describe(node)
    started = time.perf_counter()
    sop_class = model.find_sop_class
    results: list[FindResult] = []
    tally = MatchTally()
    cancelled = False
    status = -1
    with associated(node, local, [build_context(sop_class)]) as assoc:
        responses = assoc.send_c_find(identifier, sop_class, msg_id=1)
        for answer, matched in responses:
            if "Status" not in answer:
                raise PeerError(peer, "no answer to C-FIND (time-out or aborted)")
            status = int(answer.Status)
            category = code_to_category(status)
            if category == "Pending":
                if not tally.is_new_match(answer, matched):
                    continue
                if matched is not None:
                    result = decoded_result(level, matched)
                    results.append(result)
                    tally.warn(result.warnings)
                if cancel is not None and cancel.cancelled and not cancelled:
                    assoc.send_c_cancel(1, query_model=sop_class)
                    cancelled = True
                continue
            if category == "Failure":
                raise PeerError(peer, f"C-FIND failed: {status_text(answer)}")
            break  # Success, Warning or Cancel: the last response
    if status < 0:
        raise PeerError(peer, "no final C-FIND response")
    LOGGER.info("C-FIND %s at %s level: %d match(es), status 0x%04X", peer, level.value,
                tally.matches, status)
    return FindReport(
        peer, level, model, tuple(results), status, cancelled or status == 0xFE00,
        time.perf_counter() - started, tuple(tally.warnings), tally.lost,
    )


class MatchTally:
    """C-FIND matches (Pending answers) counted as they come, with their warnings ("match N:
    ...") and the answers whose identifier could not be decoded (`lost`). pynetdicom yields
    such an answer twice, both times without the identifier: it is counted once."""

    def __init__(self) -> None:
        self.matches = 0
        self.lost = 0
        self.warnings: list[str] = []
        self._previous: Dataset | None = None

    def is_new_match(self, status: Dataset, identifier: Dataset | None) -> bool:
        """Count a Pending answer; False for pynetdicom's repeat of an undecodable one."""
        repeated, self._previous = status is self._previous, status
        if repeated and identifier is None:
            return False
        self.matches += 1
        if identifier is None:
            self.lost += 1
            self.warn(["the identifier could not be decoded; left out"])
        return True

    def warn(self, warnings: Iterable[str]) -> None:
        """Warnings about the current match."""
        self.warnings += [f"match {self.matches}: {w}" for w in warnings]


def status_text(answer: Dataset) -> str:
    """A DIMSE status as "status 0xA700 (Failure): comment" (PS3.7 C)."""
    status = int(answer.Status)
    text = f"status 0x{status:04X} ({code_to_category(status)})"
    comment = str(answer.get("ErrorComment", "") or "").strip()
    return f"{text}: {comment}" if comment else text


def build_identifier(
    level: QueryLevel, keys: Mapping[str, str | None], return_keys: Iterable[str]
) -> Dataset:
    """The C-FIND request identifier (PS3.4 C.4.1.1.3): QueryRetrieveLevel, the matching keys
    and the return keys (empty). Non-ASCII text sets Specific Character Set to UTF-8.
    Raises ValueError naming a keyword pydicom does not know."""
    ds = Dataset()
    values = {**dict.fromkeys(return_keys, None), **keys}
    if any(isinstance(v, str) and not v.isascii() for v in values.values()):
        ds.SpecificCharacterSet = UTF8
    ds.QueryRetrieveLevel = level.value
    for keyword, value in values.items():
        if keyword in ("QueryRetrieveLevel", "SpecificCharacterSet"):
            continue
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise ValueError(f"keys: {keyword!r} is not a DICOM keyword")
        vr = dictionary_VR(tag)
        if vr == "SQ":
            setattr(ds, keyword, DicomSequence([]))
        elif value is None or value == "":
            setattr(ds, keyword, None)
        elif vr in _BINARY_INT_VRS:
            try:
                setattr(ds, keyword, int(value))
            except ValueError:
                raise ValueError(f"keys: {keyword} needs a number, not {value!r}") from None
        else:
            setattr(ds, keyword, value)
    return ds


_BINARY_INT_VRS = {"US", "UL", "SS", "SL", "UV", "SV"}
_PERSON_NAME_KEYWORDS = {"PatientName", "ReferringPhysicianName", "PerformingPhysicianName",
                         "NameOfPhysiciansReadingStudy", "OperatorsName"}
_SKIPPED = {"QueryRetrieveLevel", "SpecificCharacterSet"}


def decoded_result(level: QueryLevel, identifier: Dataset) -> FindResult:
    """A response identifier as a FindResult, text decoded with its own character set."""
    keywords = [
        keyword for tag in identifier.keys()
        if (keyword := keyword_for_tag(tag)) and keyword not in _SKIPPED
    ]
    values, warnings = decoded_values(identifier, keywords)
    converted: dict[str, Value] = {}
    for keyword in keywords:
        if keyword not in values:
            continue
        value = _plain(values[keyword])
        if value is None:
            continue
        if isinstance(value, str) and dictionary_VM(keyword) != "1":
            # one value of a multi-valued attribute (ModalitiesInStudy "CT"): a tuple still
            value = (value,) if value else ()
        converted[keyword] = value
    return FindResult(level, converted, tuple(warnings))


def _plain(value: Any) -> Value | None:
    """A decoded pydicom value as a JSON-friendly Python value (None: not representable)."""
    if value is None:
        return ""
    if isinstance(value, DicomSequence):
        return None
    if isinstance(value, MultiValue | list | tuple):
        return tuple(_one_text(v) for v in value)
    if isinstance(value, PersonName):
        return person_name_value(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return None
    return str(value).strip()


def _one_text(value: Any) -> str:
    if isinstance(value, PersonName):
        return person_name_value(value)
    return str(value).strip()
