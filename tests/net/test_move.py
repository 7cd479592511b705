"""retrieve --via move (the default): C-MOVE from Orthanc to our Storage SCP, started by the
command for the duration or already running as `listen` (issue 6 item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.net.peers import OUR_AE, free_port, run_orthanc, write_config
from viewer.archive.archive import Archive
from viewer.archive.check import check_archive
from viewer.cli import main
from viewer.config import load_settings
from viewer.dicom.demo import write_ct_series
from viewer.net.association import Local
from viewer.net.storage_scp import StorageSCP

pytestmark = pytest.mark.timeout(180)


def test_move_into_the_archive_then_into_a_running_listener(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_ct_series(tmp_path / "ct", 20, 64, 64, patient_name="MOVE^ME")
    study_uid = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    port = free_port()
    # Orthanc sends C-MOVE sub-operations to the destinations it knows: us
    with run_orthanc(tmp_path / "orthanc", {"US": (OUR_AE, "127.0.0.1", port)}) as pacs:
        pacs.upload(*files)
        config = write_config(tmp_path / "config.toml", {"PACS": (pacs.ae_title, pacs.port)},
                              local_port=port)
        archive = tmp_path / "archive"
        base = ["--config", str(config), "--archive", str(archive)]
        assert main([*base, "retrieve", "PACS", study_uid, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["via"] == "move" and report["completed"] == 20 and report["failed"] == 0
        assert sorted(i["status"] for i in report["instances"]) == ["imported"] * 20
        with Archive(archive) as opened:
            (study,) = opened.index.search_studies()
            assert study.number_of_instances == 20 and study.patient_name == "MOVE^ME"
            assert check_archive(opened).consistent
            row = opened.index.get_instance(str(dcmread(files[3]).SOPInstanceUID))
            assert row is not None
            stored = dcmread(opened.store.absolute(row.store_path))
            assert stored.PixelData == dcmread(files[3]).PixelData
        # again: everything is already there
        assert main([*base, "retrieve", "PACS", study_uid, "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert [i["status"] for i in again["instances"]] == ["already_present"] * 20

        # A `listen` already holds our port: it receives; the command says so.
        settings = load_settings(config)
        other = tmp_path / "listener-archive"
        with StorageSCP(other, Local(settings.local, settings.network)) as listener:
            assert listener.port == port
            assert main([*base, "retrieve", "PACS", study_uid, "--json"]) == 0
            via_listener = json.loads(capsys.readouterr().out)
        assert via_listener["completed"] == 20 and via_listener["instances"] == []
        assert "already listening on port" in via_listener["note"]
        with Archive(other) as opened:
            assert opened.index.search_studies()[0].number_of_instances == 20


def test_move_to_a_destination_the_pacs_does_not_know(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_ct_series(tmp_path / "ct", 2, 32, 32)
    study_uid = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    with run_orthanc(tmp_path / "orthanc") as pacs:  # knows no modalities
        pacs.upload(*files)
        config = write_config(tmp_path / "config.toml", {"PACS": (pacs.ae_title, pacs.port)})
        base = ["--config", str(config), "--archive", str(tmp_path / "archive")]
        assert main([*base, "retrieve", "PACS", study_uid]) == 1
        err = capsys.readouterr().err
        assert "PACS (ORTHANC@127.0.0.1:" in err
        assert f"know our AE title {OUR_AE}" in err and "C-MOVE destination" in err
    with Archive(tmp_path / "archive") as opened:
        assert opened.index.search_studies() == []
