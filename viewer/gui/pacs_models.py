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


class _FindResultsModel(RowsTableModel):
    """C-FIND matches, one row each, with what the archive already holds of each (the LOCAL
    column, by the level's unique key `_UID`); sortable by any column."""

    LOCAL: int
    _UID: str
    _KEYWORDS: tuple[str, ...]
    _NUMBERS: tuple[int, ...]  # columns of numbers: aligned right, sorted by value

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[FindResult] = []
        self._local: dict[str, int] = {}  # unique key -> images in our archive

    def set_local_counts(self, counts: dict[str, int]) -> None:
        """How many images of each listed study or series the archive already holds."""
        self._local = dict(counts)
        if self._rows:
            self.dataChanged.emit(self.index(0, self.LOCAL),
                                  self.index(len(self._rows) - 1, self.LOCAL))

    def result(self, row: int) -> FindResult:
        return self._rows[row]

    def uid(self, row: int) -> str:
        return str(self._rows[row].get(self._UID))

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        result = self._rows[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.display(result, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (*self._NUMBERS, self.LOCAL):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def display(self, result: FindResult, column: int) -> str:
        if column == self.LOCAL:
            count = self._local_count(result)
            return str(count) if count else ""
        return self._text(result, column)

    def _text(self, result: FindResult, column: int) -> str:
        return result.text(self._KEYWORDS[column])

    def _local_count(self, result: FindResult) -> int:
        return self._local.get(str(result.get(self._UID)), 0)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._rows.sort(key=self._key(column), reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()

    def _key(self, column: int) -> Callable[[FindResult], tuple[int, Any]]:
        keyword = self._KEYWORDS[column]

        def key(result: FindResult) -> tuple[int, Any]:
            if column == self.LOCAL:
                return (0, self._local_count(result))
            if column in self._NUMBERS:
                try:  # IS / US values: numbers first, in order; missing or odd ones last
                    return (0, int(result.text(keyword)))
                except ValueError:
                    return (1, 0)
            return (0, result.text(keyword).casefold())

        return key


class QueryResultModel(_FindResultsModel):
    """Study-level C-FIND matches, in the order received (sortable)."""

    NAME, ID, BIRTH, DATE, DESCRIPTION, MODALITIES, ACCESSION, IMAGES, LOCAL = range(9)
    _UID = "StudyInstanceUID"
    _KEYWORDS = (
        "PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyDescription",
        "ModalitiesInStudy", "AccessionNumber", "NumberOfStudyRelatedInstances", "",
    )
    _NUMBERS = (IMAGES,)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._headers = [
            self.tr("Patient name"), self.tr("Patient ID"), self.tr("Birth date"),
            self.tr("Study date"), self.tr("Description"), self.tr("Modalities"),
            self.tr("Accession"), self.tr("Images"), self.tr("In archive"),
        ]

    def set_results(self, results: Sequence[FindResult]) -> None:
        self.beginResetModel()
        self._rows = list(results)
        self.endResetModel()

    def study_uids(self) -> list[str]:
        return [str(r.get(self._UID)) for r in self._rows]

    def study_uid(self, row: int) -> str:
        return self.uid(row)

    def _text(self, result: FindResult, column: int) -> str:
        keyword = self._KEYWORDS[column]
        if column in (self.BIRTH, self.DATE):
            return text.format_date(result.text(keyword))
        if column == self.MODALITIES:
            return ", ".join(m for m in result.text(keyword).split("\\") if m)
        return result.text(keyword)


class SeriesResultModel(_FindResultsModel):
    """Series-level C-FIND matches of one study, by series number (sortable)."""

    NUMBER, MODALITY, DESCRIPTION, IMAGES, LOCAL = range(5)
    _UID = "SeriesInstanceUID"
    _KEYWORDS = ("SeriesNumber", "Modality", "SeriesDescription",
                 "NumberOfSeriesRelatedInstances", "")
    _NUMBERS = (NUMBER, IMAGES)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
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

    def series_uid(self, row: int) -> str:
        return self.uid(row)
