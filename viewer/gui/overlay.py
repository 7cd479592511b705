"""What a viewport draws over the image in screen space: four-corner annotations, orientation
markers, the scale bar, the probe readout and a problem text. One transparent widget painted
with QPainter: a single paint per repaint, nothing to lay out, mouse events pass through."""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass, field

from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from viewer.dicom.annotations import Corners, ScaleBar
from viewer.dicom.geometry import EdgeLabels, oriented_edge_labels

TEXT = QColor(235, 235, 235)
SHADOW = QColor(0, 0, 0, 200)
WARNING = QColor(255, 190, 60)
MARGIN = 6
BLOCK_CACHE = 64  # rendered corner blocks kept per viewport


@dataclass
class OverlayContent:
    corners: Corners | None = None
    markers: EdgeLabels | None = None
    scale_bar: ScaleBar | None = None
    probe: str = ""
    problem: str = ""  # e.g. "cannot decode: <reason>", shown in the middle
    notes: list[str] = field(default_factory=list)  # e.g. which calibration lengths use
    # what is shown depends on a defective attribute (viewport_warnings): top centre, amber
    warnings: list[str] = field(default_factory=list)
    active: bool = False  # the viewport that has the keyboard focus gets a frame


class Overlay(QWidget):
    """Paints `content` over its parent; call `show_content` after each change."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.content = OverlayContent()
        self._blocks: OrderedDict[tuple[tuple[str, ...], bool], QPixmap] = OrderedDict()
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() * 0.95))
        self.setFont(font)

    def show_content(self, content: OverlayContent) -> None:
        self.content = content
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        c = self.content
        metrics = QFontMetricsF(self.font())
        line = metrics.height()
        w, h = self.width(), self.height()
        # Where the bottom-left block (notes, then the image number) ends and begins: a long
        # calibration note reaches the centre, and the scale bar then goes above it.
        left_block_right, left_block_top = 0.0, float(h)
        if c.corners is not None:
            self._block(painter, c.corners.top_left, MARGIN, MARGIN, line, right=False)
            self._block(painter, c.corners.top_right, w - MARGIN, MARGIN, line, right=True)
            bottom_left = [*c.notes, *c.corners.bottom_left] if c.notes else c.corners.bottom_left
            top = h - MARGIN - line * len(bottom_left)
            self._block(painter, bottom_left, MARGIN, top, line, right=False)
            if bottom_left:
                left_block_top = top
                left_block_right = MARGIN + max(metrics.horizontalAdvance(t) for t in bottom_left)
            bottom_right = [*c.corners.bottom_right, *([c.probe] if c.probe else [])]
            self._block(painter, bottom_right, w - MARGIN, h - MARGIN - line * len(bottom_right),
                        line, right=True)
        if c.markers is not None:
            m = c.markers
            self._text(painter, m.top, QPointF(w / 2, MARGIN + line), centre=True)
            self._text(painter, m.bottom, QPointF(w / 2, h - MARGIN - line * 0.2), centre=True)
            self._text(painter, m.left, QPointF(MARGIN, h / 2 + line / 3), centre=False)
            self._text(painter, m.right,
                       QPointF(w - MARGIN - metrics.horizontalAdvance(m.right), h / 2 + line / 3),
                       centre=False)
        if c.scale_bar is not None:
            y = h - MARGIN - line * 1.6
            if left_block_right + MARGIN > w / 2 - c.scale_bar.length_px_on_screen / 2:
                y = min(y, left_block_top - line * 0.6)
            self._scale_bar(painter, c.scale_bar, w, y, line)
        if c.warnings:
            corner_lines = max(len(c.corners.top_left), len(c.corners.top_right)) if c.corners \
                else 0
            self._warnings(painter, c.warnings, w, MARGIN + line * max(corner_lines + 0.3,
                                                                       2.4 if c.markers else 1.0))
        if c.problem:
            painter.setPen(WARNING)
            box = QRectF(MARGIN * 4, h / 3, w - MARGIN * 8, h / 3)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             c.problem)
        if c.active:
            painter.setPen(QPen(QColor(80, 140, 230), 2))
            painter.drawRect(QRectF(1, 1, w - 2, h - 2))
        painter.end()

    def _warnings(self, painter: QPainter, lines: list[str], w: float, top: float) -> None:
        """Each warning centred below the top corners, amber on a dark band, wrapped (never
        cut: the reader needs all of it), so it is seen over any image and not taken for a
        corner's annotation."""
        metrics = QFontMetricsF(self.font())
        flags = int(Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap)
        y = top
        for text in lines:
            box = metrics.boundingRect(QRectF(0, 0, max(w - MARGIN * 6, 40.0), 1e4), flags, text)
            band = QRectF(w / 2 - box.width() / 2 - 4, y, box.width() + 8, box.height() + 2)
            painter.fillRect(band, QColor(0, 0, 0, 170))
            painter.setPen(WARNING)
            painter.drawText(band.adjusted(4, 1, -4, -1), flags, text)
            y += band.height() + 2

    def _block(self, painter: QPainter, lines: tuple[str, ...] | list[str], x: float, y: float,
               step: float, right: bool) -> None:
        """A corner's lines, drawn from a cached picture: while scrolling most corners do not
        change, and one pixmap is far cheaper than two drawText calls per line."""
        if not lines:
            return
        picture = self._block_picture(tuple(lines), right)
        ratio = picture.devicePixelRatio() or 1.0
        left = x - picture.width() / ratio if right else x
        painter.drawPixmap(QPointF(left, y), picture)

    def _block_picture(self, lines: tuple[str, ...], right: bool) -> QPixmap:
        key = (lines, right)
        picture = self._blocks.get(key)
        if picture is not None:
            self._blocks.move_to_end(key)
            return picture
        metrics = QFontMetricsF(self.font())
        step = metrics.height()
        width = max(metrics.horizontalAdvance(text) for text in lines) + 2
        ratio = self.devicePixelRatioF()
        picture = QPixmap(int((width + 1) * ratio) + 1, int((step * len(lines) + 2) * ratio) + 1)
        picture.setDevicePixelRatio(ratio)
        picture.fill(Qt.GlobalColor.transparent)
        painter = QPainter(picture)
        painter.setFont(self.font())
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        for n, text in enumerate(lines):
            left = width - metrics.horizontalAdvance(text) - 1 if right else 0.0
            self._text(painter, text, QPointF(left, step * (n + 0.8)), centre=False)
        painter.end()
        self._blocks[key] = picture
        if len(self._blocks) > BLOCK_CACHE:
            self._blocks.popitem(last=False)
        return picture

    def _text(self, painter: QPainter, text: str, at: QPointF, centre: bool) -> None:
        if not text:
            return
        if centre:
            at = QPointF(at.x() - QFontMetricsF(self.font()).horizontalAdvance(text) / 2, at.y())
        painter.setPen(SHADOW)  # a 1-pixel shadow keeps text readable on white bone
        painter.drawText(at + QPointF(1, 1), text)
        painter.setPen(TEXT)
        painter.drawText(at, text)

    def _scale_bar(self, painter: QPainter, bar: ScaleBar, w: float, y: float, line: float) -> None:
        """Horizontal at height `y`, centred (above the bottom orientation marker), ticks
        every tenth."""
        length = bar.length_px_on_screen
        x0, x1 = w / 2 - length / 2, w / 2 + length / 2
        painter.setPen(QPen(SHADOW, 3))
        painter.drawLine(QPointF(x0, y), QPointF(x1, y))
        painter.setPen(QPen(TEXT, 1))
        painter.drawLine(QPointF(x0, y), QPointF(x1, y))
        for tick in range(11):
            tx = x0 + length * tick / 10
            size = 6 if tick % 5 == 0 else 3
            painter.drawLine(QPointF(tx, y - size), QPointF(tx, y))
        self._text(painter, bar.text, QPointF(x1 + 6, y + line / 3), centre=False)


@functools.lru_cache(maxsize=64)
def orientation_markers(orientation: tuple[float, ...], quarter_turns: int, flip_h: bool,
             flip_v: bool) -> EdgeLabels | None:
    """Orientation markers; cached because a series shares one orientation, and scrolling
    repaints them every frame."""
    return oriented_edge_labels(orientation, quarter_turns, flip_h, flip_v)


@functools.lru_cache(maxsize=1)
def annotation_labels() -> dict[str, str]:
    """The annotation labels, translated (keys as in annotations.DEFAULT_LABELS); literal
    calls, so that pyside6-lupdate finds them. Cached: every repaint asks, and the language
    is chosen once, at start-up."""
    return {
        "image": QCoreApplication.translate("Viewport", "Im:"),
        "location": QCoreApplication.translate("Viewport", "Loc:"),
        "thickness": QCoreApplication.translate("Viewport", "Thk:"),
        "window": QCoreApplication.translate("Viewport", "W:"),
        "level": QCoreApplication.translate("Viewport", "L:"),
        "zoom": QCoreApplication.translate("Viewport", "Zoom:"),
        "lossy": QCoreApplication.translate("Viewport", "LOSSY"),
        "patient_id": QCoreApplication.translate("Viewport", "ID:"),
        "birth_date": QCoreApplication.translate("Viewport", "DOB:"),
        "sex": QCoreApplication.translate("Viewport", "Sex:"),
        "series": QCoreApplication.translate("Viewport", "Se:"),
        "age_years": QCoreApplication.translate("Viewport", "Y"),
        "age_months": QCoreApplication.translate("Viewport", "M"),
        "age_days": QCoreApplication.translate("Viewport", "D"),
    }
