"""Softcopy presentation states read into one frozen value (PS3.3 A.33, C.11, C.10).

Grayscale (A.33.1), Color (A.33.2) and Pseudo-Color (A.33.3) Softcopy Presentation States:
which images and frames they apply to, their Modality LUT / rescale, Softcopy VOI LUT items
(each for the images it references), Presentation LUT, Spatial Transformation, Displayed Area
Selection items, Display Shutter, Overlay Activation and the greys their Graphic Layers
recommend, and the pseudo-colour palette. Graphic annotations are read by viewer.dicom.graphics.

`read_presentation_state(ds)` checks the Type 1 attributes it relies on itself: pydicom reads a
file cut short inside a value without complaint, and a presentation state shown half-applied
would mislead. Applying a state to a frame is viewer.dicom.presentation_apply.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from pydicom.dataset import Dataset

from viewer.dicom.files import one_line
from viewer.dicom.frameinfo import (
    LUT,
    Overlay,
    Palette,
    Window,
    big_endian,
    multi_values,
    read_lut,
    read_overlays,
    read_palette,
    read_windows,
)
from viewer.dicom.shutters import DisplayShutter, ShutterError, read_display_shutter

LOGGER = logging.getLogger(__name__)


class PresentationStateError(ValueError):
    """A presentation state that cannot be used, or not with this image: one line naming the
    file and the reason."""


class PresentationKind(enum.Enum):
    """Which Softcopy Presentation State IOD, from its SOP Class UID (PS3.4 B.5)."""

    GRAYSCALE = "1.2.840.10008.5.1.4.1.1.11.1"
    COLOR = "1.2.840.10008.5.1.4.1.1.11.2"
    PSEUDO_COLOR = "1.2.840.10008.5.1.4.1.1.11.3"


class PresentationSizeMode(enum.Enum):
    """Presentation Size Mode (0070,0100), PS3.3 C.10.4."""

    SCALE_TO_FIT = "SCALE TO FIT"
    TRUE_SIZE = "TRUE SIZE"
    MAGNIFY = "MAGNIFY"


@dataclass(frozen=True)
class ImageReference:
    """One referenced image; `frames` are 1-based Referenced Frame Numbers, empty for all."""

    series_instance_uid: str
    sop_class_uid: str
    sop_instance_uid: str
    frames: tuple[int, ...] = ()

    def covers(self, sop_instance_uid: str, frame: int) -> bool:
        if self.sop_instance_uid != sop_instance_uid:
            return False
        return not self.frames or frame in self.frames


@dataclass(frozen=True)
class SoftcopyVOI:
    """One Softcopy VOI LUT Sequence item: its window or VOI LUT, for the images it references
    (`references` empty: every image of the presentation state)."""

    references: tuple[ImageReference, ...]
    voi: Window | LUT


@dataclass(frozen=True)
class DisplayedArea:
    """One Displayed Area Selection item (C.10.4), for the images it references (empty: all).

    `top_left` and `bottom_right` are (column, row), 1-based and inclusive, in the image's pixel
    grid before the spatial transformation: the box's smallest and largest corner, whichever
    corner the file names first (it names the pixels shown top left and bottom right after the
    rotation and flip); they may lie outside the image. `pixel_spacing` is
    (row spacing, column spacing) in mm; `aspect_ratio` (vertical, horizontal) pixel size.
    """

    references: tuple[ImageReference, ...]
    top_left: tuple[int, int]
    bottom_right: tuple[int, int]
    size_mode: PresentationSizeMode
    pixel_spacing: tuple[float, float] | None = None
    aspect_ratio: tuple[float, float] | None = None
    magnification: float | None = None

    @property
    def pixel_aspect(self) -> float:
        """A pixel's height over its width as presented (1.0 for square pixels)."""
        if self.pixel_spacing is not None:
            return self.pixel_spacing[0] / self.pixel_spacing[1]
        if self.aspect_ratio is not None:
            return self.aspect_ratio[0] / self.aspect_ratio[1]
        return 1.0


@dataclass(frozen=True)
class OverlayActivation:
    """An overlay plane the state switches on (60xx,1001) in a graphic layer. `overlay` is the
    plane when the state itself holds it; None means the image's plane of the same group.
    `grey` is the layer's recommended grey on 8 bits (white when it recommends none)."""

    group: int
    layer: str
    overlay: Overlay | None
    grey: int = 255


@dataclass(frozen=True, eq=False)
class PresentationState:
    """A Grayscale, Color or Pseudo-Color Softcopy Presentation State, ready to apply.

    `rescale` is (slope, intercept) of the state's Modality LUT module; with neither it nor
    `modality_lut`, the state asks for no modality transformation. `presentation_lut_shape`
    is "IDENTITY" or "INVERSE" unless `presentation_lut` is a table. `rotation` is clockwise
    degrees (0, 90, 180, 270), applied before `horizontal_flip` (C.10.6).
    """

    kind: PresentationKind
    sop_instance_uid: str
    label: str
    description: str
    creator: str
    creation_date: str
    creation_time: str
    references: tuple[ImageReference, ...]
    modality_lut: LUT | None = None
    rescale: tuple[float, float] | None = None
    vois: tuple[SoftcopyVOI, ...] = ()
    presentation_lut_shape: str = "IDENTITY"
    presentation_lut: LUT | None = None
    rotation: int = 0
    horizontal_flip: bool = False
    displayed_areas: tuple[DisplayedArea, ...] = ()
    shutter: DisplayShutter | None = None
    overlay_activations: tuple[OverlayActivation, ...] = ()
    palette: Palette | None = None
    # a Color state's ICC Profile (C.11.15): the colour space of the images' pixels, in place
    # of their own profile
    icc_profile: bytes | None = None
    source: str = ""  # the file it was read from, for messages


def applies_to(ps: PresentationState, sop_instance_uid: str, frame: int = 1) -> bool:
    """Whether the state references this image's frame (1-based, as Referenced Frame Number)."""
    return any(ref.covers(sop_instance_uid, frame) for ref in ps.references)


def require_applies(
    ps: PresentationState, sop_instance_uid: str, frame: int, image_name: str
) -> None:
    """PresentationStateError naming both files unless the state references this frame."""
    if applies_to(ps, sop_instance_uid, frame):
        return
    same_image = [ref for ref in ps.references if ref.sop_instance_uid == sop_instance_uid]
    if same_image:
        frames = sorted({f for ref in same_image for f in ref.frames})
        listed = ", ".join(map(str, frames))
        why = f"references frame(s) {listed} of {image_name}, not frame {frame}"
    else:
        why = (f"does not reference {image_name} (SOP Instance UID {sop_instance_uid}); it "
               f"references {len(ps.references)} other image(s)")
    raise PresentationStateError(one_line(f"{ps.source or 'presentation state'}: {why}"))


def voi_for(ps: PresentationState, sop_instance_uid: str, frame: int = 1) -> Window | LUT | None:
    """The state's VOI transformation for this frame: the first Softcopy VOI LUT item that
    references it (or references nothing, so applies to all); None when no item does."""
    for item in ps.vois:
        if _covered(item.references, sop_instance_uid, frame):
            return item.voi
    return None


def displayed_area_for(
    ps: PresentationState, sop_instance_uid: str, frame: int = 1
) -> DisplayedArea | None:
    """The Displayed Area Selection item for this frame, as `voi_for` chooses."""
    for item in ps.displayed_areas:
        if _covered(item.references, sop_instance_uid, frame):
            return item
    return None


def _covered(references: tuple[ImageReference, ...], sop_instance_uid: str, frame: int) -> bool:
    return not references or any(ref.covers(sop_instance_uid, frame) for ref in references)


# --- reading ------------------------------------------------------------------------------------


def read_presentation_state(ds: Dataset) -> PresentationState:
    """Parse a Softcopy Presentation State data set (PS3.3 A.33) into a frozen value.

    PresentationStateError (one line, naming `ds.filename` when it has one) for another SOP
    Class, a missing or unreadable Type 1 attribute, or a malformed sequence.
    """
    source = str(getattr(ds, "filename", "") or "presentation state")
    try:
        return _read(ds, source)
    except PresentationStateError:
        raise
    except ShutterError as exc:
        raise PresentationStateError(one_line(f"{source}: {exc}")) from None
    except Exception as exc:  # pydicom raises anything on damaged bytes met while parsing lazily
        reason = one_line(f"{type(exc).__name__}: {exc}")[:200]
        raise PresentationStateError(f"{one_line(source)}: malformed presentation state ({reason})"
                                     ) from None


def _fail(source: str, reason: str) -> PresentationStateError:
    return PresentationStateError(one_line(f"{source}: {reason}"))


def _read(ds: Dataset, source: str) -> PresentationState:
    sop_class = str(ds.get("SOPClassUID", "") or "")
    try:
        kind = PresentationKind(sop_class)
    except ValueError:
        raise _fail(source, f"not a softcopy presentation state (SOP Class UID "
                            f"{sop_class or 'missing'})") from None
    for keyword in ("SOPInstanceUID", "ContentLabel", "PresentationCreationDate"):
        if not str(ds.get(keyword, "") or "").strip():
            raise _fail(source, f"{keyword} missing (truncated or invalid presentation state)")
    references = _series_references(ds, source)
    if not ds.get("DisplayedAreaSelectionSequence"):
        raise _fail(source, "Displayed Area Selection Sequence missing (truncated or invalid "
                            "presentation state)")
    endian = big_endian(ds)
    ps_overlays = read_overlays(ds, 0)
    shape, plut = _presentation_lut(ds, kind, source, endian)
    palette = None
    if kind is PresentationKind.PSEUDO_COLOR:
        palette = read_palette(ds)
        if palette is None:
            raise _fail(source, "pseudo-colour palette (Red/Green/Blue Palette Color Lookup "
                                "Table) missing or unreadable")
    if kind is PresentationKind.COLOR and "ICCProfile" not in ds:
        raise _fail(source, "ICC Profile missing (truncated or invalid colour presentation state)")
    modality_lut, rescale = (None, None)
    if kind is not PresentationKind.COLOR:
        modality_lut, rescale = _modality(ds, source, endian)
    return PresentationState(
        kind=kind,
        sop_instance_uid=str(ds.SOPInstanceUID),
        label=str(ds.get("ContentLabel", "")),
        description=str(ds.get("ContentDescription", "") or ""),
        creator=str(ds.get("ContentCreatorName", "") or ""),
        creation_date=str(ds.get("PresentationCreationDate", "") or ""),
        creation_time=str(ds.get("PresentationCreationTime", "") or ""),
        references=references,
        modality_lut=modality_lut,
        rescale=rescale,
        vois=_softcopy_vois(ds, source, endian) if kind is not PresentationKind.COLOR else (),
        presentation_lut_shape=shape,
        presentation_lut=plut,
        rotation=_rotation(ds, source),
        horizontal_flip=_flip(ds, source),
        displayed_areas=_displayed_areas(ds, source),
        shutter=read_display_shutter(ds, ps_overlays, bitmap_elsewhere=True),
        overlay_activations=_activations(ds, ps_overlays),
        palette=palette,
        icc_profile=bytes(ds.ICCProfile) if kind is PresentationKind.COLOR else None,
        source=source,
    )


def _image_references(
    items: object, series_uid: str, source: str, where: str
) -> tuple[ImageReference, ...]:
    refs = []
    for item in items or []:  # type: ignore[attr-defined]
        uid = str(item.get("ReferencedSOPInstanceUID", "") or "").strip()
        if not uid:
            raise _fail(source, f"{where}: an item without Referenced SOP Instance UID")
        frames = tuple(int(f) for f in multi_values(item.get("ReferencedFrameNumber")))
        sop_class = str(item.get("ReferencedSOPClassUID", "") or "")
        refs.append(ImageReference(series_uid, sop_class, uid, frames))
    return tuple(refs)


def _series_references(ds: Dataset, source: str) -> tuple[ImageReference, ...]:
    refs: list[ImageReference] = []
    for series in ds.get("ReferencedSeriesSequence") or []:
        series_uid = str(series.get("SeriesInstanceUID", "") or "")
        refs.extend(_image_references(series.get("ReferencedImageSequence"), series_uid, source,
                                      "Referenced Series Sequence"))
    if not refs:
        raise _fail(source, "references no image (Referenced Series Sequence missing or empty)")
    return tuple(refs)


def _modality(
    ds: Dataset, source: str, endian: bool
) -> tuple[LUT | None, tuple[float, float] | None]:
    seq = ds.get("ModalityLUTSequence")
    if seq:
        lut = read_lut(seq[0], endian)
        if lut is None:
            raise _fail(source, "unreadable Modality LUT Sequence item")
        return lut, None
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        return None, (slope, float(ds.get("RescaleIntercept", 0.0) or 0.0))
    return None, None


def _softcopy_vois(ds: Dataset, source: str, endian: bool) -> tuple[SoftcopyVOI, ...]:
    out = []
    for item in ds.get("SoftcopyVOILUTSequence") or []:
        refs = _image_references(item.get("ReferencedImageSequence"), "", source,
                                 "Softcopy VOI LUT Sequence")
        windows = read_windows(item)
        voi: Window | LUT | None = windows[0] if windows else None
        if voi is None and item.get("VOILUTSequence"):
            voi = read_lut(item.VOILUTSequence[0], endian)
        if voi is None:
            raise _fail(source, "a Softcopy VOI LUT item with neither a usable window nor a "
                                "VOI LUT")
        out.append(SoftcopyVOI(refs, voi))
    return tuple(out)


def _presentation_lut(
    ds: Dataset, kind: PresentationKind, source: str, endian: bool
) -> tuple[str, LUT | None]:
    if kind is not PresentationKind.GRAYSCALE:
        return "IDENTITY", None  # colour states have no Presentation LUT module
    seq = ds.get("PresentationLUTSequence")
    if seq:
        lut = read_lut(seq[0], endian)
        if lut is None:
            raise _fail(source, "unreadable Presentation LUT Sequence item")
        return "", lut
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    if shape not in ("IDENTITY", "INVERSE"):
        raise _fail(source, f"Presentation LUT Shape {shape!r} (truncated or invalid presentation "
                            f"state: IDENTITY or INVERSE expected)" if shape else
                    "Presentation LUT missing (truncated or invalid presentation state)")
    return shape, None


def _rotation(ds: Dataset, source: str) -> int:
    rotation = int(ds.get("ImageRotation", 0) or 0)
    if rotation not in (0, 90, 180, 270):
        raise _fail(source, f"Image Rotation {rotation} (0, 90, 180 or 270 expected)")
    return rotation


def _flip(ds: Dataset, source: str) -> bool:
    flip = str(ds.get("ImageHorizontalFlip", "N") or "N").strip().upper()
    if flip not in ("Y", "N"):
        raise _fail(source, f"Image Horizontal Flip {flip!r} (Y or N expected)")
    return flip == "Y"


def _displayed_areas(ds: Dataset, source: str) -> tuple[DisplayedArea, ...]:
    out = []
    for item in ds.DisplayedAreaSelectionSequence:
        refs = _image_references(item.get("ReferencedImageSequence"), "", source,
                                 "Displayed Area Selection Sequence")
        tl = [int(v) for v in multi_values(item.get("DisplayedAreaTopLeftHandCorner"))]
        br = [int(v) for v in multi_values(item.get("DisplayedAreaBottomRightHandCorner"))]
        if len(tl) != 2 or len(br) != 2:
            raise _fail(source, f"Displayed Area corners {tl} {br} (column\\row expected)")
        # The corners are the pixels shown top left and bottom right AFTER rotation and flip,
        # in the image's own column\row (PS3.3 C.10.4, Figure C.10.4-1: rotated 90 degrees,
        # 1\480 and 640\1). The area is the box they span, in the image before the turn.
        tl, br = [min(tl[0], br[0]), min(tl[1], br[1])], [max(tl[0], br[0]), max(tl[1], br[1])]
        mode_text = str(item.get("PresentationSizeMode", "") or "").strip().upper()
        try:
            mode = PresentationSizeMode(mode_text)
        except ValueError:
            raise _fail(source, f"Presentation Size Mode {mode_text!r}") from None
        spacing = _pair(item.get("PresentationPixelSpacing"))
        aspect = _pair(item.get("PresentationPixelAspectRatio"))
        magnification = item.get("PresentationPixelMagnificationRatio")
        ratio = float(magnification) if magnification not in (None, "") else None
        if mode is PresentationSizeMode.MAGNIFY and not (ratio and ratio > 0):
            raise _fail(source, "MAGNIFY without a positive Presentation Pixel Magnification Ratio")
        if mode is PresentationSizeMode.TRUE_SIZE and spacing is None:
            raise _fail(source, "TRUE SIZE without Presentation Pixel Spacing")
        out.append(DisplayedArea(refs, (tl[0], tl[1]), (br[0], br[1]), mode, spacing, aspect,
                                 ratio))
    return tuple(out)


def _layer_greys(ds: Dataset) -> dict[str, int]:
    """Each graphic layer's recommended grey on 8 bits (C.10.7): its grey P-Value, else the
    lightness of its CIELab colour."""
    greys = {}
    for item in ds.get("GraphicLayerSequence") or []:
        name = str(item.get("GraphicLayer", "") or "").strip()
        value = item.get("GraphicLayerRecommendedDisplayGrayscaleValue")
        lab = multi_values(item.get("GraphicLayerRecommendedDisplayCIELabValue"))
        if value not in (None, ""):
            greys[name] = round(int(value) * 255 / 65535)
        elif len(lab) == 3:
            greys[name] = round(int(lab[0]) * 255 / 65535)
    return greys


def _activations(ds: Dataset, ps_overlays: tuple[Overlay, ...]) -> tuple[OverlayActivation, ...]:
    greys = _layer_greys(ds)
    out = []
    for group in range(0x6000, 0x6020, 2):
        element = ds.get((group, 0x1001))
        if element is None:
            continue
        layer = element.value
        layer = (layer.decode("ascii", "replace") if isinstance(layer, bytes) else str(layer))
        layer = layer.strip()
        if not layer:
            continue
        own = next((o for o in ps_overlays if o.group == group), None)
        out.append(OverlayActivation(group, layer, own, greys.get(layer, 255)))
    return tuple(out)


def _pair(value: object) -> tuple[float, float] | None:
    values = multi_values(value)
    if len(values) != 2:
        return None
    a, b = float(values[0]), float(values[1])  # type: ignore[arg-type]
    return (a, b) if a > 0 and b > 0 else None
