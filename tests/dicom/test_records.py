"""Header records: viewer.dicom.records.read_header and its JSON form."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from viewer.dicom.files import DicomFileError
from viewer.dicom.records import HeaderSummary, read_header


def write_header_file(
    path: Path, charset: str | list[str] | None, **elements: Any
) -> Path:
    """A small CT header file. `bytes` values are written as they are (already encoded, to test
    decoding), other values through pydicom; `charset` is written verbatim, misspelt or not."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if charset is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about the misspelt terms we write
            ds.add_new("SpecificCharacterSet", "CS", charset)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CT"
    for keyword, value in elements.items():
        if isinstance(value, bytes):
            ds.add_new(keyword, dictionary_VR(keyword), value)
        else:
            setattr(ds, keyword, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the misspelt terms we write
        ds.save_as(path, enforce_file_format=True)
    return path


def test_ct_small_summary() -> None:
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    h = read_header(path)
    assert h.patient.name == "CompressedSamples^CT1"
    assert h.patient.name_text == "CompressedSamples, CT1"
    assert h.patient.patient_id == "1CT1"
    assert h.study.study_date == "20040119"
    assert h.study.date_text == "2004-01-19"
    assert h.study.time_text == "07:27:30"
    assert h.series.modality == "CT"
    assert h.series.series_number == 1
    assert h.instance.sop_class_name == "CT Image Storage"
    assert h.instance.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert h.instance.transfer_syntax_name == "Explicit VR Little Endian"
    assert (h.instance.rows, h.instance.columns) == (128, 128)
    assert (h.instance.bits_allocated, h.instance.bits_stored) == (16, 16)
    assert h.instance.number_of_frames == 1
    assert h.geometry.pixel_spacing == (0.661468, 0.661468)
    assert h.geometry.slice_thickness == 5.0
    assert h.geometry.image_orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert h.geometry.plane == "axial"
    assert h.specific_character_set == ("ISO_IR 100",)
    assert h.warnings == ()


def test_records_are_frozen() -> None:
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    h = read_header(path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.patient.name = "other"  # type: ignore[misc]


def test_json_uses_dicom_keywords_and_is_serialisable() -> None:
    path = get_testdata_file("MR_small.dcm")
    assert path is not None
    doc = json.loads(json.dumps(read_header(path).as_json()))
    assert doc["path"] == str(path)
    assert doc["PatientName"] == "CompressedSamples^MR1"
    assert doc["Modality"] == "MR"
    assert doc["StudyDate"] == "20040826"  # DICOM form in JSON
    assert doc["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.4"
    assert doc["sop_class_name"] == "MR Image Storage"
    assert doc["PixelSpacing"] == [0.3125, 0.3125]
    assert doc["orientation_labels"] == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert doc["warnings"] == []
    non_dicom = [k for k in doc if not k[0].isupper()]
    assert all(k == k.lower() for k in non_dicom)


def test_gb18030_file_written_by_pydicom(tmp_path: Path) -> None:
    path = write_header_file(
        tmp_path / "gb.dcm",
        "GB18030",
        PatientName="张三^王",
        StudyDescription="胸部CT平扫",
        ReferringPhysicianName="李^四",
        StudyDate="20240131",
    )
    assert "胸部CT平扫".encode("gb18030") in path.read_bytes()  # really encoded as GB18030
    h = read_header(path)
    assert h.patient.name == "张三^王"
    assert h.patient.name_text == "张三, 王"
    assert h.study.study_description == "胸部CT平扫"
    assert h.study.referring_physician_text == "李, 四"
    assert h.as_json()["PatientName"] == "张三^王"
    assert h.warnings == ()


def test_chrx1_utf8_name() -> None:
    h = read_header(get_charset_files("chrX1.dcm")[0])
    assert h.patient.name == "Wang^XiaoDong=王^小東"
    assert h.specific_character_set == ("ISO_IR 192",)


def test_misspelt_charset_is_corrected_and_reported(tmp_path: Path) -> None:
    path = write_header_file(
        tmp_path / "m.dcm", "ISO IR 100", PatientName="Äneas^Rüdiger".encode("latin-1")
    )
    h = read_header(path)
    assert h.patient.name == "Äneas^Rüdiger"
    assert h.specific_character_set == ("ISO IR 100",)  # as declared
    assert h.warnings == ("Specific Character Set 'ISO IR 100' read as 'ISO_IR 100'",)


def test_bad_numbers_become_warnings_not_errors(tmp_path: Path) -> None:
    path = write_header_file(
        tmp_path / "bad.dcm", None, InstanceNumber="4242", SeriesNumber="7", Rows=64
    )
    # pydicom refuses to write a bad IS value: put one in the bytes.
    path.write_bytes(path.read_bytes().replace(b"IS\x04\x004242", b"IS\x04\x0012a "))
    h = read_header(path)
    assert h.instance.instance_number is None
    assert h.series.series_number == 7
    assert h.instance.rows == 64
    assert any(w.startswith("InstanceNumber:") for w in h.warnings)


def test_enhanced_geometry_from_functional_groups(tmp_path: Path) -> None:
    measures = Dataset()
    measures.PixelSpacing = [0.5, 0.6]
    measures.SliceThickness = 1.25
    orientation = Dataset()
    orientation.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    frames = []
    for z in (10.0, 12.0):
        position = Dataset()
        position.ImagePositionPatient = [z, -100.0, 50.0]
        frame = Dataset()
        frame.PlanePositionSequence = Sequence([position])
        frames.append(frame)
    path = write_header_file(
        tmp_path / "enh.dcm",
        None,
        NumberOfFrames=2,
        SharedFunctionalGroupsSequence=Sequence([shared]),
        PerFrameFunctionalGroupsSequence=Sequence(frames),
    )
    g = read_header(path).geometry
    assert g.pixel_spacing == (0.5, 0.6)
    assert g.slice_thickness == 1.25
    assert g.image_orientation == (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    assert g.image_position == (10.0, -100.0, 50.0)  # the first frame
    assert g.plane == "sagittal"
    labels = g.edge_labels
    assert labels is not None
    assert (labels.left, labels.right, labels.top, labels.bottom) == ("A", "P", "H", "F")


def test_lossy_flag(tmp_path: Path) -> None:
    lossy = read_header(write_header_file(tmp_path / "a.dcm", None, LossyImageCompression="01"))
    plain = read_header(write_header_file(tmp_path / "b.dcm", None, LossyImageCompression="00"))
    unknown = read_header(write_header_file(tmp_path / "c.dcm", None))
    assert (lossy.instance.lossy_compression, plain.instance.lossy_compression) == (True, False)
    assert unknown.instance.lossy_compression is None
    assert lossy.as_json()["LossyImageCompression"] == "01"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"\0" * 128 + b"DICM" + bytes(range(256)) * 2, "malformed DICOM"),
        (b"\0" * 128 + b"DICMhello, this is not a data set at all", "malformed DICOM"),
        (b"just some text\n", "not a DICOM file"),
    ],
    ids=["empty", "dicm-binary-garbage", "dicm-text-garbage", "text"],
)
def test_unreadable_files_raise_dicom_file_error(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.dcm"
    path.write_bytes(content)
    with pytest.raises(DicomFileError) as info:
        read_header(path)
    assert info.value.path == str(path)
    assert reason in info.value.reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DicomFileError, match="No such file"):
        read_header(tmp_path / "absent.dcm")


def test_summary_type() -> None:
    path = get_testdata_file("CT_small.dcm")
    assert isinstance(read_header(path), HeaderSummary)  # type: ignore[arg-type]
