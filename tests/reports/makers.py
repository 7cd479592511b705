"""Structured reports for the tests, made as the issue's proof asks: TID 1500 reports and an
Enhanced SR and a KOS with highdicom, a Basic Text SR and a CT Radiation Dose SR (TID 10011)
with pydicom, and damaged ones (a cycle of by-reference items, invalid items)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.dicom.makers import image_dataset

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
FRAME_OF_REFERENCE = "1.2.826.0.1.3680043.8.498.1"


def ct_image(series_uid: str | None = None, study_uid: str | None = None) -> Dataset:
    """A 16x16 CT image with the patient and study attributes highdicom copies as evidence."""
    ds = image_dataset(np.zeros((16, 16), np.uint16), SOPClassUID=CT_IMAGE, Modality="CT")
    ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE
    ds.PatientName, ds.PatientID = "Müller^Jürgen", "SR-TEST-1"
    ds.PatientBirthDate, ds.PatientSex = "19600101", "M"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20261207", "101500", "1", "A1"
    ds.ReferringPhysicianName = ""
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    if study_uid:
        ds.StudyInstanceUID = study_uid
    return ds


def _observation_context() -> hd.sr.ObservationContext:
    return hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name="Östberg^Åsa"),
        )
    )


def tid1500_report(image: Dataset) -> Dataset:
    """A Comprehensive 3D SR (TID 1500): one planar group with a POLYLINE SCOORD on `image` and
    two measurements, one volumetric-like group with a POINT SCOORD3D."""
    source = hd.sr.SourceImageForRegion(image.SOPClassUID, image.SOPInstanceUID)
    region = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=np.array([[2.5, 3.0], [10.0, 3.0], [10.0, 12.5], [2.5, 3.0]]),
        source_image=source,
    )
    lesion = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="lesion 1"),
        referenced_region=region,
        finding_type=codes.SCT.Lesion,
        finding_sites=[hd.sr.FindingSite(codes.SCT.Lung)],
        measurements=[
            hd.sr.Measurement(name=codes.SCT.Area, value=52.25,
                              unit=codes.UCUM.SquareMillimeter),
            hd.sr.Measurement(name=codes.SCT.Diameter, value=11.5, unit=codes.UCUM.Millimeter),
        ],
    )
    region3d = hd.sr.ImageRegion3D(
        graphic_type=hd.sr.GraphicTypeValues3D.POINT,
        graphic_data=np.array([[12.5, -40.0, 101.25]]),
        frame_of_reference_uid=FRAME_OF_REFERENCE,
    )
    nodule = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="nodule 2"),
        referenced_region=region3d,
        finding_type=codes.SCT.Nodule,
        measurements=[hd.sr.Measurement(name=codes.SCT.Volume, value=3.2,
                                        unit=codes.UCUM.CubicMillimeter)],
    )
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[lesion, nodule],
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[image], content=report[0], series_instance_uid=generate_uid(),
        series_number=99, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="tests", is_complete=True,
    )


def enhanced_sr(image: Dataset) -> Dataset:
    """An Enhanced SR (no SCOORD3D allowed) with a TID 1500 group measured on `image`."""
    source = hd.sr.SourceImageForRegion(image.SOPClassUID, image.SOPInstanceUID)
    region = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.CIRCLE,
        graphic_data=np.array([[8.0, 8.0], [8.0, 12.0]]),
        source_image=source,
    )
    group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="cyst"),
        referenced_region=region,
        finding_type=codes.SCT.Lesion,
        measurements=[hd.sr.Measurement(name=codes.SCT.Diameter, value=8,
                                        unit=codes.UCUM.Millimeter)],
    )
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[group],
    )
    return hd.sr.EnhancedSR(
        evidence=[image], content=report[0], series_instance_uid=generate_uid(),
        series_number=98, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="tests", is_complete=True,
    )


def key_object_selection(images: list[Dataset]) -> Dataset:
    """A KOS "Of Interest" referencing `images`."""
    content = hd.ko.KeyObjectSelection(
        document_title=codes.DCM.OfInterest, referenced_objects=images,
        description="Größe nachmessen",
    )
    return hd.ko.KeyObjectSelectionDocument(
        evidence=images, content=content, series_instance_uid=generate_uid(),
        series_number=97, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="tests",
    )


# --- pydicom-built documents -------------------------------------------------------------------


def code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def content_item(relationship: str, value_type: str, name: Dataset | None,
                 **values: Any) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    if name is not None:
        item.ConceptNameCodeSequence = Sequence([name])
    for key, value in values.items():
        setattr(item, key, value)
    return item


def num(relationship: str, name: Dataset, value: str, unit: Dataset, **values: Any) -> Dataset:
    measured = Dataset()
    measured.NumericValue = value
    measured.MeasurementUnitsCodeSequence = Sequence([unit])
    return content_item(relationship, "NUM", name, MeasuredValueSequence=Sequence([measured]),
                        **values)


def sr_document(sop_class: str, title: Dataset, children: list[Dataset],
                charset: str = "ISO_IR 192", **header: Any) -> Dataset:
    """An SR document with the General / SR Document modules filled enough for dsrdump."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SpecificCharacterSet = charset
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Test^SR", "SR2", "", ""
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20261207", "1015", "1", ""
    ds.ReferringPhysicianName = ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "SR", 1, 1
    ds.Manufacturer = "tests"
    ds.ContentDate, ds.ContentTime = "20261207", "101500"
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ReferencedPerformedProcedureStepSequence = Sequence([])
    ds.PerformedProcedureCodeSequence = Sequence([])
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([title])
    ds.ContentSequence = Sequence(children)
    for key, value in header.items():
        setattr(ds, key, value)
    return ds


BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
CT_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"


def basic_text_sr(charset: str = "ISO_IR 192") -> Dataset:
    """A Basic Text SR with PNAME, DATE, TIME, UIDREF, CODE and TEXT items; the observer's and
    the findings' text outside ASCII (in `charset`)."""
    report = code("11528-7", "LN", "Radiology Report")
    children = [
        content_item("HAS OBS CONTEXT", "PNAME", code("121008", "DCM", "Person Observer Name"),
                     PersonName="Gómez^José"),
        content_item("HAS OBS CONTEXT", "DATE", code("111060", "DCM", "Study Date"),
                     Date="20261207"),
        content_item("HAS OBS CONTEXT", "TIME", code("111061", "DCM", "Study Time"),
                     Time="101500"),
        content_item("HAS OBS CONTEXT", "UIDREF", code("110180", "DCM", "Study Instance UID"),
                     UID="1.2.826.0.1.3680043.8.498.77"),
        content_item("CONTAINS", "CONTAINER", code("121070", "DCM", "Findings"),
                     ContinuityOfContent="SEPARATE", ContentSequence=Sequence([
                         content_item("CONTAINS", "TEXT", code("121071", "DCM", "Finding"),
                                      TextValue="Lésion hépatique, 2 cm.\r\nÀ revoir."),
                         content_item("CONTAINS", "CODE", code("121071", "DCM", "Finding"),
                                      ConceptCodeSequence=Sequence([
                                          code("52988006", "SCT", "Lesion")])),
                     ])),
    ]
    return sr_document(BASIC_TEXT_SR, report, children, charset=charset)


def _ct_event(index: int, series_uid: str, ctdivol: str, dlp: str, phantom: str) -> Dataset:
    phantom_code = {"Body": code("113691", "DCM", "IEC Body Dosimetry Phantom"),
                    "Head": code("113690", "DCM", "IEC Head Dosimetry Phantom")}[phantom]
    dose = content_item(
        "CONTAINS", "CONTAINER", code("113829", "DCM", "CT Dose"),
        ContinuityOfContent="SEPARATE", ContentSequence=Sequence([
            num("CONTAINS", code("113830", "DCM", "Mean CTDIvol"), ctdivol,
                code("mGy", "UCUM", "mGy")),
            content_item("CONTAINS", "CODE", code("113835", "DCM", "CTDIw Phantom Type"),
                         ConceptCodeSequence=Sequence([phantom_code])),
            num("CONTAINS", code("113838", "DCM", "DLP"), dlp,
                code("mGy.cm", "UCUM", "mGy.cm")),
        ]))
    return content_item(
        "CONTAINS", "CONTAINER", code("113819", "DCM", "CT Acquisition"),
        ContinuityOfContent="SEPARATE", ContentSequence=Sequence([
            content_item("CONTAINS", "TEXT", code("125203", "DCM", "Acquisition Protocol"),
                         TextValue=f"Chest {index}"),
            content_item("CONTAINS", "CODE", code("123014", "DCM", "Target Region"),
                         ConceptCodeSequence=Sequence([code("43799004", "SCT", "Chest")])),
            content_item("CONTAINS", "CODE", code("113820", "DCM", "CT Acquisition Type"),
                         ConceptCodeSequence=Sequence([
                             code("P5-08001", "SRT", "Spiral Acquisition")])),
            content_item("CONTAINS", "UIDREF", code("113769", "DCM", "Irradiation Event UID"),
                         UID=generate_uid()),
            content_item("CONTAINS", "UIDREF", code("112002", "DCM", "Series Instance UID"),
                         UID=series_uid),
            dose,
        ]))


def ct_dose_sr(series: list[str]) -> Dataset:
    """A CT Radiation Dose SR (TID 10011): three events (two in `series[0]`, one in
    `series[1]`), accumulated DLP 912.5 mGy.cm."""
    accumulated = content_item(
        "CONTAINS", "CONTAINER", code("113811", "DCM", "CT Accumulated Dose Data"),
        ContinuityOfContent="SEPARATE", ContentSequence=Sequence([
            num("CONTAINS", code("113812", "DCM", "Total Number of Irradiation Events"), "3",
                code("{events}", "UCUM", "events")),
            num("CONTAINS", code("113813", "DCM", "CT Dose Length Product Total"), "912.5",
                code("mGy.cm", "UCUM", "mGy.cm")),
        ]))
    children = [
        content_item("HAS CONCEPT MOD", "CODE", code("121058", "DCM", "Procedure reported"),
                     ConceptCodeSequence=Sequence([
                         code("P5-08000", "SRT", "Computed Tomography X-Ray")])),
        accumulated,
        _ct_event(1, series[0], "12.25", "400", "Body"),
        _ct_event(2, series[0], "8.5", "212.5", "Body"),
        _ct_event(3, series[1], "45", "300", "Head"),
    ]
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "10011"
    return sr_document(CT_DOSE_SR, code("113701", "DCM", "X-Ray Radiation Dose Report"),
                       children, ContentTemplateSequence=Sequence([template]))


def with_cycle() -> Dataset:
    """A Comprehensive SR whose by-reference items point at each other and at an ancestor:
    1.1.1 -> 1.1 (its parent), 1.2 -> 1.3, 1.3 -> 1.2, 1.4 -> 9.9 (nothing there)."""
    def link(relationship: str, *target: int) -> Dataset:
        item = Dataset()
        item.RelationshipType = relationship
        item.ReferencedContentItemIdentifier = list(target)
        return item

    text = content_item("CONTAINS", "TEXT", code("121071", "DCM", "Finding"),
                        TextValue="circular", ContentSequence=Sequence([
                            link("INFERRED FROM", 1, 1)]))
    children = [text, link("INFERRED FROM", 1, 3), link("INFERRED FROM", 1, 2),
                link("INFERRED FROM", 9, 9)]
    return sr_document(COMPREHENSIVE_SR, code("11528-7", "LN", "Radiology Report"), children)


def with_invalid_items() -> Dataset:
    """An SR with an item without Value Type, a NUM without Measured Value Sequence items, a
    CODE with an empty Concept Code Sequence, an unknown value type, an IMAGE without
    reference, and a SCOORD with an odd number of coordinates."""
    children = [
        content_item("CONTAINS", "", code("121071", "DCM", "Finding")),
        content_item("CONTAINS", "NUM", code("410668003", "SCT", "Length"),
                     MeasuredValueSequence=Sequence([])),
        content_item("CONTAINS", "CODE", code("121071", "DCM", "Finding"),
                     ConceptCodeSequence=Sequence([])),
        content_item("CONTAINS", "BOGUS", code("121071", "DCM", "Finding")),
        content_item("CONTAINS", "IMAGE", None),
        content_item("CONTAINS", "SCOORD", code("111030", "DCM", "Image Region"),
                     GraphicType="POINT", GraphicData=[1.0, 2.0, 3.0]),
        content_item("CONTAINS", "TEXT", code("121071", "DCM", "Finding"), TextValue="kept"),
    ]
    return sr_document(COMPREHENSIVE_SR, code("11528-7", "LN", "Radiology Report"), children)


def save(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path
