"""Native codecs' own complaints on file descriptor 2, silenced where stderr is a contract.

Apart from `codecs` so that the command line can ask for it at start without importing pydicom.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

_silence_native_stderr = False


def silence_native_stderr() -> None:
    """GDCM and OpenJPEG print their complaints straight to file descriptor 2 ('Unsupported JPEG
    data precision 12', 'Invalid number of tiles'). A process whose stderr is a contract (the
    CLI: one line per problem) or not read at all (decode workers) calls this once; our errors
    carry the reason instead."""
    global _silence_native_stderr  # noqa: PLW0603 - a per-process setting, made once at start
    _silence_native_stderr = True


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point fd 2 at /dev/null while native codecs run, if this process asked for it."""
    if not _silence_native_stderr:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
