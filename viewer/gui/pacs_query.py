"""The query half of the PACS panel: the node, C-ECHO, the C-FIND fields, the studies found and
the series of the study selected, and the status line.

Every network call runs as a Task (viewer.gui.tasks), never on the GUI thread; this class only
builds the keys, routes the results and draws. The network itself is viewer.net's, through
viewer.net.transport as for the command line: a DICOMweb node is echoed with a QIDO-RS probe
and searched with QIDO-RS, with the same keys, columns and one-line errors as a DIMSE node
(this module imports neither pynetdicom nor sqlite3). viewer.gui.pacs_transfer adds
retrieving and sending.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from viewer.archive.archive import Archive
from viewer.config import Node, Settings
from viewer.gui.browser import StudyBrowser
from viewer.gui.pacs_models import QueryResultModel, SeriesResultModel
from viewer.gui.search_fields import COMMON_MODALITIES, date_bound, search_pattern, study_table
from viewer.gui.storage_service import local_ae
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback

if TYPE_CHECKING:
    # viewer.net loads pynetdicom (~0.2 s): imported when first used, not at the window's start
    from viewer.net.echo import EchoResult
    from viewer.net.query import FindReport

SERIES_DELAY_MS = 250  # a study stays selected this long before its series are asked for
ERROR_STYLE = "color: #d04040;"
WARNING_STYLE = "color: #b06a00;"
OK_STYLE = "color: #2e8b3a;"
_MATCH = re.compile(r"match (\d+): ")  # how viewer.net.query starts each warning


class PacsQuery(QWidget):
    """The node and C-ECHO, the query fields, the C-FIND results and the series of the study
    selected, with what the archive already holds of each. `browser` (optional) is refreshed
    when the archive changed. viewer.gui.pacs.PacsPanel lays the parts out."""

    archive_changed = Signal()
    status_message = Signal(str)  # for the window's status bar

    def __init__(self, settings: Settings, archive: Archive, tasks: TaskRunner,
                 browser: StudyBrowser | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.archive = archive
        self.tasks = tasks
        self.browser = browser
        self._echo_task: Task | None = None
        self._find_task: Task | None = None
        self._series_task: Task | None = None
        self._series_wanted = ""  # the study whose series to ask for once the running find ends
        self._series_timer = QTimer(self)
        self._series_timer.setSingleShot(True)
        self._series_timer.setInterval(SERIES_DELAY_MS)
        self._series_timer.timeout.connect(self.find_series)

    # --- building ------------------------------------------------------------------------------

    def _button(self, label: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(label)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _build_node_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.node_combo = QComboBox()
        self.node_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for node in self.settings.nodes:
            self.node_combo.addItem(node_label(node), node.name)
            self.node_combo.setItemData(self.node_combo.count() - 1, node_address(node),
                                        Qt.ItemDataRole.ToolTipRole)
        self.node_combo.currentIndexChanged.connect(self._node_changed)
        self.echo_button = self._button(self.tr("Echo"), self.echo)
        self.echo_label = QLabel()
        row.addWidget(QLabel(self.tr("Node:")))
        row.addWidget(self.node_combo)
        row.addWidget(self.echo_button)
        row.addWidget(self.echo_label, 1)
        return row

    def _node_changed(self, *_: object) -> None:
        """What Echo does, said for the node's transport; subclasses add theirs."""
        node = self.node()
        web = node is not None and node.dicomweb is not None
        self.echo_button.setToolTip(
            self.tr("QIDO-RS probe: is the DICOMweb service there and does it answer?") if web
            else self.tr("C-ECHO: is the node there and does it answer?"))

    def _build_query(self) -> QGridLayout:
        grid = QGridLayout()
        self.name_edit = QLineEdit(placeholderText=self.tr("Patient name (* ?)"))
        self.name_edit.setToolTip(self.tr(
            "Wildcards: * any text, ? one character. Names beginning with what you type match."
        ))
        self.id_edit = QLineEdit(placeholderText=self.tr("Patient ID"))
        self.accession_edit = QLineEdit(placeholderText=self.tr("Accession number"))
        date_tip = self.tr("YYYY-MM-DD, YYYY-MM or YYYY; empty: no limit")
        self.date_from_edit = QLineEdit(placeholderText=self.tr("From YYYY-MM-DD"))
        self.date_to_edit = QLineEdit(placeholderText=self.tr("To YYYY-MM-DD"))
        self.modality_combo = QComboBox()
        self.modality_combo.addItem(self.tr("Any modality"), "")
        for modality in COMMON_MODALITIES:
            self.modality_combo.addItem(modality, modality)
        self.search_button = self._button(self.tr("Search"), self.search)
        self.search_button.setDefault(True)
        edits = (self.name_edit, self.id_edit, self.accession_edit, self.date_from_edit,
                 self.date_to_edit)
        for edit in edits:
            edit.setClearButtonEnabled(True)
            edit.returnPressed.connect(self.search)
        date_width = self.fontMetrics().horizontalAdvance(self.date_from_edit.placeholderText())
        for edit in (self.date_from_edit, self.date_to_edit):
            edit.setToolTip(date_tip)
            edit.setMinimumWidth(date_width + 40)  # the placeholder and the clear button
            edit.setMaximumWidth(date_width + 60)
        row = QHBoxLayout()
        row.addWidget(self.name_edit, 3)
        row.addWidget(self.id_edit, 2)
        row.addWidget(self.accession_edit, 2)
        row.addWidget(self.date_from_edit, 1)
        row.addWidget(self.date_to_edit, 1)
        row.addWidget(self.modality_combo)
        row.addWidget(self.search_button)
        grid.addLayout(row, 0, 0)
        return grid

    def _build_table(self) -> QTableView:
        self.model = QueryResultModel(self)
        self.table = study_table(
            self, self.model, QueryResultModel.DESCRIPTION,
            ((0, 24), (1, 12), (2, 11), (3, 11), (5, 10), (6, 14), (7, 7), (8, 10)),
        )
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(False)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.selectionModel().selectionChanged.connect(self._study_selection_changed)
        return self.table

    def _build_series(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 4, 0, 0)
        self.series_label = QLabel(self.tr("Select one study to see its series."))
        self.series_model = SeriesResultModel(self)
        self.series_table = study_table(
            self, self.series_model, SeriesResultModel.DESCRIPTION,
            ((0, 8), (1, 9), (3, 8), (4, 10)),
        )
        self.series_table.setSortingEnabled(True)
        self.series_table.horizontalHeader().setSortIndicatorShown(False)
        self.series_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.series_table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.series_header = QHBoxLayout()  # the label, then what PacsTransfer adds
        self.series_header.addWidget(self.series_label, 1)
        column.addLayout(self.series_header)
        column.addWidget(self.series_table, 1)
        return box

    def _build_results_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.results_label = QLabel()
        row.addWidget(self.results_label, 1)
        return row

    def _build_status_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        row.addWidget(self.status_label, 1)
        return row

    # --- state ---------------------------------------------------------------------------------

    def node(self) -> Node | None:
        """The node chosen in the combo."""
        name = self.node_combo.currentData()
        return next((n for n in self.settings.nodes if n.name == name), None)

    def _update_buttons(self, *_: object) -> None:
        has_node = self.node() is not None
        self.echo_button.setEnabled(has_node and self._echo_task is None)
        self.search_button.setEnabled(has_node and self._find_task is None)

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def selected_series_rows(self) -> list[int]:
        return sorted({i.row() for i in self.series_table.selectionModel().selectedRows()})

    def _set_status(self, text: str, style: str = "", details: str = "") -> None:
        """The status line; `details` is its tooltip (none when empty)."""
        self.status_label.setText(text)
        self.status_label.setStyleSheet(style)
        self.status_label.setToolTip(details)
        self.status_message.emit(text)

    def _answer_notes(self, report: FindReport) -> tuple[list[str], str]:
        """What was wrong with a C-FIND's answers, for a status line (one phrase per kind,
        counting answers, not warnings) and its tooltip (every warning, as the CLI prints
        them); ([], "") when nothing was."""
        replaced, other = answers_with_text_problems(report.warnings)
        notes = []
        if replaced:
            notes.append(self.tr("1 answer had broken character set data: shown with "
                                 "replacement characters") if replaced == 1 else
                         self.tr("{count} answers had broken character set data: shown with "
                                 "replacement characters").format(count=replaced))
        if other:
            notes.append(self.tr("1 answer had other text problems") if other == 1 else
                         self.tr("{count} answers had other text problems").format(count=other))
        if report.lost:
            notes.append(self.tr("1 answer could not be read") if report.lost == 1 else
                         self.tr("{count} answers could not be read").format(count=report.lost))
        if not notes:
            return [], ""
        details = self.tr("What was wrong in the answers of {peer}:").format(peer=report.peer)
        return notes, "\n".join([details, *report.warnings])

    def refresh_archive(self) -> None:
        """The archive changed elsewhere (a study streamed in for the viewer): the "In
        archive" columns and the browser follow."""
        self._archive_changed()

    def _archive_changed(self) -> None:
        self._update_local_counts()
        self._update_series_local_counts()
        if self.browser is not None:
            self.browser.refresh()
        self.archive_changed.emit()

    # --- echo ----------------------------------------------------------------------------------

    def echo(self) -> None:
        """C-ECHO the chosen node; the answer goes to the line beside the button."""
        node = self.node()
        if node is None or self._echo_task is not None:
            return
        settings = self.settings

        def run(_progress: ProgressCallback, _cancel: CancelToken) -> EchoResult:
            from viewer.net.transport import echo

            return echo(node, local_ae(settings))

        task = self.tasks.start(run, "echo")
        self._echo_task = task
        task.succeeded.connect(self._echo_done)
        task.failed.connect(lambda reason: self._echo_label(
            self.tr("Echo failed: {reason}").format(reason=reason), ERROR_STYLE
        ))
        task.finished.connect(self._echo_finished)
        self._echo_label(self.tr("Echo {node}...").format(node=node.name), "")
        self._update_buttons()

    def _echo_done(self, result: EchoResult) -> None:
        if result.status == 0:
            self._echo_label(self.tr("Echo {peer}: success ({ms} ms)").format(
                peer=result.peer, ms=round(result.seconds * 1000)), OK_STYLE)
        else:
            self._echo_label(self.tr("Echo {peer}: status 0x{status}").format(
                peer=result.peer, status=f"{result.status:04X}"), ERROR_STYLE)

    def _echo_label(self, text: str, style: str) -> None:
        self.echo_label.setText(text)
        self.echo_label.setStyleSheet(style)
        self.status_message.emit(text)

    def _echo_finished(self) -> None:
        self._echo_task = None
        self._update_buttons()

    # --- query ---------------------------------------------------------------------------------

    def query_keys(self) -> dict[str, str] | None:
        """The C-FIND matching keys from the fields (PS3.4 C.2.2.2: wildcards, a date range);
        None when a date cannot be read (its field is marked)."""
        keys: dict[str, str] = {}
        name = search_pattern(self.name_edit.text())
        if name:
            keys["PatientName"] = name
        for keyword, edit in (("PatientID", self.id_edit),
                              ("AccessionNumber", self.accession_edit)):
            if value := edit.text().strip():
                keys[keyword] = value
        bounds = []
        for edit, last in ((self.date_from_edit, False), (self.date_to_edit, True)):
            bound = date_bound(edit.text(), last)
            edit.setStyleSheet("" if bound is not None else "border: 1px solid #d04040;")
            bounds.append(bound)
        start, end = bounds
        if start is None or end is None:
            return None
        if start or end:
            keys["StudyDate"] = start if start == end else f"{start}-{end}"
        if modality := self.modality_combo.currentData():
            keys["ModalitiesInStudy"] = str(modality)
        return keys

    def search(self) -> None:
        """C-FIND the chosen node at study level with the fields, as a Task."""
        node = self.node()
        if node is None or self._find_task is not None:
            return
        keys = self.query_keys()
        if keys is None:
            self._set_status(self.tr("A date cannot be read: use YYYY-MM-DD."), ERROR_STYLE)
            return
        settings = self.settings

        def run(_progress: ProgressCallback, cancel: CancelToken) -> FindReport:
            from viewer.net.transport import find

            return find(node, local_ae(settings), "study", keys, model="study", cancel=cancel)

        task = self.tasks.start(run, "find")
        self._find_task = task
        task.succeeded.connect(self._search_done)
        task.failed.connect(lambda reason: self._set_status(
            self.tr("Search failed: {reason}").format(reason=reason), ERROR_STYLE
        ))
        task.finished.connect(self._search_finished)
        self._set_status(self.tr("Searching {node}...").format(node=node.name))
        self._update_buttons()

    def _search_done(self, report: FindReport) -> None:
        self.model.set_results(report.results)
        self.table.horizontalHeader().setSortIndicatorShown(False)
        count = len(report.results)
        self.results_label.setText(self.tr("Studies found: {count}").format(count=count))
        text = self.tr("{count} studies found on {peer} in {seconds} s").format(
            count=count, peer=report.peer, seconds=f"{report.seconds:.2f}")
        notes, details = self._answer_notes(report)
        self._set_status("; ".join([text, *notes]), WARNING_STYLE if notes else "", details)
        self._update_local_counts()
        if count:
            self.table.selectRow(0)

    def _update_local_counts(self) -> None:
        """The "In archive" column: a few indexed look-ups, fast enough for the GUI thread."""
        counts = {}
        for uid in self.model.study_uids():
            study = self.archive.index.get_study(uid)
            if study is not None:
                counts[uid] = study.number_of_instances
        self.model.set_local_counts(counts)

    def _search_finished(self) -> None:
        self._find_task = None
        self._update_buttons()

    # --- the series of the selected study ------------------------------------------------------

    def _study_selection_changed(self, *_: object) -> None:
        rows = self.selected_rows()
        if len(rows) == 1 and self.model.study_uid(rows[0]) == self.series_model.study_uid:
            return
        self.series_model.set_results("", [])
        self.series_label.setStyleSheet("")
        self.series_label.setToolTip("")
        self.series_label.setText(self.tr("Select one study to see its series.") if len(rows)
                                  != 1 else self.tr("Asking for the series..."))
        self._series_timer.start()  # a selection running down the list asks once, at its end
        self._update_buttons()  # a model reset clears the selection without a signal

    def _selected_study(self) -> str:
        rows = self.selected_rows()
        return self.model.study_uid(rows[0]) if len(rows) == 1 else ""

    def find_series(self) -> None:
        """C-FIND the series of the one selected study (Study Root, series level), as a Task;
        when a find is running, once it ends."""
        node, study_uid = self.node(), self._selected_study()
        if node is None or not study_uid or study_uid == self.series_model.study_uid:
            return
        if self._series_task is not None:
            self._series_wanted = study_uid
            return
        settings = self.settings

        def run(_progress: ProgressCallback, cancel: CancelToken) -> FindReport:
            from viewer.net.transport import find

            return find(node, local_ae(settings), "series", {"StudyInstanceUID": study_uid},
                        model="study", cancel=cancel)

        task = self.tasks.start(run, "find-series")
        self._series_task = task
        task.succeeded.connect(lambda report: self._series_done(study_uid, report))
        task.failed.connect(lambda reason: self.series_label.setText(
            self.tr("Series query failed: {reason}").format(reason=reason)))
        task.finished.connect(self._series_finished)

    def _series_done(self, study_uid: str, report: FindReport) -> None:
        if study_uid != self._selected_study():
            return  # the selection moved on meanwhile
        self.series_model.set_results(study_uid, report.results)
        self.series_table.horizontalHeader().setSortIndicatorShown(False)
        notes, details = self._answer_notes(report)
        self.series_label.setText("; ".join([self.tr("Series of the selected study: {count}")
                                             .format(count=len(report.results)), *notes]))
        self.series_label.setStyleSheet(WARNING_STYLE if notes else "")
        self.series_label.setToolTip(details)
        self._update_series_local_counts()
        self._update_buttons()

    def _series_finished(self) -> None:
        self._series_task = None
        wanted, self._series_wanted = self._series_wanted, ""
        if wanted and wanted == self._selected_study():
            self.find_series()
        self._update_buttons()

    def _update_series_local_counts(self) -> None:
        study_uid = self.series_model.study_uid
        if not study_uid:
            return
        self.series_model.set_local_counts({
            row.series_instance_uid: row.number_of_instances
            for row in self.archive.index.series(study_uid)
        })


def node_label(node: Node) -> str:
    """A node as the lists name it: its name, transport and address."""
    if node.dicomweb is not None:
        return f"{node.name}  (DICOMweb {node.dicomweb.url})"
    return f"{node.name}  (DIMSE {node.ae_title}@{node.host}:{node.port})"


def node_address(node: Node) -> str:
    """Where the node is reached: its service root, or AE title, host and port."""
    if node.dicomweb is not None:
        return node.dicomweb.url
    return f"{node.ae_title}@{node.host}:{node.port}"


def answers_with_text_problems(warnings: Sequence[str]) -> tuple[int, int]:
    """From a FindReport's warnings ("match N: ..."): how many answers had text shown with
    replacement characters, and how many others had another text warning (an unknown
    character set, a value not of its VR). Answers that could not be decoded at all are the
    report's `lost`, not counted here."""
    problems: dict[str, set[str]] = {}
    for warning in warnings:
        found = _MATCH.match(warning)
        if found is None or warning.endswith("could not be decoded; left out"):
            continue
        problems.setdefault(found.group(1), set()).add(warning)
    replaced = sum(any("replacement characters" in w for w in each)
                   for each in problems.values())
    return replaced, len(problems) - replaced
