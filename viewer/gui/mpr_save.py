"""The MPR "save as series" dialog: how many planes along the shown plane's normal and how far
apart; the planes are written as derived images (viewer.volume.save_series) on the import
queue's worker and imported through archive.importer like any import, so the new series shows
in the browser and opens in any viewer."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from pydicom import dcmread
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from viewer.gui.import_job import ImportQueue
from viewer.gui.mpr_view import MprView
from viewer.volume.model import Plane, Volume
from viewer.volume.navigation import normal_step, plane_stack
from viewer.volume.save_series import write_plane_series

MAX_PLANES = 2000


class SaveSeriesDialog(QDialog):
    """Count, spacing (mm) and description of the planes to save."""

    def __init__(self, view: MprView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Save as series"))
        plane, volume = view.plane, view.controller.volume
        form = QFormLayout(self)
        self.count = QSpinBox()
        self.count.setRange(1, MAX_PLANES)
        self.spacing = QDoubleSpinBox()
        self.spacing.setRange(0.1, 100.0)
        self.spacing.setDecimals(2)
        self.spacing.setSuffix(" mm")
        step = max(normal_step(volume, plane.normal), plane.slab)
        self.spacing.setValue(round(step, 2))
        self.count.setValue(min(MAX_PLANES, max(1, round(_extent(volume, plane) / step) + 1)))
        self.description = QLineEdit(f"MPR {view.name}" + (
            f" {plane.mode.value.upper()} {plane.slab:g} mm" if plane.slab > 0 else ""))
        form.addRow(self.tr("Planes"), self.count)
        form.addRow(self.tr("Spacing"), self.spacing)
        form.addRow(self.tr("Series description"), self.description)
        form.addRow(QLabel(self.tr("Centred on the shown plane, along its normal.")))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


def _extent(volume: Volume, plane: Plane) -> float:
    """How far the volume reaches along the plane's normal (mm)."""
    along = volume.corners() @ plane.normal
    return float(along.max() - along.min())


def save_series(imports: ImportQueue, volume: Volume, plane: Plane, source_file: str,
                count: int, spacing: float, description: str) -> str:
    """Queue the planes for writing and import; returns the import's label. The temporary
    folder goes once the queue is done with it."""
    planes = plane_stack(plane, count, spacing)
    folder = Path(tempfile.mkdtemp(prefix="viewer-mpr-"))
    label = f"{description} ({count})"

    def prepare() -> list[Path]:  # on the import worker
        source = dcmread(source_file, stop_before_pixels=True)
        return write_plane_series(volume, planes, folder, source, description=description)

    def clean() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        imports.finished.disconnect(clean)
        imports.cancelled.disconnect(clean)

    imports.finished.connect(clean)
    imports.cancelled.connect(clean)
    imports.add(label, prepare)
    return label


def ask_and_save(parent: QWidget, view: MprView, imports: ImportQueue | None,
                 source_file: str | None) -> None:
    """The dialog, then `save_series`; one line instead when it cannot be done."""
    volume = view.controller.volume
    title = QCoreApplication.translate("SaveSeriesDialog", "Save as series")
    if imports is None or source_file is None:
        QMessageBox.information(parent, title, QCoreApplication.translate(
            "SaveSeriesDialog", "Saving needs the archive: open the study from it."))
        return
    if view.controller.loading():
        QMessageBox.information(parent, title, QCoreApplication.translate(
            "SaveSeriesDialog", "The series is still loading: save once it is in."))
        return
    dialog = SaveSeriesDialog(view, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return
    save_series(imports, volume, view.plane, source_file, dialog.count.value(),
                dialog.spacing.value(), dialog.description.text().strip() or "MPR")
