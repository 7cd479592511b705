"""Linked MPR navigation as plain values: the crosshair point, the three planes' orientations and
the slab, and the arithmetic the views need (the plane each view shows, one voxel step along a
normal, rotation about the point, the crosshair lines in a view, a stack of planes to save).

As in 3D Slicer's slice nodes, linked crosshairs edit this state, never the views: a view asks
`MprState.plane(index, volume)` and draws what it gets. The three planes stay mutually
orthogonal: dragging a crosshair line in view A turns the two other planes about A's normal
through the point (oblique); doing it in a second view gives double-oblique planes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from viewer.volume.model import PLANES, Plane, SlabMode, Vec3, Volume, covering_plane

VIEW_NAMES: tuple[str, str, str] = ("axial", "coronal", "sagittal")
Orientation = tuple[Vec3, Vec3]  # (row direction, column direction)
PixelPoint = tuple[float, float]  # (x = column, y = row), as the 2D measurements use


def _vec(a: np.ndarray) -> Vec3:
    return float(a[0]), float(a[1]), float(a[2])


def _cross(a: Vec3 | np.ndarray, b: Vec3 | np.ndarray) -> Vec3:
    # Plain arithmetic: np.cross costs ~0.1 ms, and every repaint of every view asks for a few.
    return (float(a[1] * b[2] - a[2] * b[1]), float(a[2] * b[0] - a[0] * b[2]),
            float(a[0] * b[1] - a[1] * b[0]))


def rotate_vector(vector: Vec3, axis: Vec3, angle: float) -> Vec3:
    """`vector` turned by `angle` radians about the unit `axis` (right hand, Rodrigues)."""
    v = np.asarray(vector, dtype=np.float64)
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    turned = v * math.cos(angle) + np.cross(k, v) * math.sin(angle) + k * (k @ v) * (
        1 - math.cos(angle))
    return _vec(turned)


def normal_step(volume: Volume, normal: Vec3) -> float:
    """The distance in mm along `normal` that moves one voxel along the volume's index axis
    closest to it: the slice spacing for a plane parallel to the slices, the pixel spacing for
    one across them, in between for an oblique plane."""
    inverse = np.linalg.inv(volume.affine[:3, :3])
    per_mm = np.abs(inverse @ np.asarray(normal, dtype=np.float64))
    return float(1.0 / max(float(per_mm.max()), 1e-12))


@dataclass(frozen=True)
class MprState:
    """What the linked MPR views share. `point`: the crosshair (LPS mm); `orientations`: the
    axial, coronal and sagittal views' (row, column) directions; `slab`: total thickness in mm
    (0: thin) combined by `mode`; `window`: (center, width) in modality units, None for the
    volume's own; `invert`: shown inverted."""

    point: Vec3
    orientations: tuple[Orientation, Orientation, Orientation]
    slab: float = 0.0
    mode: SlabMode = SlabMode.MIP
    window: tuple[float, float] | None = None
    invert: bool = False

    @classmethod
    def centred(cls, volume: Volume) -> MprState:
        """The radiological planes through the volume's centre."""
        return cls(point=volume.center,
                   orientations=(PLANES["axial"], PLANES["coronal"], PLANES["sagittal"]))

    def reset(self, volume: Volume) -> MprState:
        """Planes back to axial/coronal/sagittal through the centre; slab and window kept."""
        return replace(MprState.centred(volume), slab=self.slab, mode=self.mode,
                       window=self.window, invert=self.invert)

    def normal(self, index: int) -> Vec3:
        row, column = self.orientations[index]
        return _cross(row, column)

    def plane(self, index: int, volume: Volume, spacing: float | None = None) -> Plane:
        """The plane view `index` shows: through the point, with its orientation, pixels of the
        volume's finest spacing (or `spacing`), covering the volume and centred on the
        projection of the volume's centre (so the picture stays put while the point moves)."""
        row, column = self.orientations[index]
        n = np.asarray(self.normal(index))
        c = np.asarray(volume.center)
        centre = c + ((np.asarray(self.point) - c) @ n) * n
        plane = covering_plane(volume, row, column, center=_vec(centre), spacing=spacing)
        return replace(plane, slab=self.slab, mode=self.mode)

    def with_point(self, point: Vec3 | np.ndarray) -> MprState:
        return replace(self, point=_vec(np.asarray(point, dtype=np.float64)))

    def stepped(self, index: int, steps: float, volume: Volume) -> MprState:
        """The point moved `steps` voxel steps along view `index`'s normal (its plane moves;
        the other views' crosshair lines follow)."""
        n = np.asarray(self.normal(index))
        moved = np.asarray(self.point) + steps * normal_step(volume, self.normal(index)) * n
        return self.with_point(moved)

    def slice_position(self, index: int, volume: Volume) -> tuple[int, int]:
        """Where view `index`'s plane lies along its normal, in voxel steps across the volume:
        (0-based position, count), as "Im: n / N" of a 2D series."""
        n = np.asarray(self.normal(index))
        step = normal_step(volume, self.normal(index))
        along = volume.corners() @ n
        low, high = float(along.min()), float(along.max())
        total = int(round((high - low) / step)) + 1
        here = int(round((float(np.asarray(self.point) @ n) - low) / step))
        return min(max(here, 0), total - 1), total

    def rotated(self, index: int, angle: float) -> MprState:
        """The two other planes turned by `angle` radians about view `index`'s normal through
        the point; view `index` itself is unchanged."""
        axis = self.normal(index)
        turned = list(self.orientations)
        for other in range(3):
            if other != index:
                row, column = turned[other]
                turned[other] = (rotate_vector(row, axis, angle),
                                 rotate_vector(column, axis, angle))
        return replace(self, orientations=(turned[0], turned[1], turned[2]))

    def turned(self, index: int, quarter_turns: int) -> MprState:
        """View `index` shown turned clockwise by `quarter_turns` x 90 degrees: its plane keeps
        its normal, its row and column directions turn (what pointed up points right)."""
        row, column = self.orientations[index]
        for _ in range(quarter_turns % 4):
            row, column = _vec(-np.asarray(column)), row
        return self._with_orientation(index, (row, column))

    def flipped(self, index: int, horizontal: bool) -> MprState:
        """View `index` mirrored left-right (`horizontal`) or top-bottom: one direction reversed,
        so its normal is too (scrolling then runs the other way, as the picture shows)."""
        row, column = self.orientations[index]
        if horizontal:
            row = _vec(-np.asarray(row))
        else:
            column = _vec(-np.asarray(column))
        return self._with_orientation(index, (row, column))

    def _with_orientation(self, index: int, orientation: Orientation) -> MprState:
        turned = list(self.orientations)
        turned[index] = orientation
        return replace(self, orientations=(turned[0], turned[1], turned[2]))

    def rotation_angle(self, index: int, plane: Plane, start: PixelPoint,
                       now: PixelPoint) -> float:
        """The angle (radians, about view `index`'s normal) by which a drag from `start` to
        `now` (pixels of `plane`) turns about the crosshair point; works whatever the screen's
        rotation or flip, since it is measured in patient space."""
        centre = np.asarray(self.point)
        a = plane.to_patient(start[1], start[0]) - centre
        b = plane.to_patient(now[1], now[0]) - centre
        n = np.asarray(self.normal(index))
        return math.atan2(float(n @ np.asarray(_cross(a, b))), float(a @ b))

    def crosshair(self, index: int, plane: Plane) -> tuple[PixelPoint, dict[int, PixelPoint]]:
        """The point in `plane`'s pixels (x, y), and for each other view the unit direction (in
        pixels) of the line where its plane cuts this one."""
        r, c, _ = plane.to_pixel(np.asarray(self.point))
        n = np.asarray(self.normal(index))
        lines: dict[int, PixelPoint] = {}
        for other in range(3):
            if other == index:
                continue
            d = np.asarray(_cross(n, self.normal(other)))
            dx, dy = float(d @ np.asarray(plane.row)), float(d @ np.asarray(plane.column))
            length = math.hypot(dx, dy)
            if length > 1e-9:
                lines[other] = (dx / length, dy / length)
        return (c, r), lines


def plane_stack(plane: Plane, count: int, spacing: float) -> list[Plane]:
    """`count` planes along `plane`'s normal, `spacing` mm apart, centred on it (the shown
    plane is the middle one, or next to the middle for an even count), ordered along the
    normal; for "save as series"."""
    if count < 1:
        raise ValueError("the number of planes must be at least 1")
    if not spacing > 0:
        raise ValueError("the spacing must be positive")
    first = -(count - 1) / 2.0
    return [plane.moved((first + n) * spacing) for n in range(count)]
