"""`dicom-viewer export STUDY_UID... --to DIR [--iso FILE] [--anonymize] [--key-images] ...`:
CD/DVD file-sets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from viewer.cli import CLIError, open_archive


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="write studies as a CD/DVD file-set with a DICOMDIR")
    p.add_argument("studies", nargs="+", metavar="STUDY_UID", help="Study Instance UIDs")
    p.add_argument("--to", required=True, type=Path, metavar="DIR",
                   help="target folder (must be empty or new)")
    p.add_argument("--iso", type=Path, metavar="FILE", help="also write an ISO 9660 image")
    p.add_argument("--volume-label", default="DICOM", help="ISO volume label (default DICOM)")
    p.add_argument("--profile", default="STD-GEN-CD",
                   help="PS3.11 media profile: STD-GEN-CD (default), STD-GEN-DVD-JPEG, "
                        "STD-GEN-DVD-J2K, STD-GEN-USB-JPEG, STD-GEN-USB-J2K")
    p.add_argument("--anonymize", action="store_true",
                   help="de-identify (PS3.15 E.1 Basic Application Confidentiality Profile)")
    p.add_argument("--retain-dates", action="store_true",
                   help="with --anonymize: Retain Longitudinal Temporal Information (full dates)")
    p.add_argument("--clean-descriptors", action="store_true",
                   help="with --anonymize: keep descriptions, cleaned of identifiers")
    p.add_argument("--include-burned-in", action="store_true",
                   help="with --anonymize: also export images with Burned In Annotation YES")
    p.add_argument("--key-images", action="store_true",
                   help="only the key images (flagged by the studies' Key Object Selection "
                        "documents), with those documents and their presentation states")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from viewer.media.deid import DeidOptions
    from viewer.media.export import PROFILES, ExportError, export_studies
    from viewer.media.iso import IsoError, make_iso

    from .progress import TerminalProgress

    if args.profile not in PROFILES:
        raise CLIError(f"unknown profile {args.profile!r}; known: {', '.join(PROFILES)}")
    options_only_with_anon = args.retain_dates or args.clean_descriptors or args.include_burned_in
    if options_only_with_anon and not args.anonymize:
        raise CLIError("--retain-dates, --clean-descriptors and --include-burned-in need "
                       "--anonymize")
    deid = None
    if args.anonymize:
        deid = DeidOptions(retain_dates=args.retain_dates,
                           clean_descriptors=args.clean_descriptors,
                           include_burned_in=args.include_burned_in)
    with open_archive(args) as archive:
        try:
            report = export_studies(archive, args.studies, args.to, args.profile, deid,
                                    TerminalProgress("export"),
                                    key_images_only=args.key_images)
        except ExportError as exc:
            raise CLIError(str(exc)) from None
    iso_error = ""
    if args.iso is not None and report.dicomdir is not None:
        try:
            make_iso(args.to, args.iso, args.volume_label)
        except (IsoError, ValueError) as exc:
            iso_error = str(exc)
    if args.json:
        document = {
            "target": str(report.target),
            "profile": report.profile,
            "DICOMDIR": str(report.dicomdir) if report.dicomdir else None,
            "exported": [
                {"path": f.file_id, "SOPInstanceUID": f.sop_instance_uid,
                 "TransferSyntaxUID": f.transfer_syntax_uid}
                for f in report.exported
            ],
            "failed": [{"path": f.item, "reason": f.reason} for f in report.failed],
            "excluded": [{"path": f.item, "reason": f.reason} for f in report.excluded],
            "warnings": [{"path": f.item, "reason": f.reason} for f in report.warnings],
            "iso": str(args.iso) if args.iso is not None and not iso_error else None,
            "bytes": report.bytes_written,
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(f"exported {len(report.exported)}, failed {len(report.failed)}, "
              f"excluded {len(report.excluded)} to {report.target}")
    for failure in report.failed:
        print(f"{failure.item}: {failure.reason}", file=sys.stderr)
    for excluded in report.excluded:
        print(f"{excluded.item}: {excluded.reason}", file=sys.stderr)
    if iso_error:
        print(f"{args.iso}: {iso_error}", file=sys.stderr)
    if report.dicomdir is None:
        print(f"{report.target}: nothing exported", file=sys.stderr)
        return 1 if report.failed or report.excluded else 2
    return 0 if report.ok and not iso_error else 1
