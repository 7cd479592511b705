"""The findings of archive studies as the browser reads them (viewer.quality.store_view): real
files written by our demo writer, damaged with pydicom, imported into a real archive and
validated with dciodvfy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from viewer.archive import importer
from viewer.archive.archive import Archive
from viewer.dicom.demo import write_ct_series
from viewer.jobs import CancelToken
from viewer.quality.store_view import (
    FindingCounts,
    ImportValidator,
    instance_findings,
    series_counts,
    study_counts,
    study_report,
    validate_stored,
)

CLEAN = "1.2.826.0.1.3680043.8.498.7001"
DAMAGED = "1.2.826.0.1.3680043.8.498.7002"


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    clean = write_ct_series(tmp_path / "clean", slices=4, rows=32, columns=32, study_uid=CLEAN)
    damaged = write_ct_series(tmp_path / "bad", slices=4, rows=32, columns=32, study_uid=DAMAGED,
                              patient_name="BAD^STUDY", patient_id="B1")
    ds = pydicom.dcmread(damaged[1])
    del ds.PixelSpacing  # Type 1 of the Image Plane module: an error, and lengths in pixels
    ds.save_as(damaged[1])
    with Archive(tmp_path / "archive") as opened:
        importer.import_paths(opened, [*clean, *damaged])
        yield opened


def test_pending_until_validated_then_counted(archive: Archive) -> None:
    assert study_counts(archive, [CLEAN, DAMAGED]) == {
        CLEAN: FindingCounts(0, 0, True), DAMAGED: FindingCounts(0, 0, True)}
    assert not study_report(archive, DAMAGED).files
    done: list[str] = []
    validate_stored(archive, [CLEAN, DAMAGED], on_study=done.append)
    assert done == [CLEAN, DAMAGED]
    counts = study_counts(archive, [CLEAN, DAMAGED])
    assert counts[CLEAN] == FindingCounts(0, 0, False)
    assert counts[DAMAGED].errors >= 1 and not counts[DAMAGED].pending
    assert counts[DAMAGED].warnings >= 1  # the series' pixel-spacing finding
    report = study_report(archive, DAMAGED)
    assert len(report.files) == 4
    damaged = [r for r in report.files if r.findings]
    assert len(damaged) == 1
    assert [f.keyword for f in instance_findings(archive, damaged[0].sop_instance_uid)] == [
        "PixelSpacing"]
    (series_uid, per_series), = series_counts(archive, DAMAGED).items()
    assert per_series == counts[DAMAGED]
    assert series_uid == archive.index.series(DAMAGED)[0].series_instance_uid


def test_cancelled_validation_keeps_nothing_partial(archive: Archive) -> None:
    cancel = CancelToken()
    cancel.cancel()
    validate_stored(archive, [DAMAGED], cancel)
    assert study_counts(archive, [DAMAGED])[DAMAGED].pending


def test_import_validator_runs_on_its_own_thread(archive: Archive) -> None:
    seen: list[tuple[str, str]] = []
    finished = threading.Event()

    def on_study(uid: str) -> None:
        seen.append((uid, threading.current_thread().name))
        if len(seen) == 2:
            finished.set()

    validator = ImportValidator(archive, on_study)
    validator.queue([DAMAGED, CLEAN, DAMAGED])  # a study queued twice is validated once
    assert finished.wait(60)
    validator.stop()
    assert [uid for uid, _ in seen] == [DAMAGED, CLEAN]
    assert {name for _, name in seen} == {"import-validator"}
    assert validator.idle()
    assert study_counts(archive, [DAMAGED])[DAMAGED].errors >= 1
