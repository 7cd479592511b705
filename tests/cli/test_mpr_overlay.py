"""`mpr ... --overlay SEG_OR_RTSTRUCT.dcm`: the plane as an RGB PNG with a Segmentation's
segments blended and an RT Structure Set's structures outlined, on an oblique plane
(viewer.volume.overlay_plane through the CLI)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

from tests.volume.overlay_phantoms import (
    CYLINDER_RADIUS,
    SEG_REACH,
    SPHERE_CENTRE,
    SPHERE_RADIUS,
    cylinder_radial,
    cylinder_rtstruct,
    sphere_seg,
)
from tests.volume.series import write_ct_series
from viewer.cli import main

pytestmark = pytest.mark.timeout(180)

COS30, SIN30 = math.cos(math.radians(30)), math.sin(math.radians(30))
OBLIQUE = f"1,0,0,0,{COS30:.12f},{SIN30:.12f}"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A CT (3 mm pixels, 4 mm slices), a sphere SEG on a 2 mm grid of its own and a cylinder
    RTSTRUCT with contours on every second CT slice."""
    root = tmp_path_factory.mktemp("mprovl")
    files = write_ct_series(root / "ct", "axial", (20, 40, 40), 3.0, 4.0)
    sources = [dcmread(f) for f in files]
    seg = sphere_seg(sources, root / "seg.dcm")
    rt = cylinder_rtstruct(sources, root / "rt.dcm")
    return root / "ct", seg, rt


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["mpr", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_oblique_plane_with_a_sphere_and_a_cylinder(
    study: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ct, seg, rt = study
    out = tmp_path / "oblique.png"
    code, text, err = run(capsys, str(ct), "--orientation", OBLIQUE, "--center=0,0,8",
                          "--spacing", "1", "--size", "96,96", "--window", "40", "400",
                          "--overlay", str(seg), "--overlay", str(rt), "-o", str(out), "--json")
    assert code == 0, err
    doc = json.loads(text)
    picture = np.asarray(Image.open(out))
    assert picture.shape == (96, 96, 3)
    ipp = np.array(doc["ImagePositionPatient"])
    row, col = np.array(doc["ImageOrientationPatient"][:3]), np.array(
        doc["ImageOrientationPatient"][3:])
    r, c = np.mgrid[0:96, 0:96].astype(np.float64)
    points = ipp + c[..., None] * row + r[..., None] * col
    grey = (picture[..., 0] == picture[..., 1]) & (picture[..., 1] == picture[..., 2])
    sphere = np.linalg.norm(points - SPHERE_CENTRE, axis=-1)
    radial = cylinder_radial(points)
    reach = SEG_REACH + 0.01
    # inside the sphere and away from the cylinder's outline: blended towards red
    inside = (sphere < SPHERE_RADIUS - reach) & (np.abs(radial - CYLINDER_RADIUS) > 2.5)
    assert inside.sum() > 200
    assert not grey[inside].any()
    assert (picture[inside][:, 0] > picture[inside][:, 2]).all()
    # the cylinder's outline in its ROI Display Color, near its surface only
    green = np.all(picture == (0, 255, 0), axis=-1)
    assert green.sum() > 80
    assert (np.abs(radial[green] - CYLINDER_RADIUS) < 1.5).all()
    # far from both: the grey plane untouched
    away = (sphere > SPHERE_RADIUS + reach) & (np.abs(radial - CYLINDER_RADIUS) > 2.5)
    assert grey[away].all()


def test_overlay_refusals_are_one_line_exit_2(
    study: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ct, seg, _ = study
    other = tmp_path / "other"
    write_ct_series(other, "axial", (6, 16, 16), 3.0, 4.0)  # another Frame of Reference
    cases = [
        ([str(other), "--overlay", str(seg), "-o", str(tmp_path / "a.png")],
         "frame of reference"),
        ([str(ct), "--overlay", str(seg), "-o", str(tmp_path / "a.dcm")], "not a .dcm"),
        ([str(ct), "--overlay", str(tmp_path / "none.dcm"), "-o", str(tmp_path / "b.png")],
         "no such file"),
        ([str(ct), "--overlay", str(next(ct.glob("*.dcm"))), "-o", str(tmp_path / "c.png")],
         "neither a segmentation"),
    ]
    for argv, reason in cases:
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, out, err)
        assert err.count("\n") == 1 and reason in err.lower(), (argv, err)
        assert "Traceback" not in err
    assert not list(tmp_path.glob("*.png"))
