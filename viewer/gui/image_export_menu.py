"""The reading window's Export menu (issue 19, item 3): the current viewport(s) as PNG, JPEG or
TIFF, the active viewport's series as pictures or as an MP4/GIF cine loop, and the viewport on
the clipboard, with or without annotations (and without the patient's text, for teaching).

Every export calls `viewer.media.image_export` as `export-images` does: the viewport's window
through the one display pipeline, one image pixel per picture pixel, the corner texts,
orientation markers and the viewport's measurements burned in on request. Exports run as
Tasks off the GUI thread; a series shows a progress dialog whose Cancel stops it (a cancelled
video leaves no file).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QProgressDialog, QWidget

from viewer.dicom import measure
from viewer.gui.imageview import wrap_qimage
from viewer.gui.measure_text import measurement_text
from viewer.gui.overlay import annotation_labels
from viewer.gui.reading import ReadingArea
from viewer.gui.tasks import Task, TaskRunner
from viewer.gui.viewport import Viewport
from viewer.jobs import CancelToken, ProgressCallback
from viewer.media.annotate import MeasurementMark
from viewer.media.image_export import (
    SUFFIXES,
    ExportOptions,
    ExportResult,
    export_stack,
    render_export_frame,
)

LOGGER = logging.getLogger(__name__)

FILTERS = {"png": "PNG (*.png)", "jpeg": "JPEG (*.jpg *.jpeg)", "tiff": "TIFF (*.tif *.tiff)",
           "mp4": "MP4 (*.mp4)", "gif": "GIF (*.gif)"}


def viewport_marks(viewport: Viewport) -> list[MeasurementMark]:
    """The viewport's finished measurements on its current frame, outline and label as it
    draws them."""
    key = viewport.current_key
    stack = viewport.stack
    if key is None or stack is None:
        return []
    frame = viewport.frame
    info = frame.info if frame is not None else None
    calibration = measure.calibration_of(viewport.geometry_now, info)
    return [MeasurementMark(tuple(m.outline()),
                            measurement_text(m, calibration, frame.array if frame else None,
                                             info, stack.info.modality))
            for m in viewport.measurements.on(key) if m.complete]


class ImageExportMenu(QObject):
    """The menu and the exports it starts; `finished` carries each export's result."""

    finished = Signal(object)  # ExportResult
    failed = Signal(str)  # one line: why an export could not be made
    message = Signal(str)  # a status line for the window

    def __init__(self, reading: ReadingArea, tasks: TaskRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self.reading = reading
        self.tasks = tasks
        self.window = parent
        self.task: Task | None = None
        self.progress: QProgressDialog | None = None
        menu = QMenu(self.tr("Export"), parent)
        self.menu = menu
        self.annotate = QAction(self.tr("With annotations"), menu, checkable=True)
        self.annotate.setChecked(True)
        self.patient_text = QAction(self.tr("With the patient's name and IDs"), menu,
                                    checkable=True)
        self.patient_text.setChecked(True)
        self.patient_text.setToolTip(self.tr("Off for teaching files: the name, ID, birth "
                                             "date, institution and study date are left out"))
        for fmt, name in (("png", "PNG"), ("jpeg", "JPEG"), ("tiff", "TIFF")):
            menu.addAction(self.tr("Viewport as {format}…").format(format=name)).triggered.connect(
                lambda _=False, f=fmt: self._ask_viewport(f))
        menu.addAction(self.tr("All viewports as PNG…")).triggered.connect(self._ask_viewports)
        menu.addSeparator()
        menu.addAction(self.tr("Series as PNG pictures…")).triggered.connect(
            lambda: self._ask_series("png"))
        menu.addAction(self.tr("Series as MP4 video…")).triggered.connect(
            lambda: self._ask_series("mp4"))
        menu.addAction(self.tr("Series as GIF animation…")).triggered.connect(
            lambda: self._ask_series("gif"))
        menu.addSeparator()
        copy = menu.addAction(self.tr("Copy viewport to clipboard"))
        copy.setShortcut(QKeySequence("Ctrl+Shift+C"))
        copy.triggered.connect(self.copy_viewport)
        parent.addAction(copy)  # the shortcut works while the menu is closed
        menu.addSeparator()
        menu.addAction(self.annotate)
        menu.addAction(self.patient_text)

    # -- what the user chose ----------------------------------------------------------------
    def options(self, viewport: Viewport, image_format: str) -> ExportOptions:
        """The viewport's window and the menu's annotation choices, for `image_format`."""
        return ExportOptions(image_format, viewport.state, annotations=self.annotate.isChecked(),
                             patient_text=self.patient_text.isChecked())

    def picture(self, viewport: Viewport) -> np.ndarray | None:
        """The active frame of `viewport` as exported (None without an image)."""
        stack = viewport.stack
        if stack is None or not stack.frames:
            return None
        return render_export_frame(stack, viewport.position, self.options(viewport, "png"),
                                   viewport_marks(viewport), annotation_labels())

    # -- the exports --------------------------------------------------------------------------
    def export_viewport(self, viewport: Viewport, target: Path, image_format: str) -> Task | None:
        """The viewport's current frame as one picture at `target`."""
        return self._start([(viewport, target)], image_format, whole_series=False)

    def export_viewports(self, folder: Path, image_format: str = "png") -> Task | None:
        """Each viewport showing an image, its current frame as `viewport-N.ext` in `folder`."""
        shown = [v for v in self.reading.viewports if v.stack is not None and v.stack.frames]
        suffix = SUFFIXES[image_format]
        pairs = [(v, folder / f"viewport-{n}{suffix}") for n, v in enumerate(shown, 1)]
        return self._start(pairs, image_format, whole_series=False)

    def export_series(self, viewport: Viewport, target: Path, image_format: str) -> Task | None:
        """The viewport's whole series: pictures in the folder `target`, or one video."""
        return self._start([(viewport, target)], image_format, whole_series=True)

    def copy_viewport(self) -> bool:
        """The active viewport's frame, as it would be exported, on the clipboard."""
        viewport = self.reading.active
        if viewport is None:
            return False
        from viewer.dicom.files import DicomFileError

        try:
            picture = self.picture(viewport)
        except DicomFileError as exc:
            self.failed.emit(str(exc))
            return False
        if picture is None:
            return False
        # copy(): the QImage wraps `picture`'s memory, which goes when this function returns
        QGuiApplication.clipboard().setImage(wrap_qimage(picture).copy())
        self.message.emit(self.tr("Viewport copied to the clipboard"))
        return True

    def _start(self, pairs: list[tuple[Viewport, Path]], image_format: str,
               whole_series: bool) -> Task | None:
        if self.task is not None or not pairs:
            return None
        labels = annotation_labels()  # translated on the GUI thread, used by the job
        jobs = []
        for viewport, target in pairs:
            stack = viewport.stack
            if stack is None or not stack.frames:
                continue
            marks = {viewport.position: viewport_marks(viewport)}
            positions = None if whole_series else [viewport.position]
            jobs.append((stack, target, self.options(viewport, image_format), positions, marks))

        def job(progress: ProgressCallback, cancel: CancelToken) -> ExportResult:
            total = ExportResult()
            for stack, target, options, positions, marks in jobs:
                result = export_stack(stack, target, options, positions=positions,
                                      measurements=marks, labels=labels, progress=progress,
                                      cancel=cancel)
                total.report.done += result.report.done
                total.report.failed += result.report.failed
                total.rate, total.rate_source = result.rate, result.rate_source
            return total

        task = self.tasks.start(job, "export images")
        self.task = task
        if whole_series:
            dialog = QProgressDialog(self.tr("Exporting the series…"), self.tr("Cancel"), 0, 0,
                                     self.window)
            dialog.setMinimumDuration(300)
            dialog.canceled.connect(task.cancel)
            task.progress.connect(self._progress)
            self.progress = dialog
        task.succeeded.connect(self._succeeded)
        task.failed.connect(self._failed)
        task.cancelled.connect(lambda: self.message.emit(self.tr("Export cancelled")))
        task.finished.connect(self._ended)
        return task

    def _progress(self, done: int, total: int, _label: str) -> None:
        if self.progress is not None:
            self.progress.setMaximum(max(total, 1))
            self.progress.setValue(done)

    def _succeeded(self, result: ExportResult) -> None:
        report = result.report
        text = self.tr("Exported {count} file(s)").format(count=len(report.done))
        if report.failed:
            text += "; " + self.tr("{count} frame(s) could not be read: {first}").format(
                count=len(report.failed),
                first=f"{report.failed[0].item}: {report.failed[0].reason}")
        self.message.emit(text)
        self.finished.emit(result)

    def _failed(self, reason: str) -> None:
        self.message.emit(self.tr("Export failed: {reason}").format(reason=reason))
        self.failed.emit(reason)

    def _ended(self) -> None:
        self.task = None
        if self.progress is not None:
            self.progress.reset()
            self.progress.deleteLater()
            self.progress = None

    # -- asking where ---------------------------------------------------------------------------
    def _ask_viewport(self, image_format: str) -> None:
        viewport = self.reading.active
        if viewport is None or viewport.stack is None:
            return
        name, _ = QFileDialog.getSaveFileName(
            self.window, self.tr("Export viewport"), f"image{SUFFIXES[image_format]}",
            FILTERS[image_format])
        if name:
            self.export_viewport(viewport, Path(name), image_format)

    def _ask_viewports(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, self.tr("Export viewports to"))
        if folder:
            self.export_viewports(Path(folder))

    def _ask_series(self, image_format: str) -> None:
        viewport = self.reading.active
        if viewport is None or viewport.stack is None:
            return
        if image_format in ("png", "jpeg", "tiff"):
            name = QFileDialog.getExistingDirectory(self.window, self.tr("Export series to"))
        else:
            name, _ = QFileDialog.getSaveFileName(
                self.window, self.tr("Export series"), f"series{SUFFIXES[image_format]}",
                FILTERS[image_format])
        if name:
            self.export_series(viewport, Path(name), image_format)
