"""Hanging benchmark (issue 17's target, core part): a 6-series CT with 2 priors in an archive;
`measure_hanging` times what the reading window runs before it asks for the first image of each
viewport: loading the protocols, the study's and its priors' facts from the archive (index rows
and one header per series), the relevant priors, matching and viewport assignment.

`write_study` writes the synthetic studies (also used by the tests): small CT-like series whose
modality, description, orientation, body part and image type are chosen per series.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.uid import generate_uid

from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.dicom.demo import write_ct_series
from viewer.reading.facts import hang_archive_study
from viewer.reading.protocols import load_protocols

TARGET_S = 0.3  # issue 17: hanging a 6-series CT with 2 priors, to the first image of each

AXIAL = ("1", "0", "0", "0", "1", "0")
CORONAL = ("1", "0", "0", "0", "0", "-1")
SAGITTAL = ("0", "1", "0", "0", "0", "-1")


@dataclass(frozen=True)
class SeriesSpec:
    """One synthetic series: what hanging looks at."""

    modality: str
    description: str
    orientation: tuple[str, ...] = AXIAL
    body_part: str = "CHEST"
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "AXIAL")
    view_position: str = ""


CT_CHEST_SERIES = (
    SeriesSpec("CT", "Topogram", CORONAL, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")),
    SeriesSpec("CT", "Lung 1.0 axial"),
    SeriesSpec("CT", "Mediastinum 3.0 axial"),
    SeriesSpec("CT", "Coronal MPR", CORONAL, image_type=("DERIVED", "SECONDARY", "MPR")),
    SeriesSpec("CT", "Sagittal MPR", SAGITTAL, image_type=("DERIVED", "SECONDARY", "MPR")),
    SeriesSpec("CT", "Bone 1.0 axial"),
)


def write_study(
    folder: Path,
    series: Sequence[SeriesSpec],
    *,
    patient_id: str = "HANG0001",
    patient_name: str = "HANGING^TEST",
    study_date: str = "20261201",
    study_description: str = "CT CHEST",
    slices: int = 4,
    size: int = 16,
) -> tuple[str, list[Path]]:
    """Write a study of `series` (each `slices` images of `size` x `size`) below `folder`;
    returns its Study Instance UID and the files."""
    study_uid = generate_uid()
    files: list[Path] = []
    for number, spec in enumerate(series, start=1):
        paths = write_ct_series(
            folder / f"s{number}", slices, size, size, patient_name=patient_name,
            patient_id=patient_id, study_uid=study_uid, series_number=number,
            study_description=study_description, series_description=spec.description,
            seed=number,
        )
        for path in paths:
            ds = dcmread(path)
            ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date
            ds.Modality = spec.modality
            ds.ImageOrientationPatient = list(spec.orientation)
            ds.BodyPartExamined = spec.body_part
            ds.ImageType = list(spec.image_type)
            if spec.view_position:
                ds.ViewPosition = spec.view_position
            ds.save_as(path, enforce_file_format=True)
        files += paths
    return study_uid, files


def build_archive(root: Path, slices: int = 40, size: int = 32) -> str:
    """An archive holding a 6-series CT chest and two earlier CT chests of the same patient
    (and an unrelated MR of the patient); returns the current study's UID."""
    source = root / "source"
    current, _ = write_study(source / "now", CT_CHEST_SERIES, study_date="20261201",
                             slices=slices, size=size)
    for label, date in (("prior1", "20260601"), ("prior2", "20251201")):
        write_study(source / label, CT_CHEST_SERIES, study_date=date, slices=slices,
                    size=size)
    write_study(source / "mr", (SeriesSpec("MR", "T2 axial", body_part="BRAIN"),),
                study_date="20260901", study_description="MR BRAIN", slices=slices, size=size)
    with Archive(root / "archive") as archive:
        report = import_paths(archive, [source])
        if report.failed:
            raise RuntimeError(f"benchmark import failed: {report.failed[0]}")
    return current


def measure_hanging(passes: int = 5, slices: int = 40) -> dict[str, Any]:
    """Seconds per pass to hang the current study of `build_archive` (a fresh Archive object
    each pass, as when a study is opened), every pass and the median, against TARGET_S."""
    with tempfile.TemporaryDirectory(prefix="bench-hanging-") as tmp:
        root = Path(tmp)
        study_uid = build_archive(root, slices=slices)
        seconds = []
        chosen = ""
        filled = 0
        for _ in range(passes):
            with Archive(root / "archive") as archive:
                started = time.perf_counter()
                protocols = load_protocols().protocols
                hanging = hang_archive_study(archive, study_uid, protocols)
                seconds.append(time.perf_counter() - started)
            chosen = hanging.protocol.name if hanging.protocol else ""
            filled = hanging.stages[0].filled if hanging.stages else 0
    median = statistics.median(seconds)
    return {
        "name": "hanging a 6-series CT with 2 priors (core: protocols, facts, matching)",
        "passes_s": seconds,
        "median_s": median,
        "target_s": TARGET_S,
        "pass": median <= TARGET_S,
        "protocol": chosen,
        "first_stage_viewports_filled": filled,
    }
