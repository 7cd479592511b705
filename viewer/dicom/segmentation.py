"""Segmentations (PS3.3 A.51, C.8.20): segments and their masks on an image's pixel grid.

`read_segmentation(ds)` turns a Segmentation Storage or Label Map Segmentation Storage object
into a frozen `Segmentation`: its segments (number, label, algorithm, the Recommended Display
CIELab Value as sRGB), its frames (which segment, which source image and frame, where in the
patient) and their pixels. `segments_on_frame(seg, image_header, frame)` gives, for one frame
of an image, one `SegmentMask` per segment present there, on the IMAGE's pixel grid: a bool
mask (BINARY, LABELMAP) or a float one in 0..1 (FRACTIONAL, the stored value over the Maximum
Fractional Value). A viewport draws these masks as alpha layers in the segment's colour; `render
--overlay` blends them with `overlay_raster.blend_segments`.

Placing a segmentation frame on an image frame (PS3.3 C.8.20.2, C.7.6.16.2.6):
1. by reference: SEG frames whose Derivation Image / Source Image Sequence names the image's SOP
   Instance (and frame, for a multi-frame image);
2. else by geometry: the same Frame of Reference, a parallel plane, the plane position within
   half a slice (the larger half thickness of the two; the nearest frame wins).
A SEG frame on another grid (other spacing, shifted, smaller) is resampled onto the image's
pixel grid: nearest neighbour for BINARY and LABELMAP, bilinear for FRACTIONAL. A Frame of
Reference mismatch raises `OverlayMismatch` (overlay_frame): never drawn in the wrong place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from viewer.dicom.colour import cielab_to_rgb
from viewer.dicom.overlay_frame import (
    DEFAULT_HALF_THICKNESS_MM,
    OverlayMismatch,
    PlaneMap,
    TargetFrame,
    check_frame_of_reference,
    target_frame,
)
from viewer.dicom.stack import frame_geometries

LOGGER = logging.getLogger(__name__)

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
SEGMENTATION_CLASSES = (SEGMENTATION_STORAGE, LABEL_MAP_SEGMENTATION_STORAGE)
SEGMENTATION_TYPES = ("BINARY", "FRACTIONAL", "LABELMAP")

# Colours for segments without a Recommended Display CIELab Value, by segment number.
DEFAULT_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 64, 64), (64, 200, 64), (64, 128, 255), (255, 200, 0), (200, 64, 255),
    (0, 210, 210), (255, 128, 0), (255, 64, 160),
)


class SegmentationError(ValueError):
    """A Segmentation that cannot be read: the message is the one-line reason."""


@dataclass(frozen=True)
class Segment:
    """One item of the Segment Sequence (PS3.3 C.8.20.2). `color` is sRGB 0-255 from the
    Recommended Display CIELab Value (`recommended_color` True), else a default by number."""

    number: int
    label: str
    description: str
    algorithm_type: str
    color: tuple[int, int, int]
    recommended_color: bool


@dataclass(frozen=True)
class SegmentationFrame:
    """One frame of the Segmentation: its segment (None in a LABELMAP, where the pixel value is
    the segment number), the source images it was derived from as (SOP Instance UID, frame
    number 1-based or None), and its plane in the patient (None without geometry)."""

    index: int
    segment_number: int | None
    sources: tuple[tuple[str, int | None], ...]
    plane: PlaneMap | None
    half_thickness: float | None

    def references(self, target: TargetFrame) -> bool:
        """Whether this frame was derived from the target frame. A reference without a frame
        number names a single-frame image only: for a multi-frame one it says nothing about
        which frame, and geometry decides."""
        return any(
            uid == target.sop_instance_uid
            and (number == target.frame_number if number is not None else target.frames == 1)
            for uid, number in self.sources
        )


@dataclass(frozen=True, eq=False)
class Segmentation:
    """A read Segmentation. `pixels` is (frames, rows, columns), read-only: uint8 0/1 for
    BINARY, the stored value for FRACTIONAL (0..max_fractional_value) and LABELMAP."""

    sop_instance_uid: str
    segmentation_type: str
    fractional_type: str
    max_fractional_value: int
    frame_of_reference_uid: str
    referenced_series_uids: tuple[str, ...]
    segments: tuple[Segment, ...]
    frames: tuple[SegmentationFrame, ...]
    pixels: np.ndarray

    def segment(self, number: int) -> Segment | None:
        return next((s for s in self.segments if s.number == number), None)


@dataclass(frozen=True, eq=False)
class SegmentMask:
    """A segment on one image frame: `mask` is (rows, columns) of the image, bool, or float32
    in 0..1 for a FRACTIONAL segmentation (the fraction or probability at that pixel)."""

    segment: Segment
    mask: np.ndarray


def read_segmentation(ds: Dataset) -> Segmentation:
    """Read a Segmentation data set (header and pixels). SegmentationError naming the reason
    for another SOP class, no segments, missing Type 1 attributes, or pixel data that does not
    hold the frames the header declares (a truncated file)."""
    try:
        return _read(ds)
    except SegmentationError:
        raise
    except MemoryError:
        raise SegmentationError("the pixel data is too large to read") from None
    except Exception as exc:  # pydicom raises anything on damaged values: each is the file's
        raise SegmentationError(f"malformed Segmentation: {_short(exc)}") from None


def _read(ds: Dataset) -> Segmentation:
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if sop_class not in SEGMENTATION_CLASSES:
        raise SegmentationError(f"not a Segmentation (SOP Class {sop_class or 'missing'})")
    seg_type = str(ds.get("SegmentationType", "") or "").strip().upper()
    if seg_type not in SEGMENTATION_TYPES:
        raise SegmentationError(f"Segmentation Type {seg_type or 'missing'} is not one of "
                                f"{', '.join(SEGMENTATION_TYPES)}")
    segments = tuple(_segment(item) for item in ds.get("SegmentSequence") or [])
    if seg_type == "LABELMAP":  # label 0 is the background, never drawn
        segments = tuple(s for s in segments if s.number != 0)
    if not segments:
        raise SegmentationError("no segments (the Segment Sequence is empty or missing)")
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    count = int(ds.get("NumberOfFrames") or 1)
    if rows <= 0 or columns <= 0 or count <= 0:
        raise SegmentationError("Rows, Columns or Number of Frames missing or zero")
    per_frame = list(ds.get("PerFrameFunctionalGroupsSequence") or [])
    if len(per_frame) != count:
        raise SegmentationError(f"the Per-frame Functional Groups Sequence has {len(per_frame)} "
                                f"items for {count} frames (truncated?)")
    max_fraction = int(ds.get("MaximumFractionalValue") or 255) if seg_type == "FRACTIONAL" else 1
    if max_fraction <= 0:
        raise SegmentationError("Maximum Fractional Value is not positive")
    pixels = _pixels(ds, count, rows, columns)
    geometries = frame_geometries(ds)
    numbers = {s.number for s in segments}
    shared_items = ds.get("SharedFunctionalGroupsSequence") or []
    shared = shared_items[0] if shared_items else Dataset()
    frames = []
    for index, item in enumerate(per_frame):
        number = None if seg_type == "LABELMAP" else _segment_number(item, shared, index)
        if number is not None and number not in numbers:
            raise SegmentationError(f"frame {index + 1} refers to segment {number}, "
                                    "which the Segment Sequence does not describe")
        geometry = geometries[index]
        frames.append(SegmentationFrame(
            index=index,
            segment_number=number,
            sources=_sources(item),
            plane=PlaneMap.of(geometry),
            half_thickness=_half_thickness(ds, geometry.slice_thickness if geometry else None),
        ))
    return Segmentation(
        sop_instance_uid=str(ds.get("SOPInstanceUID", "") or ""),
        segmentation_type=seg_type,
        fractional_type=str(ds.get("SegmentationFractionalType", "") or ""),
        max_fractional_value=max_fraction,
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "") or "").strip(),
        referenced_series_uids=tuple(
            str(item.get("SeriesInstanceUID", "")) for item in
            ds.get("ReferencedSeriesSequence") or []
        ),
        segments=segments,
        frames=tuple(frames),
        pixels=pixels,
    )


def _segment(item: Dataset) -> Segment:
    if "SegmentNumber" not in item:
        raise SegmentationError("a Segment Sequence item has no Segment Number")
    number = int(item.SegmentNumber)
    lab = item.get("RecommendedDisplayCIELabValue")
    color = _lab_to_srgb(lab) if lab is not None else None
    return Segment(
        number=number,
        label=str(item.get("SegmentLabel", "") or ""),
        description=str(item.get("SegmentDescription", "") or ""),
        algorithm_type=str(item.get("SegmentAlgorithmType", "") or ""),
        color=color or DEFAULT_COLORS[(number - 1) % len(DEFAULT_COLORS)],
        recommended_color=color is not None,
    )


def _lab_to_srgb(value: object) -> tuple[int, int, int] | None:
    """PS3.3 C.10.7.1.1 scaled CIELab (three 16-bit values) to sRGB; None for a value of
    another shape."""
    try:
        numbers = [int(v) for v in value]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if len(numbers) != 3 or not all(0 <= n <= 0xFFFF for n in numbers):
        return None
    return cielab_to_rgb((numbers[0], numbers[1], numbers[2]))


def _segment_number(item: Dataset, shared: Dataset, index: int) -> int:
    """Per frame, else shared by every frame (a one-segment SEG: PS3.3 C.7.6.16)."""
    ident = (item.get("SegmentIdentificationSequence")
             or shared.get("SegmentIdentificationSequence") or [])
    if not ident or "ReferencedSegmentNumber" not in ident[0]:
        raise SegmentationError(f"frame {index + 1} has no Segment Identification")
    return int(ident[0].ReferencedSegmentNumber)


def _sources(item: Dataset) -> tuple[tuple[str, int | None], ...]:
    out: list[tuple[str, int | None]] = []
    for derivation in item.get("DerivationImageSequence") or []:
        for source in derivation.get("SourceImageSequence") or []:
            uid = str(source.get("ReferencedSOPInstanceUID", "") or "")
            numbers = source.get("ReferencedFrameNumber")
            if numbers is None or numbers == "":
                out.append((uid, None))
            else:
                values = list(numbers) if isinstance(numbers, MultiValue | list) else [numbers]
                out.extend((uid, int(n)) for n in values)
    return tuple(out)


def _half_thickness(ds: Dataset, thickness: float | None) -> float | None:
    if thickness:
        return thickness / 2.0
    shared = ds.get("SharedFunctionalGroupsSequence") or []
    measures = shared[0].get("PixelMeasuresSequence") if shared else None
    spacing = measures[0].get("SpacingBetweenSlices") if measures else None
    return float(spacing) / 2.0 if spacing else None


def _pixels(ds: Dataset, count: int, rows: int, columns: int) -> np.ndarray:
    bits = int(ds.get("BitsAllocated") or 0)
    if "PixelData" not in ds:
        raise SegmentationError("no Pixel Data")
    if not _encapsulated(ds):
        needed = -(-count * rows * columns * bits // 8)
        have = len(ds.PixelData)
        if have < needed:
            raise SegmentationError(f"the Pixel Data holds {have} bytes, {count} frames of "
                                    f"{rows}x{columns} at {bits} bits need {needed} (truncated)")
    try:
        array = ds.pixel_array
    except Exception as exc:
        raise SegmentationError(f"the Pixel Data cannot be decoded: {_short(exc)}") from None
    array = np.asarray(array).reshape(count, rows, columns)
    array.setflags(write=False)
    return array


def _encapsulated(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    return bool(syntax is not None and syntax.is_encapsulated)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


# --- one image frame --------------------------------------------------------------------------


def segments_on_frame(seg: Segmentation, image_header: Dataset,
                      frame: int = 0) -> list[SegmentMask]:
    """One `SegmentMask` per segment present on frame `frame` (0-based) of the image whose
    header is `image_header`, in segment-number order, on the image's pixel grid (see the
    module docstring for how frames are matched). Segments absent from the frame are left out.
    OverlayMismatch when the Frames of Reference differ, or when the SEG references none of
    this image's series and has no geometry in a common Frame of Reference to place it by."""
    target = target_frame(image_header, frame)
    check_frame_of_reference((seg.frame_of_reference_uid,), target, "Segmentation")
    chosen = _frames_for(seg, target)
    masks: list[SegmentMask] = []
    if seg.segmentation_type == "LABELMAP":
        best = _nearest(chosen, target)
        if best is None:
            return []
        labels = _resample(seg.pixels[best.index], best, target, linear=False)
        for segment in seg.segments:
            mask = labels == segment.number
            if mask.any():
                masks.append(SegmentMask(segment, mask))
        return masks
    for segment in seg.segments:
        best = _nearest([f for f in chosen if f.segment_number == segment.number], target)
        if best is None:
            continue
        fractional = seg.segmentation_type == "FRACTIONAL"
        values = _resample(seg.pixels[best.index], best, target, linear=fractional)
        if fractional:
            mask = np.clip(values / float(seg.max_fractional_value), 0.0, 1.0).astype(np.float32)
        else:
            mask = values > 0
        if mask.any():
            masks.append(SegmentMask(segment, mask))
    return masks


def _frames_for(seg: Segmentation, target: TargetFrame) -> list[SegmentationFrame]:
    referencing = [f for f in seg.frames if f.references(target)]
    if referencing:
        return referencing
    if seg.frame_of_reference_uid and target.frame_of_reference_uid and target.plane:
        half = target.half_thickness
        chosen = []
        for f in seg.frames:
            if f.plane is None or not f.plane.parallel_to(target.plane):
                continue
            tolerance = max(half or 0.0, f.half_thickness or 0.0) or DEFAULT_HALF_THICKNESS_MM
            distance = abs(float(target.plane.distance(f.plane.origin[None, :])[0]))
            if distance <= tolerance + 1e-6:
                chosen.append(f)
        return chosen
    if target.series_instance_uid and target.series_instance_uid in seg.referenced_series_uids:
        return []  # this series' Segmentation, with nothing on this frame
    series = ", ".join(uid for uid in seg.referenced_series_uids if uid) or "no series"
    raise OverlayMismatch(
        f"the Segmentation references other images ({series}), not this one, and has no "
        "common Frame of Reference to place it by"
    )


def _nearest(frames: list[SegmentationFrame], target: TargetFrame) -> SegmentationFrame | None:
    if not frames:
        return None
    if target.plane is None:
        return frames[0]
    plane = target.plane
    return min(frames, key=lambda f: abs(float(plane.distance(f.plane.origin[None, :])[0]))
               if f.plane is not None else 0.0)


def _resample(pixels: np.ndarray, source: SegmentationFrame, target: TargetFrame,
              linear: bool) -> np.ndarray:
    """The SEG frame's pixels at the centres of the image's pixels (0 outside the SEG)."""
    rows, columns = target.rows, target.columns
    if source.plane is None or target.plane is None:
        if pixels.shape == (rows, columns):
            return pixels
        raise OverlayMismatch(
            f"Segmentation frame {source.index + 1} is {pixels.shape[1]}x{pixels.shape[0]}, "
            f"the image {columns}x{rows}, and there is no plane geometry to resample it by"
        )
    a, b = source.plane.affine_from(target.plane)
    if pixels.shape == (rows, columns) and np.allclose(a, np.eye(2), atol=1e-6) and np.allclose(
            b, 0.0, atol=1e-4):
        return pixels
    ys, xs = np.mgrid[0:rows, 0:columns].astype(np.float64)
    u = a[0, 0] * xs + a[0, 1] * ys + b[0]
    v = a[1, 0] * xs + a[1, 1] * ys + b[1]
    height, width = pixels.shape
    if not linear:
        # pixel centres at integers: the SEG pixel whose square holds the point
        ui, vi = np.floor(u + 0.5).astype(np.int64), np.floor(v + 0.5).astype(np.int64)
        inside = (ui >= 0) & (ui < width) & (vi >= 0) & (vi < height)
        out = np.zeros((rows, columns), dtype=pixels.dtype)
        out[inside] = pixels[vi[inside], ui[inside]]
        return out
    return _bilinear(pixels.astype(np.float64), u, v)


def _bilinear(pixels: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear interpolation between pixel centres; points beyond the outer centres by up to
    half a pixel take the edge value (the SEG pixel still covers them), further out 0."""
    height, width = pixels.shape
    inside = (u >= -0.5) & (u <= width - 0.5) & (v >= -0.5) & (v <= height - 0.5)
    uc, vc = np.clip(u, 0.0, width - 1.0), np.clip(v, 0.0, height - 1.0)
    u0, v0 = np.floor(uc).astype(np.int64), np.floor(vc).astype(np.int64)
    u1, v1 = np.minimum(u0 + 1, width - 1), np.minimum(v0 + 1, height - 1)
    fu, fv = uc - u0, vc - v0
    top = pixels[v0, u0] * (1 - fu) + pixels[v0, u1] * fu
    bottom = pixels[v1, u0] * (1 - fu) + pixels[v1, u1] * fu
    return np.where(inside, top * (1 - fv) + bottom * fv, 0.0)
