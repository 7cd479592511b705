"""The MPR layout's fusion row: which series of the study to fuse over the planes (same Frame
of Reference), its colour map, a linear opacity slider and its window, in SUVbw for a PET that
has the attributes for it (viewer.volume.fusion, viewer.dicom.suv)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QWidget

from viewer.gui.mpr_state import Fusion, MprController
from viewer.volume.fusion import COLORMAPS, FusionError, check_fusable, default_overlay_window
from viewer.volume.model import Volume


class FusionBar(QWidget):
    """`series_chosen(series_uid)` when the user picks a series ("" for none); the reading area
    builds its volume and hands it to `set_overlay`."""

    series_chosen = Signal(str)

    def __init__(self, controller: MprController) -> None:
        super().__init__()
        self.controller = controller
        self._cancel_load: Callable[[], None] | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 2)
        row.addWidget(QLabel(self.tr("Fuse")))
        self.series = QComboBox()
        self.series.addItem(self.tr("None"), "")
        self.series.setMinimumContentsLength(16)
        self.series.activated.connect(lambda _n: self.series_chosen.emit(
            str(self.series.currentData() or "")))
        row.addWidget(self.series)
        self.colormap = QComboBox()
        row.addWidget(self.colormap)
        row.addWidget(QLabel(self.tr("Opacity")))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setFixedWidth(120)
        row.addWidget(self.opacity)
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        for box in (self.low, self.high):
            box.setRange(-1e7, 1e7)
            box.setDecimals(2)
            box.setKeyboardTracking(False)
        row.addWidget(QLabel(self.tr("Window")))
        row.addWidget(self.low)
        row.addWidget(self.high)
        self.note = QLabel()
        self.note.setStyleSheet("color: #ffbe3c;")
        row.addWidget(self.note, 1)
        self.colormap.currentIndexChanged.connect(self._controls_changed)
        self.opacity.valueChanged.connect(self._controls_changed)
        self.opacity.sliderReleased.connect(self.controller.end_interaction)
        self.low.valueChanged.connect(self._controls_changed)
        self.high.valueChanged.connect(self._controls_changed)
        self._set_enabled(False)

    def set_candidates(self, series: list[tuple[str, str]]) -> None:
        """(series UID, label) of the series that may be fused: same study and Frame of
        Reference, not the MPR's own."""
        self.series.blockSignals(True)
        while self.series.count() > 1:
            self.series.removeItem(1)
        for uid, label in series:
            self.series.addItem(label, uid)
        self.series.blockSignals(False)

    def set_overlay(self, overlay: Volume | None,
                    cancel_load: Callable[[], None] | None = None) -> None:
        """Fuse `overlay` (None: stop). A volume that cannot be fused is refused with its one
        line next to the controls."""
        self._stop_loading()
        self.note.setText("")
        if overlay is None:
            self.controller.set_fusion(None)
            self._set_enabled(False)
            self.series.setCurrentIndex(0)
            return
        try:
            check_fusable(self.controller.volume, overlay)
        except FusionError as error:
            if cancel_load is not None:
                cancel_load()
            self.note.setText(str(error))
            self.series.setCurrentIndex(0)
            self.controller.set_fusion(None)
            self._set_enabled(False)
            return
        self._cancel_load = cancel_load
        suv = overlay.suv_factor is not None
        low, high = default_overlay_window(overlay, suv)
        if not suv and overlay.modality == "PT":
            self.note.setText(self.tr("No SUVbw: %1").replace("%1", overlay.suv_reason))
        self.colormap.blockSignals(True)
        if self.colormap.count() == 0:
            for name in COLORMAPS:
                self.colormap.addItem(name, name)
        self.colormap.setCurrentIndex(max(0, self.colormap.findData(
            "hot-iron" if overlay.modality == "PT" else "rainbow")))
        self.colormap.blockSignals(False)
        for box, value in ((self.low, low), (self.high, high)):
            box.blockSignals(True)
            box.setSuffix(" SUV" if suv else "")
            box.setValue(value)
            box.blockSignals(False)
        self._set_enabled(True)
        self.controller.set_fusion(Fusion(
            overlay, low, high, str(self.colormap.currentData()), self.opacity.value() / 100, suv))

    def _controls_changed(self) -> None:
        fusion = self.controller.fusion
        if fusion is None:
            return
        dragging = self.opacity.isSliderDown()
        self.controller.set_fusion(replace(
            fusion, low=self.low.value(), high=max(self.high.value(), self.low.value() + 1e-3),
            colormap=str(self.colormap.currentData()), opacity=self.opacity.value() / 100,
        ), interacting=dragging)

    def _set_enabled(self, on: bool) -> None:
        for widget in (self.colormap, self.opacity, self.low, self.high):
            widget.setEnabled(on)

    def _stop_loading(self) -> None:
        if self._cancel_load is not None:
            self._cancel_load()
            self._cancel_load = None

    def close_bar(self) -> None:
        self._stop_loading()
