"""The reading-room objects of issue 17 as `bench fuzz` seeds, made at run time on its small CT
(nothing downloaded; cached in the fuzz work folder like the tool seeds).

On one 64x64 CT slice: a Grayscale Softcopy Presentation State with a window, rotation and
flip, a displayed area, rectangular, circular and polygonal shutters, graphics and texts in
PIXEL and DISPLAY units (`viewer.reports.create_ps`, the DISPLAY items added with pydicom); a
Key Object Selection flagging the CT with that state (`viewer.reports.create_kos`); a TID 1500
Comprehensive 3D SR with a SCOORD and a SCOORD3D (highdicom); a CT Radiation Dose SR (TID 10011,
pydicom: highdicom does not make one); binary and fractional Segmentations (highdicom); an RT
Structure Set (pydicom); and a DICOM Hanging Protocol instance, exported from a shipped default
by `dicom-viewer hanging export` as a user would (`viewer.reading` sits above the archive).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

HANGING_PROTOCOL = "CT chest with prior"  # a shipped default (viewer/reading/defaults)
RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
CT_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"


@dataclass(frozen=True)
class ObjectSeeds:
    """The CT the objects are about and the objects, each a file in the seeds folder."""

    image: Path
    presentation_state: Path
    key_objects: Path
    report: Path  # TID 1500, Comprehensive 3D SR
    dose_report: Path
    segmentations: tuple[Path, ...]  # binary, fractional
    structure_set: Path
    hanging_protocol: Path

    @property
    def objects(self) -> tuple[Path, ...]:
        """Every object file (the CT apart)."""
        return (self.presentation_state, self.key_objects, self.report, self.dose_report,
                *self.segmentations, self.structure_set, self.hanging_protocol)


def write_object_seeds(image: Path, folder: Path) -> ObjectSeeds:
    """The objects about `image` (one CT slice with geometry) in `folder`, made once: an
    existing complete folder is reused."""
    seeds = ObjectSeeds(
        image, folder / "gsps.dcm", folder / "kos.dcm", folder / "tid1500.dcm",
        folder / "ct-dose-sr.dcm", (folder / "seg-binary.dcm", folder / "seg-fractional.dcm"),
        folder / "rtstruct.dcm", folder / "hanging-protocol.dcm",
    )
    if all(p.is_file() for p in seeds.objects):
        return seeds
    from viewer.reports.create_ps import highdicom_quietly

    folder.mkdir(parents=True, exist_ok=True)
    ct = dcmread(image)
    with highdicom_quietly():
        gsps = _presentation_state(ct)
        _save(gsps, seeds.presentation_state)
        _save(_key_objects(ct, gsps), seeds.key_objects)
        _save(_tid1500(ct), seeds.report)
        _save(_dose_report(ct), seeds.dose_report)
        for path, kind in zip(seeds.segmentations, ("BINARY", "FRACTIONAL"), strict=True):
            _save(_segmentation(ct, kind), path)
    _save(_structure_set(ct), seeds.structure_set)
    _export_hanging_protocol(seeds.hanging_protocol)
    return seeds


def _save(ds: Dataset, path: Path) -> None:
    ds.save_as(path, enforce_file_format=True)


def _presentation_state(ct: Dataset) -> Dataset:
    from viewer.reports.create_ps import create_presentation_state
    from viewer.reports.view_state import (
        CircleShutter,
        Measurement,
        PolygonShutter,
        RectangleShutter,
        Shape,
        ViewedImage,
        ViewState,
    )

    view = ViewState(
        window=(40.0, 400.0), invert=True, rotation=90, horizontal_flip=True,
        displayed_area=(4.0, 6.0, 60.0, 58.0), shutter_value=0x8000,
        shutters=(RectangleShutter(2, 2, 62, 62), CircleShutter((32, 32), 30),
                  PolygonShutter(((4, 4), (60, 8), (56, 60), (8, 56)))),
        measurements=(
            Measurement(Shape.LINE, ((10, 10), (50, 40))),
            Measurement(Shape.POLYGON, ((20, 20), (40, 22), (30, 44)), text="mean 40 HU"),
            Measurement(Shape.ELLIPSE, ((12, 30), (30, 50))),
            Measurement(Shape.CIRCLE, ((40, 40), (46, 40))),
            Measurement(Shape.ANGLE, ((10, 50), (20, 60), (30, 50))),
            Measurement(Shape.POINT, ((32, 32),), text="centre"),
        ),
    )
    ps = create_presentation_state([ViewedImage.of(ct)], view, "FUZZ", "bench fuzz seed")
    # DISPLAY units (0..1 of the displayed area) are what create_ps never writes
    annotation = ps.GraphicAnnotationSequence[0]
    graphic = Dataset()
    graphic.GraphicAnnotationUnits = "DISPLAY"
    graphic.GraphicDimensions = 2
    graphic.NumberOfGraphicPoints = 4
    graphic.GraphicData = [0.1, 0.1, 0.5, 0.05, 0.9, 0.1, 0.5, 0.3]
    graphic.GraphicType = "INTERPOLATED"
    graphic.GraphicFilled = "N"
    annotation.GraphicObjectSequence.append(graphic)
    text = Dataset()
    text.BoundingBoxAnnotationUnits = "DISPLAY"
    text.AnchorPointAnnotationUnits = "DISPLAY"
    text.UnformattedTextValue = "Größe — 大きさ"
    text.BoundingBoxTopLeftHandCorner = [0.05, 0.8]
    text.BoundingBoxBottomRightHandCorner = [0.6, 0.95]
    text.BoundingBoxTextHorizontalJustification = "CENTER"
    text.AnchorPoint = [0.5, 0.5]
    text.AnchorPointVisibility = "Y"
    annotation.TextObjectSequence.append(text)
    return ps


def _key_objects(ct: Dataset, gsps: Dataset) -> Dataset:
    from viewer.reports.create_kos import (
        KeyImage,
        KeyObjectTitle,
        PresentationStateReference,
        create_key_object_selection,
    )

    image = KeyImage.of(ct, presentation_state=PresentationStateReference.of(gsps))
    return create_key_object_selection([image], KeyObjectTitle.FOR_TEACHING, "Lésion à revoir",
                                       ct, observer="Östberg^Åsa")


def _tid1500(ct: Dataset) -> Dataset:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    region = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=np.array([[2.5, 3.0], [40.0, 3.0], [40.0, 42.5], [2.5, 3.0]]),
        source_image=hd.sr.SourceImageForRegion(ct.SOPClassUID, ct.SOPInstanceUID),
    )
    lesion = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="lesion 1"),
        referenced_region=region, finding_type=codes.SCT.Lesion,
        finding_sites=[hd.sr.FindingSite(codes.SCT.Lung)],
        measurements=[hd.sr.Measurement(name=codes.SCT.Area, value=52.25,
                                        unit=codes.UCUM.SquareMillimeter)],
    )
    nodule = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="nodule 2"),
        referenced_region=hd.sr.ImageRegion3D(
            graphic_type=hd.sr.GraphicTypeValues3D.POLYGON,
            graphic_data=np.array([[1.0, -4.0, 0.0], [9.0, -4.0, 0.0], [9.0, 5.0, 0.0],
                                   [1.0, -4.0, 0.0]]),
            frame_of_reference_uid=ct.FrameOfReferenceUID,
        ),
        finding_type=codes.SCT.Nodule,
        measurements=[hd.sr.Measurement(name=codes.SCT.Volume, value=3.2,
                                        unit=codes.UCUM.CubicMillimeter)],
    )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name="Östberg^Åsa"),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion, imaging_measurements=[lesion, nodule],
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[ct], content=report[0], series_instance_uid=generate_uid(), series_number=9003,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="dicom-viewer",
        is_complete=True,
    )


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _item(relationship: str, value_type: str, name: Dataset, **values: object) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = relationship, value_type
    item.ConceptNameCodeSequence = Sequence([name])
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _num(name: Dataset, value: str, unit: str) -> Dataset:
    measured = Dataset()
    measured.NumericValue = value
    measured.MeasurementUnitsCodeSequence = Sequence([_code(unit, "UCUM", unit)])
    return _item("CONTAINS", "NUM", name, MeasuredValueSequence=Sequence([measured]))


def _with_study(ct: Dataset, sop_class: str, modality: str) -> Dataset:
    """A new instance of `sop_class` in the study of `ct`, with its patient and study."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = UID(sop_class)
    uid = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber",
                    "ReferringPhysicianName", "StudyID"):
        setattr(ds, keyword, ct.get(keyword, ""))
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 9004, 1
    ds.Manufacturer = "dicom-viewer"
    return ds


def _dose_report(ct: Dataset) -> Dataset:
    """A CT Radiation Dose SR (TID 10011): one irradiation event in the CT's series."""
    ds = _with_study(ct, CT_DOSE_SR, "SR")
    ds.ContentDate, ds.ContentTime = "20261207", "101500"
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ReferencedPerformedProcedureStepSequence = Sequence([])
    ds.PerformedProcedureCodeSequence = Sequence([])
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([_code("113701", "DCM", "X-Ray Radiation Dose Report")])
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "10011"
    ds.ContentTemplateSequence = Sequence([template])
    dose = _item("CONTAINS", "CONTAINER", _code("113829", "DCM", "CT Dose"),
                 ContinuityOfContent="SEPARATE", ContentSequence=Sequence([
                     _num(_code("113830", "DCM", "Mean CTDIvol"), "12.25", "mGy"),
                     _num(_code("113838", "DCM", "DLP"), "400", "mGy.cm")]))
    event = _item(
        "CONTAINS", "CONTAINER", _code("113819", "DCM", "CT Acquisition"),
        ContinuityOfContent="SEPARATE", ContentSequence=Sequence([
            _item("CONTAINS", "TEXT", _code("125203", "DCM", "Acquisition Protocol"),
                  TextValue="Thorax spiral"),
            _item("CONTAINS", "UIDREF", _code("113769", "DCM", "Irradiation Event UID"),
                  UID=generate_uid()),
            _item("CONTAINS", "UIDREF", _code("112002", "DCM", "Series Instance UID"),
                  UID=ct.SeriesInstanceUID),
            dose]))
    accumulated = _item(
        "CONTAINS", "CONTAINER", _code("113811", "DCM", "CT Accumulated Dose Data"),
        ContinuityOfContent="SEPARATE", ContentSequence=Sequence([
            _num(_code("113813", "DCM", "CT Dose Length Product Total"), "400", "mGy.cm")]))
    ds.ContentSequence = Sequence([accumulated, event])
    return ds


def _segmentation(ct: Dataset, kind: str) -> Dataset:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    rows, columns = int(ct.Rows), int(ct.Columns)
    y, x = np.mgrid[:rows, :columns]
    inside = (x - columns / 2) ** 2 + (y - rows / 2) ** 2 < (min(rows, columns) / 3) ** 2
    if kind == "FRACTIONAL":
        pixels = np.where(inside, (x / columns).astype(np.float32), 0).astype(np.float32)
        masks = np.stack([pixels, np.flip(pixels, 1)], axis=-1)[None]
    else:
        masks = np.stack([inside, ~inside], axis=-1)[None].astype(np.uint8)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number, segment_label=label,
            segmented_property_category=codes.SCT.Tissue, segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            display_color=hd.color.CIELabColor.from_string(colour),
        )
        for number, label, colour in ((1, "Läsion", "red"), (2, "Rest", "blue"))
    ]
    return hd.seg.Segmentation(
        [ct], masks, kind, descriptions, generate_uid(), 9005, generate_uid(), 1,
        "dicom-viewer", "bench fuzz", "1", "1", omit_empty_frames=False,
    )


def _structure_set(ct: Dataset) -> Dataset:
    """An RT Structure Set (PS3.3 A.19) with a closed and an open contour and a point on `ct`."""
    ds = _with_study(ct, RT_STRUCTURE_SET_STORAGE, "RTSTRUCT")
    ds.FrameOfReferenceUID = ct.FrameOfReferenceUID
    ds.PositionReferenceIndicator = ""
    ds.OperatorsName = ""
    ds.StructureSetLabel = "FUZZ"
    ds.StructureSetDate, ds.StructureSetTime = "20261207", "120000"
    image = Dataset()
    image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = ct.SOPClassUID, ct.SOPInstanceUID
    series = Dataset()
    series.SeriesInstanceUID = ct.SeriesInstanceUID
    series.ContourImageSequence = Sequence([image])
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management
    study.ReferencedSOPInstanceUID = ct.StudyInstanceUID
    study.RTReferencedSeriesSequence = Sequence([series])
    frame = Dataset()
    frame.FrameOfReferenceUID = ct.FrameOfReferenceUID
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    origin = np.asarray([float(v) for v in ct.ImagePositionPatient])
    spacing = float(ct.PixelSpacing[0])
    shapes = {
        "CLOSED_PLANAR": [(10, 10), (50, 12), (40, 50), (12, 40)],
        "OPEN_PLANAR": [(5, 60), (30, 30), (60, 55)],
        "POINT": [(32, 32)],
    }
    ds.StructureSetROISequence, ds.ROIContourSequence = Sequence(), Sequence()
    ds.RTROIObservationsSequence = Sequence()
    for number, (kind, points) in enumerate(shapes.items(), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, f"Struktur {number}"
        roi.ReferencedFrameOfReferenceUID = ct.FrameOfReferenceUID
        roi.ROIGenerationAlgorithm = "MANUAL"
        ds.StructureSetROISequence.append(roi)
        contour = Dataset()
        contour.ContourNumber, contour.ContourGeometricType = 1, kind
        contour.ContourImageSequence = Sequence([image])
        patient = [origin + spacing * np.array([x, y, 0.0]) for x, y in points]
        contour.NumberOfContourPoints = len(patient)
        contour.ContourData = [f"{v:.6g}" for p in patient for v in p]
        item = Dataset()
        item.ReferencedROINumber = number
        item.ROIDisplayColor = [255 * (number == 1), 255 * (number == 2), 255 * (number == 3)]
        item.ContourSequence = Sequence([contour])
        ds.ROIContourSequence.append(item)
        observation = Dataset()
        observation.ObservationNumber = observation.ReferencedROINumber = number
        observation.RTROIInterpretedType, observation.ROIInterpreter = "ORGAN", ""
        ds.RTROIObservationsSequence.append(observation)
    return ds


def _export_hanging_protocol(out: Path) -> None:
    """`dicom-viewer hanging export` of a shipped default, with a config of its own (so that
    nothing of the user's protocols takes part)."""
    config = out.parent / "config" / "config.toml"
    done = subprocess.run(
        [sys.executable, "-m", "viewer", "--config", str(config), "hanging", "export",
         HANGING_PROTOCOL, "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"hanging export of {HANGING_PROTOCOL!r} failed: {done.stderr.strip()}")
