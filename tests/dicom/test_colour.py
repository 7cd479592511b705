"""One CIELab conversion for graphic layers, shutters and segments, equal to highdicom's (the
library conversion it stands in for, without highdicom's one-second import)."""

from __future__ import annotations

import itertools

from highdicom.color import CIELabColor

from viewer.dicom.colour import cielab_to_rgb


def test_equal_to_highdicom_over_the_encoded_range() -> None:
    steps = range(0, 0x10000, 0x1999)  # 0, 6553, ... 65535: 11 values per axis, 1,331 colours
    for lab in itertools.product(steps, steps, steps):
        assert cielab_to_rgb(lab) == CIELabColor.from_dicom_value(list(lab)).to_rgb(clip=True)


def test_white_black_and_a_red() -> None:
    assert cielab_to_rgb((0xFFFF, 0x8080, 0x8080)) == (255, 255, 255)
    assert cielab_to_rgb((0, 0x8080, 0x8080)) == (0, 0, 0)
    r, g, b = cielab_to_rgb(CIELabColor(53.24, 80.09, 67.20).value)  # sRGB red in CIELab
    assert r >= 250 and g <= 5 and b <= 5
