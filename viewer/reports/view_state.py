"""What the user sees, as frozen values: the input of "save presentation state" (`create_ps`).

Coordinates: every point and edge here is in PS3.3 C.10.5 PIXEL units, the convention of a
Grayscale Softcopy Presentation State: x = column, y = row, (0, 0) the top-left corner of the
top-left pixel, so the centre of pixel (column 0, row 0) is (0.5, 0.5) and the whole image is
the box (0, 0) - (Columns, Rows). Points kept with pixel centres at integers (as
`viewer.dicom.measure` and the GUI's measurements keep them) go through `from_pixel_centres`
first. Coordinates are those of the image itself, before the view's rotation and flip.
"""

from __future__ import annotations

import copy
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from viewer.dicom.frameinfo import VOIFunction
from viewer.dicom.presentation_state import PresentationSizeMode

Point = tuple[float, float]  # (x, y) = (column, row), PIXEL units (see the module docstring)

_ROTATIONS = (0, 90, 180, 270)


def from_pixel_centres(point: Sequence[float]) -> Point:
    """A point kept with pixel centres at integers (`viewer.dicom.measure`) in PIXEL units."""
    return (float(point[0]) + 0.5, float(point[1]) + 0.5)


def spatial_transformation(quarter_turns: int, flip_h: bool, flip_v: bool) -> tuple[int, bool]:
    """A viewport's turns and mirrors (rotated first, then mirrored on screen, as the reading
    window draws) as the Image Rotation (degrees clockwise) and Image Horizontal Flip a
    presentation state can say (PS3.3 C.10.6: rotate, then flip). A vertical mirror after the
    rotation is the same picture as a further half turn followed by a horizontal mirror."""
    turns = quarter_turns % 4
    if flip_v:
        turns, flip_h = (turns + 2) % 4, not flip_h
    return turns * 90, flip_h


# Patient and study attributes highdicom reads from a referenced image as attributes (an absent
# one would raise AttributeError): Type 2 in the images' IODs, so empty is a valid value.
_PATIENT_STUDY_TYPE2 = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
    "StudyDate", "StudyTime", "ReferringPhysicianName",
)


def with_patient_study(ds: Dataset) -> Dataset:
    """A shallow copy of `ds` with every Type 2 patient and study attribute present (empty
    when the image lacks it), as highdicom needs to copy them into a new object."""
    filled = Dataset()
    filled.update(ds)
    for keyword in _PATIENT_STUDY_TYPE2:
        if keyword not in filled:
            setattr(filled, keyword, "")
    return filled


def _uid(ds: Dataset, keyword: str) -> str:
    value = str(ds.get(keyword, "") or "").strip()
    if not value:
        raise ValueError(f"the image header has no {keyword}")
    return value


@dataclass(frozen=True)
class ViewedImage:
    """One frame of one image the user is looking at.

    `header`: the image's header (pixel data not needed; `of` keeps a copy without it), read
    for its UIDs, Rows/Columns, Photometric Interpretation, pixel spacing, windows and the
    patient and study it belongs to. `frame`: the frame number, 1-based as in Referenced Frame
    Number (1 for a single-frame image).
    """

    header: Dataset = field(compare=False, repr=False)
    frame: int = 1
    sop_class_uid: str = field(init=False)
    sop_instance_uid: str = field(init=False)
    series_instance_uid: str = field(init=False)
    study_instance_uid: str = field(init=False)
    rows: int = field(init=False)
    columns: int = field(init=False)
    number_of_frames: int = field(init=False)

    def __post_init__(self) -> None:
        ds = self.header
        uids = {k: _uid(ds, k) for k in (
            "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")}
        try:
            rows, columns = int(ds.Rows), int(ds.Columns)
            frames = int(ds.get("NumberOfFrames", 1) or 1)
        except (AttributeError, TypeError, ValueError):
            raise ValueError(
                f"image {uids['SOPInstanceUID']}: no usable Rows, Columns or Number of Frames"
            ) from None
        if rows < 1 or columns < 1:
            raise ValueError(f"image {uids['SOPInstanceUID']}: {columns}x{rows} pixels")
        if not 1 <= self.frame <= frames:
            raise ValueError(
                f"image {uids['SOPInstanceUID']}: frame {self.frame} requested, it has {frames}"
            )
        for name, value in (
            ("sop_class_uid", uids["SOPClassUID"]),
            ("sop_instance_uid", uids["SOPInstanceUID"]),
            ("series_instance_uid", uids["SeriesInstanceUID"]),
            ("study_instance_uid", uids["StudyInstanceUID"]),
            ("rows", rows), ("columns", columns), ("number_of_frames", frames),
        ):
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, ds: Dataset, frame: int = 1) -> ViewedImage:
        """The frame `frame` (1-based) of the image `ds`, keeping a copy of its header only."""
        header = Dataset()
        # Pixel Data and overlay planes are large and say nothing a presentation state needs.
        header.update({tag: copy.deepcopy(ds[tag]) for tag in ds.keys()
                       if tag.group != 0x7FE0 and not 0x6000 <= tag.group <= 0x60FF})
        return cls(header, frame)

    @property
    def multi_frame(self) -> bool:
        return self.number_of_frames > 1



@dataclass(frozen=True)
class RectangleShutter:
    """Everything outside the box (x0, y0) - (x1, y1) is shuttered (PIXEL units)."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class CircleShutter:
    """Everything outside the circle is shuttered: centre (x, y) and radius in pixels."""

    center: Point
    radius: float


@dataclass(frozen=True)
class PolygonShutter:
    """Everything outside the polygon is shuttered; the last vertex joins the first."""

    vertices: tuple[Point, ...]


Shutter = RectangleShutter | CircleShutter | PolygonShutter


class Shape(enum.Enum):
    """What a measurement looks like, and what its `points` are."""

    LINE = "line"  # two end points
    POLYLINE = "polyline"  # two or more points, open
    POLYGON = "polygon"  # three or more points, closed (last joins first)
    ANGLE = "angle"  # arm end, vertex, arm end
    RECTANGLE = "rectangle"  # two opposite corners
    ELLIPSE = "ellipse"  # two opposite corners of its bounding box (axes along x and y)
    CIRCLE = "circle"  # centre, then a point on the circle
    POINT = "point"  # one point

    @property
    def counts(self) -> tuple[int, int]:
        """Fewest and most points (0: no limit)."""
        return {
            Shape.LINE: (2, 2), Shape.POLYLINE: (2, 0), Shape.POLYGON: (3, 0),
            Shape.ANGLE: (3, 3), Shape.RECTANGLE: (2, 2), Shape.ELLIPSE: (2, 2),
            Shape.CIRCLE: (2, 2), Shape.POINT: (1, 1),
        }[self]


@dataclass(frozen=True)
class Measurement:
    """A measurement drawn by the user, stored as a graphic with its value as text.

    `points` in PIXEL units. `text`: the value as shown ("12.3 mm", "mean 40.2 HU"); None
    to have the length, angle or area computed from the image's calibration (pixels, said in
    the text, when it has no pixel spacing); "" for the graphic alone. `sop_instance_uid` and
    `frame`: the image (and frame, 1-based) it was drawn on; None for every image of the
    presentation state.
    """

    shape: Shape
    points: tuple[Point, ...]
    text: str | None = None
    sop_instance_uid: str | None = None
    frame: int | None = None

    def __post_init__(self) -> None:
        fewest, most = self.shape.counts
        n = len(self.points)
        if n < fewest or (most and n > most):
            wanted = f"{fewest}" if fewest == most else f"at least {fewest}"
            raise ValueError(f"a {self.shape.value} measurement needs {wanted} points, got {n}")
        if not all(len(p) == 2 and all(math.isfinite(float(v)) for v in p) for p in self.points):
            raise ValueError(f"a {self.shape.value} measurement has a point that is not x, y")


@dataclass(frozen=True)
class ViewState:
    """How the user shows the images (PS3.3 A.33.1 Grayscale Softcopy Presentation State).

    `window`: (centre, width) in modality units (C.11.2.1.2), None for the file's own first
    window (else its first VOI LUT); `voi_function` with it. `invert`: the image shown the
    other way round from its Photometric Interpretation. `rotation` (degrees clockwise, 0, 90,
    180, 270) and `horizontal_flip`, applied in that order (C.10.6; `spatial_transformation`
    turns a viewport's turns and mirrors into them). `displayed_area`: the part of the image
    the zoom and pan show, (x0, y0, x1, y1) in PIXEL units before rotation, None for the whole
    image (a viewport's crop `printing.compose.Crop` is (left, top, left + width, top + height));
    it may reach beyond the image. `size_mode`, with `magnification` (displayed pixels
    per image pixel) for MAGNIFY. `shutters`: at most one of each kind; outside them the
    `shutter_value` grey (a P-value, 0 black to 65535 white). `measurements`: graphics and
    their values on a layer named MEASUREMENTS.
    """

    window: tuple[float, float] | None = None
    voi_function: VOIFunction = VOIFunction.LINEAR
    invert: bool = False
    rotation: int = 0
    horizontal_flip: bool = False
    displayed_area: tuple[float, float, float, float] | None = None
    size_mode: PresentationSizeMode = PresentationSizeMode.SCALE_TO_FIT
    magnification: float | None = None
    shutters: tuple[Shutter, ...] = ()
    shutter_value: int = 0
    measurements: tuple[Measurement, ...] = ()

    def __post_init__(self) -> None:
        if self.window is not None and not (
            len(self.window) == 2 and all(math.isfinite(v) for v in self.window)
            and self.window[1] > 0
        ):
            raise ValueError(f"window {self.window}: a centre and a width above 0 are needed")
        if self.rotation not in _ROTATIONS:
            raise ValueError(f"rotation {self.rotation}: one of 0, 90, 180, 270 degrees")
        if self.displayed_area is not None:
            x0, y0, x1, y1 = self.displayed_area
            if not (x1 > x0 and y1 > y0):
                raise ValueError(f"displayed area {self.displayed_area} is empty")
        if self.size_mode is PresentationSizeMode.MAGNIFY:
            if self.magnification is None or not self.magnification > 0:
                raise ValueError("MAGNIFY needs a magnification above 0")
        kinds = [type(s).__name__ for s in self.shutters]
        if len(set(kinds)) != len(kinds):
            raise ValueError("at most one shutter of each kind (rectangle, circle, polygon)")
        if not 0 <= self.shutter_value <= 0xFFFF:
            raise ValueError(f"shutter value {self.shutter_value}: a P-value 0..65535")
