"""The browser's data-quality badges: which studies to validate, their counts, and the badge
drawn for them (errors red, warnings amber, not validated yet grey, clean: none).

Validation runs in viewer.quality's ImportValidator on its own thread; `study_done` reaches
the GUI thread queued. A study is validated again when its number of instances changes (an
import added to it).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QCoreApplication, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from viewer.archive.archive import Archive
from viewer.archive.records import StudyRow
from viewer.quality.findings import ValidationReport
from viewer.quality.report_table import summary_text
from viewer.quality.store_view import (
    FindingCounts,
    ImportValidator,
    series_counts,
    study_counts,
    study_report,
)

ERROR_COLOUR = QColor("#d03030")
WARNING_COLOUR = QColor("#e0a000")
PENDING_COLOUR = QColor("#8a8a8a")
BADGE_SIZE = 12


def badge_colour(counts: FindingCounts | None) -> QColor | None:
    """The badge's colour; None for a clean study or series (no badge)."""
    if counts is None or counts.pending:
        return PENDING_COLOUR
    if counts.errors:
        return ERROR_COLOUR
    if counts.warnings:
        return WARNING_COLOUR
    return None


def badge_tooltip(counts: FindingCounts | None) -> str:
    def tr(text: str) -> str:
        return QCoreApplication.translate("QualityBadges", text)

    if counts is None or counts.pending:
        return tr("Data quality: not validated yet")
    if not counts.errors and not counts.warnings:
        return tr("Data quality: no findings")
    return tr("Data quality: %1 error(s), %2 warning(s)").replace(
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
    _validated = Signal(str)  # from the validator's thread

    def __init__(self, archive: Archive, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self._instances: dict[str, int] = {}  # study -> instances when queued last
        self._counts: dict[str, FindingCounts] = {}
        self._icons: dict[str, QIcon] = {}
        self.validator = ImportValidator(archive, self._validated.emit)
        self._validated.connect(self._refresh_counts, Qt.ConnectionType.QueuedConnection)

    def watch(self, studies: Iterable[StudyRow]) -> list[str]:
        """Queue the studies not validated at their current size; returns those queued."""
        queued = [s.study_instance_uid for s in studies
                  if self._instances.get(s.study_instance_uid) != s.number_of_instances]
        for study in studies:
            self._instances[study.study_instance_uid] = study.number_of_instances
        for uid in queued:
            self._counts.pop(uid, None)  # pending again until validated at this size
        if queued:
            self.validator.queue(queued)
        return queued

    def revalidate(self, study_uids: Iterable[str]) -> None:
        uids = list(study_uids)
        for uid in uids:
            self._counts.pop(uid, None)
        self.validator.queue(uids)

    def counts(self, study_uid: str) -> FindingCounts | None:
        """None while the study is not validated yet."""
        return self._counts.get(study_uid)

    def series(self, study_uid: str) -> dict[str, FindingCounts]:
        if study_uid not in self._counts:
            return {}
        return series_counts(self.archive, study_uid)

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
        """Stop validating (before the archive closes)."""
        self.validator.stop()

    def reload(self, study_uid: str) -> None:
        """Read the study's counts again (it was validated again from the findings panel)."""
        self._refresh_counts(study_uid)

    def _refresh_counts(self, study_uid: str) -> None:
        self._counts.update(study_counts(self.archive, [study_uid]))
        self.study_done.emit(study_uid)
