"""The report panel beside the images: an SR's (or KOS's) content tree, and for a dose report
its dose summary.

The tree has one row per content item, as `sr` prints it (describe.item_line); a click on a
by-reference item (a link, blue) selects the item it points to; invalid items are red with
their problem as tooltip. A click on an image, a region, a measurement or anything inside a
measurement group asks the window to show the image (`target_chosen`). For a CT Radiation
Dose SR the table lists per series (resolved through the archive) the events, the largest
CTDIvol (mGy) and the summed DLP (mGy.cm), and the total DLP; for an X-ray dose report the
accumulated quantities as the report gives them.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.gui.report_model import LoadedReport, ReportTreeModel
from viewer.reports.measurements import Region

EXPAND_DEPTH = 2  # levels opened at once: a 5,000-item report stays quick to show
PANEL_WIDTH = 420  # pixels: room for "relationship, value type, concept = value" lines


def _number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


class ReportPanel(QWidget):
    """Shows one LoadedReport at a time (`show_report`)."""

    target_chosen = Signal(object, object)  # Region, LoadedReport

    def __init__(self) -> None:
        super().__init__()
        self.report: LoadedReport | None = None
        self.model: ReportTreeModel | None = None
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.tree = QTreeView()
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)  # no per-row size query: long reports scroll fast
        self.tree.clicked.connect(self._clicked)
        self.dose = QTableWidget(0, 4)
        self.dose.setHorizontalHeaderLabels(
            [self.tr("Series"), self.tr("Events"), self.tr("CTDIvol (mGy)"),
             self.tr("DLP (mGy·cm)")])
        header = self.dose.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.dose.verticalHeader().hide()
        self.dose.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.dose.hide()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.dose)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.setMinimumWidth(PANEL_WIDTH)
        box = QVBoxLayout(self)
        box.setContentsMargins(2, 2, 2, 2)
        box.addWidget(self.title)
        box.addWidget(split, 1)

    def show_problem(self, text: str) -> None:
        """A report that could not be read: the one-line reason instead of a tree."""
        self.report, self.model = None, None
        self.tree.setModel(None)
        self.dose.hide()
        self.title.setText(text)

    def show_report(self, report: LoadedReport) -> None:
        self.report = report
        self.model = ReportTreeModel(report)
        self.tree.setModel(self.model)
        self.tree.expandToDepth(EXPAND_DEPTH - 1)
        tree = report.tree
        facts = [f for f in (tree.completion_flag, tree.verification_flag) if f]
        title = tree.title or self.tr("Structured report")
        self.title.setText(f"<b>{title}</b> {' · '.join(facts)}".strip())
        if tree.warnings:
            self.title.setToolTip("\n".join(tree.warnings[:20]))
        self._fill_dose(report)

    def _fill_dose(self, report: LoadedReport) -> None:
        dose = report.dose
        table = self.dose
        table.setRowCount(0)
        if dose.kind == "CT":
            table.setColumnCount(4)
            table.setHorizontalHeaderLabels(
                [self.tr("Series"), self.tr("Events"), self.tr("CTDIvol (mGy)"),
                 self.tr("DLP (mGy·cm)")])
            rows: list[tuple[str, ...]] = [(report.series_names.get(s.series_uid) or s.series_uid
                     or self.tr("(no series)"), str(s.events), _number(s.ctdivol_mgy),
                     _number(s.dlp_mgy_cm)) for s in dose.series]
            rows.append((self.tr("Total"), str(len(dose.events)), "",
                         _number(dose.total_dlp_mgy_cm)))
        elif dose.kind:
            table.setColumnCount(3)
            table.setHorizontalHeaderLabels([self.tr("Quantity"), self.tr("Value"),
                                             self.tr("Unit")])
            rows = [(q.name, "" if q.value is None else f"{q.value:g}", q.unit)
                    for q in dose.totals]
        else:
            table.hide()
            return
        table.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, text in enumerate(values):
                cell = QTableWidgetItem(text)
                if c:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, c, cell)
        table.show()

    def dose_rows(self) -> list[list[str]]:
        """The dose table as text, row by row (what the user reads)."""
        out = []
        for r in range(self.dose.rowCount()):
            cells = (self.dose.item(r, c) for c in range(self.dose.columnCount()))
            out.append([cell.text() if cell is not None else "" for cell in cells])
        return out

    def select(self, position: str) -> None:
        """Select and show the item at `position` (opening its ancestors)."""
        if self.model is None:
            return
        index = self.model.index_of(position)
        if index.isValid():
            self.tree.setCurrentIndex(index)
            self.tree.scrollTo(index)

    def _clicked(self, index: QModelIndex) -> None:
        if self.model is None or self.report is None:
            return
        item = self.model.item(index)
        if item is None:
            return
        if item.reference:
            target = self.report.tree.resolve(item)
            if target is not None:
                self.select(target.position)
            return
        region: Region | None = self.report.target_of(item)
        if region is not None:
            self.target_chosen.emit(region, self.report)
