"""Modality worklist queries against Orthanc's worklist plugin and DCMTK's wlmscpfs (issue 6
item 7)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.net.peers import (
    OUR_AE,
    free_port,
    run_orthanc,
    stop,
    wait_listening,
    write_config,
)
from tests.net.worklist_peer import ORTHANC_PLUGIN, write_item
from tests.peers import require_tool
from viewer.cli import main
from viewer.config import load_settings
from viewer.net.association import Local
from viewer.net.worklist import query_worklist

pytestmark = pytest.mark.timeout(120)


def fill(folder: Path) -> None:
    write_item(folder, "a", "DOE^JANE", "ISO_IR 100", "CT", "CT1", "20261125", "A1")
    write_item(folder, "b", "DOE^JOHN", "ISO_IR 100", "MR", "MR1", "20261125", "A2")
    write_item(folder, "c", "SMITH^ANN", "ISO_IR 100", "CT", "CT1", "20261126", "A3")
    write_item(folder, "d", "张^三".encode("gb18030"), "GB18030", "CT", "CT1", "20261125", "A4")


def test_worklist_from_orthanc_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not ORTHANC_PLUGIN.exists():
        require_tool("__orthanc_modality_worklists_plugin__", "orthanc")
    database = tmp_path / "worklists"
    fill(database)
    # Orthanc answers worklist queries only from modalities it knows, and re-encodes answers in
    # its DefaultEncoding (Latin-1 unless set: a Chinese name would come back as "^")
    us = {"VIEWER": (OUR_AE, "127.0.0.1", free_port())}
    with run_orthanc(tmp_path / "orthanc", us, Plugins=[str(ORTHANC_PLUGIN)],
                     Worklists={"Enable": True, "Database": str(database)},
                     DefaultEncoding="Utf8") as pacs:
        config = write_config(tmp_path / "config.toml", {"RIS": (pacs.ae_title, pacs.port)})
        settings = load_settings(config)
        local = Local(settings.local, settings.network)
        ris = settings.node("RIS")
        ct_today = query_worklist(ris, local, {"Modality": "CT",
                                               "ScheduledProcedureStepStartDate": "20261125"}
                                  ).items
        assert sorted(i.accession_number for i in ct_today) == ["A1", "A4"]
        chinese = next(i for i in ct_today if i.accession_number == "A4")
        assert chinese.patient_name == "张^三"
        assert (chinese.modality, chinese.station_ae_title, chinese.step_id) == (
            "CT", "CT1", "SPS-A4")
        does = query_worklist(ris, local, {"PatientName": "DOE*"}).items
        assert sorted(i.patient_name for i in does) == ["DOE^JANE", "DOE^JOHN"]
        ranged = query_worklist(ris, local, {"ScheduledProcedureStepStartDate": "20261126-"}).items
        assert [i.accession_number for i in ranged] == ["A3"]
        assert main(["--config", str(config), "worklist", "RIS", "PatientName=张*",
                     "--json"]) == 0
        (answer,) = json.loads(capsys.readouterr().out)
        assert answer["PatientName"] == "张^三" and answer["AccessionNumber"] == "A4"
        assert main(["--config", str(config), "worklist", "RIS", "NoSuchKeyword=1"]) == 2
        assert "not a DICOM keyword" in capsys.readouterr().err


def test_worklist_from_dcmtk_wlmscpfs(tmp_path: Path) -> None:
    exe = require_tool("wlmscpfs", "dcmtk")
    database = tmp_path / "wlm"
    fill(database / "WLMSCP")
    (database / "WLMSCP" / "lockfile").touch()
    port = free_port()
    process = subprocess.Popen(
        [exe, "--data-files-path", str(database), str(port)],
        env={**os.environ, "TCP_NODELAY": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process, "wlmscpfs")
        config = write_config(tmp_path / "config.toml", {"WLM": ("WLMSCP", port)})
        settings = load_settings(config)
        items = query_worklist(settings.node("WLM"), Local(settings.local, settings.network),
                               {"Modality": "MR"}).items
        assert [(i.patient_name, i.accession_number, i.start_time) for i in items] == [
            ("DOE^JOHN", "A2", "093000")]
    finally:
        stop(process)
