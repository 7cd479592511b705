"""`dicom-viewer render3d`: a series from files to a 3D picture (CLI.md), on the generated
series of tests/volume/series.py (a +900 HU sphere at the patient's left, (20, -10, 5) mm).
The camera conventions themselves are the render3d helper's tests; here: they hold end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.volume.series import write_ct_series
from viewer.cli import main

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ct")
    write_ct_series(folder, "axial", (40, 64, 64), 3.0, 4.0)
    return folder


def bright_column(path: Path) -> float:
    """The mean column of the brightest pixels, as a fraction of the width from the left."""
    grey = np.asarray(Image.open(path).convert("L"), dtype=float)
    rows, cols = np.nonzero(grey >= grey.max() - 10)
    return float(cols.mean()) / grey.shape[1]


def test_mip_views_put_the_patients_left_where_clidoc_says(
    series: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    places = {}
    for azimuth in ("0", "180"):
        out = tmp_path / f"mip{azimuth}.png"
        code = main(["render3d", str(series), "--mode", "mip", f"--azimuth={azimuth}",
                     "--size", "96,64", "-o", str(out)])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert str(out) in captured.out and captured.err == ""
        picture = Image.open(out)
        assert (picture.mode, picture.size) == ("RGB", (96, 64))
        places[azimuth] = bright_column(out)
    # anterior view: the patient's left (+x, where the sphere is, 20 mm off the centre of a
    # volume ~270 mm across its diagonal) on the image's right; from behind, on its left
    assert places["0"] > 0.53 and places["180"] < 0.47


def test_volume_rendering_with_a_preset(
    series: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from viewer.volume.render3d import PRESETS

    out = tmp_path / "vr.png"
    preset = next(name for name in PRESETS if name.startswith("ct"))
    code = main(["render3d", str(series), "--preset", preset, "--elevation=-20",
                 "--size", "80,80", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    image = np.asarray(Image.open(out))
    assert image.shape == (80, 80, 3) and image.std() > 5  # something was drawn


def test_refusals(series: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    single = tmp_path / "single"
    write_ct_series(single, "axial", (1, 16, 16), 3.0, 4.0)
    cases = [
        ([str(single), "-o", str(tmp_path / "a.png")], "single"),
        ([str(series), "--preset", "no-such", "-o", str(tmp_path / "b.png")], "no-such"),
        ([str(series), "-o", str(tmp_path / "c.jpg")], ".png"),
        ([str(series), "--size", "0,10", "-o", str(tmp_path / "d.png")], "--size"),
    ]
    for argv, reason in cases:
        code = main(["render3d", *argv])
        captured = capsys.readouterr()
        assert code == 2, (argv, captured)
        assert captured.err.count("\n") == 1 and reason in captured.err, (argv, captured.err)
        assert captured.out == ""
    assert list(tmp_path.glob("*.png")) == []
