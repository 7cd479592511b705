"""decode_frame returns exactly the stored values, whichever back end decodes the syntax."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.dicom.makers import image_dataset, save
from tests.peers import require_tool
from viewer.dicom import demo
from viewer.dicom.pixels import decode_frame

LOSSLESS = ["jpeg-lossless", "jpeg-lossless-sv1", "jpeg-ls", "j2k", "rle", "deflate", "big-endian"]


def _source(tmp_path: Path, signed: bool) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(7)
    if signed:
        values = rng.integers(-2048, 2048, (64, 80)).astype(np.int16)
    else:
        values = rng.integers(0, 4096, (64, 80)).astype(np.uint16)
    ds = image_dataset(values, bits_stored=12, RescaleSlope=1, RescaleIntercept=-1024)
    return save(ds, tmp_path / "source.dcm"), values


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("syntax", LOSSLESS)
def test_lossless_round_trip(tmp_path: Path, syntax: str, signed: bool) -> None:
    require_tool("gdcmconv", "libgdcm-tools")
    require_tool("dcmconv", "dcmtk")
    source, values = _source(tmp_path, signed)
    try:
        encoded = demo.transcode([source], syntax, tmp_path / syntax)[0]
    except demo.TranscodeError as exc:
        pytest.fail(f"the tool could not encode {syntax}: {exc}")
    decoded = decode_frame(encoded)
    assert decoded.array.dtype == values.dtype
    assert np.array_equal(decoded.array, values)
    assert decoded.array.dtype.isnative
