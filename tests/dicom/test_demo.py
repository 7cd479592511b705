"""The synthetic CT series and its re-encoding by DCMTK, GDCM and OpenJPH."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from tests.peers import require_tool
from viewer.dicom import demo

ROWS = COLS = 128
SLICES = 4

# The command line tool each syntax needs (the first word of its command).
TOOLS: dict[str, str] = {
    "explicit-le": "dcmconv", "implicit-le": "dcmconv", "big-endian": "dcmconv",
    "deflate": "dcmconv", "rle": "dcmcrle", "jpeg-baseline": "dcmcjpeg",
    "jpeg-extended": "dcmcjpeg", "jpeg-lossless": "dcmcjpeg", "jpeg-lossless-sv1": "dcmcjpeg",
    "jpeg-ls": "dcmcjpls", "jpeg-ls-near": "dcmcjpls", "j2k": "gdcmconv",
    "j2k-lossy": "gdcmconv", "htj2k": "ojph_compress", "htj2k-lossy": "ojph_compress",
}
PACKAGES = {"gdcmconv": "libgdcm-tools", "ojph_compress": "openjph-tools"}


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return demo.write_ct_series(tmp_path_factory.mktemp("ct"), SLICES, ROWS, COLS)


def _hu(path: Path) -> np.ndarray:
    ds = dcmread(path)
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def _pixel(norm_x: float, norm_y: float) -> tuple[int, int]:
    """(row, column) of a point in the phantom's normalised coordinates."""
    half = max(ROWS, COLS) / 2.0
    return int(norm_y * half + ROWS / 2.0), int(norm_x * half + COLS / 2.0)


def test_header_and_geometry(series: list[Path]) -> None:
    assert [p.name for p in series] == [f"CT{i:04d}.dcm" for i in range(1, SLICES + 1)]
    datasets = [dcmread(p) for p in series]
    for p in series:
        assert p.read_bytes()[128:132] == b"DICM"  # PS3.10 preamble and prefix
    zs = [float(ds.ImagePositionPatient[2]) for ds in datasets]
    assert np.allclose(np.diff(zs), -1.0)
    for number, ds in enumerate(datasets, start=1):
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.SOPClassUID == CTImageStorage == ds.file_meta.MediaStorageSOPClassUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.InstanceNumber == number
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert [float(v) for v in ds.PixelSpacing] == [0.7, 0.7]
        assert float(ds.SliceLocation) == float(ds.ImagePositionPatient[2])
        # The image centre lies on the z axis.
        assert float(ds.ImagePositionPatient[0]) == pytest.approx(-(COLS - 1) / 2 * 0.7)
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (
            16, 12, 11, 0,
        )
        assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (1.0, -1024.0)
        assert [float(v) for v in ds.WindowCenter] == [40, -600]
        assert [float(v) for v in ds.WindowWidth] == [400, 1500]
        assert list(ds.WindowCenterWidthExplanation) == ["ABDOMEN", "LUNG"]
        assert ds.pixel_array.max() < 4096
    assert len({ds.SOPInstanceUID for ds in datasets}) == SLICES
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
    assert len({ds.FrameOfReferenceUID for ds in datasets}) == 1


def test_hounsfield_units_where_the_anatomy_is(series: list[Path]) -> None:
    top, upper_abdomen = _hu(series[0]), _hu(series[2])  # t = 0 and t = 2/3

    def at(img: np.ndarray, x: float, y: float) -> float:
        r, c = _pixel(x, y)
        return float(np.median(img[r - 1 : r + 2, c - 1 : c + 2]))

    assert at(top, -0.95, -0.9) == pytest.approx(-1000, abs=40)  # air outside the body
    assert at(top, -0.36, 0.02) == pytest.approx(-860, abs=40)  # right lung
    assert at(top, 0.0, 0.38) == pytest.approx(280, abs=40)  # vertebral body
    assert at(top, 0.05, 0.22) == pytest.approx(180, abs=40)  # contrast-filled aorta
    assert at(upper_abdomen, -0.33, 0.02) == pytest.approx(60, abs=40)  # liver
    assert at(upper_abdomen, 0.0, 0.51) == pytest.approx(15, abs=40)  # spinal canal
    # Lungs are gone in the abdomen; the liver is not yet there at the top.
    assert at(upper_abdomen, 0.37, 0.02) > -200
    assert at(top, -0.33, 0.02) < -700
    # A little noise, not a flat cartoon.
    assert 3.0 < float(np.std(top[:10, :10])) < 30.0


def test_same_seed_same_pixels(tmp_path: Path) -> None:
    a = demo.write_ct_series(tmp_path / "a", 2, 64, 64, seed=7)
    b = demo.write_ct_series(tmp_path / "b", 2, 64, 64, seed=7)
    c = demo.write_ct_series(tmp_path / "c", 2, 64, 64, seed=8)
    assert np.array_equal(_hu(a[1]), _hu(b[1]))
    assert not np.array_equal(_hu(a[1]), _hu(c[1]))


def test_non_ascii_patient_name_declares_utf8(tmp_path: Path) -> None:
    path = demo.write_ct_series(tmp_path, 1, 16, 16, patient_name="山田^太郎")[0]
    ds = dcmread(path)
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == "山田^太郎"


def test_a_full_size_series_is_fast(tmp_path: Path) -> None:
    # 300 slices of 512x512 take ~2.5 s; 30 slices must take well under a second here.
    start = time.perf_counter()
    paths = demo.write_ct_series(tmp_path, 30, 512, 512)
    assert len(paths) == 30
    assert time.perf_counter() - start < 5.0


def test_transfer_syntax_table_has_real_uids() -> None:
    from pydicom.uid import UID

    assert set(demo.TRANSFER_SYNTAXES) == set(TOOLS)
    for name, uid in demo.TRANSFER_SYNTAXES.items():
        assert UID(uid).is_transfer_syntax, name
        assert UID(uid).is_compressed == (name not in {
            "explicit-le", "implicit-le", "big-endian", "deflate"}), name
    assert demo.LOSSLESS < set(demo.TRANSFER_SYNTAXES)


def _decode_hu(path: Path, tmp: Path) -> np.ndarray:
    """Decoded HU; 12-bit JPEG Extended, which pydicom's BSD plugins refuse, via DCMTK."""
    ds = dcmread(path, stop_before_pixels=True)
    if ds.file_meta.TransferSyntaxUID == demo.TRANSFER_SYNTAXES["jpeg-extended"]:
        out = tmp / f"dec-{path.name}"
        subprocess.run(
            [require_tool("dcmdjpeg", "dcmtk"), str(path), str(out)], check=True, timeout=60,
        )
        return _hu(out)
    return _hu(path)


@pytest.mark.parametrize("syntax", sorted(demo.TRANSFER_SYNTAXES))
def test_transcode(syntax: str, series: list[Path], tmp_path: Path) -> None:
    tool = TOOLS[syntax]
    require_tool(tool, PACKAGES.get(tool, "dcmtk"))
    out = demo.transcode(series, syntax, tmp_path / syntax)
    assert [p.name for p in out] == [p.name for p in series]
    for src, dst in zip(series, out, strict=True):
        ds = dcmread(dst)
        assert ds.file_meta.TransferSyntaxUID == demo.TRANSFER_SYNTAXES[syntax]
        assert ds.SOPClassUID == CTImageStorage
        original = _hu(src)
        decoded = _decode_hu(dst, tmp_path)
        assert decoded.shape == original.shape
        if syntax in demo.LOSSLESS:
            assert np.array_equal(decoded, original), f"{syntax} is not lossless on {dst.name}"
            continue
        assert ds.get("LossyImageCompression") == "01"
        error = np.abs(decoded - original)
        assert 0 < error.mean() < 25.0, f"{syntax}: mean error {error.mean():.1f} HU"


def test_htj2k_wraps_the_tools_codestream(series: list[Path], tmp_path: Path) -> None:
    require_tool("ojph_compress", "openjph-tools")
    from pydicom.encaps import generate_fragmented_frames

    out = demo.transcode(series[:1], "htj2k", tmp_path)[0]
    ds = dcmread(out)
    frames = list(generate_fragmented_frames(ds.PixelData, number_of_frames=1))
    codestream = b"".join(frames[0])
    assert codestream[:4] == b"\xff\x4f\xff\x51"  # SOC then SIZ (ITU-T T.800 A.4)
    assert b"\xff\x50" in codestream[:200]  # CAP marker: High-Throughput (T.814)


def test_transcode_errors_name_the_tool(tmp_path: Path) -> None:
    require_tool("dcmconv", "dcmtk")
    bogus = tmp_path / "not-dicom.dcm"
    bogus.write_bytes(b"this is not DICOM" * 20)
    with pytest.raises(demo.TranscodeError, match="dcmconv"):
        demo.transcode([bogus], "implicit-le", tmp_path / "out")
    with pytest.raises(ValueError, match="syntax must be one of"):
        demo.transcode([bogus], "jpeg-xl", tmp_path / "out")


@pytest.mark.parametrize("name", ["SC_rgb_2frame.dcm", "SC_rgb_16bit_2frame.dcm"])
def test_htj2k_colour_is_lossless(name: str, tmp_path: Path) -> None:
    require_tool("ojph_compress", "openjph-tools")
    from pydicom.data import get_testdata_file

    src = Path(str(get_testdata_file(name)))
    out = demo.transcode([src], "htj2k", tmp_path)[0]
    ds = dcmread(out)
    assert ds.file_meta.TransferSyntaxUID == demo.TRANSFER_SYNTAXES["htj2k"]
    assert np.array_equal(ds.pixel_array, dcmread(src).pixel_array)


def test_htj2k_refuses_signed_pixels(tmp_path: Path) -> None:
    require_tool("ojph_compress", "openjph-tools")
    from pydicom.data import get_testdata_file

    signed = Path(str(get_testdata_file("MR_small.dcm")))  # Pixel Representation 1
    with pytest.raises(demo.TranscodeError, match="unsigned"):
        demo.transcode([signed], "htj2k", tmp_path)
