"""`dicom-viewer worklist NODE [KEY=VALUE...] [--json]`: modality worklist C-FIND."""

from __future__ import annotations

import argparse
import json
import sys

from viewer.cli import CLIError, config_node, load_config


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worklist", help="modality worklist query (scheduled procedure steps)",
        description="Matching keys are DICOM keywords: Modality=CT, "
        "ScheduledStationAETitle=CT1, ScheduledProcedureStepStartDate=20261125 (or a range "
        "20261125-20261130), PatientName=DOE* (wildcards * and ?), AccessionNumber=A123.",
    )
    p.add_argument("node", help="a node name from `nodes list`")
    p.add_argument("keys", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true")


def parse_keys(pairs: list[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for pair in pairs:
        keyword, sep, value = pair.partition("=")
        if not sep or not keyword:
            raise CLIError(f"{pair!r}: matching keys are KEY=VALUE (a DICOM keyword)")
        keys[keyword.strip()] = value
    return keys


def run(args: argparse.Namespace) -> int:
    from viewer.net.association import Local, PeerError
    from viewer.net.worklist import QueryKeyError, query_worklist

    settings = load_config(args)
    node = config_node(settings, args.node)
    try:
        report = query_worklist(node, Local(settings.local, settings.network),
                                parse_keys(args.keys))
    except (PeerError, QueryKeyError) as exc:
        raise CLIError(str(exc)) from None
    for warning in report.warnings:
        print(f"{report.peer}: {warning}", file=sys.stderr)
    done = 1 if report.lost else 0  # an answer left out is an item that failed (CLI.md)
    items = report.items
    if args.json:
        print(json.dumps([item.as_json() for item in items], ensure_ascii=False, indent=2))
        return done
    for item in items:
        when = f"{item.start_date} {item.start_time}".strip()
        print(f"{when:16} {item.modality:4} {item.station_ae_title:16} {item.accession_number:12} "
              f"{item.patient_id:12} {item.patient_name}  {item.step_description}")
    print(f"{len(items)} scheduled procedure step(s)")
    return done
