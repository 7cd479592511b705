"""Modality Performed Procedure Step SCU (PS3.4 annex F.7): N-CREATE when a procedure starts
("IN PROGRESS"), N-SET when it ends ("COMPLETED" or "DISCONTINUED") with the series it made.

The attributes follow PS3.4 table F.7.2-1 (N-CREATE: Type 1 and 2 attributes present, empty
where unknown) and the N-SET rules of F.7.2.2 (the final state carries the Performed Series
Sequence with each series' images). The MPPS SOP Instance UID is ours (we are the SCU that
creates the instance, F.7.2.1.1) and identifies the step in the N-SET.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]

from viewer.archive.archive import Archive
from viewer.config import Node
from viewer.net.association import Local, PeerError, associated, describe
from viewer.net.worklist import WorklistItem

LOGGER = logging.getLogger(__name__)

IN_PROGRESS, COMPLETED, DISCONTINUED = "IN PROGRESS", "COMPLETED", "DISCONTINUED"


@dataclass(frozen=True)
class PerformedSeries:
    """A series made by the procedure, with its images (SOP Class UID, SOP Instance UID)."""

    series_instance_uid: str
    series_description: str = ""
    images: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PerformedStep:
    """What the N-CREATE says about a procedure step: the patient, the scheduled step it
    performs (from the worklist: accession number, requested procedure, scheduled step ID),
    where and when it was performed."""

    patient_name: str
    patient_id: str
    patient_birth_date: str = ""
    patient_sex: str = ""
    study_instance_uid: str = ""
    accession_number: str = ""
    requested_procedure_id: str = ""
    requested_procedure_description: str = ""
    scheduled_step_id: str = ""
    scheduled_step_description: str = ""
    modality: str = "OT"
    performed_step_id: str = ""
    performed_step_description: str = ""
    start: datetime.datetime = field(default_factory=datetime.datetime.now)


def step_from_archive(archive: Archive, study_uid: str, accession_number: str = "",
                      scheduled_step_id: str = "") -> PerformedStep:
    """A PerformedStep for a study in the archive (patient, study, its first modality)."""
    study = archive.index.get_study(study_uid)
    if study is None:
        raise LookupError(f"{study_uid}: no such study in the archive")
    return PerformedStep(
        patient_name=study.patient_name,
        patient_id=study.patient_id,
        patient_birth_date=study.patient_birth_date,
        patient_sex=study.patient_sex,
        study_instance_uid=study.study_instance_uid,
        accession_number=accession_number or study.accession_number,
        scheduled_step_id=scheduled_step_id,
        modality=study.modalities[0] if study.modalities else "OT",
        performed_step_description=study.study_description,
    )


def step_from_worklist(item: WorklistItem) -> PerformedStep:
    """A PerformedStep for a worklist item: its patient, its order (accession, requested
    procedure, scheduled step) and the Study Instance UID the order gives (PS3.4 F.7.2.1)."""
    return PerformedStep(
        patient_name=item.patient_name,
        patient_id=item.patient_id,
        patient_birth_date=item.patient_birth_date,
        patient_sex=item.patient_sex,
        study_instance_uid=item.study_instance_uid,
        accession_number=item.accession_number,
        requested_procedure_id=item.requested_procedure_id,
        requested_procedure_description=item.requested_procedure_description,
        scheduled_step_id=item.step_id,
        scheduled_step_description=item.step_description,
        # a station doing several modalities lists them all; the step performs the first
        modality=item.modality.split("\\")[0] or "OT",
        performed_step_description=item.step_description,
    )


def series_from_archive(archive: Archive, study_uid: str) -> list[PerformedSeries]:
    """The study's series with their images, as the N-SET of a completed step lists them."""
    performed = []
    for series in archive.index.series(study_uid):
        images = tuple(
            (row.sop_class_uid, row.sop_instance_uid)
            for row in archive.index.instances(series.series_instance_uid)
        )
        performed.append(PerformedSeries(series.series_instance_uid, series.series_description,
                                         images))
    return performed


def create_step(node: Node, local: Local, step: PerformedStep) -> str:
    """N-CREATE the step as IN PROGRESS; returns its MPPS SOP Instance UID. Raises PeerError
    when the node refuses it."""
    uid = generate_uid()
    _send(node, local, "N-CREATE", uid, _creation(step, local.node.ae_title))
    return uid


def finish_step(node: Node, local: Local, mpps_uid: str, status: str,
                series: Sequence[PerformedSeries], retrieve_ae_title: str = "") -> None:
    """N-SET the step `mpps_uid` to COMPLETED or DISCONTINUED with the series it made."""
    if status not in (COMPLETED, DISCONTINUED):
        raise ValueError(f"a step ends COMPLETED or DISCONTINUED, not {status!r}")
    now = datetime.datetime.now()
    changes = Dataset()
    changes.PerformedProcedureStepStatus = status
    changes.PerformedProcedureStepEndDate = now.strftime("%Y%m%d")
    changes.PerformedProcedureStepEndTime = now.strftime("%H%M%S")
    changes.PerformedSeriesSequence = [
        _performed_series(s, retrieve_ae_title or local.node.ae_title) for s in series
    ]
    _send(node, local, "N-SET", mpps_uid, changes)


def _creation(step: PerformedStep, station_ae_title: str) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # names in any script
    scheduled = Dataset()
    scheduled.StudyInstanceUID = step.study_instance_uid or generate_uid()
    scheduled.ReferencedStudySequence = []
    scheduled.AccessionNumber = step.accession_number
    scheduled.RequestedProcedureID = step.requested_procedure_id
    scheduled.RequestedProcedureDescription = step.requested_procedure_description
    scheduled.ScheduledProcedureStepID = step.scheduled_step_id
    scheduled.ScheduledProcedureStepDescription = step.scheduled_step_description
    scheduled.ScheduledProtocolCodeSequence = []
    ds.ScheduledStepAttributesSequence = [scheduled]
    ds.PatientName = step.patient_name
    ds.PatientID = step.patient_id
    ds.PatientBirthDate = step.patient_birth_date
    ds.PatientSex = step.patient_sex
    ds.ReferencedPatientSequence = []
    ds.PerformedProcedureStepID = step.performed_step_id or step.start.strftime("%Y%m%d%H%M%S")
    ds.PerformedStationAETitle = station_ae_title
    ds.PerformedStationName = ""
    ds.PerformedLocation = ""
    ds.PerformedProcedureStepStartDate = step.start.strftime("%Y%m%d")
    ds.PerformedProcedureStepStartTime = step.start.strftime("%H%M%S")
    ds.PerformedProcedureStepStatus = IN_PROGRESS
    ds.PerformedProcedureStepDescription = step.performed_step_description
    ds.PerformedProcedureTypeDescription = ""
    ds.ProcedureCodeSequence = []
    ds.PerformedProcedureStepEndDate = ""
    ds.PerformedProcedureStepEndTime = ""
    ds.Modality = step.modality
    ds.StudyID = ""
    ds.PerformedProtocolCodeSequence = []
    ds.PerformedSeriesSequence = []
    return ds


def _performed_series(series: PerformedSeries, retrieve_ae_title: str) -> Dataset:
    item = Dataset()
    item.PerformingPhysicianName = ""
    item.ProtocolName = series.series_description or "unknown"
    item.OperatorsName = ""
    item.SeriesInstanceUID = series.series_instance_uid
    item.SeriesDescription = series.series_description
    item.RetrieveAETitle = retrieve_ae_title
    images = []
    for sop_class, sop_instance in series.images:
        ref = Dataset()
        ref.ReferencedSOPClassUID = sop_class
        ref.ReferencedSOPInstanceUID = sop_instance
        images.append(ref)
    item.ReferencedImageSequence = images
    item.ReferencedNonImageCompositeSOPInstanceSequence = []
    return item


def _send(node: Node, local: Local, what: str, uid: str, ds: Dataset) -> None:
    peer = describe(node)
    with associated(node, local, [build_context(ModalityPerformedProcedureStep)]) as assoc:
        if what == "N-CREATE":
            status, _ = assoc.send_n_create(ds, ModalityPerformedProcedureStep, uid)
        else:
            status, _ = assoc.send_n_set(ds, ModalityPerformedProcedureStep, uid)
    if "Status" not in status:
        raise PeerError(peer, f"no answer to the MPPS {what} (time-out or aborted)")
    code = int(status.Status)
    if code & 0xF000 == 0xB000:  # a warning (attribute list error...): the step exists
        LOGGER.warning("%s: MPPS %s answered with warning 0x%04X", peer, what, code)
    elif code != 0x0000:
        comment = str(status.get("ErrorComment", "")).strip()
        raise PeerError(peer, f"MPPS {what} refused with status 0x{code:04X}"
                              f"{' (' + _MEANING[code] + ')' if code in _MEANING else ''}"
                              f"{': ' + comment if comment else ''}")


_MEANING = {  # PS3.7 annex C, the statuses an MPPS SCP gives
    0x0110: "processing failure; for an N-SET, often a step no longer IN PROGRESS",
    0x0111: "duplicate SOP instance",
    0x0112: "no such SOP instance",
    0x0116: "attribute value out of range",
    0x0117: "invalid SOP instance",
    0x0120: "missing attribute",
    0x0121: "missing attribute value",
    0x0106: "invalid attribute value",
}
