"""build_stacks: series grouping, reading order, per-frame geometry (PS3.3 C.7.6.2 and, for
enhanced objects, the functional groups of C.7.6.16) and the decoded annotation facts."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.dicom.makers import image_dataset, save
from viewer.dicom.demo import write_ct_series
from viewer.dicom.stack import (
    SliceGeometry,
    StackInfo,
    build_stacks,
    object_stacks,
    slice_geometry_from,
)

NAME = "Wang^XiaoDong=王^小东"


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """5 axial slices, 16 x 16 at 0.7 mm, 1 mm apart, superior first (z = 2, 1, 0, -1, -2)."""
    folder = tmp_path_factory.mktemp("ct")
    return write_ct_series(
        folder, slices=5, rows=16, columns=16, patient_name=NAME,
        series_description="轴位 Axial 1.0", study_description="胸部 CT",
    )


def test_ct_series_sorted_head_first_with_geometry_per_frame(ct: list[Path]) -> None:
    shuffled = list(ct)
    random.Random(3).shuffle(shuffled)
    stacks, errors = build_stacks(shuffled)
    assert errors == [] and len(stacks) == 1
    stack = stacks[0]
    assert stack.frames == [(str(p), 0) for p in ct]  # superior to inferior
    frame_of_reference = str(dcmread(ct[0], stop_before_pixels=True).FrameOfReferenceUID)
    x0 = -7.5 * 0.7  # -(columns - 1) / 2 x spacing: the image is centred on the z axis
    assert len(stack.geometry) == 5
    for geometry, z in zip(stack.geometry, (2.0, 1.0, 0.0, -1.0, -2.0), strict=True):
        assert geometry == SliceGeometry(
            position=(x0, x0, z),
            orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
            pixel_spacing=(0.7, 0.7),
            slice_thickness=1.0,
            slice_location=z,
            frame_of_reference_uid=frame_of_reference,
            rows=16,
            columns=16,
            spacing_source="",
        )
    assert stack.geometry_of(4) is stack.geometry[4] and stack.geometry_of(5) is None


def test_ct_series_info_is_decoded(ct: list[Path]) -> None:
    stack = build_stacks(reversed(ct))[0][0]
    assert stack.info == StackInfo(
        patient_name=NAME,
        patient_id="DEMO0001",
        patient_birth_date="19700101",
        patient_sex="O",
        study_date="20240102",
        study_time="093000",
        study_description="胸部 CT",
        series_number=1,
        series_description="轴位 Axial 1.0",
        modality="CT",
        institution_name="",
    )
    assert stack.description == "轴位 Axial 1.0"


def test_info_decoded_with_the_corrected_character_set(tmp_path: Path) -> None:
    """A GB18030 header labelled "GB-18030" (misspelt, as some devices write it): pydicom alone
    reads it as the default repertoire; the stack's names are decoded as GB18030."""
    path = write_ct_series(tmp_path, slices=1, rows=8, columns=8)[0]
    ds = dcmread(path)
    ds.SpecificCharacterSet = "GB18030"
    ds.PatientName = NAME
    ds.InstitutionName = "北京协和医院"
    ds.SeriesDescription = "增强 动脉期"
    ds.save_as(path)
    data = path.read_bytes()
    assert data.count(b"GB18030 ") == 1
    path.write_bytes(data.replace(b"GB18030 ", b"GB-18030"))
    with pytest.warns(UserWarning, match="Unknown encoding"):
        assert str(dcmread(path).PatientName) != NAME
    info = build_stacks([path])[0][0].info
    assert info.patient_name == NAME
    assert info.institution_name == "北京协和医院"
    assert info.series_description == "增强 动脉期"


def _rewrite(path: Path, change: dict[str, object | None]) -> None:
    ds = dcmread(path)
    for keyword, value in change.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)


def test_order_by_position_only_when_every_file_has_one(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, slices=3, rows=8, columns=8)  # z = 1, 0, -1
    for path, number in zip(paths, (3, 2, 1), strict=True):  # Instance Numbers reversed
        _rewrite(path, {"InstanceNumber": number})
    stack = build_stacks(paths[::-1])[0][0]
    assert [f for f, _ in stack.frames] == [str(p) for p in paths]  # by position, head first
    _rewrite(paths[1], {"ImagePositionPatient": None})
    stack = build_stacks(paths)[0][0]
    assert [f for f, _ in stack.frames] == [str(p) for p in paths[::-1]]  # Instance Number
    assert stack.geometry[1] is not None and stack.geometry[1].position is None
    assert stack.geometry[0] is not None and stack.geometry[0].position == pytest.approx(
        (-2.45, -2.45, -1.0)
    )
    assert stack.info.patient_name == "DEMO^CT"


def test_imager_pixel_spacing_when_alone(tmp_path: Path) -> None:
    first, second = write_ct_series(tmp_path, slices=2, rows=8, columns=8)
    _rewrite(first, {"PixelSpacing": None, "ImagerPixelSpacing": ["0.2", "0.3"]})
    _rewrite(second, {"ImagerPixelSpacing": ["0.2", "0.3"]})  # Pixel Spacing wins
    geometry = build_stacks([first, second])[0][0].geometry
    assert geometry[0] is not None and geometry[1] is not None
    assert (geometry[0].pixel_spacing, geometry[0].spacing_source) == (
        (0.2, 0.3), "ImagerPixelSpacing",
    )
    assert (geometry[1].pixel_spacing, geometry[1].spacing_source) == ((0.7, 0.7), "")


def test_unusable_values_are_left_out(tmp_path: Path) -> None:
    path = write_ct_series(tmp_path, slices=1, rows=8, columns=8)[0]
    _rewrite(path, {
        "PixelSpacing": ["0", "0.7"], "ImageOrientationPatient": [1, 0, 0, 1, 0, 0],
        "SliceThickness": None,
    })
    geometry = build_stacks([path])[0][0].geometry[0]
    assert geometry is not None
    assert geometry.pixel_spacing is None and geometry.orientation is None
    assert geometry.slice_thickness is None and geometry.position is not None


def test_classic_multi_frame_repeats_the_file_geometry(tmp_path: Path) -> None:
    pixels = np.zeros((3, 4, 6), dtype=np.uint16)
    located = save(image_dataset(
        pixels, ImagePositionPatient=[1, 2, 3], ImageOrientationPatient=[0, 1, 0, 0, 0, -1],
        PixelSpacing=[0.5, 0.25], FrameOfReferenceUID="1.2.3",
    ), tmp_path / "located.dcm")
    plain = save(image_dataset(pixels), tmp_path / "plain.dcm")
    stacks, errors = build_stacks([located, plain])
    assert errors == []
    by_path = {s.frames[0][0]: s for s in stacks}
    geometry = by_path[str(located)].geometry
    assert by_path[str(located)].frames == [(str(located), i) for i in range(3)]
    assert len(geometry) == 3 and geometry[0] == geometry[1] == geometry[2]
    assert geometry[0] == SliceGeometry(
        (1.0, 2.0, 3.0), (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), (0.5, 0.25), None, None, "1.2.3", 4, 6
    )
    assert by_path[str(plain)].geometry == [None, None, None]


def _item(**attributes: object) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _enhanced(tmp_path: Path) -> Path:
    """3 frames: shared orientation and pixel measures; frame 0 a position only; frame 1 its
    own position, orientation and pixel measures; frame 2 no plane position at all."""
    ds = image_dataset(np.zeros((3, 4, 4), dtype=np.uint16), FrameOfReferenceUID="1.2.3")
    ds.SharedFunctionalGroupsSequence = Sequence([_item(
        PlaneOrientationSequence=Sequence([_item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]),
        PixelMeasuresSequence=Sequence([_item(PixelSpacing=[1, 1], SliceThickness=2)]),
    )])
    ds.PerFrameFunctionalGroupsSequence = Sequence([
        _item(PlanePositionSequence=Sequence([_item(ImagePositionPatient=[0, 0, 10])])),
        _item(
            PlanePositionSequence=Sequence([_item(ImagePositionPatient=[0, 0, 12])]),
            PlaneOrientationSequence=Sequence([_item(
                ImageOrientationPatient=[1, 0, 0, 0, 0, -1]
            )]),
            PixelMeasuresSequence=Sequence([_item(PixelSpacing=[0.5, 0.4])]),
        ),
        _item(FrameContentSequence=Sequence([_item(StackID="1")])),
    ])
    return save(ds, tmp_path / "enhanced.dcm")


def test_enhanced_per_frame_then_shared_functional_groups(tmp_path: Path) -> None:
    path = _enhanced(tmp_path)
    stack = build_stacks([path])[0][0]
    assert stack.frames == [(str(path), 0), (str(path), 1), (str(path), 2)]
    axial = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    coronal = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
    assert stack.geometry == [
        SliceGeometry((0.0, 0.0, 10.0), axial, (1.0, 1.0), 2.0, None, "1.2.3", 4, 4),
        # Its own measures carry no thickness: the shared one still applies.
        SliceGeometry((0.0, 0.0, 12.0), coronal, (0.5, 0.4), 2.0, None, "1.2.3", 4, 4),
        SliceGeometry(None, axial, (1.0, 1.0), 2.0, None, "1.2.3", 4, 4),
    ]
    ds = dcmread(path, stop_before_pixels=True)
    assert slice_geometry_from(ds, 1) == stack.geometry[1]
    assert slice_geometry_from(ds) == stack.geometry[0]
    with pytest.raises(IndexError, match="frame_index"):
        slice_geometry_from(ds, 3)


def test_enhanced_ct_from_pydicom_data() -> None:
    from pydicom.data import get_testdata_file

    found = get_testdata_file("eCT_Supplemental.dcm")  # in the pydicom-data package
    if found is None:
        pytest.skip("pydicom-data's eCT_Supplemental.dcm (an Enhanced CT with functional "
                    "groups) is not installed")
    path = Path(str(found))
    stack = build_stacks([path])[0][0]
    frame_of_reference = "1.3.6.1.4.1.5962.1.4.10.1.1166562673.14401"
    # Shared: orientation (-1, 0, 0, 0, 1, 0), spacing 0.388672, thickness 10; per frame: the
    # positions (99.5, -301.5, -159) and (99.5, -301.5, -149).
    assert stack.geometry == [
        SliceGeometry(
            (99.5, -301.5, z), (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (0.388672, 0.388672), 10.0,
            None, frame_of_reference, 512, 512,
        )
        for z in (-159.0, -149.0)
    ]
    assert stack.info.patient_name == "Perfusion^MCA Stroke"
    assert stack.info.institution_name == "St. Nowhere Hospital"
    assert (stack.info.modality, stack.info.series_number) == ("CT", 3)


def test_files_that_are_not_images_are_errors(ct: list[Path], tmp_path: Path) -> None:
    report = Dataset()
    report.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    report.SOPInstanceUID = "1.2.3.4"
    report.SeriesInstanceUID = "1.2.3"
    report.file_meta = image_dataset(np.zeros((2, 2), dtype=np.uint8)).file_meta
    not_image = save(report, tmp_path / "sr.dcm")
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(b"not DICOM at all")
    stacks, errors = build_stacks([not_image, *ct, garbage])
    assert len(stacks) == 1 and len(stacks[0].frames) == 5
    assert len(errors) == 2


def test_a_value_pydicom_converts_late_is_one_error_not_a_crash() -> None:
    """A Rescale Intercept written with VR UL (a fuzz regression file) surfaces only when the
    stack reads the frame's rescale: that file is an error naming the element, never a raise."""
    path = Path(__file__).parents[1] / "data" / "fuzz" / "j2k_rescale_intercept_as_ul.dcm"
    stacks, errors = build_stacks([path])
    assert stacks == []
    assert [(e.path, e.reason) for e in errors] == [
        (str(path), "malformed DICOM: element (0028,1052): the value's length does not fit its VR")
    ]


def test_objects_without_pixels_become_their_own_stacks(tmp_path: Path, ct: list[Path]) -> None:
    """`view PATH`: reports, key objects, presentation states and structure sets are stacks of
    their series (as the archive lists them); an image cut short stays a file that failed."""
    from tests.reports.makers import basic_text_sr
    from tests.reports.makers import save as save_sr

    first_ds, second_ds = basic_text_sr(), basic_text_sr()
    second_ds.SeriesInstanceUID = first_ds.SeriesInstanceUID
    first_ds.InstanceNumber, second_ds.InstanceNumber = 2, 1
    first = save_sr(first_ds, tmp_path / "a.dcm")
    second = save_sr(second_ds, tmp_path / "b.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(ct[0].read_bytes()[:-200])
    stacks, errors = build_stacks([*ct, first, second, cut])
    assert len(stacks) == 1 and len(errors) == 3
    objects, remaining = object_stacks(errors)
    assert [e.path for e in remaining] == [str(cut)]
    (sr,) = objects
    assert sr.info.modality == "SR" and sr.series_uid == str(first_ds.SeriesInstanceUID)
    assert sr.frames == [(str(second), 0), (str(first), 0)]  # by Instance Number


def test_stacks_of_headers_as_from_files_and_from_dicom_json(ct: list[Path]) -> None:
    """What a viewer lays out from a server's metadata (DICOM JSON, bulk data left out) before
    any file arrives is what build_stacks makes of the files: same order, geometry, values and
    decoded facts; headers without an image are left out."""
    from viewer.dicom.stack import stacks_of_headers

    shuffled = list(ct)
    random.Random(5).shuffle(shuffled)
    expected, errors = build_stacks(shuffled)
    assert not errors
    described = []
    for path in shuffled:
        ds = dcmread(path)
        as_json = ds.to_json_dict(bulk_data_threshold=64,
                                  bulk_data_element_handler=lambda _e: "http://x/bulk")
        json_only = Dataset.from_json(as_json, bulk_data_uri_handler=lambda *_a: None)
        assert not json_only.PixelData  # bulk data by URI: not fetched
        described.append((str(path), json_only))
    report = Dataset()
    report.Modality, report.SeriesInstanceUID = "SR", "1.2.3.4"
    described.append(("report.dcm", report))
    made = stacks_of_headers(described)
    assert len(made) == 1
    assert made[0].frames == expected[0].frames
    assert made[0].geometry == expected[0].geometry
    assert made[0].values == expected[0].values
    assert made[0].info == expected[0].info
    assert made[0].info.patient_name == expected[0].info.patient_name != ""
