"""The store's quota in the study browser's status area: used of the quota, and how much of
the store no PACS has committed yet (storage commitment), which pruning never removes
(viewer.archive.retention; the same numbers as `dicom-viewer prune --dry-run`)."""

from __future__ import annotations

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QLabel, QWidget

from viewer.archive.archive import Archive
from viewer.archive.retention import QuotaUsage, usage
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback


def data_size(n_bytes: int) -> str:
    """Decimal (SI) units in the user's locale: `[archive] quota_gb` is in decimal GB."""
    return QLocale().formattedDataSize(n_bytes, 2, QLocale.DataSizeFormat.DataSizeSIFormat)


class QuotaStatus(QLabel):
    """One line: "Store: 1.20 GB of 2.00 GB; not committed by a PACS: 400.00 MB, studies: 3",
    red when the store is over its quota. Without a quota (`archive.retention` None) only the
    store's size. `refresh()` after the archive changed (imports, deletes, prunes).

    With `tasks`, the numbers are counted on a pool thread (about 0.1 s for 100,000 committed
    instances here: too long for the GUI thread); without, at once.
    """

    def __init__(self, archive: Archive, tasks: TaskRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.tasks = tasks
        self.usage: QuotaUsage | None = None
        self._task: Task | None = None
        self._again = False
        self.refresh()

    def refresh(self) -> None:
        if self.tasks is None:
            self.show_usage(usage(self.archive.index, self.archive.retention))
            return
        if self._task is not None:  # counting already: count once more when it is done
            self._again = True
            return
        archive = self.archive

        def count(_progress: ProgressCallback, _cancel: CancelToken) -> QuotaUsage:
            return usage(archive.index, archive.retention)

        self._task = self.tasks.start(count, "quota")
        self._task.succeeded.connect(self.show_usage)
        self._task.finished.connect(self._counted)

    def _counted(self) -> None:
        self._task = None
        if self._again:
            self._again = False
            self.refresh()

    def show_usage(self, shown: QuotaUsage) -> None:
        self.usage = shown
        if shown.quota is None:
            self.setText(self.tr("Store: {used} (no quota)").format(used=data_size(shown.used)))
            self.setToolTip(self.tr("Set [archive] quota_gb in the config file to bound the "
                                    "store."))
            self.setStyleSheet("")
            return
        text = self.tr("Store: {used} of {quota}").format(
            used=data_size(shown.used), quota=data_size(shown.quota))
        if shown.protected:
            text += self.tr("; not committed by a PACS: {size}, studies: {count}").format(
                size=data_size(shown.protected), count=shown.protected_studies)
        self.setText(text)
        over = shown.used > shown.quota
        self.setStyleSheet("color: #c03030;" if over else "")
        self.setToolTip(self.tr(
            "Past the quota, the least recently viewed studies that a PACS has committed "
            "(storage commitment, every instance) are removed; studies not committed are "
            "never removed."
        ) + ("\n" + self.tr("The store is over its quota by {size}.").format(
            size=data_size(shown.used - shown.quota)) if over else ""))
