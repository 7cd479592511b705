"""Key images as a Key Object Selection Document (PS3.3 A.35.4, template TID 2010).

`create_key_object_selection(images, title, description, study)` builds the document through
highdicom (`highdicom.ko`): the document title from CID 7010, an optional Key Object
Description, an optional person observer, and one IMAGE item per key image. Each IMAGE item
names the frame (for a multi-frame image) and, nested in its Referenced SOP Sequence, the
presentation state the image was seen with (PS3.3 C.18.3.1.2, Image Reference Macro); the
Current Requested Procedure Evidence Sequence lists every image and presentation state. Text
is UTF-8 (ISO_IR 192); the UIDs are new. Nothing here touches the archive.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from viewer.reports.create_ps import MANUFACTURER, UTF8, highdicom_quietly
from viewer.reports.view_state import with_patient_study

if TYPE_CHECKING:
    from pydicom.sr.coding import Code  # pydicom.sr loads its code tables (25 MiB) on import

LOGGER = logging.getLogger(__name__)


class KeyObjectTitle(enum.Enum):
    """Key Object Selection Document Title, PS3.16 CID 7010 (the values a reading room uses);
    the value is the code's keyword in pydicom's table."""

    OF_INTEREST = "OfInterest"
    FOR_TEACHING = "ForTeaching"
    QUALITY_ISSUE = "QualityIssue"
    FOR_REFERRING_PROVIDER = "ForReferringProvider"
    FOR_SURGERY = "ForSurgery"
    FOR_CONFERENCE = "ForConference"
    FOR_THERAPY = "ForTherapy"
    FOR_PATIENT = "ForPatient"
    FOR_PEER_REVIEW = "ForPeerReview"
    FOR_RESEARCH = "ForResearch"
    FOR_PRINTING = "ForPrinting"
    FOR_REPORT_ATTACHMENT = "ForReportAttachment"
    BEST_IN_SET = "BestInSet"
    REJECTED_FOR_QUALITY_REASONS = "RejectedForQualityReasons"
    REJECTED_FOR_PATIENT_SAFETY_REASONS = "RejectedForPatientSafetyReasons"

    @property
    def code(self) -> Code:
        """The coded concept (DCM scheme, e.g. 113000 "Of Interest")."""
        from pydicom.sr.codedict import codes  # pydicom's code tables: 25 MiB, when needed

        found: Code = getattr(codes.CID7010, self.value)
        return found

    @property
    def meaning(self) -> str:
        return str(self.code.meaning)


@dataclass(frozen=True)
class PresentationStateReference:
    """A presentation state an image was seen with: enough to reference it (and list it as
    evidence) without its dataset."""

    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str

    @classmethod
    def of(cls, ds: Dataset) -> PresentationStateReference:
        """The reference to the presentation state `ds` (a GSPS made by `create_ps`, or read)."""
        return cls(*(_uid(ds, k) for k in (
            "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")))


@dataclass(frozen=True)
class KeyImage:
    """One flagged image (or frame of a multi-frame image, 1-based; None: the whole image),
    with the presentation state it was seen with, if any."""

    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    frame: int | None = None
    presentation_state: PresentationStateReference | None = None

    def __post_init__(self) -> None:
        if self.frame is not None and self.frame < 1:
            raise ValueError(f"key image {self.sop_instance_uid}: frame {self.frame} (1-based)")

    @classmethod
    def of(cls, ds: Dataset, frame: int | None = None,
           presentation_state: PresentationStateReference | None = None) -> KeyImage:
        """The key image `ds` (its header), frame `frame` checked against Number of Frames."""
        sop_uid = _uid(ds, "SOPInstanceUID")
        if frame is not None:
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            if not 1 <= frame <= frames:
                raise ValueError(f"image {sop_uid}: frame {frame} requested, it has {frames}")
        return cls(
            _uid(ds, "SOPClassUID"), sop_uid, _uid(ds, "SeriesInstanceUID"),
            _uid(ds, "StudyInstanceUID"), frame=frame, presentation_state=presentation_state,
        )


def _uid(ds: Dataset, keyword: str) -> str:
    value = str(ds.get(keyword, "") or "").strip()
    if not value:
        raise ValueError(f"the header has no {keyword}")
    return value


def create_key_object_selection(
    images: Sequence[KeyImage],
    title: KeyObjectTitle,
    description: str,
    study: Dataset,
    *,
    observer: str = "",
    series_instance_uid: str | None = None,
    series_number: int = 9002,
    series_description: str = "Key images",
    instance_number: int = 1,
) -> Dataset:
    """A Key Object Selection Document flagging `images` under `title`.

    `description`: the Key Object Description (free text; "" for none). `study`: a header of
    the study the images belong to (patient and study attributes are copied from it).
    `observer`: the person who selected them (a person name, ^-separated), "" for none.
    Raises ValueError with a one-line reason when nothing is selected or the images,
    presentation states and `study` are not of one study.
    """
    if not images:
        raise ValueError("no key image selected: a key object selection needs at least one")
    study_uid = _uid(study, "StudyInstanceUID")
    for image in images:
        if image.study_instance_uid != study_uid:
            raise ValueError(
                f"key image {image.sop_instance_uid} belongs to another study than {study_uid}"
            )
        ps = image.presentation_state
        if ps is not None and ps.study_instance_uid != study_uid:
            raise ValueError(
                f"presentation state {ps.sop_instance_uid} of key image "
                f"{image.sop_instance_uid} belongs to another study than {study_uid}"
            )
    with highdicom_quietly():
        document = _document(images, title, description, study, observer,
                             series_instance_uid, series_number, instance_number)
    if study.get("SOPInstanceUID") not in {i.sop_instance_uid for i in images}:
        _drop_from_evidence(document, str(study.get("SOPInstanceUID", "")))
    document.SeriesDescription = series_description
    LOGGER.debug("key object selection %s: %d image(s)", document.SOPInstanceUID, len(images))
    return document


def _document(
    images: Sequence[KeyImage], title: KeyObjectTitle, description: str, study: Dataset,
    observer: str, series_instance_uid: str | None, series_number: int, instance_number: int,
) -> Dataset:
    import highdicom as hd  # about a second and 10 MiB: only when an object is made
    from pydicom.sr.codedict import codes
    observer_context = None
    if observer:
        observer_context = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=observer
            ),
        )
    content = hd.ko.KeyObjectSelection(
        document_title=title.code,
        referenced_objects=[_stand_in(image) for image in images],
        observer_person_context=observer_context,
        description=description or None,
    )
    _add_frames_and_states(content[0], images)
    document = hd.ko.KeyObjectSelectionDocument(
        evidence=[with_patient_study(study), *_evidence(images)],
        content=content,
        series_instance_uid=series_instance_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        specific_character_set=UTF8,
    )
    return document


def _stand_in(image: KeyImage) -> Dataset:
    """What highdicom reads of a selected object: its UIDs; Rows and Columns only tell it
    that the object is an image (an IMAGE item, not a COMPOSITE one) and are not written."""
    ds = Dataset()
    ds.SOPClassUID = image.sop_class_uid
    ds.SOPInstanceUID = image.sop_instance_uid
    ds.Rows = ds.Columns = 1
    return ds


def _add_frames_and_states(root: Dataset, images: Sequence[KeyImage]) -> None:
    """Referenced Frame Number and the nested presentation state reference of each IMAGE
    item (C.18.3.1.2), which highdicom's KeyObjectSelection does not take."""
    items = [item for item in root.ContentSequence if item.ValueType == "IMAGE"]
    for item, image in zip(items, images, strict=True):
        reference = item.ReferencedSOPSequence[0]
        if image.frame is not None:
            reference.ReferencedFrameNumber = image.frame
        ps = image.presentation_state
        if ps is not None:
            nested = Dataset()
            nested.ReferencedSOPClassUID = ps.sop_class_uid
            nested.ReferencedSOPInstanceUID = ps.sop_instance_uid
            reference.ReferencedSOPSequence = [nested]


def _evidence(images: Sequence[KeyImage]) -> list[Dataset]:
    """Images and presentation states as highdicom lists them in the Current Requested
    Procedure Evidence Sequence (it groups them by study and series)."""
    found: list[Dataset] = []
    for image in images:
        refs: list[KeyImage | PresentationStateReference] = [image]
        if image.presentation_state is not None:
            refs.append(image.presentation_state)
        for ref in refs:
            ds = Dataset()
            ds.SOPClassUID = ref.sop_class_uid
            ds.SOPInstanceUID = ref.sop_instance_uid
            ds.SeriesInstanceUID = ref.series_instance_uid
            ds.StudyInstanceUID = ref.study_instance_uid
            found.append(ds)
    return found


def _drop_from_evidence(document: Dataset, sop_instance_uid: str) -> None:
    """The study header given only for patient and study attributes is no evidence."""
    for study_item in document.CurrentRequestedProcedureEvidenceSequence:
        kept = []
        for series in study_item.ReferencedSeriesSequence:
            series.ReferencedSOPSequence = [
                i for i in series.ReferencedSOPSequence
                if i.ReferencedSOPInstanceUID != sop_instance_uid
            ]
            if len(series.ReferencedSOPSequence):
                kept.append(series)
        study_item.ReferencedSeriesSequence = kept
