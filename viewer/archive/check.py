"""`check [--repair]`: the index against the store (CLI.md), so the index can always be rebuilt.

Found: files in the store without rows (orphans), rows whose file is missing, files whose sha256
differs from their row, temporary files left by dead writers, and presentation states, KOS, SR,
SEG or RTSTRUCT objects whose references are not indexed (their file was missing when the index
was upgraded to schema 005). Repair re-indexes orphans from their own header (references
included), marks rows without files 'missing', indexes the missing references from the stored
files, and removes dead writers' temporary files. Data-quality findings (schema 006) are derived
data and are never rebuilt here: a study whose instances repair changed (re-indexed, marked
missing, restored) is marked "pending", and validating it again restores its findings.
A checksum mismatch is only reported: the file may be the only copy, so nothing is deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from viewer.archive.archive import Archive
from viewer.archive.findings_index import mark_pending
from viewer.archive.journal import add_from_file, replay
from viewer.archive.records import STATUS_MISSING, STATUS_OK
from viewer.archive.reference_index import backfill_references
from viewer.jobs import Failure

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Issue:
    """An indexed instance whose stored file is missing or differs from its row."""

    sop_instance_uid: str
    path: str  # store path, relative to the archive root
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"SOPInstanceUID": self.sop_instance_uid, "path": self.path, "reason": self.reason}


@dataclass
class CheckReport:
    """What `check_archive` found and, with repair, what it did."""

    instances: int = 0  # rows checked
    files: int = 0  # files found in the store
    orphans: list[str] = field(default_factory=list)  # store paths without a row
    missing: list[Issue] = field(default_factory=list)
    mismatched: list[Issue] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)  # relative to the archive root
    # SOP Instance UIDs of referencing objects (PS, KOS, SR, SEG, RTSTRUCT) whose file is
    # there but whose references are not indexed
    unindexed_references: list[str] = field(default_factory=list)
    repaired: bool = False
    reindexed: list[str] = field(default_factory=list)  # orphans indexed again (store paths)
    not_indexed: list[Failure] = field(default_factory=list)  # orphans that could not be
    marked_missing: list[str] = field(default_factory=list)  # SOP Instance UIDs newly marked
    restored: list[str] = field(default_factory=list)  # 'missing' rows whose file is back
    references_indexed: list[str] = field(default_factory=list)  # of unindexed_references
    temp_removed: int = 0
    # what opening the archive recovered before the check (an interrupted import's files)
    recovered_indexed: int = 0
    recovered_removed: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """True when nothing was found (before any repair)."""
        return not (self.orphans or self.missing or self.mismatched or self.temp_files
                    or self.unindexed_references)

    @property
    def unresolved(self) -> int:
        """Problems still there after this run (all of them when not repairing)."""
        if not self.repaired:
            return (
                len(self.orphans) + len(self.missing) + len(self.mismatched)
                + len(self.temp_files) + len(self.unindexed_references)
            )
        left_temp = max(0, len(self.temp_files) - self.temp_removed)
        left_references = len(self.unindexed_references) - len(self.references_indexed)
        return (len(self.not_indexed) + len(self.missing) + len(self.mismatched) + left_temp
                + left_references)

    def as_json(self) -> dict[str, Any]:
        return {
            "consistent": self.consistent,
            "instances": self.instances,
            "files": self.files,
            "orphans": self.orphans,
            "missing": [i.as_json() for i in self.missing],
            "mismatched": [i.as_json() for i in self.mismatched],
            "temp_files": self.temp_files,
            "unindexed_references": self.unindexed_references,
            "repaired": self.repaired,
            "reindexed": self.reindexed,
            "not_indexed": [{"path": f.item, "reason": f.reason} for f in self.not_indexed],
            "marked_missing": self.marked_missing,
            "restored": self.restored,
            "references_indexed": self.references_indexed,
            "temp_removed": self.temp_removed,
            "recovered": {"indexed": self.recovered_indexed, "removed": self.recovered_removed},
            "unresolved": self.unresolved,
        }


def check_archive(archive: Archive, repair: bool = False) -> CheckReport:
    """Compare `archive`'s index with its store; with `repair`, fix what can be fixed safely."""
    store, index = archive.store, archive.index
    report = CheckReport(repaired=repair)
    report.recovered_indexed = len(archive.recovered.indexed)
    report.recovered_removed = list(archive.recovered.removed)
    on_disk = set(store.iter_files())
    report.files = len(on_disk)
    rows = index.stored_checksums()
    report.instances = len(rows)
    indexed = {path for _, path, _ in rows}
    report.orphans = sorted(on_disk - indexed)
    for uid, path, expected in sorted(rows, key=lambda r: r[1]):
        if path not in on_disk:
            report.missing.append(Issue(uid, path, "file missing from the store"))
            row = index.get_instance(uid)
            if repair and row is not None and row.status != STATUS_MISSING:
                index.mark_missing(uid)
                report.marked_missing.append(uid)
            continue
        try:
            actual = store.checksum(path)
        except OSError as exc:
            report.mismatched.append(Issue(uid, path, f"cannot read: {exc.strerror or exc}"))
            continue
        if actual != expected:
            report.mismatched.append(
                Issue(uid, path, f"sha256 {actual} differs from the indexed {expected}")
            )
            continue
        row = index.get_instance(uid)
        if repair and row is not None and row.status == STATUS_MISSING:
            index.set_status(uid, STATUS_OK)  # the file came back, byte-identical
            report.restored.append(uid)
    report.temp_files = store.leftover_temp_files()
    problems = {i.sop_instance_uid for i in report.missing + report.mismatched}
    report.unindexed_references = [
        uid for uid, _ in index.objects_without_references() if uid not in problems]
    if repair:
        touched = {row.study_instance_uid for row in map(index.get_instance,
                                                          report.marked_missing
                                                          + report.restored) if row}
        if touched:  # re-indexed orphans are made pending by the index as they are added
            mark_pending(index, sorted(touched))
        for path in report.orphans:
            reason = add_from_file(archive, path)
            if reason is None:
                report.reindexed.append(path)
            else:
                report.not_indexed.append(Failure(path, reason))
        if report.unindexed_references:
            with index.transaction() as cur:
                filled, _ = backfill_references(cur, archive.root)
            wanted = set(report.unindexed_references)
            report.references_indexed = [uid for uid in filled if uid in wanted]
        if report.temp_files:
            report.temp_removed = store.recover(
                lambda journal: replay(archive, journal, archive.recovered))
        index.checkpoint()
    LOGGER.info(
        "check: %d rows, %d files, %d orphans, %d missing, %d mismatched, %d temporary, "
        "%d without indexed references",
        report.instances, report.files, len(report.orphans), len(report.missing),
        len(report.mismatched), len(report.temp_files), len(report.unindexed_references),
    )
    return report
