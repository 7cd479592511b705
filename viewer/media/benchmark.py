"""Export benchmark: our `export_studies` against `cp -r` + DCMTK `dcmmkdir`, same run.

The baseline copies the very files the archive holds for the study (hard-linked, before timing,
into a folder under PS3.10 names so that dcmmkdir accepts them) with `cp -r`, then builds a
DICOMDIR over the copy with `dcmmkdir +r`. Both sides read the same inodes, so the page cache
favours neither; runs alternate and the median of each is reported.

Run: `python -m viewer.media.benchmark [--slices 1000] [--runs 3] [--work DIR]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.dicom.demo import write_ct_series
from viewer.media.export import export_studies

_TOOL_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ExportBench:
    """Seconds per run for each side, and the ratio of the medians (ours / baseline)."""

    images: int
    megabytes: float
    ours_s: list[float]
    baseline_s: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ours_s) / statistics.median(self.baseline_s)

    def summary(self) -> str:
        return (
            f"export of {self.images} images ({self.megabytes:.0f} MB): "
            f"ours {statistics.median(self.ours_s):.2f} s, "
            f"cp -r + dcmmkdir {statistics.median(self.baseline_s):.2f} s, "
            f"ratio {self.ratio:.2f} (target <= 1.5)"
        )


def _baseline(named: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["cp", "-r", str(named), str(out)], check=True, timeout=_TOOL_TIMEOUT_S)
    subprocess.run(
        ["dcmmkdir", "-q", "+r", "+id", str(out), "+D", str(out / "DICOMDIR"), "."],
        check=True, timeout=_TOOL_TIMEOUT_S, cwd=out,
    )
    return time.perf_counter() - start


def measure(work: Path, slices: int = 1000, runs: int = 3) -> ExportBench:
    """Write a `slices`-image 512x512 CT study, import it, and time both sides `runs` times."""
    study_uid = "1.2.826.0.1.3680043.8.498.777.1"
    write_ct_series(work / "src", slices=slices, study_uid=study_uid)
    with Archive(work / "archive") as archive:
        imported = import_paths(archive, [work / "src"])
        if imported.failed:
            raise RuntimeError(f"import failed: {imported.failed[0]}")
        rows = [
            row
            for series in archive.index.series(study_uid)
            for row in archive.index.instances(series.series_instance_uid)
        ]
        named = work / "named" / "IMAGES"
        named.mkdir(parents=True)
        for i, row in enumerate(rows):  # hard links: the same bytes, under PS3.10 names
            os.link(archive.store.absolute(row.store_path), named / f"IM{i:06d}")
        size = sum(archive.store.absolute(r.store_path).stat().st_size for r in rows)
        ours: list[float] = []
        base: list[float] = []
        for run in range(runs):
            out = work / f"ours{run}"
            start = time.perf_counter()
            export_studies(archive, [study_uid], out)
            ours.append(time.perf_counter() - start)
            base.append(_baseline(work / "named", work / f"base{run}"))
            shutil.rmtree(out)
            shutil.rmtree(work / f"base{run}")
    return ExportBench(len(rows), size / 1e6, ours, base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-export-", dir=args.work) as work:
        result = measure(Path(work), args.slices, args.runs)
    print(result.summary())
    print("ours:", " ".join(f"{s:.2f}" for s in result.ours_s),
          "| baseline:", " ".join(f"{s:.2f}" for s in result.baseline_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
