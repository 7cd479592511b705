"""The GUI row of `dicom-viewer bench web` (issue 18): the first image of a study opened from a
DICOMweb node without retrieving it first, target <= 0.5 s.

A 300-image 512x512 CT is stored (STOW-RS, our `send`) into an Orthanc with its DICOMweb
plugin on loopback (TCP_NODELAY=1, as every DCMTK/Orthanc peer of the benchmarks). Each pass
opens the study into a new, empty archive with the reading area and `WebStudyOpener`, the
code behind the PACS tab's Open button (its decode worker started and warm, as the window's
is when Open is clicked), and times from the click's call (`open`) to the first
decoded frame on screen (`Viewport.frame_shown`); then it waits for the whole study to be in
the archive (timed too, for information) before the next pass. Medians of the passes, every
pass kept. The command line runs this as a child process, since it never imports Qt:

    python -m viewer.gui.benchmark_web [--passes 5] [--images 300]

prints one JSON document: `measure_first_image`'s dict.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FIRST_IMAGE_TARGET_S = 0.5
PASS_TIMEOUT_S = 120.0


def measure_first_image(passes: int = 5, images: int = 300,
                        served: tuple[str, str, Path] | None = None) -> dict[str, Any]:
    """First image (and whole study in the archive) of a study opened from a DICOMweb
    node, `passes` times; {"first_image_s": [...], "median_first_image_s", "target_s",
    "ok", "all_arrived_s": [...], "median_all_arrived_s", "images", "conditions"}.
    `served`: (service root URL, Study Instance UID, one of its files) of a study a running
    server already holds (`bench web`'s Orthanc); else an Orthanc is started here with
    `images` generated CT images."""
    from PySide6.QtWidgets import QApplication

    from viewer.config import DicomWebService, Node

    app = QApplication.instance() or QApplication(sys.argv[:1])
    scratch = Path(tempfile.mkdtemp(prefix="bench-web-"))
    first: list[float] = []
    whole: list[float] = []

    def measure(url: str, study_uid: str, warm_up: Path) -> None:
        node = Node("BENCHWEB", "", "", 0, dicomweb=DicomWebService(url))
        for n in range(max(passes, 1)):
            shown, arrived = _one_pass(app, node, scratch / f"archive-{n}", study_uid, warm_up)
            first.append(shown)
            whole.append(arrived)
            print(f"pass {n + 1}: first image {shown:.3f} s, all {images} images in "
                  f"the archive {arrived:.3f} s", file=sys.stderr)

    try:
        if served is not None:
            measure(*served)
        else:  # bench web's Orthanc, started here with the study stored
            from viewer.net.benchmark_web import web_pacs

            with web_pacs(scratch, images, lambda _message: None) as pacs:
                measure(pacs.url, pacs.study_uid, pacs.files[0])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    median = statistics.median(first)
    return {
        "first_image_s": first, "median_first_image_s": median,
        "target_s": FIRST_IMAGE_TARGET_S, "ok": median <= FIRST_IMAGE_TARGET_S,
        "all_arrived_s": whole, "median_all_arrived_s": statistics.median(whole),
        "images": images,
        "conditions": f"{images} CT images 512x512 (uncompressed) in Orthanc + DICOMweb "
                      "plugin on loopback (TCP_NODELAY=1); each pass into a new archive, "
                      "reading area offscreen, one decode worker process",
    }


def _one_pass(app: Any, node: Any, archive_root: Path, study_uid: str,
              warm_up: Path) -> tuple[float, float]:
    from viewer.archive.archive import Archive
    from viewer.decode.cache import FrameCache
    from viewer.decode.pool import DecodePool
    from viewer.decode.requests import FrameRequest
    from viewer.gui.bridge import FrameBridge
    from viewer.gui.reading import ReadingArea
    from viewer.gui.web_open import WebStudyOpener

    pool = DecodePool(1, cache=FrameCache(256 << 20))
    try:
        # The window's decode worker is running before Open is clicked: so is this one
        # (its start, imports and all, is `bench start`'s and the reading benchmarks' matter).
        pool.submit_many([FrameRequest(str(warm_up), 0)])[0].result(timeout=60)
        with Archive(archive_root) as archive:
            bridge = FrameBridge(pool)
            reading = ReadingArea(bridge)
            reading.resize(1024, 1024)
            reading.show()
            opener = WebStudyOpener(reading, bridge, archive)
            marks: dict[str, float] = {}
            for viewport in reading.viewports:
                viewport.frame_shown.connect(
                    lambda _v: marks.setdefault("shown", time.perf_counter()))
            opener.finished.connect(lambda _o: marks.setdefault("done", time.perf_counter()))
            app.processEvents()
            started = time.perf_counter()
            opener.open(node, study_uid)
            deadline = started + PASS_TIMEOUT_S
            while "done" not in marks and time.perf_counter() < deadline:
                app.processEvents()
                time.sleep(0.001)
            error = opener.stream is not None or "shown" not in marks
            opener.cancel()
            opener.wait(10.0)
            reading.close()
            reading.deleteLater()
            app.processEvents()
            if error:
                raise RuntimeError("the study did not open within "
                                   f"{PASS_TIMEOUT_S:g} s")
            return marks["shown"] - started, marks["done"] - started
    finally:
        pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m viewer.gui.benchmark_web")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--url", help="a running DICOMweb server's service root (bench web's)")
    parser.add_argument("--study", help="with --url: the Study Instance UID it holds")
    parser.add_argument("--warm-up", type=Path, help="with --url: one of the study's files")
    args = parser.parse_args(argv)
    served = (args.url, args.study, args.warm_up) if args.url else None
    if served is not None and not (args.study and args.warm_up):
        parser.error("--url needs --study and --warm-up")
    measured = measure_first_image(args.passes, args.images, served)
    measured["passes_s"] = measured["first_image_s"]  # what bench web's row reads
    print(json.dumps(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
