"""Window/Level presets a radiologist expects (CT, in HU); keys 1-9 in the viewer, in order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    center: float
    width: float


CT_PRESETS: tuple[Preset, ...] = (
    Preset("brain", 40, 80),
    Preset("subdural", 75, 215),
    Preset("stroke", 40, 40),
    Preset("lung", -600, 1500),
    Preset("mediastinum", 50, 350),
    Preset("abdomen", 40, 400),
    Preset("liver", 30, 150),
    Preset("bone", 400, 1800),
    Preset("temporal bone", 600, 2800),
)


def find_preset(name: str) -> Preset:
    """A preset by name, case-insensitive; '-' or '_' may stand for a space. KeyError if unknown."""
    wanted = name.strip().lower().replace("-", " ").replace("_", " ")
    for preset in CT_PRESETS:
        if preset.name == wanted:
            return preset
    known = ", ".join(p.name.replace(" ", "-") for p in CT_PRESETS)
    raise KeyError(f"unknown preset {name!r} (known: {known})")
