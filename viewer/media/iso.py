"""An ISO 9660 image of an exported file-set, ready to burn (PS3.12 Annex F, 120 mm CD-R).

PS3.12 asks for an ISO 9660 file system on CD-R media; PS3.10 File IDs (uppercase, digits and _,
at most 8 characters, no extension, at most 8 levels deep) are already valid ISO 9660 Level 1
names, so we write Level 1 with no Joliet and no Rock Ridge: those extensions only add alternative
long or lower-case names, which a DICOM reader must not depend on (PS3.10 §8.5 names files by
their File IDs alone), and leaving them out keeps one name per file on every platform.
`-d` drops the trailing period ISO 9660 would add to names without an extension; the `;1`
version suffix stays (ISO 9660 requires it; readers, ours included, strip it).

genisoimage is used when present, else xorriso (in its mkisofs emulation); always with an
argument list, never through a shell.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

LOGGER = logging.getLogger(__name__)

_TIMEOUT_S = 1800.0
_LABEL = re.compile(r"[A-Z0-9_]{1,32}")


class IsoError(Exception):
    """The image could not be made: no tool, or the tool failed (its message included)."""


def iso_command(fileset: Path, output: Path, volume_label: str) -> list[str]:
    """The command line that writes `fileset` as an ISO 9660 Level 1 image to `output`."""
    if not _LABEL.fullmatch(volume_label):
        raise ValueError("volume_label: 1-32 characters A-Z, 0-9 or _ (ISO 9660 d-characters)")
    tool = shutil.which("genisoimage")
    args = ["-quiet", "-iso-level", "1", "-d", "-V", volume_label, "-o", str(output), str(fileset)]
    if tool is not None:
        return [tool, *args]
    tool = shutil.which("xorriso")
    if tool is not None:
        return [tool, "-as", "mkisofs", *args]
    raise IsoError("neither genisoimage nor xorriso is installed")


def make_iso(fileset: Path, output: Path, volume_label: str = "DICOM") -> Path:
    """Write an ISO 9660 image of the folder `fileset` (with its DICOMDIR) to `output`.

    The image is written to a temporary name beside `output` and renamed when the tool
    succeeded; on failure nothing is left and IsoError carries the tool's message.
    """
    if not (fileset / "DICOMDIR").is_file():
        raise IsoError(f"{fileset}: no DICOMDIR (export the file-set first)")
    partial = output.with_name(output.name + ".partial")
    command = iso_command(fileset, partial, volume_label)
    LOGGER.debug("running %s", command)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        partial.unlink(missing_ok=True)
        raise IsoError(f"{command[0]}: {exc}") from None
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        message = " ".join((done.stderr or done.stdout).split())[-500:]
        raise IsoError(f"{Path(command[0]).name} failed (exit {done.returncode}): {message}")
    partial.replace(output)
    return output
