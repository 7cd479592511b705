"""`dicom-viewer render`: pictures out, and one clear line per bad input (CLI.md, issue 3)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, generate_frames

from tests.dicom.makers import image_dataset, save
from viewer.cli import main


def _ct(tmp_path: Path, name: str = "ct.dcm") -> Path:
    stored = np.tile(np.arange(600, 600 + 64 * 16, 16, dtype=np.uint16), (64, 1))  # 1064: 40 HU
    ds = image_dataset(
        stored, bits_stored=12, RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40,
        WindowWidth=400,
    )
    return save(ds, tmp_path / name)


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    bad = tmp_path / "bad"
    bad.mkdir()
    files: dict[str, Path] = {}
    files["not DICOM"] = bad / "readme.txt"
    files["not DICOM"].write_text("This CD contains images.\n")
    files["empty"] = bad / "empty.dcm"
    files["empty"].write_bytes(b"")
    files["DICM then garbage"] = bad / "garbage.dcm"
    files["DICM then garbage"].write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)) * 4)

    good = _ct(tmp_path, "source.dcm")
    raw = good.read_bytes()
    files["pixel data truncated"] = bad / "truncated.dcm"
    files["pixel data truncated"].write_bytes(raw[: len(raw) - 3000])

    ds = dcmread(good)
    del ds.PixelData
    files["no pixel data"] = save(ds, bad / "nopixels.dcm")

    ds = dcmread(good)
    ds.Rows, ds.Columns = 256, 256
    files["rows x columns larger than data"] = save(ds, bad / "toosmall.dcm")

    ds = dcmread(good)
    ds.file_meta.TransferSyntaxUID = "1.2.3.4.5.6.7"
    files["unknown transfer syntax"] = save(ds, bad / "unknownts.dcm")

    ds = dcmread(good)
    ds.Rows, ds.Columns = 65535, 65535
    ds.PixelData = b"\0" * 64
    files["65535 x 65535 with tiny data"] = save(ds, bad / "huge.dcm")

    ds = dcmread(get_testdata_file("SC_rgb_jpeg_gdcm.dcm"))
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame[: len(frame) // 3]])
    files["JPEG cut short"] = save(ds, bad / "jpegcut.dcm")

    ds = dcmread(get_testdata_file("SC_rgb_jpeg_gdcm.dcm"))
    frame = bytearray(next(generate_frames(ds.PixelData, number_of_frames=1)))
    frame[2:200] = bytes(198)  # wipe the tables: the stream cannot be decoded
    ds.PixelData = encapsulate([bytes(frame)])
    files["JPEG undecodable"] = save(ds, bad / "jpegbroken.dcm")

    src = get_testdata_file("emri_small_jpeg_2k_lossless_too_short.dcm")
    files["JPEG 2000 cut short"] = Path(shutil.copy(src, bad / "j2kshort.dcm"))
    ds = dcmread(get_testdata_file("MR2_J2KR.dcm"))
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame[: len(frame) // 4]])
    files["JPEG 2000 truncated"] = save(ds, bad / "j2kcut.dcm")
    return files


def test_renders_the_files_first_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _ct(tmp_path)
    out = tmp_path / "out.png"
    assert main(["render", str(src), "-o", str(out)]) == 0
    picture = np.asarray(Image.open(out))
    assert picture.shape == (64, 64) and picture.dtype == np.uint8
    # stored 1064 is 40 HU: the centre of the file's window 40/400
    column = (1064 - 600) // 16
    assert picture[0, column] == 127  # floor(((40 - 39.5) / 399 + 0.5) * 255)


def test_explicit_window_and_preset(tmp_path: Path) -> None:
    src = _ct(tmp_path)
    assert main(["render", str(src), "--window", "-420", "2", "-o", str(tmp_path / "a.png")]) == 0
    a = np.asarray(Image.open(tmp_path / "a.png"))
    assert a[0, 0] == 0 and a[0, 1] == 255  # stored 600 = -424 HU: 0 is below, 616 above
    assert main(["render", str(src), "--preset", "bone", "-o", str(tmp_path / "b.png")]) == 0
    assert main(["render", str(src), "--preset", "nonsense"]) == 2


def test_every_frame_of_a_multiframe_file(tmp_path: Path) -> None:
    src = get_testdata_file("emri_small.dcm")  # 10 frames
    out = tmp_path / "frames"
    out.mkdir()
    assert main(["render", src, "-o", str(out), "-j", "1"]) == 0
    assert len(list(out.glob("*.png"))) == 10
    assert main(["render", src, "--frame", "11", "-o", str(tmp_path / "x.png")]) == 2


@pytest.mark.parametrize(
    "kind",
    [
        "not DICOM", "empty", "DICM then garbage", "pixel data truncated", "no pixel data",
        "rows x columns larger than data", "unknown transfer syntax",
        "65535 x 65535 with tiny data", "JPEG cut short", "JPEG undecodable",
        "JPEG 2000 cut short", "JPEG 2000 truncated",
    ],
)
def test_bad_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = _bad_files(tmp_path)[kind]
    code = main(["render", str(path), "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0] and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_folder_with_bad_files_renders_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_files(tmp_path)
    folder = bad["empty"].parent
    for n in range(3):
        _ct(folder / "..", f"good{n}.dcm").rename(folder / f"good{n}")  # no extension needed
    out = tmp_path / "out"
    code = main(["render", str(folder), "-o", str(out), "-j", "2"])
    err = capsys.readouterr().err
    assert code == 1
    assert sorted(p.name for p in out.glob("good*.png")) == ["good0.png", "good1.png", "good2.png"]
    for path in bad.values():
        assert sum(str(path) in line for line in err.splitlines()) == 1, (path, err)


def test_subprocess_has_no_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 50)
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "render", str(junk)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and str(junk) in result.stderr


@pytest.mark.parametrize(
    ("name", "code", "lines"),
    [("JPGExtended.dcm", 0, 0), ("JPEG2000-embedded-sequence-delimiter.dcm", 2, 1)],
)
def test_native_codec_chatter_stays_off_stderr(
    tmp_path: Path, name: str, code: int, lines: int
) -> None:
    """GDCM/OpenJPEG print to fd 2 themselves; the CLI's stderr is one line per problem."""
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "render", get_testdata_file(name), "-o",
         str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == code
    assert len(result.stderr.splitlines()) == lines, result.stderr


def test_an_error_quoting_a_line_break_stays_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A message quoting what a damaged file holds (a UID with a line break, found by the fuzz
    suite through mpr's list of series) is printed as the one line it is."""
    assert main(["render", str(tmp_path / "no\nsuch")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no?such: no such file or folder" in err
