"""The print dialog (issue 7 items 2 and 3) against DCMTK dcmprscp, offscreen, with real mouse
and key events: the films it prints hold what compose_films makes of the viewports' images with
their window/level and zoom/pan; the whole series prints on several films; a refused value is
named in the dialog; the preview follows the film layout."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QAction, QKeySequence, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QComboBox, QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from tests.net.peers import LOOPBACK  # noqa: E402
from tests.printing.dcmprscp import Dcmprscp, run_dcmprscp, run_scripted_printer  # noqa: E402
from viewer.config import Node, Settings  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.dicom.stack import build_stacks  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.print_dialog import PrintDialog, PrintOutcome  # noqa: E402
from viewer.printing.compose import (  # noqa: E402
    Crop,
    FilmSpec,
    ImageSource,
    compose_films,
)
from viewer.printing.film import Layout  # noqa: E402

pytestmark = pytest.mark.timeout(300)

SCREENS = Path(os.environ.get("VIEWER_SCREENSHOTS", "/tmp/screens"))
WAIT_MS = 60_000
SIZE = 64  # rows and columns of the test images


def shot(widget: QWidget, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    QApplication.processEvents()
    assert widget.grab().save(str(SCREENS / f"{name}.png"), "PNG")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One study, four series: 6 slices (the active viewport's), then 2, 2 and 2."""
    root = tmp_path_factory.mktemp("print-study")
    first = write_ct_series(root / "s1", 6, SIZE, SIZE, series_description="Axial A")
    study_uid = str(dcmread(first[0], stop_before_pixels=True).StudyInstanceUID)
    files = list(first)
    for number in (2, 3, 4):
        files += write_ct_series(root / f"s{number}", 2, SIZE, SIZE, study_uid=study_uid,
                                 series_number=number, series_description=f"Axial {number}",
                                 seed=number)
    return files


@contextmanager
def window(qtbot: QtBot, study: list[Path], nodes: tuple[Node, ...]) -> Iterator[MainWindow]:
    """A 2x2 reading area on the study, with `nodes` configured."""
    stacks, errors = build_stacks(study)
    assert not errors and [len(s.frames) for s in stacks] == [6, 2, 2, 2]
    pool = DecodePool(1, cache=FrameCache(64 << 20))
    try:
        main = MainWindow(stacks, (2, 2), FrameBridge(pool), settings=Settings(nodes=nodes))
        qtbot.addWidget(main)
        main.resize(1000, 760)
        main.show()
        qtbot.waitUntil(main.all_loaded, timeout=20_000)
        yield main
        main.tasks.shutdown()
    finally:
        pool.close()


@contextmanager
def printer_and_window(qtbot: QtBot, study: list[Path], folder: Path,
                       **printer_settings: str) -> Iterator[tuple[Dcmprscp, MainWindow]]:
    """dcmprscp configured as the node PRINTER, and a 2x2 reading area on the study."""
    with run_dcmprscp(folder, **printer_settings) as printer:
        node = Node("PRINTER", printer.ae_title, LOOPBACK, printer.port)
        with window(qtbot, study, (node,)) as main:
            yield printer, main


def open_dialog(qtbot: QtBot, main: MainWindow) -> PrintDialog:
    """Ctrl+P, as the reader would press it; the dialog's first preview is composed."""
    (action,) = [a for a in main.reading_tools.actions()
                 if a.shortcut() == QKeySequence("Ctrl+P")]
    assert isinstance(action, QAction) and action.isVisible()
    main.activateWindow()
    main.viewports[0].setFocus()
    qtbot.keyClick(main.viewports[0], Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    dialog = main.print_dialog
    assert isinstance(dialog, PrintDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.preview_film is not None, timeout=WAIT_MS)
    return dialog


def choose(qtbot: QtBot, combo: QComboBox, data: str) -> None:
    """Pick the item holding `data` with the arrow keys."""
    target = combo.findData(data)
    assert target >= 0, data
    combo.setFocus()
    while combo.currentIndex() != target:
        key = Qt.Key.Key_Down if combo.currentIndex() < target else Qt.Key.Key_Up
        qtbot.keyClick(combo, key)


def wait_preview(qtbot: QtBot, dialog: PrintDialog, layout: Layout) -> None:
    """Until the preview shows the film the dialog's choices make, of `layout`."""
    assert dialog.film_layout() == layout
    qtbot.waitUntil(lambda: dialog.preview_film is not None
                    and dialog.preview_film.spec == dialog.film_spec(), timeout=WAIT_MS)


def print_now(qtbot: QtBot, dialog: PrintDialog) -> PrintOutcome:
    with qtbot.waitSignal(dialog.print_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.print_button, Qt.MouseButton.LeftButton)
    outcome = finished.args[0]
    assert isinstance(outcome, PrintOutcome)
    return outcome


def ctrl_wheel(widget: QWidget, notches: int) -> None:
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0),
                        QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def drag(qtbot: QtBot, widget: QWidget, button: Qt.MouseButton, by: QPoint) -> None:
    start = widget.rect().center()
    qtbot.mousePress(widget, button, pos=start)
    qtbot.mouseMove(widget, start + by)
    qtbot.mouseRelease(widget, button, pos=start + by)


def test_prints_the_viewports_as_shown(qtbot: QtBot, study: list[Path], tmp_path: Path) -> None:
    with printer_and_window(qtbot, study, tmp_path / "printer") as (printer, main):
        v = main.viewports
        v[0].setFocus()
        qtbot.keyClick(v[0], Qt.Key.Key_4)  # lung preset
        drag(qtbot, v[1].view.viewport(), Qt.MouseButton.RightButton, QPoint(60, -30))
        ctrl_wheel(v[2].view.viewport(), 4)  # zoom in about the centre ...
        drag(qtbot, v[2].view.viewport(), Qt.MouseButton.MiddleButton, QPoint(30, 20))  # pan
        assert v[0].state.window == (-600, 1500) and v[1].state.window is not None
        r = v[2].view_rect()
        left, right, top, bottom = r.left(), r.right(), r.top(), r.bottom()
        shown = Crop(max(left, 0), max(top, 0), min(right, SIZE) - max(left, 0),
                     min(bottom, SIZE) - max(top, 0))
        assert shown.width < SIZE - 1 and shown.height < SIZE - 1

        dialog = open_dialog(qtbot, main)
        assert dialog.film_layout() == Layout(2, 2)  # the reading area's layout
        items = dialog.items()
        assert [i.source.state for i in items] == [x.state for x in v]
        assert [(str(i.source.path), i.source.frame) for i in items] == [x.current_key for x in v]
        assert items[0].source.crop is None and items[1].source.crop is None
        crop = items[2].source.crop
        assert crop is not None
        assert np.allclose([crop.left, crop.top, crop.width, crop.height],
                           [shown.left, shown.top, shown.width, shown.height], atol=1e-6)
        shot(dialog, "print-dialog")

        outcome = print_now(qtbot, dialog)
        shot(dialog, "print-result")
        films = printer.films()
        spec = dialog.film_spec()
    assert outcome.error == "" and outcome.result is not None
    assert (outcome.result.films_printed, outcome.result.boxes) == (1, 4)
    assert "Printed 1 of 1 films (4 images)" in dialog.status.text()
    assert "NORMAL" in dialog.status.text()
    (film,) = films
    assert (film.display_format, film.film_size, film.orientation) == (
        "STANDARD\\2,2", "14INX17IN", "PORTRAIT")
    expected = compose_films([ImageSource(x.current_key[0], x.current_key[1], x.state,  # type: ignore[index]
                                          crop if n == 2 else None)
                              for n, x in enumerate(v)], spec)
    for box in expected.films[0].boxes:
        assert box.pixels is not None and box.pixels.std() > 1
        np.testing.assert_array_equal(film.boxes[box.position].pixel_array, box.pixels)
    default = compose_films([ImageSource(study[0])], spec).films[0].boxes[0].pixels
    lung = expected.films[0].boxes[0].pixels
    assert lung is not None and default is not None
    assert not np.array_equal(lung, default)  # the lung window printed, not the file's


def test_rotated_viewport_prints_turned(qtbot: QtBot, study: list[Path], tmp_path: Path) -> None:
    with printer_and_window(qtbot, study, tmp_path / "printer") as (printer, main):
        viewport = main.viewports[3]
        viewport.setFocus()
        (rotate,) = [a for a in main.reading_tools.actions() if a.text() == "Rotate 90°"]
        qtbot.mouseClick(main.reading_tools.widgetForAction(rotate), Qt.MouseButton.LeftButton)
        assert viewport.quarter_turns == 1
        dialog = open_dialog(qtbot, main)
        choose(qtbot, dialog.layout_choice, "1x1")
        choose(qtbot, dialog.orientation, "LANDSCAPE")
        wait_preview(qtbot, dialog, Layout(1, 1))
        outcome = print_now(qtbot, dialog)
        films = printer.films()
        spec = dialog.film_spec()
    assert outcome.result is not None and outcome.result.films_printed == 4
    columns, rows = spec.box_pixels()
    assert columns > rows  # a landscape box: the image fills it across once turned
    upright = compose_films([ImageSource(viewport.current_key[0], viewport.current_key[1])],  # type: ignore[index]
                            FilmSpec(Layout(1, 1), box_size=(rows, columns)))
    picture = upright.films[0].boxes[0].pixels
    assert picture is not None
    # a quarter turn clockwise: the first column of the upright box is the printed first row
    np.testing.assert_array_equal(films[3].boxes[1].pixel_array, np.rot90(picture, -1))
    np.testing.assert_array_equal(films[3].boxes[1].pixel_array[0], picture[::-1, 0])


def test_whole_series_prints_two_films(qtbot: QtBot, study: list[Path], tmp_path: Path) -> None:
    with printer_and_window(qtbot, study, tmp_path / "printer") as (printer, main):
        active = main.viewports[0]
        active.setFocus()
        qtbot.keyClick(active, Qt.Key.Key_2)  # a preset, printed on every film of the series
        ctrl_wheel(active.view.viewport(), 3)  # zoom is not applied to the whole series
        dialog = open_dialog(qtbot, main)
        qtbot.mouseClick(dialog.series_choice, Qt.MouseButton.LeftButton)
        assert dialog.series_choice.isChecked() and len(dialog.items()) == 6
        choose(qtbot, dialog.layout_choice, "2x2")
        qtbot.waitUntil(lambda: "Film 1 of 2, 6 images" in dialog.preview_caption.text(),
                        timeout=WAIT_MS)
        shot(dialog, "print-series")
        outcome = print_now(qtbot, dialog)
        films = printer.films()
        spec = dialog.film_spec()
    assert outcome.result is not None
    assert (outcome.result.films, outcome.result.films_printed, outcome.result.boxes) == (2, 2, 6)
    assert [sorted(f.boxes) for f in films] == [[1, 2, 3, 4], [1, 2]]
    expected = compose_films([ImageSource(p, f, active.state) for p, f in active.stack.frames],  # type: ignore[union-attr]
                             spec)
    for number, film in enumerate(films):
        for position, stored in film.boxes.items():
            pixels = expected.films[number].boxes[position - 1].pixels
            np.testing.assert_array_equal(stored.pixel_array, pixels)


def test_refused_film_size_is_named(qtbot: QtBot, study: list[Path], tmp_path: Path) -> None:
    with printer_and_window(qtbot, study, tmp_path / "printer",
                            FilmSizeID="8INX10IN\\11INX14IN") as (printer, main):
        dialog = open_dialog(qtbot, main)
        assert dialog.film_size.currentData() == "14INX17IN"
        outcome = print_now(qtbot, dialog)
        shot(dialog, "print-refused")
        assert printer.films() == []
        text = dialog.status.text()
        assert "printer refused FilmSizeID 14INX17IN" in outcome.error
        assert "Not printed:" in text and "FilmSizeID 14INX17IN" in text
        assert "Traceback" not in text and text.count("Not printed") == 1
        # the reader picks a size the printer has: it prints
        choose(qtbot, dialog.film_size, "8INX10IN")
        outcome = print_now(qtbot, dialog)
        assert outcome.error == "" and outcome.result is not None
        assert [f.film_size for f in printer.films()] == ["8INX10IN"]


def test_preview_follows_the_layout(qtbot: QtBot, study: list[Path], tmp_path: Path) -> None:
    with printer_and_window(qtbot, study, tmp_path / "printer") as (_printer, main):
        dialog = open_dialog(qtbot, main)
        wait_preview(qtbot, dialog, Layout(2, 2))
        assert "Film 1 of 1, 4 images" in dialog.preview_caption.text()
        film = dialog.preview_film
        assert film is not None and film.images == 4
        two_by_two = dialog.preview.film_size
        choose(qtbot, dialog.layout_choice, "1x1")
        wait_preview(qtbot, dialog, Layout(1, 1))
        assert "Film 1 of 4, 4 images" in dialog.preview_caption.text()
        assert dialog.preview_film is not None and dialog.preview_film.images == 1
        assert dialog.preview.film_size != two_by_two
        # custom: typed in the spin boxes, the combo says "Custom"
        dialog.columns.setFocus()
        dialog.columns.selectAll()
        qtbot.keyClicks(dialog.columns, "3")
        wait_preview(qtbot, dialog, Layout(3, 1))
        assert dialog.layout_choice.currentData() == ""
        assert "Film 1 of 2, 4 images" in dialog.preview_caption.text()
        shot(dialog, "print-preview-custom")
        # landscape turns the film: wider than high
        choose(qtbot, dialog.layout_choice, "2x2")
        choose(qtbot, dialog.orientation, "LANDSCAPE")
        wait_preview(qtbot, dialog, Layout(2, 2))
        assert dialog.preview_film is not None
        assert dialog.preview_film.spec.orientation.value == "LANDSCAPE"
        size = dialog.preview.film_size
        assert size is not None and size.width() > size.height()
        shot(dialog, "print-preview-landscape")


def test_colour_print_shows_the_printers_warnings_and_events(
    qtbot: QtBot, study: list[Path]
) -> None:
    """dcmprscp has no Basic Color Print: a scripted pynetdicom printer takes it, answering
    every image box with warning 0xB604 and sending a Printer N-EVENT-REPORT."""
    with run_scripted_printer() as printer:
        node = Node("SCRIPTED", printer.ae_title, LOOPBACK, printer.port)
        with window(qtbot, study, (node,)) as main:
            dialog = open_dialog(qtbot, main)
            choose(qtbot, dialog.pixel_depth, "rgb")
            wait_preview(qtbot, dialog, Layout(2, 2))
            assert dialog.preview_film is not None
            assert dialog.preview_film.spec.depth.colour
            outcome = print_now(qtbot, dialog)
            shot(dialog, "print-warnings")
            text = dialog.status.text()
    assert outcome.result is not None and outcome.result.films_printed == 1
    assert printer.printed == 1 and len(printer.image_boxes) == 4
    assert all("BasicColorImageSequence" in ds for ds in printer.image_boxes.values())
    assert "Printer status: WARNING (FILM TRANSP NRDY)" in text
    assert text.count("warning 0xB604") == 4
    assert "Printer event: WARNING FILM TRANSP NRDY" in text


def test_no_printer_configured_says_how_to_add_one(qtbot: QtBot, study: list[Path]) -> None:
    with window(qtbot, study, ()) as main:
        dialog = open_dialog(qtbot, main)
        assert dialog.no_printer.isVisible()
        assert "dicom-viewer nodes add" in dialog.no_printer.text()
        assert not dialog.print_button.isEnabled()
        dialog.reject()
