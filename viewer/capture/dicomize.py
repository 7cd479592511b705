"""`dicomize_files`: the one core call of `dicom-viewer dicomize`, the browser's drop and the
worklist panel. Every file is examined first; when any is refused nothing is built or
imported (DicomizeRefused lists them all). Then each is built and imported through
`archive.importer.import_file` (durable and indexed one by one), each kind into one new series
of the order's study (VL Photographic XC, Secondary Capture OT, Encapsulated PDF DOC).
"""

from __future__ import annotations

import datetime
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from viewer.archive.archive import Archive
from viewer.archive.importer import import_file
from viewer.capture.iods import NewSeries, build
from viewer.capture.order import Order
from viewer.capture.sources import Examined, InputRefused, Kind, examine
from viewer.jobs import CancelToken, Failure, ProgressCallback, no_progress

LOGGER = logging.getLogger(__name__)

_DESCRIPTIONS = {Kind.JPEG: "Photographs", Kind.PNG: "Images", Kind.PDF: "Documents"}


class DicomizeRefused(ValueError):
    """Input files that cannot be DICOMized; nothing was imported. `refused`: each file and
    why."""

    def __init__(self, refused: Sequence[InputRefused]) -> None:
        super().__init__("; ".join(str(r) for r in refused))
        self.refused = tuple(refused)


@dataclass(frozen=True)
class CreatedInstance:
    """One instance made from one file."""

    path: str  # the source file
    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    store_path: str  # relative to the archive's store, "" when it was not stored

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "SOPInstanceUID": self.sop_instance_uid,
                "SOPClassUID": self.sop_class_uid,
                "SeriesInstanceUID": self.series_instance_uid,
                "TransferSyntaxUID": self.transfer_syntax_uid}


@dataclass
class DicomizeReport:
    """What `dicomize_files` made: the instances imported, the files whose import failed (a
    full disk), and notes (an EXIF orientation that viewers will not apply)."""

    study_instance_uid: str
    instances: list[CreatedInstance] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def examine_all(paths: Sequence[Path]) -> list[Examined]:
    """Every file examined; DicomizeRefused naming each refused one (and why)."""
    examined: list[Examined] = []
    refused: list[InputRefused] = []
    for path in paths:
        try:
            examined.append(examine(Path(path)))
        except InputRefused as exc:
            refused.append(exc)
    if refused:
        raise DicomizeRefused(refused)
    if not examined:
        raise DicomizeRefused([InputRefused(Path("."), "no file given")])
    return examined


def dicomize_files(
    paths: Sequence[Path],
    order: Order,
    archive: Archive,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> DicomizeReport:
    """DICOMize `paths` (JPEG, PNG, PDF) for `order` into `archive` (PS3.3 A.33.4, A.8.1,
    A.45.1). Raises DicomizeRefused, with nothing imported, when any file is refused. Cancel
    stops between files: what was imported stays (each instance complete)."""
    return dicomize_examined(examine_all(paths), order, archive, progress, cancel)


def dicomize_examined(
    examined: Sequence[Examined],
    order: Order,
    archive: Archive,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> DicomizeReport:
    """`dicomize_files` for files `examine_all` has accepted already (a face that showed the
    user what it will make need not decode every photo twice)."""
    report = DicomizeReport(order.study_instance_uid)
    for source in examined:
        report.warnings.extend(source.warnings)
    now = datetime.datetime.now()
    series = _new_series(archive, order.study_instance_uid, {s.kind for s in examined})
    numbers: dict[Kind, int] = {}
    for n, source in enumerate(examined, 1):
        if cancel is not None and cancel.cancelled:
            report.failed.extend(Failure(str(s.path), "not imported: cancelled")
                                 for s in examined[n - 1:])
            break
        numbers[source.kind] = numbers.get(source.kind, 0) + 1
        ds = build(source, order, series[source.kind], numbers[source.kind], now)
        label = str(source.path)
        stored = _import(archive, ds, label)
        if isinstance(stored, Failure):
            report.failed.append(stored)
        else:
            report.instances.append(CreatedInstance(
                label, str(ds.SOPInstanceUID), str(ds.SOPClassUID),
                str(ds.SeriesInstanceUID), str(ds.file_meta.TransferSyntaxUID), stored))
        progress(n, len(examined), source.path.name)
    LOGGER.info("dicomized %d of %d files", len(report.instances), len(examined))
    return report


def _new_series(archive: Archive, study_uid: str, kinds: set[Kind]) -> dict[Kind, NewSeries]:
    """One new series per kind, numbered after the series the study already has."""
    numbers = [row.series_number or 0 for row in archive.index.series(study_uid)]
    next_number = max(numbers, default=0) + 1
    series: dict[Kind, NewSeries] = {}
    for kind in (Kind.JPEG, Kind.PNG, Kind.PDF):
        if kind in kinds:
            series[kind] = NewSeries(generate_uid(), next_number, _DESCRIPTIONS[kind])
            next_number += 1
    return series


def _import(archive: Archive, ds: Dataset, label: str) -> str | Failure:
    """Write the data set into the store's work folder and import it; its store path."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    received = archive.store.receiving_file()
    try:
        received.write(buffer.getbuffer())
        report = import_file(archive, received, label)
    finally:
        received.close()
        Path(received.name).unlink(missing_ok=True)  # linked into place, or left over
    if report.stopped:
        return Failure(label, report.stopped)
    if report.failed or report.conflicts:
        return Failure(label, (report.failed or report.conflicts)[0].reason)
    row = archive.index.get_instance(str(ds.SOPInstanceUID))
    return row.store_path if row is not None else ""
