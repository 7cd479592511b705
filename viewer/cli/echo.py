"""`dicom-viewer echo NODE`: C-ECHO a configured node."""

from __future__ import annotations

import argparse

from viewer.cli import CLIError, config_node, load_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("echo", help="C-ECHO a configured node")
    p.add_argument("node", help="a node name from `nodes list`")


def run(args: argparse.Namespace) -> int:
    from viewer.net.association import Local, PeerError
    from viewer.net.echo import echo

    settings = load_config(args)
    node = config_node(settings, args.node)
    try:
        result = echo(node, Local(settings.local, settings.network))
    except PeerError as exc:
        raise CLIError(str(exc)) from None
    if result.status != 0:
        print(f"{result.peer}: C-ECHO answered with status 0x{result.status:04X}")
        return 1
    print(f"{result.peer}: C-ECHO ok in {result.seconds * 1000:.0f} ms")
    return 0
