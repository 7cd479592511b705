"""Running `dicom-viewer bench` in-process for the smoke tests."""

from __future__ import annotations

import argparse

from viewer.cli import bench

NUMBER = r"(\d+\.\d+)"


def bench_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers(dest="verb"))
    return parser


def run_bench(argv: list[str]) -> int:
    return bench.run(bench_parser().parse_args(["bench", *argv]))
