"""Issue 17's objects that `bench fuzz`'s mutations made crash a reader (tests/data/fuzz/objects:
damaged copies of the fuzzer's seeds made on `ct.dcm`, named after what was done to them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from viewer.dicom.files import read_dataset
from viewer.dicom.overlay_raster import OverlayError, read_overlay
from viewer.dicom.presentation_apply import present_file, read_presentation_state_file

OBJECTS = Path(__file__).resolve().parents[1] / "data" / "fuzz" / "objects"


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # the damaged file's own UID
def test_a_point_graphic_far_outside_the_image_is_not_drawn() -> None:
    """A POINT whose row became -5.9e20: numpy's int64 overflowed drawing its arms ("internal
    error"); a point none of whose pixels can change is now left alone, the rest drawn."""
    state = read_presentation_state_file(OBJECTS / "gsps_point_far_outside.dcm")
    presented = present_file(OBJECTS / "ct.dcm", state)
    assert presented.geometry.size == (52, 56)  # the displayed area, turned a quarter
    assert presented.image.dtype == np.uint8 and presented.image.shape == (56, 52)
    assert len(np.unique(presented.image)) > 10  # drawn: the CT under the graphics


@pytest.mark.parametrize("name", ["seg_sop_class_unknown_vr", "seg_sop_class_as_fd"])
def test_a_damaged_sop_class_uid_is_an_overlay_error(name: str) -> None:
    """SOP Class UID (0008,0016) with the VR "XX" or FD: pydicom raised on first use, outside
    the readers' guard ("internal error"); now one reason naming the tag."""
    with pytest.raises(OverlayError, match=r"\(0008,0016\)") as caught:
        read_overlay(read_dataset(OBJECTS / f"{name}.dcm"))
    assert "\n" not in str(caught.value) and "warning" not in str(caught.value)
