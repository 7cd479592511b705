"""Linked MPR navigation (viewer.volume.navigation): the arithmetic the MPR views draw from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.volume.mpr_phantom import SPACING, phantom_volume
from viewer.volume.model import Volume
from viewer.volume.navigation import MprState, normal_step, plane_stack, rotate_vector


@pytest.fixture(scope="module")
def volume() -> Volume:
    return phantom_volume()


def test_centred_state_has_the_radiological_normals(volume: Volume) -> None:
    state = MprState.centred(volume)
    assert np.allclose(state.normal(0), (0, 0, 1))  # axial: row L x column P = S
    assert np.allclose(state.normal(1), (0, 1, 0))  # coronal: L x F = P
    assert np.allclose(state.normal(2), (-1, 0, 0))  # sagittal: P x F = R
    assert np.allclose(state.point, volume.center)


def test_a_point_set_in_one_plane_is_the_same_point_in_the_others(volume: Volume) -> None:
    state = MprState.centred(volume)
    axial = state.plane(0, volume)
    clicked = axial.to_patient(37.0, 101.0)  # pixel (row 37, column 101) of the axial view
    state = state.with_point(clicked)
    for index in (1, 2):
        plane = state.plane(index, volume)
        (x, y), _ = state.crosshair(index, plane)
        seen = plane.to_patient(y, x)
        # The plane passes through the point, and the crosshair marks it to within half a pixel.
        assert abs(plane.to_pixel(clicked)[2]) < 1e-9
        assert np.linalg.norm(seen - clicked) < plane.spacing / 2


def test_scroll_steps_one_voxel_along_each_normal(volume: Volume) -> None:
    state = MprState.centred(volume)
    start = np.asarray(state.point)
    assert np.allclose(np.asarray(state.stepped(0, 1, volume).point) - start, (0, 0, SPACING[2]))
    assert np.allclose(np.asarray(state.stepped(1, -2, volume).point) - start,
                       (0, -2 * SPACING[1], 0))
    assert np.allclose(np.asarray(state.stepped(2, 1, volume).point) - start, (-SPACING[0], 0, 0))


def test_normal_step_of_an_oblique_normal_and_a_tilted_volume() -> None:
    volume = phantom_volume()
    diagonal = (math.sqrt(0.5), 0.0, math.sqrt(0.5))
    # Along (1, 0, 1)/sqrt2 one i step (0.8 mm) needs 0.8*sqrt2 mm, one k step 2*sqrt2: the
    # finer index axis decides.
    assert normal_step(volume, diagonal) == pytest.approx(0.8 * math.sqrt(2))
    tilted = phantom_volume()
    tilted.affine[1, 2] = 0.5  # gantry tilt: each slice also steps 0.5 mm along y
    assert normal_step(tilted, (0.0, 0.0, 1.0)) == pytest.approx(SPACING[2])


def test_rotation_gives_oblique_then_double_oblique_planes(volume: Volume) -> None:
    angle = math.radians(30)
    state = MprState.centred(volume).rotated(0, angle)
    assert np.allclose(state.normal(0), (0, 0, 1))  # the view dragged in keeps its plane
    assert np.allclose(state.normal(1), (-math.sin(angle), math.cos(angle), 0))
    assert np.allclose(state.normal(2), (-math.cos(angle), -math.sin(angle), 0))
    coronal_normal = state.normal(1)
    double = state.rotated(1, math.radians(20))
    assert np.allclose(double.normal(1), coronal_normal)
    assert np.allclose(double.normal(0), rotate_vector((0, 0, 1), coronal_normal, math.radians(20)))
    normals = np.array([double.normal(n) for n in range(3)])
    assert np.allclose(normals @ normals.T, np.eye(3))  # still mutually orthogonal
    for n in range(3):  # every plane still through the point
        assert abs(double.plane(n, volume).to_pixel(np.asarray(double.point))[2]) < 1e-9


def test_a_drag_about_the_point_turns_the_line_under_the_mouse(volume: Volume) -> None:
    state = MprState.centred(volume)
    axial = state.plane(0, volume)
    (px, py), lines = state.crosshair(0, axial)
    dx, dy = lines[2]  # the sagittal plane's line in the axial view
    start = (px + 40 * dx, py + 40 * dy)
    turn = math.radians(25)  # the mouse goes 25 degrees round the point on the screen
    ex = px + 40 * (dx * math.cos(turn) - dy * math.sin(turn))
    ey = py + 40 * (dx * math.sin(turn) + dy * math.cos(turn))
    angle = state.rotation_angle(0, axial, start, (ex, ey))
    assert abs(angle) == pytest.approx(turn)
    turned = state.rotated(0, angle)
    (_, _), lines_after = turned.crosshair(0, axial)
    nx, ny = lines_after[2]
    # The sagittal line now points at the mouse (either way along the line).
    assert abs(nx * (ey - py) - ny * (ex - px)) / 40 == pytest.approx(0, abs=1e-9)


def test_slice_position_counts_voxel_steps(volume: Volume) -> None:
    state = MprState.centred(volume)
    assert state.slice_position(0, volume) == (25, 51)
    low = state.with_point((0.0, 0.0, -50.0))
    assert low.slice_position(0, volume) == (0, 51)


def test_plane_stack_is_centred_on_the_shown_plane(volume: Volume) -> None:
    plane = MprState.centred(volume).plane(1, volume)
    stack = plane_stack(plane, 5, 3.0)
    offsets = [plane.to_pixel(np.asarray(p.center))[2] for p in stack]
    assert offsets == pytest.approx([-6.0, -3.0, 0.0, 3.0, 6.0])
    assert all(p.orientation == plane.orientation and p.rows == plane.rows for p in stack)
    with pytest.raises(ValueError, match="spacing"):
        plane_stack(plane, 3, 0.0)
