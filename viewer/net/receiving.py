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

The File Meta Information written at the head of each received file: pynetdicom builds it with
`create_file_meta` (a pydicom FileMetaDataset, every value validated on assignment) and
pydicom's `write_file_meta_info` (written twice, to learn the group length). Profiled here
(py-spy, 300 CT images from storescu into `listen`) that was ~0.9 ms an instance on the thread
that receives. `install()` also replaces those two names in `pynetdicom.dimse_messages` (its only
use of them is this one): when the three UIDs are plain UIDs (digits and dots, at most 64
characters: PS3.5 9.1) the group is encoded here, byte for byte as pydicom encodes it (Explicit
VR Little Endian, PS3.10 7.1); anything else goes through pydicom unchanged. The tests compare
the bytes, and `pynetdicom_sources_hash` pins the code this stands in for.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
import struct
import threading
import weakref
from pathlib import Path
from typing import IO, Any, NamedTuple

import pydicom.filewriter
import pynetdicom.dimse_messages
import pynetdicom.dsutils
from pynetdicom.ae import ApplicationEntity
from pynetdicom.dul import DULServiceProvider

from viewer.archive.store import ReceivingFile, Store

LOGGER = logging.getLogger(__name__)

_ORIGINAL = pynetdicom.dimse_messages.NamedTemporaryFile
_CREATE_FILE_META = pynetdicom.dsutils.create_file_meta
_WRITE_FILE_META_INFO = pydicom.filewriter.write_file_meta_info
_stores: weakref.WeakKeyDictionary[ApplicationEntity, Store] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def receive_into(ae: ApplicationEntity, store: Store) -> None:
    """Let the associations of `ae` receive data sets into `store` (for as long as `ae`
    lives)."""
    install()
    with _lock:
        _stores[ae] = store


def install() -> None:
    """Replace pynetdicom's temporary file factory and File Meta Information writer with ours
    (once; idempotent)."""
    messages: Any = pynetdicom.dimse_messages
    messages.NamedTemporaryFile = _temporary_file
    messages.create_file_meta = create_file_meta
    messages.write_file_meta_info = write_file_meta_info


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


class FileMeta(NamedTuple):
    """The File Meta Information of a received data set, for `write_file_meta_info`."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str


# the Implementation Class UID and Version Name `create_file_meta` writes when not given them
_IMPLEMENTATION: dict[str, str] = _CREATE_FILE_META.__kwdefaults__ or {}
_PLAIN_UID = re.compile(r"[0-9.]{1,64}")
_SHORT_ELEMENT = struct.Struct("<HH2sH")  # Explicit VR LE: group, element, VR, 16-bit length


def create_file_meta(*, sop_class_uid: Any, sop_instance_uid: Any,
                     transfer_syntax: Any) -> Any:
    """pynetdicom's `create_file_meta` for its received data sets: a `FileMeta` when all three
    UIDs are plain, else pynetdicom's FileMetaDataset."""
    uids = (sop_class_uid, sop_instance_uid, transfer_syntax)
    if all(isinstance(uid, str) and _PLAIN_UID.fullmatch(uid) for uid in uids):
        return FileMeta(*(str(uid) for uid in uids))
    return _CREATE_FILE_META(sop_class_uid=sop_class_uid, sop_instance_uid=sop_instance_uid,
                             transfer_syntax=transfer_syntax)


def write_file_meta_info(fp: Any, file_meta: Any) -> None:
    """pydicom's `write_file_meta_info`, encoding a `FileMeta` itself."""
    if not isinstance(file_meta, FileMeta):
        _WRITE_FILE_META_INFO(fp, file_meta)
        return
    fp.write(encode_file_meta(file_meta))


def encode_file_meta(file_meta: FileMeta) -> bytes:
    """The File Meta Information group (PS3.10 Table 7.1-1) as `create_file_meta` and
    `write_file_meta_info` make it: group length, version 00\\01, the three UIDs, pynetdicom's
    Implementation Class UID and Version Name."""
    body = b"".join((
        b"\x02\x00\x01\x00OB\x00\x00\x02\x00\x00\x00\x00\x01",
        _value(0x0002, b"UI", file_meta.sop_class_uid, b"\0"),
        _value(0x0003, b"UI", file_meta.sop_instance_uid, b"\0"),
        _value(0x0010, b"UI", file_meta.transfer_syntax, b"\0"),
        _value(0x0012, b"UI", _IMPLEMENTATION["implementation_uid"], b"\0"),
        _value(0x0013, b"SH", _IMPLEMENTATION["implementation_version"], b" "),
    ))
    return _SHORT_ELEMENT.pack(2, 0, b"UL", 4) + struct.pack("<I", len(body)) + body


def _value(element: int, vr: bytes, text: str, pad: bytes) -> bytes:
    value = text.encode("ascii")
    if len(value) % 2:
        value += pad
    return _SHORT_ELEMENT.pack(2, element, vr, len(value)) + value


def pynetdicom_sources_hash() -> str:
    """sha256 of the code `create_file_meta` and `write_file_meta_info` stand in for:
    pynetdicom's DIMSEMessage.decode_msg (the caller) and create_file_meta, and pydicom's
    write_file_meta_info."""
    digest = hashlib.sha256()
    for function in (pynetdicom.dimse_messages.DIMSEMessage.decode_msg, _CREATE_FILE_META,
                     _WRITE_FILE_META_INFO):
        digest.update(inspect.getsource(function).encode())
    return digest.hexdigest()
