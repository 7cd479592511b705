"""The DCMTK and dicom3tools checks every object made in tests/reports goes through."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

from tests.peers import require_tool

# dcmpschk 3.6.7 checks the characters of PN, LO, ST... values byte by byte as if every
# character set were single-byte: bytes 0x80-0x9F are C1 control characters to it, so a UTF-8
# character whose encoding holds one ("É" is C3 89, "ĉ" C4 89) is reported as "does not
# conform to data type definition" although the value is valid ISO_IR 192. "é" (C3 A9),
# "ü" (C3 BC) and "张" (E5 BC A0) hold none.
DCMTK_C1_LIMITATION = "does not conform to data type definition"


def save(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def dcmpschk(path: Path) -> list[str]:
    """What dcmpschk finds wrong: its error lines ("E: ...") and any warning besides its
    verdict; its verdict must be "Test passed" when there are none."""
    done = run([require_tool("dcmpschk", "dcmtk"), str(path)])
    output = done.stdout + done.stderr
    verdicts = ("W: Testing: ", "W: Test passed.", "W: Test failed - one or more errors.",
                "E: ")  # "E: " alone: the blank line between two errors
    found = [line for line in output.splitlines()
             if line.strip() and line not in verdicts[3:] and not line.startswith(verdicts[:3])]
    if not found:
        assert "Test passed" in output, output
    return found


def has_c1_bytes(text: str) -> bool:
    """Whether `text` in UTF-8 holds a byte dcmpschk takes for a control character."""
    return any(0x80 <= b <= 0x9F for b in text.encode())


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """dciodvfy's errors and warnings for `path`."""
    done = run([require_tool("dciodvfy", "dicom3tools"), str(path)])
    lines = (done.stdout + done.stderr).splitlines()
    return ([line for line in lines if line.startswith("Error")],
            [line for line in lines if line.startswith("Warning")])


def dcmp2pgm(image: Path, ps: Path | None, out: Path, frame: int = 1) -> tuple[np.ndarray, str]:
    """DCMTK's rendering of `image` (frame) through presentation state `ps`, and what it says
    it read from the state (-v)."""
    args = [require_tool("dcmp2pgm", "dcmtk"), "-v", "-f", str(frame)]
    if ps is not None:
        args += ["-p", str(ps)]
    done = run([*args, str(image), str(out)])
    assert done.returncode == 0, done.stderr
    return np.asarray(Image.open(out)), done.stdout + done.stderr


def dsrdump(path: Path) -> str:
    """The document tree as DCMTK prints it, with the UIDs of referenced objects (+Pu)."""
    done = run([require_tool("dsrdump", "dcmtk"), "+Pu", str(path)])
    assert done.returncode == 0, done.stderr
    return done.stdout
