"""An archive on disk: the managed store and its SQLite index, opened together."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from viewer.archive.index import Index
from viewer.archive.store import Store

if TYPE_CHECKING:
    from viewer.archive.retention import PruneReport, RetentionPolicy

INDEX_NAME = "index.sqlite3"


class Archive:
    """`Archive(root)` opens (creating if needed) the archive in `root`.

    Opening recovers from an interrupted import: temporary files left in the store are removed
    (CLI.md: the archive recovers by itself the next time it is opened). Import workers attach
    with `recover=False`: their importer has recovered and is writing.

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
        if recover:
            self.store.recover()
        self.index = Index(self.root / INDEX_NAME)

    def close(self) -> None:
        self.index.close()
        self.store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
