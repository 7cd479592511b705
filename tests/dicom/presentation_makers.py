"""Images and presentation states for the presentation state tests: made by DCMTK's `dcmpsmk`,
by pydicom (attributes DCMTK has no option for) and by highdicom; rendered by `dcmp2pgm`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.dicom.makers import image_dataset, save
from tests.peers import require_tool

ROWS, COLUMNS = 64, 48  # not square: a wrong quarter turn changes the shape


def textured_ct(path: Path, photometric: str = "MONOCHROME2", **attributes: object) -> Path:
    """A 12-bit CT with a ramp and noise (every grey used), rescaled to HU, with a window."""
    rng = np.random.default_rng(17)
    ramp = np.add.outer(np.arange(ROWS) * 40, np.arange(COLUMNS) * 25)
    pixels = (ramp + rng.integers(0, 60, (ROWS, COLUMNS))).astype(np.uint16)
    values = {"RescaleSlope": 1, "RescaleIntercept": -1024, "WindowCenter": 900,
              "WindowWidth": 2400, "Modality": "CT", "PatientName": "PS^Test", "PatientID": "PS1",
              "PatientBirthDate": "19700101", "PatientSex": "O", "StudyDate": "20261207",
              "StudyTime": "120000", "StudyID": "1", "AccessionNumber": "A1",
              "ReferringPhysicianName": "", "SeriesNumber": 1, "InstanceNumber": 1}
    values.update(attributes)
    ds = image_dataset(pixels, bits_stored=12, photometric=photometric, **values)
    return save(ds, path)


def dcmpsmk(image: Path, out: Path, *options: str) -> Path:
    """A GSPS for `image` made by DCMTK (`dcmpsmk`), with its options."""
    tool = require_tool("dcmpsmk", "dcmtk")
    subprocess.run([tool, "-q", *options, str(image), str(out)], check=True, timeout=60)
    return out


def dcmp2pgm(image: Path, ps: Path, out: Path) -> np.ndarray:
    """DCMTK's rendering of `image` through `ps`, as an array (8-bit PGM)."""
    tool = require_tool("dcmp2pgm", "dcmtk")
    subprocess.run([tool, "-q", "-p", str(ps), str(image), str(out)], check=True, timeout=60)
    return np.asarray(Image.open(out))


def edit(ps: Path, out: Path, **attributes: object) -> Path:
    """A copy of presentation state `ps` with attributes set (None: deleted)."""
    ds = dcmread(ps)
    for keyword, value in attributes.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(out)
    return out


def lut_item(first: int, bits: int, data: list[int] | np.ndarray) -> Dataset:
    """A LUT Sequence item (descriptor, US data) as PS3.3 C.11 writes them."""
    item = Dataset()
    values = [int(v) for v in data]
    item.LUTDescriptor = [len(values) % 65536, first, bits]
    item["LUTDescriptor"].VR = "US"
    item.LUTData = values
    item["LUTData"].VR = "US"
    return item


def sequence(*items: Dataset) -> Sequence:
    return Sequence(list(items))


def close_to(ours: np.ndarray, reference: np.ndarray, tolerance: int = 2) -> float:
    """Fraction of pixels within `tolerance` grey levels (shapes must match exactly)."""
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    diff = np.abs(ours.astype(np.int32) - reference.astype(np.int32))
    return float((diff <= tolerance).mean())
