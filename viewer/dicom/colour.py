"""DICOM's encoded CIELab colours (PS3.3 C.10.7.1.1) as 8-bit sRGB: one conversion for every
place that shows one (graphic layers, shutters, segments).

The same conversion as highdicom's `CIELabColor.to_rgb` (D65 white, as DCMTK's too;
tests/dicom/test_colour.py holds them equal), written out because importing highdicom costs
about a second, paid by the first presentation state or segmentation with a colour, in the GUI.
"""

from __future__ import annotations


def cielab_to_rgb(lab: tuple[int, int, int]) -> tuple[int, int, int]:
    """A DICOM-scaled CIELab triplet (PS3.3 C.10.7.1.1: L 0..65535 for 0..100, a and b
    0..65535 for -128..127, D65) to 8-bit sRGB."""
    lightness = lab[0] * 100.0 / 65535.0
    a = lab[1] * 255.0 / 65535.0 - 128.0
    b = lab[2] * 255.0 / 65535.0 - 128.0
    fy = (lightness + 16.0) / 116.0
    fx, fz = fy + a / 500.0, fy - b / 200.0

    def inverse(t: float) -> float:
        return t**3 if t > 6.0 / 29.0 else 3 * (6.0 / 29.0) ** 2 * (t - 4.0 / 29.0)

    x, y, z = 0.95047 * inverse(fx), inverse(fy), 1.08883 * inverse(fz)
    linear = (
        3.2406 * x - 1.5372 * y - 0.4986 * z,
        -0.9689 * x + 1.8758 * y + 0.0415 * z,
        0.0557 * x - 0.2040 * y + 1.0570 * z,
    )

    def encode(v: float) -> int:
        v = min(max(v, 0.0), 1.0)
        v = 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055
        return int(round(v * 255))

    return (encode(linear[0]), encode(linear[1]), encode(linear[2]))
