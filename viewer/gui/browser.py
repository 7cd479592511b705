"""The study browser: search the archive, see a study's series as thumbnails, import, delete.

Searches run on the GUI thread (an indexed query takes a few ms); everything that touches files
(imports, deletes, thumbnails) runs as a Task (viewer.gui.tasks). The widget only draws and
routes events: matching, importing and rendering are the archive's. The import queue and its
summary box are viewer.gui.import_job's, the thumbnails viewer.gui.series_thumbnails'; the
search fields' rules, shared with the PACS panel, viewer.gui.search_fields'.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from viewer.archive import thumbnails
from viewer.archive.archive import Archive
from viewer.archive.importer import ImportReport
from viewer.archive.records import StudyRow
from viewer.capture.order import Order, OrderError, order_from_study
from viewer.capture.sources import is_capture_file
from viewer.decode.pool import DecodePool
from viewer.gui.browser_models import THUMB_SIZE, SeriesListModel, StudyTableModel
from viewer.gui.dicomize_dialog import DicomizeDialog, open_dicomize_dialog
from viewer.gui.import_job import ImportQueue, ImportSummary
from viewer.gui.quality_badges import QualityBadges
from viewer.gui.quality_panel import QualityDialog
from viewer.gui.quota import QuotaStatus
from viewer.gui.search_fields import COMMON_MODALITIES, date_bound, search_pattern, study_table
from viewer.gui.series_thumbnails import SeriesThumbnails
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback

LOGGER = logging.getLogger(__name__)

SEARCH_DELAY_MS = 200  # search as you type, once typing pauses
LIVE_REFRESH_MS = 1500  # during an import, studies appear as they are indexed


class StudyBrowser(QWidget):
    """Search fields, the study table, the selected study's series, import and delete.

    `tasks` runs every job that touches files; the owner shuts it down (TaskRunner.shutdown)
    before closing `archive`.
    """

    open_study = Signal(str)  # Study Instance UID
    open_series = Signal(str, str)  # Study Instance UID, Series Instance UID
    archive_changed = Signal()

    def __init__(
        self, archive: Archive, tasks: TaskRunner, parent: QWidget | None = None,
        pool: DecodePool | None = None,
    ) -> None:
        super().__init__(parent)
        self.archive = archive
        self.tasks = tasks
        self._demo: Callable[[], object] | None = None
        self.thumbnails = SeriesThumbnails(archive, tasks, pool, self)
        self.imports = ImportQueue(archive, tasks, self)
        self.imports.started.connect(self._import_started)
        self.imports.progress.connect(self._import_progress)
        self.imports.ended.connect(self._import_ended)
        self.imports.finished.connect(self.show_import_summary)
        self.imports.cancelled.connect(self._import_cancelled)
        self._delete_task: Task | None = None
        self.summary_box: QMessageBox | None = None  # the last import summary shown
        # Data quality: badges, validation of what the archive gains, the findings panel
        self.quality = QualityBadges(archive, tasks, self)
        self.quality.study_done.connect(self._quality_done)
        self.quality_dialog: QualityDialog | None = None  # the last findings panel opened
        self._summary_studies: set[str] = set()  # the last import's studies being validated
        self._import_studies: set[str] = set()  # studies queued since the import began
        self._summarised: list[str] = []  # the studies the import summary's findings are of
        self.dicomize_dialog: DicomizeDialog | None = None  # the last DICOMize dialog shown
        # Add entries to the study menu (the PACS panel's "Send to"): hook(menu, study UIDs)
        self.study_menu_hooks: list[Callable[[QMenu, list[str]], None]] = []
        self._refreshing = False
        self.setAcceptDrops(True)

        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self._live_timer = QTimer(self, interval=LIVE_REFRESH_MS)
        self._live_timer.timeout.connect(self.refresh)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._build_actions())
        layout.addLayout(self._build_search())
        self._pages = QStackedWidget()
        self._empty_page = self._build_empty_page()
        self._table_page = self._build_table_page()
        self._pages.addWidget(self._empty_page)
        self._pages.addWidget(self._table_page)
        layout.addWidget(self._pages, 1)
        layout.addLayout(self._build_status())
        self.refresh()

    # --- building ------------------------------------------------------------------------------

    def _button(self, label: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(label)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _build_actions(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.import_folder_button = self._button(self.tr("Import folder..."), self.import_folder)
        self.import_zip_button = self._button(self.tr("Import zip..."), self.import_zip)
        self.import_media_button = self._button(
            self.tr("Import CD/DVD (DICOMDIR)..."), self.import_media
        )
        self.delete_button = self._button(self.tr("Delete"), self.delete_selected)
        self.delete_button.setEnabled(False)
        for button in (self.import_folder_button, self.import_zip_button,
                       self.import_media_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.delete_button)
        return row

    def _build_search(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.name_edit = QLineEdit(placeholderText=self.tr("Patient name (* ?)"))
        self.name_edit.setToolTip(self.tr(
            "Wildcards: * any text, ? one character. Case does not matter."
        ))
        self.id_edit = QLineEdit(placeholderText=self.tr("Patient ID"))
        date_tip = self.tr("YYYY-MM-DD, YYYY-MM or YYYY; empty: no limit")
        self.date_from_edit = QLineEdit(placeholderText=self.tr("From YYYY-MM-DD"))
        self.date_to_edit = QLineEdit(placeholderText=self.tr("To YYYY-MM-DD"))
        for edit in (self.date_from_edit, self.date_to_edit):
            edit.setToolTip(date_tip)
            edit.setMaximumWidth(130)
        self.dates_button = QToolButton()
        self.dates_button.setText(self.tr("Dates"))
        self.dates_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.dates_button.setMenu(self._dates_menu())
        self.modality_combo = QComboBox()
        self.modality_combo.addItem(self.tr("Any modality"), "")
        for modality in COMMON_MODALITIES:
            self.modality_combo.addItem(modality, modality)
        self.search_button = self._button(self.tr("Search"), self.refresh)
        for edit in (self.name_edit, self.id_edit, self.date_from_edit, self.date_to_edit):
            edit.setClearButtonEnabled(True)
            edit.textChanged.connect(self._search_soon)
            edit.returnPressed.connect(self.refresh)
            edit.installEventFilter(self)
        self.modality_combo.currentIndexChanged.connect(self._search_soon)
        row.addWidget(self.name_edit, 3)
        row.addWidget(self.id_edit, 2)
        row.addWidget(self.date_from_edit, 1)
        row.addWidget(self.date_to_edit, 1)
        row.addWidget(self.dates_button)
        row.addWidget(self.modality_combo)
        row.addWidget(self.search_button)
        return row

    def _dates_menu(self) -> QMenu:
        menu = QMenu(self)
        today = date.today()
        ranges: list[tuple[str, date | None, date | None]] = [
            (self.tr("Today"), today, today),
            (self.tr("Yesterday"), today - timedelta(days=1), today - timedelta(days=1)),
            (self.tr("Last 7 days"), today - timedelta(days=6), today),
            (self.tr("Last 30 days"), today - timedelta(days=29), today),
            (self.tr("Last 12 months"), today - timedelta(days=365), today),
            (self.tr("Any date"), None, None),
        ]
        for label, start, end in ranges:
            action = menu.addAction(label)
            action.triggered.connect(lambda _=False, s=start, e=end: self.set_date_range(s, e))
        return menu

    def _build_empty_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.addStretch(1)
        title = QLabel(self.tr("The archive is empty"))
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        hint = QLabel(self.tr(
            "Import studies from a folder, a zip file or a CD/DVD, drop files here, "
            "or load a demo study."
        ))
        hint.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self._button(self.tr("Import folder..."), self.import_folder))
        buttons.addWidget(self._button(self.tr("Import zip..."), self.import_zip))
        self.demo_button = self._button(self.tr("Load demo study"), self._load_demo)
        self.demo_button.setVisible(False)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        for label in (title, hint):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            column.addWidget(label)
        column.addLayout(buttons)
        column.addStretch(2)
        return page

    def _build_table_page(self) -> QWidget:
        self.model = StudyTableModel(self)
        self.model.badges = self.quality
        self.table = study_table(
            self, self.model, StudyTableModel.DESCRIPTION,
            ((0, 24), (1, 12), (2, 11), (3, 17), (5, 10), (6, 7), (7, 7), (8, 9)),
        )
        self.table.setTabKeyNavigation(False)
        header = self.table.horizontalHeader()
        header.setSortIndicator(StudyTableModel.DATE, Qt.SortOrder.DescendingOrder)
        self.table.setSortingEnabled(True)
        self.table.doubleClicked.connect(self._study_double_clicked)
        self.table.selectionModel().currentRowChanged.connect(self._current_study_changed)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._study_menu)
        self.table.installEventFilter(self)

        self.series_model = SeriesListModel(self)
        self.thumbnails.ready.connect(self.series_model.set_icon)
        self.series_view = QListView()
        self.series_view.setModel(self.series_model)
        self.series_view.setViewMode(QListView.ViewMode.IconMode)
        self.series_view.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.series_view.setGridSize(QSize(THUMB_SIZE + 28, THUMB_SIZE + 64))
        self.series_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.series_view.setMovement(QListView.Movement.Static)
        self.series_view.setWordWrap(True)
        self.series_view.setUniformItemSizes(True)
        self.series_view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.series_view.setMinimumHeight(THUMB_SIZE + 72)
        self.series_view.doubleClicked.connect(self._series_double_clicked)
        self.series_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.series_view.customContextMenuRequested.connect(self._series_menu)
        self.series_view.installEventFilter(self)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.series_view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        return splitter

    def _build_status(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.status_label = QLabel()
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.cancel_button = self._button(self.tr("Cancel"), self.cancel_import)
        self.quota_status = QuotaStatus(self.archive, self.tasks)  # used / quota, uncommitted
        row.addWidget(self.status_label, 1)
        row.addWidget(self.progress_label, 2)
        row.addWidget(self.progress_bar)
        row.addWidget(self.cancel_button)
        row.addWidget(self.quota_status)
        self._show_progress(False)
        return row

    # --- searching -----------------------------------------------------------------------------

    def set_date_range(self, start: date | None, end: date | None) -> None:
        """Fill the date fields (None leaves that end open) and search."""
        self.date_from_edit.setText(start.isoformat() if start else "")
        self.date_to_edit.setText(end.isoformat() if end else "")
        self.refresh()

    def _search_soon(self) -> None:
        self._search_timer.start()

    def _search_keys(self) -> dict[str, str | None]:
        """Index.search_studies arguments from the fields; a date that cannot be read is
        marked in its field and left out."""
        keys: dict[str, str | None] = {
            "patient_name": search_pattern(self.name_edit.text()) or None,
            "patient_id": search_pattern(self.id_edit.text()) or None,
            "modality": self.modality_combo.currentData() or None,
        }
        for key, edit, end in (("date_from", self.date_from_edit, False),
                               ("date_to", self.date_to_edit, True)):
            bound = date_bound(edit.text(), end)
            style = "" if bound is not None else "border: 1px solid #d04040;"
            if edit.styleSheet() != style:
                edit.setStyleSheet(style)
            keys[key] = bound or None
        return keys

    def refresh(self) -> None:
        """Search the index with the current fields; keeps the selection on the same studies."""
        self._search_timer.stop()
        self.quota_status.refresh()  # counted on a pool thread; imports and retrieves end here
        keys = self._search_keys()
        rows = self.archive.index.search_studies(
            patient_name=keys["patient_name"], patient_id=keys["patient_id"],
            modality=keys["modality"], date_from=keys["date_from"], date_to=keys["date_to"],
        )
        selected = self.selected_study_uids()
        current = self.current_study_uid()
        self._refreshing = True  # the reset clears the selection: no series reload for that
        try:
            self.model.set_rows(rows)
            self._restore_selection(selected, current)
        finally:
            self._refreshing = False
        if not self.imports.running:  # validating a study still growing would slow the import
            self._import_studies.update(self.quality.watch(rows))
        row = self.model.row_of(current) if current else None
        self._show_series(self.model.study(row) if row is not None else None)
        empty = not rows and not self.archive.index.search_studies(limit=1)
        self._pages.setCurrentWidget(self._empty_page if empty else self._table_page)
        if rows:
            self.status_label.setText(self.tr("Studies: {count}").format(count=len(rows)))
        elif empty:
            self.status_label.setText("")
        else:
            self.status_label.setText(self.tr("No study matches the search."))

    def _restore_selection(self, selected: list[str], current: str | None) -> None:
        selection = QItemSelection()
        for uid in selected:
            row = self.model.row_of(uid)
            if row is not None:
                selection.select(self.model.index(row, 0), self.model.index(row, 0))
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)
        model = self.table.selectionModel()
        model.select(selection, flags)
        row = self.model.row_of(current) if current else None
        if row is not None:
            model.setCurrentIndex(
                self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate
            )

    # --- selection and opening -----------------------------------------------------------------

    def selected_study_uids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.study(r).study_instance_uid for r in rows]

    def current_study_uid(self) -> str | None:
        index = self.table.selectionModel().currentIndex()
        return self.model.study(index.row()).study_instance_uid if index.isValid() else None

    def _current_study_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._refreshing:
            return
        self._show_series(self.model.study(current.row()) if current.isValid() else None)

    def _selection_changed(self, *_: object) -> None:
        self.delete_button.setEnabled(bool(self.selected_study_uids()) and not self.busy)

    def _study_double_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_study.emit(self.model.study(index.row()).study_instance_uid)

    def _series_double_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            row = self.series_model.series(index.row())
            self.open_series.emit(row.study_instance_uid, row.series_instance_uid)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter opens, Delete deletes; Down in a search field moves into the table."""
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return super().eventFilter(watched, event)
        key = event.key()
        enter = key in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if watched is self.table:
            if enter:
                self._study_double_clicked(self.table.currentIndex())
                return True
            if key == Qt.Key.Key_Delete:
                self.delete_selected()
                return True
        elif watched is self.series_view and enter:
            self._series_double_clicked(self.series_view.currentIndex())
            return True
        elif isinstance(watched, QLineEdit) and key == Qt.Key.Key_Down and self.model.rowCount():
            self.table.setFocus()
            if not self.table.currentIndex().isValid():
                self.table.selectRow(0)
            return True
        return super().eventFilter(watched, event)

    def export_selected(self) -> QDialog:
        """Open the export dialog for the selected studies (non-modal; returned for tests)."""
        from viewer.gui.export_dialog import ExportDialog

        dialog = ExportDialog(self.archive, self.tasks, self.selected_study_uids(), self)
        dialog.setModal(False)
        dialog.show()
        return dialog

    def _study_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        index = self.table.indexAt(pos)
        if index.isValid():
            menu.addAction(self.tr("Open"), lambda: self._study_double_clicked(index))
            delete = menu.addAction(self.tr("Delete..."), self.delete_selected)
            delete.setEnabled(not self.busy)
            menu.addAction(self.tr("Export to CD/DVD..."), self.export_selected)
            uid = self.model.study(index.row()).study_instance_uid
            menu.addAction(self.tr("Data quality..."), lambda: self.show_quality(uid))
            for hook in self.study_menu_hooks:
                hook(menu, self.selected_study_uids())
            menu.addSeparator()
        menu.addAction(self.tr("Import folder..."), self.import_folder)
        menu.addAction(self.tr("Import zip..."), self.import_zip)
        menu.addAction(self.tr("Import CD/DVD (DICOMDIR)..."), self.import_media)
        menu.addSeparator()
        menu.addAction(self.tr("Refresh"), self.refresh)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def _series_menu(self, pos: QPoint) -> None:
        index = self.series_view.indexAt(pos)
        if index.isValid():
            menu = QMenu(self)
            menu.addAction(self.tr("Open series"), lambda: self._series_double_clicked(index))
            menu.exec(self.series_view.viewport().mapToGlobal(pos))

    # --- series and thumbnails -----------------------------------------------------------------

    def _show_series(self, study: StudyRow | None) -> None:
        uid = study.study_instance_uid if study else ""
        rows = self.archive.index.series(uid) if study else []
        same = uid == self.series_model.study_uid and [
            (r.series_instance_uid, r.number_of_instances) for r in rows
        ] == [
            (r.series_instance_uid, r.number_of_instances)
            for r in map(self.series_model.series, range(self.series_model.rowCount()))
        ]
        if same:
            return
        self.thumbnails.cancel()
        self.series_model.set_series(uid, rows, self.thumbnails.icons)
        self.series_model.set_quality(self.quality.series(uid) if study else {})
        for row in rows:
            if not self.series_model.has_thumbnail(row.series_instance_uid):
                self.thumbnails.request(row.series_instance_uid)

    def thumbnails_pending(self) -> int:
        """Thumbnails of the shown study still being made."""
        return self.thumbnails.pending

    # --- importing -----------------------------------------------------------------------------

    def import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Import folder"))
        if folder:
            self.import_paths([Path(folder)])

    def import_zip(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, self.tr("Import zip"), "", self.tr("Zip archives (*.zip);;All files (*)")
        )
        if files:
            self.import_paths([Path(f) for f in files])

    def import_media(self) -> None:
        dicomdir, _ = QFileDialog.getOpenFileName(
            self, self.tr("Import CD/DVD"), "",
            self.tr("DICOMDIR (DICOMDIR dicomdir);;All files (*)"),
        )
        if dicomdir:
            self.import_paths([Path(dicomdir)])

    def import_paths(self, paths: Sequence[Path | str]) -> None:
        """Import files, folders, zips or DICOMDIRs as a Task; the import buttons and drops
        end here. Imports asked for while one runs are queued and summarised together."""
        chosen = [Path(p) for p in paths]
        self.import_prepared(lambda: chosen, self.tr("Importing"))

    def import_prepared(self, prepare: Callable[[], Sequence[Path]], label: str = "") -> None:
        """Import what `prepare()` returns, calling it on the worker thread: for files that
        must first be written (the demo study), without blocking the GUI thread."""
        self.imports.add(label or self.tr("Importing"), prepare)

    def cancel_import(self) -> None:
        """The Cancel button: stops the running import and drops the queued ones."""
        self.imports.cancel()

    @property
    def busy(self) -> bool:
        """An import or a delete is running."""
        return self.imports.running or self._delete_task is not None

    def _import_started(self, label: str) -> None:
        if not self.imports.total.imported:  # the queue's first import: a new summary
            self._import_studies.clear()
        self.progress_label.setText(self.tr("{label}: looking for files...").format(label=label))
        self.progress_bar.setRange(0, 0)  # busy until the walk knows the total
        self._show_progress(True)
        self._live_timer.start()
        self._selection_changed()

    def _import_progress(self, done: int, total: int, label: str) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        name = Path(label).name if label else ""
        self.progress_label.setText(
            self.tr("Importing {done} / {total}: {name}").format(done=done, total=total, name=name)
        )

    def _import_cancelled(self) -> None:
        self.status_label.setText(self.tr(
            "Import cancelled; the files stored before cancelling are kept."
        ))

    def _import_ended(self) -> None:
        self.thumbnails.icons.clear()  # a series may have grown: its thumbnail is made again
        self.series_model.study_uid = ""  # show the current study's series afresh
        if not self.imports.running:  # else the next queued import has started
            self._live_timer.stop()
            self._show_progress(False)
        self.refresh()
        self.archive_changed.emit()

    def show_import_summary(self, report: ImportReport) -> QMessageBox:
        """The summary of an import (viewer.gui.import_job.ImportSummary), non-modal, kept in
        `summary_box` (the one shown before is closed)."""
        if self.summary_box is not None:
            self.summary_box.close()
            self.summary_box.deleteLater()
        box = ImportSummary(report, self)
        self.summary_box = box
        self._summary_studies = set(self._import_studies)
        self._summarised = sorted(self._import_studies)
        self._import_studies.clear()
        if self._summary_studies:
            box.set_quality(self.tr("Data quality: validating {count} studies...").format(
                count=len(self._summary_studies)))
        box.show()
        return box

    # --- data quality --------------------------------------------------------------------------

    def show_quality(self, study_uid: str) -> QualityDialog:
        """The findings panel of a study (non-modal; returned for tests)."""
        row = self.model.row_of(study_uid)
        title = self.model.study(row).patient_name_text if row is not None else ""
        if self.quality_dialog is not None:
            self.quality_dialog.close()
        dialog = QualityDialog(self.archive, self.tasks, study_uid, title, self)
        dialog.revalidated.connect(self.quality.reload)
        self.quality_dialog = dialog
        dialog.show()
        return dialog

    def _quality_done(self, study_uid: str) -> None:
        self.model.quality_changed(study_uid)
        if study_uid == self.series_model.study_uid:
            self.series_model.set_quality(self.quality.series(study_uid))
        waiting = self._summary_studies
        if study_uid in waiting and self.summary_box is not None:
            waiting.discard(study_uid)
            if not waiting and isinstance(self.summary_box, ImportSummary):
                self.summary_box.set_quality(self.quality.import_summary(self._summarised))

    # --- deleting ------------------------------------------------------------------------------

    def confirm(self, title: str, question: str) -> bool:
        """Ask before something that cannot be undone (tests replace this)."""
        answer = QMessageBox.question(
            self, title, question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> None:
        """Delete the selected studies, after a confirmation naming the patients."""
        uids = self.selected_study_uids()
        if not uids or self.busy:
            return
        studies = [self.model.study(row) for uid in uids
                   if (row := self.model.row_of(uid)) is not None]
        names = sorted({s.patient_name_text or self.tr("(no name)") for s in studies})
        shown = ", ".join(names[:5])
        if len(names) > 5:
            shown += " " + self.tr("and {count} more").format(count=len(names) - 5)
        question = self.tr(
            "Delete the selected studies from the archive? Their files are removed; "
            "this cannot be undone.\n\nPatients: {patients}\nStudies: {count}"
        ).format(patients=shown, count=len(uids))
        if self.confirm(self.tr("Delete studies"), question):
            self.delete_studies(uids)

    def delete_studies(self, study_uids: Sequence[str]) -> None:
        """Remove studies (rows, then files and thumbnails) as a Task, without asking."""
        archive = self.archive
        uids = list(study_uids)

        def run(progress: ProgressCallback, cancel: CancelToken) -> int:
            for n, uid in enumerate(uids):
                cancel.raise_if_cancelled()
                series = [s.series_instance_uid for s in archive.index.series(uid)]
                # Rows first, in one transaction; then the files (a crash in between leaves
                # orphans that `check` reports, never rows without files).
                for path in archive.index.delete_study(uid):
                    archive.store.remove(path)
                for series_uid in series:
                    thumbnails.thumbnail_path(archive, series_uid).unlink(missing_ok=True)
                progress(n + 1, len(uids), "")
            return len(uids)

        task = self.tasks.start(run, "delete")
        self._delete_task = task
        task.progress.connect(self._delete_progress)
        task.succeeded.connect(lambda count: self._delete_ended(
            self.tr("Deleted studies: {count}").format(count=count)
        ))
        task.failed.connect(self._delete_failed)
        task.cancelled.connect(lambda: self._delete_ended(self.tr("Delete cancelled.")))
        self.progress_label.setText(self.tr("Deleting..."))
        self.progress_bar.setRange(0, len(uids))
        self.progress_bar.setValue(0)
        self._show_progress(True, cancellable=False)
        self._selection_changed()

    def _delete_progress(self, done: int, total: int, _label: str) -> None:
        self.progress_bar.setValue(done)

    def _delete_failed(self, reason: str) -> None:
        self._delete_ended(self.tr("Delete failed: {reason}").format(reason=reason))
        QMessageBox.warning(self, self.tr("Delete studies"), self.status_label.text())

    def _delete_ended(self, message: str) -> None:
        self._delete_task = None
        if not self.imports.running:
            self._show_progress(False)
        self.refresh()
        self.status_label.setText(message)
        self.archive_changed.emit()

    # --- drag and drop, the demo, progress ------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._offer(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self._offer(event)

    def _offer(self, event: QDropEvent) -> None:
        if _local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = _local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        if all(is_capture_file(p) for p in paths):
            self.dicomize_into_study(paths)
        else:
            self.import_paths(paths)

    def dicomize_into_study(self, paths: Sequence[Path],
                            study_uid: str | None = None) -> DicomizeDialog | None:
        """Photos and documents dropped: DICOMized into `study_uid` (default: the current
        study) once the user has confirmed whose it is (viewer.gui.dicomize_dialog). None when
        no study is chosen."""
        study_uid = study_uid or self.current_study_uid()
        if study_uid is None:
            self.status_label.setText(self.tr(
                "Select the study the photos or documents belong to, then drop them again."))
            return None
        try:
            order = order_from_study(self.archive, study_uid)
        except OrderError as exc:
            self.status_label.setText(str(exc))
            return None
        return self.dicomize_for_order(paths, order)

    def dicomize_for_order(self, paths: Sequence[Path], order: Order) -> DicomizeDialog:
        """Photos and documents DICOMized for `order` (a study's, or a worklist item's) once
        the user has confirmed whose they are."""
        dialog = open_dicomize_dialog(self, paths, order, self.archive, self.tasks)
        dialog.dicomized.connect(self._dicomized)
        self.dicomize_dialog = dialog
        return dialog

    def _dicomized(self, _report: object) -> None:
        self.refresh()
        self.archive_changed.emit()

    def set_demo_offer(self, callback: Callable[[], object] | None) -> None:
        """Show 'Load demo study' on the empty archive page; the button calls `callback`."""
        self._demo = callback
        self.demo_button.setVisible(callback is not None)

    def _load_demo(self) -> None:
        if self._demo is not None:
            self._demo()

    def _show_progress(self, shown: bool, cancellable: bool = True) -> None:
        for widget in (self.progress_label, self.progress_bar):
            widget.setVisible(shown)
        self.cancel_button.setVisible(shown and cancellable)
        for button in (self.import_folder_button, self.import_zip_button,
                       self.import_media_button):
            button.setEnabled(self._delete_task is None)


def _local_paths(mime: QMimeData) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
