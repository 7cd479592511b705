"""The three IODs DICOMization creates (PS3.3), built with pydicom:

- a baseline JPEG -> VL Photographic Image (A.33.4, modality XC, "external-camera
  photography"): a photo is what that IOD is for; it records that the pixels were lossy
  compressed (ISO_10918_1) and keeps the camera's bitstream as the one fragment of a JPEG
  Baseline (1.2.840.10008.1.2.4.50) Pixel Data, byte for byte (one pad byte when odd). A
  progressive or extended-process JPEG goes to the same IOD, decoded, in Explicit VR Little
  Endian (their transfer syntaxes are retired or rarely read).
- a PNG -> Secondary Capture Image (A.8.1, conversion type WSD): a PNG is mostly a screenshot,
  a drawing or a scan rather than a camera photo; its pixels in Explicit VR Little Endian.
- a PDF -> Encapsulated PDF (A.45.1, modality DOC): the file's bytes exactly, one pad byte
  when odd, Encapsulated Document Length the true length.

highdicom 0.28 was considered: its SCImage insists on a Patient Orientation for patient
images (a photo's is not known: PS3.3 lets it be empty) and encodes JPEG itself (the camera's
bitstream would be re-encoded); it has no Encapsulated Document class. So all three are built
here on one set of common modules. Every file passes `dciodvfy -new` (tests/capture).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    EncapsulatedPDFStorage,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    SecondaryCaptureImageStorage,
    VLPhotographicImageStorage,
    generate_uid,
)

from viewer import __version__
from viewer.capture.order import Order, writing_charset
from viewer.capture.sources import Examined, Kind, decoded_pixels

MANUFACTURER = "dicom-viewer"
IMPLEMENTATION_VERSION = f"DICOMVIEWER_{__version__}"[:16]

# (modality, SOP class) per kind of input: one new series per modality and call
SERIES_OF_KIND: dict[Kind, tuple[str, UID]] = {
    Kind.JPEG: ("XC", VLPhotographicImageStorage),
    Kind.PNG: ("OT", SecondaryCaptureImageStorage),
    Kind.PDF: ("DOC", EncapsulatedPDFStorage),
}


@dataclass(frozen=True)
class NewSeries:
    """The series an instance joins: its UID, number and description."""

    series_instance_uid: str
    series_number: int
    series_description: str


def build(source: Examined, order: Order, series: NewSeries, instance_number: int,
          now: datetime.datetime) -> Dataset:
    """The data set (with File Meta Information) for one examined file."""
    modality, sop_class = SERIES_OF_KIND[source.kind]
    ds = _common(order, series, modality, sop_class, instance_number, now)
    if source.kind is Kind.PDF:
        _encapsulated_pdf(ds, source.path, now)
        syntax = ExplicitVRLittleEndian
    elif source.kind is Kind.JPEG and source.jpeg is not None and source.jpeg.process == 0:
        _vl_photographic(ds, now)
        _jpeg_baseline(ds, source)
        syntax = JPEGBaseline8Bit
    else:
        if source.kind is Kind.JPEG:
            _vl_photographic(ds, now)
            ds.LossyImageCompression = "01"  # decoded from a lossy JPEG: lost once, not twice
            ds.LossyImageCompressionMethod = "ISO_10918_1"
        else:
            _secondary_capture(ds, now)
        _native_pixels(ds, *decoded_pixels(source.path))
        syntax = ExplicitVRLittleEndian
    ds.file_meta = _file_meta(ds, syntax)
    return ds


def _common(order: Order, series: NewSeries, modality: str, sop_class: UID,
            instance_number: int, now: datetime.datetime) -> Dataset:
    """SOP Common, Patient, General Study, the series module and General Equipment."""
    ds = Dataset()
    charset = writing_charset(order)
    if charset:
        ds.SpecificCharacterSet = list(charset) if len(charset) > 1 else charset[0]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    # Patient (C.7.1.1)
    ds.PatientName = order.patient_name
    ds.PatientID = order.patient_id
    ds.PatientBirthDate = order.patient_birth_date
    ds.PatientSex = order.patient_sex
    # General Study (C.7.2.1)
    ds.StudyInstanceUID = order.study_instance_uid
    ds.StudyDate = order.study_date or now.strftime("%Y%m%d")
    ds.StudyTime = order.study_time or now.strftime("%H%M%S")
    ds.ReferringPhysicianName = order.referring_physician_name
    ds.StudyID = order.study_id
    ds.AccessionNumber = order.accession_number
    if order.study_description:
        ds.StudyDescription = order.study_description
    # General Series (C.7.3.1) / Encapsulated Document Series (C.24.1)
    ds.Modality = modality
    ds.SeriesInstanceUID = series.series_instance_uid
    ds.SeriesNumber = series.series_number
    ds.SeriesDate = now.strftime("%Y%m%d")
    ds.SeriesTime = now.strftime("%H%M%S")
    if series.series_description:
        ds.SeriesDescription = series.series_description
    if modality != "DOC":
        ds.Laterality = ""  # Type 2C: a photo of a paired organ may need it, unknown here
    if order.requested_procedure_id or order.scheduled_procedure_step_id:
        request = Dataset()  # the order this series fulfils (IHE SWF)
        request.RequestedProcedureID = order.requested_procedure_id
        request.ScheduledProcedureStepID = order.scheduled_procedure_step_id
        if order.accession_number:
            request.AccessionNumber = order.accession_number
        if order.requested_procedure_description:
            request.RequestedProcedureDescription = order.requested_procedure_description
        if order.scheduled_procedure_step_description:
            request.ScheduledProcedureStepDescription = (
                order.scheduled_procedure_step_description)
        ds.RequestAttributesSequence = [request]
    # General Equipment (C.7.5.1), SC Equipment (C.8.6.1)
    ds.Manufacturer = MANUFACTURER
    ds.SoftwareVersions = __version__
    ds.InstanceNumber = instance_number
    return ds


def _vl_photographic(ds: Dataset, now: datetime.datetime) -> None:
    """General Image, Acquisition Context (empty: nothing is known) and VL Image (C.8.12.1)."""
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = ""
    ds.PatientOrientation = ""
    ds.AcquisitionContextSequence = []
    ds.BurnedInAnnotation = "NO"


def _secondary_capture(ds: Dataset, now: datetime.datetime) -> None:
    """General Image, SC Equipment and SC Image (C.8.6.1-2)."""
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.ConversionType = "WSD"
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.DateOfSecondaryCapture = now.strftime("%Y%m%d")
    ds.TimeOfSecondaryCapture = now.strftime("%H%M%S")
    ds.PatientOrientation = ""


def _jpeg_baseline(ds: Dataset, source: Examined) -> None:
    """The camera's JPEG as the one fragment of the Pixel Data; the Image Pixel attributes
    from its frame header. Colour is YBR_FULL_422 even when chrominance is not subsampled: the
    VL Image module's enumerated values (PS3.3 C.8.12.1.1.3) have no YBR_FULL, DCMTK's img2dcm
    does the same, and decoders take the sampling from the bitstream; RGB when the Adobe marker
    says the components are not transformed."""
    info = source.jpeg
    assert info is not None
    data = source.path.read_bytes()[:info.end]  # up to its EOI: the JPEG, as it is
    ds.Rows, ds.Columns = info.rows, info.columns
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if info.components == 1:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
    else:
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
        if info.adobe_transform == 0:
            ds.PhotometricInterpretation = "RGB"
        else:
            ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ratio = info.rows * info.columns * info.components / max(len(data), 1)
    ds.LossyImageCompressionRatio = f"{ratio:.4g}"
    ds.PixelData = encapsulate([data])
    ds["PixelData"].VR = "OB"


def _native_pixels(ds: Dataset, pixels: np.ndarray, photometric: str) -> None:
    ds.Rows, ds.Columns = pixels.shape[:2]
    bits = 16 if pixels.dtype == np.uint16 else 8
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 3 if pixels.ndim == 3 else 1
    if pixels.ndim == 3:
        ds.PlanarConfiguration = 0
    data = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds.PixelData = data + b"\0" * (len(data) % 2)
    ds["PixelData"].VR = "OW" if bits == 16 else "OB"


def _encapsulated_pdf(ds: Dataset, path: Path, now: datetime.datetime) -> None:
    """SC Equipment and Encapsulated Document (C.24.2): the PDF's bytes exactly."""
    data = path.read_bytes()
    ds.ConversionType = "WSD"
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = ""
    ds.BurnedInAnnotation = "YES"  # a document names its patient in its pages
    ds.DocumentTitle = path.stem[:1024]
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocumentLength = len(data)
    ds.EncapsulatedDocument = data + b"\0" * (len(data) % 2)


def _file_meta(ds: Dataset, syntax: UID) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    return meta
