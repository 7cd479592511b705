"""Presentation states with graphic annotations for the tests, made with pydicom (any content,
broken on purpose too) and highdicom (as an application would write them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from tests.dicom.makers import image_dataset

GSPS = "1.2.840.10008.5.1.4.1.1.11.1"


def patient_image(rows: int = 64, columns: int = 80, value: int = 100, frames: int = 1
                  ) -> Dataset:
    """A uniform 16-bit image with the patient and study attributes highdicom asks for."""
    shape = (frames, rows, columns) if frames > 1 else (rows, columns)
    ds = image_dataset(np.full(shape, value, np.uint16), WindowCenter=128, WindowWidth=256)
    for key, val in {"PatientName": "Test^Graphics", "PatientID": "G1", "PatientBirthDate": "",
                     "PatientSex": "O", "StudyDate": "20261207", "StudyTime": "120000",
                     "AccessionNumber": "A1", "ReferringPhysicianName": "", "StudyID": "1",
                     "SeriesNumber": 1, "InstanceNumber": 1, "Manufacturer": "tests"}.items():
        setattr(ds, key, val)
    return ds


def layer(name: str, order: int, grey: int | None = None,
          cielab: Sequence[int] | None = None, description: str | None = None) -> Dataset:
    item = Dataset()
    item.GraphicLayer = name
    item.GraphicLayerOrder = order
    if grey is not None:
        item.GraphicLayerRecommendedDisplayGrayscaleValue = grey
    if cielab is not None:
        item.GraphicLayerRecommendedDisplayCIELabValue = list(cielab)
    if description is not None:
        item.GraphicLayerDescription = description
    return item


def graphic(kind: str, points: Sequence[tuple[float, float]], units: str = "PIXEL",
            filled: bool | None = None, **extra: Any) -> Dataset:
    item = Dataset()
    item.GraphicAnnotationUnits = units
    item.GraphicDimensions = 2
    item.NumberOfGraphicPoints = len(points)
    item.GraphicData = [float(v) for p in points for v in p]
    item.GraphicType = kind
    if filled is not None:
        item.GraphicFilled = "Y" if filled else "N"
    for key, value in extra.items():
        setattr(item, key, value)
    return item


def text(value: str, box: tuple[float, float, float, float] | None = None,
         anchor: tuple[float, float] | None = None, units: str = "PIXEL",
         justification: str = "LEFT", anchor_visible: bool = True) -> Dataset:
    item = Dataset()
    item.UnformattedTextValue = value
    if box is not None:
        item.BoundingBoxAnnotationUnits = units
        item.BoundingBoxTopLeftHandCorner = [box[0], box[1]]
        item.BoundingBoxBottomRightHandCorner = [box[2], box[3]]
        item.BoundingBoxTextHorizontalJustification = justification
    if anchor is not None:
        item.AnchorPointAnnotationUnits = units
        item.AnchorPoint = list(anchor)
        item.AnchorPointVisibility = "Y" if anchor_visible else "N"
    return item


def annotation(layer_name: str, graphics: Sequence[Dataset] = (),
               texts: Sequence[Dataset] = (),
               images: Sequence[tuple[Dataset, Sequence[int] | None]] | None = None) -> Dataset:
    """A Graphic Annotation Sequence item; `images` None: no Referenced Image Sequence (all
    images of the PS); else (image, frame numbers or None) pairs."""
    item = Dataset()
    item.GraphicLayer = layer_name
    if images is not None:
        refs = []
        for image, frames in images:
            ref = Dataset()
            ref.ReferencedSOPClassUID = image.SOPClassUID
            ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
            if frames is not None:
                ref.ReferencedFrameNumber = list(frames) if len(frames) > 1 else frames[0]
            refs.append(ref)
        item.ReferencedImageSequence = DicomSequence(refs)
    if graphics:
        item.GraphicObjectSequence = DicomSequence(list(graphics))
    if texts:
        item.TextObjectSequence = DicomSequence(list(texts))
    return item


def presentation_state(images: Sequence[Dataset], annotations: Sequence[Dataset],
                       layers: Sequence[Dataset], charset: str | None = None) -> Dataset:
    """A Grayscale Softcopy Presentation State referencing `images` (all frames)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID(GSPS)
    ds.SOPClassUID = GSPS
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.Modality = "PR"
    ds.PatientName = images[0].PatientName if "PatientName" in images[0] else ""
    ds.StudyInstanceUID = images[0].StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 99
    ds.InstanceNumber = 1
    ds.ContentLabel = "TEST"
    ds.PresentationCreationDate = "20261207"
    ds.PresentationCreationTime = "120000"
    by_series: dict[str, list[Dataset]] = {}
    for image in images:
        by_series.setdefault(image.SeriesInstanceUID, []).append(image)
    series_items = []
    for uid, members in by_series.items():
        series = Dataset()
        series.SeriesInstanceUID = uid
        refs = []
        for image in members:
            ref = Dataset()
            ref.ReferencedSOPClassUID = image.SOPClassUID
            ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
            refs.append(ref)
        series.ReferencedImageSequence = DicomSequence(refs)
        series_items.append(series)
    ds.ReferencedSeriesSequence = DicomSequence(series_items)
    # What DCMTK's dcmp2pgm needs to load a presentation state (PS3.3 A.33.1): the Presentation
    # LUT and a displayed area (the whole of the first image).
    ds.PresentationLUTShape = "IDENTITY"
    area = Dataset()
    area.DisplayedAreaTopLeftHandCorner = [1, 1]
    area.DisplayedAreaBottomRightHandCorner = [int(images[0].Columns), int(images[0].Rows)]
    area.PresentationSizeMode = "SCALE TO FIT"
    area.PresentationPixelAspectRatio = [1, 1]
    ds.DisplayedAreaSelectionSequence = DicomSequence([area])
    ds.GraphicAnnotationSequence = DicomSequence(list(annotations))
    ds.GraphicLayerSequence = DicomSequence(list(layers))
    return ds
