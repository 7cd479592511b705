"""`dicom-viewer sr FILE [--json]`: the content tree of a Structured Report or Key Object
Selection, one indented item per line as DCMTK's dsrdump shows it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.cli import CLIError

if TYPE_CHECKING:
    from viewer.reports.dose import DoseSummary
    from viewer.reports.measurements import MeasurementGroup


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sr",
        help="content tree of a Structured Report or Key Object Selection",
        description="One indented line per content item: relationship, value type, concept name "
        "and value (text, code meaning, UID, person name, a number with its unit, references, "
        "coordinates). By-reference items show the position they point to; invalid items say "
        "why. TID 1500 measurement groups and dose summaries follow the tree.",
    )
    p.add_argument("file", type=Path, help="DICOM SR or KOS file")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from viewer.dicom.files import DicomFileError
    from viewer.reports.content_tree import ContentTreeError
    from viewer.reports.describe import dose_json, groups_json, item_json, tree_lines
    from viewer.reports.dose import dose_summary
    from viewer.reports.measurements import measurements
    from viewer.reports.report_file import read_report

    try:
        tree = read_report(args.file)
    except DicomFileError as exc:
        raise CLIError(f"{exc.path}: {exc.reason}") from None
    except ContentTreeError as exc:
        raise CLIError(f"{args.file}: {exc}") from None
    groups = measurements(tree)
    dose = dose_summary(tree)
    for warning in tree.warnings:
        print(f"dicom-viewer sr: {args.file}: {warning}", file=sys.stderr)
    if args.json:
        document: dict[str, Any] = {
            "path": str(args.file),
            "SOPClassUID": tree.sop_class_uid,
            "SOPInstanceUID": tree.sop_instance_uid,
            "title": tree.title,
            "CompletionFlag": tree.completion_flag,
            "VerificationFlag": tree.verification_flag,
            "template": tree.template,
            "warnings": list(tree.warnings),
            "content": item_json(tree, tree.root),
            "measurement_groups": groups_json(groups),
            "dose": dose_json(dose),
        }
        json.dump(document, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    lines = tree_lines(tree)
    lines += _group_lines(groups) + _dose_lines(dose)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _group_lines(groups: tuple[MeasurementGroup, ...]) -> list[str]:
    if not groups:
        return []
    lines = ["", f"Measurement groups: {len(groups)}"]
    for group in groups:
        finding = group.finding.meaning if group.finding else "-"
        lines.append(f"  {group.tracking_identifier or group.position}: {finding}")
        for m in group.measurements:
            unit = m.unit.value if m.unit else ""
            name = m.name.meaning if m.name else "?"
            lines.append(f"    {name} = {m.text or '-'} {unit}".rstrip())
    return lines


def _dose_lines(dose: DoseSummary) -> list[str]:
    if not dose.kind:
        return []
    lines = ["", f"{dose.kind} dose summary"]
    if dose.kind == "CT":
        lines += [f"  event {e.position} series {e.series_uid or '-'}: CTDIvol "
                  f"{_mgy(e.ctdivol_mgy)} mGy, DLP {_mgy(e.dlp_mgy_cm)} mGy.cm"
                  + (f" ({e.phantom})" if e.phantom else "") for e in dose.events]
        lines += [f"  series {s.series_uid or '-'}: {s.events} events, CTDIvol "
                  f"{_mgy(s.ctdivol_mgy)} mGy, DLP {_mgy(s.dlp_mgy_cm)} mGy.cm"
                  for s in dose.series]
        if dose.total_dlp_mgy_cm is not None:
            lines.append(f"  total DLP {_mgy(dose.total_dlp_mgy_cm)} mGy.cm")
        return lines
    # X-ray reports: what they give, accumulated first, then each event's numbers
    lines += [f"  {q.name} = {_mgy(q.value)} {q.unit}".rstrip() for q in dose.totals]
    for event in dose.events:
        numbers = ", ".join(f"{q.name} {_mgy(q.value)} {q.unit}".rstrip()
                            for q in event.quantities)
        lines.append(f"  event {event.position}: {numbers}")
    return lines


def _mgy(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
