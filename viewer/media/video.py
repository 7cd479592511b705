"""Cine loops as MP4 (H.264, yuv420p) or GIF, encoded by the system's `ffmpeg` program.

Frames go to ffmpeg's standard input as raw 8-bit grey or RGB pixels: no temporary PNGs, no
second compression on the way. ffmpeg runs as a separate program found on PATH (Debian's
`ffmpeg` package, installed by packaging/install.sh), never linked or bundled: Debian builds
it with libx264 (GPL), and a program we talk to through a pipe keeps our Apache-2.0 code and
our bundles free of GPL code. PyAV was not chosen for that reason: its 18.x wheels bundle
libx264 and libx265 (GPL) inside `av.libs`.

The file is written under a temporary name beside OUT and renamed when ffmpeg finished
cleanly: a failed or cancelled export leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import IO

import numpy as np

VIDEO_FORMATS = ("mp4", "gif")
CRF = 18  # x264's "visually lossless" end of its quality scale: grey levels stay readable


class VideoError(RuntimeError):
    """ffmpeg missing, refusing its input, or failing: the reason, one line."""


def ffmpeg_program() -> str:
    """The ffmpeg executable on PATH; VideoError saying how to get it when there is none."""
    found = shutil.which("ffmpeg")
    if found is None:
        raise VideoError("ffmpeg not found: install Debian's ffmpeg package (packaging/install.sh)")
    return found


def even_size(rows: int, columns: int) -> tuple[int, int]:
    """The canvas of a video: yuv420p halves the chroma both ways, so H.264 wants even sides."""
    return rows + rows % 2, columns + columns % 2


def encoder_arguments(video_format: str) -> list[str]:
    """What ffmpeg is told after its input for `video_format`; the benchmark's baseline (the
    same frames from PNGs) uses the same, so the two encodes differ only in their input."""
    if video_format == "mp4":
        return ["-c:v", "libx264", "-crf", str(CRF), "-pix_fmt", "yuv420p",
                "-movflags", "+faststart", "-f", "mp4"]
    if video_format == "gif":
        # one palette for the whole loop (256 colours: every grey of an 8-bit image)
        return ["-filter_complex", "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse",
                "-loop", "0", "-f", "gif"]
    raise ValueError(f"video format must be one of {', '.join(VIDEO_FORMATS)}, "
                     f"not {video_format!r}")


def rate_text(rate: float) -> str:
    """A frame rate as ffmpeg reads it exactly: 25 -> "25", 1000/33 ms -> "1000/33"."""
    fraction = Fraction(rate).limit_denominator(1001)
    return str(fraction.numerator) if fraction.denominator == 1 else str(fraction)


class VideoWriter:
    """One video being encoded: `write(picture)` per frame, then `close()` (or `abort()`).

    `rows` x `columns` is the first frame's size; the canvas is that rounded up to even sides,
    and every frame is placed at its top-left corner on black (a frame of another size is
    scaled to fit the canvas, its aspect kept). `rgb` chooses the pixels piped: 8-bit grey
    (smaller pipe, exact greys) or RGB (colour images, yellow measurements).
    """

    def __init__(self, out: Path, video_format: str, rows: int, columns: int, rate: float,
                 *, rgb: bool) -> None:
        self.out = out
        self.rows, self.columns = even_size(rows, columns)
        self.rgb = rgb
        self.frames = 0
        self.tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _finish
        command = [
            ffmpeg_program(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24" if rgb else "gray",
            "-s", f"{self.columns}x{self.rows}", "-framerate", rate_text(rate), "-i", "pipe:0",
            *encoder_arguments(video_format), os.fspath(self.tmp),
        ]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=self._log)

    def write(self, picture: np.ndarray) -> None:
        """Append one uint8 picture (grey rows x columns, or RGB rows x columns x 3)."""
        canvas = self._canvas(picture)
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(canvas.tobytes())
        except BrokenPipeError:
            raise VideoError(f"ffmpeg stopped: {self._reason()}") from None
        self.frames += 1

    def close(self) -> None:
        """Finish the file and put it in place; VideoError when ffmpeg failed (nothing kept)."""
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.close()
        except BrokenPipeError:
            pass  # the return code and ffmpeg's own message say why
        code = self._process.wait()
        try:
            if code != 0 or self.frames == 0:
                reason = self._reason() if code != 0 else "no frame could be encoded"
                raise VideoError(reason)
            os.replace(self.tmp, self.out)
        finally:
            self._finish()

    def abort(self) -> None:
        """Stop ffmpeg and remove what it wrote (a cancelled or failed export)."""
        self._process.kill()
        self._process.wait()
        if self._process.stdin is not None:
            try:
                self._process.stdin.close()
            except BrokenPipeError:
                pass
        self._finish()

    def _finish(self) -> None:
        self._log.close()
        self.tmp.unlink(missing_ok=True)

    def _reason(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else f"ffmpeg exit code {self._process.poll()}"

    def _canvas(self, picture: np.ndarray) -> np.ndarray:
        if picture.shape[:2] != (self.rows, self.columns):
            picture = _fitted(picture, self.rows, self.columns)
        if self.rgb and picture.ndim == 2:
            picture = np.repeat(picture[:, :, None], 3, axis=2)
        elif not self.rgb and picture.ndim == 3:
            # ITU-R BT.601 luma, as ffmpeg's own rgb24 -> gray conversion
            weights = np.array([0.299, 0.587, 0.114])
            picture = np.rint(picture[..., :3] @ weights).astype(np.uint8)
        return np.ascontiguousarray(picture, dtype=np.uint8)


def _fitted(picture: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """`picture` on a black rows x columns canvas at its top-left: as it is when it fits
    (the odd first frame's extra row or column), else scaled down, aspect kept."""
    height, width = picture.shape[:2]
    if height > rows or width > columns:
        from PIL import Image

        scale = min(rows / height, columns / width)
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        picture = np.asarray(Image.fromarray(picture).resize(size, Image.Resampling.LANCZOS))
        height, width = picture.shape[:2]
    canvas = np.zeros((rows, columns, *picture.shape[2:]), dtype=np.uint8)
    canvas[:height, :width] = picture
    return canvas
