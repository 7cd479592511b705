""""Save as series": a stack of planes of a volume written as derived images, one file a plane,
ready for `archive.importer` (the GUI's "save as series" and any script use this)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from viewer.volume.derived import plane_dataset, save_plane
from viewer.volume.model import Interpolation, Plane, Volume
from viewer.volume.reslice import reslice


def write_plane_series(
    volume: Volume,
    planes: Sequence[Plane],
    folder: Path,
    source: Dataset,
    *,
    description: str,
    series_number: int | None = None,
    interpolation: Interpolation = Interpolation.LINEAR,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Each plane resliced from `volume` and written to `folder` as a derived image of one new
    series (`viewer.volume.derived.plane_dataset`: the plane's geometry, `source`'s patient,
    study and Frame of Reference), Instance Numbers in the planes' order. File names are a
    counter, never a DICOM attribute. Returns the paths written; `progress(done, total)`."""
    series_uid = generate_uid()
    written: list[Path] = []
    for number, plane in enumerate(planes, 1):
        values = reslice(volume, plane, interpolation)
        dataset = plane_dataset(
            volume, plane, values, series_uid=series_uid, series_number=series_number,
            instance_number=number, description=description, source=source,
            interpolation=interpolation,
        )
        written.append(Path(save_plane(folder / f"MPR{number:05d}.dcm", dataset)))
        if progress is not None:
            progress(number, len(planes))
    return written
