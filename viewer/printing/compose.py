"""Film composition: images -> the pixels of each image box of a film (pure: no network, no Qt).

Every picture comes from the one display pipeline (`viewer.dicom.display`), so film shows what
the viewport shows: the DisplayState given (the viewport's window/level, or the file's default
window), then an optional crop (the viewport's zoom/pan), resampled into the image box keeping
the aspect ratio of the pixels as they lie on the patient (Pixel Spacing), centred, the rest of
the box black (P-value 0 is maximum density).

Image box size in pixels. A film of `film_size` in `orientation` is `pixels_per_mm` (default 4,
about 100 dpi: a 14x17 inch film is 1422 x 1727 pixels) times its size in mm, divided evenly
among the boxes of the layout; each side bounded to [MIN_BOX, MAX_BOX]. `box_size` overrides
this when the printer asks for a particular size. DICOM leaves the size of an image to the SCU;
the printer fits what it gets into the box with its Magnification Type, so sending the box's own
size means the printer magnifies by 1 and the film shows our resampling, previewed exactly.

Bit depth (Basic Grayscale Image Sequence, PS3.3 C.13.5.1):
- GRAY8: the display pipeline's uint8 P-values, Bits Stored 8.
- GRAY12: P-values 0..4095, Bits Stored 12. Not the 8-bit result scaled (that would only
  multiply 256 levels by 16): the same pipeline stages (`apply_modality`, `choose_voi`,
  `apply_window` / `apply_voi_lut` with an output range of 4095, inversion) are run with a
  12-bit output range, so the printer gets 16 times finer steps. floor(P12 * 255 / 4095) is
  the 8-bit value within one step.
- RGB (Basic Color Image Sequence): the pipeline's RGB; grey images are replicated to R=G=B.
Colour images on grey film are turned to luminance (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B).
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from viewer.dicom.display import (
    DisplayState,
    apply_modality,
    apply_voi_lut,
    apply_window,
    burn_overlays,
    choose_voi,
    inverts,
    to_display,
)
from viewer.dicom.frameinfo import LUT, FrameInfo, Window
from viewer.dicom.shutters import shutter_mask
from viewer.jobs import CancelToken, ProgressCallback, no_progress
from viewer.printing.film import Layout, Orientation, film_mm

LOGGER = logging.getLogger(__name__)

DEFAULT_PIXELS_PER_MM = 4.0
MIN_BOX = 64  # pixels per side of an image box, at least ...
MAX_BOX = 4096  # ... and at most (the largest Rows/Columns printers commonly accept)
TOP12 = 4095.0
BT601 = np.array([0.299, 0.587, 0.114])


class PixelDepth(enum.Enum):
    """What an image box carries: 8- or 12-bit grey, or 8-bit RGB."""

    GRAY8 = "gray8"
    GRAY12 = "gray12"
    RGB = "rgb"

    @property
    def bits_stored(self) -> int:
        return 12 if self is PixelDepth.GRAY12 else 8

    @property
    def colour(self) -> bool:
        return self is PixelDepth.RGB


@dataclass(frozen=True)
class FilmSpec:
    """The film: layout, size, orientation, pixel depth and image box size."""

    layout: Layout = field(default_factory=lambda: Layout(1, 1))
    film_size: str = "14INX17IN"
    orientation: Orientation = Orientation.PORTRAIT
    depth: PixelDepth = PixelDepth.GRAY8
    pixels_per_mm: float = DEFAULT_PIXELS_PER_MM
    box_size: tuple[int, int] | None = None  # (columns, rows): the printer's requested size

    def __post_init__(self) -> None:
        if not 0.5 <= self.pixels_per_mm <= 40.0:
            raise ValueError(f"pixels per mm: {self.pixels_per_mm} is not 0.5..40")
        if self.box_size is not None:
            if not all(MIN_BOX <= side <= MAX_BOX for side in self.box_size):
                raise ValueError(f"box size: {self.box_size} is not {MIN_BOX}..{MAX_BOX}")
        else:
            film_mm(self.film_size, self.orientation)  # ValueError for an unknown film size

    def box_pixels(self) -> tuple[int, int]:
        """(columns, rows) of each image box in pixels (see the module docstring)."""
        if self.box_size is not None:
            return self.box_size
        width, height = film_mm(self.film_size, self.orientation)
        columns = int(width * self.pixels_per_mm) // self.layout.columns
        rows = int(height * self.pixels_per_mm) // self.layout.rows
        return (min(max(columns, MIN_BOX), MAX_BOX), min(max(rows, MIN_BOX), MAX_BOX))


@dataclass(frozen=True)
class Crop:
    """The part of an image that is shown (a viewport's zoom and pan), in image pixels: the
    top-left corner at (`left`, `top`) and the size; it may reach beyond the image (black)."""

    left: float
    top: float
    width: float
    height: float

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"crop: size {self.width} x {self.height} is empty")


@dataclass(frozen=True)
class ImageSource:
    """One image to print: a frame of a file, how to show it, and how reports name it."""

    path: str | os.PathLike[str]
    frame: int = 0  # 0-based
    state: DisplayState | None = None  # None: the file's default window
    crop: Crop | None = None  # None: the whole image
    label: str = ""
    # A presentation state file to show the frame with (a key image seen with it): its LUTs,
    # rotation/flip, displayed area, shutters, overlays and annotations (compose_presented).
    presentation_state: str | os.PathLike[str] | None = None

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return os.fspath(self.path) + (f" [frame {self.frame + 1}]" if self.frame else "")


@dataclass(frozen=True, eq=False)
class ComposedBox:
    """Image Box Position (1-based) and its pixels; None: the box stays empty."""

    position: int
    source: ImageSource | None
    pixels: np.ndarray | None


@dataclass(frozen=True, eq=False)
class ComposedFilm:
    """One film: a box per position of the layout, in Image Box Position order."""

    spec: FilmSpec
    boxes: tuple[ComposedBox, ...]

    @property
    def images(self) -> int:
        return sum(box.pixels is not None for box in self.boxes)


@dataclass(frozen=True)
class BoxFailure:
    """An image that could not be composed: its box (film 1-based, position) stays empty."""

    film: int
    position: int
    item: str
    reason: str


@dataclass(frozen=True, eq=False)
class Composition:
    films: tuple[ComposedFilm, ...]
    failures: tuple[BoxFailure, ...] = ()


# --- composing films ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintItem:
    """One image to print and how the viewport turned it: `quarter_turns` clockwise, then
    mirrored left-right (`flip_h`) and top-bottom (`flip_v`), as the viewport draws it."""

    source: ImageSource
    quarter_turns: int = 0
    flip_h: bool = False
    flip_v: bool = False


def compose_films(
    sources: Sequence[ImageSource | PrintItem],
    spec: FilmSpec,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Composition:
    """Lay `sources` out on films of `spec`, in order, `spec.layout.count` per film (the last
    film may be partly empty); a PrintItem is turned as its viewport shows it
    (`compose_item`). An image that cannot be decoded leaves its box empty and is reported in
    `failures`; the others are composed."""
    report = progress or no_progress
    per_film = spec.layout.count
    films: list[ComposedFilm] = []
    failures: list[BoxFailure] = []
    for start in range(0, len(sources), per_film):
        boxes = []
        for offset in range(per_film):
            position = offset + 1
            if start + offset >= len(sources):
                boxes.append(ComposedBox(position, None, None))
                continue
            if cancel is not None:
                cancel.raise_if_cancelled()
            item = sources[start + offset]
            source = item.source if isinstance(item, PrintItem) else item
            report(start + offset, len(sources), source.name)
            try:
                pixels = compose_item(item, spec)
            except Exception as exc:  # one bad image never stops a film: it is reported
                reason = getattr(exc, "reason", None) or str(exc) or repr(exc)
                LOGGER.info("box %d of film %d left empty: %s", position, len(films) + 1, reason)
                failures.append(BoxFailure(len(films) + 1, position, source.name, reason))
                pixels = None
            boxes.append(ComposedBox(position, source, pixels))
        films.append(ComposedFilm(spec, tuple(boxes)))
    report(len(sources), len(sources), "")
    return Composition(tuple(films), tuple(failures))


def compose_item(item: ImageSource | PrintItem, spec: FilmSpec) -> np.ndarray:
    """One image box of `spec`. A turned PrintItem is composed at the transposed box size for
    odd quarter turns, then turned, so that it fills the box as it fills the viewport."""
    if isinstance(item, ImageSource):
        return compose_source(item, spec)
    columns, rows = spec.box_pixels()
    box = (rows, columns) if item.quarter_turns % 2 else (columns, rows)
    pixels = compose_source(item.source, replace(spec, box_size=box))
    return orient(pixels, item.quarter_turns, item.flip_h, item.flip_v)


def orient(pixels: np.ndarray, quarter_turns: int, flip_h: bool, flip_v: bool) -> np.ndarray:
    """A composed box turned as the viewport shows it (clockwise turns first, then mirrors)."""
    out = np.rot90(pixels, k=-(quarter_turns % 4))
    if flip_h:
        out = out[:, ::-1]
    if flip_v:
        out = out[::-1]
    return np.ascontiguousarray(out)


def compose_source(source: ImageSource, spec: FilmSpec) -> np.ndarray:
    """Decode one source and compose it into an image box of `spec`."""
    from viewer.dicom.pixels import decode_frame

    if source.presentation_state is not None:
        return compose_presented(source, spec)
    frame = decode_frame(source.path, source.frame)
    return compose_box(frame.array, frame.info, source.state, spec.box_pixels(), spec.depth,
                       source.crop)


def compose_presented(source: ImageSource, spec: FilmSpec) -> np.ndarray:
    """One source shown through its presentation state (viewer.dicom.presentation_apply,
    as `render --presentation-state` shows it) and fitted into an image box of `spec`. The
    state's picture is 8-bit (its displayed area and aspect already applied): GRAY12 boxes get
    it scaled to 0..4095. PresentationStateError / DicomFileError naming the file."""
    from viewer.dicom.presentation_apply import present_file, read_presentation_state_file

    if source.presentation_state is None:
        raise ValueError(f"{source.name}: no presentation state to compose it with")
    state = read_presentation_state_file(source.presentation_state)
    picture = present_file(source.path, state, source.frame + 1, source.state).image
    if spec.depth is PixelDepth.RGB:
        if picture.ndim == 2:
            picture = np.repeat(picture[:, :, np.newaxis], 3, axis=2)
    else:
        grey = _luminance(picture) if picture.ndim == 3 else picture.astype(np.float64)
        picture = (np.floor(grey * (TOP12 / 255.0) + 1e-9) if spec.depth is PixelDepth.GRAY12
                   else grey)
    top = TOP12 if spec.depth is PixelDepth.GRAY12 else 255.0
    out = np.clip(np.rint(fit(picture, spec.box_pixels(), None, source.crop)), 0.0, top)
    return out.astype(np.uint16 if spec.depth is PixelDepth.GRAY12 else np.uint8)


def compose_box(
    array: np.ndarray,
    info: FrameInfo,
    state: DisplayState | None,
    box: tuple[int, int],
    depth: PixelDepth = PixelDepth.GRAY8,
    crop: Crop | None = None,
) -> np.ndarray:
    """A decoded frame (stored values) -> the image box's pixels, `box` = (columns, rows):
    uint8 (GRAY8), uint16 0..4095 (GRAY12) or uint8 rows x columns x 3 (RGB). For the GUI,
    which has the frame decoded already."""
    picture = render(array, info, state or DisplayState(), depth)
    top = TOP12 if depth is PixelDepth.GRAY12 else 255.0
    fitted = fit(picture, box, info.pixel_spacing or info.imager_pixel_spacing, crop)
    out = np.clip(np.rint(fitted), 0.0, top)
    return out.astype(np.uint16 if depth is PixelDepth.GRAY12 else np.uint8)


def render(array: np.ndarray, info: FrameInfo, state: DisplayState,
           depth: PixelDepth) -> np.ndarray:
    """The display pipeline's picture at `depth`, unresampled (see the module docstring)."""
    if depth is PixelDepth.GRAY8:
        shown = to_display(array, info, state)
        return _luminance(shown) if shown.ndim == 3 else shown
    if depth is PixelDepth.RGB:
        shown = to_display(array, info, state)
        return shown if shown.ndim == 3 else np.repeat(shown[:, :, np.newaxis], 3, axis=2)
    if not info.is_monochrome or array.ndim == 3:
        shown = to_display(array, info, state)
        grey = _luminance(shown) if shown.ndim == 3 else shown.astype(np.float64)
        return np.floor(grey * (TOP12 / 255.0) + 1e-9)
    return _grey12(array, info, state)


def _grey12(array: np.ndarray, info: FrameInfo, state: DisplayState) -> np.ndarray:
    voi = choose_voi(array, info, state)
    values = apply_modality(array.astype(np.float64), info)
    if isinstance(voi, LUT):
        grey = apply_voi_lut(values, voi, TOP12)
    elif isinstance(voi, Window):
        grey = apply_window(values, voi, TOP12)
    else:
        grey = np.clip(values, 0.0, TOP12)
    if inverts(info, state):
        grey = TOP12 - grey
    grey = np.floor(grey + 1e-9)  # truncate, as the 8-bit pipeline does
    if state.shutters and info.shutter is not None:
        # the image's Display Shutter, as the 8-bit pipeline paints it (P-Value on 12 bits)
        visible = shutter_mask(info.shutter, grey.shape[0], grey.shape[1])
        grey[~visible] = np.floor(info.shutter.presentation_value * TOP12 / 65535.0 + 0.5)
    if state.overlays and info.overlays:
        # the overlay planes where the 8-bit pipeline burns them, at full 12-bit white
        mask = burn_overlays(np.zeros(array.shape[:2], np.uint8), info) == 255
        grey[mask] = TOP12
    return grey


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return np.floor(rgb.astype(np.float64) @ BT601 + 0.5)


# --- resampling ---------------------------------------------------------------------------------


def fit(
    picture: np.ndarray,
    box: tuple[int, int],
    spacing: tuple[float, float] | None = None,
    crop: Crop | None = None,
) -> np.ndarray:
    """`picture` (or its `crop`) resampled to fit `box` = (columns, rows), keeping the aspect
    ratio of its pixels (`spacing` = (row, column) spacing), centred on black. Float result."""
    rows, columns = picture.shape[:2]
    region = crop or Crop(0.0, 0.0, float(columns), float(rows))
    row_mm, column_mm = spacing if spacing and min(spacing) > 0 else (1.0, 1.0)
    wide, high = region.width * column_mm, region.height * row_mm
    scale = min(box[0] / wide, box[1] / high)
    out_columns = min(box[0], max(1, round(wide * scale)))
    out_rows = min(box[1], max(1, round(high * scale)))
    weights_r = axis_weights(rows, region.top, region.height, out_rows)
    weights_c = axis_weights(columns, region.left, region.width, out_columns)
    channels = picture.shape[2:]  # () grey, (3,) RGB
    out = np.zeros((box[1], box[0], *channels), np.float32)
    top, left = (box[1] - out_rows) // 2, (box[0] - out_columns) // 2
    source = picture.astype(np.float32)
    # each output pixel has a few taps: gather them rather than multiply dense matrices
    # (measured: 5 ms instead of 35 ms for 512 x 512 -> 431 x 431)
    index_r, taps_r = _band(weights_r)
    index_c, taps_c = _band(weights_c)
    tail = (np.newaxis,) * len(channels)
    by_rows = sum(taps_r[:, k][(slice(None), np.newaxis, *tail)] * source[index_r[:, k]]
                  for k in range(index_r.shape[1]))
    by_both = sum(np.asarray(by_rows)[:, index_c[:, k]] * taps_c[:, k][(np.newaxis, slice(None),
                                                                          *tail)]
                  for k in range(index_c.shape[1]))
    out[top:top + out_rows, left:left + out_columns] = by_both
    return out


def _band(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A resampling matrix as (n_out x taps) source indices and weights."""
    nonzero = weights > 0.0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), 0)
    last = weights.shape[1] - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    taps = max(1, int((last - first).max()) + 1)
    wanted = first[:, np.newaxis] + np.arange(taps)[np.newaxis, :]
    index = np.minimum(wanted, weights.shape[1] - 1)
    rows = np.arange(weights.shape[0])[:, np.newaxis]
    values = np.where(wanted < weights.shape[1], weights[rows, index], 0.0)
    return index, values.astype(np.float32)


def axis_weights(n_in: int, start: float, length: float, n_out: int) -> np.ndarray:
    """Resampling matrix (n_out x n_in) of one axis: output pixel j shows the source at
    start + (j + 0.5) * length / n_out (pixel i spans [i, i + 1)), with a triangle filter
    widened when shrinking (no aliasing), weights renormalised inside the image; outputs
    whose centre falls outside the image are black. Equal sizes give the identity."""
    step = length / n_out
    support = max(1.0, step)
    centres = start + (np.arange(n_out) + 0.5) * step
    distance = np.abs(centres[:, np.newaxis] - (np.arange(n_in) + 0.5)[np.newaxis, :])
    weights = np.clip(1.0 - distance / support, 0.0, None)
    sums = weights.sum(axis=1, keepdims=True)
    inside = (centres >= 0.0) & (centres < n_in) & (sums[:, 0] > 0.0)
    weights = np.divide(weights, sums, out=np.zeros_like(weights), where=sums > 0.0)
    weights[~inside] = 0.0
    return weights


# --- preview ------------------------------------------------------------------------------------


def film_preview(film: ComposedFilm, gap: int = 2, empty: int = 64) -> np.ndarray:
    """The film as one uint8 picture (grey, or RGB for colour films) at box resolution, boxes
    `gap` pixels apart on white, empty boxes filled with grey `empty`: for a print dialog."""
    columns, rows = film.spec.box_pixels()
    layout = film.spec.layout
    shape: tuple[int, ...] = (layout.rows * (rows + gap) + gap,
                              layout.columns * (columns + gap) + gap)
    if film.spec.depth.colour:
        shape = (*shape, 3)
    out = np.full(shape, 255, np.uint8)
    for box in film.boxes:
        r, c = divmod(box.position - 1, layout.columns)
        y, x = gap + r * (rows + gap), gap + c * (columns + gap)
        if box.pixels is None:
            out[y:y + rows, x:x + columns] = empty
        elif film.spec.depth is PixelDepth.GRAY12:
            out[y:y + rows, x:x + columns] = (box.pixels.astype(np.uint32) * 255 // 4095)
        else:
            out[y:y + rows, x:x + columns] = box.pixels
    return out


def sources_from_frames(frames: Sequence[tuple[str | Path, int]],
                        state: DisplayState | None = None) -> list[ImageSource]:
    """ImageSources for (path, frame) pairs in reading order, all shown with `state`."""
    return [ImageSource(path, frame, state) for path, frame in frames]
