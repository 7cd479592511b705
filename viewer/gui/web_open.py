"""A study of a DICOMweb node opened in the reading area without retrieving it first (issue 18
item 2), as progressive loaders do.

The core (`viewer.net.web.progressive.StudyStream`) brings one instance of the first series
at once, then the series' metadata, then the instances the viewer waits for first and the
rest in the background into the archive. Here: its first instance is shown as a one-frame
head, as an archive study's first frame is (`ReadingArea.open_stacks`); the metadata's stacks
replace the head in place (`complete_stacks`), their frames at the store paths the instances
will have; the frame bridge holds the requests for frames not arrived and tells the stream
which it waits for, most wanted first (the visible slice, its neighbours, then the rest by
distance: what the reader scrolls to is fetched next); decoding stays in the decode pool.
Closing the window or opening another study cancels the stream: what arrived whole stays in
the archive, indexed; a server gone mid-way is one line in the status bar.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal

from viewer.archive.archive import Archive
from viewer.config import NetworkTimeouts, Node
from viewer.dicom.stack import build_stacks
from viewer.gui.bridge import FrameBridge, StreamSignals
from viewer.gui.layers import OBJECT_MODALITIES
from viewer.gui.reading import ReadingArea, layout_for

if TYPE_CHECKING:
    from viewer.net.web.progressive import StreamOutcome, StudyLayout, StudyStream

LOGGER = logging.getLogger(__name__)


class WebStudyOpener(QObject):
    """Opens studies of DICOMweb nodes in `reading`, one at a time."""

    status = Signal(str)  # one line for the status bar
    first_shown = Signal()  # the head's stack is in the viewport (its frame requested)
    finished = Signal(object)  # StreamOutcome: the archive holds what arrived

    def __init__(self, reading: ReadingArea, bridge: FrameBridge, archive: Archive,
                 timeouts: NetworkTimeouts | None = None, parent: QObject | None = None
                 ) -> None:
        super().__init__(parent)
        self.reading = reading
        self.bridge = bridge
        self.archive = archive
        self.timeouts = timeouts
        self.stream: StudyStream | None = None
        self.node: Node | None = None
        self.study_uid = ""
        self._signals: StreamSignals | None = None
        self._stopping: list[StudyStream] = []  # cancelled, maybe still indexing
        self._expected = 0  # instances the layout holds
        self._arrivals = 0  # arrived since the layout (the status line counts them)

    @property
    def streaming(self) -> bool:
        return self.stream is not None

    def open(self, node: Node, study_uid: str) -> None:
        """Start showing `study_uid` of `node` (a DICOMweb node); returns at once."""
        from viewer.net.web.progressive import StudyStream

        self.cancel()
        signals = StreamSignals(self)
        queued = Qt.ConnectionType.QueuedConnection
        signals.head.connect(self._head, queued)
        signals.layout.connect(self._layout, queued)
        signals.arrived.connect(self._arrived, queued)
        signals.finished.connect(self._finished, queued)
        stream = StudyStream(node, self.archive, study_uid, on_head=signals.head.emit,
                             on_layout=signals.layout.emit, on_arrived=signals.arrived.emit,
                             on_finished=signals.finished.emit, timeouts=self.timeouts)
        self.stream, self.node, self.study_uid, self._signals = stream, node, study_uid, signals
        self._expected = self._arrivals = 0
        self.bridge.pending = stream.pending
        self.bridge.wanted = stream.want
        self.status.emit(self.tr("Opening the study from {node}...").format(node=node.name))
        stream.start()

    def cancel(self) -> None:
        """Stop the stream (the window closes, another study opens); what arrived stays."""
        stream, self.stream = self.stream, None
        if self._signals is not None:
            self._signals.deleteLater()  # its queued signals die with it
            self._signals = None
        self.bridge.stop_holding()
        if stream is not None:
            stream.cancel()
            self._stopping.append(stream)

    def wait(self, timeout: float | None = None) -> bool:
        """Whether every stream cancelled has ended within `timeout` seconds (what arrived
        indexed): call before the archive closes."""
        self._stopping = [s for s in self._stopping if not s.wait(timeout)]
        return not self._stopping

    # -- the stream's signals ---------------------------------------------------------------------
    def _head(self, path: str) -> None:
        stacks, errors = build_stacks([Path(path)])
        if not stacks:
            reason = errors[0].reason if errors else "not an image"
            self.status.emit(self.tr("{node}: the first instance cannot be shown: {reason}")
                             .format(node=self._node_name(), reason=reason))
            return
        self.reading.open_stacks(stacks[:1])
        self.first_shown.emit()

    def _layout(self, layout: StudyLayout) -> None:
        if not layout.stacks:
            self.status.emit(self.tr("{node}: the study has no image to show").format(
                node=self._node_name()))
            return
        if not self.reading.stacks or all(v.stack is None for v in self.reading.viewports):
            self.reading.open_stacks(layout.stacks)
        else:
            self.reading.complete_stacks(layout.stacks)
            images = [s for s in layout.stacks if s.info.modality not in OBJECT_MODALITIES]
            if len(images) > 1 and self.reading.layout_shape == (1, 1):
                # one series per viewport, as an archive study opens; the head's stays put
                self.reading.set_layout(layout_for(len(images)))
        self._expected = len(layout.instances)
        stream = self.stream
        self._arrivals = sum(not stream.pending(p) for p in layout.instances) if stream else 0
        self._show_arrivals()

    def _arrived(self, path: str) -> None:
        self.bridge.arrived(path)
        if self._expected:
            self._arrivals += 1
            self._show_arrivals()

    def _show_arrivals(self) -> None:
        self.status.emit(self.tr("{node}: {arrived} of {count} images arrived...").format(
            node=self._node_name(), arrived=min(self._arrivals, self._expected),
            count=self._expected))

    def _finished(self, outcome: StreamOutcome) -> None:
        self.stream = None
        self.bridge.give_up(outcome.error or self.tr("the image did not arrive"))
        self.bridge.pending = self.bridge.wanted = None
        if outcome.cancelled:
            return
        if outcome.error:
            text = self.tr("{error} ({arrived} of {expected} images arrived; kept)").format(
                error=outcome.error, arrived=outcome.arrived, expected=outcome.expected)
        else:
            text = self.tr("{node}: all {count} images in the archive").format(
                node=self._node_name(), count=outcome.arrived)
        self.status.emit(text)
        self.finished.emit(outcome)

    def _node_name(self) -> str:
        return self.node.name if self.node is not None else ""
