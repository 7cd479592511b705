"""The viewport's drawing surface in plain Qt: a QGraphicsView showing one uint8 picture, with
zoom and pan kept as a target rectangle, and the items drawn over the image (lines, labels).

Three coordinate systems:
- image pixels: the picture's columns and rows, pixel (0, 0) covering [0, 1) x [0, 1);
- view coordinates: the image after its own transform (aspect, rotation, flip; `ImageItem`'s
  `transform()`), i.e. the plane that zoom and pan act on, y down;
- widget pixels: the view's viewport widget; the scene rectangle is kept equal to it, so scene
  coordinates are widget pixels, and the `camera` item (parent of the image) holds zoom and pan.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
    QTransform,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

LABEL_FILL = QColor(0, 0, 0, 150)
LABEL_PADDING = 2.0


def wrap_qimage(picture: np.ndarray) -> QImage:
    """An 8-bit grey (rows x columns) or RGB (rows x columns x 3) picture as a QImage over the
    same memory, without a copy (one is made only if the array is not C-contiguous). The caller
    keeps `picture` alive as long as the QImage."""
    picture = np.ascontiguousarray(picture)
    rows, columns = picture.shape[:2]
    if picture.ndim == 3:
        fmt, stride = QImage.Format.Format_RGB888, columns * 3
    else:
        fmt, stride = QImage.Format.Format_Grayscale8, columns
    return QImage(picture.data, columns, rows, stride, fmt)


class ImageItem(QGraphicsItem):
    """The current display picture (`image`, uint8, None when empty), one image pixel per unit.

    `smooth`: bilinear scaling; off (nearest neighbour) as before.

    Nearest-neighbour painting samples the picture itself: Qt's raster engine draws a scaled,
    turned or mirrored Grayscale8 image through its generic per-pixel path split over its
    thread pool (measured: 512x512 fitted into 512x512 device pixels, x1.14 as a displayed area
    shows it, 0.43 ms scaled and 0.5 ms turned, against 0.10 ms at 1:1, much of it waking and
    waiting for threads on two busy cores), and its faster RGB32 scaling path samples half a
    pixel off (at the device pixel's edge, not its centre). So the device pixel whose centre
    falls in image pixel (row, column) takes that pixel's value through one `numpy.take` with
    indices kept while the placement holds (a scroll: 0.15 ms), and the result is drawn 1:1.
    The same pixels as Qt's own path, which the tests compare against.
    """

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self.smooth = False
        self._qimage: QImage | None = None
        self._rect = QRectF()
        self._sampling: _Sampling | None = None  # for the last placement on a device
        # this picture sampled so: (the indices, the device pixels, a QImage over them)
        self._sampled: tuple[np.ndarray, np.ndarray, QImage] | None = None

    def set_image(self, picture: np.ndarray) -> None:
        picture = np.ascontiguousarray(picture)
        rect = QRectF(0, 0, picture.shape[1], picture.shape[0])
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.image = picture  # keeps the memory the QImage reads alive
        self._qimage = wrap_qimage(picture)
        self._sampled = None
        self.update()

    def clear(self) -> None:
        if self.image is None:
            return
        self.prepareGeometryChange()
        self.image, self._qimage, self._rect, self._sampled = None, None, QRectF(), None
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._qimage is None or self.image is None:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
        world = painter.worldTransform()
        device = painter.device()
        if self.smooth or device is None or device.devicePixelRatioF() != 1.0 or (
                world.type().value <= QTransform.TransformationType.TxTranslate.value
                and world.dx() == int(world.dx()) and world.dy() == int(world.dy())):
            # 1:1 on whole pixels is Qt's plain copy already; bilinear and high-DPI its own
            painter.drawImage(self._rect, self._qimage)
            return
        rows, columns = self.image.shape[:2]
        key = (world.m11(), world.m12(), world.m21(), world.m22(), world.dx(), world.dy(),
               rows, columns, device.width(), device.height())
        if self._sampling is None or self._sampling.key != key:
            self._sampling = _sampling(key, world, rows, columns, device.width(),
                                       device.height())
        sampling = self._sampling
        if sampling is None:  # turned by other than quarters: Qt's path
            painter.drawImage(self._rect, self._qimage)
            return
        if sampling.index is None:  # no device pixel shows the picture
            return
        if self._sampled is None or self._sampled[0] is not sampling.index:
            flat = self.image.reshape(rows * columns, -1)
            picked = np.take(flat[:, 0] if flat.shape[1] == 1 else flat, sampling.index, axis=0)
            self._sampled = (sampling.index, picked, wrap_qimage(picked))
        painter.setWorldTransform(QTransform())
        painter.drawImage(sampling.left, sampling.top, self._sampled[2])
        painter.setWorldTransform(world)


class _Sampling:
    """Which image pixel each device pixel of a placement shows: `index` (flat row-major
    indices into the picture, device rows x columns; None when none shows it) at device pixel
    (`left`, `top`)."""

    def __init__(self, key: tuple[float | int, ...], index: np.ndarray | None, left: int,
                 top: int) -> None:
        self.key, self.index, self.left, self.top = key, index, left, top


def _sampling(key: tuple[float | int, ...], world: QTransform, rows: int, columns: int,
              width: int, height: int) -> _Sampling | None:
    """Nearest neighbour for an item-to-device transform that keeps the axes or swaps them
    (quarter turns, mirrors, scales): each device pixel's centre mapped back to the picture;
    None for any other transform."""
    inverse, invertible = world.inverted()
    a, b, c, d = inverse.m11(), inverse.m12(), inverse.m21(), inverse.m22()
    turned = a == 0.0 and d == 0.0
    if not invertible or not (turned or (b == 0.0 and c == 0.0)):
        return None
    centres_x = np.arange(width, dtype=np.float64) + 0.5
    centres_y = np.arange(height, dtype=np.float64) + 0.5
    # image column and row of each device column and row (u = a x + c y + dx, v = b x + d y + dy)
    if turned:
        column_of_y = np.floor(c * centres_y + inverse.dx())
        row_of_x = np.floor(b * centres_x + inverse.dy())
        xs, ys = _inside(row_of_x, rows), _inside(column_of_y, columns)
    else:
        column_of_x = np.floor(a * centres_x + inverse.dx())
        row_of_y = np.floor(d * centres_y + inverse.dy())
        xs, ys = _inside(column_of_x, columns), _inside(row_of_y, rows)
    if xs is None or ys is None:
        return _Sampling(key, None, 0, 0)
    if turned:
        index = (row_of_x[xs].astype(np.intp)[None, :] * columns
                 + column_of_y[ys].astype(np.intp)[:, None])
    else:
        index = (row_of_y[ys].astype(np.intp)[:, None] * columns
                 + column_of_x[xs].astype(np.intp)[None, :])
    return _Sampling(key, index, xs.start, ys.start)


def _inside(values: np.ndarray, size: int) -> slice | None:
    """The device pixels (a run: `values` is monotonic) whose image index lies in [0, size)."""
    found = np.flatnonzero((values >= 0) & (values < size))
    return slice(int(found[0]), int(found[-1]) + 1) if found.size else None


class Label(QGraphicsItem):
    """Text that keeps its screen size and stays upright whatever the zoom, rotation or flip;
    its bottom-left corner at its position; on a translucent black box to stay readable."""

    def __init__(self, text: str, colour: QColor, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.text = text
        self._colour = colour
        self._font = QApplication.font()
        metrics = QFontMetricsF(self._font)
        lines = text.split("\n")
        width = max(metrics.horizontalAdvance(line) for line in lines) + 2 * LABEL_PADDING
        height = metrics.height() * len(lines) + 2 * LABEL_PADDING
        self._rect = QRectF(0, -height, width, height)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.fillRect(self._rect, LABEL_FILL)
        painter.setFont(self._font)
        painter.setPen(self._colour)
        inner = self._rect.adjusted(LABEL_PADDING, LABEL_PADDING, -LABEL_PADDING, -LABEL_PADDING)
        painter.drawText(inner, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                         self.text)


class ImageView(QGraphicsView):
    """Shows `image` with the aspect ratio locked, fitted (`target` None) or showing at least
    the `target` rectangle (view coordinates), centred: a resize keeps what is shown."""

    def __init__(self) -> None:
        super().__init__()
        scene = QGraphicsScene(self)
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)  # few, moving items
        self.setScene(scene)
        self.setBackgroundBrush(QColor(0, 0, 0))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        # The picture covers most of the widget and the overlay above repaints it all anyway.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)  # lines; the image turns it off
        self.setInteractive(False)  # the viewport handles mouse and keys itself
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAcceptDrops(False)  # drops go to the viewport
        self.viewport().setAcceptDrops(False)
        self.camera = QGraphicsRectItem()  # view coordinates -> widget pixels (zoom, pan)
        self.camera.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        scene.addItem(self.camera)
        self.image = ImageItem(self.camera)
        self.target: QRectF | None = None

    # -- geometry -------------------------------------------------------------------------------
    def image_bounds(self) -> QRectF:
        """The image's rectangle in view coordinates (after aspect, rotation, flip)."""
        return self.image.mapRectToParent(self.image.boundingRect())

    def shown_target(self) -> QRectF:
        return QRectF(self.target) if self.target is not None else self.image_bounds()

    def relayout(self) -> None:
        """Fit the target rectangle into the widget, centred, aspect locked."""
        w, h = self.viewport().width(), self.viewport().height()
        self.setSceneRect(QRectF(0, 0, w, h))
        target = self.shown_target()
        if target.width() <= 0 or target.height() <= 0 or w <= 0 or h <= 0:
            self.camera.setTransform(QTransform())
            return
        zoom = min(w / target.width(), h / target.height())
        centre = target.center()
        self.camera.setTransform(
            QTransform(zoom, 0, 0, zoom, w / 2 - zoom * centre.x(), h / 2 - zoom * centre.y())
        )

    def fit_image(self) -> None:
        self.target = None
        self.relayout()

    def zoom(self) -> float:
        """Screen pixels per view unit (1.0 while nothing is shown)."""
        return float(self.camera.transform().m11())

    def view_rect(self) -> QRectF:
        """The visible rectangle in view coordinates (the whole widget, not only the target)."""
        inverse, invertible = self.camera.transform().inverted()
        if not invertible:
            return QRectF()
        return inverse.mapRect(QRectF(0, 0, self.viewport().width(), self.viewport().height()))

    def to_view(self, widget_pos: QPointF) -> QPointF:
        """Viewport-widget pixels -> view coordinates."""
        return self.camera.mapFromScene(self.mapToScene(widget_pos.toPoint()))

    def scale_by(self, scale: float, centre: QPointF) -> None:
        """Show `scale` times as much (below 1: zoom in), `centre` staying where it is."""
        t = self.shown_target()
        top_left = centre + (t.topLeft() - centre) * scale
        self.target = QRectF(top_left.x(), top_left.y(), t.width() * scale, t.height() * scale)
        self.relayout()

    def translate_by(self, dx: float, dy: float) -> None:
        """Move what is shown by (dx, dy) view units."""
        self.target = self.shown_target().translated(dx, dy)
        self.relayout()


def path_item(
    points: list[tuple[float, float]], colour: QColor, parent: QGraphicsItem,
    dashed: bool = False,
) -> QGraphicsPathItem:
    """A polyline through image pixel centres (a measurement, a reference or crosshair line)
    drawn 1.5 screen pixels wide whatever the zoom, as a child of `parent` (the image)."""
    pen = QPen(colour)
    pen.setCosmetic(True)
    pen.setWidthF(1.5)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    path = QPainterPath()
    path.addPolygon(QPolygonF([QPointF(x + 0.5, y + 0.5) for x, y in points]))  # centres
    curve = QGraphicsPathItem(path, parent)
    curve.setPen(pen)
    return curve
