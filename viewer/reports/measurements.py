"""TID 1500 Measurement Report: measurement groups with their image regions (PS3.16 TID 1500,
TID 1501, TID 1410, TID 1411).

`measurements(tree)` finds every Measurement Group (125007, DCM) of a content tree wherever it is
nested and returns frozen `MeasurementGroup`s: tracking identifiers, finding and finding site,
each NUM with its value and unit, qualitative evaluations, and the regions (SCOORD on an image,
SCOORD3D in a Frame of Reference) the group or each measurement was made on. A viewport draws a
`Region` whose `images` hold the frame it shows (`regions_on_image`); a 3D region goes on the
plane nearest its `centroid` (`viewer.dicom.geometry.nearest_slice`), drawn where
`project_region` puts it, with a marker when its points lie off that plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viewer.dicom.geometry import image_point, slice_normal
from viewer.dicom.stack import SliceGeometry
from viewer.reports.content_tree import (
    Code,
    ContentItem,
    ContentTree,
    NumericValue,
    ReferencedSOP,
    SpatialCoordinates,
    SpatialCoordinates3D,
    TextValue,
)

DCM, SCT = "DCM", "SCT"
MEASUREMENT_GROUP = ("125007", DCM)
TRACKING_IDENTIFIER = ("112039", DCM)
TRACKING_UID = ("112040", DCM)
FINDING = ("121071", DCM)
FINDING_SITE = ("363698007", SCT)
FINDING_SITE_SRT = ("G-C0E3", "SRT")  # the same concept before SNOMED CT codes (older reports)
_NOT_MEASUREMENTS = frozenset({"CONTAINER"})


@dataclass(frozen=True, slots=True)
class Region:
    """One SCOORD or SCOORD3D. 2D: `points` are (column, row) image pixels, 0,0 the top left
    corner of the top left pixel, on each of `images` (their `frames`, 1-based; none: every
    frame). 3D: `points` are (x, y, z) mm in `frame_of_reference_uid`. `position` is the
    content item's position in the tree."""

    graphic_type: str
    points: tuple[tuple[float, ...], ...]
    images: tuple[ReferencedSOP, ...] = ()
    frame_of_reference_uid: str = ""
    position: str = ""

    @property
    def is_3d(self) -> bool:
        return bool(self.frame_of_reference_uid)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One NUM of a group: concept name, value (None when absent; `qualifier` says why), the
    value as written, its unit (UCUM code), the regions it was derived from and its modifiers
    (method, derivation...: concept name meaning -> value text)."""

    name: Code | None
    value: float | None
    text: str
    unit: Code | None
    qualifier: Code | None
    regions: tuple[Region, ...]
    modifiers: tuple[tuple[str, str], ...]
    position: str


@dataclass(frozen=True, slots=True)
class MeasurementGroup:
    """One Measurement Group (TID 1501 / 1410 / 1411)."""

    position: str
    tracking_identifier: str
    tracking_uid: str
    finding: Code | None
    finding_site: Code | None
    measurements: tuple[Measurement, ...]
    regions: tuple[Region, ...]
    evaluations: tuple[tuple[str, str], ...]  # qualitative evaluations: name -> value text

    def all_regions(self) -> tuple[Region, ...]:
        """The group's regions and every measurement's, each once."""
        seen: dict[str, Region] = {r.position: r for r in self.regions}
        for measurement in self.measurements:
            seen.update((r.position, r) for r in measurement.regions)
        return tuple(seen.values())


def measurements(tree: ContentTree) -> tuple[MeasurementGroup, ...]:
    """Every TID 1500 Measurement Group in `tree`, in document order."""
    return tuple(_group(tree, item) for item in tree.walk()
                 if item.value_type == "CONTAINER" and _is(item.concept, MEASUREMENT_GROUP))


def regions_on_image(
    groups: tuple[MeasurementGroup, ...], sop_instance_uid: str, frame: int = 1
) -> tuple[tuple[MeasurementGroup, Region], ...]:
    """The 2D regions to draw on frame `frame` (1-based) of image `sop_instance_uid`."""
    return tuple(
        (group, region) for group in groups for region in group.all_regions()
        if any(image.sop_instance_uid == sop_instance_uid
               and (not image.frames or frame in image.frames) for image in region.images)
    )


@dataclass(frozen=True, slots=True)
class ProjectedRegion:
    """A SCOORD3D region on one image plane: `points` (column, row) in the SCOORD convention
    (0,0 the top left corner of the top left pixel), `distance_mm` the farthest of its points
    from the plane (a viewport draws the region, or a marker, when that is within its slice)."""

    graphic_type: str
    points: tuple[tuple[float, float], ...]
    distance_mm: float


def centroid(region: Region) -> tuple[float, ...]:
    """The mean of the region's points (patient mm for 3D: where `nearest_slice` should look)."""
    count = len(region.points)
    return tuple(sum(p[k] for p in region.points) / count for k in range(len(region.points[0])))


def project_region(region: Region, geometry: SliceGeometry) -> ProjectedRegion | None:
    """A 3D `region` projected along the normal onto the image plane of `geometry`; None when
    the region is 2D, in another Frame of Reference, or the plane is not fully described."""
    if (not region.is_3d or not region.points
            or region.frame_of_reference_uid != geometry.frame_of_reference_uid
            or geometry.position is None or geometry.orientation is None):
        return None
    normal = slice_normal(geometry.orientation)
    origin = np.asarray(geometry.position, dtype=np.float64)
    points, distance = [], 0.0
    try:
        for point in region.points:
            offset = np.asarray(point, dtype=np.float64) - origin
            distance = max(distance, abs(float(offset @ normal)))
            column, row = image_point(geometry, point)
            # image_point puts pixel centres at integers; SCOORD puts them at .5
            points.append((column + 0.5, row + 0.5))
    except ValueError:  # no pixel spacing
        return None
    return ProjectedRegion(region.graphic_type, tuple(points), distance)


def _is(code: Code | None, wanted: tuple[str, str]) -> bool:
    return code is not None and code.is_(*wanted)


def _text_of(item: ContentItem) -> str:
    value = item.value
    if isinstance(value, TextValue):
        return value.text
    if isinstance(value, Code):
        return value.meaning
    if isinstance(value, NumericValue):
        unit = value.unit.value if value.unit else ""
        return f"{value.text} {unit}".strip()
    return ""


def _region(tree: ContentTree, item: ContentItem) -> Region | None:
    target = tree.resolve(item)
    if target is None:
        return None
    value = target.value
    if isinstance(value, SpatialCoordinates):
        return Region(value.graphic_type, value.points, tree.scoord_images(target),
                      position=target.position)
    if isinstance(value, SpatialCoordinates3D):
        return Region(value.graphic_type, value.points,
                      frame_of_reference_uid=value.frame_of_reference_uid,
                      position=target.position)
    return None


def _regions(tree: ContentTree, items: tuple[ContentItem, ...]) -> tuple[Region, ...]:
    found = (_region(tree, item) for item in items)
    return tuple(region for region in found if region is not None)


def _measurement(tree: ContentTree, item: ContentItem) -> Measurement:
    value = item.value if isinstance(item.value, NumericValue) else NumericValue(None, "", None)
    modifiers = tuple(
        (child.concept.meaning, _text_of(child)) for child in item.children
        if child.relationship == "HAS CONCEPT MOD" and child.concept is not None
    )
    return Measurement(item.concept, value.number, value.text, value.unit, value.qualifier,
                       _regions(tree, item.children), modifiers, item.position)


def _group(tree: ContentTree, group: ContentItem) -> MeasurementGroup:
    tracking_identifier = tracking_uid = ""
    finding = finding_site = None
    numbers, evaluations = [], []
    for child in group.children:
        concept = child.concept
        if _is(concept, TRACKING_IDENTIFIER):
            tracking_identifier = _text_of(child)
        elif _is(concept, TRACKING_UID):
            tracking_uid = _text_of(child)
        elif _is(concept, FINDING) and isinstance(child.value, Code):
            finding = child.value
        elif (_is(concept, FINDING_SITE) or _is(concept, FINDING_SITE_SRT)) and isinstance(
                child.value, Code):
            finding_site = child.value
        elif child.value_type == "NUM":
            numbers.append(_measurement(tree, child))
        elif (child.value_type == "CODE" and child.relationship == "CONTAINS"
              and concept is not None):
            evaluations.append((concept.meaning, _text_of(child)))
    regions = _regions(tree, tuple(c for c in group.children if c.relationship == "CONTAINS"))
    return MeasurementGroup(group.position, tracking_identifier, tracking_uid, finding,
                            finding_site, tuple(numbers), regions, tuple(evaluations))
