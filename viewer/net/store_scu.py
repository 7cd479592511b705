"""C-STORE SCU (PS3.4 Annex B, PS3.7 9.1.1): send files to a node over one association.

Presentation contexts (PS3.8 9.3.2.2). Each file's header is read first (only its File Meta
Information, PS3.10 7.1; the pixel data are not touched). For every SOP class in the batch we
offer one context with Explicit VR Little Endian + Implicit VR Little Endian (the fallback that
every SCP accepts), and for every (SOP class, stored transfer syntax) pair whose syntax is not
one of those two, a context with that syntax alone, so that the peer can accept it beside the
fallback. A file goes out as stored when its own syntax was accepted, read from disk in PDU-sized
chunks; otherwise it is decompressed with pydicom and sent in the accepted little endian syntax,
keeping its SOP Instance UID. A-ASSOCIATE allows 128 contexts: the fallbacks come first (a file
without one cannot be sent at all), then the stored-syntax contexts by how many files use them;
files whose stored-syntax context did not fit go through the fallback, and files of SOP classes
beyond 128 are reported failed.

Chunked sending: pynetdicom sends a file given by path from disk in PDU-sized reads only when the
process-wide `pynetdicom._config.STORE_SEND_CHUNKED_DATASET` is set; otherwise it reads the whole
dataset into pydicom and encodes it again (about 2 ms per 512x512 CT image here). We set it once,
for the whole process, the first time `send_files` runs. That is safe for other users: the flag
only changes how `send_c_store(<path>)` works, never `send_c_store(<Dataset>)`, and with it set a
path is sent only under a context of the file's exact transfer syntax (no implicit/explicit
conversion), which is how this module always sends paths. Anyone else in this process passing a
path must do the same, or pass a Dataset.

A peer that aborts, or stops answering, part way is a peer-level failure: `send_files` raises
`SendInterrupted` (a PeerError) whose `report` holds the results of the files handled before the
failure, `stopped` saying why, and `not_sent` listing the rest. Unreachable and rejected peers
raise a plain PeerError before anything was sent. One unreadable file never stops the batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.config import Node
from viewer.jobs import CancelToken, ProgressCallback, no_progress
from viewer.net.association import Local, PeerError, associated, describe

if TYPE_CHECKING:
    from pydicom.dataset import Dataset
    from pynetdicom.association import Association
    from pynetdicom.presentation import PresentationContext


LOGGER = logging.getLogger(__name__)

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
FALLBACK_SYNTAXES = (EXPLICIT_VR_LE, IMPLICIT_VR_LE)
MAX_CONTEXTS = 128  # PS3.8 9.3.2.2: presentation context IDs are odd numbers 1-255

# PS3.4 B.2.3 (Storage), PS3.7 C: what a C-STORE response status means, for people.
_MEANINGS: dict[int, str] = {
    0x0000: "success",
    0xB000: "coercion of data elements: the peer changed some attributes",
    0xB006: "elements discarded: the peer did not keep some attributes",
    0xB007: "data set does not match SOP class: stored anyway",
    0x0117: "invalid SOP instance",
    0x0122: "SOP class not supported",
    0x0124: "not authorised",
    0x0210: "duplicate invocation",
    0x0211: "unrecognised operation",
    0x0212: "mistyped argument",
}
_RANGES: tuple[tuple[int, int, str], ...] = (
    (0xA700, 0xA7FF, "refused: out of resources"),
    (0xA900, 0xA9FF, "error: data set does not match SOP class"),
    (0xC000, 0xCFFF, "error: cannot understand"),
)


class Outcome(StrEnum):
    """How one file fared (the C-STORE status category, PS3.7 C.1)."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True)
class StoreResult:
    """One file: `status` is the peer's C-STORE status, None when it was never sent (then
    `reason` says why). `sent_transfer_syntax_uid` is the syntax it travelled in."""

    path: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    outcome: Outcome
    status: int | None
    reason: str
    sent_transfer_syntax_uid: str = ""

    @property
    def status_hex(self) -> str:
        return "" if self.status is None else f"{self.status:04X}"


@dataclass(frozen=True)
class SendReport:
    """What `send_files` did, in the order of the files given. `stopped` is empty when every
    file was handled, otherwise why the batch ended early (cancelled, peer aborted), and
    `not_sent` lists the files never tried."""

    peer: str
    results: tuple[StoreResult, ...]
    seconds: float
    stopped: str = ""
    not_sent: tuple[str, ...] = field(default_factory=tuple)

    @property
    def succeeded(self) -> list[StoreResult]:
        return [r for r in self.results if r.outcome is Outcome.SUCCESS]

    @property
    def warnings(self) -> list[StoreResult]:
        return [r for r in self.results if r.outcome is Outcome.WARNING]

    @property
    def failed(self) -> list[StoreResult]:
        return [r for r in self.results if r.outcome is Outcome.FAILURE]

    @property
    def ok(self) -> bool:
        """Every file stored (warnings count as stored) and nothing left unsent."""
        return not self.failed and not self.stopped and not self.not_sent


class SendInterrupted(PeerError):
    """The association ended before every file was handled; `report` has what was done."""

    def __init__(self, peer: str, reason: str, report: SendReport) -> None:
        super().__init__(peer, reason)
        self.report = report


def status_meaning(status: int) -> tuple[Outcome, str]:
    """The category and PS3.4 B.2.3 meaning of a C-STORE response status."""
    from pynetdicom.status import code_to_category

    meaning = _MEANINGS.get(status)
    if meaning is None:
        meaning = next((text for low, high, text in _RANGES if low <= status <= high), "")
    category = code_to_category(status)
    if category == "Success":
        return Outcome.SUCCESS, meaning or "success"
    if category == "Warning":
        return Outcome.WARNING, meaning or "warning"
    return Outcome.FAILURE, meaning or ("failure" if category == "Failure" else "unknown status")


@dataclass(frozen=True)
class _Header:
    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    has_meta: bool  # PS3.10 preamble + File Meta: can be sent from disk as it is


def send_files(
    node: Node,
    local: Local,
    items: Sequence[Path],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> SendReport:
    """C-STORE every file of `items` to `node` over one association; the result per file.

    Raises PeerError when no association could be established (nothing sent), and
    SendInterrupted (with the partial report) when the peer aborts or stops answering.
    """
    from pynetdicom import _config

    _config.STORE_SEND_CHUNKED_DATASET = True  # process-wide: see the module docstring
    started = time.perf_counter()
    peer = describe(node)
    total = len(items)
    results: dict[int, StoreResult] = {}
    headers: dict[int, _Header] = {}
    for i, path in enumerate(items):
        header = read_header(path)
        if isinstance(header, str):
            results[i] = StoreResult(str(path), "", "", "", Outcome.FAILURE, None, header)
        else:
            headers[i] = header
    if not headers:
        return SendReport(peer, tuple(results[i] for i in range(total)),
                          time.perf_counter() - started)
    contexts = plan_contexts([(h.sop_class_uid, h.transfer_syntax_uid) for h in headers.values()])
    done = len(results)
    progress(done, total, "")
    stopped = ""
    interrupted = False
    with associated(node, local, contexts) as assoc, _reactor_held(assoc):
        for i, header in headers.items():
            if cancel is not None and cancel.cancelled:
                stopped = "cancelled"
                break
            if _ended(assoc):
                stopped, interrupted = "the association ended (aborted by the peer)", True
                break
            result = _send_one(assoc, header, local, message_id=done % 0xFFFF + 1)
            results[i] = result
            done += 1
            progress(done, total, header.path.name)
            if result.status is None and _ended(assoc):
                stopped, interrupted = result.reason, True
                break
    handled = tuple(results[i] for i in range(total) if i in results)
    not_sent = tuple(str(items[i]) for i in range(total) if i not in results)
    report = SendReport(peer, handled, time.perf_counter() - started, stopped, not_sent)
    LOGGER.info("sent %d of %d files to %s in %.2f s", len(report.succeeded) +
                len(report.warnings), total, peer, report.seconds)
    if interrupted:
        raise SendInterrupted(peer, f"{stopped}; {len(not_sent)} file(s) not sent", report)
    return report


def plan_contexts(pairs: Iterable[tuple[str, str]]) -> list[PresentationContext]:
    """The presentation contexts to offer for files of these (SOP class, transfer syntax)
    pairs, at most 128 (see the module docstring for the order)."""
    from pynetdicom.presentation import build_context

    counts = Counter(pairs)
    by_class: Counter[str] = Counter()
    for (sop_class, _), n in counts.items():
        by_class[sop_class] += n
    classes = [c for c, _ in by_class.most_common()][:MAX_CONTEXTS]
    contexts = [build_context(c, list(FALLBACK_SYNTAXES)) for c in classes]
    offered = set(classes)
    own = [(pair, n) for pair, n in counts.most_common()
           if pair[1] not in FALLBACK_SYNTAXES and pair[0] in offered]
    for (sop_class, syntax), _ in own[: MAX_CONTEXTS - len(contexts)]:
        contexts.append(build_context(sop_class, syntax))
    return contexts


def read_header(path: Path) -> _Header | str:
    """The UIDs needed to send `path`, or why it cannot be sent."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError
    from pynetdicom.dsutils import split_dataset

    try:
        meta, _ = split_dataset(path)
        has_meta = True
    except InvalidDicomError:  # no PS3.10 preamble: maybe a bare dataset
        meta, has_meta = None, False
    except (OSError, ValueError, EOFError) as exc:
        return _os_reason(exc)
    try:
        if meta is not None and all(
            k in meta for k in ("MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID",
                                "TransferSyntaxUID")
        ):
            return _Header(path, str(meta.MediaStorageSOPClassUID),
                           str(meta.MediaStorageSOPInstanceUID), str(meta.TransferSyntaxUID),
                           has_meta)
        ds = dcmread(path, stop_before_pixels=True, force=True)
        sop_class = str(ds.get("SOPClassUID", ""))
        sop_instance = str(ds.get("SOPInstanceUID", ""))
    except (OSError, ValueError, EOFError, InvalidDicomError) as exc:
        return _os_reason(exc)
    if not sop_class or not sop_instance:
        return "not a DICOM file (no SOP Class UID or SOP Instance UID)"
    # A bare dataset: pydicom guessed its encoding (PS3.5 A.1, implicit VR LE by default)
    syntax = EXPLICIT_VR_LE if not ds.original_encoding[0] else IMPLICIT_VR_LE
    return _Header(path, sop_class, sop_instance, syntax, False)


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    return f"not a readable DICOM file: {exc}"


def _send_one(
    assoc: Association, header: _Header, local: Local, message_id: int
) -> StoreResult:
    def result(outcome: Outcome, status: int | None, reason: str, sent: str = "") -> StoreResult:
        return StoreResult(str(header.path), header.sop_instance_uid, header.sop_class_uid,
                           header.transfer_syntax_uid, outcome, status, reason, sent)

    context = _accepted(assoc, header.sop_class_uid, header.transfer_syntax_uid)
    if context is not None and header.has_meta:
        payload: Path | Dataset = header.path  # as stored, in PDU-sized reads from disk
        sent = header.transfer_syntax_uid
    else:
        fallback = context or _fallback(assoc, header.sop_class_uid)
        if fallback is None:
            return result(Outcome.FAILURE, None, _refused_reason(assoc, header))
        sent = str(fallback.transfer_syntax[0])
        try:
            payload = _little_endian(header, sent)
        except _CannotConvert as exc:
            return result(Outcome.FAILURE, None, str(exc))
    try:
        response = assoc.send_c_store(payload, msg_id=message_id)
    except (ValueError, AttributeError, OSError) as exc:  # cannot encode, a file gone meanwhile
        return result(Outcome.FAILURE, None, f"cannot send: {exc}")
    except RuntimeError:  # the association ended between our check and the send
        return result(Outcome.FAILURE, None, "the association ended (aborted by the peer)")
    if "Status" not in response:
        if assoc.acse.is_aborted("a-abort"):
            why = "aborted by the peer during this transfer"
        elif assoc.acse.is_aborted("a-p-abort"):
            why = "the connection closed during this transfer"
        else:  # pynetdicom aborts the association itself on a DIMSE time-out
            why = f"no C-STORE response within {local.timeouts.dimse:g} s"
        return result(Outcome.FAILURE, None, f"the association ended: {why}")
    status = int(response.Status)
    outcome, meaning = status_meaning(status)
    comment = str(response.get("ErrorComment", "") or "").strip()
    return result(outcome, status, f"{meaning}: {comment}" if comment else meaning, sent)


def _ended(assoc: Association) -> bool:
    # with the association's reactor held (below) is_established is not updated on an abort
    return not assoc.is_established or bool(assoc.acse.is_aborted())


class _HeldCheckpoint(threading.Event):
    """Stands in for the association's reactor checkpoint during a batch: `set()` by each
    `send_c_store` is ignored while `held`, so the reactor stays paused between messages."""

    held = True

    def set(self) -> None:
        if not self.held:
            super().set()


@contextmanager
def _reactor_held(assoc: Association) -> Iterator[None]:
    """Keep the association's own reactor thread paused for the whole batch.

    pynetdicom pauses that thread around each send_c_store (it would otherwise take the
    response off the DIMSE queue) and resumes it after. Sending back to back, the next request
    can start before the woken thread has run: `_is_paused` still says True, the next response
    arrives, and the reactor takes it as an "unexpected C-STORE" and drops it; we then wait for
    the DIMSE time-out (seen here about once in six 300-image sends with 128 KiB PDUs). Holding
    it paused once for the batch closes that race, and no send waits for the reactor's 1 ms
    poll. Aborts are still seen: the DUL state machine wakes the DIMSE queue on A-ABORT and on
    a closed connection. The thread is resumed on exit, for the release.
    """
    original = assoc._reactor_checkpoint
    held = _HeldCheckpoint()
    original.clear()
    deadline = time.monotonic() + 5.0
    while not assoc._is_paused and assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.0001)
    assoc._reactor_checkpoint = held
    try:
        yield
    finally:
        assoc._reactor_checkpoint = original
        held.held = False
        held.set()  # a reactor waiting on the stand-in
        original.set()


def _accepted(assoc: Association, sop_class: str, syntax: str) -> PresentationContext | None:
    for cx in assoc.accepted_contexts:
        if cx.abstract_syntax == sop_class and cx.transfer_syntax[0] == syntax:
            return cx
    return None


def _fallback(assoc: Association, sop_class: str) -> PresentationContext | None:
    for syntax in FALLBACK_SYNTAXES:
        cx = _accepted(assoc, sop_class, syntax)
        if cx is not None:
            return cx
    return None


def _refused_reason(assoc: Association, header: _Header) -> str:
    from pydicom.uid import UID

    name = UID(header.sop_class_uid).name or header.sop_class_uid
    offered = {cx.abstract_syntax for cx in assoc.requestor.requested_contexts}
    if header.sop_class_uid not in offered:
        return f"not offered: more than {MAX_CONTEXTS} SOP classes in one send ({name})"
    return f"the peer accepted no presentation context for {name}"


class _CannotConvert(Exception):
    pass


def _little_endian(header: _Header, syntax: str) -> Dataset:
    """The file as a dataset that pynetdicom can encode in `syntax` (explicit or implicit VR
    little endian): decompressed when stored compressed, SOP Instance UID kept (PS3.5 10)."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError
    from pydicom.uid import UID

    try:
        ds = dcmread(header.path, force=True)
    except (OSError, ValueError, EOFError, InvalidDicomError) as exc:
        raise _CannotConvert(_os_reason(exc)) from None
    stored = UID(header.transfer_syntax_uid)
    if stored.is_compressed:
        _decompress(ds, stored)
    elif not stored.is_little_endian:
        raise _CannotConvert(f"stored as {stored.name}, which the peer did not accept")
    if not hasattr(ds, "file_meta") or "TransferSyntaxUID" not in ds.file_meta:
        from pydicom.dataset import FileMetaDataset

        ds.file_meta = getattr(ds, "file_meta", None) or FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = UID(header.transfer_syntax_uid)
    LOGGER.debug("%s: sending as %s", header.path, UID(syntax).name)
    return ds


def _decompress(ds: Dataset, stored: Any) -> None:
    from viewer.dicom.codecs import NoDecoderError, plugin_order

    try:
        plugins = plugin_order(str(stored))
    except NoDecoderError as exc:
        raise _CannotConvert(f"the peer does not accept {stored.name} and {exc}") from None
    errors = []
    for plugin in plugins:
        try:
            ds.decompress(decoding_plugin=plugin, generate_instance_uid=False)
            return
        except Exception as exc:  # noqa: BLE001 - a codec may raise anything; try the next
            errors.append(f"{plugin}: {exc}")
    raise _CannotConvert(f"cannot decompress {stored.name}: {'; '.join(errors)}")
