"""TID 1500 measurement groups and TID 10011 dose summaries read out of generated reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.reports import makers
from viewer.dicom.files import read_dataset
from viewer.dicom.geometry import nearest_slice
from viewer.dicom.stack import SliceGeometry
from viewer.reports.content_tree import ContentTree, read_content_tree
from viewer.reports.dose import dose_summary
from viewer.reports.measurements import (
    centroid,
    measurements,
    project_region,
    regions_on_image,
)


def _tree(ds: Dataset, path: Path) -> ContentTree:
    return read_content_tree(read_dataset(makers.save(ds, path)))


def test_tid1500_groups_with_their_regions(tmp_path: Path) -> None:
    image = makers.ct_image()
    groups = measurements(_tree(makers.tid1500_report(image), tmp_path / "r.dcm"))
    assert [g.tracking_identifier for g in groups] == ["lesion 1", "nodule 2"]
    lesion, nodule = groups
    assert lesion.finding is not None and lesion.finding.is_("52988006", "SCT")
    assert lesion.finding_site is not None and lesion.finding_site.meaning == "Lung"
    assert [(m.name.meaning if m.name else "", m.value, m.unit.value if m.unit else "")
            for m in lesion.measurements] == [("Area", 52.25, "mm2"), ("Diameter", 11.5, "mm")]
    (region,) = lesion.regions
    assert region.graphic_type == "POLYLINE" and not region.is_3d
    assert region.points == ((2.5, 3.0), (10.0, 3.0), (10.0, 12.5), (2.5, 3.0))
    assert [i.sop_instance_uid for i in region.images] == [image.SOPInstanceUID]
    (region3d,) = nodule.regions
    assert region3d.is_3d and region3d.graphic_type == "POINT"
    assert region3d.points == ((12.5, -40.0, 101.25),)
    assert region3d.frame_of_reference_uid == makers.FRAME_OF_REFERENCE
    assert nodule.measurements[0].value == pytest.approx(3.2)
    # what a viewport showing the image draws: the planar region only
    assert regions_on_image(groups, image.SOPInstanceUID) == ((lesion, region),)
    assert regions_on_image(groups, "1.2.3.4") == ()


def test_enhanced_sr_circle(tmp_path: Path) -> None:
    image = makers.ct_image()
    (group,) = measurements(_tree(makers.enhanced_sr(image), tmp_path / "e.dcm"))
    assert group.tracking_identifier == "cyst"
    assert group.regions[0].graphic_type == "CIRCLE"
    assert group.regions[0].points == ((8.0, 8.0), (8.0, 12.0))


def test_ct_dose_summary_per_event_and_series(tmp_path: Path) -> None:
    summary = dose_summary(_tree(makers.ct_dose_sr(["1.2.3", "1.2.4"]), tmp_path / "d.dcm"))
    assert summary.kind == "CT"
    assert [(e.ctdivol_mgy, e.dlp_mgy_cm, e.phantom, e.series_uid) for e in summary.events] == [
        (12.25, 400.0, "IEC Body Dosimetry Phantom", "1.2.3"),
        (8.5, 212.5, "IEC Body Dosimetry Phantom", "1.2.3"),
        (45.0, 300.0, "IEC Head Dosimetry Phantom", "1.2.4"),
    ]
    assert [e.protocol for e in summary.events] == ["Chest 1", "Chest 2", "Chest 3"]
    assert [(s.series_uid, s.events, s.ctdivol_mgy, s.dlp_mgy_cm) for s in summary.series] == [
        ("1.2.3", 2, 12.25, 612.5), ("1.2.4", 1, 45.0, 300.0)]
    assert summary.total_dlp_mgy_cm == 912.5


def test_dose_total_summed_when_the_report_omits_it(tmp_path: Path) -> None:
    ds = makers.ct_dose_sr(["1.2.3", "1.2.4"])
    del ds.ContentSequence[1]  # the CT Accumulated Dose Data container
    summary = dose_summary(_tree(ds, tmp_path / "d.dcm"))
    assert summary.total_dlp_mgy_cm == 912.5


def test_event_series_from_its_images(tmp_path: Path) -> None:
    ds = makers.ct_dose_sr(["1.2.3", "1.2.4"])
    event = ds.ContentSequence[2]
    del event.ContentSequence[4]  # its Series Instance UID
    reference = makers.content_item("CONTAINS", "IMAGE", None)
    sop = Dataset()
    sop.ReferencedSOPClassUID, sop.ReferencedSOPInstanceUID = makers.CT_IMAGE, "1.2.3.9"
    reference.ReferencedSOPSequence = Sequence([sop])
    event.ContentSequence.append(reference)
    summary = dose_summary(_tree(ds, tmp_path / "d.dcm"),
                           series_of={"1.2.3.9": "7.7.7"}.get)
    assert summary.events[0].series_uid == "7.7.7"
    assert summary.events[0].images[0].sop_instance_uid == "1.2.3.9"


def test_no_dose_report_no_summary(tmp_path: Path) -> None:
    summary = dose_summary(_tree(makers.basic_text_sr(), tmp_path / "b.dcm"))
    assert summary.kind == "" and summary.events == () and summary.total_dlp_mgy_cm is None


def test_xray_dose_report_gives_what_it_holds(tmp_path: Path) -> None:
    gym2 = makers.code("Gy.m2", "UCUM", "Gy.m2")
    accumulated = makers.content_item(
        "CONTAINS", "CONTAINER", makers.code("113702", "DCM", "Accumulated X-Ray Dose Data"),
        ContinuityOfContent="SEPARATE", ContentSequence=Sequence([
            makers.num("CONTAINS", makers.code("113722", "DCM", "Dose Area Product Total"),
                       "0.00012", gym2),
            makers.num("CONTAINS", makers.code("113725", "DCM", "Dose (RP) Total"), "0.0031",
                       makers.code("Gy", "UCUM", "Gy")),
        ]))
    event = makers.content_item(
        "CONTAINS", "CONTAINER", makers.code("113706", "DCM", "Irradiation Event X-Ray Data"),
        ContinuityOfContent="SEPARATE", ContentSequence=Sequence([
            makers.num("CONTAINS", makers.code("122130", "DCM", "Dose Area Product"),
                       "0.00012", gym2)]))
    ds = makers.sr_document("1.2.840.10008.5.1.4.1.1.88.67",
                            makers.code("113701", "DCM", "X-Ray Radiation Dose Report"),
                            [accumulated, event])
    summary = dose_summary(_tree(ds, tmp_path / "x.dcm"))
    assert summary.kind == "X-Ray" and summary.total_dlp_mgy_cm is None
    assert [(q.name, q.value, q.unit) for q in summary.totals] == [
        ("Dose Area Product Total", 0.00012, "Gy.m2"), ("Dose (RP) Total", 0.0031, "Gy")]
    assert [(q.name, q.value) for q in summary.events[0].quantities] == [
        ("Dose Area Product", 0.00012)]


def test_scoord3d_on_the_nearest_plane(tmp_path: Path) -> None:
    (_, nodule) = measurements(_tree(makers.tid1500_report(makers.ct_image()), tmp_path / "r.dcm"))
    (region,) = nodule.regions
    assert centroid(region) == (12.5, -40.0, 101.25)
    slices = [SliceGeometry((-50.0, -50.0, z), (1, 0, 0, 0, 1, 0), (0.5, 0.5), 1.0, z,
                            makers.FRAME_OF_REFERENCE, 512, 512) for z in (99.0, 100.0, 101.0)]
    nearest = nearest_slice(slices, centroid(region), makers.FRAME_OF_REFERENCE)
    assert nearest == 2
    projected = project_region(region, slices[nearest])
    assert projected is not None and projected.graphic_type == "POINT"
    # x 12.5 mm is column 125 from -50 at 0.5 mm: its centre, 125.5 in SCOORD's convention
    assert projected.points == ((125.5, 20.5),)
    assert projected.distance_mm == pytest.approx(0.25)
    other = SliceGeometry((0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0), (1.0, 1.0), 1.0, 0.0, "9.9", 4, 4)
    assert project_region(region, other) is None  # another Frame of Reference: not drawn
