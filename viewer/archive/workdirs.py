"""Writers' work directories under `store/.tmp`: one per `Store`, alive while its owner holds
an flock on its `lock` file (POSIX), holding its temporary files and its journal
(archive/journal.py). A directory whose lock is free belongs to a dead writer: recovery claims it
(holds its lock, so no second process recovers it at once), replays its journal and reaps it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX: a work directory is alive while its owner holds an flock on its lock file
    import fcntl
except ImportError:  # Windows: an open file cannot be deleted, which protects it the same way
    fcntl = None  # type: ignore[assignment]

LOGGER = logging.getLogger(__name__)

LOCK = "lock"
JOURNAL = "journal"
RECOVERY_LOCK = ".recovery"  # a lock file in store/, beside .tmp: never a store file (iter_files)
# A work directory without a lock file is being created, or its owner died while creating it.
UNLOCKED_GRACE_S = 60.0


def lock_work_dir(work: Path) -> int:
    """Create and take the lock of the new work directory `work`; the fd that holds it."""
    fd = os.open(work / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def owner_alive(work: Path) -> bool:
    """Whether a writer still owns the work directory `work` (it holds the flock on its lock
    file, or it is younger than the grace period and may not have made its lock yet)."""
    try:
        fd = os.open(work / LOCK, os.O_RDWR)
    except FileNotFoundError:
        try:
            return time.time() - work.stat().st_mtime < UNLOCKED_GRACE_S
        except OSError:
            return False
    except OSError:
        return True  # cannot tell: leave it alone
    try:
        if fcntl is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def recovery_lock(path: Path) -> Iterator[None]:
    """Held while this process recovers (blocking: recovering takes milliseconds to seconds)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def claimed(work: Path) -> Iterator[bool]:
    """True when the work directory `work` belongs to a dead writer, and then this process
    holds its lock until the block ends (a second recoverer sees it held and moves on)."""
    try:
        fd = os.open(work / LOCK, os.O_RDWR)
    except FileNotFoundError:  # being created, or its writer died before it had a lock
        try:
            young = time.time() - work.stat().st_mtime < UNLOCKED_GRACE_S
        except OSError:  # removed meanwhile by another recoverer
            young = True
        yield not young
        return
    except OSError:
        yield False  # cannot tell: leave it alone
        return
    try:
        if fcntl is None:  # no flock: a live writer cannot be told apart (as owner_alive)
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock (after reap unlinked it, when it did)


def reap(work: Path) -> int:
    """Delete a dead writer's work directory (its lock held by the caller); the number of
    temporary files it held (its journal not counted)."""
    removed = 0
    try:
        for path in work.iterdir():
            if path.name == LOCK:
                continue
            try:
                path.unlink()
            except PermissionError:  # Windows: the owner still has it open
                return removed
            removed += path.name not in (JOURNAL, f"{JOURNAL}.new")
        (work / LOCK).unlink(missing_ok=True)
        work.rmdir()
    except OSError as exc:
        LOGGER.debug("cannot clear %s: %r", work, exc)
    return removed
