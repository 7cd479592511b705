"""Export to a PS3.10 file-set: round trips through our importer, checked with DCMTK and pydicom."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.encaps import encapsulate
from pydicom.fileset import FileSet
from pydicom.uid import ExplicitVRLittleEndian, JPEGLosslessSV1, JPEGLSLossless

from tests.peers import require_tool
from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.cli import main as cli_main
from viewer.dicom.demo import transcode, write_ct_series
from viewer.jobs import Cancelled, CancelToken
from viewer.media.export import ExportError, export_studies
from viewer.media.iso import IsoError, make_iso

STUDY = "1.2.826.0.1.3680043.8.498.4242.1"
FILE_ID = re.compile(r"[A-Z0-9_]{1,8}")


def _archive(root: Path, files: list[Path]) -> Archive:
    archive = Archive(root)
    report = import_paths(archive, files)
    assert not report.failed, report.failed
    return archive


@pytest.fixture
def ct(tmp_path: Path) -> Iterator[tuple[Archive, list[Path]]]:
    files = write_ct_series(tmp_path / "src", slices=6, rows=64, columns=64, study_uid=STUDY)
    with _archive(tmp_path / "archive", files) as archive:
        yield archive, files


def _by_uid(paths: list[Path]) -> dict[str, np.ndarray]:
    return {str(dcmread(p).SOPInstanceUID): dcmread(p).pixel_array for p in paths}


def _stored(archive: Archive) -> dict[str, np.ndarray]:
    paths = [
        archive.store.absolute(row.store_path)
        for study in archive.index.search_studies()
        for series in archive.index.series(study.study_instance_uid)
        for row in archive.index.instances(series.series_instance_uid)
    ]
    return _by_uid(paths)


def check_fileset(target: Path, dcmmkdir_profile: str = "-Pgp") -> list[Path]:
    """The file-set is readable by DCMTK and pydicom and names only files that are there;
    DCMTK dcmmkdir accepts every file for the profile. Returns the referenced files."""
    dcmdump = require_tool("dcmdump", "dcmtk")
    dcmmkdir = require_tool("dcmmkdir", "dcmtk")
    fs = FileSet(target / "DICOMDIR")
    files = [Path(inst.path) for inst in fs]
    assert files and all(f.is_file() for f in files)
    on_disk = {p for p in target.rglob("*") if p.is_file() and p.name != "DICOMDIR"}
    assert on_disk == set(files)  # no stray temp files, no unreferenced files
    for f in files:
        parts = f.relative_to(target).parts
        assert 1 <= len(parts) <= 8 and all(FILE_ID.fullmatch(p) for p in parts), parts
    dumped = subprocess.run([dcmdump, "-q", str(target / "DICOMDIR"), *map(str, files)],
                            capture_output=True, timeout=120, check=False)
    assert dumped.returncode == 0, dumped.stderr
    ids = [str(f.relative_to(target)) for f in files]
    check = target.parent / f"{target.name}-dcmmkdir-check"
    check.mkdir()
    done = subprocess.run(
        [dcmmkdir, dcmmkdir_profile, "+id", str(target), "+D", str(check / "DICOMDIR"), *ids],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return files


def test_round_trip_keeps_uids_and_pixels(ct: tuple[Archive, list[Path]], tmp_path: Path) -> None:
    archive, files = ct
    target = tmp_path / "cd"
    seen: list[tuple[int, int]] = []
    report = export_studies(archive, [STUDY], target, progress=lambda d, t, _: seen.append((d, t)))
    assert report.ok and len(report.exported) == 6 and report.dicomdir == target / "DICOMDIR"
    assert seen[-1] == (6, 6)
    exported = check_fileset(target)
    records = dcmread(target / "DICOMDIR").DirectoryRecordSequence
    kinds = [r.DirectoryRecordType for r in records]
    assert kinds.count("PATIENT") == 1 and kinds.count("STUDY") == 1 and kinds.count("IMAGE") == 6
    study = next(r for r in records if r.DirectoryRecordType == "STUDY")
    assert study.StudyInstanceUID == STUDY and study.StudyDate and study.StudyID
    with _archive(tmp_path / "again", [target / "DICOMDIR"]) as again:
        back = _stored(again)
    original = _by_uid(files)
    assert back.keys() == original.keys()
    for uid, pixels in original.items():
        np.testing.assert_array_equal(back[uid], pixels)
    assert all(dcmread(f).file_meta.TransferSyntaxUID == ExplicitVRLittleEndian for f in exported)


def test_gb18030_study_keeps_its_character_set(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "src", slices=3, rows=32, columns=32, study_uid=STUDY)
    for f in files:
        ds = dcmread(f)
        ds.SpecificCharacterSet = "GB18030"
        ds.PatientName = "张^伟"
        ds.StudyDescription = "胸部 CT"
        ds.save_as(f, enforce_file_format=True)
    with _archive(tmp_path / "archive", files) as archive:
        export_studies(archive, [STUDY], tmp_path / "cd")
    check_fileset(tmp_path / "cd")
    raw = (tmp_path / "cd" / "DICOMDIR").read_bytes()
    assert "张^伟".encode("gb18030") in raw
    records = dcmread(tmp_path / "cd" / "DICOMDIR").DirectoryRecordSequence
    patient = next(r for r in records if r.DirectoryRecordType == "PATIENT")
    assert patient.SpecificCharacterSet == "GB18030" and str(patient.PatientName) == "张^伟"
    with _archive(tmp_path / "again", [tmp_path / "cd" / "DICOMDIR"]) as again:
        [study] = again.index.search_studies()
    assert study.patient_name == "张^伟" and study.study_description == "胸部 CT"


def test_jpeg_ls_is_decompressed_for_cd_and_jpeg_kept_for_dvd(tmp_path: Path) -> None:
    require_tool("dcmcjpls", "dcmtk")
    originals = write_ct_series(tmp_path / "src", slices=3, rows=64, columns=64, study_uid=STUDY)
    jls = transcode(originals, "jpeg-ls", tmp_path / "jls")
    with _archive(tmp_path / "archive", jls) as archive:
        assert {dcmread(p).file_meta.TransferSyntaxUID for p in jls} == {JPEGLSLossless}
        report = export_studies(archive, [STUDY], tmp_path / "cd")
        assert report.ok
        exported = check_fileset(tmp_path / "cd")
        assert {dcmread(p).file_meta.TransferSyntaxUID for p in exported} == {
            ExplicitVRLittleEndian
        }
        # JPEG-LS is in no DVD profile either: decompressed there too
        report = export_studies(archive, [STUDY], tmp_path / "dvd", profile="STD-GEN-DVD-JPEG")
        check_fileset(tmp_path / "dvd", "-Pdv")
    with _archive(tmp_path / "again", [tmp_path / "cd" / "DICOMDIR"]) as again:
        back = _stored(again)
    # dcmcjpls gives new SOP Instance UIDs: those of the archived (JPEG-LS) files come back
    assert back.keys() == {str(dcmread(p).SOPInstanceUID) for p in jls}
    by_number = {int(dcmread(p).InstanceNumber): dcmread(p).pixel_array for p in originals}
    for uid, pixels in back.items():
        number = next(
            int(dcmread(p).InstanceNumber) for p in jls if dcmread(p).SOPInstanceUID == uid
        )
        np.testing.assert_array_equal(pixels, by_number[number])


def test_dvd_jpeg_keeps_jpeg_as_stored(tmp_path: Path) -> None:
    require_tool("dcmcjpeg", "dcmtk")
    originals = write_ct_series(tmp_path / "src", slices=2, rows=64, columns=64, study_uid=STUDY)
    sv1 = transcode(originals, "jpeg-lossless-sv1", tmp_path / "sv1")
    with _archive(tmp_path / "archive", sv1) as archive:
        report = export_studies(archive, [STUDY], tmp_path / "dvd", profile="STD-GEN-DVD-JPEG")
        stored = {archive.store.absolute(f.source).read_bytes() for f in report.exported}
    exported = check_fileset(tmp_path / "dvd", "-Pdv")
    assert {dcmread(p).file_meta.TransferSyntaxUID for p in exported} == {JPEGLosslessSV1}
    assert {p.read_bytes() for p in exported} == stored  # byte for byte as archived


def test_undecodable_file_is_refused_by_name_rest_exported(tmp_path: Path) -> None:
    require_tool("dcmcjpls", "dcmtk")
    originals = write_ct_series(tmp_path / "src", slices=3, rows=64, columns=64, study_uid=STUDY)
    jls = transcode(originals, "jpeg-ls", tmp_path / "jls")
    with _archive(tmp_path / "archive", jls) as archive:
        row = archive.index.instances(
            archive.index.series(STUDY)[0].series_instance_uid
        )[1]
        broken = archive.store.absolute(row.store_path)
        ds = dcmread(broken)
        ds.PixelData = encapsulate([b"\xff\xd8 not a JPEG-LS stream \xff\xd9"])
        ds.save_as(broken, enforce_file_format=True)
        report = export_studies(archive, [STUDY], tmp_path / "cd")
    assert [f.item for f in report.failed] == [str(broken)]
    assert "decompress" in report.failed[0].reason
    assert len(report.exported) == 2
    assert len(check_fileset(tmp_path / "cd")) == 2


def test_target_not_empty_is_refused_and_untouched(ct: tuple[Archive, list[Path]],
                                                   tmp_path: Path) -> None:
    archive, _ = ct
    target = tmp_path / "used"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_studies(archive, [STUDY], target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    with pytest.raises(ExportError, match="no such study"):
        export_studies(archive, ["1.2.3.999"], tmp_path / "new")
    assert not (tmp_path / "new").exists()


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[object]:
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], timeout=30, check=False)


def test_not_writable_target_is_a_clear_error(ct: tuple[Archive, list[Path]],
                                              mount_tmpfs: object) -> None:
    archive, _ = ct
    if os.geteuid() != 0:
        pytest.skip("a read-only mount needs root here")
    readonly = mount_tmpfs("ro", "ro,size=1m")  # type: ignore[operator]
    with pytest.raises(ExportError, match="not writable"):
        export_studies(archive, [STUDY], readonly)
    with pytest.raises(ExportError, match="cannot create"):
        export_studies(archive, [STUDY], readonly / "sub")


def test_disk_full_leaves_no_dicomdir_and_no_files(tmp_path: Path, mount_tmpfs: object) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root here")
    files = write_ct_series(tmp_path / "src", slices=10, rows=256, columns=256, study_uid=STUDY)
    small = mount_tmpfs("small", "size=640k")  # type: ignore[operator]
    with _archive(tmp_path / "archive", files) as archive:
        with pytest.raises(ExportError, match="disk full"):
            export_studies(archive, [STUDY], small)
        assert list(small.iterdir()) == []  # not a DICOMDIR, not a file, not a temp
        with pytest.raises(ExportError, match="disk full"):
            export_studies(archive, [STUDY], small / "new")
        assert list(small.iterdir()) == []


def test_cancel_removes_what_was_written(ct: tuple[Archive, list[Path]], tmp_path: Path) -> None:
    archive, _ = ct
    token = CancelToken()

    def progress(done: int, total: int, label: str) -> None:
        if done == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        export_studies(archive, [STUDY], tmp_path / "cd", progress=progress, cancel=token)
    assert not (tmp_path / "cd").exists()


def test_thousands_of_images_keep_file_ids_within_limits(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "src", slices=1200, rows=8, columns=8, study_uid=STUDY)
    with _archive(tmp_path / "archive", files) as archive:
        report = export_studies(archive, [STUDY], tmp_path / "cd")
    assert len(report.exported) == 1200
    exported = check_fileset(tmp_path / "cd")
    assert len(exported) == 1200 and len({p.name for p in exported}) == 1200


def test_iso_image_holds_the_fileset(ct: tuple[Archive, list[Path]], tmp_path: Path) -> None:
    isoinfo = require_tool("isoinfo", "genisoimage")
    archive, _ = ct
    export_studies(archive, [STUDY], tmp_path / "cd")
    iso = make_iso(tmp_path / "cd", tmp_path / "study.iso", "STUDY_1")
    listing = subprocess.run([isoinfo, "-f", "-i", str(iso)], capture_output=True, text=True,
                             timeout=60, check=True).stdout.split()
    names = {n.split(";")[0] for n in listing}
    assert "/DICOMDIR" in names
    assert "/PT000000/ST000000/SE000000/IM000005" in names
    header = subprocess.run([isoinfo, "-d", "-i", str(iso)], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert "Volume id: STUDY_1" in header and "Joliet" not in header.split("NO Joliet")[0]
    with pytest.raises(IsoError, match="failed"):
        make_iso(tmp_path / "cd", tmp_path / "missing-dir" / "x.iso")
    assert not (tmp_path / "missing-dir").exists()


def test_cli_export(ct: tuple[Archive, list[Path]], tmp_path: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:
    archive, _ = ct
    root = str(archive.root)
    code = cli_main(["--archive", root, "export", STUDY, "--to", str(tmp_path / "cd"),
                     "--iso", str(tmp_path / "cd.iso"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and len(out["exported"]) == 6 and out["iso"]
    assert (tmp_path / "cd.iso").stat().st_size > 6 * 64 * 64 * 2
    code = cli_main(["--archive", root, "export", STUDY, "--to", str(tmp_path / "cd")])
    err = capsys.readouterr().err
    assert code == 2 and "not empty" in err
    code = cli_main(["--archive", root, "export", STUDY, "--to", str(tmp_path / "x"),
                     "--retain-dates"])
    assert code == 2 and "--anonymize" in capsys.readouterr().err


@pytest.mark.parametrize("syntax", ["implicit-le", "big-endian", "rle"])
def test_other_syntaxes_become_explicit_le_for_cd(tmp_path: Path, syntax: str) -> None:
    require_tool("dcmconv", "dcmtk")
    originals = write_ct_series(tmp_path / "src", slices=2, rows=64, columns=64, study_uid=STUDY)
    converted = transcode(originals, syntax, tmp_path / syntax)
    with _archive(tmp_path / "archive", converted) as archive:
        report = export_studies(archive, [STUDY], tmp_path / "cd")
    assert report.ok, report.failed
    exported = check_fileset(tmp_path / "cd")
    by_number = {int(dcmread(p).InstanceNumber): dcmread(p).pixel_array for p in originals}
    for path in exported:
        ds = dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert not ds.is_implicit_VR and ds.is_little_endian
        np.testing.assert_array_equal(ds.pixel_array, by_number[int(ds.InstanceNumber)])
