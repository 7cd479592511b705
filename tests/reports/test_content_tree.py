"""read_content_tree against DCMTK's dsrdump, item by item: same positions (so the same nesting),
relationships, value types, concept names, values and units; and the damaged documents."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import ImplicitVRLittleEndian

from tests.peers import require_tool
from tests.reports import makers
from tests.reports.dsrdump import DumpedItem, code_parts, dsrdump, quoted
from viewer.dicom.files import read_dataset
from viewer.reports.benchmark import undefined_lengths
from viewer.reports.content_tree import (
    Code,
    ContainerValue,
    ContentTree,
    ContentTreeError,
    NumericValue,
    PersonNameValue,
    ReferencedSOP,
    SpatialCoordinates,
    SpatialCoordinates3D,
    TextValue,
    read_content_tree,
)
from viewer.reports.report_file import read_report

_TEXT_TYPES = {"TEXT", "UIDREF", "DATE", "TIME", "DATETIME"}


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.replace("/", ",").split(",") if v]


def assert_same_as_dsrdump(tree: ContentTree, dumped: list[DumpedItem]) -> None:
    ours = list(tree.walk())
    assert [i.position for i in ours] == [d.position for d in dumped]
    for item, ref in zip(ours, dumped, strict=True):
        where = f"item {item.position}"
        assert item.relationship == ref.relationship, where
        if not ref.value_type:  # by-reference: dsrdump prints "?" for a missing target
            assert item.reference == ref.value or (ref.value == "?" and tree.link_problem(item))
            continue
        assert item.value_type == ref.value_type, where
        assert (item.concept.meaning if item.concept else "") == ref.concept, where
        value = item.value
        if item.value_type in _TEXT_TYPES:
            assert isinstance(value, TextValue), where
            assert value.text == quoted(ref.value), where
        elif item.value_type == "PNAME":
            assert isinstance(value, PersonNameValue), where
            assert value.value == quoted(ref.value), where
        elif item.value_type == "CODE":
            assert isinstance(value, Code), where
            assert (value.value, value.scheme, value.meaning) == code_parts(ref.value), where
        elif item.value_type == "NUM":
            assert isinstance(value, NumericValue) and value.unit is not None, where
            assert value.number == float(quoted(ref.value)), where
            assert (value.unit.value, value.unit.scheme, value.unit.meaning) == code_parts(
                ref.value[ref.value.index(" "):]), where
        elif item.value_type == "CONTAINER":
            assert isinstance(value, ContainerValue), where
            assert value.continuity == ref.value, where
        elif item.value_type == "SCOORD":
            assert isinstance(value, SpatialCoordinates), where
            kind, _, points = ref.value.strip("()").partition(",")
            assert value.graphic_type == kind, where
            assert [c for p in value.points for c in p] == _floats(points), where
        elif item.value_type == "SCOORD3D":
            assert isinstance(value, SpatialCoordinates3D), where
            kind, _, rest = ref.value.strip("()").partition(",")
            assert value.graphic_type == kind, where
            assert [c for p in value.points for c in p] == _floats(rest.partition(",")[2])
        elif item.value_type in ("IMAGE", "COMPOSITE", "WAVEFORM"):
            assert isinstance(value, ReferencedSOP), where
            assert f'"{value.sop_instance_uid}"' in ref.value, where


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sr")
    image = makers.ct_image()
    documents = {
        "tid1500": makers.tid1500_report(image),
        "enhanced": makers.enhanced_sr(image),
        "kos": makers.key_object_selection([image, makers.ct_image()]),
        "basic-utf8": makers.basic_text_sr("ISO_IR 192"),
        "basic-latin1": makers.basic_text_sr("ISO_IR 100"),
        "dose": makers.ct_dose_sr(["1.2.3", "1.2.4"]),
        "cycle": makers.with_cycle(),
        "invalid": makers.with_invalid_items(),
    }
    out = {name: makers.save(ds, folder / f"{name}.dcm") for name, ds in documents.items()}
    out["image"] = makers.save(image, folder / "image.dcm")
    return out


@pytest.mark.peers
@pytest.mark.parametrize("name", ["tid1500", "enhanced", "kos", "basic-utf8", "dose", "cycle"])
def test_generated_documents_match_dsrdump(files: dict[str, Path], name: str) -> None:
    tree = read_content_tree(read_dataset(files[name]))
    assert_same_as_dsrdump(tree, dsrdump(files[name]))


@pytest.mark.peers
@pytest.mark.parametrize("name", ["test-SR.dcm", "reportsi.dcm"])
def test_pydicom_test_files_match_dsrdump(name: str) -> None:
    path = Path(get_testdata_file(name))
    tree = read_content_tree(read_dataset(path))
    # reportsi references images of SOP Class "0": dsrdump reads it only when told to go on
    assert_same_as_dsrdump(tree, dsrdump(path, "-Er", "-Ec"))
    assert tree.warnings == ()


def test_text_decoded_in_the_documents_character_set(files: dict[str, Path]) -> None:
    for name in ("basic-utf8", "basic-latin1"):
        tree = read_content_tree(read_dataset(files[name]))
        values = {i.position: i.value for i in tree.walk()}
        assert values["1.1"] == PersonNameValue("Gómez^José"), name
        assert values["1.5.1"] == TextValue("Lésion hépatique, 2 cm.\r\nÀ revoir."), name
        assert tree.warnings == (), name


def test_misspelt_character_set_still_decodes_nested_items(tmp_path: Path) -> None:
    ds = makers.basic_text_sr("ISO_IR 100")
    with warnings.catch_warnings():  # pydicom warns of the misspelling as it is written
        warnings.simplefilter("ignore")
        ds.SpecificCharacterSet = "ISO-IR 100"  # a real device's spelling
        path = makers.save(ds, tmp_path / "misspelt.dcm")
    tree = read_content_tree(read_dataset(path))
    assert {i.position: i.value for i in tree.walk()}["1.1"] == PersonNameValue("Gómez^José")


def test_implicit_vr_reads_like_explicit(files: dict[str, Path], tmp_path: Path) -> None:
    ds = pydicom.dcmread(files["tid1500"])
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    implicit = tmp_path / "implicit.dcm"
    ds.save_as(implicit, enforce_file_format=True)
    explicit_tree = read_content_tree(read_dataset(files["tid1500"]))
    implicit_tree = read_content_tree(read_dataset(implicit))
    rows = [(i.position, i.relationship, i.value_type, i.concept, i.value)
            for i in explicit_tree.walk()]
    assert rows == [(i.position, i.relationship, i.value_type, i.concept, i.value)
                    for i in implicit_tree.walk()]
    assert len(rows) == 21


def test_by_reference_cycles_end(files: dict[str, Path]) -> None:
    tree = read_content_tree(read_dataset(files["cycle"]))
    items = {i.position: i for i in tree.walk()}
    # a link to an ancestor is followed once: it is the ancestor, not a loop
    assert tree.resolve(items["1.1.1"]) is items["1.1"]
    # 1.2 -> 1.3 -> 1.2: no target, and saying so ends
    assert tree.resolve(items["1.2"]) is None
    assert tree.link_problem(items["1.2"]) == "a cycle of by-reference items"
    assert tree.link_problem(items["1.4"]) == "no content item 9.9 in this document"
    assert [i.position for i in tree.walk()] == ["1", "1.1", "1.1.1", "1.2", "1.3", "1.4"]


def test_invalid_items_are_kept_with_a_reason(files: dict[str, Path]) -> None:
    tree = read_content_tree(read_dataset(files["invalid"]))
    problems = {i.position: i.problem for i in tree.walk()}
    assert problems == {
        "1": "",
        "1.1": "no Value Type",
        "1.2": "empty Measured Value Sequence",
        "1.3": "empty Concept Code Sequence",
        "1.4": "unknown Value Type 'BOGUS'",
        "1.5": "empty Referenced SOP Sequence",
        "1.6": "Graphic Data is not column\\row pairs",
        "1.7": "",
    }
    assert {i.position: i.value for i in tree.walk()}["1.7"] == TextValue("kept")
    assert len(tree.warnings) == 6


def test_wrong_vr_and_garbage_sequence_bytes_do_not_crash(tmp_path: Path) -> None:
    ds = makers.basic_text_sr()
    # a NUM whose Numeric Value is not a number, and a sequence of bytes that are no items
    ds.ContentSequence.append(makers.num("CONTAINS", makers.code("1", "99T", "Size"),
                                         "12345678", makers.code("mm", "UCUM", "mm")))
    path = makers.save(ds, tmp_path / "bad.dcm")
    data = bytearray(path.read_bytes().replace(b"12345678", b"abcdefgh"))
    path.write_bytes(bytes(data))
    tree = read_content_tree(read_dataset(path))
    assert tree.by_position["1.6"].problem == "Numeric Value is not a number"
    # overwrite the first item tag of the Content Sequence with a non-item tag
    start = data.index(b"\x40\x00\x30\xa7SQ") + 12
    assert data[start:start + 4] == b"\xfe\xff\x00\xe0"
    data[start:start + 4] = b"\x08\x00\x16\x00"
    path.write_bytes(bytes(data))
    try:
        damaged = read_content_tree(read_dataset(path))
    except Exception as exc:  # the file reader may refuse it: then with its one-line reason
        assert type(exc).__name__ == "DicomFileError"
    else:
        assert damaged.root.children == () or all(
            c.problem or c.value is not None for c in damaged.root.children)


def test_not_an_sr_is_refused(files: dict[str, Path]) -> None:
    with pytest.raises(ContentTreeError, match="not a Structured Report"):
        read_content_tree(read_dataset(files["image"]))


def _rows(tree: ContentTree) -> list[tuple[object, ...]]:
    return [(i.position, i.relationship, i.value_type, i.concept, i.value, i.reference,
             i.problem) for i in tree.walk()]


@pytest.mark.peers
@pytest.mark.parametrize("options", [("-e",), ("-e", "+ti"), ("+ti",), ("+tb",)],
                         ids=["undefined-explicit", "undefined-implicit", "implicit", "big"])
@pytest.mark.parametrize("name", ["tid1500", "dose", "cycle", "invalid", "basic-latin1"])
def test_read_report_same_tree_in_every_encoding(
    files: dict[str, Path], tmp_path: Path, name: str, options: tuple[str, ...]
) -> None:
    """DCMTK rewrites each report with undefined lengths (delimiters), in implicit VR or big
    endian: `read_report` (its own sequence reader, or pydicom's for big endian) gives the
    tree read_content_tree gives on the original."""
    converted = tmp_path / f"{name}.dcm"
    subprocess.run([require_tool("dcmconv", "dcmtk"), *options, str(files[name]),
                    str(converted)], check=True, capture_output=True, timeout=60)
    expected = _rows(read_content_tree(read_dataset(files[name])))
    assert _rows(read_report(converted)) == expected
    assert _rows(read_report(files[name])) == expected


def test_nested_undefined_lengths_inside_a_defined_one(files: dict[str, Path],
                                                       tmp_path: Path) -> None:
    ds = pydicom.dcmread(files["tid1500"])
    for item in ds.ContentSequence:  # the outer sequence keeps its length; its items' don't
        undefined_lengths(item)
    path = tmp_path / "mixed.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert b"\xfe\xff\xdd\xe0" in path.read_bytes()  # sequence delimiters were written
    assert _rows(read_report(path)) == _rows(read_content_tree(read_dataset(files["tid1500"])))


@pytest.mark.parametrize("layout", ["defined", "undefined"])
def test_iso_2022_code_extensions(tmp_path: Path, layout: str) -> None:
    """Japanese with escape sequences (PS3.5 H.3): pydicom's decoder switches codecs inside
    the value, in items our sequence reader read as well as in pydicom's."""
    ds = makers.basic_text_sr()
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    findings = ds.ContentSequence[4].ContentSequence
    ds.ContentSequence[0].PersonName = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    findings[0].TextValue = "肝臓に2 cmの病変"
    if layout == "undefined":
        undefined_lengths(ds)
    path = makers.save(ds, tmp_path / "jp.dcm")
    assert b"\x1b$B" in path.read_bytes()  # written with escapes into JIS X 0208
    for tree in (read_report(path), read_content_tree(read_dataset(path))):
        values = {i.position: i.value for i in tree.walk()}
        assert values["1.1"] == PersonNameValue("Yamada^Tarou=山田^太郎=やまだ^たろう")
        assert values["1.5.1"] == TextValue("肝臓に2 cmの病変")
