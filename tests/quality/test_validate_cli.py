"""`dicom-viewer validate` as a user runs it (a process): CLI.md's JSON exactly, exit 1 on an
error and 0 without, every file given listed, a study of the archive by its UID, nothing but
the answer on stdout and nothing on stderr (no library warning text, no progress off a
terminal)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

from pydicom import dcmread

from viewer.dicom.demo import write_ct_series

_ROOT = Path(__file__).resolve().parents[2]
_FILE_KEYS = {"path", "SOPInstanceUID", "SOPClassUID", "iod", "findings"}
_FINDING_KEYS = {"severity", "tag", "keyword", "module", "message", "detail"}
_STUDY_KEYS = {"severity", "StudyInstanceUID", "SeriesInstanceUID", "kind", "message"}


def _viewer(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    return subprocess.run([sys.executable, "-m", "viewer", *args], capture_output=True,
                          text=True, timeout=300, env=env, check=False)


def test_json_of_a_folder_with_defects(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path / "study", slices=5, rows=16, columns=16)
    ds = dcmread(paths[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.StudyDate = "2026-12-01"  # malformed DA: pydicom warns when reading it too
    ds.save_as(paths[1], enforce_file_format=True)
    paths[3].unlink()  # a gap
    (tmp_path / "study" / "notes.txt").write_text("not DICOM")

    done = _viewer("validate", str(tmp_path / "study"), "--json")
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    answer = json.loads(done.stdout)
    assert set(answer) >= {"files", "study_findings"}
    files = answer["files"]
    assert [Path(f["path"]).name for f in files] == [
        "CT0001.dcm", "CT0002.dcm", "CT0003.dcm", "CT0005.dcm", "notes.txt"]
    for entry in files:
        assert set(entry) == _FILE_KEYS
        for finding in entry["findings"]:
            assert set(finding) == _FINDING_KEYS
            assert finding["severity"] in ("error", "warning")
    assert files[0]["findings"] == [] and files[0]["iod"] == "CT Image"
    assert files[0]["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.2"
    assert files[0]["SOPInstanceUID"] == str(dcmread(paths[0]).SOPInstanceUID)
    (date,) = files[1]["findings"]
    assert (date["severity"], date["tag"], date["keyword"]) == ("error", "(0008,0020)",
                                                                "StudyDate")
    assert "2026-12-01" in date["message"]
    assert files[4]["iod"] == "" and files[4]["findings"][0]["severity"] == "error"
    for finding in answer["study_findings"]:
        assert set(finding) == _STUDY_KEYS
    by_kind = {f["kind"]: f for f in answer["study_findings"]}
    assert set(by_kind) == {"gap", "consistency"}  # the Study Date of one file differs too
    assert by_kind["consistency"]["message"].startswith("Study Date differs")
    gap = by_kind["gap"]
    assert gap["severity"] == "warning"
    assert gap["StudyInstanceUID"] == str(ds.StudyInstanceUID)
    assert gap["SeriesInstanceUID"] == str(ds.SeriesInstanceUID)


def test_a_clean_study_from_the_archive_by_its_uid(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path / "in", slices=4, rows=16, columns=16)
    archive = str(tmp_path / "archive")
    imported = _viewer("--archive", archive, "import", str(tmp_path / "in"))
    assert imported.returncode == 0, imported.stderr
    study = str(dcmread(paths[0]).StudyInstanceUID)

    done = _viewer("--archive", archive, "validate", study, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert len(answer["files"]) == 4
    assert all(f["findings"] == [] and f["iod"] == "CT Image" for f in answer["files"])
    assert answer["study_findings"] == []

    table = _viewer("--archive", archive, "validate", study)
    assert table.returncode == 0 and table.stderr == ""
    assert table.stdout.splitlines()[-1] == "4 file(s): 0 error(s), 0 warning(s)"


def test_neither_a_path_nor_a_study_is_exit_2(tmp_path: Path) -> None:
    done = _viewer("--archive", str(tmp_path / "a"), "validate", "1.2.3.4.5.6.7")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "dicom-viewer validate: 1.2.3.4.5.6.7: no such file, folder or study in the archive"]
