"""C-ECHO (PS3.7 9.1.5): is the peer there and does it speak DICOM with us?"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pynetdicom.presentation import build_context
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from viewer.config import Node
from viewer.net.association import Local, PeerError, associated, describe


@dataclass(frozen=True)
class EchoResult:
    peer: str
    status: int  # 0x0000 success
    seconds: float  # association, echo and release


def echo(node: Node, local: Local) -> EchoResult:
    """C-ECHO `node`; raises PeerError when it cannot be reached or does not answer."""
    started = time.perf_counter()
    with associated(node, local, [build_context(Verification)]) as assoc:
        status = assoc.send_c_echo()
    if "Status" not in status:
        raise PeerError(describe(node), "no answer to C-ECHO (time-out or aborted)")
    return EchoResult(describe(node), int(status.Status), time.perf_counter() - started)
