"""`dicom-viewer mpr`: the conventions of CLI.md and issue 16 item 5, on generated series whose
value at every patient point is known (tests/volume/series.py: phantom_hu)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

from tests.peers import require_tool
from tests.volume.series import near_sphere, phantom_hu, write_ct_series
from viewer.cli import main

pytestmark = pytest.mark.timeout(180)

# 40 slices 4 mm apart, 64 x 64 pixels of 3 mm, centred on the patient origin
SHAPE, PIXEL, STEP = (40, 64, 64), 3.0, 4.0


@pytest.fixture(scope="module")
def axial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("axial")
    write_ct_series(folder, "axial", SHAPE, PIXEL, STEP)
    return folder


@pytest.fixture(scope="module")
def oblique(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("oblique")
    write_ct_series(folder, "oblique", SHAPE, PIXEL, STEP)
    return folder


def mpr(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["mpr", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def mpr_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = mpr(capsys, *argv, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def pixel_points(doc: dict[str, Any]) -> np.ndarray:
    """(rows, columns, 3) patient points of every pixel, from the plane's attributes alone."""
    ipp = np.array(doc["ImagePositionPatient"])
    row, col = np.array(doc["ImageOrientationPatient"][:3]), np.array(
        doc["ImageOrientationPatient"][3:])
    r, c = np.mgrid[0:doc["Rows"], 0:doc["Columns"]].astype(np.float64)
    return (ipp + c[..., None] * doc["PixelSpacing"][1] * row
            + r[..., None] * doc["PixelSpacing"][0] * col)


def hu_of(path: Path) -> np.ndarray:
    ds = dcmread(path)
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_defaults_cover_the_volume(axial: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = mpr_json(capsys, str(axial))
    # axial, through the volume's centre (the origin), its finest spacing (3 mm), covering it
    assert doc["ImageOrientationPatient"] == [1, 0, 0, 0, 1, 0]
    assert doc["PixelSpacing"] == [3.0, 3.0] and (doc["Columns"], doc["Rows"]) == (64, 64)
    assert doc["ImagePositionPatient"] == pytest.approx([-94.5, -94.5, 0.0], abs=1e-6)
    assert doc["SliceThickness"] == 3.0  # a thin plane: its spacing
    doc = mpr_json(capsys, str(axial), "--plane", "sagittal")
    assert doc["ImageOrientationPatient"] == [0, 1, 0, 0, 0, -1]
    assert (doc["Columns"], doc["Rows"]) == (64, 53)  # 189 mm wide, 156 mm high in 3 mm pixels
    assert doc["ImagePositionPatient"] == pytest.approx([0.0, -94.5, 78.0], abs=1e-6)


def test_coronal_plane_convention_and_values(
    axial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "coronal.dcm"
    doc = mpr_json(capsys, str(axial), "--plane", "coronal", "--center=-10.5,20,-30",
                   "--spacing", "2", "--size", "50,40", "-o", str(out))
    # pixel (r, c) at center + (c - 24.5)*2*row + (r - 19.5)*2*column; the first pixel's centre
    assert doc["ImageOrientationPatient"] == [1, 0, 0, 0, 0, -1]
    assert doc["ImagePositionPatient"] == pytest.approx([-10.5 - 49, 20, -30 + 39], abs=1e-9)
    assert (doc["Columns"], doc["Rows"], doc["PixelSpacing"]) == (50, 40, [2.0, 2.0])
    ds = dcmread(out)
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY", "MPR"]
    assert (ds.Columns, ds.Rows) == (50, 40)
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        assert [float(v) for v in ds[keyword].value] == pytest.approx(doc[keyword], abs=1e-6)
    assert float(ds.SliceThickness) == doc["SliceThickness"]
    first = dcmread(next(axial.glob("*.dcm")), stop_before_pixels=True)
    assert ds.FrameOfReferenceUID == first.FrameOfReferenceUID
    assert ds.StudyInstanceUID == first.StudyInstanceUID
    assert ds.SeriesInstanceUID != first.SeriesInstanceUID
    verify = subprocess.run([require_tool("dciodvfy", "dicom3tools"), str(out)], check=False,
                            capture_output=True, text=True)
    assert "Error" not in verify.stdout + verify.stderr, verify.stderr
    points = pixel_points(doc)
    keep = ~near_sphere(points, 4.5) & (np.abs(points[..., 2]) < 76)  # inside, off the edges
    assert keep.mean() > 0.5
    assert np.abs(hu_of(out) - phantom_hu(points))[keep].max() <= 2.0


def test_oblique_series_double_oblique_plane(
    oblique: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "oblique.dcm"
    row, col = (0.8, 0.6, 0.0), (-0.168, 0.224, -0.96)
    doc = mpr_json(capsys, str(oblique), "--orientation", ",".join(map(str, row + col)),
                   "--center", "5,5,5", "--size", "48,48", "--spacing", "2", "-o", str(out))
    assert doc["ImageOrientationPatient"] == pytest.approx(row + col, abs=1e-9)
    points = pixel_points(doc)
    # inside the oblique volume only: its voxel indices from the first file's geometry
    first = dcmread(sorted(oblique.glob("*.dcm"))[0], stop_before_pixels=True)
    r0, c0 = np.array(first.ImageOrientationPatient[:3]), np.array(
        first.ImageOrientationPatient[3:])
    rel = points - np.array(first.ImagePositionPatient, dtype=float)
    inside = (np.abs(rel @ r0 - 94.5) < 90) & (np.abs(rel @ c0 - 94.5) < 90)
    keep = inside & ~near_sphere(points, 4.5) & (np.abs(rel @ np.cross(r0, c0)) > 0)
    values, truth = hu_of(out), phantom_hu(points)
    assert keep.mean() > 0.3
    assert np.abs(values - truth)[keep].max() <= 2.0


def test_slab_goes_in_slice_thickness(
    axial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thin, slab = tmp_path / "thin.dcm", tmp_path / "slab.dcm"
    common = [str(axial), "--plane", "sagittal", "--center", "20,0,0"]
    mpr_json(capsys, *common, "-o", str(thin))
    doc = mpr_json(capsys, *common, "--slab", "20", "--mode", "mip", "-o", str(slab))
    assert doc["SliceThickness"] == 20.0
    ds = dcmread(slab)
    assert float(ds.SliceThickness) == 20.0 and list(ds.ImageType)[-1] == "MIP"
    # MIP of a ramp rising with x (0.8 HU/mm): its farthest sample to the patient's left, at
    # most 10 mm from the plane and at least 10 - 3 mm (the voxels are 3 mm apart in x)
    thin_hu, slab_hu = hu_of(thin), hu_of(slab)
    points = pixel_points(doc)
    keep = ~near_sphere(points, 15.0) & (np.abs(points[..., 2]) < 70)
    keep &= np.abs(points[..., 1]) < 90
    rise = (slab_hu - thin_hu)[keep]
    assert 0.8 * 7 - 1 <= rise.min() and rise.max() <= 0.8 * 10 + 1
    assert rise.max() - rise.min() <= 2.0  # the same everywhere: one slab, not a smear


def test_png_is_greyscale_windowed_like_dcmtk(
    axial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dcm, png = tmp_path / "plane.dcm", tmp_path / "plane.png"
    args = [str(axial), "--plane", "coronal", "--size", "70,50"]
    code, out, err = mpr(capsys, *args, "-o", str(dcm))
    assert code == 0, err
    code, out, err = mpr(capsys, *args, "--window", "40", "400", "-o", str(png))
    assert code == 0 and err == "" and str(png) in out
    picture = Image.open(png)
    assert (picture.mode, picture.size) == ("L", (70, 50))
    reference = tmp_path / "dcmtk.pgm"
    subprocess.run([require_tool("dcmj2pnm"), "+Ww", "40", "400", str(dcm), str(reference)],
                   check=True, capture_output=True)
    diff = np.abs(np.asarray(picture, dtype=int) - np.asarray(Image.open(reference), dtype=int))
    assert diff.max() <= 1


def test_series_uid_from_the_archive(
    axial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    assert main(["--archive", str(archive), "import", str(axial)]) == 0
    capsys.readouterr()
    uid = str(dcmread(next(axial.glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID)
    code = main(["--archive", str(archive), "mpr", uid, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out) == mpr_json(capsys, str(axial))
    code = main(["--archive", str(archive), "mpr", "1.2.3.4.5.6", "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "1.2.3.4.5.6" in err


def test_refusals_are_one_line_exit_2(
    axial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = tmp_path / "single"
    write_ct_series(single, "axial", (1, 16, 16), PIXEL, STEP)
    two = tmp_path / "two"
    write_ct_series(two / "a", "axial", (4, 16, 16), PIXEL, STEP)
    write_ct_series(two / "b", "axial", (4, 16, 16), PIXEL, STEP)
    uids = {str(dcmread(next((two / s).glob("*.dcm"))).SeriesInstanceUID) for s in "ab"}
    cases: list[tuple[list[str], str]] = [
        ([str(single)], "single"),
        ([str(two)], "2 series"),
        ([str(tmp_path / "nothing-here")], "no such file"),
        ([str(axial), "--orientation", "1,0,0,2,0,0"], "parallel"),
        ([str(axial), "--mode", "mip"], "--slab"),
        ([str(axial), "-o", str(tmp_path / "out.jpg")], ".png or .dcm"),
        ([str(axial), "--window", "40", "0", "-o", str(tmp_path / "w.png")], "width"),
        ([str(axial), "--preset", "no-such-preset", "-o", str(tmp_path / "p.png")], "preset"),
        ([str(axial), "--fuse", str(axial), "--colormap", "jet", "-o", str(tmp_path / "f.png")],
         "hot-iron"),
    ]
    for argv, reason in cases:
        code, out, err = mpr(capsys, *argv, "--json")
        assert code == 2, (argv, out, err)
        assert err.count("\n") == 1 and reason in err.lower(), (argv, err)
        assert "Traceback" not in err and out == ""
    code, out, err = mpr(capsys, str(two), "--json")
    assert all(uid in err for uid in uids)
    with pytest.raises(SystemExit) as exit_info:  # a negative list needs '=': argparse says so
        main(["mpr", str(axial), "--center", "-10,5,-300", "--json"])
    assert exit_info.value.code == 2
    capsys.readouterr()


def test_a_gap_is_filled_and_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "gap"
    write_ct_series(folder, "gap", (12, 16, 16), PIXEL, STEP)
    code, out, err = mpr(capsys, str(folder), "--plane", "coronal", "--json")
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1 and "warning" in lines[0] and "gap" in lines[0], err
    assert json.loads(out)["Rows"] == 15  # 44 mm from the first slice to the last, 3 mm pixels


def test_fusion_png_blends_linearly(
    axial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.volume.pet_series import Sphere, write_pet_series

    ct = dcmread(next(axial.glob("*.dcm")), stop_before_pixels=True)
    hot = Sphere((20.0, -10.0, 5.0), 24.0, 8.0)
    write_pet_series(tmp_path / "pet", str(ct.FrameOfReferenceUID), (-90.0, -90.0, -75.0),
                     (90.0, 90.0, 75.0), spheres=(hot,), spacing=6.0)
    args = [str(axial), "--plane", "coronal", "--center", "20,-10,5", "--size", "64,52",
            "--fuse", str(tmp_path / "pet"), "--colormap", "rainbow"]
    pictures = {}
    for opacity in ("0", "0.5", "1"):
        out = tmp_path / f"fused{opacity}.png"
        code, _, err = mpr(capsys, *args, "--opacity", opacity, "-o", str(out))
        assert code == 0, err
        picture = Image.open(out)
        assert (picture.mode, picture.size) == ("RGB", (64, 52))
        pictures[opacity] = np.asarray(picture, dtype=float)
    grey = tmp_path / "grey.png"
    assert mpr(capsys, *args[:7], "-o", str(grey))[0] == 0
    grey_rgb = np.repeat(np.asarray(Image.open(grey), dtype=float)[..., None], 3, axis=2)
    assert np.abs(pictures["0"] - grey_rgb).max() <= 1  # opacity 0: the CT alone
    centre = pictures["1"][26, 32]
    assert centre.max() - centre.min() > 50  # the sphere in colour
    halfway = (pictures["0"] + pictures["1"]) / 2
    assert np.abs(pictures["0.5"] - halfway).max() <= 1.0  # opacity is linear
    other = tmp_path / "other"
    write_pet_series(other, "1.2.826.0.1.3680043.8.498.99", (-90.0, -90.0, -75.0),
                     (90.0, 90.0, 75.0), spacing=12.0)
    code, out, err = mpr(capsys, *args[:7], "--fuse", str(other), "-o", str(tmp_path / "x.png"))
    assert code == 2 and err.count("\n") == 1 and "Frame of Reference" in err
    assert not (tmp_path / "x.png").exists()
