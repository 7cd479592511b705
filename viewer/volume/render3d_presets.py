"""Transfer functions of the 3D views (volume rendering presets) and the camera geometry they
are seen through. Pure data and numpy: `render3d` turns them into VTK objects.

Preset values are modality values (HU for CT); an MR preset's values are fractions of the
volume's intensity range (MR has no absolute scale), resolved by `resolve_preset`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from viewer.volume.model import Vec3, Volume

MODES = ("vr", "mip")
"""'vr': composite volume rendering through a preset; 'mip': maximum intensity projection."""

ZOOM_RANGE = (0.1, 50.0)
"""How far a 3D view zooms out and in, relative to the whole-volume view."""

Clip = tuple[float, float, float, float, float, float]
"""A box in patient mm: (xmin, xmax, ymin, ymax, zmin, zmax), LPS."""


@dataclass(frozen=True)
class Preset:
    """Colour points (value, r, g, b) and opacity points (value, opacity), with the lighting a
    reader expects: shaded surfaces for bone, vessels and soft tissue."""

    name: str
    label: str
    colors: tuple[tuple[float, float, float, float], ...]
    opacities: tuple[tuple[float, float], ...]
    shade: bool
    relative: bool = False
    ambient: float = 0.2
    diffuse: float = 0.9
    specular: float = 0.3
    specular_power: float = 15.0


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "ct-bone",
            "CT bone",
            colors=((-1024, 0.0, 0.0, 0.0), (140, 0.62, 0.36, 0.18), (300, 0.88, 0.60, 0.29),
                    (700, 1.0, 0.94, 0.85), (3071, 1.0, 1.0, 1.0)),
            opacities=((-1024, 0.0), (140, 0.0), (250, 0.45), (700, 0.85), (3071, 0.9)),
            shade=True,
        ),
        Preset(
            "ct-soft-tissue",
            "CT soft tissue",
            colors=((-1024, 0.0, 0.0, 0.0), (-200, 0.55, 0.25, 0.15), (-50, 0.88, 0.72, 0.48),
                    (40, 0.80, 0.32, 0.26), (250, 0.95, 0.85, 0.75), (3071, 1.0, 1.0, 1.0)),
            opacities=((-1024, 0.0), (-300, 0.0), (-100, 0.04), (20, 0.12), (80, 0.25),
                       (300, 0.6), (3071, 0.8)),
            shade=True,
        ),
        Preset(
            "ct-lung",
            "CT lung",
            # Aerated lung (-950..-500 HU) as a pink translucent cloud; the body's soft tissue,
            # the air around the patient and bone stay clear so the airways stand out.
            colors=((-1024, 0.0, 0.0, 0.0), (-950, 0.75, 0.45, 0.45), (-700, 0.95, 0.70, 0.65),
                    (-500, 1.0, 0.85, 0.80), (3071, 1.0, 1.0, 1.0)),
            opacities=((-1024, 0.0), (-980, 0.0), (-900, 0.05), (-700, 0.12), (-500, 0.2),
                       (-400, 0.0), (3071, 0.0)),
            shade=True,
            specular=0.1,
        ),
        Preset(
            "ct-angio",
            "CT angio",
            # Iodinated blood (about 200-500 HU) red, bone beyond it white; soft tissue clear.
            colors=((-1024, 0.0, 0.0, 0.0), (120, 0.55, 0.05, 0.03), (250, 0.90, 0.20, 0.12),
                    (500, 1.0, 0.75, 0.60), (1000, 1.0, 1.0, 0.95), (3071, 1.0, 1.0, 1.0)),
            opacities=((-1024, 0.0), (120, 0.0), (200, 0.5), (400, 0.8), (3071, 0.9)),
            shade=True,
            specular=0.5,
            specular_power=30.0,
        ),
        Preset(
            "mr-default",
            "MR default",
            colors=((0.0, 0.0, 0.0, 0.0), (0.2, 0.55, 0.40, 0.30), (0.5, 0.90, 0.80, 0.70),
                    (1.0, 1.0, 1.0, 1.0)),
            opacities=((0.0, 0.0), (0.12, 0.0), (0.35, 0.25), (0.7, 0.6), (1.0, 0.8)),
            shade=True,
            relative=True,
        ),
    )
}


def intensity_range(volume: Volume) -> tuple[float, float]:
    """The 1st and 99.5th percentiles of the filled voxels (strided: a sample is enough), the
    span an MR preset and the default MIP window stretch over."""
    filled = np.flatnonzero(volume.filled)
    if filled.size == 0:
        return 0.0, 1.0
    step_k = max(filled.size // 64, 1)
    step = max(min(volume.shape[1], volume.shape[2]) // 128, 1)
    sample = volume.voxels[filled[::step_k], ::step, ::step]
    finite = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample.ravel()
    if finite.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(finite, (1.0, 99.5))
    if not high > low:
        high = low + 1.0
    return float(low), float(high)


def resolve_preset(preset: Preset, volume: Volume) -> Preset:
    """`preset` with its values in the volume's modality values."""
    if not preset.relative:
        return preset
    low, high = intensity_range(volume)
    span = high - low

    def at(fraction: float) -> float:
        return low + fraction * span

    return Preset(
        preset.name,
        preset.label,
        colors=tuple((at(v), r, g, b) for v, r, g, b in preset.colors),
        opacities=tuple((at(v), o) for v, o in preset.opacities),
        shade=preset.shade,
        ambient=preset.ambient,
        diffuse=preset.diffuse,
        specular=preset.specular,
        specular_power=preset.specular_power,
    )


def mip_window(volume: Volume) -> tuple[float, float]:
    """Default (low, high) grey ramp of a MIP: CT from soft tissue to dense bone, anything else
    its intensity range."""
    if volume.modality == "CT" or volume.units == "HU":
        return -200.0, 1300.0
    return intensity_range(volume)


@dataclass(frozen=True)
class ViewGeometry:
    """Where a parallel projection puts a patient point: `right` and `up` are the image's right
    and up directions in patient space (LPS), `toward_camera` points from the focal point to the
    viewer, pixels are square, `mm_per_pixel` wide."""

    focal: Vec3
    right: Vec3
    up: Vec3
    toward_camera: Vec3
    mm_per_pixel: float
    size: tuple[int, int]  # (width, height)

    @property
    def parallel_scale(self) -> float:
        """Half the image's height in mm (VTK's parallel scale)."""
        return self.mm_per_pixel * self.size[1] / 2.0

    def to_pixel(self, point: Vec3 | np.ndarray) -> tuple[float, float]:
        """Patient point -> (row, column) of the pixel it projects to, fractional."""
        d = np.asarray(point, dtype=np.float64) - np.asarray(self.focal)
        width, height = self.size
        column = (width - 1) / 2.0 + float(d @ np.asarray(self.right)) / self.mm_per_pixel
        row = (height - 1) / 2.0 - float(d @ np.asarray(self.up)) / self.mm_per_pixel
        return row, column


def view_geometry(
    volume: Volume,
    azimuth: float,
    elevation: float,
    size: tuple[int, int],
    zoom: float = 1.0,
    pan: tuple[float, float] = (0.0, 0.0),
) -> ViewGeometry:
    """The camera of the 3D views. Azimuth 0, elevation 0 looks at the patient's front along +Y
    (LPS) with the head (+Z) up, so the patient's left (+X) is on the image's right; azimuth
    turns the camera about the patient's long axis towards the patient's left (azimuth 90: the
    camera at +X, posterior on the image's right); positive elevation raises it towards the head.
    The whole volume fits at any angle when zoom is 1; `pan` moves the picture by (right, up)
    pixels."""
    a, e = math.radians(azimuth), math.radians(elevation)
    toward = np.array([math.sin(a) * math.cos(e), -math.cos(a) * math.cos(e), math.sin(e)])
    up = np.array([-math.sin(a) * math.sin(e), math.cos(a) * math.sin(e), math.cos(e)])
    right = np.cross(-toward, up)
    corners = volume.corners()
    centre = (corners.min(axis=0) + corners.max(axis=0)) / 2.0
    # Half a voxel beyond the corner voxels' centres, so the outer faces fit too.
    radius = float(np.max(np.linalg.norm(corners - centre, axis=1))) + max(volume.spacing) / 2
    width, height = max(int(size[0]), 1), max(int(size[1]), 1)
    mm_per_pixel = 2.0 * radius / min(width, height) / max(zoom, 1e-6)
    focal = centre - (pan[0] * right + pan[1] * up) * mm_per_pixel

    def vec(v: np.ndarray) -> Vec3:
        return float(v[0]), float(v[1]), float(v[2])

    return ViewGeometry(vec(focal), vec(right), vec(up), vec(toward), mm_per_pixel,
                        (width, height))


@dataclass(frozen=True)
class SceneState:
    """Everything a 3D picture depends on besides the volume: what a view asks its render
    thread for (the scene applies it with `Scene3D.apply`), so the GUI never touches VTK.
    `shade` None: as the preset says; `mip_window` None: the volume's default; `interacting`:
    the quick, reduced picture cast while the user drags."""

    mode: str = "vr"
    preset: str = "ct-bone"
    shade: bool | None = None
    mip_window: tuple[float, float] | None = None
    azimuth: float = 0.0
    elevation: float = 0.0
    zoom_factor: float = 1.0
    pan_pixels: tuple[float, float] = (0.0, 0.0)
    clip: Clip | None = None
    interacting: bool = False
    size: tuple[int, int] = (512, 512)

    def rotated(self, d_azimuth: float, d_elevation: float) -> SceneState:
        return replace(self, azimuth=self.azimuth + d_azimuth,
                       elevation=self.elevation + d_elevation)

    def zoomed(self, factor: float) -> SceneState:
        """Magnified by `factor` (> 1 closer), kept within ZOOM_RANGE."""
        return replace(self, zoom_factor=float(np.clip(self.zoom_factor * factor, *ZOOM_RANGE)))

    def panned(self, d_right: float, d_up: float) -> SceneState:
        """The picture moved by pixels to the right and up."""
        return replace(self, pan_pixels=(self.pan_pixels[0] + d_right,
                                         self.pan_pixels[1] + d_up))

    def geometry(self, volume: Volume) -> ViewGeometry:
        return view_geometry(volume, self.azimuth, self.elevation, self.size, self.zoom_factor,
                             self.pan_pixels)
