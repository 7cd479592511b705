"""A plane of a volume as a derived DICOM image other viewers open: `mpr -o OUT.dcm` and the
reading window's "save as series" write these.

A classic single-frame image (PS3.3 A.3 CT, A.4 MR; other modalities as Secondary Capture,
A.8.1, because the PET/NM/US IODs require acquisition attributes a reformatted plane no longer
has). Its pixels are modality values stored as int16 with Rescale Slope/Intercept; its Image
Plane module (C.7.6.2) is the plane's: Image Position (Patient) is the centre of the first
pixel. Patient and study come from a header of the source series, element by element, so the
text keeps its Specific Character Set; Series and SOP Instance UIDs are new.
"""

from __future__ import annotations

import copy
import datetime
import os
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from viewer import __version__
from viewer.dicom.geometry import direction_label
from viewer.volume.model import Interpolation, Plane, SlabMode, Volume

# Copied from the source header when present; the Type 2 ones are written empty otherwise
# (PS3.3 C.7.1.1 Patient, C.7.2.1 General Study, C.7.2.2 Patient Study, C.7.3.1 General Series,
# C.7.4.1 Frame of Reference).
_COPIED = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "OtherPatientIDsSequence", "PatientAge", "PatientSize", "PatientWeight",
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
    "AccessionNumber", "StudyDescription", "BodyPartExamined", "Laterality", "PatientPosition",
    "PositionReferenceIndicator",
)
_TYPE2 = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber", "PositionReferenceIndicator",
    "Laterality",  # 2C: dciodvfy asks for it (empty) when Body Part Examined does not rule it out
)
# The acquisition the plane was cut from: attributes of the CT Image (C.8.2.1) and MR Image
# (C.8.3.1) modules that stay true of a reformatted plane, copied when the source has them.
_ACQUISITION = {
    "CT": ("KVP", "AcquisitionNumber"),
    "MR": (
        "ScanningSequence", "SequenceVariant", "ScanOptions", "MRAcquisitionType",
        "RepetitionTime", "EchoTime", "EchoTrainLength", "InversionTime", "ImagedNucleus",
        "MagneticFieldStrength", "AcquisitionNumber",
    ),
}
# What a source without them gets: Type 2 empty; for MR's Type 1 ones "RM" (research mode) and
# no variant, the values that claim nothing about the sequence (C.8.3.1.1.1-2).
_ACQUISITION_ABSENT = {
    "KVP": "", "AcquisitionNumber": "", "ScanOptions": "", "MRAcquisitionType": "",
    "EchoTime": "", "EchoTrainLength": "", "RepetitionTime": "", "ScanningSequence": "RM",
    "SequenceVariant": "NONE",
}
_SOP_CLASSES = {"CT": CTImageStorage, "MR": MRImageStorage}
_INT16 = (-32768, 32767)


def sop_class_for(modality: str) -> str:
    """CT Image Storage for CT, MR Image Storage for MR, else Secondary Capture Image Storage."""
    return _SOP_CLASSES.get(modality.upper(), SecondaryCaptureImageStorage)


def slice_thickness(plane: Plane) -> float:
    """Slice Thickness of a plane: the slab's total thickness, or for a thin plane its pixel
    spacing (the step of a stack saved along the normal, so its slices touch)."""
    return float(plane.slab) if plane.slab > 0 else float(plane.spacing)


def rescale_for(values: np.ndarray, integral: bool) -> tuple[float, float]:
    """(slope, intercept) that store `values` as int16 within half a stored unit: slope 1 when
    the source voxels were integers (CT HU) and the range fits in 16 bits, else the finest slope
    that spans the range. ValueError when a value is not finite."""
    if not np.isfinite(values).all():
        raise ValueError("the plane holds values that are not finite")
    lo = float(values.min()) if values.size else 0.0
    hi = float(values.max()) if values.size else 0.0
    if integral and round(hi) - round(lo) <= _INT16[1] - _INT16[0]:
        if round(lo) >= _INT16[0] and round(hi) <= _INT16[1]:
            return 1.0, 0.0
        return 1.0, float(round(lo) - _INT16[0])
    if hi == lo:
        return 1.0, lo
    slope = (hi - lo) / (_INT16[1] - _INT16[0] - 1)
    return slope, lo - (_INT16[0] + 1) * slope


def plane_dataset(
    volume: Volume,
    plane: Plane,
    values: np.ndarray,
    *,
    series_uid: str,
    series_number: int | None,
    instance_number: int,
    description: str,
    source: Dataset,
    interpolation: Interpolation = Interpolation.LINEAR,
) -> Dataset:
    """A derived classic image of `values` (float (rows, columns) modality values of `plane`,
    as `reslice` returns them), with the plane's geometry and the patient, study and Frame of
    Reference of `source` (a header of the volume's series; its pixels are not used).

    ImageType DERIVED\\SECONDARY\\MPR, plus the slab mode (MIP, MINIP, AVG) for a slab; Slice
    Thickness as `slice_thickness`. ValueError when `values` does not fit the plane or holds
    NaN/inf."""
    if values.shape != (plane.rows, plane.columns):
        raise ValueError(
            f"the plane is {plane.columns}x{plane.rows} but the values are "
            f"{values.shape[1] if values.ndim == 2 else '?'}x{values.shape[0]}"
        )
    modality = (volume.modality or str(source.get("Modality", "")) or "OT").upper()
    sop_class = sop_class_for(modality)
    ds = Dataset()
    if "SpecificCharacterSet" in source:
        ds.SpecificCharacterSet = copy.deepcopy(source.SpecificCharacterSet)
    for keyword in _COPIED:
        if keyword in source:
            ds[keyword] = copy.deepcopy(source[keyword])
        elif keyword in _TYPE2:
            setattr(ds, keyword, "")
    if "StudyInstanceUID" not in ds:
        raise ValueError("the source header has no StudyInstanceUID")
    now = datetime.datetime.now()
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S.%f")
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number if series_number is not None else ""
    ds.SeriesDate, ds.SeriesTime = date, time
    ds.SeriesDescription = description
    ds.Manufacturer = ""
    ds.SoftwareVersions = f"dicom-viewer {__version__}"
    if sop_class != SecondaryCaptureImageStorage and "PatientPosition" not in ds:
        ds.PatientPosition = ""  # Type 2C of CT and MR (C.7.3.1): known to the source, or not
    if sop_class == SecondaryCaptureImageStorage:
        ds.ConversionType = "WSD"  # made on a workstation (C.8.6.1)
        # the SC IOD has no Image Plane module, so General Image needs the edges' directions
        # (C.7.6.1.1.1); the plane's geometry is written as well for viewers that use it
        ds.PatientOrientation = [direction_label(plane.row), direction_label(plane.column)]
    ds.FrameOfReferenceUID = volume.frame_of_reference_uid
    ds.InstanceNumber = instance_number
    ds.ContentDate, ds.ContentTime = date, time
    ds.ImageType = _image_type(plane)
    ds.DerivationDescription = _derivation(volume, plane, interpolation)
    for keyword in _ACQUISITION.get(modality, ()):
        if keyword in source:
            ds[keyword] = copy.deepcopy(source[keyword])
        elif keyword in _ACQUISITION_ABSENT:
            setattr(ds, keyword, _ACQUISITION_ABSENT[keyword])
    ds.ImagePositionPatient = [_ds(v) for v in plane.first_pixel]
    ds.ImageOrientationPatient = [_ds(v) for v in plane.orientation]
    ds.PixelSpacing = [_ds(plane.spacing), _ds(plane.spacing)]
    ds.SliceThickness = _ds(slice_thickness(plane))
    _set_pixels(ds, volume, values)
    if volume.window is not None:
        ds.WindowCenter = _ds(volume.window[0])
        ds.WindowWidth = _ds(max(volume.window[1], 1.0))
    return ds


def save_plane(path: str | os.PathLike[str], dataset: Dataset) -> Path:
    """Write `plane_dataset`'s result as a DICOM file (PS3.10, Explicit VR Little Endian),
    atomically: a temporary file beside it, then a rename; nothing is left behind on failure."""
    out = Path(path)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    dataset.file_meta = meta
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        dataset.save_as(tmp, enforce_file_format=True)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _image_type(plane: Plane) -> list[str]:
    kind = ["DERIVED", "SECONDARY", "MPR"]
    if plane.slab > 0:
        kind.append({SlabMode.MIP: "MIP", SlabMode.MINIP: "MINIP", SlabMode.AVERAGE: "AVG"}[
            plane.mode])
    return kind


def _derivation(volume: Volume, plane: Plane, interpolation: Interpolation) -> str:
    """What was done, in words (no patient data): at most 1024 characters (ST)."""
    words = f"multiplanar reformat, {interpolation.value} interpolation"
    if plane.slab > 0:
        words += f", {plane.slab:g} mm slab {plane.mode.name}"
    if volume.warnings:
        words += "; source volume: " + "; ".join(volume.warnings)
    return words[:1024]


def _set_pixels(ds: Dataset, volume: Volume, values: np.ndarray) -> None:
    integral = volume.voxels.dtype.kind in "iu"
    # encode with the values the file will hold, so a reader's rescale gives ours back
    slope, intercept = (float(_ds(v)) for v in rescale_for(values, integral))
    stored = np.rint((values.astype(np.float64) - intercept) / slope)
    pixels = np.clip(stored, *_INT16).astype("<i2")
    ds.Rows, ds.Columns = int(values.shape[0]), int(values.shape[1])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = _ds(intercept)
    ds.RescaleSlope = _ds(slope)
    ds.RescaleType = volume.units if volume.units else ("HU" if ds.Modality == "CT" else "US")
    ds.PixelData = pixels.tobytes()


def _ds(value: float) -> str:
    """A Decimal String of at most 16 characters that keeps as many digits as fit."""
    for digits in range(10, 0, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.1e}"
