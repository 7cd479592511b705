"""Key images in the reading window (issue 17 item 3): K flags the active viewport's image
(and frame) with the presentation state it is seen with; the flag shows in the corner text and
as a count on the series strip; "Save key images…" stores a Key Object Selection document in
the archive; "Key images only" shows the study's key images, in order, in the active viewport;
the print dialog and the CD export offer the key images only.

The flags are viewer.reading.key_images' Qt-free `KeySelection`; the flags a document of the
archive holds come back whenever the study opens or an import ends (an index query, no file
read). The document is made and written on the import queue's worker (highdicom and the
images' headers stay off the GUI thread) and imported through archive.importer.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from viewer.archive.archive import Archive
from viewer.decode.requests import FrameKey
from viewer.dicom.stack import SliceGeometry, Stack, StackInfo
from viewer.gui.import_job import ImportQueue
from viewer.gui.reading import ReadingArea
from viewer.printing.compose import ImageSource, PrintItem
from viewer.reading.key_images import (
    KeyFlag,
    KeySelection,
    key_image_frames,
    saved_flags,
    write_key_object_document,
)
from viewer.reports.create_kos import KeyObjectTitle

LOGGER = logging.getLogger(__name__)

KEY_STACK_PREFIX = "key-images:"  # the series UID of the "key images only" stack: no real UID
KEY_MARK = "★"


class SaveKeyImagesDialog(QDialog):
    """The document title (CID 7010) and an optional description of the key images to save."""

    def __init__(self, count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Save key images"))
        form = QFormLayout(self)
        form.addRow(QLabel(self.tr("%n key image(s) not saved yet.", "", count)))
        self.title = QComboBox()
        for title in KeyObjectTitle:
            self.title.addItem(title.meaning, title)
        form.addRow(self.tr("Document title:"), self.title)
        self.description = QLineEdit()
        self.description.setPlaceholderText(self.tr("optional"))
        form.addRow(self.tr("Description:"), self.description)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def chosen_title(self) -> KeyObjectTitle:
        title: KeyObjectTitle = self.title.currentData()
        return title


class KeyImages(QObject):
    """The key images of the study open in `reading`; `message` says what a command did."""

    changed = Signal()
    message = Signal(str)

    def __init__(self, reading: ReadingArea, archive: Archive | None,
                 imports: ImportQueue | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reading = reading
        self.archive = archive
        self.imports = imports
        # Per study: unsaved flags of a study wait for it while another one is read.
        self._selections: dict[str, KeySelection] = {"": KeySelection()}
        self.study_uid = ""
        self._before_keys: tuple[int, int] | None = None  # the layout the key view replaced
        reading.frame_notes.append(self.note_for)
        reading.strip.badge_of = self.badge_of
        if imports is not None:  # a document saved here, or received, lists its images
            imports.finished.connect(lambda _report: self.reload())

    # -- the study ----------------------------------------------------------------------------
    @property
    def selection(self) -> KeySelection:
        """The flags of the study being read."""
        return self._selections.setdefault(self.study_uid, KeySelection())

    def open_study(self, study_uid: str) -> None:
        """A study opened: its saved key images flagged, with the unsaved flags it had when
        another study was opened in this session."""
        self.study_uid = study_uid
        self._before_keys = None
        self.reload()

    def reload(self) -> None:
        """The saved flags again from the archive's index."""
        if self.archive is not None and self.study_uid:
            self.selection.load_saved(saved_flags(self.archive, self.study_uid))
        self._changed()

    def _changed(self) -> None:
        for viewport in self.reading.viewports:
            viewport.refresh_annotations()
        self.reading.strip.refresh_badges()
        self.changed.emit()

    # -- what is shown ------------------------------------------------------------------------
    def note_for(self, key: FrameKey) -> str:
        """The corner line of a key image: flagged, saved (with the title) or not yet, and
        the presentation state it is to be seen with."""
        flag = self.selection.flagged(*key)
        if flag is None:
            return ""
        if not flag.saved:
            text = self.tr("%1 Key image (not saved)").replace("%1", KEY_MARK)
        else:
            text = self.tr("%1 Key image").replace("%1", KEY_MARK)
            text += f" · {flag.document_title}" if flag.document_title else ""
        if flag.presentation_state_uid is not None:
            text += " · " + self.tr("PS %1").replace(
                "%1", flag.presentation_state_label or flag.presentation_state_uid[-8:])
        return text

    def presentation_state_for(self, key: FrameKey) -> str | None:
        """The SOP Instance UID of the presentation state a key image is to be seen with (the
        one its key object item names), None for any other frame: what a viewport applies
        to it in the key images view."""
        flag = self.selection.flagged(*key)
        return None if flag is None else flag.presentation_state_uid

    def badge_of(self, stack: Stack) -> str:
        count = self.selection.count(stack.frames)
        return f"{KEY_MARK} {count}" if count else ""

    # -- commands -----------------------------------------------------------------------------
    def toggle_active(self) -> None:
        """K: flag the active viewport's image (with its presentation state), or unflag it."""
        viewport = self.reading.active
        key = viewport.current_key if viewport is not None else None
        if viewport is None or key is None:
            self.message.emit(self.tr("No image in the active viewport"))
            return
        path, index = key
        current = self.selection.flagged(path, index)
        frame = current.frame if current is not None else _frame_number(viewport.stack, key)
        flag = self.selection.toggle(path, frame, viewport.presentation_state_uid())
        if flag is None:
            self.message.emit(self.tr("Key image flag removed"))
        elif flag.saved:
            self.message.emit(self.tr(
                "This key image is saved in a key object document; it stays flagged"))
        else:
            self.message.emit(self.tr("Key image flagged (not saved yet)"))
        self._changed()

    def save(self, parent: QWidget) -> bool:
        """Ask for the title, then make the document on the import worker and import it.
        False when nothing was started (the reason in `message`)."""
        flags = self.selection.unsaved()
        if not flags:
            self.message.emit(self.tr("No unsaved key image: flag images with K first"))
            return False
        if self.archive is None or self.imports is None:
            self.message.emit(self.tr("Saving key images needs the archive: open the study "
                                      "from it"))
            return False
        dialog = SaveKeyImagesDialog(len(flags), parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        self.save_flags(flags, dialog.chosen_title(), dialog.description.text().strip())
        return True

    def save_flags(self, flags: list[KeyFlag], title: KeyObjectTitle, description: str) -> None:
        """Queue the document of `flags` for writing and import (the dialog's second half)."""
        archive, imports = self.archive, self.imports
        if archive is None or imports is None:
            return
        folder = Path(tempfile.mkdtemp(prefix="viewer-kos-"))

        def prepare() -> list[Path]:  # on the import worker
            return [write_key_object_document(archive, flags, title, description, folder)]

        def clean() -> None:
            shutil.rmtree(folder, ignore_errors=True)
            imports.finished.disconnect(clean)
            imports.cancelled.disconnect(clean)

        imports.finished.connect(clean)
        imports.cancelled.connect(clean)
        imports.add(self.tr("Key images: %1").replace("%1", title.meaning), prepare)
        self.message.emit(self.tr("Saving %n key image(s)…", "", len(flags)))

    def key_stack(self) -> Stack | None:
        """The study's key images as one stack, in order (saved, then unsaved); None when
        there is none. Each frame keeps the geometry its series gave it."""
        flags = self.selection.flags()
        if not flags:
            return None
        known: dict[FrameKey, tuple[SliceGeometry | None, StackInfo]] = {}
        for stack in self.reading.stacks:
            for n, frame_key in enumerate(stack.frames):
                known[frame_key] = (stack.geometry_of(n), stack.info)
        stack = Stack(KEY_STACK_PREFIX + self.study_uid,
                      QCoreApplication.translate("KeyImages", "Key images"))
        for flag in flags:
            frame_key = (flag.path, flag.frame_index)
            geometry, info = known.get(frame_key, (None, StackInfo()))
            stack.frames.append(frame_key)
            stack.geometry.append(geometry)
            if not stack.info.study_instance_uid:
                stack.info = info
        return stack

    def showing_key_images(self) -> bool:
        return any(v.stack is not None and v.stack.series_uid.startswith(KEY_STACK_PREFIX)
                   for v in self.reading.viewports)

    def show_key_images_only(self) -> bool:
        """The key images in one viewport (a 1x1 layout); asked again while they are shown,
        the study as it was hung. False when there are no key images."""
        if self.showing_key_images() and self._before_keys is not None:
            layout, self._before_keys = self._before_keys, None
            self.reading.open_stacks(self.reading.stacks, layout)
            return True
        stack = self.key_stack()
        if stack is None:
            self.message.emit(self.tr("This study has no key image"))
            return False
        self._before_keys = self.reading.layout_shape
        self.reading.set_layout((1, 1), rehang=False)
        viewport = self.reading.active or self.reading.viewports[0]
        viewport.set_stack(stack)
        return True

    def print_items(self) -> list[PrintItem]:
        """The key images to print, each with the presentation state it is to be seen with
        (when the archive holds it)."""
        flags = self.selection.flags()
        frames = (key_image_frames(self.archive, flags) if self.archive is not None
                  else [(f.path, f.frame_index, None) for f in flags])
        return [PrintItem(ImageSource(path, index, presentation_state=state))
                for path, index, state in frames]


def _frame_number(stack: Stack | None, key: FrameKey) -> int | None:
    """The 1-based frame of a multi-frame image, None for a single-frame one (a key object
    item names a frame only for multi-frame images)."""
    path, index = key
    frames = 0 if stack is None else sum(p == path for p, _ in stack.frames)
    return index + 1 if frames > 1 or index > 0 else None
