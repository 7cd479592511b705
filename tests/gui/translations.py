"""The zh_CN translation compiled for a test: the .ts as it is in the tree, not an older .qm."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "resources" / "i18n" / "dicom_viewer_zh_CN.ts"
VENV_BIN = ROOT / ".venv" / "bin"


def tool(name: str) -> Path:
    """One of PySide6's tools in the project's .venv."""
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: PySide6's tools come with the project's .venv")
    return path


def compile_zh_cn(folder: Path) -> Path:
    """Compile the zh_CN .ts into `folder` (created); returns `folder`, for install_translator."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(tool("pyside6-lrelease")), "-silent", str(TS), "-qm",
                    str(folder / "dicom_viewer_zh_CN.qm")], check=True, timeout=120)
    return folder
