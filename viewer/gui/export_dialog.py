"""Export studies to CD/DVD: a file-set with a DICOMDIR in a folder, optionally an ISO image to
burn, optionally de-identified (viewer.media; the CLI's `export` does the same).

The export runs as a Task (never on the GUI thread) with progress and Cancel; a cancelled or
failed export leaves nothing in the target folder (viewer.media.export cleans up).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer.archive.archive import Archive
from viewer.gui.tasks import Task, TaskRunner
from viewer.jobs import CancelToken, ProgressCallback

if TYPE_CHECKING:
    from viewer.media.export import ExportReport

LOGGER = logging.getLogger(__name__)

SHOWN_PROBLEMS = 8  # failures listed in the result line's tooltip


@dataclass(frozen=True)
class ExportChoice:
    """What the dialog asks for: the same choices as `dicom-viewer export`."""

    target: Path
    profile: str
    anonymize: bool = False
    retain_dates: bool = False
    clean_descriptors: bool = False
    include_burned_in: bool = False
    iso: Path | None = None
    volume_label: str = "DICOM"
    key_images_only: bool = False  # the key images with their KOS and presentation states


@dataclass(frozen=True)
class ExportOutcome:
    report: ExportReport
    iso: Path | None
    iso_error: str = ""


def run_export(archive: Archive, study_uids: list[str], choice: ExportChoice,
               progress: ProgressCallback, cancel: CancelToken) -> ExportOutcome:
    """The export (and the ISO image) for a Task: the core's calls, nothing more."""
    from viewer.media.deid import DeidOptions
    from viewer.media.export import export_studies
    from viewer.media.iso import IsoError, make_iso

    deid = DeidOptions(choice.retain_dates, choice.clean_descriptors,
                       choice.include_burned_in) if choice.anonymize else None
    report = export_studies(archive, study_uids, choice.target, choice.profile, deid, progress,
                            cancel, key_images_only=choice.key_images_only)
    if choice.iso is None or not report.exported:
        return ExportOutcome(report, None)
    try:
        return ExportOutcome(report, make_iso(choice.target, choice.iso, choice.volume_label))
    except IsoError as exc:
        return ExportOutcome(report, None, str(exc))


class ExportDialog(QDialog):
    """Choose the target folder, the media profile, de-identification and an ISO image, then
    export the selected studies with progress."""

    def __init__(self, archive: Archive, tasks: TaskRunner, study_uids: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from viewer.media.export import PROFILES

        self.archive = archive
        self.tasks = tasks
        self.study_uids = list(study_uids)
        self.task: Task | None = None
        self.outcome: ExportOutcome | None = None
        self.setWindowTitle(self.tr("Export to CD/DVD"))

        self.target_edit = QLineEdit()
        self.target_edit.setPlaceholderText(self.tr("an empty folder"))
        browse = QPushButton(self.tr("Browse..."))
        browse.clicked.connect(self._browse)
        target_row = QHBoxLayout()
        target_row.addWidget(self.target_edit, 1)
        target_row.addWidget(browse)

        self.profile_combo = QComboBox()
        for name, profile in PROFILES.items():
            self.profile_combo.addItem(f"{name}: {profile.description}", name)

        self.anonymize_box = QCheckBox(self.tr("De-identify (PS3.15 basic profile)"))
        self.retain_dates_box = QCheckBox(self.tr("Keep dates and times"))
        self.clean_box = QCheckBox(self.tr("Clean descriptions"))
        self.burned_in_box = QCheckBox(self.tr("Include images with burned-in annotation"))
        for box in (self.retain_dates_box, self.clean_box, self.burned_in_box):
            box.setEnabled(False)
            self.anonymize_box.toggled.connect(box.setEnabled)

        self.key_images_box = QCheckBox(self.tr("Key images only"))
        self.key_images_box.setToolTip(self.tr(
            "Only the images a key object document flags, with those documents and the "
            "presentation states they name"))
        self.iso_box = QCheckBox(self.tr("Also write an ISO image to burn"))
        self.iso_edit = QLineEdit()
        self.iso_edit.setEnabled(False)
        self.iso_edit.setPlaceholderText(self.tr("image file (.iso)"))
        self.iso_box.toggled.connect(self.iso_edit.setEnabled)

        form = QFormLayout()
        form.addRow(self.tr("Folder:"), target_row)
        form.addRow(self.tr("Media profile:"), self.profile_combo)
        form.addRow("", self.anonymize_box)
        form.addRow("", self.retain_dates_box)
        form.addRow("", self.clean_box)
        form.addRow("", self.burned_in_box)
        form.addRow("", self.key_images_box)
        form.addRow("", self.iso_box)
        form.addRow(self.tr("ISO image:"), self.iso_edit)

        self.progress_bar = QProgressBar()
        self.progress_bar.hide()
        self.status_label = QLabel(self.tr("{count} studies selected").format(
            count=len(self.study_uids)))
        self.status_label.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(self.tr("Export"),
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel_or_close)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

    def choice(self) -> ExportChoice | None:
        """The choices, or None with the reason shown when one is missing."""
        target = self.target_edit.text().strip()
        if not target:
            self._status(self.tr("Choose an empty folder to export to."), error=True)
            return None
        iso = None
        if self.iso_box.isChecked():
            text = self.iso_edit.text().strip()
            if not text:
                self._status(self.tr("Name the ISO image file."), error=True)
                return None
            iso = Path(text)
        return ExportChoice(
            Path(target), str(self.profile_combo.currentData()),
            self.anonymize_box.isChecked(), self.retain_dates_box.isChecked(),
            self.clean_box.isChecked(), self.burned_in_box.isChecked(), iso,
            key_images_only=self.key_images_box.isChecked(),
        )

    def start(self) -> None:
        choice = self.choice()
        if choice is None or self.task is not None:
            return
        archive, uids = self.archive, self.study_uids

        def job(progress: ProgressCallback, cancel: CancelToken) -> ExportOutcome:
            return run_export(archive, uids, choice, progress, cancel)

        self.task = self.tasks.start(job, "export")
        self.task.progress.connect(self._progress)
        self.task.succeeded.connect(self._done)
        self.task.failed.connect(self._failed)
        self.task.cancelled.connect(self._cancelled)
        self.export_button.setEnabled(False)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self._status(self.tr("Exporting..."))

    def _progress(self, done: int, total: int, label: str) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self._status(self.tr("Exporting {done} / {total}").format(done=done, total=total))

    def _done(self, outcome: ExportOutcome) -> None:
        self.task, self.outcome = None, outcome
        self.progress_bar.hide()
        report = outcome.report
        text = self.tr("Exported {count} files to {folder}").format(
            count=len(report.exported), folder=report.target)
        problems = [f"{f.item}: {f.reason}" for f in (*report.failed, *report.excluded)]
        if problems:
            text += "; " + self.tr("{count} not exported").format(count=len(problems))
        if outcome.iso is not None:
            text += "; " + self.tr("ISO image {path}").format(path=outcome.iso)
        if outcome.iso_error:
            text += "; " + self.tr("no ISO image: {reason}").format(reason=outcome.iso_error)
            problems.append(outcome.iso_error)
        self._status(text, error=bool(problems))
        self.status_label.setToolTip("\n".join(problems[:SHOWN_PROBLEMS]))
        self.cancel_button.setText(self.tr("Close"))

    def _failed(self, reason: str) -> None:
        self.task = None
        self.progress_bar.hide()
        self.export_button.setEnabled(True)
        self._status(self.tr("Export failed: {reason}").format(reason=reason), error=True)

    def _cancelled(self) -> None:
        self.task = None
        self.progress_bar.hide()
        self.export_button.setEnabled(True)
        self._status(self.tr("Export cancelled; nothing was left in the folder."))

    def _cancel_or_close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        else:
            self.reject()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Export to folder"))
        if folder:
            self.target_edit.setText(folder)

    def _status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #d04040;" if error else "")
