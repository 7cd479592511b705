"""The transfer half of the PACS panel: retrieve studies or single series from a node (C-MOVE
or C-GET; a DICOMweb node: WADO-RS) into the archive, send local studies to a node (C-STORE;
STOW-RS), with progress, Cancel and a summary of what went wrong; and "Open", which shows a
study of a DICOMweb node in the viewer without retrieving it first (viewer.gui.web_open).

Every transfer runs as a Task (viewer.gui.tasks), never on the GUI thread, one at a time; what
it moves goes through viewer.net.transport, as for the command line, and, received, through
the archive's import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QProgressBar,
    QTableView,
    QWidget,
)

from viewer.archive.archive import Archive
from viewer.config import Settings
from viewer.gui.browser import StudyBrowser
from viewer.gui.pacs_models import QueryResultModel
from viewer.gui.pacs_query import ERROR_STYLE, OK_STYLE, PacsQuery, node_label
from viewer.gui.storage_service import local_ae
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback

if TYPE_CHECKING:
    # viewer.net loads pynetdicom (~0.2 s): imported when first used, not at the window's start
    from viewer.net.retrieve import RetrieveProgress, RetrieveReport
    from viewer.net.store_scu import SendReport

SHOWN_PROBLEMS = 8  # reasons listed in a summary's text (all of them go to its details)


@dataclass(frozen=True)
class StudyOutcome:
    """One study of a retrieve: its report, or why it could not be retrieved."""

    label: str  # patient name and study date, for the summary
    report: RetrieveReport | None
    error: str = ""


class PacsTransfer(PacsQuery):
    """Retrieve (the studies or series selected) and send (the browser's studies) on top of the
    query: the Retrieve buttons, the progress bar and Cancel, the summary box; Open (a DICOMweb
    node's study, straight into the viewer: `open_requested`)."""

    open_requested = Signal(str, str)  # node name, Study Instance UID

    def __init__(self, settings: Settings, archive: Archive, tasks: TaskRunner,
                 browser: StudyBrowser | None = None, parent: QWidget | None = None) -> None:
        super().__init__(settings, archive, tasks, browser, parent)
        self.summary_box: QMessageBox | None = None
        self._job: Task | None = None  # the running retrieve or send
        self._retrieving_series = False  # what the running retrieve's progress counts

    # --- building ------------------------------------------------------------------------------

    def _build_table(self) -> QTableView:
        table = super()._build_table()
        table.doubleClicked.connect(lambda _index: self.retrieve_selected())
        return table

    def _build_series(self) -> QWidget:
        box = super()._build_series()
        self.series_table.doubleClicked.connect(lambda _index: self.retrieve_selected_series())
        self.retrieve_series_button = self._button(self.tr("Retrieve series"),
                                                   self.retrieve_selected_series)
        self.retrieve_series_button.setToolTip(self.tr(
            "Retrieve only the selected series of this study"))
        self.series_header.addWidget(self.retrieve_series_button)
        return box

    def _build_results_row(self) -> QHBoxLayout:
        """The count of studies found, then how to retrieve them and the Retrieve button."""
        row = super()._build_results_row()
        self.via_combo = QComboBox()
        self.via_combo.addItem(self.tr("C-MOVE"), "move")
        self.via_combo.addItem(self.tr("C-GET"), "get")
        self.via_combo.setToolTip(self.tr(
            "C-MOVE: the PACS sends the images to our AE title (it must know it as a "
            "destination). C-GET: the images come back on the same connection."
        ))
        self.retrieve_button = self._button(self.tr("Retrieve"), self.retrieve_selected)
        self.open_button = self._button(self.tr("Open"), self.open_selected)
        self.open_button.setToolTip(self.tr(
            "Show the selected study now, without retrieving it first: the image you look at "
            "arrives first, the rest in the background into the archive (DICOMweb nodes)"))
        self.via_label = QLabel(self.tr("Retrieve with:"))
        row.addWidget(self.via_label)
        row.addWidget(self.via_combo)
        row.addWidget(self.retrieve_button)
        row.addWidget(self.open_button)
        return row

    def _node_changed(self, *_: object) -> None:
        """A DICOMweb node retrieves by WADO-RS (no C-MOVE or C-GET to choose) and opens."""
        super()._node_changed()
        node = self.node()
        web = node is not None and node.dicomweb is not None
        self.via_combo.setVisible(not web)
        self.via_label.setText(self.tr("Retrieve with: WADO-RS") if web
                               else self.tr("Retrieve with:"))
        self.open_button.setVisible(web)
        self._update_buttons()

    def _build_status_row(self) -> QHBoxLayout:
        """The status line, with the progress bar and Cancel of a retrieve or a send."""
        row = super()._build_status_row()
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.cancel_button = self._button(self.tr("Cancel"), self.cancel)
        row.addWidget(self.progress_bar)
        row.addWidget(self.cancel_button)
        self._show_progress(False)
        return row

    # --- state ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A retrieve or a send is running."""
        return self._job is not None

    def _update_buttons(self, *_: object) -> None:
        super()._update_buttons()
        has_node = self.node() is not None
        self.retrieve_button.setEnabled(
            has_node and not self.busy and bool(self.selected_rows())
        )
        self.retrieve_series_button.setEnabled(
            has_node and not self.busy and bool(self.selected_series_rows())
        )
        node = self.node()
        self.open_button.setEnabled(node is not None and node.dicomweb is not None
                                    and len(self.selected_rows()) == 1)

    def _show_progress(self, shown: bool) -> None:
        self.progress_bar.setVisible(shown)
        self.cancel_button.setVisible(shown)

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

    def open_selected(self) -> None:
        """The selected study of a DICOMweb node, shown in the viewer as it arrives."""
        node, rows = self.node(), self.selected_rows()
        if node is not None and node.dicomweb is not None and len(rows) == 1:
            self.open_requested.emit(node.name, self.model.study_uid(rows[0]))

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
            from viewer.net.transport import retrieve

            local = local_ae(settings)
            outcomes: list[StudyOutcome] = []
            for n, (uid, series_uid, label) in enumerate(targets):
                if cancel.cancelled:
                    break

                def forward(p: RetrieveProgress, n: int = n) -> None:
                    progress(n, len(targets), _encode_progress(p))

                try:
                    report = retrieve(node, local, archive, uid, series_uid, progress=forward,
                                      cancel=cancel, via=via)
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
        task.cancelled.connect(lambda: self._retrieve_done([]))  # before the job began
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
        # cancelled in the job, or before it began or between studies (no report says so)
        cancelled = (self._job is not None and self._job.token.cancelled) or any(
            o.report is not None and o.report.cancelled for o in outcomes)
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
            action = send.addAction(node_label(node))
            action.triggered.connect(
                lambda _=False, name=node.name: self.send_studies(study_uids, name)
            )

    def send_studies(self, study_uids: Sequence[str], node_name: str) -> None:
        """C-STORE every stored file of the studies to the node over one association (a
        DICOMweb node: STOW-RS), as a Task with progress and Cancel; a summary lists the files
        that failed and why."""
        node = next((n for n in self.settings.nodes if n.name == node_name), None)
        uids = list(study_uids)
        if node is None or not uids or self.busy:
            return
        settings, archive = self.settings, self.archive

        def run(progress: ProgressCallback, cancel: CancelToken) -> tuple[SendReport, str]:
            from viewer.net.store_scu import SendInterrupted
            from viewer.net.transport import send

            local = local_ae(settings)
            files = [path for uid in uids for path in archive.study_files(uid)]
            try:
                return send(node, local, files, progress, cancel), ""
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

