"""The archive index: schema and upgrades, aggregates, duplicates, DICOM wildcard search
(case-insensitive, Chinese), deletion, and writers in two processes beside a searching one."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from viewer.archive.index import (
    DuplicateInstance,
    Index,
    SchemaTooNew,
    default_schema_dir,
    dicom_glob,
    schema_steps,
)
from viewer.archive.records import InstanceRecord, name_key
from viewer.dicom.records import read_header

STUDY = "1.2.3.1"


def record(n: int = 1, **changes: Any) -> InstanceRecord:
    base = InstanceRecord(
        patient_name="DOE^JOHN",
        patient_id="P1",
        patient_birth_date="19700101",
        patient_sex="M",
        study_instance_uid=STUDY,
        study_date="20240131",
        study_time="101500",
        study_description="CT chest",
        accession_number="A1",
        referring_physician_name="WHO^DOCTOR",
        series_instance_uid="1.2.3.1.1",
        modality="CT",
        series_number=1,
        series_description="axial",
        sop_instance_uid=f"1.2.3.1.1.{n}",
        sop_class_uid=CTImageStorage,
        transfer_syntax_uid=ExplicitVRLittleEndian,
        instance_number=n,
        number_of_frames=1,
        store_path=f"store/00/00/{n:064x}.dcm",
        size=1000 + n,
        sha256=f"{n:064x}",
    )
    return replace(base, **changes)


def study_record(study: int, name: str, n: int = 1, **changes: Any) -> InstanceRecord:
    """Instance `n` of a one-series study number `study` of patient `name`."""
    uid = f"1.2.9.{study}"
    fields: dict[str, Any] = {
        "patient_name": name,
        "patient_id": f"ID{study}",
        "study_instance_uid": uid,
        "series_instance_uid": f"{uid}.1",
    }
    return record(study * 1000 + n, **(fields | changes))


@pytest.fixture
def index(tmp_path: Path) -> Any:
    with Index(tmp_path / "index.sqlite3") as ix:
        yield ix


def test_new_index_has_schema_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    Index(path).close()
    db = sqlite3.connect(path)
    newest = schema_steps(default_schema_dir())[-1].version
    assert db.execute("PRAGMA user_version").fetchone()[0] == newest
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"patients", "studies", "series", "instances"} <= tables
    db.close()
    with Index(path) as ix:
        assert ix.schema_version == newest
        assert ix._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert ix._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert ix.checkpoint()


def test_aggregates_after_add(index: Index) -> None:
    index.add_instance(record(1))
    index.add_instance(record(2))
    index.add_instance(
        record(3, series_instance_uid="1.2.3.1.2", modality="MR", series_number=2)
    )
    index.add_instance(
        record(4, series_instance_uid="1.2.3.1.3", modality="CT", series_number=None)
    )
    (study,) = index.search_studies()
    assert study.study_instance_uid == STUDY
    assert study.number_of_instances == 4
    assert study.number_of_series == 3
    assert study.size == 1001 + 1002 + 1003 + 1004
    assert study.modalities == ("CT", "MR")
    assert study.patient_name == "DOE^JOHN" and study.patient_name_text == "DOE, JOHN"
    series = index.series(STUDY)
    assert [(s.series_number, s.modality, s.number_of_instances) for s in series] == [
        (1, "CT", 2), (2, "MR", 1), (None, "CT", 1),
    ]
    assert [i.instance_number for i in index.instances("1.2.3.1.1")] == [1, 2]
    row = index.get_instance("1.2.3.1.1.2")
    assert row is not None
    assert (row.study_instance_uid, row.size, row.status) == (STUDY, 1002, "ok")
    assert row.imported_at.endswith("Z")
    assert study.as_json()["NumberOfStudyRelatedInstances"] == 4
    assert study.as_json()["ModalitiesInStudy"] == ["CT", "MR"]


def test_duplicate_instance_is_refused_with_stored_checksum(index: Index) -> None:
    index.add_instance(record(1))
    with pytest.raises(DuplicateInstance) as caught:
        index.add_instance(record(1, sha256="f" * 64, size=5))
    assert caught.value.sha256 == f"{1:064x}"
    assert caught.value.store_path == record(1).store_path
    (study,) = index.search_studies()
    assert (study.number_of_instances, study.size) == (1, 1001)  # the failed add rolled back


def test_delete_study_removes_rows_and_returns_paths(index: Index) -> None:
    for n in (1, 2):
        index.add_instance(record(n))
    other = study_record(7, "DOE^JOHN", patient_id="P1")  # same patient, another study
    index.add_instance(other)
    lonely = study_record(8, "ROE^RICHARD")
    index.add_instance(lonely)
    assert sorted(index.delete_study(STUDY)) == sorted([record(1).store_path, record(2).store_path])
    assert index.get_instance(record(1).sop_instance_uid) is None
    assert index.series(STUDY) == []
    assert index.get_study(STUDY) is None
    assert [s.study_instance_uid for s in index.search_studies(patient_id="P1")] == ["1.2.9.7"]
    assert index.delete_study(STUDY) == []
    assert index.delete_study("1.2.9.8") == [lonely.store_path]
    patients = index._db.execute("SELECT name FROM patients").fetchall()
    assert patients == [("DOE^JOHN",)]  # ROE lost his only study, so his row went too
    assert index.all_store_paths() == {other.store_path}


def test_remove_instance_updates_aggregates(index: Index) -> None:
    index.add_instance(record(1))
    index.add_instance(record(2, series_instance_uid="1.2.3.1.2", modality="MR"))
    assert index.remove_instance("1.2.3.1.1.2") == record(2).store_path
    study = index.get_study(STUDY)
    assert study is not None
    assert (study.number_of_instances, study.number_of_series, study.size) == (1, 1, 1001)
    assert study.modalities == ("CT",)
    assert index.remove_instance("1.2.3.1.1.2") is None
    index.remove_instance("1.2.3.1.1.1")
    assert index.get_study(STUDY) is None
    assert index._db.execute("SELECT COUNT(*) FROM patients").fetchone()[0] == 0


def test_mark_missing_and_checksums(index: Index) -> None:
    index.add_instance(record(1))
    assert index.mark_missing("1.2.3.1.1.1")
    assert not index.mark_missing("9.9")
    row = index.get_instance("1.2.3.1.1.1")
    assert row is not None and row.status == "missing"
    assert index.stored_checksums() == [("1.2.3.1.1.1", record(1).store_path, f"{1:064x}")]
    with pytest.raises(ValueError, match="status"):
        index.set_status("1.2.3.1.1.1", "gone")


def gb18030_record(tmp_path: Path, name: str, n: int) -> InstanceRecord:
    """A record built from a real GB18030-encoded file through read_header."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "GB18030"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.PatientName = name
    ds.PatientID = f"CN{n}"
    path = tmp_path / f"gb{n}.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True)
    assert name.rsplit("=", maxsplit=1)[-1].encode("gb18030") in path.read_bytes()
    return InstanceRecord.from_header(read_header(path), f"store/{n:02x}/x.dcm", 10, "0" * 64)


NAMES = [
    "DOE^JOHN",
    "Doe^Jane",
    "DOEBLER^X",
    "ROE^JOHN",
    "A_B^C%D",
    "AXB^CQD",
    "[BRACKET]^Z",
]


@pytest.fixture
def people(index: Index, tmp_path: Path) -> Index:
    for n, name in enumerate(NAMES, 1):
        index.add_instance(study_record(n, name, study_date=f"202401{n:02d}"))
    index.add_instance(gb18030_record(tmp_path, "张三^王", 20))
    index.add_instance(gb18030_record(tmp_path, "Zhang^Wei=张^伟", 21))
    index.add_instance(gb18030_record(tmp_path, "李^四", 22))
    return index


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("DOE*", {"DOE^JOHN", "Doe^Jane", "DOEBLER^X"}),
        ("doe*", {"DOE^JOHN", "Doe^Jane", "DOEBLER^X"}),
        ("doe^j*", {"DOE^JOHN", "Doe^Jane"}),
        ("*oe^j*", {"DOE^JOHN", "Doe^Jane", "ROE^JOHN"}),
        ("d?e*", {"DOE^JOHN", "Doe^Jane", "DOEBLER^X"}),
        ("?oe^john", {"DOE^JOHN", "ROE^JOHN"}),
        ("doe^john", {"DOE^JOHN"}),
        ("DOE", set()),  # no wildcard: the whole value must match
        ("张*", {"张三^王", "Zhang^Wei=张^伟"}),
        ("*四", {"李^四"}),
        ("张?^王", {"张三^王"}),
        ("zhang*", {"Zhang^Wei=张^伟"}),
        ("ＤＯＥ^Ｊ*", {"DOE^JOHN", "Doe^Jane"}),  # full-width letters from a CJK input method
        ("a_b*", {"A_B^C%D"}),  # SQL LIKE specials are plain characters
        ("*%*", {"A_B^C%D"}),
        ("[bracket]*", {"[BRACKET]^Z"}),  # GLOB specials are plain characters
        ("[a]*", set()),
    ],
)
def test_patient_name_wildcards(people: Index, pattern: str, expected: set[str]) -> None:
    assert {s.patient_name for s in people.search_studies(patient_name=pattern)} == expected


def test_universal_match_and_other_keys(people: Index) -> None:
    everyone = people.search_studies()
    assert len(everyone) == len(NAMES) + 3
    assert len(people.search_studies(patient_name="*")) == len(everyone)
    assert len(people.search_studies(patient_name="")) == len(everyone)
    assert [s.patient_id for s in people.search_studies(patient_id="ID1*")] == ["ID1"]
    assert people.search_studies(patient_id="id1") == []  # Patient ID is case-sensitive
    ranged = people.search_studies(date_from="20240102", date_to="20240104")
    assert [s.study_date for s in ranged] == ["20240104", "20240103", "20240102"]  # newest first
    assert len(people.search_studies(patient_name="doe*", limit=2)) == 2
    assert len(people.search_studies(modality="ct")) == len(everyone)
    assert people.search_studies(modality="MR") == []
    with pytest.raises(ValueError, match="date_from must be YYYYMMDD"):
        people.search_studies(date_from="2024-01-01")


def test_dicom_glob_translation() -> None:
    assert dicom_glob("Doe*") == "doe*"
    assert dicom_glob("a?[b]") == "a?[[]b[]]"
    assert name_key("STRASSE") == name_key("Straße")


def test_schema_upgrade_applies_new_steps_in_order(tmp_path: Path) -> None:
    schema = tmp_path / "schema"
    shutil.copytree(Path(str(default_schema_dir())), schema)
    shipped = schema_steps(schema)[-1].version  # the newest step this program ships
    path = tmp_path / "index.sqlite3"
    with Index(path, schema_dir=schema) as ix:
        ix.add_instance(record(1))
    (schema / f"{shipped + 1:03d}_study_notes.sql").write_text(
        "-- a note per study; ';' inside a comment is fine\n"
        "ALTER TABLE studies ADD COLUMN note TEXT NOT NULL DEFAULT '';\n"
        "CREATE TABLE notes_log (id INTEGER PRIMARY KEY, text TEXT);\n"
    )
    (schema / "README.txt").write_text("not a schema step")
    with Index(path, schema_dir=schema) as ix:
        assert ix.schema_version == shipped + 1
        columns = [r[1] for r in ix._db.execute("PRAGMA table_info(studies)")]
        assert "note" in columns
        assert ix.get_instance("1.2.3.1.1.1") is not None  # data kept
    # a failing step is rolled back whole: version and tables as before
    broken = schema / f"{shipped + 2:03d}_broken.sql"
    broken.write_text(
        "CREATE TABLE half_done (id INTEGER);\nALTER TABLE no_such_table ADD COLUMN x;\n"
    )
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        Index(path, schema_dir=schema)
    broken.unlink()
    with Index(path, schema_dir=schema) as ix:
        assert ix.schema_version == shipped + 1
        tables = {r[0] for r in ix._db.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables and "notes_log" in tables
    # the shipped schema refuses to open an index written by a newer program
    with pytest.raises(SchemaTooNew, match=f"schema version {shipped + 1}"):
        Index(path)


def _writer(path: str, worker: int, count: int, ready: Any, start: Any, errors: Any,
            spans: Any) -> None:
    try:
        with Index(Path(path)) as ix:
            ready.put(worker)
            start.wait()
            began = time.monotonic()
            for n in range(count):
                series = f"1.2.5.{worker}"
                ix.add_instance(
                    record(
                        worker * 100_000 + n,
                        series_instance_uid=series,
                        modality="CT" if worker == 1 else "MR",
                    )
                )
            spans.put((began, time.monotonic()))
            ix.checkpoint()
    except Exception as exc:  # reported to the test, which fails on it
        errors.put(f"writer {worker}: {exc!r}")


def _searcher(path: str, ready: Any, start: Any, stop: Any, errors: Any, searches: Any) -> None:
    try:
        with Index(Path(path)) as ix:
            ready.put("searcher")
            start.wait()
            while not stop.is_set():
                ix.search_studies(patient_name="doe*")
                ix.series(STUDY)
                searches.value += 1
    except Exception as exc:
        errors.put(f"searcher: {exc!r}")


def test_two_writers_and_a_searcher_in_three_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "index.sqlite3")
    Index(Path(path)).close()
    ctx = multiprocessing.get_context("spawn")
    start, stop, errors, ready = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    searches, spans = ctx.Value("i", 0), ctx.Queue()
    count = 1500  # enough for the two writers to overlap for a while (checked below)
    writers = [
        ctx.Process(target=_writer, args=(path, w, count, ready, start, errors, spans))
        for w in (1, 2)
    ]
    searcher = ctx.Process(target=_searcher, args=(path, ready, start, stop, errors, searches))
    for process in [*writers, searcher]:
        process.start()
    # all three have opened the index (a spawned process takes a second or more to import
    # the viewer when the machine is busy) before they race
    for _ in range(3):
        ready.get(timeout=120)
    start.set()
    for process in writers:
        process.join(timeout=120)
    stop.set()
    searcher.join(timeout=30)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == []
    assert [p.exitcode for p in [*writers, searcher]] == [0, 0, 0]
    assert searches.value > 0
    (a0, a1), (b0, b1) = spans.get(timeout=5), spans.get(timeout=5)
    assert max(a0, b0) < min(a1, b1), "the writers did not run at the same time"
    with Index(Path(path)) as ix:
        study = ix.get_study(STUDY)
        assert study is not None
        assert study.number_of_instances == 2 * count
        assert study.number_of_series == 2
        assert study.modalities == ("CT", "MR")
        assert [s.number_of_instances for s in ix.series(STUDY)] == [count, count]
