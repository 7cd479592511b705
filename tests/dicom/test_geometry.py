"""Plane geometry: edge labels, slice normal, position along it, slice sort (PS3.3 C.7.6.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from viewer.dicom.geometry import (
    EdgeLabels,
    direction_label,
    edge_labels,
    plane_name,
    position_along_normal,
    same_orientation,
    slice_normal,
    sort_slices,
)

C45 = math.sqrt(0.5)  # equal components: letters follow the x, y, z order
TILT = math.radians(10)

# (id, Image Orientation (Patient), (top, bottom, left, right), plane)
ORIENTATIONS = [
    ("axial", (1, 0, 0, 0, 1, 0), ("A", "P", "R", "L"), "axial"),
    ("axial-flipped-lr", (-1, 0, 0, 0, 1, 0), ("A", "P", "L", "R"), "axial"),
    ("axial-prone", (-1, 0, 0, 0, -1, 0), ("P", "A", "L", "R"), "axial"),
    ("sagittal", (0, 1, 0, 0, 0, -1), ("H", "F", "A", "P"), "sagittal"),
    ("sagittal-flipped", (0, -1, 0, 0, 0, -1), ("H", "F", "P", "A"), "sagittal"),
    ("coronal", (1, 0, 0, 0, 0, -1), ("H", "F", "R", "L"), "coronal"),
    ("coronal-upside-down", (1, 0, 0, 0, 0, 1), ("F", "H", "R", "L"), "coronal"),
    ("oblique-45-axial", (C45, C45, 0, -C45, C45, 0), ("LA", "RP", "RA", "LP"), "axial"),
    ("double-oblique", (C45, 0, -C45, 0, 1, 0), ("A", "P", "RH", "LF"), "oblique"),
    (
        "axial-tilted-10-degrees",
        (1, 0, 0, 0, math.cos(TILT), -math.sin(TILT)),
        ("A", "P", "R", "L"),
        "axial",
    ),
]


@pytest.mark.parametrize(
    ("iop", "labels", "plane"),
    [o[1:] for o in ORIENTATIONS],
    ids=[o[0] for o in ORIENTATIONS],
)
def test_edge_labels_and_plane(
    iop: tuple[float, ...], labels: tuple[str, str, str, str], plane: str
) -> None:
    assert edge_labels(iop) == EdgeLabels(*labels)
    assert plane_name(iop) == plane


def test_tilt_below_threshold_is_named_when_threshold_lowered() -> None:
    iop = (1, 0, 0, 0, math.cos(TILT), -math.sin(TILT))
    assert edge_labels(iop).bottom == "P"
    assert edge_labels(iop, threshold=0.1).bottom == "PF"
    assert edge_labels(iop, threshold=0.1).top == "AH"


def test_direction_label_orders_by_magnitude() -> None:
    assert direction_label((0.2, -0.9, 0.4)) == "AH"
    assert direction_label((1, 1, 1)) == "LPH"
    assert direction_label((0, 0, -3)) == "F"
    with pytest.raises(ValueError, match="zero"):
        direction_label((0, 0, 0))


def test_slice_normal() -> None:
    np.testing.assert_allclose(slice_normal((1, 0, 0, 0, 1, 0)), (0, 0, 1))
    np.testing.assert_allclose(slice_normal((0, 1, 0, 0, 0, -1)), (-1, 0, 0))
    np.testing.assert_allclose(slice_normal((1, 0, 0, 0, 0, -1)), (0, 1, 0))
    # Not quite unit vectors, as stored with few digits: still a unit normal.
    normal = slice_normal((0.99999, 0, 0, 0, 1.00001, 0))
    assert np.linalg.norm(normal) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "iop",
    [(1, 0, 0), (1, 0, 0, 1, 0, 0), (0, 0, 0, 0, 1, 0), (1, 0, 0, 0, float("nan"), 0)],
    ids=["short", "parallel", "zero", "nan"],
)
def test_bad_orientation_raises_value_error(iop: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="orientation"):
        slice_normal(iop)


def test_position_along_normal() -> None:
    assert position_along_normal((-158.1, -179.0, -75.7), (1, 0, 0, 0, 1, 0)) == pytest.approx(
        -75.7
    )
    # Sagittal: the normal is -x, so moving to the patient's right increases the position.
    assert position_along_normal((-20, 5, 7), (0, 1, 0, 0, 0, -1)) == pytest.approx(20)
    oblique = (C45, C45, 0, -C45, C45, 0)
    assert position_along_normal((3, 4, 12.5), oblique) == pytest.approx(12.5)


def test_sort_slices_shuffled_axial_stack() -> None:
    z = [5.0, -2.5, 0.0, 2.5, 7.5, -5.0]
    positions = [(-100.0, -120.0, v) for v in z]
    result = sort_slices(positions, (1, 0, 0, 0, 1, 0))
    assert [z[i] for i in result.order] == sorted(z)
    assert result.positions == tuple(sorted(z))
    assert result.spacing == pytest.approx(2.5)
    assert result.uniform
    assert result.gaps == () and result.duplicates == ()


def test_sort_slices_oblique_stack_uses_the_normal_not_z() -> None:
    iop = (C45, 0, -C45, 0, 1, 0)  # the normal is (C45, 0, C45)
    normal = slice_normal(iop)
    origin = np.array([10.0, -30.0, 40.0])
    steps = [3, 0, 2, 1]
    positions = [origin + k * 1.5 * normal for k in steps]
    result = sort_slices(positions, iop)
    assert [steps[i] for i in result.order] == [0, 1, 2, 3]
    assert result.spacing == pytest.approx(1.5)
    assert result.uniform


def test_sort_slices_reports_gap_and_duplicates() -> None:
    iop = (1, 0, 0, 0, 1, 0)
    z = [0.0, 1.0, 2.0, 4.0, 5.0, 5.0]  # 3.0 missing; 5.0 twice
    result = sort_slices([(0, 0, v) for v in z], iop)
    assert result.spacing == pytest.approx(1.0)
    assert not result.uniform
    assert result.gaps == (2,)  # between sorted slices 2 and 3
    assert result.duplicates == (4,)


def test_sort_slices_is_stable_and_handles_tiny_stacks() -> None:
    iop = (1, 0, 0, 0, 1, 0)
    single = sort_slices([(0, 0, 7.0)], iop)
    assert single.order == (0,) and single.spacing is None and single.uniform
    same = sort_slices([(0, 0, 1.0), (0, 0, 1.0)], iop)
    assert same.order == (0, 1) and same.duplicates == (0,) and not same.uniform
    with pytest.raises(ValueError, match="positions"):
        sort_slices([(0, 0)], iop)


def test_sort_slices_tolerates_rounding_in_spacing() -> None:
    z = [0.0, 0.625, 1.2501, 1.875, 2.4999]
    assert sort_slices([(0, 0, v) for v in z], (1, 0, 0, 0, 1, 0)).uniform


def test_same_orientation() -> None:
    axial = (1, 0, 0, 0, 1, 0)
    assert same_orientation([axial, (1, 0, 0, 0, 1, 1e-5)])
    assert not same_orientation([axial, (0, 1, 0, 0, 0, -1)])
    assert same_orientation([])
