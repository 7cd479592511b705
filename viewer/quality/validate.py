"""Validate a batch of files: each file (files.py) on a thread pool, then the study findings
over those that could be read (studies.py). The one entry point of `validate`, and of the
import's background pass after it.

Why threads: the cost is dciodvfy's process per file (~10 ms, its start-up mostly), spent
outside the GIL; a thread per core keeps the cores busy with them while Python reads the next
headers. Files are handed out a few at a time, so a 5,000-file study is validated
incrementally (`on_file` sees each result when it is ready) and a cancel stops it within the
files in flight. dcentvfy then runs once per study (~1 ms a file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING

from viewer.jobs import CancelToken, ProgressCallback, no_progress
from viewer.quality.dciodvfy import tool_path
from viewer.quality.entities import entity_findings
from viewer.quality.files import InstanceFacts, inspect_file
from viewer.quality.findings import FileResult, StudyFinding, ValidationReport
from viewer.quality.studies import study_findings

if TYPE_CHECKING:
    pass

# Files in flight per worker: enough to keep a worker busy, few enough that a cancel is quick.
_AHEAD = 4


def default_workers() -> int:
    """One worker per core, plus one: a dciodvfy process starting while another runs."""
    return (os.cpu_count() or 1) + 1


def validate_files(
    paths: Sequence[Path],
    *,
    workers: int | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback = no_progress,
    on_file: Callable[[FileResult], None] | None = None,
) -> ValidationReport:
    """Validate `paths` (files, not folders): every file appears in the report, in the order
    given. ToolMissing when dciodvfy is not installed. `cancel`: stop handing out files; the
    report then holds those done and `cancelled`."""
    tool = tool_path()
    results: dict[int, tuple[FileResult, InstanceFacts | None]] = {}
    cancelled = False
    with ThreadPoolExecutor(max_workers=max(1, workers or default_workers()),
                            thread_name_prefix="validate") as pool:
        pending: dict[Future[tuple[FileResult, InstanceFacts | None]], int] = {}
        todo: Iterator[tuple[int, Path]] = iter(enumerate(paths))
        limit = max(1, workers or default_workers()) * _AHEAD
        while True:
            if cancel is not None and cancel.cancelled:
                cancelled = True
            while not cancelled and len(pending) < limit:
                item = next(todo, None)
                if item is None:
                    break
                pending[pool.submit(inspect_file, item[1], tool)] = item[0]
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                results[index] = future.result()
                if on_file is not None:
                    on_file(results[index][0])
                progress(len(results), len(paths), str(paths[index]))
    ordered = [results[i] for i in sorted(results)]
    facts = [f for _, f in ordered if f is not None]
    return ValidationReport(tuple(r for r, _ in ordered), tuple(consistency_findings(facts)),
                            cancelled)


def consistency_findings(facts: Sequence[InstanceFacts]) -> list[StudyFinding]:
    """Every study and series finding over these files' facts (from `inspect_file`): our
    checks (studies.py), then dcentvfy's attributes that differ within an entity."""
    return [*study_findings(facts), *entity_findings([f for f in facts if f.whole])]
