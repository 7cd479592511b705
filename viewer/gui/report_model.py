"""An SR document for the report panel: read off the GUI thread (`load_report`), shown by a
lazy tree model (`ReportTreeModel`).

`load_report` is a TaskRunner job: it reads the file (`read_report`), finds the TID 1500
measurement groups and the dose summary (series resolved through the archive), flattens the
tree into parent / row tables, and finds the files of the images the report references (the
archive's index, else the SOP Instance UIDs of the files on screen). The GUI thread then only
wraps the result: the model computes a row's text (`describe.item_line`) when the view asks
for it, so a 5,000-item report is on screen in milliseconds after the read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from viewer.archive.archive import Archive
from viewer.dicom.text import pydicom_warnings
from viewer.reports.content_tree import ContentItem, ContentTree, ReferencedSOP
from viewer.reports.describe import item_line
from viewer.reports.dose import DoseSummary, dose_summary
from viewer.reports.measurements import Measurement, MeasurementGroup, Region, measurements
from viewer.reports.report_file import read_report

LINK = QColor(40, 110, 220)
INVALID = QColor(200, 40, 40)
Index = QModelIndex | QPersistentModelIndex
_TOP = QModelIndex()  # the invisible root's index, as Qt's defaults give it


@dataclass(frozen=True, eq=False)
class LoadedReport:
    """What the panel and the viewports show of one SR file."""

    path: str
    tree: ContentTree
    items: tuple[ContentItem, ...]  # document order; an item's id is its index here
    parents: tuple[int, ...]  # the parent's id (-1 for the root)
    rows: tuple[int, ...]  # the row under its parent
    children: tuple[tuple[int, ...], ...]
    groups: tuple[MeasurementGroup, ...]
    dose: DoseSummary
    series_names: dict[str, str]  # Series Instance UID -> "number: description" (archive)
    image_paths: dict[str, str]  # SOP Instance UID -> file, of the images it references
    targets: dict[str, Region] = field(default_factory=dict)  # item position -> what to show
    labels: dict[str, str] = field(default_factory=dict)  # region position -> its label
    read_seconds: float = 0.0

    def target_of(self, item: ContentItem) -> Region | None:
        """The region (or image) a click on `item` shows: its own, its measurement's or its
        group's; an IMAGE item's image."""
        position = item.position
        while position:
            found = self.targets.get(position)
            if found is not None:
                return found
            position = position.rpartition(".")[0]
        return None


def load_report(path: str, archive: Archive | None = None,
                shown_files: Iterable[str] = ()) -> LoadedReport:
    """Read the SR at `path` and everything the panel and the viewports need of it (a job for
    the TaskRunner: file reads and index queries, never on the GUI thread). Raises
    DicomFileError / ContentTreeError with their one-line reasons."""
    start = time.perf_counter()
    tree = read_report(path)
    items = tuple(tree.walk())
    ids = {item.position: n for n, item in enumerate(items)}
    parents, rows = [-1] * len(items), [0] * len(items)
    children: list[tuple[int, ...]] = []
    for n, item in enumerate(items):
        kids = tuple(ids[c.position] for c in item.children)
        for row, kid in enumerate(kids):
            parents[kid], rows[kid] = n, row
        children.append(kids)
    groups = measurements(tree)
    def series_of(uid: str) -> str | None:
        row = archive.index.get_instance(uid) if archive is not None else None
        return row.series_instance_uid if row is not None else None

    dose = dose_summary(tree, series_of if archive is not None else None)
    names: dict[str, str] = {}
    if archive is not None:
        for series in dose.series:
            found = archive.index.get_series(series.series_uid) if series.series_uid else None
            if found is not None:
                number = "" if found.series_number is None else f"{found.series_number}: "
                names[series.series_uid] = f"{number}{found.series_description}".strip()
    referenced = {ref.sop_instance_uid for ref in _images(items) if ref.sop_instance_uid}
    targets, labels = _targets(items, groups)
    return LoadedReport(
        path=str(path), tree=tree, items=items, parents=tuple(parents), rows=tuple(rows),
        children=tuple(children), groups=groups, dose=dose, series_names=names,
        image_paths=_image_paths(referenced, archive, shown_files),
        targets=targets, labels=labels, read_seconds=time.perf_counter() - start,
    )


def _images(items: Iterable[ContentItem]) -> Iterable[ReferencedSOP]:
    return (i.value for i in items if i.value_type == "IMAGE"
            and isinstance(i.value, ReferencedSOP))


def _image_paths(uids: set[str], archive: Archive | None,
                 shown_files: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    if archive is not None:
        for uid in uids:
            row = archive.index.get_instance(uid)
            if row is None:
                continue
            try:
                found[uid] = str(archive.store.absolute(row.store_path))
            except ValueError:  # a tampered store path: not followed
                continue
    if len(found) == len(uids):
        return found
    # files opened outside the archive (`view PATH`): their UIDs from their headers
    from pydicom import dcmread

    for path in dict.fromkeys(shown_files):
        if len(found) == len(uids):
            break
        try:
            with pydicom_warnings():
                uid = str(dcmread(path, stop_before_pixels=True,
                                  specific_tags=["SOPInstanceUID"]).get("SOPInstanceUID", ""))
        except Exception:  # an unreadable file was named when it was opened
            continue
        if uid in uids:
            found[uid] = path
    return found


def measurement_label(measurement: Measurement) -> str:
    name = measurement.name.meaning if measurement.name is not None else ""
    if measurement.value is None:
        value = measurement.qualifier.meaning if measurement.qualifier is not None else ""
    else:
        unit = measurement.unit.value if measurement.unit is not None else ""
        value = f"{measurement.text or f'{measurement.value:g}'} {unit}".strip()
    return f"{name}: {value}" if name else value


def group_label(group: MeasurementGroup) -> str:
    head = group.tracking_identifier or (group.finding.meaning if group.finding else "")
    return "\n".join([head] * bool(head) + [measurement_label(m) for m in group.measurements])


def _targets(items: tuple[ContentItem, ...], groups: tuple[MeasurementGroup, ...]
             ) -> tuple[dict[str, Region], dict[str, str]]:
    """Item position -> the region a click shows; region position -> its label (the
    measurements made on it, else its group's)."""
    targets: dict[str, Region] = {}
    labels: dict[str, str] = {}
    for item in items:
        if isinstance(item.value, ReferencedSOP) and item.value_type == "IMAGE":
            targets[item.position] = Region("IMAGE", (), (item.value,), position=item.position)
    for group in groups:
        regions = group.all_regions()
        for region in regions:
            targets[region.position] = region
            own = [measurement_label(m) for m in group.measurements
                   if any(r.position == region.position for r in m.regions)]
            labels[region.position] = "\n".join(own) if own else group_label(group)
        for m in group.measurements:
            if m.regions:
                targets[m.position] = m.regions[0]
        if regions:
            targets[group.position] = regions[0]
    return targets, labels


class ReportTreeModel(QAbstractItemModel):
    """The content tree, one row per item (`describe.item_line`, computed when shown): by-
    reference items as links (blue, underlined; their target's position as tooltip), invalid
    items in red with their problem as tooltip."""

    def __init__(self, report: LoadedReport) -> None:
        super().__init__()
        self.report = report
        self._ids = {item.position: n for n, item in enumerate(report.items)}
        self._text: dict[int, str] = {}
        self._link_font = QFont()
        self._link_font.setUnderline(True)

    def item(self, index: Index) -> ContentItem | None:
        return self.report.items[index.internalId()] if index.isValid() else None

    def index_of(self, position: str) -> QModelIndex:
        n = self._ids.get(position)
        if n is None:
            return QModelIndex()
        return self.createIndex(self.report.rows[n], 0, n)

    def index(self, row: int, column: int, parent: Index = _TOP) -> QModelIndex:
        if column != 0 or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, 0, 0) if row == 0 and self.report.items else QModelIndex()
        kids = self.report.children[parent.internalId()]
        return self.createIndex(row, 0, kids[row]) if row < len(kids) else QModelIndex()

    def parent(self, index: Index = _TOP) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        up = self.report.parents[index.internalId()]
        if up < 0:
            return QModelIndex()
        return self.createIndex(self.report.rows[up], 0, up)

    def rowCount(self, parent: Index = _TOP) -> int:  # noqa: N802 - Qt's name
        if not parent.isValid():
            return 1 if self.report.items else 0
        if parent.column() != 0:
            return 0
        return len(self.report.children[parent.internalId()])

    def columnCount(self, parent: Index = _TOP) -> int:  # noqa: N802 - Qt's name
        return 1

    def hasChildren(self, parent: Index = _TOP) -> bool:  # noqa: N802 - Qt's name
        return self.rowCount(parent) > 0

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        n = index.internalId()
        item = self.report.items[n]
        tree = self.report.tree
        if role == Qt.ItemDataRole.DisplayRole:
            text = self._text.get(n)
            if text is None:
                text = self._text[n] = item_line(tree, item).lstrip(" ")
            return text
        problem = item.problem or tree.link_problem(item)
        if role == Qt.ItemDataRole.ForegroundRole:
            if problem:
                return INVALID
            return LINK if item.reference else None
        if role == Qt.ItemDataRole.FontRole and item.reference:
            return self._link_font
        if role == Qt.ItemDataRole.ToolTipRole:
            if problem:
                return problem
            if item.reference:
                return f"→ {item.reference}"
            return self.data(index, Qt.ItemDataRole.DisplayRole)  # the whole line
        if role == Qt.ItemDataRole.UserRole:
            return item.position
        return None
