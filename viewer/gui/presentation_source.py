"""Where a viewport finds the presentation states of the image it shows: the archive index.

Qt-free on purpose (the benchmark and tests give a viewport other sources). The archive
answers `presentation_states_for(uid, frame)` from its reference tables in ~0.02 ms, so it is
asked on the GUI thread at each new image; the SOP Instance UID of a shown file comes from the
series' index rows (one indexed query per series, kept until the archive changes), never from
the file. A state's file is read and parsed once, off the GUI thread (`read` is a pure function
of the file, for a worker; a big state on a slow share would stall the image), then kept by its
SOP Instance UID (`keep`, on the GUI thread); one that cannot be used is reported once, by its
file, and left out.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from viewer.archive.archive import Archive
from viewer.dicom.graphics import GraphicAnnotations
from viewer.dicom.presentation_apply import PresentationStateFile, read_presentation_state_file
from viewer.dicom.presentation_state import PresentationStateError, applies_to

LOGGER = logging.getLogger(__name__)

NEWEST = "newest"  # [reading] presentation_state: the newest state of an image is applied
NONE = "none"  # the image as its header says, the states only listed
PARSED_KEPT = 64  # parsed presentation states kept (each a small dataset)


@dataclass(frozen=True)
class ListedState:
    """One presentation state of an image, as the viewport's list shows it."""

    sop_instance_uid: str
    label: str
    description: str
    date: str  # DA 'YYYYMMDD'
    path: str  # absolute path of its file

    def title(self) -> str:
        """'LABEL — description — 2026-12-07' (the parts present)."""
        date = (f"{self.date[:4]}-{self.date[4:6]}-{self.date[6:8]}"
                if len(self.date) == 8 else self.date)
        return " — ".join(part for part in (self.label, self.description, date) if part)


class PresentationSource(Protocol):
    """What a viewport asks: the SOP Instance UID of a shown file, the states of a frame
    (newest first), a state's parsed file, its annotations."""

    default: str

    def sop_instance_uid(self, series_uid: str, path: str) -> str | None: ...

    def states_for(self, sop_instance_uid: str, frame: int) -> list[ListedState]: ...

    def parsed(self, listed: ListedState) -> PresentationStateFile | PresentationStateError | None:
        """What is known without reading: the parsed file, why it cannot be used, or None
        (not read yet)."""
        ...

    def read(self, listed: ListedState) -> PresentationStateFile | PresentationStateError:
        """Read and parse the file (any thread; nothing shared is touched)."""
        ...

    def keep(self, listed: ListedState,
             result: PresentationStateFile | PresentationStateError) -> None:
        """Remember what `read` gave (the thread that asks `parsed`)."""
        ...

    def annotations(self, state: PresentationStateFile, sop_instance_uid: str,
                    frame: int) -> GraphicAnnotations: ...


class ParsedStates:
    """Parsed presentation state files and their annotations per frame, kept by UID."""

    def __init__(self) -> None:
        # a state's parsed file, or why it cannot be used (asked once, not at every image)
        self._files: OrderedDict[str, PresentationStateFile | PresentationStateError] = \
            OrderedDict()
        self._annotations: OrderedDict[tuple[str, str, int], GraphicAnnotations] = OrderedDict()

    def parsed(self, listed: ListedState) -> PresentationStateFile | PresentationStateError | None:
        found = self._files.get(listed.sop_instance_uid)
        if found is not None:
            self._files.move_to_end(listed.sop_instance_uid)
        return found

    def read(self, listed: ListedState) -> PresentationStateFile | PresentationStateError:
        try:
            return read_presentation_state_file(listed.path)
        except PresentationStateError as exc:
            return exc

    def keep(self, listed: ListedState,
             result: PresentationStateFile | PresentationStateError) -> None:
        if listed.sop_instance_uid in self._files:
            return  # two viewports read it at once: reported once
        if isinstance(result, PresentationStateError):
            LOGGER.warning("presentation state not applied: %s", result)
        self._files[listed.sop_instance_uid] = result
        while len(self._files) > PARSED_KEPT:
            self._files.popitem(last=False)

    def annotations(self, state: PresentationStateFile, sop_instance_uid: str,
                    frame: int) -> GraphicAnnotations:
        key = (state.state.sop_instance_uid, sop_instance_uid, frame)
        found = self._annotations.get(key)
        if found is None:
            found = self._annotations[key] = state.annotations(sop_instance_uid, frame)
            for problem in found.problems:
                LOGGER.info("presentation state %s: %s", state.state.source, problem)
            while len(self._annotations) > 4 * PARSED_KEPT:
                self._annotations.popitem(last=False)
        return found

    def forget(self) -> None:
        self._files.clear()
        self._annotations.clear()


class ArchivePresentations(ParsedStates):
    """The archive's presentation states. `default` is the `[reading] presentation_state`
    setting; `listeners` are told (no argument) when the archive changed."""

    def __init__(self, archive: Archive, default: str = NEWEST) -> None:
        super().__init__()
        self.archive = archive
        self.default = default
        self.listeners: list[Callable[[], None]] = []
        self._uids: dict[str, dict[str, str]] = {}  # series UID -> absolute path -> SOP UID

    def sop_instance_uid(self, series_uid: str, path: str) -> str | None:
        by_path = self._uids.get(series_uid)
        if by_path is None:
            by_path = {}
            for row in self.archive.index.instances(series_uid):
                try:
                    by_path[str(self.archive.store.absolute(row.store_path))] = \
                        row.sop_instance_uid
                except ValueError:  # a tampered row: that instance is not listed
                    continue
            self._uids[series_uid] = by_path
        return by_path.get(path)

    def states_for(self, sop_instance_uid: str, frame: int) -> list[ListedState]:
        listed = []
        for row in self.archive.index.presentation_states_for(sop_instance_uid, frame):
            try:
                path = str(self.archive.store.absolute(row.store_path))
            except ValueError:
                continue
            listed.append(ListedState(row.sop_instance_uid, row.label, row.description,
                                      row.content_date, path))
        return listed

    def archive_changed(self) -> None:
        """New or removed instances: lists and UIDs are asked again (parsed files stay: a
        SOP Instance UID names one content)."""
        self._uids.clear()
        for listener in list(self.listeners):
            listener()


class FilePresentations(ParsedStates):
    """The presentation state files given with their images (`view PATH`), read before the
    window opens; then, when there is an archive, its states of the same images. `uids`: the
    SOP Instance UID of each image file given (absolute path -> UID)."""

    def __init__(self, states: list[PresentationStateFile], paths: list[str],
                 uids: dict[str, str]) -> None:
        super().__init__()
        self.default = NEWEST
        self.archive: ArchivePresentations | None = None
        self.listeners: list[Callable[[], None]] = []
        self._uids = uids
        self._listed: list[tuple[ListedState, PresentationStateFile]] = []
        for parsed, path in zip(states, paths, strict=True):
            ps = parsed.state
            listed = ListedState(ps.sop_instance_uid, ps.label, ps.description,
                                 ps.creation_date, path)
            self._listed.append((listed, parsed))
            self.keep(listed, parsed)  # read once, here
        self._listed.sort(key=lambda pair: (pair[1].state.creation_date,
                                            pair[1].state.creation_time), reverse=True)

    def attach_archive(self, archive: ArchivePresentations) -> None:
        """List the archive's states too, and follow its setting and its changes."""
        self.archive, self.default, self.listeners = archive, archive.default, archive.listeners

    def sop_instance_uid(self, series_uid: str, path: str) -> str | None:
        found = self._uids.get(path)
        if found is None and self.archive is not None:
            return self.archive.sop_instance_uid(series_uid, path)
        return found

    def states_for(self, sop_instance_uid: str, frame: int) -> list[ListedState]:
        listed = [listed for listed, parsed in self._listed
                  if applies_to(parsed.state, sop_instance_uid, frame)]
        if self.archive is not None:
            given = {s.sop_instance_uid for s in listed}
            listed += [s for s in self.archive.states_for(sop_instance_uid, frame)
                       if s.sop_instance_uid not in given]
        return listed


def given_presentations(state_paths: list[str], image_paths: list[str]
                        ) -> tuple[FilePresentations, list[str]]:
    """The presentation state files given with `image_paths` (absolute paths), read and parsed
    for `view PATH`, and one line per state that cannot be shown: unusable, or referencing none
    of the images given (a state shows its images: it needs them)."""
    from viewer.dicom.files import DicomFileError
    from viewer.dicom.pixels import read_header

    uids: dict[str, str] = {}
    for path in image_paths:
        try:
            uid = str(read_header(path).get("SOPInstanceUID", "") or "")
        except DicomFileError:
            continue  # shown as not displayable by the stacks already
        if uid:
            uids[path] = uid
    given = set(uids.values())
    states, kept_paths, problems = [], [], []
    for path in state_paths:
        try:
            parsed = read_presentation_state_file(path)
        except PresentationStateError as exc:
            problems.append(str(exc))
            continue
        if not any(ref.sop_instance_uid in given for ref in parsed.state.references):
            problems.append(f"{path}: a presentation state shows the images it references, and "
                            "none of them was given: open it with its images")
            continue
        states.append(parsed)
        kept_paths.append(path)
    return FilePresentations(states, kept_paths, uids), problems
