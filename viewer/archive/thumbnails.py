"""Series thumbnails: the middle frame of the middle instance, through the one display pipeline.

Cached as `<archive root>/thumbnails/<sha256 of the Series Instance UID>.png` (no attribute text
reaches the file system), written atomically (temporary file, then os.replace). The series'
instance count when it was made is kept in the PNG itself (a tEXt chunk), so one atomic file
carries both; a thumbnail is made again when it is missing, unreadable or the count changed.

Given a decode pool, the picture is made and written by one of its workers
(`viewer.dicom.display.write_thumbnail`): decoding, the display pipeline and the downscale then
allocate nothing in the calling process, and a codec crash on a damaged file costs a worker,
not the application. The GUI passes its pool: measured, making the two thumbnails of a study on
a thread of the GUI process left that process 9 MiB larger.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from viewer.archive.archive import Archive
from viewer.archive.records import STATUS_MISSING, InstanceRow
from viewer.decode.requests import WorkerCrashed
from viewer.dicom.display import write_thumbnail
from viewer.dicom.files import DicomFileError

if TYPE_CHECKING:
    from viewer.decode.pool import DecodePool

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


def thumbnail(
    archive: Archive, series_uid: str, pool: DecodePool | None = None, priority: int = 0
) -> Path:
    """The PNG thumbnail of a series (fits SIZE x SIZE, aspect kept), made when needed: by a
    worker of `pool` (at `priority`, as a frame request's) when given, else in this process.

    Raises ThumbnailError when the series is not in the archive or none of its instances can
    be rendered (DicomFileError is turned into the reason; a crashed worker too).
    """
    rows = [r for r in archive.index.instances(series_uid) if r.status != STATUS_MISSING]
    if not rows:
        raise ThumbnailError(f"series {series_uid}: no stored instances in the archive")
    out = thumbnail_path(archive, series_uid)
    if _cached_count(out) == len(rows):
        return out
    candidates = _candidates(archive, rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = {_COUNT_KEY: str(len(rows))}
    try:
        if pool is None:
            write_thumbnail(candidates, out, SIZE, text)
        else:
            pool.submit_call(write_thumbnail, candidates, str(out), SIZE, text,
                             priority=priority).result()
    except DicomFileError as exc:
        raise ThumbnailError(f"no instance of the series can be rendered: {exc.reason}") from None
    except WorkerCrashed as exc:
        raise ThumbnailError(str(exc)) from None
    LOGGER.debug("thumbnail made for a series of %d instances", len(rows))
    return out


def _candidates(archive: Archive, rows: list[InstanceRow]) -> list[tuple[str, int]]:
    """(file, frame) to try: the middle frame of the middle instance, then the instances
    middle outwards (a series may hold a non-image object, or a damaged file)."""
    middle = len(rows) // 2
    order = sorted(range(len(rows)), key=lambda i: abs(i - middle))
    return [
        (str(archive.store.absolute(rows[i].store_path)), rows[i].number_of_frames // 2)
        for i in order
    ]


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
