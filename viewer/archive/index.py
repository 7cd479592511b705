"""The archive index: SQLite tables patients -> studies -> series -> instances.

Durability: WAL with synchronous=NORMAL. A commit then appends to the WAL without an fsync, so
adding one instance per transaction stays cheap; the WAL is fsynced at every checkpoint, which
the importer runs at the end of each import (`checkpoint()`). A power loss can lose only the
last transactions since the last checkpoint, never corrupt the database (sqlite.org/wal.html).
Stored files are fsynced before their row is committed, so a lost row leaves an orphan file that
`check --repair` re-indexes, never a row without a file.

Concurrency: WAL lets searches run while an import writes; writers take the lock up front
(BEGIN IMMEDIATE) and wait for each other through busy_timeout, so "database is locked" does not
reach the user. One `Index` may be shared by threads (calls are serialised by a lock).

Schema: `schema/NNN_name.sql` files applied in order while PRAGMA user_version < NNN, each
upgrade in the same transaction as the new user_version.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from viewer.archive.records import (
    IMAGER_PIXEL_SPACING,
    STATUS_MISSING,
    STATUS_OK,
    InstanceRecord,
    InstanceRow,
    SeriesRow,
    StackRow,
    StudyRow,
    name_key,
)
from viewer.archive.reference_index import (
    REFERENCES_VERSION,
    ReferenceQueries,
    backfill_references,
    insert_references,
)
from viewer.dicom import text
from viewer.dicom.geometry import reading_key

LOGGER = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 60.0
_STEP_NAME = re.compile(r"(\d{3})_[A-Za-z0-9_]+\.sql")
_DATE = re.compile(r"\d{8}")


class ArchiveIndexError(Exception):
    """A problem with the archive index itself."""


class SchemaTooNew(ArchiveIndexError):
    """The index was written by a newer version of the program (its user_version is higher
    than any schema step we know); it is left untouched."""


class DuplicateInstance(ArchiveIndexError):
    """The SOP Instance UID is already indexed; `sha256` and `store_path` are the stored file's,
    for the caller to tell a byte-identical duplicate from a conflict."""

    def __init__(self, sop_instance_uid: str, sha256: str, store_path: str) -> None:
        super().__init__(f"SOP Instance {sop_instance_uid} is already in the archive")
        self.sop_instance_uid = sop_instance_uid
        self.sha256 = sha256
        self.store_path = store_path


@dataclass(frozen=True)
class SchemaStep:
    version: int
    name: str
    sql: str


def default_schema_dir() -> Traversable:
    """The schema files shipped with the package (package data, read via importlib.resources)."""
    return resources.files("viewer.archive").joinpath("schema")


def schema_steps(schema_dir: Traversable | Path) -> list[SchemaStep]:
    """The `NNN_name.sql` files of `schema_dir`, in version order."""
    steps = []
    for entry in schema_dir.iterdir():
        match = _STEP_NAME.fullmatch(entry.name)
        if match:
            steps.append(SchemaStep(int(match[1]), entry.name, entry.read_text("utf-8")))
    steps.sort(key=lambda s: s.version)
    versions = [s.version for s in steps]
    if len(set(versions)) != len(versions):
        raise ArchiveIndexError(f"two schema files share a version in {schema_dir}")
    return steps


def dicom_glob(pattern: str) -> str:
    """A DICOM wildcard pattern (PS3.4 C.2.2.2.4: '*' any sequence, '?' one character) as an
    SQLite GLOB pattern over `name_key` text; GLOB's own specials are matched literally."""
    out = []
    for char in name_key(pattern):
        if char in "*?":
            out.append(char)
        elif char in "[]":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def _statements(sql: str) -> Iterator[str]:
    """Split a script into statements, so that they run inside our transaction (executescript
    would commit first)."""
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip() and not re.fullmatch(r"(\s*--[^\n]*\n?)*\s*", pending):
        raise ArchiveIndexError("schema file ends inside a statement")


_STUDY_COLUMNS = """
    st.study_uid, st.study_date, st.study_time, st.description, st.accession_number,
    st.referring_physician, st.modalities, st.series_count, st.instance_count, st.size_bytes,
    p.name, p.patient_id, p.birth_date, p.sex
"""
_INSTANCE_SELECT = """
    SELECT i.sop_instance_uid, se.series_uid, st.study_uid, i.sop_class_uid,
           i.transfer_syntax_uid, i.instance_number, i.frames, i.store_path, i.size_bytes,
           i.sha256, i.imported_at, i.status,
           i.rows, i.columns, i.position_x, i.position_y, i.position_z,
           i.orientation_row_x, i.orientation_row_y, i.orientation_row_z,
           i.orientation_col_x, i.orientation_col_y, i.orientation_col_z,
           i.spacing_row, i.spacing_col, i.spacing_source, i.slice_thickness, i.slice_location,
           i.frame_of_reference_uid, i.lossy
    FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref
"""
# The geometry columns of schema 002, in the order add_instance writes them.
_GEOMETRY_COLUMNS = """rows, columns, position_x, position_y, position_z,
    orientation_row_x, orientation_row_y, orientation_row_z,
    orientation_col_x, orientation_col_y, orientation_col_z,
    spacing_row, spacing_col, spacing_source, slice_thickness, slice_location,
    frame_of_reference_uid, lossy, along_normal"""


class Index(ReferenceQueries):
    """The SQLite index of an archive (see the module docstring); what references what is
    asked through the methods of ReferenceQueries (archive/reference_index.py)."""

    def __init__(
        self,
        db_path: Path,
        schema_dir: Traversable | Path | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self.path = Path(db_path)
        self._lock = threading.RLock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so that writers BEGIN IMMEDIATE.
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._upgrade(schema_steps(schema_dir or default_schema_dir()))
        except BaseException:
            self._db.close()
            raise

    # --- life cycle ------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def checkpoint(self) -> bool:
        """Copy the WAL into the database, fsyncing both: everything committed so far is then
        durable (see the module docstring). False when readers or writers kept it from
        completing within the busy timeout; the WAL stays valid and the next one catches up."""
        with self._lock:
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        return busy == 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction, holding the write lock from its start (BEGIN IMMEDIATE), so
        it waits in busy_timeout rather than failing on a lock upgrade."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT (disk full) leaves it open
                    cur.execute("ROLLBACK")
                raise

    def transaction(self) -> AbstractContextManager[sqlite3.Cursor]:
        """A write transaction (BEGIN IMMEDIATE) for the archive modules that keep their own
        queries beside the index (viewer.archive.retention)."""
        return self._write()

    def read(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read-only statement (for the same modules)."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _upgrade(self, steps: list[SchemaStep]) -> None:
        newest = steps[-1].version if steps else 0
        if self.schema_version > newest:
            raise SchemaTooNew(
                f"{self.path} has schema version {self.schema_version}; "
                f"this program knows up to {newest}"
            )
        if self.schema_version == newest:
            return
        with self._write() as cur:
            current = int(cur.execute("PRAGMA user_version").fetchone()[0])  # another process?
            for step in steps:
                if step.version <= current:
                    continue
                LOGGER.info("index %s: applying schema %s", self.path, step.name)
                for statement in _statements(step.sql):
                    cur.execute(statement)
                if step.version == READING_ORDER_VERSION:
                    _fill_reading_keys(cur)
                if step.version == REFERENCES_VERSION:  # objects stored before it; the
                    # index lives at the top of its archive, whose store paths are relative
                    backfill_references(cur, self.path.parent)
                cur.execute(f"PRAGMA user_version = {step.version}")

    # --- writing ---------------------------------------------------------------------------------

    def add_instance(self, rec: InstanceRecord) -> None:
        """Index one stored instance in one transaction: patient, study and series are added
        when new, the instance row inserted and the stored counts and sizes updated.

        Raises DuplicateInstance when the SOP Instance UID is already indexed.
        """
        with self._write() as cur:
            self._insert(cur, rec)

    def add_instances(self, records: Sequence[InstanceRecord]) -> list[DuplicateInstance | None]:
        """Index a batch of stored instances in one transaction (an import's batch: one commit
        instead of one per file). Per record, None when indexed, or the DuplicateInstance that
        kept it out; the others are indexed all the same."""
        outcomes: list[DuplicateInstance | None] = []
        with self._write() as cur:
            for rec in records:
                try:
                    self._insert(cur, rec)
                except DuplicateInstance as exc:  # raised before this record wrote anything
                    outcomes.append(exc)
                else:
                    outcomes.append(None)
        return outcomes

    def _insert(self, cur: sqlite3.Cursor, rec: InstanceRecord) -> None:
        for label, uid in (
            ("StudyInstanceUID", rec.study_instance_uid),
            ("SeriesInstanceUID", rec.series_instance_uid),
            ("SOPInstanceUID", rec.sop_instance_uid),
        ):
            if not uid:
                raise ValueError(f"{label} is empty")
        geometry = _geometry_values(rec)
        found = cur.execute(
            "SELECT sha256, store_path FROM instances WHERE sop_instance_uid = ?",
            (rec.sop_instance_uid,),
        ).fetchone()
        if found is not None:
            raise DuplicateInstance(rec.sop_instance_uid, found[0], found[1])
        study_ref = self._study_ref(cur, rec)
        series_ref, new_series = self._series_ref(cur, rec, study_ref)
        cur.execute(
            f"""INSERT INTO instances (sop_instance_uid, series_ref, sop_class_uid,
                   transfer_syntax_uid, instance_number, frames, store_path, size_bytes,
                   sha256, imported_at, status, {_GEOMETRY_COLUMNS})
               VALUES ({", ".join("?" * (11 + len(geometry)))})""",
            (
                rec.sop_instance_uid, series_ref, rec.sop_class_uid,
                rec.transfer_syntax_uid, rec.instance_number, rec.number_of_frames,
                rec.store_path, rec.size, rec.sha256, now_utc(), STATUS_OK,
                *geometry,
            ),
        )
        if rec.references is not None and rec.references.kind is not None:
            insert_references(cur, _rowid(cur), rec.references)
        cur.execute(
            "UPDATE series SET instance_count = instance_count + 1 WHERE id = ?",
            (series_ref,),
        )
        cur.execute(
            """UPDATE studies SET instance_count = instance_count + 1,
                   size_bytes = size_bytes + ? WHERE id = ?""",
            (rec.size, study_ref),
        )
        if new_series:
            _refresh_series_facts(cur, study_ref)

    def _study_ref(self, cur: sqlite3.Cursor, rec: InstanceRecord) -> int:
        found = cur.execute(
            "SELECT id FROM studies WHERE study_uid = ?", (rec.study_instance_uid,)
        ).fetchone()
        if found is not None:
            return int(found[0])
        patient = cur.execute(
            "SELECT id FROM patients WHERE patient_id = ? AND name = ?",
            (rec.patient_id, rec.patient_name),
        ).fetchone()
        if patient is not None:
            patient_ref = int(patient[0])
        else:
            _, ideographic, phonetic = text.person_name_groups(rec.patient_name)
            cur.execute(
                """INSERT INTO patients (patient_id, name, name_key, ideographic_key,
                       phonetic_key, birth_date, sex) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (
                    rec.patient_id, rec.patient_name, name_key(rec.patient_name),
                    name_key(ideographic), name_key(phonetic),
                    rec.patient_birth_date, rec.patient_sex,
                ),
            )
            patient_ref = _rowid(cur)
        cur.execute(
            """INSERT INTO studies (study_uid, patient_ref, study_date, study_time, description,
                   accession_number, referring_physician) VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (
                rec.study_instance_uid, patient_ref, rec.study_date, rec.study_time,
                rec.study_description, rec.accession_number, rec.referring_physician_name,
            ),
        )
        return _rowid(cur)

    def _series_ref(
        self, cur: sqlite3.Cursor, rec: InstanceRecord, study_ref: int
    ) -> tuple[int, bool]:
        found = cur.execute(
            "SELECT id FROM series WHERE series_uid = ?", (rec.series_instance_uid,)
        ).fetchone()
        if found is not None:
            return int(found[0]), False
        cur.execute(
            """INSERT INTO series (series_uid, study_ref, series_number, modality, description)
               VALUES (?, ?, ?, ?, ?)""",
            (
                rec.series_instance_uid, study_ref, rec.series_number, rec.modality,
                rec.series_description,
            ),
        )
        return _rowid(cur), True

    def delete_study(self, study_uid: str) -> list[str]:
        """Remove a study's rows (series, instances, and its patient when left without studies)
        in one transaction; returns the store paths of the removed instances, whose files the
        caller deletes after this returns. An unknown UID removes nothing."""
        with self._write() as cur:
            return delete_study_rows(cur, study_uid)

    def remove_instance(self, sop_instance_uid: str) -> str | None:
        """Remove one instance row, updating the stored aggregates and dropping a series, study
        or patient it leaves empty; returns its store path (None when it was not indexed)."""
        with self._write() as cur:
            found = cur.execute(
                """SELECT i.id, i.store_path, i.size_bytes, se.id, st.id, st.patient_ref
                   FROM instances i JOIN series se ON se.id = i.series_ref
                   JOIN studies st ON st.id = se.study_ref WHERE i.sop_instance_uid = ?""",
                (sop_instance_uid,),
            ).fetchone()
            if found is None:
                return None
            instance_ref, path, size, series_ref, study_ref, patient_ref = found
            cur.execute("DELETE FROM instances WHERE id = ?", (instance_ref,))
            cur.execute(
                "UPDATE series SET instance_count = instance_count - 1 WHERE id = ?",
                (series_ref,),
            )
            cur.execute(
                """UPDATE studies SET instance_count = instance_count - 1,
                       size_bytes = size_bytes - ? WHERE id = ?""",
                (size, study_ref),
            )
            cur.execute(
                "DELETE FROM series WHERE id = ? AND instance_count <= 0", (series_ref,)
            )
            if cur.rowcount:
                _refresh_series_facts(cur, study_ref)
            cur.execute("DELETE FROM studies WHERE id = ? AND series_count <= 0", (study_ref,))
            _drop_patient_if_empty(cur, patient_ref)
        return str(path)

    def set_status(self, sop_instance_uid: str, status: str) -> bool:
        """Set an instance's status ('ok' or 'missing'); False when it is not indexed."""
        if status not in (STATUS_OK, STATUS_MISSING):
            raise ValueError(f"status must be {STATUS_OK!r} or {STATUS_MISSING!r}")
        with self._write() as cur:
            cur.execute(
                "UPDATE instances SET status = ? WHERE sop_instance_uid = ?",
                (status, sop_instance_uid),
            )
            return cur.rowcount > 0

    def mark_missing(self, sop_instance_uid: str) -> bool:
        """Record that an instance's file is missing from the store (`check --repair`)."""
        return self.set_status(sop_instance_uid, STATUS_MISSING)

    # --- reading ---------------------------------------------------------------------------------

    def get_instance(self, sop_instance_uid: str) -> InstanceRow | None:
        with self._lock:
            row = self._db.execute(
                _INSTANCE_SELECT + " WHERE i.sop_instance_uid = ?", (sop_instance_uid,)
            ).fetchone()
        return None if row is None else _instance_row(row)

    def get_study(self, study_uid: str) -> StudyRow | None:
        with self._lock:
            row = self._db.execute(
                f"""SELECT {_STUDY_COLUMNS} FROM studies st
                    JOIN patients p ON p.id = st.patient_ref WHERE st.study_uid = ?""",
                (study_uid,),
            ).fetchone()
        return None if row is None else _study_row(row)

    def search_studies(
        self,
        patient_name: str | None = None,
        patient_id: str | None = None,
        modality: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        limit: int | None = None,
    ) -> list[StudyRow]:
        """Studies matching every given key, newest first.

        `patient_name` and `patient_id` take DICOM wildcards ('*', '?'; PS3.4 C.2.2.2.4); names
        match case-insensitively against the whole PN value or its ideographic or phonetic group
        (PS3.5 §6.2.1). `modality` matches any series of the study. Dates are 'YYYYMMDD',
        inclusive; an empty or all-'*' key matches everything (universal matching).
        """
        where: list[str] = []
        args: list[object] = []
        if patient_name and patient_name.strip("*"):
            where.append(
                "(p.name_key GLOB ? OR p.ideographic_key GLOB ? OR p.phonetic_key GLOB ?)"
            )
            args += [dicom_glob(patient_name)] * 3
        if patient_id and patient_id.strip("*"):
            # PatientID (LO) matches case-sensitively: translate wildcards without casefolding.
            where.append("p.patient_id GLOB ?")
            args.append(re.sub(r"[\[\]]", lambda m: f"[{m[0]}]", patient_id))
        if modality:
            where.append(
                "EXISTS (SELECT 1 FROM series se WHERE se.study_ref = st.id AND se.modality = ?)"
            )
            args.append(modality.strip().upper())
        for label, value, op in (("date_from", date_from, ">="), ("date_to", date_to, "<=")):
            if value:
                if not _DATE.fullmatch(value):
                    raise ValueError(f"{label} must be YYYYMMDD, not {value!r}")
                where.append(f"st.study_date {op} ?")
                args.append(value)
        sql = f"SELECT {_STUDY_COLUMNS} FROM studies st JOIN patients p ON p.id = st.patient_ref"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY st.study_date DESC, st.study_time DESC, st.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_study_row(row) for row in rows]

    def series(self, study_uid: str) -> list[SeriesRow]:
        """The series of a study, by Series Number."""
        with self._lock:
            rows = self._db.execute(
                """SELECT se.series_uid, st.study_uid, se.series_number, se.modality,
                          se.description, se.instance_count
                   FROM series se JOIN studies st ON st.id = se.study_ref
                   WHERE st.study_uid = ?
                   ORDER BY se.series_number IS NULL, se.series_number, se.id""",
                (study_uid,),
            ).fetchall()
        return [SeriesRow(*row) for row in rows]

    def get_series(self, series_uid: str) -> SeriesRow | None:
        with self._lock:
            row = self._db.execute(
                """SELECT se.series_uid, st.study_uid, se.series_number, se.modality,
                          se.description, se.instance_count
                   FROM series se JOIN studies st ON st.id = se.study_ref
                   WHERE se.series_uid = ?""",
                (series_uid,),
            ).fetchone()
        return None if row is None else SeriesRow(*row)

    def instances(self, series_uid: str) -> list[InstanceRow]:
        """The instances of a series, by Instance Number."""
        with self._lock:
            rows = self._db.execute(
                _INSTANCE_SELECT + """ WHERE se.series_uid = ?
                ORDER BY i.instance_number IS NULL, i.instance_number, i.id""",
                (series_uid,),
            ).fetchall()
        return [_instance_row(row) for row in rows]

    def series_frames(self, series_uid: str) -> int:
        """Frames of the series' stored instances (multi-frame instances count each frame)."""
        with self._lock:
            row = self._db.execute(
                """SELECT COALESCE(SUM(frames), 0) FROM instances
                   WHERE series_ref = (SELECT id FROM series WHERE series_uid = ?)
                     AND status = ?""",
                (series_uid, STATUS_OK),
            ).fetchone()
        return int(row[0])

    def first_in_reading_order(self, series_uid: str) -> StackRow | None:
        """The series' first instance in reading order (archive.stacks: head first along the
        slice normal, then Instance Number, then SOP Instance UID) by index seeks on the
        stored reading key (schema 003): the viewer shows it before it reads the rest of the
        series. None when the series has no stored instance."""
        with self._lock:
            found = self._db.execute(
                "SELECT id FROM series WHERE series_uid = ?", (series_uid,)
            ).fetchone()
            if found is None:
                return None
            series_ref = found[0]
            unplaced = self._db.execute(
                """SELECT 1 FROM instances WHERE series_ref = ? AND status = ?
                   AND along_normal IS NULL LIMIT 1""",
                (series_ref, STATUS_OK),
            ).fetchone()
            if unplaced is not None:  # read in Instance Number order
                row = self._db.execute(
                    f"""SELECT {_STACK_COLUMNS} FROM instances
                        WHERE series_ref = ? AND status = ?
                        ORDER BY COALESCE(instance_number, 0), sop_instance_uid LIMIT 1""",
                    (series_ref, STATUS_OK),
                ).fetchone()
            else:
                row = self._db.execute(
                    f"""SELECT {_STACK_COLUMNS} FROM instances
                        WHERE series_ref = ? AND status = ? AND along_normal = (
                            SELECT MAX(along_normal) FROM instances
                            WHERE series_ref = ? AND status = ?)
                        ORDER BY COALESCE(instance_number, 0), sop_instance_uid LIMIT 1""",
                    (series_ref, STATUS_OK, series_ref, STATUS_OK),
                ).fetchone()
        return _stack_row(row) if row else None

    def stack_rows(self, series_uid: str) -> list[StackRow]:
        """The instances of a series whose files are in the store (status 'ok'), with what a
        viewer needs to order and place their frames; in no particular order. One query
        without joins: the path that opens a series must take milliseconds."""
        with self._lock:
            rows = self._db.execute(
                f"""SELECT {_STACK_COLUMNS} FROM instances
                    WHERE series_ref = (SELECT id FROM series WHERE series_uid = ?)
                      AND status = ?""",
                (series_uid, STATUS_OK),
            ).fetchall()
        return [_stack_row(row) for row in rows]

    def indexed_uids(self, sop_instance_uids: Sequence[str]) -> set[str]:
        """Those of `sop_instance_uids` that are indexed (a journal's compaction: one query
        per few hundred UIDs, not a joined row each)."""
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(sop_instance_uids), 500):
                part = sop_instance_uids[start:start + 500]
                marks = ",".join("?" * len(part))
                found.update(row[0] for row in self._db.execute(
                    f"SELECT sop_instance_uid FROM instances WHERE sop_instance_uid IN ({marks})",
                    part,
                ))
        return found

    def all_store_paths(self) -> set[str]:
        """The store path of every indexed instance (`check`: files without rows)."""
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT store_path FROM instances")}

    def stored_checksums(self) -> list[tuple[str, str, str]]:
        """(SOP Instance UID, store path, sha256) of every indexed instance (`check`)."""
        with self._lock:
            return [
                (str(a), str(b), str(c)) for a, b, c in self._db.execute(
                    "SELECT sop_instance_uid, store_path, sha256 FROM instances"
                )
            ]


def _rowid(cur: sqlite3.Cursor) -> int:
    if cur.lastrowid is None:  # only after a statement that inserted nothing
        raise ArchiveIndexError("insert returned no row id")
    return cur.lastrowid


def _refresh_series_facts(cur: sqlite3.Cursor, study_ref: int) -> None:
    """Modalities in Study and the series count, from the study's series (PS3.3 C.7.2.1)."""
    modalities = sorted(
        {row[0] for row in cur.execute(
            "SELECT modality FROM series WHERE study_ref = ? AND modality != ''", (study_ref,)
        )}
    )
    cur.execute(
        """UPDATE studies SET modalities = ?,
               series_count = (SELECT COUNT(*) FROM series WHERE study_ref = ?) WHERE id = ?""",
        ("\\".join(modalities), study_ref, study_ref),
    )


def delete_study_rows(cur: sqlite3.Cursor, study_uid: str) -> list[str]:
    """`Index.delete_study` inside a transaction the caller holds."""
    found = cur.execute(
        "SELECT id, patient_ref FROM studies WHERE study_uid = ?", (study_uid,)
    ).fetchone()
    if found is None:
        return []
    study_ref, patient_ref = found
    paths = [
        row[0] for row in cur.execute(
            """SELECT i.store_path FROM instances i JOIN series se
               ON se.id = i.series_ref WHERE se.study_ref = ?""",
            (study_ref,),
        )
    ]
    cur.execute("DELETE FROM studies WHERE id = ?", (study_ref,))  # cascades
    _drop_patient_if_empty(cur, patient_ref)
    return paths


def _drop_patient_if_empty(cur: sqlite3.Cursor, patient_ref: int) -> None:
    cur.execute(
        """DELETE FROM patients WHERE id = ?
           AND NOT EXISTS (SELECT 1 FROM studies WHERE patient_ref = ?)""",
        (patient_ref, patient_ref),
    )


def _geometry_values(rec: InstanceRecord) -> tuple[object, ...]:
    """The schema 002 column values of `rec`, NULL where it has none."""
    parts: list[object] = [rec.rows, rec.columns]
    for label, values, count in (
        ("image_position", rec.image_position, 3),
        ("image_orientation", rec.image_orientation, 6),
        ("pixel_spacing", rec.pixel_spacing, 2),
    ):
        if values is None:
            parts += [None] * count
        elif len(values) != count:
            raise ValueError(f"{label} must hold {count} numbers, not {values!r}")
        else:
            parts += [float(v) for v in values]
    if rec.spacing_source not in ("", IMAGER_PIXEL_SPACING):
        raise ValueError(f"spacing_source must be '' or {IMAGER_PIXEL_SPACING!r}")
    lossy = None if rec.lossy is None else int(rec.lossy)
    return (
        *parts, rec.spacing_source, rec.slice_thickness, rec.slice_location,
        rec.frame_of_reference_uid, lossy,
        reading_key(rec.image_position, rec.image_orientation),
    )


def _instance_row(row: tuple[Any, ...]) -> InstanceRow:
    """An InstanceRow from a row of _INSTANCE_SELECT; a value group with a NULL (a row indexed
    before schema 002) is None as a whole."""
    px, py, pz, rx, ry, rz, cx, cy, cz, sr, sc = row[14:25]
    return InstanceRow(
        sop_instance_uid=row[0],
        series_instance_uid=row[1],
        study_instance_uid=row[2],
        sop_class_uid=row[3],
        transfer_syntax_uid=row[4],
        instance_number=row[5],
        number_of_frames=row[6],
        store_path=row[7],
        size=row[8],
        sha256=row[9],
        imported_at=row[10],
        status=row[11],
        rows=row[12],
        columns=row[13],
        image_position=None if None in (px, py, pz) else (px, py, pz),
        image_orientation=None if None in (rx, ry, rz, cx, cy, cz) else (rx, ry, rz, cx, cy, cz),
        pixel_spacing=None if None in (sr, sc) else (sr, sc),
        spacing_source=row[25],
        slice_thickness=row[26],
        slice_location=row[27],
        frame_of_reference_uid=row[28],
        lossy=None if row[29] is None else bool(row[29]),
    )


def _study_row(row: tuple[object, ...]) -> StudyRow:
    values = list(row)
    modalities = str(values[6])
    values[6] = tuple(modalities.split("\\")) if modalities else ()
    return StudyRow(*values)  # type: ignore[arg-type]


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


_STACK_COLUMNS = """sop_instance_uid, instance_number, frames, store_path, rows, columns,
    position_x, position_y, position_z,
    orientation_row_x, orientation_row_y, orientation_row_z,
    orientation_col_x, orientation_col_y, orientation_col_z,
    spacing_row, spacing_col, spacing_source, slice_thickness,
    slice_location, frame_of_reference_uid, along_normal"""


def _stack_row(row: tuple[Any, ...]) -> StackRow:
    (uid, number, frames, path, n_rows, n_columns, px, py, pz, rx, ry, rz, cx, cy, cz, sr, sc,
     source, thickness, location, frame_of_reference, along) = row
    return StackRow(
        uid, number, frames, path, n_rows, n_columns,
        None if None in (px, py, pz) else (px, py, pz),
        None if None in (rx, ry, rz, cx, cy, cz) else (rx, ry, rz, cx, cy, cz),
        None if None in (sr, sc) else (sr, sc),
        source, thickness, location, frame_of_reference, along,
    )


READING_ORDER_VERSION = 3  # schema/003_reading_order.sql


def _fill_reading_keys(cur: sqlite3.Cursor) -> None:
    """The reading key of rows indexed before schema 003 (inside the upgrade's transaction)."""
    rows = cur.execute(
        """SELECT id, position_x, position_y, position_z,
                  orientation_row_x, orientation_row_y, orientation_row_z,
                  orientation_col_x, orientation_col_y, orientation_col_z
           FROM instances WHERE position_x IS NOT NULL AND orientation_row_x IS NOT NULL"""
    ).fetchall()
    keys = [(reading_key(r[1:4], r[4:10]), r[0]) for r in rows]
    cur.executemany("UPDATE instances SET along_normal = ? WHERE id = ?", keys)
