"""Our Storage SCP inside the window (PS3.4 Annex B, the Storage Service Class), storing into
the GUI's archive; the PACS panel shows its state.

It runs while the window is open when the config says `[gui] storage_scp = true`. Its
`on_received` callback runs on pynetdicom's association threads: it only emits a Qt signal
(queued to the GUI thread), and the study list is refreshed at most once per REFRESH_MS however
fast instances arrive. Its `on_problem` callback (a connection that ended badly: rejected,
aborted, silent too long, a data set cut off) also runs there: it only records the problem under
a lock and emits at most one signal until the GUI thread has taken what is pending, so a peer
hammering us with bad connections costs the GUI one redraw per REFRESH_MS, not one per
connection. The network itself is viewer.net's (this module imports neither pynetdicom nor
sqlite3).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from viewer.config import Settings

if TYPE_CHECKING:
    # viewer.net loads pynetdicom (~0.2 s): imported when first used, not at the window's start
    from viewer.net.association import Local
    from viewer.net.storage_scp import StorageSCP

LOGGER = logging.getLogger(__name__)

REFRESH_MS = 1000  # received instances refresh the study list at most this often
PROBLEMS_KEPT = 20  # the most recent connection problems kept for the panel's tooltip


@dataclass(frozen=True)
class ConnectionProblem:
    """One connection to our Storage SCP that ended badly: when (local time, seconds since the
    epoch), the peer ("AE@host:port" or "host:port") and the reason, as `listen` prints them."""

    when: float
    peer: str
    reason: str


class StorageService(QObject):
    """Our Storage SCP inside the window, storing into the GUI's archive (PS3.4 Annex B).

    `changed` is emitted when it starts, stops or has received instances; `archive_changed`
    when received instances are in the archive; `problems_changed` when connections ended
    badly (`problem_count`, `recent_problems`). Each at most once per REFRESH_MS.
    """

    changed = Signal()
    archive_changed = Signal()
    problems_changed = Signal()
    _received = Signal()  # emitted on association threads, delivered queued on ours
    _problem = Signal()  # likewise; at most one pending at a time (see _on_problem)

    def __init__(self, archive_root: Path, settings: Settings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.archive_root = Path(archive_root)
        self.settings = settings
        self.enabled = settings.storage_scp
        self.error = ""  # why it could not start
        self._scp: StorageSCP | None = None
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self._flush)
        self._received.connect(self._on_received)
        # written on association threads, read on ours: guarded by _problems_lock
        self._problems_lock = threading.Lock()
        self._problems: deque[ConnectionProblem] = deque(maxlen=PROBLEMS_KEPT)
        self._problem_total = 0
        self._problem_signalled = False
        self._problem_timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._problem_timer.timeout.connect(self._problem_timer_ended)
        self._problem.connect(self._on_problem_signal)
        self._shown: list[ConnectionProblem] = []  # what the GUI thread took last, newest first
        self._shown_total = 0

    @property
    def running(self) -> bool:
        return self._scp is not None

    @property
    def scp(self) -> StorageSCP | None:
        return self._scp

    def start(self, port: int | None = None) -> bool:
        """Listen on [local] host and port (`port` overrides, 0: a free one); False with
        `error` set when the port cannot be bound."""
        if self._scp is not None:
            return True
        from viewer.archive.retention import RetentionPolicy
        from viewer.net.storage_scp import StorageSCP

        scp = StorageSCP(self.archive_root, local_ae(self.settings), port=port,
                         on_received=lambda *_: self._received.emit(),
                         on_problem=self._on_problem,
                         retention=RetentionPolicy.from_settings(self.settings))
        try:
            scp.start()
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            LOGGER.warning("the Storage SCP cannot listen on %s:%d: %s",
                           self.settings.local.host, self.settings.local.port, self.error)
            self.changed.emit()
            return False
        self.error = ""
        self._scp = scp
        with self._problems_lock:
            self._problems.clear()
            self._problem_total = 0
            self._problem_signalled = False
        self._shown, self._shown_total = [], 0
        self.changed.emit()
        self.problems_changed.emit()
        return True

    def stop(self) -> None:
        scp, self._scp = self._scp, None
        if scp is not None:
            scp.stop()
            self._timer.stop()
            self._problem_timer.stop()
            self.changed.emit()

    def received_count(self) -> tuple[int, int]:
        """(instances received, of which failed) since start."""
        if self._scp is None:
            return 0, 0
        counts = self._scp.received.summary().counts
        stored = counts.get("imported", 0) + counts.get("already present", 0)
        return sum(counts.values()), sum(counts.values()) - stored

    def status_text(self) -> str:
        if self._scp is not None:
            host, port = self._scp.address
            received, failed = self.received_count()
            text = self.tr("Storage SCP: listening as {aet} on {host}:{port} — {count} received")
            text = text.format(aet=self._scp.ae_title, host=host, port=port, count=received)
            if failed:
                text += self.tr(", {failed} failed").format(failed=failed)
            return text
        if self.error:
            return self.tr("Storage SCP could not start on {host}:{port}: {reason}").format(
                host=self.settings.local.host, port=self.settings.local.port, reason=self.error
            )
        return self.tr("Storage SCP off (enable [gui] storage_scp in config.toml)")

    @property
    def problem_count(self) -> int:
        """Connections that ended badly since the SCP started (as shown: taken at the last
        `problems_changed`)."""
        return self._shown_total

    def recent_problems(self) -> list[ConnectionProblem]:
        """The last PROBLEMS_KEPT connection problems, newest first (as shown)."""
        return list(self._shown)

    def problem_text(self) -> str:
        """One line for the panel: how many connections ended badly and the last one; "" when
        none did."""
        if not self._shown:
            return ""
        last = self._shown[0]
        if self._shown_total == 1:
            text = self.tr("1 connection problem: {time} {peer}: {reason}")
        else:
            text = self.tr("{count} connection problems; the last: {time} {peer}: {reason}")
        return text.format(count=self._shown_total, time=_clock(last.when), peer=last.peer,
                           reason=last.reason)

    def problem_details(self) -> str:
        """The recent problems, newest first, one a line (the panel's tooltip)."""
        if not self._shown:
            return ""
        if self._shown_total > len(self._shown):
            head = self.tr("The last {kept} of {count} connection problems, newest first:")
        else:
            head = self.tr("Connection problems, newest first:")
        lines = [head.format(kept=len(self._shown), count=self._shown_total)]
        lines += [f"{_clock(p.when)}  {p.peer}: {p.reason}" for p in self._shown]
        return "\n".join(lines)

    def _on_problem(self, peer: str, reason: str) -> None:
        # An association thread: record, and signal only when nothing is pending already.
        with self._problems_lock:
            self._problems.append(ConnectionProblem(time.time(), peer, reason))
            self._problem_total += 1
            signalled, self._problem_signalled = self._problem_signalled, True
        if not signalled:
            self._problem.emit()

    def _on_problem_signal(self) -> None:
        if not self._problem_timer.isActive():
            self._flush_problems()  # the first shows at once, the next at the timer's end
            self._problem_timer.start()

    def _problem_timer_ended(self) -> None:
        if self._flush_problems():
            self._problem_timer.start()  # still coming: the next redraw a full period on

    def _flush_problems(self) -> bool:
        with self._problems_lock:
            self._problem_signalled = False
            shown = list(reversed(self._problems))
            total = self._problem_total
        if total == self._shown_total:
            return False
        self._shown, self._shown_total = shown, total
        self.problems_changed.emit()
        return True

    def _on_received(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        self.archive_changed.emit()
        self.changed.emit()


def _clock(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


def local_ae(settings: Settings) -> Local:
    """Who we are on the network (AE title, port, time-outs), from the settings: the Storage
    SCP's and every SCU's of the PACS panel."""
    from viewer.net.association import Local

    return Local(settings.local, settings.network)

