"""DICOMization (issue 18 item 4): every IOD valid for dciodvfy -new, a baseline JPEG's
bitstream and a PDF's bytes kept exactly, pixels as DCMTK decodes them, the archive import,
and bad input refused with nothing imported."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import generate_frames

from tests.capture.conftest import png_header_only
from tests.peers import require_tool
from viewer.archive.archive import Archive
from viewer.capture.dicomize import DicomizeRefused, dicomize_files
from viewer.capture.order import OrderError, typed_order
from viewer.capture.sources import MAX_PDF_BYTES
from viewer.cli import main

pytestmark = pytest.mark.timeout(120)

VL_PHOTO = "1.2.840.10008.5.1.4.1.1.77.1.4"
SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"
PDF_DOC = "1.2.840.10008.5.1.4.1.1.104.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _dicomized(tmp_path: Path, files: list[Path]) -> tuple[Archive, dict[str, Path]]:
    archive = Archive(tmp_path / "archive")
    order = typed_order("P-1", "DOE^JANE", "19800101", "F", "ACC-9")
    report = dicomize_files(files, order, archive)
    assert report.ok and len(report.instances) == len(files)
    return archive, {i.path: archive.store.absolute(i.store_path) for i in report.instances}


def test_every_created_iod_is_valid_for_dciodvfy(tmp_path: Path,
                                                 inputs: dict[str, Path]) -> None:
    dciodvfy = require_tool("dciodvfy", "dicom3tools")
    archive, stored = _dicomized(tmp_path, list(inputs.values()))
    with archive:
        expected = {
            "jpeg": (VL_PHOTO, JPEG_BASELINE, "YBR_FULL_422"),
            "jpeg_grey": (VL_PHOTO, JPEG_BASELINE, "MONOCHROME2"),
            "jpeg_444": (VL_PHOTO, JPEG_BASELINE, "YBR_FULL_422"),
            "jpeg_progressive": (VL_PHOTO, EXPLICIT_LE, "RGB"),
            "png": (SC_IMAGE, EXPLICIT_LE, "RGB"),
            "png_alpha": (SC_IMAGE, EXPLICIT_LE, "RGB"),
            "png16": (SC_IMAGE, EXPLICIT_LE, "MONOCHROME2"),
            "pdf": (PDF_DOC, EXPLICIT_LE, None),
        }
        for name, source in inputs.items():
            path = stored[str(source)]
            run = subprocess.run([dciodvfy, "-new", str(path)], check=False, capture_output=True,
                                 text=True, timeout=60)
            lines = (run.stdout + run.stderr).splitlines()
            errors = [line for line in lines if line.startswith("Error")]
            assert not errors, f"{name}: {errors}"
            ds = dcmread(path)
            sop_class, syntax, photometric = expected[name]
            assert (ds.SOPClassUID, ds.file_meta.TransferSyntaxUID) == (sop_class, syntax), name
            if photometric:
                assert ds.PhotometricInterpretation == photometric, name
            assert ds.PatientName == "DOE^JANE" and ds.AccessionNumber == "ACC-9"
        modalities = sorted(s.modality for s in archive.index.series(
            dcmread(stored[str(inputs["pdf"])]).StudyInstanceUID))
        assert modalities == ["DOC", "OT", "XC"]  # one new series per kind


def test_baseline_jpeg_bitstream_is_kept_and_dcmtk_decodes_it(
        tmp_path: Path, inputs: dict[str, Path]) -> None:
    dcmj2pnm = require_tool("dcmj2pnm", "dcmtk")
    archive, stored = _dicomized(tmp_path, [inputs["jpeg"], inputs["jpeg_444"]])
    with archive:
        for source in (inputs["jpeg"], inputs["jpeg_444"]):
            original = source.read_bytes()
            ds = dcmread(stored[str(source)])
            (frame,) = generate_frames(ds.PixelData, number_of_frames=1)
            # the one fragment is the file, plus one pad byte when its length is odd
            assert frame[:len(original)] == original
            assert frame[len(original):] in (b"", b"\0") and len(frame) % 2 == 0
            png = tmp_path / f"{source.stem}.png"
            subprocess.run([dcmj2pnm, "--write-png", str(stored[str(source)]), str(png)],
                           check=True, capture_output=True, timeout=60)
            theirs = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
            ours = np.asarray(Image.open(source).convert("RGB"), dtype=np.int16)
            assert theirs.shape == ours.shape
            assert np.abs(theirs - ours).mean() < 2.0  # the same JPEG, two decoders


def test_pdf_bytes_round_trip_with_one_pad_byte(tmp_path: Path,
                                                inputs: dict[str, Path]) -> None:
    dcm2pdf = require_tool("dcm2pdf", "dcmtk")
    even = tmp_path / "even.pdf"
    even.write_bytes(inputs["pdf"].read_bytes() + b"\n")
    odd = inputs["pdf"]
    assert len(odd.read_bytes()) % 2 == 1 and len(even.read_bytes()) % 2 == 0
    archive, stored = _dicomized(tmp_path, [odd, even])
    with archive:
        for source in (odd, even):
            original = source.read_bytes()
            ds = dcmread(stored[str(source)])
            assert ds.EncapsulatedDocumentLength == len(original)
            assert ds.EncapsulatedDocument == original + b"\0" * (len(original) % 2)
            assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
            extracted = tmp_path / f"{source.stem}-out.pdf"
            subprocess.run([dcm2pdf, str(stored[str(source)]), str(extracted)], check=True,
                           capture_output=True, timeout=60)
            assert extracted.read_bytes() == original


def test_pixels_of_png_and_progressive_jpeg(tmp_path: Path, inputs: dict[str, Path]) -> None:
    files = [inputs["png"], inputs["png16"], inputs["png_alpha"], inputs["jpeg_progressive"]]
    archive, stored = _dicomized(tmp_path, files)
    with archive:
        rgb = dcmread(stored[str(inputs["png"])]).pixel_array
        assert np.array_equal(rgb, np.asarray(Image.open(inputs["png"])))
        grey16 = dcmread(stored[str(inputs["png16"])])
        assert grey16.BitsStored == 16
        assert np.array_equal(grey16.pixel_array, np.asarray(Image.open(inputs["png16"])))
        # alpha 128 over white: half way between the colour and 255
        alpha = dcmread(stored[str(inputs["png_alpha"])]).pixel_array.astype(int)
        plain = np.asarray(Image.open(inputs["png"]), dtype=int)
        assert np.abs(alpha - (plain * 128 + 255 * 127) / 255).max() <= 1
        progressive = dcmread(stored[str(inputs["jpeg_progressive"])])
        assert progressive.LossyImageCompression == "01"
        assert np.array_equal(progressive.pixel_array,
                              np.asarray(Image.open(inputs["jpeg_progressive"]).convert("RGB")))


def _refused_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Bad inputs, each with a word its one-line reason must contain."""
    bad = tmp_path / "bad"
    bad.mkdir()
    text = bad / "notes.jpg"
    text.write_text("this is not an image\n")
    good_png = bad / "good.png"
    Image.fromarray(np.zeros((400, 400, 3), np.uint8) + 90).save(good_png)
    truncated_png = bad / "cut.png"
    truncated_png.write_bytes(good_png.read_bytes()[:300])
    good_jpeg = bad / "good.jpg"
    Image.fromarray((np.random.default_rng(1).random((300, 300, 3)) * 255).astype(np.uint8)
                    ).save(good_jpeg)
    truncated_jpeg = bad / "cut.jpg"
    truncated_jpeg.write_bytes(good_jpeg.read_bytes()[:2000])
    no_eoi = bad / "almost.jpg"  # only its end-of-image marker missing: Pillow shows it
    no_eoi.write_bytes(good_jpeg.read_bytes()[:-2])
    huge_jpeg = bad / "huge.jpg"  # its frame header says 60000 x 60000
    data = bytearray(good_jpeg.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = (60000).to_bytes(2, "big") * 2
    huge_jpeg.write_bytes(bytes(data))
    huge = bad / "huge.png"
    huge.write_bytes(png_header_only(60000, 60000))
    fake_pdf = bad / "letter.pdf"
    fake_pdf.write_bytes(b"<html>not a pdf</html>\n")
    big_pdf = bad / "scan.pdf"
    with big_pdf.open("wb") as out:  # sparse: no 64 MiB written
        out.write(b"%PDF-1.4\n")
        out.truncate(MAX_PDF_BYTES + 1)
    return {
        "text": (text, "not a JPEG, PNG or PDF"),
        "truncated_png": (truncated_png, "truncated"),
        "truncated_jpeg": (truncated_jpeg, "truncated"),
        "no_eoi": (no_eoi, "end-of-image"),
        "huge": (huge, "megapixels"),
        "huge_jpeg": (huge_jpeg, "megapixels"),
        "fake_pdf": (fake_pdf, "not a PDF"),
        "big_pdf": (big_pdf, "64 MiB"),
    }


def test_bad_input_is_named_and_nothing_is_imported(
        tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    refused = _refused_files(tmp_path)
    archive_dir = tmp_path / "archive"
    for name, (path, word) in refused.items():
        code = main(["--archive", str(archive_dir), "dicomize", str(inputs["jpeg"]), str(path),
                     "--patient-id", "P-1", "--patient-name", "DOE^JANE"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, name
        assert len(err) == 1 and str(path) in err[0] and word in err[0], (name, err)
        assert "Traceback" not in err[0]
    with Archive(archive_dir) as archive:
        assert archive.index.search_studies() == []
        with pytest.raises(DicomizeRefused) as caught:
            dicomize_files([p for p, _ in refused.values()],
                           typed_order("P-1", "DOE^JANE"), archive)
        assert len(caught.value.refused) == len(refused)  # every file named, not the first
        assert archive.index.search_studies() == []
        assert not any(archive.store.directory.rglob("*.dcm"))


@pytest.mark.parametrize(("patient_id", "name", "birth", "sex", "word"), [
    ("", "DOE^JANE", "", "", "Patient ID"),
    ("P1", "", "", "", "Name"),
    ("P1", "DOE^JANE", "1980-01-01", "", "YYYYMMDD"),
    ("P1", "DOE^JANE", "19800231", "", "YYYYMMDD"),
    ("P1", "DOE^JANE", "29991231", "", "past"),
    ("P1", "DOE^JANE", "", "X", "M, F, O"),
    ("P\\1", "DOE^JANE", "", "", "backslash"),
    ("P" * 65, "DOE^JANE", "", "", "64"),
    ("P1", "A^B^C^D^E^F", "", "", "five"),
])
def test_typed_patient_is_validated(patient_id: str, name: str, birth: str, sex: str,
                                    word: str) -> None:
    with pytest.raises(OrderError, match=word):
        typed_order(patient_id, name, birth, sex)


def test_cli_typed_and_study_orders(tmp_path: Path, inputs: dict[str, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    import json

    archive_dir = str(tmp_path / "archive")
    assert main(["--archive", archive_dir, "dicomize", str(inputs["jpeg"]),
                 "--patient-id", "P-7", "--patient-name", "李^四", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["PatientName"] == "李^四" and first["source"] == "typed"
    study = first["StudyInstanceUID"]
    # a PDF added to that study: its patient data and character set from the stored file
    assert main(["--archive", archive_dir, "dicomize", str(inputs["pdf"]), "--study", study,
                 "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["StudyInstanceUID"] == study and second["PatientName"] == "李^四"
    with Archive(Path(archive_dir)) as archive:
        rows = archive.index.series(study)
        assert sorted((r.modality, r.series_number) for r in rows) == [("DOC", 2), ("XC", 1)]
        pdf = dcmread(archive.store.absolute(archive.index.instances(
            next(r.series_instance_uid for r in rows if r.modality == "DOC"))[0].store_path))
        assert pdf.SpecificCharacterSet == "ISO_IR 192" and pdf.PatientName == "李^四"
    assert main(["--archive", archive_dir, "dicomize", str(inputs["pdf"]), "--study",
                 "1.2.3.4.5"]) == 2
    assert "no such study" in capsys.readouterr().err
    assert main(["--archive", archive_dir, "dicomize", str(inputs["pdf"])]) == 2
    assert "give one of" in capsys.readouterr().err


def test_bytes_after_the_jpeg_end_are_not_kept(tmp_path: Path, inputs: dict[str, Path]) -> None:
    """A motion photo: a video appended after the JPEG's EOI marker. The JPEG is kept as it
    is, the rest is left out, and the user is told."""
    jpeg = inputs["jpeg"].read_bytes()
    motion = tmp_path / "motion.jpg"
    motion.write_bytes(jpeg + b"\0\0\0\x18ftypmp42" + bytes(range(256)) * 8)
    with Archive(tmp_path / "archive") as archive:
        report = dicomize_files([motion], typed_order("P-1", "DOE^JANE"), archive)
        assert len(report.warnings) == 1 and "not kept" in report.warnings[0]
        (instance,) = report.instances
        ds = dcmread(archive.store.absolute(instance.store_path))
        (frame,) = generate_frames(ds.PixelData, number_of_frames=1)
        assert jpeg.endswith(b"\xff\xd9")
        assert frame[:len(jpeg)] == jpeg and frame[len(jpeg):] in (b"", b"\0")


def test_send_to_a_node_that_does_not_answer_keeps_the_import(
        tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from tests.net.peers import free_port, write_config

    config = write_config(tmp_path / "config.toml", {"DOWN": ("NOBODY", free_port())},
                          connect=2.0)
    archive_dir = tmp_path / "archive"
    common = ["--config", str(config), "--archive", str(archive_dir), "dicomize",
              str(inputs["pdf"]), "--patient-id", "P-1", "--patient-name", "DOE^JANE"]
    # an unknown node is bad usage: found before anything is made
    assert main([*common, "--send", "NOSUCHNODE"]) == 2
    assert "NOSUCHNODE" in capsys.readouterr().err
    with Archive(archive_dir) as archive:
        assert archive.index.search_studies() == []
    # a node that does not answer: imported all the same, the send failure said, exit 1
    assert main([*common, "--send", "DOWN"]) == 1
    err = capsys.readouterr().err
    assert "imported, but not sent" in err and "Traceback" not in err
    with Archive(archive_dir) as archive:
        assert len(archive.index.search_studies()) == 1


@pytest.mark.parametrize(("source", "name", "written"), [
    (("ISO_IR 100",), "MÜLLER^JÜRGEN", ("ISO_IR 100",)),  # fits: the source's set kept
    (("ISO_IR 100",), "张^三", ("ISO_IR 192",)),  # cannot hold it: UTF-8
    (("", "ISO 2022 IR 87"), "ヤマダ^タロウ=山田^太郎", ("", "ISO 2022 IR 87")),
    ((), "DOE^JANE", ()),  # the default repertoire needs no declaration
])
def test_text_is_written_in_its_source_character_set(
        tmp_path: Path, inputs: dict[str, Path], source: tuple[str, ...], name: str,
        written: tuple[str, ...]) -> None:
    from dataclasses import replace

    from viewer.capture.order import writing_charset

    order = replace(typed_order("P-1", "DOE^JANE"), patient_name=name,
                    specific_character_set=source)
    assert writing_charset(order) == written
    with Archive(tmp_path / "archive") as archive:
        (instance,) = dicomize_files([inputs["pdf"]], order, archive).instances
        ds = dcmread(archive.store.absolute(instance.store_path))
        declared = ds.get("SpecificCharacterSet", ())
        assert (tuple(declared) if not isinstance(declared, str) else (declared,)) == written
        assert ds.PatientName == name


def test_a_turned_photo_is_kept_as_stored_and_the_user_told(tmp_path: Path) -> None:
    """A phone's portrait photo: pixels stored landscape, EXIF Orientation 6 (turn 90°).
    The bitstream is kept as it is, so the note says DICOM viewers will not turn it."""
    from tests.capture.conftest import photo

    exif = Image.Exif()
    exif[0x0112] = 6
    turned = tmp_path / "portrait.jpg"
    Image.fromarray(photo()).save(turned, exif=exif)
    with Archive(tmp_path / "archive") as archive:
        report = dicomize_files([turned], typed_order("P-1", "DOE^JANE"), archive)
        assert len(report.warnings) == 1 and "EXIF orientation (6)" in report.warnings[0]
        ds = dcmread(archive.store.absolute(report.instances[0].store_path))
        assert (ds.Rows, ds.Columns) == photo().shape[:2]
