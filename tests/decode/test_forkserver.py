"""viewer.decode.forkserver: the fork server forked from the application shares its imports."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

from viewer.dicom.demo import write_ct_series

SCRIPT = """
import json, os, sys, threading
from viewer.decode.forkserver import server_pid, start_here
from viewer.decode.pool import DecodePool, preload_modules
from viewer.decode.requests import FrameRequest

if sys.argv[2] == "thread":
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
started = start_here(preload_modules())
with DecodePool(2) as pool:
    frame = pool.get(FrameRequest(sys.argv[1], 0), timeout=60)
    parents = []
    for pid in pool.worker_pids():
        with open(f"/proc/{pid}/stat") as f:
            parents.append(int(f.read().rsplit(")", 1)[1].split()[1]))
    with open(f"/proc/{server_pid()}/cmdline", "rb") as f:
        server_cmdline = f.read()
    with open("/proc/self/cmdline", "rb") as f:
        own_cmdline = f.read()
print(json.dumps({"started": started, "server": server_pid(), "parents": parents,
                  "shape": list(frame.array.shape),
                  "server_is_our_image": server_cmdline == own_cmdline}))
if sys.argv[2] == "thread":
    stop.set()
"""


def _run(path: Path, mode: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path), mode],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_server_forked_from_here_forks_the_workers(tmp_path: Path) -> None:
    path = write_ct_series(tmp_path, 1, 64, 64)[0]
    result = _run(path, "plain")
    assert result["started"] is True
    assert result["shape"] == [64, 64]
    # the workers are children of our server, which runs this interpreter's image (no new
    # `python -c "from multiprocessing.forkserver import main"`)
    assert result["parents"] == [result["server"], result["server"]]
    assert result["server_is_our_image"] is True
    # once the application has exited, so does the server (its "alive" pipe reads EOF)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{result['server']}/cmdline").exists() and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{result['server']}/stat").read_text().split(")")[1].split()[0] == "Z":
                break  # exited, waiting for a reaper that is not us
        time.sleep(0.05)
    assert time.monotonic() < deadline, "the fork server outlived the application"


def test_with_a_thread_running_the_server_starts_the_usual_way(tmp_path: Path) -> None:
    path = write_ct_series(tmp_path, 1, 64, 64)[0]
    result = _run(path, "thread")
    assert result["started"] is False
    assert result["shape"] == [64, 64]
    assert result["server_is_our_image"] is False


KILLED_SCRIPT = """
import sys, time
import numpy as np
from viewer.decode.forkserver import start_here
from viewer.decode.pool import DecodePool, preload_modules
from viewer.decode.sharedmem import write_block

start_here(preload_modules())
pool = DecodePool(1)
pool.wait_ready(60)
write_block(sys.argv[1], np.ones(1000, np.int16))  # registered with the tracker, never unlinked
print("ready", flush=True)
time.sleep(60)
"""


def test_forked_tracker_unlinks_what_a_killed_application_left(tmp_path: Path) -> None:
    import secrets
    import signal

    name = f"dvtest{secrets.token_hex(4)}"
    app = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, name],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "ready"
        assert Path(f"/dev/shm/{name}").exists()
        tracker = next(
            int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
            and _parent(int(p.name)) == app.pid
            and Path(f"/proc/{p.name}/cmdline").read_bytes()
            == Path(f"/proc/{app.pid}/cmdline").read_bytes()
            and _is_tracker(int(p.name))
        )
        assert tracker
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        deadline = time.monotonic() + 20
        while Path(f"/dev/shm/{name}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/dev/shm/{name}").exists(), "the leaked block was not unlinked"
    finally:
        app.kill()
        app.wait(10)
        Path(f"/dev/shm/{name}").unlink(missing_ok=True)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _is_tracker(pid: int) -> bool:
    """The tracker is the forked child with no children (the fork server has the worker)."""
    return not any(_parent(int(p.name)) == pid for p in Path("/proc").iterdir()
                   if p.name.isdigit())
