"""A performed procedure step around a worklist item (issue 18 item 3), from the command line
and through the core model both faces share: the item from Orthanc's worklists plugin, the
MPPS messages to tests.net.mpps_peer's SCP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.net.mpps_peer import MppsSCP, serving_mpps
from tests.net.peers import Orthanc, write_config
from tests.net.worklist_peer import run_orthanc_worklists, write_item
from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.cli import main
from viewer.config import load_settings
from viewer.dicom.demo import write_ct_series
from viewer.net import mpps
from viewer.net.association import Local
from viewer.net.procedure_step import ProcedureStep, StepStateError
from viewer.net.worklist import item_by_accession

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def ris_worklist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    folder = tmp_path_factory.mktemp("worklist")
    database = folder / "worklists"
    write_item(database, "a", "DOE^JANE", "ISO_IR 100", "CT", "CT1", "20261208", "A1")
    write_item(database, "b", "张^三", "ISO_IR 192", "CT", "CT1", "20261208", "A2")
    with run_orthanc_worklists(folder / "orthanc", database) as orthanc:
        yield orthanc


@pytest.fixture
def ris() -> Iterator[MppsSCP]:
    with serving_mpps() as scp:
        yield scp


def config_for(tmp_path: Path, worklist: Orthanc, ris: MppsSCP) -> Path:
    return write_config(tmp_path / "config.toml", {"WL": (worklist.ae_title, worklist.port),
                                                   "RIS": ("RIS", ris.port)})


def test_mpps_create_for_a_worklist_item_by_accession(
    tmp_path: Path, ris_worklist: Orthanc, ris: MppsSCP, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, ris_worklist, ris)
    base = ["--config", str(config), "--archive", str(tmp_path / "archive"), "mpps", "RIS"]
    assert main([*base, "create", "--worklist", "WL", "--accession", "A2"]) == 0
    uid = capsys.readouterr().out.strip()
    created = ris.steps[uid]
    assert str(created.PatientName) == "张^三" and created.PatientID == "ID-A2"
    assert created.Modality == "CT"
    scheduled = created.ScheduledStepAttributesSequence[0]
    assert (scheduled.AccessionNumber, scheduled.ScheduledProcedureStepID,
            scheduled.RequestedProcedureID) == ("A2", "SPS-A2", "RP-A2")
    settings = load_settings(config)
    item = item_by_accession(settings.node("WL"), Local(settings.local, settings.network), "A2")
    assert scheduled.StudyInstanceUID == item.study_instance_uid
    # the worklist lacks the accession, or the flags do not fit: one line, exit 2, nothing sent
    assert main([*base, "create", "--worklist", "WL", "--accession", "NOPE"]) == 2
    err = capsys.readouterr().err
    assert "no worklist item has accession number NOPE" in err and "WL (" in err
    assert main([*base, "create", "--worklist", "WL"]) == 2
    assert "--accession" in capsys.readouterr().err
    assert main([*base, "create"]) == 2
    assert "STUDY_UID" in capsys.readouterr().err
    assert len(ris.steps) == 1
    # the step then ends as before, with `set`
    assert main([*base, "set", uid, "--status", "discontinued"]) == 0
    assert ris.steps[uid].PerformedProcedureStepStatus == "DISCONTINUED"


def test_the_step_lists_only_the_series_it_made_and_ends_once(
    tmp_path: Path, ris_worklist: Orthanc, ris: MppsSCP
) -> None:
    settings = load_settings(config_for(tmp_path, ris_worklist, ris))
    local = Local(settings.local, settings.network)
    item = item_by_accession(settings.node("WL"), local, "A1")
    earlier = write_ct_series(tmp_path / "earlier", 2, 16, 16,
                              study_uid=item.study_instance_uid)
    made = write_ct_series(tmp_path / "made", 3, 16, 16, study_uid=item.study_instance_uid)
    with Archive(tmp_path / "archive") as archive:
        import_paths(archive, earlier)  # a series of an earlier step of the same order
        step = ProcedureStep.for_item(item)
        with pytest.raises(StepStateError, match="not been started"):
            step.check_can_end()
        uid = step.start(settings.node("RIS"), local, archive)
        assert step.status == mpps.IN_PROGRESS and ris.steps[uid].PatientName == "DOE^JANE"
        with pytest.raises(StepStateError, match="started once"):
            step.start(settings.node("RIS"), local, archive)
        import_paths(archive, made)
        series = step.series_made(archive)
        assert [len(s.images) for s in series] == [3]
        step.end(settings.node("RIS"), local, mpps.COMPLETED, series)
    done = ris.steps[uid]
    assert done.PerformedProcedureStepStatus == "COMPLETED"
    (performed,) = done.PerformedSeriesSequence
    assert performed.SeriesInstanceUID == series[0].series_instance_uid
    assert ris.sets == 1
    # a second N-SET is refused before anything is sent
    with pytest.raises(StepStateError, match="COMPLETED already"):
        step.end(settings.node("RIS"), local, mpps.DISCONTINUED, [])
    assert ris.sets == 1 and step.status == mpps.COMPLETED
