"""`dicom-viewer nodes add|list|remove|local`: the DICOM nodes in the config file (CLI.md)."""

from __future__ import annotations

import argparse
import json

from viewer.cli import CLIError, load_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("nodes", help="configured DICOM nodes (PACS, printers) and ourselves")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add or replace a node")
    add.add_argument("name", help="what you call it in other verbs (letters, digits, - and _)")
    add.add_argument("ae_title", metavar="AET")
    add.add_argument("host")
    add.add_argument("port", type=int)
    add.add_argument("--tls", action="store_true", help="talk to it with TLS 1.2+")
    add.add_argument("--ca", default="", help="CA certificate(s) verifying the node (PEM)")
    add.add_argument("--cert", default="", help="our client certificate (PEM), if it asks")
    add.add_argument("--key", default="", help="the key of --cert (PEM)")
    listing = actions.add_parser("list", help="the configured nodes and ourselves")
    listing.add_argument("--json", action="store_true")
    remove = actions.add_parser("remove", help="remove a node")
    remove.add_argument("name")
    local = actions.add_parser("local", help="our own AE title and Storage SCP port")
    local.add_argument("ae_title", metavar="AET")
    local.add_argument("port", type=int)


def run(args: argparse.Namespace) -> int:
    from viewer.config import ConfigError, Node, TlsFiles
    from viewer.net import nodes

    try:
        if args.action == "add":
            if (args.ca or args.cert or args.key) and not args.tls:
                raise CLIError("--ca, --cert and --key go with --tls")
            if bool(args.cert) != bool(args.key):
                raise CLIError("--cert and --key go together")
            tls = TlsFiles(args.ca, args.cert, args.key) if args.tls else None
            nodes.add_node(Node(args.name, args.ae_title, args.host, args.port, tls), args.config)
            print(f"node {args.name}: {args.ae_title}@{args.host}:{args.port}"
                  f"{' (TLS)' if tls else ''}")
        elif args.action == "remove":
            if not nodes.remove_node(args.name, args.config):
                raise CLIError(f"no node named {args.name!r}")
            print(f"removed {args.name}")
        elif args.action == "local":
            local = nodes.set_local(args.ae_title, args.port, args.config)
            print(f"we are {local.ae_title}, Storage SCP on {local.host}:{local.port}")
        else:
            _list(args)
    except ConfigError as exc:
        raise CLIError(str(exc)) from None
    return 0


def _list(args: argparse.Namespace) -> None:
    settings = load_config(args)
    local = settings.local
    if args.json:
        print(json.dumps({
            "local": {"ae_title": local.ae_title, "host": local.host, "port": local.port,
                      "tls": local.tls is not None},
            "nodes": [
                {"name": n.name, "ae_title": n.ae_title, "host": n.host, "port": n.port,
                 "tls": n.tls is not None}
                for n in settings.nodes
            ],
        }, indent=2))
        return
    print(f"{'(local)':16} {local.ae_title:16} {local.host}:{local.port}"
          f"{'  TLS' if local.tls else ''}")
    for n in settings.nodes:
        print(f"{n.name:16} {n.ae_title:16} {n.host}:{n.port}{'  TLS' if n.tls else ''}")
