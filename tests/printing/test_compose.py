"""Film composition: box sizes, the display pipeline's pixels in each box, aspect ratio, crop,
12-bit, colour, several films, undecodable images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit

from tests.dicom.makers import image_dataset, save
from viewer.dicom.demo import write_ct_series
from viewer.dicom.display import DisplayState, render_frame
from viewer.dicom.frameinfo import FrameInfo
from viewer.dicom.pixels import decode_frame
from viewer.printing.compose import (
    Crop,
    FilmSpec,
    ImageSource,
    PixelDepth,
    PrintItem,
    axis_weights,
    compose_box,
    compose_films,
    film_preview,
    fit,
)
from viewer.printing.film import Layout, Orientation


def broken_jpeg(path: Path) -> Path:
    """A header that passes every check, with JPEG data no decoder can read."""
    ds = image_dataset(np.zeros((64, 64), np.uint8))
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xdb not a jpeg at all \xff\xd9"])
    ds["PixelData"].VR = "OB"
    return save(ds, path)


def test_box_pixels_from_film_size_layout_and_orientation() -> None:
    spec = FilmSpec(Layout(3, 4), "14INX17IN", Orientation.PORTRAIT)
    assert spec.box_pixels() == (1422 // 3, 1727 // 4)  # 355.6 x 431.8 mm at 4 px/mm
    landscape = FilmSpec(Layout(3, 4), "14INX17IN", Orientation.LANDSCAPE)
    assert landscape.box_pixels() == (1727 // 3, 1422 // 4)
    assert FilmSpec(Layout(1, 1), "8INX10IN", pixels_per_mm=10).box_pixels() == (2032, 2540)
    assert FilmSpec(Layout(16, 16), "8INX10IN", pixels_per_mm=1).box_pixels() == (64, 64)
    assert FilmSpec(box_size=(500, 600)).box_pixels() == (500, 600)
    with pytest.raises(ValueError, match="film size"):
        FilmSpec(film_size="POSTCARD")
    assert Layout.parse("3x4") == Layout(3, 4) == Layout.parse("STANDARD\\3,4")
    assert Layout(3, 4).display_format == "STANDARD\\3,4"
    with pytest.raises(ValueError, match="layout"):
        Layout.parse("3by4")


def test_same_size_box_holds_exactly_the_display_pipeline_picture(tmp_path: Path) -> None:
    path = write_ct_series(tmp_path, slices=1, rows=96, columns=96)[0]
    frame = decode_frame(path)
    for state in (None, DisplayState(window=(-600, 1500)), DisplayState(invert=True)):
        box = compose_box(frame.array, frame.info, state, (96, 96))
        assert box.dtype == np.uint8
        np.testing.assert_array_equal(box, render_frame(path, 0, state))


def test_fit_keeps_the_aspect_ratio_of_the_pixels_and_pads_black() -> None:
    picture = np.full((200, 100), 200, np.uint8)  # tall image, square pixels
    out = fit(picture, (300, 300))
    assert out.shape == (300, 300)
    np.testing.assert_allclose(out[:, 75:225], 200.0, atol=1e-3)  # 150 wide, centred
    assert (out[:, :75] == 0).all() and (out[:, 225:] == 0).all()
    # the same rows and columns with pixels twice as wide as high: a square on the patient
    square = fit(picture, (300, 300), spacing=(1.0, 2.0))
    np.testing.assert_allclose(square, 200.0, atol=1e-3)


def test_downsampling_averages_and_upsampling_interpolates() -> None:
    stripes = np.tile(np.array([0, 200], np.uint8), (4, 4))  # 4 x 8 columns 0,200,0,200...
    halved = fit(stripes, (4, 2))
    # no aliasing: the widened triangle averages the stripes (edges renormalised in the image)
    np.testing.assert_allclose(halved[:, 1:3], 100.0)
    np.testing.assert_allclose(halved.mean(), 100.0)
    weights = axis_weights(2, 0.0, 2.0, 4)
    np.testing.assert_allclose(weights @ np.array([0.0, 100.0]), [0.0, 25.0, 75.0, 100.0])


def test_crop_prints_the_part_of_the_image_the_viewport_shows(tmp_path: Path) -> None:
    path = write_ct_series(tmp_path, slices=1, rows=64, columns=64)[0]
    frame = decode_frame(path)
    whole = render_frame(path)
    right_half = compose_box(frame.array, frame.info, None, (32, 64), crop=Crop(32, 0, 32, 64))
    np.testing.assert_array_equal(right_half, whole[:, 32:])
    zoomed_out = compose_box(frame.array, frame.info, None, (128, 128),
                             crop=Crop(-32, -32, 128, 128))
    np.testing.assert_array_equal(zoomed_out[32:96, 32:96], whole)
    assert not zoomed_out[:32].any() and not zoomed_out[:, 96:].any()


def test_twelve_bit_boxes_are_the_same_window_with_finer_steps(tmp_path: Path) -> None:
    path = write_ct_series(tmp_path, slices=1, rows=80, columns=80)[0]
    frame = decode_frame(path)
    state = DisplayState(window=(40, 400))
    eight = compose_box(frame.array, frame.info, state, (80, 80), PixelDepth.GRAY8)
    twelve = compose_box(frame.array, frame.info, state, (80, 80), PixelDepth.GRAY12)
    assert twelve.dtype == np.uint16 and twelve.max() <= 4095
    assert np.abs(twelve.astype(int) * 255 // 4095 - eight.astype(int)).max() <= 1
    assert len(np.unique(twelve)) > len(np.unique(eight))  # more levels, not 8-bit x 16


def test_colour_images_on_grey_and_colour_film(tmp_path: Path) -> None:
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    ds = image_dataset(rgb[np.newaxis, :, :, 0])  # replaced below by a real RGB dataset
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelData = rgb.tobytes()
    path = save(ds, tmp_path / "rgb.dcm")
    frame = decode_frame(path)
    colour = compose_box(frame.array, frame.info, None, (48, 32), PixelDepth.RGB)
    np.testing.assert_array_equal(colour, rgb)
    grey = compose_box(frame.array, frame.info, None, (48, 32), PixelDepth.GRAY8)
    assert (grey == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)).all()
    ct = write_ct_series(tmp_path / "ct", slices=1, rows=32, columns=32)[0]
    ct_frame = decode_frame(ct)
    grey_on_colour = compose_box(ct_frame.array, ct_frame.info, None, (32, 32), PixelDepth.RGB)
    for channel in range(3):
        np.testing.assert_array_equal(grey_on_colour[..., channel], render_frame(ct))


def test_more_images_than_boxes_make_several_films_and_bad_images_leave_boxes_empty(
    tmp_path: Path,
) -> None:
    files = write_ct_series(tmp_path / "ct", slices=13, rows=32, columns=32)
    bad = broken_jpeg(tmp_path / "bad.dcm")
    sources = [ImageSource(p) for p in files[:4]] + [ImageSource(bad)] + [
        ImageSource(p) for p in files[4:]]
    spec = FilmSpec(Layout(3, 4), box_size=(64, 64))
    composition = compose_films(sources, spec)
    assert len(composition.films) == 2
    first, second = composition.films
    assert [b.pixels is None for b in first.boxes] == [False] * 4 + [True] + [False] * 7
    assert second.images == 2 and all(b.pixels is None for b in second.boxes[2:])
    (failure,) = composition.failures
    assert (failure.film, failure.position, failure.item) == (1, 5, str(bad))
    assert failure.reason
    expected = compose_box(*_decoded(files[0]), None, (64, 64))
    np.testing.assert_array_equal(first.boxes[0].pixels, expected)
    preview = film_preview(first, gap=2)
    assert preview.shape == (4 * 66 + 2, 3 * 66 + 2)
    np.testing.assert_array_equal(preview[2:66, 2:66], expected)


def _decoded(path: Path) -> tuple[np.ndarray, FrameInfo]:
    frame = decode_frame(path)
    return frame.array, frame.info


def test_turned_images_fill_their_boxes_as_the_viewport_shows_them(tmp_path: Path) -> None:
    wide = image_dataset(np.tile(np.arange(192, dtype=np.uint8), (64, 1)))  # 64 rows x 192
    path = save(wide, tmp_path / "wide.dcm")
    upright = render_frame(path)
    spec = FilmSpec(Layout(2, 1), box_size=(64, 192))  # tall boxes
    items = [PrintItem(ImageSource(path), quarter_turns=1),
             PrintItem(ImageSource(path), quarter_turns=3, flip_h=True),
             PrintItem(ImageSource(path), flip_v=True)]
    composition = compose_films(items, spec)
    assert not composition.failures
    first, second = composition.films
    turned = first.boxes[0].pixels
    assert turned is not None and turned.shape == (192, 64)
    # composed at the transposed (wide) size, then turned clockwise: no black bars
    np.testing.assert_array_equal(turned, np.rot90(upright, k=-1))
    np.testing.assert_array_equal(first.boxes[1].pixels, np.rot90(upright, k=1)[:, ::-1])
    flipped = second.boxes[0].pixels  # upright in a tall box: letterboxed, then mirrored
    assert flipped is not None and flipped.shape == (192, 64)
    np.testing.assert_array_equal(flipped, compose_box(*_decoded(path), None, (64, 192))[::-1])
    assert second.boxes[1].pixels is None and second.boxes[1].source is None
