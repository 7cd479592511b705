"""The import entry point end to end: report per file, nothing stored lost (issue 4)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from tests.dicom.makers import image_dataset, save
from viewer.archive.archive import Archive
from viewer.archive.importer import ImportReport, import_file, import_paths
from viewer.archive.store import STORE_DIR, TMP_DIR
from viewer.cli import main


def _image(folder: Path, name: str, **attrs: object) -> Path:
    ds = image_dataset(np.arange(64, dtype=np.uint16).reshape(8, 8), bits_stored=12)
    ds.PatientName, ds.PatientID, ds.Modality = "DOE^JANE", "P1", "CT"
    for key, value in attrs.items():
        setattr(ds, key, value)
    folder.mkdir(parents=True, exist_ok=True)
    return save(ds, folder / name)


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    with Archive(tmp_path / "archive") as opened:
        yield opened  # type: ignore[misc]


def test_folder_with_bad_files_imports_the_rest(tmp_path: Path, archive: Archive) -> None:
    src = tmp_path / "cd"
    study, series = generate_uid(), generate_uid()
    good = [
        _image(src / "IMAGES", f"IM{i}", StudyInstanceUID=study, SeriesInstanceUID=series)
        for i in range(3)
    ]
    (src / "README.TXT").write_text("Patient CD\n")
    (src / "AUTORUN.INF").write_text("[autorun]\nopen=viewer.exe\n")
    (src / "viewer.exe").write_bytes(b"MZ" + bytes(500))
    raw = good[0].read_bytes()
    (src / "truncated.dcm").write_bytes(raw[: len(raw) // 2])
    no_uid = dcmread(_image(tmp_path / "x", "a"))
    del no_uid.SOPInstanceUID
    save(no_uid, src / "nouid.dcm")
    _image(src, "longuid.dcm", SOPInstanceUID="1." + "2" * 70)
    _image(src, "slash.dcm", SOPInstanceUID="1.2/../3")
    report = import_paths(archive, [src])
    assert sorted(Path(p).name for p in report.imported) == ["IM0", "IM1", "IM2"]
    failed = {Path(f.item).name: f.reason for f in report.failed}
    assert set(failed) == {
        "README.TXT", "AUTORUN.INF", "viewer.exe", "truncated.dcm", "nouid.dcm",
        "longuid.dcm", "slash.dcm",
    }
    assert "64" in failed["longuid.dcm"]
    studies = archive.index.search_studies(patient_name="doe*")
    assert len(studies) == 1 and studies[0].number_of_instances == 3
    for row in archive.index.instances(archive.index.series(studies[0].study_instance_uid)[0]
                                       .series_instance_uid):
        stored = archive.store.absolute(row.store_path).read_bytes()
        assert stored[:128] == bytes(128)  # preamble zeroed (PS3.10 7.5)


def test_duplicates_and_conflicts(tmp_path: Path, archive: Archive) -> None:
    first = _image(tmp_path / "a", "one.dcm")
    assert len(import_paths(archive, [first]).imported) == 1
    again = import_paths(archive, [first])
    assert len(again.already_present) == 1 and again.ok
    changed = dcmread(first)
    changed.PatientID = "OTHER"
    other = save(changed, tmp_path / "changed.dcm")
    report = import_paths(archive, [other])
    assert len(report.conflicts) == 1 and not report.ok
    row = archive.index.get_instance(str(changed.SOPInstanceUID))
    assert row is not None
    kept = dcmread(archive.store.absolute(row.store_path))
    assert kept.PatientID == "P1"  # the stored one is kept, never silently overwritten


def test_zip_traversal_writes_nothing_outside(tmp_path: Path, archive: Archive) -> None:
    image = _image(tmp_path / "src", "x.dcm")
    bundle = tmp_path / "in.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.write(image, "ok/x.dcm")
        zf.writestr("../../evil.dcm", image.read_bytes())
        zf.writestr("/abs/evil2.dcm", image.read_bytes())
    before = {p for p in tmp_path.parent.rglob("evil*")}
    report = import_paths(archive, [bundle])
    assert len(report.imported) == 1
    assert len(report.failed) == 2
    assert {p for p in tmp_path.parent.rglob("evil*")} == before


def test_invalid_text_is_stored_with_a_warning(tmp_path: Path, archive: Archive) -> None:
    path = _image(tmp_path, "latin.dcm", SpecificCharacterSet="ISO_IR 192")
    ds = dcmread(path)
    ds["PatientName"].value = b"M\xfcller^Hans"  # Latin-1 bytes in a UTF-8 file
    save(ds, path)
    report = import_paths(archive, [path])
    assert len(report.imported) == 1
    assert report.warnings, "invalid bytes in the declared character set must be reported"


def test_cli_import_studies_series_instances_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = generate_uid()
    for i in range(2):
        _image(tmp_path / "src", f"i{i}", StudyInstanceUID=study, StudyDate="20240131",
               PatientName="张^三", SpecificCharacterSet="ISO_IR 192")
    arc = ["--archive", str(tmp_path / "arc")]
    assert main([*arc, "import", str(tmp_path / "src"), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["imported"]) == 2
    assert main([*arc, "studies", "--patient-name", "张*", "--date", "20240101-", "--json"]) == 0
    studies = json.loads(capsys.readouterr().out)
    assert [s["StudyInstanceUID"] for s in studies] == [study]
    assert studies[0]["NumberOfStudyRelatedInstances"] == 2
    assert main([*arc, "series", study, "--json"]) == 0
    series = json.loads(capsys.readouterr().out)
    assert main([*arc, "instances", series[0]["SeriesInstanceUID"]]) == 0
    assert main([*arc, "delete", study]) == 0
    assert main([*arc, "studies", "--json"]) == 0
    capsys.readouterr()
    with Archive(tmp_path / "arc") as reopened:
        assert list(reopened.store.iter_files()) == []
    assert main([*arc, "import", str(tmp_path / "missing")]) == 2


def test_zip_with_full_size_images_and_a_truncated_one(tmp_path: Path, archive: Archive) -> None:
    # 512x512 slices: their pixel data is past the header-read limit, so the length check
    # measures the extracted file (an archive entry has no path of its own).
    from viewer.dicom.demo import write_ct_series

    series = write_ct_series(tmp_path / "ct", 3, 512, 512)
    bundle = tmp_path / "ct.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in series:
            zf.write(path, f"CT/{path.name}")
        whole = series[0].read_bytes()
        zf.writestr("CT/short.dcm", whole[:-1000])  # the last rows missing
        zf.writestr("CT/cut.dcm", whole[:200_000])  # Pixel Data's length exceeds the file
    report = import_paths(archive, [bundle])
    assert sorted(report.imported) == [f"{bundle}!CT/{p.name}" for p in sorted(series)]
    reasons = {f.item: f.reason for f in report.failed}
    assert "pixel data truncated" in reasons.pop(f"{bundle}!CT/short.dcm")
    assert "claims 524288 bytes, more than the file" in reasons.pop(f"{bundle}!CT/cut.dcm")
    assert reasons == {}


def test_cd_written_by_dcmmkdir_with_a_hostile_file_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CD whose DICOMDIR (made by DCMTK's dcmmkdir) was edited to point a record outside the
    media: that record is refused, naming the DICOMDIR and the File ID; the rest is imported
    and nothing outside the media is read or written."""
    import shutil
    import subprocess

    from tests.peers import require_tool
    from viewer.dicom.demo import write_ct_series

    dcmmkdir = require_tool("dcmmkdir", "dcmtk")
    cd = tmp_path / "CD"
    (cd / "IMAGES").mkdir(parents=True)
    for n, path in enumerate(write_ct_series(tmp_path / "src", 4, 64, 64)):
        shutil.copy(path, cd / "IMAGES" / f"IM{n:06d}")  # ISO 9660 level 1 names
    subprocess.run([dcmmkdir, "--recurse", "IMAGES"], cwd=cd, check=True,
                   capture_output=True, timeout=60)
    secret = tmp_path / "SECRET"
    secret.write_bytes(dcmread(cd / "IMAGES" / "IM000001").PatientID.encode())  # bait
    dicomdir = cd / "DICOMDIR"
    # A same-length edit keeps every record offset valid: only the File ID is hostile.
    raw = dicomdir.read_bytes()
    assert raw.count(b"IMAGES\\IM000000") == 1
    dicomdir.write_bytes(raw.replace(b"IMAGES\\IM000000", b"..\\..\\..\\SECRET"))

    arc = ["--archive", str(tmp_path / "arc")]
    assert main([*arc, "import", str(dicomdir), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    # IM000000 is still found by the folder scan that follows a DICOMDIR naming a missing or
    # refused file: the CD's images all arrive, the hostile record is named.
    assert sorted(Path(p).name for p in report["imported"]) == [f"IM{n:06d}" for n in range(4)]
    assert {f["path"]: f["reason"] for f in report["failed"]} == {
        f"{dicomdir}: File ID ..\\..\\..\\SECRET": "refused: outside the media root",
        str(dicomdir): "DICOMDIR names 1 file(s) outside the media root; "
        "scanned the folder for unlisted files",
    }
    assert report["conflicts"] == [] and report["stopped"] is None
    with Archive(tmp_path / "arc") as opened:
        assert len(list(opened.store.iter_files())) == 4


def _mixed_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A folder of 40 good images, broken files among them, and a zip of 12 more plus a
    traversal entry: enough for worker processes (import_paths' PARALLEL_MIN)."""
    src = tmp_path / "mixed"
    study, series = generate_uid(), generate_uid()
    good = [
        _image(src, f"IM{i:03}", StudyInstanceUID=study, SeriesInstanceUID=series,
               InstanceNumber=i)
        for i in range(40)
    ]
    raw = good[0].read_bytes()
    (src / "truncated.dcm").write_bytes(raw[: len(raw) // 2])
    (src / "README.TXT").write_text("Patient CD\n")
    _image(src, "longuid.dcm", SOPInstanceUID="1." + "2" * 70)
    save(dcmread(good[1]), src / "same-as-IM001.dcm")  # byte-identical: already present
    changed = dcmread(good[2])
    changed.PatientID = "OTHER"
    save(changed, src / "zz-conflicts-with-IM002.dcm")  # sorted after IM002: stored first
    bundle = tmp_path / "more.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for i in range(12):
            image = _image(tmp_path / "zipped", f"Z{i}", StudyInstanceUID=study,
                           SeriesInstanceUID=series)
            zf.write(image, f"Z/{image.name}")
        zf.writestr("../../evil.dcm", raw)
    return src, bundle


def test_worker_processes_report_what_importing_in_process_reports(tmp_path: Path) -> None:
    src, bundle = _mixed_folder(tmp_path)

    def summary(report: ImportReport) -> dict[str, object]:
        return {
            "imported": sorted(report.imported),
            "already_present": sorted(report.already_present),
            "conflicts": sorted((f.item, f.reason) for f in report.conflicts),
            "failed": sorted((f.item, f.reason) for f in report.failed),
            "stopped": report.stopped,
        }

    outcomes = []
    for workers in (0, 2):
        with Archive(tmp_path / f"archive-{workers}") as archive:
            report = import_paths(archive, [src, bundle], workers=workers)
            rows = sorted(archive.index.stored_checksums())
            outcomes.append((summary(report), rows))
            assert len(rows) == 40 + 12
    (in_process, _), (in_workers, _) = outcomes
    assert in_workers == in_process
    assert outcomes[0][1] == outcomes[1][1]  # same rows, same store paths, same checksums
    assert len(in_workers["already_present"]) == 1  # type: ignore[arg-type]
    assert len(in_workers["conflicts"]) == 1  # type: ignore[arg-type]
    failed = dict(in_workers["failed"])  # type: ignore[call-overload]
    assert set(failed) == {
        str(src / "truncated.dcm"), str(src / "README.TXT"), str(src / "longuid.dcm"),
        f"{bundle}!../../evil.dcm",
    }


def test_import_workers_leave_no_work_directories(tmp_path: Path) -> None:
    src, bundle = _mixed_folder(tmp_path)
    with Archive(tmp_path / "archive") as archive:
        import_paths(archive, [src, bundle], workers=2)
    assert list((tmp_path / "archive" / STORE_DIR / TMP_DIR).iterdir()) == []


def test_import_file_stores_and_indexes_one_file_now(tmp_path: Path, archive: Archive) -> None:
    image = _image(tmp_path / "in", "one.dcm")
    report = import_file(archive, image, "STORESCU: 1.2.3")
    assert report.imported == ["STORESCU: 1.2.3"] and report.ok
    again = import_file(archive, image, "again")
    assert again.already_present == ["again"]
    (tmp_path / "junk").write_bytes(b"not dicom")
    failed = import_file(archive, tmp_path / "junk", "junk")
    assert [f.item for f in failed.failed] == ["junk"] and not failed.ok
