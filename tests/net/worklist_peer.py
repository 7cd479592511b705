"""Worklist files for the worklist peers (Orthanc's worklists plugin, DCMTK's wlmscpfs), and
Orthanc serving them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.net.peers import LOOPBACK, OUR_AE, Orthanc, free_port, run_orthanc
from tests.peers import require_tool

ORTHANC_PLUGIN = Path("/usr/share/orthanc/plugins/libModalityWorklists.so")


def write_item(folder: Path, name: str, patient: bytes | str, charset: str, modality: str,
               station: str, date: str, accession: str) -> Path:
    """A worklist file (.wl) as both peers read them: a PS3.10 file holding one scheduled
    procedure step."""
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    ds.PatientName = patient
    ds.PatientID = f"ID-{accession}"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.AccessionNumber = accession
    ds.RequestedProcedureID = f"RP-{accession}"
    ds.RequestedProcedureDescription = "CT chest"
    ds.StudyInstanceUID = generate_uid()
    ds.ReferringPhysicianName = "WHO^REFERS"
    step = Dataset()
    step.ScheduledStationAETitle = station
    step.ScheduledProcedureStepStartDate = date
    step.ScheduledProcedureStepStartTime = "093000"
    step.Modality = modality
    step.ScheduledPerformingPhysicianName = ""
    step.ScheduledProcedureStepDescription = "chest without contrast"
    step.ScheduledProcedureStepID = f"SPS-{accession}"
    ds.ScheduledProcedureStepSequence = [step]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.31"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.wl"
    ds.save_as(path, enforce_file_format=True)
    return path


@contextlib.contextmanager
def run_orthanc_worklists(folder: Path, database: Path) -> Iterator[Orthanc]:
    """Orthanc answering worklist queries from the .wl files in `database`. Orthanc answers
    them only for modalities it knows (us, OUR_AE), and re-encodes answers in its
    DefaultEncoding (Latin-1 unless set: a Chinese name would come back as "^"), so UTF-8."""
    if not ORTHANC_PLUGIN.exists():
        require_tool("__orthanc_modality_worklists_plugin__", "orthanc")
    us = {"VIEWER": (OUR_AE, LOOPBACK, free_port())}
    with run_orthanc(folder, us, Plugins=[str(ORTHANC_PLUGIN)],
                     Worklists={"Enable": True, "Database": str(database)},
                     DefaultEncoding="Utf8") as pacs:
        yield pacs
