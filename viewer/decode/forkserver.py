"""Start multiprocessing's fork server by forking this process, so that it shares our imports.

multiprocessing starts its fork server as a fresh interpreter that imports the decoder again:
numpy, pydicom and the codec packages it loads (GDCM, openjpeg, Pillow, pylibjpeg) then exist
twice, once in the application and once in the server its workers are forked from (measured
with `bench gui`: 38 MiB of the server's private memory, which the application holds a copy
of). `start_here()` forks the server from this process instead, once those modules are imported
and before any thread is started: the application, the server and every worker then share the
pages of those modules until one of them writes to them. `bench gui`, process tree with the
series loaded: 720 -> 666 MiB (GUI 135 -> 106, fork server 33 -> 16, workers 45 -> 37).
`gc.freeze()` first moves the objects that exist then out of the collector's reach, so that its
passes do not write to every page of them (the pattern the `gc` documentation gives for fork).
multiprocessing's resource tracker is forked the same way, for the same reason.

Only the way the server starts changes: it runs multiprocessing's own server loop
(`forkserver.main`), and `ensure_running()` still checks it and starts a fresh one if it is
gone. Where multiprocessing's internals are not the ones this was written against (another
Python version), or a thread is already running, nothing is done and the pool starts the server
the usual way.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from multiprocessing import connection, forkserver, resource_tracker, util
from typing import Any, NoReturn

LOGGER = logging.getLogger(__name__)

_MAIN_PARAMETERS = ["listener_fd", "alive_r", "preload", "main_path", "sys_path"]
_SERVER_ATTRIBUTES = ("_forkserver_pid", "_forkserver_address", "_forkserver_alive_fd",
                      "_preload_modules")


def start_here(preload: list[str]) -> bool:
    """Import `preload` and fork the fork server from this process; call before starting any
    thread (Qt, the decode pool). True if it now runs; False where it cannot be done here
    (the pool then starts the server as usual)."""
    server: Any = forkserver._forkserver  # type: ignore[attr-defined]
    if not _supported(server):
        return False
    if server._forkserver_pid is not None:
        return True
    if threading.active_count() > 1:
        LOGGER.debug("threads are running: the fork server starts the usual way")
        return False
    for name in preload:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()
    # before the server: it and the workers inherit the tracker (see _start_tracker_here)
    if not _start_tracker_here():
        resource_tracker.ensure_running()
    address = connection.arbitrary_address("AF_UNIX")  # type: ignore[attr-defined]
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(address)
        if not util.is_abstract_socket_namespace(address):  # type: ignore[attr-defined]
            os.chmod(address, 0o600)
        listener.listen()
        alive_r, alive_w = os.pipe()  # EOF for the server once every client has exited
        pid = os.fork()
        if pid == 0:  # the server: multiprocessing's own loop
            os.close(alive_w)
            _run_and_exit(forkserver.main, listener.fileno(), alive_r, list(preload))
        os.close(alive_r)
    server._preload_modules = list(preload)
    server._forkserver_address = address
    server._forkserver_alive_fd = alive_w
    server._forkserver_pid = pid
    LOGGER.debug("fork server %d forked from the application", pid)
    return True


def _start_tracker_here() -> bool:
    """Fork multiprocessing's resource tracker (which unlinks the shared memory blocks a killed
    process leaves behind) from this process too: started the usual way it is one more fresh
    interpreter (8 MiB in `bench gui`); forked, it shares this one's pages. False where the
    internals differ: the caller starts it the usual way."""
    tracker: Any = getattr(resource_tracker, "_resource_tracker", None)
    if tracker is None or not all(hasattr(tracker, n) for n in ("_fd", "_pid", "_lock")):
        return False
    try:
        if list(inspect.signature(resource_tracker.main).parameters) != ["fd"]:
            return False
    except (TypeError, ValueError):
        return False
    with tracker._lock:
        if tracker._fd is not None:
            return True
        r, w = os.pipe()  # the tracker exits once every holder of `w` has (EOF)
        pid = os.fork()
        if pid == 0:
            os.close(w)
            _run_and_exit(resource_tracker.main, r)
        os.close(r)
        tracker._fd, tracker._pid = w, pid
    LOGGER.debug("resource tracker %d forked from the application", pid)
    return True


def _run_and_exit(loop: Callable[..., None], *args: object) -> NoReturn:
    """In a forked child: run multiprocessing's `loop(*args)`, then exit without this
    process's atexit handlers and buffers (they belong to the application)."""
    code = 0
    try:
        loop(*args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def server_pid() -> int | None:
    """The running fork server's process id, if this process started one."""
    return getattr(forkserver._forkserver, "_forkserver_pid", None)  # type: ignore[attr-defined]


def tracker_pid() -> int | None:
    """The resource tracker's process id, if this process started one."""
    tracker = getattr(resource_tracker, "_resource_tracker", None)
    return getattr(tracker, "_pid", None)


def _supported(server: object) -> bool:
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if not all(hasattr(server, name) for name in _SERVER_ATTRIBUTES):
        return False
    try:
        parameters = list(inspect.signature(forkserver.main).parameters)
    except (TypeError, ValueError):
        return False
    return parameters == _MAIN_PARAMETERS
