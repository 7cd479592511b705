"""Fusion: a second volume (PET over CT, MR over MR) coloured and blended over the first's plane.

The overlay is resampled onto the base's plane in patient space (`reslice`), optionally turned
into SUVbw (`Volume.suv_factor`, from `viewer.dicom.suv`), windowed to [low, high], coloured by a
colour map and blended with the base's display picture:

    out = (1 - a) * base + a * colour          (per channel, rounded half up to uint8)

with `a` = the opacity, constant wherever the overlay shows: linear in the slider and the same
whatever made the overlay values (a thick slab's MIP or a thin plane). Viewers that accumulate
opacity along the slab (cornerstone3D #826) change the blend with the slab's thickness; here the
slab only changes the values, never `a`.

Overlay values below `low` are transparent (a = 0): PET over CT keeps the CT readable where there
is no uptake, which is how radiologists read a fusion (the background of a PET is noise around
SUV 1, under a window starting above it). NaN and values outside the overlay volume (its
`padding`, 0 for PET) fall below any positive `low` and are transparent too.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from threading import Lock

import numpy as np

from viewer.dicom.display import DisplayState, to_display
from viewer.dicom.frameinfo import FrameInfo
from viewer.volume.model import Interpolation, Plane, Volume
from viewer.volume.reslice import display_plane, reslice


class FusionError(ValueError):
    """Two volumes cannot be fused, or a fusion argument is wrong; str is one line."""


def _well_known_palette(uid: str) -> np.ndarray:
    """One of PS3.6 Annex B's well-known colour palettes, as pydicom ships it: (256, 3) uint8."""
    from pydicom.pixels import apply_color_lut  # noqa: PLC0415 - reads a file; only here

    table = apply_color_lut(np.arange(256, dtype=np.uint8), palette=uid)
    return np.ascontiguousarray(table, dtype=np.uint8)


def _piecewise(anchors: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    x = np.linspace(0.0, 1.0, 256)
    where = [a for a, _ in anchors]
    channels = [np.interp(x, where, [c[n] for _, c in anchors]) for n in range(3)]
    return np.floor(np.stack(channels, axis=1) + 0.5).astype(np.uint8)


def _build_colormaps() -> dict[str, np.ndarray]:
    return {
        # DICOM Hot Iron (PS3.6 B.1.1, UID 1.2.840.10008.1.5.1): black, red, orange, white.
        "hot-iron": _well_known_palette("1.2.840.10008.1.5.1"),
        # DICOM's "PET" palette (1.2.840.10008.1.5.2) runs black, teal, violet, orange, white:
        # not the rainbow readers expect. Ours is the usual one, linear between the colour
        # wheel's stops: blue, cyan, green, yellow, red (hue 240 degrees down to 0).
        "rainbow": _piecewise([
            (0.0, (0, 0, 255)), (0.25, (0, 255, 255)), (0.5, (0, 255, 0)),
            (0.75, (255, 255, 0)), (1.0, (255, 0, 0)),
        ]),
        "grey": np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1),
    }


COLORMAPS: dict[str, np.ndarray] = _build_colormaps()
"""Colour map name -> (256, 3) uint8 table; entry 0 for `low`, 255 for `high`."""


TRANSPARENT = 256
"""The colour index `colour_indices` gives a value below `low` (or NaN): the base shows."""


def colour_indices(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Overlay values -> colour table indices: low -> 0, high -> 255 (clamped above, rounded
    half up), and TRANSPARENT below `low` or NaN; uint16 of the values' shape."""
    scale = np.float32(255.0 / (high - low))
    index = values.astype(np.float32)  # a copy: the caller's values stay untouched
    index -= np.float32(low)
    hidden = ~(index >= 0)  # below low, or NaN
    index *= scale
    np.minimum(index, np.float32(255.0), out=index)
    index += np.float32(0.5)
    index[hidden] = TRANSPARENT
    return index.astype(np.uint16)


_BLEND_CACHE: OrderedDict[tuple[str, float], np.ndarray] = OrderedDict()
_BLEND_LOCK = Lock()


def _blend_table(colormap: str, opacity: float) -> np.ndarray:
    """(257 * 256, 3) uint8: row index * 256 + grey -> the blended colour, (1 - a) * grey +
    a * colour rounded half up (in float64, once), and grey itself for TRANSPARENT. One gather
    per pixel then does the whole blend (a fused 512^2 frame in ~2 ms, not 6 in float maths)."""
    key = (colormap, float(opacity))
    with _BLEND_LOCK:
        table = _BLEND_CACHE.get(key)
        if table is not None:
            _BLEND_CACHE.move_to_end(key)
            return table
    colours = COLORMAPS[colormap].astype(np.float64)  # (256, 3)
    grey = np.arange(256, dtype=np.float64)[None, :, None]  # (1, 256, 1)
    blended = np.floor((1.0 - opacity) * grey + opacity * colours[:, None, :] + 0.5)
    clear = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    table = np.concatenate([np.clip(blended, 0, 255).astype(np.uint8), clear]).reshape(-1, 3)
    with _BLEND_LOCK:
        _BLEND_CACHE[key] = table
        while len(_BLEND_CACHE) > 8:
            _BLEND_CACHE.popitem(last=False)
    return table


def fuse(
    base: np.ndarray,
    overlay_values: np.ndarray,
    low: float,
    high: float,
    colormap: str,
    opacity: float,
) -> np.ndarray:
    """The overlay coloured and blended over `base`: (h, w, 3) uint8; see the module docstring.

    `base`: the display pipeline's uint8 grey (h, w) or RGB (h, w, 3); `overlay_values`: float
    modality (or SUV) values on the same (h, w) grid; [low, high]: the overlay's window, in
    those values' units; `opacity` 0..1.
    """
    if colormap not in COLORMAPS:
        raise FusionError(f"unknown colour map {colormap!r}: one of {', '.join(COLORMAPS)}")
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise FusionError(f"the overlay window needs low < high, not {low:g}..{high:g}")
    if not (math.isfinite(opacity) and 0.0 <= opacity <= 1.0):
        raise FusionError(f"opacity must be between 0 and 1, not {opacity:g}")
    if base.dtype != np.uint8 or base.ndim not in (2, 3) or base.shape[:2] != overlay_values.shape:
        raise FusionError(f"base {base.shape} {base.dtype} and overlay {overlay_values.shape} "
                          "are not uint8 pictures of one grid")
    table = _blend_table(colormap, opacity)
    index = colour_indices(overlay_values, low, high).astype(np.intp)
    index <<= 8
    if base.ndim == 2:
        index += base
        return np.take(table, index, axis=0)
    # RGB base: each channel is its own grey; the table's column n is channel n's blend.
    out = np.empty(base.shape, dtype=np.uint8)
    for n in range(3):
        out[..., n] = np.take(table[:, n], index + base[..., n])
    return out


def check_fusable(base: Volume, overlay: Volume) -> None:
    """FusionError (one line) unless both volumes are in one Frame of Reference: fusion
    without a registration is only true in a shared patient coordinate system."""
    if not overlay.frame_of_reference_uid or not base.frame_of_reference_uid:
        which = "overlay" if not overlay.frame_of_reference_uid else "base"
        raise FusionError(f"the {which} series has no Frame of Reference UID: cannot fuse")
    if overlay.frame_of_reference_uid != base.frame_of_reference_uid:
        raise FusionError(
            f"series {overlay.series_uid} is in Frame of Reference "
            f"{overlay.frame_of_reference_uid}, not {base.frame_of_reference_uid} of "
            f"series {base.series_uid}: cannot fuse without a registration"
        )


def overlay_plane(
    overlay: Volume,
    plane: Plane,
    suv: bool = True,
    interpolation: Interpolation = Interpolation.LINEAR,
) -> np.ndarray:
    """The overlay resampled on `plane` (its slab and mode included): float32 modality values,
    or SUVbw when `suv` (FusionError with the reason when the volume has no SUV factor)."""
    values = reslice(overlay, plane, interpolation)
    if suv:
        if overlay.suv_factor is None:
            reason = overlay.suv_reason or "the series has no SUVbw factor"
            raise FusionError(f"SUVbw is not available: {reason}")
        values *= np.float32(overlay.suv_factor)
    return values


SUV_WINDOW = (1.0, 10.0)
"""The default PET window in SUVbw: uptake above a background of about 1 (blood pool, muscle)
coloured, up to the 10 where hot iron turns white; below 1 the base shows."""


def default_overlay_window(overlay: Volume, suv: bool = True) -> tuple[float, float]:
    """The overlay's window [low, high] when the user has not set one (the `mpr --fuse` CLI,
    a fusion just opened): SUV_WINDOW for SUVbw; else the series' own window (centre +- width
    / 2); else its values' 1st to 99.5th percentile on a sample of the filled slices (the
    lowest percent is the background the base should show through)."""
    if suv and overlay.suv_factor is not None:
        return SUV_WINDOW
    if overlay.window is not None and overlay.window[1] > 0:
        center, width = overlay.window
        return center - width / 2.0, center + width / 2.0
    filled = np.flatnonzero(overlay.filled)
    if filled.size == 0:
        return 0.0, 1.0
    # Every 4th voxel of at most 64 filled slices: a percentile of a sample, not a sort of all.
    picks = filled[:: max(filled.size // 64, 1)]
    sample = overlay.voxels[picks, ::4, ::4].astype(np.float32).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(sample, [1.0, 99.5]))
    return (low, high) if high > low else (low, low + 1.0)


def fused_plane(
    base_volume: Volume,
    overlay_volume: Volume,
    plane: Plane,
    base_state: DisplayState | None,
    low: float,
    high: float,
    colormap: str,
    opacity: float,
    suv: bool = True,
    *,
    interpolation: Interpolation = Interpolation.LINEAR,
    base_info: FrameInfo | None = None,
) -> np.ndarray:
    """One fused picture of `plane`: the base through the display pipeline (`base_state`,
    the base's window), the overlay (in SUVbw when `suv`) windowed to [low, high] and blended
    by `fuse`. (rows, columns, 3) uint8.

    `base_info`: how the base plane's values are displayed; by default the volume's own
    (`viewer.volume.reslice.display_plane`).
    """
    check_fusable(base_volume, overlay_volume)
    if base_info is None:
        grey = display_plane(base_volume, plane, base_state, interpolation)
    else:
        grey = to_display(reslice(base_volume, plane, interpolation), base_info, base_state)
    values = overlay_plane(overlay_volume, plane, suv, interpolation)
    return fuse(grey, values, low, high, colormap, opacity)
