"""A generated PET series in a CT's Frame of Reference, with hot spheres of known SUVbw.

Written with pydicom as a scanner writes it: PET Image Storage, Units BQML, Decay Correction
START, Corrected Image with DECY and ATTN, a Radiopharmaceutical Information item for F-18 FDG
(half-life 6586.2 s), Patient Weight, Series and Acquisition Date/Time, and int16 stored values
with a Rescale Slope of each slice's own (the largest value of the slice maps to 32000), as PET
scanners write them. Instance Numbers run against the slice positions (feet first), so a
reader that sorts by them is caught.

The activity (Bq/ml) of each voxel is SUV / factor with the factor computed here by hand from
the header numbers (`Dose.factor`); a test checks its SUV against that.

`read_pet_volume` assembles the files into a `Volume` with plain numpy: the test's own
reference reader, apart from the product's (`viewer.volume.build`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, PositronEmissionTomographyImageStorage, generate_uid

from viewer.dicom.suv import suv_bw
from viewer.volume.model import Volume

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Dose:
    """The numbers SUVbw is made of; defaults: 75 kg, 370 MBq FDG at 09:30, series at 10:30."""

    weight_kg: float = 75.0
    dose_bq: float = 3.7e8
    half_life_s: float = 6586.2
    date: str = "20261207"
    injection_time: str = "093000"
    series_time: str = "103000"
    seconds: float = 3600.0  # series_time - injection_time, written out for the arithmetic

    @property
    def factor(self) -> float:
        """SUVbw per Bq/ml: weight (g) / (dose decayed from the injection to the series)."""
        return self.weight_kg * 1000.0 / (self.dose_bq * 0.5 ** (self.seconds / self.half_life_s))


@dataclass(frozen=True)
class Sphere:
    center: Vec3  # LPS mm
    radius: float  # mm
    suv: float


@dataclass(frozen=True)
class PetSeries:
    paths: list[Path]
    series_uid: str
    frame_of_reference_uid: str
    dose: Dose
    spheres: tuple[Sphere, ...]
    background_suv: float

    def suv_at(self, point: Vec3) -> float:
        """The SUV the generator put at `point` (the last sphere holding it wins)."""
        value = self.background_suv
        for sphere in self.spheres:
            if np.linalg.norm(np.subtract(point, sphere.center)) <= sphere.radius:
                value = sphere.suv
        return value


def write_pet_series(
    folder: Path,
    frame_of_reference_uid: str,
    box_min: Vec3,
    box_max: Vec3,
    spheres: tuple[Sphere, ...] = (),
    background_suv: float = 1.0,
    spacing: float = 4.0,
    dose: Dose = Dose(),  # noqa: B008 - frozen
    study_uid: str | None = None,
) -> PetSeries:
    """Axial PET slices `spacing` mm apart covering the box [box_min, box_max] (LPS mm, the
    CT's extent), in the CT's Frame of Reference; one file per slice in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    lo, hi = np.asarray(box_min, dtype=float), np.asarray(box_max, dtype=float)
    counts = np.floor((hi - lo) / spacing + 1e-6).astype(int) + 1
    columns, rows, slices = (int(n) for n in counts)
    x = lo[0] + spacing * np.arange(columns)
    y = lo[1] + spacing * np.arange(rows)
    series_uid, study_uid = generate_uid(), study_uid or generate_uid()
    paths = []
    for k in range(slices):
        z = lo[2] + spacing * k
        suv = np.full((rows, columns), background_suv, dtype=np.float64)
        yy, xx = np.meshgrid(y, x, indexing="ij")
        for sphere in spheres:
            cx, cy, cz = sphere.center
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 + (z - cz) ** 2 <= sphere.radius**2
            suv[inside] = sphere.suv
        activity = suv / dose.factor  # Bq/ml
        slope = float(activity.max()) / 32000.0 or 1.0
        stored = np.rint(activity / slope).astype(np.int16)
        ds = _slice_header(dose, frame_of_reference_uid, series_uid, study_uid)
        ds.InstanceNumber = slices - k
        ds.ImageIndex = slices - k
        ds.NumberOfSlices = slices
        ds.ImagePositionPatient = [float(x[0]), float(y[0]), float(z)]
        ds.SliceLocation = float(z)
        ds.PixelSpacing = [spacing, spacing]
        ds.SliceThickness = spacing
        ds.Rows, ds.Columns = rows, columns
        ds.RescaleSlope = f"{slope:.10g}"[:16]
        ds.RescaleIntercept = "0"
        # A bed scanned after the series start: acquisition times grow with the slice (k % 60
        # seconds), and the Decay Factor corrects each slice back to the series start.
        ds.AcquisitionTime = f"{int(dose.series_time) + k % 60:06d}"
        ds.FrameReferenceTime = f"{(k % 60) * 1000 + 60000:d}"
        ds.DecayFactor = f"{2.0 ** ((k % 60 + 60.0) / dose.half_life_s):.8f}"
        ds.PixelData = stored.astype("<i2").tobytes()
        path = folder / f"pt{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return PetSeries(paths, series_uid, frame_of_reference_uid, dose, spheres, background_suv)


def _slice_header(dose: Dose, for_uid: str, series_uid: str, study_uid: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = PositronEmissionTomographyImageStorage
    ds.SOPClassUID = PositronEmissionTomographyImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.FrameOfReferenceUID = for_uid
    ds.PatientName, ds.PatientID = "PET^Phantom", "PET001"
    ds.PatientBirthDate, ds.PatientSex = "", "O"
    ds.ReferringPhysicianName, ds.AccessionNumber, ds.StudyID = "", "", "1"
    ds.Manufacturer, ds.PositionReferenceIndicator, ds.Laterality = "", "", ""
    ds.PatientWeight = f"{dose.weight_kg:g}"
    ds.PatientSize = "1.75"
    ds.Modality = "PT"
    ds.SeriesNumber = 3
    ds.SeriesDescription = "PET AC"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = dose.date
    ds.StudyTime = dose.injection_time
    ds.SeriesTime = dose.series_time
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.SeriesType = ["WHOLE BODY", "IMAGE"]
    ds.DecayCorrection = "START"
    ds.CorrectedImage = ["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"]
    ds.ActualFrameDuration = 120000
    ds.CollimatorType = "NONE"
    ds.PatientOrientationCodeSequence = Sequence()
    ds.PatientGantryRelationshipCodeSequence = Sequence()
    item = Dataset()
    item.Radiopharmaceutical = "Fluorodeoxyglucose"
    item.RadiopharmaceuticalStartTime = dose.injection_time
    item.RadiopharmaceuticalStartDateTime = dose.date + dose.injection_time
    item.RadionuclideTotalDose = f"{dose.dose_bq:g}"
    item.RadionuclideHalfLife = f"{dose.half_life_s:g}"
    item.RadionuclidePositronFraction = "0.9673"
    nuclide = Dataset()
    nuclide.CodeValue, nuclide.CodingSchemeDesignator = "77004003", "SCT"
    nuclide.CodeMeaning = "^18^Fluorine"
    item.RadionuclideCodeSequence = Sequence([nuclide])
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def read_pet_volume(paths: list[Path]) -> Volume:
    """The test's reference reader: slices sorted by position along the normal, each rescaled
    by its own slope, an axis-aligned affine; the SUV factor from `viewer.dicom.suv`."""
    datasets = [pydicom.dcmread(p) for p in paths]
    datasets.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    voxels = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                       for ds in datasets]).astype(np.float32)
    first = datasets[0]
    row_mm, column_mm = (float(v) for v in first.PixelSpacing)
    step = float(datasets[1].ImagePositionPatient[2]) - float(first.ImagePositionPatient[2])
    affine = np.eye(4)
    affine[:3, :3] = np.diag([column_mm, row_mm, step])
    affine[:3, 3] = [float(v) for v in first.ImagePositionPatient]
    suv = suv_bw(first)
    volume = Volume(voxels, affine, str(first.FrameOfReferenceUID), str(first.SeriesInstanceUID),
                    modality="PT", units="BQML", padding=0.0, suv_factor=suv.factor,
                    suv_reason=suv.reason)
    volume.filled[:] = True
    return volume
