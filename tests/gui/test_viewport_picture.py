"""The viewport exported as it is seen (issue 19, item 3): an image with a GSPS (rotation 90, a
mid-grey rectangular shutter, a window, a length and a DISPLAY-unit line and text) in the reading
window, offscreen. As on screen the picture equals a grab of the view, pixel for pixel; at the
image's resolution its geometry is `render --presentation-state`'s PNG (same size, grey within
+-2 where nothing is drawn over the image); without annotations only the picture is left; the
patient's fields leave the corner texts on request; all viewports as one picture."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from pydicom import dcmread  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from scipy.ndimage import binary_dilation  # noqa: E402

from tests.gui.test_overlay_layers import LIVER, SIZE, Study, _open, study, window  # noqa: E402
from tests.gui.test_presentation_view import _gsps, _image, _settled, _window  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.importer import import_paths  # noqa: E402
from viewer.cli import main as cli  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.measurements import Kind, Measurement  # noqa: E402
from viewer.gui.viewport_picture import (  # noqa: E402
    PictureOptions,
    PictureSize,
    layout_picture,
    overlay_content,
    picture_array,
    viewport_picture,
)

pytestmark = pytest.mark.timeout(300)

SCREENS = Path(os.environ.get("VIEWER_SCREENSHOTS", "/tmp/screens"))
WAIT_MS = 60_000
__all__ = ["study", "window"]  # test_overlay_layers' fixtures, used here


def _array(image: QImage) -> np.ndarray:
    return picture_array(image.convertToFormat(QImage.Format.Format_RGB32))


def _look(name: str, picture: np.ndarray) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(SCREENS / f"{name}.png")


def test_viewport_picture_with_a_presentation_state(qtbot: Any, tmp_path: Path) -> None:
    image = _image(tmp_path / "in" / "image.dcm")
    ps = _gsps(image, tmp_path / "in" / "ps.dcm")
    pool = DecodePool(1, cache=FrameCache(64 << 20))
    try:
        with Archive(tmp_path / "archive") as archive:
            assert import_paths(archive, [tmp_path / "in"]).ok
            study = str(dcmread(image, stop_before_pixels=True).StudyInstanceUID)
            main = _window(qtbot, archive, study, pool)
            viewport = main.viewports[0]
            _settled(qtbot, viewport)
            layer = viewport.presentation
            assert layer is not None and layer.applied is not None
            assert viewport.quarter_turns == 1
            viewport.set_active(False)  # the focus frame belongs to the screen only
            qtbot.wait(50)

            # as on screen, with annotations: the grab of the view (image, items, corners)
            screen = viewport_picture(viewport, PictureOptions())
            assert screen is not None
            grabbed = _array(viewport.view.grab().toImage())
            exported = picture_array(screen)
            _look("viewport-screen", exported)
            assert exported.shape[:2] == (viewport.view.height(), viewport.view.width())
            np.testing.assert_array_equal(exported, grabbed)

            # at the image's resolution, without annotations: render --presentation-state
            rendered_png = tmp_path / "render.png"
            assert cli(["render", str(image), "--presentation-state", str(ps), "-o",
                        str(rendered_png)]) == 0
            with Image.open(rendered_png) as opened:
                rendered = np.asarray(opened.convert("L")).astype(int)
            plain = viewport_picture(viewport, PictureOptions(PictureSize.IMAGE,
                                                              annotations=False))
            assert plain is not None
            picture = picture_array(plain)
            _look("viewport-image-plain", picture)
            assert picture.ndim == 2  # nothing coloured drawn: the grey picture alone
            assert picture.shape == rendered.shape == (128, 96)  # turned a quarter

            # with annotations at that size: the same picture wherever nothing is drawn
            annotated = viewport_picture(viewport, PictureOptions(PictureSize.IMAGE))
            assert annotated is not None
            marked = picture_array(annotated)
            _look("viewport-image-annotated", marked)
            assert marked.shape[:2] == picture.shape
            drawn = np.abs(np.atleast_3d(marked).astype(int) - picture[..., None]).max(axis=2) > 2
            assert 0.005 < drawn.mean() < 0.5  # texts and graphics, not a different image
            # `render` burns the state's graphics and text in; where we draw none (nor any
            # corner text: two pixels around what the annotated picture draws) the grey is
            # render's within +-2
            clear = ~binary_dilation(drawn, iterations=2)
            assert clear.mean() > 0.5
            assert np.abs(picture.astype(int) - rendered)[clear].max() <= 2
            # the GSPS length (row 60.5, columns 40.5-90.5) turned 90 degrees clockwise:
            # a vertical line at column 96 - 60.5 = 35.5, rows 40.5-90.5
            assert drawn[45:86, 34:38].any(axis=1).all()

            # twice the image's resolution: each image pixel two by two, no interpolation
            twice = viewport_picture(viewport, PictureOptions(PictureSize.IMAGE, scale=2.0,
                                                              annotations=False))
            assert twice is not None
            np.testing.assert_array_equal(picture_array(twice),
                                          np.repeat(np.repeat(picture, 2, 0), 2, 1))

            # as on screen without annotations: the view's picture alone (no corner text,
            # no graphics): grey, and equal to the grab of the view's image area
            bare = viewport_picture(viewport, PictureOptions(annotations=False))
            assert bare is not None
            bare_pixels = picture_array(bare)
            _look("viewport-screen-plain", bare_pixels)
            assert bare_pixels.ndim == 2
            assert (np.atleast_3d(exported) != bare_pixels[..., None]).any()

            # the patient's fields stripped: not in the corner texts, which still show the rest
            full = overlay_content(viewport, PictureOptions(), 1.0, 400)
            stripped = overlay_content(viewport, PictureOptions(patient_text=False), 1.0, 400)
            assert full.corners is not None and stripped.corners is not None
            assert any("PS" in line for line in full.corners.top_left)
            assert not any("PS" in line or "PSG1" in line for line in stripped.corners.top_left)
            assert stripped.corners.bottom_left == full.corners.bottom_left
            teaching = viewport_picture(viewport, PictureOptions(patient_text=False))
            assert teaching is not None
            taught = picture_array(teaching)
            _look("viewport-screen-teaching", taught)
            differs = (np.atleast_3d(taught) != np.atleast_3d(exported)).any(axis=2)
            rows, columns = differs.shape
            assert differs[: rows // 4, : columns // 3].any()  # the patient's corner changed
            assert not differs[rows // 2:, :].any()  # the lower half did not

            # the series from the Export menu, through the core: the state's turn, shutter and
            # LUTs too (annotations off: the picture alone, as render's where it draws none)
            menu = main.image_export
            menu.annotate.setChecked(False)
            frames = tmp_path / "series"
            frames.mkdir()  # a folder: the one frame goes in it as 0001.png
            with qtbot.waitSignal(menu.finished, timeout=WAIT_MS):
                assert menu.export_series(viewport, frames, "png") is not None
            with Image.open(frames / "0001.png") as opened:
                exported_frame = np.asarray(opened).astype(int)
            assert exported_frame.shape == rendered.shape
            assert np.abs(exported_frame - rendered)[clear].max() <= 2
            menu.annotate.setChecked(True)

            # all viewports as one picture: each at its place in the grid
            main.reading.set_layout((2, 1))
            qtbot.waitUntil(main.all_loaded, timeout=WAIT_MS)
            qtbot.wait(50)
            shown = [v for v in main.reading.viewports if v.image.image is not None]
            whole = layout_picture(main.reading.viewports, main.reading.grid_host,
                                   PictureOptions())
            assert whole is not None
            everything = picture_array(whole)
            _look("viewports-layout", everything)
            host = main.reading.grid_host
            assert everything.shape[:2] == (host.height(), host.width())
            assert len(shown) >= 1
            for one in shown:
                one.set_active(False)
                alone_picture = viewport_picture(one, PictureOptions())
                assert alone_picture is not None
                alone = np.atleast_3d(picture_array(alone_picture))
                at = one.view.viewport().mapTo(host, one.view.viewport().rect().topLeft())
                part = np.atleast_3d(everything)[at.y():at.y() + alone.shape[0],
                                                 at.x():at.x() + alone.shape[1]]
                np.testing.assert_array_equal(np.broadcast_to(part, (*part.shape[:2], 3)),
                                              np.broadcast_to(alone, (*alone.shape[:2], 3)))
            main.close()
    finally:
        pool.close()


def test_segmentation_stays_without_annotations(qtbot: Any, window: MainWindow,
                                                study: Study) -> None:
    """A SEG over the CT is part of the image as displayed: in the picture with or without
    annotations; a measurement only with them."""
    viewport = window.reading.viewports[0]
    _open(qtbot, window, study.seg_series)
    key = viewport.current_key
    assert key is not None
    viewport.measurements.add(key, Measurement(Kind.LENGTH, [(20.0, 32.0), (44.0, 32.0)]))
    qtbot.wait(50)
    # four picture pixels per image pixel: room for the corner texts on a 64 x 64 image
    options = PictureOptions(PictureSize.IMAGE, annotations=False, scale=4.0)
    liver = (slice(LIVER[0].start * 4, LIVER[0].stop * 4), slice(LIVER[1].start * 4,
                                                               LIVER[1].stop * 4))
    bare_picture = viewport_picture(viewport, options)
    assert bare_picture is not None
    bare = np.atleast_3d(picture_array(bare_picture)).astype(int)
    _look("viewport-seg-plain", bare.astype(np.uint8))
    assert bare.shape[:2] == (SIZE * 4, SIZE * 4)
    assert (bare[liver][..., 0] > bare[liver][..., 1] + 40).all()  # tinted red
    yellow = (bare[..., 0] > 200) & (bare[..., 1] > 180) & (bare[..., 2] < 80)
    assert not yellow.any()  # the measurement left out
    marked_picture = viewport_picture(viewport, replace(options, annotations=True))
    assert marked_picture is not None
    marked = np.atleast_3d(picture_array(marked_picture)).astype(int)
    _look("viewport-seg-annotated", marked.astype(np.uint8))
    yellow = (marked[..., 0] > 200) & (marked[..., 1] > 180) & (marked[..., 2] < 80)
    assert yellow[32 * 4 + 2, 20 * 4 + 4:44 * 4].all()  # along the length's row
    lower = (slice(liver[0].start + 20, liver[0].stop), liver[1])  # below the corner text
    assert (marked[lower][..., 0] > marked[lower][..., 1] + 40).all()


def test_zoomed_viewport_at_the_image_resolution_is_not_resampled(qtbot: Any,
                                                                   tmp_path: Path) -> None:
    """1:1 pixels about the centre of a 900x700 window: at the image's resolution the picture
    is what the view shows, and the image in it is `render`'s, pixel for pixel."""
    from tests.gui.windows import reading_window
    from viewer.dicom.demo import write_ct_series

    files = write_ct_series(tmp_path / "ct", 2, 256, 256)
    with reading_window(qtbot, files, 1) as main:
        viewport = main.reading.viewports[0]
        viewport.actual_pixels()
        viewport.view.translate_by(-40.25, 30.5)  # a pan by fractions of a pixel
        qtbot.wait(20)
        shown = viewport_picture(viewport, PictureOptions(PictureSize.IMAGE, annotations=False))
        assert shown is not None
        picture = picture_array(shown)
        target = viewport.view.shown_target()
        assert picture.shape == (round(target.height()), round(target.width()))
        rendered = tmp_path / "render.png"
        assert cli(["render", viewport.stack.frames[0][0], "-o", str(rendered)]) == 0  # type: ignore[union-attr]
        with Image.open(rendered) as opened:
            expected = np.asarray(opened)
        # the image's corner lands on the nearest whole pixel (Qt rounds a translation)
        left, top = (int(np.floor(-v + 0.5)) for v in (target.left(), target.top()))
        np.testing.assert_array_equal(picture[top:top + 256, left:left + 256], expected)
        assert not picture[:top].any() and not picture[:, :left].any()  # black around it
