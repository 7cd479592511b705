"""The worklist panel: the scheduled procedure steps of the configured worklist node
(`[worklist] node`, chosen here too), filtered by date (today unless changed), modality,
station AE title and patient; the Modality Performed Procedure Step around the step of the
item selected (Start: N-CREATE IN PROGRESS; Complete / Discontinue: N-SET with the series the
step made, to `[worklist] mpps_node` or the worklist node); and files to DICOMize for the
item, chosen or dropped on the panel (`dicomize_requested`, wired by the main window).

Queries and MPPS messages run as Tasks (viewer.gui.tasks), never on the GUI thread, one of each
at a time; the step's rules are viewer.net.procedure_step's, as `dicom-viewer mpps` uses them.
Every failure is one line in the status, never a dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDate, QPoint, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from viewer.archive.archive import Archive
from viewer.config import ConfigError, Node, Settings
from viewer.gui.pacs_query import ERROR_STYLE, OK_STYLE, WARNING_STYLE
from viewer.gui.search_fields import COMMON_MODALITIES, search_pattern, study_table
from viewer.gui.storage_service import local_ae
from viewer.gui.tasks import Task, TaskRunner
from viewer.gui.worklist_model import ItemKey, WorklistModel, item_key
from viewer.jobs import CancelToken, ProgressCallback

if TYPE_CHECKING:
    # viewer.net loads pynetdicom (~0.2 s): imported when first used, not at the window's start
    from viewer.net.procedure_step import ProcedureStep
    from viewer.net.worklist import WorklistItem, WorklistReport


def worklist_keys(date: str, modality: str, station: str, name: str,
                  patient_id: str) -> dict[str, str]:
    """The worklist C-FIND matching keys (PS3.4 K.6.1.2) for the panel's filters: `date` as
    YYYYMMDD ("" any), `name` as typed (wildcards added as the PACS panel adds them)."""
    keys: dict[str, str] = {}
    if date:
        keys["ScheduledProcedureStepStartDate"] = date
    if modality:
        keys["Modality"] = modality
    if station.strip():
        keys["ScheduledStationAETitle"] = station.strip()
    if pattern := search_pattern(name):
        keys["PatientName"] = pattern
    if patient_id.strip():
        keys["PatientID"] = patient_id.strip()
    return keys


class WorklistPanel(QWidget):
    """The worklist node and its filters, the items found, the performed step of the one
    selected, and DICOMizing files for it."""

    status_message = Signal(str)  # for the window's status bar
    # files chosen or dropped for the selected item: (list of Path, the item's identifier, a
    # pydicom Dataset with its text decoded and its Specific Character Set as received)
    dicomize_requested = Signal(list, object)

    def __init__(self, settings: Settings, archive: Archive, tasks: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.archive = archive
        self.tasks = tasks
        self.worklist_node_name = settings.worklist_node
        self.mpps_node_name = settings.mpps_node
        self._query_task: Task | None = None
        self._step_task: Task | None = None
        self._steps: dict[ItemKey, ProcedureStep] = {}  # the steps started from this panel

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._build_node_row())
        layout.addLayout(self._build_filters())
        layout.addWidget(self._build_table(), 1)
        layout.addLayout(self._build_step_row())
        self.status_label = QLabel()
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)
        self.setAcceptDrops(True)
        if not settings.nodes:
            self._set_status(self.tr("No node is configured. Add the worklist's with:  "
                                     "dicom-viewer nodes add NAME AET HOST PORT"))
        self._update_buttons()

    # --- building ------------------------------------------------------------------------------

    def _button(self, label: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(label)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _build_node_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.node_combo = QComboBox()
        self.mpps_combo = QComboBox()
        self.node_combo.addItem(self.tr("(choose a node)"), "")
        self.mpps_combo.addItem(self.tr("(the worklist node)"), "")
        for node in self.settings.nodes:
            label = f"{node.name}  ({node.ae_title}@{node.host}:{node.port})"
            self.node_combo.addItem(label, node.name)
            self.mpps_combo.addItem(label, node.name)
        for combo, name in ((self.node_combo, self.worklist_node_name),
                            (self.mpps_combo, self.mpps_node_name)):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setCurrentIndex(max(0, combo.findData(name)))
            combo.currentIndexChanged.connect(self._nodes_chosen)
        self.mpps_combo.setToolTip(self.tr(
            "Where Start, Complete and Discontinue send the performed procedure step (MPPS)"))
        row.addWidget(QLabel(self.tr("Worklist node:")))
        row.addWidget(self.node_combo)
        row.addWidget(QLabel(self.tr("MPPS node:")))
        row.addWidget(self.mpps_combo)
        row.addStretch(1)
        return row

    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.date_edit = QDateEdit(QDate.currentDate())
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.any_date_box = QCheckBox(self.tr("Any date"))
        self.any_date_box.toggled.connect(lambda on: self.date_edit.setEnabled(not on))
        self.modality_combo = QComboBox()
        self.modality_combo.addItem(self.tr("Any modality"), "")
        for modality in COMMON_MODALITIES:
            self.modality_combo.addItem(modality, modality)
        self.station_edit = QLineEdit(placeholderText=self.tr("Station AE title"))
        self.name_edit = QLineEdit(placeholderText=self.tr("Patient name (* ?)"))
        self.id_edit = QLineEdit(placeholderText=self.tr("Patient ID"))
        self.search_button = self._button(self.tr("Search"), self.search)
        for edit in (self.station_edit, self.name_edit, self.id_edit):
            edit.setClearButtonEnabled(True)
            edit.returnPressed.connect(self.search)
        row.addWidget(QLabel(self.tr("Scheduled:")))
        row.addWidget(self.date_edit)
        row.addWidget(self.any_date_box)
        row.addWidget(self.modality_combo)
        row.addWidget(self.station_edit, 1)
        row.addWidget(self.name_edit, 2)
        row.addWidget(self.id_edit, 1)
        row.addWidget(self.search_button)
        return row

    def _build_table(self) -> QTableView:
        self.model = WorklistModel(self)
        self.table = study_table(
            self, self.model, WorklistModel.PROCEDURE,
            ((0, 16), (1, 9), (2, 12), (3, 22), (4, 12), (5, 12), (7, 16)),
        )
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(False)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        return self.table

    def _build_step_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = self._button(self.tr("Start"), self.start_step)
        self.start_button.setToolTip(self.tr(
            "Tell the RIS the procedure has begun (MPPS N-CREATE, IN PROGRESS)"))
        self.complete_button = self._button(self.tr("Complete"), self.complete_step)
        self.complete_button.setToolTip(self.tr(
            "Tell the RIS the procedure is done, with the series it made (MPPS N-SET)"))
        self.discontinue_button = self._button(self.tr("Discontinue"), self.discontinue_step)
        self.dicomize_button = self._button(self.tr("DICOMize files for this item…"),
                                            self.choose_files_to_dicomize)
        self.dicomize_button.setToolTip(self.tr(
            "Photos (JPEG, PNG) or documents (PDF) into DICOM for the patient and order of the "
            "selected item; you can also drop the files on this panel"))
        self.step_label = QLabel()
        for widget in (self.start_button, self.complete_button, self.discontinue_button):
            row.addWidget(widget)
        row.addWidget(self.step_label, 1)
        row.addWidget(self.dicomize_button)
        return row

    # --- state ---------------------------------------------------------------------------------

    def _node(self, name: str) -> Node | None:
        return next((n for n in self.settings.nodes if n.name == name), None)

    def worklist_node(self) -> Node | None:
        return self._node(self.worklist_node_name)

    def mpps_node(self) -> Node | None:
        return self._node(self.mpps_node_name or self.worklist_node_name)

    def selected_item(self) -> WorklistItem | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.item(rows[0].row()) if len(rows) == 1 else None

    def step_of(self, item: WorklistItem) -> ProcedureStep | None:
        """The performed step started for `item` from this panel, if any."""
        return self._steps.get(item_key(item))

    def _update_buttons(self, *_: object) -> None:
        item = self.selected_item()
        step = self.step_of(item) if item is not None else None
        status = step.status if step is not None else ""
        can_send = item is not None and self.mpps_node() is not None and self._step_task is None
        self.search_button.setEnabled(self.worklist_node() is not None
                                      and self._query_task is None)
        self.start_button.setEnabled(can_send and step is None)
        self.complete_button.setEnabled(can_send and status == "IN PROGRESS")
        self.discontinue_button.setEnabled(can_send and status == "IN PROGRESS")
        self.dicomize_button.setEnabled(item is not None)
        if item is None:
            self.step_label.setText(self.tr("Select one item."))
        elif step is None:
            self.step_label.setText(self.tr("Accession {accession}: not started").format(
                accession=item.accession_number or "-"))
        else:
            self.step_label.setText(self.tr("Accession {accession}: {status}").format(
                accession=item.accession_number or "-", status=step.status))

    def _set_status(self, text: str, style: str = "", details: str = "") -> None:
        """The status line (one line: a peer's multi-line answer is joined); `details` is
        its tooltip."""
        line = " ".join(text.split())
        self.status_label.setText(line)
        self.status_label.setStyleSheet(style)
        self.status_label.setToolTip(details)
        self.status_message.emit(line)

    def _nodes_chosen(self) -> None:
        """Remember the nodes chosen in the config file (`[worklist] node`, `mpps_node`)."""
        self.worklist_node_name = str(self.node_combo.currentData() or "")
        self.mpps_node_name = str(self.mpps_combo.currentData() or "")
        self._update_buttons()
        if self.settings.path is None:
            return  # settings made in memory (tests, `view` without a config): nothing to keep
        from viewer.net.nodes import set_worklist_nodes

        try:
            set_worklist_nodes(self.worklist_node_name, self.mpps_node_name, self.settings.path)
        except (ConfigError, OSError) as exc:
            self._set_status(self.tr("The choice of node is not kept: {reason}").format(
                reason=exc), ERROR_STYLE)

    # --- query ---------------------------------------------------------------------------------

    def query_keys(self) -> dict[str, str]:
        date = "" if self.any_date_box.isChecked() else self.date_edit.date().toString("yyyyMMdd")
        return worklist_keys(date, str(self.modality_combo.currentData() or ""),
                             self.station_edit.text(), self.name_edit.text(),
                             self.id_edit.text())

    def search(self) -> None:
        """Query the worklist node with the filters, as a Task."""
        node = self.worklist_node()
        if node is None or self._query_task is not None:
            return
        keys, local = self.query_keys(), local_ae(self.settings)

        def run(_progress: ProgressCallback, _cancel: CancelToken) -> WorklistReport:
            from viewer.net.worklist import query_worklist

            return query_worklist(node, local, keys)

        task = self.tasks.start(run, "worklist")
        self._query_task = task
        task.succeeded.connect(self._search_done)
        task.failed.connect(lambda reason: self._set_status(
            self.tr("Worklist query failed: {reason}").format(reason=reason), ERROR_STYLE))
        task.finished.connect(self._search_finished)
        self._set_status(self.tr("Asking {node} for its worklist...").format(node=node.name))
        self._update_buttons()

    def _search_done(self, report: WorklistReport) -> None:
        self.model.set_items(report.items)
        for key, step in self._steps.items():
            self.model.set_step_status(key, step.status)
        self.table.horizontalHeader().setSortIndicatorShown(False)
        text = self.tr("Scheduled procedure steps on {peer}: {count}").format(
            count=len(report.items), peer=report.peer)
        notes = []
        if report.warnings:
            notes.append(self.tr("text problems: {count} (hover for details)").format(
                count=len(report.warnings)))
        if report.lost:
            notes.append(self.tr("answers that could not be read: {count}").format(
                count=report.lost))
        self._set_status("; ".join([text, *notes]), WARNING_STYLE if notes else "",
                         "\n".join(report.warnings))
        if report.items:
            self.table.selectRow(0)
        self._update_buttons()

    def _search_finished(self) -> None:
        self._query_task = None
        self._update_buttons()

    # --- the performed procedure step ----------------------------------------------------------

    def start_step(self) -> None:
        """MPPS N-CREATE (IN PROGRESS) for the selected item, as a Task."""
        item, node = self.selected_item(), self.mpps_node()
        if item is None or node is None or self._step_task is not None:
            return
        if self.step_of(item) is not None:
            return  # started already: the button is disabled, a second start is refused
        local, archive = local_ae(self.settings), self.archive

        def run(_progress: ProgressCallback, _cancel: CancelToken) -> ProcedureStep:
            from viewer.net.procedure_step import ProcedureStep

            step = ProcedureStep.for_item(item)
            step.start(node, local, archive)
            return step

        def started(step: ProcedureStep) -> None:
            key = item_key(item)
            self._steps[key] = step
            self.model.set_step_status(key, step.status)
            self._set_status(self.tr("Started on {node}: accession {accession} is IN PROGRESS "
                                     "(MPPS {uid})").format(
                node=node.name, accession=item.accession_number or "-", uid=step.mpps_uid),
                OK_STYLE)

        self._run_step(run, started, self.tr("Start failed: {reason}"),
                       self.tr("Starting the step on {node}...").format(node=node.name))

    def complete_step(self) -> None:
        self._end_step("COMPLETED")

    def discontinue_step(self) -> None:
        self._end_step("DISCONTINUED")

    def _end_step(self, status: str) -> None:
        """MPPS N-SET `status` with the series the step made, as a Task."""
        item, node = self.selected_item(), self.mpps_node()
        if item is None or node is None or self._step_task is not None:
            return
        step = self.step_of(item)
        if step is None:
            self._set_status(self.tr("{status} not sent: the step has not been started").format(
                status=status), ERROR_STYLE)
            return
        from viewer.net.procedure_step import StepStateError  # loaded by the step's start

        try:
            step.check_can_end()
        except StepStateError as exc:
            self._set_status(self.tr("{status} not sent: {reason}").format(
                status=status, reason=exc), ERROR_STYLE)
            return
        local, archive = local_ae(self.settings), self.archive

        def run(_progress: ProgressCallback, _cancel: CancelToken) -> int:
            series = step.series_made(archive)
            step.end(node, local, status, series)
            return len(series)

        def ended(count: int) -> None:
            self.model.set_step_status(item_key(item), step.status)
            self._set_status(self.tr("Accession {accession} {status} on {node} with {count} "
                                     "series").format(
                accession=item.accession_number or "-", status=status, node=node.name,
                count=count), OK_STYLE)

        failure = (self.tr("COMPLETED failed: {reason}") if status == "COMPLETED" else
                   self.tr("DISCONTINUED failed: {reason}"))
        self._run_step(run, ended, failure, self.tr("Sending {status} to {node}...").format(
            status=status, node=node.name))

    def _run_step(self, run: Callable[[ProgressCallback, CancelToken], Any],
                  done: Callable[[Any], None], failure: str, running: str) -> None:
        """Run an MPPS job; `failure` has a {reason} placeholder for the status line."""
        task = self.tasks.start(run, "mpps")
        self._step_task = task
        task.succeeded.connect(done)
        task.failed.connect(lambda reason: self._set_status(
            failure.replace("{reason}", reason), ERROR_STYLE))
        task.finished.connect(self._step_finished)
        self._set_status(running)
        self._update_buttons()

    def _step_finished(self) -> None:
        self._step_task = None
        self._update_buttons()

    # --- DICOMization --------------------------------------------------------------------------

    def choose_files_to_dicomize(self) -> None:
        """Pick JPEG, PNG or PDF files for the selected item."""
        if self.selected_item() is None:
            return
        paths, _ = QFileDialog.getOpenFileNames(
            self, self.tr("DICOMize files for this item"), "",
            self.tr("Photos and documents (*.jpg *.jpeg *.png *.pdf);;All files (*)"))
        self.request_dicomize([Path(p) for p in paths])

    def request_dicomize(self, paths: list[Path]) -> None:
        """Emit `dicomize_requested` for `paths` and the selected item (none: a status line)."""
        item = self.selected_item()
        if not paths:
            return
        if item is None:
            self._set_status(self.tr("Select the worklist item the files are for."),
                             ERROR_STYLE)
            return
        self._set_status(self.tr("Files to DICOMize for accession {accession}: {count}").format(
            count=len(paths), accession=item.accession_number or "-"))
        self.dicomize_requested.emit(paths, item)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if _dropped_files(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt's name
        if _dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        """Files dropped on a row are for that row's item; elsewhere, for the selected one."""
        paths = _dropped_files(event)
        if not paths:
            return
        event.acceptProposedAction()
        viewport = self.table.viewport()
        where = viewport.mapFrom(self, QPoint(int(event.position().x()),
                                              int(event.position().y())))
        index = self.table.indexAt(where)
        if index.isValid() and viewport.rect().contains(where):
            self.table.selectRow(index.row())
        self.request_dicomize(paths)


def _dropped_files(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[Path]:
    """The local files a drag carries (folders and remote URLs left out)."""
    data = event.mimeData()
    if not data.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in data.urls() if url.isLocalFile()]
    return [p for p in paths if p.is_file()]
