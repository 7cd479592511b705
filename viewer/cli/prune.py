"""`dicom-viewer prune [--dry-run] [--json]`: bring the store under `[archive] quota_gb`,
removing the least recently viewed studies that a PACS has committed (viewer.archive.retention),
and say what went, what stayed and why."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from viewer.cli import CLIError, load_config, open_archive, retention_policy

if TYPE_CHECKING:
    from viewer.archive.retention import Decision, PruneReport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "prune",
        help="remove least recently viewed, PACS-committed studies until under the quota",
        description="The quota is `[archive] quota_gb` of the config file; a study goes only "
        "when every instance is committed (storage commitment) by `[archive] commit_nodes` "
        "(default: any configured node). Exit 0 when the store is under the quota, 1 when it "
        "stays over (uncommitted studies are never removed), 2 when no quota is set.",
    )
    p.add_argument("--dry-run", action="store_true", help="show what would go; change nothing")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from viewer.archive.retention import prune

    settings = load_config(args)
    policy = retention_policy(settings)
    if policy is None:
        where = args.config or "the config file"
        raise CLIError(f"{where}: no quota: set [archive] quota_gb to bound the store")
    with open_archive(args) as archive:
        report = prune(archive, policy, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(_document(report, sorted(policy.commit_ae_titles)),
                         ensure_ascii=False, indent=2))
    else:
        _table(report)
    print(report.summary(), file=sys.stderr)
    for uid, reason in report.failed:
        print(f"{uid}: not removed: {reason}", file=sys.stderr)
    return 1 if report.over or report.failed else 0


def _study(decision: Decision) -> dict[str, Any]:
    study = decision.study
    return {
        "StudyInstanceUID": study.study_uid,
        "PatientName": study.patient_name,
        "StudyDate": study.study_date,
        "size_bytes": study.size,
        "last_viewed": study.last_viewed,
        "last_used": study.last_used,
        "instances": study.instances,
        "committed_instances": study.committed,
        "failed_instances": study.failed,
        "committed_by": list(study.committed_by),
        "reason": decision.reason,
    }


def _document(report: PruneReport, commit_ae_titles: list[str]) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "quota_bytes": report.quota,
        "used_bytes": report.used_before,
        "used_after_bytes": report.used_after,
        "over_bytes": report.over,
        "commit_ae_titles": commit_ae_titles,
        "remove": [_study(d) for d in report.removed],
        "keep": [_study(d) for d in report.kept],
        "kept_uncommitted": report.kept_uncommitted,
        "failed": [{"StudyInstanceUID": uid, "reason": why} for uid, why in report.failed],
    }


def _table(report: PruneReport) -> None:
    from viewer.archive.retention import human_size

    verb = "would go" if report.dry_run else "removed"
    print(f"{'action':<9} {'StudyDate':<9} {'size':>10} {'last used':<20} "
          f"{'PatientName':<24} {'StudyInstanceUID':<64} why")
    for decision in report.decisions:
        study = decision.study
        print(f"{verb if decision.remove else 'kept':<9} {study.study_date:<9} "
              f"{human_size(study.size):>10} {study.last_used:<20} "
              f"{study.patient_name[:24]:<24} {study.study_uid:<64} {decision.reason}")
