"""`dicom-viewer keys STUDY_UID [--json]`: the key images of a study (CLI.md).

One entry per image (or frame) a Key Object Selection document of the study flags, with the
presentation state its item says it is to be seen with; unflagged images appear nowhere. The
answer comes from the archive's index (schema 005, Index.key_images): no file is read.
`--json`: a list of objects keyed by DICOM keywords (`SOPInstanceUID`, `SeriesInstanceUID`,
`InstanceNumber`, ...), `frame` (1-based, null for the whole image), `document_title`, and
`presentation_state` (`SOPInstanceUID`, `ContentLabel`, `in_archive`) or null.
"""

from __future__ import annotations

import argparse
import json

from viewer.cli import CLIError, open_archive


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("keys", help="the key images of a study, with their presentation states")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    with open_archive(args) as archive:
        if archive.index.get_study(args.study_uid) is None:
            raise CLIError(f"no study {args.study_uid} in the archive")
        keys = archive.index.key_images(args.study_uid)
    if args.json:
        print(json.dumps([k.as_json() for k in keys], ensure_ascii=False, indent=2))
        return 0
    header = ("Number", "Frame", "Document", "PresentationState", "SOPInstanceUID")
    rows = [header]
    for key in keys:
        state = key.presentation_state
        if state is None:
            shown = ""
        elif state.label is None:  # named by the document, not in the archive
            shown = f"{state.sop_instance_uid} (not in the archive)"
        else:
            shown = state.label or state.sop_instance_uid
        rows.append((
            "" if key.instance_number is None else str(key.instance_number),
            "" if key.frame is None else str(key.frame),
            key.document_title, shown,
            key.sop_instance_uid if key.store_path else f"{key.sop_instance_uid} (not in the "
                                                         "archive)",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0
