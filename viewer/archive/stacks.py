"""Stacks straight from the archive index: a series opens without reading a single header.

The index keeps each instance's Image Plane facts (schema 002), so the reading order, the
per-frame geometry and the annotation facts of a 1,000-slice series come from one query over
its instances; the first frame can be requested from the decode pool at once. The order is
`viewer.dicom.stack.build_stacks`'s: by position along the slice normal, head first, when every
instance has a position and an orientation; else by Instance Number; then by SOP Instance UID.
Instances indexed before schema 002 have no geometry, so their series sort by Instance Number.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from viewer.archive.archive import Archive
from viewer.archive.records import SeriesRow, StackRow, StudyRow
from viewer.dicom.geometry import reading_key
from viewer.dicom.stack import SliceGeometry, Stack, StackInfo

LOGGER = logging.getLogger(__name__)


def series_stack(archive: Archive, series_uid: str) -> Stack | None:
    """The stack of series `series_uid` from the index alone (no file is opened); None when the
    series is not indexed or none of its files is in the store."""
    index = archive.index
    series = index.get_series(series_uid)
    if series is None:
        return None
    study = index.get_study(series.study_instance_uid)
    return _stack(archive, series, study, index.stack_rows(series_uid))


def study_heads(archive: Archive, study_uid: str, limit: int = 16) -> list[Stack]:
    """The first frame of each of the study's first `limit` series, as one-frame stacks in
    study_stacks' order, in a millisecond or two: a viewer shows these while it builds the
    whole series (`Stack.expected_frames` tells how many frames the full stack will have).
    """
    index = archive.index
    study = index.get_study(study_uid)
    if study is None:
        return []
    paths = _StorePaths(archive)
    heads = []
    for series in _in_series_order(index.series(study_uid))[:limit]:
        row = index.first_in_reading_order(series.series_instance_uid)
        path = paths.absolute(row.store_path) if row is not None else None
        if row is None or path is None:
            continue
        heads.append(Stack(
            series.series_instance_uid, series.series_description, frames=[(path, 0)],
            geometry=[_geometry(row)], info=stack_info(series, study),
            expected_frames=index.series_frames(series.series_instance_uid),
        ))
    return heads


def _in_series_order(series: list[SeriesRow]) -> list[SeriesRow]:
    """By Series Number (series without one last), then Series Description."""
    return sorted(
        series,
        key=lambda s: (s.series_number is None, s.series_number or 0, s.series_description),
    )


def study_stacks(archive: Archive, study_uid: str) -> list[Stack]:
    """The stacks of a study's series, by Series Number (series without one last), then Series
    Description; series whose every file is missing are left out."""
    index = archive.index
    study = index.get_study(study_uid)
    if study is None:
        return []
    ordered = _in_series_order(index.series(study_uid))
    stacks = []
    for series in ordered:
        stack = _stack(archive, series, study, index.stack_rows(series.series_instance_uid))
        if stack is not None:
            stacks.append(stack)
    return stacks


def stack_info(series: SeriesRow, study: StudyRow | None) -> StackInfo:
    """The annotation facts of a series as the index holds them (names as decoded PN values)."""
    if study is None:  # cannot happen with foreign keys on; the series facts still help
        return StackInfo(
            study_instance_uid=series.study_instance_uid,
            series_number=series.series_number,
            series_description=series.series_description,
            modality=series.modality,
        )
    return StackInfo(
        study_instance_uid=series.study_instance_uid,
        patient_name=study.patient_name,
        patient_id=study.patient_id,
        patient_birth_date=study.patient_birth_date,
        patient_sex=study.patient_sex,
        study_date=study.study_date,
        study_time=study.study_time,
        study_description=study.study_description,
        series_number=series.series_number,
        series_description=series.series_description,
        modality=series.modality,
    )


def reading_order(rows: Sequence[StackRow]) -> list[StackRow]:
    """`rows` in build_stacks' order (see the module docstring)."""
    along = _along_normal(rows)
    if along is None:
        return sorted(rows, key=lambda r: (float(r.instance_number or 0), r.sop_instance_uid))
    # Head first: the most superior slice (largest position along the normal) on top.
    ordered = sorted(
        zip(along, rows, strict=True),
        key=lambda p: (-p[0], float(p[1].instance_number or 0), p[1].sop_instance_uid),
    )
    return [row for _, row in ordered]


def _along_normal(rows: Sequence[StackRow]) -> list[float] | None:
    """Each row's reading key: its position along its slice normal (mm), as the index stores
    it (schema 003), else from geometry.reading_key, the one formula for both; None when a row
    has no position or orientation, or an orientation without a normal."""
    along = []
    for row in rows:
        key = row.along_normal
        if key is None:
            key = reading_key(row.image_position, row.image_orientation)
        if key is None:
            return None
        along.append(key)
    return along


def _stack(
    archive: Archive, series: SeriesRow, study: StudyRow | None, rows: list[StackRow]
) -> Stack | None:
    """The stack of `rows` (instances whose files are in the store); None when there are none."""
    if not rows:
        return None
    stack = Stack(
        series.series_instance_uid, series.series_description, info=stack_info(series, study)
    )
    paths = _StorePaths(archive)
    for row in reading_order(rows):
        path = paths.absolute(row.store_path)
        if path is None:
            continue
        first = _geometry(row)
        stack.frames.append((path, 0))
        stack.geometry.append(first)
        if row.number_of_frames > 1:
            # The index holds the first frame's position only: the others are not guessed.
            later = _later_frames(first)
            stack.frames.extend((path, i) for i in range(1, row.number_of_frames))
            stack.geometry.extend([later] * (row.number_of_frames - 1))
    return stack if stack.frames else None


class _StorePaths:
    """Absolute paths of store paths, as str(Store.absolute(p)) but one Path per directory.

    Store.absolute checks the whole store path (a tampered index must not point outside the
    store) and builds a Path: several microseconds, most of opening a big series. A series'
    files share a directory, so each directory is checked once through Store.absolute and
    each file name (which cannot hold a '/') is joined to it as text: still inside the store.
    """

    def __init__(self, archive: Archive) -> None:
        self._store = archive.store
        self._directories: dict[str, str] = {}

    def absolute(self, rel_path: str) -> str | None:
        directory, _, name = rel_path.rpartition("/")
        base = self._directories.get(directory)
        if base is None:
            try:
                checked = self._store.absolute(rel_path)
            except ValueError:
                LOGGER.warning("index row with a store path that is not one: %r", rel_path)
                return None
            base = self._directories[directory] = str(checked.parent)
            return str(checked)
        if name in ("", ".", ".."):
            LOGGER.warning("index row with a store path that is not one: %r", rel_path)
            return None
        return f"{base}{os.sep}{name}"


def _geometry(row: StackRow) -> SliceGeometry | None:
    """The frame geometry of `row`; None for a row indexed before schema 002 (rows unknown)."""
    if row.rows is None or row.columns is None:
        return None
    return SliceGeometry(
        position=row.image_position,
        orientation=row.image_orientation,
        pixel_spacing=row.pixel_spacing,
        slice_thickness=row.slice_thickness,
        slice_location=row.slice_location,
        frame_of_reference_uid=row.frame_of_reference_uid,
        rows=row.rows,
        columns=row.columns,
        spacing_source=row.spacing_source,
    )


def _later_frames(first: SliceGeometry | None) -> SliceGeometry | None:
    """Frames after the first of a multi-frame instance: the same plane facts, but no position
    or slice location, which differ per frame and are not in the index."""
    if first is None:
        return None
    return SliceGeometry(
        position=None,
        orientation=first.orientation,
        pixel_spacing=first.pixel_spacing,
        slice_thickness=first.slice_thickness,
        slice_location=None,
        frame_of_reference_uid=first.frame_of_reference_uid,
        rows=first.rows,
        columns=first.columns,
        spacing_source=first.spacing_source,
    )
