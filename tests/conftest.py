"""Shared fixtures. Qt tests run offscreen; peers are found through tests.peers."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import peers_required

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# No test may read or change the user's own archive or config: a verb run without --archive or
# --config (`view PATH`, the GUI) falls back to these, in a folder of this test session.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="viewer-tests-"))
os.environ["VIEWER_ARCHIVE"] = str(_SESSION_HOME / "archive")
os.environ["VIEWER_CONFIG"] = str(_SESSION_HOME / "config.toml")
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted on a temporary folder (needs root)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
        check=False, capture_output=True, text=True,
    )
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs: {done.stderr.strip() or done.returncode}"
        if peers_required() and os.geteuid() == 0:
            pytest.fail(f"VIEWER_REQUIRE_PEERS=1 and running as root, but {reason}")
        pytest.skip(reason)
    try:
        yield mount_point
    finally:
        umount = ["umount", str(mount_point)]
        if subprocess.run(umount, check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)
