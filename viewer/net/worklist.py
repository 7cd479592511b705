"""Modality worklist query (PS3.4 K.6, Modality Worklist Information Model - FIND).

A worklist item is a Scheduled Procedure Step: who (patient), what (requested procedure,
accession number, Study Instance UID to use) and where/when (station AE title, modality, start
date and time). Matching keys that belong to the step (Modality, ScheduledStationAETitle,
ScheduledProcedureStepStartDate ...) go inside the Scheduled Procedure Step Sequence item, as
PS3.4 K.6.1.2 requires; the others at the top level. Answers are decoded per their own Specific
Character Set (viewer.dicom.text), so Chinese names read right whatever the peer sends; text
not valid in it is shown with replacement characters and a warning naming the match and the
attribute. An answer whose identifier cannot be decoded is left out and counted (`lost`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from viewer.config import Node
from viewer.dicom import text
from viewer.net.association import Local, PeerError, associated, describe
from viewer.net.query import MatchTally

LOGGER = logging.getLogger(__name__)

# Keys that live in the Scheduled Procedure Step Sequence item (PS3.4 table K.6-1).
STEP_KEYS = (
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "Modality",
    "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepDescription",
    "ScheduledStationName",
    "ScheduledProcedureStepLocation",
    "ScheduledProcedureStepID",
    "ScheduledProcedureStepStatus",
)
# Keys at the top level that every query asks back (empty = return key).
TOP_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "StudyInstanceUID",
    "ReferringPhysicianName",
    "AdmissionID",
)


@dataclass(frozen=True)
class WorklistItem:
    """One scheduled procedure step, text decoded."""

    patient_name: str
    patient_id: str
    patient_birth_date: str
    patient_sex: str
    accession_number: str
    requested_procedure_id: str
    requested_procedure_description: str
    study_instance_uid: str
    referring_physician_name: str
    station_ae_title: str
    modality: str
    start_date: str
    start_time: str
    step_id: str
    step_description: str
    performing_physician_name: str
    warnings: tuple[str, ...] = ()
    # The answer as received, text decoded with its own Specific Character Set (which it
    # keeps): what the order's attributes are copied from (DICOMization, MPPS)
    identifier: Dataset | None = field(default=None, compare=False, repr=False)
    # the answer's Specific Character Set (terms joined by "\\"): what DICOMization writes
    # the item's text in, so that a name keeps its source's encoding
    specific_character_set: str = ""

    def as_json(self) -> dict[str, str]:
        """DICOM keywords as keys (CLI.md)."""
        return {
            "PatientName": self.patient_name,
            "PatientID": self.patient_id,
            "PatientBirthDate": self.patient_birth_date,
            "PatientSex": self.patient_sex,
            "AccessionNumber": self.accession_number,
            "RequestedProcedureID": self.requested_procedure_id,
            "RequestedProcedureDescription": self.requested_procedure_description,
            "StudyInstanceUID": self.study_instance_uid,
            "ReferringPhysicianName": self.referring_physician_name,
            "ScheduledStationAETitle": self.station_ae_title,
            "Modality": self.modality,
            "ScheduledProcedureStepStartDate": self.start_date,
            "ScheduledProcedureStepStartTime": self.start_time,
            "ScheduledProcedureStepID": self.step_id,
            "ScheduledProcedureStepDescription": self.step_description,
            "ScheduledPerformingPhysicianName": self.performing_physician_name,
        }


class QueryKeyError(ValueError):
    """A matching key that is not a DICOM keyword usable here; the message names it."""


def worklist_identifier(keys: Mapping[str, str]) -> Dataset:
    """The C-FIND identifier for `keys` (DICOM keyword -> matching value; "" asks it back)."""
    ds = Dataset()
    step = Dataset()
    for keyword in TOP_KEYS:
        setattr(ds, keyword, "")
    for keyword in STEP_KEYS:
        setattr(step, keyword, "")
    for keyword, value in keys.items():
        if tag_for_keyword(keyword) is None:
            raise QueryKeyError(f"{keyword!r} is not a DICOM keyword")
        if dictionary_VR(keyword) == "SQ":
            raise QueryKeyError(f"{keyword} is a sequence: give the keys inside it")
        setattr(step if keyword in STEP_KEYS else ds, keyword, value)
    ds.ScheduledProcedureStepSequence = [step]
    if any(not v.isascii() for v in keys.values()):
        # UTF-8 can carry any name; the peer answers in its own character set, decoded below
        ds.SpecificCharacterSet = "ISO_IR 192"
    return ds


@dataclass(frozen=True)
class WorklistReport:
    """What a worklist query returned: the items in the order received, warnings ("match N:
    Keyword: what was wrong", never the value) and the answers that could not be decoded."""

    peer: str
    items: tuple[WorklistItem, ...]
    warnings: tuple[str, ...] = ()
    lost: int = 0


def query_worklist(node: Node, local: Local, keys: Mapping[str, str]) -> WorklistReport:
    """The scheduled procedure steps `node` holds matching `keys`. Raises PeerError when the
    node cannot be reached or answers with a failure status, QueryKeyError for a bad key."""
    identifier = worklist_identifier(keys)
    context = build_context(ModalityWorklistInformationFind)
    items: list[WorklistItem] = []
    tally = MatchTally()
    peer = describe(node)
    with associated(node, local, [context]) as assoc:
        for status, answer in assoc.send_c_find(identifier, ModalityWorklistInformationFind):
            if "Status" not in status:
                raise PeerError(peer, "no answer to the worklist query (time-out or aborted)")
            code = int(status.Status)
            if code in (0xFF00, 0xFF01):
                if tally.is_new_match(status, answer) and answer is not None:
                    item = _item(answer)
                    items.append(item)
                    tally.warn(item.warnings)
            elif code == 0x0000:
                break
            else:
                comment = str(status.get("ErrorComment", "")).strip()
                raise PeerError(peer, f"worklist query failed with status 0x{code:04X}"
                                      f"{': ' + comment if comment else ''}")
    return WorklistReport(peer, tuple(items), tuple(tally.warnings), tally.lost)


def item_by_accession(node: Node, local: Local, accession_number: str,
                      step_id: str = "") -> WorklistItem:
    """The one scheduled procedure step of `accession_number` (and Scheduled Procedure Step ID
    `step_id`, when given) on `node`. LookupError naming the node and the accession when there
    is none, or several (one is not guessed); PeerError as query_worklist."""
    if not accession_number or any(c in accession_number for c in "*?\\"):
        raise LookupError(f"{accession_number!r}: an accession number, without wildcards")
    report = query_worklist(node, local, {"AccessionNumber": accession_number})
    items = [i for i in report.items if i.accession_number == accession_number
             and (not step_id or i.step_id == step_id)]
    if not items:
        step = f" and scheduled step {step_id}" if step_id else ""
        raise LookupError(f"{report.peer}: no worklist item has accession number "
                          f"{accession_number}{step}")
    if len(items) > 1:
        steps = ", ".join(i.step_id or "(no step ID)" for i in items)
        raise LookupError(f"{report.peer}: accession number {accession_number} has "
                          f"{len(items)} scheduled steps ({steps}): name one")
    return items[0]


def _item(answer: Dataset) -> WorklistItem:
    decoded, warnings = text.decoded_dataset(answer, None)
    steps = decoded.get("ScheduledProcedureStepSequence") or [Dataset()]
    step = steps[0]

    def value(ds: Dataset, keyword: str) -> str:
        raw: Any = ds.get(keyword, "")
        if raw is None:
            return ""
        if dictionary_VR(keyword) == "PN":
            return text.person_name_value(raw)
        if isinstance(raw, list | tuple):  # multi-valued (a station may do two modalities)
            return "\\".join(str(v) for v in raw)
        return str(raw).strip()

    return WorklistItem(
        patient_name=value(decoded, "PatientName"),
        patient_id=value(decoded, "PatientID"),
        patient_birth_date=value(decoded, "PatientBirthDate"),
        patient_sex=value(decoded, "PatientSex"),
        accession_number=value(decoded, "AccessionNumber"),
        requested_procedure_id=value(decoded, "RequestedProcedureID"),
        requested_procedure_description=value(decoded, "RequestedProcedureDescription"),
        study_instance_uid=value(decoded, "StudyInstanceUID"),
        referring_physician_name=value(decoded, "ReferringPhysicianName"),
        station_ae_title=value(step, "ScheduledStationAETitle"),
        modality=value(step, "Modality"),
        start_date=value(step, "ScheduledProcedureStepStartDate"),
        start_time=value(step, "ScheduledProcedureStepStartTime"),
        step_id=value(step, "ScheduledProcedureStepID"),
        step_description=value(step, "ScheduledProcedureStepDescription"),
        performing_physician_name=value(step, "ScheduledPerformingPhysicianName"),
        warnings=tuple(warnings),
        identifier=decoded,
        specific_character_set="\\".join(_charset_terms(answer.get("SpecificCharacterSet"))),
    )


def _charset_terms(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(term) for term in value]
