"""The overlay panel: each opened Segmentation / RT Structure Set with its segments or ROIs
(colour swatch, a visibility check box each), one opacity slider for the segments, and a
button that closes the overlay. The panel writes through the layers' setters; the reading
objects controller redraws the viewports when a layer changes."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from viewer.gui.overlay_layers import OverlayLayer, structure_set_problems

SWATCH = 14  # pixels


def swatch(color: tuple[int, int, int]) -> QIcon:
    picture = QPixmap(SWATCH, SWATCH)
    picture.fill(QColor(*color))
    return QIcon(picture)


class OverlayGroup(QGroupBox):
    """One overlay: its entries with check boxes, and a close button."""

    close_requested = Signal(object)  # the OverlayLayer

    def __init__(self, layer: OverlayLayer) -> None:
        super().__init__(f"{layer.kind}: {layer.name}")
        self.layer = layer
        self.entries = QListWidget()
        for entry in layer.entries:
            item = QListWidgetItem(swatch(entry.color), entry.name)
            item.setData(Qt.ItemDataRole.UserRole, entry.number)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.visible.get(entry.number, True)
                               else Qt.CheckState.Unchecked)
            self.entries.addItem(item)
        self.entries.itemChanged.connect(self._item_changed)
        close = QPushButton(self.tr("Close"))
        close.clicked.connect(lambda: self.close_requested.emit(self.layer))
        box = QVBoxLayout(self)
        box.addWidget(self.entries)
        problems = structure_set_problems(layer.overlay)
        if problems:
            note = QLabel(self.tr("%n contour(s) not drawn", "", len(problems)))
            note.setToolTip("\n".join(problems[:20]))
            box.addWidget(note)
        box.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)

    def _item_changed(self, item: QListWidgetItem) -> None:
        number = int(item.data(Qt.ItemDataRole.UserRole))
        self.layer.set_visible(number, item.checkState() == Qt.CheckState.Checked)

    def check(self, number: int, shown: bool) -> None:
        """Tick or untick entry `number` as the user would."""
        for row in range(self.entries.count()):
            item = self.entries.item(row)
            if int(item.data(Qt.ItemDataRole.UserRole)) == number:
                item.setCheckState(Qt.CheckState.Checked if shown else Qt.CheckState.Unchecked)


class OverlayPanel(QWidget):
    """Every opened overlay, and the opacity of their segments (0-100 %)."""

    close_requested = Signal(object)  # the OverlayLayer to close

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[OverlayGroup] = []
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setToolTip(self.tr("Opacity of the segments"))
        self.opacity.valueChanged.connect(self._opacity_changed)
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("Opacity")))
        row.addWidget(self.opacity, 1)
        self._list = QVBoxLayout()
        box = QVBoxLayout(self)
        box.addLayout(row)
        box.addLayout(self._list)
        box.addStretch(1)

    def add(self, layer: OverlayLayer) -> OverlayGroup:
        layer.set_opacity(self.opacity.value() / 100.0)
        group = OverlayGroup(layer)
        group.close_requested.connect(self.close_requested.emit)
        self.groups.append(group)
        self._list.addWidget(group)
        return group

    def remove(self, layer: OverlayLayer) -> None:
        for group in [g for g in self.groups if g.layer is layer]:
            self.groups.remove(group)
            self._list.removeWidget(group)
            group.setParent(None)
            group.deleteLater()

    def _opacity_changed(self, value: int) -> None:
        for group in self.groups:
            group.layer.set_opacity(value / 100.0)
