"""Character sets (PS3.5 §6.1), person names and dates: viewer.dicom.text."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files
from pydicom.dataelem import RawDataElement

from tests.dicom.test_records import write_header_file
from viewer.dicom.text import (
    charset_notes,
    decoded_dataset,
    decoded_values,
    format_date,
    format_name_group,
    format_time,
    normalise_charset,
    person_name_groups,
    person_name_text,
    person_name_value,
)


def read(path: Path) -> pydicom.FileDataset:
    """pydicom.dcmread without its own warnings about the misspelt terms these tests write."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def charset_file(name: str) -> Path:
    found = [Path(p) for p in get_charset_files(name)]
    assert found, f"pydicom charset test file {name} is missing"
    return found[0]


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ("ISO_IR 100", ["ISO_IR 100"]),
        ("ISO_IR100", ["ISO_IR 100"]),
        ("ISO IR 100", ["ISO_IR 100"]),
        ("ISO-IR 100", ["ISO_IR 100"]),
        ("iso_ir 100", ["ISO_IR 100"]),
        ("ISO_IR 192 ", ["ISO_IR 192"]),
        ("  ISO_IR 192", ["ISO_IR 192"]),
        ("UTF-8", ["ISO_IR 192"]),
        ("UTF8", ["ISO_IR 192"]),
        ("utf-8", ["ISO_IR 192"]),
        ("GB2312", ["GB18030"]),
        ("gb18030", ["GB18030"]),
        (" GBK ", ["GBK"]),
        ("ISO 2022 IR 6", ["ISO 2022 IR 6"]),
        ("ISO2022IR6", ["ISO 2022 IR 6"]),
        (["", "ISO 2022 IR 87"], ["", "ISO 2022 IR 87"]),
        (["ISO 2022 IR 13", "ISO 2022 IR 87"], ["ISO 2022 IR 13", "ISO 2022 IR 87"]),
        (["ISO 2022 IR 6", "ISO_2022_IR_149"], ["ISO 2022 IR 6", "ISO 2022 IR 149"]),
        (["", "ISO 2022 IR 58"], ["", "ISO 2022 IR 58"]),
        ("\\ISO 2022 IR 87", ["", "ISO 2022 IR 87"]),  # multi-value read as one string
        (["ISO_IR 192", "ISO 2022 IR 6"], ["ISO_IR 192"]),  # stand-alone: no extensions
        (["ISO 2022 IR 6", "GB18030"], ["ISO 2022 IR 6"]),  # stand-alone as extension
        ("KLINGON", ["ISO_IR 6"]),
        (None, ["ISO_IR 6"]),
        ([], ["ISO_IR 6"]),
    ],
    ids=repr,
)
def test_normalise_charset(terms: object, expected: list[str]) -> None:
    assert normalise_charset(terms) == expected  # type: ignore[arg-type]


def test_charset_notes_name_each_correction() -> None:
    assert charset_notes("ISO_IR 100") == []
    assert charset_notes(["", "ISO 2022 IR 87"]) == []
    notes = charset_notes("ISO_IR100")
    assert len(notes) == 1 and "'ISO_IR100'" in notes[0] and "'ISO_IR 100'" in notes[0]
    assert "unknown" in charset_notes("KLINGON")[0]
    assert "no code extensions" in charset_notes(["GB18030", "ISO 2022 IR 6"])[0]


@pytest.mark.parametrize(
    ("name", "patient_name"),
    [
        ("chrArab.dcm", "قباني^لنزار"),
        ("chrFren.dcm", "Buc^Jérôme"),
        ("chrGerm.dcm", "Äneas^Rüdiger"),
        ("chrGreek.dcm", "Διονυσιος"),
        ("chrH31.dcm", "Yamada^Tarou=山田^太郎=やまだ^たろう"),
        ("chrH32.dcm", "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"),
        ("chrHbrw.dcm", "שרון^דבורה"),
        ("chrI2.dcm", "Hong^Gildong=洪^吉洞=홍^길동"),
        ("chrJapMultiExplicitIR6.dcm", "やまだ^たろう"),
        ("chrKoreanMulti.dcm", "김희중"),
        ("chrRuss.dcm", "Люкceмбypг"),
        ("chrX1.dcm", "Wang^XiaoDong=王^小東"),
        ("chrX2.dcm", "Wang^XiaoDong=王^小东"),
    ],
)
def test_pydicom_charset_files_decode_without_warnings(name: str, patient_name: str) -> None:
    ds = pydicom.dcmread(charset_file(name))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may leak out as a Python warning
        out, found = decoded_dataset(ds)
    assert person_name_value(out.PatientName) == patient_name
    assert found == []


def test_sequence_items_inherit_or_declare_their_character_set() -> None:
    ds = pydicom.dcmread(charset_file("chrSQEncoding.dcm"))
    out, found = decoded_dataset(ds)
    item = out.RequestedProcedureCodeSequence[0]
    assert person_name_value(item.PatientName) == "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"
    assert found == []


def test_caller_dataset_is_not_changed(tmp_path: Path) -> None:
    path = write_header_file(
        tmp_path / "latin.dcm", "ISO_IR100", PatientName="Buc^Jérôme".encode("latin-1")
    )
    ds = read(path)
    out, found = decoded_dataset(ds, ["PatientName"])
    assert str(out.PatientName) == "Buc^Jérôme"
    assert found == ["Specific Character Set 'ISO_IR100' read as 'ISO_IR 100'"]
    # The original still holds the file's own value and an undecoded name.
    assert isinstance(ds.get_item("PatientName"), RawDataElement)
    assert ds.get_item("SpecificCharacterSet").value in (b"ISO_IR100", "ISO_IR100")


@pytest.mark.parametrize(
    ("charset", "encoding"),
    [
        ("ISO_IR100", "latin-1"),
        ("ISO IR 100", "latin-1"),
        ("ISO-IR 100", "latin-1"),
        ("iso_ir 100 ", "latin-1"),
        ("ISO_IR 192 ", "utf-8"),
        ("UTF-8", "utf-8"),
        ("UTF8", "utf-8"),
        ("utf8", "utf-8"),
        ("GB2312", "gb2312"),
        ("gb18030", "gb18030"),
        (" GBK", "gbk"),
    ],
)
def test_misspelt_charset_files_decode(tmp_path: Path, charset: str, encoding: str) -> None:
    name = "Buc^Jérôme" if encoding == "latin-1" else "张三^王"
    description = "Thorax récent" if encoding == "latin-1" else "胸部CT平扫"
    path = write_header_file(
        tmp_path / "x.dcm",
        charset,
        PatientName=name.encode(encoding),
        StudyDescription=description.encode(encoding),
    )
    out, found = decoded_dataset(read(path), ["PatientName", "StudyDescription"])
    assert str(out.PatientName) == name
    assert out.StudyDescription == description
    # Trailing blanks are CS padding (PS3.5 §6.2) that pydicom drops on reading; leading stay.
    if charset.rstrip() in ("ISO_IR 100", "ISO_IR 192", "GBK"):
        assert found == []
    else:
        assert len(found) == 1 and f"{charset.rstrip()!r}" in found[0]


def test_iso_2022_ir_58_with_escape_sequences(tmp_path: Path) -> None:
    # PS3.5 Annex K.2 example: GB2312 in G1 after ESC $ ) A.
    name = bytes.fromhex("5a68616e675e5869616f446f6e673d1b242941d5c55e1b242941d0a1b6ab3d20")
    description = b"\x1b$)A" + "胸部".encode("gb2312") + b"CT"
    path = write_header_file(
        tmp_path / "ir58.dcm",
        ["", "ISO 2022 IR 58"],
        PatientName=name,
        StudyDescription=description,
    )
    out, found = decoded_dataset(read(path), ["PatientName", "StudyDescription"])
    assert person_name_value(out.PatientName) == "Zhang^XiaoDong=张^小东"
    assert out.StudyDescription == "胸部CT"
    assert found == []


def test_invalid_bytes_give_replacement_and_a_warning_without_patient_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_header_file(
        tmp_path / "bad.dcm",
        "ISO_IR 192",
        PatientName=b"Secret\xff\xfeName^Given",
        StudyDescription=b"Private\xc3 study",
    )
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, found = decoded_dataset(read(path), ["PatientName", "StudyDescription"])
    assert str(out.PatientName) == "Secret\ufffd\ufffdName^Given"
    assert out.StudyDescription == "Private\ufffd study"
    assert [w.split(":")[0] for w in found] == ["PatientName", "StudyDescription"]
    assert all("replacement characters" in w for w in found)
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(logged) == 2
    assert not any("Secret" in m or "Private" in m for m in logged + found)


def test_invalid_gb18030_bytes(tmp_path: Path) -> None:
    # 0x81 followed by 0x20 is not a GB18030 sequence.
    path = write_header_file(tmp_path / "bad.dcm", "GB18030", PatientName=b"\xd5\xc5\x81 ^X")
    out, found = decoded_dataset(read(path), ["PatientName"])
    assert str(out.PatientName).startswith("张\ufffd")
    assert found and found[0].startswith("PatientName:")


def test_high_bytes_without_a_character_set_are_reported(tmp_path: Path) -> None:
    path = write_header_file(tmp_path / "none.dcm", None, PatientName="Müller".encode("latin-1"))
    out, found = decoded_dataset(read(path), ["PatientName"])
    assert str(out.PatientName) == "Müller"  # pydicom reads the default repertoire as Latin-1
    assert len(found) == 1 and found[0].startswith("PatientName:")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Family^Given", "Family, Given"),
        ("Doe^John^Quincy^Dr.^Jr.", "Doe, Dr. John Quincy, Jr."),
        ("Family", "Family"),
        ("^Given", "Given"),
        ("Family^Given^^^", "Family, Given"),
        ("", ""),
        ("Yamada^Tarou=山田^太郎=やまだ^たろう", "Yamada, Tarou = 山田, 太郎 = やまだ, たろう"),
        ("=张三^王", "张三, 王"),
        ("Wang^XiaoDong=王^小东=", "Wang, XiaoDong = 王, 小东"),
    ],
)
def test_person_name_text(value: str, text: str) -> None:
    assert person_name_text(value) == text


def test_person_name_groups_and_value() -> None:
    assert person_name_groups("Yamada^Tarou=山田^太郎=やまだ^たろう") == (
        "Yamada^Tarou", "山田^太郎", "やまだ^たろう",
    )
    assert person_name_groups("Family^Given") == ("Family^Given", "", "")
    assert person_name_groups(None) == ("", "", "")
    assert person_name_value("^^^^") == ""
    assert person_name_value("A^B^^=C^D=") == "A^B=C^D"
    assert format_name_group("^^^^Suffix") == "Suffix"


def test_person_name_from_pydicom_value() -> None:
    ds = pydicom.dcmread(charset_file("chrI2.dcm"))
    out, _ = decoded_dataset(ds, ["PatientName"])
    assert person_name_groups(out.PatientName) == ("Hong^Gildong", "洪^吉洞", "홍^길동")
    assert person_name_text(out.PatientName) == "Hong, Gildong = 洪, 吉洞 = 홍, 길동"


@pytest.mark.parametrize(
    ("value", "text"),
    [("20240131", "2024-01-31"), ("2024.01.31", "2024-01-31"), ("", ""), ("2024", "2024")],
)
def test_format_date(value: str, text: str) -> None:
    assert format_date(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [("101530.123", "10:15:30"), ("1015", "10:15"), ("10", "10"), ("10:15:30", "10:15:30"),
     ("", ""), ("bad", "bad")],
)
def test_format_time(value: str, text: str) -> None:
    assert format_time(value) == text


def test_repeated_headers_decode_per_character_set_and_warn_every_time(tmp_path: Path) -> None:
    """decoded_values remembers conversions across files (a series repeats its header): the
    same bytes under another character set decode anew, and a bad value warns every time."""
    name = "张^三".encode("gb18030")
    chinese = write_header_file(tmp_path / "gb.dcm", "GB18030", PatientName=name)
    latin = write_header_file(tmp_path / "latin.dcm", "ISO_IR 100", PatientName=name)
    bad = write_header_file(tmp_path / "bad.dcm", "ISO_IR 192", PatientName=b"A\xff^B")
    for _ in range(2):
        values, found = decoded_values(read(chinese), ["PatientName"])
        assert (str(values["PatientName"]), found) == ("张^三", [])
        values, found = decoded_values(read(latin), ["PatientName"])
        assert str(values["PatientName"]) == name.decode("latin-1")
        values, found = decoded_values(read(bad), ["PatientName"])
        assert str(values["PatientName"]) == "A\ufffd^B"
        assert [w.split(":")[0] for w in found] == ["PatientName"]
