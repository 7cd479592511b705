"""The MPR layout: axial, coronal and sagittal views of one volume and a 3D slot, in a 2x2 grid,
under a bar with the slab (thickness in mm, MIP / MinIP / average), reset, "save as series" and
close. The views share one `MprController`; the reading area puts the layout in place of the
viewport whose series it shows and draws reference lines between it and the 2D viewports.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from viewer.gui.measurements import MeasurementStore
from viewer.gui.mpr_fusion import FusionBar
from viewer.gui.mpr_state import MprController
from viewer.gui.mpr_view import MprView
from viewer.gui.viewport import Tool
from viewer.volume.model import SlabMode, Volume

MAX_SLAB_MM = 200.0


class MprLayout(QWidget):
    """Three linked MPR views and the 3D slot. `planes_changed` after the shown planes moved
    (for reference lines in the 2D viewports); `close_requested` from its close button."""

    planes_changed = Signal()
    activated = Signal(object)  # the MprView clicked
    close_requested = Signal()
    save_requested = Signal(object)  # the MprView whose plane is to be saved as a series

    def __init__(self, volume: Volume, measurements: MeasurementStore | None = None,
                 cancel_load: Callable[[], None] | None = None,
                 source_file: str | None = None) -> None:
        super().__init__()
        # Dark like the reading area around it, the bar's words readable on it.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet("MprLayout { background: #181818; } QLabel { color: #dddddd; }")
        # A file of the series: its header gives a saved series its patient and study.
        self.source_file = source_file
        self.controller = MprController(volume)
        self.measurements = measurements or MeasurementStore()
        self._cancel_load = cancel_load
        self.views = [MprView(n, self.controller, self.measurements) for n in range(3)]
        self.active: MprView = self.views[0]
        self.view3d: QWidget | None = None
        self.maximised: MprView | None = None
        for view in self.views:
            view.activated.connect(self._activate)
            view.maximise_requested.connect(self.toggle_maximise)
        self.controller.changed.connect(self.planes_changed.emit)

        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel(self.tr("Slab")))
        self.slab = QDoubleSpinBox()
        self.slab.setRange(0.0, MAX_SLAB_MM)
        self.slab.setDecimals(1)
        self.slab.setSingleStep(1.0)
        self.slab.setSuffix(" mm")
        self.slab.setToolTip(self.tr("Total slab thickness, centred on the plane (0: thin)"))
        bar.addWidget(self.slab)
        self.mode = QComboBox()
        for mode, label in ((SlabMode.MIP, self.tr("MIP")), (SlabMode.MINIP, self.tr("MinIP")),
                            (SlabMode.AVERAGE, self.tr("Average"))):
            self.mode.addItem(label, mode)
        bar.addWidget(self.mode)
        self.slab.valueChanged.connect(self._slab_changed)
        self.mode.currentIndexChanged.connect(self._slab_changed)
        reset = QPushButton(self.tr("Reset planes"))
        reset.clicked.connect(self.controller.reset)
        bar.addWidget(reset)
        save = QPushButton(self.tr("Save as series…"))
        save.clicked.connect(lambda: self.save_requested.emit(self.active))
        bar.addWidget(save)
        bar.addStretch(1)
        close = QPushButton(self.tr("Close MPR"))
        close.clicked.connect(self.close_requested.emit)
        bar.addWidget(close)

        self.grid = QGridLayout()
        self.grid.setSpacing(2)
        self.grid.setContentsMargins(0, 0, 0, 0)
        for n, view in enumerate(self.views):
            self.grid.addWidget(view, n // 2, n % 2)
        self.slot3d = self._slot_3d()
        self.grid.addWidget(self.slot3d, 1, 1)
        for n in (0, 1):  # four equal quarters, whatever each view would like
            self.grid.setColumnStretch(n, 1)
            self.grid.setRowStretch(n, 1)
        self.fusion = FusionBar(self.controller)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addLayout(bar)
        column.addWidget(self.fusion)
        column.addLayout(self.grid, 1)
        self._activate(self.views[0])

    @property
    def volume(self) -> Volume:
        return self.controller.volume

    def _slot_3d(self) -> QWidget:
        """The 3D view opens on demand: VTK costs a second and ~170 MB, paid only when asked."""
        slot = QWidget()
        slot.setObjectName("slot3d")
        slot.setStyleSheet("QWidget#slot3d { background: #000000; } QLabel { color: #dddddd; }")
        box = QVBoxLayout(slot)
        self.open3d = QPushButton(self.tr("Open 3D view"))
        available = importlib.util.find_spec("viewer.gui.view3d") is not None
        self.open3d.setEnabled(available)
        if not available:
            self.open3d.setToolTip(self.tr("3D rendering is not part of this build"))
        self.open3d.clicked.connect(self.open_3d)
        box.addStretch(1)
        box.addWidget(self.open3d, 0, Qt.AlignmentFlag.AlignCenter)
        box.addStretch(1)
        return slot

    def open_3d(self) -> None:
        from viewer.gui.view3d import View3D

        view = View3D()
        view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        view.set_volume(self.volume)
        self.grid.replaceWidget(self.slot3d, view)
        self.slot3d.hide()
        view.show()
        self.view3d = view

    def toggle_maximise(self, view: MprView) -> None:
        """Double-click: this view alone in the layout; double-click again: all four."""
        self.maximised = None if self.maximised is view else view
        for other in (*self.views, self.view3d or self.slot3d):
            other.setVisible(self.maximised is None or other is self.maximised)

    def _slab_changed(self) -> None:
        mode = self.mode.currentData()
        self.controller.set_slab(self.slab.value(), mode if isinstance(mode, SlabMode)
                                 else SlabMode.MIP)

    def set_slab(self, thickness_mm: float, mode: SlabMode) -> None:
        """As the bar's controls do (tests, scripts)."""
        self.mode.setCurrentIndex(self.mode.findData(mode))
        self.slab.setValue(thickness_mm)

    def _activate(self, view: MprView) -> None:
        self.active = view
        for v in self.views:
            v.set_active(v is view)
        self.activated.emit(view)

    def set_tool(self, tool: Tool) -> None:
        for view in self.views:
            view.tool = tool

    def volume_filled(self, volume: object = None) -> None:
        """The loader's on_change (any thread)."""
        try:
            self.controller.volume_filled(volume)
        except RuntimeError:  # closed while a late frame arrived: nothing to redraw
            pass

    def close_layout(self) -> None:
        if self._cancel_load is not None:
            self._cancel_load()
        self.fusion.close_bar()
        if self.view3d is not None:
            self.view3d.close()  # its scene (VTK) goes with it
        for view in self.views:
            view.close_view()
        self.controller.close()
