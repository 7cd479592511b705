"""Our Storage SCP inside the window (PS3.4 Annex B, the Storage Service Class), storing into
the GUI's archive; the PACS panel shows its state.

It runs while the window is open when the config says `[gui] storage_scp = true`. Its
`on_received` callback runs on pynetdicom's association threads: it only emits a Qt signal
(queued to the GUI thread), and the study list is refreshed at most once per REFRESH_MS however
fast instances arrive. The network itself is viewer.net's (this module imports neither
pynetdicom nor sqlite3).
"""

from __future__ import annotations

import logging
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


class StorageService(QObject):
    """Our Storage SCP inside the window, storing into the GUI's archive (PS3.4 Annex B).

    `changed` is emitted when it starts, stops or has received instances; `archive_changed`
    when received instances are in the archive. Both at most once per REFRESH_MS.
    """

    changed = Signal()
    archive_changed = Signal()
    _received = Signal()  # emitted on association threads, delivered queued on ours

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
        from viewer.net.storage_scp import StorageSCP

        scp = StorageSCP(self.archive_root, local_ae(self.settings), port=port,
                         on_received=lambda *_: self._received.emit())
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
        self.changed.emit()
        return True

    def stop(self) -> None:
        scp, self._scp = self._scp, None
        if scp is not None:
            scp.stop()
            self._timer.stop()
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

    def _on_received(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        self.archive_changed.emit()
        self.changed.emit()


def local_ae(settings: Settings) -> Local:
    """Who we are on the network (AE title, port, time-outs), from the settings: the Storage
    SCP's and every SCU's of the PACS panel."""
    from viewer.net.association import Local

    return Local(settings.local, settings.network)

