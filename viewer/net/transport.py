"""One entry point per network job, whatever the node speaks: DIMSE (viewer.net.echo, query,
retrieve, store_scu) or DICOMweb (viewer.net.web), picked by the node (`Node.dicomweb`). The
command line and the GUI call these, so both faces get the same transport for the same node,
with the same result types."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from viewer.archive.archive import Archive
from viewer.config import Node
from viewer.jobs import CancelToken, ProgressCallback, no_progress
from viewer.net.association import Local
from viewer.net.echo import EchoResult
from viewer.net.query import FindReport, InformationModel, QueryLevel
from viewer.net.retrieve import RetrieveProgressCallback, RetrieveReport
from viewer.net.store_scu import SendReport


def is_dicomweb(node: Node) -> bool:
    """Whether the verbs reach `node` over DICOMweb."""
    return node.dicomweb is not None


def echo(node: Node, local: Local) -> EchoResult:
    """C-ECHO, or a QIDO-RS probe of a DICOMweb node; PeerError naming the node."""
    if node.dicomweb is not None:
        from viewer.net.web.qido import echo as web_echo

        return web_echo(node, local.timeouts)
    from viewer.net.echo import echo as dimse_echo

    return dimse_echo(node, local)


def find(
    node: Node,
    local: Local,
    level: QueryLevel | str,
    keys: Mapping[str, str | None] | None = None,
    model: InformationModel | str = "study",
    return_keys: Iterable[str] | None = None,
    cancel: CancelToken | None = None,
) -> FindReport:
    """C-FIND, or QIDO-RS (study, series and image levels); see viewer.net.query.find."""
    if node.dicomweb is not None:
        from viewer.net.web.qido import find as web_find

        return web_find(node, level, keys, model, return_keys, cancel, local.timeouts)
    from viewer.net.query import find as dimse_find

    return dimse_find(node, local, level, keys, model, return_keys, cancel)


def retrieve(
    node: Node,
    local: Local,
    archive: Archive,
    study_uid: str,
    series_uid: str | None = None,
    progress: RetrieveProgressCallback | None = None,
    cancel: CancelToken | None = None,
    via: str = "move",
) -> RetrieveReport:
    """C-MOVE (`via` "move") or C-GET ("get"); a DICOMweb node: WADO-RS, whatever `via`."""
    if node.dicomweb is not None:
        from viewer.net.web.wado import retrieve as wado_retrieve

        return wado_retrieve(node, archive, study_uid, series_uid, progress, cancel,
                             local.timeouts)
    from viewer.net.retrieve import get, move

    dimse = move if via == "move" else get
    return dimse(node, local, archive, study_uid, series_uid, progress, cancel)


def send(
    node: Node,
    local: Local,
    files: Sequence[Path],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> SendReport:
    """C-STORE, or STOW-RS to a DICOMweb node; see viewer.net.store_scu.send_files."""
    if node.dicomweb is not None:
        from viewer.net.web.stow import send as stow

        return stow(node, files, progress, cancel, local.timeouts)
    from viewer.net.store_scu import send_files

    return send_files(node, local, files, progress, cancel)
