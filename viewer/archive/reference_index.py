"""The index of what references what (schema 005): written with each referencing instance,
back-filled from stored files, and asked from an image's side.

Rows are written by `insert_references` in the transaction that adds the instance row
(Index.add_instance / add_instances: import, recovery, `check --repair`'s re-indexing), and
by `backfill_references` for instances indexed without them: the upgrade to schema 005 (an
archive that already holds presentation states or key object documents) and `check --repair`
(a file that was missing during the upgrade and came back). Both tables go with their
instance row (ON DELETE CASCADE), so deleting a study or an instance needs nothing here.

The queries are methods of `Index` (`ReferenceQueries` is mixed into it):
`presentation_states_for`, `key_object_documents`, `key_images`, `objects_referencing`.
They return small frozen rows a viewport or the CLI can hold; only instances whose file is in
the store (status 'ok') are returned as referencing objects.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from viewer.archive.records import STATUS_OK, dicom_date
from viewer.dicom.references import (
    KIND_KEY_OBJECTS,
    KIND_PRESENTATION,
    ROLE_IMAGE,
    ObjectReferences,
    kind_of,
)

LOGGER = logging.getLogger(__name__)

REFERENCES_VERSION = 5  # schema/005_references.sql

# SOP Class UID prefixes of every kind viewer.dicom.references reads (kind_of decides; this
# only narrows the scan of the instances table).
_CLASS_PATTERNS = (
    "1.2.840.10008.5.1.4.1.1.11.%",  # softcopy presentation states
    "1.2.840.10008.5.1.4.1.1.88.%",  # SR documents and KOS
    "1.2.840.10008.5.1.4.1.1.66.%",  # segmentations
    "1.2.840.10008.5.1.4.1.1.481.3",  # RT Structure Set
)


def insert_references(cur: sqlite3.Cursor, instance_ref: int, refs: ObjectReferences) -> None:
    """The rows of one referencing object (`refs.kind` set), inside the caller's transaction."""
    if refs.kind is None:
        raise ValueError("an object without a kind references nothing to index")
    cur.execute(
        """INSERT INTO referencing_objects (instance_ref, kind, label, description, title,
               content_date, content_time) VALUES (?, ?, ?, ?, ?, ?, ?)""",
        (instance_ref, refs.kind, refs.label, refs.description, refs.title,
         dicom_date(refs.content_date), refs.content_time.strip()),
    )
    cur.executemany(
        """INSERT INTO object_references (instance_ref, position, sop_instance_uid,
               sop_class_uid, series_uid, frame, presentation_state_uid, role)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            (instance_ref, position, r.sop_instance_uid, r.sop_class_uid,
             r.series_instance_uid, r.frame, r.presentation_state_uid, r.role)
            for position, r in enumerate(refs.references)
        ],
    )


_UNINDEXED_SELECT = f"""
    SELECT i.id, i.sop_instance_uid, i.sop_class_uid, i.store_path FROM instances i
    WHERE ({" OR ".join("i.sop_class_uid LIKE ?" for _ in _CLASS_PATTERNS)}) AND NOT EXISTS (
        SELECT 1 FROM referencing_objects r WHERE r.instance_ref = i.id)
    ORDER BY i.id
"""


def unindexed_objects(cur: sqlite3.Cursor) -> list[tuple[int, str, str, str]]:
    """(instance id, SOP Instance UID, kind, store path) of the indexed instances of a
    referencing SOP class that have no reference rows yet."""
    rows = cur.execute(_UNINDEXED_SELECT, _CLASS_PATTERNS).fetchall()
    return [(int(ref), str(uid), kind, str(path)) for ref, uid, cls, path in rows
            if (kind := kind_of(cls)) is not None]


def backfill_references(cur: sqlite3.Cursor, root: Path) -> tuple[list[str], list[str]]:
    """Index the references of every referencing instance that has none, reading its stored
    file under the archive `root`, inside the caller's transaction. Returns the SOP Instance
    UIDs filled and those whose file could not be read (left for `check --repair`)."""
    from viewer.dicom.files import DicomFileError, read_dataset
    from viewer.dicom.references import indexed_references

    filled: list[str] = []
    unreadable: list[str] = []
    for instance_ref, uid, kind, store_path in unindexed_objects(cur):
        relative = PurePosixPath(store_path)
        if relative.is_absolute() or ".." in relative.parts:  # not a path the store made
            unreadable.append(uid)
            continue
        try:
            ds = read_dataset(root.joinpath(*relative.parts), stop_before_pixels=True)
        except DicomFileError as exc:
            LOGGER.warning("references of %s not indexed: %s", store_path, exc.reason)
            unreadable.append(uid)
            continue
        insert_references(cur, instance_ref, indexed_references(ds, kind))
        filled.append(uid)
    if filled or unreadable:
        LOGGER.info("references indexed for %d object(s); %d file(s) unreadable",
                    len(filled), len(unreadable))
    return filled, unreadable


# --- rows ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferencingObjectRow:
    """An indexed presentation state, KOS, SR, SEG or RTSTRUCT, as a list of them shows it.
    `kind`, `label`, `description`, `title`, dates: as viewer.dicom.references reads them."""

    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    study_instance_uid: str
    kind: str
    label: str
    description: str
    title: str
    content_date: str  # DA 'YYYYMMDD'
    content_time: str  # TM
    store_path: str  # relative to the archive root

    def as_json(self) -> dict[str, Any]:
        return {
            "SOPInstanceUID": self.sop_instance_uid,
            "SOPClassUID": self.sop_class_uid,
            "SeriesInstanceUID": self.series_instance_uid,
            "StudyInstanceUID": self.study_instance_uid,
            "kind": self.kind,
            "ContentLabel": self.label,
            "ContentDescription": self.description,
            "title": self.title,
            "ContentDate": self.content_date,
            "ContentTime": self.content_time,
            "path": self.store_path,
        }


@dataclass(frozen=True)
class PresentationStateRef:
    """The presentation state a key object item names: its UID, and its label when the
    archive holds it (None when it does not)."""

    sop_instance_uid: str
    label: str | None
    store_path: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "SOPInstanceUID": self.sop_instance_uid,
            "ContentLabel": self.label,
            "in_archive": self.store_path is not None,
        }


@dataclass(frozen=True)
class KeyImageRow:
    """One image (or frame) a key object document of a study flags.

    `series_instance_uid`, `instance_number`, `store_path`: from the archive when it holds the
    image (`store_path` None when it does not; the series then as the document names it).
    `frame`: 1-based, None for the whole image. `presentation_state`: what the item says the
    image is to be seen with, or None.
    """

    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    instance_number: int | None
    frame: int | None
    store_path: str | None
    document_uid: str  # the KOS's SOP Instance UID
    document_title: str
    presentation_state: PresentationStateRef | None

    def as_json(self) -> dict[str, Any]:
        return {
            "SOPInstanceUID": self.sop_instance_uid,
            "SOPClassUID": self.sop_class_uid,
            "SeriesInstanceUID": self.series_instance_uid,
            "InstanceNumber": self.instance_number,
            "frame": self.frame,
            "in_archive": self.store_path is not None,
            "document_title": self.document_title,
            "key_object_document": self.document_uid,
            "presentation_state": (None if self.presentation_state is None
                                   else self.presentation_state.as_json()),
        }


# --- queries -------------------------------------------------------------------------------------


class _Reads(Protocol):
    def read(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...


_OBJECT_SELECT = """
    SELECT i.sop_instance_uid, i.sop_class_uid, se.series_uid, st.study_uid, r.kind, r.label,
           r.description, r.title, r.content_date, r.content_time, i.store_path
    FROM referencing_objects r JOIN instances i ON i.id = r.instance_ref
    JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref
"""
_NEWEST_FIRST = " ORDER BY r.content_date DESC, r.content_time DESC, i.id DESC"


class ReferenceQueries:
    """The reference queries of `Index` (mixed into it; `read` is Index.read)."""

    def presentation_states_for(
        self: _Reads, sop_instance_uid: str, frame: int | None = None
    ) -> list[ReferencingObjectRow]:
        """The stored presentation states that apply to an image, newest first (Presentation
        Creation Date and Time, then the latest indexed): with `frame` (1-based), those that
        name that frame or the whole image; without, every one that names the image."""
        # from the referenced UID's index entries to their objects, not the other way round
        sql = _OBJECT_SELECT + """
            WHERE r.kind = ? AND i.status = ? AND r.instance_ref IN (
                SELECT o.instance_ref FROM object_references o
                WHERE o.sop_instance_uid = ? AND o.role = ?"""
        args: list[object] = [KIND_PRESENTATION, STATUS_OK, sop_instance_uid, ROLE_IMAGE]
        if frame is not None:
            sql += " AND (o.frame IS NULL OR o.frame = ?)"
            args.append(int(frame))
        rows = self.read(sql + ")" + _NEWEST_FIRST, args)
        return [ReferencingObjectRow(*row) for row in rows]

    def key_object_documents(self: _Reads, study_uid: str) -> list[ReferencingObjectRow]:
        """The stored Key Object Selection documents of a study, newest first (Content Date
        and Time); `title` is the document title ("Of Interest", "For Teaching", ...)."""
        rows = self.read(
            _OBJECT_SELECT + " WHERE r.kind = ? AND i.status = ? AND st.study_uid = ?"
            + _NEWEST_FIRST,
            (KIND_KEY_OBJECTS, STATUS_OK, study_uid),
        )
        return [ReferencingObjectRow(*row) for row in rows]

    def key_images(self: _Reads, study_uid: str) -> list[KeyImageRow]:
        """The images the study's key object documents flag (their IMAGE items): documents
        newest first, each in its own order; an image flagged by two documents comes once per
        document. Images not in the archive are listed too (`store_path` None)."""
        rows = self.read(
            """SELECT o.sop_instance_uid, o.sop_class_uid, o.series_uid, o.frame,
                      o.presentation_state_uid, ki.sop_class_uid, kse.series_uid,
                      ki.instance_number, ki.store_path, d.sop_instance_uid, r.title,
                      pr.label, pi.store_path
               FROM referencing_objects r
               JOIN instances d ON d.id = r.instance_ref
               JOIN series se ON se.id = d.series_ref JOIN studies st ON st.id = se.study_ref
               JOIN object_references o ON o.instance_ref = r.instance_ref
               LEFT JOIN instances ki ON ki.sop_instance_uid = o.sop_instance_uid
               LEFT JOIN series kse ON kse.id = ki.series_ref
               LEFT JOIN instances pi ON pi.sop_instance_uid = o.presentation_state_uid
               LEFT JOIN referencing_objects pr ON pr.instance_ref = pi.id
               WHERE r.kind = ? AND d.status = ? AND st.study_uid = ? AND o.role = ?
               ORDER BY r.content_date DESC, r.content_time DESC, d.id DESC, o.position""",
            (KIND_KEY_OBJECTS, STATUS_OK, study_uid, ROLE_IMAGE),
        )
        found = []
        for (uid, sop_class, series, frame, ps_uid, stored_class, stored_series, number,
             path, document, title, ps_label, ps_path) in rows:
            ps = None
            if ps_uid is not None:
                ps = PresentationStateRef(
                    ps_uid, ps_label if ps_path is not None else None, ps_path)
            found.append(KeyImageRow(
                uid, stored_class or sop_class, stored_series or series, number, frame, path,
                document, title, ps,
            ))
        return found

    def objects_without_references(self: _Reads) -> list[tuple[str, str]]:
        """(SOP Instance UID, store path) of the indexed referencing objects whose references
        are not indexed (`check`; `check --repair` back-fills them)."""
        rows = self.read(_UNINDEXED_SELECT, _CLASS_PATTERNS)
        return [(str(uid), str(path)) for _, uid, cls, path in rows if kind_of(cls)]

    def objects_referencing(self: _Reads, sop_instance_uid: str) -> list[ReferencingObjectRow]:
        """Every stored object (presentation state, KOS, SR, SEG, RTSTRUCT) that references an
        instance in any way (an image, a composite item, evidence), newest first."""
        rows = self.read(
            _OBJECT_SELECT + """ WHERE i.status = ? AND r.instance_ref IN (
                SELECT o.instance_ref FROM object_references o
                WHERE o.sop_instance_uid = ?)""" + _NEWEST_FIRST,
            (STATUS_OK, sop_instance_uid),
        )
        return [ReferencingObjectRow(*row) for row in rows]
