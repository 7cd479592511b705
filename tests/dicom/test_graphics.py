"""Reading the Graphic Annotation and Graphic Layer modules of presentation states: what
highdicom writes, which items apply to which image and frame, malformed items, text in the
PS's character set."""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from tests.dicom import graphics_makers as mk
from viewer.dicom.graphics import (
    AnnotationUnits,
    GraphicLayer,
    GraphicObject,
    GraphicType,
    Justification,
    cielab_to_grey,
    cielab_to_rgb,
    layer_grey,
    layer_rgb,
    outline,
    read_graphic_annotations,
)


def _round_trip(ds: pydicom.Dataset) -> pydicom.Dataset:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return pydicom.dcmread(BytesIO(buffer.getvalue()))


def _highdicom_ps(image: pydicom.Dataset) -> pydicom.Dataset:
    under = hd.pr.GraphicLayer("UNDER", 1, description="drawn first")
    over = hd.pr.GraphicLayer("OVER", 5, display_color=hd.color.CIELabColor(50.0, 20.0, -30.0))
    over_annotation = hd.pr.GraphicAnnotation(
        [image], over,
        graphic_objects=[
            hd.pr.GraphicObject("POLYLINE", np.array([[10.0, 10.0], [50.0, 10.0], [50.0, 40.0]]),
                                "PIXEL"),
            hd.pr.GraphicObject("ELLIPSE", np.array([[0.2, 0.5], [0.8, 0.5], [0.5, 0.4],
                                                     [0.5, 0.6]]), "DISPLAY", is_filled=True),
        ],
        text_objects=[hd.pr.TextObject("over text", "DISPLAY", bounding_box=(0.1, 0.1, 0.4, 0.2),
                                       text_justification="RIGHT")],
    )
    under_annotation = hd.pr.GraphicAnnotation(
        [image], under,
        graphic_objects=[
            hd.pr.GraphicObject("POINT", np.array([[5.0, 6.0]]), "PIXEL"),
            hd.pr.GraphicObject("CIRCLE", np.array([[30.0, 30.0], [40.0, 30.0]]), "PIXEL",
                                is_filled=True),
            hd.pr.GraphicObject("INTERPOLATED",
                                np.array([[5.0, 50.0], [20.0, 40.0], [35.0, 55.0]]), "PIXEL"),
        ],
        text_objects=[hd.pr.TextObject("anchored", "PIXEL", anchor_point=(20.0, 20.0),
                                       anchor_point_visible=False)],
    )
    return hd.pr.GrayscaleSoftcopyPresentationState(
        [image], generate_uid(), 2, generate_uid(), 1, "tests", "tests", "1", "1", "LABEL",
        graphic_annotations=[over_annotation, under_annotation], graphic_layers=[over, under],
    )


def test_highdicom_presentation_state_is_read_in_layer_order() -> None:
    image = mk.patient_image()
    ps = _round_trip(_highdicom_ps(image))
    found = read_graphic_annotations(ps, image.SOPInstanceUID, 1)

    assert found.problems == ()
    assert [layer.name for layer in found.layers] == ["UNDER", "OVER"]
    under, over = found.layers
    assert (under.order, under.description, under.recommended_cielab) == (1, "drawn first", None)
    assert over.order == 5 and over.recommended_cielab is not None
    # Lower Graphic Layer Order first, file order within a layer.
    assert [(g.layer, g.graphic_type) for g in found.graphics] == [
        ("UNDER", GraphicType.POINT), ("UNDER", GraphicType.CIRCLE),
        ("UNDER", GraphicType.INTERPOLATED), ("OVER", GraphicType.POLYLINE),
        ("OVER", GraphicType.ELLIPSE),
    ]
    point, circle, curve, polyline, ellipse = found.graphics
    assert point.points == ((5.0, 6.0),) and point.units is AnnotationUnits.PIXEL
    assert circle.filled and circle.closed and circle.points == ((30.0, 30.0), (40.0, 30.0))
    assert curve.points == ((5.0, 50.0), (20.0, 40.0), (35.0, 55.0)) and not curve.filled
    assert polyline.points == ((10.0, 10.0), (50.0, 10.0), (50.0, 40.0))
    assert ellipse.units is AnnotationUnits.DISPLAY and ellipse.filled
    assert np.allclose(ellipse.points, [(0.2, 0.5), (0.8, 0.5), (0.5, 0.4), (0.5, 0.6)])
    anchored, boxed = found.texts
    assert (anchored.text, anchored.layer, anchored.anchor, anchored.anchor_visible,
            anchored.bounding_box) == ("anchored", "UNDER", (20.0, 20.0), False, None)
    assert boxed.text == "over text" and boxed.bounding_box_units is AnnotationUnits.DISPLAY
    assert boxed.bounding_box is not None
    assert np.allclose(boxed.bounding_box, (0.1, 0.1, 0.4, 0.2))
    assert boxed.justification is Justification.RIGHT


def _three_images() -> tuple[pydicom.Dataset, pydicom.Dataset, pydicom.Dataset]:
    multi = mk.patient_image(frames=3)
    other = mk.patient_image()
    other.SeriesInstanceUID = multi.SeriesInstanceUID
    unreferenced = mk.patient_image()
    return multi, other, unreferenced


def test_items_apply_to_the_images_and_frames_they_name() -> None:
    multi, other, unreferenced = _three_images()
    ps = mk.presentation_state(
        [multi, other],
        [
            mk.annotation("L", [mk.graphic("POINT", [(1, 1)])], images=[(multi, [2])]),
            mk.annotation("L", [mk.graphic("POINT", [(2, 2)])], images=[(multi, [1, 3])]),
            mk.annotation("L", [mk.graphic("POINT", [(3, 3)])], images=[(other, None)]),
            mk.annotation("L", [mk.graphic("POINT", [(4, 4)])]),  # every image of the PS
        ],
        [mk.layer("L", 1)],
    )
    ps = _round_trip(ps)

    def points(uid: str, frame: int) -> list[float]:
        found = read_graphic_annotations(ps, uid, frame)
        assert found.problems == ()
        return [g.points[0][0] for g in found.graphics]

    assert points(multi.SOPInstanceUID, 1) == [2, 4]
    assert points(multi.SOPInstanceUID, 2) == [1, 4]
    assert points(multi.SOPInstanceUID, 3) == [2, 4]
    assert points(other.SOPInstanceUID, 1) == [3, 4]
    assert points(unreferenced.SOPInstanceUID, 1) == []
    assert read_graphic_annotations(ps, unreferenced.SOPInstanceUID, 1).layers == ()


def test_frames_listed_by_the_presentation_state_limit_its_unreferenced_items() -> None:
    multi = mk.patient_image(frames=3)
    ps = mk.presentation_state([multi], [mk.annotation("L", [mk.graphic("POINT", [(1, 1)])])],
                               [mk.layer("L", 1)])
    ps.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedFrameNumber = [1, 3]
    ps = _round_trip(ps)
    counts = [len(read_graphic_annotations(ps, multi.SOPInstanceUID, f).graphics)
              for f in (1, 2, 3)]
    assert counts == [1, 0, 1]


def test_malformed_items_are_left_out_with_a_reason() -> None:
    image = mk.patient_image()
    wrong_count = mk.graphic("POLYLINE", [(1, 1), (5, 5)])
    wrong_count.NumberOfGraphicPoints = 3
    not_finite = mk.graphic("POLYLINE", [(1, 1), (float("nan"), 5)])
    odd_data = mk.graphic("POLYLINE", [(1, 1), (2, 2)])
    odd_data.GraphicData = [1.0, 1.0, 2.0]
    no_units = mk.graphic("POINT", [(1, 1)])
    del no_units.GraphicAnnotationUnits
    ps = mk.presentation_state(
        [image],
        [
            mk.annotation("NOWHERE", [mk.graphic("POINT", [(9, 9)])]),
            mk.annotation("L", [
                mk.graphic("CIRCLE", [(1, 1), (2, 2), (3, 3)]),
                mk.graphic("ELLIPSE", [(1, 1), (2, 2)]),
                mk.graphic("POINT", [(1, 1), (2, 2)]),
                mk.graphic("POLYLINE", [(1, 1)]),
                mk.graphic("SPLINE", [(1, 1), (2, 2)]),
                mk.graphic("POINT", [(1, 1)], units="MATRIX"),
                wrong_count, not_finite, odd_data, no_units,
                mk.graphic("POLYLINE", [(7, 7), (8, 8)]),  # the one good graphic
                mk.graphic("POLYLINE", [(1, 1), (9, 1), (9, 9)], filled=True),  # open, filled
            ], [
                mk.text("", box=(1, 1, 5, 5)),
                mk.text("no box, no anchor"),
                mk.text("flat box", box=(1, 1, 5, 1)),
                mk.text("good", box=(9, 9, 1, 1)),  # corners swapped: normalised
            ]),
        ],
        [mk.layer("L", 1), mk.layer("L", 2), mk.layer("", 3)],
    )
    found = read_graphic_annotations(_round_trip(ps), image.SOPInstanceUID, 1)

    assert [g.points for g in found.graphics] == [((7.0, 7.0), (8.0, 8.0)),
                                                  ((1.0, 1.0), (9.0, 1.0), (9.0, 9.0))]
    assert not found.graphics[1].filled
    assert [(t.text, t.bounding_box) for t in found.texts] == [("good", (1.0, 1.0, 9.0, 9.0))]
    reasons = "\n".join(found.problems)
    for expected in ("'NOWHERE' is not declared", "CIRCLE needs exactly 2 point(s), it has 3",
                     "ELLIPSE needs exactly 4 point(s), it has 2",
                     "POINT needs exactly 1 point(s), it has 2",
                     "POLYLINE needs at least 2 points, it has 1",
                     "Graphic Type 'SPLINE'", "Graphic Annotation Units 'MATRIX'",
                     "Number of Graphic Points 3 but Graphic Data holds 2 points",
                     "not a finite number", "holds 3 values, not column\\row pairs",
                     "Graphic Annotation Units missing", "Graphic Filled Y on an open POLYLINE",
                     "no Unformatted Text Value", "neither a bounding box nor an anchor",
                     "the bounding box has no area", "layer 'L' declared twice",
                     "no Graphic Layer name"):
        assert expected in reasons, expected
    assert all("\n" not in line for line in found.problems)
    assert len(found.problems) == 17


def test_unreadable_values_are_reasons_not_crashes(tmp_path: Path) -> None:
    """Graphic data that is not numbers (a wrong VR), an FL value whose length is no multiple
    of 4 bytes, and a file cut short inside the Graphic Annotation Sequence."""
    from pydicom.dataelem import DataElement, RawDataElement
    from pydicom.tag import BaseTag

    image = mk.patient_image()
    words = mk.graphic("POLYLINE", [(1, 1), (2, 2)])
    words["GraphicData"] = DataElement(0x00700022, "LO", ["one", "two"])
    count = mk.graphic("POINT", [(3, 3)])
    count["NumberOfGraphicPoints"] = DataElement(0x00700021, "LO", "one")
    good = mk.graphic("POLYLINE", [(1, 1), (30, 30)])
    ps = mk.presentation_state(
        [image], [mk.annotation("L", [words, count, good], [mk.text("kept", box=(1, 1, 20, 10))])],
        [mk.layer("L", 1)])
    found = read_graphic_annotations(ps, image.SOPInstanceUID, 1)
    assert [g.points for g in found.graphics] == [((1.0, 1.0), (30.0, 30.0))]
    assert any("Graphic Data is not numeric" in p for p in found.problems)
    assert any("Number of Graphic Points 'one' is not a number" in p for p in found.problems)

    odd = mk.graphic("POLYLINE", [(1, 1), (2, 2)])
    odd[0x00700022] = RawDataElement(BaseTag(0x00700022), "FL", 18, bytes(18), 0, False, True)
    ps = mk.presentation_state([image], [mk.annotation("L", [odd], [mk.text("kept", box=(1, 1,
                                                                                     20, 10))])],
                               [mk.layer("L", 1)])
    found = read_graphic_annotations(ps, image.SOPInstanceUID, 1)
    assert found.graphics == () and len(found.texts) == 1
    assert any("Graphic Object 1" in p for p in found.problems)

    path = tmp_path / "ps.dcm"
    ps = mk.presentation_state([image], [mk.annotation("L", [good])], [mk.layer("L", 1)])
    ps.save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    read = 0
    for end in range(data.index(b"\x70\x00\x01\x00") + 8, len(data), 3):
        try:  # refusing what pydicom cannot read is the file reader's job (files.read_dataset)
            truncated = pydicom.dcmread(BytesIO(data[:end]))
        except Exception:
            continue
        read += 1  # pydicom reads many cuts without complaint: those must not crash us
        result = read_graphic_annotations(truncated, image.SOPInstanceUID, 1)
        assert all(len(g.points) == 2 for g in result.graphics)
    assert read > 10


@pytest.mark.parametrize(
    ("charset", "encoding", "value"),
    [("ISO_IR 192", "utf-8", "肺结节 3 mm — größer"), ("GB18030", "gb18030", "右肺上叶结节"),
     ("ISO_IR 100", "latin-1", "Läsion rechts"), ("UTF-8", "utf-8", "病灶 ø")],
    ids=["utf8", "gb18030", "latin1", "misspelt-utf8"],
)
def test_text_is_decoded_in_the_presentation_states_character_set(
    tmp_path: Path, charset: str, encoding: str, value: str
) -> None:
    image = mk.patient_image()
    with warnings.catch_warnings():  # pydicom warns of the misspelt term we write on purpose
        warnings.simplefilter("ignore")
        ps = mk.presentation_state(
            [image], [mk.annotation("LESION", texts=[mk.text(value, box=(1, 1, 40, 20))])],
            [mk.layer("LESION", 1, description=value)], charset=charset)
    path = tmp_path / "ps.dcm"
    ps.save_as(path, enforce_file_format=True)
    raw = path.read_bytes()
    assert value.encode(encoding) in raw  # written in that character set, not UTF-8 anyway
    found = read_graphic_annotations(pydicom.dcmread(path), image.SOPInstanceUID, 1)
    assert [t.text for t in found.texts] == [value]
    assert found.layers[0].description == value
    if charset == "UTF-8":
        assert any("read as 'ISO_IR 192'" in p for p in found.problems)


def test_bytes_invalid_in_the_character_set_are_replaced_and_reported(tmp_path: Path) -> None:
    image = mk.patient_image()
    ps = mk.presentation_state(
        [image], [mk.annotation("L", texts=[mk.text("AAAA", box=(1, 1, 40, 20))])],
        [mk.layer("L", 1)], charset="ISO_IR 192")
    path = tmp_path / "ps.dcm"
    ps.save_as(path, enforce_file_format=True)
    path.write_bytes(path.read_bytes().replace(b"AAAA", b"A\xff\xfeA"))
    found = read_graphic_annotations(pydicom.dcmread(path), image.SOPInstanceUID, 1)
    assert found.texts[0].text.startswith("A") and "\ufffd" in found.texts[0].text
    assert any("UnformattedTextValue" in p and "replacement" in p for p in found.problems)


def test_colours_of_layers() -> None:
    white = (0xFFFF, 0x8080, 0x8080)
    assert cielab_to_rgb(white) == (255, 255, 255)
    assert cielab_to_rgb((0, 0x8080, 0x8080)) == (0, 0, 0)
    red = hd.color.CIELabColor(53.24, 80.09, 67.2)  # sRGB red, D65 Lab ~ D50-adapted
    r, g, b = cielab_to_rgb(tuple(red.value))  # type: ignore[arg-type]
    assert r > 200 and g < 80 and b < 80
    assert cielab_to_grey((0x8000, 0x8080, 0x8080)) == 128
    assert layer_grey(None) == 255 and layer_rgb(None) == (255, 255, 255)
    assert layer_grey(GraphicLayer("G", 1, recommended_grey=0x8000)) == 128
    assert layer_grey(GraphicLayer("C", 1, recommended_cielab=white)) == 255
    assert layer_rgb(GraphicLayer("G", 1, recommended_grey=0xFFFF)) == (255, 255, 255)
    assert layer_rgb(GraphicLayer("C", 1, recommended_cielab=white)) == (255, 255, 255)
    both = GraphicLayer("B", 1, recommended_grey=0x4000, recommended_cielab=white)
    assert (layer_grey(both), layer_rgb(both)) == (64, (255, 255, 255))


def test_outline_samples_curves_through_their_points() -> None:
    circle = GraphicObject(AnnotationUnits.PIXEL, GraphicType.CIRCLE, ((10.0, 10.0), (15.0, 10.0)),
                           False, "L")
    path = outline(circle, max_step=0.1)
    assert np.allclose(np.hypot(path[:, 0] - 10, path[:, 1] - 10), 5.0)
    assert np.all(np.hypot(*np.diff(path, axis=0).T) <= 0.1 + 1e-9)
    assert np.allclose(path[0], path[-1])
    ellipse = GraphicObject(AnnotationUnits.PIXEL, GraphicType.ELLIPSE,
                            ((0.0, 0.0), (20.0, 0.0), (10.0, -4.0), (10.0, 4.0)), False, "L")
    e = outline(ellipse, 0.1)
    assert np.allclose(((e[:, 0] - 10) / 10) ** 2 + (e[:, 1] / 4) ** 2, 1.0)
    points = ((0.0, 0.0), (10.0, 8.0), (20.0, 0.0), (30.0, 8.0))
    curve = outline(GraphicObject(AnnotationUnits.PIXEL, GraphicType.INTERPOLATED, points, False,
                                  "L"), 0.1)
    for p in points:  # through every point
        assert np.min(np.hypot(curve[:, 0] - p[0], curve[:, 1] - p[1])) < 1e-9
    assert np.all(np.hypot(*np.diff(curve, axis=0).T) <= 0.1 + 1e-9)
    turns = np.diff(np.arctan2(*np.diff(curve, axis=0).T[::-1]))
    assert np.max(np.abs(turns)) < 0.2  # smooth: no corner at the points
