"""RT Structure Set contours on an image frame (issue 17, Must show 5): exact pixel-centre
positions (Horos #447: no half-pixel shift), only the contours on the frame's plane, Frame of
Reference mismatch refused (OHIF #3537), a contour of one point left out and named."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.dicom.overlay_objects import CTSeries, RoiSpec, ct_series, make_rtstruct, save
from tests.peers import require_tool
from viewer.dicom.overlay_frame import OverlayMismatch
from viewer.dicom.rtstruct import StructureSetError, contours_on_frame, read_structure_set

SQUARE = np.array([[5.0, 6.0], [20.0, 6.0], [20.0, 17.0], [5.0, 17.0]])  # pixel centres (x, y)


@pytest.fixture(scope="module", params=["axial", "oblique"])
def ct(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> CTSeries:
    return ct_series(tmp_path_factory.mktemp(request.param), kind=request.param)


def _structure_set(ct: CTSeries) -> list[RoiSpec]:
    return [
        RoiSpec(1, "Body", (0, 255, 0), [("CLOSED_PLANAR", ct.patient(3, SQUARE)),
                                         ("CLOSED_PLANAR", ct.patient(4, SQUARE + 2))]),
        RoiSpec(2, "Seeds", None, [("POINT", ct.patient(3, np.array([[12.0, 25.0]])))]),
        RoiSpec(3, "Line", (0, 0, 255), [("OPEN_PLANAR", ct.patient(3, np.array(
            [[2.0, 2.0], [9.0, 4.0], [15.0, 2.0]])))]),
    ]


def test_rois_and_colours(ct: CTSeries) -> None:
    rt = read_structure_set(make_rtstruct(ct.datasets, _structure_set(ct)))
    assert [(r.number, r.name, r.color, r.display_color) for r in rt.rois] == [
        (1, "Body", (0, 255, 0), True), (2, "Seeds", (255, 255, 0), False),
        (3, "Line", (0, 0, 255), True)]
    assert rt.frame_of_reference_uids == (ct.frame_of_reference_uid,)
    assert len(rt.contours) == 4 and rt.problems == ()


def test_contours_land_on_the_pixel_centres_they_were_made_from(ct: CTSeries) -> None:
    rt = read_structure_set(make_rtstruct(ct.datasets, _structure_set(ct)))
    on_three = contours_on_frame(rt, ct.datasets[3], 0)
    assert [(c.roi.name, c.geometric_type) for c in on_three] == [
        ("Body", "CLOSED_PLANAR"), ("Seeds", "POINT"), ("Line", "OPEN_PLANAR")]
    np.testing.assert_allclose(on_three[0].points, SQUARE, atol=1e-6)
    np.testing.assert_allclose(on_three[1].points, [[12.0, 25.0]], atol=1e-6)
    assert on_three[0].closed and not on_three[2].closed
    (on_four,) = contours_on_frame(rt, ct.datasets[4], 0)
    np.testing.assert_allclose(on_four.points, SQUARE + 2, atol=1e-6)
    assert contours_on_frame(rt, ct.datasets[0], 0) == []


def test_a_contour_of_one_point_is_left_out_and_named(ct: CTSeries) -> None:
    rois = _structure_set(ct)
    rois[0].contours.append(("CLOSED_PLANAR", ct.patient(3, np.array([[8.0, 8.0]]))))
    rt = read_structure_set(make_rtstruct(ct.datasets, rois))
    (problem,) = rt.problems
    assert "ROI 1 'Body'" in problem and "1 point" in problem
    assert len(contours_on_frame(rt, ct.datasets[3], 0)) == 3


def test_another_frame_of_reference_is_refused(tmp_path: Path, ct: CTSeries) -> None:
    other = ct_series(tmp_path / "other")
    rt = read_structure_set(make_rtstruct(ct.datasets, _structure_set(ct)))
    with pytest.raises(OverlayMismatch, match="Frame of Reference") as caught:
        contours_on_frame(rt, other.datasets[3], 0)
    assert ct.frame_of_reference_uid in str(caught.value)
    assert other.frame_of_reference_uid in str(caught.value)


def test_a_structure_set_without_rois_is_refused(ct: CTSeries) -> None:
    ds = make_rtstruct(ct.datasets, _structure_set(ct))
    ds.StructureSetROISequence = []
    with pytest.raises(StructureSetError, match="no ROIs"):
        read_structure_set(ds)


def test_the_generated_structure_set_is_valid_for_dciodvfy(tmp_path: Path, ct: CTSeries) -> None:
    """The test object itself checked by a real validator: what these tests read is an RT
    Structure Set as PS3.3 defines it, not one shaped to our reader."""
    dciodvfy = require_tool("dciodvfy", "dicom3tools")
    path = save(make_rtstruct(ct.datasets, _structure_set(ct)), tmp_path / "rt.dcm")
    done = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=60,
                          check=False)
    errors = [line for line in (done.stdout + done.stderr).splitlines()
              if line.startswith("Error")]
    assert errors == []
