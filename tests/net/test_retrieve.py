"""C-GET from Orthanc into the archive (issue 6 item 3, the C-GET half): a whole study and one
series, again (already present), an unknown study, cancel mid-way (C-CANCEL), an unreachable
node; the stored files hold the peer's bytes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid
from pynetdicom import _config

from tests.net.peers import Orthanc, free_port, run_orthanc, write_config
from tests.peers import require_tool
from viewer.archive.archive import Archive
from viewer.archive.check import check_archive
from viewer.archive.importer import ImportReport, import_file
from viewer.cli import main
from viewer.config import Node
from viewer.dicom.demo import write_ct_series
from viewer.jobs import CancelToken, Failure
from viewer.net.association import Local, PeerError
from viewer.net.retrieve import (
    CANCEL,
    COMMON_STORAGE_CLASSES,
    DUPLICATE_SOP_INSTANCE,
    OUT_OF_RESOURCES,
    TRANSFER_SYNTAXES,
    Outcome,
    Retrieval,
    RetrieveProgress,
    get,
    storage_classes,
    storage_contexts,
)

pytestmark = pytest.mark.timeout(180)

CT = "1.2.840.10008.5.1.4.1.1.2"


@dataclass
class Pacs:
    node: Node
    config: Path
    study_uid: str
    series: dict[str, list[Path]]  # Series Instance UID -> its files
    orthanc: Orthanc


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pacs]:
    """Orthanc holding one 20-slice study: a series of 15 slices and one of 5."""
    tmp = tmp_path_factory.mktemp("orthanc")
    study_uid = generate_uid()
    series: dict[str, list[Path]] = {}
    for number, slices in ((1, 15), (2, 5)):
        series_uid = generate_uid()
        series[series_uid] = write_ct_series(
            tmp / f"s{number}", slices, 64, 64, patient_name="DOE^JOHN", patient_id="P1",
            study_uid=study_uid, series_uid=series_uid, series_number=number, seed=number,
        )
    with run_orthanc(tmp / "orthanc") as orthanc:
        orthanc.upload(*(p for paths in series.values() for p in paths))
        assert orthanc.instance_count() == 20
        config = write_config(tmp / "config.toml", {"PACS": (orthanc.ae_title, orthanc.port)})
        yield Pacs(Node("PACS", orthanc.ae_title, "127.0.0.1", orthanc.port), config,
                   study_uid, series, orthanc)


def _assert_stored_as_sent(archive: Archive, files: list[Path]) -> None:
    """Each original is indexed and its stored file holds the same data set: pixel data byte
    for byte, every other element equal (the file meta is ours)."""
    for path in files:
        original = dcmread(path)
        row = archive.index.get_instance(original.SOPInstanceUID)
        assert row is not None, path
        assert row.transfer_syntax_uid == original.file_meta.TransferSyntaxUID
        stored = dcmread(archive.store.absolute(row.store_path))
        assert stored.PixelData == original.PixelData
        assert stored == original  # Dataset equality: the elements, not the file meta


def test_get_a_study_then_again(pacs: Pacs, tmp_path: Path) -> None:
    seen: list[RetrieveProgress] = []
    with Archive(tmp_path / "archive") as archive:
        report = get(pacs.node, Local(), archive, pacs.study_uid, progress=seen.append)
        assert report.status == 0 and report.ok, report
        assert report.suboperations.completed == 20 and report.suboperations.failed == 0
        assert len(report.imported) == 20 and report.expected == 20
        assert not report.cancelled and not report.not_found and not report.error
        assert {s.series_instance_uid for s in archive.index.series(pacs.study_uid)} == set(
            pacs.series
        )
        _assert_stored_as_sent(archive, [p for paths in pacs.series.values() for p in paths])
        # progress: the peer's pending counts, rising to 20 received
        completed = [p.suboperations.completed for p in seen]
        assert completed == sorted(completed) and seen[-1].received == 20
        assert any(p.suboperations.remaining == 10 for p in seen)

        again = get(pacs.node, Local(), archive, pacs.study_uid)
        assert again.status == 0 and again.ok
        assert len(again.already_present) == 20 and not again.imported
        assert {i.outcome for i in again.instances} == {Outcome.ALREADY_PRESENT}
        assert not check_archive(archive).mismatched


@pytest.mark.parametrize("chunked", [False, True], ids=["in-memory", "chunked-to-file"])
def test_get_one_series(pacs: Pacs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        chunked: bool) -> None:
    # The Storage SCP switches pynetdicom to receiving into files, process-wide: C-GET's
    # sub-operations then arrive as files too.
    monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", chunked)
    series_uid, files = next((uid, f) for uid, f in pacs.series.items() if len(f) == 5)
    with Archive(tmp_path / "archive") as archive:
        report = get(pacs.node, Local(), archive, pacs.study_uid, series_uid)
        assert report.ok and report.suboperations.completed == 5 and report.expected == 5
        assert [s.series_instance_uid for s in archive.index.series(pacs.study_uid)] == [
            series_uid
        ]
        assert len(archive.index.instances(series_uid)) == 5
        _assert_stored_as_sent(archive, files)


@pytest.mark.parametrize(
    ("tool", "option", "transfer_syntax"),
    [
        ("dcmcjpls", "+el", "1.2.840.10008.1.2.4.80"),  # JPEG-LS lossless
        ("dcmcrle", "", "1.2.840.10008.1.2.5"),  # RLE lossless
        ("dcmcjpeg", "+e1", "1.2.840.10008.1.2.4.70"),  # JPEG lossless SV1
    ],
)
def test_get_keeps_the_stored_transfer_syntax(
    pacs: Pacs, tmp_path: Path, tool: str, option: str, transfer_syntax: str
) -> None:
    """A compressed study comes back byte for byte: the peer finds a context for the transfer
    syntax it stores, and neither side transcodes."""
    exe = require_tool(tool, "dcmtk")
    study_uid = generate_uid()
    files = []
    for path in write_ct_series(tmp_path / "raw", 3, 64, 64, patient_id="P9",
                                study_uid=study_uid):
        out = tmp_path / f"{path.stem}.{tool}.dcm"
        subprocess.run([exe, *([option] if option else []), str(path), str(out)], check=True,
                       capture_output=True, timeout=60)
        assert dcmread(out).file_meta.TransferSyntaxUID == transfer_syntax
        files.append(out)
    pacs.orthanc.upload(*files)
    with Archive(tmp_path / "archive") as archive:
        report = get(pacs.node, Local(), archive, study_uid)
        assert report.ok and len(report.imported) == 3
        _assert_stored_as_sent(archive, files)


def test_storage_classes_come_from_the_peer(pacs: Pacs) -> None:
    classes = storage_classes(pacs.node, Local(), pacs.study_uid)
    assert classes.sop_classes == (CT,) and classes.from_peer and classes.expected == 20
    contexts, roles = storage_contexts(classes.sop_classes)
    # one context per transfer syntax: the peer can send each instance as it is stored
    assert [c.transfer_syntax for c in contexts] == [[ts] for ts in TRANSFER_SYNTAXES]
    assert [r.sop_class_uid for r in roles] == [CT] and roles[0].scp_role
    # the fallback list fits in one association with the C-GET context
    contexts, roles = storage_contexts(COMMON_STORAGE_CLASSES)
    assert len(contexts) + 1 <= 128 and len(roles) == len(COMMON_STORAGE_CLASSES)


def test_get_with_the_common_classes_when_not_asked(pacs: Pacs, tmp_path: Path) -> None:
    with Archive(tmp_path / "archive") as archive:
        report = get(pacs.node, Local(), archive, pacs.study_uid,
                     sop_classes=COMMON_STORAGE_CLASSES)
        assert report.ok and len(report.imported) == 20


def test_unknown_study(pacs: Pacs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = generate_uid()
    with Archive(tmp_path / "archive") as archive:
        report = get(pacs.node, Local(), archive, unknown)
        assert report.not_found and report.nothing_found and not report.ok
        assert report.suboperations.completed == 0 and not report.instances
        # without the C-FIND, Orthanc answers the C-GET itself: a failure, no sub-operations
        direct = get(pacs.node, Local(), archive, unknown, sop_classes=(CT,))
        assert direct.status is not None and direct.status >= 0xA000
        assert direct.suboperations.completed == 0 and not direct.instances
        assert "0xC000" in direct.error
    cfg = ["--config", str(pacs.config), "--archive", str(tmp_path / "archive")]
    assert main([*cfg, "retrieve", "PACS", unknown]) == 1
    out, err = capsys.readouterr()
    assert "0 completed" in out
    assert f"no study {unknown} there" in err


def test_cancel_mid_way(pacs: Pacs, tmp_path: Path) -> None:
    cancel = CancelToken()

    def progress(p: RetrieveProgress) -> None:
        if p.received >= 5:
            cancel.cancel()

    with Archive(tmp_path / "archive") as archive:
        report = get(pacs.node, Local(), archive, pacs.study_uid, progress=progress,
                     cancel=cancel)
        assert report.cancelled and not report.ok
        assert report.status == CANCEL  # the peer acknowledged our C-CANCEL
        assert 5 <= len(report.imported) < 20
        assert report.suboperations.completed <= len(report.imported)
        # what was received is all there, and nothing else
        stored = {r.sop_instance_uid for s in archive.index.series(pacs.study_uid)
                  for r in archive.index.instances(s.series_instance_uid)}
        assert stored == {i.sop_instance_uid for i in report.imported}
        checked = check_archive(archive)
        assert not (checked.missing or checked.mismatched or checked.orphans)
        assert checked.instances == len(report.imported)
        # the rest comes with the next retrieve
        rest = get(pacs.node, Local(), archive, pacs.study_uid)
        assert rest.ok
        assert len(rest.imported) == 20 - len(report.imported)
        assert len(rest.already_present) == len(report.imported)


def test_cli_retrieve(pacs: Pacs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ["--config", str(pacs.config), "--archive", str(tmp_path / "archive")]
    series_uid = next(iter(pacs.series))
    assert main([*cfg, "retrieve", "PACS", pacs.study_uid, "--series", series_uid,
                 "--via", "get", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["completed"] == 15 and document["status"] == "0x0000"
    assert document["SeriesInstanceUID"] == series_uid
    assert [i["status"] for i in document["instances"]] == ["imported"] * 15
    assert main([*cfg, "retrieve", "PACS", pacs.study_uid, "--via", "get"]) == 0
    assert "imported 5, already present 15" in capsys.readouterr().out
    assert main([*cfg, "studies", "--json"]) == 0
    (study,) = json.loads(capsys.readouterr().out)
    assert study["NumberOfStudyRelatedInstances"] == 20
    # this Orthanc knows no move destinations (tests/net/test_move.py has one that does)
    assert main([*cfg, "retrieve", "PACS", pacs.study_uid, "--via", "move"]) == 1
    assert "as a C-MOVE destination?" in capsys.readouterr().err


def test_unreachable_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.toml", {"GONE": ("NOBODY", free_port())},
                          connect=2)
    cfg = ["--config", str(config), "--archive", str(tmp_path / "archive")]
    assert main([*cfg, "retrieve", "GONE", "1.2.3"]) == 2
    err = capsys.readouterr().err
    assert "GONE (NOBODY@127.0.0.1:" in err and "cannot connect" in err
    with Archive(tmp_path / "archive") as archive, pytest.raises(PeerError, match="GONE"):
        get(Node("GONE", "NOBODY", "127.0.0.1", free_port()), Local(), archive, "1.2.3",
            sop_classes=(CT,))


def test_get_from_dcmqrscp(tmp_path: Path) -> None:
    """dcmqrscp returns neither SOPClassesInStudy nor SOPClassUID: the common classes are
    offered, and the study still arrives whole."""
    from tests.net.peers import run_dcmqrscp

    study_uid, series_uid = generate_uid(), generate_uid()
    files = write_ct_series(tmp_path / "ct", 6, 32, 32, study_uid=study_uid,
                            series_uid=series_uid)
    with run_dcmqrscp(tmp_path / "qr", *files) as node:
        classes = storage_classes(node, Local(), study_uid)
        assert classes.sop_classes == COMMON_STORAGE_CLASSES and not classes.from_peer
        assert classes.matched is True and classes.notes
        with Archive(tmp_path / "archive") as archive:
            report = get(node, Local(), archive, study_uid)
            assert report.ok and len(report.imported) == 6
            assert report.suboperations.completed == 6
            _assert_stored_as_sent(archive, files)
            unknown = get(node, Local(), archive, generate_uid())
            assert unknown.not_found and not unknown.instances


def test_a_conflicting_instance_is_refused_and_reported(
    pacs: Pacs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The archive holds another instance under one of the SOP Instance UIDs: it is kept, the
    peer hears 0x0111 (its failed count says so) and the report names the instance."""
    series_uid, files = next((uid, f) for uid, f in pacs.series.items() if len(f) == 5)
    other = dcmread(files[2])
    other.SeriesDescription = "edited elsewhere"
    other.save_as(tmp_path / "other.dcm")
    archive_dir = tmp_path / "archive"
    with Archive(archive_dir) as archive:
        assert import_file(archive, tmp_path / "other.dcm", "edited").imported
        report = get(pacs.node, Local(), archive, pacs.study_uid, series_uid)
        assert not report.ok
        (conflict,) = report.conflicts
        assert conflict.sop_instance_uid == other.SOPInstanceUID
        assert conflict.status == DUPLICATE_SOP_INSTANCE and conflict.reason
        assert len(report.imported) == 4
        assert report.suboperations.failed == 1 and report.status == 0xB000
        # Orthanc 1.10 sends no Failed SOP Instance UID List with its 0xB000: nothing to check
        row = archive.index.get_instance(other.SOPInstanceUID)
        assert row is not None
        kept = dcmread(archive.store.absolute(row.store_path), stop_before_pixels=True)
        assert kept.SeriesDescription == "edited elsewhere"
    cfg = ["--config", str(pacs.config), "--archive", str(archive_dir)]
    assert main([*cfg, "retrieve", "PACS", pacs.study_uid, "--series", series_uid,
                 "--via", "get"]) == 1
    err = capsys.readouterr().err
    assert f"{other.SOPInstanceUID}: conflict:" in err


def test_import_outcomes_become_store_statuses() -> None:
    retrieval = Retrieval()
    failed = ImportReport()
    failed.failed.append(Failure("PACS: 1.2.3", "unknown transfer syntax 1.2.3.4"))
    status = retrieval.record("1.2.3", failed)
    assert status.Status == 0xC000 and status.ErrorComment == "unknown transfer syntax 1.2.3.4"
    full = retrieval.record("1.2.4", ImportReport(stopped="PACS: 1.2.4: disk full"))
    assert full.Status == OUT_OF_RESOURCES
    assert retrieval.record("1.2.5", ImportReport(already_present=["x"])).Status == 0
    report = retrieval.report("PACS", "get", "1.2", None, 0.0)
    assert report.stopped == "PACS: 1.2.4: disk full"
    assert [i.outcome for i in report.instances] == [
        Outcome.FAILED, Outcome.FAILED, Outcome.ALREADY_PRESENT]


def test_a_killed_retrieve_is_recovered_on_opening(pacs: Pacs, tmp_path: Path) -> None:
    """Issue 15 item 2 for received files: a C-GET killed (SIGKILL) after some instances were
    stored, before their batch's rows were committed (DeferredImport), leaves files that the
    next opening indexes: `check` is consistent, and retrieving again brings the rest once."""
    import signal
    import sys
    import time

    from tests.archive.test_crash_safety import indexed_rows, stored_files

    archive = tmp_path / "archive"
    command = [sys.executable, "-m", "viewer", "--config", str(pacs.config), "--archive",
               str(archive)]
    landed = False
    for _attempt in range(3):  # 20 small instances come fast: the kill may come too late
        process = subprocess.Popen([*command, "retrieve", "PACS", pacs.study_uid, "--via", "get"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not stored_files(archive) and process.poll() is None:
            assert time.monotonic() < deadline, "nothing was received in 60 s"
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if process.returncode == -signal.SIGKILL and indexed_rows(archive) < 20:
            landed = True
            break
        subprocess.run([*command, "delete", pacs.study_uid], check=True, timeout=60)
    assert landed, "the retrieve ended before it could be killed, three times"
    stored, rows = len(stored_files(archive)), indexed_rows(archive)
    assert rows < stored, "nothing was left without its row"

    check = subprocess.run([*command, "check", "--json"], capture_output=True, text=True,
                           check=False, timeout=60)
    assert check.returncode == 0, check.stdout
    document = json.loads(check.stdout)
    assert document["consistent"] and document["instances"] == document["files"] >= stored

    again = subprocess.run([*command, "retrieve", "PACS", pacs.study_uid, "--via", "get",
                            "--json"], capture_output=True, text=True, check=False, timeout=120)
    assert again.returncode == 0, again.stderr
    statuses = [i["status"] for i in json.loads(again.stdout)["instances"]]
    assert statuses.count("already_present") == document["instances"]
    assert statuses.count("imported") == 20 - document["instances"]
    assert indexed_rows(archive) == len(stored_files(archive)) == 20
