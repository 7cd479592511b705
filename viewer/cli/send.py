"""`dicom-viewer send NODE STUDY_UID|PATH... [--commit] [--json]`: C-STORE studies of the
archive, files and folders to a configured node, over one association (viewer.net.store_scu),
then optionally storage commitment for what was stored (viewer.net.commitment)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from viewer.cli import CLIError, config_node, files_or_studies, load_config, open_archive

if TYPE_CHECKING:
    from viewer.config import Node, Settings
    from viewer.net.commitment import CommitResult
    from viewer.net.store_scu import SendReport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "send",
        help="C-STORE (DICOMweb: STOW-RS) studies from the archive, files or folders to a "
        "configured node",
        description="Each file goes in its stored transfer syntax when the node accepts it, "
        "otherwise decompressed to explicit or implicit VR little endian. Exit 0 when every "
        "file was stored (warnings included), 1 when some failed, 2 when nothing could be sent.",
    )
    p.add_argument("node", help="a node name from `nodes list`")
    p.add_argument("items", nargs="+", metavar="STUDY_UID|PATH",
                   help="a Study Instance UID in the archive, a file or a folder (recursive)")
    p.add_argument("--commit", action="store_true",
                   help="then ask the node to commit the instances stored (storage commitment);"
                   " its answer comes on the same association or on a new one to our port")
    p.add_argument("--commit-wait", type=float, default=60.0, metavar="S",
                   help="how long to wait for the commitment answer (60 s)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from viewer.net.association import Local, PeerError
    from viewer.net.store_scu import SendInterrupted
    from viewer.net.transport import is_dicomweb, send

    from .progress import TerminalProgress

    settings = load_config(args)
    node = config_node(settings, args.node)
    if args.commit and is_dicomweb(node):
        raise CLIError(f"{node.name}: storage commitment is a DIMSE service; a DICOMweb node "
                       "cannot be asked for it")
    files, from_archive = files_or_studies(args, args.items, "send")
    try:
        report = send(node, Local(settings.local, settings.network), files,
                      TerminalProgress("send"))
    except SendInterrupted as exc:
        _print(args, exc.report)
        print(f"{exc}", file=sys.stderr)
        return 1
    except PeerError as exc:
        raise CLIError(str(exc)) from None
    commitment = None
    if args.commit:
        commitment = _commit(args, settings, node, report)
        if commitment is not None and from_archive:
            _record(args, node, report, commitment, from_archive)
    _print(args, report, commitment)
    return 0 if report.ok and (commitment is None or commitment.ok) else 1


def _commit(args: argparse.Namespace, settings: Settings, node: Node,
            report: SendReport) -> CommitResult | None:
    from viewer.net.association import Local, PeerError
    from viewer.net.commitment import request_commitment

    stored = [(r.sop_class_uid, r.sop_instance_uid) for r in (*report.succeeded, *report.warnings)]
    if not stored:
        return None
    try:
        return request_commitment(node, Local(settings.local, settings.network), stored,
                                  args.commit_wait)
    except PeerError as exc:
        print(f"storage commitment: {exc}", file=sys.stderr)
        from viewer.net.commitment import CommitResult

        return CommitResult(exc.peer, "", False, requested=len(stored))


def _record(args: argparse.Namespace, node: Node, report: SendReport,
            commitment: CommitResult, from_archive: set[str]) -> None:
    """The commitment of the archive's own files, in its index (a bounded cache may then
    let those studies go; viewer.archive.retention)."""
    from viewer.net.commitment import record_result

    sent = [r.sop_instance_uid for r in (*report.succeeded, *report.warnings)
            if r.path in from_archive]
    with open_archive(args) as archive:
        record_result(archive.index, node, commitment, sent)


def _print(args: argparse.Namespace, report: SendReport,
           commitment: CommitResult | None = None) -> None:
    if args.json:
        document: dict[str, Any] = {
            "peer": report.peer,
            "sent": len(report.succeeded) + len(report.warnings),
            "warnings": len(report.warnings),
            "failed": len(report.failed),
            "seconds": round(report.seconds, 3),
            "stopped": report.stopped or None,
            "not_sent": list(report.not_sent),
            "instances": [
                {
                    "path": r.path,
                    "SOPInstanceUID": r.sop_instance_uid,
                    "SOPClassUID": r.sop_class_uid,
                    "TransferSyntaxUID": r.transfer_syntax_uid,
                    "sent_transfer_syntax": r.sent_transfer_syntax_uid or None,
                    "status": r.outcome.value,
                    "code": r.status_hex or None,
                    "reason": r.reason,
                }
                for r in report.results
            ],
        }
        if commitment is not None:
            document["commitment"] = {
                "TransactionUID": commitment.transaction_uid,
                "answered": commitment.answered,
                "via": commitment.via or None,
                "committed": list(commitment.committed),
                "failed": [{"SOPInstanceUID": uid, "reason": reason}
                           for uid, reason in commitment.failed],
            }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(f"{report.peer}: sent {len(report.succeeded) + len(report.warnings)}, "
              f"warnings {len(report.warnings)}, failed {len(report.failed)}, "
              f"not sent {len(report.not_sent)} in {report.seconds:.2f} s")
    if commitment is not None and not args.json:
        if commitment.answered:
            print(f"{commitment.peer}: committed {len(commitment.committed)} of "
                  f"{commitment.requested}, failed {len(commitment.failed)} ({commitment.via})")
        else:
            print(f"{commitment.peer}: storage commitment not answered: nothing is known "
                  "about the instances' safekeeping")
    if commitment is not None:
        for uid, reason in commitment.failed:
            print(f"{uid}: not committed: {reason}", file=sys.stderr)
    for r in report.warnings:
        print(f"{r.path}: warning {r.status_hex}: {r.reason}", file=sys.stderr)
    for r in report.failed:
        code = f" {r.status_hex}" if r.status_hex else ""
        print(f"{r.path}: failed{code}: {r.reason}", file=sys.stderr)
