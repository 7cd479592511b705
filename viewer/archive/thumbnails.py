"""Series thumbnails: the middle frame of the middle instance, through the one display pipeline.

Cached as `<archive root>/thumbnails/<sha256 of the Series Instance UID>.png` (no attribute text
reaches the file system), written atomically (temporary file, then os.replace). The series'
instance count when it was made is kept in the PNG itself (a tEXt chunk), so one atomic file
carries both; a thumbnail is made again when it is missing, unreadable or the count changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from viewer.archive.archive import Archive
from viewer.archive.records import STATUS_MISSING, InstanceRow

if TYPE_CHECKING:
    from PIL.Image import Image

LOGGER = logging.getLogger(__name__)

THUMBNAIL_DIR = "thumbnails"
SIZE = 128
_COUNT_KEY = "viewer-instance-count"


class ThumbnailError(Exception):
    """No thumbnail can be made for a series (unknown, no stored image); the message says why."""


def thumbnail_path(archive: Archive, series_uid: str) -> Path:
    """Where the thumbnail of `series_uid` is cached (it may not exist yet)."""
    digest = hashlib.sha256(series_uid.encode("utf-8")).hexdigest()
    return archive.root / THUMBNAIL_DIR / f"{digest}.png"


def thumbnail(archive: Archive, series_uid: str) -> Path:
    """The PNG thumbnail of a series (fits SIZE x SIZE, aspect kept), made when needed.

    Raises ThumbnailError when the series is not in the archive or none of its instances can
    be rendered (DicomFileError is turned into the reason).
    """
    rows = [r for r in archive.index.instances(series_uid) if r.status != STATUS_MISSING]
    if not rows:
        raise ThumbnailError(f"series {series_uid}: no stored instances in the archive")
    out = thumbnail_path(archive, series_uid)
    if _cached_count(out) == len(rows):
        return out
    picture = _render(archive, rows)
    _write(picture, out, len(rows))
    LOGGER.debug("thumbnail made for a series of %d instances", len(rows))
    return out


def _render(archive: Archive, rows: list[InstanceRow]) -> np.ndarray:
    """The middle frame of the middle instance; other instances when it cannot be shown (a
    series may hold a non-image object, or a damaged file)."""
    from viewer.dicom.display import render_frame
    from viewer.dicom.files import DicomFileError

    middle = len(rows) // 2
    order = sorted(range(len(rows)), key=lambda i: abs(i - middle))  # middle outwards
    reasons: list[str] = []
    for i in order:
        row = rows[i]
        try:
            return render_frame(archive.store.absolute(row.store_path), row.number_of_frames // 2)
        except DicomFileError as exc:
            reasons.append(exc.reason)
        except OSError as exc:
            reasons.append(exc.strerror or str(exc))
    raise ThumbnailError(f"no instance of the series can be rendered: {reasons[0]}")


def _scaled(picture: np.ndarray) -> Image:
    """A Pillow image fitting SIZE x SIZE with the picture's aspect ratio (small ones grow)."""
    from PIL import Image as PIL

    image = PIL.fromarray(np.ascontiguousarray(picture))
    height, width = picture.shape[:2]
    scale = SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, PIL.Resampling.LANCZOS)


def _write(picture: np.ndarray, out: Path, count: int) -> None:
    from PIL.PngImagePlugin import PngInfo

    out.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    info.add_text(_COUNT_KEY, str(count))
    image = _scaled(picture)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=".", suffix=".png.tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as stream:
            image.save(stream, format="PNG", pnginfo=info)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _cached_count(path: Path) -> int | None:
    """The instance count stored in a cached thumbnail, or None (missing or unreadable)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:  # reads the chunks before IDAT only
            value = image.info.get(_COUNT_KEY)
    except (OSError, UnidentifiedImageError, SyntaxError):
        return None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
