"""`dicom-viewer retrieve NODE STUDY_UID [--series UID] [--via move|get] [--json]`: C-MOVE (the
default, CLI.md) or C-GET a study or series into the archive; WADO-RS from a DICOMweb node.
For C-MOVE the command listens on our `nodes local` port for the duration, unless a `listen`
already runs there."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from viewer.cli import CLIError, config_node, load_config, open_archive
from viewer.cli.importing import validate_imported

if TYPE_CHECKING:
    from viewer.net.retrieve import RetrieveProgress, RetrieveReport
    from viewer.quality.store import FindingsSummary


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("retrieve", help="C-GET / C-MOVE (DICOMweb: WADO-RS) a study or series "
                       "into the archive")
    p.add_argument("node", help="a node name from `nodes list`")
    p.add_argument("study_uid", help="Study Instance UID")
    p.add_argument("--series", metavar="UID", help="only this Series Instance UID")
    p.add_argument("--via", choices=["move", "get"], default="move",
                   help="C-MOVE to our Storage SCP (default; the node must know our AE title "
                   "as a move destination) or C-GET on the same association; a DICOMweb node "
                   "is always read by WADO-RS")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--no-validate", action="store_true",
                   help="do not validate what was retrieved (it stays pending)")


def run(args: argparse.Namespace) -> int:
    from viewer.jobs import CancelToken
    from viewer.net.association import Local, PeerError
    from viewer.net.transport import retrieve

    from .progress import TerminalProgress

    settings = load_config(args)
    node = config_node(settings, args.node)
    bar = TerminalProgress("retrieve")

    def progress(p: RetrieveProgress) -> None:
        total = max(p.expected or 0, p.suboperations.total or 0, p.received)
        bar(p.received, total, "")

    cancel = CancelToken()
    # Ctrl-C cancels politely (C-CANCEL, then the report); a second one interrupts.
    # Signal handlers can only be set in the main thread (not when a GUI thread runs a verb).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _cancel_then_interrupt(cancel)) if main_thread \
        else None
    try:
        with open_archive(args, settings) as archive:
            report = retrieve(node, Local(settings.local, settings.network), archive,
                              args.study_uid, args.series, progress, cancel, args.via)
            if archive.last_prune is not None:
                print(f"quota: {archive.last_prune.summary()}", file=sys.stderr)
            summary = None
            if report.imported and settings.validate_on_import and not args.no_validate:
                summary = validate_imported(archive, [report.study_uid])
    except (PeerError, ValueError) as exc:  # ValueError: a UID that is none
        raise CLIError(str(exc)) from None
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    return _print(report, args.json, summary)


def _cancel_then_interrupt(cancel: Any) -> Any:
    def handler(signum: int, frame: object) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()

    return handler


def _print(report: RetrieveReport, as_json: bool, summary: FindingsSummary | None) -> int:
    what = f"series {report.series_uid}" if report.series_uid else f"study {report.study_uid}"
    counts = report.suboperations
    if as_json:
        document = {
            "peer": report.peer,
            "via": report.via,
            "StudyInstanceUID": report.study_uid,
            "SeriesInstanceUID": report.series_uid,
            "status": None if report.status is None else f"0x{report.status:04X}",
            "remaining": counts.remaining,
            "completed": counts.completed,
            "failed": counts.failed,
            "warning": counts.warning,
            "not_found": report.not_found,
            "cancelled": report.cancelled,
            "stopped": report.stopped or None,
            "error": report.error or None,
            "instances": [
                {"SOPInstanceUID": i.sop_instance_uid, "status": i.outcome.value,
                 "reason": i.reason or None}
                for i in report.instances
            ],
            "FailedSOPInstanceUIDList": list(report.failed_sop_instances),
            "seconds": round(report.seconds, 3),
            "note": report.note or None,
            "findings": None if summary is None else summary.as_json(),
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        service = "WADO-RS" if report.via == "wado-rs" else f"C-{report.via.upper()}"
        print(
            f"{report.peer}: {service} {what}: "
            f"{counts.completed} completed, {counts.failed} failed, {counts.warning} warning; "
            f"imported {len(report.imported)}, already present {len(report.already_present)}, "
            f"conflicts {len(report.conflicts)}, failed {len(report.failed)} "
            f"in {report.seconds:.1f} s"
        )
        if summary is not None:
            print(summary.line())
    if summary is not None and summary.problem:
        print(f"validate: {summary.problem}", file=sys.stderr)
    for instance in (*report.conflicts, *report.failed):
        print(f"{report.peer}: {instance.sop_instance_uid}: {instance.outcome.value}: "
              f"{instance.reason}", file=sys.stderr)
    if report.not_found:
        search = "QIDO-RS" if report.via == "wado-rs" else "C-FIND"
        print(f"{report.peer}: no {what} there ({search} found no match); nothing retrieved",
              file=sys.stderr)
    elif report.nothing_found:
        print(f"{report.peer}: the peer had no instances of {what} to send", file=sys.stderr)
    if report.cancelled:
        print(f"{report.peer}: cancelled after {len(report.instances)} instance(s)",
              file=sys.stderr)
    if report.stopped:
        print(f"retrieve stopped: {report.stopped}", file=sys.stderr)
    if report.error:
        print(f"{report.peer}: {report.error}", file=sys.stderr)
    if report.note:
        print(f"{report.peer}: {report.note}", file=sys.stderr)
    if counts.failed and not report.failed:
        print(f"{report.peer}: {counts.failed} sub-operation(s) failed on the peer's side",
              file=sys.stderr)
    return 0 if report.ok else 1
