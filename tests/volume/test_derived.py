"""viewer.volume.derived: a plane as a derived image other viewers open (issue 16 item 2, 5).

Volumes are built here from an analytic field of patient coordinates, so the modality value at
any pixel is known without our reslice; files are read back with pydicom and checked with DCMTK
(`dcmdump`, `dcmj2pnm`) and dicom3tools (`dciodvfy`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, MRImageStorage, SecondaryCaptureImageStorage

from tests.peers import require_tool
from viewer.volume.derived import plane_dataset, rescale_for, save_plane, slice_thickness
from viewer.volume.model import PLANES, Interpolation, Plane, SlabMode, Volume, covering_plane
from viewer.volume.reslice import reslice

FOR_UID = "1.2.826.0.1.3680043.8.498.1001"
STUDY_UID = "1.2.826.0.1.3680043.8.498.1002"
SERIES_UID = "1.2.826.0.1.3680043.8.498.1003"


def field(points: np.ndarray) -> np.ndarray:
    """A smooth field of patient points (mm): a ramp plus a bump, -700..+900 or so."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    return 3.0 * x - 2.0 * y + 1.5 * z + 400.0 * np.exp(-(x * x + y * y + z * z) / 400.0)


def make_volume(modality: str = "CT", dtype: str = "int16", scale: float = 1.0) -> Volume:
    """A 24x32x40 volume, 0.8 x 0.8 x 2.5 mm, rotated 20 degrees about z (an oblique
    acquisition), values field(point) * scale."""
    angle = np.radians(20.0)
    row = np.array([np.cos(angle), np.sin(angle), 0.0])
    col = np.array([-np.sin(angle), np.cos(angle), 0.0])
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = row * 0.8, col * 0.8, [0.0, 0.0, 2.5]
    affine[:3, 3] = (-15.0, -12.0, -30.0)
    k, j, i = np.meshgrid(np.arange(24), np.arange(32), np.arange(40), indexing="ij")
    points = np.stack([i, j, k], axis=-1) @ affine[:3, :3].T + affine[:3, 3]
    values = field(points) * scale
    voxels = np.rint(values).astype(np.int16) if dtype == "int16" else values.astype(dtype)
    volume = Volume(voxels, affine, FOR_UID, SERIES_UID, modality=modality,
                    units="HU" if modality == "CT" else "", padding=float(voxels.min()),
                    window=(40.0, 400.0))
    volume.filled[:] = True
    return volume


def source_header(modality: str = "CT", charset: str = "ISO_IR 192",
                  name: str = "张^三") -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    ds.PatientName = name
    ds.PatientID = "MPR-0001"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = STUDY_UID
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20261207", "101500", "7", "A7"
    ds.ReferringPhysicianName = ""
    ds.Modality = modality
    ds.SeriesInstanceUID = SERIES_UID
    ds.FrameOfReferenceUID = FOR_UID
    if modality != "MR":  # an MR without it: the derived image writes it empty (Type 2C)
        ds.PatientPosition = "HFS"
    if modality == "CT":
        ds.KVP = "120"
    if modality == "MR":
        ds.ScanningSequence, ds.SequenceVariant, ds.EchoTime = "SE", "NONE", "12"
    return ds


def write(tmp_path: Path, volume: Volume, plane: Plane, header: Dataset,
          name: str = "plane.dcm") -> tuple[Path, np.ndarray]:
    values = reslice(volume, plane)
    ds = plane_dataset(volume, plane, values, series_uid="1.2.826.0.1.3680043.8.498.1004",
                       series_number=901, instance_number=3, description="MPR test",
                       source=header)
    return save_plane(tmp_path / name, ds), values


def modality_values(path: Path) -> np.ndarray:
    ds = dcmread(path)
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def oblique_plane(volume: Volume, slab: float = 0.0) -> Plane:
    row, col = (0.8, 0.6, 0.0), (-0.168, 0.224, -0.96)  # double oblique, orthonormal
    plane = covering_plane(volume, row, col, center=(1.0, 2.0, -3.0), spacing=0.6)
    return Plane(plane.center, plane.row, plane.column, plane.spacing, 48, 40, slab,
                 SlabMode.AVERAGE if slab else SlabMode.MIP)


def test_ct_plane_geometry_and_values_round_trip(tmp_path: Path) -> None:
    volume = make_volume()
    plane = oblique_plane(volume)
    path, values = write(tmp_path, volume, plane, source_header())
    ds = dcmread(path)
    assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID == CTImageStorage
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY", "MPR"]
    assert (ds.Rows, ds.Columns) == (40, 48)
    # Image Position (Patient): the centre of pixel (0, 0), by the pixel convention
    expected = (np.array(plane.center) - 23.5 * 0.6 * np.array(plane.row)
                - 19.5 * 0.6 * np.array(plane.column))
    np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], expected, atol=1e-6)
    np.testing.assert_allclose([float(v) for v in ds.ImageOrientationPatient],
                               [0.8, 0.6, 0, -0.168, 0.224, -0.96], atol=1e-9)
    assert [float(v) for v in ds.PixelSpacing] == [0.6, 0.6]
    assert float(ds.SliceThickness) == 0.6 == slice_thickness(plane)  # thin: the spacing
    assert ds.FrameOfReferenceUID == FOR_UID and ds.StudyInstanceUID == STUDY_UID
    assert ds.SeriesInstanceUID != SERIES_UID and ds.SeriesNumber == 901
    assert ds.InstanceNumber == 3 and ds.Modality == "CT" and ds.KVP == 120
    # CT HU: slope 1 exactly; each stored value within half a HU of the resliced one
    assert (float(ds.RescaleSlope), ds.RescaleType) == (1.0, "HU")
    assert np.abs(modality_values(path) - values).max() <= 0.5
    # and the resliced values are the field at the pixels' patient points (linear, a few HU)
    r, c = np.meshgrid(np.arange(40), np.arange(48), indexing="ij")
    inside = values != volume.padding
    truth = field(plane.to_patient(r, c))
    assert inside.mean() > 0.5
    assert np.abs(values - truth)[inside].max() < 15.0


@pytest.mark.parametrize(
    ("charset", "name"),
    [("ISO_IR 192", "张^三"), ("ISO_IR 100", "Müller^Jürgen"),
     ("ISO 2022 IR 13\\ISO 2022 IR 87", "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎")],
    ids=["utf8", "latin1", "jis"],
)
def test_patient_text_keeps_its_character_set(tmp_path: Path, charset: str, name: str) -> None:
    volume = make_volume()
    header = source_header(charset=charset, name=name)
    header.SpecificCharacterSet = charset.split("\\") if "\\" in charset else charset
    path, _ = write(tmp_path, volume, covering_plane(volume, *PLANES["axial"]), header)
    ds = dcmread(path)
    assert ds.SpecificCharacterSet == header.SpecificCharacterSet
    assert str(ds.PatientName) == name
    if "2022" in charset:  # DCMTK here converts ISO 2022 IR 87 only with libicu, not iconv
        raw = dcmread(path)["PatientName"].value.original_string
        assert b"\x1b$B" in raw  # the JIS X 0208 escape sequence, as the source wrote it
        return
    dump = subprocess.run([require_tool("dcmdump"), "+U8", str(path)], capture_output=True,
                          text=True, check=True).stdout
    assert f"[{name}]" in dump


def test_slab_thickness_and_image_type(tmp_path: Path) -> None:
    volume = make_volume()
    plane = oblique_plane(volume, slab=10.0)
    path, values = write(tmp_path, volume, plane, source_header())
    ds = dcmread(path)
    assert float(ds.SliceThickness) == 10.0
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY", "MPR", "AVG"]
    assert "10 mm slab AVERAGE" in ds.DerivationDescription
    assert np.abs(modality_values(path) - values).max() <= 0.5


def test_float_values_round_trip_within_half_a_stored_unit(tmp_path: Path) -> None:
    volume = make_volume("MR", "float32", scale=0.001)  # a parametric map: -0.7 .. 0.9
    plane = oblique_plane(volume)
    path, values = write(tmp_path, volume, plane, source_header("MR"))
    ds = dcmread(path)
    assert ds.SOPClassUID == MRImageStorage
    slope = float(ds.RescaleSlope)
    assert slope < 1e-4  # the 16 bits span the range, not whole units
    assert np.abs(modality_values(path) - values).max() <= slope / 2 * 1.001
    assert (ds.ScanningSequence, ds.SequenceVariant) == ("SE", "NONE")


def test_other_modalities_are_secondary_capture(tmp_path: Path) -> None:
    volume = make_volume("PT", "float32", scale=10.0)
    path, values = write(tmp_path, volume, oblique_plane(volume), source_header("PT"))
    ds = dcmread(path)
    assert (ds.SOPClassUID, ds.Modality, ds.ConversionType) == (
        SecondaryCaptureImageStorage, "PT", "WSD")
    assert np.abs(modality_values(path) - values).max() <= float(ds.RescaleSlope) / 2 * 1.001


@pytest.mark.parametrize("modality", ["CT", "MR", "PT"])
def test_dicom_tools_accept_the_file(tmp_path: Path, modality: str) -> None:
    volume = make_volume(modality, "int16" if modality == "CT" else "float32")
    path, _ = write(tmp_path, volume, oblique_plane(volume, slab=4.0), source_header(modality))
    dump = subprocess.run([require_tool("dcmdump"), str(path)], check=False, capture_output=True,
                          text=True)
    assert dump.returncode == 0 and "(0020,0032)" in dump.stdout
    pgm = tmp_path / "plane.pgm"
    rendered = subprocess.run([require_tool("dcmj2pnm"), "+Wm", str(path), str(pgm)],
                              check=False, capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    assert pgm.read_bytes().startswith(b"P5\n48 40\n")
    verify = subprocess.run([require_tool("dciodvfy", "dicom3tools"), str(path)],
                            check=False, capture_output=True, text=True)
    errors = [line for line in (verify.stdout + verify.stderr).splitlines()
              if line.startswith("Error")]
    assert errors == [], "\n".join(errors)


def test_refusals_leave_nothing_behind(tmp_path: Path) -> None:
    volume = make_volume("PT", "float32")
    plane = oblique_plane(volume)
    values = reslice(volume, plane)
    values[3, 4] = np.nan
    kwargs = {"series_uid": "1.2.3", "series_number": 1, "instance_number": 1,
              "description": "x", "source": source_header("PT")}
    with pytest.raises(ValueError, match="not finite"):
        plane_dataset(volume, plane, values, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="48x40"):
        plane_dataset(volume, plane, values[:10], **kwargs)  # type: ignore[arg-type]
    good = plane_dataset(volume, plane, reslice(volume, plane, Interpolation.NEAREST),
                         **kwargs)  # type: ignore[arg-type]
    with pytest.raises(OSError):
        save_plane(tmp_path / "missing" / "plane.dcm", good)
    save_plane(tmp_path / "plane.dcm", good)
    assert [p.name for p in tmp_path.iterdir()] == ["plane.dcm"]


def test_rescale_choice() -> None:
    assert rescale_for(np.array([-1024.0, 3071.4]), integral=True) == (1.0, 0.0)
    slope, intercept = rescale_for(np.array([0.0, 60000.0]), integral=True)  # PET Bq/ml
    assert slope == 1.0 and 0.0 - intercept >= -32768 and 60000 - intercept <= 32767
    slope, _ = rescale_for(np.array([0.0, 70000.0]), integral=True)  # wider than 16 bits
    assert slope == pytest.approx(70000 / 65534)
    slope, intercept = rescale_for(np.array([2.0, 2.0]), integral=False)
    assert (slope, intercept) == (1.0, 2.0)
