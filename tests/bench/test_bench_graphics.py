"""Smoke test of `measure_graphics`, the annotation-burning part of `bench presentation`: every
pass is reported and the annotation set it times really draws; timings are not checked here
(the machine is shared)."""

from __future__ import annotations

import numpy as np

from viewer.dicom.benchmark_graphics import SIZE, measure_graphics, typical_annotations
from viewer.dicom.graphics_raster import burn_graphics


def test_measure_graphics_reports_every_pass() -> None:
    result = measure_graphics(passes=3, repeat=2)
    assert result["frame"] == [SIZE, SIZE]
    assert (result["graphics"], result["texts"]) == (5, 2)
    for key in ("burn_ms", "burn_cpu_ms", "display_ms", "display_cpu_ms", "burn_vs_display"):
        assert len(result["passes"][key]) == 3
        assert all(value > 0 for value in result["passes"][key])
        assert min(result["passes"][key]) <= result[key] <= max(result["passes"][key])


def test_the_timed_annotations_draw_every_object() -> None:
    annotations = typical_annotations()
    blank = np.zeros((SIZE, SIZE), np.uint8)
    for graphic in annotations.graphics:
        one = type(annotations)(annotations.layers, (graphic,), ())
        assert (burn_graphics(blank, one, np.eye(3), (0, 0, SIZE, SIZE)) > 0).sum() > 5
    for text in annotations.texts:
        one = type(annotations)(annotations.layers, (), (text,))
        assert (burn_graphics(blank, one, np.eye(3), (0, 0, SIZE, SIZE)) > 0).sum() > 20
