"""`dicom-viewer render FILE --presentation-state PS.dcm`, held to issue 17's conventions:

- one PNG pixel per image pixel when the displayed area is the whole image (as `dcmp2pgm`
  does), after the rotation and flip (rotate, then flip: PS3.3 C.10.6); a displayed area
  renders only that area, aspect kept;
- displayed area corners are column\\row, 1-based, inclusive, in image coordinates before the
  rotation; SCALE TO FIT renders the area only, no letterbox;
- outside a shutter: the Shutter Presentation Value as grey (P x 255 / 65535; a 16-bit
  P-value); rectangle edges are 1-based columns and rows, circle centres and polygon vertices
  row\\column;
- with a presentation state, only the overlays its Overlay Activation Layer switches on are
  shown, in the layer's recommended grey (white when none);
- a presentation state that does not reference the image, or a truncated or invalid one, gives
  exit 2, one line naming the file (and the mismatch), no PNG.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

from tests.dicom.presentation_makers import (
    COLUMNS,
    ROWS,
    close_to,
    dcmp2pgm,
    dcmpsmk,
    edit,
    sequence,
    textured_ct,
)
from tests.dicom.test_presentation_state import _area, _layer, _put_overlay
from viewer.cli import main


def _render(image: Path, ps: Path, out: Path) -> np.ndarray:
    assert main(["render", str(image), "--presentation-state", str(ps), "-o", str(out)]) == 0
    return np.asarray(Image.open(out))


@pytest.fixture
def ct(tmp_path: Path) -> Path:
    return textured_ct(tmp_path / "ct.dcm")


@pytest.fixture
def made(tmp_path: Path, ct: Path) -> Path:
    return dcmpsmk(ct, tmp_path / "made.dcm")


@pytest.mark.parametrize(("rotation", "flip"), [(0, "N"), (90, "N"), (270, "Y"), (180, "Y")])
def test_whole_image_one_pixel_per_pixel_as_dcmp2pgm(tmp_path: Path, ct: Path, made: Path,
                                                     rotation: int, flip: str) -> None:
    ps = edit(made, tmp_path / "ps.dcm", ImageRotation=rotation, ImageHorizontalFlip=flip)
    ours = _render(ct, ps, tmp_path / "out.png")
    reference = dcmp2pgm(ct, ps, tmp_path / "ref.pgm")
    assert ours.shape == reference.shape == ((COLUMNS, ROWS) if rotation % 180 else (ROWS, COLUMNS))
    assert close_to(ours, reference) >= 0.995


def test_displayed_area_only_that_area_before_rotation(tmp_path: Path, ct: Path, made: Path
                                                       ) -> None:
    plain = _render(ct, made, tmp_path / "plain.png")
    ps = edit(made, tmp_path / "ps.dcm", ImageRotation=270,
              DisplayedAreaSelectionSequence=sequence(_area((3, 7), (30, 60))))
    out = _render(ct, ps, tmp_path / "out.png")
    assert np.array_equal(out, np.rot90(plain[6:60, 2:30], 1))  # 270 clockwise, no letterbox


def test_shutter_grey_and_coordinates(tmp_path: Path, ct: Path, made: Path) -> None:
    plain = _render(ct, made, tmp_path / "plain.png")
    ps = edit(made, tmp_path / "ps.dcm", ShutterShape="RECTANGULAR\\CIRCULAR",
              ShutterLeftVerticalEdge=2, ShutterRightVerticalEdge=40,
              ShutterUpperHorizontalEdge=3, ShutterLowerHorizontalEdge=60,
              CenterOfCircularShutter=[32, 24], RadiusOfCircularShutter=20,
              ShutterPresentationValue=13107)  # 13107 x 255 / 65535 = 51
    out = _render(ct, ps, tmp_path / "out.png")
    r, c = np.mgrid[1:ROWS + 1, 1:COLUMNS + 1]
    visible = (c >= 2) & (c <= 40) & (r >= 3) & (r <= 60) & ((r - 32) ** 2 + (c - 24) ** 2 <= 400)
    assert np.array_equal(out[visible], plain[visible])
    assert (out[~visible] == 51).all()


def test_only_activated_overlays(tmp_path: Path, ct: Path) -> None:
    image = dcmread(ct)
    line = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    line[ROWS // 2, :] = 1
    _put_overlay(image, 0x6000, line)
    column = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    column[:, 3] = 1
    _put_overlay(image, 0x6002, column)
    image.save_as(tmp_path / "img.dcm")
    img = tmp_path / "img.dcm"
    made = dcmpsmk(img, tmp_path / "made.dcm", "-o")
    base = _render(img, made, tmp_path / "base.png")
    ds = dcmread(made)
    ds.add_new((0x6000, 0x1001), "CS", "MARKS")
    ds.GraphicLayerSequence = sequence(_layer("MARKS", 0))  # recommended black
    ds.save_as(tmp_path / "ps.dcm")
    out = _render(img, tmp_path / "ps.dcm", tmp_path / "out.png")
    assert (out[ROWS // 2] == 0).all()  # activated, in its layer's grey
    rest = np.ones_like(out, dtype=bool)
    rest[ROWS // 2] = False
    assert np.array_equal(out[rest], base[rest])  # 6002 stays off; nothing else changes


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "viewer", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def _bad_states(tmp_path: Path, made: Path) -> dict[str, Path]:
    raw = made.read_bytes()
    cut = tmp_path / "truncated.dcm"
    cut.write_bytes(raw[: len(raw) * 2 // 3])
    ds = dcmread(made)
    ds.DisplayedAreaSelectionSequence[0].PresentationSizeMode = "ZOOM"
    ds.save_as(tmp_path / "invalid.dcm")
    other = textured_ct(tmp_path / "other.dcm")
    return {
        "another image": dcmpsmk(other, tmp_path / "other_ps.dcm"),
        "truncated": cut,
        "invalid size mode": tmp_path / "invalid.dcm",
        "an image, not a state": other,
    }


def test_bad_states_exit_2_one_line_no_png(tmp_path: Path, ct: Path, made: Path) -> None:
    for why, ps in _bad_states(tmp_path, made).items():
        out = tmp_path / f"{ps.stem}.png"
        done = _run_cli("render", str(ct), "--presentation-state", str(ps), "-o", str(out))
        assert done.returncode == 2, why
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and str(ps) in lines[0], (why, done.stderr)
        assert not out.exists(), why
        if why == "another image":
            assert "does not reference" in lines[0] and str(ct) in lines[0]
