"""Nodes in the config file and C-ECHO against real peers (issue 6 item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.net.peers import free_port, run_orthanc, run_storescp, write_config
from viewer.cli import main
from viewer.config import ConfigError, load_settings


def test_nodes_add_list_remove_local_keep_the_admins_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('# written by hand\n[gui]\nlanguage = "en"  # English please\n')
    cfg = ["--config", str(config)]
    assert main([*cfg, "nodes", "add", "PACS", "ORTHANC", "pacs.example.org", "4242"]) == 0
    assert main([*cfg, "nodes", "add", "SECURE", "ARCHIVE", "10.1.2.3", "2762", "--tls",
                 "--ca", "/etc/ca.pem"]) == 0
    assert main([*cfg, "nodes", "local", "READING1", "11113"]) == 0
    text = config.read_text()
    assert "# written by hand" in text and "# English please" in text
    settings = load_settings(config)
    assert settings.language == "en"
    assert (settings.local.ae_title, settings.local.port) == ("READING1", 11113)
    assert settings.node("PACS").host == "pacs.example.org"
    secure = settings.node("SECURE")
    assert secure.tls is not None and secure.tls.ca == "/etc/ca.pem"
    capsys.readouterr()
    assert main([*cfg, "nodes", "list"]) == 0
    listed = capsys.readouterr().out
    assert "READING1" in listed and "ORTHANC" in listed and "TLS" in listed
    assert main([*cfg, "nodes", "remove", "PACS"]) == 0
    assert main([*cfg, "nodes", "remove", "PACS"]) == 2
    assert [n.name for n in load_settings(config).nodes] == ["SECURE"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "X", "A" * 17, "h", "104"], "at most 16 characters"),
        (["add", "X", "A\\B", "h", "104"], "backslash"),
        (["add", "X", "PACS", "h", "70000"], "1 to 65535"),
        (["local", "  ", "104"], "cannot be empty"),
    ],
)
def test_nodes_refuses_invalid_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    config = tmp_path / "config.toml"
    assert main(["--config", str(config), "nodes", *args]) == 2
    assert message in capsys.readouterr().err
    assert not config.exists()


def test_a_broken_config_is_named(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[nodes.PACS]\nae_title = 'ORTHANC'\nhost = 'x'\nport = 'many'\n")
    with pytest.raises(ConfigError, match=r"config.toml.*nodes\.PACS.*port"):
        load_settings(config)


def test_echo_orthanc_and_storescp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with run_orthanc(tmp_path / "orthanc") as pacs, \
            run_storescp(tmp_path / "scp") as scp:
        config = write_config(tmp_path / "config.toml", {
            "PACS": (pacs.ae_title, pacs.port), "SCP": (scp.ae_title, scp.port),
            "WRONGAE": ("NOTORTHANC", pacs.port),
        })
        cfg = ["--config", str(config)]
        assert main([*cfg, "echo", "PACS"]) == 0
        assert main([*cfg, "echo", "SCP"]) == 0
        out = capsys.readouterr().out
        assert "PACS (ORTHANC@127.0.0.1:" in out and "C-ECHO ok" in out
        # Orthanc checks the called AE title: the association is rejected, and we say so
        assert main([*cfg, "echo", "WRONGAE"]) == 2
        err = capsys.readouterr().err
        assert "WRONGAE (NOTORTHANC@" in err and "rejected" in err and "Called AE title" in err


def test_echo_an_unreachable_peer_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.toml", {"GONE": ("NOBODY", free_port())},
                          connect=2)
    assert main(["--config", str(config), "echo", "GONE"]) == 2
    err = capsys.readouterr().err
    assert "GONE (NOBODY@127.0.0.1:" in err and "cannot connect" in err
    assert main(["--config", str(config), "echo", "MISSING"]) == 2
    assert "no node named 'MISSING'" in capsys.readouterr().err
