"""The "Data quality" panel of a study: its findings per file and its series and study
findings in one sortable table, "Validate again" (a Task with progress and Cancel), and the
table exported as CSV or HTML (viewer.quality.report_table's writers, as a script would).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from viewer.archive.archive import Archive
from viewer.gui.browser_models import RowsTableModel
from viewer.gui.quality_badges import ERROR_COLOUR, WARNING_COLOUR
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback
from viewer.quality.findings import ValidationReport
from viewer.quality.report_table import (
    FindingRow,
    finding_rows,
    summary_text,
    write_csv,
    write_html,
)
from viewer.quality.store import study_counts, study_report, validate_stored

SEVERITY_ORDER = {"error": 0, "warning": 1}
_UNKNOWN_FILE = 1 << 40  # files not in the archive's index sort last


class FindingsModel(RowsTableModel):
    """Rows of report_table.finding_rows; the file column shows `labels` (series and image
    numbers, by SOP Instance or Series Instance UID) else the file's name, its path in the
    tooltip; sorted by the proxy on the sort role."""

    SEVERITY, FILE, TAG, KEYWORD, MODULE, MESSAGE = range(6)
    SORT_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[FindingRow] = []
        self.labels: dict[str, str] = {}
        self.sort_keys: dict[str, int] = {}
        self._headers = [self.tr("Severity"), self.tr("File"), self.tr("Tag"),
                         self.tr("Keyword"), self.tr("Module"), self.tr("Message")]

    @property
    def rows(self) -> list[FindingRow]:
        return list(self._rows)

    def set_rows(self, rows: list[FindingRow]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._file(row) if column == self.FILE else row.cells()[column]
        if role == self.SORT_ROLE:
            if column == self.SEVERITY:
                return SEVERITY_ORDER.get(row.severity, 2)
            if column == self.FILE:  # by series, then image number, as it reads
                # an int: a Python tuple reaches the proxy as an opaque, unordered value
                return self.sort_keys.get(row.sop_instance_uid or row.series_instance_uid,
                                          _UNKNOWN_FILE)
            return row.cells()[column].casefold()
        if role == Qt.ItemDataRole.ToolTipRole and column in (self.FILE, self.MESSAGE):
            return row.cells()[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == self.SEVERITY:
            return QBrush(ERROR_COLOUR if row.severity == "error" else WARNING_COLOUR)
        return None


    def _file(self, row: FindingRow) -> str:
        label = self.labels.get(row.sop_instance_uid or row.series_instance_uid)
        if label:
            return label
        return Path(row.file).name if row.sop_instance_uid else row.file


def archive_labels(archive: Archive, study_uid: str) -> tuple[dict[str, str], dict[str, int]]:
    """'Series 2, image 14' per SOP Instance UID and 'Series 2' per Series Instance UID of a
    stored study (store file names are hashes: they tell a reader nothing), and the keys
    sorting them in reading order."""
    labels: dict[str, str] = {}
    keys: dict[str, int] = {}
    for n, series in enumerate(archive.index.series(study_uid)):
        number = "" if series.series_number is None else f" {series.series_number}"
        name = QCoreApplication.translate("QualityDialog", "Series%1").replace("%1", number)
        labels[series.series_instance_uid] = name
        keys[series.series_instance_uid] = n << 20
        for m, row in enumerate(archive.index.instances(series.series_instance_uid)):
            image = "" if row.instance_number is None else str(row.instance_number)
            labels[row.sop_instance_uid] = QCoreApplication.translate(
                "QualityDialog", "%1, image %2").replace("%1", name).replace("%2", image)
            keys[row.sop_instance_uid] = (n << 20) + m + 1
    return labels, keys


class QualityDialog(QDialog):
    """The findings of one study of the archive (non-modal). `revalidated` (the Study
    Instance UID) after "Validate again" completed."""

    revalidated = Signal(str)

    def __init__(self, archive: Archive, tasks: TaskRunner, study_uid: str,
                 title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.archive = archive
        self.tasks = tasks
        self.study_uid = study_uid
        self.task: Task | None = None
        self.setWindowTitle(self.tr("Data quality — %1").replace("%1", title or study_uid))
        self.model = FindingsModel(self)
        self.model.labels, self.model.sort_keys = archive_labels(archive, study_uid)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(FindingsModel.SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(FindingsModel.SEVERITY, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(FindingsModel.MESSAGE, QHeaderView.ResizeMode.Stretch)
        for column, width in ((FindingsModel.SEVERITY, 70), (FindingsModel.FILE, 150),
                              (FindingsModel.TAG, 90), (FindingsModel.KEYWORD, 150),
                              (FindingsModel.MODULE, 150)):
            header.resizeSection(column, width)
        self.summary = QLabel()
        self.progress = QProgressBar()
        self.validate_button = self._button(self.tr("Validate again"), self.validate_again)
        self.cancel_button = self._button(self.tr("Cancel"), self.cancel)
        self.csv_button = self._button(self.tr("Export CSV..."), lambda: self._export("csv"))
        self.html_button = self._button(self.tr("Export HTML..."), lambda: self._export("html"))
        buttons = QHBoxLayout()
        for widget in (self.validate_button, self.progress, self.cancel_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.csv_button)
        buttons.addWidget(self.html_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.resize(980, 460)
        self._running(False)
        self.show_report(study_report(archive, study_uid))
        counts = study_counts(archive, [study_uid]).get(study_uid)
        if counts is not None and counts.pending:  # never validated, or grown since: now
            self.validate_again()

    def _button(self, label: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(label)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def show_report(self, report: ValidationReport) -> None:
        self.model.set_rows(finding_rows(report))
        if not report.files:
            self.summary.setText(self.tr("Not validated yet: validating..."))
        else:
            self.summary.setText(self.tr("%1 files checked: %2").replace(
                "%1", str(len(report.files))).replace("%2", summary_text(report)))

    def validate_again(self) -> Task:
        """Validate the study's stored files again on a pool thread (progress, Cancel)."""
        archive, uid = self.archive, self.study_uid

        def run(progress: ProgressCallback, cancel: CancelToken) -> bool:
            validate_stored(archive, [uid], cancel, progress)
            return not cancel.cancelled

        task = self.tasks.start(run, "validate")
        self.task = task
        task.progress.connect(self._progress)
        task.succeeded.connect(self._validated)
        task.failed.connect(lambda reason: self.summary.setText(
            self.tr("Validation failed: %1").replace("%1", reason)))
        task.finished.connect(lambda: self._running(False))
        self._running(True)
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _progress(self, done: int, total: int, _label: str) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _validated(self, complete: bool) -> None:
        self.show_report(study_report(self.archive, self.study_uid))
        if complete:
            self.revalidated.emit(self.study_uid)

    def _running(self, running: bool) -> None:
        if not running:
            self.task = None
        self.progress.setVisible(running)
        self.progress.setValue(0)
        self.cancel_button.setVisible(running)
        self.validate_button.setEnabled(not running)

    def shown_rows(self) -> list[FindingRow]:
        """The rows in the order the table shows them (its sort)."""
        rows = self.model.rows
        return [rows[self.proxy.mapToSource(self.proxy.index(n, 0)).row()]
                for n in range(self.proxy.rowCount())]

    def export(self, path: Path) -> None:
        """Write the table, in its shown order, as CSV or HTML (by the file's suffix)."""
        if path.suffix.lower() in (".html", ".htm"):
            write_html(self.shown_rows(), path, self.windowTitle())
        else:
            write_csv(self.shown_rows(), path)

    def _export(self, kind: str) -> None:
        filters = {"csv": self.tr("CSV (*.csv)"), "html": self.tr("HTML (*.html)")}
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Export findings"),
                                              f"findings.{kind}", filters[kind])
        if name:
            try:
                self.export(Path(name))
            except OSError as error:
                self.summary.setText(self.tr("Cannot write %1: %2").replace(
                    "%1", name).replace("%2", error.strerror or str(error)))
