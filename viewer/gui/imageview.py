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

    Nearest-neighbour painting samples the picture itself and hands Qt an RGB32 image to copy
    1:1. Qt's raster engine draws a Grayscale8 image through its generic span path, split over
    its thread pool even at 1:1 (py-spy: half of a viewport's show in drawImage, most of it in
    pthread_cond_signal and QLatch waits); scaled or turned it costs 0.43-0.5 ms for 512x512
    fitted at x1.14 (a presentation state's displayed area) against 0.10 ms at 1:1, and its
    faster RGB32 scaling path samples half a pixel off (at the device pixel's edge, not its
    centre). Here each device pixel takes the image pixel Qt's generic path would give it
    (`_sampling`, ties and edges included): a crop at 1:1, else two `numpy.take`s (rows, then
    samples along them) with indices kept while the placement holds (a scroll: ~0.3 ms for
    512x512 with cold caches), and grey becomes RGB32 in two numpy passes, which Qt copies
    without threads (0.04 ms); the arrays are kept and rewritten frame after frame. Bilinear
    (`smooth`), high-DPI devices and turns other than quarters keep Qt's own path.
    """

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self.smooth = False
        self._qimage: QImage | None = None
        self._rect = QRectF()
        self._sampling: _Sampling | None = None  # for the last placement on a device
        # this picture sampled so: (the sampling, its device pixels as a QImage)
        self._sampled: tuple[_Sampling, QImage] | None = None

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
        if self.smooth or device is None or device.devicePixelRatioF() != 1.0:
            painter.drawImage(self._rect, self._qimage)  # bilinear and high-DPI: Qt's own
            return
        rows, columns = self.image.shape[:2]
        key = (world.m11(), world.m12(), world.m21(), world.m22(), world.dx(), world.dy(),
               rows, columns, device.width(), device.height())
        if self._sampling is None or self._sampling.key != key:
            self._sampling = _sampling(key, world, device.width(), device.height())
        sampling = self._sampling
        if not sampling.usable:  # turned by other than quarters: Qt's path
            painter.drawImage(self._rect, self._qimage)
            return
        if sampling.empty:  # no device pixel shows the picture
            return
        if self._sampled is None or self._sampled[0] is not sampling:
            self._sampled = (sampling, sampling.screen(self.image))
        painter.setWorldTransform(QTransform())
        painter.drawImage(sampling.left, sampling.top, self._sampled[1])
        painter.setWorldTransform(world)


class _Sampling:
    """Which image pixel each device pixel of a placement shows, from device pixel (`left`,
    `top`): a `crop` of the picture (1:1 on whole pixels), or the picture rows and columns of
    each device column (`along_x`) and row (`along_y`), which are the picture's columns and
    rows, or rows and columns when `turned` (a quarter turn swaps the axes). Not `usable`
    for transforms other than quarter turns, mirrors, scales and shifts; `empty` when no
    device pixel shows the picture."""

    def __init__(self, key: tuple[float | int, ...], *, usable: bool = True,
                 along: tuple[np.ndarray, np.ndarray, bool] | None = None,
                 crop: tuple[slice, slice] | None = None, left: int = 0, top: int = 0) -> None:
        self.key, self.usable, self.along, self.crop = key, usable, along, crop
        self.left, self.top = left, top
        self.empty = usable and along is None and crop is None
        # A grey picture's RGB32 pixels are written into this each frame: a fresh array of
        # this size is mmap'd by malloc and faults its pages in on every frame.
        self._rgb32: np.ndarray | None = None
        self._screen: QImage | None = None
        self._colour: np.ndarray | None = None  # what an RGB picture's QImage reads

    def screen(self, picture: np.ndarray) -> QImage:
        """The device pixels of `picture` as a QImage Qt copies as they are: grey as opaque
        RGB32 (0xFFgggggg), RGB as RGB888; valid until the next call."""
        picked = picture[self.crop] if self.crop is not None else self._pick(picture)
        if picked.ndim == 3:
            self._colour = np.ascontiguousarray(picked)
            return wrap_qimage(self._colour)
        if self._rgb32 is None or self._screen is None:
            self._rgb32 = np.empty(picked.shape, dtype=np.uint32)
            height, width = picked.shape
            self._screen = QImage(self._rgb32.data, width, height, width * 4,
                                  QImage.Format.Format_RGB32)
        np.multiply(picked, np.uint32(0x010101), out=self._rgb32, dtype=np.uint32)
        np.bitwise_or(self._rgb32, np.uint32(0xFF000000), out=self._rgb32)
        return self._screen

    def _pick(self, picture: np.ndarray) -> np.ndarray:
        # Rows first (whole rows copied), then the samples along them: measured with cold
        # caches, 0.26 ms for 512x512 against 0.31-0.5 through one flat index per device
        # pixel (2 MB of indices), and 0.33 against 0.6 turned, where the flat index reads
        # the picture column-wise.
        assert self.along is not None
        along_x, along_y, turned = self.along
        if turned:  # device column x shows picture row along_x[x]; device row y, column along_y[y]
            return np.take(picture, along_x, axis=0).swapaxes(0, 1)[along_y]
        return np.take(np.take(picture, along_y, axis=0), along_x, axis=1)


def _sampling(key: tuple[float | int, ...], world: QTransform, width: int,
              height: int) -> _Sampling:
    """Nearest neighbour for an item-to-device transform that keeps the axes or swaps them,
    as Qt's raster engine computes it for an image drawn so (qpaintengine_raster.cpp,
    qdrawhelper.cpp): the device pixels whose centres lie in the image's rectangle after
    rounding its edges (qRound), each mapped back to the picture in 16.16 fixed point along
    its row from where the row's span starts, 1/65536 of an image pixel before the centre
    (QSpanData::setupMatrix). The same pixels, ties and edges included. `key` ends with the
    picture's rows and columns."""
    rows, columns = int(key[-4]), int(key[-3])
    if world.type() == QTransform.TransformationType.TxTranslate or world.isIdentity():
        # 1:1: Qt copies the image to the rounded position (a crop of it here)
        x0, y0 = _q_round(world.dx()), _q_round(world.dy())
        left, right = max(x0, 0), min(x0 + columns, width)
        top, bottom = max(y0, 0), min(y0 + rows, height)
        if left >= right or top >= bottom:
            return _Sampling(key)
        crop = (slice(top - y0, bottom - y0), slice(left - x0, right - x0))
        return _Sampling(key, crop=crop, left=left, top=top)
    shift = 1.0 / 65536
    inverse, invertible = (QTransform.fromTranslate(shift, shift) * world).inverted()
    a, b, c, d = inverse.m11(), inverse.m12(), inverse.m21(), inverse.m22()
    turned = a == 0.0 and d == 0.0
    if not invertible or not (turned or (b == 0.0 and c == 0.0)):
        return _Sampling(key, usable=False)
    shown = world.mapRect(QRectF(0, 0, columns, rows))
    left, right = max(_q_round(shown.left()), 0), min(_q_round(shown.right()), width)
    top, bottom = max(_q_round(shown.top()), 0), min(_q_round(shown.bottom()), height)
    if left >= right or top >= bottom:
        return _Sampling(key)
    xs = np.arange(left, right, dtype=np.int64)
    ys = np.arange(top, bottom, dtype=np.int64) + 0.5
    start = left + 0.5  # each row's span starts at the image's left edge
    # along a row, one coordinate steps by a truncated 16.16 increment from the span's start;
    # the other is the same all along the row (u = a x + c y + dx, v = b x + d y + dy)
    if turned:
        along_x = (_fixed(b * start + inverse.dy()) + (xs - left) * _fixed(b)) >> 16
        along_y = _fixed(c * ys + inverse.dx()) >> 16
        along = (along_x.clip(0, rows - 1).astype(np.intp),
                 along_y.clip(0, columns - 1).astype(np.intp), True)
        return _Sampling(key, along=along, left=left, top=top)
    along_x = (_fixed(a * start + inverse.dx()) + (xs - left) * _fixed(a)) >> 16
    along_y = _fixed(d * ys + inverse.dy()) >> 16
    along = (along_x.clip(0, columns - 1).astype(np.intp),
             along_y.clip(0, rows - 1).astype(np.intp), False)
    return _Sampling(key, along=along, left=left, top=top)


def _q_round(value: float) -> int:
    return int(value + 0.5) if value >= 0 else int(value - 0.5)


def _fixed(value: np.ndarray | float) -> np.ndarray:
    """16.16 fixed point, truncated towards zero as C's int cast does."""
    return np.trunc(np.asarray(value, dtype=np.float64) * 65536.0).astype(np.int64)


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
