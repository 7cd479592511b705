"""STOW-RS (PS3.18 10.5): send stored files to a DICOMweb node, the same `SendReport` as a
C-STORE batch (viewer.net.store_scu), each file's outcome from the server's answer.

Each request's body is a multipart/related of `application/dicom` parts, read from the files
as the connection takes it (`_Body`: its length is known beforehand from the file sizes, so it
goes with a Content-Length, and at most one read block is in memory); files go as they are
stored, in their own transfer syntax. Files are sent in requests of at most BATCH files, so that
cancelling (checked between requests) and a failure part way cost one request.

IN_FLIGHT requests go at once, each on a connection of its own: a server answers a STOW-RS
request only once it has stored all of it (Orthanc reads the whole body, then stores and fsyncs
each instance), so with one request at a time the wire idles while the server stores, and the
server idles while the next body is sent. Two at once overlap the two: 300 CT images into
Orthanc on loopback took 0.6x the time of one at a time in a first run (3 rounds) and 0.89x in
a second (medians of 5 alternating rounds, 2.37 s against 2.66 s; storescu 2.96 s), both on the
shared 2-core VM under load, December 2026. Results are still taken in the order of the files.

The answer (PS3.18 10.5.3.2, DICOM JSON): the Referenced SOP Sequence lists what was stored
(with a Warning Reason when stored with changes), the Failed SOP Sequence what was not, with
its Failure Reason, a PS3.4 B.2.3 status code. A file the server mentions in neither is
reported failed, saying so.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from viewer.config import NetworkTimeouts, Node
from viewer.jobs import CancelToken, ProgressCallback, no_progress
from viewer.net.association import PeerError, describe
from viewer.net.store_scu import (
    Outcome,
    SendInterrupted,
    SendReport,
    StoreResult,
    read_header,
    status_meaning,
)
from viewer.net.web.session import DICOM_JSON, WebSession

LOGGER = logging.getLogger(__name__)

BATCH = 64  # files per STOW-RS request
IN_FLIGHT = 2  # STOW-RS requests sent at once (see above)
BLOCK = 1 << 20  # bytes read from a file at a time

_REFERENCED_SOP_SEQUENCE = "00081199"
_FAILED_SOP_SEQUENCE = "00081198"
_REFERENCED_SOP_INSTANCE_UID = "00081155"
_FAILURE_REASON = "00081197"
_WARNING_REASON = "00081196"


def send(
    node: Node,
    items: Sequence[Path],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    timeouts: NetworkTimeouts | None = None,
) -> SendReport:
    """STOW-RS every file of `items` to `node`; the result per file, in the order given.

    Raises PeerError when a request fails as a whole and none succeeded (unreachable, 401,
    not a DICOMweb service: nothing stored), SendInterrupted (with the partial report) when
    one fails after others stored their files."""
    started = time.perf_counter()
    peer = describe(node)
    total = len(items)
    results: dict[int, StoreResult] = {}
    ready: list[tuple[int, Any]] = []
    for i, path in enumerate(items):
        header = read_header(path)
        if isinstance(header, str):
            results[i] = StoreResult(str(path), "", "", "", Outcome.FAILURE, None, header)
        elif not header.has_meta:
            results[i] = StoreResult(
                str(path), header.sop_instance_uid, header.sop_class_uid,
                header.transfer_syntax_uid, Outcome.FAILURE, None,
                "no File Meta Information: STOW-RS sends DICOM files (PS3.10)")
        else:
            ready.append((i, header))
    progress(len(results), total, "")
    batches = [ready[start:start + BATCH] for start in range(0, len(ready), BATCH)]
    stored, stopped, error = _send_batches(node, batches, timeouts, _Counter(
        progress, len(results), total), cancel)
    if error is not None and not stored:
        raise error  # nothing was stored: unreachable, refused, not a DICOMweb service
    results.update(stored)
    handled = tuple(results[i] for i in range(total) if i in results)
    not_sent = tuple(str(items[i]) for i in range(total) if i not in results)
    report = SendReport(peer, handled, time.perf_counter() - started, stopped, not_sent)
    LOGGER.info("STOW-RS: %d of %d files stored by %s in %.2f s",
                len(report.succeeded) + len(report.warnings), total, peer, report.seconds)
    if stopped and stopped != "cancelled":
        raise SendInterrupted(peer, f"{stopped}; {len(not_sent)} file(s) not sent", report)
    return report


class _Counter:
    """Progress in files whose bytes have gone out, whichever request sent them."""

    def __init__(self, progress: ProgressCallback, done: int, total: int) -> None:
        self._progress = progress
        self._done = done
        self._total = total
        self._lock = threading.Lock()

    def sent(self, k: int, name: str) -> None:
        with self._lock:  # the requests' threads report in turn, counting up
            self._done += 1
            self._progress(self._done, self._total, name)


Batch = list[tuple[int, Any]]  # (index in the files given, its header)


def _send_batches(node: Node, batches: list[Batch], timeouts: NetworkTimeouts | None,
                  counter: _Counter, cancel: CancelToken | None
                  ) -> tuple[dict[int, StoreResult], str, PeerError | None]:
    """Send the batches, IN_FLIGHT requests at a time, each with a session of its own (a
    session is not shared between threads); the results by file index, why sending stopped
    ("cancelled", a failed request's reason, or ""), and the first failed request's error.
    After a cancel or a failure no further request starts; those under way are finished."""

    def store(batch: Batch) -> list[StoreResult]:
        with WebSession(node, timeouts) as web:
            return _store(web, [h for _, h in batch], counter.sent)

    results: dict[int, StoreResult] = {}
    stopped = ""
    error: PeerError | None = None
    waiting = iter(batches)
    under_way: deque[tuple[Batch, Future[list[StoreResult]]]] = deque()
    with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="stow-rs") as pool:
        while True:
            while len(under_way) < IN_FLIGHT and not stopped:
                if cancel is not None and cancel.cancelled:
                    stopped = "cancelled"
                    break
                batch = next(waiting, None)
                if batch is None:
                    break
                under_way.append((batch, pool.submit(store, batch)))
            if not under_way:
                break
            batch, future = under_way.popleft()
            try:
                outcomes = future.result()
            except PeerError as exc:
                error = error or exc
                stopped = error.reason
                continue
            for (i, _), result in zip(batch, outcomes, strict=True):
                results[i] = result
    return results, stopped, error


def _store(web: WebSession, headers: list[Any], sending: Callable[[int, str], None]
           ) -> list[StoreResult]:
    """One STOW-RS request for these files; their results from the answer. `sending(k,
    name)` is called as the k-th file's bytes have all been read into the request."""
    boundary = uuid.uuid4().hex
    body = _Body([h.path for h in headers], boundary, sending)
    answer = web.post(["studies"], body,
                      f'multipart/related; type="application/dicom"; boundary={boundary}',
                      DICOM_JSON, len(body))
    response = answer.response
    try:
        document = json.loads(response.content) if response.content.strip() else {}
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        raise PeerError(web.peer, f"the STOW-RS answer (HTTP {response.status_code}) is not "
                        "DICOM JSON")
    stored = {uid: warning for uid, warning in _references(document, _REFERENCED_SOP_SEQUENCE,
                                                            _WARNING_REASON)}
    failed = {uid: reason for uid, reason in _references(document, _FAILED_SOP_SEQUENCE,
                                                          _FAILURE_REASON)}
    results = []
    for header in headers:
        uid = header.sop_instance_uid

        def result(outcome: Outcome, status: int | None, reason: str,
                   header: Any = header) -> StoreResult:
            return StoreResult(str(header.path), header.sop_instance_uid, header.sop_class_uid,
                               header.transfer_syntax_uid, outcome, status, reason,
                               header.transfer_syntax_uid)

        if uid in failed:
            code = failed[uid]
            meaning = status_meaning(code)[1] if code is not None else "refused"
            results.append(result(Outcome.FAILURE, code, f"refused by the server: {meaning}"))
        elif uid in stored:
            code = stored[uid]
            if code:
                results.append(result(Outcome.WARNING, code, status_meaning(code)[1]))
            else:
                results.append(result(Outcome.SUCCESS, 0, "success"))
        else:
            results.append(result(Outcome.FAILURE, None, f"the server's STOW-RS answer (HTTP "
                                  f"{response.status_code}) does not mention it"))
    return results


def _references(document: dict[str, Any], sequence: str, reason_tag: str
                ) -> Iterator[tuple[str, int | None]]:
    """(Referenced SOP Instance UID, its reason code or None) of a sequence of the answer."""
    element = document.get(sequence)
    items = element.get("Value", []) if isinstance(element, dict) else []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        uid = _first(item.get(_REFERENCED_SOP_INSTANCE_UID))
        if not isinstance(uid, str):
            continue
        code = _first(item.get(reason_tag))
        yield uid, code if isinstance(code, int) else None


def _first(element: object) -> object:
    if isinstance(element, dict):
        values = element.get("Value")
        if isinstance(values, list) and values:
            return values[0]
    return None


class _Body:
    """A multipart/related body read from files as it is sent; its length known up front."""

    def __init__(self, paths: list[Path], boundary: str,
                 sent: Callable[[int, str], None]) -> None:
        self._sent = sent
        self._heads = [
            (b"\r\n" if i else b"") + f"--{boundary}\r\nContent-Type: application/dicom\r\n"
            f"Content-Length: {os.path.getsize(p)}\r\n\r\n".encode("ascii")
            for i, p in enumerate(paths)
        ]
        self._tail = f"\r\n--{boundary}--\r\n".encode("ascii")
        self._length = (sum(map(len, self._heads)) + sum(os.path.getsize(p) for p in paths)
                        + len(self._tail))
        self._pieces = self._generate(paths)
        self._current = b""
        self._offset = 0

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces

    def _generate(self, paths: list[Path]) -> Iterator[bytes]:
        for number, (head, path) in enumerate(zip(self._heads, paths, strict=True), 1):
            yield head
            with open(path, "rb") as f:
                while block := f.read(BLOCK):
                    yield block
            self._sent(number, path.name)
        yield self._tail

    def read(self, size: int = -1) -> bytes:
        """At most `size` bytes, b"" at the end (http.client reads the body in blocks until
        then; a short read is fine, and spares copying a file's block into a buffer)."""
        if size is None or size < 0:
            size = BLOCK
        while self._offset >= len(self._current):
            piece = next(self._pieces, None)
            if piece is None:
                return b""
            self._current, self._offset = piece, 0
        out = self._current[self._offset:self._offset + size]
        self._offset += len(out)
        return out
