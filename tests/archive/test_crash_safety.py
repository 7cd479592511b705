"""Issue 4 item 6: the archive survives a killed import, a full disk and concurrent imports.

Real processes throughout: `python -m viewer --archive A import ...` is started as a subprocess
and killed with SIGKILL part-way (no atexit, no finally), imports run against a 2 MiB tmpfs until
the disk is full, and two imports race each other while a third process searches.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from viewer.archive.archive import INDEX_NAME, Archive
from viewer.archive.importer import BATCH, WRITE_AHEAD
from viewer.archive.store import STORE_DIR, TMP_DIR, sha256_of
from viewer.dicom.demo import write_ct_series

pytestmark = pytest.mark.timeout(240)

CRASH_FILES = 300


def viewer(archive: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "viewer", "--archive", str(archive), *args]


def run_import(archive: Path, *sources: Path) -> tuple[int, dict[str, Any], str]:
    """(exit code, the --json document, stderr) of one import process."""
    done = subprocess.run(
        viewer(archive, "import", *map(str, sources), "--json"),
        check=False, capture_output=True, text=True, timeout=180,
    )
    assert done.stdout, f"no output (exit {done.returncode}):\n{done.stderr}"
    return done.returncode, json.loads(done.stdout), done.stderr


def stored_files(archive: Path) -> list[Path]:
    """Final store files (temporary files live under store/.tmp and are not counted)."""
    store = archive / STORE_DIR
    if not store.is_dir():
        return []
    return [p for p in store.glob("??/*/*.dcm") if p.is_file()]


def indexed_rows(archive: Path) -> int:
    """Committed instance rows, read by a separate read-only connection (WAL readers do not
    block the import); 0 while the index does not exist yet."""
    db = archive / INDEX_NAME
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0])
    except sqlite3.OperationalError:  # being created: no schema or no -shm yet
        return 0


def descendants(pid: int) -> set[int]:
    """The processes below `pid` (Linux /proc; empty elsewhere): the import's workers."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                children = {int(c) for c in task.read_text().split()}
                todo.extend(children - found)
                found |= children
    return found


def wait_gone(pids: set[int], timeout_s: float = 10.0) -> None:
    """Until none of `pids` runs any more: a killed importer's workers end with it."""
    deadline = time.monotonic() + timeout_s
    while alive := {p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)}:
        assert time.monotonic() < deadline, f"import workers {alive} outlived the importer"
        time.sleep(0.01)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def temp_files(archive: Path) -> list[Path]:
    tmp = archive / STORE_DIR / TMP_DIR
    return [p for p in tmp.rglob("*") if p.is_file()] if tmp.is_dir() else []


def reopen_and_check(archive: Path) -> list[tuple[str, str, str]]:
    """Open the archive (which recovers), then: no temporary files are left and every indexed
    row has its file with the recorded sha256. Returns the rows (uid, store path, sha256)."""
    with Archive(archive) as opened:
        rows = opened.index.stored_checksums()
        for uid, rel_path, digest in rows:
            path = opened.store.absolute(rel_path)
            assert path.is_file(), f"row {uid} without its file {rel_path}"
            assert sha256_of(path) == digest, f"{rel_path}: checksum differs from its row"
    assert temp_files(archive) == [], "temporary files left after reopening"
    return rows


# --- kill -9 part-way -----------------------------------------------------------------------------


def test_killed_import_recovers_and_reimport_brings_the_rest(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_ct_series(source, CRASH_FILES, 64, 64)
    archive = tmp_path / "archive"
    process = subprocess.Popen(
        viewer(archive, "import", str(source)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        # Kill once the first batch of rows is committed: well before the end of the import.
        while indexed_rows(archive) == 0:
            assert process.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import indexed nothing in 120 s"
            time.sleep(0.002)
        workers = descendants(process.pid)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        assert process.stderr is not None
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert workers, "the import ran no worker processes"
    wait_gone(workers)

    rows = reopen_and_check(archive)
    files = stored_files(archive)
    indexed = len(rows)
    assert 0 < indexed < CRASH_FILES, "the kill did not land part-way"
    # Files are made durable before their rows are committed, in batches: the files of at most
    # two batches (one being synced, one being filled) and of the writes in flight have no row
    # yet (orphans), and every row's file is there. The workers died with the importer.
    assert indexed <= len(files) <= indexed + 2 * BATCH + WRITE_AHEAD
    assert {r[1] for r in rows} <= {f"{STORE_DIR}/{p.parent.parent.name}/{p.parent.name}/{p.name}"
                                    for p in files}

    code, report, stderr = run_import(archive, source)
    assert code == 0, stderr
    assert report["conflicts"] == [] and report["failed"] == [] and report["stopped"] is None
    # An orphan (linked into the store, row never committed) comes back as 'imported': the
    # store finds the same bytes at its path (created=False) and the importer indexes it.
    assert len(report["already_present"]) == indexed
    assert len(report["imported"]) == CRASH_FILES - indexed
    assert set(report["imported"]).isdisjoint(report["already_present"])

    rows = reopen_and_check(archive)
    assert len(rows) == CRASH_FILES
    assert len(stored_files(archive)) == CRASH_FILES
    with Archive(archive) as opened:
        (study,) = opened.index.search_studies()
        assert study.number_of_instances == CRASH_FILES


# --- disk full ------------------------------------------------------------------------------------


def test_disk_full_stops_cleanly_and_keeps_the_archive_consistent(
    tmp_path: Path, small_disk: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    # 256x256 16-bit: ~130 KB a file. 5 fit in 2 MiB; 24 (~3.1 MB) do not.
    write_ct_series(first, 5, 256, 256, patient_name="FIRST^STUDY", patient_id="P1")
    write_ct_series(second, 24, 256, 256, patient_name="SECOND^STUDY", patient_id="P2")
    archive = small_disk / "archive"

    code, report, stderr = run_import(archive, first)
    assert code == 0, stderr
    assert len(report["imported"]) == 5
    first_rows = reopen_and_check(archive)

    code, report, stderr = run_import(archive, second)
    assert code == 1, stderr
    stopped = report["stopped"] or ""
    assert "disk full" in stopped or "No space left" in stopped, report
    assert "import stopped" in stderr
    assert len(report["imported"]) < 24
    assert "Traceback" not in stderr, stderr

    rows = reopen_and_check(archive)
    assert set(first_rows) <= set(rows), "the first study lost rows"
    with Archive(archive) as opened:
        (study,) = opened.index.search_studies(patient_name="FIRST^*")
        assert study.number_of_instances == 5
        second_study = opened.index.search_studies(patient_name="SECOND^*")
        imported_second = second_study[0].number_of_instances if second_study else 0
    assert imported_second == len(report["imported"])
    assert len(rows) == 5 + imported_second


# --- concurrency ----------------------------------------------------------------------------------


def test_two_imports_and_a_search_at_once(tmp_path: Path) -> None:
    folders = []
    for n, name in enumerate(("A", "B", "C")):
        folder = tmp_path / name
        write_ct_series(folder, 60, 64, 64, patient_name=f"RACE^{name}", patient_id=f"P{n}")
        folders.append(folder)
    archive = tmp_path / "archive"
    Archive(archive).close()  # the schema exists before the race (creation is tested elsewhere)

    def start_import(*sources: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            viewer(archive, "import", *map(str, sources), "--json"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    one = start_import(folders[0], folders[1])
    two = start_import(folders[1], folders[2])
    searches = 0
    deadline = time.monotonic() + 180
    while one.poll() is None or two.poll() is None:
        assert time.monotonic() < deadline, "imports did not finish in 180 s"
        search = subprocess.run(
            viewer(archive, "studies", "--patient-name", "race^*"),
            check=False, capture_output=True, text=True, timeout=120,
        )
        assert search.returncode == 0, search.stderr
        assert "locked" not in search.stderr, search.stderr
        searches += 1
    reports = []
    for process in (one, two):
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "locked" not in err, err
        reports.append(json.loads(out))
    assert searches >= 1
    for report in reports:
        assert report["conflicts"] == [] and report["failed"] == []
        assert len(report["imported"]) + len(report["already_present"]) == 120
    # Every instance was imported by exactly one of the two.
    assert sum(len(r["imported"]) for r in reports) == 180
    rows = reopen_and_check(archive)
    assert len(rows) == 180
    assert len(stored_files(archive)) == 180
    with Archive(archive) as opened:
        counts = {s.patient_name: s.number_of_instances for s in opened.index.search_studies()}
    assert counts == {"RACE^A": 60, "RACE^B": 60, "RACE^C": 60}
