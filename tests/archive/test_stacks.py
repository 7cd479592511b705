"""Stacks from the index alone (schema 002): geometry indexed on import and by `check --repair`,
build_stacks' reading order without opening a file, the upgrade of a version 1 index, and the
time it takes to open a 1,000-instance series."""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from tests.dicom.makers import image_dataset, save
from viewer.archive.archive import INDEX_NAME, Archive
from viewer.archive.check import check_archive
from viewer.archive.importer import import_paths
from viewer.archive.index import Index, default_schema_dir, schema_steps
from viewer.archive.records import IMAGER_PIXEL_SPACING, InstanceRecord, StackRow
from viewer.archive.stacks import reading_order, series_stack, study_stacks
from viewer.archive.store import InstanceKey, relative_path
from viewer.dicom.demo import write_ct_series
from viewer.dicom.geometry import position_along_normal
from viewer.dicom.stack import Stack, build_stacks

# An oblique orientation whose cosines use all 16 characters a DS allows: read back exactly?
TILTED = ["1", "0", "0", "0", "0.99619469809175", "0.08715574274766"]

NEWEST = schema_steps(default_schema_dir())[-1].version  # an upgrade ends at the newest step


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive(tmp_path / "archive") as opened:
        yield opened


def _floats(value: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in value)


def _ct_folder(folder: Path, slices: int = 12) -> list[Path]:
    """A synthetic CT series tilted, with Instance Numbers that disagree with the positions
    and shuffled, meaningless file names: only the geometry gives the reading order."""
    written = write_ct_series(folder / "written", slices=slices, rows=16, columns=16)
    numbers = list(range(1, slices + 1))
    random.Random(7).shuffle(numbers)
    names = [f"{n:08x}" for n in random.Random(8).sample(range(1 << 32), slices)]
    out = []
    for path, number, name in zip(written, numbers, names, strict=True):
        ds = dcmread(path)
        ds.InstanceNumber = number
        ds.ImageOrientationPatient = TILTED
        out.append(save(ds, folder / name))
    shutil.rmtree(folder / "written")
    return out


def test_imported_ct_series_has_file_geometry_and_build_stacks_order(
    tmp_path: Path, archive: Archive
) -> None:
    files = _ct_folder(tmp_path / "src")
    report = import_paths(archive, [tmp_path / "src"])
    assert len(report.imported) == len(files) and report.ok
    by_sop = {}
    for path in files:
        ds = dcmread(path)
        by_sop[ds.SOPInstanceUID] = ds
        row = archive.index.get_instance(ds.SOPInstanceUID)
        assert row is not None
        assert (row.rows, row.columns) == (ds.Rows, ds.Columns) == (16, 16)
        assert row.image_position == _floats(ds.ImagePositionPatient)  # exact, not approx
        assert row.image_orientation == _floats(ds.ImageOrientationPatient)
        assert row.image_orientation is not None
        assert row.image_orientation[4] == 0.99619469809175
        assert row.pixel_spacing == _floats(ds.PixelSpacing)
        assert row.spacing_source == ""
        assert row.slice_thickness == float(ds.SliceThickness)
        assert row.slice_location == float(ds.SliceLocation)
        assert row.frame_of_reference_uid == ds.FrameOfReferenceUID
        assert row.lossy is None and "LossyImageCompression" not in ds
        assert row.as_json()["ImagePositionPatient"] == list(row.image_position or ())
    series_uid = next(iter(by_sop.values())).SeriesInstanceUID

    stack = series_stack(archive, series_uid)
    assert stack is not None
    stored_order = [dcmread(path, stop_before_pixels=True).SOPInstanceUID
                    for path, _ in stack.frames]
    # build_stacks over the very files the stack names, and over the original files
    (expected,), errors = build_stacks(Path(p) for p, _ in stack.frames)
    assert not errors and expected.frames == stack.frames
    (original,), _ = build_stacks(files)
    original_order = [dcmread(p, stop_before_pixels=True).SOPInstanceUID
                      for p, _ in original.frames]
    assert stored_order == original_order
    # head first: positions along the normal decrease; instance numbers alone would not do it
    along = [position_along_normal(by_sop[u].ImagePositionPatient, TILTED) for u in stored_order]
    assert along == sorted(along, reverse=True)
    assert [by_sop[u].InstanceNumber for u in stored_order] != sorted(
        by_sop[u].InstanceNumber for u in stored_order
    )
    assert all(Path(p).is_relative_to(archive.root) and i == 0 for p, i in stack.frames)

    assert len(stack.geometry) == len(stack.frames)
    for geometry, uid in zip(stack.geometry, stored_order, strict=True):
        ds = by_sop[uid]
        assert geometry is not None
        assert geometry.position == _floats(ds.ImagePositionPatient)
        assert geometry.orientation == _floats(TILTED)
        assert geometry.pixel_spacing == _floats(ds.PixelSpacing)
        assert geometry.slice_location == float(ds.SliceLocation)
        assert geometry.frame_of_reference_uid == ds.FrameOfReferenceUID
        assert (geometry.rows, geometry.columns, geometry.spacing_source) == (16, 16, "")
    ds = by_sop[stored_order[0]]
    info = stack.info
    assert info.patient_name == str(ds.PatientName) == "DEMO^CT"
    assert (info.patient_id, info.study_date, info.study_time) == (
        ds.PatientID, ds.StudyDate, ds.StudyTime
    )
    assert info.study_description == ds.StudyDescription
    assert (info.series_number, info.series_description, info.modality) == (
        int(ds.SeriesNumber), ds.SeriesDescription, "CT"
    )
    assert stack.description == ds.SeriesDescription


def test_multi_frame_and_imager_spacing(tmp_path: Path, archive: Archive) -> None:
    study = generate_uid()
    cine = image_dataset(
        np.zeros((5, 8, 8), dtype=np.uint16), StudyInstanceUID=study, Modality="XA",
        SeriesNumber=2, ImagerPixelSpacing=["0.2", "0.25"], LossyImageCompression="01",
        ImagePositionPatient=["1.5", "2.5", "3.5"], ImageOrientationPatient=TILTED,
    )
    single = image_dataset(
        np.zeros((8, 8), dtype=np.uint16), StudyInstanceUID=study, SeriesNumber=1,
        LossyImageCompression="00",
    )
    save(cine, tmp_path / "cine")
    save(single, tmp_path / "single")
    assert import_paths(archive, [tmp_path / "cine", tmp_path / "single"]).ok

    row = archive.index.get_instance(cine.SOPInstanceUID)
    assert row is not None and row.number_of_frames == 5
    assert (row.pixel_spacing, row.spacing_source, row.lossy) == (
        (0.2, 0.25), IMAGER_PIXEL_SPACING, True
    )
    assert row.as_json()["ImagerPixelSpacing"] == [0.2, 0.25]
    assert row.as_json()["PixelSpacing"] is None
    stack = series_stack(archive, cine.SeriesInstanceUID)
    assert stack is not None
    assert [i for _, i in stack.frames] == [0, 1, 2, 3, 4]
    assert len({p for p, _ in stack.frames}) == 1
    first, *later = stack.geometry
    assert first is not None and first.position == (1.5, 2.5, 3.5)
    assert first.spacing_source == IMAGER_PIXEL_SPACING and first.pixel_spacing == (0.2, 0.25)
    for geometry in later:  # the index knows the first frame's position only
        assert geometry is not None and geometry.position is None
        assert geometry.orientation == first.orientation and geometry.rows == 8

    single_row = archive.index.get_instance(single.SOPInstanceUID)
    assert single_row is not None and single_row.lossy is False
    assert single_row.image_position is None and single_row.pixel_spacing is None
    single_stack = series_stack(archive, single.SeriesInstanceUID)
    assert single_stack is not None
    (geometry,) = single_stack.geometry
    assert geometry is not None and geometry.position is None and geometry.rows == 8

    # series by Series Number: the single image (1) before the cine (2)
    assert [s.series_uid for s in study_stacks(archive, study)] == [
        single.SeriesInstanceUID, cine.SeriesInstanceUID
    ]


def test_check_repair_reindexes_geometry(tmp_path: Path, archive: Archive) -> None:
    files = _ct_folder(tmp_path / "src", slices=3)
    assert import_paths(archive, files).ok
    ds = dcmread(files[0])
    path = archive.index.remove_instance(ds.SOPInstanceUID)  # the file stays: an orphan
    assert path is not None and archive.store.absolute(path).exists()
    report = check_archive(archive, repair=True)
    assert report.reindexed == [path]
    row = archive.index.get_instance(ds.SOPInstanceUID)
    assert row is not None
    assert row.image_position == _floats(ds.ImagePositionPatient)
    assert row.image_orientation == _floats(TILTED)
    assert (row.rows, row.columns, row.slice_location) == (16, 16, float(ds.SliceLocation))


# --- rows made directly ----------------------------------------------------------------------

STUDY, SERIES = "1.2.826.0.1.3680043.9.1", "1.2.826.0.1.3680043.9.1.1"


def _record(n: int, series: str = SERIES, **changes: Any) -> InstanceRecord:
    sop = f"{series}.{n}"
    record = InstanceRecord(
        patient_name="Zhang^San=张^三", patient_id="P1", patient_birth_date="19700101",
        patient_sex="M", study_instance_uid=STUDY, study_date="20240131",
        study_time="101500", study_description="CT chest", accession_number="A1",
        referring_physician_name="", series_instance_uid=series, modality="CT",
        series_number=3, series_description="axial", sop_instance_uid=sop,
        sop_class_uid=CTImageStorage, transfer_syntax_uid=ExplicitVRLittleEndian,
        instance_number=n, number_of_frames=1,
        store_path=relative_path(InstanceKey(STUDY, series, sop)), size=1000, sha256="0" * 64,
    )
    return replace(record, **changes)


def _with_geometry(n: int, z: float, **changes: Any) -> InstanceRecord:
    geometry: dict[str, Any] = {
        "rows": 512, "columns": 512, "image_position": (-175.0, -175.0, z),
        "image_orientation": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), "pixel_spacing": (0.7, 0.7),
        "slice_thickness": 1.0, "slice_location": z, "frame_of_reference_uid": "1.2.3.4",
        "lossy": False,
    }
    return replace(_record(n), **(geometry | changes))


def _sop_order(stack: Stack) -> list[str]:
    return [Path(p).name for p, _ in stack.frames]


def _name(n: int, series: str = SERIES) -> str:
    return Path(relative_path(InstanceKey(STUDY, series, f"{series}.{n}"))).name


def test_upgrade_from_version_1_keeps_rows_without_geometry(tmp_path: Path) -> None:
    v1 = tmp_path / "schema_v1"
    v1.mkdir()
    shutil.copy(Path(str(default_schema_dir())) / "001_initial.sql", v1)
    root = tmp_path / "archive"
    root.mkdir()
    Index(root / INDEX_NAME, schema_dir=v1).close()
    db = sqlite3.connect(root / INDEX_NAME)  # rows as the version 1 program wrote them
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.execute("INSERT INTO patients (id, patient_id, name, name_key) VALUES (1, 'P1', 'A', 'a')")
    db.execute(
        """INSERT INTO studies (id, study_uid, patient_ref, series_count, instance_count)
           VALUES (1, ?, 1, 1, 3)""", (STUDY,),
    )
    db.execute(
        """INSERT INTO series (id, series_uid, study_ref, series_number, instance_count)
           VALUES (1, ?, 1, 3, 3)""", (SERIES,),
    )
    for n in (3, 1, 2):
        r = _record(n)
        db.execute(
            """INSERT INTO instances (sop_instance_uid, series_ref, sop_class_uid,
                   transfer_syntax_uid, instance_number, frames, store_path, size_bytes, sha256,
                   imported_at) VALUES (?, 1, ?, ?, ?, 1, ?, 1000, ?, '2024-01-01T00:00:00Z')""",
            (r.sop_instance_uid, r.sop_class_uid, r.transfer_syntax_uid, n, r.store_path,
             r.sha256),
        )
    db.commit()
    db.close()

    with Archive(root) as archive:
        assert archive.index.schema_version == NEWEST
        row = archive.index.get_instance(f"{SERIES}.1")
        assert row is not None and row.instance_number == 1 and row.sha256 == "0" * 64
        assert (row.rows, row.columns, row.image_position, row.image_orientation) == (
            None, None, None, None
        )
        assert (row.pixel_spacing, row.slice_thickness, row.lossy) == (None, None, None)
        assert (row.spacing_source, row.frame_of_reference_uid) == ("", "")
        stack = series_stack(archive, SERIES)  # no file exists: the index alone is read
        assert stack is not None
        assert _sop_order(stack) == [_name(1), _name(2), _name(3)]
        assert stack.geometry == [None, None, None]
        # a new row with geometry beside the old ones: not every row has a position, so the
        # series still sorts by Instance Number
        archive.index.add_instance(_with_geometry(0, z=-50.0))
        stack = series_stack(archive, SERIES)
        assert stack is not None
        assert _sop_order(stack) == [_name(0), _name(1), _name(2), _name(3)]
        assert stack.geometry[0] is not None and stack.geometry[0].position == (-175, -175, -50)
        assert stack.geometry[1:] == [None, None, None]


def test_fallback_to_instance_number_then_uid_and_missing_left_out(archive: Archive) -> None:
    index = archive.index
    for n, number in ((1, 2), (2, 1), (3, 2), (4, None), (5, 3)):
        index.add_instance(_record(n, instance_number=number))
    index.mark_missing(f"{SERIES}.5")
    stack = series_stack(archive, SERIES)
    assert stack is not None
    # build_stacks counts a missing Instance Number as 0; equal numbers go by SOP Instance UID
    assert _sop_order(stack) == [_name(4), _name(2), _name(1), _name(3)]
    assert stack.info.patient_name == "Zhang^San=张^三" and stack.info.series_number == 3
    for n in (1, 2, 3, 4):
        index.mark_missing(f"{SERIES}.{n}")
    assert series_stack(archive, SERIES) is None
    assert study_stacks(archive, STUDY) == []
    assert series_stack(archive, "1.2.3.404") is None


def test_study_stacks_by_series_number_then_description(archive: Archive) -> None:
    series = {
        "1.2.9.1": (2, "b"), "1.2.9.2": (None, "a"), "1.2.9.3": (1, "z"), "1.2.9.4": (2, "a"),
    }
    for uid, (number, description) in series.items():
        archive.index.add_instance(
            _record(1, series=uid, series_number=number, series_description=description)
        )
    stacks = study_stacks(archive, STUDY)
    assert [s.series_uid for s in stacks] == ["1.2.9.3", "1.2.9.4", "1.2.9.1", "1.2.9.2"]
    assert [s.info.series_description for s in stacks] == ["z", "a", "b", "a"]


def test_reading_order_is_position_along_normal_head_first() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        row_dir = rng.normal(size=3)
        col_dir = np.cross(row_dir, rng.normal(size=3))
        r, c = [float(v) for v in row_dir], [float(v) for v in col_dir]
        iop = (r[0], r[1], r[2], c[0], c[1], c[2])
        rows: list[StackRow] = []
        positions: dict[str, tuple[float, float, float]] = {}
        for k in range(30):
            x, y, z = (float(v) for v in rng.normal(scale=100, size=3))
            uid = f"1.2.{k}"
            positions[uid] = (x, y, z)
            if k % 7 == 0 and rows:  # duplicates: Instance Number, then UID decide
                positions[uid] = positions[rows[-1].sop_instance_uid]
            rows.append(StackRow(
                uid, int(rng.integers(0, 5)), 1, "", 8, 8, positions[uid], iop,
                None, "", None, None, "",
            ))
        expected = sorted(rows, key=lambda r: (
            -position_along_normal(positions[r.sop_instance_uid], iop),
            r.instance_number or 0, r.sop_instance_uid,
        ))
        assert reading_order(rows) == expected
    # an orientation without a normal (parallel cosines) sorts by Instance Number
    parallel = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    flat = [StackRow(f"1.{k}", 9 - k, 1, "", 8, 8, (0.0, 0.0, float(k)), parallel,
                     None, "", None, None, "") for k in range(3)]
    assert [r.sop_instance_uid for r in reading_order(flat)] == ["1.2", "1.1", "1.0"]


def test_opening_1000_instances_takes_milliseconds(archive: Archive) -> None:
    count = 1000
    order = list(range(count))
    random.Random(3).shuffle(order)  # indexed in random order
    for n in order:
        archive.index.add_instance(_with_geometry(n, z=-0.625 * n, instance_number=count - n))
    t0 = time.perf_counter()
    stack = series_stack(archive, SERIES)
    first = time.perf_counter() - t0
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        series_stack(archive, SERIES)
        runs.append(time.perf_counter() - t0)
    print(f"\nseries_stack of {count} instances: first {first * 1000:.1f} ms, "
          f"best {min(runs) * 1000:.1f} ms, median {sorted(runs)[2] * 1000:.1f} ms")
    assert stack is not None and len(stack.frames) == count
    assert _sop_order(stack) == [_name(n) for n in range(count)]  # z falls with n: head first
    assert stack.geometry[-1] is not None and stack.geometry[-1].slice_location == -624.375
    assert first < 0.1  # typically a few ms: see the printed numbers


def test_heads_are_the_stacks_first_frames(tmp_path: Path) -> None:
    """The quick first-frame query agrees with the full reading order: by position (shuffled
    instance numbers), by instance number when positions are missing."""
    from viewer.archive.stacks import study_heads

    with Archive(tmp_path / "archive") as archive:
        folder = tmp_path / "src"
        paths = write_ct_series(folder / "a", 12, 16, 16)
        study = str(dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID)
        rng = random.Random(3)
        numbers = list(range(1, 13))
        rng.shuffle(numbers)
        for path, number in zip(paths, numbers, strict=True):
            ds = dcmread(path)
            ds.InstanceNumber = number
            ds.save_as(path)
        flat = write_ct_series(folder / "b", 5, 16, 16, study_uid=study, series_number=2)
        for n, path in enumerate(flat):
            ds = dcmread(path)
            del ds.ImagePositionPatient  # no geometry: instance number order
            ds.InstanceNumber = 5 - n
            ds.save_as(path)
        report = import_paths(archive, [folder])
        assert report.ok and len(report.imported) == 17
        stacks = study_stacks(archive, study)
        heads = study_heads(archive, study)
        assert [h.frames for h in heads] == [s.frames[:1] for s in stacks]
        assert [h.geometry for h in heads] == [s.geometry[:1] for s in stacks]
        assert [h.total_frames for h in heads] == [12, 5]
        assert all(s.expected_frames == 0 for s in stacks)
        assert Path(stacks[1].frames[0][0]).read_bytes() == flat[-1].read_bytes()


def test_upgrade_from_version_2_fills_the_reading_keys(tmp_path: Path) -> None:
    """Rows indexed with geometry before schema 003 get their reading key during the upgrade,
    so the first-image seek agrees with the full reading order at once."""
    from viewer.archive.stacks import study_heads

    v2 = tmp_path / "schema_v2"
    v2.mkdir()
    for name in ("001_initial.sql", "002_instance_geometry.sql"):
        shutil.copy(Path(str(default_schema_dir())) / name, v2)
    root = tmp_path / "archive"
    root.mkdir()
    Index(root / INDEX_NAME, schema_dir=v2).close()
    db = sqlite3.connect(root / INDEX_NAME)  # rows as the version 2 program wrote them
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.execute("INSERT INTO patients (id, patient_id, name, name_key) VALUES (1, 'P1', 'A', 'a')")
    db.execute("INSERT INTO studies (id, study_uid, patient_ref, series_count, instance_count) "
               "VALUES (1, ?, 1, 1, 3)", (STUDY,))
    db.execute("INSERT INTO series (id, series_uid, study_ref, series_number, instance_count) "
               "VALUES (1, ?, 1, 3, 3)", (SERIES,))
    # Instance numbers against the anatomy: instance 3 is the most superior (z = 30).
    for n, z in ((1, 10.0), (2, 20.0), (3, 30.0)):
        r = _record(n)
        db.execute(
            """INSERT INTO instances (sop_instance_uid, series_ref, sop_class_uid,
                   transfer_syntax_uid, instance_number, frames, store_path, size_bytes, sha256,
                   imported_at, position_x, position_y, position_z, orientation_row_x,
                   orientation_row_y, orientation_row_z, orientation_col_x, orientation_col_y,
                   orientation_col_z)
               VALUES (?, 1, ?, ?, ?, 1, ?, 1000, ?, '2024-01-01T00:00:00Z', 0, 0, ?,
                       1, 0, 0, 0, 1, 0)""",
            (r.sop_instance_uid, r.sop_class_uid, r.transfer_syntax_uid, n, r.store_path,
             r.sha256, z),
        )
    db.commit()
    db.close()
    with Archive(root) as archive:
        assert archive.index.schema_version == NEWEST
        stack = series_stack(archive, SERIES)
        [head] = study_heads(archive, STUDY)
        assert stack is not None and head.frames == stack.frames[:1]
        assert head.frames[0][0].endswith(_record(3).store_path.rsplit("/", 1)[1])
