"""Rendering many files or frames to PNG, in-process or across the decode pool (`render -j N`).

Each worker gets a path and writes the PNG itself, so no pixels cross process boundaries; the
parent only hands out jobs and collects one short result per file.
"""

from __future__ import annotations

from concurrent.futures import Future, as_completed
from dataclasses import dataclass
from pathlib import Path

from viewer.decode.requests import WorkerCrashed
from viewer.dicom.display import DisplayState, render_file
from viewer.dicom.files import DicomFileError, files_under
from viewer.jobs import CancelToken, ProgressCallback, Report, no_progress


@dataclass(frozen=True)
class RenderJob:
    """Render `frames` (None: all) of `path` to `out_stem`[_NNNN].png."""

    path: str
    out_stem: str
    frames: tuple[int, ...] | None = None


def folder_jobs(root: Path, out_dir: Path) -> list[RenderJob]:
    """One job per file below `root`; outputs mirror the folder tree under `out_dir`."""
    jobs = []
    for path in files_under(root):
        relative = path.relative_to(root)  # from the file system walk, never from DICOM text
        jobs.append(RenderJob(str(path), str(out_dir / relative.parent / relative.name)))
    return jobs


def run_render_jobs(
    jobs: list[RenderJob],
    state: DisplayState | None,
    workers: int = 1,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    isolated: bool = False,
) -> Report:
    """Run the jobs; one bad file is a failure in the report, never the end of the batch.
    `isolated`: in a worker process even for one job, so that a native codec aborting on a
    damaged stream costs that process, not the caller (GDCM does, on some)."""
    report = Report()
    for job in jobs:
        Path(job.out_stem).parent.mkdir(parents=True, exist_ok=True)
    if not isolated and (workers <= 1 or len(jobs) <= 1):
        for n, job in enumerate(jobs, 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            _run_one(job, state, report)
            progress(n, len(jobs), job.path)
        return report

    from viewer.decode.pool import DecodePool

    with DecodePool(max(workers, 1), depth=2) as pool:
        futures: dict[Future[list[str]], RenderJob] = {
            pool.submit_call(render_file, job.path, job.out_stem, state, _frames(job)): job
            for job in jobs
        }
        for n, future in enumerate(as_completed(futures), 1):
            if cancel is not None and cancel.cancelled:
                for pending in futures:
                    pending.cancel()
                cancel.raise_if_cancelled()
            job = futures[future]
            try:
                report.done.extend(future.result())
            except DicomFileError as exc:
                report.fail(job.path, exc.reason)
            except WorkerCrashed as exc:  # a native codec took the process down on this file
                report.fail(job.path, f"the decoding process crashed ({exc.how or exc.reason})")
            except Exception as exc:  # a codec failure: report, carry on
                report.fail(job.path, str(exc) or type(exc).__name__)
            progress(n, len(jobs), job.path)
    return report


def _frames(job: RenderJob) -> list[int] | None:
    return list(job.frames) if job.frames is not None else None


def _run_one(job: RenderJob, state: DisplayState | None, report: Report) -> None:
    try:
        report.done.extend(render_file(job.path, job.out_stem, state, _frames(job)))
    except DicomFileError as exc:
        report.fail(job.path, exc.reason)
    except OSError as exc:
        report.fail(job.path, f"cannot write the picture: {exc.strerror or exc}")
