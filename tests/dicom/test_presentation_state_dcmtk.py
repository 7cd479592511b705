"""Presentation states applied by us against DCMTK's `dcmp2pgm`, for what DCMTK applies: the
Modality, VOI and Presentation LUTs and the spatial transformation (issue 17: +-2 grey on
>= 99.5 % of pixels, geometry exact). The states are made by `dcmpsmk`, edited with pydicom
where `dcmpsmk` has no option, and made by highdicom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from tests.dicom.presentation_makers import (
    close_to,
    dcmp2pgm,
    dcmpsmk,
    edit,
    lut_item,
    sequence,
    textured_ct,
)
from viewer.dicom.presentation_apply import present_file, read_presentation_state_file


def _ours(image: Path, ps: Path) -> np.ndarray:
    return present_file(image, read_presentation_state_file(ps)).image


def _compare(tmp_path: Path, image: Path, ps: Path) -> tuple[np.ndarray, np.ndarray]:
    reference = dcmp2pgm(image, ps, tmp_path / "reference.pgm")
    ours = _ours(image, ps)
    assert ours.shape == reference.shape  # geometry exact
    assert close_to(ours, reference) >= 0.995
    return ours, reference


@pytest.fixture
def ct(tmp_path: Path) -> Path:
    return textured_ct(tmp_path / "ct.dcm")


def test_dcmpsmk_default_state_matches_dcmtk(tmp_path: Path, ct: Path) -> None:
    ps = dcmpsmk(ct, tmp_path / "ps.dcm")
    ours, reference = _compare(tmp_path, ct, ps)
    assert np.array_equal(ours, reference)
    assert len(np.unique(ours)) > 100  # the window spreads the ramp over the grey scale


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("flip", ["N", "Y"])
def test_rotation_then_flip_matches_dcmtk(tmp_path: Path, ct: Path, rotation: int,
                                          flip: str) -> None:
    made = dcmpsmk(ct, tmp_path / "made.dcm")
    ps = edit(made, tmp_path / "ps.dcm", ImageRotation=rotation, ImageHorizontalFlip=flip)
    ours, reference = _compare(tmp_path, ct, ps)
    assert np.array_equal(ours, reference)
    # and it is rotate-then-flip of the unrotated rendering, rows and columns exactly
    plain = _ours(ct, made)
    expected = np.rot90(plain, -rotation // 90)
    assert np.array_equal(ours, np.fliplr(expected) if flip == "Y" else expected)


def test_state_without_voi_matches_dcmtk(tmp_path: Path, ct: Path) -> None:
    """No Softcopy VOI LUT for the image: the whole stored range spread over the greys (as
    DCMTK does), not the frame's min-max."""
    ps = dcmpsmk(ct, tmp_path / "ps.dcm", "-V")
    assert "SoftcopyVOILUTSequence" not in dcmread(ps)
    _compare(tmp_path, ct, ps)


def test_state_without_modality_lut_is_identity_as_dcmtk(tmp_path: Path, ct: Path) -> None:
    made = dcmpsmk(ct, tmp_path / "made.dcm")
    ps = edit(made, tmp_path / "ps.dcm", RescaleSlope=None, RescaleIntercept=None,
              RescaleType=None)
    ours, _ = _compare(tmp_path, ct, ps)
    # the window (900, 2400) now applies to stored values, 1024 above HU: brighter
    assert ours.mean() > _ours(ct, made).mean() + 50


def test_inverse_presentation_lut_shape_matches_dcmtk(tmp_path: Path, ct: Path) -> None:
    made = dcmpsmk(ct, tmp_path / "made.dcm")
    ps = edit(made, tmp_path / "ps.dcm", PresentationLUTShape="INVERSE")
    ours, _ = _compare(tmp_path, ct, ps)
    # inverted, then truncated (as DCMTK): one grey from 255 minus the plain rendering at most
    assert close_to(ours, 255 - _ours(ct, made), tolerance=1) == 1.0


def test_presentation_lut_table_matches_dcmtk(tmp_path: Path, ct: Path) -> None:
    made = dcmpsmk(ct, tmp_path / "made.dcm")
    gamma = np.round(4095 * (np.arange(4096) / 4095.0) ** 0.5).astype(int)
    ds = dcmread(made)
    del ds.PresentationLUTShape
    ds.PresentationLUTSequence = sequence(lut_item(0, 12, gamma))
    ds.save_as(tmp_path / "ps.dcm")
    ours, _ = _compare(tmp_path, ct, tmp_path / "ps.dcm")
    assert np.mean(ours) > np.mean(_ours(ct, made)) + 20  # the square root brightens


def test_softcopy_voi_lut_table_matches_dcmtk(tmp_path: Path, ct: Path) -> None:
    made = dcmpsmk(ct, tmp_path / "made.dcm")
    ds = dcmread(made)
    item = ds.SoftcopyVOILUTSequence[0]
    del item.WindowCenter, item.WindowWidth
    curve = np.round(255 * (np.arange(3072) / 3071.0) ** 2).astype(int)  # HU -1024..2047
    lut = lut_item(-1024 % 65536, 8, curve)
    lut["LUTDescriptor"].VR = "US"
    item.VOILUTSequence = sequence(lut)
    ds.save_as(tmp_path / "ps.dcm")
    _compare(tmp_path, ct, tmp_path / "ps.dcm")


def test_other_window_and_modality_lut_in_the_state_match_dcmtk(tmp_path: Path, ct: Path) -> None:
    made = dcmpsmk(ct, tmp_path / "made.dcm")
    ds = dcmread(made)
    ds.SoftcopyVOILUTSequence[0].WindowCenter = 200
    ds.SoftcopyVOILUTSequence[0].WindowWidth = 700
    del ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType
    ds.ModalityLUTSequence = sequence(lut_item(0, 16, np.arange(4096) * 2))  # doubles
    ds.ModalityLUTSequence[0].ModalityLUTType = "US"
    ds.save_as(tmp_path / "ps.dcm")
    ours, _ = _compare(tmp_path, ct, tmp_path / "ps.dcm")
    assert (ours == 255).mean() > 0.3  # doubled values run past the narrow window


def test_monochrome1_image_through_its_state_matches_dcmtk(tmp_path: Path) -> None:
    image = textured_ct(tmp_path / "cr.dcm", photometric="MONOCHROME1", Modality="CR",
                        RescaleIntercept=0)
    ps = dcmpsmk(image, tmp_path / "ps.dcm")
    assert dcmread(ps).PresentationLUTShape == "INVERSE"  # DCMTK keeps MONOCHROME1's look
    _compare(tmp_path, image, ps)


def test_highdicom_state_matches_dcmtk(tmp_path: Path, ct: Path) -> None:
    from highdicom.content import PresentationLUTTransformation
    from highdicom.pr import GrayscaleSoftcopyPresentationState, SoftcopyVOILUTTransformation
    from pydicom.uid import generate_uid

    image = dcmread(ct)
    gsps = GrayscaleSoftcopyPresentationState(
        referenced_images=[image], series_instance_uid=generate_uid(), series_number=2,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="test",
        manufacturer_model_name="test", software_versions="1", device_serial_number="1",
        content_label="HIGHDICOM",
        voi_lut_transformations=[SoftcopyVOILUTTransformation(window_center=300,
                                                              window_width=1200)],
        presentation_lut_transformation=PresentationLUTTransformation(
            presentation_lut_shape="INVERSE"),
    )
    gsps.save_as(tmp_path / "ps.dcm")
    ours, _ = _compare(tmp_path, ct, tmp_path / "ps.dcm")
    assert read_presentation_state_file(tmp_path / "ps.dcm").state.label == "HIGHDICOM"
    assert ours.mean() > 0
