"""Objects about images in the reading window: structured reports, segmentations, structure sets.

Opening a series of modality SR or KO (from the series strip, a drop, or the browser) reads
its first document off the GUI thread and shows it in the report panel (a dock beside the
images); its TID 1500 regions are drawn in the viewports (report_layer.py), its 3D regions
on the MPR planes too. Opening a SEG or
RTSTRUCT series reads each object of it off the GUI thread and draws it over every viewport
it can be placed on (overlay_layers.py), listed in the overlay panel (overlay_panel.py).
Clicking a measurement in the report panel shows its image and frame (or, for a 3D region,
the nearest slice of a stack in its Frame of Reference).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from viewer.archive.archive import Archive
from viewer.dicom.files import read_dataset
from viewer.dicom.overlay_raster import read_overlay
from viewer.dicom.pixels import read_header
from viewer.dicom.stack import Stack
from viewer.dicom.text import pydicom_warnings
from viewer.gui.overlay_layers import OverlayLayer
from viewer.gui.overlay_panel import OverlayPanel
from viewer.gui.reading import ReadingArea
from viewer.gui.report_layer import ReportLayer
from viewer.gui.report_model import LoadedReport, load_report
from viewer.gui.report_panel import ReportPanel
from viewer.gui.tasks import Task, TaskRunner
from viewer.gui.viewport import Viewport
from viewer.jobs import CancelToken, ProgressCallback
from viewer.reports.measurements import Region

LOGGER = logging.getLogger(__name__)

REPORT_MODALITIES = frozenset({"SR", "KO"})
OVERLAY_MODALITIES = frozenset({"SEG", "RTSTRUCT"})


class ReadingObjects(QObject):
    """The report and overlay panels of a main window, and the layers they draw."""

    report_shown = Signal(object)  # the LoadedReport, once the panel shows it
    overlay_opened = Signal(object)  # the OverlayLayer, once it is drawn
    problem = Signal(str)  # one line: a file that cannot be opened, an image not found

    def __init__(self, window: QMainWindow, reading: ReadingArea, tasks: TaskRunner,
                 archive: Archive | None = None) -> None:
        super().__init__(window)
        self.reading = reading
        self.tasks = tasks
        self.archive = archive
        self.report_panel = ReportPanel()
        self.report_panel.target_chosen.connect(self.show_target)
        self.report_dock = _dock(window, self.tr("Report"), "report-panel", self.report_panel)
        self.overlay_panel = OverlayPanel()
        self.overlay_panel.close_requested.connect(self.close_overlay)
        self.overlay_dock = _dock(window, self.tr("Overlays"), "overlay-panel",
                                  self.overlay_panel)
        self.report_layer: ReportLayer | None = None
        self.overlays: list[OverlayLayer] = []
        # One worker places overlays on frames: the frame shown first, neighbours after.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="overlays")
        self._generation = 0  # objects of the study opened last; older jobs are dropped
        self._reading = 0  # reports and overlays being read
        reading.open_object = self.open_stack

    # -- opening --------------------------------------------------------------------------
    def open_stack(self, stack: Stack) -> bool:
        """Open an object series (True), or leave an image series to the viewports (False)."""
        modality = stack.info.modality
        paths = list(dict.fromkeys(path for path, _ in stack.frames))
        if modality in REPORT_MODALITIES and paths:
            self.open_report(paths[0])
            return True
        if modality in OVERLAY_MODALITIES and paths:
            number = "" if stack.info.series_number is None else f" {stack.info.series_number}"
            for path in paths:
                self.open_overlay(path, stack.description or f"{modality}{number}")
            return True
        return False

    def open_given(self, stacks: list[Stack]) -> None:
        """`view PATH`: the segmentations and structure sets given drawn at once, and the first
        report (SR before KO) beside the images; the strip lists them all."""
        overlays = [s for s in stacks if s.info.modality in OVERLAY_MODALITIES]
        reports = sorted((s for s in stacks if s.info.modality in REPORT_MODALITIES),
                         key=lambda s: s.info.modality != "SR")
        for stack in [*overlays, *reports[:1]]:
            self.open_stack(stack)

    def settled(self) -> bool:
        """Nothing being read, and every overlay placed on the frame each viewport shows."""
        if self._reading:
            return False
        return all(layer.placed_now(viewport) is not None for layer in self.overlays
                   for viewport in self.reading.viewports
                   if viewport.isVisible() and viewport.frame is not None)

    def open_report(self, path: str) -> None:
        """Read the SR at `path` off the GUI thread, then show it beside the images."""
        archive, generation = self.archive, self._generation
        # images the archive does not hold may be open from files (`view PATH`)
        shown = [p for s in self.reading.stacks for p, _ in s.frames]

        def job(progress: ProgressCallback, cancel: CancelToken) -> LoadedReport:
            return load_report(path, archive, shown)

        task = self.tasks.start(job, "report")
        task.succeeded.connect(lambda report: self._report_loaded(report, generation))
        task.failed.connect(lambda error: self._failed(path, error, self.report_panel))
        self._count(task)

    def _count(self, task: Task) -> None:
        self._reading += 1

        def done() -> None:
            self._reading -= 1

        task.finished.connect(done)

    def _report_loaded(self, report: LoadedReport, generation: int) -> None:
        if generation != self._generation:
            return
        self.report_panel.show_report(report)
        self.report_dock.show()
        self._drop_report_layer()
        self.report_layer = ReportLayer(report)
        self.reading.layers.append(self.report_layer)
        self.reading.plane_layers.append(self.report_layer)
        self.redraw()
        self.report_shown.emit(report)

    def open_overlay(self, path: str, name: str) -> None:
        """Read the SEG or RTSTRUCT at `path` off the GUI thread, then draw it."""
        generation = self._generation

        def job(progress: ProgressCallback, cancel: CancelToken) -> Any:
            with pydicom_warnings():
                return read_overlay(read_dataset(path))

        task = self.tasks.start(job, "overlay")
        task.succeeded.connect(lambda overlay: self._overlay_loaded(overlay, name, generation))
        task.failed.connect(lambda error: self._failed(path, error, None))
        self._count(task)

    def _overlay_loaded(self, overlay: Any, name: str, generation: int) -> None:
        if generation != self._generation or any(
                o.overlay.sop_instance_uid == overlay.sop_instance_uid for o in self.overlays):
            return  # another study's, or open already
        layer = OverlayLayer(overlay, name, self._executor, read_header)
        layer.changed.connect(self.redraw)
        layer.refused.connect(self.problem.emit)
        self.overlays.append(layer)
        self.reading.layers.append(layer)
        self.reading.plane_layers.append(layer)
        self.overlay_panel.add(layer)
        self.overlay_dock.show()
        self.redraw()
        self.overlay_opened.emit(layer)

    def _failed(self, path: str, error: str, panel: ReportPanel | None) -> None:
        line = error if Path(path).name in error else f"{Path(path).name}: {error}"
        LOGGER.info("cannot open an object: %s", line)
        if panel is not None:
            panel.show_problem(line)
            self.report_dock.show()
        self.problem.emit(line)

    # -- closing ------------------------------------------------------------------------------
    def close_overlay(self, layer: OverlayLayer) -> None:
        if layer in self.overlays:
            self.overlays.remove(layer)
            self.reading.layers.remove(layer)
            self.reading.plane_layers.remove(layer)
            self.overlay_panel.remove(layer)
            if not self.overlays:
                self.overlay_dock.hide()
            self.redraw()

    def clear(self) -> None:
        """Another study opens: its own objects, not these, belong over its images."""
        self._generation += 1
        for layer in list(self.overlays):
            self.close_overlay(layer)
        self._drop_report_layer()
        self.report_panel.show_problem("")
        self.report_dock.hide()
        self.redraw()

    def _drop_report_layer(self) -> None:
        layer, self.report_layer = self.report_layer, None
        if layer is not None:
            self.reading.layers.remove(layer)
            self.reading.plane_layers.remove(layer)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def redraw(self) -> None:
        for viewport in self.reading.viewports:
            viewport.redraw_layers()
        if self.reading.mpr is not None:
            for view in self.reading.mpr.views:
                view.redraw_layers()

    # -- from the report to the image -------------------------------------------------------
    def show_target(self, region: Region, report: LoadedReport) -> None:
        """Show the image and frame of a clicked region (a 3D one: the nearest slice)."""
        if region.is_3d:
            if not self._show_nearest(region):
                self.problem.emit(self.tr("No series of this study is in the region's Frame "
                                          "of Reference"))
            return
        for image in region.images:
            path = report.image_paths.get(image.sop_instance_uid)
            if path is None:
                continue
            key = (path, image.frames[0] - 1 if image.frames else 0)
            if self._show_key(key):
                return
        uid = region.images[0].sop_instance_uid if region.images else ""
        self.problem.emit(self.tr("The image %1 is not open here").replace("%1", uid))

    def _show_key(self, key: tuple[str, int]) -> bool:
        for viewport in self._viewports_first_active():
            if viewport.stack is not None and key in viewport.stack.frames:
                self._go(viewport, viewport.stack.frames.index(key))
                return True
        for stack in self.reading.stacks:
            if key in stack.frames:
                self.reading.show_series(stack.series_uid)
                shown = self.reading.active
                if shown is not None and shown.stack is stack:
                    self._go(shown, stack.frames.index(key))
                    return True
        return False

    def _show_nearest(self, region: Region) -> bool:
        layer = self.report_layer
        if layer is None:
            return False
        for viewport in self._viewports_first_active():
            index = layer.nearest_slice(viewport, region)
            if index is not None:
                self._go(viewport, index)
                return True
        return False

    def _viewports_first_active(self) -> list[Viewport]:
        active = self.reading.active
        rest = [v for v in self.reading.viewports if v is not active and v.isVisible()]
        return ([active] if active is not None else []) + rest

    def _go(self, viewport: Viewport, index: int) -> None:
        viewport.set_position(index)
        viewport.activated.emit(viewport)


def _dock(window: QMainWindow, title: str, name: str, panel: QWidget) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    return dock
