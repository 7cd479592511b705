"""Consistency across files, each defect injected into a clean CT study: patient identity
across series, one SOP Instance UID with two contents (and one stored twice), a gap, uneven
spacing, mixed orientations, missing Pixel Spacing and two Frames of Reference in a series."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from viewer.dicom.demo import write_ct_series
from viewer.quality.findings import ERROR, WARNING, StudyFinding
from viewer.quality.validate import validate_files


def _rewrite(path: Path, change: Callable[[Dataset], None], to: Path | None = None) -> Path:
    ds = dcmread(path)
    change(ds)
    ds.save_as(to or path, enforce_file_format=True)
    return to or path


def _study(paths: list[Path]) -> list[StudyFinding]:
    return list(validate_files(paths).study_findings)


def _two_series(tmp_path: Path, **second: str) -> tuple[list[Path], list[Path]]:
    first = write_ct_series(tmp_path / "a", slices=4, rows=32, columns=32,
                            study_uid="1.2.826.0.1.3680043.9.7777.1")
    other = write_ct_series(tmp_path / "b", slices=4, rows=32, columns=32, series_number=2,
                            study_uid="1.2.826.0.1.3680043.9.7777.1", **second)
    return first, other


def test_a_series_of_another_patient_in_the_study(tmp_path: Path) -> None:
    first, other = _two_series(tmp_path, patient_name="ROE^JANE", patient_id="OTHER7")
    findings = _study([*first, *other])
    identity = [f for f in findings if f.kind == "identity"]
    assert {f.severity for f in identity} == {ERROR}
    series_uid = str(dcmread(other[0]).SeriesInstanceUID)
    assert {f.series_instance_uid for f in identity} == {series_uid}
    assert any("Patient ID is 'OTHER7' (4 files)" in f.message for f in identity)
    assert any("Patient's Name is 'ROE, JANE'" in f.message for f in identity)
    assert all(f.study_instance_uid == "1.2.826.0.1.3680043.9.7777.1" for f in identity)


def test_names_differing_only_in_case_and_empty_components_are_one_patient(
        tmp_path: Path) -> None:
    first, other = _two_series(tmp_path, patient_name="demo^ct^^")
    assert [f for f in _study([*first, *other]) if f.kind == "identity"] == []


def test_birth_date_and_sex_across_series(tmp_path: Path) -> None:
    first, other = _two_series(tmp_path)
    for path in other:
        _rewrite(path, lambda ds: (setattr(ds, "PatientBirthDate", "19710101"),
                                   setattr(ds, "PatientSex", "F")))
    messages = [f.message for f in _study([*first, *other]) if f.kind == "identity"]
    assert len(messages) == 2
    assert any(m.startswith("Patient's Birth Date is '19710101'") for m in messages)
    assert any(m.startswith("Patient's Sex is 'F'") for m in messages)


def test_one_uid_two_contents_is_an_error(ct_series: list[Path], tmp_path: Path) -> None:
    copy = _rewrite(ct_series[1], lambda ds: setattr(ds, "SeriesDescription", "changed"),
                    to=tmp_path / "copy.dcm")
    (finding,) = [f for f in _study([*ct_series, copy]) if f.kind == "duplicate"]
    assert finding.severity == ERROR
    assert "2 files with different content" in finding.message
    assert "copy.dcm" in finding.message


def test_one_instance_stored_twice_is_a_warning(ct_series: list[Path], tmp_path: Path) -> None:
    copy = tmp_path / "same.dcm"
    copy.write_bytes(ct_series[1].read_bytes())
    findings = _study([*ct_series, copy])
    assert [(f.kind, f.severity) for f in findings] == [("duplicate", WARNING)]


def test_a_missing_slice_is_a_gap(ct_series: list[Path]) -> None:
    (finding,) = _study([p for i, p in enumerate(ct_series) if i != 3])
    assert (finding.kind, finding.severity) == ("gap", WARNING)
    assert "about 1 slice(s) missing" in finding.message
    assert "2.00 mm" in finding.message and "steps 1.00 mm" in finding.message


def test_uneven_spacing(ct_series: list[Path]) -> None:
    def shift(ds: Dataset) -> None:
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, z + 0.4]
    _rewrite(ct_series[2], shift)
    (finding,) = _study(ct_series)
    assert (finding.kind, finding.severity) == ("spacing", WARNING)
    assert finding.message.startswith("uneven spacing")


def test_mixed_orientations(ct_series: list[Path]) -> None:
    _rewrite(ct_series[0], lambda ds: setattr(ds, "ImageOrientationPatient",
                                              ["1", "0", "0", "0", "0", "-1"]))
    (finding,) = _study(ct_series)
    assert (finding.kind, finding.severity) == ("orientation", WARNING)
    assert "5 axial, 1 coronal" in finding.message


def test_missing_pixel_spacing(ct_series: list[Path]) -> None:
    for path in ct_series[:2]:
        _rewrite(path, lambda ds: delattr(ds, "PixelSpacing"))
    report = validate_files(ct_series)
    (finding,) = report.study_findings
    assert (finding.kind, finding.severity) == ("pixel-spacing", WARNING)
    assert finding.message.startswith("2 of 6 images have no Pixel Spacing")
    # and dciodvfy names the attribute in each file: Type 1 in the Image Plane module
    assert [f.keyword for f in report.files[0].findings] == ["PixelSpacing"]


def test_two_frames_of_reference_in_one_series(ct_series: list[Path]) -> None:
    _rewrite(ct_series[4], lambda ds: setattr(ds, "FrameOfReferenceUID",
                                              "1.2.826.0.1.3680043.9.7777.99"))
    (finding,) = _study(ct_series)
    assert (finding.kind, finding.severity) == ("frame-of-reference", ERROR)
    assert "2 Frames of Reference" in finding.message


@pytest.mark.parametrize("missing", [0, 5])
def test_dropping_an_end_slice_is_no_gap(ct_series: list[Path], missing: int) -> None:
    assert _study([p for i, p in enumerate(ct_series) if i != missing]) == []


def test_study_and_series_attributes_that_differ_between_files(ct_series: list[Path]) -> None:
    # dcentvfy's entity check: one file's Study Date and Series Number disagree with the rest
    _rewrite(ct_series[2], lambda ds: (setattr(ds, "StudyDate", "20240103"),
                                       setattr(ds, "SeriesNumber", 7)))
    findings = [f for f in _study(ct_series) if f.kind == "consistency"]
    assert {f.severity for f in findings} == {ERROR}
    by_entity = {f.message.split(" differs")[0]: f for f in findings}
    assert set(by_entity) == {"Study Date", "Series Number"}
    assert by_entity["Study Date"].series_instance_uid == ""
    assert by_entity["Series Number"].series_instance_uid == str(
        dcmread(ct_series[0]).SeriesInstanceUID)
    assert "'20240103' in CT0003.dcm" in by_entity["Study Date"].message


def test_patient_identity_is_reported_once_not_by_dcentvfy_too(tmp_path: Path) -> None:
    first, other = _two_series(tmp_path, patient_name="ROE^JANE")
    kinds = [f.kind for f in _study([*first, *other])]
    assert kinds == ["identity"]
