"""`dicom-viewer studies|series|instances`: what the archive holds (CLI.md)."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from viewer.cli import CLIError, open_archive


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("studies", help="search the archive's studies")
    p.add_argument("--patient-name", help="DICOM wildcards * and ?, case-insensitive")
    p.add_argument("--patient-id")
    p.add_argument("--modality")
    p.add_argument("--date", help="YYYYMMDD or YYYYMMDD-YYYYMMDD (either end may be empty)")
    p.add_argument("--json", action="store_true")
    s = sub.add_parser("series", help="the series of a study")
    s.add_argument("study_uid")
    s.add_argument("--json", action="store_true")
    i = sub.add_parser("instances", help="the instances of a series")
    i.add_argument("series_uid")
    i.add_argument("--json", action="store_true")


def parse_date_range(text: str) -> tuple[str | None, str | None]:
    """'20240101', '20240101-20240131', '-20240131', '20240101-' (PS3.4 C.2.2.2.5)."""
    match = re.fullmatch(r"(\d{8})?(-)?(\d{8})?", text.strip())
    if not match or not (match.group(1) or match.group(3)):
        raise CLIError(f"--date must be YYYYMMDD or YYYYMMDD-YYYYMMDD, not {text!r}")
    start, dash, end = match.groups()
    return (start, start) if not dash else (start, end)


def run(args: argparse.Namespace) -> int:
    with open_archive(args) as archive:
        if args.verb == "studies":
            date_from, date_to = parse_date_range(args.date) if args.date else (None, None)
            rows: list[Any] = archive.index.search_studies(
                patient_name=args.patient_name,
                patient_id=args.patient_id,
                modality=args.modality,
                date_from=date_from,
                date_to=date_to,
            )
            columns = [
                ("PatientName", "patient_name_text"), ("PatientID", "patient_id"),
                ("StudyDate", "study_date"), ("Modalities", "modalities"),
                ("Images", "number_of_instances"), ("Description", "study_description"),
                ("StudyInstanceUID", "study_instance_uid"),
            ]
        elif args.verb == "series":
            if archive.index.get_study(args.study_uid) is None:
                raise CLIError(f"no study {args.study_uid} in the archive")
            rows = archive.index.series(args.study_uid)
            columns = [
                ("Number", "series_number"), ("Modality", "modality"),
                ("Images", "number_of_instances"), ("Description", "series_description"),
                ("SeriesInstanceUID", "series_instance_uid"),
            ]
        else:
            rows = archive.index.instances(args.series_uid)
            if not rows:
                raise CLIError(f"no series {args.series_uid} in the archive")
            columns = [
                ("Number", "instance_number"), ("Frames", "number_of_frames"),
                ("Size", "size"), ("SOPInstanceUID", "sop_instance_uid"),
            ]
    if args.json:
        print(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=2))
    else:
        print(_table(rows, columns))
    return 0


def _cell(value: object) -> str:
    if isinstance(value, tuple):
        return "\\".join(str(v) for v in value)
    return "" if value is None else str(value)


def _table(rows: list[Any], columns: list[tuple[str, str]]) -> str:
    cells = [[_cell(getattr(r, attr)) for _, attr in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (h, _) in enumerate(columns)]
    lines = ["  ".join(h.ljust(w) for (h, _), w in zip(columns, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)
