"""Hanging, table-driven: study and series metadata -> the chosen protocol -> which series goes
in which viewport of each stage (issue 17, "hanging protocols table-driven")."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

import pytest

from viewer.reading.hanging import (
    SeriesFacts,
    StudyFacts,
    hang,
    orientation_of,
)
from viewer.reading.protocols import Orientation, load_protocols, parse_protocol

AX, COR, SAG = Orientation.AXIAL, Orientation.CORONAL, Orientation.SAGITTAL
PROTOCOLS = load_protocols().protocols


def series(uid: str, modality: str, description: str = "", orientation: Orientation | None = None,
           body_part: str = "", image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY"),
           view: str = "", laterality: str = "") -> SeriesFacts:
    return SeriesFacts(uid, modality, description, None, orientation, body_part, image_type,
                       laterality, view, 10)


def study(uid: str, date: str, description: str, *items: SeriesFacts) -> StudyFacts:
    return StudyFacts(uid, "P1", date, "120000", description, items)


CT_NOW = study(
    "ct-now", "20261201", "CT CHEST W/O",
    series("now-scout", "CT", "Topogram", COR, "CHEST", ("ORIGINAL", "PRIMARY", "LOCALIZER")),
    series("now-ax-lung", "CT", "Lung 1.0 axial", AX, "CHEST"),
    series("now-ax-med", "CT", "Mediastinum 3.0 axial", AX, "CHEST"),
    series("now-cor", "CT", "Coronal MPR", COR, "CHEST", ("DERIVED", "SECONDARY", "MPR")),
    series("now-sag", "CT", "Sagittal MPR", SAG, "CHEST"),
    series("now-dose", "SR", "Dose report"),
)
CT_PRIOR = study(
    "ct-prior", "20250601", "CT THORAX",
    series("prior-ax", "CT", "Lung axial", AX, "CHEST"),
    series("prior-cor", "CT", "Coronal", COR, "CHEST"),
)
CT_OLDER = study("ct-older", "20240101", "CT THORAX",
                 series("older-ax", "CT", "Axial", AX, "CHEST"))
MR_BRAIN = study(
    "mr", "20261201", "MRI HEAD",
    series("t1", "MR", "T1 SE axial", AX, "BRAIN"),
    series("t2", "MR", "T2 TSE axial", AX, "BRAIN"),
    series("flair", "MR", "FLAIR axial", AX, "BRAIN"),
    series("dwi", "MR", "DWI b1000 TRACE", AX, "BRAIN"),
    series("adc", "MR", "ADC map", AX, "BRAIN", ("DERIVED", "PRIMARY", "ADC")),
    series("t1c", "MR", "T1 +C axial", AX, "BRAIN"),
    series("t1sag", "MR", "T1 sagittal", SAG, "BRAIN"),
)
CXR_NOW = study("cxr-now", "20261201", "XR CHEST 2 VIEWS",
                series("pa", "DX", "PA", None, "CHEST", view="PA"),
                series("lat", "DX", "Lateral", None, "CHEST", view="LL"))
CXR_PRIOR = study("cxr-prior", "20260101", "CHEST PA LAT",
                  series("old-lat", "CR", "LAT", None, "CHEST", view="LATERAL"),
                  series("old-pa", "CR", "PA", None, "CHEST", view="PA"))
US = study("us", "20261201", "US ABDOMEN",
           series("us-sr", "SR", "Measurements"),
           *(series(f"us-{i}", "US", f"Clip {i}") for i in range(1, 6)))
ONLY_SR = study("sr", "20261201", "REPORT", series("sr-1", "SR", "Report"))
# A radiograph without View Position: the chest protocol's rules hold (CR), none of its cells
CR_NO_VIEW = study("cr", "20261201", "XR", series("cr-1", "CR", "", None, "CHEST"))


@dataclass(frozen=True)
class Case:
    id: str
    study: StudyFacts
    priors: tuple[StudyFacts, ...]
    protocol: str | None
    # per stage: the series of each viewport, in layout order (None: empty)
    stages: tuple[tuple[str | None, ...], ...]


CASES = [
    Case("ct-chest-with-prior", CT_NOW, (CT_PRIOR,), "CT chest with prior",
         (("now-ax-lung", "prior-ax"), ("now-cor", "prior-cor"))),
    Case("ct-chest-two-priors-uses-the-newest", CT_NOW, (CT_PRIOR, CT_OLDER),
         "CT chest with prior", (("now-ax-lung", "prior-ax"), ("now-cor", "prior-cor"))),
    Case("ct-without-prior-falls-back-to-4up", CT_NOW, (), "Generic 4-up",
         (("now-ax-lung", "now-ax-med", "now-cor", "now-sag"),)),
    Case("mr-brain", MR_BRAIN, (), "MR brain",
         (("t1", "t2", "flair", "dwi", "adc", "t1c"), ("t1sag", None))),
    Case("cr-dx-chest-with-prior", CXR_NOW, (CXR_PRIOR,), "CR/DX chest PA + LAT with prior",
         (("pa", "lat", "old-pa", "old-lat"),)),
    Case("cr-dx-chest-without-prior-leaves-the-prior-row-empty", CXR_NOW, (),
         "CR/DX chest PA + LAT with prior", (("pa", "lat", None, None),)),
    Case("us-4up-skips-the-sr", US, (), "Generic 4-up", (("us-1", "us-2", "us-3", "us-4"),)),
    Case("nothing-to-hang", ONLY_SR, (), None, ()),
    Case("a-protocol-that-would-show-nothing-is-not-chosen", CR_NO_VIEW, (), "Generic 4-up",
         (("cr-1", None, None, None),)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hanging(case: Case) -> None:
    result = hang(case.study, case.priors, PROTOCOLS)
    assert (result.protocol.name if result.protocol else None) == case.protocol
    got = tuple(tuple(v.series_instance_uid for v in stage.viewports) for stage in result.stages)
    assert got == case.stages
    for stage in result.stages:
        assert len(stage.viewports) == stage.stage.columns * stage.stage.rows
        for viewport in stage.viewports:
            if viewport.series_instance_uid is not None:
                owner = (case.study, *case.priors)[viewport.study]
                assert viewport.study_instance_uid == owner.study_instance_uid


def test_scores_say_why() -> None:
    result = hang(CT_NOW, (), PROTOCOLS)
    scores = dict(result.scores)
    assert scores["CT chest with prior"] is None  # a required rule (priors >= 1) fails
    assert scores["MR brain"] is None
    assert scores["Generic 4-up"] == pytest.approx(0.1)
    with_prior = hang(CT_NOW, (CT_PRIOR,), PROTOCOLS)
    assert with_prior.score == pytest.approx(10 + 6 + 4 + 5)


def test_hanging_is_independent_of_the_protocols_order() -> None:
    forward = hang(MR_BRAIN, (), PROTOCOLS)
    backward = hang(MR_BRAIN, (), tuple(reversed(PROTOCOLS)))
    assert forward == backward


@pytest.mark.parametrize(("iop", "expected"), [
    ((1, 0, 0, 0, 1, 0), AX),
    ((1, 0, 0, 0, 0, -1), COR),
    ((0, 1, 0, 0, 0, -1), SAG),
    ((1, 0, 0, 0, 0.966, -0.259), AX),  # 15 degrees of gantry tilt: still axial
    ((1, 0, 0, 0, 0.707, -0.707), Orientation.OBLIQUE),
    ((0.707, 0.707, 0, 0, 0, -1), Orientation.OBLIQUE),
    (None, None),
    ((1, 0, 0, 1, 0, 0), None),  # degenerate
])
def test_orientation_from_iop(iop: tuple[float, ...] | None,
                              expected: Orientation | None) -> None:
    assert orientation_of(iop) is expected


MAMMO_TOML = """
[protocol]
name = "Mammo left"

[[match]]
attribute = "modality"
values = ["MG"]
weight = 5
required = true

[[match]]
attribute = "laterality"
values = ["L"]
weight = 3

[[match]]
attribute = "priors"
at_least = 2
weight = 4

[[stage]]
layout = "3x1"
[[stage.viewport]]
laterality = ["L"]
view_position = ["CC"]
[[stage.viewport]]
study = 1
laterality = ["L"]
view_position = ["CC"]
[[stage.viewport]]
study = 2
laterality = ["L"]
view_position = ["CC"]
"""


def _mammo(uid: str, date: str, *sides: str) -> StudyFacts:
    return study(uid, date, "MAMMO", *(
        series(f"{uid}-{side}-{view}", "MG", f"{side} {view}", None, "BREAST", view=view,
               laterality=side) for side in sides for view in ("CC", "MLO")))


@pytest.mark.parametrize(("sides", "priors", "expected_score", "cells"), [
    (("L",), 2, 5 + 3 + 4, ("m0-L-CC", "m1-L-CC", "m2-L-CC")),
    # laterality rule fails: only its weight is lost, but no cell takes a right breast's
    # series, and a protocol that would show nothing is not chosen
    (("R",), 2, 0.0, None),
    (("L", "R"), 1, 5 + 3, ("m0-L-CC", "m1-L-CC", None)),  # fewer priors than asked
])
def test_laterality_and_number_of_priors(sides: tuple[str, ...], priors: int,
                                         expected_score: float,
                                         cells: tuple[str | None, ...] | None) -> None:
    protocol = parse_protocol(tomllib.loads(MAMMO_TOML))
    current = _mammo("m0", "20261201", *sides)
    earlier = [_mammo(f"m{i}", f"202{6 - i}0101", *sides) for i in range(1, priors + 1)]
    result = hang(current, earlier, [protocol])
    assert result.score == pytest.approx(expected_score)
    if cells is None:
        assert result.protocol is None and result.stages == ()
        assert dict(result.scores)[protocol.name] == pytest.approx(5 + 4)
        return
    assert tuple(v.series_instance_uid for v in result.stages[0].viewports) == cells
