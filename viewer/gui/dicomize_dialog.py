"""The DICOMize dialog: photos and documents dropped on the study browser (or handed over by
the worklist panel) become DICOM instances of one patient's study, after the user has seen
whose study they join. The same core call as `dicom-viewer dicomize`
(viewer.capture.dicomize.dicomize_files), run as a Task, never on the GUI thread.

Entry point for other panels: `open_dicomize_dialog(parent, paths, order, archive, tasks)`.
Refused files (not an image, truncated, too large) are listed in the dialog with their reason
and nothing can be started, as the CLI imports nothing when any file is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer.archive.archive import Archive
from viewer.capture.dicomize import (
    DicomizeRefused,
    DicomizeReport,
    dicomize_examined,
    examine_all,
)
from viewer.capture.iods import SERIES_OF_KIND
from viewer.capture.order import Order
from viewer.capture.sources import Examined, Kind
from viewer.dicom.text import format_date, person_name_text
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback

LOGGER = logging.getLogger(__name__)

_WHAT = {Kind.JPEG: "VL Photographic Image", Kind.PNG: "Secondary Capture Image",
         Kind.PDF: "Encapsulated PDF"}


class DicomizeDialog(QDialog):
    """Confirm, then DICOMize `paths` for `order` into `archive`. `dicomized` carries the report
    once the instances are imported (the browser refreshes on it)."""

    dicomized = Signal(object)  # DicomizeReport

    def __init__(self, paths: Sequence[Path], order: Order, archive: Archive,
                 tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("DICOMize files"))
        self.order = order
        self.paths = [Path(p) for p in paths]
        self.archive = archive
        self.tasks = tasks
        self.task: Task | None = None
        self.report: DicomizeReport | None = None
        self.refused: tuple[str, ...] = ()
        self.examined: list[Examined] = []  # shown now, built on DICOMize: decoded once
        try:
            self.examined = examine_all(self.paths)
        except DicomizeRefused as exc:
            self.refused = tuple(f"{r.path.name}: {r.reason}" for r in exc.refused)

        layout = QVBoxLayout(self)
        heading = QLabel(self.tr("These files become DICOM instances of this patient's study:"))
        heading.setWordWrap(True)
        layout.addWidget(heading)
        form = QFormLayout()
        self.patient_label = QLabel(self._patient_text())
        self.study_label = QLabel(self._study_text())
        self.study_label.setWordWrap(True)
        form.addRow(self.tr("Patient:"), self.patient_label)
        form.addRow(self.tr("Study:"), self.study_label)
        layout.addLayout(form)
        self.files_list = QListWidget()
        self.files_list.setToolTip("\n".join(str(p) for p in self.paths))
        if self.refused:
            self.files_list.addItems(self.refused)
        else:
            self.files_list.addItems([f"{e.path.name}  →  {_WHAT[e.kind]} "
                                      f"({SERIES_OF_KIND[e.kind][0]})" for e in self.examined])
        layout.addWidget(self.files_list, 1)
        self.status_label = QLabel(
            self.tr("Nothing can be DICOMized: remove the files refused above.")
            if self.refused else self.tr("Each kind of file goes into one new series."))
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        buttons = QDialogButtonBox()
        self.start_button = QPushButton(self.tr("DICOMize"))
        self.start_button.setEnabled(not self.refused)
        buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.start_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self._close_or_cancel)
        layout.addWidget(buttons)
        self.resize(560, 360)

    def _patient_text(self) -> str:
        o = self.order
        born = format_date(o.patient_birth_date) if o.patient_birth_date else "?"
        return self.tr("{name}  (ID {id}), born {born}, sex {sex}").format(
            name=person_name_text(o.patient_name), id=o.patient_id, born=born,
            sex=o.patient_sex or "?")

    def _study_text(self) -> str:
        o = self.order
        parts = [format_date(o.study_date) if o.study_date else self.tr("new")]
        if o.study_description:
            parts.append(o.study_description)
        if o.accession_number:
            parts.append(self.tr("accession {a}").format(a=o.accession_number))
        source = {"worklist": self.tr("from the worklist"), "archive": self.tr("in the archive"),
                  "typed": self.tr("typed")}.get(o.source, o.source)
        return f"{', '.join(parts)} ({source})\n{o.study_instance_uid}"

    def start(self) -> None:
        """Run the core call as a Task; the dialog shows the outcome."""
        if self.refused or self.task is not None:
            return
        examined, order, archive = self.examined, self.order, self.archive

        def run(progress: ProgressCallback, cancel: CancelToken) -> DicomizeReport:
            return dicomize_examined(examined, order, archive, progress, cancel)

        self.task = self.tasks.start(run, "dicomize")
        self.task.succeeded.connect(self._succeeded)
        self.task.failed.connect(self._failed)
        self.start_button.setEnabled(False)
        self.status_label.setText(self.tr("DICOMizing..."))

    def _succeeded(self, report: DicomizeReport) -> None:
        self.report = report
        text = self.tr("Imported {count} instance(s).").format(count=len(report.instances))
        if report.failed:
            text += " " + self.tr("Not imported: {files}").format(
                files="; ".join(f"{Path(f.item).name}: {f.reason}" for f in report.failed))
        if report.warnings:
            text += "\n" + "\n".join(report.warnings)
        self.status_label.setText(text)
        self.close_button.setText(self.tr("Close"))
        self.dicomized.emit(report)

    def _failed(self, reason: str) -> None:
        self.task = None
        self.start_button.setEnabled(True)
        self.status_label.setText(self.tr("DICOMize failed: {reason}").format(reason=reason))

    def _close_or_cancel(self) -> None:
        if self.task is not None and self.task.running:
            self.task.cancel()
        self.reject()


def open_dicomize_dialog(parent: QWidget | None, paths: Sequence[Path], order: Order,
                         archive: Archive, tasks: TaskRunner) -> DicomizeDialog:
    """Show the DICOMize dialog (window-modal, not blocking) for `paths` and `order`; connect
    to its `dicomized` signal for the report."""
    dialog = DicomizeDialog(paths, order, archive, tasks, parent)
    dialog.open()
    return dialog
