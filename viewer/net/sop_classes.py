"""What our Storage SCP negotiates, as data: the SOP classes (PS3.4 Annex B) and transfer syntaxes
(PS3.5 §10, Annex A) it accepts. The SCP builds its presentation contexts from these tables and
nothing else, so the conformance statement (PS3.2) generated from them cannot drift from what
the program negotiates.

Transfer syntaxes: only those the archive can store and the viewer can show later
(`viewer.dicom.codecs` has a decoder for each); the acceptor takes the first of the requestor's
proposals that is in this list (PS3.8 §9.3.3.2), so the order here does not rank them.
"""

from __future__ import annotations

from pydicom import uid
from pynetdicom import AllStoragePresentationContexts
from pynetdicom.presentation import PresentationContext, build_context

VERIFICATION = "1.2.840.10008.1.1"  # Verification SOP Class (PS3.4 Annex A): C-ECHO

# Every storage SOP class pynetdicom knows (PS3.4 B.5), sorted by UID.
STORAGE_SOP_CLASSES: tuple[str, ...] = tuple(
    sorted(str(cx.abstract_syntax) for cx in AllStoragePresentationContexts)
)

# (UID, lossy) for each transfer syntax a received dataset may be encoded in.
SCP_TRANSFER_SYNTAXES: tuple[tuple[str, bool], ...] = (
    (uid.ExplicitVRLittleEndian, False),
    (uid.ImplicitVRLittleEndian, False),
    (uid.DeflatedExplicitVRLittleEndian, False),
    (uid.ExplicitVRBigEndian, False),  # retired, still sent by old modalities
    (uid.JPEGBaseline8Bit, True),
    (uid.JPEGExtended12Bit, True),
    (uid.JPEGLossless, False),
    (uid.JPEGLosslessSV1, False),
    (uid.JPEGLSLossless, False),
    (uid.JPEGLSNearLossless, True),
    (uid.JPEG2000Lossless, False),
    (uid.JPEG2000, True),
    (uid.HTJ2KLossless, False),
    (uid.HTJ2KLosslessRPCL, False),
    (uid.HTJ2K, True),
    (uid.RLELossless, False),
)


# What C-GET offers to receive when the peer cannot say which SOP classes a study holds: the
# image, presentation-state, SR, RT and document classes of everyday modalities (one context
# each with every transfer syntax: within the 128 contexts an association may hold).
COMMON_STORAGE_CLASSES: tuple[str, ...] = (
    uid.CTImageStorage, uid.EnhancedCTImageStorage, uid.LegacyConvertedEnhancedCTImageStorage,
    uid.MRImageStorage, uid.EnhancedMRImageStorage, uid.EnhancedMRColorImageStorage,
    uid.LegacyConvertedEnhancedMRImageStorage, uid.MRSpectroscopyStorage,
    uid.ComputedRadiographyImageStorage, uid.DigitalXRayImageStorageForPresentation,
    uid.DigitalXRayImageStorageForProcessing,
    uid.DigitalMammographyXRayImageStorageForPresentation,
    uid.DigitalMammographyXRayImageStorageForProcessing,
    uid.DigitalIntraOralXRayImageStorageForPresentation, uid.BreastTomosynthesisImageStorage,
    uid.UltrasoundImageStorage, uid.UltrasoundMultiFrameImageStorage,
    uid.EnhancedUSVolumeStorage, uid.SecondaryCaptureImageStorage,
    uid.MultiFrameSingleBitSecondaryCaptureImageStorage,
    uid.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
    uid.MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    uid.MultiFrameTrueColorSecondaryCaptureImageStorage, uid.NuclearMedicineImageStorage,
    uid.PositronEmissionTomographyImageStorage, uid.EnhancedPETImageStorage,
    uid.LegacyConvertedEnhancedPETImageStorage, uid.XRayAngiographicImageStorage,
    uid.EnhancedXAImageStorage, uid.XRayRadiofluoroscopicImageStorage,
    uid.EnhancedXRFImageStorage, uid.XRay3DAngiographicImageStorage,
    uid.VLEndoscopicImageStorage, uid.VideoEndoscopicImageStorage,
    uid.VLPhotographicImageStorage, uid.VLMicroscopicImageStorage,
    uid.VLWholeSlideMicroscopyImageStorage, uid.OphthalmicPhotography8BitImageStorage,
    uid.OphthalmicPhotography16BitImageStorage, uid.OphthalmicTomographyImageStorage,
    uid.RTImageStorage, uid.RTDoseStorage, uid.RTStructureSetStorage, uid.RTPlanStorage,
    uid.RTIonPlanStorage, uid.RTBeamsTreatmentRecordStorage,
    uid.GrayscaleSoftcopyPresentationStateStorage, uid.ColorSoftcopyPresentationStateStorage,
    uid.PseudoColorSoftcopyPresentationStateStorage, uid.KeyObjectSelectionDocumentStorage,
    uid.BasicTextSRStorage, uid.EnhancedSRStorage, uid.ComprehensiveSRStorage,
    uid.Comprehensive3DSRStorage, uid.XRayRadiationDoseSRStorage, uid.MammographyCADSRStorage,
    uid.EncapsulatedPDFStorage, uid.EncapsulatedCDAStorage, uid.SegmentationStorage,
    uid.SpatialRegistrationStorage, uid.DeformableSpatialRegistrationStorage,
    uid.RawDataStorage, uid.ParametricMapStorage,
)


def transfer_syntax_uids() -> list[str]:
    return [ts for ts, _ in SCP_TRANSFER_SYNTAXES]


def storage_scp_contexts() -> list[PresentationContext]:
    """The presentation contexts our Storage SCP supports: every storage SOP class with every
    transfer syntax of SCP_TRANSFER_SYNTAXES, and Verification in the little endian ones."""
    syntaxes = transfer_syntax_uids()
    contexts = [build_context(sop_class, syntaxes) for sop_class in STORAGE_SOP_CLASSES]
    contexts.append(
        build_context(VERIFICATION, [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian])
    )
    return contexts
