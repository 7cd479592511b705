"""The tag browser (viewer.gui.tags), offscreen, driven with real key and mouse events."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pydicom.dataelem import DataElement  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402
from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QFontDatabase, QInputMethodEvent, QRawFont  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.dicom.makers import image_dataset, save  # noqa: E402
from viewer.gui.tags import TagBrowser, TagTreeModel  # noqa: E402

SCREENS = Path("/tmp/screens")
CHINESE_NAME = "Wang^XiaoDong=王^小东"


@pytest.fixture(scope="module")
def chinese_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ds = image_dataset(np.zeros((256, 256), np.uint16), Modality="CT", PatientID="ZH0001")
    ds.SpecificCharacterSet = "GB18030"
    ds[0x00100010] = DataElement(0x00100010, "PN", CHINESE_NAME.encode("gb18030"))
    ds[0x00081030] = DataElement(0x00081030, "LO", "胸部 CT 平扫".encode("gb18030"))
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = "1.0"
    code = Dataset()
    code.CodeValue = "T-28000"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = "Lung"
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ref.ReferencedSOPInstanceUID = "1.2.3.4.5"
    ref.ConceptNameCodeSequence = Sequence([code])
    ds.ReferencedImageSequence = Sequence([ref, Dataset()])
    block = ds.private_block(0x0029, "ACME IMAGING 1.0", create=True)
    block.add_new(0x01, "LO", "acme setting")
    block.add_new(0x02, "OB", bytes(range(256)))
    return save(ds, tmp_path_factory.mktemp("tags") / "zh.dcm")


def row_of(model: TagTreeModel, tag: str, parent: QModelIndex | None = None) -> QModelIndex:
    parent = QModelIndex() if parent is None else parent
    for row in range(model.rowCount(parent)):
        index = model.index(row, TagTreeModel.TAG, parent)
        if model.data(index) == tag:
            return index
    raise AssertionError(f"{tag} is not a row")


def cell(model: TagTreeModel, index: QModelIndex, column: int) -> str:
    return str(model.data(model.index(index.row(), column, index.parent())))


def all_rows(model: TagTreeModel, parent: QModelIndex | None = None) -> int:
    parent = QModelIndex() if parent is None else parent
    rows = range(model.rowCount(parent))
    return sum(1 + all_rows(model, model.index(r, 0, parent)) for r in rows)


def load(qtbot, browser: TagBrowser, path: Path) -> bool:  # type: ignore[no-untyped-def]
    """show_file, waiting for the tree in case the read went on in the background (a busy
    machine); the `shown` signal says whether the file could be read."""
    with qtbot.waitSignal(browser.shown, timeout=30000) as blocker:
        browser.show_file(path)
    return bool(blocker.args[0])


@pytest.fixture
def browser(qtbot, chinese_file: Path) -> TagBrowser:  # type: ignore[no-untyped-def]
    widget = TagBrowser()
    qtbot.addWidget(widget)
    widget.show()
    assert load(qtbot, widget, chinese_file)
    return widget


@pytest.fixture(scope="module")
def enhanced_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A header like an enhanced multi-frame CT's: 1,000 per-frame functional groups."""
    ds = image_dataset(np.zeros((8, 8), np.uint16), Modality="CT")
    groups = []
    for frame in range(1000):
        position, measures, content = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [0.0, 0.0, float(frame)]
        measures.PixelSpacing = [0.5, 0.5]
        measures.SliceThickness = "1.0"
        content.FrameAcquisitionNumber = frame
        content.DimensionIndexValues = [1, frame + 1]
        group = Dataset()
        group.PlanePositionSequence = Sequence([position])
        group.PixelMeasuresSequence = Sequence([measures])
        group.FrameContentSequence = Sequence([content])
        groups.append(group)
    ds.PerFrameFunctionalGroupsSequence = Sequence(groups)
    return save(ds, tmp_path_factory.mktemp("enhanced") / "enhanced.dcm")


def test_columns_and_decoded_chinese_name(browser: TagBrowser) -> None:
    model = browser.model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(4)]
    assert headers == ["Tag", "Name", "VR", "Value"]
    name = row_of(model, "(0010,0010)")
    assert cell(model, name, TagTreeModel.NAME) == "Patient's Name"
    assert cell(model, name, TagTreeModel.VR) == "PN"
    assert cell(model, name, TagTreeModel.VALUE) == CHINESE_NAME
    assert cell(model, row_of(model, "(0008,1030)"), TagTreeModel.VALUE) == "胸部 CT 平扫"
    assert cell(model, row_of(model, "(7FE0,0010)"), TagTreeModel.VALUE) == "(131,072 bytes)"
    assert row_of(model, "(0002,0010)").row() < row_of(model, "(0008,0005)").row()


def test_sequence_items_expand_with_the_mouse(qtbot, browser: TagBrowser) -> None:  # type: ignore[no-untyped-def]
    model, tree = browser.model, browser.tree
    seq = row_of(model, "(0008,1140)")
    assert model.rowCount(seq) == 2
    assert [model.data(model.index(r, 0, seq)) for r in range(2)] == ["Item 1", "Item 2"]
    tree.scrollTo(seq)
    rect = tree.visualRect(seq)
    assert not tree.isExpanded(seq)
    arrow = QPoint(rect.left() - tree.indentation() // 2, rect.center().y())  # the branch mark
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=arrow)
    qtbot.waitUntil(lambda: tree.isExpanded(seq))
    item = model.index(0, 0, seq)
    assert tree.visualRect(item).isValid()
    tree.setFocus()
    tree.setCurrentIndex(item)
    qtbot.keyClick(tree, Qt.Key.Key_Right)  # the keyboard opens an item too
    qtbot.waitUntil(lambda: tree.isExpanded(item))
    inner = row_of(model, "(0040,A043)", item)
    code = row_of(model, "(0008,0104)", model.index(0, 0, inner))
    assert cell(model, code, TagTreeModel.VALUE) == "Lung"


def test_search_filters_as_you_type_and_expands(qtbot, browser: TagBrowser) -> None:  # type: ignore[no-untyped-def]
    model, tree = browser.model, browser.tree
    everything = all_rows(model)
    qtbot.mouseClick(browser.search, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(browser.search, "LUNG")
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    seq = row_of(model, "(0008,1140)")
    assert model.rowCount(seq) == 1  # only the item holding the match
    item = model.index(0, 0, seq)
    inner = row_of(model, "(0040,A043)", item)
    code_item = model.index(0, 0, inner)
    assert model.rowCount(code_item) == 1
    match = model.index(0, 0, code_item)
    assert cell(model, match, TagTreeModel.VALUE) == "Lung"
    assert all(tree.isExpanded(i) for i in (seq, item, inner, code_item))
    assert tree.visualRect(match).isValid()
    assert "5 of" in browser.status.text()

    qtbot.keyClick(browser.search, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    # Chinese text arrives from an input method as a commit string (QTest types ASCII only).
    typed = QInputMethodEvent()
    typed.setCommitString("王")
    QApplication.sendEvent(browser.search, typed)
    assert browser.search.text() == "王"
    qtbot.waitUntil(
        lambda: model.rowCount() == 1 and model.data(model.index(0, 0)) == "(0010,0010)"
    )
    qtbot.keyClick(browser.search, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(browser.search, Qt.Key.Key_Backspace)
    qtbot.waitUntil(lambda: all_rows(model) == everything)


def test_unreadable_file_shows_a_message(qtbot, browser: TagBrowser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not DICOM")
    assert not load(qtbot, browser, junk)
    assert browser.message.isVisible()
    text = browser.message.text()
    assert text.startswith("Cannot read this file:") and "not a DICOM file" in text
    assert "Traceback" not in text
    assert browser.model.rowCount() == 0
    assert not load(qtbot, browser, tmp_path / "missing.dcm")
    assert "No such file" in browser.message.text()


def test_big_header_is_read_in_the_background(  # type: ignore[no-untyped-def]
    qtbot, browser: TagBrowser, enhanced_file: Path, chinese_file: Path
) -> None:
    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start(10)
    with qtbot.waitSignal(browser.shown, timeout=60000) as blocker:
        assert browser.show_file(enhanced_file) is None  # not done in QUICK_READ_S
        assert browser.status.text() == "Reading the file..."
        assert browser.model.rowCount() == 0
    heartbeat.stop()
    assert blocker.args == [True]
    assert len(beats) >= 5, "the event loop did not run while the header was read"
    assert max(b - a for a, b in pairwise(beats)) < 0.5
    groups = row_of(browser.model, "(5200,9230)")
    assert browser.model.rowCount(groups) == 1000
    assert browser.status.text() == f"{all_rows(browser.model)} rows"

    # A file asked for later wins over a big one still being read.
    with qtbot.waitSignal(browser.shown, timeout=60000):
        assert browser.show_file(enhanced_file) is None
        browser.show_file(chinese_file)
    qtbot.wait(200)
    assert browser.path == chinese_file
    assert browser.model.rowCount() < 100
    assert cell(browser.model, row_of(browser.model, "(0010,0010)"), TagTreeModel.VALUE) == (
        CHINESE_NAME
    )


def test_screenshot(qtbot, browser: TagBrowser) -> None:  # type: ignore[no-untyped-def]
    browser.resize(1000, 720)
    seq = row_of(browser.model, "(0008,1140)")
    browser.tree.expandRecursively(seq)
    browser.tree.scrollTo(row_of(browser.model, "(0010,0010)"))
    browser.tree.setCurrentIndex(row_of(browser.model, "(0010,0010)"))
    qtbot.wait(50)
    SCREENS.mkdir(parents=True, exist_ok=True)
    image = browser.grab().toImage()
    assert image.save(str(SCREENS / "tags.png"))
    assert image.width() >= 1000
    # The font Qt falls back to for Simplified Chinese has the glyphs: names show, not boxes.
    chinese = QRawFont.fromFont(browser.tree.font(), QFontDatabase.WritingSystem.SimplifiedChinese)
    assert chinese.isValid() and all(chinese.supportsCharacter(ord(c)) for c in "王小东胸部平扫")
