"""The browser's data-quality badges: which studies to validate, their counts, and the badge
drawn for them (errors red, warnings amber, not validated yet grey, clean: none).

Validation runs as a Task of the browser's TaskRunner (viewer.quality's validate_stored, at
a low priority), so that shutting the runner down before the archive closes stops it too; a
study's end reaches the GUI thread queued and is dropped once its Task was cancelled. A study
is validated when it appears in the archive after the browser opened, or when its number of
instances changes (an import added to it). The findings are stored in the index
(viewer.quality.store): a study validated before (at its import by the command line, the
Storage SCP, a retrieve, or an earlier window) shows its stored counts; one never validated
has no badge until its findings panel opens, which validates it.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QCoreApplication, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from viewer.archive.archive import Archive
from viewer.archive.records import StudyRow
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback
from viewer.quality.findings import ValidationReport
from viewer.quality.report_table import summary_text
from viewer.quality.store import (
    FindingCounts,
    series_counts,
    study_counts,
    study_report,
    validate_stored,
)

ERROR_COLOUR = QColor("#d03030")
WARNING_COLOUR = QColor("#e0a000")
PENDING_COLOUR = QColor("#8a8a8a")
BADGE_SIZE = 12
PENDING = FindingCounts(0, 0, True)  # being validated here


def badge_colour(counts: FindingCounts | None) -> QColor | None:
    """The badge's colour; None for a clean study or series, or one not validated and not
    waiting to be (no badge)."""
    if counts is None:
        return None
    if counts.pending:
        return PENDING_COLOUR
    if counts.errors:
        return ERROR_COLOUR
    if counts.warnings:
        return WARNING_COLOUR
    return None


def badge_tooltip(counts: FindingCounts | None) -> str:
    translate = QCoreApplication.translate
    if counts is None:
        return translate("QualityBadges",
                         "Data quality: not validated (its Data quality panel validates it)")
    if counts.pending:
        return translate("QualityBadges", "Data quality: being validated")
    if not counts.errors and not counts.warnings:
        return translate("QualityBadges", "Data quality: no findings")
    return translate("QualityBadges", "Data quality: %1 error(s), %2 warning(s)").replace(
        "%1", str(counts.errors)).replace("%2", str(counts.warnings))


def paint_badge(painter: QPainter, centre: QPointF, colour: QColor, size: int) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor("#202020"))
    painter.setBrush(colour)
    painter.drawEllipse(centre, size / 2, size / 2)


class QualityBadges(QObject):
    """Counts per study and series, kept fresh: `watch` queues the studies shown whose
    content changed; `study_done` (Study Instance UID) when one has been validated."""

    study_done = Signal(str)
    _validated = Signal(str, object)  # from the Task's thread: study UID, its CancelToken

    def __init__(self, archive: Archive, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.tasks = tasks
        self._instances: dict[str, int] = {}  # study -> instances when queued last
        self._counts: dict[str, FindingCounts] = {}
        self._unvalidated: set[str] = set()  # pending in the index, not validated here
        self._icons: dict[str, QIcon] = {}
        self._waiting: list[str] = []
        self._pending: set[str] = set()  # waiting or being validated
        self._watching = False  # the first watch only notes the studies there already
        # [quality] validate_on_import: false leaves what arrives unvalidated (its panel
        # still validates a study when opened)
        self.validate_new = True
        self.task: Task | None = None
        self._validated.connect(self._study_validated, Qt.ConnectionType.QueuedConnection)

    def watch(self, studies: Iterable[StudyRow]) -> list[str]:
        """Queue the studies new since the first call, or whose size changed; returns those
        queued."""
        studies = list(studies)
        queued = [s.study_instance_uid for s in studies
                  if self._watching and self.validate_new
                  and self._instances.get(s.study_instance_uid) != s.number_of_instances]
        self._watching = True
        for study in studies:
            self._instances[study.study_instance_uid] = study.number_of_instances
        for uid in queued:
            self._counts.pop(uid, None)  # pending again until validated at this size
            self._unvalidated.discard(uid)
        self._queue(queued)
        return queued

    def _queue(self, study_uids: list[str]) -> None:
        self._pending.update(study_uids)
        self._waiting += [u for u in study_uids if u not in self._waiting]
        if self.task is None and self._waiting:
            self._start()

    def _start(self) -> None:
        uids, self._waiting = self._waiting, []
        archive, done = self.archive, self._validated

        def run(progress: ProgressCallback, cancel: CancelToken) -> None:
            validate_stored(archive, uids, cancel, progress,
                            on_study=lambda uid, _counts: done.emit(uid, cancel))

        self.task = self.tasks.start(run, "validate-studies", priority=-1)
        self.task.finished.connect(self._task_ended)

    def _task_ended(self) -> None:
        cancelled = self.task is not None and self.task.token.cancelled
        self.task = None
        if cancelled:  # stopped: nothing is waiting any more
            self._waiting.clear()
            self._pending.clear()
        elif self._waiting:
            self._start()

    def busy(self) -> bool:
        """Studies are being validated, or wait to be."""
        return self.task is not None or bool(self._waiting)

    def counts(self, study_uid: str) -> FindingCounts | None:
        """Its counts; pending while it waits or is validated; None when not validated here."""
        if study_uid in self._counts:
            return self._counts[study_uid]
        if study_uid in self._pending:
            return PENDING
        if study_uid in self._unvalidated:
            return None
        stored = study_counts(self.archive, [study_uid]).get(study_uid)
        if stored is None or stored.pending:  # not validated since its last instance came
            self._unvalidated.add(study_uid)
            return None
        self._counts[study_uid] = stored
        return stored

    def series(self, study_uid: str) -> dict[str, FindingCounts]:
        if self.counts(study_uid) is not None and study_uid not in self._pending:
            return series_counts(self.archive, study_uid)
        if study_uid in self._pending:
            return {s.series_instance_uid: PENDING for s in self.archive.index.series(study_uid)}
        return {}

    def icon(self, counts: FindingCounts | None) -> QIcon | None:
        colour = badge_colour(counts)
        if colour is None:
            return None
        key = colour.name()
        if key not in self._icons:
            pixmap = QPixmap(BADGE_SIZE + 2, BADGE_SIZE + 2)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            paint_badge(painter, QPointF(pixmap.width() / 2, pixmap.height() / 2), colour,
                        BADGE_SIZE)
            painter.end()
            self._icons[key] = QIcon(pixmap)
        return self._icons[key]

    def import_summary(self, study_uids: Iterable[str]) -> str:
        """The import summary's line: the findings of these studies together."""
        reports = [study_report(self.archive, uid) for uid in study_uids]
        together = ValidationReport(
            tuple(f for r in reports for f in r.files),
            tuple(s for r in reports for s in r.study_findings))
        return QCoreApplication.translate("QualityBadges", "Data quality: %1").replace(
            "%1", summary_text(together))

    def stop(self) -> None:
        """Stop validating (before the archive closes; the runner's shutdown does it too)."""
        self._waiting.clear()
        self._pending.clear()
        if self.task is not None:
            self.task.cancel()

    def reload(self, study_uid: str) -> None:
        """Read the study's counts again (it was validated again from the findings panel)."""
        self._refresh_counts(study_uid)

    def _study_validated(self, study_uid: str, cancel: CancelToken) -> None:
        if not cancel.cancelled:  # else the archive may be closed by now
            self._refresh_counts(study_uid)

    def _refresh_counts(self, study_uid: str) -> None:
        self._pending.discard(study_uid)
        self._unvalidated.discard(study_uid)
        self._counts.update(study_counts(self.archive, [study_uid]))
        self.study_done.emit(study_uid)
