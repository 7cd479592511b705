"""Findings at import (issue 19, item 2): `import` validates what it committed and stores the
findings in the index (schema 006), the store functions the browser uses show them, they go
with their study, an index of schema 005 is upgraded with its studies pending, and the
background validator never holds an import up (a cancel on close; a 5,000-file study)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import cast

import pytest
from pydicom import dcmread

from viewer.archive.archive import INDEX_NAME, Archive
from viewer.archive.check import check_archive
from viewer.archive.findings_index import pending_studies
from viewer.archive.importer import import_paths
from viewer.archive.index import default_schema_dir, schema_steps
from viewer.dicom.demo import write_ct_series
from viewer.quality.background import ImportValidator
from viewer.quality.findings import ERROR
from viewer.quality.store import (
    FindingCounts,
    instance_findings,
    series_counts,
    study_counts,
    study_report,
    validate_stored,
)

_ROOT = Path(__file__).resolve().parents[2]
_NEWEST = schema_steps(default_schema_dir())[-1].version
_STUDY = "1.2.826.0.1.3680043.9.7777.19"
_IMPORT_KEYS = {"imported", "already_present", "present_other_syntax", "conflicts", "failed",
                "warnings", "stopped"}


def _viewer(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    return subprocess.run([sys.executable, "-m", "viewer", *args], capture_output=True,
                          text=True, timeout=300, env=env, check=False)


def _rewrite(path: Path, **values: object) -> None:
    ds = dcmread(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a malformed DA: pydicom warns as it is set
        for keyword, value in values.items():
            setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def defective(tmp_path: Path) -> dict[str, object]:
    """A study of two series: one file with an enumerated value out of its set, one with a
    malformed Study Date, and a second series of another Patient ID (an identity error)."""
    first = write_ct_series(tmp_path / "in" / "a", slices=4, rows=16, columns=16,
                            study_uid=_STUDY)
    second = write_ct_series(tmp_path / "in" / "b", slices=3, rows=16, columns=16,
                             study_uid=_STUDY, series_number=2, patient_id="OTHER7")
    _rewrite(first[1], PatientSex="X")
    _rewrite(first[2], StudyDate="2026-12-01")
    return {"folder": tmp_path / "in", "archive": tmp_path / "archive",
            "sex": str(dcmread(first[1]).SOPInstanceUID),
            "date": str(dcmread(first[2]).SOPInstanceUID),
            "clean": str(dcmread(first[0]).SOPInstanceUID),
            "series": (str(dcmread(first[0]).SeriesInstanceUID),
                       str(dcmread(second[0]).SeriesInstanceUID))}


def test_import_json_summarises_the_findings_stored_for_the_browser(
        defective: dict[str, object]) -> None:
    done = _viewer("--archive", str(defective["archive"]), "import",
                   str(defective["folder"]), "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    answer = json.loads(done.stdout)
    assert set(answer) == _IMPORT_KEYS | {"findings"}  # every key of before, and one more
    assert len(answer["imported"]) == 7
    summary = answer["findings"]
    assert set(summary) == {"errors", "warnings", "studies"}
    assert set(summary["studies"]) == {_STUDY}
    assert summary["studies"][_STUDY]["pending"] is False
    assert summary["errors"] == summary["studies"][_STUDY]["errors"] >= 3

    with Archive(Path(str(defective["archive"]))) as archive:
        counts = study_counts(archive, [_STUDY, "1.2.3.unknown"])
        assert set(counts) == {_STUDY}
        assert counts[_STUDY] == FindingCounts(summary["errors"], summary["warnings"], False)
        sex = instance_findings(archive, str(defective["sex"]))
        assert [(f.severity, f.keyword) for f in sex if f.severity == ERROR] == [
            (ERROR, "PatientSex")]
        assert any(f.keyword == "StudyDate" and f.severity == ERROR
                   for f in instance_findings(archive, str(defective["date"])))
        assert instance_findings(archive, str(defective["clean"])) == []

        report = study_report(archive, _STUDY)
        by_uid = {f.sop_instance_uid: f for f in report.files}
        assert {str(defective["sex"]), str(defective["date"])} <= set(by_uid)
        assert str(defective["clean"]) not in by_uid  # only files with findings
        stored = by_uid[str(defective["sex"])]
        assert stored.iod and Path(stored.path).is_file()
        assert Path(stored.path).is_relative_to(archive.root)
        assert any(s.kind == "identity" and s.severity == ERROR for s in report.study_findings)

        first, second = cast("tuple[str, str]", defective["series"])
        per_series = series_counts(archive, _STUDY)
        assert set(per_series) == {first, second}
        assert per_series[first].errors >= 2 and not per_series[first].pending
        # totals: every file finding and every study finding counted once, in the study
        assert counts[_STUDY].errors == report.errors

    human = _viewer("--archive", str(defective["archive"]), "import", str(defective["folder"]))
    assert human.returncode == 0
    assert "findings" not in human.stdout  # nothing new imported, nothing to validate


def test_delete_removes_the_findings_with_the_study(defective: dict[str, object]) -> None:
    root = Path(str(defective["archive"]))
    assert _viewer("--archive", str(root), "import", str(defective["folder"])).returncode == 0
    db = sqlite3.connect(root / INDEX_NAME)
    try:
        tables = ("instance_findings", "study_findings", "study_validation")
        assert all(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)
        assert _viewer("--archive", str(root), "delete", _STUDY).returncode == 0
        assert [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables] == [
            0, 0, 0]
    finally:
        db.close()


def test_no_validate_leaves_the_study_pending(defective: dict[str, object]) -> None:
    root = Path(str(defective["archive"]))
    done = _viewer("--archive", str(root), "import", str(defective["folder"]), "--json",
                   "--no-validate")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["findings"] is None
    with Archive(root) as archive:
        assert study_counts(archive, [_STUDY]) == {_STUDY: FindingCounts(0, 0, True)}
        assert pending_studies(archive.index) == [_STUDY]
        validate_stored(archive, [_STUDY])
        assert not study_counts(archive, [_STUDY])[_STUDY].pending
        assert pending_studies(archive.index) == []


def test_an_instance_arriving_later_makes_the_study_pending_again(
        defective: dict[str, object], tmp_path: Path) -> None:
    later = write_ct_series(tmp_path / "later", slices=1, rows=16, columns=16,
                            study_uid=_STUDY, series_number=3)
    with Archive(Path(str(defective["archive"]))) as archive:
        import_paths(archive, [Path(str(defective["folder"]))])
        validate_stored(archive, [_STUDY])
        before = study_counts(archive, [_STUDY])[_STUDY]
        assert not before.pending
        import_paths(archive, later)
        after = study_counts(archive, [_STUDY])[_STUDY]
        assert after == FindingCounts(before.errors, before.warnings, True)


def _as_schema_5(root: Path) -> None:
    """The index as the program before schema 006 left it."""
    db = sqlite3.connect(root / INDEX_NAME)
    try:
        db.executescript("""DROP TRIGGER instances_pending_validation;
                            DROP TABLE instance_findings; DROP TABLE study_findings;
                            DROP TABLE study_validation; PRAGMA user_version = 5;""")
    finally:
        db.close()


def test_upgrade_from_schema_5_makes_every_study_pending(defective: dict[str, object]) -> None:
    root = Path(str(defective["archive"]))
    with Archive(root) as archive:
        import_paths(archive, [Path(str(defective["folder"]))])
    _as_schema_5(root)
    with Archive(root) as upgraded:
        assert upgraded.index.schema_version == _NEWEST
        assert study_counts(upgraded, [_STUDY]) == {_STUDY: FindingCounts(0, 0, True)}
        assert check_archive(upgraded).consistent
        validate_stored(upgraded, [_STUDY])
        counts = study_counts(upgraded, [_STUDY])[_STUDY]
        assert counts.errors >= 3 and not counts.pending


def test_repair_marks_a_study_whose_file_went_missing_pending(
        defective: dict[str, object]) -> None:
    root = Path(str(defective["archive"]))
    with Archive(root) as archive:
        import_paths(archive, [Path(str(defective["folder"]))])
        validate_stored(archive, [_STUDY])
        row = archive.index.get_instance(str(defective["clean"]))
        assert row is not None
        archive.store.absolute(row.store_path).unlink()
        report = check_archive(archive, repair=True)
        assert report.marked_missing == [str(defective["clean"])]
        assert study_counts(archive, [_STUDY])[_STUDY].pending


@pytest.fixture(scope="module")
def big_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5,000-file study (8x8 slices: the count matters, not the pixels), imported once
    without validation; each test works on a copy of the archive."""
    root = tmp_path_factory.mktemp("big")
    files = write_ct_series(root / "in", slices=5000, rows=8, columns=8,
                            study_uid="1.2.826.0.1.3680043.9.7777.5000")
    with Archive(root / "archive") as archive:
        report = import_paths(archive, [root / "in"])
        assert len(report.imported) == len(files)
    return root / "archive"


def _copy(archive: Path, to: Path) -> Path:
    subprocess.run(["cp", "-a", str(archive), str(to)], check=True)
    return to


def test_a_5000_file_study_does_not_block_an_import_and_close_cancels_it(
        big_study: Path, tmp_path: Path) -> None:
    small = write_ct_series(tmp_path / "small", slices=3, rows=16, columns=16)
    big_uid = "1.2.826.0.1.3680043.9.7777.5000"
    seen: list[str] = []
    with Archive(_copy(big_study, tmp_path / "archive")) as archive:
        validator = ImportValidator(archive, on_study=lambda uid, _: seen.append(uid))
        started = time.monotonic()
        validator.queue([big_uid])
        assert time.monotonic() - started < 0.5  # queue returns at once
        time.sleep(1.0)  # validation under way: dciodvfy processes running
        assert not validator.wait(0.01)
        # an import commits, and is found, while the big study is being validated
        started = time.monotonic()
        report = import_paths(archive, small)
        assert len(report.imported) == 3
        assert archive.index.search_studies(patient_name="DEMO*")
        importing = time.monotonic() - started
        assert importing < 10.0, f"an import of 3 files took {importing:.1f} s"
        started = time.monotonic()
        validator.close(timeout=30)
        closing = time.monotonic() - started
        assert closing < 5.0, f"close took {closing:.1f} s"
        assert not validator._thread.is_alive()
        assert seen == []  # cancelled: no study reported validated
        assert validator.validated == {}
        assert study_counts(archive, [big_uid])[big_uid].pending  # to be validated again


def test_the_validator_reports_each_study_once_validated(
        defective: dict[str, object]) -> None:
    seen: list[tuple[str, FindingCounts]] = []
    with Archive(Path(str(defective["archive"]))) as archive:
        report = import_paths(archive, [Path(str(defective["folder"]))])
        assert report.study_uids == {_STUDY}
        validator = ImportValidator(archive, on_study=lambda uid, c: seen.append((uid, c)))
        try:
            validator.queue(report.study_uids)
            validator.queue(report.study_uids)  # queued twice while waiting: validated once
            assert validator.wait(120)
        finally:
            validator.close()
        assert validator.problem == ""
        assert seen == [(_STUDY, study_counts(archive, [_STUDY])[_STUDY])]
        assert not seen[0][1].pending and seen[0][1].errors >= 3


def test_listen_validates_what_it_received_in_the_background(
        defective: dict[str, object], tmp_path: Path) -> None:
    from tests.net.peers import LOOPBACK, free_port, write_config
    from tests.peers import require_tool

    storescu = require_tool("storescu", "dcmtk")
    port = free_port()
    config = write_config(tmp_path / "config.toml", {}, local_port=port, local_ae="CLISCP")
    root = Path(str(defective["archive"]))
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "viewer", "--config", str(config), "--archive", str(root),
         "listen"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        assert "listening as CLISCP" in process.stderr.readline()
        files = sorted(str(p) for p in Path(str(defective["folder"])).rglob("*.dcm"))
        subprocess.run([storescu, "-aec", "CLISCP", LOOPBACK, str(port), *files],
                       check=True, timeout=60, capture_output=True,
                       env={**os.environ, "TCP_NODELAY": "1"})
        deadline = time.monotonic() + 120
        counts: dict[str, FindingCounts] = {}
        while time.monotonic() < deadline:
            with Archive(root, recover=False) as archive:
                counts = study_counts(archive, [_STUDY])
            if _STUDY in counts and not counts[_STUDY].pending:
                break
            time.sleep(0.2)
        assert _STUDY in counts and not counts[_STUDY].pending
        assert counts[_STUDY].errors >= 3
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
