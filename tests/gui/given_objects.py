"""A folder as a radiologist gets it outside any archive: a CT series with a Segmentation, an RT
Structure Set, a TID 1500 report, a Key Object Selection and a presentation state made for it
(highdicom and viewer.reports.create_ps), for `dicom-viewer view FOLDER` (issue 17, gap 1)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from tests.dicom.overlay_objects import (
    CTSeries,
    RoiSpec,
    ct_series,
    description,
    make_rtstruct,
    make_seg,
    save,
)
from tests.reports.makers import key_object_selection, tid1500_report

SLICES, SIZE = 4, 64
LIVER = (slice(8, 28), slice(10, 30))  # rows, columns the SEG's segment 1 covers on each slice
BODY = np.array([[36.0, 36.0], [56.0, 36.0], [56.0, 56.0], [36.0, 56.0]])  # x, y: the ROI


@dataclass
class GivenFolder:
    root: Path
    ct: CTSeries
    seg: Path
    rtstruct: Path
    sr: Path
    kos: Path
    ps: Path
    sr_dataset: Dataset
    ps_dataset: Dataset


def given_folder(root: Path) -> GivenFolder:
    ct = ct_series(root / "ct", slices=SLICES, size=SIZE)
    for ds in ct.datasets:  # highdicom copies these as evidence
        ds.ReferringPhysicianName = ds.get("ReferringPhysicianName", "")
        ds.AccessionNumber = ds.get("AccessionNumber", "")
        ds.StudyID = ds.get("StudyID", "")
    labels = np.zeros((SLICES, SIZE, SIZE), dtype=np.uint8)
    labels[:, LIVER[0], LIVER[1]] = 1
    seg = save(make_seg(ct.datasets, labels, "BINARY", [description(1, "Liver", "red")]),
               root / "seg.dcm")
    rois = [RoiSpec(1, "Body", (0, 255, 0),
                    [("CLOSED_PLANAR", ct.patient(i, BODY)) for i in range(SLICES)])]
    rtstruct = save(make_rtstruct(ct.datasets, rois), root / "rtstruct.dcm")
    report = tid1500_report(ct.datasets[0])
    sr = save(report, root / "sr.dcm")
    kos = save(key_object_selection(ct.datasets[:1]), root / "kos.dcm")
    ps_dataset = _rotating_state(ct.datasets)
    ps = save(ps_dataset, root / "ps.dcm")
    return GivenFolder(root, ct, seg, rtstruct, sr, kos, ps, report, ps_dataset)


def _rotating_state(images: list[Dataset]) -> Dataset:
    """Every slice turned 90 degrees clockwise."""
    from viewer.reports.create_ps import create_presentation_state
    from viewer.reports.view_state import ViewedImage, ViewState

    return create_presentation_state([ViewedImage.of(ds) for ds in images],
                                     ViewState(rotation=90), label="GIVEN")
