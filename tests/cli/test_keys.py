"""`dicom-viewer keys STUDY_UID [--json]`: the key images of a study, from KOS documents made by
highdicom and imported into an archive with `import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from tests.dicom.makers import save
from tests.dicom.referencing import ct_series, key_object_document, presentation_state
from viewer.cli import main


def keys(capsys: pytest.CaptureFixture[str], archive: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--archive", str(archive), "keys", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, dict[str, str]]:
    """An archive holding four images, two of them flagged by a KOS ("For Teaching"): the
    first seen with a presentation state in the archive, the third with none; and a
    presentation state the KOS does not name."""
    images = ct_series(4)
    ps = presentation_state(images[:1], "TEACH", "as taught, 教学")
    unrelated = presentation_state(images[1:2], "OTHER")
    kos = key_object_document([images[0], images[2]], title=codes.DCM.ForTeaching,
                              seen_with={images[0].SOPInstanceUID: ps})
    src = tmp_path / "src"
    src.mkdir()
    for n, ds in enumerate([*images, ps, unrelated, kos]):
        save(ds, src / f"{n}.dcm")
    archive = tmp_path / "archive"
    assert main(["--archive", str(archive), "import", str(src)]) == 0
    capsys.readouterr()
    uids = {
        "study": images[0].StudyInstanceUID, "series": images[0].SeriesInstanceUID,
        "first": images[0].SOPInstanceUID, "third": images[2].SOPInstanceUID,
        "ps": ps.SOPInstanceUID,
    }
    return archive, uids


def test_json_one_object_per_key_image(
    flagged: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    archive, uids = flagged
    code, out, err = keys(capsys, archive, uids["study"], "--json")
    assert (code, err) == (0, "")
    found = json.loads(out)
    assert [k["SOPInstanceUID"] for k in found] == [uids["first"], uids["third"]]
    assert [k["InstanceNumber"] for k in found] == [1, 3]
    assert {k["SeriesInstanceUID"] for k in found} == {uids["series"]}
    assert {k["document_title"] for k in found} == {"For Teaching"}
    assert [k["frame"] for k in found] == [None, None]
    assert found[0]["presentation_state"] == {
        "SOPInstanceUID": uids["ps"], "ContentLabel": "TEACH", "in_archive": True}
    assert found[1]["presentation_state"] is None


def test_table(flagged: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    archive, uids = flagged
    code, out, _ = keys(capsys, archive, uids["study"])
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].split() == ["Number", "Frame", "Document", "PresentationState",
                                "SOPInstanceUID"]
    assert lines[1].split() == ["1", "For", "Teaching", "TEACH", uids["first"]]
    assert lines[2].split() == ["3", "For", "Teaching", uids["third"]]


def test_study_without_key_objects_lists_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    images = ct_series(2)
    for n, ds in enumerate([*images, presentation_state(images, "ONLY")]):
        save(ds, src / f"{n}.dcm")
    archive = tmp_path / "archive"
    assert main(["--archive", str(archive), "import", str(src)]) == 0
    capsys.readouterr()
    code, out, _ = keys(capsys, archive, images[0].StudyInstanceUID, "--json")
    assert code == 0 and json.loads(out) == []


def test_unknown_study_is_one_line_exit_2(tmp_path: Path) -> None:
    uid = generate_uid()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "viewer", "--archive", str(tmp_path / "a"), "keys", uid],
        check=False, capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"dicom-viewer keys: no study {uid} in the archive"]
