"""De-identification for export: PS3.15 Annex E, Basic Application Level Confidentiality Profile.

The profile is data: `BASIC_PROFILE` maps attribute keywords to their action code in the Basic
Profile column of PS3.15 table E.1-1 (the attributes commonly present in images, reports and
presentation states). Action codes (PS3.15 E.3.1): D replace with a dummy value, Z zero length (or
a dummy value), X remove, K keep, C clean, U replace a UID consistently. A compound code such as
"X/Z/D" means "whichever the IOD allows"; not knowing the IOD's type for each attribute we take the
most conservative choice that stays valid in every IOD: D when offered, else Z, else X (and U for
"X/Z/U*", whose sequences carry references that must keep resolving).

Options (PS3.15 E.3): Retain Longitudinal Temporal Information with Full Dates (dates and times
kept, K) and Clean Descriptors (descriptions cleaned, C, instead of removed).

Beyond the table, stricter rules close the gaps a table of keywords leaves:
- private attributes are removed (the profile's default for private data);
- every UI value that is not a registered DICOM UID (SOP class, transfer syntax, coding scheme) and
  not a class UID is replaced through one `UIDMap`, so a whole export keeps its references;
- every person name not in the table becomes zero length;
- overlay groups (60xx) and curve groups (50xx) are removed: overlay bitmaps can carry burned text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID, generate_uid
from pydicom.valuerep import PersonName

LOGGER = logging.getLogger(__name__)

# PS3.15 table E.1-1, Basic Profile column: keyword -> action code. Entries marked in
# `DESCRIPTORS` are cleaned (C) under the Clean Descriptors Option instead.
BASIC_PROFILE: dict[str, str] = {
    "AccessionNumber": "Z",
    "AcquisitionComments": "X",
    "AcquisitionContextSequence": "X",
    "AcquisitionDate": "X/Z",
    "AcquisitionDateTime": "X/D",
    "AcquisitionDeviceProcessingDescription": "X/D",
    "AcquisitionProtocolDescription": "X",
    "AcquisitionTime": "X/Z",
    "ActualHumanPerformersSequence": "X",
    "AdditionalPatientHistory": "X",
    "AdmissionID": "X",
    "AdmittingDate": "X",
    "AdmittingDiagnosesCodeSequence": "X",
    "AdmittingDiagnosesDescription": "X",
    "AdmittingTime": "X",
    "AffectedSOPInstanceUID": "X",
    "Allergies": "X",
    "AuthorObserverSequence": "X",
    "BranchOfService": "X",
    "CassetteID": "X",
    "CommentsOnThePerformedProcedureStep": "X",
    "ConcatenationUID": "U",
    "ConfidentialityConstraintOnPatientDataDescription": "X",
    "ConsultingPhysicianName": "X",
    "ContentCreatorIdentificationCodeSequence": "X",
    "ContentCreatorName": "Z",
    "ContentDate": "Z/D",
    "ContentSequence": "X",
    "ContentTime": "Z/D",
    "ContextGroupExtensionCreatorUID": "U",
    "ContrastBolusAgent": "Z/D",
    "ContributionDescription": "X",
    "CountryOfResidence": "X",
    "CreatorVersionUID": "U",
    "CurrentPatientLocation": "X",
    "CurveDate": "X",
    "CurveTime": "X",
    "CustodialOrganizationSequence": "X",
    "DataSetTrailingPadding": "X",
    "DerivationDescription": "X",
    "DetectorID": "X/D",
    "DeviceSerialNumber": "X/Z/D",
    "DeviceUID": "U",
    "DigitalSignatureUID": "X",
    "DigitalSignaturesSequence": "X",
    "DimensionOrganizationUID": "U",
    "DischargeDiagnosisDescription": "X",
    "DistributionAddress": "X",
    "DistributionName": "X",
    "DoseReferenceUID": "U",
    "EthnicGroup": "X",
    "FailedSOPInstanceUIDList": "U",
    "FiducialUID": "U",
    "FillerOrderNumberImagingServiceRequest": "Z",
    "FrameComments": "X",
    "FrameOfReferenceUID": "U",
    "GantryID": "X",
    "GeneratorID": "X",
    "GraphicAnnotationSequence": "D",
    "HumanPerformerName": "X",
    "HumanPerformerOrganization": "X",
    "IconImageSequence": "X",
    "IdentifyingComments": "X",
    "ImageComments": "X",
    "ImagePresentationComments": "X",
    "ImagingServiceRequestComments": "X",
    "Impressions": "X",
    "InstanceCreationDate": "X/D",
    "InstanceCreationTime": "X/Z/D",
    "InstanceCreatorUID": "U",
    "InstitutionAddress": "X",
    "InstitutionCodeSequence": "X/Z/D",
    "InstitutionName": "X/Z/D",
    "InstitutionalDepartmentName": "X",
    "InsurancePlanIdentification": "X",
    "IntendedRecipientsOfResultsIdentificationSequence": "X",
    "InterpretationApproverSequence": "X",
    "InterpretationAuthor": "X",
    "InterpretationDiagnosisDescription": "X",
    "InterpretationIDIssuer": "X",
    "InterpretationRecorder": "X",
    "InterpretationText": "X",
    "InterpretationTranscriber": "X",
    "IrradiationEventUID": "U",
    "IssuerOfAdmissionID": "X",
    "IssuerOfPatientID": "X",
    "IssuerOfPatientIDQualifiersSequence": "X",
    "IssuerOfServiceEpisodeID": "X",
    "LargePaletteColorLookupTableUID": "U",
    "LastMenstrualDate": "X",
    "MAC": "X",
    "MediaStorageSOPInstanceUID": "U",
    "MedicalAlerts": "X",
    "MedicalRecordLocator": "X",
    "MilitaryRank": "X",
    "ModifiedAttributesSequence": "X",
    "ModifiedImageDescription": "X",
    "ModifyingDeviceID": "X",
    "NameOfPhysiciansReadingStudy": "X",
    "NamesOfIntendedRecipientsOfResults": "X",
    "Occupation": "X",
    "OperatorIdentificationSequence": "X",
    "OperatorsName": "X/Z/D",
    "OrderCallbackPhoneNumber": "X",
    "OrderEnteredBy": "X",
    "OrderEntererLocation": "X",
    "OriginalAttributesSequence": "X",
    "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X",
    "OtherPatientNames": "X",
    "OverlayDate": "X",
    "OverlayTime": "X",
    "ParticipantSequence": "X",
    "PatientAddress": "X",
    "PatientAge": "X",
    "PatientBirthDate": "Z",
    "PatientBirthDateInAlternativeCalendar": "X",
    "PatientBirthName": "X",
    "PatientBirthTime": "X",
    "PatientComments": "X",
    "PatientID": "Z",
    "PatientInsurancePlanCodeSequence": "X",
    "PatientMotherBirthName": "X",
    "PatientName": "Z",
    "PatientPrimaryLanguageCodeSequence": "X",
    "PatientReligiousPreference": "X",
    "PatientSex": "Z",
    "PatientSexNeutered": "X/Z",
    "PatientSize": "X",
    "PatientState": "X",
    "PatientTelephoneNumbers": "X",
    "PatientTransportArrangements": "X",
    "PatientWeight": "X",
    "PerformedLocation": "X",
    "PerformedProcedureStepDescription": "X",
    "PerformedProcedureStepEndDate": "X",
    "PerformedProcedureStepEndTime": "X",
    "PerformedProcedureStepID": "X",
    "PerformedProcedureStepStartDate": "X",
    "PerformedProcedureStepStartTime": "X",
    "PerformedStationAETitle": "X",
    "PerformedStationGeographicLocationCodeSequence": "X",
    "PerformedStationName": "X",
    "PerformedStationNameCodeSequence": "X",
    "PerformingPhysicianIdentificationSequence": "X",
    "PerformingPhysicianName": "X",
    "PersonAddress": "X",
    "PersonIdentificationCodeSequence": "D",
    "PersonName": "D",
    "PersonTelephoneNumbers": "X",
    "PhysicianApprovingInterpretation": "X",
    "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X",
    "PlacerOrderNumberImagingServiceRequest": "Z",
    "PlateID": "X",
    "PreMedication": "X",
    "PregnancyStatus": "X",
    "ProtocolName": "X/D",
    "ReasonForStudy": "X",
    "ReasonForTheImagingServiceRequest": "X",
    "ReferencedDigitalSignatureSequence": "X",
    "ReferencedFrameOfReferenceUID": "U",
    "ReferencedImageSequence": "X/Z/U*",
    "ReferencedPatientAliasSequence": "X",
    "ReferencedPatientPhotoSequence": "X",
    "ReferencedPatientSequence": "X",
    "ReferencedPerformedProcedureStepSequence": "X/Z/D",
    "ReferencedSOPInstanceMACSequence": "X",
    "ReferencedSOPInstanceUID": "U",
    "ReferencedSOPInstanceUIDInFile": "U",
    "ReferencedStudySequence": "X/Z",
    "ReferringPhysicianAddress": "X",
    "ReferringPhysicianIdentificationSequence": "X",
    "ReferringPhysicianName": "Z",
    "ReferringPhysicianTelephoneNumbers": "X",
    "RegionOfResidence": "X",
    "RelatedFrameOfReferenceUID": "U",
    "RequestAttributesSequence": "X",
    "RequestedContrastAgent": "X",
    "RequestedProcedureComments": "X",
    "RequestedProcedureDescription": "X/Z",
    "RequestedProcedureID": "X",
    "RequestedProcedureLocation": "X",
    "RequestedSOPInstanceUID": "U",
    "RequestingPhysician": "X",
    "RequestingService": "X",
    "ResponsibleOrganization": "X",
    "ResponsiblePerson": "X",
    "ResultsComments": "X",
    "ResultsDistributionListSequence": "X",
    "ResultsIDIssuer": "X",
    "ReviewerName": "X/Z",
    "ScheduledHumanPerformersSequence": "X",
    "ScheduledPatientInstitutionResidence": "X",
    "ScheduledPerformingPhysicianIdentificationSequence": "X",
    "ScheduledPerformingPhysicianName": "X",
    "ScheduledProcedureStepDescription": "X",
    "ScheduledProcedureStepEndDate": "X",
    "ScheduledProcedureStepEndTime": "X",
    "ScheduledProcedureStepLocation": "X",
    "ScheduledProcedureStepStartDate": "X",
    "ScheduledProcedureStepStartTime": "X",
    "ScheduledStationAETitle": "X",
    "ScheduledStationGeographicLocationCodeSequence": "X",
    "ScheduledStationName": "X",
    "ScheduledStudyLocation": "X",
    "SeriesDate": "X/D",
    "SeriesDescription": "X",
    "SeriesInstanceUID": "U",
    "SeriesTime": "X/D",
    "ServiceEpisodeDescription": "X",
    "ServiceEpisodeID": "X",
    "SmokingStatus": "X",
    "SOPInstanceUID": "U",
    "SourceImageSequence": "X/Z/U*",
    "SpecialNeeds": "X",
    "StationName": "X/Z/D",
    "StorageMediaFileSetUID": "U",
    "StudyComments": "X",
    "StudyDate": "Z",
    "StudyDescription": "X",
    "StudyID": "Z",
    "StudyIDIssuer": "X",
    "StudyInstanceUID": "U",
    "StudyTime": "Z",
    "SynchronizationFrameOfReferenceUID": "U",
    "TemplateExtensionCreatorUID": "U",
    "TemplateExtensionOrganizationUID": "U",
    "TimezoneOffsetFromUTC": "X",
    "TopicAuthor": "X",
    "TopicKeywords": "X",
    "TopicSubject": "X",
    "TopicTitle": "X",
    "TransactionUID": "U",
    "UID": "U",
    "VerifyingObserverIdentificationCodeSequence": "Z",
    "VerifyingObserverName": "D",
    "VerifyingObserverSequence": "D",
    "VerifyingOrganization": "X",
    "VisitComments": "X",
}

# The descriptions the Clean Descriptors Option cleans (C) rather than removes (PS3.15 E.3.5).
DESCRIPTORS: frozenset[str] = frozenset(
    {
        "AcquisitionDeviceProcessingDescription", "AcquisitionProtocolDescription",
        "AdditionalPatientHistory", "AdmittingDiagnosesDescription",
        "CommentsOnThePerformedProcedureStep", "DerivationDescription", "FrameComments",
        "ImageComments", "PerformedProcedureStepDescription", "ProtocolName", "ReasonForStudy",
        "ReasonForTheImagingServiceRequest", "RequestedProcedureDescription",
        "ScheduledProcedureStepDescription", "SeriesDescription", "StudyDescription",
    }
)

# Zero length is allowed by Z, but a DICOMDIR record needs these (PS3.3 F.5, Type 1): they get a
# dummy value instead ("or a non-zero length value that may be a dummy value", PS3.15 E.3.1).
_RECORD_KEYS = frozenset({"PatientID", "StudyDate", "StudyTime", "StudyID"})

# Dummy values per VR for action D (and the record keys above).
_DUMMY: dict[str, Any] = {
    "AE": "ANONYMOUS", "AS": "000Y", "CS": "ANONYMOUS", "DA": "19000101", "DS": "0",
    "DT": "19000101000000", "IS": "0", "LO": "ANONYMOUS", "LT": "ANONYMOUS", "PN": "ANONYMOUS",
    "SH": "ANONYMOUS", "ST": "ANONYMOUS", "TM": "000000", "UC": "ANONYMOUS", "UT": "ANONYMOUS",
    "FL": 0.0, "FD": 0.0, "SL": 0, "SS": 0, "UL": 0, "US": 0, "SV": 0, "UV": 0,
}
_TEMPORAL_VRS = frozenset({"DA", "DT", "TM"})

# CID 7050 De-identification Method (PS3.16): the profile and its options, scheme DCM.
_METHOD_CODES = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "retain_dates": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
}

BURNED_IN_EXCLUDED = "excluded: Burned In Annotation is YES (pixels may show identity)"


def resolve(code: str) -> str:
    """The single action we apply for a table code: D if offered, else Z, else X; U for U*."""
    parts = code.replace("*", "").split("/")
    for action in ("U", "D", "Z", "X", "K", "C"):
        if action in parts:
            return action
    raise ValueError(f"unknown action code {code!r}")


def _tag(keyword: str) -> int:
    tag = keyword_dict.get(keyword)
    if tag is None:  # a typo in the table must fail at import, not skip an attribute silently
        raise KeyError(f"PS3.15 table: unknown keyword {keyword}")
    return tag


_TABLE_TAGS: dict[int, str] = {_tag(k): k for k in BASIC_PROFILE}


@dataclass(frozen=True)
class DeidOptions:
    """How to de-identify: the two PS3.15 E.3 options and the burned-in policy.

    `retain_dates`: Retain Longitudinal Temporal Information with Full Dates Option.
    `clean_descriptors`: Clean Descriptors Option (descriptions cleaned of identifiers, kept).
    `include_burned_in`: export images with Burned In Annotation = YES too (the caller accepts
    that their pixels may show identity); by default they are excluded with a warning.
    """

    retain_dates: bool = False
    clean_descriptors: bool = False
    include_burned_in: bool = False
    patient_prefix: str = "ANON"  # pseudonyms are ANON0001, ANON0002, ... in export order


@dataclass
class UIDMap:
    """Old UID -> new UID, the same replacement wherever the old UID appears in one export."""

    mapping: dict[str, str] = field(default_factory=dict)

    def __call__(self, old: str) -> str:
        new = self.mapping.get(old)
        if new is None:
            new = self.mapping[old] = generate_uid(prefix=None)  # 2.25.<random UUID>
        return new


def _is_class_uid(keyword: str) -> bool:
    # Class UIDs (SOP class, transfer syntax, implementation, coding scheme registries) name
    # kinds of things, never a patient or an instance: they stay.
    return keyword.endswith(("ClassUID", "TransferSyntaxUID", "ClassUIDInFile")) or keyword in {
        "TransferSyntaxUID", "ReferencedTransferSyntaxUIDInFile", "CodingSchemeUID",
        "ContextUID",
    }


def _is_registered(uid: str) -> bool:
    return UID(uid).is_valid and bool(UID(uid).name != uid)


class Deidentifier:
    """Applies the Basic Profile to the datasets of one export, keeping UIDs and pseudonyms
    consistent across them (one instance per export)."""

    def __init__(self, options: DeidOptions | None = None, uid_map: UIDMap | None = None) -> None:
        self.options = options or DeidOptions()
        self.uid_map = uid_map or UIDMap()
        self._patients: dict[str, str] = {}
        self._studies: dict[str, str] = {}

    def excluded(self, ds: Dataset) -> str:
        """Why `ds` must not be exported ('' when it may): burned-in annotation, unless asked."""
        burned = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
        if burned == "YES" and not self.options.include_burned_in:
            return BURNED_IN_EXCLUDED
        return ""

    def apply(self, ds: Dataset) -> None:
        """De-identify `ds` in place, file meta included (PS3.15 E.1)."""
        patient_key = str(ds.get("PatientID", "") or "")
        patient = self._patients.setdefault(
            patient_key, f"{self.options.patient_prefix}{len(self._patients) + 1:04d}"
        )
        study_key = str(ds.get("StudyInstanceUID", "") or "")
        study = self._studies.setdefault(study_key, f"{len(self._studies) + 1}")
        terms = _identifying_terms(ds) if self.options.clean_descriptors else []
        ds.remove_private_tags()
        self._walk(ds, terms)
        ds.PatientID = patient
        ds.PatientName = patient
        ds.StudyID = study
        for keyword in ("StudyDate", "StudyTime"):
            if not ds.get(keyword):
                ds[keyword] = DataElement(_tag(keyword), dictionary_VR(keyword),
                                          _DUMMY[dictionary_VR(keyword)])
        self._mark(ds)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            if "MediaStorageSOPInstanceUID" in meta:
                meta.MediaStorageSOPInstanceUID = self.uid_map(meta.MediaStorageSOPInstanceUID)
            for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                            "ReceivingApplicationEntityTitle", "SourcePresentationAddress"):
                if keyword in meta:
                    del meta[keyword]

    def _mark(self, ds: Dataset) -> None:
        o = self.options
        ds.PatientIdentityRemoved = "YES"
        method = "PS3.15 E.1-1 Basic Profile"
        codes = [_METHOD_CODES["basic"]]
        if o.retain_dates:
            method += ", Retain Full Dates"
            codes.append(_METHOD_CODES["retain_dates"])
        if o.clean_descriptors:
            method += ", Clean Descriptors"
            codes.append(_METHOD_CODES["clean_descriptors"])
        ds.DeidentificationMethod = method
        items = []
        for value, meaning in codes:
            item = Dataset()
            item.CodeValue = value
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        ds.LongitudinalTemporalInformationModified = "UNMODIFIED" if o.retain_dates else "REMOVED"

    def _action(self, keyword: str, vr: str) -> str:
        action = resolve(BASIC_PROFILE[keyword])
        if self.options.retain_dates and vr in _TEMPORAL_VRS:
            return "K"
        if self.options.clean_descriptors and keyword in DESCRIPTORS:
            return "C"
        return action

    def _walk(self, ds: Dataset, terms: list[str]) -> None:
        for elem in list(ds):
            tag = int(elem.tag)
            group = tag >> 16
            if 0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF:
                del ds[elem.tag]  # curves and overlays (50xx, 60xx), see the module docstring
                continue
            keyword = _TABLE_TAGS.get(tag)
            if keyword is not None:
                self._apply_action(ds, elem, self._action(keyword, elem.VR), terms)
            elif elem.VR == "SQ":
                for item in elem.value or []:
                    self._walk(item, terms)
            elif elem.VR == "UI":
                self._replace_uids(ds, elem)
            elif elem.VR == "PN":
                elem.value = ""  # stricter than the table: any name is identifying

    def _apply_action(self, ds: Dataset, elem: DataElement, action: str, terms: list[str]) -> None:
        vr = elem.VR
        if action == "X":
            del ds[elem.tag]
        elif action == "K":
            if vr == "SQ":
                for item in elem.value or []:
                    self._walk(item, terms)
        elif action == "U":
            if vr == "SQ":
                for item in elem.value or []:
                    self._walk(item, terms)
            else:
                self._replace_uids(ds, elem, force=True)
        elif action == "C":
            elem.value = _clean(elem.value, terms)
        elif vr == "SQ":
            if action == "Z":
                elem.value = Sequence()
            else:  # D on a sequence: keep its items, de-identified themselves
                for item in elem.value or []:
                    self._walk(item, terms)
        elif action == "Z" and elem.keyword not in _RECORD_KEYS:
            elem.value = None
        else:  # D, or Z on an attribute a DICOMDIR record needs: a dummy value for its VR
            elem.value = _DUMMY.get(vr)

    def _replace_uids(self, ds: Dataset, elem: DataElement, force: bool = False) -> None:
        if not force and _is_class_uid(elem.keyword):
            return
        values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
        new = [
            v if (not v or (not force and _is_registered(str(v)))) else self.uid_map(str(v))
            for v in values
        ]
        elem.value = new if len(new) != 1 else new[0]


def _identifying_terms(ds: Dataset) -> list[str]:
    """Words and identifiers of this patient, study and staff that a description may repeat."""
    terms: set[str] = set()

    def add(value: object) -> None:
        if isinstance(value, PersonName):
            for group in (value.alphabetic, value.ideographic, value.phonetic):
                terms.update(p for p in re.split(r"[\^=\s]+", group) if len(p) >= 2)
        elif isinstance(value, MultiValue | list):
            for v in value:
                add(v)
        elif value:
            text = str(value).strip()
            if len(text) >= 2:
                terms.add(text)

    for elem in ds.iterall():
        keyword = elem.keyword
        if elem.VR == "PN" or keyword in {
            "PatientID", "OtherPatientIDs", "AccessionNumber", "PatientBirthDate",
            "InstitutionName", "InstitutionAddress", "StationName", "DeviceSerialNumber",
            "StudyID", "PatientAddress", "PatientTelephoneNumbers",
        }:
            add(elem.value)
    birth = str(ds.get("PatientBirthDate", "") or "")
    if re.fullmatch(r"\d{8}", birth):  # the usual ways a date is typed into free text
        y, m, d = birth[:4], birth[4:6], birth[6:]
        terms.update({f"{y}-{m}-{d}", f"{d}.{m}.{y}", f"{d}/{m}/{y}", f"{m}/{d}/{y}"})
    return sorted(terms, key=len, reverse=True)  # longest first: "SMITH^JOHN" before "JOHN"


def _clean(value: object, terms: list[str]) -> object:
    """Clean (C): the text without the identifying terms of its own dataset (PS3.15 E.3.5).

    A simple rule, not language understanding: identifiers spelled otherwise survive.
    """
    if isinstance(value, MultiValue | list):
        return [_clean(v, terms) for v in value]
    if not isinstance(value, str):
        return value
    text = value
    for term in terms:
        text = re.sub(re.escape(term), "", text, flags=re.IGNORECASE)
    return re.sub(r"\s{2,}", " ", text).strip(" ,;:-")


def table_actions(options: DeidOptions | None = None) -> dict[str, str]:
    """The action applied to each table keyword under `options` (for reports and tests)."""
    d = Deidentifier(options)
    return {k: d._action(k, dictionary_VR(k)) for k in BASIC_PROFILE}

