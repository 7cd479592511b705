"""Generated CT/MR series with known geometry, for volume tests (build, MPR, 3D, fusion).

Every series samples one analytic phantom, `phantom_hu(points)`, a function of patient
coordinates (LPS, mm): a test knows the Hounsfield value at any point of the patient, whatever
the orientation, tilt or spacing of the slices that sampled it. The phantom is a linear ramp
(so linear interpolation between slices reproduces it exactly) plus two spheres.

    files = write_ct_series(tmp_path, kind="oblique")          # list[Path], one file per slice
    files = write_ct_series(tmp_path, kind="enhanced")         # one multi-frame file
    hu = phantom_hu(np.array([[0.0, 0.0, 0.0]]))

Kinds (`KINDS`): "axial"; "oblique" (rotated Image Orientation, positions along its normal);
"tilt" (gantry tilt: tilted planes, positions stepping along z); "uneven" (some steps longer);
"gap" (one slice missing in the middle); "duplicates" (one slice written twice, a second SOP
Instance at the same position); "rescale" (per-slice Rescale Slope/Intercept, same HU: float
voxels); "intercepts" (per-slice Rescale Intercept only: int16 voxels);
"enhanced" (Enhanced CT Image Storage, one file, per-frame Plane Position, frames stored in
reverse order, shared Pixel Measures and Plane Orientation); "float" (Parametric Map Storage
with 32-bit Float Pixel Data, one NaN and one +inf in the middle frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    ParametricMapStorage,
    generate_uid,
)

KINDS = (
    "axial", "oblique", "tilt", "uneven", "gap", "duplicates", "rescale", "intercepts",
    "enhanced", "float",
)
# Per-slice (Rescale Slope, Rescale Intercept) in turn, all storing the same HU: "rescale"
# needs float voxels (a slope of 2), "intercepts" still fits int16.
RESCALES = {
    "rescale": ((1.0, -1024.0), (2.0, -1024.0), (1.0, -2000.0)),
    "intercepts": ((1.0, -1024.0), (1.0, -1000.0), (1.0, -1100.0)),
}
TILT_DEGREES = 15.0
CT_INTERCEPT = -1024
BITS_STORED = 12
HU_RANGE = (-1024.0, 3071.0)  # what 12 unsigned bits hold with intercept -1024

# (centre LPS mm, radius mm, HU added inside)
SPHERES = (((20.0, -10.0, 5.0), 25.0, 900.0), ((-45.0, 30.0, -30.0), 18.0, -700.0))


def phantom_hu(points: np.ndarray) -> np.ndarray:
    """Hounsfield units at patient points (..., 3) in LPS mm: 40 + 0.8x - 0.5y + 1.5z, plus
    +900 HU inside a sphere of radius 25 mm at (20, -10, 5) and -700 HU inside one of radius
    18 mm at (-45, 30, -30); clipped to what the files can store."""
    p = np.asarray(points, dtype=np.float64)
    hu = 40.0 + 0.8 * p[..., 0] - 0.5 * p[..., 1] + 1.5 * p[..., 2]
    for centre, radius, value in SPHERES:
        inside = np.sum((p - np.asarray(centre)) ** 2, axis=-1) <= radius**2
        hu = hu + np.where(inside, value, 0.0)
    return np.clip(hu, *HU_RANGE)


def phantom_ramp(points: np.ndarray) -> np.ndarray:
    """The linear part of the phantom alone (exact under linear interpolation)."""
    p = np.asarray(points, dtype=np.float64)
    return 40.0 + 0.8 * p[..., 0] - 0.5 * p[..., 1] + 1.5 * p[..., 2]


def near_sphere(points: np.ndarray, margin: float) -> np.ndarray:
    """True where a point is within `margin` mm of a sphere's surface (values jump there)."""
    p = np.asarray(points, dtype=np.float64)
    near = np.zeros(p.shape[:-1], dtype=bool)
    for centre, radius, _ in SPHERES:
        d = np.sqrt(np.sum((p - np.asarray(centre)) ** 2, axis=-1))
        near |= np.abs(d - radius) <= margin
    return near


@dataclass(frozen=True)
class SliceSpec:
    """Where one generated frame lies: Image Position (Patient) and Orientation, both LPS."""

    position: tuple[float, float, float]
    row: tuple[float, float, float]
    column: tuple[float, float, float]

    def points(self, rows: int, columns: int, pixel_spacing: float) -> np.ndarray:
        """(rows, columns, 3) patient points of the pixel centres."""
        j, i = np.mgrid[0:rows, 0:columns].astype(np.float64)
        return (
            np.asarray(self.position)
            + i[..., None] * pixel_spacing * np.asarray(self.row)
            + j[..., None] * pixel_spacing * np.asarray(self.column)
        )


def slice_specs(
    kind: str, slices: int, rows: int, columns: int, pixel_spacing: float, slice_spacing: float
) -> list[SliceSpec]:
    """The geometry of each frame of a series of `kind`, in acquisition order (centred on the
    patient origin)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    row, column = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    if kind == "oblique":
        row, column = _rotate(row, column, z_degrees=20.0, x_degrees=25.0)
    if kind == "tilt":  # the gantry leans about the patient's left-right axis
        t = math.radians(TILT_DEGREES)
        column = np.array([0.0, math.cos(t), -math.sin(t)])
    normal = np.cross(row, column)
    stack_step = np.array([0.0, 0.0, 1.0]) if kind == "tilt" else normal
    if kind == "tilt":  # positions move along z; one step is slice_spacing along the normal
        stack_step = stack_step / float(stack_step @ normal)
    offsets = list(np.arange(slices, dtype=np.float64) * slice_spacing)
    if kind == "uneven":  # every 7th step 40% longer: uneven, not a gap
        offsets = [0.0]
        for n in range(1, slices):
            offsets.append(offsets[-1] + slice_spacing * (1.4 if n % 7 == 0 else 1.0))
    if kind == "gap":
        del offsets[slices // 2]
    centre_offset = (offsets[0] + offsets[-1]) / 2
    half = (np.array([columns - 1, rows - 1]) * pixel_spacing) / 2
    origin_in_plane = -half[0] * row - half[1] * column
    specs = []
    for off in offsets:
        p = origin_in_plane + (off - centre_offset) * stack_step
        specs.append(SliceSpec(_vec(p), _vec(row), _vec(column)))
    if kind == "duplicates":
        specs.insert(slices // 3 + 1, specs[slices // 3])
    return specs


def _rotate(
    row: np.ndarray, column: np.ndarray, z_degrees: float, x_degrees: float
) -> tuple[np.ndarray, np.ndarray]:
    a, b = math.radians(z_degrees), math.radians(x_degrees)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    m = rx @ rz
    return m @ row, m @ column


def _vec(v: np.ndarray) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2])


def _ds(value: float) -> str:
    text = f"{value:.10g}"
    return text if len(text) <= 16 else f"{value:.8g}"


def write_ct_series(
    folder: Path,
    kind: str = "axial",
    shape: tuple[int, int, int] = (40, 64, 64),
    pixel_spacing: float = 3.0,
    slice_spacing: float = 4.0,
    modality: str = "CT",
) -> list[Path]:
    """Write a series of `kind` (see KINDS) with `shape` = (slices, rows, columns) into
    `folder` (created); returns the files, in acquisition order (one file for "enhanced" and
    "float"). Pixel values are `phantom_hu` at each pixel's patient point, stored as 12-bit
    unsigned with Rescale Intercept -1024 (per-slice rescale for "rescale")."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    slices, rows, columns = shape
    specs = slice_specs(kind, slices, rows, columns, pixel_spacing, slice_spacing)
    study, series, frame_of_reference = generate_uid(), generate_uid(), generate_uid()
    if kind in ("enhanced", "float"):
        path = folder / f"{kind}.dcm"
        _write_multiframe(
            path, kind, specs, rows, columns, pixel_spacing, slice_spacing,
            (study, series, frame_of_reference), modality,
        )
        return [path]
    paths = []
    for n, spec in enumerate(specs):
        hu = np.rint(phantom_hu(spec.points(rows, columns, pixel_spacing)))
        slope, intercept = (1.0, float(CT_INTERCEPT))
        if kind in RESCALES:
            slope, intercept = RESCALES[kind][n % 3]
        stored = np.rint((hu - intercept) / slope)
        ds = _classic(rows, columns, pixel_spacing, slice_spacing, modality)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = frame_of_reference
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        # Instance Numbers deliberately scrambled: the volume must sort by position.
        ds.InstanceNumber = (n * 7) % len(specs) + 1
        ds.ImagePositionPatient = [_ds(v) for v in spec.position]
        ds.ImageOrientationPatient = [_ds(v) for v in (*spec.row, *spec.column)]
        ds.RescaleSlope, ds.RescaleIntercept = _ds(slope), _ds(intercept)
        if intercept <= -2000:
            ds.BitsStored, ds.HighBit = 16, 15  # stored values above 4095
        ds.PixelData = stored.astype(np.uint16).tobytes()
        path = folder / f"slice{n:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _meta(sop_class: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def _common(ds: Dataset, modality: str) -> None:
    ds.PatientName = "Phantom^Volume"
    ds.PatientID = "VOL0001"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20261207"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber = "VOL1"
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.SeriesNumber = 3
    ds.Modality = modality
    ds.Manufacturer = "dicom-viewer test phantom"
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"


def _classic(
    rows: int, columns: int, pixel_spacing: float, slice_spacing: float, modality: str
) -> Dataset:
    ds = Dataset()
    ds.file_meta = _meta(CTImageStorage)
    ds.SOPClassUID = CTImageStorage
    _common(ds, modality)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SeriesDescription = "volume phantom"
    ds.KVP = "120"
    ds.SliceThickness = _ds(slice_spacing)
    ds.Rows, ds.Columns = rows, columns
    ds.PixelSpacing = [_ds(pixel_spacing), _ds(pixel_spacing)]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, BITS_STORED, BITS_STORED - 1
    ds.PixelRepresentation = 0
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    ds.RescaleType = "HU"
    return ds


def _write_multiframe(
    path: Path,
    kind: str,
    specs: list[SliceSpec],
    rows: int,
    columns: int,
    pixel_spacing: float,
    slice_spacing: float,
    uids: tuple[str, str, str],
    modality: str,
) -> None:
    """Enhanced CT (12-bit, shared rescale) or Parametric Map (float) with per-frame Plane
    Position (PS3.3 C.7.6.16); frames written last slice first."""
    floating = kind == "float"
    sop_class = ParametricMapStorage if floating else EnhancedCTImageStorage
    ds = Dataset()
    ds.file_meta = _meta(sop_class)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    _common(ds, "MR" if floating else modality)
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = uids
    ds.InstanceNumber = 1
    ds.ImageType = ["DERIVED", "PRIMARY"] if floating else ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.SeriesDescription = f"volume phantom {kind}"
    ds.ContentQualification = "RESEARCH" if floating else "PRODUCT"
    ds.Rows, ds.Columns = rows, columns
    ordered = list(reversed(specs))
    ds.NumberOfFrames = len(ordered)
    if floating:
        ds.BitsAllocated = 32
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, BITS_STORED, BITS_STORED - 1
        ds.PixelRepresentation = 0
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [_ds(pixel_spacing), _ds(pixel_spacing)]
    measures.SliceThickness = _ds(slice_spacing)
    shared.PixelMeasuresSequence = Sequence([measures])
    orientation = Dataset()
    orientation.ImageOrientationPatient = [_ds(v) for v in (*specs[0].row, *specs[0].column)]
    shared.PlaneOrientationSequence = Sequence([orientation])
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept = "1", str(CT_INTERCEPT)
    transform.RescaleType = "US" if floating else "HU"
    if floating:
        transform.RescaleIntercept = "0"
    shared.PixelValueTransformationSequence = Sequence([transform])
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = "40", "400"
    shared.FrameVOILUTSequence = Sequence([voi])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    pixels = []
    for n, spec in enumerate(ordered):
        item = Dataset()
        position = Dataset()
        position.ImagePositionPatient = [_ds(v) for v in spec.position]
        item.PlanePositionSequence = Sequence([position])
        content = Dataset()
        content.InStackPositionNumber = len(ordered) - n
        item.FrameContentSequence = Sequence([content])
        per_frame.append(item)
        hu = phantom_hu(spec.points(rows, columns, pixel_spacing))
        if floating:
            frame = hu.astype(np.float32)
            if n == len(ordered) // 2:
                frame[0, 0], frame[0, 1] = np.nan, np.inf
            pixels.append(frame)
        else:
            pixels.append((np.rint(hu) - CT_INTERCEPT).astype(np.uint16))
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    data = np.stack(pixels).tobytes()
    if floating:
        ds.FloatPixelData = data
    else:
        ds.PixelData = data
    ds.save_as(path, enforce_file_format=True)


def frame_points(path: Path, frame: int = 0) -> np.ndarray:
    """(rows, columns, 3) patient points of a written classic file's pixel centres, from its
    own header (for checking the volume against the files)."""
    from pydicom import dcmread

    ds = dcmread(path, stop_before_pixels=True)
    iop = [float(v) for v in ds.ImageOrientationPatient]
    spec = SliceSpec(
        _vec(np.array([float(v) for v in ds.ImagePositionPatient])),
        _vec(np.array(iop[:3])),
        _vec(np.array(iop[3:])),
    )
    return spec.points(int(ds.Rows), int(ds.Columns), float(ds.PixelSpacing[0]))
