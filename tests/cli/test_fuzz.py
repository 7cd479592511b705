"""Damaged files through the whole command line (issue 15): one line on stderr naming each bad
file, the rest of the batch done, exit 1, no traceback, no library warning text, `check`
consistent afterwards. Fixed seeds; the default run fits a CI budget, `-m slow` runs longer.

Files under tests/data/fuzz/ are inputs `bench fuzz` found crashing the readers (each named
after what was done to it); they stay as regression tests.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import zipfile
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

from tests.dicom.makers import image_dataset, save
from viewer.archive.fuzz_objects import ObjectSeeds
from viewer.archive.fuzzing import (
    FuzzResult,
    Seed,
    fuzz_round,
    judge,
    load_object_seeds,
    load_seeds,
)
from viewer.dicom.mutations import layout_of, lie_in_nested_length

FUZZ_DATA = Path(__file__).resolve().parents[1] / "data" / "fuzz"
REGRESSIONS = sorted(FUZZ_DATA.glob("*.dcm"))


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "viewer", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def _assert_clean(done: subprocess.CompletedProcess[str], allowed: tuple[int, ...] = (1,)) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert "warn" not in done.stderr.lower(), done.stderr
    assert done.returncode in allowed, done.stderr


def _lines_naming(stderr: str, name: str) -> list[str]:
    return [line for line in stderr.splitlines() if name in line]


@pytest.fixture(scope="module")
def seeds_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("seeds")


@pytest.fixture(scope="module")
def seeds(seeds_folder: Path) -> list[Seed]:
    return load_seeds(seeds_folder)


@pytest.fixture(scope="module")
def objects(seeds_folder: Path, seeds: list[Seed]) -> ObjectSeeds:
    return load_object_seeds(seeds_folder)  # made by load_seeds: read from its cache


def test_seeds_cover_every_transfer_syntax(seeds: list[Seed]) -> None:
    from viewer.dicom.demo import TRANSFER_SYNTAXES

    syntaxes = {s.layout.transfer_syntax for s in seeds if s.layout is not None}
    assert set(TRANSFER_SYNTAXES.values()) <= syntaxes


def _round(seeds: list[Seed], seed: int, rounds_before: int, tmp_path: Path,
           objects: ObjectSeeds | None = None) -> FuzzResult:
    result = FuzzResult(seed, rounds=rounds_before)  # the round number picks the import form
    crashes = tmp_path / "crashes"
    fuzz_round(seeds, random.Random(f"{seed}:{rounds_before}"), tmp_path / "round", result,
               crashes, objects)
    return result


@pytest.mark.parametrize("form", [0, 1, 2], ids=["folder", "zip", "dicomdir"])
def test_a_fuzz_round_finds_no_crash(seeds: list[Seed], objects: ObjectSeeds, form: int,
                                     tmp_path: Path) -> None:
    """Eleven damaged files and an intact one, imported (as a folder, a zip or DICOMDIR media),
    checked, rendered with two workers, thumbnailed, three of them shown by `info`. In the
    folder round, issue 17's objects too, damaged and read by import, render
    --presentation-state / --overlay, sr, keys and hanging import: ten more commands (~10 s
    here), so once in CI; the slow rounds feed them every time."""
    with_objects = objects if form == 0 else None
    result = _round(seeds, 15, form, tmp_path, with_objects)
    assert result.runs >= (18 if with_objects else 8)
    assert result.crashes == [], "\n".join(f"{c.step}: {c.what} ({c.saved})"
                                           for c in result.crashes)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 9))
def test_more_fuzz_rounds_find_no_crash(seeds: list[Seed], objects: ObjectSeeds, seed: int,
                                        tmp_path: Path) -> None:
    for form in range(3):
        result = _round(seeds, seed, form, tmp_path / str(form), objects)
        assert result.crashes == [], "\n".join(f"{c.step}: {c.what} ({c.saved})"
                                               for c in result.crashes)


def test_object_seeds_are_read_whole_by_their_verbs(objects: ObjectSeeds,
                                                   tmp_path: Path) -> None:
    """Undamaged, every object of issue 17 the fuzzer damages is read by its verb without a
    problem: a damaged copy's failure is then the damage's, not the seed's."""
    image = str(objects.image)
    done = _cli("render", image, "--presentation-state", str(objects.presentation_state),
                "-o", str(tmp_path / "ps.png"))
    _assert_clean(done, allowed=(0,))
    assert "52x56" in done.stdout  # the displayed area 4..60 x 6..58, turned a quarter
    for overlay in (*objects.segmentations, objects.structure_set):
        done = _cli("render", image, "--overlay", str(overlay), "-o", str(tmp_path / "o.png"))
        _assert_clean(done, allowed=(0,))
        assert done.stderr == ""
    tree = json.loads(_cli("sr", "--json", str(objects.report)).stdout)
    assert tree["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D
    assert "SCOORD3D" in json.dumps(tree) and "SCOORD" in json.dumps(tree)
    done = _cli("sr", str(objects.dose_report))
    _assert_clean(done, allowed=(0,))
    assert "total DLP 400 mGy.cm" in done.stdout
    archive = str(tmp_path / "archive")
    done = _cli("--archive", archive, "import", "--json", str(objects.image),
                *(str(p) for p in objects.objects if p != objects.hanging_protocol))
    _assert_clean(done, allowed=(0,))
    study = str(dcmread(objects.image, stop_before_pixels=True).StudyInstanceUID)
    keys = json.loads(_cli("--archive", archive, "keys", "--json", study).stdout)
    state = dcmread(objects.presentation_state, stop_before_pixels=True)
    assert [k["presentation_state"]["SOPInstanceUID"] for k in keys] == [state.SOPInstanceUID]
    done = _cli("--config", str(tmp_path / "config" / "config.toml"), "hanging", "import",
                str(objects.hanging_protocol), "--as", "fuzzed")
    _assert_clean(done, allowed=(0,))
    assert (tmp_path / "config" / "hanging" / "fuzzed.toml").is_file()


def test_a_lying_length_inside_a_sequence() -> None:
    """The nested mutation rewrites an Item Length or a nested element's Value Length."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.TextValue = "a finding"
    ds = image_dataset(_pixels())
    ds.ContentSequence = Sequence([item])
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    changed = {lie_in_nested_length(data, layout_of(data), random.Random(n)) for n in range(20)}
    assert all(len(c) == len(data) for c in changed)  # lengths rewritten, nothing moved
    assert len(changed - {data}) >= 3


def test_judge_calls_what_the_user_must_not_see_a_crash() -> None:
    assert judge(1, "/a/b.dcm: malformed DICOM: x\n", (0, 1)) == ""
    assert judge(1, "dicom-viewer info: /a/b.dcm: not a DICOM file\n", (0, 1)) == ""
    assert "traceback" in judge(1, "Traceback (most recent call last):\n", (0, 1))
    assert "warning" in judge(0, "x.py:3: UserWarning: odd\n", (0, 1))
    # our own warning naming the series it is about (mpr: a gap filled) is what users should see
    assert judge(0, "/a/series: warning: gap of 2.0 mm between slices 2 and 3\n", (0,)) == ""
    assert "warning" in judge(0, "/a/series: warning: pydicom UserWarning: odd\n", (0,))
    assert "exit 2" in judge(2, "dicom-viewer import: internal error: error()\n", (0, 1))
    assert "naming no file" in judge(1, "StudyInstanceUID: value does not conform\n", (0, 1))


def test_regression_files_fail_alone_in_every_reader(tmp_path: Path) -> None:
    """Files that once ended an import with exit 2, killed a decode worker with a traceback or
    put pydicom's warnings on stderr, beside an intact file: each command exits 0 or 1, every
    line on stderr names one of them (at most one line each), the intact file gets through."""
    folder = tmp_path / "in"
    folder.mkdir()
    for path in REGRESSIONS:
        shutil.copy(path, folder / path.name)
    good = save(image_dataset(_pixels()), folder / "good.dcm")
    archive = tmp_path / "archive"

    def each_line_names_one_file(done: subprocess.CompletedProcess[str]) -> None:
        _assert_clean(done, allowed=(0, 1))
        for line in done.stderr.splitlines():
            assert any(line.startswith(f"{folder / p.name}: ") for p in REGRESSIONS), line
        for path in REGRESSIONS:
            assert len(_lines_naming(done.stderr, f"{folder / path.name}: ")) <= 1

    done = _cli("--archive", str(archive), "import", "--json", str(folder))
    each_line_names_one_file(done)
    assert str(good) in json.loads(done.stdout)["imported"]
    assert len(json.loads(done.stdout)["failed"]) >= 5
    _assert_clean(_cli("--archive", str(archive), "check"), allowed=(0,))
    # thumbnails of what was imported, made by decode workers as the browser makes them
    done = subprocess.run([sys.executable, "-m", "viewer.archive.fuzzing", str(archive)],
                          capture_output=True, text=True, timeout=120, check=False)
    _assert_clean(done, allowed=(0, 1))
    assert all(line.startswith(f"{archive}: series ") for line in done.stderr.splitlines())
    done = _cli("render", str(folder), "-o", str(tmp_path / "png"), "-j", "2")
    each_line_names_one_file(done)
    assert (tmp_path / "png" / f"{good.name}.png").is_file()
    for path in REGRESSIONS:
        done = _cli("info", str(folder / path.name))
        _assert_clean(done, allowed=(0, 2))
        assert done.returncode == 0 or done.stderr.startswith(
            f"dicom-viewer info: {folder / path.name}: "), done.stderr
        assert len(done.stderr.splitlines()) <= 1


def _pixels() -> object:
    import numpy as np

    return np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)


def _deflated() -> bytes:
    """pydicom's deflated test file under a fresh SOP Instance UID."""
    ds = dcmread(get_testdata_file("image_dfl.dcm"))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _cut_deflate_stream(data: bytes) -> bytes:
    """The deflate stream cut short: zlib's 'Error -5 ... incomplete or truncated stream'."""
    layout = layout_of(data)
    assert layout is not None
    stream = data[layout.meta_end:]
    with pytest.raises(zlib.error, match="-5"):
        zlib.decompress(stream[: len(stream) // 2], -zlib.MAX_WBITS)
    return data[: layout.meta_end + len(stream) // 2]


def test_zip_with_a_damaged_deflate_member(tmp_path: Path) -> None:
    """Issue 15's import that ended with exit 2 on 'Error -5 while decompressing data'."""
    good = save(image_dataset(_pixels()), tmp_path / "good.dcm")
    source = tmp_path / "study.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(good, "a/good.dcm")
        archive.writestr("a/cut.dcm", _cut_deflate_stream(_deflated()))
        archive.write(FUZZ_DATA / "deflate_garbage_inserted.dcm", "a/garbage.dcm")
    archive_dir = tmp_path / "archive"
    done = _cli("--archive", str(archive_dir), "import", "--json", str(source))
    _assert_clean(done)
    report = json.loads(done.stdout)
    assert report["imported"] == [f"{source}!a/good.dcm"]
    failed = {item["path"] for item in report["failed"]}
    assert failed == {f"{source}!a/cut.dcm", f"{source}!a/garbage.dcm"}
    for label in failed:
        assert len(_lines_naming(done.stderr, f"{label}: ")) == 1, done.stderr
    assert len(done.stderr.splitlines()) == 2
    _assert_clean(_cli("--archive", str(archive_dir), "check"), allowed=(0,))


def test_zip_whose_own_deflate_stream_is_damaged(tmp_path: Path) -> None:
    """The zip member's compressed bytes damaged (not the DICOM inside): that entry fails
    with a reason naming it, the other entry imports."""
    source = tmp_path / "study.zip"
    with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(save(image_dataset(_pixels()), tmp_path / "a.dcm"), "a.dcm")
        archive.write(save(image_dataset(_pixels()), tmp_path / "b.dcm"), "b.dcm")
        member = archive.getinfo("b.dcm")
    data = bytearray(source.read_bytes())
    start = member.header_offset + 30 + len(member.filename)  # past the local file header
    for at in range(start + 20, start + member.compress_size - 20, 97):
        data[at] ^= 0x5A
    source.write_bytes(bytes(data))
    archive_dir = tmp_path / "archive"
    done = _cli("--archive", str(archive_dir), "import", "--json", str(source))
    _assert_clean(done)
    report = json.loads(done.stdout)
    assert report["imported"] == [f"{source}!a.dcm"]
    assert [f["path"] for f in report["failed"]] == [f"{source}!b.dcm"]
    assert done.stderr.startswith(f"{source}!b.dcm: ") and len(done.stderr.splitlines()) == 1
    _assert_clean(_cli("--archive", str(archive_dir), "check"), allowed=(0,))


def test_dicomdir_whose_records_point_at_damaged_files(tmp_path: Path) -> None:
    """Media whose DICOMDIR is sound but two of whose files are damaged after it was made."""
    fileset = FileSet()
    datasets = [image_dataset(_pixels()) for _ in range(3)] + [dcmread(BytesIO(_deflated()))]
    for n, ds in enumerate(datasets):
        # what a DICOMDIR record needs (PS3.3 F.5)
        ds.PatientID, ds.StudyDate, ds.StudyTime, ds.StudyID = "P1", "20260101", "1200", "1"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "OT", 1, n + 1
        fileset.add(ds)
    media = tmp_path / "media"
    fileset.write(media)
    paths = sorted(Path(i.path) for i in fileset)
    deflated = next(p for p in paths
                    if dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID.is_deflated)
    deflated.write_bytes(_cut_deflate_stream(deflated.read_bytes()))
    damaged = next(p for p in paths if p != deflated)
    damaged.write_bytes(damaged.read_bytes()[:700])  # cut inside the header
    archive_dir = tmp_path / "archive"
    done = _cli("--archive", str(archive_dir), "import", "--json", str(media / "DICOMDIR"))
    _assert_clean(done)
    report = json.loads(done.stdout)
    assert len(report["imported"]) == 2
    assert {Path(f["path"]).name for f in report["failed"]} == {deflated.name, damaged.name}
    assert len(done.stderr.splitlines()) == 2
    _assert_clean(_cli("--archive", str(archive_dir), "check"), allowed=(0,))


@pytest.mark.filterwarnings("ignore:.*(exceeds the maximum length|Invalid value for VR)")
def test_many_files_pydicom_warns_about_stay_quiet_in_worker_processes(tmp_path: Path) -> None:
    """40 files (import and render use worker processes) whose values pydicom warns about:
    the warnings filters of the CLI process do not reach forkserver workers by themselves."""
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(40):
        ds = image_dataset(_pixels())
        ds.StudyDescription = "x" * 90  # LO holds 64 characters: pydicom warns on reading
        ds.SeriesDate = "2026-01-01"  # not a DA value: another warning
        save(ds, folder / f"{n:02d}.dcm")
    archive_dir = tmp_path / "archive"
    done = _cli("--archive", str(archive_dir), "import", str(folder))
    _assert_clean(done, allowed=(0,))
    assert done.stderr == ""
    done = _cli("render", str(folder), "-o", str(tmp_path / "png"), "-j", "2")
    _assert_clean(done, allowed=(0,))
    assert done.stderr == ""


def test_a_codec_that_kills_its_worker_fails_that_file_and_the_rest_render(
    tmp_path: Path,
) -> None:
    """Real files (found by `bench fuzz`) on which GDCM throws a C++ exception nobody catches:
    the decoding process aborts (SIGABRT). With `render -j 2` that file fails with a reason
    naming it, the pool replaces the worker, the other files are rendered, exit 1."""
    folder = tmp_path / "in"
    folder.mkdir()
    name = "jpeg_lossless_flipped_aborts_gdcm.dcm"
    crash = Path(shutil.copy(FUZZ_DATA / name, folder / f"3_{name}"))
    for n in range(6):
        save(image_dataset(_pixels()), folder / f"{n}.dcm")
    done = _cli("render", str(folder), "-o", str(tmp_path / "png"), "-j", "2")
    _assert_clean(done)
    lines = _lines_naming(done.stderr, str(crash))
    assert len(lines) == 1 and "crashed" in lines[0] and "SIGABRT" in lines[0], done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert len(list((tmp_path / "png").glob("*.png"))) == 6
    # alone, a compressed file is decoded in a worker too: one line, not a dead command
    done = _cli("render", str(crash), "-o", str(tmp_path / "alone.png"))
    _assert_clean(done, allowed=(2,))
    assert done.stderr.startswith(f"{crash}: ") and "SIGABRT" in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1
