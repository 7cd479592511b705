"""3D views of a volume with VTK: volume rendering through presets and 3D MIP, offscreen.

The only core module that imports VTK, and only when a scene is made (importing VTK costs about
a second and 170 MB). The voxels are handed to VTK without a copy; the volume's affine becomes
the actor's user matrix, so oblique and gantry-tilted (sheared) series stand in true patient
space. Rendering uses the CPU ray caster (vtkFixedPointVolumeRayCastMapper): on software OpenGL
(Mesa llvmpipe) vtkSmartVolumeMapper takes its GPU path and is 4-30x slower (shared/FACTS.md),
and the CPU ray caster is as fast on any machine whose GL is a GPU, because the ray casting is
done on the CPU either way. Without a display the window is EGL's (Mesa), which needs no X.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from viewer.volume.model import Volume
from viewer.volume.render3d_blocks import reduce_blocks, reduced_shape
from viewer.volume.render3d_presets import (
    MODES,
    PRESETS,
    ZOOM_RANGE,
    Clip,
    Preset,
    SceneState,
    ViewGeometry,
    mip_window,
    resolve_preset,
    view_geometry,
)

__all__ = ["MODES", "PRESETS", "Clip", "Scene3D", "SceneState", "render_image"]

LOGGER = logging.getLogger(__name__)

# While the user drags, every second pixel is cast (a quarter of the rays) and samples along a
# ray are twice as far apart: about 4x faster; the full picture follows when the drag settles.
# A MIP cannot skip empty space or stop a ray early, so it casts every fourth pixel.
INTERACTIVE_IMAGE_SAMPLE_DISTANCE = {"vr": 2.0, "mip": 4.0}
INTERACTIVE_SAMPLE_FACTOR = 2.0
# Shading needs a gradient per voxel, which the CPU ray caster computes on one thread (about
# 130 ns a voxel) and keeps as 3 bytes a voxel: 35 s and 790 MB for a 512x512x1000 CT; and a
# MIP reads every sample of every ray. Above this many voxels, a copy reduced over 2x2x2 (or
# more) voxels is cast instead (1/8 of the time and memory) while dragging, for shading, and
# whenever a picture's pixel is at least as wide as a reduced voxel.
REDUCE_ABOVE_VOXELS = 40_000_000


def _vtk() -> Any:
    """Import the VTK modules the scene needs (not the whole `vtk` package: half the time)."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") \
            and not os.environ.get("WAYLAND_DISPLAY"):
        # Without a display VTK would first try X, print a warning and then fall back; EGL
        # (Mesa's libEGL) renders offscreen with no X server at all.
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL window classes)
    import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  (volume mapper overrides)
    from vtkmodules import (
        vtkCommonCore,
        vtkCommonDataModel,
        vtkCommonMath,
        vtkRenderingCore,
        vtkRenderingVolume,
    )
    from vtkmodules.util import numpy_support

    # VTK's own warnings would reach the user's terminal: route nothing to stderr.
    vtkCommonCore.vtkObject.GlobalWarningDisplayOff()
    vtkCommonCore.vtkLogger.SetStderrVerbosity(vtkCommonCore.vtkLogger.VERBOSITY_OFF)

    class Modules:
        core = vtkCommonCore
        data = vtkCommonDataModel
        math = vtkCommonMath
        rendering = vtkRenderingCore
        volume = vtkRenderingVolume
        numpy = numpy_support

    return Modules


class Scene3D:
    """A volume, its mapper, transfer functions and camera in an offscreen window: what a 3D view
    (the GUI's View3D through its render thread, or the `render3d` verb) drives. `render()`
    returns the picture as (height, width, 3) uint8. VTK objects are not thread-safe: make,
    use and close a scene on one thread."""

    def __init__(
        self,
        volume: Volume,
        mode: str = "vr",
        preset: str = "ct-bone",
        size: tuple[int, int] = (512, 512),
        window: tuple[float, float] | None = None,
    ) -> None:
        self._check(mode, preset)
        vtk = _vtk()
        self._vtk = vtk
        self.volume = volume
        self.mode = mode
        self.preset = preset
        self.mip_window = window or mip_window(volume)
        self.shade: bool | None = None  # None: the preset's own choice
        self.azimuth = 0.0
        self.elevation = 0.0
        self.zoom_factor = 1.0
        self.pan_pixels = (0.0, 0.0)
        self.clip: Clip | None = None
        self.size = (int(size[0]), int(size[1]))
        self._interacting = False
        self._revision = volume.revision

        self.image = vtk.data.vtkImageData()
        self._wrap_voxels()
        # One mapper per input: each keeps its own gradients and min-max tables, so going
        # from MIP to shaded VR, or from dragging to settled, recomputes nothing. The reduced
        # copies ('mean' for VR, 'max' for MIP) are made when first needed.
        self._full_mapper = self._new_mapper(self.image)
        self._reduced: dict[str, _Reduced] = {}
        self.mapper = self._full_mapper
        self.property = vtk.rendering.vtkVolumeProperty()
        # Trilinear, also for MIP: the ray caster's nearest-voxel lookup rounds down, which
        # would shift the picture by half a voxel.
        self.property.SetInterpolationTypeToLinear()
        self.actor = vtk.rendering.vtkVolume()
        self.actor.SetMapper(self.mapper)
        self.actor.SetProperty(self.property)
        self.actor.SetUserMatrix(self._user_matrix())

        self.renderer = vtk.rendering.vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        self.renderer.AddVolume(self.actor)
        self.window = vtk.rendering.vtkRenderWindow()
        self.window.SetOffScreenRendering(1)
        self.window.SetMultiSamples(0)
        self.window.AddRenderer(self.renderer)
        self.window.SetSize(*self.size)
        self._grab = vtk.rendering.vtkWindowToImageFilter()
        self._grab.SetInput(self.window)
        self._grab.SetInputBufferTypeToRGB()
        self._grab.ReadFrontBufferOff()
        # By default the filter renders the window again before reading it: every picture
        # would be cast twice (measured: 1.2-1.3 s instead of 0.7-0.8 s zoomed in). `render()`
        # has just rendered, so the back buffer holds the picture.
        self._grab.ShouldRerenderOff()
        self._apply_transfer_functions()
        self._apply_camera()

    # -- what the view sets -------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        self._check(mode, self.preset)
        self.mode = mode
        self._apply_transfer_functions()

    def set_preset(self, preset: str) -> None:
        self._check(self.mode, preset)
        self.preset = preset
        self._apply_transfer_functions()

    def set_shading(self, shade: bool | None) -> None:
        """Force shading on or off (None: as the preset says)."""
        self.shade = shade
        self._apply_transfer_functions()

    def set_mip_window(self, low: float, high: float) -> None:
        self.mip_window = (float(low), float(high))
        self._apply_transfer_functions()

    def set_clip(self, clip: Clip | None) -> None:
        """Keep only what lies inside the box (patient mm, LPS); None shows everything."""
        self.clip = None
        for mapper in self._mappers():
            mapper.RemoveAllClippingPlanes()
        if clip is None:
            return
        xmin, xmax, ymin, ymax, zmin, zmax = (float(v) for v in clip)
        if not (xmin < xmax and ymin < ymax and zmin < zmax):
            raise ValueError("the clip box is empty: each minimum must be below its maximum")
        self.clip = (xmin, xmax, ymin, ymax, zmin, zmax)
        for mapper in self._mappers():
            self._clip_mapper(mapper)

    def set_view(self, azimuth: float, elevation: float) -> None:
        self.azimuth, self.elevation = float(azimuth), float(elevation)
        self._apply_camera()

    def rotate(self, d_azimuth: float, d_elevation: float) -> None:
        self.set_view(self.azimuth + d_azimuth, self.elevation + d_elevation)

    def zoom(self, factor: float) -> None:
        """Magnify by `factor` (> 1 closer), within 0.1x to 50x of the whole-volume view."""
        self.zoom_factor = float(np.clip(self.zoom_factor * factor, *ZOOM_RANGE))
        self._apply_camera()

    def pan(self, d_right: float, d_up: float) -> None:
        """Move the picture by pixels to the right and up."""
        self.pan_pixels = (self.pan_pixels[0] + d_right, self.pan_pixels[1] + d_up)
        self._apply_camera()

    def reset_view(self) -> None:
        self.azimuth = self.elevation = 0.0
        self.zoom_factor = 1.0
        self.pan_pixels = (0.0, 0.0)
        self._apply_camera()

    def resize(self, size: tuple[int, int]) -> None:
        self.size = (max(int(size[0]), 1), max(int(size[1]), 1))
        self.window.SetSize(*self.size)
        self._apply_camera()

    def interacting(self, active: bool) -> None:
        """While dragging: fewer rays and samples (about 4x faster); full quality again when
        the drag settles."""
        self._interacting = bool(active)
        for mapper in self._mappers():
            self._sample_mapper(mapper)

    def apply(self, state: SceneState) -> None:
        """Bring the scene to `state`, changing only what differs (new transfer functions or
        clipping planes are not free)."""
        self._check(state.mode, state.preset)
        window = state.mip_window or mip_window(self.volume)
        if (state.mode, state.preset, state.shade, window) != \
                (self.mode, self.preset, self.shade, self.mip_window):
            self.mode, self.preset, self.shade = state.mode, state.preset, state.shade
            self.mip_window = window
            self._apply_transfer_functions()
        if state.clip != self.clip:
            self.set_clip(state.clip)
        size = (max(int(state.size[0]), 1), max(int(state.size[1]), 1))
        camera = (float(state.azimuth), float(state.elevation), float(state.zoom_factor),
                  (float(state.pan_pixels[0]), float(state.pan_pixels[1])))
        if camera != (self.azimuth, self.elevation, self.zoom_factor, self.pan_pixels) \
                or size != self.size:
            self.azimuth, self.elevation, self.zoom_factor, self.pan_pixels = camera
            if size != self.size:
                self.size = size
                self.window.SetSize(*size)
            self._apply_camera()
        if state.interacting != self._interacting:
            self.interacting(state.interacting)

    def update_volume(self) -> bool:
        """Show slices added since the last render (progressive loading): the same array, VTK
        told it changed. True when there was something new."""
        if self.volume.revision == self._revision:
            return False
        self._revision = self.volume.revision
        self.image.GetPointData().GetScalars().Modified()
        self.image.Modified()
        for reduced in self._reduced.values():
            reduced.update(self.volume)
        if self.preset in PRESETS and PRESETS[self.preset].relative:
            self._apply_transfer_functions()
        return True

    @property
    def reduction(self) -> int:
        """1 when the picture uses every voxel, else the block size (2: 2x2x2) of the averaged
        copy shading uses for a large volume; a view says so."""
        return 1 if self.mapper is self._full_mapper else self.reduction_factor

    @property
    def reduction_factor(self) -> int:
        factor = 1
        while self.volume.voxels.size / factor**3 > REDUCE_ABOVE_VOXELS:
            factor += 1
        return factor

    @property
    def visibly_reduced(self) -> bool:
        """The last picture was cast through a reduced copy whose voxels are wider than its
        pixels (shading a large volume zoomed in): a view should say so."""
        return self.reduction > 1 and \
            self.geometry.mm_per_pixel < self.reduction * min(self.volume.spacing)

    @property
    def geometry(self) -> ViewGeometry:
        """Where the current camera puts patient points in the picture."""
        return view_geometry(self.volume, self.azimuth, self.elevation, self.size,
                             self.zoom_factor, self.pan_pixels)

    def render(self) -> np.ndarray:
        """Render and read back the picture: (height, width, 3) uint8, row 0 at the top."""
        self._select_mapper()
        self.window.Render()
        self._grab.Modified()
        self._grab.Update()
        output = self._grab.GetOutput()
        width, height, _ = output.GetDimensions()
        rgb = self._vtk.numpy.vtk_to_numpy(output.GetPointData().GetScalars())
        # VTK's rows run bottom-up.
        return np.ascontiguousarray(rgb.reshape(height, width, -1)[::-1, :, :3])

    def abort_when(self, should_abort: Callable[[], bool]) -> None:
        """Let a render stop early when `should_abort()` turns true (the caller then drops the
        picture): the ray caster asks about every 0.2 s, through the window's AbortCheckEvent,
        on the thread that renders. VTK has no other way to cancel a render."""

        def check(window: Any, _event: str) -> None:
            if should_abort():
                window.SetAbortRender(1)

        self.window.AddObserver("AbortCheckEvent", check)

    @property
    def aborted(self) -> bool:
        """The last render was stopped by `abort_when`'s check: its picture is incomplete."""
        return bool(self.window.GetAbortRender())

    def opengl_renderer(self) -> str:
        """The OpenGL renderer string (e.g. 'llvmpipe ...' for Mesa's software GL)."""
        if self.window.GetNeverRendered():
            self.window.Render()  # the GL context exists only from the first render on
        for line in self.window.ReportCapabilities().splitlines():
            if line.startswith("OpenGL renderer string:"):
                return line.split(":", 1)[1].strip()
        return ""

    def close(self) -> None:
        """Free the GL context and let go of the voxels."""
        self.renderer.RemoveAllViewProps()
        self.window.Finalize()
        self.image.ReleaseData()
        self._reduced.clear()

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _check(mode: str, preset: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown 3D mode {mode!r}: use one of {', '.join(MODES)}")
        if preset not in PRESETS:
            raise ValueError(f"unknown 3D preset {preset!r}: use one of {', '.join(PRESETS)}")

    def _wrap_voxels(self) -> None:
        voxels = self.volume.voxels
        if not voxels.flags.c_contiguous:
            raise ValueError("the volume's voxels must be one C-contiguous array")
        nk, nj, ni = voxels.shape
        # voxels[k, j, i] in C order is VTK's x-fastest point order; deep=False shares the
        # memory, and numpy_support keeps a reference to the array on the VTK array.
        scalars = self._vtk.numpy.numpy_to_vtk(voxels.reshape(-1), deep=False)
        scalars.SetName("voxels")
        self.image.SetDimensions(ni, nj, nk)
        self.image.SetSpacing(*self.volume.spacing)
        self.image.SetOrigin(0.0, 0.0, 0.0)
        self.image.GetPointData().SetScalars(scalars)

    def _mappers(self) -> list[Any]:
        return [self._full_mapper, *(r.mapper for r in self._reduced.values())]

    def _new_mapper(self, image: Any) -> Any:
        mapper = self._vtk.volume.vtkFixedPointVolumeRayCastMapper()
        mapper.SetInputData(image)
        mapper.AutoAdjustSampleDistancesOff()
        if self.mode == "mip":
            mapper.SetBlendModeToMaximumIntensity()
        else:
            mapper.SetBlendModeToComposite()
        return mapper

    def _select_mapper(self) -> None:
        """The full volume, or the block-reduced copy when it is enough: while dragging, for
        shading (full-resolution gradients cost too much), and whenever a picture's pixel is
        at least as wide as a reduced voxel (nothing visible is lost)."""
        factor = self.reduction_factor
        wanted = self._full_mapper
        coarse = self.geometry.mm_per_pixel >= factor * min(self.volume.spacing)
        shaded = bool(self.property.GetShade())
        if factor > 1 and (self._interacting or shaded or coarse):
            kind = "max" if self.mode == "mip" else "mean"
            if kind not in self._reduced:
                reduced = _Reduced(self.volume, factor, kind, self._vtk)
                reduced.mapper = self._new_mapper(reduced.image)
                self._clip_mapper(reduced.mapper)
                self._reduced[kind] = reduced
            wanted = self._reduced[kind].mapper
        self._sample_mapper(wanted)
        if wanted is not self.mapper:
            self.mapper = wanted
            self.actor.SetMapper(wanted)

    def _sample_mapper(self, mapper: Any) -> None:
        # One sample per voxel of the input along a ray (VTK's usual step), no finer than
        # 0.5 mm; while dragging every second pixel and sample.
        factor = 1 if mapper is self._full_mapper else self.reduction_factor
        step = max(min(self.volume.spacing) * factor, 0.5)
        active = self._interacting
        mapper.SetImageSampleDistance(
            INTERACTIVE_IMAGE_SAMPLE_DISTANCE[self.mode] if active else 1.0)
        mapper.SetSampleDistance(step * (INTERACTIVE_SAMPLE_FACTOR if active else 1.0))

    def _clip_mapper(self, mapper: Any) -> None:
        mapper.RemoveAllClippingPlanes()
        if self.clip is None:
            return
        xmin, xmax, ymin, ymax, zmin, zmax = self.clip
        # The planes are in world (patient) coordinates, whatever the volume's user matrix:
        # the box stays aligned with the patient's axes for an oblique or tilted series.
        for origin, normal in (
            ((xmin, 0, 0), (1, 0, 0)), ((xmax, 0, 0), (-1, 0, 0)),
            ((0, ymin, 0), (0, 1, 0)), ((0, ymax, 0), (0, -1, 0)),
            ((0, 0, zmin), (0, 0, 1)), ((0, 0, zmax), (0, 0, -1)),
        ):
            plane = self._vtk.data.vtkPlane()
            plane.SetOrigin(*origin)
            plane.SetNormal(*normal)
            mapper.AddClippingPlane(plane)

    def _user_matrix(self) -> Any:
        """The volume's affine with the spacings taken out (they are the image's spacing): maps
        the image's (i*si, j*sj, k*sk) to patient LPS, shear included."""
        spacing = np.asarray(self.volume.spacing)
        m = np.array(self.volume.affine, dtype=np.float64)
        m[:3, :3] = m[:3, :3] / spacing
        matrix = self._vtk.math.vtkMatrix4x4()
        for r in range(4):
            for c in range(4):
                matrix.SetElement(r, c, float(m[r, c]))
        return matrix

    def _apply_transfer_functions(self) -> None:
        vtk = self._vtk
        colors = vtk.rendering.vtkColorTransferFunction()
        opacity = vtk.data.vtkPiecewiseFunction()
        for mapper in self._mappers():
            if self.mode == "mip":
                mapper.SetBlendModeToMaximumIntensity()
            else:
                mapper.SetBlendModeToComposite()
        if self.mode == "mip":
            low, high = self.mip_window
            colors.AddRGBPoint(low, 0.0, 0.0, 0.0)
            colors.AddRGBPoint(high, 1.0, 1.0, 1.0)
            opacity.AddPoint(low, 1.0)
            opacity.AddPoint(high, 1.0)
            shade = False
            preset: Preset | None = None
        else:
            preset = resolve_preset(PRESETS[self.preset], self.volume)
            for value, r, g, b in preset.colors:
                colors.AddRGBPoint(value, r, g, b)
            for value, alpha in preset.opacities:
                opacity.AddPoint(value, alpha)
            shade = preset.shade if self.shade is None else self.shade
        self.property.SetColor(colors)
        self.property.SetScalarOpacity(opacity)
        # Opacities are per millimetre of ray, whatever the sample distance.
        self.property.SetScalarOpacityUnitDistance(1.0)
        self.property.SetShade(1 if shade else 0)
        if preset is not None:
            self.property.SetAmbient(preset.ambient)
            self.property.SetDiffuse(preset.diffuse)
            self.property.SetSpecular(preset.specular)
            self.property.SetSpecularPower(preset.specular_power)

    def _apply_camera(self) -> None:
        geometry = self.geometry
        camera = self.renderer.GetActiveCamera()
        camera.ParallelProjectionOn()
        focal = np.asarray(geometry.focal)
        distance = geometry.parallel_scale * 4.0 + 1000.0
        camera.SetFocalPoint(*focal)
        camera.SetPosition(*(focal + distance * np.asarray(geometry.toward_camera)))
        camera.SetViewUp(*geometry.up)
        camera.SetParallelScale(geometry.parallel_scale)
        camera.SetClippingRange(1.0, 2.0 * distance)
        self.renderer.ResetCameraClippingRange()


def render_image(
    volume: Volume,
    mode: str = "vr",
    preset: str = "ct-bone",
    azimuth: float = 0.0,
    elevation: float = 0.0,
    size: tuple[int, int] = (512, 512),
    clip: Sequence[float] | None = None,
    window: tuple[float, float] | None = None,
) -> np.ndarray:
    """One 3D picture of the volume as (height, width, 3) uint8, parallel projection.

    Azimuth 0, elevation 0 is the anterior view (head up, the patient's left on the image's
    right); azimuth turns towards the patient's left (90: seen from the left); positive
    elevation looks down from the head's side. `size` is (width, height); pixels are square in
    mm and the whole volume fits. `clip` is a box in patient mm (xmin, xmax, ymin, ymax, zmin,
    zmax); `window` the (low, high) grey ramp of a MIP in modality values. ValueError names an
    unknown mode or preset, or an empty clip box."""
    scene = Scene3D(volume, mode=mode, preset=preset, size=size, window=window)
    try:
        if clip is not None:
            if len(clip) != 6:
                raise ValueError("the clip box needs six numbers: xmin,xmax,ymin,ymax,zmin,zmax")
            scene.set_clip((clip[0], clip[1], clip[2], clip[3], clip[4], clip[5]))
        scene.set_view(azimuth, elevation)
        return scene.render()
    finally:
        scene.close()


class _Reduced:
    """A block-reduced copy of the volume ('mean' or 'max' of factor^3 voxels) as VTK image
    data, kept up to date with the slices that arrive."""

    def __init__(self, volume: Volume, factor: int, kind: str, vtk: Any) -> None:
        self.factor = factor
        self.kind = kind
        # Slices not loaded yet show the padding, as planes cut from the volume do.
        self.voxels = np.full(reduced_shape(volume.shape, factor), volume.padding,
                              dtype=volume.voxels.dtype)
        self.filled = np.zeros_like(volume.filled)
        self.mapper: Any = None
        nk, nj, ni = self.voxels.shape
        self.image = vtk.data.vtkImageData()
        self.image.SetDimensions(ni, nj, nk)
        spacing = np.asarray(volume.spacing)
        # A block's value sits at its centre, (factor - 1) / 2 voxels in: the same user
        # matrix as the full volume then places it.
        self.image.SetSpacing(*(spacing * factor))
        self.image.SetOrigin(*(spacing * (factor - 1) / 2.0))
        self.image.GetPointData().SetScalars(
            vtk.numpy.numpy_to_vtk(self.voxels.reshape(-1), deep=False))
        self.update(volume)

    def update(self, volume: Volume) -> None:
        """Reduce the blocks whose slices arrived since the last time."""
        changed = volume.filled != self.filled
        if not changed.any():
            return
        reduce_blocks(volume.voxels, self.factor, self.voxels, self.kind, changed)
        self.filled = volume.filled.copy()
        self.image.GetPointData().GetScalars().Modified()
        self.image.Modified()
