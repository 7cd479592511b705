"""A synthetic body CT series for demos and tests, and re-encoding with real tools.

`write_ct_series` writes a CT Image Storage series (PS3.3 A.3) that looks like a chest/abdomen
CT: an elliptical body with fat, muscle, organs, bone and air-filled lungs, in Hounsfield units.
`transcode` re-encodes files into another transfer syntax (PS3.5 section 10 and annex A) with
DCMTK, GDCM or OpenJPH command line tools: never with our own encoder, so tests that decode the
result check us against independent implementations.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

LOGGER = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: Transfer syntax UID (PS3.6 annex A) that each `transcode` syntax name produces.
TRANSFER_SYNTAXES: dict[str, str] = {
    "explicit-le": "1.2.840.10008.1.2.1",
    "implicit-le": "1.2.840.10008.1.2",
    "big-endian": "1.2.840.10008.1.2.2",
    "deflate": "1.2.840.10008.1.2.1.99",
    "rle": "1.2.840.10008.1.2.5",
    "jpeg-baseline": "1.2.840.10008.1.2.4.50",
    "jpeg-extended": "1.2.840.10008.1.2.4.51",
    "jpeg-lossless": "1.2.840.10008.1.2.4.57",
    "jpeg-lossless-sv1": "1.2.840.10008.1.2.4.70",
    "jpeg-ls": "1.2.840.10008.1.2.4.80",
    "jpeg-ls-near": "1.2.840.10008.1.2.4.81",
    "j2k": "1.2.840.10008.1.2.4.90",
    "j2k-lossy": "1.2.840.10008.1.2.4.91",
    "htj2k": "1.2.840.10008.1.2.4.201",
    "htj2k-lossy": "1.2.840.10008.1.2.4.203",
}

#: Syntaxes whose decoded pixels must equal the original exactly.
LOSSLESS: frozenset[str] = frozenset(
    {
        "explicit-le", "implicit-le", "big-endian", "deflate", "rle", "jpeg-lossless",
        "jpeg-lossless-sv1", "jpeg-ls", "j2k", "htj2k",
    }
)

# Command line per syntax: the tool and its options, followed by input and output paths.
# DCMTK: dcmconv/dcmcrle/dcmcjpeg/dcmcjpls; GDCM: gdcmconv (-i IN -o OUT).
_DCMTK_COMMANDS: dict[str, list[str]] = {
    "explicit-le": ["dcmconv", "+te"],
    "implicit-le": ["dcmconv", "+ti"],
    "big-endian": ["dcmconv", "+tb"],
    "deflate": ["dcmconv", "+td"],
    "rle": ["dcmcrle"],
    # 8-bit baseline from >8-bit input: +rm keeps the modality values through a rescale.
    "jpeg-baseline": ["dcmcjpeg", "+eb", "+rm", "+q", "90"],
    "jpeg-extended": ["dcmcjpeg", "+ee", "+q", "90"],
    "jpeg-lossless": ["dcmcjpeg", "+el"],
    "jpeg-lossless-sv1": ["dcmcjpeg", "+e1"],
    "jpeg-ls": ["dcmcjpls", "+el"],
    "jpeg-ls-near": ["dcmcjpls", "+en", "+md", "2"],
}
_GDCM_COMMANDS: dict[str, list[str]] = {
    "j2k": ["gdcmconv", "--j2k"],
    # Irreversible 9/7 wavelet at compression ratio 10: truly lossy, yet diagnostic-looking.
    # (gdcmconv's -q is not a PSNR here: -q 45 gave ratio 180 and errors of 1600 HU.)
    "j2k-lossy": ["gdcmconv", "--j2k", "--irreversible", "--lossy", "-r", "10"],
}
_TOOL_TIMEOUT_S = 120.0


class TranscodeError(RuntimeError):
    """A tool failed or produced the wrong transfer syntax; names the tool, file and stderr."""


# ---------------------------------------------------------------------------------------------
# The phantom
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """An ellipse in normalised image coordinates (x: patient right->left, y: anterior->posterior).

    Its size along z follows a piecewise-linear profile of the slice's fraction t (0 = top of the
    scan, 1 = bottom): `profile` lists (t, scale) knots; scale 0 means the organ is absent.
    """

    name: str
    hu: float
    cx: float
    cy: float
    ax: float
    ay: float
    profile: tuple[tuple[float, float], ...] = ((0.0, 1.0), (1.0, 1.0))
    angle_deg: float = 0.0


_LUNG_HU = -860.0
_TRUNK = ((0.0, 0.93), (0.4, 1.0), (0.8, 1.0), (1.0, 0.96))  # narrower at the shoulders

# Drawn in order: later shapes paint over earlier ones. HU values are typical textbook values.
_SHAPES: tuple[_Shape, ...] = (
    _Shape("subcutaneous fat", -100, 0.0, 0.04, 0.86, 0.62, _TRUNK),
    _Shape("muscle wall", 45, 0.0, 0.04, 0.80, 0.56, _TRUNK),
    _Shape("visceral fat", -90, 0.0, 0.05, 0.73, 0.49, _TRUNK),
    _Shape("right lung", _LUNG_HU, -0.36, 0.02, 0.31, 0.40,
           ((0.0, 0.45), (0.15, 0.85), (0.38, 1.0), (0.46, 0.75), (0.50, 0.0), (1.0, 0.0))),
    _Shape("left lung", _LUNG_HU, 0.37, 0.02, 0.29, 0.40,
           ((0.0, 0.45), (0.15, 0.85), (0.40, 1.0), (0.50, 0.75), (0.54, 0.0), (1.0, 0.0))),
    _Shape("heart", 40, 0.10, -0.08, 0.24, 0.21,
           ((0.0, 0.0), (0.14, 0.0), (0.20, 0.8), (0.32, 1.0), (0.44, 0.8), (0.48, 0.0),
            (1.0, 0.0)),
           angle_deg=-25),
    _Shape("left ventricle", 140, 0.17, -0.06, 0.11, 0.09,
           ((0.0, 0.0), (0.20, 0.0), (0.28, 1.0), (0.40, 0.8), (0.45, 0.0), (1.0, 0.0)),
           angle_deg=-25),
    _Shape("liver", 60, -0.33, 0.02, 0.40, 0.40,
           ((0.0, 0.0), (0.44, 0.0), (0.50, 0.8), (0.62, 1.0), (0.80, 0.7), (0.90, 0.0),
            (1.0, 0.0)),
           angle_deg=15),
    _Shape("stomach", 25, 0.28, -0.15, 0.20, 0.15,
           ((0.0, 0.0), (0.50, 0.0), (0.56, 0.9), (0.66, 1.0), (0.74, 0.0), (1.0, 0.0))),
    _Shape("stomach gas", -980, 0.28, -0.24, 0.14, 0.05,
           ((0.0, 0.0), (0.53, 0.0), (0.58, 0.9), (0.64, 1.0), (0.70, 0.0), (1.0, 0.0))),
    _Shape("spleen", 50, 0.52, 0.20, 0.13, 0.20,
           ((0.0, 0.0), (0.50, 0.0), (0.56, 0.9), (0.64, 1.0), (0.74, 0.0), (1.0, 0.0)),
           angle_deg=-30),
    _Shape("right kidney", 150, -0.28, 0.33, 0.10, 0.14,
           ((0.0, 0.0), (0.66, 0.0), (0.72, 0.9), (0.82, 1.0), (0.93, 0.0), (1.0, 0.0)),
           angle_deg=20),
    _Shape("right renal pelvis", 15, -0.25, 0.31, 0.035, 0.05,
           ((0.0, 0.0), (0.74, 0.0), (0.78, 1.0), (0.86, 1.0), (0.88, 0.0), (1.0, 0.0))),
    _Shape("left kidney", 150, 0.29, 0.33, 0.10, 0.14,
           ((0.0, 0.0), (0.62, 0.0), (0.68, 0.9), (0.78, 1.0), (0.90, 0.0), (1.0, 0.0)),
           angle_deg=-20),
    _Shape("left renal pelvis", 15, 0.26, 0.31, 0.035, 0.05,
           ((0.0, 0.0), (0.70, 0.0), (0.74, 1.0), (0.82, 1.0), (0.84, 0.0), (1.0, 0.0))),
    _Shape("bowel", 30, 0.05, -0.22, 0.36, 0.16,
           ((0.0, 0.0), (0.70, 0.0), (0.80, 1.0), (1.0, 1.0))),
    _Shape("bowel gas", -960, -0.12, -0.26, 0.07, 0.05,
           ((0.0, 0.0), (0.80, 0.0), (0.86, 1.0), (0.94, 1.0), (1.0, 0.0))),
    _Shape("bowel gas 2", -960, 0.18, -0.20, 0.06, 0.04,
           ((0.0, 0.0), (0.74, 0.0), (0.80, 1.0), (0.90, 0.0), (1.0, 0.0))),
    _Shape("aorta", 180, 0.05, 0.22, 0.05, 0.05),
    _Shape("inferior vena cava", 120, -0.12, 0.20, 0.05, 0.04,
           ((0.0, 0.0), (0.40, 0.0), (0.48, 1.0), (1.0, 1.0))),
    _Shape("sternum", 500, 0.0, -0.50, 0.07, 0.03,
           ((0.0, 1.0), (0.45, 1.0), (0.50, 0.0), (1.0, 0.0))),
    _Shape("vertebral cortex", 900, 0.0, 0.38, 0.11, 0.10),
    _Shape("vertebral body", 280, 0.0, 0.38, 0.09, 0.08),
    _Shape("posterior arch", 700, 0.0, 0.52, 0.10, 0.06),
    _Shape("spinal canal", 15, 0.0, 0.51, 0.045, 0.04),
    _Shape("spinous process", 750, 0.0, 0.60, 0.03, 0.06),
    _Shape("right erector spinae", 50, -0.13, 0.58, 0.07, 0.07),
    _Shape("left erector spinae", 50, 0.13, 0.58, 0.07, 0.07),
)

_TABLE_HU = 200.0  # the patient table: a thin curved plate below the body


def _profile(knots: tuple[tuple[float, float], ...], t: float) -> float:
    ts, scales = zip(*knots, strict=True)
    return float(np.interp(t, ts, scales))


class _Phantom:
    """Precomputed per-shape distance maps, so each slice costs only thresholds and fills."""

    def __init__(self, rows: int, columns: int, seed: int) -> None:
        self.rows, self.columns = rows, columns
        # Square normalised coordinates so round organs stay round on non-square matrices.
        half = max(rows, columns) / 2.0
        y = ((np.arange(rows, dtype=np.float32) + 0.5 - rows / 2.0) / half)[:, None]
        x = ((np.arange(columns, dtype=np.float32) + 0.5 - columns / 2.0) / half)[None, :]
        self.maps: list[tuple[_Shape, tuple[slice, slice], np.ndarray]] = []
        for shape in _SHAPES:
            box = self._box(shape, half)
            if box is None:
                continue
            r2 = self._r2(x[:, box[1]], y[box[0], :], shape)
            self.maps.append((shape, box, r2))
        self.ribs = self._rib_maps(x, y)
        # Table: a shallow arc under the back.
        self.table = ((np.abs(y - 0.75 - 0.04 * x**2) < 0.012) & (np.abs(x) < 0.9)).astype(bool)
        rng = np.random.default_rng(seed)
        # A small bank of noise fields, reused with per-slice shifts: cheap and deterministic.
        self.noise = [rng.normal(0.0, 10.0, (rows, columns)).astype(np.float32) for _ in range(7)]
        # Lung vessels: the peaks of bilinearly upsampled coarse noise are small round blobs,
        # like vessels cut across; interpolating between coarse fields moves them along z.
        self._coarse = rng.normal(0.0, 1.0, (60, 40, 40)).astype(np.float32)
        self._up_r = _bilinear_matrix(rows, 40)
        self._up_c = _bilinear_matrix(columns, 40)

    def _box(self, shape: _Shape, half: float) -> tuple[slice, slice] | None:
        extent = max(shape.ax, shape.ay) * 1.05
        c0 = int(np.floor((shape.cx - extent) * half + self.columns / 2.0))
        c1 = int(np.ceil((shape.cx + extent) * half + self.columns / 2.0)) + 1
        r0 = int(np.floor((shape.cy - extent) * half + self.rows / 2.0))
        r1 = int(np.ceil((shape.cy + extent) * half + self.rows / 2.0)) + 1
        c0, r0 = max(c0, 0), max(r0, 0)
        c1, r1 = min(c1, self.columns), min(r1, self.rows)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)

    @staticmethod
    def _r2(x: np.ndarray, y: np.ndarray, shape: _Shape) -> np.ndarray:
        a = np.deg2rad(shape.angle_deg)
        dx, dy = x - shape.cx, y - shape.cy
        u = dx * np.cos(a) + dy * np.sin(a)
        v = -dx * np.sin(a) + dy * np.cos(a)
        return ((u / shape.ax) ** 2 + (v / shape.ay) ** 2).astype(np.float32)

    def _rib_maps(self, x: np.ndarray, y: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """Ribs: small ellipses along the inside of the chest wall, each with its own phase."""
        ribs = []
        for k, ang in enumerate(np.deg2rad(np.linspace(200, 340, 8))):
            for side in (-1.0, 1.0):
                cx = side * 0.77 * abs(np.cos(ang)) * 1.0
                cy = 0.04 + 0.53 * np.sin(ang) * -1.0
                r2 = ((x - cx) / 0.035) ** 2 + ((y - cy) / 0.025) ** 2
                ribs.append((k * 0.9 + (0.4 if side > 0 else 0.0), r2.astype(np.float32)))
        return ribs

    def slice_hu(self, index: int, t: float, z_mm: float) -> np.ndarray:
        """Hounsfield units of one axial slice as float32."""
        img = np.full((self.rows, self.columns), -1000.0, dtype=np.float32)
        img[self.table] = _TABLE_HU
        lung_scale = 0.0
        for shape, box, r2 in self.maps:
            s = _profile(shape.profile, t)
            if s <= 0.0:
                continue
            region = img[box]
            region[r2 < s * s] = shape.hu
            if shape.name.endswith("lung"):
                lung_scale = max(lung_scale, s)
        chest = _profile(((0.0, 1.0), (0.5, 1.0), (0.62, 0.0), (1.0, 0.0)), t)
        if chest > 0.0:
            for phase, r2 in self.ribs:
                # Ribs run obliquely, so each crosses a slice for a stretch of ~10 mm every ~30 mm.
                if np.sin(2.0 * np.pi * z_mm / 30.0 + phase) > 0.35:
                    img[r2 < chest] = 850.0
        if lung_scale > 0.0:
            self._add_lung_vessels(img, t)
        noise = self.noise[index % len(self.noise)]
        shift = (index * 37) % self.columns
        img += np.roll(noise, shift, axis=1)
        return img

    def _add_lung_vessels(self, img: np.ndarray, t: float) -> None:
        pos = t * (len(self._coarse) - 1)
        i0 = int(pos)
        i1 = min(i0 + 1, len(self._coarse) - 1)
        w = pos - i0
        coarse = (1.0 - w) * self._coarse[i0] + w * self._coarse[i1]
        field = self._up_r @ coarse @ self._up_c.T
        # -860 HU is painted only by the lung shapes (noise is added later).
        vessels = (img == _LUNG_HU) & (field > 0.8)
        img[vessels] = 30.0


def _bilinear_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Matrix that linearly interpolates n_in samples to n_out samples."""
    pos = np.linspace(0.0, n_in - 1.0, n_out)
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    w = (pos - lo).astype(np.float32)
    m = np.zeros((n_out, n_in), dtype=np.float32)
    m[np.arange(n_out), lo] = 1.0 - w
    m[np.arange(n_out), lo + 1] = w
    return m


# ---------------------------------------------------------------------------------------------
# Writing the series
# ---------------------------------------------------------------------------------------------

_RESCALE_INTERCEPT = -1024
_BITS_STORED = 12


def write_ct_series(
    out_dir: PathLike,
    slices: int = 300,
    rows: int = 512,
    columns: int = 512,
    *,
    patient_name: str = "DEMO^CT",
    patient_id: str = "DEMO0001",
    study_uid: str | None = None,
    series_uid: str | None = None,
    series_number: int = 1,
    study_description: str = "CT CHEST ABDOMEN (synthetic)",
    series_description: str = "Axial 1.0 mm",
    pixel_spacing_mm: float = 0.7,
    slice_spacing_mm: float = 1.0,
    seed: int = 0,
    frame_of_reference_uid: str | None = None,
) -> list[Path]:
    """Write a synthetic axial body CT series; return the paths, superior to inferior.

    CT Image Storage (PS3.3 A.3), Explicit VR Little Endian with PS3.10 file meta. Pixels are
    unsigned 16-bit with Bits Stored 12 and Rescale Intercept -1024 (HU = stored - 1024,
    PS3.3 C.11.1.1.2). Two VOI windows (PS3.3 C.11.2.1.2): abdomen 40/400 and lung -600/1500.
    Image Position (Patient) steps by `slice_spacing_mm` along -z (feet-first ordering of
    instance numbers: instance 1 is the most superior slice).
    """
    if slices < 1 or rows < 8 or columns < 8:
        raise ValueError(
            f"slices, rows, columns must be >= 1, 8, 8; got {slices}, {rows}, {columns}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    phantom = _Phantom(rows, columns, seed)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    ds = _ct_template(
        rows, columns, patient_name, patient_id, study_uid, series_uid, series_number,
        study_description, series_description, pixel_spacing_mm, slice_spacing_mm,
    )
    if frame_of_reference_uid:  # series of one acquisition share it (PS3.3 C.7.4.1)
        ds.FrameOfReferenceUID = frame_of_reference_uid
    x0 = -(columns - 1) / 2.0 * pixel_spacing_mm
    y0 = -(rows - 1) / 2.0 * pixel_spacing_mm
    top = (slices - 1) / 2.0 * slice_spacing_mm
    hi = (1 << _BITS_STORED) - 1
    paths: list[Path] = []
    for k in range(slices):
        t = k / max(slices - 1, 1)
        z = top - k * slice_spacing_mm
        hu = phantom.slice_hu(k, t, z)
        stored = np.clip(np.rint(hu) - _RESCALE_INTERCEPT, 0, hi).astype("<u2")
        sop_uid = generate_uid()
        ds.SOPInstanceUID = sop_uid
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [_ds(x0), _ds(y0), _ds(z)]
        ds.SliceLocation = _ds(z)
        ds.PixelData = stored.tobytes()
        path = out / f"CT{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    LOGGER.info("wrote %d synthetic CT slices (%dx%d) to %s", slices, rows, columns, out)
    return paths


def _ds(value: float) -> str:
    """A Decimal String (PS3.5 6.2) of at most 16 characters."""
    text = f"{value:.6g}"
    return "0" if text == "-0" else text


def _ct_template(
    rows: int, columns: int, patient_name: str, patient_id: str, study_uid: str,
    series_uid: str, series_number: int, study_description: str, series_description: str,
    pixel_spacing_mm: float, slice_spacing_mm: float,
) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    if not (patient_name + study_description + series_description).isascii():
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240102"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "093000"
    ds.AccessionNumber = "DEMO0001"
    ds.Modality = "CT"
    ds.Manufacturer = "dicom-viewer synthetic phantom"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = study_description
    ds.SeriesDescription = series_description
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = _ds(slice_spacing_mm)
    ds.KVP = "120"
    ds.ConvolutionKernel = "STANDARD"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    ds.AcquisitionNumber = 1  # Type 2 in the CT Image module: without it dciodvfy reports an error
    ds.FrameOfReferenceUID = generate_uid()
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.PixelSpacing = [_ds(pixel_spacing_mm), _ds(pixel_spacing_mm)]
    ds.BitsAllocated = 16
    ds.BitsStored = _BITS_STORED
    ds.HighBit = _BITS_STORED - 1
    ds.PixelRepresentation = 0
    ds.WindowCenter = ["40", "-600"]
    ds.WindowWidth = ["400", "1500"]
    ds.WindowCenterWidthExplanation = ["ABDOMEN", "LUNG"]
    ds.RescaleIntercept = str(_RESCALE_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    return ds


# ---------------------------------------------------------------------------------------------
# Transcoding with external tools
# ---------------------------------------------------------------------------------------------


def transcode(files: Sequence[PathLike], syntax: str, out_dir: PathLike) -> list[Path]:
    """Re-encode `files` into transfer syntax `syntax` (a key of TRANSFER_SYNTAXES) in `out_dir`.

    Uses DCMTK (dcmconv, dcmcrle, dcmcjpeg, dcmcjpls), GDCM (gdcmconv) or OpenJPH
    (ojph_compress, whose HTJ2K codestream is wrapped per PS3.5 A.4). Output files keep their
    names. Raises TranscodeError naming the tool and its stderr on failure, and when an output
    does not carry the expected Transfer Syntax UID.
    """
    if syntax not in TRANSFER_SYNTAXES:
        raise ValueError(f"syntax must be one of {sorted(TRANSFER_SYNTAXES)}, not {syntax!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = [Path(f) for f in files]
    targets = [out / src.name for src in sources]
    if len(set(targets)) != len(targets):
        raise ValueError("input files must have distinct names: outputs keep the file name")

    def one(pair: tuple[Path, Path]) -> Path:
        src, dst = pair
        if syntax in _DCMTK_COMMANDS:
            _run([*_DCMTK_COMMANDS[syntax], str(src), str(dst)], src)
        elif syntax in _GDCM_COMMANDS:
            _run([*_GDCM_COMMANDS[syntax], "-i", str(src), "-o", str(dst)], src)
        else:
            _htj2k(src, dst, lossless=syntax == "htj2k")
        _check_syntax(dst, TRANSFER_SYNTAXES[syntax])
        return dst

    # The tools take one file per run, so two runs at a time keep both cores busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, zip(sources, targets, strict=True)))


def _run(args: list[str], subject: Path, timeout: float = _TOOL_TIMEOUT_S) -> None:
    """Run a tool on `subject` (named in errors) without a shell."""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise TranscodeError(f"{args[0]}: not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise TranscodeError(f"{args[0]}: timed out after {timeout:.0f} s on {subject}") from None
    if proc.returncode != 0:
        stderr = (proc.stderr or proc.stdout).strip()
        raise TranscodeError(f"{args[0]} failed (exit {proc.returncode}) on {subject}: {stderr}")


def _check_syntax(path: Path, expected: str) -> None:
    found = dcmread(path, stop_before_pixels=True).file_meta.get("TransferSyntaxUID")
    if found != expected:
        raise TranscodeError(f"{path}: transfer syntax is {found}, expected {expected}")


def _htj2k(src: Path, dst: Path, *, lossless: bool) -> None:
    """Encode each frame with ojph_compress (raw grey or PPM RGB input); wrap per PS3.5 A.4."""
    from pydicom.encaps import encapsulate

    ds = dcmread(src)
    samples = int(ds.SamplesPerPixel)
    if samples not in (1, 3) or int(ds.PixelRepresentation) != 0:
        # ojph_compress 0.9 mis-reads signed raw input; refuse rather than write wrong pixels.
        raise TranscodeError(f"ojph_compress: {src} must be unsigned with 1 or 3 samples")
    if samples == 3 and ds.PhotometricInterpretation != "RGB":
        raise TranscodeError(f"ojph_compress: {src} colour input must be RGB")
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames == 1:
        arr = arr[None, ...]
    bits = int(ds.BitsStored)
    rows, cols = int(ds.Rows), int(ds.Columns)
    container = "<u2" if int(ds.BitsAllocated) > 8 else "u1"
    codestreams: list[bytes] = []
    with tempfile.TemporaryDirectory(prefix="htj2k-") as tmp:
        for i, frame in enumerate(arr):
            j2c = Path(tmp) / f"f{i}.j2c"
            if samples == 1:
                # Raw input keeps the true bit depth (12 for CT), which PGM's maxval may not.
                image = Path(tmp) / f"f{i}.raw"
                np.ascontiguousarray(frame, dtype=container).tofile(image)
                args = [
                    "ojph_compress", "-i", str(image), "-o", str(j2c),
                    "-dims", f"{{{cols},{rows}}}", "-num_comps", "1", "-signed", "false",
                    "-bit_depth", str(bits), "-downsamp", "{1,1}",
                ]
            else:
                # ojph_compress reads colour only from PPM (big-endian samples above 8 bits).
                image = Path(tmp) / f"f{i}.ppm"
                header = f"P6\n{cols} {rows}\n{(1 << bits) - 1}\n".encode("ascii")
                ppm_dtype = ">u2" if container == "<u2" else "u1"
                image.write_bytes(header + np.ascontiguousarray(frame, dtype=ppm_dtype).tobytes())
                args = ["ojph_compress", "-i", str(image), "-o", str(j2c), "-colour_trans", "false"]
            args += ["-reversible", "true"] if lossless else ["-qstep", "0.004"]
            _run(args, src)
            codestreams.append(j2c.read_bytes())
    syntax = "htj2k" if lossless else "htj2k-lossy"
    ds.PixelData = encapsulate(codestreams)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = UID(TRANSFER_SYNTAXES[syntax])
    if not lossless:
        ds.LossyImageCompression = "01"
        ratio = arr.nbytes / max(sum(len(c) for c in codestreams), 1)
        ds.LossyImageCompressionRatio = f"{ratio:.2f}"[:16]
        ds.LossyImageCompressionMethod = "ISO_15444_15"
    ds.save_as(dst, enforce_file_format=True)
