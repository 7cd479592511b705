"""Hanging protocol files: the shipped defaults load, a user file overrides the default of the
same name, and a file with an error is one line naming the file and the key while the others
still load."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from viewer.reading.protocols import (
    HangingProtocol,
    MatchAttribute,
    MatchRule,
    Orientation,
    ProtocolError,
    Stage,
    SyncGroup,
    SyncKind,
    ViewportRule,
    default_protocol_files,
    load_protocols,
    parse_layout,
    parse_protocol,
    protocol_to_toml,
    read_protocol_file,
    user_protocol_dir,
)

GOOD = """
[protocol]
name = "{name}"

[[match]]
attribute = "modality"
values = ["CT"]
weight = 3

[[stage]]
layout = "2x1"
[[stage.viewport]]
orientation = "axial"
[[stage.viewport]]
study = 1
[[stage.sync]]
kind = "scroll"
viewports = [1, 2]
"""


def test_the_defaults_load() -> None:
    loaded = load_protocols()
    assert loaded.errors == ()
    names = [p.name for p in loaded.protocols]
    assert names == ["CR/DX chest PA + LAT with prior", "CT chest with prior", "Generic 4-up",
                     "MR brain"]
    ct = next(p for p in loaded.protocols if p.name == "CT chest with prior")
    assert [s.layout for s in ct.stages] == ["2x1", "2x1"]
    assert ct.priors_needed == 1
    assert {g.kind for g in ct.stages[0].sync} == {SyncKind.SCROLL, SyncKind.WINDOW,
                                                   SyncKind.ZOOM}
    assert ct.stages[0].viewports[1] is not None
    assert ct.stages[0].viewports[1].study == 1
    assert ct.stages[0].viewports[1].orientation is Orientation.AXIAL
    priors = [r for r in ct.rules if r.attribute is MatchAttribute.PRIORS]
    assert priors and priors[0].required and priors[0].at_least == 1


def test_a_user_file_overrides_the_default_of_the_same_name(tmp_path: Path) -> None:
    user = user_protocol_dir(tmp_path / "config.toml")
    assert user == tmp_path / "hanging"
    user.mkdir()
    (user / "generic-4up.toml").write_text(GOOD.format(name="My 2-up"), encoding="utf-8")
    (user / "extra.toml").write_text(GOOD.format(name="Extra"), encoding="utf-8")
    loaded = load_protocols(user)
    names = [p.name for p in loaded.protocols]
    assert "Generic 4-up" not in names
    assert "My 2-up" in names and "Extra" in names and "MR brain" in names
    assert loaded.errors == ()
    # a broken user file still replaces its default: the reader sees the error, not a
    # protocol they meant to change
    (user / "mr-brain.toml").write_text("[protocol]\nname = 'x'", encoding="utf-8")
    broken = load_protocols(user)
    assert "MR brain" not in [p.name for p in broken.protocols]
    assert broken.errors == (f"{user / 'mr-brain.toml'}: stage: missing (a protocol needs one "
                             "[[stage]] at least)",)
    mine = next(p for p in loaded.protocols if p.name == "My 2-up")
    assert mine.source == str(user / "generic-4up.toml")
    assert mine.stages[0].sync[0].viewports == (0, 1)


BAD = [
    # (id, file text, the key the message must name)
    ("not-toml", "[protocol\nname = 1", "not TOML"),
    ("no-protocol-table", '[[stage]]\nlayout = "1x1"', "protocol: missing"),
    ("no-name", '[protocol]\n[[stage]]\nlayout = "1x1"', "protocol.name: missing"),
    ("name-not-text", '[protocol]\nname = 3\n[[stage]]\nlayout = "1x1"', "protocol.name"),
    ("unknown-key", '[protocol]\nname = "x"\ncolour = "red"\n[[stage]]\nlayout = "1x1"',
     "protocol.colour: unknown key"),
    ("no-stage", '[protocol]\nname = "x"', "stage: missing"),
    ("bad-layout", '[protocol]\nname = "x"\n[[stage]]\nlayout = "2by2"', "stage[1].layout"),
    ("too-many-viewports",
     '[protocol]\nname = "x"\n[[stage]]\nlayout = "1x1"\n[[stage.viewport]]\n[[stage.viewport]]',
     "stage[1].viewport: 2 viewports"),
    ("bad-orientation",
     '[protocol]\nname = "x"\n[[stage]]\nlayout = "1x1"\n[[stage.viewport]]\norientation = "up"',
     "stage[1].viewport[1].orientation: must be axial | coronal | sagittal | oblique"),
    ("negative-study",
     '[protocol]\nname = "x"\n[[stage]]\nlayout = "1x1"\n[[stage.viewport]]\nstudy = -1',
     "stage[1].viewport[1].study"),
    ("bad-attribute",
     '[protocol]\nname = "x"\n[[match]]\nattribute = "colour"\nvalues = ["a"]\n'
     '[[stage]]\nlayout = "1x1"', "match[1].attribute"),
    ("rule-without-values",
     '[protocol]\nname = "x"\n[[match]]\nattribute = "modality"\n[[stage]]\nlayout = "1x1"',
     "match[1].values: missing"),
    ("negative-weight",
     '[protocol]\nname = "x"\n[[match]]\nattribute = "modality"\nvalues = ["CT"]\n'
     'weight = -2\n[[stage]]\nlayout = "1x1"', "match[1].weight"),
    ("sync-one-viewport",
     '[protocol]\nname = "x"\n[[stage]]\nlayout = "2x1"\n[[stage.sync]]\nkind = "zoom"\n'
     'viewports = [1]', "stage[1].sync[1].viewports"),
    ("sync-outside-layout",
     '[protocol]\nname = "x"\n[[stage]]\nlayout = "2x1"\n[[stage.sync]]\nkind = "zoom"\n'
     'viewports = [1, 3]', "stage[1].sync[1].viewports"),
    ("bad-sync-kind",
     '[protocol]\nname = "x"\n[[stage]]\nlayout = "2x1"\n[[stage.sync]]\nkind = "colour"\n'
     'viewports = [1, 2]', "stage[1].sync[1].kind"),
]


@pytest.mark.parametrize(("text", "key"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_file_is_one_line_naming_file_and_key(tmp_path: Path, text: str,
                                                     key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        read_protocol_file(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert key in message


def test_the_other_files_still_load(tmp_path: Path) -> None:
    (tmp_path / "a-good.toml").write_text(GOOD.format(name="Good"), encoding="utf-8")
    (tmp_path / "b-bad.toml").write_text('[protocol]\nname = "x"', encoding="utf-8")
    (tmp_path / "c-binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    loaded = load_protocols(tmp_path, defaults={})
    assert [p.name for p in loaded.protocols] == ["Good"]
    assert len(loaded.errors) == 2
    assert loaded.errors[0].startswith(f"{tmp_path / 'b-bad.toml'}: stage: missing")
    assert loaded.errors[1].startswith(f"{tmp_path / 'c-binary.toml'}: cannot be read")


@pytest.mark.parametrize(("text", "expected"), [("2x1", (2, 1)), ("3X4", (3, 4)),
                                                ("1x1", (1, 1)), (" 8x8 ", (8, 8))])
def test_layouts_are_columns_by_rows(text: str, expected: tuple[int, int]) -> None:
    assert parse_layout(text) == expected


@pytest.mark.parametrize("text", ["0x1", "2x", "x2", "9x9", "2*2", ""])
def test_bad_layouts_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="COLUMNSxROWS"):
        parse_layout(text)


def test_defaults_are_package_data() -> None:
    files = default_protocol_files()
    assert set(files) == {"ct-chest-prior.toml", "mr-brain.toml", "cr-chest-pa-lat-prior.toml",
                          "generic-4up.toml"}


@pytest.mark.parametrize("name", ["CR/DX chest PA + LAT with prior", "CT chest with prior",
                                  "Generic 4-up", "MR brain"])
def test_a_protocol_written_as_toml_reads_back_equal(name: str) -> None:
    protocol = next(p for p in load_protocols().protocols if p.name == name)
    text = protocol_to_toml(protocol)
    assert parse_protocol(tomllib.loads(text), protocol.source) == protocol


def test_empty_cells_and_awkward_text_survive_toml() -> None:
    protocol = HangingProtocol(
        'Quote " back\\slash 张三', (MatchRule(MatchAttribute.LATERALITY, ("L",), weight=0.5),),
        (Stage("a\nb", 3, 1, (None, ViewportRule(study=2, orientation=Orientation.SAGITTAL),
                               None), (SyncGroup(SyncKind.ZOOM, (1, 2)),)),),
        "line one\nline two",
    )
    assert parse_protocol(tomllib.loads(protocol_to_toml(protocol))) == protocol


def test_an_empty_cell_takes_no_criteria(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[protocol]\nname = "x"\n[[stage]]\nlayout = "2x1"\n[[stage.viewport]]\n'
                    'empty = true\nmodality = ["CT"]\n', encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"stage\[1\]\.viewport\[1\]\.modality: not allowed"):
        read_protocol_file(path)
