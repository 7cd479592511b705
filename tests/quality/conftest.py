"""Fixtures of the quality tests: dciodvfy (a real peer: Debian dicom3tools) and a clean CT
series written by our demo writer, which every defect test damages one way."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.peers import require_tool
from viewer.dicom.demo import write_ct_series


@pytest.fixture(autouse=True)
def dciodvfy() -> str:
    return require_tool("dciodvfy", "dicom3tools")


@pytest.fixture
def ct_series(tmp_path: Path) -> list[Path]:
    """Six 32x32 axial CT slices, 1 mm apart, head first: clean for dciodvfy -new."""
    return write_ct_series(tmp_path / "ct", slices=6, rows=32, columns=32)
