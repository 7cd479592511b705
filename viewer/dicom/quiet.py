"""Keeping the libraries' own complaints about a file off the user's stderr, in every process.

pydicom reports what it tolerates in a file (`warn_and_log`: a `UserWarning` and a log record,
sometimes with kilobytes of escaped bytes and without the file's name); pynetdicom logs every
failure; GDCM and OpenJPEG write to file descriptor 2. Our own reasons already name the file and
the problem (one line per problem, CLI.md), so outside --debug these go to DEBUG logging only.
Warnings filters and logging set up in the main process do not reach worker processes started
by spawn or forkserver: each worker calls `quiet_libraries` itself, told by its parent whether
--debug is on (`debug_enabled`).
"""

from __future__ import annotations

import logging
import warnings

from viewer.dicom.native_stderr import silence_native_stderr

_LIBRARIES = ("pydicom", "pynetdicom")


def debug_enabled() -> bool:
    """Whether this process logs at DEBUG (--debug): workers it starts should do the same."""
    return logging.getLogger().isEnabledFor(logging.DEBUG)


def quiet_libraries(debug: bool = False) -> None:
    """Route library warnings to the `py.warnings` logger and keep library log records below
    ERROR off stderr; with `debug`, everything shows. Idempotent."""
    if not logging.getLogger().handlers:
        # A worker process: without a handler, Python's last-resort one prints every WARNING
        # record raw on stderr (ours too, naming no file); log as the CLI's process does.
        logging.basicConfig(level=logging.DEBUG if debug else logging.ERROR,
                            format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # a warning becomes a record of `py.warnings`
    if debug:
        return
    warnings.filterwarnings("ignore", module=r"(pydicom|pynetdicom)(\..*)?$")
    # a worker has no handler: Python's last-resort handler would print WARNING records
    for name in (*_LIBRARIES, "py.warnings"):
        logger = logging.getLogger(name)
        logger.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
    silence_native_stderr()
