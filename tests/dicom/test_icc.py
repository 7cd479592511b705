"""ICC colour management (PS3.3 C.11.15): a colour image's own ICC Profile, and a Color Softcopy
Presentation State's in its place, applied for display; checked against LittleCMS called
directly and against the colorimetry worked out in numpy; unusable profiles give one line and
the picture without them (issue 17, gap 3)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from tests.dicom.icc_profiles import ADOBE_GAMMA, ADOBE_RGB_D50, adobe_rgb, analytic_to_srgb
from tests.dicom.makers import image_dataset, save
from tests.dicom.presentation_makers import sequence
from tests.dicom.test_presentation_state import _area
from viewer.dicom import icc
from viewer.dicom.display import render_frame
from viewer.dicom.presentation_apply import present_file, read_presentation_state_file
from viewer.dicom.presentation_state import PresentationKind

ROWS, COLUMNS = 48, 64


def _colours() -> np.ndarray:
    """Every hue at several saturations and lightnesses, and greys: ramps over the picture."""
    rng = np.random.default_rng(17)
    rgb = rng.integers(0, 256, (ROWS, COLUMNS, 3), dtype=np.uint8)
    rgb[0] = np.linspace(0, 255, COLUMNS).astype(np.uint8)[:, None]  # a grey ramp
    rgb[1] = 0
    rgb[1, :, 1] = np.linspace(0, 255, COLUMNS).astype(np.uint8)  # a green ramp
    return rgb


def _rgb_image(tmp_path: Path, name: str, profile: bytes | None) -> tuple[Path, Dataset]:
    rgb = _colours()
    ds = image_dataset(rgb[..., 0], photometric="RGB")
    ds.SamplesPerPixel, ds.PlanarConfiguration = 3, 0
    ds.PixelData = rgb.tobytes()
    if profile is not None:
        ds.ICCProfile = profile
    return save(ds, tmp_path / name), ds


def _lcms(rgb: np.ndarray, profile: bytes) -> np.ndarray:
    """The reference: LittleCMS through ImageCms, called directly."""
    transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                        ImageCms.createProfile("sRGB"), "RGB", "RGB")
    return np.asarray(ImageCms.applyTransform(Image.fromarray(rgb), transform))


def _colour_state(tmp_path: Path, image: Dataset, profile: bytes) -> Path:
    ps = Dataset()
    ps.SOPClassUID = PresentationKind.COLOR.value
    ps.SOPInstanceUID = "1.2.3.17.3"
    ps.ContentLabel, ps.PresentationCreationDate = "COLOUR", "20261208"
    ps.ICCProfile = profile
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    series = Dataset()
    series.SeriesInstanceUID = image.SeriesInstanceUID
    series.ReferencedImageSequence = sequence(ref)
    ps.ReferencedSeriesSequence = sequence(series)
    ps.DisplayedAreaSelectionSequence = sequence(_area((1, 1), (COLUMNS, ROWS)))
    ps.file_meta = FileMetaDataset()
    ps.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ps.file_meta.MediaStorageSOPClassUID = ps.SOPClassUID
    ps.file_meta.MediaStorageSOPInstanceUID = ps.SOPInstanceUID
    return save(ps, tmp_path / "colour_ps.dcm")


def test_the_test_profile_is_wide_gamut_and_lcms_agrees_with_the_colorimetry() -> None:
    """The reference itself: LittleCMS on our Adobe RGB profile gives what the primaries and
    gamma say (within 1 grey of 255), and that differs from the pixels for saturated colours."""
    rgb = _colours()
    reference = _lcms(rgb, adobe_rgb())
    analytic = analytic_to_srgb(rgb, ADOBE_RGB_D50, ADOBE_GAMMA)
    assert np.abs(reference - analytic).max() <= 1.0
    assert (np.abs(reference.astype(int) - rgb).max(axis=2) > 5).mean() > 0.25
    # full green is outside sRGB: it clips, and red and blue grow no brighter than green
    assert reference[1, -1, 1] == 255


def test_an_images_own_profile_is_applied(tmp_path: Path) -> None:
    profile = adobe_rgb()
    path, _ = _rgb_image(tmp_path, "vl.dcm", profile)
    shown = render_frame(path)
    assert np.array_equal(shown, _lcms(_colours(), profile))
    plain, _ = _rgb_image(tmp_path, "plain.dcm", None)
    assert np.array_equal(render_frame(plain), _colours())  # no profile: the pixels as stored


def test_srgb_profile_changes_nothing(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path, _ = _rgb_image(tmp_path, "srgb.dcm", srgb)
    assert np.array_equal(render_frame(path), _colours())


def test_a_colour_states_profile_replaces_the_images(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path, image = _rgb_image(tmp_path, "vl.dcm", srgb)
    ps = _colour_state(tmp_path, image, adobe_rgb())
    presented = present_file(path, read_presentation_state_file(ps))
    assert presented.problems == ()
    assert np.array_equal(presented.image, _lcms(_colours(), adobe_rgb()))


def test_one_transform_per_profile() -> None:
    profile = adobe_rgb()
    first = icc._transform(profile)
    assert icc._transform(bytes(bytearray(profile))) is first  # the same bytes, another object


BROKEN = {
    # a real profile ImageCms makes, of L*a*b* data: DICOM's colour pixels are RGB
    "lab": (lambda: ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB", 6500)).tobytes(),
            "describes Lab data, not RGB"),
    "cut": (lambda: adobe_rgb()[:300], "unreadable by LittleCMS"),
    "header only": (lambda: adobe_rgb()[:100], "shorter than its header"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_unusable_profile_one_line_and_the_image_without_it(tmp_path: Path, name: str) -> None:
    make, reason = BROKEN[name]
    profile = make()
    problem = icc.profile_problem(profile)
    assert problem is not None and reason in problem and "\n" not in problem
    path, image = _rgb_image(tmp_path, "vl.dcm", profile)
    assert np.array_equal(render_frame(path), _colours())
    ps = _colour_state(tmp_path, image, profile)
    presented = present_file(path, read_presentation_state_file(ps))
    assert np.array_equal(presented.image, _colours())
    assert len(presented.problems) == 1 and reason in presented.problems[0]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "viewer", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_render_reports_an_unusable_profile_in_one_line(tmp_path: Path) -> None:
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    path, image = _rgb_image(tmp_path, "vl.dcm", lab)
    out = tmp_path / "out.png"
    done = _cli("render", str(path), "-o", str(out))
    assert done.returncode == 1  # the PNG is written, colour management was not done
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ") and "not RGB" in lines[0]
    assert np.array_equal(np.asarray(Image.open(out)), _colours())
    ps = _colour_state(tmp_path, image, lab)
    done = _cli("render", str(path), "--presentation-state", str(ps), "-o", str(out))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{ps}: ") and "not RGB" in lines[0]
    # and a good profile renders silently, transformed
    good, _ = _rgb_image(tmp_path, "good.dcm", adobe_rgb())
    done = _cli("render", str(good), "-o", str(out))
    assert (done.returncode, done.stderr) == (0, "")
    assert np.array_equal(np.asarray(Image.open(out)), _lcms(_colours(), adobe_rgb()))
