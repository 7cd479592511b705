"""Data-quality findings in the index (schema 006): written after a study is validated, read by
the browser and `import --json`.

The archive does not validate (viewer.quality does, and may import this room; this room never
imports it): it stores what it is given, through the index's one writer, and answers from it.
A finding given to `write_findings` is any object with the attributes of
`viewer.quality.findings.Finding` / `StudyFinding` (`_FileFinding`, `_ConsistencyFinding`).

States: a study is "pending" from its first instance on (a trigger in schema 006 sets it in the
instance's own transaction, whichever path indexes it) until a validation covering all its
instances is written; an instance that arrives during the validation leaves it pending. Rows
go with their study or instance (ON DELETE CASCADE). `mark_pending` is what `check --repair`
does for findings: they are derived data, restored by validating again, never rebuilt.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from viewer.archive.index import Index, now_utc
from viewer.archive.records import STATUS_OK

FINDINGS_VERSION = 6  # schema/006_findings.sql
PENDING = "pending"
VALIDATED = "validated"


class _FileFinding(Protocol):
    @property
    def severity(self) -> str: ...
    @property
    def tag(self) -> str: ...
    @property
    def keyword(self) -> str: ...
    @property
    def module(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def detail(self) -> str: ...


class _ConsistencyFinding(Protocol):
    @property
    def severity(self) -> str: ...
    @property
    def series_instance_uid(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def message(self) -> str: ...


@dataclass(frozen=True)
class FileFindings:
    """What validation found in one stored instance (`findings` may be empty: the instance
    was validated and is clean, so earlier findings of it go)."""

    sop_instance_uid: str
    iod: str
    findings: Sequence[_FileFinding]


@dataclass(frozen=True)
class ValidationState:
    """A study's state and the counts of its latest validation (file and study findings)."""

    study_uid: str
    state: str  # PENDING or VALIDATED
    errors: int
    warnings: int
    validated_at: str | None


@dataclass(frozen=True)
class InstanceFindingRow:
    """A stored finding of one instance, with where the instance is."""

    sop_instance_uid: str
    series_uid: str
    study_uid: str
    sop_class_uid: str
    store_path: str
    iod: str
    severity: str
    tag: str
    keyword: str
    module: str
    message: str
    detail: str


@dataclass(frozen=True)
class StudyFindingRow:
    study_uid: str
    series_uid: str  # "" for the whole study
    severity: str
    kind: str
    message: str


def write_findings(
    index: Index,
    study_uid: str,
    files: Sequence[FileFindings],
    study_findings: Sequence[_ConsistencyFinding] | None,
) -> bool:
    """Store one validation of a study in one transaction: the findings of the instances in
    `files` replace theirs, `study_findings` replace the study's (None: a validation cut
    short, which keeps them and leaves the study pending), and the study is "validated" when
    `files` covered every instance it holds in the store now (else it stays "pending").
    False when the study is no longer in the archive (deleted meanwhile): nothing written."""
    with index.transaction() as cur:
        found = cur.execute("SELECT id FROM studies WHERE study_uid = ?",
                            (study_uid,)).fetchone()
        if found is None:
            return False
        study_ref = int(found[0])
        ids = _instance_ids(cur, study_ref, [f.sop_instance_uid for f in files])
        for part in _chunks(list(ids.values())):
            cur.execute(f"DELETE FROM instance_findings WHERE instance_ref IN "
                        f"({','.join('?' * len(part))})", part)
        cur.executemany(
            """INSERT INTO instance_findings (instance_ref, position, iod, severity, tag,
                   keyword, module, message, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(ids[f.sop_instance_uid], n, f.iod, x.severity, x.tag, x.keyword, x.module,
              x.message, x.detail)
             for f in files if f.sop_instance_uid in ids for n, x in enumerate(f.findings)],
        )
        if study_findings is not None:
            cur.execute("DELETE FROM study_findings WHERE study_ref = ?", (study_ref,))
            cur.executemany(
                """INSERT INTO study_findings (study_ref, position, series_uid, severity,
                       kind, message) VALUES (?, ?, ?, ?, ?, ?)""",
                [(study_ref, n, s.series_instance_uid, s.severity, s.kind, s.message)
                 for n, s in enumerate(study_findings)],
            )
        held = cur.execute(
            """SELECT COUNT(*) FROM instances i JOIN series se ON se.id = i.series_ref
               WHERE se.study_ref = ? AND i.status = ?""", (study_ref, STATUS_OK)).fetchone()[0]
        complete = study_findings is not None and len(ids) == held
        errors, warnings = _study_totals(cur, study_ref)
        cur.execute(
            """INSERT INTO study_validation (study_ref, state, errors, warnings, validated_at)
               VALUES (?, ?, ?, ?, ?) ON CONFLICT (study_ref) DO UPDATE SET
               state = excluded.state, errors = excluded.errors,
               warnings = excluded.warnings, validated_at = excluded.validated_at""",
            (study_ref, VALIDATED if complete else PENDING, errors, warnings,
             now_utc()),
        )
    return True


def validation_states(index: Index, study_uids: Sequence[str]) -> dict[str, ValidationState]:
    """The state of each study of `study_uids` in the archive (unknown UIDs are left out)."""
    states: dict[str, ValidationState] = {}
    for part in _chunks(list(study_uids)):
        rows = index.read(
            f"""SELECT st.study_uid, COALESCE(v.state, ?), COALESCE(v.errors, 0),
                       COALESCE(v.warnings, 0), v.validated_at
                FROM studies st LEFT JOIN study_validation v ON v.study_ref = st.id
                WHERE st.study_uid IN ({','.join('?' * len(part))})""",
            [PENDING, *part])
        states.update((row[0], ValidationState(*row)) for row in rows)
    return states


def series_totals(index: Index, study_uid: str) -> dict[str, tuple[int, int]]:
    """(errors, warnings) per series of a study: its instances' findings and its series
    findings; every series of the study is present."""
    totals = {uid: (0, 0) for (uid,) in index.read(
        """SELECT se.series_uid FROM series se JOIN studies st ON st.id = se.study_ref
           WHERE st.study_uid = ?""", (study_uid,))}
    rows = index.read(
        """SELECT se.series_uid, f.severity, COUNT(*) FROM instance_findings f
               JOIN instances i ON i.id = f.instance_ref JOIN series se ON se.id = i.series_ref
               JOIN studies st ON st.id = se.study_ref WHERE st.study_uid = ?
               GROUP BY se.series_uid, f.severity
           UNION ALL
           SELECT f.series_uid, f.severity, COUNT(*) FROM study_findings f
               JOIN studies st ON st.id = f.study_ref
               WHERE st.study_uid = ? AND f.series_uid != ''
               GROUP BY f.series_uid, f.severity""", (study_uid, study_uid))
    for series_uid, severity, count in rows:
        errors, warnings = totals.get(series_uid, (0, 0))
        totals[series_uid] = ((errors + count, warnings) if severity == "error"
                              else (errors, warnings + count))
    return totals


_INSTANCE_FINDING_SELECT = """
    SELECT i.sop_instance_uid, se.series_uid, st.study_uid, i.sop_class_uid, i.store_path,
           f.iod, f.severity, f.tag, f.keyword, f.module, f.message, f.detail
    FROM instance_findings f JOIN instances i ON i.id = f.instance_ref
    JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref
"""


def instance_finding_rows(index: Index, sop_instance_uid: str) -> list[InstanceFindingRow]:
    """The stored findings of one instance, in their order."""
    rows = index.read(_INSTANCE_FINDING_SELECT + " WHERE i.sop_instance_uid = ? "
                      "ORDER BY f.position", (sop_instance_uid,))
    return [InstanceFindingRow(*row) for row in rows]


def study_instance_finding_rows(index: Index, study_uid: str) -> list[InstanceFindingRow]:
    """The stored findings of a study's instances: series by series (Series Number), instance
    by instance (Instance Number), each instance's in their order."""
    rows = index.read(
        _INSTANCE_FINDING_SELECT + """ WHERE st.study_uid = ?
        ORDER BY se.series_number IS NULL, se.series_number, se.id,
                 i.instance_number IS NULL, i.instance_number, i.id, f.position""",
        (study_uid,))
    return [InstanceFindingRow(*row) for row in rows]


def study_finding_rows(index: Index, study_uid: str) -> list[StudyFindingRow]:
    """The stored consistency findings of a study and its series, in their order."""
    rows = index.read(
        """SELECT st.study_uid, f.series_uid, f.severity, f.kind, f.message
           FROM study_findings f JOIN studies st ON st.id = f.study_ref
           WHERE st.study_uid = ? ORDER BY f.position""", (study_uid,))
    return [StudyFindingRow(*row) for row in rows]


def pending_studies(index: Index) -> list[str]:
    """Study Instance UIDs of the studies not validated since their latest instance, oldest
    indexed first (a validator catching up after validation was off, or after a repair)."""
    return [str(row[0]) for row in index.read(
        """SELECT st.study_uid FROM studies st LEFT JOIN study_validation v
           ON v.study_ref = st.id WHERE v.state IS NULL OR v.state = ? ORDER BY st.id""",
        (PENDING,))]


def mark_pending(index: Index, study_uids: Sequence[str]) -> None:
    """Mark these studies "pending", keeping their findings until a new validation replaces
    them: `check --repair` after it changed which of their files are in the store."""
    with index.transaction() as cur:
        for part in _chunks(list(study_uids)):
            cur.execute(
                f"""INSERT INTO study_validation (study_ref) SELECT id FROM studies
                    WHERE study_uid IN ({','.join('?' * len(part))})
                    ON CONFLICT (study_ref) DO UPDATE SET state = 'pending'""", part)


def _instance_ids(cur: sqlite3.Cursor, study_ref: int, uids: Sequence[str]) -> dict[str, int]:
    """Row ids of those of `uids` that are instances of the study now."""
    ids: dict[str, int] = {}
    for part in _chunks(list(uids)):
        ids.update(cur.execute(
            f"""SELECT i.sop_instance_uid, i.id FROM instances i
                JOIN series se ON se.id = i.series_ref
                WHERE se.study_ref = ? AND i.sop_instance_uid IN ({','.join('?' * len(part))})""",
            [study_ref, *part]).fetchall())
    return ids


def _study_totals(cur: sqlite3.Cursor, study_ref: int) -> tuple[int, int]:
    rows: list[tuple[Any, ...]] = cur.execute(
        """SELECT f.severity, COUNT(*) FROM instance_findings f
               JOIN instances i ON i.id = f.instance_ref JOIN series se ON se.id = i.series_ref
               WHERE se.study_ref = ? GROUP BY f.severity
           UNION ALL
           SELECT severity, COUNT(*) FROM study_findings WHERE study_ref = ?
               GROUP BY severity""", (study_ref, study_ref)).fetchall()
    errors = sum(n for severity, n in rows if severity == "error")
    return errors, sum(n for severity, n in rows if severity != "error")


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """SQLite's bound-parameter limit: IN lists a few hundred at a time."""
    for start in range(0, len(values), size):
        yield values[start:start + size]
