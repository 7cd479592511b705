"""Our reading of graphic annotations against DCMTK's, and our burned picture against its render.

`dcmp2pgm -v -p PS IMAGE` lists, per graphic layer (in Graphic Layer Order), the text and
graphic objects that apply to the image, with their units, anchors, boxes, types and points;
we compare our parse with that list item by item. dcmp2pgm draws no annotations (FACTS.md), so
for pixels the comparison is what it defines: the picture under the annotations, which must be
DCMTK's exactly wherever we drew nothing. Measured with DCMTK 3.6.7: its listing is always that
of frame 1 (`-f` changes only the picture), and it also lists the items without a Referenced
Image Sequence for an image the presentation state does not reference (we give none: the
standard gives them to the PS's images only, and the caller refuses such a pairing).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import generate_uid

from tests.dicom import graphics_makers as mk
from tests.dicom.makers import save
from tests.peers import require_tool
from viewer.dicom.graphics import GraphicAnnotations, read_graphic_annotations
from viewer.dicom.graphics_raster import burn_graphics


@dataclass
class Layer:
    name: str
    grey: int | None = None
    texts: list[tuple[object, ...]] = field(default_factory=list)
    graphics: list[tuple[object, ...]] = field(default_factory=list)


_POINT = r"(-?[\d.e+-]+)\\(-?[\d.e+-]+)"


def dcmtk_listing(tool: str, ps: Path, image: Path, out: Path) -> list[Layer]:
    """dcmp2pgm's verbose listing of the annotations for `image`, layers with objects only."""
    done = subprocess.run([tool, "-v", "-p", str(ps), str(image), str(out)],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0 and out.exists(), done.stdout + done.stderr
    layers: list[Layer] = []
    lines = [re.sub(r"^[IWEF]: ", "", line) for line in (done.stdout + done.stderr).splitlines()]
    for index, line in enumerate(lines):
        if m := re.match(r"Graphic Layer #\d+ \[(.*)\]$", line):
            layers.append(Layer(m.group(1)))
        elif m := re.match(r"\s+Recomm\. display value: gray 0x([0-9a-fA-F]+)", line):
            layers[-1].grey = int(m.group(1), 16)
        elif m := re.match(r'\s+text \d+: "(.*)"$', line):
            anchor_line, box_line = lines[index + 1].strip(), lines[index + 2].strip()
            anchor = None
            if a := re.match(rf"anchor point: {_POINT} units=(\w+) visible=(\w+)", anchor_line):
                anchor = ((float(a.group(1)), float(a.group(2))), a.group(3).upper(),
                          a.group(4) == "yes")
            box = None
            if b := re.match(rf"bounding box: TLHC={_POINT} BRHC={_POINT} units=(\w+) "
                             r"justification=(\w+)", box_line):
                x0, y0, x1, y1 = (float(b.group(i)) for i in range(1, 5))
                # As printed (TLHC may lie right of BRHC); ours are normalised.
                box = ((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
                       b.group(5).upper(), b.group(6).upper())
            layers[-1].texts.append((m.group(1), anchor, box))
        elif m := re.match(r"\s+graphic \d+: points=(\d+) type=(\w+) filled=(\w+) units=(\w+)",
                           line):
            coords = re.findall(_POINT, lines[index + 1])
            layers[-1].graphics.append((
                m.group(2).upper(), m.group(3) == "yes", m.group(4).upper(),
                tuple((float(x), float(y)) for x, y in coords)))
            assert int(m.group(1)) == len(coords)
    return [layer for layer in layers if layer.texts or layer.graphics]


def ours(found: GraphicAnnotations) -> list[Layer]:
    layers = []
    for layer in found.layers:
        entry = Layer(layer.name, layer.recommended_grey)
        for t in (t for t in found.texts if t.layer == layer.name):
            anchor = None
            if t.anchor is not None and t.anchor_units is not None:
                anchor = (t.anchor, t.anchor_units.value, t.anchor_visible)
            box = None
            if t.bounding_box is not None and t.bounding_box_units is not None:
                box = (t.bounding_box, t.bounding_box_units.value, t.justification.value)
            entry.texts.append((t.text, anchor, box))
        for g in (g for g in found.graphics if g.layer == layer.name):
            entry.graphics.append((g.graphic_type.value, g.filled, g.units.value,
                                   tuple((float(np.float32(x)), float(np.float32(y)))
                                         for x, y in g.points)))
        layers.append(entry)
    return layers


def _rounded(layers: list[Layer]) -> list[Layer]:
    """DCMTK prints FL values with 6 significant digits."""
    def r(value: object) -> object:
        if isinstance(value, float):
            return float(f"{value:.6g}")
        if isinstance(value, tuple):
            return tuple(r(v) for v in value)
        return value
    return [Layer(x.name, x.grey, [r(t) for t in x.texts],  # type: ignore[misc]
                  [r(g) for g in x.graphics]) for x in layers]  # type: ignore[misc]


@pytest.fixture(scope="module")
def dcmp2pgm() -> str:
    return require_tool("dcmp2pgm", "dcmtk")


def _pydicom_case(root: Path) -> tuple[Path, list[Path]]:
    multi = mk.patient_image(frames=3)
    other = mk.patient_image()
    other.SeriesInstanceUID = multi.SeriesInstanceUID
    ps = mk.presentation_state([multi, other], [
        mk.annotation("B", [mk.graphic("POINT", [(1.0, 1.0)])],
                      [mk.text("frame two", box=(1, 1, 30, 10))], images=[(multi, [2])]),
        mk.annotation("A", [mk.graphic("POLYLINE", [(2.0, 2.0), (20.5, 30.25), (70.0, 5.5)])],
                      [mk.text("Lesion 12 mm", box=(40, 20, 10, 30), justification="RIGHT",
                               anchor=(60.0, 50.0))], images=[(multi, [1, 3])]),
        mk.annotation("A", [mk.graphic("CIRCLE", [(30.0, 30.0), (39.0, 30.0)], filled=True),
                            mk.graphic("INTERPOLATED", [(5, 60), (20, 45), (35, 58), (50, 50)])],
                      images=[(other, None)]),
        mk.annotation("B", [mk.graphic("ELLIPSE", [(0.1, 0.5), (0.9, 0.5), (0.5, 0.3),
                                                   (0.5, 0.7)], units="DISPLAY")],
                      [mk.text("all", anchor=(0.5, 0.1), units="DISPLAY",
                               anchor_visible=False)]),
    ], [mk.layer("B", 2, grey=30000), mk.layer("A", 1)])
    paths = [save(multi, root / "multi.dcm"), save(other, root / "other.dcm")]
    return save(ps, root / "ps.dcm"), paths


def _highdicom_case(root: Path) -> tuple[Path, list[Path]]:
    image = mk.patient_image()
    layer = hd.pr.GraphicLayer("MEASURE", 1, description="lengths")
    annotation = hd.pr.GraphicAnnotation(
        [image], layer,
        graphic_objects=[hd.pr.GraphicObject("POLYLINE", np.array([[10.0, 10.0], [60.0, 40.0]]),
                                             "PIXEL"),
                         hd.pr.GraphicObject("CIRCLE", np.array([[40.0, 30.0], [48.0, 30.0]]),
                                             "PIXEL")],
        text_objects=[hd.pr.TextObject("58.3 mm", "PIXEL", bounding_box=(5.0, 45.0, 45.0, 60.0),
                                       anchor_point=(35.0, 25.0), anchor_point_visible=True)],
    )
    ps = hd.pr.GrayscaleSoftcopyPresentationState(
        [image], generate_uid(), 2, generate_uid(), 1, "tests", "tests", "1", "1", "LABEL",
        graphic_annotations=[annotation], graphic_layers=[layer])
    path = root / "hd-ps.dcm"
    ps.save_as(path)
    return path, [save(image, root / "hd-image.dcm")]


@pytest.mark.parametrize("case", [_pydicom_case, _highdicom_case], ids=["pydicom", "highdicom"])
def test_annotations_match_dcmtk_and_only_annotations_change_its_picture(
    dcmp2pgm: str, tmp_path: Path, case: object
) -> None:
    ps_path, images = case(tmp_path)  # type: ignore[operator]
    ps = pydicom.dcmread(ps_path)
    for image_path in images:
        image = pydicom.dcmread(image_path, stop_before_pixels=True)
        pgm = tmp_path / f"{image_path.stem}.pgm"
        theirs = dcmtk_listing(dcmp2pgm, ps_path, image_path, pgm)
        found = read_graphic_annotations(ps, image.SOPInstanceUID, 1)
        assert found.problems == ()
        assert theirs, "nothing to compare"
        assert _rounded(ours(found)) == _rounded(theirs)

        picture = np.asarray(Image.open(pgm))
        assert picture.shape == (image.Rows, image.Columns)
        burned = burn_graphics(picture, found, np.eye(3), (0, 0, image.Columns, image.Rows))
        drawn = burned != picture
        assert drawn.sum() > 50
        assert np.array_equal(burned[~drawn], picture[~drawn])
