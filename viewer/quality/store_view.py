"""Findings of the archive's studies, as the browser asks for them: counts per study and per
series, a study's report, one instance's findings, and a background validator.

These are the names of viewer.quality.store (findings stored in the index at import, built
beside this); here they are computed on demand with viewer.quality.validate over a study's
stored files and kept in memory per archive, so the browser works before the index holds
findings. A study not validated yet is `pending`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from viewer.jobs import CancelToken, ProgressCallback, no_progress
from viewer.quality.findings import ERROR, Finding, ValidationReport
from viewer.quality.validate import study_paths, validate_files

if TYPE_CHECKING:
    from viewer.archive.archive import Archive

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class FindingCounts:
    """Errors and warnings of a study or series; `pending` while it is not validated yet."""

    errors: int
    warnings: int
    pending: bool


PENDING = FindingCounts(0, 0, True)

# Archive -> Study Instance UID -> its last report (complete, never a cancelled one)
_REPORTS: WeakKeyDictionary[Archive, dict[str, ValidationReport]] = WeakKeyDictionary()
# Archive -> Study Instance UID -> its series' counts in that report
_SERIES: WeakKeyDictionary[Archive, dict[str, dict[str, FindingCounts]]] = WeakKeyDictionary()
_LOCK = threading.Lock()


def _known(archive: Archive) -> dict[str, ValidationReport]:
    with _LOCK:
        return _REPORTS.setdefault(archive, {})


def _known_series(archive: Archive) -> dict[str, dict[str, FindingCounts]]:
    with _LOCK:
        return _SERIES.setdefault(archive, {})


def _counts(findings: Iterable[str]) -> FindingCounts:
    severities = list(findings)
    errors = sum(s == ERROR for s in severities)
    return FindingCounts(errors, len(severities) - errors, False)


def study_counts(archive: Archive, study_uids: Iterable[str]) -> dict[str, FindingCounts]:
    """Errors and warnings of each study (its files' and its consistency findings)."""
    known = _known(archive)
    out = {}
    for uid in study_uids:
        report = known.get(uid)
        out[uid] = PENDING if report is None else _counts(
            [f.severity for r in report.files for f in r.findings]
            + [s.severity for s in report.study_findings])
    return out


def series_counts(archive: Archive, study_uid: str) -> dict[str, FindingCounts]:
    """Series Instance UID -> errors and warnings of its files and its series findings."""
    counts = _known_series(archive).get(study_uid)
    if counts is None:
        return {s.series_instance_uid: PENDING for s in archive.index.series(study_uid)}
    return dict(counts)


def _count_series(archive: Archive, study_uid: str,
                  report: ValidationReport) -> dict[str, FindingCounts]:
    """Counted once per report, where it is made (a pool thread): the browser asks at every
    click, and mapping 5,000 instances to their series costs ~0.1 s."""
    series = archive.index.series(study_uid)
    series_of = {row.sop_instance_uid: s.series_instance_uid for s in series
                 for row in archive.index.instances(s.series_instance_uid)}
    severities: dict[str, list[str]] = {s.series_instance_uid: [] for s in series}
    for result in report.files:
        uid = series_of.get(result.sop_instance_uid)
        if uid is not None:
            severities[uid] += [f.severity for f in result.findings]
    for finding in report.study_findings:
        if finding.series_instance_uid in severities:
            severities[finding.series_instance_uid].append(finding.severity)
    return {uid: _counts(found) for uid, found in severities.items()}


def study_report(archive: Archive, study_uid: str) -> ValidationReport:
    """The study's last report; an empty one while it is not validated yet."""
    return _known(archive).get(study_uid, ValidationReport())


def instance_findings(archive: Archive, sop_instance_uid: str) -> list[Finding]:
    """The findings of one stored instance (empty when clean or not validated yet)."""
    for report in list(_known(archive).values()):
        for result in report.files:
            if result.sop_instance_uid == sop_instance_uid:
                return list(result.findings)
    return []


def validate_stored(
    archive: Archive,
    study_uids: Iterable[str],
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
    on_study: Callable[[str], None] | None = None,
) -> None:
    """Validate each study's stored files again and keep its report; `on_study(uid)` after
    each. A cancelled study keeps its previous report (a partial one would hide findings)."""
    for uid in study_uids:
        if cancel is not None and cancel.cancelled:
            return
        report = validate_files(study_paths(archive, uid), cancel=cancel, progress=progress)
        if report.cancelled:
            return
        per_series = _count_series(archive, uid, report)
        with _LOCK:
            _REPORTS.setdefault(archive, {})[uid] = report
            _SERIES.setdefault(archive, {})[uid] = per_series
        LOGGER.debug("validated study %s: %d errors", uid, report.errors)
        if on_study is not None:
            on_study(uid)


class ImportValidator:
    """Validates studies after their import, one at a time on its own thread, so the import
    never waits for it. `on_study(uid)` is called on that thread when one is done."""

    def __init__(self, archive: Archive, on_study: Callable[[str], None] | None = None) -> None:
        self.archive = archive
        self.on_study = on_study
        self._queue: list[str] = []
        self._wake = threading.Condition()
        self._cancel = CancelToken()
        self._thread: threading.Thread | None = None

    def queue(self, study_uids: Iterable[str]) -> None:
        """Validate these studies (again) once those queued before are done."""
        with self._wake:
            self._queue += [u for u in dict.fromkeys(study_uids) if u not in self._queue]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="import-validator",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()

    def idle(self) -> bool:
        with self._wake:
            return self._thread is None

    def stop(self) -> None:
        """Drop the queue and stop the study being validated (its previous report stays)."""
        with self._wake:
            self._queue.clear()
        self._cancel.cancel()
        thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._queue or self._cancel.cancelled:
                    self._thread = None
                    return
                uid = self._queue.pop(0)
            try:
                validate_stored(self.archive, [uid], self._cancel, on_study=self.on_study)
            except Exception as error:  # noqa: BLE001 - one study's failure must not stop the rest
                LOGGER.warning("validation of a study failed: %s", error)
