"""Print Management SCU against DCMTK dcmprscp (a real Basic Grayscale Print SCP): the Hardcopy
Grayscale images it stores hold our composed pixels, its Stored Print the requested film box;
refusals are named; a scripted pynetdicom printer for warnings, events and colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.net.peers import LOOPBACK, free_port, write_config
from tests.printing.dcmprscp import run_dcmprscp, run_scripted_printer
from tests.printing.test_compose import broken_jpeg
from viewer.config import Node
from viewer.dicom.demo import write_ct_series
from viewer.net.association import Local, PeerError
from viewer.printing.compose import (
    Composition,
    FilmSpec,
    ImageSource,
    PixelDepth,
    compose_films,
)
from viewer.printing.film import Layout, Orientation
from viewer.printing.scu import PrintError, PrintOptions, print_films

LOCAL = Local()


def node(port: int, ae_title: str = "PRINTSCP") -> Node:
    return Node("printer", ae_title, LOOPBACK, port)


def compose(files: list[Path], layout: str, depth: PixelDepth = PixelDepth.GRAY8,
            **spec: object) -> Composition:
    film = FilmSpec(Layout.parse(layout), depth=depth, pixels_per_mm=1.0, **spec)  # type: ignore[arg-type]
    return compose_films([ImageSource(p) for p in files], film)


@pytest.mark.parametrize("depth", [PixelDepth.GRAY8, PixelDepth.GRAY12], ids=["8bit", "12bit"])
@pytest.mark.parametrize(("layout", "size", "orientation"), [
    ("1x1", "8INX10IN", Orientation.PORTRAIT),
    ("2x2", "14INX17IN", Orientation.LANDSCAPE),
    ("3x4", "14INX17IN", Orientation.PORTRAIT),
])
def test_printed_film_holds_our_pixels_and_the_requested_film_box(
    tmp_path: Path, layout: str, size: str, orientation: Orientation, depth: PixelDepth,
) -> None:
    count = Layout.parse(layout).count
    files = write_ct_series(tmp_path / "ct", slices=count, rows=64, columns=64)
    composition = compose(files, layout, depth, film_size=size, orientation=orientation)
    with run_dcmprscp(tmp_path / "printer") as printer:
        result = print_films(node(printer.port), LOCAL, composition,
                             PrintOptions(copies=2, medium="PAPER", magnification="NONE"))
        films = printer.films()
    assert result.ok and result.films_printed == 1 and result.boxes == count
    assert result.printer.status == "NORMAL" and result.presentation_lut
    (film,) = films
    assert film.display_format == f"STANDARD\\{layout.replace('x', ',')}"
    assert (film.film_size, film.orientation) == (size, orientation.value)
    assert film.film_box.MagnificationType == "NONE"
    assert sorted(film.boxes) == list(range(1, count + 1))
    for box in composition.films[0].boxes:
        stored = film.boxes[box.position]
        assert int(stored.BitsStored) == depth.bits_stored
        assert box.pixels is not None
        assert box.pixels.shape == composition.films[0].spec.box_pixels()[::-1]
        np.testing.assert_array_equal(stored.pixel_array, box.pixels)


def test_more_images_than_boxes_print_several_films_in_order(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "ct", slices=6, rows=32, columns=32)
    composition = compose(files, "2x2")
    with run_dcmprscp(tmp_path / "printer") as printer:
        result = print_films(node(printer.port), LOCAL, composition)
        films = printer.films()
    assert (result.films, result.films_printed, result.boxes) == (2, 2, 6)
    assert [sorted(f.boxes) for f in films] == [[1, 2, 3, 4], [1, 2]]
    np.testing.assert_array_equal(films[1].boxes[2].pixel_array,
                                  composition.films[1].boxes[1].pixels)


def test_undecodable_image_leaves_its_box_empty_and_the_rest_prints(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "ct", slices=3, rows=32, columns=32)
    bad = broken_jpeg(tmp_path / "bad.dcm")
    composition = compose([files[0], bad, *files[1:]], "2x2")
    with run_dcmprscp(tmp_path / "printer") as printer:
        result = print_films(node(printer.port), LOCAL, composition)
        films = printer.films()
    assert result.films_printed == 1 and result.boxes == 3 and not result.ok
    (empty,) = result.empty_boxes
    assert (empty.position, empty.item) == (2, str(bad))
    assert sorted(films[0].boxes) == [1, 3, 4]
    np.testing.assert_array_equal(films[0].boxes[3].pixel_array,
                                  composition.films[0].boxes[2].pixels)


@pytest.mark.parametrize(("printer_setting", "spec", "options", "attribute", "value"), [
    ({"FilmSizeID": "8INX10IN\\11INX14IN"}, {"film_size": "14INX17IN"}, {}, "FilmSizeID",
     "14INX17IN"),
    ({"DisplayFormat": "1,1\\2,2"}, {"layout": "3x4"}, {}, "ImageDisplayFormat",
     "STANDARD\\3,4"),
    ({"MagnificationType": "REPLICATE\\BILINEAR"}, {}, {"magnification": "CUBIC"},
     "MagnificationType", "CUBIC"),
    ({"MediumType": "PAPER"}, {}, {"medium": "BLUE FILM"}, "MediumType", "BLUE FILM"),
], ids=["film-size", "layout", "magnification", "medium"])
def test_refused_value_is_named(
    tmp_path: Path, printer_setting: dict[str, str], spec: dict[str, str],
    options: dict[str, str], attribute: str, value: str,
) -> None:
    files = write_ct_series(tmp_path / "ct", slices=1, rows=32, columns=32)
    composition = compose(files, spec.get("layout", "1x1"),
                          film_size=spec.get("film_size", "8INX10IN"))
    with run_dcmprscp(tmp_path / "printer", **printer_setting) as printer:
        with pytest.raises(PrintError) as caught:
            print_films(node(printer.port), LOCAL, composition, PrintOptions(**options))  # type: ignore[arg-type]
        assert printer.films() == []
    assert (caught.value.attribute, caught.value.value) == (attribute, value)
    assert f"printer refused {attribute} {value}" in str(caught.value)
    assert caught.value.status == 0x0106


def test_unreachable_printer_is_named(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "ct", slices=1, rows=32, columns=32)
    with pytest.raises(PeerError, match=r"printer \(PRINTSCP@127\.0\.0\.1:\d+\): cannot connect"):
        print_films(node(free_port()), LOCAL, compose(files, "1x1"))


def test_dcmprscp_refuses_colour(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "ct", slices=1, rows=32, columns=32)
    with run_dcmprscp(tmp_path / "printer") as printer, pytest.raises(
        PeerError, match="does not accept Basic Color Print Management"
    ):
        print_films(node(printer.port), LOCAL, compose(files, "1x1", PixelDepth.RGB))


def test_warnings_events_and_colour_with_a_scripted_printer(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "ct", slices=2, rows=32, columns=32)
    composition = compose(files, "1x2", PixelDepth.RGB)
    with run_scripted_printer() as printer:
        result = print_films(node(printer.port, printer.ae_title), LOCAL, composition)
    assert result.films_printed == 1 and result.boxes == 2
    assert result.printer.status == "WARNING"
    codes = [w.status for w in result.warnings]
    assert codes.count(0xB604) == 2
    assert "demagnified" in str(result.warnings[-1])
    assert [(e.name, e.status_info) for e in result.events] == [("WARNING", "FILM TRANSP NRDY")]
    received = list(printer.image_boxes.values())
    for sent, box in zip(received, composition.films[0].boxes, strict=True):
        item = sent.BasicColorImageSequence[0]
        assert (item.PlanarConfiguration, item.SamplesPerPixel) == (1, 3)
        size = 3 * item.Rows * item.Columns  # the odd-length value is padded to even
        planes = np.frombuffer(item.PixelData[:size], np.uint8).reshape(3, item.Rows, -1)
        np.testing.assert_array_equal(np.moveaxis(planes, 0, 2), box.pixels)


def test_cli_prints_files_and_archive_series(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from viewer.archive.archive import Archive
    from viewer.archive.importer import import_paths
    from viewer.cli import main

    files = write_ct_series(tmp_path / "ct", slices=5, rows=32, columns=32)
    archive_dir = tmp_path / "archive"
    archive = Archive(archive_dir)
    import_paths(archive, [tmp_path / "ct"])
    series_uid = archive.index.series(archive.index.search_studies()[0].study_instance_uid)[0]
    archive.close()
    with run_dcmprscp(tmp_path / "printer", FilmSizeID="8INX10IN") as printer:
        config = write_config(tmp_path / "config.toml", {"PRINTER": ("PRINTSCP", printer.port)})
        base = ["--config", str(config), "--archive", str(archive_dir), "print", "PRINTER"]
        assert main([*base, str(tmp_path / "ct"), "--layout", "2x2", "--film-size",
                     "8inx10in", "--bits", "12", "--window", "40", "400"]) == 0
        out = capsys.readouterr().out
        assert "printed 2 of 2 film(s), 5 image(s)" in out
        assert main([*base, series_uid.series_instance_uid, "--layout", "3x4"]) == 2
        err = capsys.readouterr().err
        assert "printer refused FilmSizeID 14INX17IN" in err
        assert main([*base, str(files[0]), "--film-size", "8INX10IN", "--json"]) == 0
        films = printer.films()
    # two films of the folder (4 + 1 boxes) and the single file; the order dcmprscp's database
    # gives them within one second is not reliable under load
    assert sorted(len(f.boxes) for f in films) == [1, 1, 4]
    assert int(next(f for f in films if len(f.boxes) == 4).boxes[1].BitsStored) == 12
