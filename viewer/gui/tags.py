"""The tag browser: every attribute of one file as a tree (Tag, Name, VR, Value), with search.

The tree and the search are `viewer.dicom.tags`; this module only shows them. A header read takes
about a millisecond (pixel data is never read) and is waited for; the rare big header (an
enhanced multi-frame file: ~1 s per 1,000 frames) finishes on a reading thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.dicom.files import DicomFileError
from viewer.dicom.tags import TagNode, count_nodes, filter_tree, tag_tree

LOGGER = logging.getLogger(__name__)

TAG_COLUMN_WIDTH = 150
QUICK_READ_S = 0.05  # a read that takes longer goes on in the background; the GUI moves on
SEARCH_DELAY_MS = 80  # typing pauses shorter than this are one search: big trees stay fluid
ModelIndex = QModelIndex | QPersistentModelIndex


class _Entry:
    """A node with its place in the tree, which Qt's indexes point at (internalPointer)."""

    __slots__ = ("_children", "_nodes", "node", "parent", "row")

    def __init__(
        self, node: TagNode | None, parent: _Entry | None, row: int, nodes: Sequence[TagNode]
    ) -> None:
        self.node = node
        self.parent = parent
        self.row = row
        self._nodes = nodes
        self._children: list[_Entry] | None = None

    def children(self) -> list[_Entry]:
        if self._children is None:  # built when Qt first asks: a big tree costs nothing unopened
            self._children = [_Entry(n, self, i, n.children) for i, n in enumerate(self._nodes)]
        return self._children


class TagTreeModel(QAbstractItemModel):
    """Tag nodes as a Qt tree model with the columns Tag, Name, VR and Value."""

    TAG, NAME, VR, VALUE = range(4)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._roots: list[TagNode] = []
        self._top = _Entry(None, None, 0, ())
        self._fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    def set_nodes(self, nodes: list[TagNode]) -> None:
        self.beginResetModel()
        self._roots = list(nodes)
        self._top = _Entry(None, None, 0, self._roots)
        self.endResetModel()

    def nodes(self) -> list[TagNode]:
        return list(self._roots)

    def _entry(self, index: ModelIndex) -> _Entry:
        if index.isValid():
            entry = index.internalPointer()
            assert isinstance(entry, _Entry)
            return entry
        return self._top

    def index(self, row: int, column: int, parent: ModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        kids = self._entry(parent).children()
        if 0 <= row < len(kids) and 0 <= column < 4:
            return self.createIndex(row, column, kids[row])
        return QModelIndex()

    def parent(self, index: ModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        up = self._entry(index).parent
        if up is None or up is self._top:
            return QModelIndex()
        return self.createIndex(up.row, 0, up)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._entry(parent).children())

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 4

    def hasChildren(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008, N802
        entry = self._entry(parent)
        if entry.node is None:
            return bool(self._roots)
        return parent.column() == 0 and bool(entry.node.children)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        titles = (self.tr("Tag"), self.tr("Name"), self.tr("VR"), self.tr("Value"))
        return titles[section] if 0 <= section < 4 else None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._entry(index).node
        assert node is not None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(node, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (self.NAME, self.VALUE):
            shown = self._text(node, column)
            return shown or None
        if role == Qt.ItemDataRole.FontRole and column in (self.TAG, self.VR) and node.tag:
            return self._fixed
        return None

    def _text(self, node: TagNode, column: int) -> str:
        if node.item_number:  # a sequence item: "Item 3" in the tree column, nothing else
            if column == self.TAG:
                return self.tr("Item {number}").format(number=node.item_number)
            return ""
        if column == self.TAG:
            return node.tag
        if column == self.NAME:
            return node.name
        if column == self.VR:
            return node.vr
        return node.value_text


class TagBrowser(QDialog):
    """The attributes of one file, searchable. `show_file(path)` loads a file.

    `shown(bool)` is emitted once a file's tree (True) or the reason it cannot be read (False)
    is on screen.
    """

    shown = Signal(bool)
    _read_done = Signal(int, object)  # generation, list[TagNode] or the reason (str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Tag Browser"))
        self.path: Path | None = None
        self._all: list[TagNode] = []
        self._total = 0
        self._generation = 0

        self.search = QLineEdit(self)
        self.search.setPlaceholderText(self.tr("Search tag, keyword, name or value"))
        self.search.setClearButtonEnabled(True)
        self.model = TagTreeModel(self)
        self.tree = QTreeView(self)
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)  # lets Qt lay out thousands of rows fast
        self.tree.setAlternatingRowColors(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in ((TagTreeModel.TAG, TAG_COLUMN_WIDTH), (TagTreeModel.NAME, 260),
                              (TagTreeModel.VR, 44)):
            header.resizeSection(column, width)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.status = QLabel(self)

        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.message)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        self.resize(900, 700)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(self._timer.start)
        # Fitted once the expanding is over: measuring inside expandRecursively() stops it.
        self._fit = QTimer(self)
        self._fit.setSingleShot(True)
        self._fit.setInterval(0)
        self._fit.timeout.connect(self._fit_tag_column)
        self.tree.expanded.connect(self._fit.start)
        self._read_done.connect(self._on_read_done)  # queued: emitted by the reading thread

    def show_file(self, path: str | Path) -> bool | None:
        """Show the attributes of the file at `path`.

        Returns True when shown, False when the file cannot be read (a readable message is
        shown instead), or None when the header is big (an enhanced multi-frame file takes
        about a second) and is still being read in the background: `shown` follows.
        """
        self.path = Path(path)
        self.setWindowTitle(self.tr("Tag Browser") + f" — {self.path.name}")
        self._generation += 1
        generation = self._generation
        future = _reader().submit(_read, self.path)
        try:
            result = future.result(timeout=QUICK_READ_S)
        except TimeoutError:
            self._show_reading()
            future.add_done_callback(lambda done: self._deliver(generation, done))
            return None
        return self._show_result(result)

    def apply_filter(self) -> None:
        """Show the attributes matching the search text with their ancestors, expanded."""
        self._timer.stop()
        needle = self.search.text()
        shown = filter_tree(self._all, needle)
        self.model.set_nodes(shown)
        if needle.strip():
            self.tree.expandAll()
            text = self.tr("{shown} of {total} rows match").format(
                shown=count_nodes(shown), total=self._total
            )
        else:
            text = self.tr("{total} rows").format(total=self._total)
        self._fit_tag_column()
        self.status.setText(text)

    def _deliver(self, generation: int, done: Future[list[TagNode] | str]) -> None:
        try:
            self._read_done.emit(generation, done.result())
        except RuntimeError:  # the browser was deleted while the file was read
            LOGGER.debug("tag browser closed before its file was read")

    def _on_read_done(self, generation: int, result: list[TagNode] | str) -> None:
        if generation == self._generation:  # else a later show_file has replaced this one
            self._show_result(result)

    def _show_reading(self) -> None:
        self._all, self._total = [], 0
        self.model.set_nodes([])
        self.message.hide()
        self.status.setText(self.tr("Reading the file..."))

    def _show_result(self, result: list[TagNode] | str) -> bool:
        if isinstance(result, str):
            self._all, self._total = [], 0
            self.model.set_nodes([])
            self.message.setText(
                self.tr("Cannot read this file: {reason}").format(reason=result)
            )
            self.message.show()
            self.status.setText("")
            self.shown.emit(False)
            return False
        self.message.hide()
        self._all, self._total = result, count_nodes(result)
        self.apply_filter()
        self.shown.emit(True)
        return True

    def _fit_tag_column(self) -> None:
        # Nested items indent the tag column; Qt measures at most ~1,000 rows, so this is cheap.
        wanted = max(TAG_COLUMN_WIDTH, self.tree.sizeHintForColumn(TagTreeModel.TAG) + 8)
        self.tree.header().resizeSection(TagTreeModel.TAG, wanted)


_READER: ThreadPoolExecutor | None = None


def _reader() -> ThreadPoolExecutor:
    global _READER  # noqa: PLW0603 - one reading thread for every browser, made when needed
    if _READER is None:
        _READER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tag-browser")
    return _READER


def _read(path: Path) -> list[TagNode] | str:
    """The tag tree, or the reason the file cannot be read (runs on the reading thread)."""
    try:
        return tag_tree(path)
    except DicomFileError as exc:
        return exc.reason
    except Exception as exc:  # a value pydicom chokes on: a message, never a traceback
        LOGGER.debug("tag tree of %s failed", path, exc_info=True)
        return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""
