"""Presentation states made from what the user sees: valid for dcmpschk and dciodvfy, rendered
by DCMTK's dcmp2pgm as we show the image, each ViewState field written as PS3.3 says."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import MultiFrameGrayscaleWordSecondaryCaptureImageStorage

from tests.dicom.makers import image_dataset
from tests.reports import dcmtk
from viewer.cli import main
from viewer.dicom import demo
from viewer.dicom.display import DisplayState, render_frame
from viewer.dicom.frameinfo import VOIFunction
from viewer.reports.create_ps import content_label, create_presentation_state
from viewer.reports.view_state import (
    CircleShutter,
    Measurement,
    PolygonShutter,
    PresentationSizeMode,
    RectangleShutter,
    Shape,
    ViewedImage,
    ViewState,
    from_pixel_centres,
    spatial_transformation,
)

ROWS, COLUMNS = 48, 64  # not square: a quarter turn changes the picture's shape


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two slices of the synthetic chest CT (0.7 mm pixels, windows 40/400 and -600/1500)."""
    root = tmp_path_factory.mktemp("ct")
    return demo.write_ct_series(root, slices=2, rows=ROWS, columns=COLUMNS)


def _image(path: Path, frame: int = 1) -> ViewedImage:
    return ViewedImage.of(dcmread(path), frame)


# dciodvfy compares the displayed area's corners (SL) as unsigned numbers: a corner left of or
# above the image (a zoomed-out view, valid in C.10.4) reads as 4294967289 and "is not above
# and to the left of" the other. DCMTK reads the same values as meant (tested below).
DCIODVFY_UNSIGNED_CORNERS = re.compile(
    r"^Error - DisplayedAreaSelectionSequence is internally inconsistent - "
    r"DisplayedAreaTopLeftHandCorner = \(42949672\d\d,"
)


def _made(tmp_path: Path, images: list[ViewedImage], view: ViewState, name: str = "ps.dcm",
          **kwargs: Any) -> tuple[Path, Dataset]:
    ps = create_presentation_state(images, view, **kwargs)
    path = dcmtk.save(ps, tmp_path / name)
    assert dcmtk.dcmpschk(path) == []
    errors, _ = dcmtk.dciodvfy(path)
    assert [e for e in errors if not DCIODVFY_UNSIGNED_CORNERS.match(e)] == []
    return path, dcmread(path)


# --- every field of the view, as the standard says --------------------------------------------

LINE = Measurement(Shape.LINE, ((10.0, 10.0), (40.0, 30.0)), text="12.3 mm")

# field value -> the top-level attributes that change against the default view, and a check
FIELDS: dict[str, tuple[ViewState, set[str], Callable[[Dataset], bool]]] = {
    "window": (
        ViewState(window=(-600.0, 1500.0)), {"SoftcopyVOILUTSequence"},
        lambda ps: (float(ps.SoftcopyVOILUTSequence[0].WindowCenter),
                    float(ps.SoftcopyVOILUTSequence[0].WindowWidth)) == (-600.0, 1500.0),
    ),
    "voi_function": (
        ViewState(voi_function=VOIFunction.SIGMOID, window=(40.0, 400.0)),
        {"SoftcopyVOILUTSequence"},
        lambda ps: ps.SoftcopyVOILUTSequence[0].VOILUTFunction == "SIGMOID",
    ),
    "invert": (
        ViewState(invert=True), {"PresentationLUTShape"},
        lambda ps: ps.PresentationLUTShape == "INVERSE",
    ),
    # the displayed area's corners are those shown top left and bottom right (C.10.4)
    "rotation": (
        ViewState(rotation=270), {"ImageRotation", "DisplayedAreaSelectionSequence"},
        lambda ps: ps.ImageRotation == 270
        and list(ps.DisplayedAreaSelectionSequence[0].DisplayedAreaTopLeftHandCorner)
        == [COLUMNS, 1],
    ),
    "horizontal_flip": (
        ViewState(horizontal_flip=True), {"ImageHorizontalFlip", "DisplayedAreaSelectionSequence"},
        lambda ps: ps.ImageHorizontalFlip == "Y"
        and list(ps.DisplayedAreaSelectionSequence[0].DisplayedAreaTopLeftHandCorner)
        == [COLUMNS, 1],
    ),
    "displayed_area": (
        ViewState(displayed_area=(10.2, 5.0, 50.3, 40.0)), {"DisplayedAreaSelectionSequence"},
        lambda ps: (list(ps.DisplayedAreaSelectionSequence[0].DisplayedAreaTopLeftHandCorner),
                    list(ps.DisplayedAreaSelectionSequence[0].DisplayedAreaBottomRightHandCorner))
        == ([11, 6], [51, 40]),
    ),
    "size_mode TRUE SIZE": (
        ViewState(size_mode=PresentationSizeMode.TRUE_SIZE), {"DisplayedAreaSelectionSequence"},
        lambda ps: ps.DisplayedAreaSelectionSequence[0].PresentationSizeMode == "TRUE SIZE",
    ),
    "size_mode MAGNIFY, magnification": (
        ViewState(size_mode=PresentationSizeMode.MAGNIFY, magnification=2.5),
        {"DisplayedAreaSelectionSequence"},
        lambda ps: ps.DisplayedAreaSelectionSequence[0].PresentationSizeMode == "MAGNIFY"
        and float(ps.DisplayedAreaSelectionSequence[0].PresentationPixelMagnificationRatio)
        == 2.5,
    ),
    "rectangular shutter": (
        ViewState(shutters=(RectangleShutter(10.0, 4.0, 30.0, 40.0),)),
        {"ShutterShape", "ShutterLeftVerticalEdge", "ShutterRightVerticalEdge",
         "ShutterUpperHorizontalEdge", "ShutterLowerHorizontalEdge", "ShutterPresentationValue"},
        # the pixels whose centres lie inside: columns 11..30, rows 5..40 (1-based)
        lambda ps: ps.ShutterShape == "RECTANGULAR"
        and (ps.ShutterLeftVerticalEdge, ps.ShutterRightVerticalEdge,
             ps.ShutterUpperHorizontalEdge, ps.ShutterLowerHorizontalEdge) == (11, 30, 5, 40),
    ),
    "circular shutter": (
        ViewState(shutters=(CircleShutter((32.0, 24.0), 20.0),)),
        {"ShutterShape", "CenterOfCircularShutter", "RadiusOfCircularShutter",
         "ShutterPresentationValue"},
        lambda ps: list(ps.CenterOfCircularShutter) == [25, 33]  # row\column, 1-based
        and ps.RadiusOfCircularShutter == 20,
    ),
    "polygonal shutter": (
        ViewState(shutters=(PolygonShutter(((1.5, 1.5), (60.5, 2.5), (30.5, 45.5))),)),
        {"ShutterShape", "VerticesOfThePolygonalShutter", "ShutterPresentationValue"},
        lambda ps: list(ps.VerticesOfThePolygonalShutter) == [2, 2, 3, 61, 46, 31],
    ),
    "shutter_value": (
        ViewState(shutters=(RectangleShutter(0, 0, 20, 20),), shutter_value=0xFFFF),
        {"ShutterShape", "ShutterLeftVerticalEdge", "ShutterRightVerticalEdge",
         "ShutterUpperHorizontalEdge", "ShutterLowerHorizontalEdge", "ShutterPresentationValue"},
        lambda ps: ps.ShutterPresentationValue == 0xFFFF,
    ),
    "measurements": (
        ViewState(measurements=(LINE,)), {"GraphicAnnotationSequence", "GraphicLayerSequence"},
        lambda ps: ps.GraphicLayerSequence[0].GraphicLayer == "MEASUREMENTS"
        and list(ps.GraphicAnnotationSequence[0].GraphicObjectSequence[0].GraphicData)
        == [10.0, 10.0, 40.0, 30.0]
        and ps.GraphicAnnotationSequence[0].TextObjectSequence[0].UnformattedTextValue
        == "12.3 mm",
    ),
}

_VOLATILE = {"SOPInstanceUID", "SeriesInstanceUID", "PresentationCreationDate",
             "PresentationCreationTime", "InstanceCreationDate", "InstanceCreationTime",
             "ContentDate", "ContentTime", "SeriesDate", "SeriesTime", "ContributionDateTime"}


def _flat(ds: Dataset) -> dict[str, object]:
    out: dict[str, object] = {}
    for elem in ds:
        if elem.keyword in _VOLATILE:
            continue
        value = elem.value
        if isinstance(value, DicomSequence):
            out[elem.keyword] = [_flat(item) for item in value]
        elif isinstance(value, list | MultiValue):
            out[elem.keyword] = [str(v) for v in value]
        else:
            out[elem.keyword] = "" if value is None else str(value)
    return out


@pytest.mark.parametrize("field", FIELDS, ids=list(FIELDS))
def test_each_view_field_changes_the_dataset_as_the_standard_says(
    field: str, ct: list[Path], tmp_path: Path
) -> None:
    view, changed, holds = FIELDS[field]
    image = _image(ct[0])
    _, base = _made(tmp_path, [image], ViewState(), "base.dcm")
    _, made = _made(tmp_path, [image], view)
    flat_base, flat_made = _flat(base), _flat(made)
    differing = {k for k in flat_base.keys() | flat_made.keys()
                 if flat_base.get(k) != flat_made.get(k)}
    assert differing == changed
    assert holds(made)


def test_the_default_view_is_the_files_own(ct: list[Path], tmp_path: Path) -> None:
    path, ps = _made(tmp_path, [_image(ct[0])], ViewState())
    assert dcmtk.dciodvfy(path) == ([], [])  # not even a warning for a CT chest
    assert ps.BodyPartExamined == "CHEST" and "Laterality" not in ps
    voi = ps.SoftcopyVOILUTSequence[0]
    assert (float(voi.WindowCenter), float(voi.WindowWidth)) == (40.0, 400.0)
    assert voi.WindowCenterWidthExplanation == "ABDOMEN"
    assert ps.PresentationLUTShape == "IDENTITY"
    assert (ps.ImageRotation, ps.ImageHorizontalFlip) == (0, "N")
    area = ps.DisplayedAreaSelectionSequence[0]
    assert list(area.DisplayedAreaTopLeftHandCorner) == [1, 1]
    assert list(area.DisplayedAreaBottomRightHandCorner) == [COLUMNS, ROWS]
    assert area.PresentationSizeMode == "SCALE TO FIT"
    assert [float(v) for v in area.PresentationPixelSpacing] == [0.7, 0.7]
    assert "ShutterShape" not in ps and "GraphicAnnotationSequence" not in ps
    assert (float(ps.RescaleSlope), float(ps.RescaleIntercept)) == (1.0, -1024.0)


def test_every_field_at_once_is_valid(ct: list[Path], tmp_path: Path) -> None:
    view = ViewState(
        window=(40.0, 400.0), voi_function=VOIFunction.LINEAR_EXACT, invert=True, rotation=90,
        horizontal_flip=True, displayed_area=(10.0, 5.0, 50.3, 40.0),
        size_mode=PresentationSizeMode.MAGNIFY, magnification=2.0,
        shutters=(RectangleShutter(2, 2, 60, 40), CircleShutter((32, 24), 30),
                  PolygonShutter(((1, 1), (63, 1), (32, 47)))),
        shutter_value=0x8000,
        measurements=(
            Measurement(Shape.LINE, ((10, 10), (40, 30))),
            Measurement(Shape.ANGLE, ((10, 10), (30, 30), (50, 10))),
            Measurement(Shape.ELLIPSE, ((10, 10), (30, 20)), text="mean 40.2 HU é 张"),
            Measurement(Shape.CIRCLE, ((30, 30), (35, 30))),
            Measurement(Shape.POINT, ((3, 3),)),
        ),
    )
    path, _ = _made(tmp_path, [_image(ct[0]), _image(ct[1])], view, label="Chest",
                    description="Fenêtre é 张", creator="Dupont^Emile")
    assert dcmtk.dciodvfy(path) == ([], [])


def test_monochrome1_shown_as_stored_is_inverse(tmp_path: Path) -> None:
    """C.11.6.1: the Presentation LUT Shape carries the polarity; MONOCHROME1 shown as meant
    is INVERSE, and inverted by the user IDENTITY."""
    ds = image_dataset(np.zeros((16, 16), np.uint16), photometric="MONOCHROME1",
                       WindowCenter=100, WindowWidth=200, PatientName="X", PatientID="1")
    image = ViewedImage.of(ds)
    assert create_presentation_state([image], ViewState()).PresentationLUTShape == "INVERSE"
    inverted = create_presentation_state([image], ViewState(invert=True))
    assert inverted.PresentationLUTShape == "IDENTITY"
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PresentationLUTShape = "INVERSE"  # the image's own polarity counts the same way
    assert create_presentation_state([ViewedImage.of(ds)],
                                     ViewState()).PresentationLUTShape == "INVERSE"


# --- DCMTK renders it as we show it --------------------------------------------------------------


@pytest.mark.parametrize("window", [(40.0, 400.0), (-600.0, 1500.0), (300.0, 1500.0)],
                         ids=["abdomen", "lung", "bone"])
@pytest.mark.parametrize("invert", [False, True], ids=["", "inverted"])
def test_dcmp2pgm_shows_the_window_as_we_do(
    window: tuple[float, float], invert: bool, ct: list[Path], tmp_path: Path
) -> None:
    path, _ = _made(tmp_path, [_image(ct[0])], ViewState(window=window, invert=invert))
    theirs, _ = dcmtk.dcmp2pgm(ct[0], path, tmp_path / "dcmtk.pgm")
    if invert:  # the core the viewport calls (`render` has no flag for it)
        ours = render_frame(ct[0], 0, DisplayState(window=window, invert=invert))
    else:
        out = tmp_path / "ours.png"
        assert main(["render", str(ct[0]), "--window", str(window[0]), str(window[1]),
                     "-o", str(out)]) == 0
        ours = np.asarray(Image.open(out))
    assert theirs.shape == ours.shape == (ROWS, COLUMNS)
    close = np.abs(theirs.astype(int) - ours.astype(int)) <= 2
    assert close.mean() >= 0.995
    assert len(np.unique(ours)) > 20  # the comparison is not between two flat pictures


@pytest.mark.parametrize("invert", [False, True], ids=["", "inverted"])
def test_dcmp2pgm_shows_monochrome1_as_we_do(invert: bool, tmp_path: Path) -> None:
    stored = np.tile(np.arange(0, 4096, 32, dtype=np.uint16), (32, 1))
    ds = image_dataset(stored, bits_stored=12, photometric="MONOCHROME1", PatientName="Doe^J",
                       PatientID="1", WindowCenter=2048, WindowWidth=4096)
    src = dcmtk.save(ds, tmp_path / "cr.dcm")
    path, _ = _made(tmp_path, [ViewedImage.of(ds)], ViewState(invert=invert))
    theirs, _ = dcmtk.dcmp2pgm(src, path, tmp_path / "dcmtk.pgm")
    ours = render_frame(src, 0, DisplayState(invert=invert))
    assert (np.abs(theirs.astype(int) - ours.astype(int)) <= 2).mean() >= 0.995
    assert (ours[0, 0] > ours[0, -1]) != invert  # MONOCHROME1: low values bright


def test_dcmp2pgm_shows_the_files_window_when_the_view_keeps_it(
    ct: list[Path], tmp_path: Path
) -> None:
    path, _ = _made(tmp_path, [_image(ct[1])], ViewState())
    theirs, _ = dcmtk.dcmp2pgm(ct[1], path, tmp_path / "dcmtk.pgm")
    ours = render_frame(ct[1], 0, DisplayState())  # the file's first window
    assert (np.abs(theirs.astype(int) - ours.astype(int)) <= 2).mean() >= 0.995


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("flip", [False, True], ids=["", "flipped"])
def test_dcmp2pgm_rotates_then_flips_exactly(
    rotation: int, flip: bool, ct: list[Path], tmp_path: Path
) -> None:
    """C.10.6: rotate clockwise, then flip horizontally; DCMTK's picture of our state is our
    picture turned and mirrored that way, pixel for pixel."""
    image = _image(ct[0])
    plain, _ = _made(tmp_path, [image], ViewState(window=(40.0, 400.0)), "plain.dcm")
    turned, _ = _made(tmp_path, [image], ViewState(window=(40.0, 400.0), rotation=rotation,
                                                   horizontal_flip=flip))
    upright, _ = dcmtk.dcmp2pgm(ct[0], plain, tmp_path / "plain.pgm")
    theirs, said = dcmtk.dcmp2pgm(ct[0], turned, tmp_path / "turned.pgm")
    assert f"Rotation: {rotation} degrees" in said or rotation == 0
    expected = np.rot90(upright, k=-rotation // 90)
    if flip:
        expected = np.fliplr(expected)
    assert theirs.shape == expected.shape
    assert np.array_equal(theirs, expected)


@pytest.mark.parametrize(
    ("area", "corners"),
    [
        (None, ((1, 1), (COLUMNS, ROWS))),
        ((10.0, 5.0, 50.0, 45.0), ((11, 6), (50, 45))),
        ((10.4, 5.6, 50.2, 45.9), ((11, 6), (51, 46))),  # every pixel shown in part
        ((-8.0, -4.0, 72.0, 52.0), ((-7, -3), (72, 52))),  # zoomed out: beyond the image
    ],
    ids=["whole", "whole-pixels", "part-pixels", "beyond"],
)
def test_dcmtk_reads_the_displayed_area_we_mean(
    area: tuple[float, float, float, float] | None,
    corners: tuple[tuple[int, int], tuple[int, int]],
    ct: list[Path], tmp_path: Path,
) -> None:
    path, ps = _made(tmp_path, [_image(ct[0])], ViewState(displayed_area=area))
    _, said = dcmtk.dcmp2pgm(ct[0], path, tmp_path / "out.pgm")
    (left, top), (right, bottom) = corners
    assert f"displayed area TLHC={left}\\{top} BRHC={right}\\{bottom}" in said
    item = ps.DisplayedAreaSelectionSequence[0]
    width = item.DisplayedAreaBottomRightHandCorner[0] - item.DisplayedAreaTopLeftHandCorner[0]
    height = item.DisplayedAreaBottomRightHandCorner[1] - item.DisplayedAreaTopLeftHandCorner[1]
    assert (width + 1, height + 1) == (right - left + 1, bottom - top + 1)


@pytest.mark.parametrize(
    ("rotation", "flip", "tlhc", "brhc"),
    [(0, False, (11, 6), (50, 45)), (90, False, (11, 45), (50, 6)),
     (180, False, (50, 45), (11, 6)), (270, False, (50, 6), (11, 45)),
     (0, True, (50, 6), (11, 45)), (90, True, (11, 6), (50, 45))],
)
def test_the_displayed_area_corners_are_those_shown_top_left_and_bottom_right(
    rotation: int, flip: bool, tlhc: tuple[int, int], brhc: tuple[int, int],
    ct: list[Path], tmp_path: Path,
) -> None:
    """C.10.4: the corner pixels as they are shown after the rotation and flip, in the image's
    own columns and rows (dciodvfy checks that they match the transformation)."""
    view = ViewState(displayed_area=(10.0, 5.0, 50.0, 45.0), rotation=rotation,
                     horizontal_flip=flip)
    path, ps = _made(tmp_path, [_image(ct[0])], view)
    item = ps.DisplayedAreaSelectionSequence[0]
    assert tuple(item.DisplayedAreaTopLeftHandCorner) == tlhc
    assert tuple(item.DisplayedAreaBottomRightHandCorner) == brhc
    _, said = dcmtk.dcmp2pgm(ct[0], path, tmp_path / "out.pgm")
    assert f"TLHC={tlhc[0]}\\{tlhc[1]} BRHC={brhc[0]}\\{brhc[1]}" in said


def test_a_zoomed_out_area_beyond_the_image_fails_dciodvfy_only_on_its_sign(
    ct: list[Path], tmp_path: Path
) -> None:
    path, _ = _made(tmp_path, [_image(ct[0])], ViewState(displayed_area=(-8, -4, 72, 52)))
    errors, _ = dcmtk.dciodvfy(path)
    assert len(errors) == 1 and DCIODVFY_UNSIGNED_CORNERS.match(errors[0])


def test_dcmtk_reads_the_shutters_we_mean(ct: list[Path], tmp_path: Path) -> None:
    view = ViewState(shutters=(RectangleShutter(10.0, 4.0, 30.0, 40.0),
                               CircleShutter((32.0, 24.0), 20.0),
                               PolygonShutter(((1.5, 1.5), (60.5, 2.5), (30.5, 45.5)))),
                     shutter_value=0x8000)
    path, _ = _made(tmp_path, [_image(ct[0])], view)
    _, said = dcmtk.dcmp2pgm(ct[0], path, tmp_path / "out.pgm")
    assert "Rectangular shutter: LV=11 RV=30 UH=5 LH=40" in said
    assert "Circular shutter: center=33\\25 radius=20" in said  # DCMTK prints x\y
    # our row\column vertices, printed by DCMTK as x\y
    assert "Polygonal shutter: points=3 coordinates=2\\2, 61\\3, 31\\46" in said
    assert "Shutter presentation value: 0x8000" in said


# --- measurements ------------------------------------------------------------------------------


def test_measurements_are_pixel_graphics_with_their_values(ct: list[Path], tmp_path: Path) -> None:
    shapes = (
        Measurement(Shape.LINE, ((0.5, 0.5), (30.5, 40.5))),
        Measurement(Shape.ANGLE, ((10.0, 10.0), (30.0, 30.0), (50.0, 10.0))),
        Measurement(Shape.RECTANGLE, ((10.0, 10.0), (30.0, 20.0)), text="mean 40.2 HU"),
        Measurement(Shape.ELLIPSE, ((10.0, 10.0), (30.0, 20.0))),
        Measurement(Shape.CIRCLE, ((30.0, 30.0), (35.0, 30.0))),
        Measurement(Shape.POLYGON, ((10.0, 10.0), (30.0, 10.0), (10.0, 30.0))),
        Measurement(Shape.POLYLINE, ((10.0, 10.0), (13.0, 14.0), (13.0, 24.0))),
        Measurement(Shape.POINT, ((3.0, 3.0),)),
    )
    _, ps = _made(tmp_path, [_image(ct[0])], ViewState(measurements=shapes))
    annotation = ps.GraphicAnnotationSequence[0]
    assert annotation.GraphicLayer == "MEASUREMENTS"
    graphics, texts = annotation.GraphicObjectSequence, annotation.TextObjectSequence
    assert all(g.GraphicAnnotationUnits == "PIXEL" for g in graphics)
    assert [g.GraphicType for g in graphics] == [
        "POLYLINE", "POLYLINE", "POLYLINE", "ELLIPSE", "CIRCLE", "POLYLINE", "POLYLINE", "POINT"]
    points = [np.reshape(np.asarray(g.GraphicData, float), (-1, 2)).tolist() for g in graphics]
    assert points[2] == [[10, 10], [30, 10], [30, 20], [10, 20], [10, 10]]  # closed
    assert points[3] == [[10, 15], [30, 15], [20, 10], [20, 20]]  # major axis first
    assert points[5][0] == points[5][-1]
    # 0.7 mm pixels: 50 px = 35 mm; a right angle; 20x10 px boxes; a circle of radius 5 px
    values = [t.UnformattedTextValue for t in texts]
    assert values == ["35 mm", "90°", "mean 40.2 HU", f"{math.pi * 50 * 0.49:.1f} mm²",
                      f"{math.pi * 25 * 0.49:.1f} mm²", f"{200 * 0.49:.0f} mm²", "10.5 mm"]
    for text in texts:  # anchored on its graphic, its box on the image
        assert text.AnchorPointAnnotationUnits == text.BoundingBoxAnnotationUnits == "PIXEL"
        assert text.AnchorPointVisibility == "Y"
        left, top = text.BoundingBoxTopLeftHandCorner
        right, bottom = text.BoundingBoxBottomRightHandCorner
        assert 0 <= left < right <= COLUMNS and 0 <= top < bottom <= ROWS
    anchors = [list(t.AnchorPoint) for t in texts]
    assert anchors[0] == [30.5, 40.5] and anchors[1] == [30.0, 30.0]


def test_without_pixel_spacing_measurements_stay_in_pixels_and_say_so(tmp_path: Path) -> None:
    ds = image_dataset(np.zeros((40, 40), np.uint16), WindowCenter=100, WindowWidth=200,
                       PatientName="X", PatientID="1")
    view = ViewState(measurements=(
        Measurement(Shape.LINE, ((0.0, 0.0), (30.0, 40.0))),
        Measurement(Shape.RECTANGLE, ((0.0, 0.0), (10.0, 5.0))),
    ))
    path, ps = _made(tmp_path, [ViewedImage.of(ds)], view)
    texts = [t.UnformattedTextValue for t in ps.GraphicAnnotationSequence[0].TextObjectSequence]
    assert texts == ["50 px (no pixel spacing)", "50 px² (no pixel spacing)"]
    area = ps.DisplayedAreaSelectionSequence[0]
    assert "PresentationPixelSpacing" not in area
    assert list(area.PresentationPixelAspectRatio) == [1, 1]
    with pytest.raises(ValueError, match=r"^image [0-9.]+ has no pixel spacing: TRUE SIZE"):
        create_presentation_state([ViewedImage.of(ds)],
                                  ViewState(size_mode=PresentationSizeMode.TRUE_SIZE))


def test_a_measurement_goes_on_the_image_it_was_drawn_on(ct: list[Path], tmp_path: Path) -> None:
    first, second = _image(ct[0]), _image(ct[1])
    view = ViewState(measurements=(
        Measurement(Shape.LINE, ((1.0, 1.0), (5.0, 5.0)), sop_instance_uid=second.sop_instance_uid),
        Measurement(Shape.POINT, ((2.0, 2.0),)),  # on every image
    ))
    _, ps = _made(tmp_path, [first, second], view)
    on = {a.ReferencedImageSequence[0].ReferencedSOPInstanceUID: len(a.GraphicObjectSequence)
          for a in ps.GraphicAnnotationSequence}
    assert on == {first.sop_instance_uid: 1, second.sop_instance_uid: 2}
    referenced = [i.ReferencedSOPInstanceUID for s in ps.ReferencedSeriesSequence
                  for i in s.ReferencedImageSequence]
    assert sorted(referenced) == sorted([first.sop_instance_uid, second.sop_instance_uid])


def test_frames_of_a_multiframe_image_are_referenced(tmp_path: Path) -> None:
    frames = np.arange(3 * 16 * 16, dtype=np.uint16).reshape(3, 16, 16)
    ds = image_dataset(frames, WindowCenter=300, WindowWidth=600, PatientName="X",
                       PatientID="1", PixelSpacing=[0.5, 0.5])
    ds.SOPClassUID = MultiFrameGrayscaleWordSecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    path = dcmtk.save(ds, tmp_path / "mf.dcm")
    images = [ViewedImage.of(ds, 2), ViewedImage.of(ds, 3)]
    view = ViewState(measurements=(Measurement(Shape.LINE, ((1.0, 1.0), (5.0, 4.0)), frame=3,
                                               sop_instance_uid=ds.SOPInstanceUID),))
    ps_path, ps = _made(tmp_path, images, view)
    item = ps.ReferencedSeriesSequence[0].ReferencedImageSequence[0]
    assert list(item.ReferencedFrameNumber) == [2, 3]
    (annotation,) = ps.GraphicAnnotationSequence
    assert annotation.ReferencedImageSequence[0].ReferencedFrameNumber == 3
    assert annotation.TextObjectSequence[0].UnformattedTextValue == "2.5 mm"
    theirs, _ = dcmtk.dcmp2pgm(path, ps_path, tmp_path / "f3.pgm", frame=3)
    ours = render_frame(path, 2, DisplayState(window=(300.0, 600.0)))
    assert (np.abs(theirs.astype(int) - ours.astype(int)) <= 2).mean() >= 0.995


# --- text: UTF-8 whatever the image's character set --------------------------------------------


@pytest.mark.parametrize(
    ("charset", "name"),
    [("ISO_IR 100", "Müller^Zoé"), ("GB18030", "张^三"), ("ISO_IR 192", "Lê^Thị")],
    ids=["latin1", "gb18030", "utf8"],
)
def test_text_is_utf8_and_round_trips(charset: str, name: str, tmp_path: Path) -> None:
    ds = image_dataset(np.zeros((32, 32), np.uint16), SpecificCharacterSet=charset,
                       PatientName=name, PatientID="ID1", StudyDescription="Thorax é",
                       WindowCenter=100, WindowWidth=200, PixelSpacing=[1, 1])
    src = dcmtk.save(ds, tmp_path / "src.dcm")
    view = ViewState(measurements=(
        Measurement(Shape.RECTANGLE, ((2.0, 2.0), (12.0, 12.0)), text="moyenne 40 UH é 张"),
    ))
    ps = create_presentation_state([ViewedImage.of(dcmread(src))], view, label="Poumon é",
                                   description="Fenêtre pulmonaire 张", creator="Dupont^Éloïse")
    path = dcmtk.save(ps, tmp_path / "ps.dcm")
    back = dcmread(path)
    assert back.SpecificCharacterSet == "ISO_IR 192"
    assert str(back.PatientName) == name
    assert back.StudyDescription == "Thorax é"
    assert back.ContentLabel == "POUMON"
    assert back.ContentDescription == "Fenêtre pulmonaire 张"
    assert str(back.ContentCreatorName) == "Dupont^Éloïse"
    text = back.GraphicAnnotationSequence[0].TextObjectSequence[0]
    assert text.UnformattedTextValue == "moyenne 40 UH é 张"
    raw = path.read_bytes()
    assert "Fenêtre pulmonaire 张".encode() in raw and name.encode() in raw
    # DCMTK's checker reads 0x80-0x9F bytes as control characters: "É" (C3 89) in the
    # creator's name, and the patient's name when it holds such a byte, are its only
    # complaints ("é", "ê", "ï", "张" hold none).
    problems = dcmtk.dcmpschk(path)
    affected = {line.split("Affected attribute: ")[1] for line in problems if "Affected" in line}
    expected = {"ContentCreatorName (0070,0084), Type PN"}
    if dcmtk.has_c1_bytes(name):
        expected.add("PatientName (0010,0010), Type PN")
    assert affected == expected
    errors = [line for line in problems if line.startswith("E: Error")]
    assert len(errors) == len(expected)
    assert all(dcmtk.DCMTK_C1_LIMITATION in line for line in errors)
    assert dcmtk.dciodvfy(path)[0] == []


def test_reopened_identically(ct: list[Path], tmp_path: Path) -> None:
    view = ViewState(window=(-600.0, 1500.0), invert=True, rotation=90, horizontal_flip=True,
                     displayed_area=(4.0, 4.0, 40.0, 30.0),
                     shutters=(CircleShutter((32.0, 24.0), 22.0),), shutter_value=0x4000,
                     measurements=(LINE,))
    made = create_presentation_state([_image(ct[0])], view, label="LUNG", description="é 张")
    first = dcmtk.save(made, tmp_path / "ps.dcm")
    back = dcmread(first)
    assert _flat(back) == _flat(made)
    assert dcmtk.save(back, tmp_path / "again.dcm").read_bytes() == first.read_bytes()


def test_content_label_is_a_code_string() -> None:
    assert content_label("Chest window") == "CHEST WINDOW"
    assert content_label("é lung") == "LUNG" or re.fullmatch(r"[A-Z][A-Z0-9 _]{0,15}",
                                                             content_label("é lung"))
    assert content_label("3 phases") == "L3 PHASES"
    assert content_label("") == "UNNAMED"
    assert len(content_label("a" * 40)) == 16


# --- what a viewport holds, turned into the state -----------------------------------------------


@pytest.mark.parametrize("turns", range(4))
@pytest.mark.parametrize("flip_h", [False, True])
@pytest.mark.parametrize("flip_v", [False, True])
def test_a_viewports_turns_and_mirrors_as_rotation_and_flip(
    turns: int, flip_h: bool, flip_v: bool
) -> None:
    """The reading window turns first, then mirrors; the state rotates, then flips (C.10.6):
    the same picture either way."""
    picture = np.arange(12).reshape(3, 4)
    shown = np.rot90(picture, k=-turns)
    if flip_h:
        shown = np.fliplr(shown)
    if flip_v:
        shown = np.flipud(shown)
    rotation, flip = spatial_transformation(turns, flip_h, flip_v)
    state = np.rot90(picture, k=-rotation // 90)
    if flip:
        state = np.fliplr(state)
    assert np.array_equal(state, shown)


def test_points_kept_at_pixel_centres_move_half_a_pixel() -> None:
    assert from_pixel_centres((0, 0)) == (0.5, 0.5)
    assert from_pixel_centres((9.25, 3)) == (9.75, 3.5)


# --- bad input: one line each ---------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo[ValueError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_bad_input_is_one_line(ct: list[Path], tmp_path: Path) -> None:
    image = _image(ct[0])
    with pytest.raises(ValueError) as exc:
        create_presentation_state([], ViewState())
    assert "no image selected" in _one_line(exc)
    with pytest.raises(ValueError) as exc:
        _image(ct[0], frame=2)
    assert _one_line(exc).endswith("frame 2 requested, it has 1")
    with pytest.raises(ValueError) as exc:
        create_presentation_state([image], ViewState(measurements=(
            Measurement(Shape.LINE, ((1.0, 1.0), (COLUMNS + 1.0, 5.0))),)))
    assert _one_line(exc).startswith("measurement 1: line measurement: point (65, 5) lies outside")
    with pytest.raises(ValueError) as exc:
        create_presentation_state([image], ViewState(measurements=(
            Measurement(Shape.LINE, ((1.0, 1.0), (2.0, 2.0)), sop_instance_uid="1.2.3"),)))
    assert "not among the images saved" in _one_line(exc)
    colour = image_dataset(np.zeros((8, 8, 3), np.uint8), photometric="RGB")
    colour.SamplesPerPixel = 3
    with pytest.raises(ValueError) as exc:
        create_presentation_state([ViewedImage.of(colour, 1)], ViewState())
    assert "is colour" in _one_line(exc)
    other = dcmread(ct[1])
    other.StudyInstanceUID = "1.2.3.4"
    with pytest.raises(ValueError) as exc:
        create_presentation_state([image, ViewedImage.of(other)], ViewState())
    assert "another study" in _one_line(exc)
    for bad in (
        lambda: ViewState(rotation=45),
        lambda: ViewState(window=(40.0, 0.0)),
        lambda: ViewState(displayed_area=(10.0, 10.0, 5.0, 20.0)),
        lambda: ViewState(size_mode=PresentationSizeMode.MAGNIFY),
        lambda: ViewState(shutters=(RectangleShutter(0, 0, 5, 5), RectangleShutter(1, 1, 4, 4))),
        lambda: Measurement(Shape.ANGLE, ((0.0, 0.0), (1.0, 1.0))),
    ):
        with pytest.raises(ValueError) as exc:
            bad()
        _one_line(exc)
    no_uid = dcmread(ct[0])
    del no_uid.SOPInstanceUID
    with pytest.raises(ValueError) as exc:
        ViewedImage.of(no_uid)
    assert _one_line(exc) == "the image header has no SOPInstanceUID"


def test_a_sparse_header_still_makes_a_valid_state(tmp_path: Path) -> None:
    """No patient name, birth date, sex, accession, study ID, date or time in the image:
    Type 2 in the state, written empty."""
    ds = image_dataset(np.zeros((16, 16), np.uint16), WindowCenter=100, WindowWidth=200)
    ps = create_presentation_state([ViewedImage.of(ds)], ViewState())
    path = dcmtk.save(ps, tmp_path / "ps.dcm")
    assert ps.PatientName == "" and ps.StudyID == "" and ps.StudyInstanceUID == ds.StudyInstanceUID
    assert dcmtk.dciodvfy(path)[0] == []
    # dcmpschk wants a patient name although Type 2 allows it empty; no name is invented
    assert dcmtk.dcmpschk(path) == ["W: patientName absent or empty in presentation state"]


# --- look-up tables instead of a window ----------------------------------------------------------


def _lut_item(first: int, data: np.ndarray, bits: int) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(data), first, bits]
    item.LUTExplanation = "curve"
    item.LUTData = np.asarray(data, dtype="<u2").tobytes()  # OW: 16-bit words
    return item


def test_the_files_voi_lut_is_kept_and_shown_as_we_do(tmp_path: Path) -> None:
    stored = np.tile(np.arange(0, 4096, 64, dtype=np.uint16), (16, 1))  # 64 columns
    ds = image_dataset(stored, bits_stored=12, PatientName="Doe^J", PatientID="1")
    curve = np.round(4095 * (np.arange(4096) / 4095) ** 0.5).astype(np.uint16)  # 12-bit out
    ds.VOILUTSequence = [_lut_item(0, curve, 12)]
    src = dcmtk.save(ds, tmp_path / "src.dcm")
    path, ps = _made(tmp_path, [ViewedImage.of(dcmread(src))], ViewState())
    table = ps.SoftcopyVOILUTSequence[0].VOILUTSequence[0]
    # 8 or 16 bits in a presentation state: the 12-bit table spread over 16 bits
    assert list(table.LUTDescriptor) == [4096, 0, 16]
    raw = table.LUTData
    words = np.frombuffer(raw, "<u2") if isinstance(raw, bytes) else np.asarray(raw)
    assert words[0] == 0 and words[-1] == 0xFFFF
    assert words[1024] == round(int(curve[1024]) * 65535 / 4095)
    theirs, _ = dcmtk.dcmp2pgm(src, path, tmp_path / "dcmtk.pgm")
    ours = render_frame(src, 0, DisplayState())  # no window: the file's VOI LUT
    assert (np.abs(theirs.astype(int) - ours.astype(int)) <= 2).mean() >= 0.995
    assert len(np.unique(ours)) > 40


def test_a_modality_lut_is_carried_over(tmp_path: Path) -> None:
    stored = np.tile(np.arange(0, 256, 4, dtype=np.uint16), (16, 1))
    ds = image_dataset(stored, bits_stored=8, PatientName="Doe^J", PatientID="1")
    ds.BitsAllocated = 16
    ds.ModalityLUTSequence = [_lut_item(0, (np.arange(256) * 200).astype(np.uint16), 16)]
    ds.ModalityLUTSequence[0].ModalityLUTType = "OD"
    src = dcmtk.save(ds, tmp_path / "src.dcm")
    path, ps = _made(tmp_path, [ViewedImage.of(dcmread(src))],
                     ViewState(window=(25000.0, 50000.0)))
    table = ps.ModalityLUTSequence[0]
    # modality values as they are, in 16-bit words
    assert list(table.LUTDescriptor) == [256, 0, 16] and table.ModalityLUTType == "OD"
    theirs, _ = dcmtk.dcmp2pgm(src, path, tmp_path / "dcmtk.pgm")
    ours = render_frame(src, 0, DisplayState(window=(25000.0, 50000.0)))
    assert (np.abs(theirs.astype(int) - ours.astype(int)) <= 2).mean() >= 0.995


def test_an_image_without_window_or_lut_needs_the_window_shown(tmp_path: Path) -> None:
    ds = image_dataset(np.zeros((8, 8), np.uint16), PatientName="Doe^J", PatientID="1")
    with pytest.raises(ValueError, match=r"has no window or VOI LUT of its own: the view must"):
        create_presentation_state([ViewedImage.of(ds)], ViewState())
    _made(tmp_path, [ViewedImage.of(ds)], ViewState(window=(100.0, 200.0)))
