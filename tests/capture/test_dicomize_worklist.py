"""DICOMization for a worklist item (issue 18 item 4): the item found by its Accession Number
in Orthanc's worklist plugin and in DCMTK's wlmscpfs, a Chinese name kept in its source's
character set, the instances joining the item's study, `--send` to Orthanc, and an accession
the worklist lacks refused with nothing imported."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.net.peers import OUR_AE, free_port, run_orthanc, stop, wait_listening, write_config
from tests.net.test_worklist import ORTHANC_PLUGIN, write_item
from tests.peers import require_tool
from viewer.archive.archive import Archive
from viewer.cli import main

pytestmark = pytest.mark.timeout(180)


def test_worklist_item_from_orthanc_utf8_then_send(
        tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    if not ORTHANC_PLUGIN.exists():
        require_tool("__orthanc_modality_worklists_plugin__", "orthanc")
    database = tmp_path / "worklists"
    item = write_item(database, "a4", "张^三", "ISO_IR 192", "XC", "VIEWERTEST", "20261208",
                      "A4")
    study_uid = dcmread(item).StudyInstanceUID
    us = {"VIEWER": (OUR_AE, "127.0.0.1", free_port())}
    with run_orthanc(tmp_path / "orthanc", us, Plugins=[str(ORTHANC_PLUGIN)],
                     Worklists={"Enable": True, "Database": str(database)},
                     DefaultEncoding="Utf8") as pacs:
        config = write_config(tmp_path / "config.toml", {"RIS": (pacs.ae_title, pacs.port)})
        archive_dir = tmp_path / "archive"
        common = ["--config", str(config), "--archive", str(archive_dir), "dicomize"]
        files = [str(inputs["jpeg"]), str(inputs["png"]), str(inputs["pdf"])]
        # an accession the worklist lacks: one line naming it, nothing imported
        assert main([*common, *files, "--worklist", "RIS", "--accession", "A9"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "A9" in err[0] and "not in the worklist" in err[0]
        with Archive(archive_dir) as archive:
            assert archive.index.search_studies() == []
        before = pacs.instance_count()
        assert main([*common, *files, "--worklist", "RIS", "--accession", "A4", "--send", "RIS",
                     "--json"]) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["StudyInstanceUID"] == study_uid
        assert document["PatientName"] == "张^三" and document["source"] == "worklist"
        assert document["sent"]["sent"] == 3 and document["sent"]["failed"] == 0
        assert pacs.instance_count() == before + 3
        with Archive(archive_dir) as archive:
            (study,) = archive.index.search_studies()
            assert study.study_instance_uid == study_uid and study.patient_name == "张^三"
            for instance in document["instances"]:
                row = archive.index.get_instance(instance["SOPInstanceUID"])
                assert row is not None
                ds = dcmread(archive.store.absolute(row.store_path))
                assert ds.SpecificCharacterSet == "ISO_IR 192"
                raw = ds.get_item("PatientName").value  # as written: UTF-8, one pad space
                assert raw.rstrip(b" ") == "张^三".encode()
                assert ds.AccessionNumber == "A4"
                request = ds.RequestAttributesSequence[0] if "RequestAttributesSequence" in ds \
                    else None
                if ds.Modality != "DOC":  # the order the series fulfils (General Series)
                    assert request is not None
                    assert (request.RequestedProcedureID, request.ScheduledProcedureStepID) == (
                        "RP-A4", "SPS-A4")
        # Orthanc holds the study under the worklist's Study Instance UID, name intact
        studies = pacs.rest("/studies?expand")
        assert isinstance(studies, list)
        (held,) = [s for s in studies if s["MainDicomTags"]["StudyInstanceUID"] == study_uid]
        assert held["PatientMainDicomTags"]["PatientName"] == "张^三"


def test_worklist_item_in_gb18030_from_wlmscpfs_keeps_its_charset(
        tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    exe = require_tool("wlmscpfs", "dcmtk")
    dciodvfy = require_tool("dciodvfy", "dicom3tools")
    database = tmp_path / "wlm"
    write_item(database / "WLMSCP", "d", "张^三".encode("gb18030"), "GB18030", "XC", "CT1",
               "20261208", "A7")
    (database / "WLMSCP" / "lockfile").touch()
    port = free_port()
    # --keep-char-set: by default wlmscpfs answers with no Specific Character Set at all
    process = subprocess.Popen([exe, "--keep-char-set", "--data-files-path", str(database),
                                str(port)],
                               env={**os.environ, "TCP_NODELAY": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, process, "wlmscpfs")
        config = write_config(tmp_path / "config.toml", {"WLM": ("WLMSCP", port)})
        archive_dir = tmp_path / "archive"
        assert main(["--config", str(config), "--archive", str(archive_dir), "dicomize",
                     str(inputs["jpeg"]), "--worklist", "WLM", "--accession", "A7",
                     "--json"]) == 0
        (instance,) = json.loads(capsys.readouterr().out)["instances"]
    finally:
        stop(process)
    with Archive(archive_dir) as archive:
        row = archive.index.get_instance(instance["SOPInstanceUID"])
        assert row is not None
        path = archive.store.absolute(row.store_path)
        ds = dcmread(path)
        assert ds.SpecificCharacterSet == "GB18030" and ds.PatientName == "张^三"
        assert dcmread(path).get_item("PatientName").value.rstrip(b" ") == "张^三".encode(
            "gb18030")
    run = subprocess.run([dciodvfy, "-new", str(path)], check=False, capture_output=True,
                         text=True, timeout=60)
    assert not [x for x in (run.stdout + run.stderr).splitlines() if x.startswith("Error")]
