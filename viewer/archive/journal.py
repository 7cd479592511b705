"""What a writer linked into the store, journaled so that the next opening indexes it.

The importer makes files durable in batches and commits their rows afterwards, so a writer killed
in between (kill -9, a crash, a power cut after the batch's sync) leaves files without rows. Each
writer therefore journals, in its locked work directory (store.py), one line per file before it
links it into place ("intent": its store path and SOP Instance UID) and one after ("stored": the
InstanceRecord the importer built while examining it). The lines are not fsynced: the batch's
syncfs makes them durable together with the files they name.

When the archive opens, `replay` runs on the journal of every dead writer (store.recover holds
that writer's lock meanwhile): an entry whose UID is indexed is done; one whose file is absent
never got linked; one with its record and a file of the recorded size is indexed from the record
(the file was examined before it was stored; its bytes are only read again by `check`); one with
an intent alone (killed between the link and the record line) is indexed from the file's own
header, and a file that cannot be indexed is removed. Replaying is idempotent, so a replay cut
short by another crash is simply done again.

A long-lived writer (the Storage SCP) compacts its journal now and then: lines of indexed
instances are dropped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.archive.index import ArchiveIndexError
from viewer.archive.records import InstanceRecord
from viewer.archive.store import InvalidUID, relative_path
from viewer.dicom.references import ObjectReferences, kind_of, references_of

if TYPE_CHECKING:
    from viewer.archive.archive import Archive

LOGGER = logging.getLogger(__name__)

COMPACT_LINES = 4096  # a writer's journal is compacted when it grows past this many lines
_TUPLES = ("image_position", "image_orientation", "pixel_spacing")


@dataclass
class Recovered:
    """What replaying dead writers' journals did."""

    indexed: list[str] = field(default_factory=list)  # store paths
    removed: list[str] = field(default_factory=list)  # store paths that could not be indexed


def note_intent(archive: Archive, store_path: str, sop_instance_uid: str) -> None:
    """Journal that this writer is about to link `store_path` into place."""
    archive.store.journal(json.dumps({"intent": store_path, "uid": sop_instance_uid}))


def note_stored(archive: Archive, record: InstanceRecord) -> None:
    """Journal the record of a file this writer linked into place; compact a long journal."""
    # the fields one level deep: dataclasses.asdict deep-copies, four times the cost here
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    if record.references is not None:
        values["references"] = record.references.as_json()
    archive.store.journal(json.dumps({"stored": values}, ensure_ascii=False))
    if archive.store.journal_lines > COMPACT_LINES:
        archive.store.compact_journal(lambda lines: _unindexed(archive, lines))


def replay(archive: Archive, journal: Path, recovered: Recovered) -> None:
    """Index what the dead writer of `journal` stored and nobody indexed (module docstring)."""
    entries = _entries(journal.read_text(encoding="utf-8", errors="replace").splitlines())
    records: list[InstanceRecord] = []
    for store_path, (uid, record) in entries.items():
        try:
            path = archive.store.absolute(store_path)  # refuses anything but a store path
        except ValueError:
            continue
        indexed = archive.index.get_instance(uid)
        if indexed is not None:
            if indexed.store_path != store_path and archive.store.remove(store_path):
                # same UID filed under another study or series: never indexable (as _index)
                recovered.removed.append(store_path)
            continue
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # killed before the link
            continue
        if record is not None and record.size == size:
            records.append(record)
            continue
        found = record_from_file(archive, store_path)
        if isinstance(found, InstanceRecord):
            records.append(found)
        else:
            LOGGER.warning("recovery: removed %s, which cannot be indexed: %s", store_path, found)
            archive.store.remove(store_path)
            recovered.removed.append(store_path)
    for record, duplicate in zip(records, archive.index.add_instances(records), strict=True):
        if duplicate is None:
            recovered.indexed.append(record.store_path)
        elif duplicate.store_path != record.store_path and archive.store.remove(
            record.store_path
        ):
            recovered.removed.append(record.store_path)


def record_from_file(archive: Archive, store_path: str) -> InstanceRecord | str:
    """The index record of a stored file read from its own header, or why it cannot be indexed
    (`check --repair` and recovery of a journal without the record)."""
    from viewer.archive.importer import instance_key
    from viewer.dicom.files import DicomFileError, read_dataset
    from viewer.dicom.records import read_header

    path = archive.store.absolute(store_path)
    try:
        summary = read_header(path)
    except DicomFileError as exc:
        return f"not a readable DICOM instance: {exc.reason}"
    try:
        expected_path = relative_path(instance_key(summary))
    except InvalidUID as exc:
        return f"unusable {exc}"
    if expected_path != store_path:  # put here by hand, or renamed: its name is not its UIDs'
        return "file name does not match its Study, Series and SOP Instance UIDs"
    try:
        size = path.stat().st_size
        digest = archive.store.checksum(store_path)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    references = None
    if kind_of(summary.instance.sop_class_uid):  # read again, whole: rare objects, small
        try:
            references = references_of(
                read_dataset(path, stop_before_pixels=True), summary.instance.sop_class_uid)
        except DicomFileError as exc:
            return f"not a readable DICOM instance: {exc.reason}"
    return InstanceRecord.from_header(summary, store_path, size, digest, references)


def add_from_file(archive: Archive, store_path: str) -> str | None:
    """Index a stored file from its own header; None when done, else why not (file kept)."""
    found = record_from_file(archive, store_path)
    if isinstance(found, str):
        return found
    try:
        archive.index.add_instance(found)
    except ArchiveIndexError as exc:
        return f"cannot index: {exc}"
    return None


def _entries(lines: list[str]) -> dict[str, tuple[str, InstanceRecord | None]]:
    """store path -> (SOP Instance UID, its record when journaled), in journal order. A torn
    last line (the writer killed in the middle of it) is skipped."""
    entries: dict[str, tuple[str, InstanceRecord | None]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
            if "stored" in entry:
                record = _record(entry["stored"])
                entries[record.store_path] = (record.sop_instance_uid, record)
            else:
                entries.setdefault(str(entry["intent"]), (str(entry["uid"]), None))
        except (ValueError, TypeError, KeyError):
            continue
    return entries


def _record(values: dict[str, Any]) -> InstanceRecord:
    for name in _TUPLES:
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    if values.get("references") is not None:
        values["references"] = ObjectReferences.from_json(values["references"])
    return InstanceRecord(**values)


def _unindexed(archive: Archive, lines: list[str]) -> list[str]:
    """The journal lines whose SOP Instance UID is not indexed yet (still worth replaying)."""
    uids: list[str] = []
    kept: list[tuple[str, str]] = []
    for line in lines:
        try:
            entry = json.loads(line)
            uid = str(entry["stored"]["sop_instance_uid"] if "stored" in entry else entry["uid"])
        except (ValueError, TypeError, KeyError):
            continue
        uids.append(uid)
        kept.append((uid, line))
    indexed = archive.index.indexed_uids(uids)
    return [line for uid, line in kept if uid not in indexed]
