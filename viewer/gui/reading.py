"""The reading area: a grid of viewports (1x1 to 4x4, 1x2, 2x1), the series strip, and what ties
viewports together: the active one, the shared tool, synchronised scrolling by position in the
same Frame of Reference, reference lines, and cine."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QDrag, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from viewer.decode.requests import Frame, FrameKey, FrameRequest
from viewer.dicom.display import to_display
from viewer.dicom.geometry import StackPlanes, reference_line
from viewer.dicom.stack import SliceGeometry, Stack
from viewer.gui.bridge import FrameBridge
from viewer.gui.imageview import wrap_qimage
from viewer.gui.layers import OBJECT_MODALITIES, PlaneLayer, ViewportLayer
from viewer.gui.measurements import MeasurementStore
from viewer.gui.mime import series_mime
from viewer.gui.viewport import Tool, Viewport

if TYPE_CHECKING:  # the MPR modules load when the first MPR opens
    from viewer.gui.mpr_layout import MprLayout
    from viewer.gui.mpr_view import MprView
    from viewer.volume.model import Volume

MAX_SHOWN_ERRORS = 3  # frames that failed to load, named in the MPR views' corner
THUMBNAIL_PRIORITY = 500  # after every visible frame, before the background load
LAYOUTS: tuple[tuple[int, int], ...] = (
    (1, 1), (2, 1), (1, 2), (2, 2), (3, 2), (3, 3), (4, 3), (4, 4),
)  # (columns, rows)


class SeriesStrip(QListWidget):
    """The opened study's series as thumbnails; drag one onto a viewport."""

    def __init__(self) -> None:
        super().__init__()
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.TopToBottom)
        self.setWrapping(False)
        self.setIconSize(QSize(96, 96))
        self.setFixedWidth(128)
        self.setMovement(QListWidget.Movement.Static)
        self.setDragEnabled(True)
        self.setStyleSheet("QListWidget { background: #181818; color: #dddddd; }")
        self._stacks: list[Stack] = []

    study_uid = ""
    # Text after a series' frame count (its key images: "★ 2"); None: no badges.
    badge_of: Callable[[Stack], str] | None = None

    def set_series(self, stacks: list[Stack], study_uid: str = "") -> None:
        self.study_uid = study_uid
        self.clear()
        for stack in stacks:
            item = QListWidgetItem(self._text(stack))
            item.setData(Qt.ItemDataRole.UserRole, stack.series_uid)
            item.setSizeHint(QSize(120, 130))
            self.addItem(item)
        self._stacks = stacks

    def _text(self, stack: Stack) -> str:
        number = "" if stack.info.series_number is None else f"{stack.info.series_number}: "
        text = f"{number}{stack.info.modality} {stack.description}".strip()
        if self.study_uid and stack.info.study_instance_uid != self.study_uid:  # a prior's
            text = f"{_date_text(stack.info.study_date)} {text}"
        badge = self.badge_of(stack) if self.badge_of is not None else ""
        return f"{text}\n{len(stack.frames)}" + (f"  {badge}" if badge else "")

    def refresh_badges(self) -> None:
        """The series' texts again, after a badge changed."""
        for row, stack in enumerate(self._stacks[:self.count()]):
            self.item(row).setText(self._text(stack))

    def set_thumbnail(self, series_uid: str, picture: np.ndarray) -> None:
        """`picture`: the display pipeline's uint8 output (grey or RGB) of a middle frame."""
        image = qimage_of(picture)
        icon = QIcon(QPixmap.fromImage(image).scaled(
            self.iconSize(), Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))
        for row in range(self.count()):
            item = self.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == series_uid:
                item.setIcon(icon)

    def startDrag(self, supported: Qt.DropAction) -> None:  # noqa: N802 - Qt's name
        item = self.currentItem()
        if item is None:
            return
        drag = QDrag(self)
        drag.setMimeData(series_mime(self.study_uid, str(item.data(Qt.ItemDataRole.UserRole))))
        if not item.icon().isNull():
            drag.setPixmap(item.icon().pixmap(64, 64))
        drag.exec(Qt.DropAction.CopyAction)


class ReadingArea(QWidget):
    """Viewports in a grid; `stacks` are the opened study's series, hung in series order."""

    active_changed = Signal(object)  # the active Viewport
    view_changed = Signal(object, str)  # a Viewport, "window" or "zoom": the user changed it
    mpr_save_requested = Signal(object)  # the MprView whose plane the user saves as a series

    def __init__(self, bridge: FrameBridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.measurements = MeasurementStore()
        self.stacks: list[Stack] = []
        self.viewports: list[Viewport] = []
        self.layout_shape = (1, 1)
        self.tool = Tool.WINDOW
        self.sync = True
        self.show_reference_lines = True
        self.active: Viewport | None = None
        # Loads a series not opened yet (dropped from the browser); set by the main window.
        self.load_series: Callable[[str, str], Stack | None] | None = None
        # Opens an object series (SR, SEG, RTSTRUCT: gui/objects.py) instead of showing it in
        # a viewport; True when it did. `layers` are drawn by every viewport.
        self.open_object: Callable[[Stack], bool] | None = None
        self.layers: list[ViewportLayer] = []
        self.plane_layers: list[PlaneLayer] = []  # drawn by the MPR views
        # More scrolling sync after the sync by position (hanging protocols' groups, priors
        # paired by an offset): each is called with the viewport the user scrolled.
        self.sync_hooks: list[Callable[[Viewport], None]] = []
        # Called with each viewport made (layers of presentation states, overlays...).
        self.viewport_hooks: list[Callable[[Viewport], object]] = []
        self._maximised: Viewport | None = None
        # The MPR layout, shown in place of the viewport (`_mpr_host`) whose series it reads.
        self.mpr: MprLayout | None = None
        self._mpr_host: Viewport | None = None
        self._mpr_targeted = False  # an MPR view was clicked after any viewport
        self._planes: dict[str, StackPlanes] = {}
        self._syncing = False
        self.cine = QTimer(self)
        self.cine.timeout.connect(self._cine_step)
        self.cine_fps = 15.0
        self.frame_notes: list[Callable[[FrameKey], str]] = []  # every viewport's corner notes
        self._thumbs: dict[FrameKey, str] = {}
        bridge.frame_ready.connect(self._on_frame, Qt.ConnectionType.QueuedConnection)
        self.strip = SeriesStrip()
        self.strip.itemDoubleClicked.connect(
            lambda item: self.show_series(str(item.data(Qt.ItemDataRole.UserRole)))
        )
        self.grid_host = QWidget()
        # Only the host itself: an unscoped rule would paint every button and box of the
        # panels it holds (the MPR's bars) dark, their text unreadable.
        self.grid_host.setObjectName("readingGrid")
        self.grid_host.setStyleSheet("QWidget#readingGrid { background: #101010; }")
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(2)
        self.grid.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.strip)
        row.addWidget(self.grid_host, 1)
        self.set_layout((1, 1))

    # -- content --------------------------------------------------------------------------
    def open_stacks(self, stacks: list[Stack], layout: tuple[int, int] | None = None,
                    cells: list[Stack | None] | None = None) -> None:
        """`stacks` in the strip; the viewports show `cells` in layout order (a hanging
        protocol's choice, None: empty), by default one series per viewport in series order."""
        self.stop_cine()
        self.close_mpr()
        self.stacks = stacks
        self._planes = {}
        self.strip.set_series(stacks, stacks[0].info.study_instance_uid if stacks else "")
        images = [s for s in stacks if s.info.modality not in OBJECT_MODALITIES]
        if layout is None:
            layout = layout_for(len(images))
        self.set_layout(layout, rehang=False)
        shown = images if cells is None else cells
        for n, viewport in enumerate(self.viewports):
            stack = shown[n] if n < len(shown) else None
            viewport.set_stack(stack, _start(stack))
        self._request_thumbnails(stacks)  # after the viewports' first frames
        self._activate(self.viewports[0])
        self._update_reference_lines()

    def complete_stacks(self, stacks: list[Stack]) -> None:
        """The whole series for the one-frame heads `open_stacks` was given: each viewport
        keeps its frame, settings and measurements and can now scroll the series."""
        by_uid = {s.series_uid: s for s in stacks}
        self.stacks = stacks
        self._planes = {}
        self.strip.set_series(stacks, stacks[0].info.study_instance_uid if stacks else "")
        for viewport in self.viewports:
            if viewport.stack is not None and viewport.stack.series_uid in by_uid:
                viewport.complete_stack(by_uid[viewport.stack.series_uid])
        self._request_thumbnails(stacks)
        self._update_reference_lines()

    def _request_thumbnails(self, stacks: list[Stack]) -> None:
        """The strip shows each series' middle frame, decoded by the pool after the visible
        frames and before the background load."""
        self._thumbs = {}
        requests = []
        for stack in stacks:
            if stack.frames:
                key = stack.frames[len(stack.frames) // 2]
                self._thumbs[key] = stack.series_uid
                requests.append(FrameRequest(*key, priority=THUMBNAIL_PRIORITY))
        self.bridge.request(requests)

    def _on_frame(self, request: FrameRequest, frame: Frame) -> None:
        series_uid = self._thumbs.pop(request.key, None)
        if series_uid is not None:
            self.strip.set_thumbnail(series_uid, to_display(frame.array, frame.info))

    def show_series(self, series_uid: str, viewport: Viewport | None = None) -> None:
        stack = self.stack_by_uid(series_uid)
        if stack is not None and self.open_object is not None and self.open_object(stack):
            return
        target = viewport or self.active or self.viewports[0]
        if stack is not None:
            target.set_stack(stack, _start(stack))
            self._activate(target)
            self._update_reference_lines()

    def _on_drop(self, viewport: Viewport, study_uid: str, series_uid: str) -> None:
        """A series dropped from this study's strip, or from the browser (any study)."""
        if self.stack_by_uid(series_uid) is None and self.load_series is not None:
            stack = self.load_series(study_uid, series_uid)
            if stack is None:
                return
            self.stacks.append(stack)
        self.show_series(series_uid, viewport)

    def stack_by_uid(self, series_uid: str) -> Stack | None:
        return next((s for s in self.stacks if s.series_uid == series_uid), None)

    # -- layout ---------------------------------------------------------------------------
    def set_layout(self, shape: tuple[int, int], rehang: bool = True) -> None:
        """COLUMNS x ROWS; viewports kept in order, new ones get the next series."""
        self.close_mpr()
        columns, rows = shape
        wanted = columns * rows
        self._maximised = None
        shown = [v.stack for v in self.viewports]
        while len(self.viewports) > wanted:
            viewport = self.viewports.pop()
            viewport.close_viewport()
            viewport.setParent(None)
            viewport.deleteLater()
        while len(self.viewports) < wanted:
            self.viewports.append(self._new_viewport())
        for n, viewport in enumerate(self.viewports):
            self.grid.addWidget(viewport, n // columns, n % columns)
            viewport.show()
        for c in range(8):  # the CLI allows up to 8x8
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
            self.grid.setRowStretch(c, 1 if c < rows else 0)
        self.layout_shape = (columns, rows)
        if rehang:
            used = {id(s) for s in shown if s is not None}
            spare = [s for s in self.stacks if id(s) not in used
                     and s.info.modality not in OBJECT_MODALITIES]
            for n, viewport in enumerate(self.viewports):
                if n >= len(shown) and viewport.stack is None and spare:
                    stack = spare.pop(0)
                    viewport.set_stack(stack, _start(stack))
        self._activate(self.active if self.active in self.viewports else self.viewports[0])
        self._update_reference_lines()

    def _new_viewport(self) -> Viewport:
        viewport = Viewport(self.bridge, self.measurements)
        viewport.layers = self.layers
        viewport.tool = self.tool
        viewport.frame_notes = self.frame_notes
        viewport.position_changed.connect(self._on_position)
        viewport.activated.connect(self._activate)
        viewport.series_dropped.connect(self._on_drop)
        viewport.maximise_requested.connect(self._toggle_maximise)
        viewport.view_changed.connect(self.view_changed.emit)
        for hook in self.viewport_hooks:
            hook(viewport)
        return viewport

    def add_viewport_hook(self, hook: Callable[[Viewport], object]) -> None:
        """Call `hook` on every viewport, those there now and those made later."""
        self.viewport_hooks.append(hook)
        for viewport in self.viewports:
            hook(viewport)

    def _toggle_maximise(self, viewport: Viewport) -> None:
        """Double-click: this viewport alone, double-click again: the grid back."""
        if self._maximised is viewport:
            self._maximised = None
            for v in self.viewports:
                v.setVisible(v is not self._mpr_host)
        else:
            self._maximised = viewport
            for v in self.viewports:
                v.setVisible(v is viewport)

    def _activate(self, viewport: Viewport) -> None:
        if viewport not in self.viewports:
            return
        self.active = viewport
        self._mpr_targeted = False
        for v in self.viewports:
            v.set_active(v is viewport and len(self.viewports) > 1)
        self.active_changed.emit(viewport)

    # -- tools ------------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        for v in self.viewports:
            v.tool = tool
        if self.mpr is not None:
            self.mpr.set_tool(tool)

    def for_active(self, action: Callable[[Viewport | MprView], object]) -> None:
        """The toolbar's command on the active image: the MPR view last clicked, while the
        MPR layout has the focus, else the active viewport."""
        if self.mpr is not None and self._mpr_targeted:
            action(self.mpr.active)
        elif self.active is not None:
            action(self.active)

    # -- sync and reference lines -------------------------------------------------------------
    def _on_position(self, source: Viewport) -> None:
        if self._syncing:
            return
        if self.sync:
            self._sync_from(source)
            self._syncing = True
            try:
                for hook in self.sync_hooks:
                    hook(source)
            finally:
                self._syncing = False
        self._update_reference_lines()

    def _sync_from(self, source: Viewport) -> None:
        """Scroll the other viewports to the slice nearest the source's (by position)."""
        g = source.geometry_now
        if g is None or g.position is None or g.orientation is None:
            return
        from viewer.dicom.geometry import patient_point

        centre = patient_point(g, (g.columns - 1) / 2, (g.rows - 1) / 2)
        self._syncing = True
        try:
            for v in self.viewports:
                if v is source or v.stack is None:
                    continue
                planes = self._planes_of(v.stack)
                index = planes.nearest(centre, g.frame_of_reference_uid)
                if index is not None:
                    v.set_position(index, notify=False)
        finally:
            self._syncing = False

    def _planes_of(self, stack: Stack) -> StackPlanes:
        planes = self._planes.get(stack.series_uid)
        if planes is None:
            planes = self._planes[stack.series_uid] = StackPlanes(stack.geometry)
        return planes

    def _update_reference_lines(self) -> None:
        """Each shown image gets the lines of the other shown images of its Frame of Reference:
        2D viewports from each other and from the MPR planes, MPR views from the 2D viewports
        (between themselves the MPR views draw their crosshair)."""
        shown = [v for v in self.viewports if v is not self._mpr_host]
        mpr_views: list[MprView] = self.mpr.views if self.mpr is not None else []
        sources: list[tuple[QWidget, SliceGeometry | None, Stack | None]] = [
            (v, v.geometry_now, v.stack) for v in shown]
        sources += [(m, m.geometry_now, None) for m in mpr_views]
        wanted = self.show_reference_lines and len(sources) > 1
        for target in shown:
            g = target.geometry_now
            lines = []
            if wanted and g is not None:
                for owner, og, stack in sources:
                    if owner is target or og is None or stack is target.stack:
                        continue
                    segment = reference_line(g, og)
                    if segment is not None:
                        lines.append(segment)
            target.set_reference_lines(lines)
        for view in mpr_views:
            segments = [reference_line(view.geometry_now, v.geometry_now) for v in shown]
            view.set_reference_lines(
                [s for s in segments if s is not None] if self.show_reference_lines else [])

    # -- MPR --------------------------------------------------------------------------------
    def open_mpr(self) -> str:
        """The MPR layout on the active viewport's series, built by the volume loader from the
        decode pool's frames and shown while it fills. Returns "" or the one-line reason
        the series cannot be read as a volume."""
        viewport = self.active
        if viewport is None or viewport.stack is None:
            return self.tr("No series in the active viewport")
        from viewer.volume.build import VolumeError, VolumeLoader

        relay: list[MprLayout] = []  # the layout, made once the loader gives its volume

        def filled(volume: object) -> None:  # on the decode pool's thread
            for layout in relay:
                layout.volume_filled(volume)

        pool = self.bridge.pool
        try:
            loader = VolumeLoader(viewport.stack, pool, cache=pool.cache, on_change=filled)
        except VolumeError as error:
            return str(error)
        source = viewport.stack.frames[0][0] if viewport.stack.frames else None
        layout = self.show_mpr(loader.volume, viewport, loader.cancel, source)
        layout.controller.load_errors = lambda: list(loader.errors[:MAX_SHOWN_ERRORS])
        layout.controller.loading = lambda: not loader.wait(0)
        relay.append(layout)
        loader.start()
        return ""

    def show_mpr(self, volume: Volume, viewport: Viewport | None = None,
                 cancel_load: Callable[[], None] | None = None,
                 source_file: str | None = None) -> MprLayout:
        """The MPR layout of `volume` in place of `viewport` (default: the active one);
        `source_file`: a file of its series (for "save as series")."""
        from viewer.gui.mpr_layout import MprLayout

        self.close_mpr()
        host = viewport or self.active or self.viewports[0]
        layout = MprLayout(volume, self.measurements, cancel_load, source_file)
        layout.set_tool(self.tool)
        for view in layout.views:
            view.layers = self.plane_layers
            view.update_plane()  # overlays open already start preparing for this volume
        layout.planes_changed.connect(self._update_reference_lines)
        layout.close_requested.connect(self.close_mpr)
        layout.save_requested.connect(self.mpr_save_requested.emit)
        layout.activated.connect(lambda _view: setattr(self, "_mpr_targeted", True))
        layout.fusion.set_candidates([
            (s.series_uid, f"{s.info.modality} {s.description}".strip()) for s in self.stacks
            if s.series_uid != volume.series_uid and _frame_of_reference(s)
            == volume.frame_of_reference_uid])
        layout.fusion.series_chosen.connect(self._fuse_series)
        n = self.viewports.index(host)
        columns = self.layout_shape[0]
        host.hide()
        self.grid.addWidget(layout, n // columns, n % columns)
        self.mpr, self._mpr_host = layout, host
        self._mpr_targeted = True
        self._update_reference_lines()
        return layout

    def _fuse_series(self, series_uid: str) -> None:
        """Build the chosen series' volume (as the MPR's own, progressively) and fuse it."""
        layout = self.mpr
        stack = self.stack_by_uid(series_uid) if series_uid else None
        if layout is None:
            return
        if stack is None:
            layout.fusion.set_overlay(None)
            return
        from viewer.volume.build import VolumeError, VolumeLoader

        pool = self.bridge.pool
        try:
            loader = VolumeLoader(stack, pool, cache=pool.cache, on_change=layout.volume_filled)
        except VolumeError as error:
            layout.fusion.note.setText(str(error))
            return
        layout.fusion.set_overlay(loader.volume, loader.cancel)
        if layout.controller.fusion is not None:
            loader.start()

    def close_mpr(self) -> None:
        layout, host = self.mpr, self._mpr_host
        if layout is None:
            return
        self.mpr, self._mpr_host = None, None
        self._mpr_targeted = False
        layout.close_layout()
        self.grid.removeWidget(layout)
        layout.setParent(None)
        layout.deleteLater()
        if host is not None and host in self.viewports:
            host.show()
        self._update_reference_lines()

    # -- cine -------------------------------------------------------------------------------
    def toggle_cine(self) -> None:
        if self.cine.isActive():
            self.stop_cine()
        else:
            self.cine.start(max(1, round(1000 / self.cine_fps)))

    def set_cine_fps(self, fps: float) -> None:
        self.cine_fps = max(1.0, min(fps, 120.0))
        if self.cine.isActive():
            self.cine.start(max(1, round(1000 / self.cine_fps)))

    def stop_cine(self) -> None:
        self.cine.stop()

    def _cine_step(self) -> None:
        v = self.active
        if v is None or v.frame_count < 2:
            self.stop_cine()
            return
        v.set_position((v.position + 1) % v.frame_count)


def qimage_of(picture: np.ndarray) -> QImage:
    """An 8-bit grey or RGB picture as a QImage owning a copy of its pixels."""
    return wrap_qimage(picture).copy()  # own its pixels: the array may go away


def _frame_of_reference(stack: Stack) -> str:
    return next((g.frame_of_reference_uid for g in stack.geometry
                 if g is not None and g.frame_of_reference_uid), "")


def _date_text(date: str) -> str:
    """DA 'YYYYMMDD' as 'YYYY-MM-DD' (as it came when not a full date)."""
    return f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else date


def layout_for(count: int) -> tuple[int, int]:
    """The default grid (columns, rows) for `count` image series, one per viewport."""
    return {0: (1, 1), 1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2)}.get(
        count, (3, 2) if count <= 6 else (3, 3)
    )


def _start(stack: Stack | None) -> int:
    """Where a series opens: its first frame (head end for axial series sorted head first)."""
    return 0
