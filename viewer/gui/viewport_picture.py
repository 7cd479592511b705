"""A viewport as the radiologist sees it, as a picture (issue 19, item 3): the "Export viewport",
"Copy viewport" and "All viewports" of the reading window's Export menu.

The picture is the viewport's own scene rendered again, not a second rendering of the frame:
the image item holds the uint8 picture the one display pipeline (viewer.dicom.display) made
with the viewport's window and presentation state (LUTs, shutters, activated overlays), and the
scene places it with the viewport's rotation, flip, zoom and pan, under the SEG/RTSTRUCT/SR
layers, measurements, reference lines and presentation-state graphics. The corner texts,
orientation markers and scale bar are painted by a fresh `Overlay` over it, so that they can be
drawn without the patient's identifying fields (teaching files) and without what belongs to
the screen alone: the active viewport's frame, the probe's readout under the cursor and the
presentation-state list.

Two sizes:
- SCREEN: the viewport's widget pixels; the same paint as on screen, so the picture equals a
  grab of the view.
- IMAGE: what the viewport is asked to show (its target: the displayed area of a presentation
  state, the rectangle the user zoomed to, else the whole image after rotation), at `scale`
  output pixels per image pixel. The camera is set to exactly that scale for the paint, and the
  image item samples nearest neighbour (imageview.ImageItem), so at scale 1 each output pixel is
  an image pixel, moved by the quarter turns and mirror only: no resample.

Without annotations only the picture stays: the image as displayed (still turned, zoomed,
shuttered, with its SEG/RTSTRUCT overlays); measurements, reference lines, presentation-state
graphics and the corner texts are left out.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QTransform
from PySide6.QtWidgets import QGraphicsItem, QWidget

from viewer.dicom import annotations as corner_text
from viewer.dicom import measure
from viewer.gui.overlay import Overlay, OverlayContent, annotation_labels
from viewer.gui.viewport import Viewport
from viewer.media.annotate import without_patient_text

BACKGROUND = QColor(0, 0, 0)  # the view's own background
GRID_BACKGROUND = QColor(0x10, 0x10, 0x10)  # the reading grid between viewports (reading.py)


class PictureSize(enum.Enum):
    SCREEN = "screen"  # the viewport's widget pixels
    IMAGE = "image"  # the displayed area at `scale` output pixels per image pixel


@dataclass(frozen=True)
class PictureOptions:
    """`annotations`: corner texts, markers, measurements and presentation-state graphics
    drawn; `patient_text` False leaves the patient's name, ID, birth date, institution and
    study date/time out of the corner texts; `scale`: output pixels per image pixel (IMAGE)."""

    size: PictureSize = PictureSize.SCREEN
    annotations: bool = True
    patient_text: bool = True
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not (self.scale > 0 and np.isfinite(self.scale)):
            raise ValueError(f"scale must be a positive number, not {self.scale!r}")


def viewport_picture(viewport: Viewport, options: PictureOptions) -> QImage | None:
    """What `viewport` shows, as an RGB32 QImage (None while it shows no image)."""
    if viewport.image.image is None:
        return None
    view = viewport.view
    if options.size is PictureSize.SCREEN:
        width, height = view.viewport().width(), view.viewport().height()
        camera = view.camera.transform()
        zoom = viewport.zoom_factor()
    else:
        target = view.shown_target()
        zoom = options.scale
        width = max(1, round(target.width() * zoom))
        height = max(1, round(target.height() * zoom))
        camera = QTransform(zoom, 0, 0, zoom, -zoom * target.left(), -zoom * target.top())
    picture = QImage(width, height, QImage.Format.Format_RGB32)
    picture.fill(BACKGROUND)
    painter = QPainter(picture)
    painter.setRenderHints(view.renderHints())
    with _placed(viewport, camera), _hidden(_annotation_items(viewport, options)):
        area = QRectF(0, 0, width, height)
        view.scene().render(painter, area, area, Qt.AspectRatioMode.IgnoreAspectRatio)
    if options.annotations:
        # the overlay paints with a fresh painter's hints on screen (no antialiasing)
        painter.setRenderHints(QPainter.RenderHint(0), True)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        _paint_overlay(viewport, options, painter, width, height, zoom)
    painter.end()
    return picture


def layout_picture(viewports: Sequence[Viewport], host: QWidget,
                   options: PictureOptions) -> QImage | None:
    """The viewports of a layout as one picture, as on screen: each at its place in `host`
    (the reading grid), the grid's background between them; None when none shows an image."""
    visible = [v for v in viewports if v.isVisible()]
    if not any(v.image.image is not None for v in visible):
        return None
    screen = replace(options, size=PictureSize.SCREEN)
    picture = QImage(host.width(), host.height(), QImage.Format.Format_RGB32)
    picture.fill(GRID_BACKGROUND)
    painter = QPainter(picture)
    for viewport in visible:
        area = viewport.view.viewport()
        place = area.mapTo(host, QPoint(0, 0))
        part = viewport_picture(viewport, screen)
        if part is None:  # an empty viewport: black, as on screen
            painter.fillRect(place.x(), place.y(), area.width(), area.height(), BACKGROUND)
        else:
            painter.drawImage(place, part)
    painter.end()
    return picture


def picture_array(picture: QImage) -> np.ndarray:
    """An RGB32 picture as uint8 numpy: rows x columns when every pixel is grey (a plain grey
    image, as `render` writes it), else rows x columns x 3 RGB."""
    rgb = picture.convertToFormat(QImage.Format.Format_RGB888)
    rows, columns = rgb.height(), rgb.width()
    lines = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=rgb.bytesPerLine() * rows)
    array = lines.reshape(rows, rgb.bytesPerLine())[:, :columns * 3].reshape(rows, columns, 3)
    red = array[..., 0]
    if (array[..., 1] == red).all() and (array[..., 2] == red).all():
        return red.copy()
    return array.copy()


@contextmanager
def _placed(viewport: Viewport, camera: QTransform) -> Iterator[None]:
    """The camera (zoom and pan) set to `camera` for one paint, then put back."""
    items = viewport.view.camera
    kept = items.transform()
    if camera == kept:
        yield
        return
    items.setTransform(camera)
    try:
        yield
    finally:
        items.setTransform(kept)


@contextmanager
def _hidden(items: Sequence[QGraphicsItem]) -> Iterator[None]:
    shown = [item for item in items if item.isVisible()]
    for item in shown:
        item.setVisible(False)
    try:
        yield
    finally:
        for item in shown:
            item.setVisible(True)


def _annotation_items(viewport: Viewport, options: PictureOptions) -> list[QGraphicsItem]:
    """The items an export without annotations leaves out: measurements and reference lines
    (drawn after the layers), and the presentation state's graphics and texts."""
    if options.annotations:
        return []
    items = viewport.drawn_marks()
    if viewport.presentation is not None:
        items += viewport.presentation.annotation_groups()
    return items


def overlay_content(viewport: Viewport, options: PictureOptions, zoom: float,
                    width: int) -> OverlayContent:
    """The corner texts, markers, scale bar and notes of the viewport at `zoom` (output pixels
    per image pixel) on a picture `width` wide; without the patient's fields on request."""
    shown = viewport.overlay.content
    content = OverlayContent(markers=shown.markers, notes=list(shown.notes),
                             problem=shown.problem)
    stack = viewport.stack
    if stack is None or not stack.frames:
        return content
    info = stack.info if options.patient_text else without_patient_text(stack.info)
    frame = viewport.frame.info if viewport.frame is not None else None
    content.corners = corner_text.four_corners(
        info, viewport.geometry_now, frame, viewport.position, stack.total_frames,
        viewport.current_window(), zoom, labels=annotation_labels())
    if shown.scale_bar is not None:
        scale = measure.calibration_of(viewport.geometry_now, frame).scale
        content.scale_bar = corner_text.scale_bar(scale, zoom, max(40.0, width / 4))
    return content


def _paint_overlay(viewport: Viewport, options: PictureOptions, painter: QPainter, width: int,
                   height: int, zoom: float) -> None:
    overlay = Overlay(viewport.view)
    if options.size is PictureSize.SCREEN:
        width_for_bar = viewport.width()  # the viewport sizes its bar by its own width
    else:
        # the text in proportion to the picture, as the core's annotate does (~13 px on a
        # 512 image): at the screen's size it would cover a small image
        width_for_bar = width
        font = overlay.font()
        font.setPixelSize(max(8, round(min(width, height) / 40)))
        overlay.setFont(font)
    try:
        overlay.hide()
        overlay.resize(width, height)
        overlay.content = overlay_content(viewport, options, zoom, width_for_bar)
        overlay.render(painter, QPoint(0, 0), renderFlags=QWidget.RenderFlag(0))
    finally:
        overlay.setParent(None)
        overlay.deleteLater()
