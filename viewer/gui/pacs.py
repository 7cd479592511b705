"""The PACS panel: echo a node, query it (C-FIND at study level, then the series of the study
selected), retrieve studies or single series (C-MOVE or C-GET) into the archive, send local
studies (C-STORE), and the status of our Storage SCP.

Every network call runs as a Task (viewer.gui.tasks), never on the GUI thread; the panel only
builds the keys, routes the results and draws. The network itself is viewer.net's (this module
imports neither pynetdicom nor sqlite3).

The Storage SCP (`StorageService`) runs while the window is open when the config says
`[gui] storage_scp = true`. Its `on_received` callback runs on pynetdicom's association
threads: it only emits a Qt signal (queued to the GUI thread), and the study list is refreshed
at most once per REFRESH_MS however fast instances arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from viewer.archive.archive import Archive
from viewer.config import Node, Settings
from viewer.gui.browser import (
    COMMON_MODALITIES,
    StudyBrowser,
    date_bound,
    search_pattern,
    study_table,
)
from viewer.gui.pacs_models import QueryResultModel, SeriesResultModel
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback

if TYPE_CHECKING:
    # viewer.net loads pynetdicom (~0.2 s): imported when first used, not at the window's start
    from viewer.net.association import Local
    from viewer.net.echo import EchoResult
    from viewer.net.query import FindReport
    from viewer.net.retrieve import RetrieveProgress, RetrieveReport
    from viewer.net.storage_scp import StorageSCP
    from viewer.net.store_scu import SendReport

LOGGER = logging.getLogger(__name__)

REFRESH_MS = 1000  # received instances refresh the study list at most this often
SERIES_DELAY_MS = 250  # a study stays selected this long before its series are asked for
SHOWN_PROBLEMS = 8  # reasons listed in a summary's text (all of them go to its details)
ERROR_STYLE = "color: #d04040;"
OK_STYLE = "color: #2e8b3a;"


# --- the Storage SCP -----------------------------------------------------------------------------


class StorageService(QObject):
    """Our Storage SCP inside the window, storing into the GUI's archive (PS3.4 Annex B).

    `changed` is emitted when it starts, stops or has received instances; `archive_changed`
    when received instances are in the archive. Both at most once per REFRESH_MS.
    """

    changed = Signal()
    archive_changed = Signal()
    _received = Signal()  # emitted on association threads, delivered queued on ours

    def __init__(self, archive_root: Path, settings: Settings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.archive_root = Path(archive_root)
        self.settings = settings
        self.enabled = settings.storage_scp
        self.error = ""  # why it could not start
        self._scp: StorageSCP | None = None
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self._flush)
        self._received.connect(self._on_received)

    @property
    def running(self) -> bool:
        return self._scp is not None

    @property
    def scp(self) -> StorageSCP | None:
        return self._scp

    def start(self, port: int | None = None) -> bool:
        """Listen on [local] host and port (`port` overrides, 0: a free one); False with
        `error` set when the port cannot be bound."""
        if self._scp is not None:
            return True
        from viewer.net.storage_scp import StorageSCP

        scp = StorageSCP(self.archive_root, _local(self.settings), port=port,
                         on_received=lambda *_: self._received.emit())
        try:
            scp.start()
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            LOGGER.warning("the Storage SCP cannot listen on %s:%d: %s",
                           self.settings.local.host, self.settings.local.port, self.error)
            self.changed.emit()
            return False
        self.error = ""
        self._scp = scp
        self.changed.emit()
        return True

    def stop(self) -> None:
        scp, self._scp = self._scp, None
        if scp is not None:
            scp.stop()
            self._timer.stop()
            self.changed.emit()

    def received_count(self) -> tuple[int, int]:
        """(instances received, of which failed) since start."""
        if self._scp is None:
            return 0, 0
        counts = self._scp.received.summary().counts
        stored = counts.get("imported", 0) + counts.get("already present", 0)
        return sum(counts.values()), sum(counts.values()) - stored

    def status_text(self) -> str:
        if self._scp is not None:
            host, port = self._scp.address
            received, failed = self.received_count()
            text = self.tr("Storage SCP: listening as {aet} on {host}:{port} — {count} received")
            text = text.format(aet=self._scp.ae_title, host=host, port=port, count=received)
            if failed:
                text += self.tr(", {failed} failed").format(failed=failed)
            return text
        if self.error:
            return self.tr("Storage SCP could not start on {host}:{port}: {reason}").format(
                host=self.settings.local.host, port=self.settings.local.port, reason=self.error
            )
        return self.tr("Storage SCP off (enable [gui] storage_scp in config.toml)")

    def _on_received(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        self.archive_changed.emit()
        self.changed.emit()


# --- the panel -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyOutcome:
    """One study of a retrieve: its report, or why it could not be retrieved."""

    label: str  # patient name and study date, for the summary
    report: RetrieveReport | None
    error: str = ""


class PacsPanel(QWidget):
    """Node, echo, query fields, the C-FIND results, retrieve; sending local studies; the
    Storage SCP's status. `browser` (optional) is refreshed after retrieves and gets a
    "Send to" submenu on its study list."""

    archive_changed = Signal()
    status_message = Signal(str)  # for the window's status bar

    def __init__(
        self,
        settings: Settings,
        archive: Archive,
        tasks: TaskRunner,
        browser: StudyBrowser | None = None,
        storage: StorageService | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.archive = archive
        self.tasks = tasks
        self.browser = browser
        self.storage = storage or StorageService(archive.root, settings, self)
        self.summary_box: QMessageBox | None = None
        self._echo_task: Task | None = None
        self._find_task: Task | None = None
        self._series_task: Task | None = None
        self._series_wanted = ""  # the study whose series to ask for once the running find ends
        self._job: Task | None = None  # the running retrieve or send
        self._retrieving_series = False  # what the running retrieve's progress counts
        self._series_timer = QTimer(self)
        self._series_timer.setSingleShot(True)
        self._series_timer.setInterval(SERIES_DELAY_MS)
        self._series_timer.timeout.connect(self.find_series)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._build_node_row())
        self.no_nodes_label = QLabel(self.tr(
            "No PACS is configured. Add one with:  dicom-viewer nodes add NAME AET HOST PORT"
        ))
        self.no_nodes_label.setWordWrap(True)
        self.no_nodes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.no_nodes_label)
        layout.addLayout(self._build_query())
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self._build_table())
        self.splitter.addWidget(self._build_series())
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(self._build_retrieve_row())
        layout.addLayout(self._build_progress_row())
        self.scp_label = QLabel()
        layout.addWidget(self.scp_label)

        self.storage.changed.connect(self._show_scp_status)
        self.storage.archive_changed.connect(self._archive_changed)
        if browser is not None:
            browser.study_menu_hooks.append(self.add_send_menu)
        self._show_scp_status()
        self._nodes_changed()

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
            self.node_combo.addItem(f"{node.name}  ({node.ae_title}@{node.host}:{node.port})",
                                    node.name)
        self.echo_button = self._button(self.tr("Echo"), self.echo)
        self.echo_button.setToolTip(self.tr("C-ECHO: is the node there and does it answer?"))
        self.echo_label = QLabel()
        row.addWidget(QLabel(self.tr("Node:")))
        row.addWidget(self.node_combo)
        row.addWidget(self.echo_button)
        row.addWidget(self.echo_label, 1)
        return row

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
        self.table.doubleClicked.connect(lambda _index: self.retrieve_selected())
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
        self.series_table.doubleClicked.connect(lambda _index: self.retrieve_selected_series())
        self.retrieve_series_button = self._button(self.tr("Retrieve series"),
                                                   self.retrieve_selected_series)
        self.retrieve_series_button.setToolTip(self.tr(
            "Retrieve only the selected series of this study"))
        row = QHBoxLayout()
        row.addWidget(self.series_label, 1)
        row.addWidget(self.retrieve_series_button)
        column.addLayout(row)
        column.addWidget(self.series_table, 1)
        return box

    def _build_retrieve_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.results_label = QLabel()
        self.via_combo = QComboBox()
        self.via_combo.addItem(self.tr("C-MOVE"), "move")
        self.via_combo.addItem(self.tr("C-GET"), "get")
        self.via_combo.setToolTip(self.tr(
            "C-MOVE: the PACS sends the images to our AE title (it must know it as a "
            "destination). C-GET: the images come back on the same connection."
        ))
        self.retrieve_button = self._button(self.tr("Retrieve"), self.retrieve_selected)
        row.addWidget(self.results_label, 1)
        row.addWidget(QLabel(self.tr("Retrieve with:")))
        row.addWidget(self.via_combo)
        row.addWidget(self.retrieve_button)
        return row

    def _build_progress_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.cancel_button = self._button(self.tr("Cancel"), self.cancel)
        row.addWidget(self.status_label, 1)
        row.addWidget(self.progress_bar)
        row.addWidget(self.cancel_button)
        self._show_progress(False)
        return row

    # --- state ---------------------------------------------------------------------------------

    def node(self) -> Node | None:
        """The node chosen in the combo."""
        name = self.node_combo.currentData()
        return next((n for n in self.settings.nodes if n.name == name), None)

    @property
    def busy(self) -> bool:
        """A retrieve or a send is running."""
        return self._job is not None

    def _nodes_changed(self) -> None:
        has_nodes = bool(self.settings.nodes)
        self.no_nodes_label.setVisible(not has_nodes)
        self.node_combo.setEnabled(has_nodes)
        self._update_buttons()

    def _update_buttons(self, *_: object) -> None:
        has_node = self.node() is not None
        self.echo_button.setEnabled(has_node and self._echo_task is None)
        self.search_button.setEnabled(has_node and self._find_task is None)
        self.retrieve_button.setEnabled(
            has_node and not self.busy and bool(self.selected_rows())
        )
        self.retrieve_series_button.setEnabled(
            has_node and not self.busy and bool(self.selected_series_rows())
        )

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def selected_series_rows(self) -> list[int]:
        return sorted({i.row() for i in self.series_table.selectionModel().selectedRows()})

    def _set_status(self, text: str, style: str = "") -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(style)
        self.status_message.emit(text)

    def _show_progress(self, shown: bool) -> None:
        self.progress_bar.setVisible(shown)
        self.cancel_button.setVisible(shown)

    def _show_scp_status(self) -> None:
        self.scp_label.setText(self.storage.status_text())
        self.scp_label.setStyleSheet(ERROR_STYLE if self.storage.error else "")

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
            from viewer.net.echo import echo

            return echo(node, _local(settings))

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
            from viewer.net.query import find

            return find(node, _local(settings), "study", keys, model="study", cancel=cancel)

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
        self._set_status(self.tr("{count} studies found on {peer} in {seconds} s").format(
            count=count, peer=report.peer, seconds=f"{report.seconds:.2f}"))
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
            from viewer.net.query import find

            return find(node, _local(settings), "series", {"StudyInstanceUID": study_uid},
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
        self.series_label.setText(self.tr("Series of the selected study: {count}").format(
            count=len(report.results)))
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

    # --- retrieve ------------------------------------------------------------------------------

    def retrieve_selected(self) -> None:
        """Retrieve the selected studies from the chosen node (C-MOVE or C-GET, the combo's),
        one after the other, as one Task with progress and Cancel."""
        rows = self.selected_rows()
        if rows:
            self._retrieve([(self.model.study_uid(r), None, self._study_label(r))
                            for r in rows], series=False)

    def retrieve_selected_series(self) -> None:
        """Retrieve the selected series of the selected study, like `retrieve_selected`."""
        study_uid = self.series_model.study_uid
        rows = self.selected_series_rows()
        if study_uid and rows:
            self._retrieve([(study_uid, self.series_model.series_uid(r), self._series_label(r))
                            for r in rows], series=True)

    def _retrieve(self, targets: list[tuple[str, str | None, str]], series: bool) -> None:
        """Retrieve each (Study Instance UID, Series Instance UID or None, label) in turn."""
        node = self.node()
        if node is None or self.busy:
            return
        via = str(self.via_combo.currentData())
        settings, archive = self.settings, self.archive
        self._retrieving_series = series

        def run(progress: ProgressCallback, cancel: CancelToken) -> list[StudyOutcome]:
            from viewer.net.association import PeerError
            from viewer.net.retrieve import get, move

            retrieve = get if via == "get" else move
            local = _local(settings)
            outcomes: list[StudyOutcome] = []
            for n, (uid, series_uid, label) in enumerate(targets):
                if cancel.cancelled:
                    break

                def forward(p: RetrieveProgress, n: int = n) -> None:
                    progress(n, len(targets), _encode_progress(p))

                try:
                    report = retrieve(node, local, archive, uid, series_uid, progress=forward,
                                      cancel=cancel)
                except PeerError as exc:
                    # The node is unreachable or refuses us: so it will for the next study.
                    outcomes.append(StudyOutcome(label, None, str(exc)))
                    break
                outcomes.append(StudyOutcome(label, report))
                if report.cancelled or report.stopped:
                    break
            return outcomes

        task = self.tasks.start(run, "retrieve")
        self._job = task
        task.progress.connect(self._retrieve_progress)
        task.succeeded.connect(self._retrieve_done)
        task.failed.connect(self._job_failed)
        task.finished.connect(self._job_finished)
        if series:
            text = self.tr("Retrieving {count} series from {node}...")
        else:
            text = self.tr("Retrieving {count} studies from {node}...")
        self._set_status(text.format(count=len(targets), node=node.name))
        self.progress_bar.setRange(0, 0)
        self._show_progress(True)
        self._update_buttons()

    def _study_label(self, row: int) -> str:
        result = self.model.result(row)
        name = result.text("PatientName") or self.tr("(no name)")
        date = self.model.display(result, QueryResultModel.DATE)
        return f"{name} {date}".strip()

    def _series_label(self, row: int) -> str:
        result = self.series_model.result(row)
        parts = (result.text("SeriesNumber"), result.text("Modality"),
                 result.text("SeriesDescription"))
        return self.tr("series {what}").format(what=" ".join(p for p in parts if p))

    def _retrieve_progress(self, study: int, studies: int, label: str) -> None:
        completed, remaining, failed, warning, expected = _decode_progress(label)
        done = completed + failed + warning
        total = done + remaining if remaining >= 0 else expected
        if total > 0:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(done)
        if self._retrieving_series:
            text = self.tr(
                "Series {study} of {studies}: {completed} completed, {remaining} remaining, "
                "{failed} failed")
        else:
            text = self.tr(
                "Study {study} of {studies}: {completed} completed, {remaining} remaining, "
                "{failed} failed")
        text = text.format(study=study + 1, studies=studies, completed=completed + warning,
                           remaining=remaining if remaining >= 0 else "?", failed=failed)
        self._set_status(text)

    def _retrieve_done(self, outcomes: list[StudyOutcome]) -> None:
        imported = sum(_imported(o.report) for o in outcomes if o.report)
        present = sum(len(o.report.already_present) for o in outcomes if o.report)
        problems: list[str] = []
        for outcome in outcomes:
            problems += self._retrieve_problems(outcome)
        cancelled = any(o.report is not None and o.report.cancelled for o in outcomes)
        summary = self.tr(
            "Retrieve finished: {imported} images imported, {present} already present"
        ).format(imported=imported, present=present)
        if cancelled:
            summary = self.tr(
                "Retrieve cancelled: {imported} images imported, {present} already present; "
                "what arrived is kept."
            ).format(imported=imported, present=present)
        self._set_status(summary, ERROR_STYLE if problems else OK_STYLE)
        self._archive_changed()
        if problems:
            self.show_summary(self.tr("Retrieve"), summary, problems)

    def _retrieve_problems(self, outcome: StudyOutcome) -> list[str]:
        """What went wrong for one study, one line per reason (never a traceback)."""
        if outcome.report is None:
            return [f"{outcome.label}: {outcome.error}"]
        report = outcome.report
        lines: list[str] = []
        if report.nothing_found:
            lines.append(self.tr("the PACS has no such study"))
        if report.error:
            lines.append(report.error)
        if report.stopped:
            lines.append(report.stopped)
        if report.note and not report.ok:
            lines.append(report.note)
        lines += [f"{i.sop_instance_uid}: {i.reason}" for i in (*report.failed, *report.conflicts)]
        if report.suboperations.failed and not report.failed:
            lines.append(self.tr("the PACS reports {count} failed sub-operations").format(
                count=report.suboperations.failed))
        if (report.status is not None and report.status not in (0x0000, 0xFE00)
                and not lines):
            lines.append(self.tr("final status 0x{status}").format(status=f"{report.status:04X}"))
        return [f"{outcome.label}: {line}" for line in lines]

    # --- send ----------------------------------------------------------------------------------

    def add_send_menu(self, menu: QMenu, study_uids: list[str]) -> None:
        """The browser's study menu gets "Send to" with one entry per configured node."""
        send = menu.addMenu(self.tr("Send to"))
        send.setEnabled(bool(study_uids) and bool(self.settings.nodes) and not self.busy)
        for node in self.settings.nodes:
            action = send.addAction(f"{node.name}  ({node.ae_title}@{node.host}:{node.port})")
            action.triggered.connect(
                lambda _=False, name=node.name: self.send_studies(study_uids, name)
            )

    def send_studies(self, study_uids: Sequence[str], node_name: str) -> None:
        """C-STORE every stored file of the studies to the node over one association, as a
        Task with progress and Cancel; a summary lists the files that failed and why."""
        node = next((n for n in self.settings.nodes if n.name == node_name), None)
        uids = list(study_uids)
        if node is None or not uids or self.busy:
            return
        settings, archive = self.settings, self.archive

        def run(progress: ProgressCallback, cancel: CancelToken) -> tuple[SendReport, str]:
            from viewer.net.store_scu import SendInterrupted, send_files, study_files

            local = _local(settings)
            files = [path for uid in uids for path in study_files(archive, uid)]
            try:
                return send_files(node, local, files, progress, cancel), ""
            except SendInterrupted as exc:
                return exc.report, str(exc)

        task = self.tasks.start(run, "send")
        self._job = task
        task.progress.connect(self._send_progress)
        task.succeeded.connect(lambda result: self._send_done(node.name, *result))
        task.failed.connect(self._job_failed)
        task.finished.connect(self._job_finished)
        self._set_status(self.tr("Sending {count} studies to {node}...").format(
            count=len(uids), node=node.name))
        self.progress_bar.setRange(0, 0)
        self._show_progress(True)
        self._update_buttons()

    def _send_progress(self, done: int, total: int, _label: str) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self._set_status(self.tr("Sending {done} / {total}").format(done=done, total=total))

    def _send_done(self, node: str, report: SendReport, interrupted: str) -> None:
        sent = len(report.succeeded) + len(report.warnings)
        summary = self.tr("Sent to {node}: {sent} of {total} files, {failed} failed").format(
            node=node, sent=sent, total=len(report.results) + len(report.not_sent),
            failed=len(report.failed))
        problems = [f"{Path(r.path).name}: {r.reason}" for r in report.failed]
        problems += [f"{Path(r.path).name}: {r.reason}" for r in report.warnings]
        if interrupted:
            problems.insert(0, interrupted)
        elif report.stopped:
            problems.insert(0, report.stopped)
        self._set_status(summary, ERROR_STYLE if not report.ok else OK_STYLE)
        if problems and report.stopped != "cancelled":
            self.show_summary(self.tr("Send"), summary, problems)

    # --- common to retrieve and send -----------------------------------------------------------

    def cancel(self) -> None:
        """The Cancel button: a retrieve sends C-CANCEL, a send stops after the current file."""
        if self._job is not None:
            self._job.cancel()
            self._set_status(self.tr("Cancelling..."))

    def _job_failed(self, reason: str) -> None:
        self._set_status(self.tr("Failed: {reason}").format(reason=reason), ERROR_STYLE)
        self.show_summary(self.tr("PACS"), self.tr("The operation failed."), [reason])

    def _job_finished(self) -> None:
        self._job = None
        self._show_progress(False)
        self._update_buttons()

    def show_summary(self, title: str, summary: str, problems: list[str]) -> QMessageBox:
        """A non-modal box: the summary, the first reasons, all of them in the details."""
        if self.summary_box is not None:
            self.summary_box.close()
            self.summary_box.deleteLater()
        box = QMessageBox(self)
        box.setStyleSheet(
            "QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel { min-width: 48em; }"
        )
        box.setWindowTitle(title)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setText(summary)
        shown = problems[:SHOWN_PROBLEMS]
        if len(problems) > SHOWN_PROBLEMS:
            shown.append(self.tr("... and {count} more (see the details)").format(
                count=len(problems) - SHOWN_PROBLEMS))
        box.setInformativeText("\n".join(shown))
        if len(problems) > 1:
            box.setDetailedText("\n".join(problems))
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setWindowModality(Qt.WindowModality.NonModal)
        self.summary_box = box
        box.show()
        return box

    def shutdown(self) -> None:
        """Stop the Storage SCP (the window is closing; the owner shuts the tasks down)."""
        self._series_timer.stop()
        self.storage.stop()


def _local(settings: Settings) -> Local:
    """Who we are on the network (AE title, port, time-outs), from the settings."""
    from viewer.net.association import Local

    return Local(settings.local, settings.network)


def _imported(report: RetrieveReport) -> int:
    """Instances imported; a C-MOVE received by our running Storage SCP has no per-instance
    outcomes (`note`), then the PACS's completed count stands for them."""
    if report.note and not report.instances:
        return report.suboperations.completed + report.suboperations.warning
    return len(report.imported)


def _encode_progress(progress: RetrieveProgress) -> str:
    """A retrieve's counts through the Task's progress label (ints only: no text crosses)."""
    s = progress.suboperations
    remaining = -1 if s.remaining is None else s.remaining
    expected = -1 if progress.expected is None else progress.expected
    return f"{s.completed} {remaining} {s.failed} {s.warning} {expected}"


def _decode_progress(label: str) -> tuple[int, int, int, int, int]:
    """(completed, remaining or -1, failed, warning, expected or -1) from _encode_progress."""
    try:
        completed, remaining, failed, warning, expected = (int(v) for v in label.split())
    except ValueError:
        return 0, -1, 0, 0, -1
    return completed, remaining, failed, warning, expected

