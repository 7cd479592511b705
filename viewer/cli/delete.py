"""`dicom-viewer delete STUDY_UID...`: remove studies from the index and the store."""

from __future__ import annotations

import argparse
import sys

from viewer.cli import open_archive


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("delete", help="remove studies from the archive (index and files)")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID")


def run(args: argparse.Namespace) -> int:
    failed = 0
    with open_archive(args) as archive:
        for uid in args.study_uids:
            if archive.index.get_study(uid) is None:
                print(f"{uid}: no such study in the archive", file=sys.stderr)
                failed += 1
                continue
            # Rows first, in one transaction; then the files. A crash in between leaves files
            # without rows, which `check` reports as orphans (never rows without files).
            for path in archive.index.delete_study(uid):
                archive.store.remove(path)
            print(f"deleted {uid}")
    return 1 if failed else 0
