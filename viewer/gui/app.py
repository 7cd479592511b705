"""The main window: the study browser and the reading area, with the reading toolbar."""

from __future__ import annotations

import atexit
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QMimeData, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDoubleSpinBox,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QToolBar,
    QToolButton,
)

from viewer.archive.archive import Archive
from viewer.archive.retention import record_view
from viewer.archive.stacks import series_stack, study_heads, study_stacks
from viewer.capture.order import OrderError, order_from_worklist
from viewer.capture.sources import is_capture_file
from viewer.config import Settings
from viewer.decode.cache import FrameCache
from viewer.decode.pool import DecodePool
from viewer.dicom.demo import write_ct_series
from viewer.dicom.presets import CT_PRESETS
from viewer.dicom.stack import Stack
from viewer.gui.bridge import FrameBridge
from viewer.gui.browser import StudyBrowser
from viewer.gui.hanging_session import HangingSession
from viewer.gui.i18n import install_translator
from viewer.gui.key_images import KeyImages
from viewer.gui.objects import ReadingObjects
from viewer.gui.pacs import PacsPanel
from viewer.gui.presentation_source import (
    NEWEST,
    ArchivePresentations,
    FilePresentations,
    PresentationSource,
)
from viewer.gui.reading import LAYOUTS, ReadingArea
from viewer.gui.tags import TagBrowser
from viewer.gui.tasks import TaskRunner
from viewer.gui.viewport import Tool, Viewport
from viewer.gui.web_open import WebStudyOpener
from viewer.gui.worklist_panel import WorklistPanel

if TYPE_CHECKING:
    from viewer.net.worklist import WorklistItem  # viewer.net loads pynetdicom: not at start

LOGGER = logging.getLogger(__name__)
CACHE_BUDGET = 1 << 30  # 1 GiB of decoded frames: a 1,000-slice CT is 500 MiB
DEMO_SLICES = 80
WEB_STOP_S = 10.0  # a cancelled DICOMweb stream ends its read and indexes what arrived
COMPLETE_AFTER_MS = 150  # read the whole series by then even if the first image is late


class MainWindow(QMainWindow):
    """Browser tab and reading tab; `reading` does the viewing, the toolbar routes commands.

    With an `archive`, the study browser is the first tab: double-clicking a study opens it
    with the default hanging (one series per viewport, in series order).
    """

    def __init__(self, stacks: list[Stack], layout: tuple[int, int] | None,
                 bridge: FrameBridge, archive: Archive | None = None,
                 tasks: TaskRunner | None = None, settings: Settings | None = None,
                 protocol_dir: Path | None = None,
                 presentations: FilePresentations | None = None) -> None:
        super().__init__()
        self.setWindowTitle("dicom-viewer")
        self.bridge = bridge
        self.archive = archive
        self.tasks = tasks or TaskRunner(parent=self)
        self.settings = settings
        self.print_dialog: QDialog | None = None
        self.reading = ReadingArea(bridge)
        self.reading.mpr_save_requested.connect(self.save_mpr_series)
        self.tabs = QTabWidget()
        self.browser: StudyBrowser | None = None
        self.tag_browser: TagBrowser | None = None
        self.pacs: PacsPanel | None = None  # with `settings`: query/retrieve/send, Storage SCP
        self.worklist: WorklistPanel | None = None  # with `settings`: worklist, MPPS
        # with `settings`: a DICOMweb node's study opened without retrieving it first
        self.web_open: WebStudyOpener | None = None
        self._opening = ""  # the study whose series are still one-frame heads
        self.open_study_uid = ""  # the study the reading tab shows; photos dropped join it
        # Hanging protocols and priors (`protocol_dir`: the user's protocol files)
        self.hanging: HangingSession | None = None
        self.presentations = _attach_presentations(self.reading, archive, settings,
                                                   presentations)
        if archive is not None:
            self.hanging = HangingSession(self.reading, archive, self.tasks, settings,
                                          protocol_dir, self)
            self.hanging.status.connect(lambda text: self.statusBar().showMessage(text, 15000))
            self.browser = StudyBrowser(archive, self.tasks, pool=bridge.pool)
            if settings is not None:
                self.browser.quality.validate_new = settings.validate_on_import
            self.browser.open_study.connect(self.open_study)
            self.browser.open_series.connect(self.open_series)
            self.browser.set_demo_offer(self.load_demo_study)
            if self.presentations is not None:
                self.browser.archive_changed.connect(self.presentations.archive_changed)
            self.reading.load_series = lambda _study, series: series_stack(archive, series)
            self.tabs.addTab(self.browser, self.tr("Studies"))
            self.setAcceptDrops(True)  # photos dropped on the open study (dropEvent)
            if settings is not None:
                self.pacs = PacsPanel(settings, archive, self.tasks, self.browser)
                self.pacs.status_message.connect(lambda text: self.statusBar().showMessage(text))
                self.tabs.addTab(self.pacs, self.tr("PACS"))
                self.web_open = WebStudyOpener(self.reading, bridge, archive,
                                               settings.network, self)
                self.web_open.status.connect(self.statusBar().showMessage)
                self.web_open.finished.connect(lambda _outcome: self._streamed_in())
                self.pacs.open_requested.connect(self.open_web_study)
                if settings.storage_scp:
                    self.pacs.storage.start()
                self.worklist = WorklistPanel(settings, archive, self.tasks)
                self.worklist.status_message.connect(self.statusBar().showMessage)
                self.worklist.dicomize_requested.connect(self.dicomize_for_worklist_item)
                self.tabs.addTab(self.worklist, self.tr("Worklist"))
        self.tabs.addTab(self.reading, self.tr("Viewer"))
        self.key_images = KeyImages(self.reading, archive,
                                    self.browser.imports if self.browser is not None else None,
                                    self)
        self.key_images.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.setCentralWidget(self.tabs)
        # SR, SEG and RTSTRUCT series open in docks beside the images and over them
        self.objects = ReadingObjects(self, self.reading, self.tasks, archive)
        self.objects.problem.connect(lambda text: self.statusBar().showMessage(text, 15000))
        self._build_toolbar()
        self.tabs.currentChanged.connect(self._tab_changed)
        self._tab_changed()
        self.resize(1280, 860)
        if stacks:
            # `view PATH`: hung by protocol when the archive knows the study (not with --layout)
            if layout is not None or self.hanging is None or not self.hanging.open_files(stacks):
                self.reading.open_stacks(stacks, layout)
            self.objects.open_given(stacks)  # the SEG drawn, the SR beside, as the files came
            self.tabs.setCurrentWidget(self.reading)

    def _tab_changed(self) -> None:
        """The reading tools belong to the viewer tab."""
        self.reading_tools.setVisible(self.tabs.currentWidget() is self.reading)

    def open_study(self, study_uid: str) -> None:
        """The study from the index (no file is read), one series per viewport in series order.

        First each series' first frame alone (a millisecond or two of index queries), so the
        first images are decoded and shown at once; the whole series are read from the index
        once the first image is on screen (for a 1,000-slice series that takes longer than
        decoding a slice) and replace the one-frame stacks in place.
        """
        if self.archive is None:
            return
        if self.web_open is not None:
            self.web_open.cancel()  # its held frame requests belong to the study it showed
        heads = study_heads(self.archive, study_uid)
        if not heads:
            QMessageBox.information(self, "dicom-viewer",
                                    self.tr("No image of this study is in the archive."))
            return
        self._opening = self.open_study_uid = study_uid
        self.objects.clear()
        record_view(self.archive.index, study_uid)  # pruning removes least recently viewed
        # the best hanging protocol, else one series per viewport in series order
        if self.hanging is None or not self.hanging.open_study(study_uid, heads):
            self.reading.open_stacks(heads)
        self.key_images.open_study(study_uid)
        self.tabs.setCurrentWidget(self.reading)
        first = self.reading.viewports[0]
        first.frame_shown.connect(self._first_image_shown,
                                  Qt.ConnectionType.SingleShotConnection)
        QTimer.singleShot(COMPLETE_AFTER_MS, lambda: self._complete_study(study_uid))

    def open_web_study(self, node_name: str, study_uid: str) -> None:
        """A study of DICOMweb node `node_name`, shown as it arrives (viewer.gui.web_open):
        the image the reader looks at first, the rest in the background into the archive."""
        if self.web_open is None or self.settings is None:
            return
        node = next((n for n in self.settings.nodes if n.name == node_name), None)
        if node is None or node.dicomweb is None:
            return
        self._opening = ""
        self.open_study_uid = study_uid
        self.objects.clear()
        self.reading.open_stacks([])
        self.tabs.setCurrentWidget(self.reading)
        self.web_open.open(node, study_uid)

    def _streamed_in(self) -> None:
        """A DICOMweb study finished arriving: the browser and the PACS tab count it."""
        if self.pacs is not None:
            self.pacs.refresh_archive()
        elif self.browser is not None:
            self.browser.refresh()

    def _first_image_shown(self, _viewport: object) -> None:
        study_uid = self._opening
        # After this event: the first image is painted before the series are read.
        QTimer.singleShot(1, lambda: self._complete_study(study_uid))

    def _complete_study(self, study_uid: str) -> None:
        if self.archive is None or not study_uid or self._opening != study_uid:
            return  # done already, or another study was opened meanwhile
        self._opening = ""
        stacks = study_stacks(self.archive, study_uid)
        if self.hanging is not None:
            stacks = self.hanging.complete(stacks)  # and the priors shown
        self.reading.complete_stacks(stacks)

    def open_series(self, study_uid: str, series_uid: str) -> None:
        self.open_study(study_uid)
        self.reading.show_series(series_uid)

    def dicomize_for_worklist_item(self, paths: list[Path], item: WorklistItem) -> None:
        """Files chosen or dropped on the worklist panel, DICOMized for that worklist item:
        its patient, order and Study Instance UID (viewer.capture.order_from_worklist)."""
        if self.browser is None:
            return
        try:
            order = order_from_worklist(item)
        except OrderError as exc:
            self.statusBar().showMessage(str(exc), 15000)
            return
        self.browser.dicomize_for_order(paths, order)

    def load_demo_study(self) -> None:
        """Write the synthetic demo CT locally (no download) and import it, off the GUI thread."""
        if self.browser is None:
            return
        folder = Path(tempfile.mkdtemp(prefix="dicom-viewer-demo-"))
        atexit.register(shutil.rmtree, folder, True)
        self.browser.import_prepared(
            lambda: write_ct_series(folder, DEMO_SLICES), self.tr("Demo study")
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        """Photos and documents dragged over the open study (the viewports take series)."""
        if self._capture_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = self._capture_drop(event.mimeData())
        if not paths or self.browser is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.browser.dicomize_into_study(paths, self.open_study_uid)

    def _capture_drop(self, mime: QMimeData) -> list[Path]:
        """The JPEG/PNG/PDF files of a drag on the reading tab showing an archive study."""
        if (self.browser is None or not self.open_study_uid
                or self.tabs.currentWidget() is not self.reading):
            return []
        paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
        return paths if paths and all(is_capture_file(p) for p in paths) else []

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.reading.stop_cine()
        if self.web_open is not None:
            self.web_open.cancel()  # what arrived whole stays, indexed before the archive closes
            if not self.web_open.wait(WEB_STOP_S):
                LOGGER.warning("a DICOMweb study was still arriving when the window closed")
        self.objects.shutdown()
        if self.hanging is not None:
            self.hanging.shutdown()
        if self.browser is not None:
            self.browser.quality.stop()  # the background validation reads the archive
        self.tasks.shutdown()  # before the archive closes: no job may outlive it
        if self.pacs is not None:
            self.pacs.shutdown()
        super().closeEvent(event)

    @property
    def viewports(self) -> list[Viewport]:
        return self.reading.viewports

    def all_loaded(self) -> bool:
        """Every viewport decoded, its presentation state read, the objects opened drawn."""
        return all(v.loaded and (v.presentation is None or v.presentation.awaited is None)
                   for v in self.reading.viewports) and self.objects.settled()

    # -- toolbar ----------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = QToolBar(self.tr("Reading tools"))
        bar.setObjectName("reading-tools")
        self.reading_tools = bar
        self.addToolBar(bar)
        tools = QActionGroup(self)
        names = {
            Tool.WINDOW: self.tr("Window/Level"), Tool.PAN: self.tr("Pan"),
            Tool.ZOOM: self.tr("Zoom"), Tool.PROBE: self.tr("Pixel probe"),
            Tool.LENGTH: self.tr("Length"), Tool.ANGLE: self.tr("Angle"),
            Tool.RECTANGLE: self.tr("Rectangle ROI"), Tool.ELLIPSE: self.tr("Ellipse ROI"),
            Tool.SHUTTER: self.tr("Shutter"),
        }
        self.tool_actions: dict[Tool, QAction] = {}
        for tool, name in names.items():
            action = QAction(name, self, checkable=True)
            action.triggered.connect(lambda _=False, t=tool: self.reading.set_tool(t))
            tools.addAction(action)
            bar.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions[Tool.WINDOW].setChecked(True)
        bar.addSeparator()

        layouts = QMenu(self.tr("Layout"), self)
        for columns, rows in LAYOUTS:
            act = layouts.addAction(f"{columns} × {rows}")
            act.triggered.connect(lambda _=False, s=(columns, rows): self.reading.set_layout(s))
        bar.addWidget(_menu_button(self.tr("Layout"), layouts))
        if self.hanging is not None:
            bar.addWidget(self.hanging.button)
            self.addActions(self.hanging.shortcut_actions())

        presets = QMenu(self.tr("Presets"), self)
        self._file_windows = QMenu(self.tr("File's windows (0)"), self)
        self._file_windows.aboutToShow.connect(self._fill_file_windows)
        presets.addMenu(self._file_windows)
        names_tr = _preset_names()
        for n, preset in enumerate(CT_PRESETS, 1):
            name = names_tr.get(preset.name, preset.name)
            act = presets.addAction(f"{name}  (L {preset.center:g} W {preset.width:g})\t{n}")
            act.triggered.connect(
                lambda _=False, k=n: self.reading.for_active(lambda v: v.apply_preset(k))
            )
        bar.addWidget(_menu_button(self.tr("Presets"), presets))

        def active(label: str, action_of: str, shortcut: str = "") -> QAction:
            act = QAction(label, self)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(
                lambda: self.reading.for_active(lambda v: getattr(v, action_of)())
            )
            bar.addAction(act)
            return act

        active(self.tr("Invert"), "toggle_invert")
        active(self.tr("Fit"), "fit")
        active(self.tr("1:1"), "actual_pixels")
        rotate = QAction(self.tr("Rotate 90°"), self)
        rotate.triggered.connect(lambda: self.reading.for_active(lambda v: v.rotate(1)))
        bar.addAction(rotate)
        flip_h = QAction(self.tr("Flip horizontal"), self)
        flip_h.triggered.connect(lambda: self.reading.for_active(lambda v: v.flip(True)))
        bar.addAction(flip_h)
        flip_v = QAction(self.tr("Flip vertical"), self)
        flip_v.triggered.connect(lambda: self.reading.for_active(lambda v: v.flip(False)))
        bar.addAction(flip_v)
        bar.addSeparator()

        self.cine_action = QAction(self.tr("Cine"), self, checkable=True)
        self.cine_action.setShortcut(QKeySequence("C"))
        self.cine_action.triggered.connect(self.reading.toggle_cine)
        bar.addAction(self.cine_action)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(self.reading.cine_fps)
        self.fps.setSuffix(self.tr(" fps"))
        self.fps.valueChanged.connect(self.reading.set_cine_fps)
        bar.addWidget(self.fps)
        mpr = QAction(self.tr("MPR"), self)
        mpr.setShortcut(QKeySequence("M"))
        mpr.setToolTip(self.tr("Axial, coronal and sagittal planes of the active series (M)"))
        mpr.triggered.connect(self.open_mpr)
        bar.addAction(mpr)
        sync = QAction(self.tr("Sync scroll"), self, checkable=True, checked=True)
        sync.toggled.connect(lambda on: setattr(self.reading, "sync", on))
        bar.addAction(sync)
        lines = QAction(self.tr("Reference lines"), self, checkable=True, checked=True)
        lines.toggled.connect(self._toggle_reference_lines)
        bar.addAction(lines)
        clear = QAction(self.tr("Delete measurements"), self)
        clear.triggered.connect(
            lambda: self.reading.for_active(
                lambda v: v.current_key is not None and v.measurements.clear(v.current_key)
            )
        )
        bar.addAction(clear)
        tags = QAction(self.tr("Tags"), self)
        tags.setShortcut(QKeySequence("Ctrl+T"))
        tags.triggered.connect(self.show_tags)
        bar.addAction(tags)
        if self.browser is not None:  # the open study's findings (files given: `validate`)
            quality = QAction(self.tr("Data quality…"), self)
            quality.triggered.connect(self.show_quality)
            bar.addAction(quality)
        self._build_key_image_actions(bar)
        reset = QAction(self.tr("Reset view"), self)
        reset.setShortcut(QKeySequence("Ctrl+R"))
        reset.setToolTip(self.tr("Back to the presentation state's view and window (Ctrl+R)"))
        reset.triggered.connect(self.reset_view)
        bar.addAction(reset)
        save_ps = QAction(self.tr("Save presentation state…"), self)
        save_ps.setShortcut(QKeySequence("Ctrl+S"))
        save_ps.triggered.connect(self.save_presentation_state)
        bar.addAction(save_ps)
        print_films = QAction(self.tr("Print…"), self)
        print_films.setShortcut(QKeySequence("Ctrl+P"))
        print_films.triggered.connect(self.open_print_dialog)
        bar.addAction(print_films)
        from viewer.gui.image_export_menu import ImageExportMenu

        self.image_export = ImageExportMenu(self.reading, self.tasks, self)
        self.image_export.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        bar.addWidget(_menu_button(self.tr("Export"), self.image_export.menu))

    def _build_key_image_actions(self, bar: QToolBar) -> None:
        """K flags the active image; the menu saves the flags and shows the key images."""
        flag = QAction(self.tr("Key image"), self)
        flag.setShortcut(QKeySequence("K"))
        flag.setToolTip(self.tr("Flag or unflag the active image as a key image (K)"))
        flag.triggered.connect(self.key_images.toggle_active)
        bar.addAction(flag)
        menu = QMenu(self.tr("Key images"), self)
        menu.addAction(self.tr("Save key images…")).triggered.connect(
            lambda: self.key_images.save(self))
        menu.addAction(self.tr("Key images only")).triggered.connect(
            self.key_images.show_key_images_only)
        bar.addWidget(_menu_button(self.tr("Key images"), menu))
    def show_quality(self) -> None:
        """The findings panel of the study the reading tab shows."""
        if self.browser is not None and self.open_study_uid:
            self.browser.show_quality(self.open_study_uid)

    def reset_view(self) -> None:
        from viewer.gui.presentation_layer import reset_view

        if self.reading.active is not None:
            reset_view(self.reading.active)

    def save_presentation_state(self) -> None:
        """What the active viewport shows, as a presentation state in the archive."""
        from viewer.gui.save_presentation import ask_and_save

        ask_and_save(self, self.reading.active, self.archive, self.tasks, self.presentations)

    def save_mpr_series(self, view: object) -> None:
        """The shown MPR plane's stack as a derived series in the archive."""
        from viewer.gui.mpr_save import ask_and_save
        from viewer.gui.mpr_view import MprView

        layout = self.reading.mpr
        if layout is None or not isinstance(view, MprView):
            return
        imports = self.browser.imports if self.browser is not None else None
        ask_and_save(self, view, imports, layout.source_file)

    def open_mpr(self) -> None:
        """MPR of the active viewport's series, or the one line saying why it cannot be."""
        problem = self.reading.open_mpr()
        if problem:
            QMessageBox.information(self, self.tr("MPR"), problem)

    def open_print_dialog(self) -> None:
        """Films of what the reading area shows, on a configured DICOM printer (issue 7)."""
        from viewer.gui.print_dialog import PrintDialog  # pynetdicom loads when first needed

        self.print_dialog = PrintDialog(self.reading, self.settings, self.tasks, self,
                                        key_items=self.key_images.print_items())
        self.print_dialog.open()

    def show_tags(self) -> None:
        """The tag browser on the active viewport's current image."""
        viewport = self.reading.active
        key = viewport.current_key if viewport is not None else None
        if key is None:
            return
        if self.tag_browser is None:
            self.tag_browser = TagBrowser(self)
        self.tag_browser.show_file(Path(key[0]))
        self.tag_browser.show()
        self.tag_browser.raise_()

    def _fill_file_windows(self) -> None:
        """The active image's own windows, named by their explanations (PS3.3 C.11.2.1.2)."""
        menu = self._file_windows
        menu.clear()
        viewport = self.reading.active
        windows = viewport.file_windows() if viewport is not None else []
        if not windows:
            menu.addAction(self.tr("This image suggests no window")).setEnabled(False)
        for n, window in enumerate(windows):
            name = window.explanation or self.tr("Window %1").replace("%1", str(n + 1))
            act = menu.addAction(f"{name}  (L {window.center:g} W {window.width:g})")
            act.triggered.connect(
                lambda _=False, k=n: self.reading.for_active(lambda v: v.apply_file_window(k))
            )

    def _toggle_reference_lines(self, on: bool) -> None:
        self.reading.show_reference_lines = on
        self.reading._update_reference_lines()


def _attach_presentations(reading: ReadingArea, archive: Archive | None,
                          settings: Settings | None, given: FilePresentations | None = None
                          ) -> ArchivePresentations | None:
    """Every viewport lists and applies its image's presentation states: those `given` with
    the files (`view PATH`), then the archive's. Returns the archive's source."""
    from viewer.gui.presentation_layer import PresentationLayer

    default = settings.presentation_state if settings else NEWEST
    in_archive = ArchivePresentations(archive, default) if archive is not None else None
    source: PresentationSource | None = in_archive
    if given is not None:
        given.default = default
        if in_archive is not None:
            given.attach_archive(in_archive)
        source = given
    if source is not None:
        shown = source
        reading.add_viewport_hook(lambda viewport: PresentationLayer(viewport, shown))
    return in_archive


def _menu_button(text: str, menu: QMenu) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setMenu(menu)
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    return button


def _preset_names() -> dict[str, str]:
    """The CT presets' names, translated (literal calls: pyside6-lupdate must see them)."""
    translate = QCoreApplication.translate
    return {
        "brain": translate("MainWindow", "Brain"),
        "subdural": translate("MainWindow", "Subdural"),
        "stroke": translate("MainWindow", "Stroke"),
        "lung": translate("MainWindow", "Lung"),
        "mediastinum": translate("MainWindow", "Mediastinum"),
        "abdomen": translate("MainWindow", "Abdomen"),
        "liver": translate("MainWindow", "Liver"),
        "bone": translate("MainWindow", "Bone"),
        "temporal bone": translate("MainWindow", "Temporal bone"),
    }


def _report_errors(window: MainWindow) -> None:
    """An exception escaping a slot or an event handler: one line in the status bar and the
    log, never a traceback dialog and never a dead window (the traceback is logged at DEBUG:
    it may quote values from a file)."""

    def hook(kind: type[BaseException], error: BaseException, tb: object) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        LOGGER.error("internal error: %s", kind.__name__)
        LOGGER.debug("internal error", exc_info=(kind, error, tb))  # type: ignore[arg-type]
        window.statusBar().showMessage(
            QCoreApplication.translate(
                "MainWindow", "Internal error (%1); the viewer carries on. See the log for details."
            ).replace("%1", kind.__name__), 15000,
        )

    sys.excepthook = hook


def run_viewer(
    stacks: list[Stack],
    layout: tuple[int, int] | None,
    screenshot: Path | None = None,
    problems: list[str] | None = None,
    timeout_s: float = 60.0,
    archive: Archive | None = None,
    language: str | None = None,
    settings: Settings | None = None,
    protocol_dir: Path | None = None,
    presentations: FilePresentations | None = None,
) -> int:
    """Open the window on `stacks` (and the browser on `archive`); with `screenshot`, save the
    window once everything shown is decoded, and exit."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    install_translator(app, language)
    pool = DecodePool(cache=FrameCache(CACHE_BUDGET))
    try:
        bridge = FrameBridge(pool)
        window = MainWindow(stacks, layout, bridge, archive, settings=settings,
                            protocol_dir=protocol_dir, presentations=presentations)
        _report_errors(window)
        window.show()
        if problems and screenshot is None:
            QMessageBox.warning(window, "dicom-viewer", "\n".join(problems[:20]))
        if screenshot is not None:
            code = _screenshot_when_loaded(app, window, screenshot, timeout_s)
        else:
            code = int(app.exec())
        window.objects.shutdown()
        window.tasks.shutdown()
        if window.pacs is not None:
            window.pacs.shutdown()
        return code
    finally:
        pool.close()


def _screenshot_when_loaded(
    app: QApplication, window: MainWindow, out: Path, timeout_s: float
) -> int:
    waited = {"ms": 0}
    result = {"code": 0}

    def poll() -> None:
        waited["ms"] += 50
        if window.all_loaded() or waited["ms"] > timeout_s * 1000:
            if not window.all_loaded():
                LOGGER.warning("screenshot taken before every viewport was decoded")
                result["code"] = 1
            app.processEvents()
            if not window.grab().save(str(out), "PNG"):
                print(f"{out}: cannot write the screenshot", file=sys.stderr)
                result["code"] = 2
            app.quit()
        else:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)
    app.exec()
    return result["code"]
