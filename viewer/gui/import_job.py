"""The browser's import job: imports run one after another as Tasks (viewer.gui.tasks), and the
summary box that tells how they went.

The import itself is the archive's (viewer.archive.importer, the single import entry point);
this module only queues the Tasks and adds their reports up, so that the imports asked for
while one runs end in one summary. The browser shows the progress and the summary.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from viewer.archive import importer
from viewer.archive.archive import Archive
from viewer.archive.importer import ImportReport
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, Failure, ProgressCallback

MAX_LISTED = 500  # failures listed in the summary's details
SHOWN_PROBLEMS = 5  # failures named in the summary's text (file names; all in the details)


class ImportQueue(QObject):
    """Imports of files, folders, zips or DICOMDIRs, one Task at a time, in the order asked.

    `started` (the import's label) when an import begins; `progress` (files done, total, the
    current file) while it runs; `ended` when it ended, however it ended, after the next queued
    one has started; then `finished` (the reports of the queue's imports added up) when none is
    left, or `cancelled` when the user cancelled (the queued ones are dropped).
    """

    started = Signal(str)
    progress = Signal(int, int, str)
    ended = Signal()
    finished = Signal(object)  # ImportReport
    cancelled = Signal()

    def __init__(self, archive: Archive, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.tasks = tasks
        self._imports: deque[tuple[str, Callable[[], Sequence[Path]]]] = deque()
        self._task: Task | None = None
        self.total = ImportReport()  # the queue's imports so far

    @property
    def running(self) -> bool:
        return self._task is not None

    def add(self, label: str, prepare: Callable[[], Sequence[Path]]) -> None:
        """Import what `prepare()` returns (called on the worker thread) once the imports
        queued before have run."""
        self._imports.append((label, prepare))
        if self._task is None:
            self.total = ImportReport()
            self._next()

    def cancel(self) -> None:
        """Stop the running import and drop the queued ones."""
        self._imports.clear()
        if self._task is not None:
            self._task.cancel()

    def _next(self) -> None:
        label, prepare = self._imports.popleft()
        archive = self.archive

        def run(progress: ProgressCallback, cancel: CancelToken) -> ImportReport:
            return importer.import_paths(archive, prepare(), progress, cancel)

        task = self.tasks.start(run, "import")
        self._task = task
        task.progress.connect(self.progress)
        task.succeeded.connect(self._done)
        task.failed.connect(self._failed)
        task.cancelled.connect(self._cancelled)
        self.started.emit(label)

    def _done(self, report: ImportReport) -> None:
        total = self.total
        total.imported += report.imported
        total.already_present += report.already_present
        total.present_other_syntax += report.present_other_syntax
        total.conflicts += report.conflicts
        total.failed += report.failed
        total.warnings += report.warnings
        total.stopped = total.stopped or report.stopped
        self._ended()
        if self._task is None:
            self.finished.emit(total)

    def _failed(self, reason: str) -> None:
        self.total.stopped = reason
        self._imports.clear()
        self._ended()
        self.finished.emit(self.total)

    def _cancelled(self) -> None:
        self._imports.clear()
        self._ended()
        self.cancelled.emit()

    def _ended(self) -> None:
        self._task = None
        if self._imports:
            self._next()
        self.ended.emit()


class ImportSummary(QMessageBox):
    """Imported / already present / conflicts / failed, the failures' files and reasons in
    the details; not modal: the user may read it while browsing on (or while the next import
    runs)."""

    def __init__(self, report: ImportReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        summary = self.tr(
            "Imported: {imported}\nAlready present: {present}\n"
            "Already present in another transfer syntax: {other}\nConflicts: {conflicts}\n"
            "Failed: {failed}"
        ).format(
            imported=len(report.imported), present=len(report.already_present),
            other=len(report.present_other_syntax), conflicts=len(report.conflicts),
            failed=len(report.failed),
        )
        problems = [*report.failed, *report.conflicts]
        sections = [
            (self.tr("Failed:"), report.failed),
            (self.tr("Conflicts (the stored copy was kept):"), report.conflicts),
            # the same instance: named in the details only, it is not a problem
            (self.tr("Already present in another transfer syntax (the stored copy was kept):"),
             [Failure(label, "") for label in report.present_other_syntax]),
            (self.tr("Warnings:"), report.warnings),
        ]
        details = "\n\n".join(
            "\n".join([title, *_listed(items, self.tr("... and {count} more"))])
            for title, items in sections if items
        )
        self.setStyleSheet(  # room for the reasons (the box's own label names, Qt's since 4.x)
            "QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel { min-width: 34em; }"
        )
        self.setWindowTitle(self.tr("Import finished"))
        self.setIcon(QMessageBox.Icon.Warning if problems or report.stopped
                     else QMessageBox.Icon.Information)
        self.setText(summary)
        informative = []
        if report.stopped:
            informative.append(self.tr("The import stopped early: {reason}").format(
                reason=report.stopped
            ))
        # File names here (full paths in the details): long paths do not wrap.
        informative += [f"{_file_name(p.item)}: {p.reason}" for p in problems[:SHOWN_PROBLEMS]]
        if len(problems) > SHOWN_PROBLEMS:
            informative.append(self.tr("... and {count} more (see the details)").format(
                count=len(problems) - SHOWN_PROBLEMS
            ))
        self._informative = "\n".join(informative)
        self.setInformativeText(self._informative)
        if details:
            self.setDetailedText(details)
        self.setStandardButtons(QMessageBox.StandardButton.Ok)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.quality_line = ""  # the findings of the imported studies (set_quality)

    def set_quality(self, line: str) -> None:
        """Add (or replace) the line on the imported studies' findings, once they are known."""
        self.quality_line = line
        self.setInformativeText("\n".join(t for t in (line, self._informative) if t))


def _file_name(item: str) -> str:
    """The last part of a failure's label: a path, or 'archive.zip!entry'."""
    return re.split(r"[/\\!]", item.rstrip("/"))[-1] or item


def _listed(items: Sequence[Failure], more: str) -> list[str]:
    """'file: reason' lines, at most MAX_LISTED of them, then `more` with the rest counted."""
    lines = [f"{item.item}: {item.reason}" if item.reason else item.item
             for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED and more:
        lines.append(more.format(count=len(items) - MAX_LISTED))
    return lines
