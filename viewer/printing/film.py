"""Film sizes, layouts and the defined terms of Print Management, as data (PS3.3 C.13).

Defined terms are checked once, where a value enters the core (`check_term`), with a ValueError
naming the argument; the printer may still refuse a valid term it does not support, and the SCU
names the refused value then.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

MM_PER_INCH = 25.4

# Film Size ID (2010,0050), PS3.3 C.13.5.1: (width, height) in mm, portrait.
FILM_SIZES: dict[str, tuple[float, float]] = {
    "8INX10IN": (8 * MM_PER_INCH, 10 * MM_PER_INCH),
    "8_5INX11IN": (8.5 * MM_PER_INCH, 11 * MM_PER_INCH),
    "10INX12IN": (10 * MM_PER_INCH, 12 * MM_PER_INCH),
    "10INX14IN": (10 * MM_PER_INCH, 14 * MM_PER_INCH),
    "11INX14IN": (11 * MM_PER_INCH, 14 * MM_PER_INCH),
    "11INX17IN": (11 * MM_PER_INCH, 17 * MM_PER_INCH),
    "14INX14IN": (14 * MM_PER_INCH, 14 * MM_PER_INCH),
    "14INX17IN": (14 * MM_PER_INCH, 17 * MM_PER_INCH),
    "24CMX24CM": (240.0, 240.0),
    "24CMX30CM": (240.0, 300.0),
    "A4": (210.0, 297.0),
    "A3": (297.0, 420.0),
}

# Defined terms (PS3.3 C.13.1 Film Session, C.13.3 Film Box).
MEDIUM_TYPES = ("PAPER", "CLEAR FILM", "BLUE FILM", "MAMMO CLEAR FILM", "MAMMO BLUE FILM")
PRINT_PRIORITIES = ("HIGH", "MED", "LOW")
MAGNIFICATION_TYPES = ("REPLICATE", "BILINEAR", "CUBIC", "NONE")
DENSITY_TERMS = ("BLACK", "WHITE")  # Border / Empty Image Density, or a number in 0.01 OD


class Orientation(enum.Enum):
    """Film Orientation (2010,0040)."""

    PORTRAIT = "PORTRAIT"
    LANDSCAPE = "LANDSCAPE"

    @classmethod
    def parse(cls, value: str | Orientation, argument: str = "orientation") -> Orientation:
        if isinstance(value, Orientation):
            return value
        try:
            return cls(str(value).strip().upper())
        except ValueError:
            raise ValueError(f"{argument}: {value!r} is not PORTRAIT or LANDSCAPE") from None


@dataclass(frozen=True)
class Layout:
    """Image Display Format STANDARD\\C,R (2010,0010): `columns` boxes across, `rows` down;
    boxes numbered 1.. row by row from the top left (Image Box Position, C.13.5)."""

    columns: int
    rows: int

    def __post_init__(self) -> None:
        if not (1 <= self.columns <= 16 and 1 <= self.rows <= 16):
            raise ValueError(f"layout: {self.columns}x{self.rows} is not 1..16 x 1..16")

    @property
    def count(self) -> int:
        return self.columns * self.rows

    @property
    def display_format(self) -> str:
        return f"STANDARD\\{self.columns},{self.rows}"

    def __str__(self) -> str:
        return f"{self.columns}x{self.rows}"

    @classmethod
    def parse(cls, text: str, argument: str = "layout") -> Layout:
        """'3x4' (CLI.md: COLUMNSxROWS) or 'STANDARD\\3,4'."""
        match = re.fullmatch(r"\s*(?:STANDARD\\)?(\d+)\s*[x,X]\s*(\d+)\s*", text)
        if match is None:
            raise ValueError(f"{argument}: {text!r} is not COLUMNSxROWS (e.g. 3x4)")
        return cls(int(match.group(1)), int(match.group(2)))


def film_mm(film_size: str, orientation: Orientation) -> tuple[float, float]:
    """(width, height) of the film in mm as it lies in `orientation`."""
    try:
        width, height = FILM_SIZES[film_size]
    except KeyError:
        known = ", ".join(FILM_SIZES)
        raise ValueError(f"film size: {film_size!r} is not one of {known}") from None
    if orientation is Orientation.LANDSCAPE:
        return height, width
    return width, height


def check_term(value: str | None, terms: tuple[str, ...], argument: str) -> str | None:
    """`value` upper-cased when it is one of `terms` (None stays None), else ValueError."""
    if value is None:
        return None
    term = value.strip().upper()
    if term not in terms:
        raise ValueError(f"{argument}: {value!r} is not one of {', '.join(terms)}")
    return term


def check_density(value: str | None, argument: str) -> str | None:
    """Border / Empty Image Density: BLACK, WHITE or a density in hundredths of OD."""
    if value is None:
        return None
    term = value.strip().upper()
    if term in DENSITY_TERMS or term.isdigit():
        return term
    raise ValueError(f"{argument}: {value!r} is not BLACK, WHITE or a number (0.01 OD)")
