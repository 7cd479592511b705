"""Image export: frames of a series as PNG, JPEG or TIFF pictures, or as an MP4/GIF cine loop,
through the one display pipeline (viewer.dicom.display), optionally annotated.

`export-images` and the viewer's Export menu both call `export_stack`. Stills: one file per
frame, named by its 1-based place in the series (`0001.png` ...), in OUT (a folder), or OUT
itself when one frame is exported. Video: one file. Names never come from DICOM attributes.
A frame that cannot be decoded is one failure naming its file; the others are exported.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from viewer.dicom.display import DisplayState, choose_voi, to_display, write_png
from viewer.dicom.files import DicomFileError
from viewer.dicom.frameinfo import FrameInfo, Window
from viewer.jobs import Cancelled, CancelToken, ProgressCallback, Report, no_progress
from viewer.media.annotate import MeasurementMark, burn_annotations, frame_annotations
from viewer.media.video import VIDEO_FORMATS, VideoError, VideoWriter

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from viewer.dicom.presentation_apply import PresentationStateFile, PresentedFrame
    from viewer.dicom.stack import Stack

LOGGER = logging.getLogger(__name__)

STILL_FORMATS = ("png", "jpeg", "tiff")
FORMATS = STILL_FORMATS + VIDEO_FORMATS
SUFFIXES = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "mp4": ".mp4", "gif": ".gif"}
DEFAULT_RATE = 10.0  # frames per second when neither the series nor the user says
JPEG_QUALITY = 95  # a presentation picture: no visible blocks on soft-tissue gradients


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how. `state`: the window as `render` takes it (None window: each
    frame's own); `fps`: the user's rate, used when the series declares none;
    `annotations`: the corner texts, markers and measurements burned in; `patient_text`
    False strips what identifies the patient from them (teaching files)."""

    image_format: str
    state: DisplayState = field(default_factory=DisplayState)
    fps: float | None = None
    annotations: bool = False
    patient_text: bool = True
    # As a viewport shows them: quarter turns clockwise, then a mirror; and a presentation
    # state (viewer.dicom.presentation_apply) for the frames it references, whose own
    # rotation, flip and displayed area then replace the turns and mirrors.
    quarter_turns: int = 0
    flip_h: bool = False
    flip_v: bool = False
    presentation: PresentationStateFile | None = None

    def __post_init__(self) -> None:
        if self.image_format not in FORMATS:
            raise ValueError(f"image_format must be one of {', '.join(FORMATS)}, "
                             f"not {self.image_format!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a positive number, not {self.fps!r}")


@dataclass
class ExportResult:
    """Files written (`report.done`), frames that failed with their reason, and for a video
    the rate used and where it came from ("Cine Rate", "Frame Time", "--fps", ...)."""

    report: Report = field(default_factory=Report)
    rate: float | None = None
    rate_source: str = ""


def cine_rate(header: Dataset) -> tuple[float, str] | None:
    """The rate the series asks to be played at, in frames per second, and the attribute it
    came from: Cine Rate (0018,0040), else Frame Time (0018,1063, ms per frame), else
    Recommended Display Frame Rate (0008,2144) (PS3.3 C.7.6.5, C.8.7.1); None without one."""
    for keyword, to_rate in (("CineRate", float),
                             ("FrameTime", lambda ms: 1000.0 / float(ms)),
                             ("RecommendedDisplayFrameRate", float)):
        value = header.get(keyword)
        if value is None or value == "":
            continue
        try:
            rate = to_rate(value)
        except (TypeError, ValueError, ZeroDivisionError):
            continue  # a malformed value counts as absent: the next attribute, or the default
        if math.isfinite(rate) and rate > 0:
            return rate, keyword
    return None


def chosen_rate(header: Dataset | None, fps: float | None) -> tuple[float, str]:
    """The series' own rate when it declares one, else the user's, else DEFAULT_RATE."""
    declared = cine_rate(header) if header is not None else None
    if declared is not None:
        return declared
    if fps is not None:
        return fps, "--fps"
    return DEFAULT_RATE, "default"


def render_export_frame(
    stack: Stack,
    position: int,
    options: ExportOptions,
    measurements: Sequence[MeasurementMark] = (),
    labels: Mapping[str, str] | None = None,
) -> np.ndarray:
    """Frame `position` (0-based in the series) as a uint8 picture: the display pipeline, as
    `render` does for the same window (through the presentation state when it references the
    frame, as `render --presentation-state` does), turned and mirrored as the options say, then
    the annotations when asked. DicomFileError naming the file when it cannot be decoded."""
    from viewer.dicom.pixels import decode_frame, read_header
    from viewer.dicom.presentation_apply import burn_annotations as burn_graphics

    path, index = stack.frames[position]
    frame = decode_frame(path, index)
    presented = _presented(path, index, frame.array, frame.info, options)
    picture = presented.image
    if not options.annotations:
        return picture
    if options.presentation is not None and presented.info is not frame.info:
        uid = str(read_header(path).get("SOPInstanceUID", "") or "")
        picture = burn_graphics(presented, options.presentation.annotations(uid, index + 1))
    voi = choose_voi(frame.array, presented.info, options.state)
    window = (voi.center, voi.width) if isinstance(voi, Window) else None
    geometry = stack.geometry[position] if position < len(stack.geometry) else None
    to_output = presented.geometry.image_to_output
    marks = [MeasurementMark(tuple(_moved(to_output, point) for point in mark.outline),
                             mark.text) for mark in measurements]
    turns, flip = _turns(options) if presented.info is frame.info else (
        _state_turns(options.presentation))
    annotations = frame_annotations(
        stack.info, geometry, frame.info, position, len(stack.frames), window,
        patient_text=options.patient_text, measurements=marks, labels=labels,
        turns=(turns, flip),
    )
    return burn_annotations(picture, annotations)


def _presented(path: str, index: int, array: np.ndarray, info: FrameInfo,
               options: ExportOptions) -> PresentedFrame:
    """The frame through the presentation state when it references it, else through the
    display pipeline with the options' turns and mirror (the same resampling: whole pixels
    moved, none interpolated at one output pixel per image pixel)."""
    # imported here: `export-images` without them starts as fast as before
    from viewer.dicom.pixels import read_header
    from viewer.dicom.presentation_apply import (
        PresentedFrame,
        apply_presentation_state,
        output_geometry,
        resample,
    )
    from viewer.dicom.presentation_state import applies_to

    state = options.presentation
    if state is not None:
        uid = str(read_header(path).get("SOPInstanceUID", "") or "")
        if applies_to(state.state, uid, index + 1):
            return apply_presentation_state(array, info, state.state, uid, index + 1,
                                            image_name=path, state=options.state)
    turns, flip = _turns(options)
    picture = to_display(array, info, options.state)
    geometry = output_geometry(None, picture.shape[0], picture.shape[1], 90 * turns, flip)
    if turns or flip:
        picture = resample(picture, geometry)
    return PresentedFrame(picture, geometry, info)


def _turns(options: ExportOptions) -> tuple[int, bool]:
    """Quarter turns clockwise, then a horizontal mirror: a vertical mirror after a turn is
    half a turn more and a horizontal mirror."""
    turns, flip = options.quarter_turns % 4, options.flip_h
    if options.flip_v:
        turns, flip = (turns + 2) % 4, not flip
    return turns, flip


def _state_turns(state: PresentationStateFile | None) -> tuple[int, bool]:
    return (0, False) if state is None else (state.state.rotation // 90 % 4,
                                             state.state.horizontal_flip)


def _moved(matrix: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    """A pixel centre (0,0 the top-left pixel's) through an image-to-output matrix whose
    coordinates are pixel corners."""
    x, y, _ = matrix @ np.array([point[0] + 0.5, point[1] + 0.5, 1.0])
    return float(x) - 0.5, float(y) - 0.5


def export_stack(
    stack: Stack,
    out: Path,
    options: ExportOptions,
    *,
    positions: Sequence[int] | None = None,
    measurements: Mapping[int, Sequence[MeasurementMark]] | None = None,
    labels: Mapping[str, str] | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ExportResult:
    """Export frames `positions` (default: all, in series order) of `stack` to `out`.

    `measurements`: by position, drawn when annotating. Failures are values in the result; a
    video that cannot be made at all (ffmpeg missing or failing, no frame decodable) raises
    VideoError, with nothing left at `out`. Cancelled (viewer.jobs) propagates after a video's
    partial file is removed; stills already written stay (each is complete).
    """
    wanted = list(range(len(stack.frames))) if positions is None else list(positions)
    for position in wanted:
        if not 0 <= position < len(stack.frames):
            raise ValueError(f"position {position} outside the series (0..{len(stack.frames) - 1})")
    token = cancel or CancelToken()
    marks = measurements or {}
    if options.image_format in VIDEO_FORMATS:
        return _export_video(stack, out, options, wanted, marks, labels, progress, token)
    return _export_stills(stack, out, options, wanted, marks, labels, progress, token)


def still_targets(out: Path, image_format: str, positions: Sequence[int]) -> list[Path]:
    """Where each frame goes: `out` itself for one frame unless it is a folder, else
    `out/NNNN.ext` by the frame's 1-based place in the series."""
    if len(positions) == 1 and not out.is_dir():
        return [out]
    suffix = SUFFIXES[image_format]
    return [out / f"{position + 1:04d}{suffix}" for position in positions]


def _export_stills(
    stack: Stack, out: Path, options: ExportOptions, wanted: list[int],
    marks: Mapping[int, Sequence[MeasurementMark]], labels: Mapping[str, str] | None,
    progress: ProgressCallback, token: CancelToken,
) -> ExportResult:
    result = ExportResult()
    targets = still_targets(out, options.image_format, wanted)
    folder = out if targets != [out] else out.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, no permission: nothing can be written
        result.report.fail(str(folder), exc.strerror or str(exc))
        return result
    for done, (position, target) in enumerate(zip(wanted, targets, strict=True)):
        token.raise_if_cancelled()
        progress(done, len(wanted), target.name)
        try:
            picture = render_export_frame(stack, position, options, marks.get(position, ()),
                                          labels)
        except DicomFileError as exc:
            result.report.fail(_frame_name(stack, position), exc.reason)
            continue
        except OSError as exc:  # the file went away (or became unreadable) since listed
            result.report.fail(_frame_name(stack, position), exc.strerror or str(exc))
            continue
        try:
            write_picture(picture, target, options.image_format)
        except OSError as exc:
            result.report.fail(str(target), exc.strerror or str(exc))
            continue
        result.report.done.append(str(target))
    progress(len(wanted), len(wanted), "")
    return result


def write_picture(picture: np.ndarray, target: Path, image_format: str) -> None:
    """One uint8 picture as PNG (as `render` writes it), JPEG or TIFF, atomically."""
    if image_format == "png":
        write_png(picture, target)
        return
    from PIL import Image

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        image = Image.fromarray(np.ascontiguousarray(picture))
        if image_format == "jpeg":
            image.save(tmp, format="JPEG", quality=JPEG_QUALITY)
        else:
            image.save(tmp, format="TIFF", compression="tiff_deflate")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _export_video(
    stack: Stack, out: Path, options: ExportOptions, wanted: list[int],
    marks: Mapping[int, Sequence[MeasurementMark]], labels: Mapping[str, str] | None,
    progress: ProgressCallback, token: CancelToken,
) -> ExportResult:
    from viewer.dicom.pixels import read_header

    result = ExportResult()
    try:
        header: Dataset | None = read_header(stack.frames[wanted[0]][0]) if wanted else None
    except DicomFileError:
        header = None  # its frames will say why; the rate falls back to --fps
    result.rate, result.rate_source = chosen_rate(header, options.fps)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VideoError(f"cannot create {out.parent}: {exc.strerror or exc}") from None
    writer: VideoWriter | None = None
    try:
        for done, position in enumerate(wanted):
            token.raise_if_cancelled()
            progress(done, len(wanted), f"{position + 1:04d}")
            try:
                picture = render_export_frame(stack, position, options, marks.get(position, ()),
                                              labels)
            except DicomFileError as exc:
                result.report.fail(_frame_name(stack, position), exc.reason)
                continue
            except OSError as exc:
                result.report.fail(_frame_name(stack, position), exc.strerror or str(exc))
                continue
            if writer is None:
                rows, columns = picture.shape[:2]
                rgb = picture.ndim == 3 or any(marks.values())
                writer = VideoWriter(out, options.image_format, rows, columns, result.rate,
                                     rgb=rgb)
            writer.write(picture)
        if writer is None:
            first = result.report.failed[0] if result.report.failed else None
            raise VideoError("no frame could be decoded" + (
                f" (first: {first.item}: {first.reason})" if first else ""))
        writer.close()
    except (Cancelled, VideoError):
        if writer is not None:
            writer.abort()
        raise
    progress(len(wanted), len(wanted), "")
    result.report.done.append(str(out))
    return result


def _frame_name(stack: Stack, position: int) -> str:
    path, index = stack.frames[position]
    return path if index == 0 else f"{path} (frame {index + 1})"
