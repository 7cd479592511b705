"""Reading presentation states and applying them: what DCMTK does not render (displayed area,
shutters, overlay activation, colour states) checked analytically, and bad states refused with
one line (issue 17)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from tests.dicom.makers import image_dataset, save
from tests.dicom.presentation_makers import (
    COLUMNS,
    ROWS,
    dcmpsmk,
    edit,
    sequence,
    textured_ct,
)
from viewer.dicom.display import DisplayState, to_display
from viewer.dicom.frameinfo import frame_info
from viewer.dicom.mutations import layout_of, mutate
from viewer.dicom.pixels import decode_frame
from viewer.dicom.presentation_apply import (
    apply_presentation_state,
    output_geometry,
    present_file,
    read_presentation_state_file,
)
from viewer.dicom.presentation_state import (
    DisplayedArea,
    PresentationKind,
    PresentationSizeMode,
    PresentationStateError,
    applies_to,
    read_presentation_state,
)
from viewer.dicom.shutters import cielab_to_rgb, shutter_mask


@pytest.fixture
def ct(tmp_path: Path) -> Path:
    return textured_ct(tmp_path / "ct.dcm")


@pytest.fixture
def made(tmp_path: Path, ct: Path) -> Path:
    return dcmpsmk(ct, tmp_path / "made.dcm")


def _plain(image: Path, made: Path) -> np.ndarray:
    """The image through dcmpsmk's state: LUTs only, whole image, nothing else."""
    return present_file(image, read_presentation_state_file(made)).image


# --- reading --------------------------------------------------------------------------------


def test_dcmpsmk_state_read(ct: Path, made: Path) -> None:
    ps = read_presentation_state_file(made).state
    uid = dcmread(ct).SOPInstanceUID
    assert ps.kind is PresentationKind.GRAYSCALE
    assert [r.sop_instance_uid for r in ps.references] == [uid]
    assert ps.rescale == (1.0, -1024.0)
    assert ps.presentation_lut_shape == "IDENTITY"
    assert (ps.rotation, ps.horizontal_flip) == (0, False)
    area = ps.displayed_areas[0]
    assert (area.top_left, area.bottom_right) == ((1, 1), (COLUMNS, ROWS))
    assert applies_to(ps, uid, 1) and not applies_to(ps, "1.2.3", 1)


def test_referenced_frames_limit_what_a_state_applies_to(tmp_path: Path, made: Path) -> None:
    ds = dcmread(made)
    ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedFrameNumber = [2, 3]
    ps = read_presentation_state(ds)
    uid = ps.references[0].sop_instance_uid
    assert [applies_to(ps, uid, f) for f in (1, 2, 3, 4)] == [False, True, True, False]


def test_voi_items_apply_to_the_images_they_reference(tmp_path: Path, ct: Path, made: Path
                                                      ) -> None:
    from viewer.dicom.presentation_state import voi_for

    ds = dcmread(made)
    other = Dataset()
    other.ReferencedSOPClassUID = ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0]\
        .ReferencedSOPClassUID
    other.ReferencedSOPInstanceUID = "1.2.3.4"
    second = Dataset()
    second.ReferencedImageSequence = sequence(other)
    second.WindowCenter, second.WindowWidth = 10, 20
    ds.SoftcopyVOILUTSequence.insert(0, second)
    ps = read_presentation_state(ds)
    uid = dcmread(ct).SOPInstanceUID
    voi = voi_for(ps, uid)
    assert voi is not None and (voi.center, voi.width) == (900.0, 2400.0)  # type: ignore[union-attr]
    other_voi = voi_for(ps, "1.2.3.4")
    assert other_voi is not None and other_voi.center == 10.0  # type: ignore[union-attr]


# --- displayed area (C.10.4), issue 17 section 8 ----------------------------------------------


def _area(tl: tuple[int, int], br: tuple[int, int], mode: str = "SCALE TO FIT",
          **extra: object) -> Dataset:
    item = Dataset()
    item.DisplayedAreaTopLeftHandCorner = list(tl)
    item.DisplayedAreaBottomRightHandCorner = list(br)
    item.PresentationSizeMode = mode
    for key, value in extra.items():
        setattr(item, key, value)
    return item


def test_displayed_area_renders_only_that_area(tmp_path: Path, ct: Path, made: Path) -> None:
    ps = edit(made, tmp_path / "ps.dcm",
              DisplayedAreaSelectionSequence=sequence(_area((5, 10), (20, 40))))
    out = present_file(ct, read_presentation_state_file(ps))
    # column\row, 1-based, inclusive: columns 5..20, rows 10..40
    assert np.array_equal(out.image, _plain(ct, made)[9:40, 4:20])
    assert out.geometry.size == (16, 31)
    assert out.geometry.displayed_area == (0.0, 0.0, 16.0, 31.0)


def test_displayed_area_is_chosen_before_rotation(tmp_path: Path, ct: Path, made: Path) -> None:
    ps = edit(made, tmp_path / "ps.dcm", ImageRotation=90, ImageHorizontalFlip="Y",
              DisplayedAreaSelectionSequence=sequence(_area((5, 10), (20, 40))))
    out = present_file(ct, read_presentation_state_file(ps)).image
    assert np.array_equal(out, np.fliplr(np.rot90(_plain(ct, made)[9:40, 4:20], -1)))


def test_area_beyond_the_image_is_black_and_magnify_scales(tmp_path: Path, ct: Path,
                                                           made: Path) -> None:
    ps = edit(made, tmp_path / "ps.dcm", DisplayedAreaSelectionSequence=sequence(
        _area((-1, 1), (COLUMNS, ROWS), "MAGNIFY", PresentationPixelMagnificationRatio=2.0)))
    out = present_file(ct, read_presentation_state_file(ps)).image
    assert out.shape == (2 * ROWS, 2 * (COLUMNS + 2))
    assert not out[:, :4].any()  # columns -1 and 0: outside the image
    plain = _plain(ct, made)
    assert np.array_equal(out[::2, 4::2], plain)


def test_aspect_ratio_kept(tmp_path: Path, ct: Path, made: Path) -> None:
    ps = edit(made, tmp_path / "ps.dcm", DisplayedAreaSelectionSequence=sequence(
        _area((1, 1), (COLUMNS, ROWS), "SCALE TO FIT", PresentationPixelAspectRatio=[2, 1])))
    out = present_file(ct, read_presentation_state_file(ps)).image
    assert out.shape == (2 * ROWS, COLUMNS)  # pixels twice as tall as wide
    assert np.array_equal(out[::2], _plain(ct, made))


def test_true_size_and_scale_to_fit_in_a_viewport() -> None:
    area = DisplayedArea((), (1, 1), (100, 50), PresentationSizeMode.TRUE_SIZE, (0.2, 0.2))
    true_size = output_geometry(area, 50, 100, viewport=(400, 400), display_pixel_mm=0.1)
    # 100 columns of 0.2 mm = 20 mm = 200 screen pixels of 0.1 mm, centred in 400x400
    assert true_size.displayed_area == pytest.approx((100.0, 150.0, 300.0, 250.0))
    fit = output_geometry(DisplayedArea((), (1, 1), (100, 50), PresentationSizeMode.SCALE_TO_FIT),
                          50, 100, rotation=90, viewport=(300, 400))
    # the turned area is 50 wide and 100 high: fits 300x400 at 4x, centred horizontally
    assert fit.displayed_area == pytest.approx((50.0, 0.0, 250.0, 400.0))
    corner = fit.image_to_output @ np.array([0.0, 0.0, 1.0])  # top-left of the image
    assert corner[:2] == pytest.approx((250.0, 0.0))  # a quarter turn puts it top right


# --- shutters (C.7.6.11), issue 17 section 8 ---------------------------------------------------


def _grey_ps(tmp_path: Path, made: Path, **attributes: object) -> Path:
    return edit(made, tmp_path / "shutter.dcm", ShutterPresentationValue=32768, **attributes)


def test_rectangular_shutter_edges_are_one_based_columns_and_rows(tmp_path: Path, ct: Path,
                                                                  made: Path) -> None:
    ps = _grey_ps(tmp_path, made, ShutterShape="RECTANGULAR", ShutterLeftVerticalEdge=5,
                  ShutterRightVerticalEdge=30, ShutterUpperHorizontalEdge=10,
                  ShutterLowerHorizontalEdge=50)
    out = present_file(ct, read_presentation_state_file(ps)).image
    plain = _plain(ct, made)
    grey = round(32768 * 255 / 65535)
    inside = np.zeros_like(out, dtype=bool)
    inside[9:50, 4:30] = True
    assert np.array_equal(out[inside], plain[inside])
    assert (out[~inside] == grey).all()


def test_circular_and_polygonal_shutters_row_column(tmp_path: Path, ct: Path, made: Path
                                                    ) -> None:
    ps = _grey_ps(tmp_path, made, ShutterShape="CIRCULAR\\POLYGONAL",
                  CenterOfCircularShutter=[30, 20], RadiusOfCircularShutter=15,
                  VerticesOfThePolygonalShutter=[1, 1, 1, 40, 64, 1])
    out = present_file(ct, read_presentation_state_file(ps)).image
    plain = _plain(ct, made)
    r, c = np.mgrid[1:ROWS + 1, 1:COLUMNS + 1]
    in_circle = (r - 30) ** 2 + (c - 20) ** 2 <= 15**2
    in_triangle = c <= 40 - (r - 1) * 39 / 63 + 1e-9  # edges inside, as a rectangle's
    visible = in_circle & in_triangle
    assert np.array_equal(out[visible], plain[visible])
    assert (out[~visible] == 128).all()
    assert 0 < visible.sum() < in_circle.sum()  # both shapes cut


def test_bitmap_shutter_through_an_overlay_in_the_state(tmp_path: Path, ct: Path, made: Path
                                                        ) -> None:
    ds = dcmread(made)
    hidden = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    hidden[:, :10] = 1
    _put_overlay(ds, 0x6002, hidden)
    ds.ShutterShape = "BITMAP"
    ds.ShutterOverlayGroup = 0x6002
    ds.ShutterPresentationValue = 65535
    ds.save_as(tmp_path / "ps.dcm")
    out = present_file(ct, read_presentation_state_file(tmp_path / "ps.dcm")).image
    assert (out[:, :10] == 255).all()
    assert np.array_equal(out[:, 10:], _plain(ct, made)[:, 10:])


def test_bitmap_shutter_naming_an_overlay_of_the_image(tmp_path: Path) -> None:
    pixels = np.full((ROWS, COLUMNS), 4000, dtype=np.uint16)
    image = image_dataset(pixels, bits_stored=12, WindowCenter=2048, WindowWidth=4096)
    hidden = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    hidden[-8:, :] = 1
    _put_overlay(image, 0x6006, hidden)
    path = save(image, tmp_path / "img.dcm")
    ds = dcmread(dcmpsmk(path, tmp_path / "made.dcm", "-o"))
    ds.ShutterShape, ds.ShutterOverlayGroup, ds.ShutterPresentationValue = "BITMAP", 0x6006, 0
    ds.save_as(tmp_path / "ps.dcm")
    out = present_file(path, read_presentation_state_file(tmp_path / "ps.dcm")).image
    assert (out[-8:] == 0).all() and (out[:-8] > 240).all()
    del ds.ShutterOverlayGroup
    ds.ShutterOverlayGroup = 0x6008  # no such plane anywhere
    ds.save_as(tmp_path / "bad.dcm")
    with pytest.raises(PresentationStateError, match="6008 is neither"):
        present_file(path, read_presentation_state_file(tmp_path / "bad.dcm"))


def test_image_header_bitmap_shutter_is_not_drawn_as_an_overlay(tmp_path: Path) -> None:
    pixels = np.full((ROWS, COLUMNS), 2048, dtype=np.uint16)
    image = image_dataset(pixels, bits_stored=12, WindowCenter=2048, WindowWidth=4096,
                          Modality="XA", ShutterShape="BITMAP", ShutterOverlayGroup=0x6000,
                          ShutterPresentationValue=0)
    hidden = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    hidden[:, :5] = 1
    _put_overlay(image, 0x6000, hidden)
    frame = decode_frame(save(image, tmp_path / "xa.dcm"))
    assert frame.info.overlays == () and frame.info.shutter is not None
    out = to_display(frame.array, frame.info)
    assert (out[:, :5] == 0).all() and (out[:, 5:] == 127).all()


def test_shutter_colour_from_cielab() -> None:
    assert cielab_to_rgb((65535, 32896, 32896)) == (255, 255, 255)
    red = cielab_to_rgb((int(53.24 / 100 * 65535), int((80.09 + 128) / 255 * 65535),
                         int((67.2 + 128) / 255 * 65535)))
    assert red[0] >= 250 and red[1] <= 10 and red[2] <= 10


def test_image_header_shutter_applied_without_a_state(tmp_path: Path) -> None:
    pixels = np.full((20, 30), 1000, dtype=np.uint16)
    ds = image_dataset(pixels, bits_stored=12, Modality="DX", WindowCenter=500, WindowWidth=200,
                       ShutterShape="CIRCULAR", CenterOfCircularShutter=[10, 15],
                       RadiusOfCircularShutter=5, ShutterPresentationValue=0)
    path = save(ds, tmp_path / "dx.dcm")
    frame = decode_frame(path)
    out = to_display(frame.array, frame.info)
    visible = shutter_mask(frame.info.shutter, 20, 30)  # type: ignore[arg-type]
    assert visible.sum() == np.count_nonzero((np.mgrid[1:21, 1:31][0] - 10) ** 2
                                             + (np.mgrid[1:21, 1:31][1] - 15) ** 2 <= 25)
    assert (out[visible] == 255).all() and (out[~visible] == 0).all()
    assert (to_display(frame.array, frame.info, DisplayState(shutters=False)) == 255).all()


def test_image_header_shutter_in_print_at_12_bits(tmp_path: Path) -> None:
    """Print's 12-bit path paints the header's shutter where the 8-bit pipeline does."""
    from viewer.printing.compose import PixelDepth, render

    pixels = np.full((20, 30), 1000, dtype=np.uint16)
    ds = image_dataset(pixels, bits_stored=12, Modality="CR", WindowCenter=500, WindowWidth=200,
                       ShutterShape="RECTANGULAR", ShutterLeftVerticalEdge=3,
                       ShutterRightVerticalEdge=20, ShutterUpperHorizontalEdge=2,
                       ShutterLowerHorizontalEdge=15, ShutterPresentationValue=65535 // 5)
    frame = decode_frame(save(ds, tmp_path / "cr.dcm"))
    grey8 = render(frame.array, frame.info, DisplayState(), PixelDepth.GRAY8)
    grey12 = render(frame.array, frame.info, DisplayState(), PixelDepth.GRAY12)
    assert np.array_equal(grey8 == 51, grey12 == 819)  # 65535 / 5 -> 255 / 5, 4095 / 5
    assert (grey12[1:15, 2:20] == 4095).all() and (grey12 == 819).sum() == 600 - 14 * 18


# --- overlay activation (C.11.7) ---------------------------------------------------------------


def _put_overlay(ds: Dataset, group: int, mask: np.ndarray, origin: tuple[int, int] = (1, 1)
                 ) -> None:
    from pydicom.pixels import pack_bits

    ds.add_new((group, 0x0010), "US", mask.shape[0])
    ds.add_new((group, 0x0011), "US", mask.shape[1])
    ds.add_new((group, 0x0040), "CS", "G")
    ds.add_new((group, 0x0050), "SS", list(origin))
    ds.add_new((group, 0x0100), "US", 1)
    ds.add_new((group, 0x0102), "US", 0)
    ds.add_new((group, 0x3000), "OW", pack_bits(mask.ravel()))


def _layer(name: str, grey: int | None) -> Dataset:
    item = Dataset()
    item.GraphicLayer = name
    item.GraphicLayerOrder = 1
    if grey is not None:
        item.GraphicLayerRecommendedDisplayGrayscaleValue = grey
    return item


def test_only_activated_overlays_drawn_in_their_layer_grey(tmp_path: Path) -> None:
    pixels = np.zeros((ROWS, COLUMNS), dtype=np.uint16)
    image = image_dataset(pixels, bits_stored=12, WindowCenter=2048, WindowWidth=4096)
    ring = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    ring[5, :] = 1
    other = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    other[:, 7] = 1
    _put_overlay(image, 0x6000, ring)
    _put_overlay(image, 0x6004, other)  # in the image, not activated: never shown
    path = save(image, tmp_path / "img.dcm")
    made = dcmpsmk(path, tmp_path / "made.dcm", "-o")  # overlays ignored by dcmpsmk
    ds = dcmread(made)
    for group in range(0x6000, 0x6020, 2):  # whatever dcmpsmk activated: we choose here
        if (group, 0x1001) in ds:
            del ds[group, 0x1001]
    own = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    own[20:22, 20:22] = 1
    _put_overlay(ds, 0x6002, own)  # the state's own plane
    ds.add_new((0x6000, 0x1001), "CS", "GREY")
    ds.add_new((0x6002, 0x1001), "CS", "WHITE")
    ds.GraphicLayerSequence = sequence(_layer("GREY", 0x4000), _layer("WHITE", None))
    ds.save_as(tmp_path / "ps.dcm")
    out = present_file(path, read_presentation_state_file(tmp_path / "ps.dcm")).image
    assert (out[5, :] == round(0x4000 * 255 / 65535)).all()
    assert (out[20:22, 20:22] == 255).all()
    assert (out[10:, 7] == 0).all()  # 6004 not activated
    drawn = np.zeros_like(out, dtype=bool)
    drawn[5, :] = drawn[20:22, 20:22] = True
    assert not out[~drawn].any()


# --- colour and pseudo-colour states -----------------------------------------------------------


def test_pseudo_colour_state_maps_voi_output_through_its_palette(tmp_path: Path, ct: Path,
                                                                  made: Path) -> None:
    ds = dcmread(made)
    ds.SOPClassUID = PresentationKind.PSEUDO_COLOR.value
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    del ds.PresentationLUTShape
    ramp = np.arange(256, dtype=np.uint16) * 257
    for colour, data in (("Red", ramp), ("Green", ramp[::-1]), ("Blue", np.zeros(256, np.uint16))):
        keyword = f"{colour}PaletteColorLookupTableDescriptor"
        ds[keyword] = _us(keyword, [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", data.tobytes())
    ds.save_as(tmp_path / "ps.dcm")
    out = present_file(ct, read_presentation_state_file(tmp_path / "ps.dcm")).image
    grey = _plain(ct, made)
    assert out.shape == (ROWS, COLUMNS, 3)
    assert np.abs(out[..., 0].astype(int) - grey).max() <= 1
    assert np.abs(out[..., 1].astype(int) - (255 - grey)).max() <= 1
    assert not out[..., 2].any()


def _us(keyword: str, value: list[int]) -> object:
    from pydicom.datadict import tag_for_keyword
    from pydicom.dataelem import DataElement

    return DataElement(tag_for_keyword(keyword), "US", value)


def test_colour_state_keeps_colours_and_applies_geometry_and_shutter(tmp_path: Path) -> None:
    rgb = np.zeros((ROWS, COLUMNS, 3), dtype=np.uint8)
    rgb[..., 0] = np.arange(COLUMNS) * 5
    rgb[..., 1] = (np.arange(ROWS) * 3)[:, None]
    image = image_dataset(rgb[..., 0], photometric="RGB")
    image.SamplesPerPixel, image.PlanarConfiguration = 3, 0
    image.PixelData = rgb.tobytes()
    path = save(image, tmp_path / "rgb.dcm")
    ps = Dataset()
    ps.SOPClassUID = PresentationKind.COLOR.value
    ps.SOPInstanceUID = "1.2.3.9"
    ps.ContentLabel, ps.PresentationCreationDate = "COLOUR", "20261207"
    from PIL import ImageCms

    # sRGB, as the picture's pixels are taken to be: the colours pass unchanged
    ps.ICCProfile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    series = Dataset()
    series.SeriesInstanceUID = image.SeriesInstanceUID
    series.ReferencedImageSequence = sequence(ref)
    ps.ReferencedSeriesSequence = sequence(series)
    ps.DisplayedAreaSelectionSequence = sequence(_area((1, 1), (COLUMNS, ROWS)))
    ps.ImageRotation = 180
    ps.ShutterShape = "RECTANGULAR"
    ps.ShutterLeftVerticalEdge, ps.ShutterRightVerticalEdge = 1, COLUMNS
    ps.ShutterUpperHorizontalEdge, ps.ShutterLowerHorizontalEdge = 1, ROWS // 2
    ps.ShutterPresentationColorCIELabValue = [65535, 32896, 32896]
    state = read_presentation_state(ps)
    frame = decode_frame(path)
    out = apply_presentation_state(frame.array, frame.info, state, image.SOPInstanceUID).image
    turned = np.rot90(rgb, 2)
    assert np.array_equal(out[ROWS // 2:], turned[ROWS // 2:])  # the image's top half, turned
    assert (out[: ROWS // 2] == 255).all()  # the shuttered bottom half, white


# --- bad input -----------------------------------------------------------------------------------


def test_state_for_another_image_refused_with_one_line(tmp_path: Path, ct: Path, made: Path
                                                       ) -> None:
    other = textured_ct(tmp_path / "other.dcm")
    with pytest.raises(PresentationStateError) as caught:
        present_file(other, read_presentation_state_file(made))
    message = str(caught.value)
    assert "\n" not in message and str(made) in message and str(other) in message
    assert "does not reference" in message


def test_state_for_another_frame_refused(tmp_path: Path, made: Path) -> None:
    ds = dcmread(made)
    ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedFrameNumber = 2
    ds.save_as(tmp_path / "ps.dcm")
    frames = np.zeros((3, ROWS, COLUMNS), dtype=np.uint16)
    image = dcmread(tmp_path / "ct.dcm")
    multi = image_dataset(frames, bits_stored=12)
    multi.SOPInstanceUID = image.SOPInstanceUID
    path = save(multi, tmp_path / "multi.dcm")
    ps = read_presentation_state_file(tmp_path / "ps.dcm")
    assert present_file(path, ps, frame=2).image.shape == (ROWS, COLUMNS)
    with pytest.raises(PresentationStateError, match="references frame\\(s\\) 2 .*not frame 1"):
        present_file(path, ps, frame=1)


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.7, 0.9, 0.97, 0.995])
def test_truncated_state_refused(tmp_path: Path, made: Path, fraction: float) -> None:
    raw = made.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(PresentationStateError) as caught:
        read_presentation_state_file(cut)
    assert "\n" not in str(caught.value) and str(cut) in str(caught.value)


@pytest.mark.parametrize(("keyword", "value", "reason"), [
    ("ImageRotation", 45, "Image Rotation 45"),
    ("ImageHorizontalFlip", "X", "Image Horizontal Flip"),
    ("PresentationLUTShape", "LOG", "Presentation LUT Shape"),
    ("SOPClassUID", "1.2.840.10008.5.1.4.1.1.2", "not a softcopy presentation state"),
    ("ShutterShape", "RECTANGULAR", "lacks"),
    ("ReferencedSeriesSequence", None, "references no image"),
])
def test_invalid_state_refused(tmp_path: Path, made: Path, keyword: str, value: object,
                               reason: str) -> None:
    ps = edit(made, tmp_path / "bad.dcm", **{keyword: value})
    with pytest.raises(PresentationStateError, match=reason):
        read_presentation_state_file(ps)


def test_absurd_displayed_area_refused(tmp_path: Path, ct: Path, made: Path) -> None:
    ps = edit(made, tmp_path / "ps.dcm", DisplayedAreaSelectionSequence=sequence(
        _area((-2_000_000_000, 1), (2_000_000_000, ROWS))))
    with pytest.raises(PresentationStateError, match="more than"):
        present_file(ct, read_presentation_state_file(ps))


def test_damaged_states_never_crash(tmp_path: Path, ct: Path, made: Path) -> None:
    """Mutations of a valid state (bytes flipped, cut short, lying lengths, wrong VRs...):
    each one is read and applied, or refused as a PresentationStateError; nothing else."""
    raw = made.read_bytes()
    layout = layout_of(raw)
    rng = random.Random(17)
    refused = 0
    for n in range(150):
        kind, data = mutate(raw, layout, rng)
        path = tmp_path / f"m{n}.dcm"
        path.write_bytes(data)
        try:
            present_file(ct, read_presentation_state_file(path))
        except PresentationStateError as exc:
            assert "\n" not in str(exc), kind
            refused += 1
    assert refused > 0


def test_frame_info_untouched_by_a_state(ct: Path, made: Path) -> None:
    """Applying is pure: the image's FrameInfo keeps its own window and shutter."""
    frame = decode_frame(ct)
    before = frame_info(dcmread(ct))
    ps = read_presentation_state_file(made).state
    uid = dcmread(ct).SOPInstanceUID
    first = apply_presentation_state(frame.array, frame.info, ps, uid).image
    assert frame.info.windows == before.windows and frame.info.rescale_intercept == -1024
    assert np.array_equal(apply_presentation_state(frame.array, frame.info, ps, uid).image, first)
