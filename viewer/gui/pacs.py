"""The PACS panel: echo a node, query it (C-FIND at study level, then the series of the study
selected), retrieve studies or single series (C-MOVE or C-GET) into the archive, send local
studies (C-STORE), and the status of our Storage SCP.

The panel is built of one part per job, each a layer on the one before:
viewer.gui.pacs_query (the node, C-ECHO and C-FIND), viewer.gui.pacs_transfer (retrieve and
send); the Storage SCP is viewer.gui.storage_service's. This module lays them out.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from viewer.archive.archive import Archive
from viewer.config import Settings
from viewer.gui.browser import StudyBrowser
from viewer.gui.pacs_query import ERROR_STYLE, WARNING_STYLE
from viewer.gui.pacs_transfer import PacsTransfer
from viewer.gui.storage_service import StorageService
from viewer.gui.tasks import TaskRunner


class PacsPanel(PacsTransfer):
    """Node, echo, query fields, the C-FIND results, retrieve; sending local studies; the
    Storage SCP's status. `browser` (optional) is refreshed after retrieves and gets a
    "Send to" submenu on its study list."""

    def __init__(
        self,
        settings: Settings,
        archive: Archive,
        tasks: TaskRunner,
        browser: StudyBrowser | None = None,
        storage: StorageService | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(settings, archive, tasks, browser, parent)
        self.storage = storage or StorageService(archive.root, settings, self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._build_node_row())
        self.no_nodes_label = QLabel(self.tr(
            "No PACS is configured. Add one with:  dicom-viewer nodes add NAME AET HOST PORT  "
            "(a DICOMweb service:  dicom-viewer nodes add NAME --dicomweb URL)"
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
        layout.addLayout(self._build_results_row())
        layout.addLayout(self._build_status_row())
        self.scp_label = QLabel()
        layout.addWidget(self.scp_label)
        self.scp_problem_label = QLabel()  # the hover shows the recent ones
        self.scp_problem_label.setWordWrap(True)
        self.scp_problem_label.setStyleSheet(WARNING_STYLE)
        layout.addWidget(self.scp_problem_label)

        self.storage.changed.connect(self._show_scp_status)
        self.storage.archive_changed.connect(self._archive_changed)
        self.storage.problems_changed.connect(self._show_scp_problems)
        if browser is not None:
            browser.study_menu_hooks.append(self.add_send_menu)
        self._show_scp_status()
        self._show_scp_problems()
        self._nodes_changed()

    def _nodes_changed(self) -> None:
        has_nodes = bool(self.settings.nodes)
        self.no_nodes_label.setVisible(not has_nodes)
        self.node_combo.setEnabled(has_nodes)
        self._node_changed()
        self._update_buttons()

    def _show_scp_status(self) -> None:
        self.scp_label.setText(self.storage.status_text())
        self.scp_label.setStyleSheet(ERROR_STYLE if self.storage.error else "")

    def _show_scp_problems(self) -> None:
        self.scp_problem_label.setText(self.storage.problem_text())
        self.scp_problem_label.setToolTip(self.storage.problem_details())
        self.scp_problem_label.setVisible(bool(self.storage.problem_count))

    def shutdown(self) -> None:
        """Stop the Storage SCP (the window is closing; the owner shuts the tasks down)."""
        self._series_timer.stop()
        self.storage.stop()

