"""`dicom-viewer query NODE [--level L] [--model M] [KEY=VALUE...] [--json]`: C-FIND a node."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from viewer.cli import CLIError, config_node, load_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "query", help="C-FIND a configured node (DICOMweb: QIDO-RS)",
        description="KEY=VALUE matches a DICOM keyword: wildcards * and ?, date ranges "
                    "YYYYMMDD-YYYYMMDD; KEY= (or KEY alone) asks for KEY to be returned.",
    )
    p.add_argument("node", help="a node name from `nodes list`")
    p.add_argument("keys", nargs="*", metavar="KEY=VALUE",
                   help="e.g. PatientName='DOE*' StudyDate=20240101-20240131 Modality=CT")
    p.add_argument("--level", choices=["patient", "study", "series", "image"], default="study")
    p.add_argument("--model", choices=["patient", "study"],
                   help="information model: Patient Root or Study Root (default: study; "
                        "patient for --level patient)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    # KEY=VALUE may come after the options (`query PACS --level series Modality=CT`, as in
    # CLI.md): a '*' positional needs intermixed parsing for that, which argparse only does when
    # asked, and the subparsers action always calls parse_known_args.
    _parse_intermixed(p)


def _parse_intermixed(parser: argparse.ArgumentParser) -> None:
    def parse_known_args(args: Any = None, namespace: Any = None) -> Any:
        # parse_known_intermixed_args calls parse_known_args itself: the class's, not this one
        del parser.parse_known_args
        try:
            return parser.parse_known_intermixed_args(args, namespace)
        finally:
            setattr(parser, "parse_known_args", parse_known_args)  # noqa: B010

    setattr(parser, "parse_known_args", parse_known_args)  # noqa: B010


def parse_keys(items: list[str]) -> dict[str, str | None]:
    """KEY=VALUE arguments -> {keyword: value}; "KEY" or "KEY=" -> a return key (None)."""
    keys: dict[str, str | None] = {}
    for item in items:
        keyword, _, value = item.partition("=")
        keyword = keyword.strip()
        if not keyword:
            raise CLIError(f"{item!r}: expected KEY=VALUE with a DICOM keyword as KEY")
        keys[keyword] = value or None
    return keys


def run(args: argparse.Namespace) -> int:
    from viewer.net.association import Local, PeerError
    from viewer.net.query import default_keys
    from viewer.net.transport import find

    settings = load_config(args)
    node = config_node(settings, args.node)
    keys = parse_keys(args.keys)
    model = args.model or ("patient" if args.level == "patient" else "study")
    try:
        report = find(node, Local(settings.local, settings.network), args.level, keys, model)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except PeerError as exc:
        raise CLIError(str(exc)) from None
    for warning in report.warnings:
        print(f"{report.peer}: {warning}", file=sys.stderr)
    done = 1 if report.lost else 0  # an answer left out is an item that failed (CLI.md)
    if args.json:
        print(json.dumps([r.as_json() for r in report.results], ensure_ascii=False, indent=2))
        return done
    if not report.results:
        print(f"{report.peer}: no matches")
        return done
    wanted = [*default_keys(args.level, model), *(k for k in keys if k)]
    columns = [k for k in dict.fromkeys(wanted) if any(r.text(k) for r in report.results)]
    rows = [[r.text(k) for k in columns] for r in report.results]
    widths = [max([len(c)] + [len(row[i]) for row in rows]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    print("\n".join(line.rstrip() for line in lines))
    return done
