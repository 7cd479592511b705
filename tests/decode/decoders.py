"""Decode functions injected into test pools (module-level, so workers can import them).

Each behaves like `viewer.dicom.pixels.decode_frame` for a fake path: the array is a pure
function of (path, index), and marker names make the worker sleep, fail or crash.
"""

from __future__ import annotations

import os
import signal
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.dicom.files import DicomFileError
from viewer.dicom.frameinfo import FrameInfo

ROWS, COLUMNS = 64, 48


@dataclass(frozen=True)
class Decoded:
    array: np.ndarray
    info: FrameInfo


def expected_array(path: str, index: int) -> np.ndarray:
    seed = zlib.crc32(f"{path}#{index}".encode())
    return np.random.default_rng(seed).integers(-2000, 3000, (ROWS, COLUMNS), dtype=np.int16)


def fake_info() -> FrameInfo:
    return FrameInfo(
        rows=ROWS, columns=COLUMNS, samples_per_pixel=1, photometric="MONOCHROME2",
        stored_photometric="MONOCHROME2", bits_allocated=16, bits_stored=16, signed=True,
        rescale_intercept=-1024.0,
    )


def decode(path: str, index: int) -> Decoded:
    """Markers in the file name: 'sleep<ms>', 'bad', 'segv', 'exit', 'boom'."""
    name = Path(path).name
    if "sleep" in name:
        time.sleep(int(name.split("sleep")[1].split("_")[0]) / 1000.0)
    if "segv" in name:
        os.kill(os.getpid(), signal.SIGSEGV)  # what a crashing native codec does
    if "exit" in name:
        os._exit(3)
    if "bad" in name:
        raise DicomFileError(path, "pixel data too short")
    if "boom" in name:
        raise ZeroDivisionError("decoder bug")
    return Decoded(expected_array(path, index), fake_info())


def pid_of_worker() -> int:
    return os.getpid()


def add(a: int, b: int) -> int:
    return a + b


def crash_call(path: str) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def raise_dicom_error(path: str) -> None:
    raise DicomFileError(path, "not a DICOM file")

