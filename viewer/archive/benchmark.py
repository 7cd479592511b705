"""`bench import`: `dicom-viewer import DIR` against a naive copy loop, and searching a large index.

Targets, each measured against a baseline of the same run on the same machine:
(a) `dicom-viewer import DIR` into a new archive, a whole process (header checks, sha256, atomic
    store writes made durable in batches, index rows), takes at most 1.5x the wall time of a
    baseline process that reads each header with pydicom (`dcmread(stop_before_pixels=True)`)
    and copies the file (`shutil.copy`) into a folder on the same file system; both started
    the same way (`python -c SCRIPT` / `python -m viewer`), `repeat` passes each, alternating
    (which goes first alternates too), each after an os.sync() and into a new folder, whose
    files are emptied afterwards (`release_files`); the medians count, every pass is printed;
(b) `studies --patient-name` over an index of 100,000 instances in 2,000 studies in <= 50 ms
    (median of repeated searches; the index rows are generated directly with executemany).
The source files are read once before either loop runs, so both find them in the page cache.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from viewer.archive.index import Index
from viewer.archive.records import name_key
from viewer.decode.benchmark import (
    Target,
    alternating,
    script_command,
    timed_process,
    viewer_command,
)

LOGGER = logging.getLogger(__name__)

ROWS = COLUMNS = 512
TARGET_IMPORT_RATIO = 1.5
TARGET_SEARCH_MS = 50.0
SERIES_PER_STUDY = 2
INSTANCES_PER_SERIES = 25  # 2,000 studies x 2 x 25 = 100,000 instances
SEARCH_REPEAT = 15
SEARCHES = ("SMITH*", "*oe^j*", "d?e*", "张*", "müller^*")
_FAMILIES = [
    "SMITH", "JONES", "DOE", "ROE", "MÜLLER", "GARCÍA", "NGUYEN", "O'BRIEN", "KOWALSKI",
    "Dupont", "Rossi", "Tanaka", "Kim", "Papadopoulos", "Andersson", "Silva", "Ivanov",
]
_CHINESE = ["张三", "李四", "王五", "赵六", "陈七"]
_GIVEN = ["JOHN", "JANE", "ALEX", "MARIA", "LI", "WEI", "ANNA", "PETER"]

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    del message


@dataclass
class ImportBenchmark:
    """Wall times in seconds (medians of whole processes); search times in ms (median per
    pattern)."""

    files: int
    total_bytes: int
    baseline_s: float
    import_s: float
    studies: int
    instances: int
    search_ms: dict[str, float] = field(default_factory=dict)
    search_found: dict[str, int] = field(default_factory=dict)
    baseline_passes: list[float] = field(default_factory=list)  # every pass, in run order
    import_passes: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.import_s / self.baseline_s

    @property
    def worst_search_ms(self) -> float:
        return max(self.search_ms.values())

    def targets(self) -> list[Target]:
        return [
            Target("import / baseline", self.ratio, TARGET_IMPORT_RATIO, "x"),
            Target("studies --patient-name", self.worst_search_ms, TARGET_SEARCH_MS, "ms"),
        ]

    def to_json(self) -> str:
        document: dict[str, Any] = asdict(self)
        document["ratio"] = self.ratio
        document["targets"] = [{**asdict(t), "met": t.met} for t in self.targets()]
        return json.dumps(document, ensure_ascii=False, indent=2)


def run_import_benchmark(
    files: int,
    workdir: Path | None = None,
    studies: int = 2_000,
    progress: Progress = _quiet,
    repeat: int = 5,
) -> ImportBenchmark:
    """Both measurements; the CT series is kept in `workdir` (reused when complete)."""
    if files < 1 or studies < 1 or repeat < 1:
        raise ValueError("files, studies and repeat must be at least 1")
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-import-", dir=workdir) as scratch:
        source = _series(workdir or Path(scratch), files, progress)
        total = _warm(source)
        passes = iter(range(2 * repeat))

        def timed(loop: str) -> float:
            pass_dir = Path(scratch) / f"pass-{next(passes)}"
            # Each loop starts with nothing left to write back: the import makes its files
            # durable with syncfs, which would also write back the baseline's copies. What a
            # loop wrote is emptied after it (`release_files`), not deleted.
            os.sync()
            try:
                if loop == "baseline":
                    return _baseline(source, pass_dir / "copy")
                return _import(source, pass_dir / "archive", files)
            finally:
                release_files(pass_dir)

        progress(f"{repeat} passes of the baseline and the import, alternating")
        times = alternating(
            repeat, {"baseline": lambda: timed("baseline"), "import": lambda: timed("import")}
        )
        baselines, imports = times["baseline"], times["import"]
        progress(f"search over {studies} studies")
        with Index(Path(scratch) / "search.sqlite3") as index:
            instances = build_search_index(index, studies)
            search_ms, found = {}, {}
            for pattern in SEARCHES:
                search_ms[pattern], found[pattern] = _search_ms(index, pattern)
    return ImportBenchmark(
        files, total, statistics.median(baselines), statistics.median(imports), studies,
        instances, search_ms, found, baselines, imports,
    )


def _series(folder: Path, files: int, progress: Progress) -> Path:
    from viewer.dicom.demo import write_ct_series

    source = folder / f"ct-{files}"
    if len(list(source.glob("CT*.dcm"))) != files:
        progress(f"writing {files} synthetic CT slices")
        shutil.rmtree(source, ignore_errors=True)
        write_ct_series(source, files, ROWS, COLUMNS)
    return source


def _warm(source: Path) -> int:
    """Read every file once (page cache); their total size."""
    total = 0
    for path in sorted(source.iterdir()):
        total += len(path.read_bytes())
    return total


def release_files(folder: Path) -> None:
    """Empty every file below `folder` (truncate to 0 bytes), keeping the files.

    Both loops then write into page cache the machine has used before. On this VM, page cache
    grown past about 1 GB costs ~3x the system time a file (new guest memory backed by the host
    on first touch): a baseline loop took 0.65 s in a run's first two passes and 1.9-2.6 s in
    the next four, for the same work. Deleting the files instead would free their inodes, and
    for ~30 s after a mass deletion ext4 here (no journal) makes every new file skip the
    recently deleted inodes one by one (recently_deleted() in find_inode_bit): up to 0.5 ms a
    file for whichever loop came next."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.truncate(path, 0)


# The baseline: what a script does without us, in a process of its own.
BASELINE_SCRIPT = """
import shutil, sys
from pathlib import Path
import pydicom
source, target = Path(sys.argv[1]), Path(sys.argv[2])
target.mkdir(parents=True)
for path in sorted(source.iterdir()):
    pydicom.dcmread(path, stop_before_pixels=True)
    shutil.copy(path, target / path.name)
"""


def _baseline(source: Path, target: Path) -> float:
    return timed_process(script_command(BASELINE_SCRIPT, str(source), str(target)))[0]


def _import(source: Path, root: Path, files: int) -> float:
    # the import alone: validation after it is bench quality's row (viewer.quality.benchmark_import)
    seconds, out = timed_process(viewer_command("--archive", str(root), "import", str(source),
                                                "--json", "--no-validate"))
    report = json.loads(out)
    if len(report["imported"]) != files:
        raise RuntimeError(
            f"import brought {len(report['imported'])} of {files} files "
            f"({len(report['failed'])} failed, stopped: {report['stopped'] or 'no'})"
        )
    return seconds


def build_search_index(index: Index, studies: int, seed: int = 4) -> int:
    """Fill an empty index with `studies` studies of 2 x 25 instances; the instance count.

    Rows are generated directly (executemany, one transaction): the search is measured, not
    the import. One name in ten is Chinese with an ideographic group (PS3.5 §6.2.1).
    """
    from viewer.dicom import text

    rng = random.Random(seed)
    patients, study_rows, series, instances = [], [], [], []
    for s in range(1, studies + 1):
        if s % 10 == 0:
            name = f"Zhang^Wei={rng.choice(_CHINESE)}^{rng.choice(_CHINESE)[1:]}"
        else:
            name = f"{rng.choice(_FAMILIES)}^{rng.choice(_GIVEN)}"
        _, ideographic, phonetic = text.person_name_groups(name)
        patients.append((
            s, f"PID{s:05d}", name, name_key(name), name_key(ideographic), name_key(phonetic),
            "19600101", rng.choice("MF"),
        ))
        modalities = sorted({rng.choice(["CT", "MR", "CR", "US"]) for _ in range(2)})
        count = SERIES_PER_STUDY * INSTANCES_PER_SERIES
        study_rows.append((
            s, f"1.2.826.0.1.{s}", s, f"20{rng.randint(10, 24)}{rng.randint(1, 12):02d}01",
            "120000", "bench", f"ACC{s}", "", "\\".join(modalities), SERIES_PER_STUDY, count,
            count * 525_000,
        ))
        for k in range(SERIES_PER_STUDY):
            se = (s - 1) * SERIES_PER_STUDY + k + 1
            series.append((
                se, f"1.2.826.0.1.{s}.{k}", s, k + 1, modalities[k % len(modalities)], "",
                INSTANCES_PER_SERIES,
            ))
            for i in range(INSTANCES_PER_SERIES):
                uid = f"1.2.826.0.1.{s}.{k}.{i}"
                instances.append((
                    uid, se, "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1", i + 1, 1,
                    f"store/{uid}.dcm", 525_000, "0" * 64, "2024-01-01T00:00:00Z", "ok",
                ))
    db = index._db  # bulk rows straight into the schema: add_instance is measured elsewhere
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?, ?, ?)", patients)
    db.executemany(  # columns named: later schema steps add columns (004: last_viewed_at)
        """INSERT INTO studies (id, study_uid, patient_ref, study_date, study_time, description,
        accession_number, referring_physician, modalities, series_count, instance_count,
        size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", study_rows)
    db.executemany("INSERT INTO series VALUES (?, ?, ?, ?, ?, ?, ?)", series)
    db.executemany(
        """INSERT INTO instances (sop_instance_uid, series_ref, sop_class_uid,
               transfer_syntax_uid, instance_number, frames, store_path, size_bytes, sha256,
               imported_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        instances,
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    index.checkpoint()
    return len(instances)


def _search_ms(index: Index, pattern: str) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(SEARCH_REPEAT):
        t0 = time.perf_counter()
        found = len(index.search_studies(patient_name=pattern))
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), found


def format_table(b: ImportBenchmark) -> str:
    mb = b.total_bytes / 1e6
    lines = [
        f"import: {b.files} files {ROWS}x{COLUMNS} uncompressed CT ({mb:.1f} MB)",
        f"whole processes, median of {len(b.import_passes)} alternating passes:",
        f"{'baseline dcmread(stop_before_pixels) + shutil.copy':52s} {b.baseline_s:8.3f} s",
        f"{'dicom-viewer import':52s} {b.import_s:8.3f} s",
        f"{'ms per file: baseline / import':52s} "
        f"{b.baseline_s * 1000 / b.files:8.2f} {b.import_s * 1000 / b.files:8.2f}",
        "passes (baseline s, import s, ratio): " + ", ".join(
            f"{base:.3f}/{imp:.3f}/{imp / base:.2f}x"
            for base, imp in zip(b.baseline_passes, b.import_passes, strict=True)
        ),
        f"studies --patient-name over {b.instances} instances in {b.studies} studies "
        f"(median of {SEARCH_REPEAT}):",
    ]
    for pattern, ms in b.search_ms.items():
        lines.append(f"  {pattern:12s} {ms:8.2f} ms  ({b.search_found[pattern]} studies)")
    for t in b.targets():
        verdict = "ok" if t.met else "MISSED"
        lines.append(f"target {t.name}: {t.value:.2f} {t.unit} <= {t.limit:g} {t.unit}  {verdict}")
    return "\n".join(lines)
