"""`dicom-viewer hanging list|show|export|import` on a real archive and config folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydicom import dcmread

from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.cli import main
from viewer.reading.benchmark import CT_CHEST_SERIES, write_study
from viewer.reading.hanging_iod import HANGING_PROTOCOL_STORAGE


@pytest.fixture(scope="module")
def archive_with_prior(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("cli")
    now, _ = write_study(root / "src" / "now", CT_CHEST_SERIES, study_date="20261201")
    prior, _ = write_study(root / "src" / "prior", CT_CHEST_SERIES[1:4], study_date="20260101")
    with Archive(root / "archive") as archive:
        assert not import_paths(archive, [root / "src"]).failed
    return root / "archive", now, prior


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_a_bad_file_and_lists_the_rest(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    (tmp_path / "hanging").mkdir()
    bad = tmp_path / "hanging" / "bad.toml"
    bad.write_text('[protocol]\nname = "Bad"\n[[stage]]\nlayout = "5"\n', encoding="utf-8")
    code, out, err = _run(capsys, "--config", str(config), "hanging", "list", "--json")
    assert code == 1
    assert err.splitlines() == [f"{bad}: stage[1].layout: layout must be COLUMNSxROWS (at most "
                                "64 viewports), not '5'"]
    names = [p["name"] for p in json.loads(out)]
    assert names == ["CR/DX chest PA + LAT with prior", "CT chest with prior", "Generic 4-up",
                     "MR brain"]


def test_show_a_study_with_its_prior(archive_with_prior: tuple[Path, str, str], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    archive, now, prior = archive_with_prior
    args = ("--archive", str(archive), "--config", str(tmp_path / "config.toml"), "hanging",
            "show", now)
    code, out, err = _run(capsys, *args, "--json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["protocol"] == "CT chest with prior" and document["priors"] == [prior]
    axial = document["stages"][0]
    assert [(v["StudyInstanceUID"], v["SeriesDescription"]) for v in axial["viewports"]] == [
        (now, "Lung 1.0 axial"), (prior, "Lung 1.0 axial")]
    assert {"kind": "scroll", "viewports": [1, 2]} in axial["sync"]
    code, out, _ = _run(capsys, *args)
    assert code == 0 and out.startswith("CT chest with prior (score 25; 1 prior(s))")
    code, _, err = _run(capsys, "--archive", str(archive), "hanging", "show", "1.2.3")
    assert code == 2 and err == "dicom-viewer hanging: study 1.2.3 is not in the archive\n"


def test_export_then_import_into_the_users_folder(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = ("--config", str(tmp_path / "config.toml"))
    out_file = tmp_path / "mr.dcm"
    code, out, _ = _run(capsys, *config, "hanging", "export", "MR brain", "-o", str(out_file))
    assert code == 0 and f"wrote {out_file}" in out
    assert "dropped: stage 1: zoom sync: no place in the IOD" in out.splitlines()
    assert dcmread(out_file).SOPClassUID == HANGING_PROTOCOL_STORAGE
    code, out, _ = _run(capsys, *config, "hanging", "import", str(out_file))
    target = tmp_path / "hanging" / "mr.toml"
    assert code == 0 and out.endswith(f"MR brain: wrote {target}\n") and target.exists()
    code, out, _ = _run(capsys, *config, "hanging", "list")
    assert code == 0 and str(target) in out
    code, _, err = _run(capsys, *config, "hanging", "import", str(out_file))
    assert code == 2 and f"{target}: exists" in err
    code, _, _ = _run(capsys, *config, "hanging", "import", str(out_file), "--replace")
    assert code == 0
    code, _, err = _run(capsys, *config, "hanging", "export", "Nope", "-o", str(out_file))
    assert code == 2 and "no hanging protocol named 'Nope'" in err


def test_import_refuses_what_is_not_a_hanging_protocol(
    archive_with_prior: tuple[Path, str, str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ct = next((archive_with_prior[0] / "store").rglob("*.dcm"))
    config = ("--config", str(tmp_path / "config.toml"))
    code, out, err = _run(capsys, *config, "hanging", "import", str(ct))
    assert code == 2 and out == ""
    assert err.startswith(f"dicom-viewer hanging: {ct}: not a Hanging Protocol instance")
    assert len(err.splitlines()) == 1
    missing = tmp_path / "missing.dcm"
    code, _, err = _run(capsys, *config, "hanging", "import", str(missing))
    assert code == 2 and err.startswith(f"dicom-viewer hanging: {missing}: ")
    assert not (tmp_path / "hanging").exists()
