"""A viewport's presentation states (PS3.4 N.2): which apply to the shown image, the one chosen,
and how it changes what is drawn.

The state is where the view starts, the user's window, zoom and pan work on top of it, and
"reset" returns to it:
- grey stages: `presentation_frame_info` puts the state's Modality/VOI/Presentation LUTs, its
  shutter and the overlays it activates into the FrameInfo the viewport shows the frame with
  (the one display pipeline draws them; the shutter in its presentation value);
- spatial stages: the rotation and flip become the viewport's turns and mirror, the displayed
  area its target rectangle: fitted (SCALE TO FIT), at the screen's pixel size (TRUE SIZE, from
  Qt's physical DPI) or at the magnification (MAGNIFY), centred on the area;
- graphic and text annotations: vector items in their layer's colour. PIXEL units are image
  coordinates (0,0 the top-left corner of the top-left pixel, as the image item's), so those
  items are children of the image and follow its turns, zoom and pan; DISPLAY units are
  fractions of the displayed area as first shown, so they are children of the camera.
The list ("No presentation state", then label — description — date, newest first) is a combo
box at the top of the viewport, shown when the image has any state.

A state not read yet is read on the layer's reader thread (viewer.gui.tasks): the image shows
as its header says until the state arrives, then again with it. Every arrival is checked against
what the viewport wants now (a generation number, bumped whenever another state is awaited or
none is): one read for an image scrolled past is kept for later but never applied to the image
shown instead.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
    QTransform,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from viewer.decode.requests import Frame, FrameKey
from viewer.dicom.display import DisplayState
from viewer.dicom.frameinfo import FrameInfo
from viewer.dicom.graphics import (
    AnnotationUnits,
    GraphicAnnotations,
    GraphicLayer,
    GraphicObject,
    GraphicType,
    Justification,
    TextObject,
    cielab_to_rgb,
    layer_rgb,
    outline,
)
from viewer.dicom.presentation_apply import PresentationStateFile, presentation_frame_info
from viewer.dicom.presentation_state import (
    PresentationSizeMode,
    PresentationStateError,
    displayed_area_for,
)
from viewer.dicom.shutters import DisplayShutter
from viewer.gui.imageview import Label
from viewer.gui.measurements import Kind, Point
from viewer.gui.presentation_source import NONE, ListedState, PresentationSource
from viewer.gui.tasks import Task, TaskRunner

if TYPE_CHECKING:
    from viewer.gui.viewport import Viewport

NO_STATE = ""  # the combo's data for "No presentation state"
POINT_RADIUS = 3.0  # screen pixels of a POINT graphic
PATHS_KEPT = 512
# Items of the images shown last, hidden rather than deleted: scrolling back and forth between
# images with their own annotations shows them again instead of building them (a text's item
# measures its font each time it is made).
HIDDEN_KEPT = 256
DEFAULT_LINE = 1.5  # screen pixels, when the state gives no Line Style thickness


@dataclass(frozen=True)
class Applied:
    """The state shown on the current frame: its file, the image's UID and the frame."""

    listed: ListedState
    file: PresentationStateFile
    sop_instance_uid: str
    frame: int  # 1-based


class PresentationLayer(QObject):
    """Attach with `PresentationLayer(viewport, source)`; the viewport calls `frame_info`
    before it renders a frame, `shown` after, and `clear` when its stack changes."""

    def __init__(self, viewport: Viewport, source: PresentationSource,
                 reader: TaskRunner | None = None) -> None:
        super().__init__(viewport)
        self.viewport = viewport
        self.source = source
        # reads state files (one thread: one file at a time, the newest wish first)
        self.reader = reader or TaskRunner(threads=1, parent=self)
        self.awaited: ListedState | None = None  # the state being read for this image
        self._generation = 0
        self._reading: Task | None = None
        self.choice: str | None = None  # None: the setting; NO_STATE; or a SOP Instance UID
        self.listed: list[ListedState] = []
        self.applied: Applied | None = None
        self.problem = ""  # why the chosen state is not shown, else ""
        self._key: FrameKey | None = None
        self._uid: str | None = None
        self._info: tuple[tuple[object, ...], FrameInfo] | None = None  # (for what, info)
        self._view_of: str | None = None  # the state whose view the viewport was set to
        self._view_pending = False
        self._filled: tuple[str, ...] = ()  # what the combo lists: the choice, then the UIDs
        self._items: list[QGraphicsItem] = []
        self._kept: dict[object, list[QGraphicsItem]] = {}  # by what they draw
        self._hidden: OrderedDict[object, list[QGraphicsItem]] = OrderedDict()
        self._drawn: tuple[object, ...] | None = None
        # by id of the annotations object: (it, (box, placement), plan); see _plan
        self._plans: OrderedDict[int, tuple[GraphicAnnotations, object, list[
            tuple[_Key, Callable[[QRectF], list[QGraphicsItem]]]]]] = OrderedDict()
        # outlines by graphic (and DISPLAY box): a scroll through images that share graphics
        # computes each once
        self._paths: dict[tuple[GraphicObject, object], QPainterPath] = {}
        self.combo = QComboBox(viewport)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.combo.setToolTip(self.tr("Presentation states of this image, newest first"))
        self.combo.activated.connect(self._chosen)
        self.combo.hide()
        # the items' parents: one under the image (PIXEL units), one under the camera
        # (DISPLAY units, texts)
        self._pixel_group = _group(viewport.image)
        self._display_group = _group(viewport.view.camera)
        viewport.installEventFilter(self)
        measured = viewport.measurements.listeners  # shared by the reading area's viewports
        measured.append(self._measurements_changed)
        viewport.presentation = self
        changes: list[Callable[[], None]] = getattr(source, "listeners", [])
        changes.append(self.refresh)

        def detach() -> None:  # a closed viewport is told nothing more
            if self._measurements_changed in measured:
                measured.remove(self._measurements_changed)
            if self.refresh in changes:
                changes.remove(self.refresh)

        viewport.destroyed.connect(detach)

    # -- the viewport's hooks -------------------------------------------------------------------
    def frame_info(self, frame: Frame) -> FrameInfo:
        """The FrameInfo to show `frame` with: the applied state's stages, else its own; and
        the rectangle shutter the user drew on it."""
        if frame.key != self._key:
            self._select(frame.key)
        applied = self.applied
        drawn = self._drawn_shutter(frame.key)
        wanted = (frame.key, applied.listed.path if applied else None, drawn)
        if self._info is not None and self._info[0] == wanted:
            return self._info[1]
        info = frame.info
        if applied is not None:
            try:
                info = presentation_frame_info(applied.file.state, frame.info,
                                               applied.sop_instance_uid, applied.frame)
            except PresentationStateError as exc:
                self.problem = str(exc)
                self.applied = None
        if drawn is not None:
            info = replace(info, shutter=with_rectangle(info.shutter, drawn, info.rows,
                                                        info.columns))
        self._info = (wanted, info)
        return info

    def _drawn_shutter(self, key: FrameKey) -> tuple[Point, Point] | None:
        """The two corners (pixel centres) of the newest shutter the user drew on `key`."""
        drawn = [m for m in self.viewport.measurements.on(key)
                 if m.kind is Kind.SHUTTER and m.complete]
        return (drawn[-1].points[0], drawn[-1].points[-1]) if drawn else None

    def _measurements_changed(self, key: FrameKey) -> None:
        vp = self.viewport
        if key != vp.current_key or vp.frame is None:
            return
        shutters = [m for m in vp.measurements.on(key) if m.kind is Kind.SHUTTER]
        for old in shutters[:-1]:  # one drawn shutter per image: the newest replaces it
            vp.measurements.remove(key, old)
        if self._info is not None and self._info[0][2] != self._drawn_shutter(key):
            vp.redisplay()

    def shown(self) -> None:
        """The frame's picture is on the image item: set the state's view if it changed, then
        draw its annotations."""
        if self._view_pending:
            self._view_pending = False
            self.apply_view()
        self._draw()

    def clear(self) -> None:
        """Another stack (or none): nothing listed or drawn until its first frame."""
        self._key, self._uid, self._info, self.applied, self.listed = None, None, None, None, []
        self._view_of, self._filled = None, ()
        self._await(None)
        self._remove_items()
        self.combo.hide()

    def refresh(self) -> None:
        """The archive changed: list the current image's states again and show the choice."""
        self._key = None
        self._info = None
        if self.viewport.frame is not None:
            self.viewport.redisplay()

    # -- choosing ---------------------------------------------------------------------------
    def _select(self, key: FrameKey) -> None:
        self._key, self._info, self.problem = key, None, ""
        vp = self.viewport
        uid = None
        if vp.stack is not None:
            uid = self.source.sop_instance_uid(vp.stack.series_uid, key[0])
        self._uid = uid
        frame = key[1] + 1
        self.listed = self.source.states_for(uid, frame) if uid else []
        wanted = self._wanted()
        self.applied = None
        known = self.source.parsed(wanted) if wanted is not None and uid is not None else None
        self._await(wanted if known is None and uid is not None else None)
        if isinstance(known, PresentationStateError):  # listed, not applied: said in the corner
            assert wanted is not None
            # by its label: the store path the log names means nothing on screen
            reason = str(known).removeprefix(f"{wanted.path}: ")
            self.problem = f"{wanted.label or wanted.sop_instance_uid}: not applied, {reason}"
        elif known is not None:
            assert wanted is not None and uid is not None
            self.applied = Applied(wanted, known, uid, frame)
        self._fill_combo()
        now = self.applied.listed.sop_instance_uid if self.applied else None
        if now != self._view_of:
            self._view_of = now
            self._view_pending = True
            vp.state = DisplayState()  # the state's (or the file's) window, not the last one

    def _await(self, wanted: ListedState | None) -> None:
        """Read `wanted` off the GUI thread unless it is being read already; None: nothing is
        awaited any more (a read still queued is cancelled)."""
        if wanted is not None and self.awaited is not None \
                and wanted.sop_instance_uid == self.awaited.sop_instance_uid:
            return  # the series shares its state: the read under way serves every image
        if self._reading is not None and self._reading.running:
            self._reading.cancel()  # stops it if still queued; a running read is kept
        self._generation += 1
        self.awaited, self._reading = wanted, None
        if wanted is None:
            return
        generation, source = self._generation, self.source
        task = self.reader.start(lambda _progress, _cancel: source.read(wanted),
                                 "presentation state")
        task.succeeded.connect(lambda result: self._arrived(wanted, result, generation))
        task.failed.connect(lambda text: self._arrived(  # not a DICOM problem: the disk's
            wanted, PresentationStateError(f"{wanted.path}: {text}"), generation))
        self._reading = task

    def _arrived(self, listed: ListedState,
                 result: PresentationStateFile | PresentationStateError, generation: int) -> None:
        """A read came back (GUI thread): kept in any case; shown only if the viewport still
        waits for exactly this read."""
        self.source.keep(listed, result)
        if generation != self._generation:
            return
        self.awaited, self._reading = None, None
        self._key = None  # choose again: the state is known now
        if self.viewport.frame is not None:
            self.viewport.redisplay()

    def _wanted(self) -> ListedState | None:
        if not self.listed:
            return None
        if self.choice == NO_STATE:
            return None
        if self.choice is not None:
            match = next((s for s in self.listed if s.sop_instance_uid == self.choice), None)
            if match is not None:
                return match
        return None if self.source.default == NONE else self.listed[0]

    def choose(self, sop_instance_uid: str) -> None:
        """Show the state with this SOP Instance UID (NO_STATE: none) on this viewport."""
        self.choice = sop_instance_uid
        self._key = None
        if self.viewport.frame is not None:
            self.viewport.redisplay()

    def _chosen(self, index: int) -> None:
        self.choose(str(self.combo.itemData(index)))

    def _fill_combo(self) -> None:
        shown = self.applied.listed if self.applied else self.awaited  # the one coming, too
        current = shown.sop_instance_uid if shown else NO_STATE
        filled = (current, *(s.sop_instance_uid for s in self.listed))
        if filled == self._filled:  # scrolling a series that shares its states
            return
        self._filled = filled
        combo = self.combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(self.tr("No presentation state"), NO_STATE)
        for listed in self.listed:
            combo.addItem(listed.title(), listed.sop_instance_uid)
        combo.setCurrentIndex(max(combo.findData(current), 0))
        combo.blockSignals(False)
        combo.setVisible(bool(self.listed))
        self._place_combo()

    def _place_combo(self) -> None:
        size = self.combo.sizeHint()
        width = min(size.width(), max(self.viewport.width() - 16, 40))
        self.combo.setGeometry((self.viewport.width() - width) // 2, 4, width, size.height())
        self.combo.raise_()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Resize and self.combo.isVisible():
            self._place_combo()
        return False

    # -- the view -------------------------------------------------------------------------------
    def apply_view(self) -> None:
        """Turns, mirror and displayed area of the applied state (none: the plain, fitted
        image); the user's window goes back to the state's."""
        vp = self.viewport
        applied = self.applied
        if applied is None:
            vp.set_view(0, False, None)
            return
        ps = applied.file.state
        area = displayed_area_for(ps, applied.sop_instance_uid, applied.frame)
        if area is None:
            vp.set_view(ps.rotation // 90, ps.horizontal_flip, None)
            return
        (c0, r0), (c1, r1) = area.top_left, area.bottom_right
        box = QRectF(c0 - 1, r0 - 1, c1 - c0 + 1, r1 - r0 + 1)
        zoom = None
        if area.size_mode is PresentationSizeMode.MAGNIFY and area.magnification:
            zoom = area.magnification
        elif area.size_mode is PresentationSizeMode.TRUE_SIZE and area.pixel_spacing:
            screen = vp.screen() or QApplication.primaryScreen()
            dpi = screen.physicalDotsPerInchX() if screen is not None else 0.0
            if dpi > 0:
                zoom = area.pixel_spacing[1] / (25.4 / dpi)
        vp.set_view(ps.rotation // 90, ps.horizontal_flip, box, zoom)

    def reset(self) -> None:
        """Back to the state's view and window (the plain image's without a state)."""
        self.viewport.state = DisplayState()
        self.apply_view()
        self.viewport.redisplay()

    # -- annotations ------------------------------------------------------------------------
    def annotation_groups(self) -> list[QGraphicsItem]:
        """The parents of every graphic and text the state draws (an export without
        annotations hides them)."""
        return [self._pixel_group, self._display_group]

    def _remove_items(self) -> None:
        scene = self.viewport.view.scene()
        for items in (*self._kept.values(), *self._hidden.values()):
            for item in items:
                if item.scene() is scene:
                    scene.removeItem(item)
        self._kept = {}
        self._hidden.clear()
        self._plans.clear()
        self._items = []
        self._drawn = None

    def _shown_again(self, key: object) -> list[QGraphicsItem]:
        items = self._hidden.pop(key, [])
        for item in items:
            item.setVisible(True)
        return items

    def _hide_kept(self) -> None:
        """The items no longer drawn are hidden and kept for a while; the oldest go."""
        scene = self.viewport.view.scene()
        for key, items in self._kept.items():
            for item in items:
                item.setVisible(False)
            self._hidden[key] = items
        self._kept = {}
        while len(self._hidden) > HIDDEN_KEPT:
            for item in self._hidden.popitem(last=False)[1]:
                if item.scene() is scene:
                    scene.removeItem(item)

    def _draw(self) -> None:
        vp = self.viewport
        applied = self.applied
        found = area = None
        if applied is not None and vp.image.image is not None:
            found = self.source.annotations(applied.file, applied.sop_instance_uid,
                                            applied.frame)
            area = self._display_box(applied)
        t = vp.image.transform()
        placed = (t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy(), vp.zoom_factor())
        signature = (found, None if area is None else area.getRect(), placed)
        if signature == self._drawn:
            return
        self._drawn = signature
        # Items of graphics and texts drawn already (the next image of a series often shares
        # a state's DISPLAY-unit texts and whole-series graphics) are kept, the rest made.
        wanted: dict[object, list[QGraphicsItem]] = {}
        if found is not None and area is not None:
            for key, make in self._plan(found, area, placed):
                wanted[key] = (self._kept.pop(key, []) or self._shown_again(key)
                               or make(area))
        self._hide_kept()  # what is no longer drawn
        self._kept = wanted
        self._items = [item for items in wanted.values() for item in items]
        self._drawn = signature

    def _plan(self, found: GraphicAnnotations, area: QRectF, placed: tuple[float, ...]
              ) -> list[tuple[_Key, Callable[[QRectF], list[QGraphicsItem]]]]:
        """What `found` draws in `area`: each graphic's and text's key (by what it draws) and
        how to make its items. Kept per annotations object, box and placement: a scroll back
        and forth between images finds its keys, their hashes computed once (hashing the
        graphics' values on every frame was a fifth of showing the annotations)."""
        box = area.getRect()
        kept = self._plans.get(id(found))
        if kept is not None and kept[0] is found and kept[1] == (box, placed):
            self._plans.move_to_end(id(found))
            return kept[2]
        layers = {layer.name: layer for layer in found.layers}
        plan: list[tuple[_Key, Callable[[QRectF], list[QGraphicsItem]]]] = []
        seen: set[_Key] = set()
        for graphic in found.graphics:
            layer = layers.get(graphic.layer)
            where = None if graphic.units is AnnotationUnits.PIXEL else box
            key = _Key(("graphic", graphic, layer, where))
            key = key if key not in seen else _Key((key.value, len(plan)))
            seen.add(key)
            plan.append((key, partial(self._graphic_items, graphic, layer)))
        for text in found.texts:
            layer = layers.get(text.layer)
            key = _Key(("text", text, layer, box, placed))
            key = key if key not in seen else _Key((key.value, len(plan)))
            seen.add(key)
            plan.append((key, partial(self._text_items, text, layer)))
        self._plans[id(found)] = (found, (box, placed), plan)  # found kept: its id stays its
        while len(self._plans) > HIDDEN_KEPT:
            self._plans.popitem(last=False)
        return plan

    def _display_box(self, applied: Applied) -> QRectF:
        """The displayed area in view coordinates: what DISPLAY units are fractions of."""
        vp = self.viewport
        area = displayed_area_for(applied.file.state, applied.sop_instance_uid, applied.frame)
        if area is None:
            return vp.image.mapRectToParent(vp.image.boundingRect())
        (c0, r0), (c1, r1) = area.top_left, area.bottom_right
        return vp.image.mapRectToParent(QRectF(c0 - 1, r0 - 1, c1 - c0 + 1, r1 - r0 + 1))

    def _graphic_items(self, graphic: GraphicObject, layer: GraphicLayer | None,
                       area: QRectF) -> list[QGraphicsItem]:
        style = graphic.line_style
        colour = _colour(style.on_cielab if style else None, layer,
                         style.on_opacity if style else 1.0)
        pixel = graphic.units is AnnotationUnits.PIXEL
        parent = self._pixel_group if pixel else self._display_group
        if graphic.graphic_type is GraphicType.POINT:
            x, y = graphic.points[0]
            where = QPointF(x, y) if pixel else _in_box(area, x, y)
            dot = QGraphicsEllipseItem(-POINT_RADIUS, -POINT_RADIUS, 2 * POINT_RADIUS,
                                       2 * POINT_RADIUS, parent)
            dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            dot.setPos(where)
            dot.setPen(QPen(Qt.PenStyle.NoPen))
            dot.setBrush(QBrush(colour))
            return [dot]
        key = (graphic, None if pixel else area.getRect())
        path = self._paths.get(key)
        if path is None:
            path = self._paths[key] = _graphic_path(graphic, None if pixel else area)
            if len(self._paths) > PATHS_KEPT:
                self._paths.pop(next(iter(self._paths)))
        item = QGraphicsPathItem(path, parent)
        pen = QPen(colour)
        pen.setCosmetic(True)
        pen.setWidthF(style.thickness if style and style.thickness > 0 else DEFAULT_LINE)
        if style is not None and style.dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        item.setPen(pen)
        if graphic.filled and graphic.closed:
            fill = graphic.fill_style
            item.setBrush(QBrush(_colour(fill.on_cielab if fill else None, layer,
                                         fill.on_opacity if fill else 1.0)))
        return [item]

    def _text_items(self, text: TextObject, layer: GraphicLayer | None,
                    area: QRectF) -> list[QGraphicsItem]:
        vp = self.viewport
        colour = _colour(text.colour, layer, 1.0)
        camera = self._display_group
        items: list[QGraphicsItem] = []
        anchor = None
        if text.anchor is not None:
            x, y = text.anchor
            anchor = (vp.image.mapToParent(QPointF(x, y))
                      if text.anchor_units is AnnotationUnits.PIXEL else _in_box(area, x, y))
        if text.bounding_box is not None:
            left, top, right, bottom = text.bounding_box
            if text.bounding_box_units is AnnotationUnits.PIXEL:
                box = vp.image.mapRectToParent(QRectF(left, top, right - left, bottom - top))
            else:
                box = QRectF(_in_box(area, left, top), _in_box(area, right, bottom)).normalized()
            items.append(BoxText(text.text, colour, box, text.justification, camera))
            if anchor is not None and text.anchor_visible:
                items.append(_line(anchor, _nearest_on(box, anchor), colour, camera))
        elif anchor is not None:
            label = Label(text.text, colour, camera)
            label.setPos(anchor + QPointF(2.0 / max(vp.zoom_factor(), 1e-6), 0.0))
            items.append(label)
        return items


class _Key:
    """A dictionary key whose hash is computed once (a tuple's is computed on every lookup)."""

    __slots__ = ("_hash", "value")

    def __init__(self, value: tuple[object, ...]) -> None:
        self.value = value
        self._hash = hash(value)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, _Key) and self._hash == other._hash
                                 and self.value == other.value)


class BoxText(QGraphicsItem):
    """Text inside its bounding box (view coordinates), upright, as large as fits: it scales
    with the zoom like the box it belongs to."""

    def __init__(self, text: str, colour: QColor, box: QRectF, justification: Justification,
                 parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.text, self._colour, self._box = text, colour, QRectF(box)
        self._align = {Justification.LEFT: Qt.AlignmentFlag.AlignLeft,
                       Justification.RIGHT: Qt.AlignmentFlag.AlignRight,
                       Justification.CENTER: Qt.AlignmentFlag.AlignHCenter}[justification]
        self._font = QFont(QApplication.font())
        lines = text.split("\n") or [""]
        self._font.setPixelSize(100)
        metrics = QFontMetricsF(self._font)
        widest = max(metrics.horizontalAdvance(line) for line in lines) or 1.0
        # the size at which the lines fill the box's height or width, whichever comes first
        fit = min(box.height() / (metrics.height() * len(lines)), box.width() / widest)
        self._scale = max(fit, 1e-3)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._box

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.save()
        painter.setClipRect(self._box)
        painter.translate(self._box.topLeft())
        painter.scale(self._scale, self._scale)
        painter.setFont(self._font)
        painter.setPen(self._colour)
        inner = QRectF(0, 0, self._box.width() / self._scale, self._box.height() / self._scale)
        painter.drawText(inner, int(self._align | Qt.AlignmentFlag.AlignTop), self.text)
        painter.restore()


def _graphic_path(graphic: GraphicObject, area: QRectF | None) -> QPainterPath:
    """The graphic's outline in the image's coordinates (`area` None: PIXEL units) or in view
    coordinates (DISPLAY units: fractions of `area`)."""
    if graphic.graphic_type in (GraphicType.CIRCLE, GraphicType.ELLIPSE):
        return _conic_path(graphic, area)
    # one image pixel (or view unit) between samples: smooth at any zoom the eye reads
    step = 1.0 if area is None else 1.0 / max(area.width(), area.height(), 1.0)
    points = outline(graphic, step)
    if area is not None:
        points = np.column_stack([area.left() + points[:, 0] * area.width(),
                                  area.top() + points[:, 1] * area.height()])
    path = QPainterPath()
    path.addPolygon(QPolygonF([QPointF(x, y) for x, y in points.tolist()]))
    return path


def with_rectangle(shutter: DisplayShutter | None, corners: tuple[Point, Point], rows: int,
                   columns: int) -> DisplayShutter | None:
    """`shutter` (or none) with a rectangle keeping the pixels whose centres lie inside the
    box drawn between `corners` (pixel centres at integers), in the standard's 1-based
    inclusive edges as create_ps writes them; the rectangle replaces the one `shutter` had.
    Unchanged when the box keeps no pixel."""
    (xa, ya), (xb, yb) = corners
    left, right = max(math.ceil(min(xa, xb)) + 1, 1), min(math.floor(max(xa, xb)) + 1, columns)
    upper, lower = max(math.ceil(min(ya, yb)) + 1, 1), min(math.floor(max(ya, yb)) + 1, rows)
    if left > right or upper > lower:
        return shutter
    rectangle = (left, right, upper, lower)
    if shutter is None:
        return DisplayShutter(frozenset({"RECTANGULAR"}), rectangle=rectangle)
    return replace(shutter, shapes=shutter.shapes | {"RECTANGULAR"}, rectangle=rectangle)


def _group(parent: QGraphicsItem) -> QGraphicsItem:
    group = QGraphicsRectItem(parent)
    group.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
    return group


def _conic_path(graphic: GraphicObject, area: QRectF | None) -> QPainterPath:
    """A CIRCLE (centre, a point on it) or ELLIPSE (major axis ends, minor axis ends) as
    centre + u cos t + v sin t, drawn by Qt: the unit circle through that affine map. `area`:
    DISPLAY units, fractions of it; None: PIXEL units."""
    pts = np.asarray(graphic.points, dtype=np.float64)
    if graphic.graphic_type is GraphicType.CIRCLE:
        centre = pts[0]
        radius = float(np.hypot(*(pts[1] - pts[0])))
        u, v = np.array([radius, 0.0]), np.array([0.0, radius])
    else:
        centre = (pts[0] + pts[1]) / 2.0
        u, v = (pts[1] - pts[0]) / 2.0, (pts[3] - pts[2]) / 2.0
    if area is not None:
        scale = np.array([area.width(), area.height()])
        centre = np.array([area.left(), area.top()]) + centre * scale
        u, v = u * scale, v * scale
    unit = QPainterPath()
    unit.addEllipse(QPointF(0.0, 0.0), 1.0, 1.0)
    return QTransform(u[0], u[1], v[0], v[1], centre[0], centre[1]).map(unit)


def _colour(cielab: tuple[int, int, int] | None, layer: GraphicLayer | None,
            opacity: float) -> QColor:
    r, g, b = cielab_to_rgb(cielab) if cielab is not None else layer_rgb(layer)
    return QColor(r, g, b, int(round(255 * min(max(opacity, 0.0), 1.0))))


def _in_box(area: QRectF, u: float, v: float) -> QPointF:
    return QPointF(area.left() + u * area.width(), area.top() + v * area.height())


def _nearest_on(box: QRectF, point: QPointF) -> QPointF:
    return QPointF(min(max(point.x(), box.left()), box.right()),
                   min(max(point.y(), box.top()), box.bottom()))


def _line(a: QPointF, b: QPointF, colour: QColor, parent: QGraphicsItem) -> QGraphicsPathItem:
    path = QPainterPath(a)
    path.lineTo(b)
    item = QGraphicsPathItem(path, parent)
    pen = QPen(colour)
    pen.setCosmetic(True)
    pen.setWidthF(1.0)
    item.setPen(pen)
    return item


def reset_view(viewport: Viewport) -> None:
    """"Reset": the presentation state's view and window; without one, the image fitted with
    the file's window."""
    if viewport.presentation is not None:
        viewport.presentation.reset()
        return
    viewport.state = DisplayState(invert=viewport.state.invert)
    viewport.fit()
    viewport.redisplay()


def annotations_of(layer: PresentationLayer) -> GraphicAnnotations | None:
    """What the applied state draws on the current frame (tests, benchmark)."""
    applied = layer.applied
    if applied is None:
        return None
    return layer.source.annotations(applied.file, applied.sop_instance_uid, applied.frame)
