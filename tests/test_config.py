"""The config file (TOML): defaults when absent, clear errors naming the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from viewer.config import ConfigError, Settings, load_settings


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.toml") == Settings()


def test_language_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[gui]\nlanguage = " zh_CN "\n', encoding="utf-8")
    assert load_settings(path).language == "zh_CN"


def test_storage_scp_limits_are_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[local]\nmax_associations = 4\n\n[network]\nidle_timeout = 2.5\n",
                    encoding="utf-8")
    settings = load_settings(path)
    assert settings.local.max_associations == 4
    assert settings.network.idle == 2.5
    assert settings.network.network == Settings().network.network  # a separate key
    assert (Settings().local.max_associations, Settings().network.idle) == (16, 60.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [("[gui\nlanguage = 1", "cannot read the config file"),
     ("[gui]\nlanguage = 3\n", "language must be text"),
     ("[archive]\nquota_gb = 0\n", "quota_gb must be a positive number"),
     ("[archive]\nquota_gb = \"10\"\n", "quota_gb must be a positive number"),
     ("[archive]\ncommit_nodes = \"PACS\"\n", "commit_nodes must be a list"),
     ("[archive]\ncommit_nodes = [\"PACS\"]\n", "'PACS', which is not a configured node"),
     ("[local]\nmax_associations = 0\n", r"\[local\] max_associations must be a whole number"),
     ("[local]\nmax_associations = 2.5\n", "max_associations must be a whole number"),
     ("[network]\nidle_timeout = -1\n", "idle_timeout must be a positive number"),
     ("[worklist]\nnode = \"RIS\"\n", r"\[worklist\] node names 'RIS', which is not a"),
     ("[worklist]\nmpps_node = 4\n", r"\[worklist\] mpps_node must be text")],
)
def test_bad_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)


_NODES = """
[nodes.PACS]
ae_title = "ORTHANC"
host = "127.0.0.1"
port = 4242

[nodes.BACKUP]
ae_title = "BACKUPPACS"
host = "127.0.0.1"
port = 4243
"""


def test_archive_quota_and_commit_nodes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(_NODES + "\n[archive]\nquota_gb = 0.5\ncommit_nodes = [\"PACS\"]\n",
                    encoding="utf-8")
    settings = load_settings(path)
    assert (settings.quota_gb, settings.commit_nodes) == (0.5, ("PACS",))
    assert settings.commit_ae_titles() == {"ORTHANC"}
    path.write_text(_NODES, encoding="utf-8")  # no [archive]: no quota, any node commits
    settings = load_settings(path)
    assert settings.quota_gb is None
    assert settings.commit_ae_titles() == {"ORTHANC", "BACKUPPACS"}


def test_view_refuses_a_broken_config_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[gui\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "viewer", "--config", str(config), "--archive",
         str(tmp_path / "archive"), "view", "--screenshot", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 2
    assert f"{config}: cannot read the config file" in done.stderr
    assert "Traceback" not in done.stderr


def test_presentation_state_setting(tmp_path: Path) -> None:
    """[reading] presentation_state: "newest" (the default) applies an image's newest state,
    "none" only lists them; anything else is named with the file."""
    path = tmp_path / "config.toml"
    assert load_settings(path).presentation_state == "newest"
    path.write_text('[reading]\npresentation_state = "none"\n', encoding="utf-8")
    assert load_settings(path).presentation_state == "none"
    path.write_text('[reading]\npresentation_state = "oldest"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.toml: \[reading\] presentation_state"):
        load_settings(path)


def test_worklist_nodes_are_read_and_written_keeping_comments(tmp_path: Path) -> None:
    from viewer.net.nodes import set_worklist_nodes

    path = tmp_path / "config.toml"
    path.write_text("# our RIS\n[nodes.RIS]\nae_title = \"RIS\"\nhost = \"ris\"\nport = 104\n"
                    "[nodes.MPPS]\nae_title = \"MPPS\"\nhost = \"ris\"\nport = 105\n",
                    encoding="utf-8")
    settings = load_settings(path)
    assert (settings.worklist_node, settings.performed_step_node(), settings.path) == (
        "", "", path)
    set_worklist_nodes("RIS", "", path)
    settings = load_settings(path)
    assert (settings.worklist_node, settings.mpps_node, settings.performed_step_node()) == (
        "RIS", "", "RIS")
    set_worklist_nodes("RIS", "MPPS", path)
    assert load_settings(path).performed_step_node() == "MPPS"
    with pytest.raises(ConfigError, match="'GONE', which is not a configured node"):
        set_worklist_nodes("GONE", "", path)
    assert load_settings(path).worklist_node == "RIS"  # a refused change leaves the file
    assert path.read_text(encoding="utf-8").startswith("# our RIS\n")
