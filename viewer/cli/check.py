"""`dicom-viewer check [--repair] [--json]`: the index against the store (CLI.md).

Exit 0 when the archive is consistent, 1 when problems were found (also when `--repair` fixed
them, as fsck does: the caller learns that something was wrong).
"""

from __future__ import annotations

import argparse
import json
import sys

from viewer.cli import open_archive


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check", help="verify the archive index against the stored files")
    p.add_argument(
        "--repair", action="store_true",
        help="index orphan files and missing references, mark rows without files as missing, "
             "remove temporary files",
    )
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from viewer.archive.check import check_archive

    with open_archive(args) as archive:
        report = check_archive(archive, repair=args.repair)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=1))
        return 0 if report.consistent else 1
    if report.recovered_indexed or report.recovered_removed:
        print(f"opening recovered an interrupted import: {report.recovered_indexed} files "
              f"indexed, {len(report.recovered_removed)} that could not be indexed removed")
    for path in report.recovered_removed:
        print(f"{path}: removed on opening: it could not be indexed", file=sys.stderr)
    for path in report.orphans:
        print(f"{path}: orphan (no index row)", file=sys.stderr)
    for issue in report.missing:
        print(f"{issue.path}: {issue.reason} (SOP Instance {issue.sop_instance_uid})",
              file=sys.stderr)
    for issue in report.mismatched:
        print(f"{issue.path}: {issue.reason}", file=sys.stderr)
    for path in report.temp_files:
        print(f"{path}: temporary file left by an interrupted import", file=sys.stderr)
    for uid in report.unindexed_references:
        print(f"SOP Instance {uid}: its references (to images) are not indexed", file=sys.stderr)
    for failure in report.not_indexed:
        print(f"{failure.item}: not re-indexed: {failure.reason}", file=sys.stderr)
    summary = (
        f"{report.instances} instances, {report.files} files: {len(report.orphans)} orphans, "
        f"{len(report.missing)} missing, {len(report.mismatched)} checksum mismatches, "
        f"{len(report.temp_files)} temporary files, "
        f"{len(report.unindexed_references)} objects without indexed references"
    )
    print(summary)
    if report.repaired:
        print(
            f"repaired: {len(report.reindexed)} re-indexed, {len(report.marked_missing)} marked "
            f"missing, {len(report.restored)} restored, {len(report.references_indexed)} "
            f"objects' references indexed, {report.temp_removed} temporary files removed; "
            f"{report.unresolved} problems remain"
        )
    print("consistent" if report.consistent else "problems found")
    return 0 if report.consistent else 1
