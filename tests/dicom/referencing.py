"""Objects made for other images, for the reference tests: presentation states and key object
selections written by highdicom (no package ships real GSPS or KOS files), a Comprehensive SR
and a SEG by highdicom, an RT Structure Set by pydicom, all over a small CT series."""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from tests.dicom.makers import image_dataset

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
_DEVICE = {
    "manufacturer": "refs tests", "manufacturer_model_name": "pytest",
    "software_versions": "1", "device_serial_number": "1",
}


def ct_series(
    n: int, study_uid: str | None = None, frames: int = 1, series_number: int = 1,
    patient: tuple[str, str] = ("DOE^JANE", "P1"),
) -> list[Dataset]:
    """`n` small CT images of one series (multi-frame when `frames` > 1), with the geometry a
    SEG needs."""
    study_uid = study_uid or generate_uid()
    series_uid, frame_of_reference = generate_uid(), generate_uid()
    images = []
    for number in range(1, n + 1):
        shape = (frames, 8, 8) if frames > 1 else (8, 8)
        ds = image_dataset(
            np.full(shape, number, dtype=np.uint16), bits_stored=12,
            StudyInstanceUID=study_uid, SeriesInstanceUID=series_uid, SeriesNumber=series_number,
            InstanceNumber=number, PatientName=patient[0], PatientID=patient[1],
            PatientBirthDate="19700101", PatientSex="F", StudyDate="20260101",
            StudyTime="101010", StudyID="1", AccessionNumber="A1", ReferringPhysicianName="",
            Modality="CT", FrameOfReferenceUID=frame_of_reference,
            ImagePositionPatient=[0.0, 0.0, float(number)],
            ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], PixelSpacing=[1.0, 1.0],
            SliceThickness=1.0, ImageType=["ORIGINAL", "PRIMARY", "AXIAL"],
        )
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
        images.append(ds)
    return images


def presentation_state(
    images: Sequence[Dataset], label: str, description: str = "",
    created: tuple[str, str] = ("20260102", "120000"), frames: Sequence[int] = (),
    series_uid: str | None = None,
) -> Dataset:
    """A GSPS (highdicom) for `images`, created at `created` (date, time); with `frames`, it
    names only those frames of each image (Referenced Frame Number)."""
    ps = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=list(images), series_instance_uid=series_uid or generate_uid(),
        series_number=90, sop_instance_uid=generate_uid(), instance_number=1,
        content_label=label, content_description=description or None, **_DEVICE,
    )
    ps.PresentationCreationDate, ps.PresentationCreationTime = created
    ps.SpecificCharacterSet = "ISO_IR 192"  # UTF-8 text (highdicom leaves the default)
    if frames:
        for series in ps.ReferencedSeriesSequence:
            for item in series.ReferencedImageSequence:
                item.ReferencedFrameNumber = list(frames) if len(frames) > 1 else frames[0]
    return ps


def key_object_document(
    images: Sequence[Dataset], title: hd.sr.CodedConcept | object = codes.DCM.OfInterest,
    seen_with: dict[str, Dataset] | None = None, description: str = "",
    content: tuple[str, str] = ("20260103", "090000"),
) -> Dataset:
    """A Key Object Selection (highdicom) flagging `images`; `seen_with` maps an image's SOP
    Instance UID to the presentation state its item references (PS3.3 Table 10-3: the
    Referenced SOP Sequence inside the item's Referenced SOP Sequence), which is then evidence."""
    seen_with = seen_with or {}
    selection = hd.ko.KeyObjectSelection(
        document_title=title,  # type: ignore[arg-type]
        referenced_objects=list(images), description=description or None,
    )
    states = list({id(ps): ps for ps in seen_with.values()}.values())
    kos = hd.ko.KeyObjectSelectionDocument(
        evidence=list(images) + states, content=selection, series_instance_uid=generate_uid(),
        series_number=91, sop_instance_uid=generate_uid(), instance_number=1,
    )
    for item in kos.ContentSequence:
        if item.ValueType != "IMAGE":
            continue
        reference = item.ReferencedSOPSequence[0]
        ps = seen_with.get(reference.ReferencedSOPInstanceUID)
        if ps is not None:
            nested = Dataset()
            nested.ReferencedSOPClassUID = ps.SOPClassUID
            nested.ReferencedSOPInstanceUID = ps.SOPInstanceUID
            reference.ReferencedSOPSequence = DicomSequence([nested])
    kos.ContentDate, kos.ContentTime = content
    return kos


def comprehensive_sr(images: Sequence[Dataset], frame: int | None = None) -> Dataset:
    """A Comprehensive SR whose root container holds one IMAGE item per image (of `frame`)."""
    root = hd.sr.ContainerContentItem(name=codes.DCM.ImagingMeasurementReport)
    children = [
        hd.sr.ImageContentItem(
            name=codes.DCM.SourceOfMeasurement,
            referenced_sop_class_uid=ds.SOPClassUID,
            referenced_sop_instance_uid=ds.SOPInstanceUID,
            referenced_frame_numbers=frame,
            relationship_type="CONTAINS",
        )
        for ds in images
    ]
    root.ContentSequence = hd.sr.ContentSequence(children)
    return hd.sr.ComprehensiveSR(
        evidence=list(images), content=root, series_instance_uid=generate_uid(),
        series_number=92, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="refs tests",
    )


def measurement_report(images: Sequence[Dataset], measured: Dataset, frame: int) -> Dataset:
    """A TID 1500 Measurement Report (Comprehensive 3D SR, highdicom) with one planar ROI
    drawn on `frame` of `measured` (a SCOORD whose IMAGE child names it); `images` are the
    evidence."""
    source = hd.sr.SourceImageForRegion(
        referenced_sop_class_uid=measured.SOPClassUID,
        referenced_sop_instance_uid=measured.SOPInstanceUID, referenced_frame_numbers=[frame],
    )
    region = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=np.array([[1.0, 1.0], [4.0, 1.0], [4.0, 4.0], [1.0, 1.0]]),
        source_image=source,
    )
    group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="roi 1"),
        referenced_region=region, finding_type=codes.SCT.Neoplasm,
        measurements=[hd.sr.Measurement(name=codes.SCT.Area, value=9.0,
                                        unit=codes.UCUM.SquareMillimeter)],
    )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name="Doe^Jane"),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion, imaging_measurements=[group],
    )
    return hd.sr.Comprehensive3DSR(
        evidence=list(images), content=report[0], series_instance_uid=generate_uid(),
        series_number=95, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="refs tests",
    )


def segmentation(images: Sequence[Dataset]) -> Dataset:
    """A binary SEG (highdicom) of one segment over every image of `images`."""
    mask = np.zeros((len(images), 8, 8), dtype=bool)
    mask[:, 2:5, 2:5] = True
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type="MANUAL",
    )
    return hd.seg.Segmentation(
        source_images=list(images), pixel_array=mask, segmentation_type="BINARY",
        segment_descriptions=[description], series_instance_uid=generate_uid(),
        series_number=93, sop_instance_uid=generate_uid(), instance_number=1,
        content_label="LESION", content_description="one lesion", **_DEVICE,
    )


def structure_set(images: Sequence[Dataset], label: str = "ORGANS") -> Dataset:
    """An RT Structure Set (pydicom, PS3.3 A.19) with one closed contour on each image."""
    first = images[0]
    ds = Dataset()
    ds.file_meta = first.file_meta.__class__()
    ds.file_meta.TransferSyntaxUID = first.file_meta.TransferSyntaxUID
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID",
                    "AccessionNumber", "ReferringPhysicianName"):
        setattr(ds, keyword, getattr(first, keyword))
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "RTSTRUCT", generate_uid(), 94
    ds.StructureSetLabel, ds.StructureSetName = label, "organs at risk"
    ds.StructureSetDate, ds.StructureSetTime = "20260104", "080000"

    def contour_image(image: Dataset) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID = image.SOPClassUID
        item.ReferencedSOPInstanceUID = image.SOPInstanceUID
        return item

    series = Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    series.ContourImageSequence = DicomSequence([contour_image(im) for im in images])
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study.RTReferencedSeriesSequence = DicomSequence([series])
    frame_of_reference = Dataset()
    frame_of_reference.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame_of_reference.RTReferencedStudySequence = DicomSequence([study])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame_of_reference])
    contours = []
    for image in images:
        contour = Dataset()
        contour.ContourImageSequence = DicomSequence([contour_image(image)])
        contour.ContourGeometricType = "CLOSED_PLANAR"
        z = float(image.ImagePositionPatient[2])
        contour.NumberOfContourPoints = 3
        contour.ContourData = [1.0, 1.0, z, 5.0, 1.0, z, 3.0, 5.0, z]
        contours.append(contour)
    roi = Dataset()
    roi.ReferencedROINumber = 1
    roi.ROIDisplayColor = [255, 0, 0]
    roi.ContourSequence = DicomSequence(contours)
    ds.ROIContourSequence = DicomSequence([roi])
    ds.StructureSetROISequence = DicomSequence()
    return ds
