"""Key images of the study being read (issue 17 item 3), Qt-free: the reader's flags, those a
Key Object Selection document of the archive already holds, and the document that saves them.

A flag names a frame of a stored file by the viewer's own handle, its path in the store and the
1-based frame (None: the whole, single-frame image), and the presentation state the image was
seen with (its SOP Instance UID, or None). Saved flags come from the archive's index
(`Index.key_images`: no file is read); unsaved ones from the reader. `write_key_object_document`
reads the flagged images' headers and builds the document through
viewer.reports.create_kos: it runs on a worker thread, never the GUI thread (highdicom's tables
load on first use), and the document goes into the archive through archive.importer like any
file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from viewer.archive.archive import Archive
from viewer.dicom.files import read_dataset
from viewer.reports.create_kos import (
    KeyImage,
    KeyObjectTitle,
    PresentationStateReference,
    create_key_object_selection,
)

LOGGER = logging.getLogger(__name__)

FlagKey = tuple[str, int | None]  # (absolute path in the store, 1-based frame or None)


@dataclass(frozen=True)
class KeyFlag:
    """One key image: `path` (absolute, in the store), `frame` (1-based; None for the whole
    image), the presentation state it is to be seen with (and that state's Content Label when
    the archive holds it), and whether a Key Object Selection document of the archive holds it
    (`saved`, with that document's title)."""

    path: str
    frame: int | None
    presentation_state_uid: str | None = None
    saved: bool = False
    document_title: str = ""
    presentation_state_label: str = ""

    @property
    def key(self) -> FlagKey:
        return (self.path, self.frame)

    @property
    def frame_index(self) -> int:
        """The 0-based frame a viewer shows for it (the first for a whole image)."""
        return 0 if self.frame is None else self.frame - 1


class KeySelection:
    """The study's key images in reading order: saved ones as the archive lists them
    (documents newest first, each in its own order), then the reader's unsaved flags in the
    order they were set."""

    def __init__(self) -> None:
        self._flags: dict[FlagKey, KeyFlag] = {}

    def load_saved(self, saved: Iterable[KeyFlag]) -> None:
        """Replace the saved flags by `saved`; an unsaved flag now saved becomes saved."""
        unsaved = [f for f in self._flags.values() if not f.saved]
        self._flags = {}
        for flag in saved:
            self._flags.setdefault(flag.key, replace(flag, saved=True))
        for flag in unsaved:
            self._flags.setdefault(flag.key, flag)

    def toggle(self, path: str, frame: int | None, presentation_state_uid: str | None
               ) -> KeyFlag | None:
        """Flag the frame, or unflag it when an unsaved flag is there. Returns the flag now
        set (None when it was removed). A saved flag stays: a stored document is not edited;
        the caller says so."""
        current = self.flag_of(path, frame)
        if current is not None:
            if current.saved:
                return current
            del self._flags[current.key]
            return None
        flag = KeyFlag(path, frame, presentation_state_uid)
        self._flags[flag.key] = flag
        return flag

    def flag_of(self, path: str, frame: int | None) -> KeyFlag | None:
        """The flag on frame `frame` (1-based; None: a single-frame image) of `path`: its own,
        or one of the whole image."""
        return self._flags.get((path, frame)) or self._flags.get((path, None))

    def flagged(self, path: str, frame_index: int) -> KeyFlag | None:
        """The flag a viewer's frame (path, 0-based index) carries, if any."""
        return self._flags.get((path, frame_index + 1)) or self._flags.get((path, None))

    def count(self, frames: Iterable[tuple[str, int]]) -> int:
        """How many of `frames` (path, 0-based index) are key images."""
        return sum(self.flagged(path, index) is not None for path, index in frames)

    def flags(self) -> list[KeyFlag]:
        return list(self._flags.values())

    def unsaved(self) -> list[KeyFlag]:
        return [f for f in self._flags.values() if not f.saved]


def saved_flags(archive: Archive, study_uid: str) -> list[KeyFlag]:
    """The key images the study's Key Object Selection documents in the archive flag, as
    flags (images the archive does not hold are left out: nothing to show)."""
    found = []
    for row in archive.index.key_images(study_uid):
        if row.store_path is None:
            continue
        try:
            path = str(archive.store.absolute(row.store_path))
        except ValueError:
            LOGGER.warning("key image with a store path that is not one: %r", row.store_path)
            continue
        state = row.presentation_state
        found.append(KeyFlag(
            path, row.frame, None if state is None else state.sop_instance_uid, saved=True,
            document_title=row.document_title,
            presentation_state_label=(state.label or "") if state is not None else ""))
    return found


def presentation_state_path(archive: Archive, sop_instance_uid: str | None) -> str | None:
    """The stored file of a presentation state, or None (no state, or not in the archive)."""
    if sop_instance_uid is None:
        return None
    row = archive.index.get_instance(sop_instance_uid)
    if row is None or row.status != "ok":
        return None
    try:
        return str(archive.store.absolute(row.store_path))
    except ValueError:
        return None


def key_image_frames(archive: Archive, flags: Iterable[KeyFlag]
                     ) -> list[tuple[str, int, str | None]]:
    """What shows or prints each key image: (image path, 0-based frame, the stored file of
    the presentation state it is seen with, or None), in the flags' order."""
    return [(flag.path, flag.frame_index,
             presentation_state_path(archive, flag.presentation_state_uid)) for flag in flags]


def write_key_object_document(
    archive: Archive, flags: Sequence[KeyFlag], title: KeyObjectTitle, description: str,
    folder: Path, observer: str = "",
) -> Path:
    """A Key Object Selection document flagging `flags` (images of one study), written as a
    PS3.10 file in `folder`; its path. Each item names the presentation state its flag
    remembers (which must be in the archive). ValueError with one line naming the image or
    the state when the document cannot be made; DicomFileError for an unreadable image."""
    if not flags:
        raise ValueError("no key image flagged: nothing to save")
    headers = [read_dataset(flag.path, stop_before_pixels=True) for flag in flags]
    images = [KeyImage.of(header, flag.frame, _state_reference(archive, flag))
              for header, flag in zip(headers, flags, strict=True)]
    document = create_key_object_selection(images, title, description, headers[0],
                                           observer=observer)
    out = folder / f"{document.SOPInstanceUID}.dcm"
    document.save_as(out, enforce_file_format=True)
    LOGGER.info("key object selection written: %d image(s)", len(images))
    return out


def _state_reference(archive: Archive, flag: KeyFlag) -> PresentationStateReference | None:
    uid = flag.presentation_state_uid
    if uid is None:
        return None
    row = archive.index.get_instance(uid)
    if row is None:
        raise ValueError(f"presentation state {uid} of key image {Path(flag.path).name} is "
                         "not in the archive")
    return PresentationStateReference(row.sop_class_uid, row.sop_instance_uid,
                                      row.series_instance_uid, row.study_instance_uid)
