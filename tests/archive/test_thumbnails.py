"""Series thumbnails: made through the display pipeline, cached, remade when stale."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import generate_uid

from tests.dicom.makers import image_dataset, save
from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.archive.thumbnails import SIZE, ThumbnailError, thumbnail
from viewer.dicom import display


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive(tmp_path / "archive") as opened:
        yield opened


def _grey_series(folder: Path, count: int, series: str, rows: int = 40, cols: int = 80) -> None:
    """`count` instances; instance n is a flat image of value n*100 (frames of a multi-frame
    middle instance differ too), so the picture tells which instance was used."""
    folder.mkdir(parents=True, exist_ok=True)
    study = generate_uid()
    for n in range(1, count + 1):
        pixels = np.full((rows, cols), n * 100, dtype=np.uint16)
        # one window for the series, so each instance shows as its own grey
        ds = image_dataset(pixels, StudyInstanceUID=study, SeriesInstanceUID=series,
                           InstanceNumber=n, WindowCenter=500, WindowWidth=1000)
        save(ds, folder / f"IM{n}")


def test_grey_thumbnail_is_the_middle_instance_scaled(tmp_path: Path, archive: Archive) -> None:
    series = generate_uid()
    _grey_series(tmp_path / "src", 5, series)
    import_paths(archive, [tmp_path / "src"])
    out = thumbnail(archive, series)
    digest = hashlib.sha256(series.encode()).hexdigest()
    assert out == archive.root / "thumbnails" / f"{digest}.png"
    with Image.open(out) as image:
        assert image.size == (SIZE, SIZE // 2) and image.mode == "L"  # 80x40 -> 128x64
        pixels = np.asarray(image)
    # the pipeline's picture of instance 3 (the middle of 5), resized: one flat grey
    greys = [
        int(display.render_frame(archive.store.absolute(row.store_path))[0, 0])
        for row in archive.index.instances(series)
    ]
    assert len(set(greys)) == 5
    assert np.unique(pixels).tolist() == [greys[2]]


def test_cached_then_remade_when_deleted_or_count_changes(tmp_path: Path, archive: Archive) -> None:
    series = generate_uid()
    _grey_series(tmp_path / "src", 2, series)
    import_paths(archive, [tmp_path / "src"])
    out = thumbnail(archive, series)
    old = out.stat().st_mtime_ns - 10**9
    os.utime(out, ns=(old, old))  # so that a rewrite shows on any file-system clock
    calls: list[object] = []
    real = display.render_frame

    def counting(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    import viewer.dicom.display as module

    module.render_frame = counting  # type: ignore[assignment]
    try:
        assert thumbnail(archive, series) == out
        assert out.stat().st_mtime_ns == old and calls == []  # cached: not rendered again
        out.unlink()
        assert thumbnail(archive, series).exists() and len(calls) == 1
        old = out.stat().st_mtime_ns - 10**9
        os.utime(out, ns=(old, old))
        ds = image_dataset(np.zeros((4, 4), dtype=np.uint16), SeriesInstanceUID=series,
                           StudyInstanceUID=archive.index.instances(series)[0].study_instance_uid,
                           InstanceNumber=3)
        save(ds, tmp_path / "IM3")
        import_paths(archive, [tmp_path / "IM3"])
        thumbnail(archive, series)
        assert out.stat().st_mtime_ns != old and len(calls) == 2  # count 2 -> 3: remade
    finally:
        module.render_frame = real  # type: ignore[assignment]
    assert not [p for p in out.parent.iterdir() if p != out]  # no temporary file left


def test_colour_thumbnail(tmp_path: Path, archive: Archive) -> None:
    rgb = np.zeros((30, 60, 3), dtype=np.uint8)
    rgb[..., 0] = 200  # red
    rgb[:, 30:, 2] = 255  # right half magenta
    ds = image_dataset(np.zeros((30, 60), dtype=np.uint8))
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.PixelData = rgb.tobytes()
    save(ds, tmp_path / "colour.dcm")
    import_paths(archive, [tmp_path / "colour.dcm"])
    with Image.open(thumbnail(archive, str(ds.SeriesInstanceUID))) as image:
        assert image.mode == "RGB" and image.size == (SIZE, SIZE // 2)
        pixels = np.asarray(image)
    assert tuple(pixels[32, 10]) == (200, 0, 0)
    assert tuple(pixels[32, 120]) == (200, 0, 255)


def test_multiframe_uses_the_middle_frame(tmp_path: Path, archive: Archive) -> None:
    frames = np.stack([np.full((8, 8), v, dtype=np.uint8) for v in (10, 50, 250)])
    ds = image_dataset(frames, WindowCenter=128, WindowWidth=256)  # flat frames stay distinct
    save(ds, tmp_path / "mf.dcm")
    import_paths(archive, [tmp_path / "mf.dcm"])
    with Image.open(thumbnail(archive, str(ds.SeriesInstanceUID))) as image:
        assert image.size == (SIZE, SIZE)
        values = set(np.unique(np.asarray(image)).tolist())
    expected = display.render_frame(tmp_path / "mf.dcm", 1)
    assert values == set(np.unique(expected).tolist())
    assert values != set(np.unique(display.render_frame(tmp_path / "mf.dcm", 0)).tolist())


def test_unknown_series_raises(archive: Archive) -> None:
    with pytest.raises(ThumbnailError):
        thumbnail(archive, generate_uid())


def test_made_by_a_pool_worker_same_picture_and_errors(tmp_path: Path, archive: Archive) -> None:
    from viewer.decode.pool import DecodePool

    series = generate_uid()
    _grey_series(tmp_path / "src", 5, series)
    import_paths(archive, [tmp_path / "src"])
    local = thumbnail(archive, series)
    with Image.open(local) as image:
        expected = np.asarray(image).copy()
    local.unlink()
    with DecodePool(1) as pool:
        out = thumbnail(archive, series, pool)
        with Image.open(out) as image:
            assert image.info["viewer-instance-count"] == "5"
            assert np.array_equal(np.asarray(image), expected)
        # nothing renderable: the worker's DicomFileError comes back as a ThumbnailError
        for row in archive.index.instances(series):
            archive.store.absolute(row.store_path).write_bytes(b"not DICOM")
        out.unlink()
        with pytest.raises(ThumbnailError, match="series can be rendered: not a DICOM"):
            thumbnail(archive, series, pool)
