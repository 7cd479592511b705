"""A TID 1500 report's regions in the viewports (PS3.16 TID 1500, PS3.3 C.18.6, C.18.9).

SCOORD regions are drawn on the frames they were SELECTED FROM, as vector items over the image
(image pixel coordinates, 0,0 the top left corner of the top left pixel, as a presentation
state's PIXEL annotations), labelled with the measurements made on them (name, value, unit).
A SCOORD3D region goes on the slice of a 2D stack in its Frame of Reference whose plane is
nearest the region's centroid, projected onto that plane along its normal, with a marker and
a label saying how far (mm) its farthest point lies from the plane shown; on an MPR view, on
the plane shown when it lies within MPR_REACH_MM of it. Every item is made
from the already loaded report: nothing is read while scrolling.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from viewer.dicom.geometry import StackPlanes
from viewer.gui.imageview import Label
from viewer.gui.report_model import LoadedReport
from viewer.gui.viewport import Viewport
from viewer.reports.measurements import ProjectedRegion, Region, centroid, project_region

if TYPE_CHECKING:  # the MPR view (and fusion's colour maps from pydicom's palettes) load with MPR
    from viewer.gui.mpr_view import MprView

REGION_PEN = QColor(255, 140, 0)
MARKER_SCREEN_PX = 6.0  # a POINT's cross, half its size on screen
MPR_REACH_MM = 20.0  # 3D regions farther than this from an MPR plane are not drawn on it


class ReportLayer:
    """The regions of one loaded report, for every viewport (a ViewportLayer)."""

    def __init__(self, report: LoadedReport) -> None:
        self.report = report
        self.uid_of_path = {path: uid for uid, path in report.image_paths.items()}
        regions = [r for g in report.groups for r in g.all_regions()]
        self.flat = [r for r in regions if not r.is_3d]
        self.solid = [r for r in regions if r.is_3d and r.points]
        # per series and frame count: a one-frame head completed since is planned again
        self._planes: dict[tuple[str, int], StackPlanes] = {}

    def items(self, viewport: Viewport) -> list[QGraphicsItem]:
        key = viewport.current_key
        if key is None:
            return []
        out: list[QGraphicsItem] = []
        path, index = key
        uid = self.uid_of_path.get(path)
        if uid is not None:
            for region in self.flat:
                if any(image.sop_instance_uid == uid
                       and (not image.frames or index + 1 in image.frames)
                       for image in region.images):
                    out += self._draw(viewport.image, region.graphic_type, region.points,
                                      self.report.labels.get(region.position, ""))
        if self.solid:
            out += self._draw_3d(viewport)
        return out

    def notes(self, viewport: Viewport) -> list[str]:
        return []

    def nearest_slice(self, viewport: Viewport, region: Region) -> int | None:
        """The slice of the viewport's stack nearest `region`'s centroid (any distance), in
        the region's Frame of Reference; None for another one."""
        stack = viewport.stack
        if stack is None or not region.is_3d:
            return None
        key = (stack.series_uid, len(stack.frames))
        planes = self._planes.get(key)
        if planes is None:
            planes = self._planes[key] = StackPlanes(stack.geometry)
        return planes.nearest(centroid(region), region.frame_of_reference_uid, math.inf)

    def plane_items(self, view: MprView) -> list[QGraphicsItem]:
        """The 3D regions within MPR_REACH_MM of an MPR view's plane, projected onto it."""
        geometry = view.geometry_now
        out: list[QGraphicsItem] = []
        for region in self.solid:
            projected = project_region(region, geometry)
            if projected is not None and projected.distance_mm <= MPR_REACH_MM:
                out += self._draw_projected(view.frame, region, projected)
        return out

    def _draw_3d(self, viewport: Viewport) -> list[QGraphicsItem]:
        geometry = viewport.geometry_now
        if geometry is None:
            return []
        out: list[QGraphicsItem] = []
        for region in self.solid:
            if self.nearest_slice(viewport, region) != viewport.position:
                continue
            projected = project_region(region, geometry)
            if projected is not None:
                out += self._draw_projected(viewport.image, region, projected)
        return out

    def _draw_projected(self, parent: QGraphicsItem, region: Region,
                        projected: ProjectedRegion) -> list[QGraphicsItem]:
        """A projected 3D region with its label, how far it lies from the plane, and a cross
        where its centre projects."""
        label = self.report.labels.get(region.position, "")
        note = f"{projected.distance_mm:.1f} mm from this plane"
        kind = {"POLYGON": "POLYLINE", "ELLIPSOID": "ELLIPSE"}.get(
            projected.graphic_type, projected.graphic_type)
        points = projected.points
        if kind == "POLYLINE" and projected.graphic_type == "POLYGON":
            points = (*points, points[0])
        out = self._draw(parent, kind, points, f"{label}\n{note}".strip())
        if kind not in ("POINT", "MULTIPOINT"):  # the marker: where its centre projects
            cx = sum(p[0] for p in points) / len(points)
            cy = sum(p[1] for p in points) / len(points)
            out.append(_cross(parent, cx, cy))
        return out

    def _draw(self, parent: QGraphicsItem, kind: str, points: tuple[tuple[float, ...], ...],
              label: str) -> list[QGraphicsItem]:
        out: list[QGraphicsItem] = []
        if kind in ("POINT", "MULTIPOINT"):
            out += [_cross(parent, p[0], p[1]) for p in points]
        else:
            path = scoord_path(kind, points)
            if path is None:
                return []
            item = QGraphicsPathItem(path, parent)
            pen = QPen(REGION_PEN)
            pen.setCosmetic(True)
            pen.setWidthF(1.5)
            item.setPen(pen)
            out.append(item)
        if label and points:
            text = Label(label, REGION_PEN, parent)
            right = max(p[0] for p in points)
            top = min(p[1] for p in points)
            text.setPos(right, top)
            out.append(text)
        return out


def scoord_path(kind: str, points: tuple[tuple[float, ...], ...]) -> QPainterPath | None:
    """A SCOORD's outline in image pixel coordinates (0,0 the top left pixel's corner):
    POLYLINE through its points; CIRCLE centre then a point on the circle; ELLIPSE the major
    axis' end points then the minor axis' (PS3.3 C.18.6.1.2)."""
    path = QPainterPath()
    if kind == "POLYLINE" and len(points) >= 2:
        path.moveTo(points[0][0], points[0][1])
        for p in points[1:]:
            path.lineTo(p[0], p[1])
        return path
    if kind == "CIRCLE" and len(points) >= 2:
        (cx, cy), (px, py) = points[0][:2], points[1][:2]
        radius = math.hypot(px - cx, py - cy)
        path.addEllipse(QPointF(cx, cy), radius, radius)
        return path
    if kind == "ELLIPSE" and len(points) >= 4:
        (ax, ay), (bx, by) = points[0][:2], points[1][:2]
        (cx2, cy2), (dx, dy) = points[2][:2], points[3][:2]
        major = math.hypot(bx - ax, by - ay) / 2
        minor = math.hypot(dx - cx2, dy - cy2) / 2
        ellipse = QPainterPath()
        ellipse.addEllipse(QRectF(-major, -minor, 2 * major, 2 * minor))
        turn = QTransform()
        turn.translate((ax + bx) / 2, (ay + by) / 2)
        turn.rotateRadians(math.atan2(by - ay, bx - ax))
        return turn.map(ellipse)
    return None


def _cross(parent: QGraphicsItem, x: float, y: float) -> QGraphicsItem:
    """A cross of constant screen size centred on (x, y) (`parent`'s pixel coordinates)."""
    half = MARKER_SCREEN_PX
    path = QPainterPath()
    path.moveTo(-half, 0)
    path.lineTo(half, 0)
    path.moveTo(0, -half)
    path.lineTo(0, half)
    item = QGraphicsPathItem(path, parent)
    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
    pen = QPen(REGION_PEN)
    pen.setCosmetic(True)
    pen.setWidthF(1.5)
    item.setPen(pen)
    item.setPos(x, y)
    return item
