"""An archive on disk: the managed store and its SQLite index, opened together."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from viewer.archive.index import ArchiveIndexError, Index
from viewer.archive.journal import Recovered, replay
from viewer.archive.store import Store

if TYPE_CHECKING:
    from viewer.archive.retention import PruneReport, RetentionPolicy

LOGGER = logging.getLogger(__name__)

INDEX_NAME = "index.sqlite3"


class Archive:
    """`Archive(root)` opens (creating if needed) the archive in `root`.

    Opening recovers from an interrupted import or receive before anything reads the index
    (CLI.md: the archive recovers by itself the next time it is opened): the files each dead
    writer journaled and nobody indexed are indexed (or removed when they cannot be), and its
    temporary files are removed (see archive/journal.py). `recovered` says what was done.
    Import workers attach with `recover=False`: their importer has recovered and is writing.

    `retention`: the quota and whose storage commitment counts (viewer.archive.retention);
    with it, imports, retrieves and the Storage SCP prune the store when it grows past the
    quota, and `last_prune` holds what the latest of those prunes did.
    """

    def __init__(
        self, root: Path, recover: bool = True, retention: RetentionPolicy | None = None
    ) -> None:
        self.retention = retention
        self.last_prune: PruneReport | None = None
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.root)
        self.index = Index(self.root / INDEX_NAME)
        self.recovered = Recovered()
        if recover:
            self.recover()

    def recover(self) -> Recovered:
        """Replay the journals of dead writers and remove their temporary files; a journal
        that cannot be replayed now (the index busy or the disk full) stays for the next
        opening. Reads only `store/.tmp`, never the whole store."""
        try:
            self.store.recover(lambda journal: replay(self, journal, self.recovered))
        except (OSError, sqlite3.Error, ArchiveIndexError) as exc:
            LOGGER.warning("recovery of an interrupted import is left for the next opening: %s",
                           exc)
        if self.recovered.indexed or self.recovered.removed:
            LOGGER.info("recovered an interrupted import: %d file(s) indexed, %d removed",
                        len(self.recovered.indexed), len(self.recovered.removed))
        return self.recovered

    def close(self) -> None:
        self.index.close()
        self.store.close()

    def study_files(self, study_uid: str) -> list[Path]:
        """The stored files of a study, series by series (empty when unknown)."""
        return [self.store.absolute(row.store_path)
                for series in self.index.series(study_uid)
                for row in self.index.instances(series.series_instance_uid)]

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def committed_instances(root: Path) -> int:
    """How many instances the index of the archive in `root` holds, as another process sees
    them committed (a read-only peek, taking no lock: a benchmark timing when an import's
    rows are visible); 0 when there is no index yet or it cannot be read now."""
    path = Path(root) / INDEX_NAME
    if not path.is_file():
        return 0
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0.1)
    except sqlite3.Error:
        return 0
    try:
        return int(db.execute("SELECT COUNT(*) FROM instances").fetchone()[0])
    except sqlite3.Error:  # being created, or its schema being applied
        return 0
    finally:
        db.close()
