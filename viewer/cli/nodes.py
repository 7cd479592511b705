"""`dicom-viewer nodes add|list|remove|local`: the DICOM nodes in the config file (CLI.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from viewer.cli import CLIError, load_config

if TYPE_CHECKING:
    from viewer.config import Node


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("nodes", help="configured DICOM nodes (PACS, printers) and ourselves")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add or replace a node")
    add.add_argument("name", help="what you call it in other verbs (letters, digits, - and _)")
    add.add_argument("ae_title", metavar="AET", nargs="?", help="(not with --dicomweb)")
    add.add_argument("host", nargs="?")
    add.add_argument("port", type=int, nargs="?")
    add.add_argument("--dicomweb", metavar="URL", default="",
                     help="a DICOMweb node: its service root, http(s)://host:port/dicom-web")
    add.add_argument("--auth-basic", metavar="USER:PASSWORD", default="",
                     help="DICOMweb: HTTP basic authentication (kept in the config file, "
                     "which is then readable by its owner only)")
    add.add_argument("--token-file", metavar="F", default="",
                     help="DICOMweb: a file holding a bearer token, read at each request")
    add.add_argument("--tls", action="store_true", help="talk to it with TLS 1.2+")
    add.add_argument("--ca", default="", help="CA certificate(s) verifying the node (PEM; "
                     "with --tls, or with an https --dicomweb URL)")
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
        if args.action == "add" and args.dicomweb:
            _add_web(args)
        elif args.action == "add":
            if args.ae_title is None or args.host is None or args.port is None:
                raise CLIError("nodes add NAME AET HOST PORT, or NAME --dicomweb URL")
            if args.auth_basic or args.token_file:
                raise CLIError("--auth-basic and --token-file go with --dicomweb")
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


def _add_web(args: argparse.Namespace) -> None:
    from viewer.config import DicomWebService, Node
    from viewer.net import nodes

    if args.ae_title is not None or args.tls or args.cert or args.key:
        raise CLIError("a DICOMweb node takes no AET HOST PORT, --tls, --cert or --key "
                       "(https comes with the URL, --ca verifies it)")
    if args.auth_basic and args.token_file:
        raise CLIError("--auth-basic or --token-file, not both")
    user, password = "", ""
    if args.auth_basic:
        user, colon, password = args.auth_basic.partition(":")
        if not user or not colon:
            raise CLIError("--auth-basic takes USER:PASSWORD")
    for option, value in (("--token-file", args.token_file), ("--ca", args.ca)):
        if value and not Path(value).is_file():
            raise CLIError(f"{option} {value}: no such file")
    token_file, ca = (str(Path(v).resolve()) if v else "" for v in (args.token_file, args.ca))
    service = DicomWebService(args.dicomweb, user, password, token_file, ca)
    nodes.add_node(Node(args.name, "", "", 0, None, service), args.config)
    auth = f", {service.auth} authentication" if service.auth else ""
    print(f"node {args.name}: DICOMweb {service.url.rstrip('/')}{auth}")


def _web_json(node: Node) -> dict[str, object]:
    service = node.dicomweb
    assert service is not None
    # never the password, nor the token: only which kind of authentication is set
    return {"name": node.name, "dicomweb_url": service.url, "auth": service.auth or None,
            "ca": service.ca or None}


def _list(args: argparse.Namespace) -> None:
    settings = load_config(args)
    local = settings.local
    if args.json:
        print(json.dumps({
            "local": {"ae_title": local.ae_title, "host": local.host, "port": local.port,
                      "tls": local.tls is not None},
            "nodes": [
                _web_json(n) if n.dicomweb is not None else
                {"name": n.name, "ae_title": n.ae_title, "host": n.host, "port": n.port,
                 "tls": n.tls is not None}
                for n in settings.nodes
            ],
        }, indent=2))
        return
    print(f"{'(local)':16} {local.ae_title:16} {local.host}:{local.port}"
          f"{'  TLS' if local.tls else ''}")
    for n in settings.nodes:
        if n.dicomweb is not None:
            auth = f"  {n.dicomweb.auth} auth" if n.dicomweb.auth else ""
            print(f"{n.name:16} {'DICOMweb':16} {n.dicomweb.url}{auth}")
            continue
        print(f"{n.name:16} {n.ae_title:16} {n.host}:{n.port}{'  TLS' if n.tls else ''}")
