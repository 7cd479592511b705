"""`dicom-viewer listen [--port P] [--aet AET] [--allow NODE...]`: run the Storage SCP until
SIGINT or SIGTERM, one line on stdout per received instance (no patient data), one line on
stderr per peer that misbehaved or was refused (too many associations, silent, a protocol error,
an abort with a data set cut off)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from viewer.cli import CLIError, config_node, load_config, retention_policy

if TYPE_CHECKING:
    from viewer.archive.importer import ImportReport
    from viewer.quality.background import ImportValidator


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("listen", help="run the Storage SCP into the archive until stopped")
    p.add_argument("--port", type=int, help="port to listen on (default: `nodes local`; 0: any)")
    p.add_argument("--aet", help="our AE title (default: `nodes local`)")
    p.add_argument("--allow", nargs="+", metavar="NODE", default=[],
                   help="accept associations only from these configured nodes")


def run(args: argparse.Namespace) -> int:
    from viewer.archive.archive import Archive
    from viewer.config import default_archive_dir
    from viewer.net.association import Local
    from viewer.net.storage_scp import StorageSCP, outcome_of
    from viewer.quality.background import ImportValidator

    settings = load_config(args)
    allow = [config_node(settings, name) for name in args.allow]
    if args.port is not None and not 0 <= args.port <= 65535:
        raise CLIError(f"--port {args.port}: must be 0 to 65535")

    # association threads print at once: print writes a line and its end separately, so
    # without the lock 16 senders' lines ran into each other
    printing = threading.Lock()

    validator: ImportValidator | None = None

    def on_received(report: ImportReport, calling_ae: str, uid: str) -> None:
        if validator is not None:  # after the instance's commit, never delaying its answer
            validator.queue(report.study_uids)
        outcome, reason, _ = outcome_of(report)
        label = f"{calling_ae}: {uid}"
        line = f"received from {calling_ae}: {uid} {outcome}"
        if reason:
            line += f": {reason.removeprefix(label).strip(' :')}"
        with printing:
            print(line, flush=True)

    def on_problem(peer: str, reason: str) -> None:
        with printing:
            print(f"dicom-viewer listen: {peer}: {reason}", file=sys.stderr, flush=True)

    scp = StorageSCP(
        args.archive or default_archive_dir(), Local(settings.local, settings.network),
        allow=allow, port=args.port, ae_title=args.aet, on_received=on_received,
        retention=retention_policy(settings),
        on_problem=on_problem,
    )
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            scp.start()
        except OSError as exc:
            raise CLIError(f"cannot listen on {scp.address[0]}:{scp.address[1]}: "
                           f"{exc.strerror or exc}") from None
        if settings.validate_on_import:
            # its own connection to the index the SCP has opened (and recovered) already
            validator = ImportValidator(
                Archive(args.archive or default_archive_dir(), recover=False))
        host, port = scp.address
        print(f"listening as {scp.ae_title} on {host}:{port}", file=sys.stderr, flush=True)
        while not stopping.wait(1.0):
            pass
    finally:
        scp.stop()
        if validator is not None:  # what is still queued stays pending
            validator.close()
            validator.archive.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    counts = scp.received.summary().counts
    print(f"stopped; {', '.join(f'{n} {k}' for k, n in counts.items()) or 'nothing received'}",
          file=sys.stderr)
    return 0
