"""A bounded local cache gated by storage commitment (issue 15 item 5): studies committed by a
real Orthanc (`send --commit`, and a commitment that Orthanc fails for an instance it lost)
are pruned least recently viewed first; uncommitted and partially committed ones never are.

One archive is built once per module against Orthanc (four studies, viewed in this order):
  OLD      never sent: the oldest, uncommitted
  PARTIAL  sent, then one instance deleted on the PACS before the commitment request: Orthanc
           commits 3 of 4 and fails one (0x0112)
  FIRST    sent with --commit: committed
  SECOND   sent with --commit: committed, viewed last
Each test works on its own copy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from tests.net.peers import LOOPBACK, OUR_AE, free_port, run_orthanc, write_config
from tests.peers import require_tool
from viewer.archive.archive import Archive
from viewer.archive.retention import RetentionPolicy, record_view, store_size, studies
from viewer.cli import main
from viewer.config import LocalNode, Node
from viewer.dicom.demo import write_ct_series
from viewer.net.association import Local
from viewer.net.commitment import record_result, request_commitment
from viewer.net.storage_scp import StorageSCP

pytestmark = pytest.mark.timeout(300)

NAMES = ("OLD", "PARTIAL", "FIRST", "SECOND")
VIEWED = {  # when each study was last opened for reading: OLD longest ago
    "OLD": "2026-01-01T08:00:00Z",
    "PARTIAL": "2026-02-01T08:00:00Z",
    "FIRST": "2026-03-01T08:00:00Z",
    "SECOND": "2026-04-01T08:00:00Z",
}


@dataclass(frozen=True)
class Built:
    folder: Path
    config: Path  # nodes: PACS (the Orthanc); no [archive] table
    uids: dict[str, str]  # name -> Study Instance UID
    lost: str  # the SOP Instance UID of PARTIAL that the PACS lost


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("retention")
    uids = {name: generate_uid() for name in NAMES}
    for name, uid in uids.items():
        write_ct_series(root / "src" / name, 4, 32, 32, patient_name=f"RETENTION^{name}",
                        patient_id=name, study_uid=uid)
    archive = root / "archive"
    port = free_port()
    with run_orthanc(root / "orthanc", {"US": (OUR_AE, LOOPBACK, port)}) as pacs:
        config = write_config(root / "config.toml", {"PACS": (pacs.ae_title, pacs.port)},
                              local_port=port)
        base = ["--archive", str(archive), "--config", str(config)]
        assert main([*base, "import", str(root / "src")]) == 0
        for name in ("FIRST", "SECOND"):
            assert main([*base, "send", "PACS", uids[name], "--commit",
                         "--commit-wait", "30"]) == 0
        assert main([*base, "send", "PACS", uids["PARTIAL"]]) == 0
        partial = sorted(root.joinpath("src", "PARTIAL").iterdir())
        lost = str(dcmread(partial[0], stop_before_pixels=True).SOPInstanceUID)
        found = pacs.rest("/tools/lookup", lost.encode(), "POST")
        assert isinstance(found, list) and len(found) == 1
        pacs.rest(f"/instances/{found[0]['ID']}", method="DELETE")
        with Archive(archive) as a:
            series = a.index.series(uids["PARTIAL"])[0]
            instances = a.index.instances(series.series_instance_uid)
            node = Node("PACS", pacs.ae_title, LOOPBACK, pacs.port)
            result = request_commitment(
                node, Local(LocalNode(OUR_AE, port)),
                [(i.sop_class_uid, i.sop_instance_uid) for i in instances], 30)
            assert result.answered and [uid for uid, _ in result.failed] == [lost]
            assert record_result(a.index, node, result,
                                 [i.sop_instance_uid for i in instances]) == 4
            for name, at in VIEWED.items():
                assert record_view(a.index, uids[name], at)
    yield Built(root, config, uids, lost)


@pytest.fixture
def work(built: Built, tmp_path: Path) -> Path:
    """A copy of the built archive, for one test to change."""
    shutil.copytree(built.folder / "archive", tmp_path / "archive")
    return tmp_path / "archive"


def config_with(built: Built, folder: Path, archive_table: str) -> Path:
    path = folder / "config.toml"
    path.write_text(built.config.read_text("utf-8") + "\n[archive]\n" + archive_table,
                    encoding="utf-8")
    return path


def sizes(archive: Path) -> dict[str, int]:
    with Archive(archive) as a:
        return {s.study_uid: s.size for s in studies(a.index, ())}


def study_uids(archive: Path) -> set[str]:
    with Archive(archive) as a:
        return {s.study_instance_uid for s in a.index.search_studies()}


def prune_json(archive: Path, config: Path, capsys: pytest.CaptureFixture[str],
               *flags: str) -> tuple[int, dict[str, object], str]:
    """Exit code, JSON document and stderr of `prune --json`."""
    code = main(["--archive", str(archive), "--config", str(config), "prune", "--json", *flags])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def quota_gb(n_bytes: int) -> str:
    return f"quota_gb = {n_bytes / 1e9!r}\n"


def test_commitment_is_recorded_per_instance(built: Built, work: Path) -> None:
    with Archive(work) as a:
        state = {s.study_uid: s for s in studies(a.index, {"ORTHANC"})}
    names = {uid: name for name, uid in built.uids.items()}
    by_name = {names[uid]: s for uid, s in state.items()}
    assert (by_name["OLD"].committed, by_name["OLD"].committed_by) == (0, ())
    assert (by_name["PARTIAL"].committed, by_name["PARTIAL"].failed) == (3, 1)
    assert by_name["FIRST"].fully_committed and by_name["FIRST"].committed_by == ("ORTHANC",)
    assert by_name["SECOND"].fully_committed
    assert [names[s.study_uid] for s in state.values()] == list(NAMES)  # least recent first


def test_dry_run_lists_what_would_go_and_changes_nothing(
    built: Built, work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = sizes(work)
    total = sum(size.values())
    config = config_with(built, tmp_path, quota_gb(total - size[built.uids["FIRST"]]))
    files_before = sorted(work.joinpath("store").rglob("*.dcm"))
    code, document, _ = prune_json(work, config, capsys, "--dry-run")
    assert code == 0 and document["dry_run"] is True
    remove = document["remove"]
    assert isinstance(remove, list) and [s["StudyInstanceUID"] for s in remove] == [
        built.uids["FIRST"]]
    assert remove[0]["PatientName"] == "RETENTION^FIRST"
    assert remove[0]["committed_by"] == ["ORTHANC"]
    assert remove[0]["last_viewed"] == VIEWED["FIRST"]
    assert remove[0]["size_bytes"] == size[built.uids["FIRST"]]
    keep = {s["StudyInstanceUID"]: s["reason"] for s in document["keep"]}  # type: ignore[union-attr]
    assert keep[built.uids["OLD"]].startswith("not committed: 4 of 4")
    assert keep[built.uids["PARTIAL"]].startswith("not committed: 1 of 4")
    assert keep[built.uids["SECOND"]] == "within quota"
    assert study_uids(work) == set(built.uids.values())
    assert sorted(work.joinpath("store").rglob("*.dcm")) == files_before


def test_prune_removes_committed_least_recently_viewed_only(
    built: Built, work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = sizes(work)
    total = sum(size.values())
    config = config_with(built, tmp_path, quota_gb(total - size[built.uids["FIRST"]]))
    first_files = _files_of(work, built.uids["FIRST"])
    code, document, _ = prune_json(work, config, capsys)
    assert code == 0 and document["over_bytes"] == 0
    assert study_uids(work) == set(built.uids.values()) - {built.uids["FIRST"]}
    assert not any(path.exists() for path in first_files)
    assert main(["--archive", str(work), "check"]) == 0  # no orphans, no missing files
    with Archive(work) as a:
        assert store_size(a.index) == total - size[built.uids["FIRST"]]


def test_uncommitted_studies_stay_even_when_the_quota_cannot_be_met(
    built: Built, work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = sizes(work)
    config = config_with(built, tmp_path, quota_gb(1000))
    code, document, summary = prune_json(work, config, capsys)
    assert code == 1  # the store stays over the quota
    assert study_uids(work) == {built.uids["OLD"], built.uids["PARTIAL"]}
    assert document["over_bytes"] == size[built.uids["OLD"]] + size[built.uids["PARTIAL"]] - 1000
    assert document["kept_uncommitted"] == 2
    assert "over the quota: 2 studies kept because a PACS has not committed them" in summary


def test_quota_not_exceeded_removes_nothing(
    built: Built, work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with(built, tmp_path, quota_gb(sum(sizes(work).values())))
    code, document, _ = prune_json(work, config, capsys)
    assert code == 0 and document["remove"] == [] and document["over_bytes"] == 0
    assert {s["reason"] for s in document["keep"]} == {"within quota"}  # type: ignore[union-attr]
    assert study_uids(work) == set(built.uids.values())


def test_only_the_configured_commit_nodes_count(
    built: Built, work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(built.config.read_text("utf-8") + '\n[nodes.OTHER]\nae_title = "OTHER"\n'
                      f'host = "{LOOPBACK}"\nport = {free_port()}\n\n[archive]\n'
                      + quota_gb(1000) + 'commit_nodes = ["OTHER"]\n', encoding="utf-8")
    code, document, _ = prune_json(work, config, capsys)
    assert code == 1 and document["remove"] == [] and document["kept_uncommitted"] == 4
    assert study_uids(work) == set(built.uids.values())


def test_an_instance_received_after_the_commitment_is_not_committed(
    built: Built, work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """FIRST gets a new series, and SECOND loses an instance that is then received again:
    neither is fully committed any more, so a tiny quota removes neither."""
    write_ct_series(tmp_path / "more", 2, 32, 32, patient_name="RETENTION^FIRST",
                    patient_id="FIRST", study_uid=built.uids["FIRST"], series_number=2)
    again = sorted(built.folder.joinpath("src", "SECOND").iterdir())[0]
    uid = str(dcmread(again, stop_before_pixels=True).SOPInstanceUID)
    with Archive(work) as a:
        path = a.index.remove_instance(uid)
        assert path is not None
        a.store.remove(path)
    assert main(["--archive", str(work), "import", str(tmp_path / "more"), str(again)]) == 0
    capsys.readouterr()
    config = config_with(built, tmp_path, quota_gb(1000))
    code, document, _ = prune_json(work, config, capsys)
    assert code == 1 and document["remove"] == []
    keep = {s["StudyInstanceUID"]: s["reason"] for s in document["keep"]}  # type: ignore[union-attr]
    assert keep[built.uids["FIRST"]].startswith("not committed: 2 of 6")
    assert keep[built.uids["SECOND"]].startswith("not committed: 1 of 4")


def test_an_import_past_the_quota_prunes_by_itself(
    built: Built, work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = sizes(work)
    config = config_with(built, tmp_path, quota_gb(sum(size.values())))
    write_ct_series(tmp_path / "new", 2, 32, 32, patient_name="RETENTION^NEW", patient_id="NEW")
    assert main(["--archive", str(work), "--config", str(config), "import",
                 str(tmp_path / "new")]) == 0
    assert "quota: " in capsys.readouterr().err
    remaining = study_uids(work)
    assert built.uids["FIRST"] not in remaining  # the least recently viewed committed study
    assert {built.uids["OLD"], built.uids["PARTIAL"], built.uids["SECOND"]} <= remaining
    assert len(remaining) == 4


def test_a_storage_scp_association_past_the_quota_prunes(
    built: Built, work: Path, tmp_path: Path
) -> None:
    size = sizes(work)
    files = write_ct_series(tmp_path / "new", 2, 32, 32, patient_name="RETENTION^NEW",
                            patient_id="NEW")
    policy = RetentionPolicy.of(sum(size.values()) / 1e9, {"ORTHANC"})
    local = Local(LocalNode(ae_title=OUR_AE, port=0))
    with StorageSCP(work, local, port=0, retention=policy) as scp:
        subprocess.run(
            [require_tool("storescu", "dcmtk"), "-aec", OUR_AE, LOOPBACK, str(scp.port),
             *map(str, files)],
            env={**os.environ, "TCP_NODELAY": "1"}, check=True, capture_output=True,
            timeout=60)
        deadline = time.monotonic() + 20
        while scp.archive.last_prune is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the prune runs when the association has ended
        assert scp.archive.last_prune is not None and scp.archive.last_prune.over == 0
    assert built.uids["FIRST"] not in study_uids(work)
    assert built.uids["SECOND"] in study_uids(work)


def test_a_retrieve_past_the_quota_prunes(
    built: Built, work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = sizes(work)
    files = write_ct_series(tmp_path / "new", 2, 32, 32, patient_name="RETENTION^NEW",
                            patient_id="NEW")
    new_study = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    with run_orthanc(tmp_path / "orthanc") as pacs:
        pacs.upload(*files)
        config = write_config(tmp_path / "config.toml", {"PACS": (pacs.ae_title, pacs.port)})
        config.write_text(config.read_text("utf-8") + "\n[archive]\n"
                          + quota_gb(sum(size.values())), encoding="utf-8")
        assert main(["--archive", str(work), "--config", str(config), "retrieve", "PACS",
                     new_study, "--via", "get"]) == 0
    assert "quota: " in capsys.readouterr().err
    remaining = study_uids(work)
    assert new_study in remaining and built.uids["FIRST"] not in remaining
    assert built.uids["SECOND"] in remaining


def test_prune_without_a_quota_is_bad_usage(
    built: Built, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--archive", str(work), "--config", str(built.config), "prune"]) == 2
    assert "quota_gb" in capsys.readouterr().err
    assert study_uids(work) == set(built.uids.values())


def _files_of(archive: Path, study_uid: str) -> list[Path]:
    with Archive(archive) as a:
        return [a.store.absolute(i.store_path) for se in a.index.series(study_uid)
                for i in a.index.instances(se.series_instance_uid)]
