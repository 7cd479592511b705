"""C-FIND against Orthanc (issue 6 item 2): four levels, both information models, wildcards,
date ranges, and Chinese names stored as GB18030 and as UTF-8, answered by Orthanc in UTF-8 or
in GB18030 (its DefaultEncoding) and decoded with the answer's own character set. The same
queries against DCMTK's dcmqrscp, filled by storescu."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.net.peers import free_port, run_dcmqrscp, run_orthanc, write_config
from viewer.cli import main
from viewer.config import Node
from viewer.dicom.demo import write_ct_series
from viewer.jobs import CancelToken
from viewer.net.association import Local, PeerError
from viewer.net.query import QueryLevel, build_identifier, find

pytestmark = pytest.mark.timeout(120)


@dataclass
class Pacs:
    node: Node
    config: Path
    files: dict[str, list[Path]]  # patient ID -> files

    def study_uid(self, patient_id: str) -> str:
        return str(dcmread(self.files[patient_id][0], stop_before_pixels=True).StudyInstanceUID)


def _patient(folder: Path, patient_id: str, name: str, date: str, charset: str = "",
             slices: int = 2) -> list[Path]:
    files = write_ct_series(folder / patient_id, slices, 16, 16, patient_name="PLACE^HOLDER",
                            patient_id=patient_id)
    for path in files:
        ds = dcmread(path)
        if charset:
            ds.SpecificCharacterSet = charset  # pydicom encodes the name in it on save
        ds.PatientName = name
        ds.StudyDate = date
        ds.save_as(path)
    return files


@pytest.fixture(scope="module", params=["Utf8", "Chinese"])
def pacs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Pacs]:
    """Orthanc answering in UTF-8 ("Utf8") or in GB18030 ("Chinese"): its DefaultEncoding.
    With Orthanc's default (Latin1) it drops the Chinese characters from its answers."""
    tmp = tmp_path_factory.mktemp(f"orthanc-{request.param}")
    files = {
        "P1": _patient(tmp, "P1", "DOE^JOHN", "20240102", slices=3),
        "P4": _patient(tmp, "P4", "DOE^JANE", "20240115"),
        "P5": _patient(tmp, "P5", "SMITH^ANNA", "20231231"),
        "P2": _patient(tmp, "P2", "张^三", "20230105", charset="GB18030"),
        "P3": _patient(tmp, "P3", "张^伟", "20220610", charset="ISO_IR 192"),
    }
    assert b"\xd5\xc5" in files["P2"][0].read_bytes()  # 张 in GB18030
    assert "张".encode() in files["P3"][0].read_bytes()
    with run_orthanc(tmp / "orthanc", DefaultEncoding=request.param) as orthanc:
        orthanc.upload(*(p for paths in files.values() for p in paths))
        config = write_config(tmp / "config.toml", {"PACS": (orthanc.ae_title, orthanc.port)})
        yield Pacs(Node("PACS", orthanc.ae_title, "127.0.0.1", orthanc.port), config, files)


def _ids(results: object) -> list[str]:
    return sorted(str(r.get("PatientID")) for r in results)  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", ["study", "patient"])
def test_study_level_wildcards(pacs: Pacs, model: str) -> None:
    report = find(pacs.node, Local(), "study", {"PatientName": "DOE*"}, model)
    assert report.status == 0 and not report.cancelled
    assert _ids(report.results) == ["P1", "P4"]
    assert report.level is QueryLevel.STUDY
    john = find(pacs.node, Local(), "study", {"PatientName": "DOE^J?HN"}, model).results
    assert _ids(john) == ["P1"]
    (study,) = john
    assert study.get("StudyInstanceUID") == pacs.study_uid("P1")
    assert study.get("NumberOfStudyRelatedInstances") == 3
    assert study.get("ModalitiesInStudy") == ("CT",)  # 1-n: always a tuple
    if model == "study":  # only Study Root carries the patient's attributes at study level
        assert study.get("PatientName") == "DOE^JOHN"


def test_date_ranges(pacs: Pacs) -> None:
    january = find(pacs.node, Local(), "study", {"StudyDate": "20240101-20240131"})
    assert _ids(january.results) == ["P1", "P4"]
    until = find(pacs.node, Local(), "study", {"StudyDate": "-20231231"})
    assert _ids(until.results) == ["P2", "P3", "P5"]
    since = find(pacs.node, Local(), "study", {"StudyDate": "20231231-"})
    assert _ids(since.results) == ["P1", "P4", "P5"]
    one_day = find(pacs.node, Local(), "study", {"StudyDate": "20230105"})
    assert _ids(one_day.results) == ["P2"]


def test_patient_level(pacs: Pacs) -> None:
    everyone = find(pacs.node, Local(), "patient", {}, "patient")
    assert _ids(everyone.results) == ["P1", "P2", "P3", "P4", "P5"]
    (john,) = find(pacs.node, Local(), "patient", {"PatientID": "P1"}, "patient").results
    assert john.get("PatientName") == "DOE^JOHN"
    assert john.get("NumberOfPatientRelatedStudies") == 1
    with pytest.raises(ValueError, match="Study Root has no patient level"):
        find(pacs.node, Local(), "patient", {}, "study")


@pytest.mark.parametrize("model", ["study", "patient"])
def test_series_and_image_levels(pacs: Pacs, model: str) -> None:
    study_uid = pacs.study_uid("P1")
    keys = {"StudyInstanceUID": study_uid}
    if model == "patient":
        keys["PatientID"] = "P1"  # Patient Root: the unique key of the level above too
    (series,) = find(pacs.node, Local(), "series", keys, model).results
    originals = [dcmread(p, stop_before_pixels=True) for p in pacs.files["P1"]]
    assert series.get("SeriesInstanceUID") == originals[0].SeriesInstanceUID
    assert series.get("Modality") == "CT"
    assert series.get("NumberOfSeriesRelatedInstances") == 3
    images = find(pacs.node, Local(), "image",
                  {**keys, "SeriesInstanceUID": str(series.get("SeriesInstanceUID"))}, model)
    assert sorted(str(r.get("SOPInstanceUID")) for r in images.results) == sorted(
        ds.SOPInstanceUID for ds in originals
    )
    assert {r.get("SOPClassUID") for r in images.results} == {"1.2.840.10008.5.1.4.1.1.2"}
    assert sorted(r.get("InstanceNumber") for r in images.results) == [1, 2, 3]


def test_chinese_names_in_gb18030_and_utf8(pacs: Pacs) -> None:
    identifier = build_identifier(QueryLevel.STUDY, {"PatientName": "张*"}, ["PatientID"])
    assert identifier.SpecificCharacterSet == "ISO_IR 192"  # the request is sent in UTF-8
    report = find(pacs.node, Local(), "study", {"PatientName": "张*"})
    names = {str(r.get("PatientID")): r.get("PatientName") for r in report.results}
    assert names == {"P2": "张^三", "P3": "张^伟"}
    assert not report.warnings
    (one,) = find(pacs.node, Local(), "patient", {"PatientName": "张^三"}, "patient").results
    assert one.get("PatientID") == "P2"
    assert one.text("PatientName") == "张, 三"


def test_cli_query_json_and_table(pacs: Pacs, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ["--config", str(pacs.config)]
    assert main([*cfg, "query", "PACS", "PatientName=张*", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert sorted(d["PatientName"] for d in document) == ["张^三", "张^伟"]
    assert all(d["ModalitiesInStudy"] == ["CT"] for d in document)
    assert main([*cfg, "query", "PACS", "--level", "patient", "PatientID=P1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["PatientName", "PatientID"]
    assert len(table) == 2 and "DOE, JOHN" in table[1]
    assert main([*cfg, "query", "PACS", "--level", "image", "PatientID=P1",
                 "StudyInstanceUID=" + pacs.study_uid("P1"), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main([*cfg, "query", "PACS", "NoSuchKeyword=1"]) == 2
    assert "'NoSuchKeyword' is not a DICOM keyword" in capsys.readouterr().err
    assert main([*cfg, "query", "PACS", "--level", "patient", "--model", "study"]) == 2
    assert "Study Root has no patient level" in capsys.readouterr().err
    assert main([*cfg, "query", "PACS", "PatientName=NOBODY"]) == 0
    assert "no matches" in capsys.readouterr().out


def test_cancel_sends_c_cancel(pacs: Pacs) -> None:
    cancel = CancelToken()
    cancel.cancel()  # C-CANCEL goes out after the first match
    report = find(pacs.node, Local(), "image", {"PatientID": "P1"}, cancel=cancel)
    assert report.cancelled and 1 <= len(report.results) <= 3
    assert report.status in (0x0000, 0xFE00)  # Orthanc may have sent every match already
    assert not find(pacs.node, Local(), "image", {"PatientID": "P1"}).cancelled


def test_unreachable_node_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", {"GONE": ("NOBODY", free_port())},
                          connect=2)
    assert main(["--config", str(config), "query", "GONE", "PatientName=X*"]) == 2
    err = capsys.readouterr().err
    assert "GONE (NOBODY@127.0.0.1:" in err and "cannot connect" in err
    with pytest.raises(PeerError, match="GONE"):
        find(Node("GONE", "NOBODY", "127.0.0.1", free_port()), Local(), "study", {})


def test_dcmqrscp(tmp_path: Path) -> None:
    files = {
        "P1": _patient(tmp_path, "P1", "DOE^JOHN", "20240102", slices=3),
        "P4": _patient(tmp_path, "P4", "DOE^JANE", "20240115"),
        "P2": _patient(tmp_path, "P2", "张^三", "20230105", charset="GB18030"),
        "P3": _patient(tmp_path, "P3", "张^伟", "20220610", charset="ISO_IR 192"),
    }
    with run_dcmqrscp(tmp_path / "qr", *(p for f in files.values() for p in f)) as node:
        patients = find(node, Local(), "patient", {}, "patient").results
        assert _ids(patients) == ["P1", "P2", "P3", "P4"]
        assert _ids(find(node, Local(), "study", {"PatientName": "DOE*"}).results) == [
            "P1", "P4"]
        january = find(node, Local(), "study", {"StudyDate": "20240101-20240131"}, "patient")
        assert _ids(january.results) == ["P1", "P4"]
        chinese = find(node, Local(), "study", {"PatientName": "张*"}).results
        assert {str(r.get("PatientID")): r.get("PatientName") for r in chinese} == {
            "P2": "张^三", "P3": "张^伟"}
        study_uid = str(dcmread(files["P1"][0], stop_before_pixels=True).StudyInstanceUID)
        (series,) = find(node, Local(), "series", {"StudyInstanceUID": study_uid}).results
        assert series.get("Modality") == "CT"
        images = find(node, Local(), "image", {
            "StudyInstanceUID": study_uid,
            "SeriesInstanceUID": str(series.get("SeriesInstanceUID")),
        }).results
        assert sorted(r.get("InstanceNumber") for r in images) == [1, 2, 3]
