"""The worklist panel's table: the scheduled procedure steps a worklist query returned
(viewer.net.worklist.WorklistItem), with the state of the performed step started for each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt

from viewer.dicom import text
from viewer.gui.browser_models import RowsTableModel

if TYPE_CHECKING:  # pynetdicom loads with viewer.net: not at the window's start
    from viewer.net.worklist import WorklistItem

ItemKey = tuple[str, str, str]  # Study Instance UID, accession number, scheduled step ID


def item_key(item: WorklistItem) -> ItemKey:
    """What identifies a scheduled procedure step across queries (a requested procedure may
    have several steps under one accession number)."""
    return item.study_instance_uid, item.accession_number, item.step_id


class WorklistModel(RowsTableModel):
    """Worklist items, one row each, in the order received (sortable by any column)."""

    WHEN, MODALITY, STATION, NAME, PATIENT_ID, ACCESSION, PROCEDURE, STEP = range(8)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[WorklistItem] = []
        self._steps: dict[ItemKey, str] = {}  # the performed step's status, by item
        self._headers = [
            self.tr("Scheduled"), self.tr("Modality"), self.tr("Station AE"),
            self.tr("Patient name"), self.tr("Patient ID"), self.tr("Accession"),
            self.tr("Requested procedure"), self.tr("Performed step"),
        ]

    def set_items(self, items: Sequence[WorklistItem]) -> None:
        """The items in the order of their scheduled start (the peer's order otherwise)."""
        self.beginResetModel()
        self._rows = sorted(items, key=lambda item: f"{item.start_date}{item.start_time}")
        self.endResetModel()

    def item(self, row: int) -> WorklistItem:
        return self._rows[row]

    def set_step_status(self, key: ItemKey, status: str) -> None:
        """Show `status` (IN PROGRESS, COMPLETED, DISCONTINUED) for the item `key`."""
        self._steps[key] = status
        for row, item in enumerate(self._rows):
            if item_key(item) == key:
                cell = self.index(row, self.STEP)
                self.dataChanged.emit(cell, cell)

    def step_status(self, row: int) -> str:
        return self._steps.get(item_key(self._rows[row]), "")

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.display(index.row(), index.column())
        return None

    def display(self, row: int, column: int) -> str:
        item = self._rows[row]
        if column == self.WHEN:
            time = item.start_time[:4]
            shown = f"{time[:2]}:{time[2:]}" if len(time) == 4 and time.isdigit() else time
            return f"{text.format_date(item.start_date)} {shown}".strip()
        if column == self.PROCEDURE:
            return item.requested_procedure_description or item.step_description
        if column == self.STEP:
            return self.step_status(row)
        if column == self.NAME:
            return text.person_name_text(item.patient_name)
        return {
            self.MODALITY: item.modality,
            self.STATION: item.station_ae_title,
            self.PATIENT_ID: item.patient_id,
            self.ACCESSION: item.accession_number,
        }[column]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        if column == self.WHEN:  # by date and time as given, not as shown
            keys = [f"{item.start_date}{item.start_time}" for item in self._rows]
        else:
            keys = [self.display(row, column).casefold() for row in range(len(self._rows))]
        rows = sorted(range(len(keys)), key=keys.__getitem__,
                      reverse=order == Qt.SortOrder.DescendingOrder)
        self._rows = [self._rows[row] for row in rows]
        self.layoutChanged.emit()
