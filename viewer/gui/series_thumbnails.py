"""The browser's series thumbnails: made as Tasks (viewer.gui.tasks) off the GUI thread, by the
archive (viewer.archive.thumbnails renders them, through the decode pool when there is one, and
keeps them on disk); the icons are kept here until the archive changes.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

from viewer.archive import thumbnails
from viewer.archive.archive import Archive
from viewer.decode.pool import DecodePool
from viewer.gui.browser_models import THUMB_SIZE
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback

LOGGER = logging.getLogger(__name__)

THUMB_PRIORITY = 1  # thumbnails start before queued deletes
THUMB_POOL_PRIORITY = 500  # in the decode pool: after the viewports' visible frames (as the
# reading area's series strip), before a series' background load


class SeriesThumbnails(QObject):
    """One icon per Series Instance UID: `ready` (UID, icon) once made, or a "No preview" tile
    when it cannot be. `icons` holds those made, until `icons.clear()`."""

    ready = Signal(str, QIcon)

    def __init__(self, archive: Archive, tasks: TaskRunner, pool: DecodePool | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.tasks = tasks
        self.pool = pool  # makes the thumbnails, when given: see viewer.archive.thumbnails
        self.icons: dict[str, QIcon] = {}  # series UID -> thumbnail, until the archive changes
        self._tasks: list[Task] = []

    @property
    def pending(self) -> int:
        """Thumbnails asked for and still being made."""
        return len(self._tasks)

    def cancel(self) -> None:
        """Stop making the thumbnails asked for (the user moved on to another study)."""
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    def request(self, series_uid: str) -> None:
        archive, pool = self.archive, self.pool

        def make(_progress: ProgressCallback, cancel: CancelToken) -> QImage:
            cancel.raise_if_cancelled()  # the user moved on while this waited
            made = thumbnails.thumbnail(archive, series_uid, pool, THUMB_POOL_PRIORITY)
            image = QImage(str(made))
            if image.isNull():
                raise thumbnails.ThumbnailError("the thumbnail file cannot be read")
            return image

        task = self.tasks.start(make, "thumbnail", THUMB_PRIORITY)
        task.succeeded.connect(lambda image: self._made(series_uid, image))
        task.failed.connect(lambda reason: self._failed(series_uid, reason))
        task.finished.connect(lambda: self._tasks.remove(task)
                              if task in self._tasks else None)
        self._tasks.append(task)

    def _made(self, series_uid: str, image: QImage) -> None:
        icon = QIcon(QPixmap.fromImage(image))
        self.icons[series_uid] = icon
        self.ready.emit(series_uid, icon)

    def _failed(self, series_uid: str, reason: str) -> None:
        LOGGER.debug("no thumbnail for a series: %s", reason)
        pixmap = QPixmap(THUMB_SIZE, THUMB_SIZE)
        pixmap.fill(QColor("#3a2626"))
        painter = QPainter(pixmap)
        painter.setPen(QColor("#c0a0a0"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, self.tr("No preview"))
        painter.end()
        self.ready.emit(series_uid, QIcon(pixmap))
