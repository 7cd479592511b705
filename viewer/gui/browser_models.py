"""The study browser's item models: the study table and the series thumbnails."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    Qt,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from viewer.archive import thumbnails
from viewer.archive.records import SeriesRow, StudyRow
from viewer.dicom import text
from viewer.gui.mime import SERIES_MIME, series_mime
from viewer.gui.quality_badges import (
    BADGE_SIZE,
    QualityBadges,
    badge_colour,
    badge_tooltip,
    paint_badge,
)
from viewer.gui.quota import data_size
from viewer.quality.store import FindingCounts

THUMB_SIZE = thumbnails.SIZE


class RowsTableModel(QAbstractTableModel):
    """A table of `_rows` under the column titles `_headers` (set by the subclass)."""

    _rows: Sequence[Any]
    _headers: list[str]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        return None


class StudyTableModel(RowsTableModel):
    """Rows of Index.search_studies, sortable by any column."""

    NAME, ID, BIRTH, DATE, DESCRIPTION, MODALITIES, SERIES, IMAGES, SIZE = range(9)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[StudyRow] = []
        self._where: dict[str, int] = {}  # Study Instance UID -> row
        self._sort: tuple[int, Qt.SortOrder] = (self.DATE, Qt.SortOrder.DescendingOrder)
        self.badges: QualityBadges | None = None  # data-quality badge before the name
        self._headers = [
            self.tr("Patient name"), self.tr("Patient ID"), self.tr("Birth date"),
            self.tr("Study date"), self.tr("Description"), self.tr("Modalities"),
            self.tr("Series"), self.tr("Images"), self.tr("Size"),
        ]

    def set_rows(self, rows: list[StudyRow]) -> None:
        self.beginResetModel()
        self._rows = sorted(rows, key=self._key(self._sort[0]), reverse=self._descending())
        self._reindex()
        self.endResetModel()

    def study(self, row: int) -> StudyRow:
        return self._rows[row]

    def row_of(self, study_uid: str) -> int | None:
        return self._where.get(study_uid)

    def _reindex(self) -> None:
        self._where = {s.study_instance_uid: n for n, s in enumerate(self._rows)}

    def quality_changed(self, study_uid: str) -> None:
        """Redraw the study's badge (its validation ended)."""
        row = self._where.get(study_uid)
        if row is not None:
            where = self.index(row, self.NAME)
            self.dataChanged.emit(where, where, [Qt.ItemDataRole.DecorationRole,
                                                 Qt.ItemDataRole.ToolTipRole])

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        study = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(study, column)
        badges = self.badges
        if badges is not None and column == self.NAME:
            counts = badges.counts(study.study_instance_uid)
            if role == Qt.ItemDataRole.DecorationRole:
                return badges.icon(counts)
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{self._display(study, column)}\n{badge_tooltip(counts)}"
        if role == Qt.ItemDataRole.ToolTipRole and column in (self.NAME, self.DESCRIPTION):
            return self._display(study, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= self.SERIES:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return study.study_instance_uid
        return None

    def _display(self, study: StudyRow, column: int) -> str:
        if column == self.NAME:
            return study.patient_name_text
        if column == self.ID:
            return study.patient_id
        if column == self.BIRTH:
            return text.format_date(study.patient_birth_date)
        if column == self.DATE:
            when = text.format_time(study.study_time)[:5]
            return f"{text.format_date(study.study_date)} {when}".strip()
        if column == self.DESCRIPTION:
            return study.study_description
        if column == self.MODALITIES:
            return ", ".join(study.modalities)
        if column == self.SERIES:
            return str(study.number_of_series)
        if column == self.IMAGES:
            return str(study.number_of_instances)
        return data_size(study.size)  # decimal units, as the quota beside it

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort in place, keeping the view's selection on the same studies."""
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        kept = [(self._rows[i.row()].study_instance_uid, i.column()) for i in before]
        self._rows.sort(key=self._key(column), reverse=self._descending())
        self._reindex()
        self.changePersistentIndexList(before, [self.index(self._where[u], c) for u, c in kept])
        self.layoutChanged.emit()

    def _descending(self) -> bool:
        return self._sort[1] == Qt.SortOrder.DescendingOrder

    def _key(self, column: int) -> Callable[[StudyRow], Any]:
        keys: dict[int, Callable[[StudyRow], Any]] = {
            self.NAME: lambda s: s.patient_name_text.casefold(),
            self.ID: lambda s: s.patient_id.casefold(),
            self.BIRTH: lambda s: s.patient_birth_date,
            self.DATE: lambda s: (s.study_date, s.study_time),
            self.DESCRIPTION: lambda s: s.study_description.casefold(),
            self.MODALITIES: lambda s: s.modalities,
            self.SERIES: lambda s: s.number_of_series,
            self.IMAGES: lambda s: s.number_of_instances,
            self.SIZE: lambda s: s.size,
        }
        return keys.get(column, keys[self.DATE])


class SeriesListModel(QAbstractListModel):
    """The series of one study, with their thumbnails (a placeholder until they are made)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.study_uid = ""
        self._rows: list[SeriesRow] = []
        self._icons: dict[str, QIcon] = {}
        self._placeholders: dict[str, QIcon] = {}
        # data-quality counts per series (empty: not validated yet); badged icons made of them
        self._quality: dict[str, FindingCounts] = {}
        self._badged: dict[str, QIcon] = {}

    def set_quality(self, counts: dict[str, FindingCounts]) -> None:
        """The series' counts (viewer.quality's series_counts): their badges redrawn."""
        self._quality = dict(counts)
        self._badged.clear()
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1),
                                  [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole])

    def quality(self, series_uid: str) -> FindingCounts | None:
        return self._quality.get(series_uid)

    def set_series(self, study_uid: str, rows: list[SeriesRow], icons: dict[str, QIcon]) -> None:
        self.beginResetModel()
        self.study_uid = study_uid
        self._rows = list(rows)
        self._icons = {r.series_instance_uid: icons[r.series_instance_uid]
                       for r in rows if r.series_instance_uid in icons}
        self._quality = {}
        self._badged.clear()
        self.endResetModel()

    def series(self, row: int) -> SeriesRow:
        return self._rows[row]

    def series_uids(self) -> list[str]:
        return [r.series_instance_uid for r in self._rows]

    def has_thumbnail(self, series_uid: str) -> bool:
        return series_uid in self._icons

    def set_icon(self, series_uid: str, icon: QIcon) -> None:
        for n, row in enumerate(self._rows):
            if row.series_instance_uid == series_uid:
                self._icons[series_uid] = icon
                self._badged.pop(series_uid, None)
                where = self.index(n)
                self.dataChanged.emit(where, where, [Qt.ItemDataRole.DecorationRole])

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return "\n".join(self._lines(row))
        if role == Qt.ItemDataRole.ToolTipRole:
            counts = self._quality.get(row.series_instance_uid)
            return "\n".join([*self._lines(row), badge_tooltip(counts)])
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(row)
        if role == Qt.ItemDataRole.UserRole:
            return row.series_instance_uid
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [SERIES_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        """A dragged series (onto a viewport): its study and series UIDs as JSON."""
        if not indexes:
            return QMimeData()
        row = self._rows[indexes[0].row()]
        return series_mime(row.study_instance_uid, row.series_instance_uid)

    def _lines(self, row: SeriesRow) -> list[str]:
        number = "" if row.series_number is None else f"#{row.series_number} "
        count = row.number_of_instances
        images = self.tr("1 image") if count == 1 else self.tr("{count} images").format(
            count=count
        )
        return [f"{number}{row.modality}".strip(), row.series_description, images]

    def _decoration(self, row: SeriesRow) -> QIcon:
        """The thumbnail (or placeholder) with the series' data-quality badge in its corner."""
        uid = row.series_instance_uid
        icon = self._icons.get(uid) or self._placeholder(row.modality)
        colour = badge_colour(self._quality.get(uid))
        if colour is None:
            return icon
        if uid not in self._badged:
            pixmap = icon.pixmap(THUMB_SIZE, THUMB_SIZE).copy()
            painter = QPainter(pixmap)
            radius = BADGE_SIZE / 2 + 2
            paint_badge(painter, QPointF(pixmap.width() - radius, radius), colour,
                        BADGE_SIZE + 2)
            painter.end()
            self._badged[uid] = QIcon(pixmap)
        return self._badged[uid]

    def _placeholder(self, modality: str) -> QIcon:
        """A dark square with the modality while the thumbnail is being made."""
        if modality not in self._placeholders:
            pixmap = QPixmap(THUMB_SIZE, THUMB_SIZE)
            pixmap.fill(QColor("#2b2b2b"))
            painter = QPainter(pixmap)
            painter.setPen(QColor("#8a8a8a"))
            painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, modality or "…")
            painter.end()
            self._placeholders[modality] = QIcon(pixmap)
        return self._placeholders[modality]


# --- the widget ----------------------------------------------------------------------------------
