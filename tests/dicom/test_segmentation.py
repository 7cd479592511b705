"""Segmentations on an image's pixel grid (issue 17, Must show 5): BINARY, FRACTIONAL and
LABELMAP SEGs made by highdicom over a generated CT series, on the CT's grid and on grids of
their own (finer, shifted, smaller), resampled; bad input refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from tests.dicom.overlay_objects import CTSeries, Grid, ct_series, description, make_seg, save
from tests.volume.series import write_ct_series
from viewer.dicom.overlay_frame import OverlayMismatch
from viewer.dicom.segmentation import (
    SegmentationError,
    read_segmentation,
    segments_on_frame,
)


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> CTSeries:
    return ct_series(tmp_path_factory.mktemp("ct"))


def _labels(slices: int = 6, size: int = 32) -> np.ndarray:
    labels = np.zeros((slices, size, size), dtype=np.uint8)
    labels[2, 10:20, 5:15] = 1
    labels[3, 12:22, 8:18] = 1
    labels[3, 2:6, 20:30] = 2
    return labels


def test_segments_carry_their_recommended_colour_as_srgb(ct: CTSeries) -> None:
    seg = read_segmentation(make_seg(ct.datasets, _labels(), "BINARY", [
        description(1, "Liver", "red"), description(2, "Spleen", "blue")]))
    assert seg.segmentation_type == "BINARY"
    assert seg.frame_of_reference_uid == ct.frame_of_reference_uid
    liver, spleen = seg.segments
    assert (liver.number, liver.label, liver.algorithm_type) == (1, "Liver", "MANUAL")
    assert liver.recommended_color and liver.color == (255, 0, 0)
    assert spleen.color == (0, 0, 255)
    assert all(frame.sources for frame in seg.frames)  # Derivation Image references


@pytest.mark.parametrize("seg_type", ["BINARY", "LABELMAP"])
def test_masks_on_the_same_grid_are_the_segmentation_s_pixels(ct: CTSeries,
                                                              seg_type: str) -> None:
    labels = _labels()
    seg = read_segmentation(make_seg(ct.datasets, labels, seg_type, [
        description(1, "A", "red"), description(2, "B", "lime")]))
    for index, header in enumerate(ct.datasets):
        masks = segments_on_frame(seg, header, 0)
        expected = [n for n in (1, 2) if (labels[index] == n).any()]
        assert [m.segment.number for m in masks] == expected
        for mask in masks:
            assert mask.mask.dtype == bool
            np.testing.assert_array_equal(mask.mask, labels[index] == mask.segment.number)


def test_fractional_masks_are_the_value_over_the_maximum(ct: CTSeries) -> None:
    fraction = np.zeros((6, 32, 32), dtype=np.float32)
    fraction[3, 4:28, 4:28] = np.linspace(0.0, 1.0, 24, dtype=np.float32)[None, :]
    seg = read_segmentation(make_seg(ct.datasets, fraction, "FRACTIONAL",
                                     [description(1, "Tumour", "yellow")],
                                     max_fractional_value=200))
    assert seg.max_fractional_value == 200
    (mask,) = segments_on_frame(seg, ct.datasets[3], 0)
    assert mask.mask.dtype == np.float32
    np.testing.assert_allclose(mask.mask, fraction[3], atol=1.0 / 200)
    assert segments_on_frame(seg, ct.datasets[2], 0) == []


def _disc(points: np.ndarray, centre: tuple[float, float], radius: float) -> np.ndarray:
    return np.hypot(points[..., 0] - centre[0], points[..., 1] - centre[1]) <= radius


@pytest.mark.parametrize("seg_type", ["BINARY", "LABELMAP"])
def test_a_seg_on_a_finer_shifted_smaller_grid_is_resampled(ct: CTSeries, seg_type: str) -> None:
    """A disc of radius 20 mm sampled on a 1.3 mm grid shifted by a fraction of a pixel and
    covering part of the image: the image's pixels well inside the disc are in the mask,
    those well outside it (or outside the SEG) are not."""
    z = float(ct.datasets[3].ImagePositionPatient[2])
    origin, spacing, size = (-30.2, -35.55, z + 0.7), 1.3, 48
    j, i = np.mgrid[0:size, 0:size].astype(np.float64)
    seg_points = np.stack([origin[0] + i * spacing, origin[1] + j * spacing], axis=-1)
    centre = (-3.0, -6.0)
    pixels = _disc(seg_points, centre, 20.0).astype(np.uint8)[None]
    grid = Grid(spacing, [origin], thickness=1.3)
    seg = read_segmentation(make_seg(ct.datasets, pixels, seg_type,
                                     [description(1, "Disc", "red")], grid=grid))
    assert not any(f.sources for f in seg.frames)  # placed by geometry alone
    (mask,) = segments_on_frame(seg, ct.datasets[3], 0)
    image_points = ct.patient(3, np.stack(np.mgrid[0:32, 0:32][::-1], -1).reshape(-1, 2))
    image_points = image_points.reshape(32, 32, 3)
    distance = np.hypot(image_points[..., 0] - centre[0], image_points[..., 1] - centre[1])
    covered = ((image_points[..., 0] >= origin[0] - spacing / 2)
               & (image_points[..., 0] <= origin[0] + (size - 0.5) * spacing)
               & (image_points[..., 1] >= origin[1] - spacing / 2)
               & (image_points[..., 1] <= origin[1] + (size - 0.5) * spacing))
    margin = spacing  # one SEG pixel: where nearest neighbour may go either way
    assert mask.mask[(distance < 20.0 - margin) & covered].all()
    assert not mask.mask[(distance > 20.0 + margin) | ~covered].any()
    assert mask.mask.sum() > 100
    # the slices 4 mm away are further than half a slice (2 mm) from the SEG's plane
    assert segments_on_frame(seg, ct.datasets[2], 0) == []
    assert segments_on_frame(seg, ct.datasets[4], 0) == []


def test_a_fractional_seg_on_another_grid_is_interpolated_linearly(ct: CTSeries) -> None:
    """A ramp along x on a 2 mm grid: bilinear interpolation gives the ramp's value at every
    image pixel centre inside the SEG (a linear function is reproduced exactly)."""
    z = float(ct.datasets[2].ImagePositionPatient[2])
    origin, spacing, size = (-40.0, -40.5, z), 2.0, 40
    u = np.arange(size, dtype=np.float64)
    ramp = np.tile((u * 5.0 + 20.0) / 255.0, (size, 1))  # stored 20, 25, ... 215 of 255
    grid = Grid(spacing, [origin], thickness=2.0)
    seg = read_segmentation(make_seg(ct.datasets, ramp[None].astype(np.float32), "FRACTIONAL",
                                     [description(1, "Ramp", "orange")], grid=grid))
    (mask,) = segments_on_frame(seg, ct.datasets[2], 0)
    points = ct.patient(2, np.stack(np.mgrid[0:32, 0:32][::-1], -1).reshape(-1, 2))
    points = points.reshape(32, 32, 3)
    seg_u = (points[..., 0] - origin[0]) / spacing
    seg_v = (points[..., 1] - origin[1]) / spacing
    inside = (seg_u >= 0) & (seg_u <= size - 1) & (seg_v >= 0) & (seg_v <= size - 1)
    expected = (seg_u * 5.0 + 20.0) / 255.0
    np.testing.assert_allclose(mask.mask[inside], expected[inside], atol=1e-5)
    far = (seg_u < -0.5) | (seg_u > size - 0.5) | (seg_v < -0.5) | (seg_v > size - 0.5)
    assert far.any() and not mask.mask[far].any()


def test_an_oblique_series_is_matched_by_reference(tmp_path: Path) -> None:
    oblique = ct_series(tmp_path / "oblique", kind="oblique")
    labels = _labels()
    seg = read_segmentation(make_seg(oblique.datasets, labels, "BINARY",
                                     [description(1, "A", "red"), description(2, "B", "lime")]))
    masks = segments_on_frame(seg, oblique.datasets[3], 0)
    assert [m.segment.number for m in masks] == [1, 2]
    np.testing.assert_array_equal(masks[1].mask, labels[3] == 2)


def test_another_series_in_the_same_frame_of_reference_is_matched_by_geometry(
        tmp_path: Path, ct: CTSeries) -> None:
    other = ct_series(tmp_path / "other", frame_of_reference_uid=ct.frame_of_reference_uid)
    labels = _labels()
    seg = read_segmentation(make_seg(ct.datasets, labels, "BINARY",
                                     [description(1, "A", "red"), description(2, "B", "lime")]))
    masks = segments_on_frame(seg, other.datasets[3], 0)
    np.testing.assert_array_equal(masks[0].mask, labels[3] == 1)


def test_another_frame_of_reference_is_refused(tmp_path: Path, ct: CTSeries) -> None:
    other = ct_series(tmp_path / "other")
    seg = read_segmentation(make_seg(ct.datasets, _labels(), "BINARY",
                                     [description(1, "A", "red"), description(2, "B", "lime")]))
    with pytest.raises(OverlayMismatch, match="Frame of Reference") as caught:
        segments_on_frame(seg, other.datasets[3], 0)
    assert ct.frame_of_reference_uid in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_seg_of_another_series_without_a_frame_of_reference_is_refused(
        tmp_path: Path, ct: CTSeries) -> None:
    other = ct_series(tmp_path / "other")
    ds = make_seg(ct.datasets, _labels(), "BINARY",
                  [description(1, "A", "red"), description(2, "B", "lime")])
    del ds.FrameOfReferenceUID
    seg = read_segmentation(ds)
    with pytest.raises(OverlayMismatch, match=str(ct.datasets[0].SeriesInstanceUID)):
        segments_on_frame(seg, other.datasets[3], 0)
    # its own series: nothing on a slice it does not reference, no refusal
    assert segments_on_frame(seg, ct.datasets[0], 0) == []


def test_no_segments_is_refused(ct: CTSeries) -> None:
    ds = make_seg(ct.datasets, _labels(), "BINARY",
                  [description(1, "A", "red"), description(2, "B", "lime")])
    ds.SegmentSequence = []
    with pytest.raises(SegmentationError, match="no segments"):
        read_segmentation(ds)


@pytest.mark.parametrize("fraction", [0.5, 0.97])
def test_a_truncated_seg_is_refused(tmp_path: Path, ct: CTSeries, fraction: float) -> None:
    path = save(make_seg(ct.datasets, _labels(), "BINARY",
                         [description(1, "A", "red"), description(2, "B", "lime")]),
                tmp_path / "seg.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    try:
        ds = dcmread(path)
    except Exception:  # cut inside the header: the reader refuses it already (CLI test)
        return
    with pytest.raises(SegmentationError) as caught:
        read_segmentation(ds)
    assert "\n" not in str(caught.value)


def test_frames_of_a_multi_frame_image_are_matched_by_frame_number(tmp_path: Path) -> None:
    """An Enhanced CT (frames stored in reverse position order): each SEG frame lands on the
    image frame its Referenced Frame Number names."""
    (path,) = write_ct_series(
        tmp_path / "enhanced", kind="enhanced", shape=(5, 32, 32))
    source = dcmread(path)
    labels = np.zeros((5, 32, 32), dtype=np.uint8)
    for frame in range(5):
        labels[frame, frame * 4 : frame * 4 + 3, 2:30] = 1  # a band that moves with the frame
    seg = read_segmentation(make_seg([source], labels, "BINARY", [description(1, "A", "red")]))
    assert all(number is not None for f in seg.frames for _, number in f.sources)
    header = dcmread(path, stop_before_pixels=True)
    for frame in range(5):
        (mask,) = segments_on_frame(seg, header, frame)
        np.testing.assert_array_equal(mask.mask, labels[frame] == 1)
