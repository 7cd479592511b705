"""Candidate files from folders, zips and DICOMDIR media: what is offered and what is reported."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.fileset import FileSet

from tests.dicom.makers import image_dataset, save
from viewer.archive.sources import (
    OUTSIDE_MEDIA_ROOT,
    Candidate,
    SourceError,
    ZipLimits,
    _copy_limited,
    discard_fileset,
    iter_candidates,
)
from viewer.jobs import Report

MiB = 1 << 20


def dicom_bytes(tmp_path: Path, name: str = "img.dcm") -> bytes:
    path = save(image_dataset(np.arange(16, dtype=np.uint16).reshape(4, 4)), tmp_path / name)
    return path.read_bytes()


def walk(*paths: Path, **options: object) -> tuple[list[Candidate], Report]:
    report = Report()
    return list(iter_candidates(paths, report, **options)), report  # type: ignore[arg-type]


def failures(report: Report) -> dict[str, str]:
    return {f.item: f.reason for f in report.failed}


def all_files(top: Path) -> set[Path]:
    return {p for p in top.rglob("*") if p.is_file()}


def fileset_paths(dicomdir: Path) -> list[Path]:
    """What pydicom's FileSet itself lists, in its order: the reference for media reading."""
    fileset = FileSet(dicomdir)
    try:
        return [Path(instance.path) for instance in fileset]
    finally:
        discard_fileset(fileset)


def write_fileset(tmp_path: Path, count: int = 3) -> Path:
    """A valid PS3.10 file-set written by pydicom; returns its DICOMDIR."""
    fs = FileSet()
    for i in range(count):
        ds = image_dataset(
            np.full((4, 4), i, dtype=np.uint16),
            PatientName="CD^Test",
            PatientID="1",
            StudyDate="20240101",
            StudyTime="120000",
            StudyID="1",
            AccessionNumber="A1",
            SeriesNumber=1,
            InstanceNumber=i + 1,
        )
        fs.add(save(ds, tmp_path / f"src{i}.dcm"))
    cd = tmp_path / "media" / "cd"
    fs.write(cd)
    discard_fileset(fs)
    return cd / "DICOMDIR"


def set_file_ids(dicomdir: Path, new_ids: dict[int, list[str]]) -> None:
    """Rewrite Referenced File IDs in place, padded to the same length so the record offsets
    (PS3.3 F.3.2.1) stay valid: only the File ID is wrong, not the DICOMDIR's structure."""
    ds = dcmread(dicomdir)
    leaves = [r for r in ds.DirectoryRecordSequence if "ReferencedFileID" in r]
    for index, parts in new_ids.items():
        old = len("\\".join(leaves[index].ReferencedFileID))
        pad = old - len("\\".join(parts))
        assert pad >= 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            leaves[index].ReferencedFileID = [*parts[:-1], parts[-1] + "X" * pad]
    ds.save_as(dicomdir)


# --- folders -----------------------------------------------------------------------------------


def test_folder_offers_every_regular_file_but_hidden_ones(tmp_path: Path) -> None:
    top = tmp_path / "export"
    (top / "viewer" / "bin").mkdir(parents=True)
    (top / ".git").mkdir()
    (top / "IMG0001").write_bytes(dicom_bytes(tmp_path))  # no extension needed
    for name in ("README", "autorun.inf", "setup.exe", "viewer/bin/app.dll", ".DS_Store"):
        (top / name).write_bytes(b"not dicom")
    (top / ".git" / "config").write_text("x")
    candidates, report = walk(top)
    labels = {c.label for c in candidates}
    names = {"IMG0001", "README", "autorun.inf", "setup.exe", "viewer/bin/app.dll"}
    assert labels == {str(top / n) for n in names}  # the importer rejects the non-DICOM ones
    assert report.ok
    for c in candidates:
        with c.materialise() as path:
            assert path == c.path and path.is_file()


def test_links_outside_are_refused_and_files_offered_once(tmp_path: Path) -> None:
    outside = tmp_path / "secret.dcm"
    outside.write_bytes(dicom_bytes(tmp_path))
    top = tmp_path / "in"
    (top / "sub").mkdir(parents=True)
    (top / "sub" / "a.dcm").write_bytes(b"a")
    (top / "out.dcm").symlink_to(outside)
    (top / "same.dcm").symlink_to(top / "sub" / "a.dcm")
    (top / "loop").symlink_to(top)
    (top / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(top / "pipe")
    candidates, report = walk(top, top / "sub" / "a.dcm", tmp_path / "missing")
    assert [c.path.resolve() for c in candidates if c.path] == [(top / "sub" / "a.dcm").resolve()]
    got = failures(report)
    assert got[str(top / "out.dcm")].startswith("refused: symbolic link pointing outside")
    assert got[str(top / "dangling")] == "broken symbolic link"
    assert got[str(top / "pipe")] == "not a regular file"
    assert str(tmp_path / "missing") in got
    assert len(got) == 4


# --- zip archives ------------------------------------------------------------------------------


def test_zip_entries_reaching_outside_are_refused_and_nothing_escapes(tmp_path: Path) -> None:
    payload = dicom_bytes(tmp_path)
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    archive = work / "study.zip"
    link = zipfile.ZipInfo("link.dcm")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("../../x.dcm", "/abs/x.dcm", "C:\\win\\x.dcm", "a\\..\\..\\y.dcm"):
            zf.writestr(name, payload)
        zf.writestr(link, "/etc/passwd")
        zf.writestr("inner.zip", b"PK")
        zf.writestr("__MACOSX/._ok.dcm", b"fork")
        zf.writestr("DICOMDIR", b"index")
        zf.writestr("./ok/1.dcm", payload)
        zf.writestr("2.dcm", payload)
    before = all_files(tmp_path)
    extract_to = tmp_path / "tmp"
    extract_to.mkdir()
    candidates, report = walk(archive, temp_dir=extract_to)
    assert [c.label for c in candidates] == [f"{archive}!./ok/1.dcm", f"{archive}!2.dcm"]
    got = failures(report)
    for name in ("../../x.dcm", "/abs/x.dcm", "C:\\win\\x.dcm", "a\\..\\..\\y.dcm"):
        assert got[f"{archive}!{name}"].startswith("refused: unsafe path in archive")
    assert got[f"{archive}!link.dcm"] == "refused: symbolic link entry in archive"
    assert got[f"{archive}!inner.zip"] == "skipped: nested archive not opened"
    assert len(got) == 6
    for c in candidates:
        with c.materialise() as path:
            assert path.read_bytes() == payload
            assert path.parent.parent == extract_to and path.name == "entry.dcm"
    assert all_files(tmp_path) == before  # nothing left behind, nothing written outside
    assert not Path("/abs/x.dcm").exists()


def test_encrypted_entry_is_reported(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("secret.dcm", b"x" * 10)
        zf.writestr("plain.dcm", b"y" * 10)
    data = bytearray(buffer.getvalue())
    # Set the 'encrypted' flag (bit 0) of the first entry, local header and central directory.
    data[6] |= 1
    data[data.index(b"PK\x01\x02") + 8] |= 1
    archive = tmp_path / "enc.zip"
    archive.write_bytes(bytes(data))
    candidates, report = walk(archive)
    assert [c.label for c in candidates] == [f"{archive}!plain.dcm"]
    assert failures(report) == {
        f"{archive}!secret.dcm": "refused: encrypted entry "
        "(password-protected archives are not supported)"
    }


def test_zip_bomb_refused_on_declared_ratio_and_sizes(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.dcm", bytes(8 * MiB))  # ~1000:1
        zf.writestr("small_zeros.dcm", bytes(64 * 1024))  # high ratio, but tiny: allowed
        zf.writestr("noise.dcm", os.urandom(300_000))
    candidates, report = walk(archive)
    assert [c.label for c in candidates] == [f"{archive}!small_zeros.dcm", f"{archive}!noise.dcm"]
    assert "zip bomb" in failures(report)[f"{archive}!bomb.dcm"]

    tight = ZipLimits(max_entry_bytes=200_000, max_total_bytes=100_000, max_ratio=1e9)
    candidates, report = walk(archive, limits=tight)
    assert [c.label for c in candidates] == [f"{archive}!small_zeros.dcm"]
    got = failures(report)
    assert "per-entry limit" in got[f"{archive}!bomb.dcm"]
    assert "per-entry limit" in got[f"{archive}!noise.dcm"]
    tighter = ZipLimits(max_total_bytes=50_000)
    candidates, report = walk(archive, limits=tighter)
    assert f"{archive}!small_zeros.dcm" in failures(report)
    assert "total" in failures(report)[f"{archive}!small_zeros.dcm"]


def test_lying_header_is_stopped_while_streaming(tmp_path: Path) -> None:
    real = os.urandom(3 * MiB)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("liar.dcm", real)
    data = bytearray(buffer.getvalue())
    # Declare 1,000 bytes (local header offset 22, central directory offset 24): passes listing.
    struct.pack_into("<I", data, 22, 1000)
    struct.pack_into("<I", data, data.index(b"PK\x01\x02") + 24, 1000)
    archive = tmp_path / "liar.zip"
    archive.write_bytes(bytes(data))
    extract_to = tmp_path / "tmp"
    extract_to.mkdir()
    candidates, report = walk(archive, temp_dir=extract_to)
    assert report.ok and len(candidates) == 1
    with pytest.raises(SourceError) as raised, candidates[0].materialise():
        pytest.fail("a lying entry must not be materialised")
    assert raised.value.label == f"{archive}!liar.dcm"
    assert raised.value.reason.startswith("refused:")
    assert list(extract_to.iterdir()) == []


def test_streaming_copy_stops_at_the_limit_before_writing() -> None:
    source = io.BytesIO(bytes(5 * MiB))  # a reader producing more than declared
    sink = io.BytesIO()
    with pytest.raises(Exception) as raised:
        _copy_limited(source, sink, 1000)
    assert type(raised.value).__name__ == "_LimitExceeded"
    assert len(sink.getvalue()) <= 1000
    assert source.tell() <= 1001  # stopped reading too, not drained
    assert _copy_limited(io.BytesIO(b"x" * 1000), io.BytesIO(), 1000) == 1000


def test_broken_zip_is_reported_and_the_walk_goes_on(tmp_path: Path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "a.dcm").write_bytes(b"a")
    candidates, report = walk(tmp_path / "broken.zip", tmp_path / "a.dcm")
    assert [c.label for c in candidates] == [str(tmp_path / "a.dcm")]
    assert failures(report)[str(tmp_path / "broken.zip")].startswith("not a readable zip")


# --- DICOMDIR media ----------------------------------------------------------------------------


def test_pydicom_dicomdirtests_read_through_the_dicomdir() -> None:
    dicomdir = Path(get_testdata_file("DICOMDIR"))  # type: ignore[arg-type]
    expected = fileset_paths(dicomdir)
    assert len(expected) == 31
    for given in (dicomdir, dicomdir.parent):  # the file, or the folder holding it
        candidates, report = walk(given)
        assert [c.path for c in candidates] == expected  # DICOMDIR-bigEnd etc. not visited
        assert report.ok


def test_file_ids_outside_the_media_root_are_refused(tmp_path: Path) -> None:
    dicomdir = write_fileset(tmp_path, count=4)
    root = dicomdir.parent
    (tmp_path / "x").write_bytes(dicom_bytes(tmp_path, "outside.dcm"))
    set_file_ids(dicomdir, {0: ["..", "..", "x"], 1: ["/etc", "passwd"]})
    before = all_files(tmp_path)
    candidates, report = walk(dicomdir)
    # The two intact records first; then the folder scan a wrong DICOMDIR calls for finds the
    # two images whose records were made to point outside. Nothing outside is offered.
    assert len(candidates) == 4
    assert all(c.path and c.path.resolve().is_relative_to(root) for c in candidates)
    got = failures(report)
    assert got.pop(str(dicomdir)) == (
        "DICOMDIR names 2 file(s) outside the media root; scanned the folder for unlisted files"
    )
    assert list(got.values()) == [OUTSIDE_MEDIA_ROOT, OUTSIDE_MEDIA_ROOT]
    assert all(label.startswith(f"{dicomdir}: File ID ") for label in got)
    assert all_files(tmp_path) == before


def test_symlink_inside_media_pointing_out_is_refused(tmp_path: Path) -> None:
    dicomdir = write_fileset(tmp_path, count=2)
    referenced = sorted(p for p in all_files(dicomdir.parent) if p.name != "DICOMDIR")
    outside = tmp_path / "outside.dcm"
    referenced[0].replace(outside)
    referenced[0].symlink_to(outside)
    candidates, report = walk(dicomdir)
    assert [c.path for c in candidates] == [referenced[1].resolve()]
    got = failures(report)
    assert got.pop(str(dicomdir)).startswith("DICOMDIR names 1 file(s) outside the media root")
    # The folder scan meets the link again and refuses it as well: named twice, never read.
    root = dicomdir.parent
    assert got == {
        f"{dicomdir}: File ID PT000000\\ST000000\\SE000000\\IM000000": OUTSIDE_MEDIA_ROOT,
        str(referenced[0]): f"refused: symbolic link pointing outside {root}",
    }


def test_missing_files_are_named_and_the_folder_scanned(tmp_path: Path) -> None:
    dicomdir = write_fileset(tmp_path, count=3)
    root = dicomdir.parent
    referenced = fileset_paths(dicomdir)
    renamed = root / "RENAMED.DCM"
    referenced[1].rename(renamed)
    for extra in ("README", "AUTORUN.INF", "VIEWER.EXE"):
        (root / extra).write_bytes(b"extra")
    candidates, report = walk(dicomdir)
    paths = [c.path.resolve() for c in candidates if c.path]
    assert paths[:2] == [referenced[0].resolve(), referenced[2].resolve()]  # DICOMDIR order
    assert set(paths[2:]) == {
        (root / n).resolve() for n in ("README", "AUTORUN.INF", "VIEWER.EXE", "RENAMED.DCM")
    }
    got = failures(report)
    assert got[str(referenced[1])] == "missing (named by the DICOMDIR)"
    assert "names 1 missing file(s)" in got[str(dicomdir)]
    assert len(got) == 2


def test_media_extras_are_not_visited_when_the_dicomdir_is_complete(tmp_path: Path) -> None:
    dicomdir = write_fileset(tmp_path, count=2)
    root = dicomdir.parent
    (root / "VIEWER").mkdir()
    for extra in ("README.TXT", "AUTORUN.INF", "VIEWER/VIEWER.EXE"):
        (root / extra).write_bytes(b"extra")
    candidates, report = walk(root)
    assert [c.path for c in candidates] == fileset_paths(dicomdir)
    assert report.ok


def test_upper_case_file_ids_find_lower_case_files(tmp_path: Path) -> None:
    dicomdir = write_fileset(tmp_path, count=3)
    root = dicomdir.parent
    expected = [p.relative_to(root) for p in fileset_paths(dicomdir)]
    for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):  # deepest first
        if path.name != "DICOMDIR":
            path.rename(path.with_name(path.name.lower()))
    last = root.joinpath(*[p.lower() for p in expected[-1].parts])
    last.rename(last.with_name(last.name + ".;1"))  # an ISO 9660 version suffix as well
    candidates, report = walk(dicomdir)
    assert report.ok
    got = [c.path.relative_to(root.resolve()) for c in candidates if c.path]
    assert [str(p).lower().removesuffix(".;1") for p in got] == [str(p).lower() for p in expected]
    assert all(c.path and c.path.is_file() for c in candidates)


@pytest.mark.parametrize("content", ["garbage", "image", "truncated"])
def test_broken_dicomdir_falls_back_to_a_folder_scan(tmp_path: Path, content: str) -> None:
    cd = tmp_path / "cd"
    (cd / "IMAGES").mkdir(parents=True)
    for name in ("IM1", "IM2"):
        (cd / "IMAGES" / name).write_bytes(dicom_bytes(tmp_path))
    if content == "garbage":
        (cd / "DICOMDIR").write_bytes(b"this is not a DICOMDIR")
    elif content == "image":  # a DICOM file, but not a Media Storage Directory
        (cd / "DICOMDIR").write_bytes(dicom_bytes(tmp_path))
    else:
        whole = write_fileset(tmp_path).read_bytes()
        (cd / "DICOMDIR").write_bytes(whole[: len(whole) // 2])
    candidates, report = walk(cd)
    assert [c.path for c in candidates] == [cd / "IMAGES" / "IM1", cd / "IMAGES" / "IM2"]
    got = failures(report)
    assert list(got) == [str(cd / "DICOMDIR")]
    assert got[str(cd / "DICOMDIR")].startswith("DICOMDIR unusable (")
