"""`dicom-viewer info FILE [--json]`: in-process through viewer.cli.main, and one real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_charset_files, get_testdata_file

from tests.dicom.test_records import write_header_file
from viewer.cli import main

# The console script of the interpreter running the tests (/work/venv/bin/dicom-viewer here).
DICOM_VIEWER = str(Path(sys.executable).with_name("dicom-viewer"))


def info(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["info", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def info_json(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    code, out, err = info(capsys, path, "--json")
    assert code == 0, err
    doc = json.loads(out)  # exactly one JSON document
    assert isinstance(doc, dict)
    return doc


def fields(out: str) -> list[tuple[str, str]]:
    """The human output as (label, value) pairs: label and value are two or more blanks apart."""
    pairs = [line.strip().split("  ", 1) for line in out.splitlines()]
    return [(p[0], p[1].strip()) for p in pairs if len(p) == 2]


@pytest.fixture
def gb18030_file(tmp_path: Path) -> Path:
    path = write_header_file(
        tmp_path / "gb18030.dcm",
        "GB18030",
        PatientName="张三^王",
        PatientID="P0001",
        StudyDescription="胸部CT平扫",
        SeriesDescription="肺窗",
        StudyDate="20240131",
        StudyTime="101530",
        SeriesNumber=3,
        InstanceNumber=12,
        Rows=512,
        Columns=512,
        PixelSpacing=[0.7, 0.7],
        ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
        ImagePositionPatient=[-180, -180, -42.5],
    )
    assert "张三^王".encode("gb18030") in path.read_bytes()
    return path


def test_human_summary_of_gb18030_file(
    capsys: pytest.CaptureFixture[str], gb18030_file: Path
) -> None:
    code, out, err = info(capsys, gb18030_file)
    assert code == 0, err
    lines = dict(fields(out))
    assert lines["Patient"] == "张三, 王"
    assert lines["ID"] == "P0001"
    assert lines["Study"] == "胸部CT平扫"
    assert lines["Date"] == "2024-01-31 10:15:30"
    assert lines["Series"] == "#3 CT 肺窗"
    assert lines["SOP class"] == "CT Image Storage (1.2.840.10008.5.1.4.1.1.2)"
    assert lines["Transfer syntax"] == "Explicit VR Little Endian (1.2.840.10008.1.2.1)"
    assert lines["Geometry"] == "axial"
    assert lines["Pixel spacing"] == "0.7 x 0.7 mm (row x column)"
    assert lines["Edges"] == "top A, bottom P, left R, right L"
    assert lines["Character set"] == "GB18030"
    assert "Warnings" not in out
    assert err == ""


def test_json_of_gb18030_file(capsys: pytest.CaptureFixture[str], gb18030_file: Path) -> None:
    doc = info_json(capsys, gb18030_file)
    assert doc["PatientName"] == "张三^王"
    assert doc["StudyDescription"] == "胸部CT平扫"
    assert doc["SeriesDescription"] == "肺窗"
    assert doc["StudyDate"] == "20240131"
    assert doc["SeriesNumber"] == 3 and doc["InstanceNumber"] == 12
    assert doc["SpecificCharacterSet"] == ["GB18030"]
    assert doc["path"] == str(gb18030_file)
    assert doc["warnings"] == []


def test_gbk_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_header_file(
        tmp_path / "gbk.dcm", "GBK", PatientName="张三^王", StudyDescription="胸部CT平扫"
    )
    assert "胸部CT平扫".encode("gbk") in path.read_bytes()
    doc = info_json(capsys, path)
    assert (doc["PatientName"], doc["StudyDescription"]) == ("张三^王", "胸部CT平扫")
    code, out, _ = info(capsys, path)
    assert code == 0 and "张三, 王" in out and "胸部CT平扫" in out


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("chrX1.dcm", "Wang, XiaoDong = 王, 小東"),
        ("chrX2.dcm", "Wang, XiaoDong = 王, 小东"),
        ("chrH31.dcm", "Yamada, Tarou = 山田, 太郎 = やまだ, たろう"),
        ("chrI2.dcm", "Hong, Gildong = 洪, 吉洞 = 홍, 길동"),
        ("chrFren.dcm", "Buc, Jérôme"),
    ],
)
def test_pydicom_charset_files(
    capsys: pytest.CaptureFixture[str], name: str, shown: str
) -> None:
    code, out, err = info(capsys, get_charset_files(name)[0])
    assert code == 0, err
    assert ("Patient", shown) in fields(out)


@pytest.mark.parametrize(
    ("charset", "encoding", "name", "description"),
    [
        ("ISO_IR100", "latin-1", "Buc^Jérôme", "Thorax récent"),
        ("ISO IR 100", "latin-1", "Buc^Jérôme", "Thorax récent"),
        ("UTF-8", "utf-8", "张三^王", "胸部CT平扫"),
        ("GB2312", "gb2312", "张三^王", "胸部CT平扫"),
        ("gb18030", "gb18030", "张三^王", "胸部CT平扫"),
    ],
)
def test_misspelt_charset_is_decoded_and_warned(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    charset: str,
    encoding: str,
    name: str,
    description: str,
) -> None:
    path = write_header_file(
        tmp_path / "m.dcm",
        charset,
        PatientName=name.encode(encoding),
        StudyDescription=description.encode(encoding),
    )
    doc = info_json(capsys, path)
    assert (doc["PatientName"], doc["StudyDescription"]) == (name, description)
    assert doc["SpecificCharacterSet"] == [charset]
    assert len(doc["warnings"]) == 1 and repr(charset) in doc["warnings"][0]
    code, out, _ = info(capsys, path)
    assert code == 0
    assert "Warnings (1)" in out and repr(charset) in out and description in out


def test_invalid_bytes_are_shown_replaced_with_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_header_file(tmp_path / "bad.dcm", "ISO_IR 192", PatientName=b"Bad\xff^Name")
    code, out, err = info(capsys, path)
    assert code == 0
    assert "Bad\ufffd, Name" in out
    assert "PatientName: bytes not valid in the declared character set" in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file or directory"),
        (b"", "empty file"),
        (b"\0" * 128 + b"DICM" + bytes(range(256)) * 2, "malformed DICOM"),
        (b"\0" * 128 + b"DICM" + b"garbage, not a data set", "malformed DICOM"),
        (b"[project]\nname = 'not dicom'\n", "not a DICOM file"),
    ],
    ids=["missing", "zero-length", "dicm-binary-garbage", "dicm-text-garbage", "text-file"],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: bytes | None,
    reason: str,
    as_json: bool,
) -> None:
    path = tmp_path / "input.dcm"
    if content is not None:
        path.write_bytes(content)
    code, out, err = info(capsys, path, *(["--json"] if as_json else []))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"dicom-viewer info: {path}: ") and reason in err


def test_gb18030_through_a_real_process_in_the_c_locale(gb18030_file: Path) -> None:
    if not os.access(DICOM_VIEWER, os.X_OK):
        pytest.fail(f"{DICOM_VIEWER} is not installed (pip install -e .)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIO"))}
    env["LC_ALL"] = "C"  # Python's UTF-8 mode must still print the Chinese text
    done = subprocess.run(
        [DICOM_VIEWER, "info", "--json", str(gb18030_file)],
        capture_output=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout.decode("utf-8"))
    assert doc["PatientName"] == "张三^王"
    assert doc["StudyDescription"] == "胸部CT平扫"
    human = subprocess.run(
        [DICOM_VIEWER, "info", str(gb18030_file)],
        capture_output=True, env=env, timeout=60, check=False,
    )
    assert human.returncode == 0 and "胸部CT平扫" in human.stdout.decode("utf-8")
    bad = subprocess.run(
        [DICOM_VIEWER, "info", str(gb18030_file.with_name("absent.dcm"))],
        capture_output=True, env=env, timeout=60, check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.decode().count("\n") == 1 and b"Traceback" not in bad.stderr


def test_multiframe_rtdose(capsys: pytest.CaptureFixture[str]) -> None:
    path = get_testdata_file("rtdose.dcm")
    assert path is not None
    doc = info_json(capsys, Path(path))
    assert doc["NumberOfFrames"] == 15
    assert doc["Modality"] == "RTDOSE"
    assert doc["plane"] == "axial"
