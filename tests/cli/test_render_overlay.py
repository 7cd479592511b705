"""`dicom-viewer render FILE --overlay SEG_OR_RTSTRUCT.dcm` (issue 17, CLI face of 5): an RGB
PNG with every mask pixel tinted in its segment's colour and none outside, contours outlined
through their pixel centres with the inside untouched; bad input in one line, exit 2, no PNG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.dicom.overlay_objects import (
    CTSeries,
    RoiSpec,
    ct_series,
    description,
    make_rtstruct,
    make_seg,
    save,
)
from viewer.cli import main

OPACITY = 0.5  # overlay_raster.DEFAULT_OPACITY, restated: the test holds the PNG to it


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> CTSeries:
    return ct_series(tmp_path_factory.mktemp("ct"))


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _grey(ct: CTSeries, index: int, tmp_path: Path) -> np.ndarray:
    out = tmp_path / "grey.png"
    assert main(["render", str(ct.files[index]), "-o", str(out)]) == 0
    return _png(out).astype(np.float64)


def _tinted(grey: np.ndarray, colour: tuple[int, int, int], weight: np.ndarray) -> np.ndarray:
    c = np.asarray(colour, dtype=np.float64)
    return np.rint(grey[..., None] + (weight * OPACITY)[..., None] * (c - grey[..., None]))


@pytest.mark.parametrize("seg_type", ["BINARY", "LABELMAP"])
def test_segments_are_filled_in_their_colour_and_nothing_else(
        tmp_path: Path, ct: CTSeries, seg_type: str) -> None:
    labels = np.zeros((6, 32, 32), dtype=np.uint8)
    labels[3, 10:20, 5:15] = 1
    labels[3, 2:6, 18:30] = 2
    seg = save(make_seg(ct.datasets, labels, seg_type,
                        [description(1, "A", "red"), description(2, "B", "blue")]),
               tmp_path / "seg.dcm")
    out = tmp_path / "overlay.png"
    assert main(["render", str(ct.files[3]), "--overlay", str(seg), "-o", str(out)]) == 0
    picture, grey = _png(out), _grey(ct, 3, tmp_path)
    assert picture.shape == (32, 32, 3)
    expected = np.repeat(grey[..., None], 3, axis=2)
    for number, colour in ((1, (255, 0, 0)), (2, (0, 0, 255))):
        mask = labels[3] == number
        expected[mask] = _tinted(grey, colour, mask.astype(np.float64))[mask]
    np.testing.assert_array_equal(picture, expected)
    inside = labels[3] > 0
    assert (picture[inside] != grey[inside][:, None]).any(axis=1).all()  # every one tinted
    assert (picture[~inside] == grey[~inside][:, None]).all()  # none outside


def test_fractional_segments_blend_by_their_value(tmp_path: Path, ct: CTSeries) -> None:
    fraction = np.zeros((6, 32, 32), dtype=np.float32)
    fraction[2, 8:24, 4:28] = np.linspace(0.0, 1.0, 24, dtype=np.float32)[None, :]
    seg = save(make_seg(ct.datasets, fraction, "FRACTIONAL", [description(1, "P", "lime")]),
               tmp_path / "seg.dcm")
    out = tmp_path / "overlay.png"
    assert main(["render", str(ct.files[2]), "--overlay", str(seg), "-o", str(out)]) == 0
    picture, grey = _png(out).astype(np.float64), _grey(ct, 2, tmp_path)
    stored = np.rint(fraction[2] * 255) / 255  # what the file holds
    expected = _tinted(grey, (0, 255, 0), stored)
    assert np.abs(picture - expected).max() <= 1.0  # float32 blending, rounded once
    assert (picture[fraction[2] == 0] == grey[fraction[2] == 0][:, None]).all()


def test_contours_are_outlined_at_their_pixel_centres(tmp_path: Path, ct: CTSeries) -> None:
    corners = np.array([[5.0, 6.0], [20.0, 6.0], [20.0, 17.0], [5.0, 17.0]])
    rt = save(make_rtstruct(ct.datasets, [
        RoiSpec(1, "Body", (0, 255, 0), [("CLOSED_PLANAR", ct.patient(3, corners))]),
        RoiSpec(2, "Seed", (255, 0, 255), [("POINT", ct.patient(3, np.array([[26.0, 26.0]])))]),
    ]), tmp_path / "rt.dcm")
    out = tmp_path / "overlay.png"
    assert main(["render", str(ct.files[3]), "--overlay", str(rt), "-o", str(out)]) == 0
    picture, grey = _png(out), _grey(ct, 3, tmp_path)
    outline = np.zeros((32, 32), dtype=bool)
    outline[6:18, 5] = outline[6:18, 20] = outline[6, 5:21] = outline[17, 5:21] = True
    assert (picture[outline] == (0, 255, 0)).all()
    marker = np.zeros((32, 32), dtype=bool)
    marker[24:29, 26] = marker[26, 24:29] = True
    assert (picture[marker] == (255, 0, 255)).all()
    untouched = ~outline & ~marker  # the inside of the square included: never filled
    assert (picture[untouched] == grey[untouched][:, None]).all()


def test_a_contour_of_one_point_is_named_and_the_rest_drawn(
        tmp_path: Path, ct: CTSeries, capsys: pytest.CaptureFixture[str]) -> None:
    square = ct.patient(3, np.array([[5.0, 6.0], [20.0, 6.0], [20.0, 17.0], [5.0, 17.0]]))
    rt = save(make_rtstruct(ct.datasets, [RoiSpec(1, "Body", (0, 255, 0), [
        ("CLOSED_PLANAR", square), ("CLOSED_PLANAR", ct.patient(3, np.array([[9.0, 9.0]])))])]),
        tmp_path / "rt.dcm")
    out = tmp_path / "overlay.png"
    assert main(["render", str(ct.files[3]), "--overlay", str(rt), "-o", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(rt) in err[0] and "1 point" in err[0]
    assert (_png(out)[6, 5:21] == (0, 255, 0)).all()


def _bad_overlays(tmp_path: Path, ct: CTSeries) -> dict[str, tuple[Path, Path, str]]:
    """name -> (image, overlay, what the line must say)"""
    labels = np.zeros((6, 32, 32), dtype=np.uint8)
    labels[3, 10:20, 5:15] = 1
    descriptions = [description(1, "A", "red")]
    other = ct_series(tmp_path / "other")
    cases: dict[str, tuple[Path, Path, str]] = {}
    full = save(make_seg(ct.datasets, labels, "BINARY", descriptions), tmp_path / "full.dcm")
    data = full.read_bytes()
    for cut in (0.5, 0.97):
        path = tmp_path / f"cut{cut}.dcm"
        path.write_bytes(data[: int(len(data) * cut)])
        cases[f"truncated SEG {cut}"] = (ct.files[3], path, "")
    empty = make_seg(ct.datasets, labels, "BINARY", descriptions)
    empty.SegmentSequence = []
    cases["SEG without segments"] = (ct.files[3], save(empty, tmp_path / "empty.dcm"),
                                     "no segments")
    cases["SEG, other Frame of Reference"] = (other.files[3], full, "Frame of Reference")
    rt = save(make_rtstruct(ct.datasets, [RoiSpec(1, "Body", (0, 255, 0), [
        ("CLOSED_PLANAR", ct.patient(3, np.array([[5.0, 6.0], [20.0, 6.0], [20.0, 17.0]])))])]),
        tmp_path / "rt.dcm")
    cases["RTSTRUCT, other Frame of Reference"] = (other.files[3], rt, "Frame of Reference")
    no_frame = make_seg(ct.datasets, labels, "BINARY", descriptions)
    del no_frame.FrameOfReferenceUID
    cases["SEG of another series"] = (other.files[3], save(no_frame, tmp_path / "series.dcm"),
                                      str(ct.datasets[0].SeriesInstanceUID))
    cases["not an overlay"] = (ct.files[3], ct.files[2], "neither a Segmentation")
    return cases


def test_bad_overlays_give_one_line_exit_2_and_no_png(
        tmp_path: Path, ct: CTSeries, capsys: pytest.CaptureFixture[str]) -> None:
    for name, (image, overlay, says) in _bad_overlays(tmp_path, ct).items():
        out = tmp_path / "out.png"
        assert main(["render", str(image), "--overlay", str(overlay), "-o", str(out)]) == 2, name
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and str(overlay) in err[0] and says in err[0], (name, err)
        if "Frame of Reference" in says or "series" in name:
            assert str(image) in err[0], name  # a mismatch names both files
        assert not out.exists(), name


def test_a_mismatch_from_a_subprocess_is_one_line_without_warnings(
        tmp_path: Path, ct: CTSeries) -> None:
    image, overlay, _ = _bad_overlays(tmp_path, ct)["truncated SEG 0.97"]
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "render", str(image), "--overlay", str(overlay),
         "-o", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and str(overlay) in result.stderr
