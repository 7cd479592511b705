"""Issue 15 item 2: opening the archive indexes what a dead writer stored and nobody indexed.

Real processes: imports killed with SIGKILL at ten points, then `check` and a re-import; writers
that die without closing (os._exit) with whole, cut-short and tampered journals; a live writer's
journal left alone.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.archive.test_crash_safety import (
    descendants,
    indexed_rows,
    reopen_and_check,
    run_import,
    stored_files,
    viewer,
    wait_gone,
)
from viewer.archive.archive import Archive
from viewer.archive.importer import _Stored, examine_and_store
from viewer.archive.store import STORE_DIR, TMP_DIR
from viewer.archive.workdirs import JOURNAL
from viewer.dicom.demo import write_ct_series

pytestmark = pytest.mark.timeout(600)

FILES = 300
# Files in the store when the import is killed: from before the first row to near the end.
KILL_AT = (1, 20, 50, 80, 110, 140, 170, 200, 240, 280)


def run_check(archive: Path) -> tuple[int, dict[str, object]]:
    done = subprocess.run(viewer(archive, "check", "--json"), check=False, capture_output=True,
                          text=True, timeout=120)
    return done.returncode, json.loads(done.stdout)


def test_killed_at_ten_points_check_is_consistent_and_reimport_completes(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_ct_series(source, FILES, 64, 64)
    landed = 0
    for point in KILL_AT:
        archive = tmp_path / f"archive-{point}"
        process = subprocess.Popen(viewer(archive, "import", str(source)),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(stored_files(archive)) < point and process.poll() is None:
            assert time.monotonic() < deadline, f"the import stored < {point} files in 120 s"
            time.sleep(0.001)
        workers = descendants(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if process.returncode == -signal.SIGKILL:
            landed += 1
        wait_gone(workers)
        rows_before_opening = indexed_rows(archive)

        code, report = run_check(archive)  # opening recovers; check then finds nothing
        assert code == 0, (point, report)
        assert report["consistent"] is True, (point, report)
        assert report["orphans"] == [] and report["temp_files"] == [], (point, report)
        files = len(stored_files(archive))
        assert report["instances"] == report["files"] == files, (point, report)
        assert files >= rows_before_opening

        code, imported, stderr = run_import(archive, source)
        assert code == 0, stderr
        assert imported["conflicts"] == [] and imported["failed"] == [], (point, imported)
        assert len(imported["already_present"]) == files, point
        assert len(imported["imported"]) == FILES - files, point
        rows = reopen_and_check(archive)
        assert len(rows) == FILES and len({r[0] for r in rows}) == FILES
        assert len(stored_files(archive)) == FILES
    assert landed >= 8, f"only {landed} of {len(KILL_AT)} kills landed before the import ended"


# A writer that stores files (journaled, not indexed) and dies without closing anything: its
# work directory stays with its journal and its lock is released by the kernel. MODE says what
# becomes of the journal before the death: kept whole, cut to its "intent" lines (killed
# between link and record line), or given an entry whose file cannot be indexed.
_DEAD_WRITER = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from viewer.archive.archive import Archive
    from viewer.archive.importer import examine_and_store
    root, mode, *files = sys.argv[1:]
    archive = Archive(Path(root), recover=False)
    for f in files:
        examine_and_store(archive, Path(f), f)
    work = archive.store._work
    journal = work / "journal"
    if mode == "intents":
        lines = [l for l in journal.read_text().splitlines() if '"intent"' in l]
        journal.write_text("".join(l + "\\n" for l in lines) + '{"stored": {"cut')
    elif mode == "garbage":
        first = json.loads(journal.read_text().splitlines()[0])
        path = Path(root, first["intent"])
        path.write_bytes(b"not a DICOM file")
    os._exit(0)
""")


def dead_writer(archive: Path, mode: str, files: list[Path]) -> None:
    subprocess.run([sys.executable, "-c", _DEAD_WRITER, str(archive), mode, *map(str, files)],
                   check=True, timeout=120)
    works = list((archive / STORE_DIR / TMP_DIR).iterdir())
    assert len(works) == 1 and (works[0] / JOURNAL).is_file(), "the writer left no journal"


@pytest.mark.parametrize("mode", ["whole", "intents"])
def test_opening_indexes_what_a_dead_writer_stored(tmp_path: Path, mode: str) -> None:
    source = tmp_path / "src"
    files = write_ct_series(source, 12, 32, 32)
    archive = tmp_path / "archive"
    Archive(archive).close()
    dead_writer(archive, mode, files)
    assert indexed_rows(archive) == 0 and len(stored_files(archive)) == 12

    with Archive(archive) as opened:
        assert len(opened.recovered.indexed) == 12 and opened.recovered.removed == []
        (study,) = opened.index.search_studies()
        assert study.number_of_instances == 12
    assert len(reopen_and_check(archive)) == 12
    assert list((archive / STORE_DIR / TMP_DIR).iterdir()) == []
    code, report = run_check(archive)
    assert code == 0 and report["consistent"] is True


def test_a_journaled_file_that_cannot_be_indexed_is_removed(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "src", 4, 32, 32)
    archive = tmp_path / "archive"
    dead_writer(archive, "garbage", files)
    with Archive(archive) as opened:
        assert len(opened.recovered.indexed) == 3
        assert len(opened.recovered.removed) == 1
    assert len(stored_files(archive)) == 3
    code, report = run_check(archive)
    assert code == 0 and report["consistent"] is True
    assert report["recovered"] == {"indexed": 0, "removed": []}  # done by the opening above


def test_check_says_what_opening_recovered(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "src", 4, 32, 32)
    archive = tmp_path / "archive"
    dead_writer(archive, "garbage", files)
    done = subprocess.run(viewer(archive, "check"), check=False, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("opening recovered an interrupted import: 3 files indexed, 1 that could not be "
            "indexed removed") in done.stdout
    assert "removed on opening: it could not be indexed" in done.stderr
    assert done.stdout.rstrip().endswith("consistent")


def test_a_live_writers_journal_is_left_alone(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "src", 3, 32, 32)
    root = tmp_path / "archive"
    with Archive(root) as writer:
        outcomes = [examine_and_store(writer, f, str(f)) for f in files]
        assert all(isinstance(o, _Stored) for o in outcomes)
        with Archive(root) as other:  # the writer holds its lock: not recovered under it
            assert other.recovered.indexed == []
            assert other.index.search_studies() == []
        assert len(stored_files(root)) == 3


def test_two_processes_opening_at_once_recover_once(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "src", 40, 32, 32)
    archive = tmp_path / "archive"
    Archive(archive).close()
    dead_writer(archive, "whole", files)
    checks = [subprocess.Popen(viewer(archive, "check", "--json"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for process in checks:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        report = json.loads(out)
        assert report["consistent"] is True and report["instances"] == 40, report
    assert len(reopen_and_check(archive)) == 40


def test_a_long_lived_writers_journal_is_compacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Storage SCP's writer lives for days: past COMPACT_LINES its journal keeps only the
    lines of instances not indexed yet, which are still replayed after a crash."""
    from viewer.archive import journal
    from viewer.archive.importer import import_file

    monkeypatch.setattr(journal, "COMPACT_LINES", 6)
    files = write_ct_series(tmp_path / "src", 10, 32, 32)
    with Archive(tmp_path / "archive") as archive:
        for path in files[:8]:  # stored and indexed at once, as the SCP does
            assert import_file(archive, path, str(path)).imported
        assert archive.store.journal_lines <= 6
        pending = [examine_and_store(archive, f, str(f)) for f in files[8:]]  # no rows yet
        assert all(isinstance(p, _Stored) for p in pending)
        work = archive.store._work
        assert work is not None
        lines = (work / JOURNAL).read_text().splitlines()
        uids = {json.loads(line).get("uid") or json.loads(line)["stored"]["sop_instance_uid"]
                for line in lines}
        pending_uids = {p.record.sop_instance_uid for p in pending if isinstance(p, _Stored)}
        assert pending_uids <= uids and len(lines) <= 6 + 4
        assert archive.index.indexed_uids(sorted(uids)) == uids - pending_uids
