"""`object_references`: what presentation states, KOS, SR, SEG and RTSTRUCT objects reference,
read from objects written by highdicom and pydicom, and damaged copies of them."""

from __future__ import annotations

import random
import warnings
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes

from tests.dicom.makers import save
from tests.dicom.referencing import (
    comprehensive_sr,
    ct_series,
    key_object_document,
    measurement_report,
    presentation_state,
    segmentation,
    structure_set,
)
from viewer.dicom.files import DicomFileError, read_dataset
from viewer.dicom.mutations import layout_of, mutate
from viewer.dicom.references import (
    KINDS,
    ROLE_COMPOSITE,
    ROLE_EVIDENCE,
    ROLE_IMAGE,
    ObjectReferences,
    Reference,
    kind_of,
    object_references,
)


def _uids(refs: ObjectReferences, role: str = ROLE_IMAGE) -> list[tuple[str, int | None]]:
    return [(r.sop_instance_uid, r.frame) for r in refs.references if r.role == role]


def _read_back(ds: Dataset, tmp_path: Path) -> Dataset:
    return read_dataset(save(ds, tmp_path / "object.dcm"), stop_before_pixels=True)


def test_grayscale_presentation_state(tmp_path: Path) -> None:
    images = ct_series(3)
    ps = presentation_state(images[:2], "LUNG", "lung window, 肺窗",
                            created=("20260102", "123456"))
    refs = object_references(_read_back(ps, tmp_path))
    assert refs.kind == "presentation"
    assert (refs.label, refs.description) == ("LUNG", "lung window, 肺窗")
    assert (refs.content_date, refs.content_time) == ("20260102", "123456")
    assert _uids(refs) == [(images[0].SOPInstanceUID, None), (images[1].SOPInstanceUID, None)]
    assert {r.series_instance_uid for r in refs.references} == {images[0].SeriesInstanceUID}
    assert {r.sop_class_uid for r in refs.references} == {images[0].SOPClassUID}
    assert refs.referencing(images[2].SOPInstanceUID) == ()


def test_presentation_state_of_some_frames() -> None:
    images = ct_series(1, frames=4)
    ps = presentation_state(images, "FRAMES", frames=(2, 3))
    refs = object_references(ps)
    uid = images[0].SOPInstanceUID
    assert _uids(refs) == [(uid, 2), (uid, 3)]
    assert refs.referencing(uid, frame=1) == ()
    assert [r.frame for r in refs.referencing(uid, frame=3)] == [3]
    assert len(refs.referencing(uid)) == 2


def test_key_object_selection_with_presentation_states(tmp_path: Path) -> None:
    images = ct_series(3)
    ps = presentation_state(images, "SOFT")
    kos = key_object_document(
        [images[0], images[2]], title=codes.DCM.ForTeaching,
        seen_with={images[2].SOPInstanceUID: ps}, description="two to teach",
    )
    refs = object_references(_read_back(kos, tmp_path))
    assert refs.kind == "key-objects"
    assert (refs.title, refs.label, refs.description) == (
        "For Teaching", "For Teaching", "two to teach")
    assert (refs.content_date, refs.content_time) == ("20260103", "090000")
    flagged = [r for r in refs.references if r.role == ROLE_IMAGE]
    assert [(r.sop_instance_uid, r.presentation_state_uid) for r in flagged] == [
        (images[0].SOPInstanceUID, None), (images[2].SOPInstanceUID, ps.SOPInstanceUID)]
    # the series comes from the Current Requested Procedure Evidence
    assert {r.series_instance_uid for r in flagged} == {images[0].SeriesInstanceUID}
    # the presentation state is evidence, never a flagged image; the unflagged image is absent
    assert _uids(refs, ROLE_EVIDENCE) == [(ps.SOPInstanceUID, None)]
    assert refs.referencing(images[1].SOPInstanceUID) == ()


def test_comprehensive_sr_image_items(tmp_path: Path) -> None:
    images = ct_series(2, frames=3)
    sr = comprehensive_sr(images, frame=2)
    refs = object_references(_read_back(sr, tmp_path))
    assert refs.kind == "sr"
    assert refs.title == "Imaging Measurement Report"
    assert _uids(refs) == [(images[0].SOPInstanceUID, 2), (images[1].SOPInstanceUID, 2)]
    assert {r.series_instance_uid for r in refs.references} == {images[0].SeriesInstanceUID}


def test_measurement_report_scoord_image(tmp_path: Path) -> None:
    """TID 1500: the image a SCOORD is drawn on is its IMAGE child, with the frame; the other
    image is evidence only."""
    images = ct_series(2, frames=3)
    refs = object_references(_read_back(measurement_report(images, images[1], 2), tmp_path))
    assert (refs.kind, refs.title) == ("sr", "Imaging Measurement Report")
    assert refs.triples == ((images[1].SOPInstanceUID, 2, None),
                            (images[0].SOPInstanceUID, None, None))
    assert _uids(refs) == [(images[1].SOPInstanceUID, 2)]
    assert _uids(refs, ROLE_EVIDENCE) == [(images[0].SOPInstanceUID, None)]


def test_segmentation_source_images(tmp_path: Path) -> None:
    images = ct_series(3)
    seg = segmentation(images)
    refs = object_references(_read_back(seg, tmp_path))
    assert refs.kind == "seg"
    assert (refs.label, refs.description) == ("LESION", "one lesion")
    assert {uid for uid, _ in _uids(refs)} == {im.SOPInstanceUID for im in images}
    assert {r.series_instance_uid for r in refs.references} == {images[0].SeriesInstanceUID}


def test_structure_set_contour_images(tmp_path: Path) -> None:
    images = ct_series(2)
    refs = object_references(_read_back(structure_set(images), tmp_path))
    assert refs.kind == "rtstruct"
    assert (refs.label, refs.description) == ("ORGANS", "organs at risk")
    assert (refs.content_date, refs.content_time) == ("20260104", "080000")
    assert _uids(refs) == [(im.SOPInstanceUID, None) for im in images]  # each once
    assert {r.series_instance_uid for r in refs.references} == {images[0].SeriesInstanceUID}


def test_an_image_references_nothing() -> None:
    image = ct_series(1)[0]
    assert object_references(image) == ObjectReferences(None)
    assert kind_of(image.SOPClassUID) is None


@pytest.mark.parametrize(("sop_class", "kind"), [
    ("1.2.840.10008.5.1.4.1.1.11.1", "presentation"),  # grayscale
    ("1.2.840.10008.5.1.4.1.1.11.2", "presentation"),  # colour
    ("1.2.840.10008.5.1.4.1.1.11.3", "presentation"),  # pseudo-colour
    ("1.2.840.10008.5.1.4.1.1.88.59", "key-objects"),
    ("1.2.840.10008.5.1.4.1.1.88.22", "sr"),
    ("1.2.840.10008.5.1.4.1.1.88.67", "sr"),  # X-Ray Radiation Dose SR
    ("1.2.840.10008.5.1.4.1.1.66.4", "seg"),
    ("1.2.840.10008.5.1.4.1.1.481.3", "rtstruct"),
    ("1.2.840.10008.5.1.4.1.1.2", None),
    ("1.2.840.10008.5.1.4.1.1.481.2", None),  # RT Dose
])
def test_kind_of_sop_class(sop_class: str, kind: str | None) -> None:
    assert kind_of(sop_class) == kind


def _item(uid: object, frames: object = None) -> Dataset:
    item = Dataset()
    if uid is not None:
        item.add_new(0x00081155, "UI", uid)  # Referenced SOP Instance UID
    if frames is not None:  # Referenced Frame Number, as LO: any text, as damaged files hold
        item.add_new(0x00081160, "LO", frames)
    return item


def test_malformed_references_are_skipped() -> None:
    images = ct_series(1, frames=3)
    ps = presentation_state(images, "BAD")
    good = ps.ReferencedSeriesSequence[0].ReferencedImageSequence[0]
    bad_frames = [_item("1.2.3.4", "0"), _item("1.2.3.5", "abc"), _item("1.2.3.6", ["-1", "0"])]
    bad_uids = [_item(None), _item("1.2.x.4"), _item("1." * 40 + "1"), _item("")]
    some_good = _item("1.2.3.7", ["2", "zero", "3"])
    ps.ReferencedSeriesSequence[0].ReferencedImageSequence = DicomSequence(
        [good, *bad_frames, *bad_uids, some_good])
    not_a_sequence = Dataset()
    not_a_sequence.SeriesInstanceUID = "1.2.3"
    not_a_sequence.add_new(0x00081140, "LO", "not items")  # Referenced Image Sequence as text
    ps.ReferencedSeriesSequence.append(not_a_sequence)
    refs = object_references(ps)
    assert _uids(refs) == [(images[0].SOPInstanceUID, None), ("1.2.3.7", 2), ("1.2.3.7", 3)]


def test_content_tree_that_contains_itself_is_walked_once(tmp_path: Path) -> None:
    images = ct_series(2)
    kos = _read_back(key_object_document(images), tmp_path)  # plain pydicom items
    container = Dataset()
    container.ValueType = "CONTAINER"
    container.ContentSequence = DicomSequence([kos.ContentSequence[1]])
    container.ContentSequence.append(container)  # a cycle only memory can make
    by_reference = Dataset()
    by_reference.RelationshipType = "CONTAINS"
    by_reference.ReferencedContentItemIdentifier = [1, 1]  # no value type: not followed
    kos.ContentSequence.extend([container, by_reference])
    composite = Dataset()
    composite.ValueType = "COMPOSITE"
    composite.ReferencedSOPSequence = DicomSequence([_item("1.2.3.99")])
    kos.ContentSequence.append(composite)
    refs = object_references(kos)
    assert _uids(refs) == [(im.SOPInstanceUID, None) for im in images]
    assert _uids(refs, ROLE_COMPOSITE) == [("1.2.3.99", None)]


def test_json_round_trip() -> None:
    images = ct_series(2, frames=2)
    ps = presentation_state(images, "ROUND", frames=(2,))
    kos = key_object_document(images, seen_with={images[0].SOPInstanceUID: ps})
    for refs in (object_references(ps), object_references(kos), ObjectReferences(None)):
        assert ObjectReferences.from_json(refs.as_json()) == refs
    with pytest.raises(ValueError):
        ObjectReferences.from_json({**object_references(ps).as_json(), "kind": "other"})


def _seeds() -> list[tuple[str, bytes]]:
    images = ct_series(3, frames=2)
    ps = presentation_state(images, "FUZZ", frames=(1, 2))
    objects = {
        "gsps": ps,
        "kos": key_object_document(images, seen_with={images[1].SOPInstanceUID: ps}),
        "sr": comprehensive_sr(images, frame=1),
        "tid1500": measurement_report(images, images[0], 2),
        "seg": segmentation(ct_series(3)),
        "rtstruct": structure_set(ct_series(2)),
    }
    seeds = []
    for name, ds in objects.items():
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        seeds.append((name, buffer.getvalue()))
    return seeds


def test_damaged_objects_never_crash(tmp_path: Path) -> None:
    """Damaged copies (viewer/dicom/mutations.py) either fail to read, with our one-line
    error, or give references that are all well formed."""
    rng = random.Random(17)
    tried = read = 0
    for name, data in _seeds():
        layout = layout_of(data)
        for n in range(60):
            _, damaged = mutate(data, layout, rng)
            path = tmp_path / f"{name}-{n}.dcm"
            path.write_bytes(damaged)
            tried += 1
            try:
                ds = read_dataset(path, stop_before_pixels=True)
            except DicomFileError:
                continue
            read += 1
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                refs = object_references(ds)
            assert caught == []  # pydicom's complaints never reach the user
            assert refs.kind is None or refs.kind in KINDS
            for ref in refs.references:
                assert isinstance(ref, Reference) and ref.sop_instance_uid
                assert ref.frame is None or ref.frame >= 1
    assert tried == 360 and read > 60  # damage that leaves a readable file to walk


def test_read_back_equals_in_memory(tmp_path: Path) -> None:
    images = ct_series(2)
    kos = key_object_document(images)
    assert object_references(_read_back(kos, tmp_path)) == object_references(
        dcmread(save(kos, tmp_path / "kos.dcm")))
