"""SEG and RTSTRUCT of a study on the MPR views of its CT (issue 17 on issue 16's views): the
sphere SEG tints its pixels on an oblique plane, the cylinder RTSTRUCT is outlined there, the
overlay panel's visibility reaches the MPR views, and an overlay in another Frame of Reference
is refused with a note in the MPR views."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from tests.gui.windows import archive_study_window  # noqa: E402
from tests.volume.overlay_phantoms import (  # noqa: E402
    CYLINDER_RADIUS,
    SEG_REACH,
    SPHERE_CENTRE,
    SPHERE_RADIUS,
    cylinder_radial,
    cylinder_rtstruct,
    sphere_seg,
)
from tests.volume.series import write_ct_series  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.importer import import_paths  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.mpr_view import MprView  # noqa: E402
from viewer.gui.overlay_layers import OverlayLayer  # noqa: E402

SLICES = 20


@dataclass
class Study:
    root: Path
    study_uid: str
    ct_series: str
    seg_series: str
    rt_series: str
    foreign_series: str


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("mpr-overlays")
    files = write_ct_series(root / "files" / "ct", "axial", (SLICES, 48, 48), 3.0, 4.0)
    sources = [dcmread(f) for f in files]
    seg = dcmread(sphere_seg(sources, root / "files" / "seg.dcm"))
    rt = dcmread(cylinder_rtstruct(sources, root / "files" / "rt.dcm"))
    foreign = dcmread(root / "files" / "seg.dcm")
    foreign.FrameOfReferenceUID = generate_uid()
    foreign.SeriesInstanceUID = generate_uid()
    foreign.SOPInstanceUID = foreign.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    foreign.save_as(root / "files" / "foreign.dcm", enforce_file_format=True)
    with Archive(root / "archive") as archive:
        report = import_paths(archive, [root / "files"], workers=0)
        assert not report.failed, report.failed
    return Study(root, str(sources[0].StudyInstanceUID), str(sources[0].SeriesInstanceUID),
                 str(seg.SeriesInstanceUID), str(rt.SeriesInstanceUID),
                 str(foreign.SeriesInstanceUID))


@pytest.fixture
def window(qtbot: Any, study: Study) -> Iterator[MainWindow]:
    with archive_study_window(qtbot, study.root / "archive", study.study_uid, SLICES) as main:
        yield main


def _open(qtbot: Any, main: MainWindow, series_uid: str) -> OverlayLayer:
    with qtbot.waitSignal(main.objects.overlay_opened, timeout=20000) as opened:
        main.reading.show_series(series_uid)
    layer: OverlayLayer = opened.args[0]
    return layer


def _settled(view: MprView, layers: list[OverlayLayer]) -> bool:
    r = view.rendered
    volume = view.controller.volume
    return (view.idle and r is not None and not r.job.coarse and volume.complete
            and all(any(prepared is layer.prepared_for(volume) for prepared, _ in r.placed)
                    for layer in layers))


def _colour(view: MprView, r: int, c: int) -> QColor:
    """The colour on screen at the centre of plane pixel (r, c) of the picture shown."""
    point = view.widget_point(float(c), float(r))
    return view.view.viewport().grab().toImage().pixelColor(point.toPoint())


def _grey(colour: QColor) -> bool:
    return abs(colour.red() - colour.green()) <= 2 and abs(colour.green() - colour.blue()) <= 2


def test_sphere_and_cylinder_on_an_oblique_mpr_plane(qtbot: Any, window: MainWindow,
                                                     study: Study) -> None:
    main = window
    reading = main.reading
    seg = _open(qtbot, main, study.seg_series)
    rt = _open(qtbot, main, study.rt_series)
    reading.show_series(study.ct_series, reading.viewports[0])
    assert reading.open_mpr() == ""
    layout = reading.mpr
    assert layout is not None
    controller = layout.controller
    # turn the axial plane 30 degrees about the coronal view's normal: an oblique plane
    controller.set_state(controller.state.with_point(SPHERE_CENTRE).rotated(1, math.radians(30)))
    oblique = layout.views[0]
    qtbot.waitUntil(lambda: _settled(oblique, [seg, rt]), timeout=30000)
    qtbot.wait(50)
    plane = oblique.plane
    assert abs(plane.normal[2]) < 0.9  # oblique indeed
    r, c = np.mgrid[0:plane.rows, 0:plane.columns]
    points = plane.to_patient(r, c)
    sphere = np.linalg.norm(points - SPHERE_CENTRE, axis=-1)
    radial = cylinder_radial(points)
    clear_of_outline = np.abs(radial - CYLINDER_RADIUS) > 3.0
    inside = np.argwhere((sphere < SPHERE_RADIUS - SEG_REACH - 2) & clear_of_outline)
    outside = np.argwhere((sphere > SPHERE_RADIUS + SEG_REACH + 2) & clear_of_outline
                          & (radial > CYLINDER_RADIUS + 3))
    assert len(inside) > 20 and len(outside) > 20
    picks = np.random.default_rng(1).choice(len(inside), 8, replace=False)
    for row, column in inside[picks]:
        colour = _colour(oblique, int(row), int(column))
        assert not _grey(colour) and colour.red() > colour.blue(), (row, column, colour.name())
    for row, column in outside[np.random.default_rng(2).choice(len(outside), 8, replace=False)]:
        assert _grey(_colour(oblique, int(row), int(column)))
    # the cylinder outlined in its ROI colour, on pixels near its surface only
    assert oblique.rendered is not None
    placed = dict(oblique.rendered.placed)
    (outline,) = placed[rt.prepared_for(controller.volume)].outlines
    rows, cols = np.nonzero(outline.mask)
    near = radial[rows, cols]
    for row, column in zip(rows[::7], cols[::7], strict=True):
        assert _colour(oblique, int(row), int(column)).name() == "#00ff00"
    # within a plane pixel (3 mm here: the CT's finest spacing) and half the contours' grid
    # pixel's diagonal of the surface
    assert rows.size > 20 and (np.abs(near - CYLINDER_RADIUS) < plane.spacing + 0.8).all()
    main.grab().save("/tmp/screens/mpr_overlays_oblique.png")
    # the overlay panel's visibility reaches the MPR views, without cutting the plane again
    group = next(g for g in main.objects.overlay_panel.groups if g.layer is seg)
    cut = placed[seg.prepared_for(controller.volume)]
    row, column = inside[picks[0]]
    group.check(1, False)
    qtbot.waitUntil(lambda: _settled(oblique, [seg, rt])
                    and _grey(_colour(oblique, int(row), int(column))), timeout=20000)
    assert oblique.rendered is not None
    assert dict(oblique.rendered.placed)[seg.prepared_for(controller.volume)] is cut
    group.check(1, True)
    qtbot.waitUntil(lambda: _settled(oblique, [seg, rt])
                    and not _grey(_colour(oblique, int(row), int(column))), timeout=20000)


def test_another_frame_of_reference_is_refused_on_the_mpr_views(qtbot: Any, window: MainWindow,
                                                               study: Study) -> None:
    main = window
    reading = main.reading
    problems: list[str] = []
    main.objects.problem.connect(problems.append)
    foreign = _open(qtbot, main, study.foreign_series)
    reading.show_series(study.ct_series, reading.viewports[0])
    assert reading.open_mpr() == ""
    layout = reading.mpr
    assert layout is not None
    view = layout.views[1]
    qtbot.waitUntil(lambda: bool(foreign.planes.refusal(layout.volume)), timeout=20000)
    qtbot.waitUntil(lambda: any("not shown" in n for n in view.overlay.content.notes),
                    timeout=20000)
    qtbot.waitUntil(lambda: view.idle, timeout=20000)
    assert view.rendered is not None and not view.rendered.placed  # nothing drawn
    qtbot.waitUntil(lambda: any("Frame of Reference" in p for p in problems), timeout=20000)
    assert all("\n" not in p for p in problems)
