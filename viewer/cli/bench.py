"""`dicom-viewer bench decode`: benchmarks printed as ratios against a baseline of the same run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks, as ratios against a baseline measured in the same run",
        description=(
            "decode: a synthetic 512x512 CT series in six transfer syntaxes, decoded by GDCM "
            "(the baseline), by pydicom, by us in one process and by our decode pool; then the "
            "display pipeline, render to PNG and the frame cache's memory."
        ),
    )
    parser.add_argument("suite", choices=["decode"], help="which benchmark")
    parser.add_argument("--slices", type=int, default=300, help="slices in the series (300)")
    parser.add_argument(
        "--workdir", type=Path, help="keep the generated series here (reused when present)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="passes per measurement; the best counts (3)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from viewer.cli import CLIError

    if args.slices < 1:
        raise CLIError("--slices must be at least 1")
    if args.repeat < 1:
        raise CLIError("--repeat must be at least 1")
    from viewer.decode.benchmark import format_table, run_decode_benchmark
    from viewer.dicom.demo import TranscodeError

    def progress(message: str) -> None:
        if sys.stderr.isatty():
            print(f"bench decode: {message}...", file=sys.stderr, flush=True)

    try:
        result = run_decode_benchmark(args.slices, args.workdir, args.repeat, progress)
    except TranscodeError as exc:
        raise CLIError(f"cannot prepare the test series: {exc}") from None
    print(result.to_json() if args.json else format_table(result))
    missed = [t for t in result.targets() if not t.met]
    return 1 if args.strict and missed else 0
