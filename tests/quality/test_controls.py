"""The clean control set: files on which dciodvfy -new reports no error get no error from us
(our own checks included): our demo CT series and every file of pydicom's test data that
dciodvfy reads to its end without an error. Correctly declared character sets (pydicom's
charset files, ten languages) draw no character-set finding."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pydicom

from viewer.quality.validate import validate_files

_DATA = Path(pydicom.__file__).parent / "data"


def _clean_for_dciodvfy(path: Path) -> bool:
    said = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True,
                          check=False)
    text = said.stdout + said.stderr
    return 0 <= said.returncode < 128 and not any(
        line.startswith("Error") for line in text.splitlines())


def test_our_ct_series_is_clean(ct_series: list[Path]) -> None:
    report = validate_files(ct_series)
    assert [r.path for r in report.files] == [str(p) for p in ct_series]
    assert report.errors == 0
    assert all(r.iod == "CT Image" and not r.findings for r in report.files)
    assert report.study_findings == ()


def test_files_clean_for_dciodvfy_get_no_error_from_us() -> None:
    files = sorted((_DATA / "test_files").glob("*.dcm"))
    controls = [p for p in files if _clean_for_dciodvfy(p)]
    assert len(controls) >= 15  # CT, MR in six syntaxes, RGB SC, RT Dose...
    report = validate_files(controls)
    assert len(report.files) == len(controls)
    assert {r.path: [f for f in r.findings if f.severity == "error"]
            for r in report.files if r.errors} == {}


def test_declared_character_sets_draw_no_charset_finding() -> None:
    files = sorted((_DATA / "charset_files").glob("*.dcm"))
    assert len(files) >= 15
    report = validate_files(files)
    charset = [f for r in report.files for f in r.findings
               if "character set" in f.message.lower() or "repertoire" in f.message]
    assert charset == []
