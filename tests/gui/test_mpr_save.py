""""Save as series" from an MPR view: the shown plane's stack along its normal, written as
derived images and imported through archive.importer, then opened from the archive like any
series (and read by DCMTK)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402

from tests.peers import require_tool  # noqa: E402
from tests.volume.mpr_phantom import LESION, LESION_HU, phantom_volume  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.stacks import series_stack  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.import_job import ImportQueue  # noqa: E402
from viewer.gui.mpr_layout import MprLayout  # noqa: E402
from viewer.gui.mpr_save import SaveSeriesDialog, save_series  # noqa: E402
from viewer.gui.tasks import TaskRunner  # noqa: E402
from viewer.volume.navigation import plane_stack  # noqa: E402
from viewer.volume.reslice import reslice  # noqa: E402


def test_save_as_series_lands_in_the_archive(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = write_ct_series(tmp_path / "src", slices=1, rows=64, columns=64)[0]
    header = dcmread(source, stop_before_pixels=True)
    volume = phantom_volume(frame_of_reference=str(header.FrameOfReferenceUID))
    layout = MprLayout(volume, source_file=str(source))
    qtbot.addWidget(layout)
    layout.controller.set_state(layout.controller.state.with_point(LESION[0]))
    qtbot.waitUntil(lambda: all(v.idle for v in layout.views), timeout=20000)
    coronal = layout.views[1]
    dialog = SaveSeriesDialog(coronal)
    assert dialog.spacing.value() == pytest.approx(0.8)  # one voxel step along y
    assert dialog.description.text() == "MPR coronal"
    tasks = TaskRunner()
    with Archive(tmp_path / "archive") as archive:
        imports = ImportQueue(archive, tasks)
        with qtbot.waitSignal(imports.finished, timeout=60000) as done:
            save_series(imports, volume, coronal.plane, str(source), 5, 2.0, "MPR coronal")
        report = done.args[0]
        assert report.ok and len(report.imported) == 5
        series = [s for s in archive.index.series(str(header.StudyInstanceUID))
                  if s.series_description == "MPR coronal"]
        assert len(series) == 1
        stack = series_stack(archive, series[0].series_instance_uid)
        assert stack is not None and len(stack.frames) == 5
        planes = plane_stack(coronal.plane, 5, 2.0)
        middle = dcmread(stack.frames[2][0])
        # The middle plane is the one shown: through the lesion, same geometry.
        assert np.allclose([float(v) for v in middle.ImagePositionPatient],
                           planes[2].first_pixel, atol=1e-3)
        assert np.allclose([float(v) for v in middle.ImageOrientationPatient],
                           coronal.plane.orientation, atol=1e-6)
        values = middle.pixel_array * float(middle.RescaleSlope) + float(middle.RescaleIntercept)
        assert np.allclose(values, reslice(volume, planes[2]), atol=0.5)
        row, column, _ = planes[2].to_pixel(np.asarray(LESION[0]))
        assert values[round(row), round(column)] == pytest.approx(LESION_HU, abs=0.5)
        positions = [float(np.asarray(dcmread(p, stop_before_pixels=True).ImagePositionPatient,
                                      dtype=float) @ np.asarray(coronal.plane.normal))
                     for p, _ in stack.frames]
        assert np.allclose(np.diff(sorted(positions)), 2.0, atol=1e-3)
        dcmdump = require_tool("dcmdump", "dcmtk")
        shown = subprocess.run([dcmdump, stack.frames[0][0]], capture_output=True, text=True,
                               check=False)
        assert shown.returncode == 0 and "DERIVED\\SECONDARY\\MPR" in shown.stdout
    layout.close_layout()
    tasks.shutdown()
