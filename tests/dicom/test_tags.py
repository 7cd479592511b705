"""The tag tree of a file (viewer.dicom.tags): file meta, nested sequences, private elements,
decoded text, abbreviated values, pixel data by length, and the search filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import filereader
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import RLELossless

from tests.dicom.makers import image_dataset, save
from viewer.dicom import tags
from viewer.dicom.files import DicomFileError
from viewer.dicom.tags import HEX_BYTES, TagNode, count_nodes, filter_tree, tag_tree


def by_tag(nodes: list[TagNode] | tuple[TagNode, ...], tag: str) -> TagNode:
    found = [n for n in nodes if n.tag == tag]
    assert len(found) == 1, f"{tag} not found once in {[n.tag for n in nodes]}"
    return found[0]


def nested_file(path: Path, pixels: np.ndarray | None = None) -> Path:
    default = np.arange(64, dtype=np.uint16).reshape(8, 8)
    ds = image_dataset(pixels if pixels is not None else default)
    ds.PatientName = "DOE^JANE"
    code = Dataset()
    code.CodeValue = "T-28000"
    code.CodeMeaning = "Lung"
    first = Dataset()
    first.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    first.ReferencedSOPInstanceUID = "1.2.3.4"
    first.ConceptNameCodeSequence = Sequence([code])
    second = Dataset()
    second.ReferencedSOPInstanceUID = "1.2.3.5"
    ds.ReferencedImageSequence = Sequence([first, second])
    block = ds.private_block(0x0029, "ACME IMAGING 1.0", create=True)
    block.add_new(0x01, "LO", "acme setting")
    block.add_new(0x02, "OB", bytes(range(256)) * 2)
    ds.add_new(0x00181318, "DS", [str(v) for v in range(100)])  # dB/dt: 100 values
    return save(ds, path)


def test_file_meta_first_then_dataset_in_tag_order(tmp_path: Path) -> None:
    nodes = tag_tree(nested_file(tmp_path / "a.dcm"))
    tags = [n.tag for n in nodes]
    assert tags[0] == "(0002,0000)"
    meta = [t for t in tags if t.startswith("(0002,")]
    assert tags[: len(meta)] == meta and "(0002,0010)" in meta
    rest = tags[len(meta):]
    assert rest == sorted(rest)
    syntax = by_tag(nodes, "(0002,0010)")
    assert syntax.keyword == "TransferSyntaxUID"
    assert syntax.value_text == "1.2.840.10008.1.2.1 (Explicit VR Little Endian)"


def test_sequences_nest_items_and_their_elements(tmp_path: Path) -> None:
    nodes = tag_tree(nested_file(tmp_path / "a.dcm"))
    seq = by_tag(nodes, "(0008,1140)")
    assert (seq.keyword, seq.vr, seq.value_text) == ("ReferencedImageSequence", "SQ", "2 items")
    assert [c.name for c in seq.children] == ["Item 1", "Item 2"]
    assert [c.item_number for c in seq.children] == [1, 2]
    first, second = seq.children
    inner = by_tag(first.children, "(0040,A043)")
    assert inner.vr == "SQ" and inner.value_text == "1 item"
    meaning = by_tag(inner.children[0].children, "(0008,0104)")
    assert (meaning.keyword, meaning.value_text) == ("CodeMeaning", "Lung")
    assert by_tag(second.children, "(0008,1155)").value_text == "1.2.3.5"


def test_private_elements_carry_their_creator(tmp_path: Path) -> None:
    nodes = tag_tree(nested_file(tmp_path / "a.dcm"))
    creator = by_tag(nodes, "(0029,0010)")
    assert creator.name == "Private Creator" and creator.value_text == "ACME IMAGING 1.0"
    data = by_tag(nodes, "(0029,1001)")
    assert data.private_creator == "ACME IMAGING 1.0"
    assert data.name.startswith("[ACME IMAGING 1.0]") and data.value_text == "acme setting"


def test_known_private_dictionary_names(tmp_path: Path) -> None:
    ds = image_dataset(np.zeros((4, 4), np.uint16))
    block = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
    block.add_new(0x10, "OB", b"SV10\x04\x03\x02\x01")
    nodes = tag_tree(save(ds, tmp_path / "csa.dcm"))
    assert by_tag(nodes, "(0029,1010)").name == "[SIEMENS CSA HEADER] CSA Image Header Info"


def test_binary_long_and_multi_values_are_abbreviated(tmp_path: Path) -> None:
    nodes = tag_tree(nested_file(tmp_path / "a.dcm"))
    blob = by_tag(nodes, "(0029,1002)")
    assert blob.vr == "OB"
    assert blob.value_text.startswith("00 01 02 03")
    assert blob.value_text.endswith("… (512 bytes)")
    assert blob.value_text.count(" ") - 3 == HEX_BYTES - 1  # 64 bytes shown, then "… (n bytes)"
    many = by_tag(nodes, "(0018,1318)")
    assert many.value_text.startswith("0\\1\\2\\3")
    assert many.value_text.endswith("… (100 values)")
    assert "\\99" not in many.value_text


def test_pixel_data_by_length_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pixels = np.zeros((256, 256), np.uint16)  # 128 KiB: beyond DEFER_SIZE, left unread
    path = nested_file(tmp_path / "big.dcm", pixels)
    read_later = filereader.read_deferred_data_element

    def no_pixel_reads(kind: Any, source: Any, stamp: Any, raw: RawDataElement) -> Any:
        assert raw.tag != 0x7FE00010, "the pixel data was read"
        return read_later(kind, source, stamp, raw)

    monkeypatch.setattr(filereader, "read_deferred_data_element", no_pixel_reads)
    monkeypatch.setattr(tags, "read_deferred_data_element", no_pixel_reads)
    nodes = tag_tree(path)
    pixel = by_tag(nodes, "(7FE0,0010)")
    assert (pixel.vr, pixel.value_text) == ("OW", "(131,072 bytes)")
    assert not pixel.children


def test_encapsulated_pixel_data_counts_fragments(tmp_path: Path) -> None:
    ds = image_dataset(np.zeros((4, 4), np.uint8))
    ds.file_meta.TransferSyntaxUID = RLELossless
    ds.NumberOfFrames = 2
    frames = [b"\x00" * 40, b"\x01" * 30000]
    ds.PixelData = encapsulate(frames, has_bot=False)
    ds["PixelData"].VR = "OB"
    path = save(ds, tmp_path / "rle.dcm")
    pixel = by_tag(tag_tree(path), "(7FE0,0010)")
    # 8 (empty offset table) + 2 x 8 item headers + 40 + 30000 + 8 (delimiter)
    assert pixel.value_text == "encapsulated, 2 fragments (30,072 bytes)"
    ds.PixelData = encapsulate(frames, has_bot=True)  # with offsets: 8 bytes more
    pixel = by_tag(tag_tree(save(ds, tmp_path / "bot.dcm")), "(7FE0,0010)")
    assert pixel.value_text == "encapsulated, 2 fragments (30,080 bytes)"


@pytest.mark.parametrize(
    ("declared", "encoding"),
    [("ISO_IR 192", "utf-8"), ("GB18030", "gb18030"), ("GB2312", "gb18030")],
    ids=["utf-8", "gb18030", "misspelt-gb2312"],
)
def test_chinese_name_decoded_with_the_file_charset(
    tmp_path: Path, declared: str, encoding: str
) -> None:
    ds = image_dataset(np.zeros((4, 4), np.uint16))
    ds.SpecificCharacterSet = declared
    name = "Wang^XiaoDong=王^小东"
    ds[0x00100010] = DataElement(0x00100010, "PN", name.encode(encoding))
    ds[0x00081030] = DataElement(0x00081030, "LO", "胸部 CT 平扫".encode(encoding))
    nodes = tag_tree(save(ds, tmp_path / "zh.dcm"))
    assert by_tag(nodes, "(0010,0010)").value_text == name
    assert by_tag(nodes, "(0008,1030)").value_text == "胸部 CT 平扫"


def test_invalid_bytes_show_replacement_characters(tmp_path: Path) -> None:
    ds = image_dataset(np.zeros((4, 4), np.uint16))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds[0x00100010] = DataElement(0x00100010, "PN", b"Li^\xff\xfeMing")
    nodes = tag_tree(save(ds, tmp_path / "bad.dcm"))
    assert "\ufffd" in by_tag(nodes, "(0010,0010)").value_text
    assert by_tag(nodes, "(0010,0010)").value_text.startswith("Li^")


def test_charset_test_file_with_escapes() -> None:
    (path,) = get_charset_files("chrH31.dcm")
    name = by_tag(tag_tree(path), "(0010,0010)")
    assert name.value_text == "Yamada^Tarou=山田^太郎=やまだ^たろう"


def test_implicit_vr_file_reads() -> None:
    path = get_testdata_file("MR_small_implicit.dcm")
    assert path is not None
    nodes = tag_tree(path)
    assert by_tag(nodes, "(0002,0010)").value_text.startswith("1.2.840.10008.1.2 ")
    assert by_tag(nodes, "(7FE0,0010)").value_text == "(8,192 bytes)"
    assert by_tag(nodes, "(0028,0010)").value_text == "64"


def test_unreadable_file_raises_with_a_reason(tmp_path: Path) -> None:
    junk = tmp_path / "README"
    junk.write_text("not dicom")
    with pytest.raises(DicomFileError, match="not a DICOM file"):
        tag_tree(junk)
    with pytest.raises(DicomFileError, match="empty"):
        (tmp_path / "empty").write_bytes(b"")
        tag_tree(tmp_path / "empty")


def test_filter_keeps_ancestors_of_matches(tmp_path: Path) -> None:
    nodes = tag_tree(nested_file(tmp_path / "a.dcm"))
    found = filter_tree(nodes, "lung")  # CodeMeaning deep in the nested sequence, any case
    assert [n.tag for n in found] == ["(0008,1140)"]
    (item,) = found[0].children
    assert item.name == "Item 1"
    (inner,) = item.children
    assert inner.keyword == "ConceptNameCodeSequence"
    assert [c.keyword for c in inner.children[0].children] == ["CodeMeaning"]
    assert count_nodes(found) == 5


def test_filter_matches_tag_keyword_name_and_creator(tmp_path: Path) -> None:
    nodes = tag_tree(nested_file(tmp_path / "a.dcm"))
    assert [n.tag for n in filter_tree(nodes, "0010,0010")] == ["(0010,0010)"]
    assert [n.tag for n in filter_tree(nodes, "00100010")] == ["(0010,0010)"]
    assert [n.tag for n in filter_tree(nodes, "patientname")] == ["(0010,0010)"]
    assert [n.tag for n in filter_tree(nodes, "PATIENT'S NAME")] == ["(0010,0010)"]
    assert {n.tag for n in filter_tree(nodes, "acme imaging")} == {
        "(0029,0010)", "(0029,1001)", "(0029,1002)",
    }
    seq = filter_tree(nodes, "ReferencedImageSequence")
    assert count_nodes(seq) == count_nodes([by_tag(nodes, "(0008,1140)")])  # whole subtree kept
    assert filter_tree(nodes, "  ") == nodes
    assert filter_tree(nodes, "no such text anywhere") == []
