"""`dicom-viewer validate PATH|STUDY_UID... [--json]`: data quality (CLI.md, issue 19).

Each file against its IOD (dciodvfy) and its declared character set, then each study and series
for consistency over the files given: a PATH is a file or a folder (recursive), anything else a
study of the archive. Every file given appears, with or without findings. Exit 1 when any error
was found, 2 when an item is neither a path nor a study (nothing is validated then) or dciodvfy
is missing.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from viewer.cli import CLIError, files_or_studies

if TYPE_CHECKING:
    from viewer.quality.findings import ValidationReport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate", help="check files against their IOD and studies for consistency",
        description="Each file against its IOD with dciodvfy (Type 1/1C/2/2C attributes, "
        "enumerated values, VR and VM) and its text against its Specific Character Set; each "
        "study and series for consistency (patient identity, duplicate SOP Instance UIDs, "
        "Frame of Reference, Pixel Spacing, orientation, gaps and spacing). Exit 1 on any error.")
    p.add_argument("items", nargs="+", metavar="PATH|STUDY_UID",
                   help="a file, a folder (searched recursively) or a study of the archive")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from viewer.cli.progress import TerminalProgress
    from viewer.quality.dciodvfy import ToolMissing
    from viewer.quality.validate import validate_files

    paths, _ = files_or_studies(args, args.items, "validate")
    try:
        report = validate_files(paths, progress=TerminalProgress("validate"))
    except ToolMissing as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        _print(report)
    return 1 if report.errors else 0


def _print(report: ValidationReport) -> None:
    for result in report.files:
        what = result.iod or "no IOD"
        if not result.findings:
            print(f"{result.path}: OK ({what})")
            continue
        print(f"{result.path}: {result.errors} error(s), "
              f"{len(result.findings) - result.errors} warning(s) ({what})")
        for finding in result.findings:
            where = " ".join(x for x in (finding.tag, finding.keyword) if x)
            module = f" [{finding.module}]" if finding.module else ""
            where = f" {where}{module}:" if where or module else ""
            print(f"  {finding.severity:<7}{where} {finding.message}")
    if report.study_findings:
        print("Studies and series:")
    for study in report.study_findings:
        series = f" series {study.series_instance_uid}" if study.series_instance_uid else ""
        print(f"  {study.severity:<7} {study.kind}: study {study.study_instance_uid}"
              f"{series}: {study.message}")
    warnings = sum(len(f.findings) for f in report.files) - sum(f.errors for f in report.files)
    warnings += sum(s.severity == "warning" for s in report.study_findings)
    print(f"{len(report.files)} file(s): {report.errors} error(s), {warnings} warning(s)")
