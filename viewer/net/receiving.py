"""Received data sets are written into the receiving archive's store, not the system temp folder.

With `_config.STORE_RECV_CHUNKED_DATASET` (see viewer.net.storage_scp) pynetdicom's DIMSE layer
writes each incoming C-STORE data set, fragment by fragment, into a file it makes with
`tempfile.NamedTemporaryFile` in the system temporary folder; the handler then imports that file,
which copied every byte once more. And where /tmp is a tmpfs (Debian 13, Fedora, Arch), a large
data set sat in memory after all.

`receive_into(ae, store)` makes the associations of `ae` receive into `store.receiving_file()`
instead: a file in the store's own work directory, hashed as it arrives and already being
written back, which `Store.write` links into place without copying it. pynetdicom looks the
factory up by name in `pynetdicom.dimse_messages` (`decode_msg`, on the association's DUL
thread), so `install()` replaces that name; any association whose AE has no store, or whose store
cannot make the file (a full disk), gets pynetdicom's own temporary file as before. The handler
picks up the file with `received_data_set(request)`.
"""

from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path
from typing import IO, Any

import pynetdicom.dimse_messages
from pynetdicom.ae import ApplicationEntity
from pynetdicom.dul import DULServiceProvider

from viewer.archive.store import ReceivingFile, Store

LOGGER = logging.getLogger(__name__)

_ORIGINAL = pynetdicom.dimse_messages.NamedTemporaryFile
_stores: weakref.WeakKeyDictionary[ApplicationEntity, Store] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def receive_into(ae: ApplicationEntity, store: Store) -> None:
    """Let the associations of `ae` receive data sets into `store` (for as long as `ae`
    lives)."""
    install()
    with _lock:
        _stores[ae] = store


def install() -> None:
    """Replace pynetdicom's temporary file factory with ours (once; idempotent)."""
    pynetdicom.dimse_messages.NamedTemporaryFile = _temporary_file  # type: ignore[assignment]


def received_data_set(request: Any) -> Path | ReceivingFile | None:
    """What pynetdicom received a C-STORE request's data set into: our ReceivingFile, the path
    of its own temporary file, or None when it kept the data set in memory."""
    received = getattr(request, "_dataset_file", None)
    if isinstance(received, ReceivingFile):
        return received
    path = getattr(request, "_dataset_path", None)
    return path if isinstance(path, Path) else None


def _temporary_file(*args: Any, **kwargs: Any) -> IO[bytes] | ReceivingFile:
    store = _store_of_this_association()
    if store is not None:
        try:
            return store.receiving_file()
        except OSError as exc:  # a full disk: receive anyway, the import reports it
            LOGGER.warning("cannot receive into the store (%s): using the temporary folder",
                           exc.strerror or exc)
    return _ORIGINAL(*args, **kwargs)


def _store_of_this_association() -> Store | None:
    thread = threading.current_thread()  # decode_msg runs on the association's DUL thread
    if not isinstance(thread, DULServiceProvider):
        return None
    ae = getattr(getattr(thread, "assoc", None), "ae", None)
    if ae is None:
        return None
    with _lock:
        return _stores.get(ae)
