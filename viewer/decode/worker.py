"""The loop a decode worker process runs: one job at a time, read from its pipe.

Messages from the parent: ("frame", job_id, block_name, path, frame_index),
("call", job_id, fn, args), or None to exit. Replies: ("ready", pid) once the decoder is imported,
("startup_error", reason), ("frame", job_id, shape, dtype, info), ("frame_error", job_id, reason),
("call", job_id, result), ("call_error", job_id, error).

Workers import only the decoder's module (`viewer.dicom...`) so they start fast.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from viewer.decode.sharedmem import write_block
from viewer.decode.tuning import release_free_memory, tune_malloc

LOGGER = logging.getLogger(__name__)

IDLE_S = 1.0  # a worker without a job for this long gives its decode buffers back

DecodeSpec = str | Callable[..., Any]
"""A decode function `f(path, index) -> object with .array and .info`, or "module:function"."""


def resolve(spec: DecodeSpec) -> Callable[..., Any]:
    if callable(spec):
        return spec
    module_name, _, attr = spec.partition(":")
    fn = getattr(importlib.import_module(module_name), attr)
    if not callable(fn):
        raise TypeError(f"{spec} is not callable")
    return fn  # type: ignore[no-any-return]


def worker_main(
    conn: Connection, decode_spec: DecodeSpec, single_threaded: bool = False, debug: bool = False
) -> None:
    """Entry point of a worker process (spawn/forkserver); `debug`: the parent's --debug."""
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_malloc()
    from viewer.dicom.quiet import quiet_libraries

    # The parent's warnings filters and logging do not reach a forkserver child; failures
    # come back as values naming the file, so library complaints stay off the user's stderr.
    quiet_libraries(debug)
    if single_threaded:
        from viewer.dicom.codecs import prefer_single_threaded

        prefer_single_threaded()
    try:
        decode = resolve(decode_spec)
    except Exception as exc:
        conn.send(("startup_error", f"cannot load decoder {decode_spec!r}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            if not conn.poll(IDLE_S):
                release_free_memory()  # idle: the series is loaded, or the reader moved on
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        if message[0] == "frame":
            _, job_id, block, path, index = message
            reply = _decode_frame(decode, job_id, block, path, index)
        else:
            _, job_id, fn, args = message
            reply = _call(job_id, fn, args)
        try:
            _send(conn, reply)
        except (EOFError, OSError):
            return


def _send(conn: Connection, reply: tuple[Any, ...]) -> None:
    try:
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an unpicklable FrameInfo or call result: report it instead
        kind = "frame_error" if reply[0] == "frame" else "call_error"
        reason = f"result cannot be sent to the parent: {type(exc).__name__}: {exc}"
        detail: Any = reason if kind == "frame_error" else ("exception", TypeError(reason))
        data = pickle.dumps((kind, reply[1], detail))
    conn.send_bytes(data)


def _decode_frame(
    decode: Callable[..., Any], job_id: int, block: str, path: str, index: int
) -> tuple[Any, ...]:
    from viewer.dicom.files import DicomFileError

    try:
        decoded = decode(path, index)
        shape, dtype = write_block(block, decoded.array)
    except DicomFileError as exc:
        return ("frame_error", job_id, exc.reason)
    except MemoryError:
        return ("frame_error", job_id, "not enough memory to decode this frame")
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a decoder bug (or a Rust panic, a BaseException) must not
        # kill the worker with a traceback on stderr: report it as a value
        LOGGER.debug("decoder failed on frame %d", index, exc_info=True)
        return ("frame_error", job_id, f"decoder error: {type(exc).__name__}: {exc}")
    return ("frame", job_id, shape, dtype, decoded.info)


def _call(job_id: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    from viewer.dicom.files import DicomFileError

    try:
        result = fn(*args)
    except DicomFileError as exc:
        # DicomFileError's constructor takes (path, reason): rebuilt by the parent.
        return ("call_error", job_id, ("dicom", exc.path, exc.reason))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # as in _decode_frame: a value, never a dead worker
        return ("call_error", job_id, ("exception", _picklable(exc)))
    return ("call", job_id, result)


def _picklable(exc: BaseException) -> Exception:
    if isinstance(exc, Exception):
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            pass
        else:
            return exc
    return RuntimeError(f"{type(exc).__name__}: {exc}")
