"""Finding the real peers (DCMTK, GDCM tools, Orthanc) the tests talk to.

A test that needs a peer skips with a clear reason on a developer machine without it, but fails
under CI, where `.ci/run` sets VIEWER_REQUIRE_PEERS=1 and installs every peer.
"""

from __future__ import annotations

import os
import shutil

import pytest


def peers_required() -> bool:
    return os.environ.get("VIEWER_REQUIRE_PEERS") == "1"


def require_tool(name: str, package: str = "") -> str:
    """The absolute path of executable `name`; skip (or fail under CI) when it is missing."""
    path = shutil.which(name)
    if path:
        return path
    hint = f" (Debian package {package})" if package else ""
    message = f"{name} not found on PATH{hint}"
    if peers_required():
        pytest.fail(f"VIEWER_REQUIRE_PEERS=1 but {message}")
    pytest.skip(message)
    raise AssertionError("unreachable")  # pytest.skip raises
