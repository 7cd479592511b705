"""`dicom-viewer echo NODE`: C-ECHO a configured node (a DICOMweb node: a QIDO-RS probe)."""

from __future__ import annotations

import argparse

from viewer.cli import CLIError, config_node, load_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("echo", help="C-ECHO a configured node (DICOMweb: a QIDO-RS probe)")
    p.add_argument("node", help="a node name from `nodes list`")


def run(args: argparse.Namespace) -> int:
    from viewer.net.association import Local, PeerError
    from viewer.net.transport import echo, is_dicomweb

    settings = load_config(args)
    node = config_node(settings, args.node)
    try:
        result = echo(node, Local(settings.local, settings.network))
    except PeerError as exc:
        raise CLIError(str(exc)) from None
    what = "QIDO-RS probe" if is_dicomweb(node) else "C-ECHO"
    if result.status != 0:
        print(f"{result.peer}: {what} answered with status 0x{result.status:04X}")
        return 1
    print(f"{result.peer}: {what} ok in {result.seconds * 1000:.0f} ms")
    return 0
