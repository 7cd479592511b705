"""Start-up of the command line: a verb imports its own module and what it needs, nothing else,
while `--help` still lists every verb and every flag (CLI.md is a contract)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from viewer.cli import VERBS, build_parser, verb_in

CT = str(get_testdata_file("CT_small.dcm"))

# What each verb's process may not have imported by the time it is done.
_LOADED = """
import json, sys
from viewer.__main__ import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)
"""


def _modules_after(*argv: str) -> tuple[int, set[str]]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, *argv], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )
    code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return code, set(modules)


@pytest.mark.parametrize(
    ("argv", "verb"),
    [
        (["info", "x.dcm"], "info"),
        (["--archive", "A", "import", "d"], "import"),
        (["--archive=A", "--debug", "render", "d"], "render"),
        (["--arch", "A", "--conf", "c.toml", "studies"], "studies"),
        (["--debug", "--", "check"], "check"),
        (["--help"], None),
        ([], None),
        (["--config", "info"], None),  # 'info' is the config file's name here, not the verb
    ],
    ids=["plain", "archive", "equals", "abbreviated", "double-dash", "help", "empty", "value"],
)
def test_verb_in_finds_the_verb_argparse_finds(argv: list[str], verb: str | None) -> None:
    assert verb_in(argv) == verb


def test_info_imports_no_other_verb_and_no_network_or_index() -> None:
    code, modules = _modules_after("info", CT)
    assert code == 0
    verbs = {m for m in modules if m.startswith("viewer.cli.")}
    assert verbs == {"viewer.cli.info"}
    for heavy in ("pynetdicom", "sqlite3", "viewer.archive", "viewer.net", "viewer.decode",
                  "PySide6"):
        assert heavy not in modules, heavy


def test_a_verb_without_pixels_does_not_import_pydicom(tmp_path: Path) -> None:
    code, modules = _modules_after("--config", str(tmp_path / "c.toml"), "nodes", "list")
    assert code == 0
    assert not {"pydicom", "numpy", "pynetdicom"} & modules


def test_help_lists_every_verb_and_each_verb_parser_matches_the_full_one() -> None:
    full = build_parser()
    help_text = full.format_help()
    for verb in VERBS:
        assert f"    {verb}" in help_text, verb
    actions = {a.dest: a for a in full._actions}  # noqa: SLF001 - argparse keeps them there
    subparsers = actions["verb"].choices
    assert set(subparsers) == set(VERBS)
    for verb in VERBS:
        alone = build_parser(verb)
        own = {a.dest: a for a in alone._actions}["verb"].choices  # noqa: SLF001
        assert own[verb].format_help() == subparsers[verb].format_help(), verb
