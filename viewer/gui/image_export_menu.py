"""The reading window's Export menu (issue 19, item 3): the current viewport(s) as PNG, JPEG or
TIFF, the active viewport's series as pictures or as an MP4/GIF cine loop, and the viewport on
the clipboard, with or without annotations (and without the patient's text, for teaching).

A viewport (one, all of them, or on the clipboard) is exported as it is seen
(`viewport_picture`: its scene painted again, WYSIWYG), as on screen or at the image's
resolution. A series calls `viewer.media.image_export` as `export-images` does: the viewport's
window, turns, mirrors and presentation state (for the images it references) through the one
display pipeline, one image pixel per picture pixel, not zoomed or panned (the progress dialog
says so), the corner texts, orientation markers and the viewport's measurements burned in on
request. Files are written by Tasks off the GUI thread; a series shows a progress dialog whose
Cancel stops it (a cancelled video leaves no file).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QProgressDialog, QWidget

from viewer.dicom import measure
from viewer.gui.measure_text import measurement_text
from viewer.gui.overlay import annotation_labels
from viewer.gui.reading import ReadingArea
from viewer.gui.tasks import Task, TaskRunner
from viewer.gui.viewport import Viewport
from viewer.gui.viewport_picture import (
    PictureOptions,
    PictureSize,
    layout_picture,
    picture_array,
    viewport_picture,
)
from viewer.jobs import CancelToken, ProgressCallback
from viewer.media.annotate import MeasurementMark
from viewer.media.image_export import (
    SUFFIXES,
    ExportOptions,
    ExportResult,
    export_stack,
    write_picture,
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
        menu.addAction(self.tr("All viewports as one PNG…")).triggered.connect(
            self._ask_layout)
        menu.addAction(self.tr("All viewports as PNG files…")).triggered.connect(
            self._ask_viewports)
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
        menu.addSeparator()
        # the size of a viewport's picture; a series is always exported at the image's size
        self.size_choice = QActionGroup(menu)
        for text, data in ((self.tr("Size as on screen"), ("screen", 1.0)),
                           (self.tr("Size: one image pixel per picture pixel"), ("image", 1.0)),
                           (self.tr("Size: twice the image's pixels"), ("image", 2.0))):
            action = QAction(text, menu, checkable=True)
            action.setData(data)
            self.size_choice.addAction(action)
            menu.addAction(action)
        self.size_choice.actions()[0].setChecked(True)

    # -- what the user chose ----------------------------------------------------------------
    def options(self, viewport: Viewport, image_format: str) -> ExportOptions:
        """The viewport's window, turns, mirrors and presentation state and the menu's
        annotation choices, for `image_format` (a series, through the core: frames at the
        image's size)."""
        layer = viewport.presentation
        applied = layer.applied if layer is not None else None
        return ExportOptions(image_format, viewport.state, annotations=self.annotate.isChecked(),
                             patient_text=self.patient_text.isChecked(),
                             quarter_turns=viewport.quarter_turns, flip_h=viewport.flip_h,
                             flip_v=viewport.flip_v,
                             presentation=applied.file if applied is not None else None)

    def picture_options(self) -> PictureOptions:
        """The menu's size and annotation choices for a viewport's picture."""
        size, scale = self.size_choice.checkedAction().data()
        return PictureOptions(PictureSize(size), annotations=self.annotate.isChecked(),
                              patient_text=self.patient_text.isChecked(), scale=scale)

    def picture(self, viewport: Viewport) -> np.ndarray | None:
        """What `viewport` shows, as exported (None without an image)."""
        shown = viewport_picture(viewport, self.picture_options())
        return None if shown is None else picture_array(shown)

    # -- the exports --------------------------------------------------------------------------
    def export_viewport(self, viewport: Viewport, target: Path, image_format: str) -> Task | None:
        """What the viewport shows, as one picture at `target`."""
        picture = self.picture(viewport)
        return None if picture is None else self._write([(picture, target)], image_format)

    def export_viewports(self, folder: Path, image_format: str = "png") -> Task | None:
        """Each viewport showing an image, as it shows it, as `viewport-N.ext` in `folder`."""
        suffix = SUFFIXES[image_format]
        pictures = [p for v in self.reading.viewports if (p := self.picture(v)) is not None]
        return self._write([(p, folder / f"viewport-{n}{suffix}")
                            for n, p in enumerate(pictures, 1)], image_format)

    def export_layout(self, target: Path, image_format: str = "png") -> Task | None:
        """The layout as one picture, as on screen: every viewport at its place."""
        shown = layout_picture(self.reading.viewports, self.reading.grid_host,
                               self.picture_options())
        return None if shown is None else self._write([(picture_array(shown), target)],
                                                      image_format)

    def export_series(self, viewport: Viewport, target: Path, image_format: str) -> Task | None:
        """The viewport's whole series: pictures in the folder `target`, or one video."""
        return self._start(viewport, target, image_format)

    def copy_viewport(self) -> bool:
        """The active viewport, as it would be exported, on the clipboard."""
        viewport = self.reading.active
        shown = None if viewport is None else viewport_picture(viewport, self.picture_options())
        if shown is None:
            return False
        QGuiApplication.clipboard().setImage(shown)
        self.message.emit(self.tr("Viewport copied to the clipboard"))
        return True

    def _write(self, pictures: list[tuple[np.ndarray, Path]], image_format: str) -> Task | None:
        """Write pictures rendered on the GUI thread (a scene is painted there) off it."""
        if self.task is not None or not pictures:
            return None

        def job(progress: ProgressCallback, cancel: CancelToken) -> ExportResult:
            result = ExportResult()
            for done, (picture, target) in enumerate(pictures):
                cancel.raise_if_cancelled()
                progress(done, len(pictures), target.name)
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    write_picture(picture, target, image_format)
                except OSError as exc:
                    result.report.fail(str(target), exc.strerror or str(exc))
                    continue
                result.report.done.append(str(target))
            return result

        return self._watch(self.tasks.start(job, "export images"), whole_series=False)

    def _start(self, viewport: Viewport, target: Path, image_format: str) -> Task | None:
        stack = viewport.stack
        if self.task is not None or stack is None or not stack.frames:
            return None
        labels = annotation_labels()  # translated on the GUI thread, used by the job
        marks = {viewport.position: viewport_marks(viewport)}
        options = self.options(viewport, image_format)

        def job(progress: ProgressCallback, cancel: CancelToken) -> ExportResult:
            return export_stack(stack, target, options, measurements=marks, labels=labels,
                                progress=progress, cancel=cancel)

        return self._watch(self.tasks.start(job, "export images"), True,
                           self._series_caveat(viewport))

    def _series_caveat(self, viewport: Viewport) -> str:
        """What a series export does not take from the viewport."""
        text = self.tr("The frames are exported at the image's size (a presentation state's "
                       "displayed area), turned as shown, not zoomed or panned.")
        layer = viewport.presentation
        if layer is not None and layer.applied is not None:
            text += " " + self.tr("Images the presentation state does not reference are "
                                  "exported without it.")
        return text

    def _watch(self, task: Task, whole_series: bool, caveat: str = "") -> Task:
        self.task = task
        if whole_series:
            text = self.tr("Exporting the series…") + (f"\n{caveat}" if caveat else "")
            dialog = QProgressDialog(text, self.tr("Cancel"), 0, 0, self.window)
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

    def _ask_layout(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self.window, self.tr("Export all viewports"),
                                              "viewports.png", FILTERS["png"])
        if name:
            self.export_layout(Path(name))

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
