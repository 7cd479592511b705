"""The two values every part of volume reading shares: a `Volume` and a `Plane`.

Coordinates are DICOM patient coordinates (LPS, mm). Voxel indices are (i, j, k) = (column, row,
slice) of the source frames, so `voxels[k, j, i]` and `affine @ (i, j, k, 1)` is the centre of that
voxel in the patient. The affine's first two columns are the source frames' row and column
directions times their spacings; the third is the step from one slice to the next. For a gantry
tilt that step is not along the slice normal: the affine is sheared, and every plane cut from the
volume through it lies in true patient space (never a sheared stack).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

import numpy as np

from viewer.dicom.stack import SliceGeometry, StackInfo

Vec3 = tuple[float, float, float]

AXIAL: tuple[Vec3, Vec3] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
CORONAL: tuple[Vec3, Vec3] = ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0))
SAGITTAL: tuple[Vec3, Vec3] = ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0))
PLANES: dict[str, tuple[Vec3, Vec3]] = {"axial": AXIAL, "coronal": CORONAL, "sagittal": SAGITTAL}
"""Radiological planes as (row direction, column direction), as Image Orientation (Patient)."""


class SlabMode(enum.Enum):
    MIP = "mip"
    MINIP = "minip"
    AVERAGE = "average"


class Interpolation(enum.Enum):
    LINEAR = "linear"
    NEAREST = "nearest"


@dataclass(eq=False)
class Volume:
    """A series as one array of modality values (HU for CT, Bq/ml for PET...), filled as its
    frames arrive.

    `voxels[k, j, i]`: slice k, row j, column i; int16 when every modality value is an integer
    that fits (CT with slope 1), else float32. It is the only copy of the voxels: the decode
    pool's frames are dropped from the cache once copied in.
    `filled[k]` tells which slices hold data yet; `revision` grows each time slices are added, so
    a view knows to redraw. `padding` is what a plane shows outside the volume (the lowest
    modality value the series can hold: -1024 HU style air for CT, 0 for PET).
    """

    voxels: np.ndarray
    affine: np.ndarray  # 4x4 float64: (i, j, k, 1) -> patient LPS mm
    frame_of_reference_uid: str
    series_uid: str
    modality: str = ""
    units: str = ""  # Rescale Type or Units (0054,1001): "HU", "BQML", ...
    padding: float = 0.0
    info: StackInfo = field(default_factory=StackInfo)
    # Default window of the series (center, width) in modality units, from its first frame.
    window: tuple[float, float] | None = None
    # PET: body-weight SUV per modality value (viewer.dicom.suv), or None with the reason.
    suv_factor: float | None = None
    suv_reason: str = ""
    # What the user must know about how this volume was made (gaps filled, uneven spacing
    # resampled, reduced resolution), each one line naming the problem.
    warnings: tuple[str, ...] = ()
    filled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    revision: int = 0

    def __post_init__(self) -> None:
        if self.filled.size != self.voxels.shape[0]:
            self.filled = np.zeros(self.voxels.shape[0], dtype=bool)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(slices, rows, columns)."""
        k, j, i = self.voxels.shape
        return int(k), int(j), int(i)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Length in mm of one step along i, j and k."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(norms[0]), float(norms[1]), float(norms[2])

    @property
    def complete(self) -> bool:
        return bool(self.filled.all())

    def to_patient(self, ijk: np.ndarray) -> np.ndarray:
        """(..., 3) voxel indices (i, j, k) -> (..., 3) patient points."""
        ijk = np.asarray(ijk, dtype=np.float64)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def to_voxel(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) patient points -> (..., 3) fractional voxel indices (i, j, k)."""
        inverse = np.linalg.inv(self.affine)
        points = np.asarray(points, dtype=np.float64)
        return points @ inverse[:3, :3].T + inverse[:3, 3]

    def corners(self) -> np.ndarray:
        """(8, 3) patient points of the centres of the eight corner voxels."""
        k, j, i = self.shape
        ijk = np.array(
            [[a, b, c] for a in (0, i - 1) for b in (0, j - 1) for c in (0, k - 1)], dtype=float
        )
        return self.to_patient(ijk)

    @property
    def center(self) -> Vec3:
        k, j, i = self.shape
        x, y, z = self.to_patient(np.array([(i - 1) / 2, (j - 1) / 2, (k - 1) / 2]))
        return float(x), float(y), float(z)


@dataclass(frozen=True)
class Plane:
    """A rectangle of square pixels in patient space, centred on `center`.

    `row` is the direction of increasing column index and `column` that of increasing row index,
    as the two halves of Image Orientation (Patient); both unit length and orthogonal. Pixel
    (r, c) lies at center + (c - (columns-1)/2)*spacing*row + (r - (rows-1)/2)*spacing*column.
    `slab` is the total thickness in mm, centred on the plane (0: a thin plane); `mode` says how
    the samples across it combine.
    """

    center: Vec3
    row: Vec3
    column: Vec3
    spacing: float
    columns: int
    rows: int
    slab: float = 0.0
    mode: SlabMode = SlabMode.MIP

    @property
    def normal(self) -> Vec3:
        n = np.cross(self.row, self.column)
        return float(n[0]), float(n[1]), float(n[2])

    @property
    def orientation(self) -> tuple[float, float, float, float, float, float]:
        return (*self.row, *self.column)

    @property
    def first_pixel(self) -> Vec3:
        """Image Position (Patient): the centre of pixel (0, 0)."""
        p = self.to_patient(0.0, 0.0)
        return float(p[0]), float(p[1]), float(p[2])

    def to_patient(self, r: float | np.ndarray, c: float | np.ndarray) -> np.ndarray:
        """Pixel (r, c), fractional allowed -> patient point(s), shape (..., 3)."""
        r = np.asarray(r, dtype=np.float64)[..., None]
        c = np.asarray(c, dtype=np.float64)[..., None]
        du = (c - (self.columns - 1) / 2.0) * self.spacing
        dv = (r - (self.rows - 1) / 2.0) * self.spacing
        return np.asarray(self.center) + du * np.asarray(self.row) + dv * np.asarray(self.column)

    def to_pixel(self, point: np.ndarray) -> tuple[float, float, float]:
        """Patient point -> (r, c, signed distance from the plane along its normal in mm)."""
        d = np.asarray(point, dtype=np.float64) - np.asarray(self.center)
        c = float(d @ np.asarray(self.row)) / self.spacing + (self.columns - 1) / 2.0
        r = float(d @ np.asarray(self.column)) / self.spacing + (self.rows - 1) / 2.0
        return r, c, float(d @ np.asarray(self.normal))

    def moved(self, mm: float) -> Plane:
        """The same plane shifted `mm` along its normal."""
        center = np.asarray(self.center) + mm * np.asarray(self.normal)
        return replace(self, center=(float(center[0]), float(center[1]), float(center[2])))

    def slice_geometry(self, frame_of_reference_uid: str) -> SliceGeometry:
        """The plane as the 2D tools see a frame: orientation labels, scale bar, measurements
        and reference lines then work on it unchanged."""
        return SliceGeometry(
            position=self.first_pixel,
            orientation=self.orientation,
            pixel_spacing=(self.spacing, self.spacing),
            slice_thickness=self.slab or None,
            slice_location=None,
            frame_of_reference_uid=frame_of_reference_uid,
            rows=self.rows,
            columns=self.columns,
        )


def orthonormal(row: Vec3, column: Vec3) -> tuple[Vec3, Vec3]:
    """Row and column directions made unit and exactly orthogonal (Gram-Schmidt on the column);
    ValueError when they are zero or parallel."""
    r = np.asarray(row, dtype=np.float64)
    c = np.asarray(column, dtype=np.float64)
    rn = np.linalg.norm(r)
    if not np.isfinite(rn) or rn < 1e-9:
        raise ValueError("the row direction is zero")
    r = r / rn
    c = c - (c @ r) * r
    cn = np.linalg.norm(c)
    if not np.isfinite(cn) or cn < 1e-6:
        raise ValueError("the row and column directions are parallel")
    c = c / cn
    return (float(r[0]), float(r[1]), float(r[2])), (float(c[0]), float(c[1]), float(c[2]))


def covering_plane(
    volume: Volume,
    row: Vec3,
    column: Vec3,
    center: Vec3 | None = None,
    spacing: float | None = None,
) -> Plane:
    """The default plane of `mpr`: through `center` (default the volume's centre), pixels of
    `spacing` (default the volume's finest), large enough that the whole volume's projection on
    the plane is inside it."""
    row, column = orthonormal(row, column)
    centre = volume.center if center is None else center
    step = min(volume.spacing) if spacing is None else float(spacing)
    if not step > 0:
        raise ValueError("the spacing must be positive")
    d = volume.corners() - np.asarray(centre)
    half_u = float(np.max(np.abs(d @ np.asarray(row))))
    half_v = float(np.max(np.abs(d @ np.asarray(column))))
    columns = int(np.floor(2 * half_u / step + 1e-6)) + 1
    rows = int(np.floor(2 * half_v / step + 1e-6)) + 1
    return Plane(center=centre, row=row, column=column, spacing=step, columns=columns, rows=rows)
