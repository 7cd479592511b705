"""Fusion in the MPR layout: a PET volume in the CT's Frame of Reference over every plane, its
window in SUVbw, a linear opacity that a slab does not change, SUV in the probe and in ROIs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from tests.gui.test_mpr import drag  # noqa: E402
from tests.volume.mpr_phantom import LESION, phantom_volume  # noqa: E402
from viewer.gui.mpr_layout import MprLayout  # noqa: E402
from viewer.gui.viewport import Tool  # noqa: E402
from viewer.volume.model import SlabMode, Volume  # noqa: E402

SCREENS = Path(os.environ.get("VIEWER_SCREENSHOTS", "/tmp/screens"))
UPTAKE_BQML = 25000.0  # in the lesion; 2,000 Bq/ml elsewhere in the body
SUV_FACTOR = 2e-4  # SUVbw per Bq/ml (as viewer.dicom.suv computes it from the header)


def pet_volume(frame_of_reference: str) -> Volume:
    """A 4 mm PET grid over the phantom: SUV 5.0 in the lesion sphere, 0.4 in the body."""
    spacing = 4.0
    origin = np.array([-64.0, -72.0, -52.0])
    shape = (27, 33, 33)
    k, j, i = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    points = np.stack([i, j, k], axis=-1) * spacing + origin
    inside_body = ((points[..., 0] / 55) ** 2 + (points[..., 1] / 60) ** 2
                   + (points[..., 2] / 48) ** 2) <= 1
    voxels = np.where(inside_body, 2000.0, 0.0).astype(np.float32)
    # A lesion sphere larger than the CT's so that the 4 mm grid resolves it.
    voxels[np.linalg.norm(points - np.asarray(LESION[0]), axis=-1) <= 10.0] = UPTAKE_BQML
    affine = np.eye(4)
    affine[:3, :3] *= spacing
    affine[:3, 3] = origin
    volume = Volume(voxels=voxels, affine=affine, frame_of_reference_uid=frame_of_reference,
                    series_uid="1.2.826.0.1.3680043.8.498.9", modality="PT", units="BQML",
                    padding=0.0, suv_factor=SUV_FACTOR)
    volume.filled[:] = True
    volume.revision = 1
    return volume


@pytest.fixture
def fused(qtbot) -> Iterator[MprLayout]:  # type: ignore[no-untyped-def]
    ct = phantom_volume()
    layout = MprLayout(ct)
    qtbot.addWidget(layout)
    layout.resize(1000, 900)
    layout.show()
    layout.controller.set_state(layout.controller.state.with_point(LESION[0]))
    layout.fusion.set_overlay(pet_volume(ct.frame_of_reference_uid))
    settle(qtbot, layout)
    yield layout
    layout.close_layout()


def settle(qtbot, layout: MprLayout) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not layout.controller.interacting
                    and all(v.idle for v in layout.views), timeout=20000)


def lesion_pixel(layout: MprLayout, index: int) -> np.ndarray:
    view = layout.views[index]
    assert view.rendered is not None
    row, column, _ = view.plane.to_pixel(np.asarray(LESION[0]))
    return view.rendered.picture[round(row), round(column)].astype(int)


def test_pet_fused_in_suv_with_linear_opacity(qtbot, fused: MprLayout) -> None:  # type: ignore[no-untyped-def]
    fusion = fused.controller.fusion
    assert fusion is not None and fusion.suv
    assert (fused.fusion.low.value(), fused.fusion.high.value()) == (1.0, 10.0)  # SUV window
    assert fused.fusion.low.suffix() == " SUV"
    assert fused.fusion.colormap.currentData() == "hot-iron"
    for view in fused.views:
        assert view.rendered is not None and view.rendered.picture.ndim == 3
    fused.fusion.opacity.setValue(0)
    settle(qtbot, fused)
    base = lesion_pixel(fused, 1)
    assert base[0] == base[1] == base[2]  # no overlay: the CT's grey
    fused.fusion.opacity.setValue(25)
    settle(qtbot, fused)
    quarter = lesion_pixel(fused, 1) - base
    fused.fusion.opacity.setValue(75)
    settle(qtbot, fused)
    three_quarters = lesion_pixel(fused, 1) - base
    assert np.abs(quarter).max() > 10
    assert np.all(np.abs(three_quarters - 3 * quarter) <= 2)  # linear, up to rounding
    # A slab changes the values under the overlay, never its opacity.
    thin = lesion_pixel(fused, 1)
    fused.set_slab(8.0, SlabMode.MIP)
    settle(qtbot, fused)
    assert np.all(np.abs(lesion_pixel(fused, 1) - thin) <= 1)
    SCREENS.mkdir(parents=True, exist_ok=True)
    assert fused.grab().save(str(SCREENS / "mpr_fusion.png"))


def test_probe_and_roi_read_suv(qtbot, fused: MprLayout) -> None:  # type: ignore[no-untyped-def]
    coronal = fused.views[1]
    row, column, _ = coronal.plane.to_pixel(np.asarray(LESION[0]))
    coronal.probe(coronal.widget_point(column, row))
    assert "SUVbw 5.00 (25000 Bq/ml)" in coronal.overlay.content.probe
    fused.set_tool(Tool.RECTANGLE)
    drag(coronal, coronal.widget_point(column - 3, row - 3),
         coronal.widget_point(column + 3, row + 3))
    (roi,) = fused.measurements.on(coronal.key)
    assert "SUVmax 5.00  SUVmean 5.00" in coronal.measurement_text(roi)


def test_another_frame_of_reference_is_refused_with_one_line(  # type: ignore[no-untyped-def]
        qtbot, fused: MprLayout) -> None:
    fused.fusion.set_overlay(pet_volume("1.2.3.999"))
    assert fused.controller.fusion is None
    assert "Frame of Reference" in fused.fusion.note.text()
    assert "\n" not in fused.fusion.note.text()
    settle(qtbot, fused)
    assert all(v.rendered is not None and v.rendered.picture.ndim == 2 for v in fused.views)


def test_mpr_of_a_pet_reads_suv_in_probe_and_roi(qtbot) -> None:  # type: ignore[no-untyped-def]
    layout = MprLayout(pet_volume("1.2.3.4"))
    qtbot.addWidget(layout)
    layout.resize(700, 700)
    layout.show()
    layout.controller.set_state(layout.controller.state.with_point(LESION[0]))
    settle(qtbot, layout)
    axial = layout.views[0]
    row, column, _ = axial.plane.to_pixel(np.asarray(LESION[0]))
    axial.probe(axial.widget_point(column, row))
    assert "SUVbw 5.00 (25000 Bq/ml)" in axial.overlay.content.probe
    layout.set_tool(Tool.ELLIPSE)
    drag(axial, axial.widget_point(column - 2, row - 2), axial.widget_point(column + 2, row + 2))
    (roi,) = layout.measurements.on(axial.key)
    assert "SUVmax 5.00" in axial.measurement_text(roi)
    layout.close_layout()
