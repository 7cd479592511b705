"""The print dialog (issue 7): films of what the reading area shows, previewed, printed on a
configured DICOM printer (Basic Grayscale / Color Print Management, viewer.printing.scu).

What prints is what the viewports show: each viewport's current image with its DisplayState
(window/level, invert), its zoom/pan as a Crop of the image and its rotation and flips; or every
frame of the active viewport's series with its DisplayState and no crop. Composing them is
viewer.printing.compose's (`compose_films`).

Composing (preview and print) and printing run as Tasks off the GUI thread; the preview shows
the first film, composed exactly as it will print.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from viewer.config import ConfigError, Settings, load_settings
from viewer.gui.reading import ReadingArea, qimage_of
from viewer.gui.tasks import Task, TaskRunner
from viewer.gui.viewport import Viewport
from viewer.jobs import CancelToken, ProgressCallback
from viewer.net.association import Local
from viewer.printing.compose import (
    ComposedFilm,
    Composition,
    Crop,
    FilmSpec,
    ImageSource,
    PixelDepth,
    PrintItem,
    compose_films,
    film_preview,
)
from viewer.printing.film import (
    FILM_SIZES,
    MAGNIFICATION_TYPES,
    MEDIUM_TYPES,
    Layout,
    Orientation,
)
from viewer.printing.scu import PrintError, PrintOptions, PrintResult, print_films

LOGGER = logging.getLogger(__name__)

FILM_LAYOUTS = ("1x1", "1x2", "2x2", "2x3", "3x3", "3x4", "4x4", "4x5")  # COLUMNSxROWS
DEFAULT_FILM_SIZE = "14INX17IN"
PREVIEW_DELAY_MS = 150  # settle after a change before composing the preview again
PREVIEW_SIZE = QSize(240, 280)  # at least; it grows with the dialog
EDGE_TOLERANCE = 0.5  # image pixels: a view this close to the image's edges shows it whole


# --- what to print (Qt-free once the viewports are read) ------------------------------------


def viewport_crop(viewport: Viewport) -> Crop | None:
    """The part of the image the viewport shows (its zoom and pan) in image pixels, clipped to
    the image; None when the whole image is in view (or nothing of it)."""
    picture = viewport.image.image
    if picture is None:
        return None
    rows, columns = picture.shape[:2]
    # view coordinates -> image pixels: the inverse of the image's aspect/rotation/flip transform
    inverse, invertible = viewport.image.transform().inverted()
    if not invertible:
        return None
    shown = inverse.mapRect(viewport.view_rect()).intersected(QRectF(0, 0, columns, rows))
    if shown.isEmpty():
        return None
    whole = (shown.left() <= EDGE_TOLERANCE and shown.top() <= EDGE_TOLERANCE
             and shown.right() >= columns - EDGE_TOLERANCE
             and shown.bottom() >= rows - EDGE_TOLERANCE)
    if whole:
        return None
    return Crop(shown.left(), shown.top(), shown.width(), shown.height())


def viewport_item(viewport: Viewport) -> PrintItem | None:
    """The viewport's current image as it is shown; None for an empty viewport."""
    key = viewport.current_key
    if key is None:
        return None
    path, frame = key
    source = ImageSource(path, frame, viewport.state, viewport_crop(viewport))
    return PrintItem(source, viewport.quarter_turns, viewport.flip_h, viewport.flip_v)


def visible_items(viewports: Sequence[Viewport]) -> list[PrintItem]:
    """The current image of each shown viewport, in layout order (row by row)."""
    items = []
    for viewport in viewports:
        item = viewport_item(viewport) if not viewport.isHidden() else None
        if item is not None:
            items.append(item)
    return items


def series_items(viewport: Viewport | None) -> list[PrintItem]:
    """Every frame of the viewport's series, with its DisplayState and orientation, uncropped."""
    if viewport is None or viewport.stack is None:
        return []
    return [PrintItem(ImageSource(path, frame, viewport.state), viewport.quarter_turns,
                      viewport.flip_h, viewport.flip_v)
            for path, frame in viewport.stack.frames]


@dataclass(frozen=True)
class PrintOutcome:
    """What a print from the dialog did: the printer's result (also what printed before a
    refusal), and the refusal or failure in one line ("" when none)."""

    result: PrintResult | None
    error: str = ""


def settings_or_default(settings: Settings | None) -> Settings:
    """The window's settings, else the config file's, else none (no printer configured)."""
    if settings is not None:
        return settings
    try:
        return load_settings()
    except ConfigError as exc:
        LOGGER.warning("print: %s", exc)
        return Settings()


# --- the dialog ------------------------------------------------------------------------------


class FilmPreview(QLabel):
    """A film picture scaled to the label, keeping the film's aspect ratio."""

    def __init__(self) -> None:
        super().__init__()
        self._picture: QPixmap | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(PREVIEW_SIZE)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("background: #2b2b2b; color: #dddddd;")

    def set_film(self, picture: np.ndarray | None, text: str = "") -> None:
        self._picture = None if picture is None else QPixmap.fromImage(qimage_of(picture))
        self.setText(text if picture is None else "")
        self._rescale()

    @property
    def film_size(self) -> QSize | None:
        """The film picture's size in pixels (before scaling), None when none is shown."""
        return None if self._picture is None else self._picture.size()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._picture is None:
            self.setPixmap(QPixmap())
            return
        room = self.contentsRect().size() - QSize(16, 16)
        self.setPixmap(self._picture.scaled(room, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation))


class PrintDialog(QDialog):
    """Choose a printer, what to print and the film; see the first film; print it.

    The viewports are read when the dialog opens (it is modal: they cannot change meanwhile).
    """

    preview_ready = Signal(int)  # films the current choice makes (after the preview is shown)
    print_finished = Signal(object)  # PrintOutcome, or None when cancelled

    def __init__(self, reading: ReadingArea, settings: Settings | None, tasks: TaskRunner,
                 parent: QWidget | None = None, key_items: list[PrintItem] | None = None
                 ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Print"))
        self.setModal(True)
        self.settings = settings_or_default(settings)
        self.tasks = tasks
        self.visible = visible_items(reading.viewports)
        self.series = series_items(reading.active)
        # The study's key images, each with the presentation state it is seen with
        # (viewer.gui.key_images; composed through the state: compose_presented).
        self.keys = key_items or []
        self.preview_film: ComposedFilm | None = None
        self.outcome: PrintOutcome | None = None
        self._preview_task: Task | None = None
        self._print_task: Task | None = None
        self._generation = 0
        self._preview_stale = False  # a preview was interrupted by a print
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self._compose_preview)

        settings_box = QWidget()
        form = QFormLayout(settings_box)
        self.printer = QComboBox()
        for node in self.settings.nodes:
            self.printer.addItem(f"{node.name} ({node.ae_title}@{node.host}:{node.port})",
                                 node.name)
        form.addRow(self.tr("Printer:"), self.printer)
        self.no_printer = QLabel(self.tr(
            "No printer is configured. Add one with:\n"
            "dicom-viewer nodes add NAME AE_TITLE HOST PORT"))
        self.no_printer.setWordWrap(True)
        self.no_printer.setVisible(not self.settings.nodes)
        form.addRow(self.no_printer)

        what = QGroupBox(self.tr("What to print"))
        what_layout = QVBoxLayout(what)
        self.visible_choice = QRadioButton(
            self.tr("The visible viewports ({n} images)").format(n=len(self.visible)))
        self.series_choice = QRadioButton(
            self.tr("The whole series of the active viewport ({n} images)")
            .format(n=len(self.series)))
        self.keys_choice = QRadioButton(
            self.tr("Key images only, with their presentation states ({n} images)")
            .format(n=len(self.keys)))
        self._what = QButtonGroup(self)
        for button in (self.visible_choice, self.series_choice, self.keys_choice):
            self._what.addButton(button)
            what_layout.addWidget(button)
        self.visible_choice.setEnabled(bool(self.visible))
        self.series_choice.setEnabled(bool(self.series))
        self.keys_choice.setEnabled(bool(self.keys))
        (self.visible_choice if self.visible else self.series_choice).setChecked(True)
        form.addRow(what)

        self.layout_choice = QComboBox()
        for text in FILM_LAYOUTS:
            layout = Layout.parse(text)
            self.layout_choice.addItem(f"{layout.columns} × {layout.rows}", text)
        self.layout_choice.addItem(self.tr("Custom"), "")
        self.columns = QSpinBox()
        self.rows = QSpinBox()
        for spin in (self.columns, self.rows):
            spin.setRange(1, 16)
        self.columns.setPrefix(self.tr("columns "))
        self.rows.setPrefix(self.tr("rows "))
        layout_row = QHBoxLayout()
        layout_row.addWidget(self.layout_choice)
        layout_row.addWidget(self.columns)
        layout_row.addWidget(self.rows)
        form.addRow(self.tr("Film layout:"), layout_row)

        self.film_size = QComboBox()
        for name in FILM_SIZES:
            self.film_size.addItem(name, name)
        self.film_size.setCurrentIndex(self.film_size.findData(DEFAULT_FILM_SIZE))
        form.addRow(self.tr("Film size:"), self.film_size)
        self.orientation = QComboBox()
        self.orientation.addItem(self.tr("Portrait"), Orientation.PORTRAIT.value)
        self.orientation.addItem(self.tr("Landscape"), Orientation.LANDSCAPE.value)
        form.addRow(self.tr("Orientation:"), self.orientation)
        self.pixel_depth = QComboBox()
        self.pixel_depth.addItem(self.tr("Grayscale, 8 bits"), PixelDepth.GRAY8.value)
        self.pixel_depth.addItem(self.tr("Grayscale, 12 bits"), PixelDepth.GRAY12.value)
        self.pixel_depth.addItem(self.tr("Colour"), PixelDepth.RGB.value)
        form.addRow(self.tr("Pixels:"), self.pixel_depth)
        self.copies = QSpinBox()
        self.copies.setRange(1, 99)
        form.addRow(self.tr("Copies:"), self.copies)
        self.medium = QComboBox()
        self.magnification = QComboBox()
        for combo, terms in ((self.medium, MEDIUM_TYPES),
                             (self.magnification, MAGNIFICATION_TYPES)):
            combo.addItem(self.tr("Printer's default"), "")
            for term in terms:  # DICOM defined terms, sent as they are
                combo.addItem(term, term)
        form.addRow(self.tr("Medium:"), self.medium)
        form.addRow(self.tr("Magnification:"), self.magnification)

        self.preview = FilmPreview()
        self.preview_caption = QLabel()
        self.preview_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        preview_column = QVBoxLayout()
        preview_column.addWidget(self.preview, 1)
        preview_column.addWidget(self.preview_caption)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.print_button = QPushButton(self.tr("Print"))
        self.print_button.setDefault(True)
        self.print_button.clicked.connect(self.start_print)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_print)
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for push in (self.print_button, self.cancel_button, self.close_button):
            buttons.addWidget(push)

        top = QHBoxLayout()
        top.addWidget(settings_box)
        top.addLayout(preview_column, 1)
        page = QVBoxLayout(self)
        page.addLayout(top, 1)
        page.addWidget(self.progress)
        page.addWidget(self.status)
        page.addLayout(buttons)
        self._settings_box = settings_box
        self.resize(840, 640)

        shape = reading.layout_shape
        self._set_layout(Layout(*shape) if self.visible else Layout(1, 1))
        self.layout_choice.currentIndexChanged.connect(self._layout_chosen)
        self.columns.valueChanged.connect(self._layout_typed)
        self.rows.valueChanged.connect(self._layout_typed)
        for combo in (self.film_size, self.orientation, self.pixel_depth):
            combo.currentIndexChanged.connect(self.schedule_preview)
        self._what.buttonToggled.connect(self._what_toggled)
        self._update_buttons()
        self.schedule_preview()

    # -- choices ----------------------------------------------------------------------------
    def items(self) -> list[PrintItem]:
        """What the current choice prints, in order."""
        if self.keys_choice.isChecked():
            return self.keys
        return self.visible if self.visible_choice.isChecked() else self.series

    def film_layout(self) -> Layout:
        return Layout(self.columns.value(), self.rows.value())

    def film_spec(self) -> FilmSpec:
        return FilmSpec(self.film_layout(), str(self.film_size.currentData()),
                        Orientation(str(self.orientation.currentData())),
                        PixelDepth(str(self.pixel_depth.currentData())))

    def options(self) -> PrintOptions:
        return PrintOptions(copies=self.copies.value(),
                            medium=str(self.medium.currentData()) or None,
                            magnification=str(self.magnification.currentData()) or None)

    def film_count(self) -> int:
        return math.ceil(len(self.items()) / self.film_layout().count)

    def _set_layout(self, layout: Layout) -> None:
        for spin, value in ((self.columns, layout.columns), (self.rows, layout.rows)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        index = self.layout_choice.findData(str(layout))
        self.layout_choice.blockSignals(True)
        self.layout_choice.setCurrentIndex(index if index >= 0 else self.layout_choice.count() - 1)
        self.layout_choice.blockSignals(False)

    def _what_toggled(self, _button: QRadioButton, checked: bool) -> None:
        if checked:
            self._update_buttons()
            self.schedule_preview()

    def _layout_chosen(self, index: int) -> None:
        text = str(self.layout_choice.itemData(index) or "")
        if text:  # "Custom" keeps the spin boxes as they are
            self._set_layout(Layout.parse(text))
            self.schedule_preview()

    def _layout_typed(self) -> None:
        self._set_layout(self.film_layout())
        self.schedule_preview()

    # -- preview ----------------------------------------------------------------------------
    def schedule_preview(self) -> None:
        """Compose the first film again once the choices have settled."""
        self._generation += 1
        self._preview_timer.start()

    def _compose_preview(self) -> None:
        if self._preview_task is not None:
            self._preview_task.cancel()
        items = self.items()
        if not items:
            self.preview_film = None
            self.preview.set_film(None, self.tr("Nothing to print"))
            self.preview_caption.setText("")
            self.preview_ready.emit(0)
            return
        spec = self.film_spec()
        first = items[:spec.layout.count]
        generation = self._generation
        self.preview.setToolTip(self.tr("Composing the preview…"))
        task = self.tasks.start(lambda progress, cancel: compose_films(first, spec, None, cancel),
                                "print preview", priority=1)
        task.succeeded.connect(lambda composition: self._show_preview(generation, composition))
        task.failed.connect(lambda error: self._preview_failed(generation, error))
        self._preview_task = task

    def _show_preview(self, generation: int, composition: Composition) -> None:
        if generation != self._generation:
            return  # the choices changed meanwhile: a newer preview is on its way
        self.preview_film = composition.films[0]
        films = self.film_count()
        self.preview.set_film(film_preview(self.preview_film))
        self.preview.setToolTip("")
        self.preview_caption.setText(
            self.tr("Film 1 of {films}, {images} images").format(films=films,
                                                                 images=len(self.items())))
        self.preview_ready.emit(films)

    def _preview_failed(self, generation: int, error: str) -> None:
        if generation == self._generation:
            self.preview_film = None
            self.preview.set_film(None, self.tr("No preview: {error}").format(error=error))
            self.preview_ready.emit(0)

    # -- printing ---------------------------------------------------------------------------
    def start_print(self) -> None:
        """Compose every film and print them, off the GUI thread."""
        node_name = self.printer.currentData()
        items = self.items()
        if not node_name or not items or self._print_task is not None:
            return
        try:
            node = self.settings.node(str(node_name))
            spec, options = self.film_spec(), self.options()
        except (ConfigError, ValueError) as exc:
            self._finish(PrintOutcome(None, str(exc)))
            return
        local = Local(self.settings.local, self.settings.network)
        composing, sending = self.tr("Composing"), self.tr("Sending to the printer")

        def job(progress: ProgressCallback, cancel: CancelToken) -> PrintOutcome:
            def phase(label: str, offset: int) -> ProgressCallback:
                return lambda done, total, _name: progress(offset + done, 2 * max(total, 1),
                                                           label)

            composition = compose_films(items, spec, phase(composing, 0), cancel)
            try:
                result = print_films(node, local, composition, options,
                                     phase(sending, len(items)), cancel)
            except PrintError as exc:
                return PrintOutcome(exc.result, str(exc))
            return PrintOutcome(result)

        # No preview composes while the print runs: the association's threads get the
        # interpreter (under load pynetdicom's reactor has been seen to take a response
        # meant for the SCU, cf. pynetdicom issue 875); it is composed again afterwards
        self._preview_stale = self._preview_timer.isActive() or (
            self._preview_task is not None and self._preview_task.running)
        self._preview_timer.stop()
        if self._preview_task is not None:
            self._preview_task.cancel()
        self.outcome = None
        self.status.setText(self.tr("Printing on {printer}…").format(printer=node.name))
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        task = self.tasks.start(job, "print")
        task.progress.connect(self._on_progress)
        task.succeeded.connect(self._finish)
        task.failed.connect(lambda error: self._finish(PrintOutcome(None, error)))
        task.cancelled.connect(self._cancelled)
        self._print_task = task
        self._update_buttons()

    def cancel_print(self) -> None:
        if self._print_task is not None:
            self._print_task.cancel()
            self.status.setText(self.tr("Cancelling…"))

    def _on_progress(self, done: int, total: int, label: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if label:
            self.status.setText(label)

    def _cancelled(self) -> None:
        self._print_task = None
        self.progress.setVisible(False)
        self.status.setText(self.tr("Printing cancelled."))
        self._update_buttons()
        self._after_print()
        self.print_finished.emit(None)

    def _finish(self, outcome: PrintOutcome) -> None:
        self._print_task = None
        self.outcome = outcome
        self.progress.setVisible(False)
        self.status.setText(self.describe(outcome))
        self._update_buttons()
        self._after_print()
        self.print_finished.emit(outcome)

    def _after_print(self) -> None:
        if self._preview_stale:
            self._preview_stale = False
            self.schedule_preview()

    def describe(self, outcome: PrintOutcome) -> str:
        """The outcome for the user: what printed, the printer's status, each warning, changed
        value, event and empty box on a line; a refusal or failure as one line."""
        lines = []
        result = outcome.result
        if result is not None and (result.films_printed or not outcome.error):
            lines.append(self.tr("Printed {printed} of {films} films ({images} images).").format(
                printed=result.films_printed, films=result.films, images=result.boxes))
        if result is not None:
            status = result.printer.status or self.tr("unknown")
            detail = result.printer.status_info
            info = f" ({detail})" if detail and detail != result.printer.status else ""
            lines.append(self.tr("Printer status: {status}").format(status=status + info))
            lines += [self.tr("Warning: {warning}").format(warning=str(w))
                      for w in result.warnings]
            lines += [self.tr("{attribute} {requested} not taken, the printer uses {used}")
                      .format(attribute=r.attribute, requested=r.requested, used=r.used)
                      for r in result.refused]
            lines += [self.tr("Printer event: {event}").format(
                event=f"{e.name} {e.status_info}".strip()) for e in result.events]
            lines += [self.tr("Film {film}, box {box} left empty: {reason}").format(
                film=f.film, box=f.position, reason=f.reason) for f in result.empty_boxes]
        if outcome.error:
            lines.append(self.tr("Not printed: {error}").format(error=_one_line(outcome.error)))
        return "\n".join(lines)

    def _update_buttons(self) -> None:
        busy = self._print_task is not None
        self._settings_box.setEnabled(not busy)
        self.print_button.setEnabled(not busy and bool(self.settings.nodes) and bool(self.items()))
        self.cancel_button.setEnabled(busy)

    def reject(self) -> None:
        """Close: a running print is cancelled (what the printer has already taken stays)."""
        if self._print_task is not None:
            self._print_task.cancel()
        if self._preview_task is not None:
            self._preview_task.cancel()
        self._preview_timer.stop()
        super().reject()


def _one_line(text: str) -> str:
    return " ".join(text.split())
