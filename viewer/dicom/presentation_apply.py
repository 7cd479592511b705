"""Applying a presentation state to one frame: pure functions over the display pipeline.

The grey (or colour) stages stay those of viewer.dicom.display: `presentation_frame_info`
returns the frame's FrameInfo with the state's Modality LUT / rescale, VOI, Presentation LUT,
palette, shutter and activated overlays put in place, so the composed lookup tables are built
(and cached) as for any frame. The spatial stage (rotation, then flip, PS3.3 C.10.6) and the
displayed area (C.10.4) are one axis-aligned mapping, `OutputGeometry`, from image pixel
coordinates (0,0 at the top-left corner of the top-left pixel) to output pixel coordinates;
`apply_presentation_state` resamples the displayed picture through it (nearest pixel).

A viewport uses the parts: the FrameInfo for its own tables, `OutputGeometry.image_to_output`
for its transform and for annotations (viewer.dicom.graphics_raster.burn_graphics), the shutter
mask (viewer.dicom.shutters.shutter_mask) for an overlay item.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
from pydicom.dataset import Dataset

from viewer.dicom.display import DisplayState, to_display
from viewer.dicom.frameinfo import LUT, FrameInfo, Overlay, VOIFunction, Window
from viewer.dicom.graphics import GraphicAnnotations, read_graphic_annotations
from viewer.dicom.graphics_raster import burn_graphics
from viewer.dicom.icc import profile_problem
from viewer.dicom.presentation_state import (
    DisplayedArea,
    PresentationKind,
    PresentationSizeMode,
    PresentationState,
    PresentationStateError,
    displayed_area_for,
    require_applies,
    voi_for,
)
from viewer.dicom.shutters import ShutterError, with_bitmap

# A displayed area may reach outside the image (C.10.4), but a damaged corner or ratio must not
# ask for gigabytes: 16,384 x 16,384 is more than any display or film shows.
MAX_OUTPUT_PIXELS = 1 << 28


@dataclass(frozen=True, eq=False)
class OutputGeometry:
    """Where the image lands on the output.

    `image_to_output`: 3x3 homogeneous matrix from image pixel coordinates (x = column, y =
    row, 0,0 at the top-left corner of the top-left pixel) to output pixel coordinates (same
    convention). `size`: output (width, height) in pixels. `displayed_area`: the displayed
    area's box (x0, y0, x1, y1) in output pixels; equal to the whole output unless a viewport
    larger than the area was asked for.
    """

    image_to_output: np.ndarray
    size: tuple[int, int]
    displayed_area: tuple[float, float, float, float]

    @property
    def output_to_image(self) -> np.ndarray:
        return np.linalg.inv(self.image_to_output)


@dataclass(frozen=True, eq=False)
class PresentedFrame:
    """A frame as the presentation state shows it: the output picture (uint8 grey, or RGB),
    the geometry that placed it, and the FrameInfo the display pipeline used (its `shutter`
    and `overlays` are the state's)."""

    image: np.ndarray
    geometry: OutputGeometry
    info: FrameInfo
    problems: tuple[str, ...] = ()  # annotation items left out, an ICC Profile unused


def presentation_frame_info(
    ps: PresentationState, info: FrameInfo, sop_instance_uid: str, frame: int = 1
) -> FrameInfo:
    """`info` with the state's display stages for this frame (1-based) in place of the
    image's own. PresentationStateError when a bitmap shutter's overlay plane is nowhere."""
    overlays = _activated_overlays(ps, info)
    try:
        shutter = with_bitmap(ps.shutter, info.overlays) if ps.shutter is not None else None
    except ShutterError as exc:
        raise PresentationStateError(f"{ps.source}: {exc}") from None
    if ps.kind is PresentationKind.COLOR:
        return replace(info, overlays=overlays, shutter=shutter, icc_profile=ps.icc_profile)
    if not info.is_monochrome:
        return replace(info, overlays=overlays, shutter=shutter)
    voi = voi_for(ps, sop_instance_uid, frame)
    slope, intercept = ps.rescale or (1.0, 0.0)
    if voi is None:
        voi = _identity_voi(info, ps, slope, intercept)
    return replace(
        info,
        # The state decides inversion (C.11.6): MONOCHROME1 is shown through its Presentation
        # LUT Shape (INVERSE), never inverted a second time by the photometric interpretation.
        photometric="MONOCHROME2",
        rescale_slope=slope,
        rescale_intercept=intercept,
        modality_lut=ps.modality_lut,
        windows=(voi,) if isinstance(voi, Window) else (),
        voi_luts=(voi,) if isinstance(voi, LUT) else (),
        voi_function=voi.function if isinstance(voi, Window) else info.voi_function,
        presentation_lut_shape=ps.presentation_lut_shape,
        presentation_lut=ps.presentation_lut,
        pseudo_colour=ps.palette,
        overlays=overlays,
        shutter=shutter,
    )


def _identity_voi(info: FrameInfo, ps: PresentationState, slope: float, intercept: float
                  ) -> Window:
    """No VOI for this image in the state: the whole range the modality values can take goes
    to the Presentation LUT's input range, as DCMTK shows it (not the frame's min-max, which
    would change from frame to frame)."""
    if ps.modality_lut is not None:
        lo, hi = 0.0, float((1 << ps.modality_lut.bits) - 1)
    else:
        bits = max(1, info.bits_stored)
        low = -float(1 << (bits - 1)) if info.signed else 0.0
        high = float((1 << (bits - 1)) - 1) if info.signed else float((1 << bits) - 1)
        ends = (low * slope + intercept, high * slope + intercept)
        lo, hi = min(ends), max(ends)
    return Window((lo + hi) / 2.0, max(hi - lo, 1e-9), "full range", VOIFunction.LINEAR_EXACT)


def _activated_overlays(ps: PresentationState, info: FrameInfo) -> tuple[Overlay, ...]:
    """Only the planes the state activates (C.11.7), each in its layer's grey: the state's own
    plane of that group, else the image's."""
    out = []
    for activation in ps.overlay_activations:
        plane = activation.overlay or next(
            (o for o in info.overlays if o.group == activation.group), None)
        if plane is not None:
            out.append(replace(plane, grey=activation.grey))
    return tuple(out)


def output_geometry(
    area: DisplayedArea | None,
    rows: int,
    columns: int,
    rotation: int = 0,
    horizontal_flip: bool = False,
    viewport: tuple[int, int] | None = None,
    display_pixel_mm: float | None = None,
) -> OutputGeometry:
    """The mapping of the displayed area onto the output (C.10.4, C.10.6).

    Without `viewport` (a file, as `render` writes): the area alone, one output pixel per image
    column (times the magnification for MAGNIFY), rows stretched by the presented pixel aspect
    ratio; SCALE TO FIT adds no letterbox. With `viewport` (width, height): SCALE TO FIT fits
    the area in it, TRUE SIZE shows the Presentation Pixel Spacing at `display_pixel_mm` per
    screen pixel (fit when unknown), MAGNIFY uses the ratio; the area is centred.
    """
    if area is None:
        c0, r0, c1, r1 = 1, 1, columns, rows
        mode, aspect, magnification, spacing = PresentationSizeMode.SCALE_TO_FIT, 1.0, None, None
    else:
        (c0, r0), (c1, r1) = area.top_left, area.bottom_right
        mode, aspect = area.size_mode, area.pixel_aspect
        magnification, spacing = area.magnification, area.pixel_spacing
    width_img, height_img = c1 - c0 + 1, r1 - r0 + 1
    quarter = (rotation // 90) % 4
    # the area's size on the output at scale 1, after rotation
    box_w, box_h = float(width_img), height_img * aspect
    turned_w, turned_h = (box_h, box_w) if quarter % 2 else (box_w, box_h)
    if mode is PresentationSizeMode.MAGNIFY and magnification:
        scale = magnification
    elif viewport is None:
        scale = 1.0
    elif mode is PresentationSizeMode.TRUE_SIZE and spacing and display_pixel_mm:
        scale = spacing[1] / display_pixel_mm
    else:
        scale = min(viewport[0] / turned_w, viewport[1] / turned_h)
    out_w, out_h = turned_w * scale, turned_h * scale
    size = (max(1, round(out_w)), max(1, round(out_h))) if viewport is None else viewport
    offset = ((size[0] - out_w) / 2.0, (size[1] - out_h) / 2.0) if viewport else (0.0, 0.0)

    translate = _matrix(1, 0, -(c0 - 1), 0, 1, -(r0 - 1))
    stretch = _matrix(scale, 0, 0, 0, scale * aspect, 0)
    bw, bh = box_w * scale, box_h * scale
    turn = (
        _matrix(1, 0, 0, 0, 1, 0),
        _matrix(0, -1, bh, 1, 0, 0),  # 90 clockwise: (x, y) -> (bh - y, x)
        _matrix(-1, 0, bw, 0, -1, bh),
        _matrix(0, 1, 0, -1, 0, bw),  # 270 clockwise: (x, y) -> (y, bw - x)
    )[quarter]
    flip = _matrix(-1, 0, out_w, 0, 1, 0) if horizontal_flip else _matrix(1, 0, 0, 0, 1, 0)
    place = _matrix(1, 0, offset[0], 0, 1, offset[1])
    matrix = place @ flip @ turn @ stretch @ translate
    box = (offset[0], offset[1], offset[0] + out_w, offset[1] + out_h)
    return OutputGeometry(matrix, (int(size[0]), int(size[1])), box)


def _matrix(a: float, b: float, c: float, d: float, e: float, f: float) -> np.ndarray:
    return np.array([[a, b, c], [d, e, f], [0.0, 0.0, 1.0]])


def resample(image: np.ndarray, geometry: OutputGeometry, background: int = 0) -> np.ndarray:
    """The displayed picture (image pixel grid) on the output grid: each output pixel takes
    the image pixel under its centre; outside the image, `background`. The mapping is axis
    aligned (rotations are quarter turns), so rows and columns are looked up separately."""
    inverse = geometry.output_to_image
    width, height = geometry.size
    u = np.arange(width) + 0.5
    v = np.arange(height) + 0.5
    swapped = abs(inverse[0, 0]) < 1e-12  # image x follows output y: a quarter turn
    if swapped:
        xs, ys = inverse[0, 1] * v + inverse[0, 2], inverse[1, 0] * u + inverse[1, 2]
    else:
        xs, ys = inverse[0, 0] * u + inverse[0, 2], inverse[1, 1] * v + inverse[1, 2]
    cols, rows = np.floor(xs + 1e-9).astype(np.int64), np.floor(ys + 1e-9).astype(np.int64)
    col_ok = (cols >= 0) & (cols < image.shape[1])
    row_ok = (rows >= 0) & (rows < image.shape[0])
    inside = bool(col_ok.all() and row_ok.all())
    if inside and _unit_step(rows) and _unit_step(cols):
        # one image pixel per output pixel (render's usual case): views, one copy at the end;
        # fancy indexing of a 512x512 frame cost ~1.5 ms of the 2 ms budget
        picked = image[_as_slice(rows), _as_slice(cols)]
    else:
        picked = image[np.ix_(np.clip(rows, 0, image.shape[0] - 1),
                              np.clip(cols, 0, image.shape[1] - 1))]
    if not inside:
        picked = picked.copy()
        picked[~row_ok, ...] = background
        picked[:, ~col_ok, ...] = background
    if swapped:  # picked is indexed (output column, output row)
        picked = picked.transpose(1, 0, 2) if picked.ndim == 3 else picked.T
    return np.ascontiguousarray(picked)


def _unit_step(index: np.ndarray) -> bool:
    if index.size < 2:
        return True
    step = int(index[1] - index[0])
    return abs(step) == 1 and bool(np.all(np.diff(index) == step))


def _as_slice(index: np.ndarray) -> slice:
    start, stop = int(index[0]), int(index[-1])
    if stop >= start:
        return slice(start, stop + 1)
    return slice(start, stop - 1 if stop > 0 else None, -1)


def apply_presentation_state(
    array: np.ndarray,
    info: FrameInfo,
    ps: PresentationState,
    sop_instance_uid: str,
    frame: int = 1,
    *,
    image_name: str = "the image",
    state: DisplayState | None = None,
    viewport: tuple[int, int] | None = None,
) -> PresentedFrame:
    """Stored values of frame `frame` (1-based) -> the picture the state shows (PS3.4 N.2).

    PresentationStateError naming the state and `image_name` when the state does not reference
    this frame. `state` may switch overlays or shutters off; its window, if set, overrides the
    state's VOI (a user adjusting the window on top of a presentation state).
    """
    require_applies(ps, sop_instance_uid, frame, image_name)
    shown_info = presentation_frame_info(ps, info, sop_instance_uid, frame)
    picture = to_display(array, shown_info, state or DisplayState())
    geometry = output_geometry(
        displayed_area_for(ps, sop_instance_uid, frame), info.rows, info.columns,
        ps.rotation, ps.horizontal_flip, viewport,
    )
    width, height = geometry.size
    if width * height > MAX_OUTPUT_PIXELS:
        raise PresentationStateError(
            f"{ps.source}: its displayed area makes a {width} x {height} picture of "
            f"{image_name}, more than {MAX_OUTPUT_PIXELS} pixels")
    return PresentedFrame(resample(picture, geometry), geometry, shown_info)


def read_presentation_state_file(path: str | os.PathLike[str]) -> PresentationStateFile:
    """Read and parse a presentation state file; PresentationStateError naming it for any
    reason it cannot be used (unreadable, truncated, malformed, not a presentation state)."""
    from viewer.dicom.files import DicomFileError, read_dataset
    from viewer.dicom.presentation_state import read_presentation_state

    try:
        ds = read_dataset(path)
    except DicomFileError as exc:
        raise PresentationStateError(str(exc)) from None
    return PresentationStateFile(read_presentation_state(ds), ds)


@dataclass(frozen=True, eq=False)
class PresentationStateFile:
    """A parsed presentation state and its dataset, which still holds the graphic and text
    annotations: those are read per image and frame (`viewer.dicom.graphics`)."""

    state: PresentationState
    dataset: Dataset

    def annotations(self, sop_instance_uid: str, frame: int = 1) -> GraphicAnnotations:
        return read_graphic_annotations(self.dataset, sop_instance_uid, frame)


def burn_annotations(presented: PresentedFrame, annotations: GraphicAnnotations) -> np.ndarray:
    """The presented picture with the state's graphics and texts drawn in, placed by the same
    geometry as the pixels (the raster faces: render, print, export; a viewport draws the same
    values as vector items)."""
    if not annotations.graphics and not annotations.texts:
        return presented.image
    geometry = presented.geometry
    return burn_graphics(presented.image, annotations, geometry.image_to_output,
                         geometry.displayed_area)


def present_file(
    image_path: str | os.PathLike[str],
    ps: PresentationState | PresentationStateFile,
    frame: int = 1,
    state: DisplayState | None = None,
) -> PresentedFrame:
    """Decode frame `frame` (1-based) of `image_path` and show it as `ps` says, with its
    graphic and text annotations burned in when `ps` is a PresentationStateFile (their
    problems, and an unusable ICC Profile's, in `PresentedFrame.problems`): the one function
    `render --presentation-state` and a viewport without a decode pool share. DicomFileError
    for the image, PresentationStateError for the state or a mismatch."""
    from viewer.dicom.pixels import decode_frame, read_header

    parsed = ps.state if isinstance(ps, PresentationStateFile) else ps
    uid = str(read_header(image_path).get("SOPInstanceUID", "") or "")
    require_applies(parsed, uid, frame, os.fspath(image_path))
    decoded = decode_frame(image_path, frame - 1)
    presented = apply_presentation_state(decoded.array, decoded.info, parsed, uid, frame,
                                         image_name=os.fspath(image_path), state=state)
    colour = profile_problem(presented.info.icc_profile)
    if colour and parsed.kind is not PresentationKind.COLOR:
        colour = f"{os.fspath(image_path)}: {colour}"  # the image's own profile, not the state's
    presented = replace(presented, problems=(colour,) if colour else ())
    if not isinstance(ps, PresentationStateFile):
        return presented
    annotations = ps.annotations(uid, frame)
    return replace(presented, image=burn_annotations(presented, annotations),
                   problems=(*presented.problems, *annotations.problems))
