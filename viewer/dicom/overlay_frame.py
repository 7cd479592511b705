"""Where an overlay object (Segmentation, RT Structure Set) meets one frame of an image.

Both overlays are placed on an image either by reference (the overlay names the image's SOP
Instance and frame) or by geometry in the patient's coordinate system (PS3.3 C.7.4.1: the same
Frame of Reference, positions in mm). `target_frame` gathers what placing needs from the image
header; `PlaneMap` converts between patient mm and the image's pixel coordinates; a Frame of
Reference mismatch is an `OverlayMismatch`, never a drawing in the wrong place.

Pixel coordinates here are (x = column, y = row) with the centre of the top-left pixel at
(0, 0) (PS3.3 C.7.6.2.1.1): a patient point at the centre of pixel (row r, column c) maps to
(c, r) exactly. A viewport that puts 0,0 at the pixel's corner adds 0.5 itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.dicom.stack import SliceGeometry, frame_geometries

# Two planes whose normals differ by less than this (|cos| above 1 - PARALLEL) are parallel:
# a mask or contour is drawn only on planes parallel to its own.
PARALLEL = 1e-3
# Without a slice thickness on either side, "on the plane" means within this many mm.
DEFAULT_HALF_THICKNESS_MM = 0.5


class OverlayMismatch(ValueError):
    """An overlay that cannot be placed on this image (another Frame of Reference, another
    series without a common frame of reference, no geometry to place it by). The message is
    one line; the caller names the two files."""


@dataclass(frozen=True, eq=False)
class PlaneMap:
    """An image plane in the patient: `origin` (centre of the first pixel, mm), `steps` (3x2:
    the mm step to the next column, then to the next row), `normal` (unit)."""

    origin: np.ndarray
    steps: np.ndarray
    normal: np.ndarray

    @staticmethod
    def of(geometry: SliceGeometry | None) -> PlaneMap | None:
        """The plane of a frame's geometry; None without position, orientation and spacing."""
        if geometry is None or geometry.position is None or geometry.orientation is None:
            return None
        if not geometry.pixel_spacing:
            return None
        row_dir = np.asarray(geometry.orientation[:3], dtype=np.float64)
        col_dir = np.asarray(geometry.orientation[3:], dtype=np.float64)
        row_spacing, column_spacing = geometry.pixel_spacing
        steps = np.stack([row_dir * column_spacing, col_dir * row_spacing], axis=1)
        normal = np.cross(row_dir, col_dir)
        length = float(np.linalg.norm(normal))
        if length < 1e-6:
            return None
        return PlaneMap(np.asarray(geometry.position, dtype=np.float64), steps, normal / length)

    def to_patient(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) pixel coordinates (x, y) -> (N, 3) patient mm."""
        return self.origin + np.asarray(xy, dtype=np.float64) @ self.steps.T

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) patient mm -> (N, 2) pixel coordinates (x, y), projected along the normal
        (least squares on the two steps: exact for points in the plane)."""
        pseudo = np.linalg.pinv(self.steps)  # 2x3
        return (np.asarray(points, dtype=np.float64) - self.origin) @ pseudo.T

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (mm) of (N, 3) patient points from the plane, along its normal."""
        return (np.asarray(points, dtype=np.float64) - self.origin) @ self.normal

    def parallel_to(self, other: PlaneMap) -> bool:
        return abs(float(self.normal @ other.normal)) >= 1.0 - PARALLEL

    def affine_from(self, other: PlaneMap) -> tuple[np.ndarray, np.ndarray]:
        """(A, b) with `other`'s pixel (x, y) landing on this plane's pixel A @ (x, y) + b,
        for parallel planes (the offset along the normal is dropped)."""
        pseudo = np.linalg.pinv(self.steps)
        return pseudo @ other.steps, pseudo @ (other.origin - self.origin)


@dataclass(frozen=True, eq=False)
class TargetFrame:
    """One frame of an image as an overlay sees it."""

    sop_instance_uid: str
    series_instance_uid: str
    frame_number: int  # 1-based, as Referenced Frame Number counts
    frames: int
    frame_of_reference_uid: str
    rows: int
    columns: int
    plane: PlaneMap | None
    half_thickness: float | None  # half the Slice Thickness, mm, when the image has one


def target_frame(image_header: Dataset, frame: int = 0) -> TargetFrame:
    """What placing an overlay on frame `frame` (0-based) of `image_header` needs. IndexError
    when the image has no such frame."""
    geometries = frame_geometries(image_header)
    if not 0 <= frame < len(geometries):
        raise IndexError(f"frame {frame + 1} requested, the image has {len(geometries)}")
    geometry = geometries[frame]
    thickness = geometry.slice_thickness if geometry is not None else None
    return TargetFrame(
        sop_instance_uid=_text(image_header, "SOPInstanceUID"),
        series_instance_uid=_text(image_header, "SeriesInstanceUID"),
        frame_number=frame + 1,
        frames=len(geometries),
        frame_of_reference_uid=_text(image_header, "FrameOfReferenceUID"),
        rows=int(image_header.get("Rows") or 0),
        columns=int(image_header.get("Columns") or 0),
        plane=PlaneMap.of(geometry),
        half_thickness=thickness / 2.0 if thickness else None,
    )


def check_frame_of_reference(overlay_uids: tuple[str, ...], target: TargetFrame,
                             kind: str) -> None:
    """OverlayMismatch when the overlay and the image both name Frames of Reference and none
    is shared (PS3.3 C.7.4.1: coordinates in different frames are unrelated)."""
    named = tuple(uid for uid in overlay_uids if uid)
    if named and target.frame_of_reference_uid and target.frame_of_reference_uid not in named:
        raise OverlayMismatch(
            f"the {kind}'s Frame of Reference {named[0]} is not the image's "
            f"{target.frame_of_reference_uid}: refused, it would be drawn in the wrong place"
        )


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return str(value).strip() if value is not None else ""
