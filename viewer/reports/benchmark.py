"""Issue 17's SR target: opening a 5,000-item SR tree in at most 0.5 s, file read included.

`measure_sr_tree(passes=5)` writes a generated Comprehensive SR of 5,000 content items (text,
numbers with units, codes, image references with SCOORDs, nested containers: the mix of a large
measurement report) to temporary files, with defined and with undefined lengths, then times
`read_report` (file read and content tree) on each.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.reports.report_file import read_report

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
TARGET_SECONDS = 0.5


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _item(relationship: str, value_type: str, name: Dataset | None) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    if name is not None:
        item.ConceptNameCodeSequence = Sequence([name])
    return item


def _group(index: int, image_uid: str) -> tuple[Dataset, int]:
    """One measurement group of nine items (container, finding, a number, an image region
    with its image, a text and a code): the shape of a TID 1500 group."""
    group = _item("CONTAINS", "CONTAINER", _code("125007", "DCM", "Measurement Group"))
    group.ContinuityOfContent = "SEPARATE"
    finding = _item("CONTAINS", "CODE", _code("121071", "DCM", "Finding"))
    finding.ConceptCodeSequence = Sequence([_code("52988006", "SCT", "Lesion")])
    number = _item("CONTAINS", "NUM", _code("410668003", "SCT", "Length"))
    measured = Dataset()
    measured.NumericValue = f"{10 + index % 90}.5"
    measured.MeasurementUnitsCodeSequence = Sequence([_code("mm", "UCUM", "millimeter")])
    number.MeasuredValueSequence = Sequence([measured])
    region = _item("INFERRED FROM", "SCOORD", _code("111030", "DCM", "Image Region"))
    region.GraphicType = "POLYLINE"
    region.GraphicData = [10.0, 20.0, 30.5, 40.5, 50.0, 20.0]
    image = _item("SELECTED FROM", "IMAGE", None)
    reference = Dataset()
    reference.ReferencedSOPClassUID = CT_IMAGE
    reference.ReferencedSOPInstanceUID = image_uid
    image.ReferencedSOPSequence = Sequence([reference])
    region.ContentSequence = Sequence([image])
    number.ContentSequence = Sequence([region])
    note = _item("CONTAINS", "TEXT", _code("121106", "DCM", "Comment"))
    note.TextValue = f"Lesion {index}: margins well defined, no change since the prior."
    site = _item("HAS CONCEPT MOD", "CODE", _code("363698007", "SCT", "Finding Site"))
    site.ConceptCodeSequence = Sequence([_code("39607008", "SCT", "Lung")])
    tracking = _item("HAS OBS CONTEXT", "TEXT", _code("112039", "DCM", "Tracking Identifier"))
    tracking.TextValue = f"lesion-{index}"
    uid = _item("HAS OBS CONTEXT", "UIDREF", _code("112040", "DCM", "Tracking Unique Identifier"))
    uid.UID = generate_uid(prefix=None, entropy_srcs=[str(index)])
    group.ContentSequence = Sequence([tracking, uid, finding, site, number, note])
    return group, 9


def comprehensive_sr(items: int = 5000) -> Dataset:
    """A Comprehensive SR with at least `items` content items (the root included)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = COMPREHENSIVE_SR
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.Modality = "SR"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID = "Bench^Report", "BENCH-SR"
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([_code("126000", "DCM", "Imaging Measurement Report")])
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    groups, count, index = [], 1, 0
    image_uid = generate_uid()
    while count < items:
        group, size = _group(index, image_uid)
        groups.append(group)
        count += size
        index += 1
    ds.ContentSequence = Sequence(groups)
    return ds


def undefined_lengths(ds: Dataset) -> Dataset:
    """`ds` with every sequence and item written with undefined length (delimiters), as many
    modalities write them; pydicom's reader parses those while reading the file."""
    for element in ds:
        if element.VR == "SQ":
            element.is_undefined_length = True
            for item in element.value:
                item.is_undefined_length_sequence_item = True
                undefined_lengths(item)
    return ds


def measure_sr_tree(passes: int = 5, items: int = 5000) -> dict[str, Any]:
    """Seconds to open a generated `items`-item SR file (`read_report`: file read and content
    tree), per pass, for the file written with defined lengths (pydicom's way) and with
    undefined lengths (delimiters); the medians; passed when both are within 0.5 s. The files
    are written once, outside the timing; the two layouts alternate."""
    with tempfile.TemporaryDirectory(prefix="sr-bench-") as folder:
        paths = {"defined_length": Path(folder) / "defined.dcm",
                 "undefined_length": Path(folder) / "undefined.dcm"}
        comprehensive_sr(items).save_as(paths["defined_length"], enforce_file_format=True)
        undefined_lengths(comprehensive_sr(items)).save_as(
            paths["undefined_length"], enforce_file_format=True)
        seconds: dict[str, list[float]] = {name: [] for name in paths}
        count = 0
        for _ in range(passes):
            for name, path in paths.items():
                start = time.perf_counter()
                tree = read_report(path)
                seconds[name].append(time.perf_counter() - start)
                count = sum(1 for _ in tree.walk())
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    return {
        "name": "open a 5,000-item SR tree (file read included)",
        "items": count,
        "passes_s": seconds["defined_length"],
        "median_s": medians["defined_length"],
        "undefined_length_passes_s": seconds["undefined_length"],
        "undefined_length_median_s": medians["undefined_length"],
        "target_s": TARGET_SECONDS,
        "passed": max(medians.values()) <= TARGET_SECONDS,
    }
