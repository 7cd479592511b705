"""Issue 17's viewport target: a Grayscale Softcopy Presentation State adds <= 2 ms to showing a
512x512 frame in a viewport.

Two 512x512 12-bit CT frames of one series are referenced by one GSPS made by
viewer.reports.create_ps (a window, INVERSE, a quarter turn and a flip, a displayed area, a
rectangular and a circular shutter, three lengths with their values as text) with seven more
graphics added (POINT, POLYLINE, INTERPOLATED, CIRCLE, ELLIPSE, PIXEL and DISPLAY units): 10
graphics and 3 texts. Two viewports of the same size show the frames in turn, as a scroll
does: one plain, one with the state applied through its PresentationLayer (the state's file
parsed once, then kept, as the archive source keeps it). A show is the viewport's render of the
frame and a paint of its view (grab(): the image and the items, into a pixmap; repaint() of a
widget offscreen paints nothing); both viewports alternate within a pass, after a warm-up (the
composed lookup tables are cached, as during a scroll). Needs a QApplication.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from PySide6.QtCore import QCoreApplication

from viewer.decode.pool import DecodePool
from viewer.decode.requests import Frame
from viewer.dicom.frameinfo import frame_info
from viewer.dicom.stack import Stack
from viewer.gui.bridge import FrameBridge
from viewer.gui.measurements import MeasurementStore
from viewer.gui.presentation_layer import PresentationLayer
from viewer.gui.presentation_source import NEWEST, ListedState, ParsedStates
from viewer.gui.viewport import Viewport

SIZE = 512
TARGET_MS = 2.0
VIEWPORT = 512  # widget pixels: the frame fitted about 1:1


class _OneState(ParsedStates):
    """A presentation state file for the images it references (the benchmark's source)."""

    def __init__(self, listed: ListedState, uids: dict[str, str]) -> None:
        super().__init__()
        self.default = NEWEST
        self._listed, self._by_path = listed, uids

    def sop_instance_uid(self, series_uid: str, path: str) -> str | None:
        return self._by_path.get(path)

    def states_for(self, sop_instance_uid: str, frame: int) -> list[ListedState]:
        return [self._listed]


def _image(series_uid: str, study_uid: str, number: int) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.Modality, ds.InstanceNumber = "CT", number
    ds.Rows = ds.Columns = SIZE
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.PixelSpacing = [0.7, 0.7]
    return ds


_EXTRA_GRAPHICS = (  # (units, type, data, filled), on every image beside its lengths
    ("PIXEL", "POINT", [200.0, 200.0], "N"),
    ("PIXEL", "POLYLINE", [10.0, 10.0, 100.0, 30.0, 150.0, 90.0, 10.0, 10.0], "Y"),
    ("PIXEL", "INTERPOLATED", [50.0, 400.0, 120.0, 350.0, 200.0, 420.0, 260.0, 380.0], "N"),
    ("PIXEL", "CIRCLE", [256.0, 256.0, 256.0, 300.0], "N"),
    ("PIXEL", "ELLIPSE", [300.0, 300.0, 400.0, 300.0, 350.0, 280.0, 350.0, 320.0], "Y"),
    ("DISPLAY", "POLYLINE", [0.1, 0.9, 0.9, 0.9], "N"),
    ("DISPLAY", "CIRCLE", [0.8, 0.2, 0.85, 0.2], "N"),
)


def _state(images: list[Dataset]) -> Dataset:
    from viewer.reports.create_ps import create_presentation_state
    from viewer.reports.view_state import (
        CircleShutter,
        Measurement,
        RectangleShutter,
        Shape,
        ViewedImage,
        ViewState,
    )

    # each image its own lengths (a scroll draws new items), the other graphics on both
    lengths = tuple(
        Measurement(Shape.LINE, ((60.0 + 40 * n + i, 100.0), (300.0, 140.0 + 60 * n)),
                    sop_instance_uid=str(ds.SOPInstanceUID))
        for i, ds in enumerate(images) for n in range(3))
    view = ViewState(window=(-600.0, 1500.0), invert=True, rotation=90, horizontal_flip=True,
                     displayed_area=(32.0, 32.0, 480.0, 480.0),
                     shutters=(RectangleShutter(20, 10, 490, 500), CircleShutter((256, 256), 240)),
                     measurements=lengths)
    ps = create_presentation_state([ViewedImage.of(ds) for ds in images], view, label="BENCH")
    for annotation in ps.GraphicAnnotationSequence:  # one per image: each gets all seven
        extra = []
        for units, kind, data, filled in _EXTRA_GRAPHICS:
            item = Dataset()
            item.GraphicAnnotationUnits, item.GraphicDimensions = units, 2
            item.NumberOfGraphicPoints = len(data) // 2
            item.GraphicData, item.GraphicType, item.GraphicFilled = data, kind, filled
            extra.append(item)
        annotation.GraphicObjectSequence = [*annotation.GraphicObjectSequence, *extra]
    return ps


def _viewport(pool: DecodePool, stack: Stack) -> Viewport:
    viewport = Viewport(FrameBridge(pool), MeasurementStore())
    viewport.resize(VIEWPORT, VIEWPORT)
    viewport.show()
    viewport.stack = stack  # frames are given below: nothing is asked of the pool
    return viewport


def measure_viewport_presentation(passes: int = 5, repeats: int = 30) -> dict[str, Any]:
    """Per pass: the median of `repeats` shows of each viewport (ms) and their difference;
    the median over passes of the difference against the 2 ms target."""
    study, series = generate_uid(), generate_uid()
    images = [_image(series, study, n) for n in (1, 2)]
    rng = np.random.default_rng(17)
    with tempfile.TemporaryDirectory(prefix="viewer-bench-ps-") as folder:
        paths = [str(Path(folder) / f"image{n}.dcm") for n in (1, 2)]
        ps_path = Path(folder) / "ps.dcm"
        state = _state(images)
        state.save_as(ps_path, enforce_file_format=True)
        frames = [Frame(path, 0, rng.integers(0, 4096, (SIZE, SIZE), dtype=np.uint16),
                        frame_info(ds)) for path, ds in zip(paths, images, strict=True)]
        source = _OneState(ListedState(str(state.SOPInstanceUID), "BENCH", "", "", str(ps_path)),
                           {p: str(ds.SOPInstanceUID) for p, ds in zip(paths, images,
                                                                       strict=True)})
        stack = Stack(series, frames=[(p, 0) for p in paths])
        with DecodePool(1) as pool:
            plain, presented = _viewport(pool, stack), _viewport(pool, stack)
            layer = PresentationLayer(presented, source)
            turn = [0]

            def show(viewport: Viewport) -> None:
                index = turn[0] % 2
                viewport.position, viewport.frame = index, frames[index]
                viewport.redisplay()
                viewport.view.viewport().grab()

            def timed(viewport: Viewport) -> float:
                times = []
                for _ in range(repeats):
                    turn[0] += 1
                    start = time.perf_counter()
                    show(viewport)
                    times.append((time.perf_counter() - start) * 1000.0)
                return statistics.median(times)

            show(presented)  # asks for the state, read on the layer's reader thread
            layer.reader.wait(10_000)
            QCoreApplication.processEvents()  # its arrival: the state is applied from now on
            for _ in range(4):  # warm-up: tables, both frames' items
                turn[0] += 1
                show(plain)
                show(presented)
            applied = layer.applied is not None and len(layer._items) >= 13
            rows = []
            for _ in range(passes):
                plain_ms, ps_ms = timed(plain), timed(presented)
                rows.append({"plain_ms": round(plain_ms, 3), "presentation_ms": round(ps_ms, 3),
                             "added_ms": round(ps_ms - plain_ms, 3)})
            plain.close_viewport()
            presented.close_viewport()
    added = statistics.median(row["added_ms"] for row in rows)
    return {"frame": f"{SIZE}x{SIZE} uint16", "viewport": f"{VIEWPORT}x{VIEWPORT}",
            "items": len(layer._items), "applied": applied, "passes": rows,
            "median_added_ms": added, "target_ms": TARGET_MS,
            "passed": applied and added <= TARGET_MS}
