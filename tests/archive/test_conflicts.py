"""Issue 15 item 3: the same instance in another transfer syntax is reported as such, apart from
true conflicts (same SOP Instance UID, other attributes or pixels), by `import` and its --json.

Real files from pydicom-data: emri_small in Explicit VR Little and Big Endian, RLE and JPEG-LS
lossless share one SOP Instance UID (the same instance); SC_rgb and SC_rgb_16bit share one with
other Bits Allocated and pixels (a true conflict); 693_UNCR and 693_J2KR differ only in the Bits
Stored the JPEG 2000 encoder wrote (the same instance).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from tests.archive.test_crash_safety import run_import, viewer
from viewer.archive.importer import CONFLICT_REASON, OTHER_SYNTAX_REASON
from viewer.dicom.sameness import same_instance

SAME = ("emri_small.dcm", "emri_small_big_endian.dcm", "emri_small_RLE.dcm",
        "emri_small_jpeg_ls_lossless.dcm")
CONFLICTING = ("SC_rgb.dcm", "SC_rgb_16bit.dcm")


def data_file(name: str) -> Path:
    found = get_testdata_file(name)
    assert found is not None, f"pydicom-data lacks {name}"
    return Path(str(found))


def folder_of(tmp_path: Path, names: tuple[str, ...]) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for name in names:
        shutil.copy(data_file(name), folder / name)
    return folder


@pytest.mark.parametrize(("first", "second", "same"), [
    ("emri_small.dcm", "emri_small_RLE.dcm", True),
    ("emri_small_big_endian.dcm", "emri_small_jpeg_ls_lossless.dcm", True),
    ("693_UNCR.dcm", "693_J2KR.dcm", True),
    ("SC_rgb.dcm", "SC_rgb_16bit.dcm", False),
    ("OBXXXX1A.dcm", "OBXXXX1A_2frame.dcm", False),
])
def test_same_instance(first: str, second: str, same: bool) -> None:
    assert same_instance(data_file(first), data_file(second)) is same
    assert same_instance(data_file(second), data_file(first)) is same


def test_one_import_reports_other_syntaxes_apart_from_conflicts(tmp_path: Path) -> None:
    source = folder_of(tmp_path, SAME + CONFLICTING)
    archive = tmp_path / "archive"
    code, report, stderr = run_import(archive, source)
    assert code == 1, stderr  # the true conflict
    assert len(report["imported"]) == 2
    # stored moments earlier by this same import, not yet indexed: the same instance, not an
    # "orphan"
    assert len(report["present_other_syntax"]) == len(SAME) - 1
    assert {Path(p).name for p in report["present_other_syntax"]} < set(SAME)
    (conflict,) = report["conflicts"]
    assert Path(conflict["path"]).name in CONFLICTING
    assert conflict["reason"] == CONFLICT_REASON
    assert "orphan" not in stderr

    # Again: the stored copies are indexed now; the byte-identical ones are already present.
    code, again, stderr = run_import(archive, source)
    assert code == 1, stderr
    assert again["imported"] == []
    assert len(again["already_present"]) == 2
    assert len(again["present_other_syntax"]) == len(SAME) - 1
    assert [Path(c["path"]).name for c in again["conflicts"]] == [Path(conflict["path"]).name]


def test_human_output_names_other_syntaxes_and_exits_0(tmp_path: Path) -> None:
    source = folder_of(tmp_path, SAME)
    done = subprocess.run(viewer(tmp_path / "archive", "import", str(source)), check=False,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("imported 1, already present 0, present in another transfer syntax 3, conflicts 0, "
            "failed 0") in done.stdout
    lines = [line for line in done.stderr.splitlines() if OTHER_SYNTAX_REASON in line]
    assert len(lines) == 3 and "Traceback" not in done.stderr
    listed = subprocess.run(viewer(tmp_path / "archive", "studies", "--json"), check=True,
                            capture_output=True, text=True, timeout=60)
    (study,) = json.loads(listed.stdout)
    assert study["NumberOfStudyRelatedInstances"] == 1
