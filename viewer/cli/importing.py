"""`dicom-viewer import PATH... [--json]`: files, folders, zips and DICOMDIR media."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from viewer.cli import CLIError, load_config, open_archive

if TYPE_CHECKING:
    from viewer.archive.archive import Archive
    from viewer.quality.store import FindingsSummary


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import",
        help="import files, folders, .zip files and DICOMDIR media into the archive",
    )
    p.add_argument("paths", nargs="+", type=Path, help="files, folders, .zip or DICOMDIR")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--no-validate", action="store_true",
                   help="do not validate the imported studies (they stay pending); by "
                        "default they are, after the import is committed ([quality] "
                        "validate_on_import)")


def run(args: argparse.Namespace) -> int:
    from viewer.archive.importer import OTHER_SYNTAX_REASON, import_paths

    from .progress import TerminalProgress

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        raise CLIError(f"{missing[0]}: no such file or folder")
    if any(p.is_dir() or p.suffix.lower() == ".zip" for p in args.paths):
        # Enough files for worker processes, likely: fork their server now, before the archive
        # is open and before any thread, sharing this process's imports, instead of a fresh
        # interpreter importing pydicom and the archive again on the import's critical path.
        from viewer.archive import importer
        from viewer.decode.forkserver import start_here

        start_here([importer.__name__])
    settings = load_config(args)
    with open_archive(args, settings) as archive:
        report = import_paths(archive, args.paths, TerminalProgress("import"))
        pruned = archive.last_prune
        summary = None
        if settings.validate_on_import and not args.no_validate:
            summary = validate_imported(archive, sorted(report.study_uids))
    if args.json:
        document = {
            "imported": report.imported,
            "already_present": report.already_present,
            "present_other_syntax": report.present_other_syntax,
            "conflicts": [{"path": f.item, "reason": f.reason} for f in report.conflicts],
            "failed": [{"path": f.item, "reason": f.reason} for f in report.failed],
            "warnings": [{"path": f.item, "reason": f.reason} for f in report.warnings],
            "stopped": report.stopped or None,
            "findings": None if summary is None else summary.as_json(),
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(
            f"imported {len(report.imported)}, already present {len(report.already_present)}, "
            f"present in another transfer syntax {len(report.present_other_syntax)}, "
            f"conflicts {len(report.conflicts)}, failed {len(report.failed)}"
        )
        if summary is not None and summary.studies:
            print(summary.line())
    for label in report.present_other_syntax:  # not a problem: named so nobody wonders
        print(f"{label}: {OTHER_SYNTAX_REASON}", file=sys.stderr)
    for failure in report.failed:
        print(f"{failure.item}: {failure.reason}", file=sys.stderr)
    for conflict in report.conflicts:
        print(f"{conflict.item}: conflict: {conflict.reason}", file=sys.stderr)
    if report.stopped:
        print(f"import stopped: {report.stopped}", file=sys.stderr)
    if summary is not None and summary.problem:
        print(f"validate: {summary.problem}", file=sys.stderr)
    if pruned is not None:
        print(f"quota: {pruned.summary()}", file=sys.stderr)
    return 0 if report.ok else 1


def validate_imported(archive: Archive, study_uids: list[str]) -> FindingsSummary:
    """Validate the studies just committed (the background validator's work, waited for
    here: the command's answer includes their findings) and summarise their counts.
    `import` and `retrieve` call it once what they stored is committed."""
    from viewer.quality.background import ImportValidator
    from viewer.quality.store import findings_summary

    validator = ImportValidator(archive)
    try:
        validator.queue(study_uids)
        validator.wait()
    finally:
        validator.close()
    return findings_summary(archive, study_uids, validator.problem)
