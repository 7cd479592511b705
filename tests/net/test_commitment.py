"""Storage commitment after a send (issue 6 item 6): Orthanc answers on a new association to
our port; a pynetdicom SCP in the test answers on the same association, with failures, after
a report for another transaction, or never (the wait is bounded)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import StorageCommitmentPushModel  # type: ignore[attr-defined]

from tests.net.peers import LOOPBACK, OUR_AE, free_port, run_orthanc, write_config
from viewer.cli import main
from viewer.config import LocalNode, Node
from viewer.dicom.demo import write_ct_series
from viewer.net.association import Local, settle_before_sends
from viewer.net.commitment import request_commitment

pytestmark = pytest.mark.timeout(120)


def test_send_commit_to_orthanc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_ct_series(tmp_path / "ct", 5, 32, 32)
    port = free_port()
    with run_orthanc(tmp_path / "orthanc", {"US": (OUR_AE, LOOPBACK, port)}) as pacs:
        config = write_config(tmp_path / "config.toml", {"PACS": (pacs.ae_title, pacs.port)},
                              local_port=port)
        assert main(["--config", str(config), "send", "PACS", str(tmp_path / "ct"),
                     "--commit", "--commit-wait", "30", "--json"]) == 0
        document = json.loads(capsys.readouterr().out)
    commitment = document["commitment"]
    assert commitment["answered"] and commitment["failed"] == []
    assert sorted(commitment["committed"]) == sorted(
        str(dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files)
    assert commitment["via"] in ("new association", "same association")


class CommitSCP:
    """Answers N-ACTION, then sends the report on the same association (J.3.3): first one for
    another transaction when `stray`, then the real one, failing `fail` instances."""

    def __init__(self, fail: set[str], answer: bool = True, stray: bool = False) -> None:
        self.fail, self.answer, self.stray = fail, answer, stray
        self.ae = AE(ae_title="ARCHIVE")
        self.ae.add_supported_context(StorageCommitmentPushModel, scu_role=True,
                                      scp_role=True)
        self.port = free_port()
        self.stray_status: int | None = None

    def on_action(self, event: evt.Event) -> tuple[int, None]:
        request = event.action_information
        if self.answer:
            # pynetdicom's own race (issue 875): two send_n_event_report in a row on an acceptor
            # can lose the second response to the reactor; we answer fast enough to hit it
            settle_before_sends(event.assoc)
            threading.Thread(target=self._report, args=(event.assoc, request),
                             daemon=True).start()
        return 0x0000, None

    def _report(self, assoc: object, request: Dataset) -> None:
        time.sleep(0.2)  # after the N-ACTION response
        if self.stray:
            other = Dataset()
            other.TransactionUID = "1.2.3.999"
            other.ReferencedSOPSequence = []
            status, _ = assoc.send_n_event_report(  # type: ignore[attr-defined]
                other, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")
            self.stray_status = int(status.Status) if "Status" in status else None
        info = Dataset()
        info.TransactionUID = request.TransactionUID
        ok, bad = [], []
        for ref in request.ReferencedSOPSequence:
            item = Dataset()
            item.ReferencedSOPClassUID = ref.ReferencedSOPClassUID
            item.ReferencedSOPInstanceUID = ref.ReferencedSOPInstanceUID
            if ref.ReferencedSOPInstanceUID in self.fail:
                item.FailureReason = 0x0112
                bad.append(item)
            else:
                ok.append(item)
        info.ReferencedSOPSequence = ok
        if bad:
            info.FailedSOPSequence = bad
        assoc.send_n_event_report(  # type: ignore[attr-defined]
            info, 2 if bad else 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")


@pytest.fixture
def commit_scp(request: pytest.FixtureRequest) -> Iterator[CommitSCP]:
    scp = CommitSCP(**getattr(request, "param", {"fail": set()}))
    server = scp.ae.start_server((LOOPBACK, scp.port), block=False,
                                 evt_handlers=[(evt.EVT_N_ACTION, scp.on_action)])
    try:
        yield scp
    finally:
        server.shutdown()


INSTANCES = [("1.2.840.10008.5.1.4.1.1.2", f"1.2.3.{n}") for n in range(4)]


@pytest.mark.parametrize("commit_scp", [{"fail": {"1.2.3.2"}, "stray": True}], indirect=True)
def test_same_association_with_a_failure_and_a_stray_report(commit_scp: CommitSCP) -> None:
    node = Node("ARCHIVE", "ARCHIVE", LOOPBACK, commit_scp.port)
    result = request_commitment(node, Local(LocalNode(OUR_AE, free_port())), INSTANCES, 10)
    assert result.answered and result.via == "same association"
    assert sorted(result.committed) == ["1.2.3.0", "1.2.3.1", "1.2.3.3"]
    assert result.failed == (("1.2.3.2", "0x0112 no such object instance (the peer does not "
                                         "have it)"),)
    assert not result.ok
    assert commit_scp.stray_status == 0x0119  # the report for another transaction: refused


@pytest.mark.parametrize("commit_scp", [{"fail": set(), "answer": False}], indirect=True)
def test_never_answered_is_reported_after_a_bounded_wait(commit_scp: CommitSCP) -> None:
    node = Node("ARCHIVE", "ARCHIVE", LOOPBACK, commit_scp.port)
    started = time.monotonic()
    result = request_commitment(node, Local(LocalNode(OUR_AE, free_port())), INSTANCES, 2)
    assert time.monotonic() - started < 10
    assert not result.answered and not result.ok and result.committed == ()
