"""MPPS N-CREATE / N-SET (issue 6 item 7) against tests.net.mpps_peer's SCP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.net.mpps_peer import MppsSCP, serving_mpps
from tests.net.peers import free_port, write_config
from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.cli import main
from viewer.config import load_settings
from viewer.dicom.demo import write_ct_series
from viewer.net import mpps
from viewer.net.association import Local, PeerError

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def ris() -> Iterator[MppsSCP]:
    with serving_mpps() as scp:
        yield scp


def test_create_then_complete_with_the_archive_series(
    tmp_path: Path, ris: MppsSCP, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ct_series(tmp_path / "ct", 6, 32, 32, patient_name="张^三")
    with Archive(tmp_path / "archive") as archive:
        import_paths(archive, [tmp_path / "ct"])
        (study,) = archive.index.search_studies()
    config = write_config(tmp_path / "config.toml", {"RIS": ("RIS", ris.port)})
    base = ["--config", str(config), "--archive", str(tmp_path / "archive"), "mpps", "RIS"]
    assert main([*base, "create", study.study_instance_uid, "--accession", "ACC42"]) == 0
    uid = capsys.readouterr().out.strip()
    created = ris.steps[uid]
    assert str(created.PatientName) == "张^三"
    assert created.PerformedProcedureStepStatus == "IN PROGRESS"
    assert created.Modality == "CT"
    scheduled = created.ScheduledStepAttributesSequence[0]
    assert scheduled.StudyInstanceUID == study.study_instance_uid
    assert scheduled.AccessionNumber == "ACC42"
    assert main([*base, "set", uid, "--status", "completed",
                 "--study", study.study_instance_uid]) == 0
    done = ris.steps[uid]
    assert done.PerformedProcedureStepStatus == "COMPLETED"
    assert done.PerformedProcedureStepEndDate
    (series,) = done.PerformedSeriesSequence
    assert len(series.ReferencedImageSequence) == 6
    # a step that has ended cannot be changed (PS3.4 F.7.2.2): the refusal is named
    assert main([*base, "set", uid, "--status", "discontinued"]) == 2
    err = capsys.readouterr().err
    assert "RIS (RIS@127.0.0.1:" in err and "0x0110" in err


def test_unknown_step_and_unreachable_node(tmp_path: Path, ris: MppsSCP) -> None:
    settings = load_settings(write_config(tmp_path / "config.toml", {
        "RIS": ("RIS", ris.port), "GONE": ("NOBODY", free_port())}, connect=2))
    local = Local(settings.local, settings.network)
    with pytest.raises(PeerError, match="0x0112 .no such SOP instance"):
        mpps.finish_step(settings.node("RIS"), local, "1.2.3.4", mpps.COMPLETED, [])
    with pytest.raises(PeerError, match="cannot connect"):
        mpps.create_step(settings.node("GONE"), local, mpps.PerformedStep("X^Y", "1"))
    with pytest.raises(ValueError, match="COMPLETED or DISCONTINUED"):
        mpps.finish_step(settings.node("RIS"), local, "1.2.3", "IN PROGRESS", [])
