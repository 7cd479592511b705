"""A study of a DICOMweb node opened without retrieving it first, as progressive viewers do
(issue 18 item 2): one instance of the first series at once (a QIDO-RS search for one, then
WADO-RS for it: the viewer shows it while the rest is described, ~0.1 s on loopback where
the metadata of 300 CT images takes ~0.7 s to send and read); then the series' metadata
(WADO-RS Retrieve Metadata), laid out as stacks
whose frames name the store paths the instances will have (paths come from hashes of the UIDs,
so they are known before a byte of pixel data arrives); then the instances the viewer asks for
(`want`: the visible slice, then its neighbours), each retrieved alone; then the rest of each
series in the background, streamed into the archive by the same WADO-RS retrieve as the
`retrieve` verb (`wado.retrieve`, through `archive.importer`).

Two threads: the *priority* one fetches, one at a time, the most wanted instance that has not
arrived (what the reader looks at now: when they scroll, what they scroll to comes next); the
*bulk* one streams the series, the shown one first, and starts once the first instance has
arrived, so that it does not compete with it. An instance both may bring is stored once (the
second copy is "already present"). Each instance's file is linked into place whole, or not at
all: cancelling (`cancel`, when the window closes) or a server gone mid-way leaves in the store
only what arrived complete, indexed when the stream ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydicom.dataset import Dataset

from viewer.archive.archive import Archive
from viewer.archive.store import InstanceKey, InvalidUID, relative_path
from viewer.config import NetworkTimeouts, Node
from viewer.dicom.stack import Stack, stacks_of_headers
from viewer.jobs import CancelToken
from viewer.net.association import PeerError
from viewer.net.query import FindResult, QueryLevel
from viewer.net.retrieve import RetrieveReport
from viewer.net.web import qido, wado
from viewer.net.web.session import DICOM_JSON, WebSession

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyLayout:
    """What the metadata says of a study: its image series as stacks (frames at the store
    paths the instances will have), and which instance each path is."""

    study_uid: str
    stacks: list[Stack]
    instances: dict[str, tuple[str, str]]  # absolute store path -> (series UID, SOP UID)


def series_in_order(node: Node, study_uid: str,
                    timeouts: NetworkTimeouts | None = None) -> list[str]:
    """The study's Series Instance UIDs by Series Number (QIDO-RS); PeerError "has no study"
    when the node has none of it."""
    found = qido.find(node, QueryLevel.SERIES, {"StudyInstanceUID": study_uid},
                      return_keys=["SeriesInstanceUID", "SeriesNumber"], timeouts=timeouts)
    if not found.results:
        raise PeerError(found.peer, f"has no study {study_uid} (QIDO-RS found no series)")

    def number(result: FindResult) -> tuple[bool, int]:
        value = result.get("SeriesNumber")
        return (False, value) if isinstance(value, int) else (True, 0)

    return [str(r.get("SeriesInstanceUID")) for r in sorted(found.results, key=number)]


def one_instance(node: Node, study_uid: str, series_uid: str,
                 timeouts: NetworkTimeouts | None = None) -> str:
    """The SOP Instance UID of one instance of the series (QIDO-RS, limit=1: the server
    answers from its index at once), "" when it lists none."""
    keys = {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}
    with WebSession(node, timeouts) as web:
        answer = web.get(["studies", study_uid, "series", series_uid, "instances"],
                         DICOM_JSON, "limit=1&includefield=00080018")
        matches = qido.answer_matches(web, answer)
    for match in matches:
        ds, _ = qido.dataset_of_json(match)
        if ds is None:
            continue
        uid = str(ds.get("SOPInstanceUID", "") or "")
        if uid and all(str(ds.get(k, "")) in ("", v) for k, v in keys.items()):
            return uid
    return ""


def study_layout(node: Node, archive: Archive, study_uid: str, series_uids: Sequence[str],
                 timeouts: NetworkTimeouts | None = None,
                 cancel: CancelToken | None = None) -> StudyLayout:
    """Each series' metadata (WADO-RS), as stacks whose frames are where the archive will
    store each instance, in the order of `series_uids`. Raises PeerError as the verbs do."""
    headers: list[tuple[str, Dataset]] = []
    instances: dict[str, tuple[str, str]] = {}
    for series_uid in series_uids:
        if cancel is not None and cancel.cancelled:
            break
        for ds in wado.metadata(node, study_uid, series_uid, timeouts):
            sop_uid = str(ds.get("SOPInstanceUID", "") or "")
            path = store_path(archive, study_uid, series_uid, sop_uid)
            if path is None or str(ds.get("SeriesInstanceUID", "")) != series_uid:
                continue  # not an instance we could store: nothing to show for it
            headers.append((path, ds))
            instances[path] = (series_uid, sop_uid)
    stacks = stacks_of_headers(headers)
    for stack in stacks:
        stack.info = replace(stack.info, study_instance_uid=study_uid)
    order = {uid: n for n, uid in enumerate(series_uids)}
    stacks.sort(key=lambda s: order.get(s.series_uid, len(order)))
    return StudyLayout(study_uid, stacks, instances)


def store_path(archive: Archive, study_uid: str, series_uid: str, sop_uid: str) -> str | None:
    """The absolute path the archive stores that instance at (None: a UID is not one)."""
    try:
        return str(archive.store.absolute(relative_path(
            InstanceKey(study_uid, series_uid, sop_uid))))
    except (InvalidUID, ValueError):
        return None


@dataclass
class StreamOutcome:
    """How a stream ended: what arrived, and the one line of what went wrong ("" when
    nothing did); `cancelled` when it was stopped."""

    arrived: int = 0
    expected: int = 0
    error: str = ""
    cancelled: bool = False
    reports: list[RetrieveReport] = field(default_factory=list)


class StudyStream:
    """A study of `node` into `archive` as a viewer needs it: one instance first, then the
    layout, then the wanted instances first and the rest in the background.

    Callbacks, on worker threads: `on_head(path)` once, with the file of the first instance
    (to show while the rest is described); `on_layout(StudyLayout)` once; `on_arrived(path)`
    as each instance's file is in the store; `on_finished(StreamOutcome)` once at the end
    (everything arrived, the server went away, or `cancel`). `want` and `cancel` may be
    called from any thread.
    """

    def __init__(self, node: Node, archive: Archive, study_uid: str, *,
                 on_head: Callable[[str], None], on_layout: Callable[[StudyLayout], None],
                 on_arrived: Callable[[str], None],
                 on_finished: Callable[[StreamOutcome], None],
                 timeouts: NetworkTimeouts | None = None) -> None:
        self.node = node
        self.archive = archive
        self.study_uid = study_uid
        self.timeouts = timeouts
        self.token = CancelToken()
        self._on_head = on_head
        self._on_layout = on_layout
        self._on_arrived = on_arrived
        self._on_finished = on_finished
        self.layout: StudyLayout | None = None
        self._series: list[str] = []
        self._by_uid: dict[str, str] = {}  # SOP Instance UID -> path, from the layout
        self._paths: frozenset[str] = frozenset()  # the layout's
        self._lock = threading.Condition()
        self._arrived: set[str] = set()  # paths
        self._early: set[str] = set()  # SOP Instance UIDs arrived before the layout
        self._wanted: list[str] = []  # paths, most wanted first
        self._tried: set[str] = set()  # fetched alone once: not again (a failure stays one)
        self._bulk_done = False
        self._first = threading.Event()  # the first instance arrived, or the stream stops
        self._outcome = StreamOutcome()
        self._threads = [threading.Thread(target=self._priority, name="web-priority",
                                          daemon=True),
                         threading.Thread(target=self._bulk, name="web-bulk", daemon=True)]
        self._running = len(self._threads)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def pending(self, path: str) -> bool:
        """Whether `path` is an instance of the layout that has not arrived yet."""
        with self._lock:
            return path in self._paths and path not in self._arrived

    def want(self, paths: Sequence[str]) -> None:
        """The instances the viewer waits for, most wanted first (replaces the last list)."""
        with self._lock:
            self._wanted = list(paths)
            self._lock.notify_all()

    def cancel(self) -> None:
        """Stop both threads; what arrived whole stays (and is indexed), the rest is dropped."""
        self.token.cancel()
        self._first.set()
        with self._lock:
            self._lock.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether both threads ended within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            thread.join(left)
        return not any(t.is_alive() for t in self._threads)

    # -- the priority thread: the head, the layout, then what the viewer waits for -------------
    def _priority(self) -> None:
        try:
            self._head()
            if self._stopping():
                return
            layout = study_layout(self.node, self.archive, self.study_uid, self._series,
                                  self.timeouts, self.token)
            if self.token.cancelled:
                return
            self._set_layout(layout)
            while (path := self._next_wanted()) is not None:
                series_uid, sop_uid = layout.instances[path]
                self._fetch(series_uid, sop_uid)
        except PeerError as exc:
            self._fail(str(exc))
        except Exception as exc:  # a worker thread must end by telling the viewer why, in
            # one line (after a cancel, the archive may be closed under it: nothing to tell)
            LOGGER.debug("priority fetch", exc_info=True)
            self._fail(f"{self.node.name}: {exc}")
        finally:
            self._first.set()
            self._done()

    def _head(self) -> None:
        self._series = series_in_order(self.node, self.study_uid, self.timeouts)
        sop_uid = one_instance(self.node, self.study_uid, self._series[0], self.timeouts)
        if not sop_uid:
            raise PeerError(self._peer(), f"lists no instance of study {self.study_uid}")
        path = store_path(self.archive, self.study_uid, self._series[0], sop_uid)
        if path is None:
            raise PeerError(self._peer(), f"answered an invalid UID: {sop_uid!r}")
        if not Path(path).is_file():
            self._fetch(self._series[0], sop_uid)
        self._first.set()
        if Path(path).is_file() and not self.token.cancelled:
            self._on_head(path)

    def _set_layout(self, layout: StudyLayout) -> None:
        present = [p for p in layout.instances if Path(p).is_file()]
        with self._lock:
            self.layout = layout
            self._by_uid = {sop: path for path, (_, sop) in layout.instances.items()}
            self._paths = frozenset(layout.instances)
            self._arrived.update(present)
            self._arrived.update(self._by_uid[u] for u in self._early if u in self._by_uid)
            self._outcome.arrived = len(self._arrived)
            self._outcome.expected = len(layout.instances)
        self._on_layout(layout)

    def _fetch(self, series_uid: str, sop_uid: str) -> None:
        report = wado.retrieve(self.node, self.archive, self.study_uid, series_uid,
                               cancel=self.token, timeouts=self.timeouts,
                               sop_instance_uid=sop_uid, arrived=self._arrival)
        self._keep(report)

    def _next_wanted(self) -> str | None:
        """The most wanted path not arrived nor tried; waits for one; None when stopping."""
        with self._lock:
            while True:
                if self._stopping_locked() or len(self._arrived) >= self._outcome.expected:
                    return None
                chosen = next((p for p in self._wanted if p in self._paths
                               and p not in self._arrived and p not in self._tried), None)
                if chosen is not None:
                    self._tried.add(chosen)
                    return chosen
                if self._bulk_done:
                    return None  # nothing more will come: what is wanted failed once
                self._lock.wait(0.5)

    # -- the bulk thread: every series, streamed, the shown one first ---------------------------
    def _bulk(self) -> None:
        try:
            self._first.wait()
            for series_uid in self._series:
                if self._stopping():
                    break
                report = wado.retrieve(self.node, self.archive, self.study_uid, series_uid,
                                       cancel=self.token, timeouts=self.timeouts,
                                       arrived=self._arrival)
                self._keep(report)
        except PeerError as exc:
            self._fail(str(exc))
        except Exception as exc:  # a worker thread must end by telling the viewer why, in
            # one line (after a cancel, the archive may be closed under it: nothing to tell)
            LOGGER.debug("bulk fetch", exc_info=True)
            self._fail(f"{self.node.name}: {exc}")
        finally:
            with self._lock:
                self._bulk_done = True
                self._lock.notify_all()
            self._done()

    # -- shared ------------------------------------------------------------------------------
    def _arrival(self, sop_uid: str) -> None:
        with self._lock:
            path = self._by_uid.get(sop_uid)
            if path is None:  # before the layout: kept by UID
                self._early.add(sop_uid)
                return
            if path in self._arrived:
                return
            self._arrived.add(path)
            self._outcome.arrived = len(self._arrived)
            self._lock.notify_all()
        self._on_arrived(path)

    def _peer(self) -> str:
        from viewer.net.association import describe

        return describe(self.node)

    def _stopping(self) -> bool:
        with self._lock:
            return self._stopping_locked()

    def _stopping_locked(self) -> bool:
        return self.token.cancelled or bool(self._outcome.error)

    def _keep(self, report: RetrieveReport) -> None:
        with self._lock:
            self._outcome.reports.append(report)
            if report.error and not self.token.cancelled and not self._outcome.error:
                self._outcome.error = f"{report.peer}: {report.error}"
            elif report.stopped and not self._outcome.error:
                self._outcome.error = report.stopped
            self._lock.notify_all()

    def _fail(self, reason: str) -> None:
        with self._lock:
            if not self._outcome.error and not self.token.cancelled:
                self._outcome.error = reason
            self._lock.notify_all()

    def _done(self) -> None:
        with self._lock:
            self._running -= 1
            last = self._running == 0
            self._lock.notify_all()
        if last:
            self._outcome.cancelled = self.token.cancelled
            self._on_finished(self._outcome)
