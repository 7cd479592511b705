"""Study and series facts for hanging, from the archive: the index's rows plus one header per
series (the first image in reading order) for what the index does not hold: Body Part Examined
(0018,0015), Image Type (0008,0008), Laterality (0020,0060) / Image Laterality (0020,0062) and
View Position (0018,5101). Reading those few elements of one header per series costs well under a
millisecond each (no pixel data, only the tags asked for), so no index column is added.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from viewer.archive.archive import Archive
from viewer.reading.hanging import Hanging, SeriesFacts, StudyFacts, hang, orientation_of
from viewer.reading.priors import relevant_priors
from viewer.reading.protocols import HangingProtocol

LOGGER = logging.getLogger(__name__)

_HEADER_TAGS = ["BodyPartExamined", "ImageType", "Laterality", "ImageLaterality",
                "ViewPosition", "SpecificCharacterSet"]


class UnknownStudy(LookupError):
    """The study is not in the archive."""


def _header_facts(path: Path) -> tuple[str, tuple[str, ...], str, str]:
    """(body part, image type, laterality, view position) of one stored file; empty values
    when it cannot be read (the series is still hung by what the index says)."""
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=_HEADER_TAGS)
        body_part = str(ds.get("BodyPartExamined", "") or "").strip().upper()
        raw_type = ds.get("ImageType", None)
        values = [] if raw_type is None else [raw_type] if isinstance(raw_type, str) else raw_type
        image_type = tuple(str(v).strip().upper() for v in values if str(v).strip())
        laterality = str(ds.get("ImageLaterality", "") or ds.get("Laterality", "") or "")
        view = str(ds.get("ViewPosition", "") or "").strip().upper()
    except (OSError, InvalidDicomError, ValueError, TypeError, AttributeError) as exc:
        LOGGER.info("%s: header not readable for hanging (%s)", path, type(exc).__name__)
        return "", (), "", ""
    return body_part, image_type, laterality.strip().upper(), view


def series_facts(archive: Archive, series_instance_uid: str) -> SeriesFacts | None:
    """The facts of one series of the archive (None when it is not indexed)."""
    row = archive.index.get_series(series_instance_uid)
    if row is None:
        return None
    first = archive.index.first_in_reading_order(series_instance_uid)
    body_part, laterality, view = "", "", ""
    image_type: tuple[str, ...] = ()
    orientation = None
    if first is not None:
        orientation = orientation_of(first.image_orientation)
        body_part, image_type, laterality, view = _header_facts(archive.root / first.store_path)
    return SeriesFacts(
        row.series_instance_uid, row.modality.strip().upper(), row.series_description,
        row.series_number, orientation, body_part, image_type, laterality, view,
        row.number_of_instances,
    )


def study_facts(archive: Archive, study_instance_uid: str) -> StudyFacts:
    """The facts of a study of the archive, its series in series order; UnknownStudy when the
    archive does not hold it."""
    study = archive.index.get_study(study_instance_uid)
    if study is None:
        raise UnknownStudy(f"study {study_instance_uid} is not in the archive")
    series = []
    for row in archive.index.series(study_instance_uid):
        facts = series_facts(archive, row.series_instance_uid)
        if facts is not None:
            series.append(facts)
    return StudyFacts(
        study.study_instance_uid, study.patient_id, study.study_date, study.study_time,
        study.study_description, tuple(series),
    )



def hang_archive_study(
    archive: Archive, study_instance_uid: str, protocols: Sequence[HangingProtocol]
) -> Hanging:
    """Hang a study of the archive with its relevant priors (newest first, as
    `priors.relevant_priors` finds them) by the best of `protocols`: what the reading window
    runs when a study is opened, before it asks for the first image of each viewport."""
    study = study_facts(archive, study_instance_uid)
    priors = [study_facts(archive, row.study_instance_uid)
              for row in relevant_priors(archive.index, study_instance_uid)]
    return hang(study, priors, protocols)
