"""A batch: every file in the order given, results handed over one by one as they are ready,
and a cancel that stops within the files in flight (a 5,000-file study must be stoppable)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from viewer.dicom.demo import write_ct_series
from viewer.dicom.files import expand_paths
from viewer.jobs import CancelToken
from viewer.quality.findings import FileResult
from viewer.quality.validate import validate_files


@pytest.fixture(scope="module")
def long_series(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_ct_series(tmp_path_factory.mktemp("long"), slices=300, rows=16, columns=16)


def test_results_arrive_one_by_one_and_cancel_stops_the_batch(long_series: list[Path]) -> None:
    cancel = CancelToken()
    seen: list[FileResult] = []
    progress: list[tuple[int, int]] = []

    def on_file(result: FileResult) -> None:
        seen.append(result)
        if len(seen) == 10:
            cancel.cancel()

    report = validate_files(long_series, workers=2, cancel=cancel, on_file=on_file,
                            progress=lambda done, total, _label: progress.append((done, total)))
    assert report.cancelled
    # the files in flight when it was cancelled finish; no new one starts
    assert 10 <= len(report.files) <= 10 + 2 * 4
    assert len(seen) == len(report.files)
    assert progress[-1] == (len(report.files), 300)
    order = {str(p): i for i, p in enumerate(long_series)}
    assert [order[r.path] for r in report.files] == sorted(order[r.path] for r in report.files)


def test_every_file_given_appears_in_order(long_series: list[Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\0" * 10)
    paths = [long_series[5], junk, long_series[0], long_series[5]]
    report = validate_files(paths)
    assert [r.path for r in report.files] == [str(p) for p in paths]
    assert not report.cancelled
    assert [r.errors for r in report.files] == [0, 1, 0, 0]
    # the same file given twice is one instance stored twice: a warning, not an error
    assert [(s.kind, s.severity) for s in report.study_findings] == [("duplicate", "warning")]


def test_folders_are_searched_recursively(tmp_path: Path) -> None:
    write_ct_series(tmp_path / "one" / "deep", slices=2, rows=8, columns=8)
    write_ct_series(tmp_path / "two", slices=3, rows=8, columns=8)
    (tmp_path / "DICOMDIR").write_bytes(b"")
    assert len(expand_paths([tmp_path])) == 5


@pytest.mark.slow
def test_a_5000_file_study_is_incremental_and_cancellable(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path / "big", slices=5000, rows=8, columns=8)
    cancel = CancelToken()
    seen: list[float] = []
    started = time.monotonic()
    thread_result: list[object] = []
    worker = threading.Thread(target=lambda: thread_result.append(validate_files(
        paths, cancel=cancel, on_file=lambda _r: seen.append(time.monotonic()))))
    worker.start()
    time.sleep(2.0)
    cancelled_at = time.monotonic()
    cancel.cancel()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert seen and seen[0] - started < 2.0  # the first result long before the last file
    assert time.monotonic() - cancelled_at < 5.0
    (report,) = thread_result
    assert report.cancelled and 0 < len(report.files) < 5000  # type: ignore[attr-defined]
