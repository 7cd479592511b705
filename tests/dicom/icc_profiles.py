"""ICC profiles for tests: an RGB matrix/TRC display profile written byte by byte (ICC.1:2001-04,
version 2.1), since Pillow's ImageCms.createProfile makes only sRGB (its own colour space) and
LAB/XYZ (not RGB data) profiles, and no package ships another one.

`adobe_rgb()` has the Adobe RGB (1998) primaries adapted to D50 (as that specification's own
profile lists them) and its 563/256 gamma: wide-gamut RGB whose saturated colours differ from
sRGB's, so a pipeline that ignores the profile is visibly wrong.
"""

from __future__ import annotations

import struct

import numpy as np

D50 = (0.9642, 1.0, 0.8249)
ADOBE_RGB_D50 = (
    (0.60974, 0.31111, 0.01947),  # red
    (0.20528, 0.62567, 0.06087),  # green
    (0.14919, 0.06322, 0.74457),  # blue
)
ADOBE_GAMMA = 563 / 256


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15f16(v) for v in values)


def _curve(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def _description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return (b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67)


def rgb_profile(primaries: tuple[tuple[float, float, float], ...], gamma: float,
                description: str) -> bytes:
    """A v2 RGB display ('mntr') profile: D50 media white, one gamma for the three channels,
    `primaries` the XYZ (D50) of full red, green and blue."""
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", _description(description)),
        (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(primaries[0])),
        (b"gXYZ", _xyz(primaries[1])),
        (b"bXYZ", _xyz(primaries[2])),
        (b"rTRC", _curve(gamma)),
        (b"gTRC", _curve(gamma)),
        (b"bTRC", _curve(gamma)),
        (b"cprt", b"text\0\0\0\0No copyright: test data\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        padded = body + b"\0" * (-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += padded
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntr"
              + b"RGB " + b"XYZ " + struct.pack(">6H", 2026, 12, 8, 0, 0, 0) + b"acsp"
              + b"\0" * 4 * 6 + struct.pack(">I", 0) + b"".join(_s15f16(v) for v in D50)
              + b"test" + b"\0" * 44)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def adobe_rgb() -> bytes:
    return rgb_profile(ADOBE_RGB_D50, ADOBE_GAMMA, "Adobe RGB (1998) primaries, test")


# Bradford D50 -> D65 (as LittleCMS adapts a D50 PCS to sRGB's D65 white) and XYZ (D65) -> linear
# sRGB (IEC 61966-2-1)
_BRADFORD_D50_TO_D65 = np.array([[0.9555766, -0.0230393, 0.0631636],
                                 [-0.0282895, 1.0099416, 0.0210077],
                                 [0.0122982, -0.0204830, 1.3299098]])
_XYZ_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                         [-0.9692660, 1.8760108, 0.0415560],
                         [0.0556434, -0.2040259, 1.0572252]])


def analytic_to_srgb(rgb: np.ndarray, primaries: tuple[tuple[float, float, float], ...],
                     gamma: float) -> np.ndarray:
    """The colorimetric conversion a matrix/TRC profile asks for, worked out in numpy without
    LittleCMS: decode the gamma, primaries to XYZ (D50), adapt to D65, to linear sRGB, clip,
    encode with the sRGB curve. Float 0..255."""
    linear = (rgb.astype(np.float64) / 255.0) ** gamma
    xyz_d50 = linear @ np.array(primaries)  # rows of `primaries` are the XYZ of R, G, B
    srgb_linear = np.clip(xyz_d50 @ _BRADFORD_D50_TO_D65.T @ _XYZ_TO_SRGB.T, 0.0, 1.0)
    encoded = np.where(srgb_linear <= 0.0031308, 12.92 * srgb_linear,
                       1.055 * srgb_linear ** (1 / 2.4) - 0.055)
    return np.asarray(encoded * 255.0)
