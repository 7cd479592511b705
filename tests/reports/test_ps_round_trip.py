"""A presentation state we create is reopened as it was made, and rendered with its
measurements where they were drawn (issue 17 item 2: "reopened identically")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from viewer.dicom import demo
from viewer.dicom.frameinfo import Window
from viewer.dicom.presentation_apply import present_file, read_presentation_state_file
from viewer.dicom.presentation_state import displayed_area_for, voi_for
from viewer.reports.create_ps import create_presentation_state
from viewer.reports.view_state import (
    Measurement,
    RectangleShutter,
    Shape,
    ViewedImage,
    ViewState,
)


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(demo.write_ct_series(tmp_path_factory.mktemp("ct"), 1, 128, 128)[0])


@pytest.mark.parametrize("rotation,flip", [(0, False), (90, False), (90, True), (270, True)])
def test_created_state_reopens_and_renders_as_made(
    ct: Path, tmp_path: Path, rotation: int, flip: bool
) -> None:
    line = ((30.0, 40.0), (80.0, 40.0))  # PIXEL units: along row 40, columns 30 to 80
    view = ViewState(
        window=(40.0, 400.0), rotation=rotation, horizontal_flip=flip,
        displayed_area=(10.0, 20.0, 100.0, 120.0),
        shutters=(RectangleShutter(5.0, 5.0, 120.0, 120.0),),
        measurements=(Measurement(Shape.LINE, line, text=""),),
    )
    image = dcmread(ct)
    made = create_presentation_state([ViewedImage.of(image)], view, "ROUND TRIP")
    made.save_as(tmp_path / "ps.dcm", enforce_file_format=True)

    reopened = read_presentation_state_file(tmp_path / "ps.dcm")
    ps, uid = reopened.state, str(image.SOPInstanceUID)
    assert (ps.rotation, ps.horizontal_flip) == (rotation, flip)
    voi = voi_for(ps, uid, 1)
    assert isinstance(voi, Window) and (voi.center, voi.width) == (40.0, 400.0)
    assert displayed_area_for(ps, uid, 1) is not None

    plain = present_file(ct, ps)
    drawn = present_file(ct, reopened)
    # The area is 90 x 100 pixels before rotation: a quarter turn swaps its sides.
    expected = (100, 90) if rotation in (90, 270) else (90, 100)
    assert plain.geometry.size == expected
    assert drawn.image.shape[:2] == (expected[1], expected[0])

    # The line changes the picture exactly along its own path, mapped like the pixels.
    changed = np.argwhere(np.any(drawn.image != plain.image, axis=-1)
                          if drawn.image.ndim == 3 else drawn.image != plain.image)
    assert len(changed) >= 45
    ends = [plain.geometry.image_to_output @ np.array([x, y, 1.0]) for x, y in line]
    (x0, y0, _), (x1, y1, _) = ends
    rows, cols = changed[:, 0] + 0.5, changed[:, 1] + 0.5
    assert rows.min() >= min(y0, y1) - 1.5 and rows.max() <= max(y0, y1) + 1.5
    assert cols.min() >= min(x0, x1) - 1.5 and cols.max() <= max(x0, x1) + 1.5
