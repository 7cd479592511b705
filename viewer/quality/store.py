"""Findings of the archive's studies: validate what is stored, keep the findings in the index
(viewer.archive.findings_index, schema 006), and answer the browser and `import --json` from it.

The browser and the CLI call these functions (ARCHITECTURE.md: one core, two faces); the
background pass after an import is viewer.quality.background.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from viewer.archive.findings_index import (
    PENDING,
    FileFindings,
    instance_finding_rows,
    series_totals,
    study_finding_rows,
    study_instance_finding_rows,
    validation_states,
    write_findings,
)
from viewer.archive.records import STATUS_OK
from viewer.jobs import CancelToken, ProgressCallback, no_progress
from viewer.quality.findings import (
    FileResult,
    Finding,
    Severity,
    StudyFinding,
    ValidationReport,
)
from viewer.quality.validate import validate_files

if TYPE_CHECKING:
    from viewer.archive.archive import Archive
    from viewer.archive.findings_index import InstanceFindingRow


@dataclass(frozen=True)
class FindingCounts:
    """Errors and warnings of a study or series as last validated; `pending`: not validated
    since its latest instance arrived (the counts are then those of an earlier validation,
    or 0)."""

    errors: int
    warnings: int
    pending: bool

    def as_json(self) -> dict[str, object]:
        return {"errors": self.errors, "warnings": self.warnings, "pending": self.pending}


OnStudy = Callable[[str, FindingCounts], None]


def study_counts(archive: Archive, study_uids: Sequence[str]) -> dict[str, FindingCounts]:
    """Counts of each study of `study_uids` in the archive (unknown UIDs are left out)."""
    return {uid: FindingCounts(s.errors, s.warnings, s.state == PENDING)
            for uid, s in validation_states(archive.index, study_uids).items()}


def series_counts(archive: Archive, study_uid: str) -> dict[str, FindingCounts]:
    """Counts per Series Instance UID of a study: its files' findings and its series
    findings (study-wide findings, such as identity across series, are the study's only)."""
    state = validation_states(archive.index, [study_uid]).get(study_uid)
    pending = state is None or state.state == PENDING
    return {uid: FindingCounts(errors, warnings, pending)
            for uid, (errors, warnings) in series_totals(archive.index, study_uid).items()}


def study_report(archive: Archive, study_uid: str) -> ValidationReport:
    """The stored findings of a study as `validate` reports them: its files with findings
    (series by series, by Instance Number; `path` the stored file) and its study findings.
    Files without findings are not listed."""
    files: list[FileResult] = []
    for row in study_instance_finding_rows(archive.index, study_uid):
        if not files or files[-1].sop_instance_uid != row.sop_instance_uid:
            files.append(FileResult(str(archive.store.absolute(row.store_path)),
                                    row.sop_instance_uid, row.sop_class_uid, row.iod))
        last = files[-1]
        files[-1] = FileResult(last.path, last.sop_instance_uid, last.sop_class_uid, last.iod,
                               (*last.findings, _finding(row)))
    study = tuple(StudyFinding(_severity(r.severity), r.study_uid, r.series_uid, r.kind,
                               r.message)
                  for r in study_finding_rows(archive.index, study_uid))
    return ValidationReport(tuple(files), study)


def instance_findings(archive: Archive, sop_instance_uid: str) -> list[Finding]:
    """The stored findings of one instance, in the order validation gave them."""
    return [_finding(row) for row in instance_finding_rows(archive.index, sop_instance_uid)]


def validate_stored(
    archive: Archive,
    study_uids: Sequence[str],
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
    on_study: OnStudy | None = None,
) -> None:
    """Validate the stored files of each study (viewer.quality.validate) and store the
    findings, study by study; `on_study` then gets the study's new counts. `progress` counts
    files over all the studies. A cancel stops within the files in flight: the files
    validated by then keep their new findings and their study stays pending. A study deleted
    meanwhile is skipped. ToolMissing when dciodvfy is not installed."""
    plans = [(uid, _stored_files(archive, uid)) for uid in dict.fromkeys(study_uids)]
    total = sum(len(files) for _, files in plans)
    done_before = 0
    for study_uid, files in plans:
        if cancel is not None and cancel.cancelled:
            return
        uid_of = {str(archive.store.absolute(path)): uid for uid, path in files}
        paths = [archive.store.absolute(path) for _, path in files]

        def counted(done: int, _total: int, label: str, before: int = done_before) -> None:
            progress(before + done, total, label)

        report = validate_files(paths, cancel=cancel, progress=counted)
        done_before += len(files)
        results = [FileFindings(uid_of[r.path], r.iod, r.findings) for r in report.files]
        written = write_findings(archive.index, study_uid, results,
                                 None if report.cancelled else report.study_findings)
        if report.cancelled:
            return
        if written and on_study is not None:
            on_study(study_uid, study_counts(archive, [study_uid])[study_uid])


def _stored_files(archive: Archive, study_uid: str) -> list[tuple[str, str]]:
    """(SOP Instance UID, store path) of a study's instances whose file is in the store."""
    return [(row.sop_instance_uid, row.store_path)
            for series in archive.index.series(study_uid)
            for row in archive.index.instances(series.series_instance_uid)
            if row.status == STATUS_OK]


def _severity(value: str) -> Severity:
    return "error" if value == "error" else "warning"


def _finding(row: InstanceFindingRow) -> Finding:
    return Finding(_severity(row.severity), row.tag, row.keyword, row.module, row.message,
                   row.detail)


@dataclass(frozen=True)
class FindingsSummary:
    """The findings of the studies an import stored (`import --json`'s "findings", the GUI's
    import summary): totals over them and the counts of each; `problem`: why they could not
    be validated ("" when they were)."""

    studies: dict[str, FindingCounts]
    problem: str = ""

    @property
    def errors(self) -> int:
        return sum(c.errors for c in self.studies.values())

    @property
    def warnings(self) -> int:
        return sum(c.warnings for c in self.studies.values())

    @property
    def pending(self) -> int:
        return sum(c.pending for c in self.studies.values())

    def as_json(self) -> dict[str, object]:
        document: dict[str, object] = {
            "errors": self.errors, "warnings": self.warnings,
            "studies": {uid: c.as_json() for uid, c in self.studies.items()}}
        if self.problem:
            document["problem"] = self.problem
        return document

    def line(self) -> str:
        """One line for a person: totals, and how many studies are still pending."""
        n = len(self.studies)
        text = (f"findings: {self.errors} error(s), {self.warnings} warning(s) in {n} "
                f"{'study' if n == 1 else 'studies'}")
        if self.pending:
            text += f" ({self.pending} not validated yet)"
        return text


def findings_summary(archive: Archive, study_uids: Sequence[str],
                     problem: str = "") -> FindingsSummary:
    """The stored counts of these studies (those still in the archive), as a summary."""
    return FindingsSummary(study_counts(archive, sorted(set(study_uids))), problem)
