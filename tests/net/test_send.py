"""C-STORE SCU, `dicom-viewer send` (issue 6 item 4) against DCMTK storescp and Orthanc."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import UID

from tests.net.peers import free_port, run_orthanc, run_storescp, write_config
from tests.peers import require_tool
from viewer.cli import main
from viewer.config import Node
from viewer.dicom.demo import write_ct_series
from viewer.net.association import Local
from viewer.net.store_scu import (
    Outcome,
    SendInterrupted,
    plan_contexts,
    send_files,
    status_meaning,
)

pytestmark = pytest.mark.timeout(180)

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
JPEG_LS = "1.2.840.10008.1.2.4.80"
CT = "1.2.840.10008.5.1.4.1.1.2"


def _by_uid(paths: list[Path]) -> dict[str, pydicom.Dataset]:
    datasets = [pydicom.dcmread(p) for p in paths]
    return {str(ds.SOPInstanceUID): ds for ds in datasets}


def _assert_same_images(sent: list[Path], received: list[Path]) -> None:
    want, got = _by_uid(sent), _by_uid(received)
    assert sorted(got) == sorted(want)
    for uid, ds in want.items():
        assert np.array_equal(got[uid].pixel_array, ds.pixel_array), uid
        assert got[uid].PatientName == ds.PatientName


def test_send_a_study_from_the_archive_to_storescp_and_loose_files_to_orthanc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_ct_series(tmp_path / "study", 6, 64, 64, patient_name="SEND^STUDY")
    loose = write_ct_series(tmp_path / "loose", 4, 64, 64, patient_name="SEND^LOOSE")
    archive = ["--archive", str(tmp_path / "archive")]
    assert main([*archive, "import", str(tmp_path / "study")]) == 0
    study_uid = str(pydicom.dcmread(study[0]).StudyInstanceUID)
    with run_storescp(tmp_path / "scp") as scp, run_orthanc(tmp_path / "orthanc") as pacs:
        config = write_config(tmp_path / "config.toml", {
            "SCP": (scp.ae_title, scp.port), "PACS": (pacs.ae_title, pacs.port)})
        cfg = ["--config", str(config), *archive]
        capsys.readouterr()
        assert main([*cfg, "send", "SCP", study_uid, "--json"]) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["sent"] == 6 and document["failed"] == 0
        assert document["stopped"] is None and document["not_sent"] == []
        first = document["instances"][0]
        assert set(first) >= {"path", "SOPInstanceUID", "SOPClassUID", "TransferSyntaxUID",
                              "status", "code", "reason"}
        assert (first["status"], first["code"], first["SOPClassUID"]) == ("success", "0000", CT)
        _assert_same_images(study, scp.received())
        # files and a folder, to Orthanc; human output
        assert main([*cfg, "send", "PACS", str(loose[0]), str(tmp_path / "loose")]) == 0
        assert "sent 5, warnings 0, failed 0" in capsys.readouterr().out  # loose[0] twice
        assert pacs.instance_count() == 4
        ids = pacs.rest("/instances")
        assert isinstance(ids, list)
        stored = []
        for n, orthanc_id in enumerate(ids):
            path = tmp_path / f"orthanc-{n}.dcm"
            url = f"http://127.0.0.1:{pacs.http_port}/instances/{orthanc_id}/file"
            with urllib.request.urlopen(url, timeout=30) as response:
                path.write_bytes(response.read())
            stored.append(path)
        _assert_same_images(loose, stored)


def test_a_compressed_file_arrives_decompressed_when_the_peer_wants_it_uncompressed(
    tmp_path: Path,
) -> None:
    dcmcjpls = require_tool("dcmcjpls", "dcmtk")
    originals = write_ct_series(tmp_path / "ct", 3, 64, 64)
    compressed = tmp_path / "jls.dcm"
    subprocess.run([dcmcjpls, str(originals[0]), str(compressed)], check=True)
    assert str(pydicom.dcmread(compressed).file_meta.TransferSyntaxUID) == JPEG_LS
    files = [compressed, *originals[1:]]
    # storescp +xi: implicit VR little endian only, so even the explicit files are converted
    with run_storescp(tmp_path / "implicit", "STORESCP", "+xi") as scp:
        node = Node("SCP", scp.ae_title, "127.0.0.1", scp.port, None)
        report = send_files(node, Local(), files)
        assert report.ok and len(report.succeeded) == 3
        assert {r.sent_transfer_syntax_uid for r in report.results} == {IMPLICIT}
        assert report.results[0].transfer_syntax_uid == JPEG_LS
        received = scp.received()
        assert {str(pydicom.dcmread(p).file_meta.TransferSyntaxUID) for p in received} == {
            IMPLICIT}
        # JPEG-LS lossless: the pixels are the original ones, the SOP Instance UID kept
        _assert_same_images(originals, received)
    # a peer that accepts JPEG-LS gets the file as it is stored
    with run_storescp(tmp_path / "all") as scp:
        node = Node("SCP", scp.ae_title, "127.0.0.1", scp.port, None)
        report = send_files(node, Local(), [compressed])
        assert report.ok and report.results[0].sent_transfer_syntax_uid == JPEG_LS
        (received_file,) = scp.received()
        got = pydicom.dcmread(received_file)
        want = pydicom.dcmread(compressed)
        assert str(got.file_meta.TransferSyntaxUID) == JPEG_LS
        assert got.PixelData == want.PixelData


def test_unreadable_files_and_refused_sop_classes_fail_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_ct_series(tmp_path / "ct", 3, 32, 32)
    text = tmp_path / "notes.txt"
    text.write_text("not DICOM at all\n" * 20)
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(good[0].read_bytes()[:200])
    private = tmp_path / "private.dcm"
    ds = pydicom.dcmread(good[0])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = UID("1.2.826.0.1.3680043.9.9999.1")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(
        "1.2.826.0.1.3680043.9.9999.2")
    ds.save_as(private, enforce_file_format=True)
    with run_storescp(tmp_path / "scp") as scp:  # no --promiscuous: unknown classes refused
        config = write_config(tmp_path / "config.toml", {"SCP": (scp.ae_title, scp.port)})
        items = [str(good[0]), str(text), str(truncated), str(private), str(good[1]),
                 str(good[2])]
        assert main(["--config", str(config), "send", "SCP", *items, "--json"]) == 1
        captured = capsys.readouterr()
        document = json.loads(captured.out)
        statuses = {Path(i["path"]).name: (i["status"], i["reason"])
                    for i in document["instances"]}
        assert document["sent"] == 3 and document["failed"] == 3
        assert statuses["notes.txt"][0] == "failure"
        assert "DICOM" in statuses["notes.txt"][1]
        assert statuses["truncated.dcm"][0] == "failure"
        assert statuses["private.dcm"] == (
            "failure", "the peer accepted no presentation context for 1.2.826.0.1.3680043.9.9999.1")
        assert "notes.txt: failed" in captured.err and "private.dcm: failed" in captured.err
        assert sorted(_by_uid(scp.received())) == sorted(_by_uid(good))


def test_an_unreachable_or_unknown_node_is_named_and_nothing_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_ct_series(tmp_path / "ct", 1, 16, 16)
    config = write_config(tmp_path / "config.toml", {"GONE": ("NOBODY", free_port())},
                          connect=2)
    cfg = ["--config", str(config), "--archive", str(tmp_path / "archive")]
    assert main([*cfg, "send", "GONE", str(files[0])]) == 2
    err = capsys.readouterr().err
    assert "GONE (NOBODY@127.0.0.1:" in err and "cannot connect" in err
    assert main([*cfg, "send", "MISSING", str(files[0])]) == 2
    assert "no node named 'MISSING'" in capsys.readouterr().err
    assert main([*cfg, "send", "GONE", "1.2.3.4.5"]) == 2
    assert "1.2.3.4.5: no such file, folder or study" in capsys.readouterr().err
    assert main([*cfg, "send", "GONE", str(files[0]), "--commit"]) == 2
    assert "cannot connect" in capsys.readouterr().err


def test_a_peer_abort_part_way_reports_what_was_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_ct_series(tmp_path / "ct", 4, 32, 32)
    # storescp --abort-after: stores the first C-STORE request, then aborts before answering
    with run_storescp(tmp_path / "scp", "STORESCP", "--abort-after") as scp:
        node = Node("SCP", scp.ae_title, "127.0.0.1", scp.port, None)
        with pytest.raises(SendInterrupted) as caught:
            send_files(node, Local(), files)
        report = caught.value.report
        assert "SCP (STORESCP@127.0.0.1:" in str(caught.value)
        assert [r.outcome for r in report.results] == [Outcome.FAILURE]
        assert "aborted by the peer" in report.results[0].reason
        assert report.not_sent == tuple(str(p) for p in files[1:])
        config = write_config(tmp_path / "config.toml", {"SCP": (scp.ae_title, scp.port)})
        assert main(["--config", str(config), "send", "SCP", *map(str, files), "--json"]) == 1
        captured = capsys.readouterr()
        document = json.loads(captured.out)
        assert document["sent"] == 0 and len(document["not_sent"]) == 3
        assert "aborted" in document["stopped"]
        assert "SCP (STORESCP@" in captured.err and "3 file(s) not sent" in captured.err


@pytest.mark.parametrize(
    ("status", "outcome", "meaning"),
    [
        (0x0000, Outcome.SUCCESS, "success"),
        (0xB000, Outcome.WARNING, "coercion of data elements"),
        (0xB006, Outcome.WARNING, "elements discarded"),
        (0xB007, Outcome.WARNING, "data set does not match SOP class"),
        (0xA702, Outcome.FAILURE, "out of resources"),
        (0xA900, Outcome.FAILURE, "does not match SOP class"),
        (0xC123, Outcome.FAILURE, "cannot understand"),
        (0x0122, Outcome.FAILURE, "SOP class not supported"),
    ],
    ids=lambda v: f"{v:04X}" if isinstance(v, int) else str(v),
)
def test_status_meanings_follow_ps3_4_annex_b(status: int, outcome: Outcome, meaning: str) -> None:
    got_outcome, got_meaning = status_meaning(status)
    assert got_outcome is outcome and meaning in got_meaning


def test_contexts_offer_the_stored_syntax_beside_a_little_endian_fallback() -> None:
    mr = "1.2.840.10008.5.1.4.1.1.4"
    contexts = plan_contexts([(CT, EXPLICIT), (CT, JPEG_LS), (CT, JPEG_LS), (mr, IMPLICIT)])
    offered = [(str(c.abstract_syntax), [str(t) for t in c.transfer_syntax]) for c in contexts]
    assert offered == [(CT, [EXPLICIT, IMPLICIT]), (mr, [EXPLICIT, IMPLICIT]), (CT, [JPEG_LS])]
    many = plan_contexts([(f"1.2.3.{n}", JPEG_LS) for n in range(200)])
    assert len(many) == 128
    assert all(c.transfer_syntax == [EXPLICIT, IMPLICIT] for c in many)

