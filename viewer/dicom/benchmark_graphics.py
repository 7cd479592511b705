"""How long burning a presentation state's annotations takes on a 512 x 512 frame.

For `bench presentation` (issue 17: applying a GSPS adds <= 2 ms to a 512^2 frame). The
annotation set is what a measuring radiologist leaves: a length with its value as text joined
to it by an anchor line, a circle and a filled ellipse ROI, a freehand (interpolated) outline,
a marker point and a DISPLAY-units caption, on two layers. The baseline, timed alternately in
the same run, is the display pipeline (`to_display`, Modality LUT -> VOI -> uint8) of a 512^2
int16 frame: the work every frame costs anyway. Both as the mean of `repeat` calls per pass.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from viewer.dicom.display import DisplayState, to_display
from viewer.dicom.frameinfo import FrameInfo
from viewer.dicom.graphics import (
    AnnotationUnits,
    GraphicAnnotations,
    GraphicLayer,
    GraphicObject,
    GraphicType,
    Justification,
    TextObject,
)
from viewer.dicom.graphics_raster import burn_graphics

SIZE = 512


def typical_annotations() -> GraphicAnnotations:
    """The benchmark's annotation set, in PIXEL units of a 512 x 512 image (one in DISPLAY)."""
    pixel, display = AnnotationUnits.PIXEL, AnnotationUnits.DISPLAY
    measure = GraphicLayer("MEASUREMENTS", 1, recommended_grey=0xFFFF)
    notes = GraphicLayer("NOTES", 2, recommended_grey=0xC000)
    graphics = (
        GraphicObject(pixel, GraphicType.POLYLINE, ((120.5, 140.5), (330.2, 260.7)), False,
                      measure.name),
        GraphicObject(pixel, GraphicType.CIRCLE, ((256.0, 256.0), (316.0, 256.0)), False,
                      measure.name),
        GraphicObject(pixel, GraphicType.ELLIPSE,
                      ((80.0, 400.0), (200.0, 400.0), (140.0, 370.0), (140.0, 430.0)), True,
                      measure.name),
        GraphicObject(pixel, GraphicType.INTERPOLATED,
                      ((300.0, 380.0), (340.0, 330.0), (400.0, 360.0), (420.0, 430.0),
                       (350.0, 460.0), (300.0, 380.0)), False, notes.name),
        GraphicObject(pixel, GraphicType.POINT, ((450.0, 60.0),), False, notes.name),
    )
    texts = (
        TextObject("Length 62.4 mm", measure.name, (340.0, 230.0, 470.0, 252.0), pixel,
                   Justification.LEFT, (330.2, 260.7), pixel, True),
        TextObject("Follow-up in 6 months", notes.name, (0.02, 0.92, 0.5, 0.98), display,
                   Justification.LEFT),
    )
    return GraphicAnnotations((measure, notes), graphics, texts)


def _frame() -> tuple[np.ndarray, FrameInfo]:
    rng = np.random.default_rng(17)
    array = rng.integers(-1024, 2000, size=(SIZE, SIZE), dtype=np.int16)
    info = FrameInfo(rows=SIZE, columns=SIZE, samples_per_pixel=1, photometric="MONOCHROME2",
                     stored_photometric="MONOCHROME2", bits_allocated=16, bits_stored=16,
                     signed=True)
    return array, info


def measure_graphics(passes: int = 5, repeat: int = 20) -> dict[str, Any]:
    """Medians and every pass of: `burn_graphics` of `typical_annotations` on a 512^2 grey
    frame (ms per call, wall and CPU time of the thread: the CPU time is less disturbed on a
    busy machine), the display pipeline of a 512^2 int16 frame (the same), and the ratio of
    the two wall times within each pass."""
    array, info = _frame()
    state = DisplayState(window=(40.0, 400.0))
    picture = to_display(array, info, state)
    annotations = typical_annotations()
    matrix = np.eye(3)
    area = (0.0, 0.0, float(SIZE), float(SIZE))
    burn_graphics(picture, annotations, matrix, area)  # fonts found and loaded once
    burn_ms: list[float] = []
    display_ms: list[float] = []
    burn_cpu: list[float] = []
    display_cpu: list[float] = []
    for _ in range(passes):
        for times, cpu_times, work in (
            (display_ms, display_cpu, lambda: to_display(array, info, state)),
            (burn_ms, burn_cpu, lambda: burn_graphics(picture, annotations, matrix, area)),
        ):
            start, cpu = time.perf_counter(), time.thread_time()
            for _ in range(repeat):
                work()
            times.append((time.perf_counter() - start) * 1000.0 / repeat)
            cpu_times.append((time.thread_time() - cpu) * 1000.0 / repeat)
    ratios = [b / d for b, d in zip(burn_ms, display_ms, strict=True)]
    return {
        "frame": [SIZE, SIZE],
        "graphics": len(annotations.graphics),
        "texts": len(annotations.texts),
        "burn_ms": round(statistics.median(burn_ms), 3),
        "burn_cpu_ms": round(statistics.median(burn_cpu), 3),
        "display_ms": round(statistics.median(display_ms), 3),
        "display_cpu_ms": round(statistics.median(display_cpu), 3),
        "burn_vs_display": round(statistics.median(ratios), 3),
        "passes": {
            "burn_ms": [round(t, 3) for t in burn_ms],
            "burn_cpu_ms": [round(t, 3) for t in burn_cpu],
            "display_ms": [round(t, 3) for t in display_ms],
            "display_cpu_ms": [round(t, 3) for t in display_cpu],
            "burn_vs_display": [round(r, 3) for r in ratios],
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure_graphics()))
