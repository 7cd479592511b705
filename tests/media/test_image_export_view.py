"""A series exported as a viewport shows it (issue 19, item 3): turned and mirrored, and through
a Grayscale Softcopy Presentation State for the images it references, by the core that
`export-images` and the Export menu share; compared with `render` and
`render --presentation-state` (whole pixels moved, none interpolated)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

from viewer.cli import main
from viewer.dicom.demo import write_ct_series
from viewer.dicom.presentation_apply import read_presentation_state_file
from viewer.dicom.stack import build_stacks
from viewer.media.annotate import MeasurementMark
from viewer.media.image_export import ExportOptions, export_stack, render_export_frame
from viewer.reports.create_ps import create_presentation_state
from viewer.reports.view_state import RectangleShutter, ViewedImage, ViewState

SLICES = 3


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ct")
    write_ct_series(folder, slices=SLICES, rows=96, columns=128, patient_name="TURNED^CASE")
    return folder


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def test_turns_and_mirrors_move_whole_pixels(series: Path, tmp_path: Path) -> None:
    stack = build_stacks(sorted(series.glob("*.dcm")))[0][0]
    plain = tmp_path / "plain.png"
    assert main(["render", stack.frames[1][0], "-o", str(plain)]) == 0
    upright = _pixels(plain)
    for turns, flip_h, flip_v, expected in (
        (1, False, False, np.rot90(upright, -1)),  # a quarter clockwise
        (1, True, False, np.fliplr(np.rot90(upright, -1))),  # then a mirror
        (0, False, True, np.flipud(upright)),
        (3, True, True, np.rot90(upright, -1)),  # 270 and both mirrors: 90
    ):
        options = ExportOptions("png", quarter_turns=turns, flip_h=flip_h, flip_v=flip_v)
        np.testing.assert_array_equal(render_export_frame(stack, 1, options), expected)

    # a measurement follows the turn: a horizontal length becomes a vertical one
    mark = MeasurementMark(((10.0, 20.0), (60.0, 20.0)), "25 mm")
    turned = render_export_frame(stack, 1, ExportOptions("png", annotations=True,
                                                         quarter_turns=1), [mark])
    yellow = (turned[..., 0] > 200) & (turned[..., 1] > 180) & (turned[..., 2] < 80)
    assert turned.shape[:2] == (128, 96)
    # column 75, rows 10-60; its top is under the corner texts
    assert yellow[44:59, 96 - 1 - 20].all() and not yellow[44:59, :70].any()


def test_series_through_a_presentation_state(series: Path, tmp_path: Path) -> None:
    files = sorted(series.glob("*.dcm"))
    stack = build_stacks(files)[0][0]
    referenced = Path(stack.frames[0][0])
    ds = dcmread(referenced)
    view = ViewState(window=(40.0, 400.0), rotation=90, horizontal_flip=True,
                     shutters=(RectangleShutter(10, 5, 100, 80),), shutter_value=0x8000)
    ps_path = tmp_path / "ps.dcm"
    create_presentation_state([ViewedImage.of(ds)], view, label="TURNED").save_as(
        ps_path, enforce_file_format=True)
    rendered = tmp_path / "ps.png"
    assert main(["render", str(referenced), "--presentation-state", str(ps_path), "-o",
                 str(rendered)]) == 0

    options = ExportOptions("png", presentation=read_presentation_state_file(ps_path),
                            quarter_turns=1, flip_h=True)
    out = tmp_path / "frames"
    result = export_stack(stack, out, options)
    assert not result.report.failed and len(result.report.done) == SLICES
    np.testing.assert_array_equal(_pixels(out / "0001.png"), _pixels(rendered))
    # an image the state does not reference: the viewport's turns, its own window
    other = tmp_path / "other.png"
    assert main(["render", stack.frames[1][0], "-o", str(other)]) == 0
    np.testing.assert_array_equal(_pixels(out / "0002.png"),
                                  np.fliplr(np.rot90(_pixels(other), -1)))
