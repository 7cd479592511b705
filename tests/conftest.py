"""Shared fixtures. Qt tests run offscreen; peers are found through tests.peers."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import peers_required

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
