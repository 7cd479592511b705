"""WADO-RS retrieve (PS3.18 10.4) of a study or series into the archive: the same
`RetrieveReport`, progress and cancel as a C-GET (viewer.net.retrieve), and every instance
through the same import (`archive.deferred.DeferredImport`: examined and stored at once, made
durable and indexed in batches, as a C-GET's are: the server keeps its copy).

Streaming: the multipart answer is read in chunks (`multipart.read_parts`); each part is
written, as it arrives, to a file in the store's work folder (`Store.receiving_file`, the file a
Storage SCP receives into, which the store then links into place rather than copy), and handed
to an import thread through a short queue, so that reading the next part overlaps importing the
last. At most a chunk of the body is in memory. The instances are asked for with
`transfer-syntax=*`: the server sends each as it stores it, never transcoded, so the pixel data
stored here are the server's bytes.

A response cut in the middle keeps the instances completed before the cut (their parts ended
with a delimiter) and drops the part being received: the report says so in `error`. Cancelling
(the CancelToken, checked between chunks) closes the connection the same way, with `cancelled`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from viewer.archive.archive import Archive
from viewer.archive.deferred import DeferredImport
from viewer.archive.importer import ImportReport
from viewer.archive.retention import enforce_quota
from viewer.archive.store import ReceivingFile
from viewer.config import NetworkTimeouts, Node
from viewer.jobs import CancelToken
from viewer.net.association import PeerError, describe
from viewer.net.query import QueryLevel
from viewer.net.retrieve import (
    CANCEL,
    SUCCESS,
    Retrieval,
    RetrieveProgressCallback,
    RetrieveReport,
    SubOperations,
)
from viewer.net.web import qido
from viewer.net.web.multipart import MultipartCut, MultipartError, boundary_of, read_parts
from viewer.net.web.session import DICOM_JSON, MULTIPART_DICOM, WebSession

LOGGER = logging.getLogger(__name__)

CHUNK = 256 << 10  # bytes read from the socket at a time
QUEUED_PARTS = 16  # received files waiting for the import thread (on disk, not in memory)


def retrieve(
    node: Node,
    archive: Archive,
    study_uid: str,
    series_uid: str | None = None,
    progress: RetrieveProgressCallback | None = None,
    cancel: CancelToken | None = None,
    timeouts: NetworkTimeouts | None = None,
    sop_instance_uid: str | None = None,
    arrived: Callable[[str], None] | None = None,
) -> RetrieveReport:
    """WADO-RS retrieve of a study (or one series of it, or one instance of that series)
    from `node` into `archive`.

    First a QIDO-RS search tells whether the server has the study or series and how many
    instances to expect (an unknown one: a report with `not_found`, nothing asked); one
    instance is asked for straight away (a progressive viewer wants the slice shown first).
    Raises PeerError when the node cannot be reached, refuses us, or answers something that
    is not a multipart of DICOM instances; a failure after instances arrived is the report's
    `error`. `arrived` is called (on the import thread) with the SOP Instance UID of each
    instance as soon as its file is in the store (linked into place, indexed later): a
    viewer may decode it then.
    """
    started = time.perf_counter()
    if sop_instance_uid is not None and series_uid is None:
        raise ValueError("an instance is retrieved with its series (series_uid)")
    segments = _resource(study_uid, series_uid, sop_instance_uid)  # UIDs checked first
    expected = (1 if sop_instance_uid is not None
                else _expected(node, study_uid, series_uid, timeouts))
    via = "wado-rs"
    if expected is None:
        return RetrieveReport(describe(node), via, study_uid, series_uid, None, SubOperations(),
                              (), expected=0, not_found=True,
                              seconds=time.perf_counter() - started)
    retrieval = Retrieval(progress, cancel, expected)
    deferred = DeferredImport(archive)
    importer = _Importer(archive, node, retrieval, deferred, expected, arrived)
    try:
        with WebSession(node, timeouts) as web:
            answer = web.get(segments, MULTIPART_DICOM, stream=True)
            try:
                kind = answer.content_type.split(";")[0].strip().lower()
                if kind in ("text/html", "application/json", "application/dicom+json", ""):
                    raise PeerError(web.peer, f"not a DICOMweb service: WADO-RS was answered "
                                    f"with {kind or 'no Content-Type'}, not multipart DICOM")
                try:
                    boundary = boundary_of(answer.content_type)
                except MultipartError as exc:
                    raise PeerError(web.peer, f"WADO-RS answer: {exc}") from None
                importer.start()
                _read(answer.response, boundary, archive, importer, retrieval, cancel)
            finally:
                answer.response.close()
    finally:
        importer.finish()
        retrieval.amend(deferred.finish())
    if retrieval.status is None and not retrieval.error:
        retrieval.status = SUCCESS
    retrieval.suboperations = importer.counts()
    report = retrieval.report(describe(node), via, study_uid, series_uid,
                              time.perf_counter() - started)
    enforce_quota(archive)
    LOGGER.info("WADO-RS from %s: %d received, %d imported in %.2f s", report.peer,
                len(report.instances), len(report.imported), report.seconds)
    return report


def metadata(node: Node, study_uid: str, series_uid: str | None = None,
             timeouts: NetworkTimeouts | None = None) -> list[Dataset]:
    """The instances' attributes of a study or series without their bulk data (WADO-RS
    Retrieve Metadata, PS3.18 10.4.1.1.2): what a viewer needs to lay out a study before any
    pixel arrives. Bulk data (Pixel Data) is left empty. Raises PeerError as `retrieve`;
    an instance whose JSON cannot be read is left out, and so is an attribute."""
    segments = [*_resource(study_uid, series_uid, None), "metadata"]
    with WebSession(node, timeouts) as web:
        answer = web.get(segments, DICOM_JSON)
        matches = qido.answer_matches(web, answer)
    return [ds for match in matches if (ds := qido.dataset_of_json(match)[0]) is not None]


def _resource(study_uid: str, series_uid: str | None, sop_instance_uid: str | None
              ) -> list[str]:
    """The WADO-RS resource path (PS3.18 10.4.1.1): UIDs only, never a server's URL."""
    for uid in (study_uid, series_uid, sop_instance_uid):
        if uid is not None and not (uid and all(c.isdigit() or c == "." for c in uid)):
            raise ValueError(f"not a UID: {uid!r}")
    segments = ["studies", study_uid]
    if series_uid:
        segments += ["series", series_uid]
        if sop_instance_uid:
            segments += ["instances", sop_instance_uid]
    return segments


def _expected(node: Node, study_uid: str, series_uid: str | None,
              timeouts: NetworkTimeouts | None) -> int | None:
    """How many instances the study / series holds (QIDO-RS); None when the server has no
    such study or series."""
    count_key = ("NumberOfSeriesRelatedInstances" if series_uid
                 else "NumberOfStudyRelatedInstances")
    keys = {"StudyInstanceUID": study_uid}
    if series_uid:
        keys["SeriesInstanceUID"] = series_uid
    level = QueryLevel.SERIES if series_uid else QueryLevel.STUDY
    found = qido.find(node, level, keys, return_keys=[count_key], timeouts=timeouts)
    if not found.results:
        return None
    number = found.results[0].get(count_key)
    return number if isinstance(number, int) else 0


def _read(response: object, boundary: str, archive: Archive, importer: _Importer,
          retrieval: Retrieval, cancel: CancelToken | None) -> None:
    import requests
    import urllib3

    def open_part(headers: dict[str, str]) -> _PartFile:
        return _PartFile(archive, importer)

    def stop() -> bool:  # cancelled, or the disk is full
        return bool(cancel is not None and cancel.cancelled or retrieval.stopped)

    try:
        parts = read_parts(_chunks(response.raw), boundary, open_part, stop)  # type: ignore[attr-defined]
    except MultipartCut as exc:
        retrieval.error = str(exc)
        return
    except MultipartError as exc:
        retrieval.error = f"malformed multipart answer: {exc}"
        return
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
            OSError) as exc:
        from viewer.net.web.session import _root_cause

        retrieval.error = (f"the response was cut short after {importer.handed} complete "
                           f"instance(s): {_root_cause(exc)}")
        return
    if cancel is not None and cancel.cancelled:
        retrieval.status = CANCEL
        LOGGER.info("WADO-RS cancelled after %d part(s)", parts)


def _chunks(raw: Any) -> Iterator[bytes]:
    """The body as it arrives: `read1` gives whatever came (up to CHUNK), so the bytes before
    a cut still reach the parser (a `read(CHUNK)` that hits the end of a cut body raises and
    loses the bytes it had read). Decoded: servers may gzip an answer (Orthanc does small
    ones) whatever the multipart inside."""
    while data := raw.read1(CHUNK, decode_content=True):
        yield data


class _PartFile:
    """One part: written into a file of the store's work folder; a complete one goes to the
    import thread, an abandoned one (the body was cut inside it) is removed."""

    def __init__(self, archive: Archive, importer: _Importer) -> None:
        self._file = archive.store.receiving_file()
        self._importer = importer

    def write(self, data: bytes) -> int:
        return self._file.write(data)

    def done(self) -> None:
        self._importer.put(self._file)

    def abandon(self) -> None:
        self._file.close()
        Path(self._file.name).unlink(missing_ok=True)


class _Importer:
    """The thread importing received parts, in order, while the next ones arrive."""

    def __init__(self, archive: Archive, node: Node, retrieval: Retrieval,
                 deferred: DeferredImport, expected: int,
                 arrived: Callable[[str], None] | None = None) -> None:
        self._archive = archive
        self._arrived = arrived
        self._node = node
        self._retrieval = retrieval
        self._deferred = deferred
        self._expected = expected
        self._queue: queue.Queue[ReceivingFile | None] = queue.Queue(QUEUED_PARTS)
        self._thread = threading.Thread(target=self._run, name="wado-import", daemon=True)
        self._completed = 0
        self._failed = 0
        self.handed = 0

    def start(self) -> None:
        self._thread.start()

    def put(self, received: ReceivingFile) -> None:
        self.handed += 1
        self._queue.put(received)

    def finish(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def counts(self) -> SubOperations:
        remaining = max(self._expected - self._completed - self._failed, 0)
        return SubOperations(remaining, self._completed, self._failed, 0)

    def _run(self) -> None:
        while (received := self._queue.get()) is not None:
            try:
                self._import(received)
            finally:
                received.close()
                Path(received.name).unlink(missing_ok=True)

    def _import(self, received: ReceivingFile) -> None:
        number = self._completed + self._failed + 1
        label = f"{self._node.name}: instance {number}"
        sop_instance_uid = _sop_instance_uid(received)
        if received.error is not None:
            report = ImportReport(stopped=f"{label}: {received.error.strerror or received.error}")
        else:
            report = self._deferred.add(self._archive, received, label)
        if report.failed or report.stopped:
            self._failed += 1
        else:
            self._completed += 1
        self._retrieval.suboperations = self.counts()
        self._retrieval.record(sop_instance_uid, report)
        if self._arrived is not None and sop_instance_uid and not (report.failed
                                                                   or report.stopped):
            self._arrived(sop_instance_uid)


def _sop_instance_uid(received: ReceivingFile) -> str:
    """The SOP Instance UID of a received Part 10 file, from its File Meta Information."""
    from pydicom.filereader import read_file_meta_info

    try:
        return str(read_file_meta_info(received.name).get("MediaStorageSOPInstanceUID", ""))
    except Exception:  # not a DICOM file: the import says why; no UID to show
        return ""
