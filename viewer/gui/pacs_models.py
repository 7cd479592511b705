"""The PACS panel's item models: the studies and the series a C-FIND returned
(viewer.net.query.FindResult)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt

from viewer.dicom import text
from viewer.gui.browser_models import RowsTableModel

if TYPE_CHECKING:  # pynetdicom loads with viewer.net: not at the window's start
    from viewer.net.query import FindResult


class QueryResultModel(RowsTableModel):
    """Study-level C-FIND matches, one row each, in the order received (sortable)."""

    NAME, ID, BIRTH, DATE, DESCRIPTION, MODALITIES, ACCESSION, IMAGES, LOCAL = range(9)
    _KEYWORDS = (
        "PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyDescription",
        "ModalitiesInStudy", "AccessionNumber", "NumberOfStudyRelatedInstances", "",
    )

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[FindResult] = []
        self._local: dict[str, int] = {}  # Study Instance UID -> images in our archive
        self._headers = [
            self.tr("Patient name"), self.tr("Patient ID"), self.tr("Birth date"),
            self.tr("Study date"), self.tr("Description"), self.tr("Modalities"),
            self.tr("Accession"), self.tr("Images"), self.tr("In archive"),
        ]

    def set_results(self, results: Sequence[FindResult]) -> None:
        self.beginResetModel()
        self._rows = list(results)
        self.endResetModel()

    def set_local_counts(self, counts: dict[str, int]) -> None:
        """How many images of each listed study the archive already holds."""
        self._local = dict(counts)
        if self._rows:
            self.dataChanged.emit(self.index(0, self.LOCAL),
                                  self.index(len(self._rows) - 1, self.LOCAL))

    def study_uids(self) -> list[str]:
        return [str(r.get("StudyInstanceUID")) for r in self._rows]

    def result(self, row: int) -> FindResult:
        return self._rows[row]

    def study_uid(self, row: int) -> str:
        return str(self._rows[row].get("StudyInstanceUID"))

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        result = self._rows[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.display(result, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (self.IMAGES, self.LOCAL):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def display(self, result: FindResult, column: int) -> str:
        keyword = self._KEYWORDS[column]
        if column == self.LOCAL:
            count = self._local.get(str(result.get("StudyInstanceUID")), 0)
            return str(count) if count else ""
        if column in (self.BIRTH, self.DATE):
            return text.format_date(result.text(keyword))
        if column == self.MODALITIES:
            return ", ".join(m for m in result.text(keyword).split("\\") if m)
        return result.text(keyword)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        keyword = self._KEYWORDS[column]

        def key(result: FindResult) -> tuple[int, Any]:
            value = result.get(keyword)
            if column == self.LOCAL:
                return (0, self._local.get(str(result.get("StudyInstanceUID")), 0))
            if column == self.IMAGES:
                return (0, value) if isinstance(value, int) else (1, 0)
            return (0, result.text(keyword).casefold())

        self.layoutAboutToBeChanged.emit()
        self._rows.sort(key=key, reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()


class SeriesResultModel(RowsTableModel):
    """Series-level C-FIND matches of one study, by series number (sortable)."""

    NUMBER, MODALITY, DESCRIPTION, IMAGES, LOCAL = range(5)
    _KEYWORDS = ("SeriesNumber", "Modality", "SeriesDescription",
                 "NumberOfSeriesRelatedInstances", "")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[FindResult] = []
        self._local: dict[str, int] = {}  # Series Instance UID -> images in our archive
        self.study_uid = ""  # whose series these are
        self._headers = [
            self.tr("Number"), self.tr("Modality"), self.tr("Description"), self.tr("Images"),
            self.tr("In archive"),
        ]

    def set_results(self, study_uid: str, results: Sequence[FindResult]) -> None:
        self.beginResetModel()
        self.study_uid = study_uid
        self._rows = sorted(results, key=self._key(self.NUMBER))
        self.endResetModel()

    def set_local_counts(self, counts: dict[str, int]) -> None:
        """How many images of each listed series the archive already holds."""
        self._local = dict(counts)
        if self._rows:
            self.dataChanged.emit(self.index(0, self.LOCAL),
                                  self.index(len(self._rows) - 1, self.LOCAL))

    def series_uid(self, row: int) -> str:
        return str(self._rows[row].get("SeriesInstanceUID"))

    def result(self, row: int) -> FindResult:
        return self._rows[row]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        result = self._rows[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.display(result, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
                self.NUMBER, self.IMAGES, self.LOCAL):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def display(self, result: FindResult, column: int) -> str:
        if column == self.LOCAL:
            count = self._local.get(str(result.get("SeriesInstanceUID")), 0)
            return str(count) if count else ""
        return result.text(self._KEYWORDS[column])

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._rows.sort(key=self._key(column), reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()

    def _key(self, column: int) -> Callable[[FindResult], tuple[int, Any]]:
        keyword = self._KEYWORDS[column]

        def key(result: FindResult) -> tuple[int, Any]:
            if column == self.LOCAL:
                return (0, self._local.get(str(result.get("SeriesInstanceUID")), 0))
            if column in (self.NUMBER, self.IMAGES):
                try:  # IS values: numbers first, in order; missing or odd ones last
                    return (0, int(result.text(keyword)))
                except ValueError:
                    return (1, 0)
            return (0, result.text(keyword).casefold())

        return key
