"""De-identified export (PS3.15 E.1 Basic Profile): no identifier in any byte, references kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence

from tests.media.test_export import check_fileset
from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.dicom.demo import write_ct_series
from viewer.media.deid import (
    BASIC_PROFILE,
    BURNED_IN_EXCLUDED,
    DeidOptions,
    resolve,
    table_actions,
)
from viewer.media.export import export_studies

STUDY = "1.2.826.0.1.3680043.8.498.5151.1"
NAME = "Müller^Hans-Jürgen"
PATIENT_ID = "PID-7734521"
BIRTH = "19561103"
ACCESSION = "ACC99887766"
OTHER_ID = "OTHER-5566"
INSTITUTION = "Sankt Elisabeth Klinikum"
PHYSICIAN = "Drogba^Didier"


def _identified_study(folder: Path, burned_in_last: bool = False) -> tuple[list[Path], set[str]]:
    """A CT study full of identifiers, a private block, and a reference between instances.
    Returns its files and every UID in them that is not a registered DICOM UID."""
    files = write_ct_series(folder, slices=4, rows=32, columns=32, study_uid=STUDY,
                            patient_name=NAME, patient_id=PATIENT_ID)
    first = dcmread(files[0])
    uids: set[str] = set()
    for i, f in enumerate(files):
        ds = dcmread(f)
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.PatientBirthDate = BIRTH
        ds.AccessionNumber = ACCESSION
        ds.OtherPatientIDs = OTHER_ID
        ds.InstitutionName = INSTITUTION
        ds.ReferringPhysicianName = PHYSICIAN
        ds.PerformingPhysicianName = PHYSICIAN
        ds.PatientAddress = "Hauptstraße 5, Köln"
        ds.StudyDescription = f"CT thorax {NAME.split('^', maxsplit=1)[0]} {PATIENT_ID}"
        ds.SeriesDescription = "Axial 1.0 mm"
        ds.DeviceSerialNumber = "SN-123456"
        ds.StudyID = "S7734"
        block = ds.private_block(0x0009, "ACME HOSPITAL", create=True)
        block.add_new(0x01, "LO", f"{PATIENT_ID} private copy")
        ref = Dataset()
        ref.ReferencedSOPClassUID = first.SOPClassUID
        ref.ReferencedSOPInstanceUID = first.SOPInstanceUID
        ds.ReferencedImageSequence = Sequence([ref])
        ds.BurnedInAnnotation = "YES" if burned_in_last and i == len(files) - 1 else "NO"
        ds.save_as(f, enforce_file_format=True)
        uids |= {str(ds.SOPInstanceUID), str(ds.SeriesInstanceUID), str(ds.StudyInstanceUID),
                 str(ds.FrameOfReferenceUID), str(ds.file_meta.MediaStorageSOPInstanceUID)}
    return files, uids


def _archive(root: Path, files: list[Path]) -> Archive:
    archive = Archive(root)
    assert not import_paths(archive, files).failed
    return archive


def test_table_is_data_and_options_change_actions() -> None:
    assert resolve("X/Z/D") == "D" and resolve("X/Z") == "Z" and resolve("X/Z/U*") == "U"
    basic = table_actions()
    assert basic["PatientName"] == "Z" and basic["StudyInstanceUID"] == "U"
    assert basic["StudyDate"] == "Z" and basic["StudyDescription"] == "X"
    assert basic["OtherPatientIDs"] == "X" and basic["InstitutionName"] == "D"
    both = table_actions(DeidOptions(retain_dates=True, clean_descriptors=True))
    assert both["StudyDate"] == "K" and both["AcquisitionDateTime"] == "K"
    assert both["StudyDescription"] == "C" and both["SeriesDescription"] == "C"
    assert both["PatientBirthDate"] == "K"  # a date: the Full Dates option keeps it
    assert len(BASIC_PROFILE) > 200


def test_anonymised_export_has_no_identifier_in_any_byte(tmp_path: Path) -> None:
    files, uids = _identified_study(tmp_path / "src")
    with _archive(tmp_path / "archive", files) as archive:
        report = export_studies(archive, [STUDY], tmp_path / "cd", anonymize=DeidOptions())
        plain = export_studies(archive, [STUDY], tmp_path / "plain")
    assert report.ok and len(report.exported) == 4
    exported = check_fileset(tmp_path / "cd")
    blobs = [(p, p.read_bytes()) for p in [*exported, tmp_path / "cd" / "DICOMDIR"]]
    forbidden = [
        NAME.encode("latin-1"), b"M\xfcller", b"Hans", PATIENT_ID.encode(), BIRTH.encode(),
        ACCESSION.encode(), OTHER_ID.encode(), INSTITUTION.encode(), b"Drogba", b"Hauptstra",
        b"SN-123456", b"ACME", b"S7734", *(u.encode() for u in uids),
    ]
    # the control: each needle is there without --anonymize, so its absence below means something
    plain_bytes = b"".join(
        (tmp_path / "plain" / f.file_id).read_bytes() for f in plain.exported
    ) + (tmp_path / "plain" / "DICOMDIR").read_bytes()
    assert [n for n in forbidden if n not in plain_bytes] == []
    for path, blob in blobs:
        for needle in forbidden:
            assert needle not in blob, f"{needle!r} left in {path.name}"
    # references still resolve, series stay in their (new) study, pixels are the same
    out = {str(ds.SOPInstanceUID): ds for ds in (dcmread(p) for p in exported)}
    originals = {int(dcmread(f).InstanceNumber): dcmread(f).pixel_array for f in files}
    first = next(ds for ds in out.values() if ds.InstanceNumber == 1)
    assert len({ds.StudyInstanceUID for ds in out.values()}) == 1
    assert len({ds.SeriesInstanceUID for ds in out.values()}) == 1
    for ds in out.values():
        assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert ds.LongitudinalTemporalInformationModified == "REMOVED"
        assert not any(elem.tag.is_private for elem in ds.iterall())
        assert "StudyDescription" not in ds and "OtherPatientIDs" not in ds
        np.testing.assert_array_equal(ds.pixel_array, originals[int(ds.InstanceNumber)])
    # and the file-set imports again, under its new UIDs only
    with _archive(tmp_path / "again", [tmp_path / "cd" / "DICOMDIR"]) as again:
        [study] = again.index.search_studies()
    assert study.study_instance_uid == first.StudyInstanceUID
    assert study.study_instance_uid not in uids and study.patient_id.startswith("ANON")


def test_options_keep_dates_and_clean_descriptions(tmp_path: Path) -> None:
    files, _ = _identified_study(tmp_path / "src")
    study_date = str(dcmread(files[0]).StudyDate)
    options = DeidOptions(retain_dates=True, clean_descriptors=True)
    with _archive(tmp_path / "archive", files) as archive:
        report = export_studies(archive, [STUDY], tmp_path / "cd", anonymize=options)
    ds = dcmread(tmp_path / "cd" / report.exported[0].file_id)
    assert ds.StudyDate == study_date and ds.PatientBirthDate == BIRTH
    assert ds.StudyDescription == "CT thorax"  # the name and ID it carried are cleaned out
    assert ds.SeriesDescription == "Axial 1.0 mm"
    assert ds.LongitudinalTemporalInformationModified == "UNMODIFIED"
    codes = {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}
    assert codes == {"113100", "113105", "113106"}


@pytest.mark.parametrize("include", [False, True], ids=["excluded", "included"])
def test_burned_in_annotation(tmp_path: Path, include: bool) -> None:
    files, _ = _identified_study(tmp_path / "src", burned_in_last=True)
    options = DeidOptions(include_burned_in=include)
    with _archive(tmp_path / "archive", files) as archive:
        report = export_studies(archive, [STUDY], tmp_path / "cd", anonymize=options)
    if include:
        assert len(report.exported) == 4 and not report.excluded
    else:
        assert len(report.exported) == 3
        assert [f.reason for f in report.excluded] == [BURNED_IN_EXCLUDED]
    assert len(FileSet(tmp_path / "cd" / "DICOMDIR")) == len(report.exported)
