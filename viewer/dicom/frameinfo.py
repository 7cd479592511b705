"""What the display pipeline needs to know about one frame, read once from the header.

`frame_info(ds, index)` resolves the image-level attributes and, for enhanced multi-frame objects,
the per-frame and shared functional groups (PS3.3 C.7.6.16): Pixel Value Transformation
(rescale), Frame VOI LUT (windows) and Pixel Measures (spacing) of that frame. The result is a small
frozen record that crosses process boundaries cheaply (the decode pool pickles it).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from viewer.dicom.calibration import Calibration, read_calibration

if TYPE_CHECKING:
    from viewer.dicom.shutters import DisplayShutter

LOGGER = logging.getLogger(__name__)


class VOIFunction(enum.Enum):
    """VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"

    @classmethod
    def from_attribute(cls, value: object) -> VOIFunction:
        text = str(value or "").strip().upper()
        try:
            return cls(text)
        except ValueError:
            return cls.LINEAR  # absent or unknown: LINEAR is the default (C.11.2.1.3)


@dataclass(frozen=True)
class Window:
    """One Window Center/Width pair in modality units, with its explanation."""

    center: float
    width: float
    explanation: str = ""
    function: VOIFunction = VOIFunction.LINEAR


@dataclass(frozen=True, eq=False)
class LUT:
    """A Modality or VOI LUT (PS3.3 C.11.1, C.11.2): `data[i]` is the output for first_mapped+i."""

    first_mapped: int
    bits: int
    data: np.ndarray
    explanation: str = ""


@dataclass(frozen=True, eq=False)
class Palette:
    """PALETTE COLOR lookup (PS3.3 C.7.6.3.1.5), expanded from segmented form, as (n, 3) uint8."""

    first_mapped: int
    rgb: np.ndarray


@dataclass(frozen=True, eq=False)
class Overlay:
    """One 60xx overlay plane of this frame (PS3.3 C.9.2) as a boolean mask placed at `origin`."""

    group: int
    origin: tuple[int, int]  # (row, column) of the mask's top-left pixel, 0-based
    mask: np.ndarray
    kind: str = "G"
    description: str = ""
    grey: int = 255  # drawn in this grey: a presentation state's layer may recommend one


@dataclass(frozen=True, eq=False)
class FrameInfo:
    """How to turn one decoded frame into a displayed picture.

    `photometric` is that of the decoded array: colour images arrive as RGB whatever their
    stored interpretation (YBR_* are converted while decoding), `stored_photometric` keeps the
    original for display in the tag browser and annotations.
    """

    rows: int
    columns: int
    samples_per_pixel: int
    photometric: str
    stored_photometric: str
    bits_allocated: int
    bits_stored: int
    signed: bool
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    rescale_type: str = ""
    modality_lut: LUT | None = None
    windows: tuple[Window, ...] = ()
    voi_luts: tuple[LUT, ...] = ()
    voi_function: VOIFunction = VOIFunction.LINEAR
    presentation_lut_shape: str = ""
    palette: Palette | None = None
    overlays: tuple[Overlay, ...] = ()
    pixel_spacing: tuple[float, float] | None = None
    imager_pixel_spacing: tuple[float, float] | None = None
    lossy: bool = False
    # How lengths are measured on this frame (viewer.dicom.calibration); None when the
    # record was made without a header (then measure.calibration_of uses the spacings).
    calibration: Calibration | None = None
    # Set by a presentation state (viewer.dicom.presentation_apply), or the image's own
    # Display Shutter: a Presentation LUT table after the VOI (C.11.6), the shutter painted
    # over the picture (C.7.6.11), a pseudo-colour palette for the VOI output (C.11.13).
    presentation_lut: LUT | None = None
    shutter: DisplayShutter | None = None
    pseudo_colour: Palette | None = None
    # The colour space of a colour frame's pixels (ICC Profile (0028,2000), C.11.15): the
    # image's own, or a Color Softcopy Presentation State's in its place (viewer.dicom.icc)
    icc_profile: bytes | None = None

    @property
    def is_monochrome(self) -> bool:
        return self.photometric in ("MONOCHROME1", "MONOCHROME2")


COLOUR_PHOTOMETRICS = frozenset(
    {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420", "YBR_PARTIAL_422"}
)


def frame_info(ds: Dataset, index: int = 0, decoded_photometric: str | None = None) -> FrameInfo:
    """Resolve the display attributes of frame `index` (0-based) of `ds`."""
    stored_pi = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    photometric = decoded_photometric or ("RGB" if stored_pi in COLOUR_PHOTOMETRICS else stored_pi)
    groups = _functional_groups(ds, index)
    transform = _first_item(groups, "PixelValueTransformationSequence")
    voi_item = _first_item(groups, "FrameVOILUTSequence")
    measures = _first_item(groups, "PixelMeasuresSequence")

    slope, intercept, rtype = _rescale(transform if transform is not None else ds)
    voi_source = voi_item if voi_item is not None else ds
    bits_allocated = int(ds.get("BitsAllocated", 16))
    pixel_spacing = _pair(measures.get("PixelSpacing") if measures is not None else None) or _pair(
        ds.get("PixelSpacing")
    )
    overlays = read_overlays(ds, index)
    shutter = _image_shutter(ds, overlays)
    if shutter is not None and shutter.bitmap_group is not None:
        # the plane of a Bitmap Display Shutter is the shutter, not an overlay to draw
        overlays = tuple(o for o in overlays if o.group != shutter.bitmap_group)
    return FrameInfo(
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        samples_per_pixel=int(ds.get("SamplesPerPixel", 1)),
        photometric=photometric,
        stored_photometric=stored_pi,
        bits_allocated=bits_allocated,
        bits_stored=int(ds.get("BitsStored", bits_allocated) or bits_allocated),
        signed=int(ds.get("PixelRepresentation", 0)) == 1,
        rescale_slope=slope,
        rescale_intercept=intercept,
        rescale_type=rtype,
        modality_lut=_modality_lut(ds),
        windows=read_windows(voi_source),
        voi_luts=_voi_luts(ds),
        voi_function=VOIFunction.from_attribute(voi_source.get("VOILUTFunction")),
        presentation_lut_shape=str(ds.get("PresentationLUTShape", "") or "").strip().upper(),
        palette=read_palette(ds) if photometric == "PALETTE COLOR" else None,
        overlays=overlays,
        pixel_spacing=pixel_spacing,
        imager_pixel_spacing=_pair(ds.get("ImagerPixelSpacing")),
        lossy=str(ds.get("LossyImageCompression", "")).strip() == "01",
        calibration=read_calibration(ds, pixel_spacing),
        shutter=shutter,
        icc_profile=_icc_profile(ds) if photometric in ("RGB", "PALETTE COLOR") else None,
    )


def _icc_profile(ds: Dataset) -> bytes | None:
    value = ds.get("ICCProfile")
    return bytes(value) if isinstance(value, bytes | bytearray) and value else None


def _image_shutter(ds: Dataset, overlays: tuple[Overlay, ...]) -> DisplayShutter | None:
    """The image's own Display Shutter (CR/DX/XA/RF headers); an unusable one is left out
    (the image is still shown, whole) and logged."""
    if "ShutterShape" not in ds:
        return None
    from viewer.dicom.shutters import ShutterError, read_display_shutter

    try:
        return read_display_shutter(ds, overlays)
    except ShutterError as exc:
        LOGGER.warning("display shutter ignored: %s", exc)
        return None


@dataclass(frozen=True)
class FrameValues:
    """How one frame's stored values become modality values (PS3.3 C.11.1.1, C.7.6.16.2.9),
    read with the header so that a volume can choose its voxel type before any pixel arrives.

    `stored_min`/`stored_max`: the stored values Bits Stored and Pixel Representation allow
    (infinite for Float Pixel Data). `window`: the frame's first Window Center/Width, if any.
    """

    slope: float = 1.0
    intercept: float = 0.0
    stored_min: float = 0.0
    stored_max: float = 65535.0
    samples: int = 1
    units: str = ""  # Rescale Type, else Units (0054,1001)
    window: tuple[float, float] | None = None

    @property
    def modality_range(self) -> tuple[float, float]:
        """The lowest and highest modality value the frame can hold."""
        ends = (self.stored_min * self.slope + self.intercept,
                self.stored_max * self.slope + self.intercept)
        return min(ends), max(ends)


def frame_values(ds: Dataset, frames: int) -> list[FrameValues]:
    """One FrameValues per frame of header `ds`, in file order; frames that share their
    rescale and window share one object (a 1,000-frame enhanced CT usually has one)."""
    bits_allocated = _int_or(ds.get("BitsAllocated"), 16)
    bits_stored = _int_or(ds.get("BitsStored"), bits_allocated) or bits_allocated
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        low, high = -np.inf, np.inf
    elif _int_or(ds.get("PixelRepresentation"), 0) == 1:
        low, high = -float(1 << (bits_stored - 1)), float((1 << (bits_stored - 1)) - 1)
    else:
        low, high = 0.0, float((1 << bits_stored) - 1)
    samples = _int_or(ds.get("SamplesPerPixel"), 1)
    units_fallback = str(ds.get("Units", "") or "").strip()
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    made: dict[tuple[float, float, str, tuple[float, float] | None], FrameValues] = {}
    out: list[FrameValues] = []
    for index in range(frames):
        if per_frame is None and not shared and index > 0:
            out.append(out[0])  # a classic multi-frame image: one rescale for every frame
            continue
        groups = _functional_groups(ds, index)
        transform = _first_item(groups, "PixelValueTransformationSequence")
        voi = _first_item(groups, "FrameVOILUTSequence")
        slope, intercept, rtype = _rescale(transform if transform is not None else ds)
        windows = read_windows(voi if voi is not None else ds)
        window = (windows[0].center, windows[0].width) if windows else None
        key = (slope, intercept, rtype.strip() or units_fallback, window)
        if key not in made:
            made[key] = FrameValues(slope, intercept, low, high, samples, key[2], window)
        out.append(made[key])
    return out


def _int_or(value: object, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def _functional_groups(ds: Dataset, index: int) -> list[Dataset]:
    """Per-frame group item of this frame first, then the shared one (PS3.3 C.7.6.16)."""
    found: list[Dataset] = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and 0 <= index < len(per_frame):
        found.append(per_frame[index])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        found.append(shared[0])
    return found


def _first_item(groups: list[Dataset], keyword: str) -> Dataset | None:
    for group in groups:
        seq = group.get(keyword)
        if seq:
            return seq[0]
    return None


def _rescale(source: Dataset) -> tuple[float, float, str]:
    try:
        slope = float(source.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(source.get("RescaleIntercept", 0.0) or 0.0)
    except (TypeError, ValueError):
        LOGGER.warning("unreadable Rescale Slope/Intercept; using identity")
        slope, intercept = 1.0, 0.0
    if slope == 0.0:
        slope = 1.0  # a zero slope would flatten the image; devices write it by mistake
    return slope, intercept, str(source.get("RescaleType", "") or "")


def multi_values(value: object) -> list[Any]:
    """A DICOM value as a list: [] for none or empty, a multi-value's items, else [value]."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or hasattr(value, "__iter__") and not isinstance(
        value, (str, bytes)
    ):
        return list(value)  # type: ignore[call-overload]
    return [value]


def read_windows(source: Dataset) -> tuple[Window, ...]:
    centers = multi_values(source.get("WindowCenter"))
    widths = multi_values(source.get("WindowWidth"))
    explanations = [str(e) for e in multi_values(source.get("WindowCenterWidthExplanation"))]
    function = VOIFunction.from_attribute(source.get("VOILUTFunction"))
    windows = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        try:
            center, width = float(c), float(w)
        except (TypeError, ValueError):
            continue
        if width <= 0 or not np.isfinite(center) or not np.isfinite(width):
            continue  # C.11.2.1.2: Window Width shall be > 0 (>= 1 for LINEAR); skip bad pairs
        text = explanations[i] if i < len(explanations) else ""
        windows.append(Window(center, width, text, function))
    return tuple(windows)


def read_lut(item: Dataset, big_endian: bool) -> LUT | None:
    """Decode LUT Descriptor + LUT Data of a Modality or VOI LUT item (PS3.3 C.11.1.1.1)."""
    descriptor = multi_values(item.get("LUTDescriptor"))
    if len(descriptor) != 3 or "LUTData" not in item:
        return None
    entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    bits = int(descriptor[2])
    raw = item.LUTData
    if isinstance(raw, bytes):
        dtype = np.dtype(">u2" if big_endian else "<u2")
        data = np.frombuffer(raw[: len(raw) // 2 * 2], dtype=dtype)
    else:
        data = np.asarray(multi_values(raw), dtype=np.int64)
    data = data[:entries].astype(np.int64, copy=False)
    if data.size == 0:
        return None
    if first > 32767 and item["LUTDescriptor"].VR == "US":
        first -= 65536  # first mapped value is signed when the pixels are (C.11.2.1.1)
    bits = max(bits, int(data.max()).bit_length(), 1)  # DCMTK does the same for wrong descriptors
    explanation = str(item.get("LUTExplanation", "") or "")
    return LUT(first, bits, data, explanation)


def big_endian(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    return ts is not None and UID(ts) == "1.2.840.10008.1.2.2"


def _modality_lut(ds: Dataset) -> LUT | None:
    seq = ds.get("ModalityLUTSequence")
    if not seq:
        return None
    return read_lut(seq[0], big_endian(ds))


def _voi_luts(ds: Dataset) -> tuple[LUT, ...]:
    seq = ds.get("VOILUTSequence") or []
    luts = (read_lut(item, big_endian(ds)) for item in seq)
    return tuple(lut for lut in luts if lut is not None)


def read_palette(ds: Dataset) -> Palette | None:
    """Expand the palette (segmented or not, 8 or 16 bit entries) to an (n, 3) uint8 table."""
    from pydicom.pixels.processing import apply_color_lut

    descriptor = multi_values(ds.get("RedPaletteColorLookupTableDescriptor"))
    if len(descriptor) != 3:
        return None
    entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    try:
        rgb = apply_color_lut(np.arange(first, first + entries), ds)
    except (ValueError, AttributeError, KeyError) as exc:
        LOGGER.warning("unusable palette colour lookup table: %s", exc)
        return None
    rgb = np.asarray(rgb)
    if rgb.dtype.itemsize > 1:
        # 16-bit entries; some writers put 8-bit values in 16-bit entries (DCMTK checks too).
        rgb = rgb if rgb.max() <= 255 else rgb >> 8  # the high byte, as DCMTK shows it
    return Palette(first, rgb.astype(np.uint8))


def read_overlays(ds: Dataset, index: int) -> tuple[Overlay, ...]:
    planes = []
    for group in range(0x6000, 0x6020, 2):
        if (group, 0x3000) not in ds or (group, 0x0010) not in ds:
            continue
        first_frame = int(ds.get((group, 0x0051)).value or 1) if (group, 0x0051) in ds else 1
        count = int(ds[group, 0x0015].value or 1) if (group, 0x0015) in ds else 1
        if not first_frame - 1 <= index < first_frame - 1 + count:
            continue
        try:
            data = np.asarray(ds.overlay_array(group))
        except (ValueError, AttributeError, KeyError, TypeError) as exc:
            LOGGER.warning("overlay %04X unreadable: %s", group, exc)
            continue
        mask = data[index - (first_frame - 1)] if data.ndim == 3 else data
        origin = multi_values(ds[group, 0x0050].value) if (group, 0x0050) in ds else [1, 1]
        planes.append(
            Overlay(
                group=group,
                origin=(int(origin[0]) - 1, int(origin[1]) - 1),
                mask=mask.astype(bool),
                kind=str(ds[group, 0x0040].value) if (group, 0x0040) in ds else "G",
                description=str(ds[group, 0x0022].value) if (group, 0x0022) in ds else "",
            )
        )
    return tuple(planes)


def _pair(value: object) -> tuple[float, float] | None:
    values = multi_values(value)
    if len(values) != 2:
        return None
    try:
        a, b = float(values[0]), float(values[1])
    except (TypeError, ValueError):
        return None
    return (a, b) if a > 0 and b > 0 else None
