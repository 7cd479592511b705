"""Printing the key images only: each flagged image composed through the presentation state
its Key Object Selection item names (rotation, flip, LUTs: checked against DCMTK's dcmp2pgm
rendering of the same state), the others through their own window, printed on DCMTK's
dcmprscp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from tests.dicom.makers import save
from tests.dicom.presentation_makers import close_to, dcmp2pgm, dcmpsmk, edit, textured_ct
from tests.dicom.referencing import key_object_document
from tests.printing.dcmprscp import run_dcmprscp
from tests.printing.test_print_scu import LOCAL, node
from viewer.archive.archive import Archive
from viewer.cli import main as cli_main
from viewer.printing.compose import (
    FilmSpec,
    ImageSource,
    PixelDepth,
    PrintItem,
    compose_films,
    compose_source,
    fit,
)
from viewer.printing.film import Layout
from viewer.printing.scu import print_films
from viewer.reading.key_images import key_image_frames, saved_flags


@pytest.fixture
def archive_with_keys(tmp_path: Path) -> tuple[Path, Path, Path, str]:
    """Three CT images of one series; a KOS flags the first, seen with a GSPS (DCMTK's,
    turned 90 degrees and flipped), and the third, seen with none. Returns the archive root,
    the first image and its state (as written), and the study UID."""
    src = tmp_path / "src"
    src.mkdir()
    study, series = generate_uid(), generate_uid()
    paths = [textured_ct(src / f"im{n}.dcm", StudyInstanceUID=study, SeriesInstanceUID=series,
                         InstanceNumber=n, FrameOfReferenceUID=series)
             for n in (1, 2, 3)]
    made = dcmpsmk(paths[0], tmp_path / "made.dcm")
    ps_path = edit(made, src / "ps.dcm", ImageRotation=90, ImageHorizontalFlip="Y")
    images = [dcmread(p) for p in paths]
    kos = key_object_document([images[0], images[2]], title=codes.DCM.ForPrinting,
                              seen_with={images[0].SOPInstanceUID: dcmread(ps_path)})
    save(kos, src / "kos.dcm")
    root = tmp_path / "archive"
    assert cli_main(["--archive", str(root), "import", str(src)]) == 0
    return root, paths[0], ps_path, study


def test_key_images_print_through_their_presentation_states(
    archive_with_keys: tuple[Path, Path, Path, str], tmp_path: Path
) -> None:
    root, first, ps_path, study = archive_with_keys
    with Archive(root) as archive:
        frames = key_image_frames(archive, saved_flags(archive, study))
    assert len(frames) == 2
    assert frames[0][2] is not None and frames[1][2] is None  # the first is seen with a state
    assert dcmread(frames[0][0]).SOPInstanceUID == dcmread(first).SOPInstanceUID
    spec = FilmSpec(Layout(1, 2), depth=PixelDepth.GRAY8, pixels_per_mm=1.0)
    items = [PrintItem(ImageSource(path, index, presentation_state=state))
             for path, index, state in frames]
    composition = compose_films(items, spec)
    assert not composition.failures
    (film,) = composition.films
    box = spec.box_pixels()
    # DCMTK renders the state (rotation, then flip, and its LUTs): the same picture fitted
    # into the box must be what we print, within 2 grey levels on 99.5 % of the pixels
    reference = dcmp2pgm(first, ps_path, tmp_path / "ref.pgm")
    assert reference.shape == (48, 64)  # turned: the image is 64 rows x 48 columns
    expected = np.clip(np.rint(fit(reference, box)), 0, 255).astype(np.uint8)
    printed = film.boxes[0].pixels
    assert printed is not None and printed.shape == expected.shape
    assert close_to(printed, expected) >= 0.995
    # the unturned image would not match: the state was applied, not ignored
    plain = compose_source(ImageSource(first), spec)
    assert close_to(plain, expected) < 0.9
    # the third image has no state: its own window, as any print
    third = compose_source(ImageSource(frames[1][0], 0), spec)
    np.testing.assert_array_equal(film.boxes[1].pixels, third)

    with run_dcmprscp(tmp_path / "printer") as printer:
        result = print_films(node(printer.port), LOCAL, composition)
        stored = printer.films()
    assert result.ok and result.films_printed == 1 and result.boxes == 2
    (stored_film,) = stored
    assert stored_film.display_format == "STANDARD\\1,2"
    for composed in film.boxes:
        np.testing.assert_array_equal(stored_film.boxes[composed.position].pixel_array,
                                      composed.pixels)


def test_a_broken_state_leaves_its_box_empty_and_names_it(
    archive_with_keys: tuple[Path, Path, Path, str], tmp_path: Path
) -> None:
    root, first, _, _ = archive_with_keys
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    spec = FilmSpec(Layout(1, 1), pixels_per_mm=1.0)
    composition = compose_films([ImageSource(first, presentation_state=broken)], spec)
    (failure,) = composition.failures
    assert "broken.dcm" in failure.reason and "\n" not in failure.reason
    assert composition.films[0].boxes[0].pixels is None


def test_print_key_images_from_the_command_line(
    archive_with_keys: tuple[Path, Path, Path, str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`print NODE --key-images STUDY_UID`: the study's key images, the first through its
    presentation state (turned: DCMTK's rendering fitted into its box), in one film."""
    from tests.printing.test_print_scu import write_config

    root, first, ps_path, study = archive_with_keys
    with run_dcmprscp(tmp_path / "printer") as printer:
        config = write_config(tmp_path / "config.toml", {"PRINTER": ("PRINTSCP", printer.port)})
        base = ["--config", str(config), "--archive", str(root), "print", "PRINTER"]
        assert cli_main([*base, "--key-images", study, "--layout", "1x2",
                         "--pixels-per-mm", "1"]) == 0
        assert "printed 1 of 1 film(s), 2 image(s)" in capsys.readouterr().out
        assert cli_main([*base, "--key-images", "1.2.3.4"]) == 2
        assert "1.2.3.4: no such study in the archive" in capsys.readouterr().err
        assert cli_main(base) == 2
        assert "nothing to print" in capsys.readouterr().err
        (film,) = printer.films()
    assert film.display_format == "STANDARD\\1,2"
    spec = FilmSpec(Layout(1, 2), depth=PixelDepth.GRAY8, pixels_per_mm=1.0)
    reference = dcmp2pgm(first, ps_path, tmp_path / "ref.pgm")
    expected = np.clip(np.rint(fit(reference, spec.box_pixels())), 0, 255).astype(np.uint8)
    assert close_to(film.boxes[1].pixel_array, expected) >= 0.995  # Image Box Position 1
