"""The decode pool: worker processes fed from a parent-side priority queue.

One dispatcher thread owns the processes and their pipes. Requests wait in a heap in the parent and
go to a worker only when it is idle, so priorities apply at dispatch time (the frame on screen
overtakes neighbours queued earlier). Requests for the same frame share one decode. Results come
back through shared memory (`sharedmem`), are put in the `FrameCache` when there is one, and are
delivered through `concurrent.futures.Future`s and an optional pool-wide `on_done` callback, both
called from the dispatcher thread (a Qt bridge re-emits them as signals).

A worker that dies (a native codec crash, the OOM killer) is noticed through its process sentinel:
the job it was running fails with a reason naming the file, and a new worker takes its place.
Processes are started with forkserver where available (else spawn), never with fork: the GUI
process has threads. (The GUI forks the fork server itself at start-up, before any thread, so
that it shares the decoder's imports: `viewer.decode.forkserver`.) Done-callbacks and `on_done`
must not block (they run on the dispatcher).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import multiprocessing
import os
import secrets
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from viewer.decode.cache import FrameCache
from viewer.decode.requests import (
    Frame,
    FrameError,
    FrameKey,
    FrameRequest,
    PoolClosed,
    WorkerCrashed,
)
from viewer.decode.sharedmem import discard_block, take_block
from viewer.decode.tuning import trim_heap
from viewer.decode.worker import DecodeSpec, worker_main
from viewer.dicom.quiet import debug_enabled

LOGGER = logging.getLogger(__name__)

DEFAULT_DECODE = "viewer.dicom.pixels:decode_frame"
# forkserver where the platform has it (Linux, macOS): one import of the decoder in the server,
# and a crashed worker is replaced by a fork in milliseconds instead of a fresh interpreter.
DEFAULT_START_METHOD = (
    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)
TRIM_AFTER_JOBS = 64  # results taken in before an idle pool trims this process's heap
_MAX_STARTUP_FAILURES = 3  # consecutive worker deaths before "ready": the pool is broken

FrameResult = Frame | FrameError
OnDone = Callable[[FrameResult], None]


def preload_modules(decode: DecodeSpec = DEFAULT_DECODE) -> list[str]:
    """The modules a fork server imports before forking workers that run `decode`."""
    modules = ["viewer.decode.worker"]
    if isinstance(decode, str):
        modules.append(decode.partition(":")[0])
    elif getattr(decode, "__module__", None):
        modules.append(decode.__module__)
    return modules


def default_workers() -> int:
    """One worker per CPU this process may use, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


@dataclass(eq=False)
class _Waiter:
    future: Future[Any]
    generation: int


@dataclass(eq=False)
class _Job:
    id: int
    priority: int
    seq: int
    block: str
    key: FrameKey | None = None  # frame jobs
    fn: Callable[..., Any] | None = None  # call jobs
    args: tuple[Any, ...] = ()
    waiters: list[_Waiter] = field(default_factory=list)
    state: str = "queued"  # queued -> running -> finished, or dropped

    def live(self) -> list[_Waiter]:
        return [w for w in self.waiters if not w.future.done()]

    def describe(self) -> str:
        if self.key is not None:
            return f"frame {self.key[1]}"
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return f"{name}({', '.join(repr(a) for a in self.args)})"


@dataclass(eq=False)
class _Worker:
    slot: int
    process: BaseProcess
    conn: Connection
    ready: bool = False
    # Jobs sent and not yet answered, oldest first (a worker answers in order); up to the
    # pool's `depth`.
    jobs: list[_Job] = field(default_factory=list)


class DecodePool:
    """Decode frames in `workers` processes (default: one per CPU), visible frame first.

    The processes start in the background as soon as the pool is created (ready in about
    0.6 s here; requests made before are queued). `decode` is the
    function workers call, `f(path, index) -> DecodedFrame`, given as a module-level function or
    "module:function" (default `viewer.dicom.pixels.decode_frame`). Use as a context manager or
    call `close()`; shared memory is released either way, also at interpreter exit.

    `depth`: jobs handed to a worker at once. 1 (interactive use) keeps priorities exact: a job
    leaves the queue only for an idle worker. 2 (batch use: `render -j`, bench) lets the next job
    wait in the worker's pipe while it decodes, so it never idles for a round trip through the
    dispatcher (measured: 1 worker, JPEG lossless CT, 10.9 -> 8.7-9.3 ms per slice; 8.2 in
    process), at the price of one job committed ahead of later, more urgent requests.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        decode: DecodeSpec = DEFAULT_DECODE,
        cache: FrameCache | None = None,
        on_done: OnDone | None = None,
        start_method: str = DEFAULT_START_METHOD,
        depth: int = 1,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(f"start_method must be 'spawn' or 'forkserver', not {start_method!r}")
        count = default_workers() if workers is None else int(workers)
        if count < 1:
            raise ValueError(f"workers must be >= 1, got {count}")
        self.cache = cache
        self._core = _Dispatcher(count, decode, cache, on_done, start_method, depth)
        self._finalizer = weakref.finalize(self, self._core.close, 5.0)
        self._core.start()

    # -- frames ---------------------------------------------------------------------------
    def submit(self, request: FrameRequest) -> Future[Frame]:
        """Queue `request`; the future's result is a `Frame`, or it raises `FrameError`."""
        return self._core.submit_frames([request])[0]

    def submit_many(self, requests: Iterable[FrameRequest]) -> list[Future[Frame]]:
        """Queue several requests at once (one wake-up of the dispatcher)."""
        return self._core.submit_frames(list(requests))

    def get(self, request: FrameRequest, timeout: float | None = None) -> Frame:
        """Decode and wait (for the CLI and tests). Raises FrameError, TimeoutError, PoolClosed."""
        future = self.submit(request)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def cancel_older_than(self, generation: int) -> int:
        """Cancel every request of a generation below `generation` not yet delivered.

        Queued ones are dropped; a decode already running finishes and goes to the cache only.
        Their futures end cancelled and `on_done` is not called for them. Returns the count.
        """
        return self._core.cancel_older_than(generation)

    # -- generic jobs ---------------------------------------------------------------------
    def submit_call(
        self, fn: Callable[..., Any], *args: Any, priority: int = 0, generation: int = 0
    ) -> Future[Any]:
        """Run module-level `fn(*args)` in a worker; for jobs whose result is small (a render
        to PNG). A crash of the worker raises `WorkerCrashed` naming the call."""
        return self._core.submit_call(fn, args, priority, generation)

    # -- state ----------------------------------------------------------------------------
    @property
    def workers(self) -> int:
        return self._core.count

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every worker has started and loaded its decoder."""
        return self._core.all_ready.wait(timeout)

    def worker_pids(self) -> list[int]:
        return self._core.pids()

    def pending(self) -> int:
        """Jobs queued and not yet dispatched."""
        return self._core.pending()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers (terminated after `timeout` s) and release all shared memory."""
        self._finalizer.detach()
        self._core.close(timeout)

    @property
    def closed(self) -> bool:
        return self._core.finished.is_set()

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Dispatcher:
    """State shared by the callers and the dispatcher thread; only that thread touches pipes."""

    def __init__(
        self,
        count: int,
        decode: DecodeSpec,
        cache: FrameCache | None,
        on_done: OnDone | None,
        start_method: str,
        depth: int,
    ) -> None:
        self.count = count
        self.depth = depth
        self._decode = decode
        self._cache = cache
        self._on_done = on_done
        self._ctx = multiprocessing.get_context(start_method)
        self._debug = debug_enabled()  # workers log as this process does (--debug)
        if start_method == "forkserver":
            # The server imports the worker and its decoder once; workers (and replacements of
            # crashed ones) are then forked from it ready to decode.
            self._ctx.set_forkserver_preload(preload_modules(decode))  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self._heap: list[tuple[int, int, _Job]] = []
        self._by_key: dict[FrameKey, _Job] = {}
        self._queued: set[_Job] = set()
        self._running: set[_Job] = set()
        self._completed_since_trim = 0
        self._workers: list[_Worker] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._prefix = f"dv{os.getpid():x}{secrets.token_hex(2)}_"
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._wake_open = True
        self._closing = False
        self._close_timeout = 5.0
        self._broken: str | None = None
        self._startup_failures = 0
        self.all_ready = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="decode-dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- called from any thread -----------------------------------------------------------
    def submit_frames(self, requests: list[FrameRequest]) -> list[Future[Any]]:
        futures: list[Future[Any]] = []
        hits: list[Frame] = []
        with self._lock:
            for request in requests:
                future: Future[Any] = Future()
                futures.append(future)
                cached = self._cache.get(request.path, request.frame_index) if self._cache else None
                if cached is not None:
                    future.set_result(cached)
                    hits.append(cached)
                elif self._closing or self._broken:
                    future.set_exception(PoolClosed(self._broken or "decode pool closed"))
                else:
                    self._add_frame_locked(request, future)
        if len(hits) < len(requests):  # a batch of cache hits gives the dispatcher no work
            self._wake()
        for frame in hits:
            self._notify(frame)
        return futures

    def submit_call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], priority: int, generation: int
    ) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closing or self._broken:
                future.set_exception(PoolClosed(self._broken or "decode pool closed"))
                return future
            job = self._new_job_locked(priority)
            job.fn, job.args = fn, args
            job.waiters.append(_Waiter(future, generation))
        self._wake()
        return future

    def cancel_older_than(self, generation: int) -> int:
        with self._lock:
            doomed = [
                w.future
                for job in (*self._queued, *self._running)
                for w in job.live()
                if w.generation < generation
            ]
        # Outside the lock: cancelling runs done-callbacks, which may submit again.
        cancelled = sum(1 for f in doomed if f.cancel())
        with self._lock:
            for job in list(self._queued):
                if not job.live():
                    self._drop_locked(job)
        return cancelled

    def pending(self) -> int:
        with self._lock:
            return len(self._queued)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def close(self, timeout: float) -> None:
        with self._lock:
            self._closing = True
            self._close_timeout = timeout
        self._wake()
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join()
        elif not self._thread.is_alive() and not self.finished.is_set():
            self._shutdown()  # the thread never ran (closed before start) or died

    # -- queue bookkeeping (lock held) ----------------------------------------------------
    def _new_job_locked(self, priority: int) -> _Job:
        job_id = next(self._ids)
        job = _Job(job_id, priority, next(self._seq), f"{self._prefix}{job_id:x}")
        heapq.heappush(self._heap, (priority, job.seq, job))
        self._queued.add(job)
        return job

    def _add_frame_locked(self, request: FrameRequest, future: Future[Any]) -> None:
        job = self._by_key.get(request.key)
        if job is None:
            job = self._new_job_locked(request.priority)
            job.key = request.key
            self._by_key[request.key] = job
        elif job.state == "queued" and request.priority < job.priority:
            # Re-prioritise: push a fresh heap entry; the old one is skipped when popped.
            job.priority, job.seq = request.priority, next(self._seq)
            heapq.heappush(self._heap, (job.priority, job.seq, job))
        job.waiters.append(_Waiter(future, request.generation))

    def _drop_locked(self, job: _Job) -> None:
        job.state = "dropped"
        self._queued.discard(job)
        if job.key is not None and self._by_key.get(job.key) is job:
            del self._by_key[job.key]

    def _finish_locked(self, job: _Job) -> list[_Waiter]:
        job.state = "finished"
        self._running.discard(job)
        if job.key is not None and self._by_key.get(job.key) is job:
            del self._by_key[job.key]
        return job.live()

    def _assign_locked(self) -> list[tuple[_Worker, _Job]]:
        live = [w for w in self._workers if w.ready and w.process.is_alive()]
        # Idle workers first, then a second job for busy ones; rounds keep the load even.
        idle = [w for depth in range(self.depth) for w in live if len(w.jobs) == depth]
        out: list[tuple[_Worker, _Job]] = []
        while idle and self._heap:
            _, seq, job = heapq.heappop(self._heap)
            if job.state != "queued" or seq != job.seq:
                continue  # dropped, or re-pushed with a better priority
            if not job.live():
                self._drop_locked(job)
                continue
            worker = idle.pop(0)
            job.state = "running"
            self._queued.discard(job)
            self._running.add(job)
            worker.jobs.append(job)
            out.append((worker, job))
        return out

    # -- the dispatcher thread ------------------------------------------------------------
    def _run(self) -> None:
        try:
            for slot in range(self.count):
                worker = self._spawn(slot)
                with self._lock:
                    self._workers.append(worker)
            while True:
                with self._lock:
                    if self._closing:
                        break
                self._dispatch()
                self._wait_and_handle()
                self._trim_when_idle()
        except Exception:
            LOGGER.exception("decode dispatcher failed")
            with self._lock:
                self._broken = "decode dispatcher failed (see log)"
        finally:
            self._shutdown()

    def _trim_when_idle(self) -> None:
        """Once the pool has gone idle after taking in TRIM_AFTER_JOBS results or more, give
        this process's freed heap back (the workers do the same for theirs): receiving a
        1,000-slice series leaves a few MiB of freed buffers behind that nothing reuses soon."""
        if self._completed_since_trim < TRIM_AFTER_JOBS:
            return
        with self._lock:
            idle = not self._queued and not self._running
        if idle:
            self._completed_since_trim = 0
            trim_heap()

    def _spawn(self, slot: int) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=worker_main,
            args=(child_conn, self._decode, self.count > 1, self._debug),
            name=f"decode-worker-{slot}",
            daemon=True,
        )
        process.start()
        child_conn.close()  # so a dead worker reads as EOF here
        LOGGER.debug("started decode worker %d (pid %s)", slot, process.pid)
        return _Worker(slot, process, parent_conn)

    def _send_job(self, worker: _Worker, job: _Job) -> None:
        if job.key is not None:
            message: tuple[Any, ...] = ("frame", job.id, job.block, job.key[0], job.key[1])
        else:
            message = ("call", job.id, job.fn, job.args)
        try:
            worker.conn.send(message)
        except (OSError, EOFError):
            pass  # the worker died: its sentinel reports the job as failed
        except Exception as exc:  # unpicklable call arguments: fail that job only
            if job in worker.jobs:
                worker.jobs.remove(job)
            with self._lock:
                waiters = self._finish_locked(job)
            self._fail(job, waiters, TypeError(f"cannot send {job.describe()}: {exc}"))

    def _wait_and_handle(self) -> None:
        conns = {w.conn: w for w in self._workers}
        sentinels = {w.process.sentinel: w for w in self._workers}
        ready = wait([*conns, *sentinels, self._wake_r])
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                os.read(self._wake_r, 4096)
        done: list[tuple[_Job, tuple[Any, ...]]] = []
        for obj in ready:  # results first: a worker may have answered, then died
            if obj in conns:
                done += self._drain(conns[obj])  # type: ignore[index]
        if done:
            # Give the freed workers their next job before delivering: mapping blocks, futures
            # and callbacks then overlap with the next decode instead of delaying it.
            self._dispatch()
            for job, message in done:
                try:
                    self._complete(job, message)
                except Exception as exc:  # one bad result must not stop the dispatcher
                    LOGGER.exception("delivering %s failed", job.describe())
                    self._fail_job(job, f"cannot deliver the result: {exc}")
        for obj in ready:
            if obj in sentinels:
                self._replace(sentinels[obj])  # type: ignore[index]

    def _dispatch(self) -> None:
        with self._lock:
            assignments = self._assign_locked()
        for worker, job in assignments:
            self._send_job(worker, job)

    def _drain(self, worker: _Worker) -> list[tuple[_Job, tuple[Any, ...]]]:
        done: list[tuple[_Job, tuple[Any, ...]]] = []
        while True:
            try:
                if not worker.conn.poll():
                    return done
                message = worker.conn.recv()
            except (EOFError, OSError):
                return done  # dead: handled through its sentinel
            job = self._retire(worker, message)
            if job is not None:
                done.append((job, message))

    def _retire(self, worker: _Worker, message: tuple[Any, ...]) -> _Job | None:
        """Take in a worker's message; the job it finished, if any (the worker is idle again)."""
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            self._startup_failures = 0
            if all(w.ready for w in self._workers) and len(self._workers) == self.count:
                self.all_ready.set()
            return None
        if kind == "startup_error":
            LOGGER.error("decode worker cannot start: %s", message[1])
            self._set_broken(message[1])
            return None
        job = worker.jobs[0] if worker.jobs else None
        if job is None or job.id != message[1]:
            LOGGER.warning("decode worker %d sent an unexpected %s message", worker.slot, kind)
            return None
        worker.jobs.pop(0)
        return job

    def _complete(self, job: _Job, message: tuple[Any, ...]) -> None:
        kind = message[0]
        self._completed_since_trim += 1  # dispatcher thread only, as _trim_when_idle
        if kind == "frame":
            self._deliver_frame(job, message[2], message[3], message[4])
        elif kind == "frame_error":
            discard_block(job.block)  # in case the failure came after the block was made
            with self._lock:
                waiters = self._finish_locked(job)
            assert job.key is not None
            self._fail(job, waiters, FrameError(job.key[0], job.key[1], message[2]))
        elif kind == "call":
            with self._lock:
                waiters = self._finish_locked(job)
            for w in waiters:
                with contextlib.suppress(InvalidStateError):
                    w.future.set_result(message[2])
        else:  # call_error
            with self._lock:
                waiters = self._finish_locked(job)
            detail = message[2]
            if detail[0] == "dicom":
                from viewer.dicom.files import DicomFileError

                error: BaseException = DicomFileError(detail[1], detail[2])
            else:
                error = detail[1]
            self._fail(job, waiters, error)

    def _deliver_frame(self, job: _Job, shape: tuple[int, ...], dtype: str, info: Any) -> None:
        assert job.key is not None
        array = take_block(job.block, shape, dtype)
        frame = Frame(job.key[0], job.key[1], array, info)
        if self._cache is not None:
            self._cache.put(frame)  # also when every waiter was cancelled: it may be wanted again
        with self._lock:
            waiters = self._finish_locked(job)
        delivered = False
        for w in waiters:
            try:
                w.future.set_result(frame)
                delivered = True
            except InvalidStateError:
                pass  # cancelled meanwhile
        if delivered:
            self._notify(frame)

    def _fail_job(self, job: _Job, reason: str) -> None:
        with self._lock:
            waiters = self._finish_locked(job)
        if job.key is not None:
            self._fail(job, waiters, FrameError(job.key[0], job.key[1], reason))
        else:
            self._fail(job, waiters, RuntimeError(reason))

    def _fail(self, job: _Job, waiters: list[_Waiter], error: BaseException) -> None:
        delivered = False
        for w in waiters:
            try:
                w.future.set_exception(error)
                delivered = True
            except InvalidStateError:
                pass
        if delivered and isinstance(error, FrameError):
            self._notify(error)

    def _notify(self, result: FrameResult) -> None:
        if self._on_done is None:
            return
        try:
            self._on_done(result)
        except Exception:  # a faulty callback must not stop the pool
            LOGGER.exception("decode pool on_done callback failed")

    def _replace(self, worker: _Worker) -> None:
        worker.process.join(1.0)
        how = _describe_exit(worker.process.exitcode)
        job = worker.jobs[0] if worker.jobs else None
        waiting, worker.jobs = worker.jobs[1:], []
        with self._lock:
            for queued in waiting:  # sent but not started: back to the queue, not failed
                queued.state = "queued"
                self._running.discard(queued)
                self._queued.add(queued)
                queued.seq = next(self._seq)
                heapq.heappush(self._heap, (queued.priority, queued.seq, queued))
        if job is not None:
            discard_block(job.block)
            with self._lock:
                waiters = self._finish_locked(job)
            if job.key is not None:
                LOGGER.warning("decode worker crashed (%s) on frame %d", how, job.key[1])
                reason = f"decoder process crashed ({how}) while decoding frame {job.key[1]}"
                self._fail(job, waiters, FrameError(job.key[0], job.key[1], reason))
            else:
                reason = f"worker process crashed ({how}) while running {job.describe()}"
                self._fail(job, waiters, WorkerCrashed(reason, how))
        with contextlib.suppress(OSError):
            worker.conn.close()
        with self._lock:
            self._workers.remove(worker)
        if not worker.ready:
            self._startup_failures += 1
            if self._startup_failures >= _MAX_STARTUP_FAILURES:
                self._set_broken(f"decode workers exit while starting ({how})")
        with self._lock:
            stop = self._closing or self._broken is not None
        if not stop:
            self.all_ready.clear()
            replacement = self._spawn(worker.slot)
            with self._lock:
                self._workers.append(replacement)

    def _set_broken(self, reason: str) -> None:
        with self._lock:
            self._broken = reason
            jobs = [*self._queued]
            for job in jobs:
                self._drop_locked(job)
        for job in jobs:
            self._fail_closed(job, reason)

    def _fail_closed(self, job: _Job, reason: str) -> None:
        for w in job.waiters:
            with contextlib.suppress(InvalidStateError):
                w.future.set_exception(PoolClosed(reason))

    def _shutdown(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError, EOFError, ValueError):
                worker.conn.send(None)
        deadline = time.monotonic() + self._close_timeout
        for worker in self._workers:
            worker.process.join(max(deadline - time.monotonic(), 0.01))
            if worker.process.is_alive():
                LOGGER.warning("decode worker %d did not stop: terminating it", worker.slot)
                worker.process.terminate()
                worker.process.join(2.0)
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join(2.0)
        with self._lock:
            jobs = [*self._queued, *self._running]
            for job in jobs:
                self._drop_locked(job)
                self._running.discard(job)
            self._heap.clear()
        for worker in self._workers:
            for job in worker.jobs:
                discard_block(job.block)  # perhaps written, but its message was never read
            with contextlib.suppress(OSError):
                worker.conn.close()
            with contextlib.suppress(ValueError, AttributeError):
                worker.process.close()
        self._workers.clear()
        for job in jobs:
            self._fail_closed(job, "decode pool closed")
        with self._lock:
            self._wake_open = False
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.finished.set()

    def _wake(self) -> None:
        with self._lock:  # never write to a closed (and maybe reused) descriptor
            if self._wake_open:
                with contextlib.suppress(BlockingIOError, OSError):
                    os.write(self._wake_w, b"\0")


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"signal {-code}, {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
