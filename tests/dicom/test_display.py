"""The display pipeline's stages against values computed by hand from PS3.3 C.11."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.dicom.makers import image_dataset, save
from viewer.dicom.display import (
    DisplayState,
    apply_window,
    choose_voi,
    render_frame,
    to_display,
)
from viewer.dicom.frameinfo import LUT, VOIFunction, Window
from viewer.dicom.pixels import decode_frame


def test_linear_window_matches_ps3_3_formula() -> None:
    # C.11.2.1.2.1 with c=50, w=101: x <= -0.5 -> 0, x > 99.5 -> 255, else ((x-49.5)/100+0.5)*255
    x = np.array([-10, 0, 1, 49.5, 99, 100, 200], dtype=float)
    y = apply_window(x, Window(50, 101))
    expected = [0, 1.275, 3.825, 127.5, 253.725, 255, 255]
    assert np.allclose(y, expected)


def test_linear_exact_and_sigmoid() -> None:
    exact_window = Window(50, 100, "", VOIFunction.LINEAR_EXACT)
    exact = apply_window(np.array([0.0, 50.0, 100.0]), exact_window)
    assert np.allclose(exact, [0, 127.5, 255])
    sigmoid = apply_window(np.array([50.0, 1e6, -1e6]), Window(50, 100, "", VOIFunction.SIGMOID))
    assert np.allclose(sigmoid, [127.5, 255, 0])


def test_width_one_is_a_threshold() -> None:
    assert list(apply_window(np.array([9.0, 9.5, 10.0]), Window(10, 1))) == [0, 0, 255]


def _frame(tmp_path: Path, pixels: np.ndarray, **attrs: object) -> tuple[np.ndarray, object]:
    decoded = decode_frame(save(image_dataset(pixels, **attrs), tmp_path / "img.dcm"))  # type: ignore[arg-type]
    return decoded.array, decoded.info


def test_rescale_then_window_in_modality_units(tmp_path: Path) -> None:
    stored = np.array([[0, 1024, 1064, 2048]], dtype=np.uint16)
    arr, info = _frame(tmp_path, stored, bits_stored=12, RescaleSlope=1, RescaleIntercept=-1024)
    out = to_display(arr, info, DisplayState(window=(40, 400)))  # type: ignore[arg-type]
    hu = stored.astype(float) - 1024
    expected = np.floor(apply_window(hu, Window(40, 400))).astype(np.uint8)  # as DCMTK
    assert np.array_equal(out, expected)
    assert out[0, 0] == 0 and out[0, 3] == 255


def test_signed_pixels_and_garbage_high_bits(tmp_path: Path) -> None:
    # 12 bits stored in 16, signed; the top four bits hold garbage that must be ignored.
    values = np.array([[-2048, -1, 0, 2047]], dtype=np.int16)
    garbage = (values.view(np.uint16) & 0x0FFF) | 0xA000
    arr, info = _frame(tmp_path, garbage.view(np.int16), bits_stored=12)
    assert arr.tolist() == values.tolist()
    out = to_display(arr, info, DisplayState(window=(0, 4096)))  # type: ignore[arg-type]
    assert out[0, 0] == 0 and out[0, 3] == 255 and 126 <= out[0, 2] <= 129


def test_first_window_by_default_and_any_selectable(tmp_path: Path) -> None:
    stored = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)
    arr, info = _frame(
        tmp_path,
        stored,
        bits_stored=12,
        WindowCenter=[100, 3000],
        WindowWidth=[200, 400],
        WindowCenterWidthExplanation=["NARROW", "HIGH"],
    )
    first = choose_voi(arr, info, DisplayState())  # type: ignore[arg-type]
    second = choose_voi(arr, info, DisplayState(window_index=1))  # type: ignore[arg-type]
    assert isinstance(first, Window) and (first.center, first.explanation) == (100, "NARROW")
    assert isinstance(second, Window) and second.center == 3000


def test_min_max_when_the_file_has_no_window(tmp_path: Path) -> None:
    stored = np.array([[100, 200], [300, 400]], dtype=np.uint16)
    arr, info = _frame(tmp_path, stored)
    out = to_display(arr, info)  # type: ignore[arg-type]
    assert out.min() == 0 and out.max() == 255


def test_monochrome1_is_inverted_and_invert_toggles(tmp_path: Path) -> None:
    stored = np.array([[0, 255]], dtype=np.uint8)
    arr, info = _frame(tmp_path, stored, photometric="MONOCHROME1")
    assert to_display(arr, info, DisplayState(window=(128, 256))).tolist() == [[255, 0]]  # type: ignore[arg-type]
    inverted_back = DisplayState(window=(128, 256), invert=True)
    assert to_display(arr, info, inverted_back).tolist() == [[0, 255]]  # type: ignore[arg-type]


def test_presentation_lut_shape_inverse(tmp_path: Path) -> None:
    stored = np.array([[0, 255]], dtype=np.uint8)
    arr, info = _frame(tmp_path, stored, PresentationLUTShape="INVERSE")
    assert to_display(arr, info, DisplayState(window=(128, 256))).tolist() == [[255, 0]]  # type: ignore[arg-type]


def _lut_item(first: int, bits: int, data: list[int]) -> Dataset:
    item = Dataset()
    item.add_new(0x00283002, "US", [len(data), first, bits])  # LUT Descriptor
    item.add_new(0x00283006, "US", data)  # LUT Data
    return item


def test_modality_lut_sequence(tmp_path: Path) -> None:
    ds = image_dataset(np.array([[0, 1, 2, 3, 9]], dtype=np.uint16), bits_stored=12)
    ds.ModalityLUTSequence = Sequence([_lut_item(1, 16, [10, 20, 30])])
    ds.ModalityLUTSequence[0].ModalityLUTType = "HU"
    decoded = decode_frame(save(ds, tmp_path / "mlut.dcm"))
    # below first mapped -> first entry, above last -> last entry (C.11.1.1.1): 10 10 20 30 30,
    # then the window 20/21: y = ((x - 19.5) / 20 + 0.5) * 255 -> 6.4, 133.9, 255, truncated
    out = to_display(decoded.array, decoded.info, DisplayState(window=(20, 21)))
    assert out.tolist() == [[6, 6, 133, 255, 255]]


def test_voi_lut_sequence_is_used_when_no_window(tmp_path: Path) -> None:
    ds = image_dataset(np.array([[0, 1, 2, 3]], dtype=np.uint16), bits_stored=8)
    ds.VOILUTSequence = Sequence([_lut_item(0, 8, [0, 255, 128, 64])])
    decoded = decode_frame(save(ds, tmp_path / "vlut.dcm"))
    voi = choose_voi(decoded.array, decoded.info, DisplayState())
    assert isinstance(voi, LUT)
    assert to_display(decoded.array, decoded.info).tolist() == [[0, 255, 128, 64]]


def test_pydicom_voi_lut_file_matches_pydicom_processing() -> None:
    from pydicom import dcmread
    from pydicom.pixels.processing import apply_voi_lut

    path = get_testdata_file("vlut_04.dcm")
    ds = dcmread(path)
    reference = apply_voi_lut(ds.pixel_array, ds).astype(float)
    top = float(2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
    ours = render_frame(path, 0, DisplayState(overlays=False)).astype(float)
    assert np.abs(ours - np.rint(reference * 255 / top)).max() <= 1


def test_palette_colour_segmented_16_bit() -> None:
    path = get_testdata_file("OT-PAL-8-face.dcm")
    out = render_frame(path)
    assert out.shape == (480, 640, 3) and out.dtype == np.uint8
    decoded = decode_frame(path)
    assert decoded.info.palette is not None and decoded.info.palette.rgb.shape[1] == 3


def test_overlays_shown_and_toggleable(tmp_path: Path) -> None:
    ds = image_dataset(np.zeros((8, 8), dtype=np.uint8))
    bits = np.zeros((8, 8), dtype=np.uint8)
    bits[2, 3] = 1
    ds.add_new(0x60000010, "US", 8)
    ds.add_new(0x60000011, "US", 8)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", np.packbits(bits.ravel(), bitorder="little").tobytes())
    path = save(ds, tmp_path / "ovl.dcm")
    shown = render_frame(path, 0, DisplayState(window=(128, 256)))
    hidden = render_frame(path, 0, DisplayState(window=(128, 256), overlays=False))
    assert shown[2, 3] == 255 and hidden[2, 3] == 0
    assert int(shown.sum()) == 255


def test_enhanced_multiframe_per_frame_rescale_and_window(tmp_path: Path) -> None:
    frames = np.full((2, 4, 4), 100, dtype=np.uint16)
    ds = image_dataset(frames, bits_stored=12)
    per_frame = []
    for slope, center in ((1.0, 100.0), (2.0, 200.0)):
        item = Dataset()
        transform = Dataset()
        transform.RescaleSlope, transform.RescaleIntercept = slope, 0
        transform.RescaleType = "US"
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = center, 50
        item.PixelValueTransformationSequence = Sequence([transform])
        item.FrameVOILUTSequence = Sequence([voi])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    path = save(ds, tmp_path / "enh.dcm")
    f0, f1 = decode_frame(path, 0), decode_frame(path, 1)
    assert (f0.info.rescale_slope, f1.info.rescale_slope) == (1.0, 2.0)
    assert (f0.info.windows[0].center, f1.info.windows[0].center) == (100.0, 200.0)
    # each frame's modality value (100, 200) sits at its own window centre: mid grey
    for frame in (f0, f1):
        assert 126 <= int(to_display(frame.array, frame.info)[0, 0]) <= 131


@pytest.mark.parametrize(
    "name", ["SC_rgb.dcm", "SC_rgb_2frame.dcm", "SC_ybr_full_uncompressed.dcm",
             "SC_ybr_full_422_uncompressed.dcm", "SC_rgb_16bit.dcm", "color-pl.dcm"]
)
def test_colour_images_become_rgb8(name: str) -> None:
    out = render_frame(get_testdata_file(name))
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8
    assert out.max() > out.min()


def test_sixteen_bit_frame_to_eight_bit_uses_a_table(tmp_path: Path) -> None:
    stored = np.random.default_rng(1).integers(0, 4096, (512, 512), dtype=np.uint16)
    arr, info = _frame(tmp_path, stored, bits_stored=12, RescaleIntercept=-1024, RescaleSlope=1)
    state = DisplayState(window=(40, 400))
    out = to_display(arr, info, state)  # type: ignore[arg-type]
    slow = np.floor(apply_window(stored.astype(float) - 1024, Window(40, 400))).astype(np.uint8)
    assert np.array_equal(out, slow)
