"""An MPPS SCP for the tests. No Debian package ships one, so the peer is a pynetdicom SCP
started by the test (as issue 6 allows): it keeps what it was sent and answers as PS3.4 F.7.2
says (0x0112 for an unknown step, 0x0110 once a step has ended)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]

from tests.net.peers import LOOPBACK, free_port


class MppsSCP:
    """`steps`: MPPS SOP Instance UID -> the step as created, then changed; `sets`: how many
    N-SET requests arrived (refused ones too)."""

    def __init__(self) -> None:
        self.steps: dict[str, Dataset] = {}
        self.sets = 0
        self.lock = threading.Lock()
        self.ae = AE(ae_title="RIS")
        self.ae.add_supported_context(ModalityPerformedProcedureStep)
        self.port = free_port()

    def on_create(self, event: evt.Event) -> tuple[int, Dataset | None]:
        req = event.request
        uid = str(req.AffectedSOPInstanceUID)
        with self.lock:
            if uid in self.steps:
                return 0x0111, None
            ds = event.attribute_list
            if ds.get("PerformedProcedureStepStatus") != "IN PROGRESS":
                return 0x0106, None
            self.steps[uid] = ds
        return 0x0000, ds

    def on_set(self, event: evt.Event) -> tuple[int, Dataset | None]:
        uid = str(event.request.RequestedSOPInstanceUID)
        with self.lock:
            self.sets += 1
            step = self.steps.get(uid)
            if step is None:
                return 0x0112, None
            if step.PerformedProcedureStepStatus != "IN PROGRESS":
                return 0x0110, None
            for elem in event.modification_list:
                step[elem.tag] = elem
        return 0x0000, step


@contextlib.contextmanager
def serving_mpps() -> Iterator[MppsSCP]:
    """An MppsSCP (AE title RIS) listening on a free loopback port until the block ends."""
    scp = MppsSCP()
    server = scp.ae.start_server(
        (LOOPBACK, scp.port), block=False,
        evt_handlers=[(evt.EVT_N_CREATE, scp.on_create), (evt.EVT_N_SET, scp.on_set)],
    )
    try:
        yield scp
    finally:
        server.shutdown()
