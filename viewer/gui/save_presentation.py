""""Save presentation state": what the active viewport shows, as a Grayscale Softcopy
Presentation State in the archive (PS3.3 A.33.1; issue 17 item 2).

The view becomes a `ViewState` on the GUI thread (numbers only: window, invert, turns and
mirror, zoom and pan as the displayed area, the measurements with the text they show); the
header read, highdicom (its first call loads tables for ~0.6 s), the file and the import run as
a Task. The file goes into the archive through archive.importer, the one import path; the
viewport then lists the new state and shows it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from PySide6.QtCore import QCoreApplication, QRectF
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from viewer.archive.archive import Archive
from viewer.archive.importer import import_file
from viewer.dicom.display import inverts
from viewer.dicom.shutters import DisplayShutter
from viewer.gui.measurements import Kind
from viewer.gui.presentation_source import ArchivePresentations
from viewer.gui.tasks import Task, TaskRunner
from viewer.gui.viewport import Viewport
from viewer.jobs import CancelToken, ProgressCallback
from viewer.reports.view_state import (
    CircleShutter,
    Measurement,
    PolygonShutter,
    RectangleShutter,
    Shape,
    Shutter,
    ViewedImage,
    ViewState,
    from_pixel_centres,
    spatial_transformation,
)

DEFAULT_LABEL = "VIEWER"
_SHAPES = {Kind.LENGTH: Shape.LINE, Kind.ANGLE: Shape.ANGLE, Kind.RECTANGLE: Shape.RECTANGLE,
           Kind.ELLIPSE: Shape.ELLIPSE}


@dataclass(frozen=True)
class ShownImage:
    """The frame a viewport shows and how: the input of the save job."""

    path: str
    frame: int  # 1-based
    view: ViewState


def shown_image(viewport: Viewport) -> ShownImage:
    """What `viewport` shows now; ValueError (one line) when it shows no decoded image."""
    key, frame = viewport.current_key, viewport.frame
    info = viewport.display_info()
    if key is None or frame is None or info is None or viewport.image.image is None:
        raise ValueError("no image is shown in the active viewport")
    if not frame.info.is_monochrome:
        raise ValueError("a grayscale presentation state cannot show a colour image")
    window = viewport.current_window()
    natural = frame.info.photometric == "MONOCHROME1" or \
        frame.info.presentation_lut_shape == "INVERSE"
    rotation, flip = spatial_transformation(viewport.quarter_turns, viewport.flip_h,
                                            viewport.flip_v)
    measurements = [
        Measurement(_SHAPES[m.kind], tuple(from_pixel_centres(p) for p in m.points),
                    text=viewport._measurement_text(m) or "")
        for m in viewport.measurements.on(key) if m.complete and m.kind in _SHAPES
    ]
    return ShownImage(key[0], key[1] + 1, ViewState(
        window=window,
        voi_function=viewport.state.voi_function or info.voi_function,
        invert=inverts(info, viewport.state) != natural,
        rotation=rotation,
        horizontal_flip=flip,
        displayed_area=_displayed_area(viewport),
        shutters=_shutters(info.shutter),
        shutter_value=info.shutter.presentation_value if info.shutter else 0,
        measurements=tuple(measurements),
    ))


def _shutters(shutter: DisplayShutter | None) -> tuple[Shutter, ...]:
    """The shutter shown (the state's, the image's own, the one the user drew) in PIXEL units:
    1-based inclusive edges and row\\column centres back to pixel corners and centres. A
    bitmap shutter has no such form and is not saved."""
    if shutter is None:
        return ()
    out: list[Shutter] = []
    if shutter.rectangle is not None:
        left, right, upper, lower = shutter.rectangle
        out.append(RectangleShutter(left - 1, upper - 1, right, lower))
    if shutter.circle is not None:
        (row, column), radius = shutter.circle
        out.append(CircleShutter((column - 0.5, row - 0.5), radius))
    if shutter.polygon:
        out.append(PolygonShutter(tuple((c - 0.5, r - 0.5) for r, c in shutter.polygon)))
    return tuple(out)


def _displayed_area(viewport: Viewport) -> tuple[float, float, float, float] | None:
    """What the zoom and pan show, in image pixels (PIXEL units, before the turns); None when
    the image is fitted (the whole image is the displayed area)."""
    if viewport.view.target is None:
        return None
    inverse, invertible = viewport.image.transform().inverted()
    if not invertible:
        return None
    box: QRectF = inverse.mapRect(viewport.view.target)
    return (box.left(), box.top(), box.right(), box.bottom())


def save_job(archive: Archive, shown: ShownImage, label: str, description: str = ""
             ) -> Callable[[ProgressCallback, CancelToken], str]:
    """The Task body: read the header, create the state, import it; returns its UID."""
    from viewer.reports.create_ps import create_presentation_state  # highdicom: off the GUI

    def run(progress: ProgressCallback, cancel: CancelToken) -> str:
        header = dcmread(shown.path, stop_before_pixels=True)
        image = ViewedImage.of(header, shown.frame)
        ps = create_presentation_state([image], shown.view, label=label,
                                       description=description)
        cancel.raise_if_cancelled()
        with tempfile.TemporaryDirectory(prefix="viewer-ps-") as folder:
            out = Path(folder) / "presentation-state.dcm"
            ps.save_as(out, enforce_file_format=True)
            report = import_file(archive, out, label)
        if not report.ok:
            problems = [*report.failed, *report.conflicts]
            reason = problems[0].reason if problems else report.stopped
            raise RuntimeError(f"the presentation state was not stored: {reason}")
        return str(ps.SOPInstanceUID)

    return run


def start_save(viewport: Viewport, archive: Archive, tasks: TaskRunner,
               source: ArchivePresentations, label: str = DEFAULT_LABEL,
               description: str = "") -> Task:
    """Save what `viewport` shows (ValueError when it shows nothing savable); once stored, the
    archive's lists are refreshed and the viewport shows the new state."""
    shown = shown_image(viewport)
    task = tasks.start(save_job(archive, shown, label, description), "save presentation state")

    def stored(uid: object) -> None:
        if viewport.presentation is not None:
            viewport.presentation.choice = str(uid)
        source.archive_changed()

    task.succeeded.connect(stored)
    return task


def ask_and_save(parent: QWidget, viewport: Viewport | None, archive: Archive | None,
                 tasks: TaskRunner, source: ArchivePresentations | None) -> Task | None:
    """The menu command: ask for the label (default VIEWER), then `start_save`; one line in
    a message box instead when it cannot be done, or when storing failed."""
    title = QCoreApplication.translate("SavePresentation", "Save presentation state")
    if viewport is None or archive is None or source is None:
        QMessageBox.information(parent, title, QCoreApplication.translate(
            "SavePresentation", "Saving needs the archive: open the study from it."))
        return None
    label, ok = QInputDialog.getText(parent, title, QCoreApplication.translate(
        "SavePresentation", "Label:"), QLineEdit.EchoMode.Normal, DEFAULT_LABEL)
    if not ok:
        return None
    try:
        task = start_save(viewport, archive, tasks, source, label.strip() or DEFAULT_LABEL)
    except ValueError as exc:
        QMessageBox.information(parent, title, str(exc))
        return None
    task.failed.connect(lambda reason: QMessageBox.warning(parent, title, reason))
    return task
