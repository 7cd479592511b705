"""STOW-RS with IN_FLIGHT requests at once (viewer.net.web.stow), against a loopback HTTP
server that answers like Orthanc (only once it has the whole body, here after a pause): the
requests overlap, results come back in the order of the files, progress counts up once per
file, and a request failing part way leaves the others' files stored and its own listed as
not sent."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.net.web_peers import scripted_server, send
from viewer.config import DicomWebService, Node
from viewer.dicom.demo import write_ct_series
from viewer.net.store_scu import Outcome, SendInterrupted
from viewer.net.web import stow

pytestmark = pytest.mark.timeout(60)


class _Server:
    """Stores every instance of a request after a pause; refuses a request holding `refuse`."""

    def __init__(self, uids: list[str], refuse: str = "") -> None:
        self.uids = uids
        self.refuse = refuse
        self.active = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def __call__(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        with self.lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        time.sleep(0.3)  # storing: the next request's body arrives meanwhile
        with self.lock:
            self.active -= 1
        present = [uid for uid in self.uids if uid.encode("ascii") in body]
        if self.refuse in present:
            send(handler, 500, b'{"Message": "disk on fire"}', "application/json")
            return
        answer = {"00081199": {"vr": "SQ", "Value": [
            {"00081155": {"vr": "UI", "Value": [uid]}} for uid in present]}}
        send(handler, 200, json.dumps(answer).encode(), "application/dicom+json")


def _files(tmp_path: Path, count: int) -> tuple[list[Path], list[str]]:
    files = write_ct_series(tmp_path / "ct", count, 16, 16)
    return files, [str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in files]


def _node(url: str) -> Node:
    return Node("WEB", "", "127.0.0.1", 0, dicomweb=DicomWebService(url, retries=0))


def test_requests_overlap_and_results_keep_the_files_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stow, "BATCH", 2)
    files, uids = _files(tmp_path, 7)
    server = _Server(uids)
    steps: list[tuple[int, int]] = []
    with scripted_server(server) as web:
        report = stow.send(_node(web.url), files,
                           lambda done, total, name: steps.append((done, total)))
    assert server.most_at_once == stow.IN_FLIGHT == 2
    assert report.ok and [r.sop_instance_uid for r in report.results] == uids
    assert steps == [(k, 7) for k in range(8)]


def test_a_failed_request_keeps_the_others_and_lists_its_files_not_sent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stow, "BATCH", 2)
    files, uids = _files(tmp_path, 6)
    with scripted_server(_Server(uids, refuse=uids[2])) as web:
        with pytest.raises(SendInterrupted) as raised:
            stow.send(_node(web.url), files)
    report = raised.value.report
    assert "HTTP 500" in raised.value.reason and "disk on fire" in raised.value.reason
    assert [r.sop_instance_uid for r in report.results
            if r.outcome is Outcome.SUCCESS] == uids[:2] + uids[4:]
    assert report.not_sent == (str(files[2]), str(files[3]))
