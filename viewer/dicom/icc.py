"""ICC colour management for display: the pixels' colour space, as an ICC Profile (0028,2000)
describes it, to the sRGB the screen and our PNGs are taken to be (PS3.3 C.11.15, C.11.15.1.1).

The profile comes from the image's own ICC Profile Module (VL Photographic, Secondary Capture,
ultrasound...) or, replacing it, from a Color Softcopy Presentation State (A.33.2). LittleCMS
(MIT) through Pillow's ImageCms (MIT-CMU) builds one transform per profile, cached; applying it
to a 512 x 512 RGB picture takes a few milliseconds. A profile LittleCMS cannot read, or one
whose data colour space is not RGB (DICOM's colour pixels are RGB once decoded), is reported
once as one line (`profile_problem`) and the picture is shown without it: the colours are then
the file's sRGB-like values, as every viewer without colour management shows them.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import OrderedDict
from threading import Lock
from typing import Any

import numpy as np

LOGGER = logging.getLogger(__name__)

# Profiles seen lately (a study's images usually share one): transform or the reason it failed
_CACHE: OrderedDict[bytes, Any] = OrderedDict()
_CACHE_SIZE = 16
_LOCK = Lock()


class _Unusable(str):
    """Why a profile cannot be used (kept in the cache in place of a transform)."""


def _key(profile: bytes) -> bytes:
    return hashlib.sha1(profile, usedforsecurity=False).digest()


def _build(profile: bytes) -> Any:
    from PIL import ImageCms

    if len(profile) < 128:
        return _Unusable(f"ICC Profile of {len(profile)} bytes is shorter than its header")
    space = profile[16:20].decode("latin-1").strip()
    if space != "RGB":
        return _Unusable(f"ICC Profile describes {space or 'no'} data, not RGB")
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        return ImageCms.buildTransform(source, srgb, "RGB", "RGB",
                                       renderingIntent=ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        return _Unusable(f"ICC Profile unreadable by LittleCMS ({exc})")


def _transform(profile: bytes) -> Any:
    key = _key(profile)
    with _LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    built = _build(profile)
    if isinstance(built, _Unusable):
        LOGGER.warning("%s; the image is shown without it", built)
    with _LOCK:
        _CACHE[key] = built
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return built


def profile_problem(profile: bytes | None) -> str | None:
    """Why `profile` cannot be applied (one line, no file name), or None when it can (or
    there is none)."""
    if not profile:
        return None
    built = _transform(profile)
    if isinstance(built, _Unusable):
        return f"{built}; shown without colour management"
    return None


def to_srgb(rgb: np.ndarray, profile: bytes) -> np.ndarray:
    """An 8-bit RGB picture (rows x columns x 3) in the colour space `profile` describes, as
    8-bit sRGB (perceptual intent). Unchanged when the profile cannot be used."""
    built = _transform(profile)
    if isinstance(built, _Unusable):
        return rgb
    from PIL import Image, ImageCms

    picture = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    return np.asarray(ImageCms.applyTransform(picture, built)).copy()
