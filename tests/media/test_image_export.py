"""`export-images` (issue 19, item 3): videos checked with ffprobe, stills against `render`,
annotations burned in or not, patient text stripped, bad frames named."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.dicom.makers import image_dataset, save
from tests.peers import require_tool
from viewer.cli import main
from viewer.dicom.demo import write_ct_series
from viewer.dicom.display import DisplayState
from viewer.dicom.stack import build_stacks
from viewer.jobs import Cancelled, CancelToken
from viewer.media.annotate import frame_annotations
from viewer.media.image_export import ExportOptions, export_stack

SLICES = 12


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-slice CT with an odd number of rows (the video must pad it to even)."""
    folder = tmp_path_factory.mktemp("ct")
    write_ct_series(folder, slices=SLICES, rows=127, columns=160, patient_name="TEACHING^CASE",
                    patient_id="PID4711")
    return folder


def _probe(path: Path) -> dict[str, str]:
    ffprobe = require_tool("ffprobe", "ffmpeg")
    out = subprocess.run(
        [ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_read_frames", "-of", "json",
         str(path)], check=True, capture_output=True, text=True, timeout=60)
    stream: dict[str, str] = json.loads(out.stdout)["streams"][0]
    return stream


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def test_mp4_is_h264_yuv420p_with_every_frame_at_the_default_rate(
        series: Path, tmp_path: Path) -> None:
    require_tool("ffmpeg", "ffmpeg")
    out = tmp_path / "loop.mp4"
    assert main(["export-images", str(series), "--format", "mp4", "-o", str(out)]) == 0
    stream = _probe(out)
    assert stream["codec_name"] == "h264"
    assert stream["pix_fmt"] == "yuv420p"
    assert (int(stream["width"]), int(stream["height"])) == (160, 128)  # 63 rows padded to even
    assert stream["r_frame_rate"] == "10/1"
    assert int(stream["nb_read_frames"]) == SLICES
    assert [p.name for p in tmp_path.iterdir()] == ["loop.mp4"]  # no temporary file left


def test_gif_at_the_users_rate(series: Path, tmp_path: Path) -> None:
    require_tool("ffmpeg", "ffmpeg")
    out = tmp_path / "loop.gif"
    code = main(["export-images", str(series), "--format", "gif", "--fps", "5", "--annotations",
                 "-o", str(out)])
    assert code == 0
    stream = _probe(out)
    assert stream["codec_name"] == "gif"
    assert (int(stream["width"]), int(stream["height"])) == (160, 128)
    assert stream["r_frame_rate"] == "5/1"
    assert int(stream["nb_read_frames"]) == SLICES


@pytest.mark.parametrize(("attributes", "rate"), [
    ({"CineRate": 15, "RecommendedDisplayFrameRate": 30}, "15/1"),
    ({"FrameTime": 40.0}, "25/1"),
    ({"RecommendedDisplayFrameRate": 12}, "12/1"),
], ids=["cine-rate", "frame-time", "recommended-rate"])
def test_a_cine_plays_at_its_own_rate(tmp_path: Path, attributes: dict[str, float],
                                      rate: str) -> None:
    require_tool("ffmpeg", "ffmpeg")
    frames = np.stack([np.full((32, 32), 40 * n, dtype=np.uint8) for n in range(6)])
    cine = save(image_dataset(frames, **attributes), tmp_path / "cine.dcm")
    out = tmp_path / "cine.mp4"
    assert main(["export-images", str(cine), "--format", "mp4", "--fps", "3", "-o",
                 str(out)]) == 0
    stream = _probe(out)
    assert stream["r_frame_rate"] == rate
    assert int(stream["nb_read_frames"]) == 6


def test_png_pixels_equal_renders_for_the_same_frame_and_window(
        series: Path, tmp_path: Path) -> None:
    files = sorted(series.iterdir())  # CT0001 ... in series order (instance 1 first)
    out = tmp_path / "pngs"
    window = ["--window", "-600", "1500"]
    assert main(["export-images", str(series), "--format", "png", *window, "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{n:04d}.png" for n in range(1, 13)]
    for number in (1, 7, 12):
        rendered = tmp_path / f"render{number}.png"
        assert main(["render", str(files[number - 1]), *window, "-o", str(rendered)]) == 0
        np.testing.assert_array_equal(_pixels(out / f"{number:04d}.png"), _pixels(rendered))
    one = tmp_path / "one.png"  # a single file: OUT is the picture itself
    assert main(["export-images", str(files[3]), "--format", "png", "-o", str(one)]) == 0
    assert main(["render", str(files[3]), "-o", str(tmp_path / "r.png")]) == 0
    np.testing.assert_array_equal(_pixels(one), _pixels(tmp_path / "r.png"))


@pytest.mark.parametrize("image_format", ["jpeg", "tiff"])
def test_jpeg_and_tiff_hold_the_rendered_frame(series: Path, tmp_path: Path,
                                               image_format: str) -> None:
    first = sorted(series.iterdir())[0]
    out = tmp_path / f"one.{image_format}"
    assert main(["export-images", str(first), "--format", image_format, "-o", str(out)]) == 0
    assert main(["render", str(first), "-o", str(tmp_path / "r.png")]) == 0
    got, want = _pixels(out).astype(int), _pixels(tmp_path / "r.png").astype(int)
    assert got.shape == want.shape
    if image_format == "tiff":  # lossless
        np.testing.assert_array_equal(got, want)
    else:  # quality 95: a few grey levels at most
        assert np.abs(got - want).mean() < 1.5


def _export(series: Path, out: Path, *flags: str) -> np.ndarray:
    first = sorted(series.iterdir())[0]
    assert main(["export-images", str(first), "--format", "png", *flags, "-o", str(out)]) == 0
    return _pixels(out)


def test_annotations_present_absent_and_patient_text_stripped(
        series: Path, tmp_path: Path) -> None:
    plain = _export(series, tmp_path / "plain.png")
    annotated = _export(series, tmp_path / "annotated.png", "--annotations")
    teaching = _export(series, tmp_path / "teaching.png", "--annotations", "--no-patient-text")
    rows, columns = plain.shape
    top_left = (slice(0, rows // 2), slice(0, columns // 3))
    bottom_left = (slice(2 * rows // 3, rows), slice(0, columns // 3))
    # with annotations, the patient's block (top left) and the image number (bottom left)
    assert (annotated[top_left] != plain[top_left]).sum() > 20
    assert (annotated[bottom_left] != plain[bottom_left]).sum() > 20
    # for teaching: of the patient's block only "Sex: O" stays (one line of four), while the
    # image number is still there
    teaching_marks = (teaching[top_left] != plain[top_left]).sum()
    assert 0 < teaching_marks < 0.4 * (annotated[top_left] != plain[top_left]).sum()
    assert (teaching[bottom_left] != plain[bottom_left]).sum() > 20
    # the text it leaves out, by value
    stack = build_stacks(sorted(series.iterdir()))[0][0]
    kept = frame_annotations(stack.info, stack.geometry[0], None, 0, SLICES, (40, 400))
    stripped = frame_annotations(stack.info, stack.geometry[0], None, 0, SLICES, (40, 400),
                                 patient_text=False)
    shown = " ".join(line for corner in (kept.corners.top_left, kept.corners.top_right)
                     for line in corner)
    assert "TEACHING" in shown and "PID4711" in shown
    teaching_text = " ".join(
        line for corner in (stripped.corners.top_left, stripped.corners.top_right,
                            stripped.corners.bottom_left, stripped.corners.bottom_right)
        for line in corner)
    assert "TEACHING" not in teaching_text and "PID4711" not in teaching_text
    assert stack.info.study_date and stack.info.study_date[:4] not in teaching_text
    assert "Im: 1 / 12" in teaching_text and "W: 400 L: 40" in teaching_text
    assert stripped.corners.top_left == ("Sex: O",)


def test_a_bad_frame_is_named_and_the_rest_exported(
        series: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("ffmpeg", "ffmpeg")
    folder = tmp_path / "series"
    folder.mkdir()
    for path in sorted(series.iterdir()):
        (folder / path.name).write_bytes(path.read_bytes())
    broken = folder / "CT0005.dcm"
    broken.write_bytes(broken.read_bytes()[:-2000])  # pixel data cut short
    out = tmp_path / "loop.mp4"
    code = main(["export-images", str(folder), "--format", "mp4", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and "Traceback" not in err
    assert int(_probe(out)["nb_read_frames"]) == SLICES - 1


def test_missing_source_is_one_line_exit_2(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export-images", str(tmp_path / "nothing"), "--format", "png", "-o",
                 str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0]


def test_a_cancelled_video_leaves_nothing(series: Path, tmp_path: Path) -> None:
    require_tool("ffmpeg", "ffmpeg")
    stack = build_stacks(sorted(series.iterdir()))[0][0]
    token = CancelToken()

    def progress(done: int, total: int, label: str) -> None:
        if done == 4:
            token.cancel()

    out = tmp_path / "loop.mp4"
    with pytest.raises(Cancelled):
        export_stack(stack, out, ExportOptions("mp4", DisplayState()), progress=progress,
                     cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_source_by_series_uid_in_the_archive(series: Path, tmp_path: Path) -> None:
    from pydicom import dcmread

    archive = tmp_path / "archive"
    assert main(["--archive", str(archive), "import", str(series)]) == 0
    uid = str(dcmread(sorted(series.iterdir())[0], stop_before_pixels=True).SeriesInstanceUID)
    out = tmp_path / "pngs"
    assert main(["--archive", str(archive), "export-images", uid, "--format", "png",
                 "-o", str(out)]) == 0
    assert len(list(out.iterdir())) == SLICES
    first = sorted(series.iterdir())[0]
    assert main(["render", str(first), "-o", str(tmp_path / "r.png")]) == 0
    np.testing.assert_array_equal(_pixels(out / "0001.png"), _pixels(tmp_path / "r.png"))


def test_a_file_in_the_way_of_the_folder_is_one_line_exit_2(
        series: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "pngs"
    blocker.write_text("not a folder")
    code = main(["export-images", str(series), "--format", "png", "-o", str(blocker)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and str(blocker) in err[0]
