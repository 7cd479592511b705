"""STOW-RS (PS3.18 10.5): send stored files to a DICOMweb node, the same `SendReport` as a
C-STORE batch (viewer.net.store_scu), each file's outcome from the server's answer.

Each request's body is a multipart/related of `application/dicom` parts, read from the files
as the connection takes it (`_Body`: its length is known beforehand from the file sizes, so it
goes with a Content-Length, and at most one read block is in memory); files go as they are
stored, in their own transfer syntax. Files are sent in requests of at most BATCH files, so that
cancelling (checked between requests) and a failure part way cost one request.

The answer (PS3.18 10.5.3.2, DICOM JSON): the Referenced SOP Sequence lists what was stored
(with a Warning Reason when stored with changes), the Failed SOP Sequence what was not, with
its Failure Reason, a PS3.4 B.2.3 status code. A file the server mentions in neither is
reported failed, saying so.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
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

    Raises PeerError when the first request fails as a whole (unreachable, 401, not a
    DICOMweb service: nothing stored), SendInterrupted (with the partial report) when a later
    one does."""
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
    done = len(results)
    progress(done, total, "")
    stopped = ""
    with WebSession(node, timeouts) as web:
        for start in range(0, len(ready), BATCH):
            if cancel is not None and cancel.cancelled:
                stopped = "cancelled"
                break
            batch = ready[start:start + BATCH]

            def sending(k: int, name: str, before: int = done) -> None:
                progress(before + k, total, name)  # files whose bytes have gone out

            try:
                outcomes = _store(web, [h for _, h in batch], sending)
            except PeerError as exc:
                if not start:
                    raise
                stopped = exc.reason
                break
            for (i, _), result in zip(batch, outcomes, strict=True):
                results[i] = result
            done += len(batch)
    handled = tuple(results[i] for i in range(total) if i in results)
    not_sent = tuple(str(items[i]) for i in range(total) if i not in results)
    report = SendReport(peer, handled, time.perf_counter() - started, stopped, not_sent)
    LOGGER.info("STOW-RS: %d of %d files stored by %s in %.2f s",
                len(report.succeeded) + len(report.warnings), total, peer, report.seconds)
    if stopped and stopped != "cancelled":
        raise SendInterrupted(peer, f"{stopped}; {len(not_sent)} file(s) not sent", report)
    return report


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
