"""Scrolling a 512x512 CT with a Segmentation and an RT Structure Set over it (issue 17 item 5).

`measure_overlay_scroll(slices)` writes a synthetic CT (viewer.dicom.demo), a LABELMAP
Segmentation of it with two segments on every slice (highdicom) and an RT Structure Set with
a 64-point contour on every slice, opens the reading window offscreen, decodes every frame
into the cache, then scrolls it (each step painted, as `bench gui` scrolls; after a warm-up
pass): with both overlays while their frames are still being placed on the worker ("cold"),
then with every frame placed ("warm") in passes alternating with passes without overlays
("plain"), so that machine load hits both alike. Each step's time is kept: the longest is the
stall the reader would feel. The reading window's budget (viewer/gui/benchmark.py) is 60
frames/s in 1x1 and no event-loop stall over 50 ms.

Run as `python -m viewer.gui.benchmark_objects [--slices N]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PASSES = 3  # alternating passes with and without the overlays
STALL_BUDGET_MS = 50.0
FPS_BUDGET = 60.0


@dataclass
class OverlayScroll:
    slices: int
    fps_plain: float
    fps_cold: float
    fps_warm: float
    longest_step_plain_ms: float
    longest_step_cold_ms: float
    longest_step_warm_ms: float
    median_step_plain_ms: float
    slow_steps_cold: int  # steps over STALL_BUDGET_MS while frames were being placed
    slow_steps_warm: int
    median_step_warm_ms: float


def _write_objects(folder: Path, slices: int) -> tuple[list[Path], Path, Path]:
    import highdicom as hd
    import numpy as np
    from pydicom import dcmread
    from pydicom.sr.codedict import codes

    from viewer.dicom.demo import write_ct_series

    files = sorted(write_ct_series(folder / "ct", slices=slices))
    sources = [dcmread(p) for p in files]
    rows, columns = int(sources[0].Rows), int(sources[0].Columns)
    labels = np.zeros((len(sources), rows, columns), dtype=np.uint8)
    labels[:, 100:300, 80:260] = 1
    labels[:, 280:420, 300:460] = 2
    segments = [
        hd.seg.SegmentDescription(
            segment_number=n, segment_label=label, segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            display_color=hd.color.CIELabColor.from_string(color))
        for n, label, color in ((1, "Liver", "red"), (2, "Spleen", "blue"))]
    seg = hd.seg.Segmentation(sources, labels, "LABELMAP", segments, hd.UID(), 10, hd.UID(), 1,
                              "bench", "objects", "1", "1", omit_empty_frames=False)
    seg_path = folder / "seg.dcm"
    seg.save_as(seg_path, enforce_file_format=True)
    rt_path = folder / "rt.dcm"
    _structure_set(sources, rt_path)
    return files, seg_path, rt_path


def _structure_set(sources: list[Any], path: Path) -> None:
    """An RT Structure Set with one ROI: a 64-point circle on every slice."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    from viewer.dicom.rtstruct import RT_STRUCTURE_SET_STORAGE as RT_CLASS

    RT_STRUCTURE_SET_STORAGE = UID(RT_CLASS)

    first = sources[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.file_meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = first.StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality, ds.FrameOfReferenceUID = "RTSTRUCT", first.FrameOfReferenceUID
    roi = Dataset()
    roi.ROINumber, roi.ROIName = 1, "Body"
    roi.ReferencedFrameOfReferenceUID = first.FrameOfReferenceUID
    ds.StructureSetROISequence = Sequence([roi])
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    contours = Sequence()
    for source in sources:
        origin = np.asarray([float(v) for v in source.ImagePositionPatient])
        spacing = float(source.PixelSpacing[0])
        points = origin + np.stack([(256 + 150 * np.cos(angles)) * spacing,
                                    (256 + 150 * np.sin(angles)) * spacing,
                                    np.zeros_like(angles)], axis=1)
        contour = Dataset()
        contour.ContourGeometricType = "CLOSED_PLANAR"
        contour.NumberOfContourPoints = len(points)
        contour.ContourData = [f"{v:.6g}" for v in points.ravel()]
        contours.append(contour)
    item = Dataset()
    item.ReferencedROINumber, item.ROIDisplayColor = 1, [0, 255, 0]
    item.ContourSequence = contours
    ds.ROIContourSequence = Sequence([item])
    ds.save_as(path, enforce_file_format=True)


def measure_overlay_scroll(slices: int = 60) -> OverlayScroll:
    """See the module docstring."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from viewer.decode.cache import FrameCache
    from viewer.decode.pool import DecodePool
    from viewer.dicom.stack import build_stacks
    from viewer.gui.app import MainWindow
    from viewer.gui.bridge import FrameBridge

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="bench-objects-") as tmp:
        files, seg_path, rt_path = _write_objects(Path(tmp), slices)
        stacks, _ = build_stacks(files)
        pool = DecodePool(cache=FrameCache(1 << 30))
        try:
            window = MainWindow(stacks, (1, 1), FrameBridge(pool))
            window.resize(1280, 860)
            window.show()
            viewport = window.reading.viewports[0]
            _wait(app, window.all_loaded)
            for position in range(viewport.frame_count):  # every frame decoded and cached
                viewport.set_position(position)
                _wait(app, lambda: viewport.frame is not None)
            _scroll(app, viewport, 2 * slices)  # warm-up: the first paths through Qt
            opened: list[object] = []
            window.objects.overlay_opened.connect(opened.append)
            window.objects.open_overlay(str(seg_path), "SEG")
            window.objects.open_overlay(str(rt_path), "RTSTRUCT")
            _wait(app, lambda: len(opened) == 2)
            cold = _scroll(app, viewport, slices)
            layers = window.objects.overlays
            for position in range(slices):  # every frame placed
                viewport.set_position(position)
                _wait(app, lambda: all(layer.placed_now(viewport) is not None
                                       for layer in layers), timeout_s=60)
            # plain and warm passes alternate (the overlays taken off the reading area's
            # layers and put back): machine load hits both alike
            layers_on = list(window.reading.layers)
            plain: list[float] = []
            warm: list[float] = []
            for _ in range(PASSES):
                window.reading.layers.clear()
                plain += _scroll(app, viewport, slices)
                window.reading.layers.extend(layers_on)
                warm += _scroll(app, viewport, slices)
            window.objects.shutdown()
            window.close()
        finally:
            pool.close()
    return OverlayScroll(
        slices, _fps(plain), _fps(cold), _fps(warm), max(plain) * 1000, max(cold) * 1000,
        max(warm) * 1000, statistics.median(plain) * 1000, _slow(cold), _slow(warm),
        statistics.median(warm) * 1000)


def _slow(steps: list[float]) -> int:
    return sum(step * 1000 > STALL_BUDGET_MS for step in steps)


def _fps(steps: list[float]) -> float:
    return len(steps) / sum(steps)


def _wait(app: Any, done: Any, timeout_s: float = 60.0) -> None:
    end = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > end:
            raise TimeoutError("the reading window did not get there in time")
        app.processEvents()
        time.sleep(0.002)


def _scroll(app: Any, viewport: Any, steps: int) -> list[float]:
    """Seconds per step: one frame on, the event loop run once (everything dirty painted)."""
    times = []
    direction = 1
    for _ in range(steps):
        if not 0 <= viewport.position + direction < viewport.frame_count:
            direction = -direction
        start = time.perf_counter()
        viewport.step_frames(direction)
        app.processEvents()
        viewport.view.viewport().repaint()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure_overlay_scroll(args.slices)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        for key, value in asdict(result).items():
            print(f"{key:24} {value:10.1f}" if isinstance(value, float) else f"{key:24} {value}")
        ratio = result.median_step_warm_ms / result.median_step_plain_ms
        print(f"{'warm / plain step':24} {ratio:10.2f}x (medians, alternating passes)")
        ok = (result.fps_warm >= FPS_BUDGET and result.longest_step_warm_ms <= STALL_BUDGET_MS
              and result.longest_step_cold_ms <= STALL_BUDGET_MS)
        print("PASS" if ok else "FAIL", f"(>= {FPS_BUDGET:g} frames/s warm, no step over "
              f"{STALL_BUDGET_MS:g} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
