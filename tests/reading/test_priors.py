"""Priors: relevance rules (table), scrolling a prior by an offset (table), the relevant priors
of an archive study, hanging an archive study, and fetching the newest relevant prior from
Orthanc (C-FIND, then C-GET into the archive) with cancellation."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.net.peers import OUR_AE, free_port, run_dcmqrscp, run_orthanc, write_config
from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.config import ConfigError, Node, load_settings
from viewer.jobs import Cancelled, CancelToken
from viewer.net.association import Local, PeerError
from viewer.net.query import find
from viewer.reading.benchmark import CT_CHEST_SERIES, SeriesSpec, write_study
from viewer.reading.facts import hang_archive_study, study_facts
from viewer.reading.hanging import NON_IMAGE_MODALITIES
from viewer.reading.priors import (
    StudySummary,
    fetch_newest_prior,
    fetch_prior_if_configured,
    is_relevant,
    paired_slice,
    regions_of,
    relevant_priors,
)
from viewer.reading.protocols import Orientation, load_protocols

CURRENT = StudySummary("now", "P1", "20261201", "101500", ("CT",), frozenset({"chest"}))


def _s(uid: str = "other", patient: str = "P1", date: str = "20250101", time: str = "",
       modalities: tuple[str, ...] = ("CT",), regions: tuple[str, ...] = ("chest",)
       ) -> StudySummary:
    return StudySummary(uid, patient, date, time, modalities, frozenset(regions))


RELEVANCE = [
    ("same-modality-and-region", _s(), True),
    ("another-patient", _s(patient="P2"), False),
    ("the-study-itself", _s(uid="now"), False),
    ("later", _s(date="20270101"), False),
    ("same-day-earlier", _s(date="20261201", time="080000"), True),
    ("same-day-later", _s(date="20261201", time="120000"), False),
    ("no-date", _s(date=""), False),
    ("another-modality", _s(modalities=("MR",)), False),
    ("ct-among-others", _s(modalities=("CT", "SR", "PR")), True),
    ("only-non-image-objects", _s(modalities=("SR", "KO")), False),
    ("another-region", _s(regions=("head",)), False),
    ("no-region-named", _s(regions=()), True),
]


@pytest.mark.parametrize(("candidate", "relevant"), [r[1:] for r in RELEVANCE],
                         ids=[r[0] for r in RELEVANCE])
def test_relevance(candidate: StudySummary, relevant: bool) -> None:
    assert is_relevant(CURRENT, candidate) is relevant


def test_cr_and_dx_are_compared() -> None:
    now = StudySummary("a", "P1", "20261201", "", ("DX",), frozenset({"chest"}))
    assert is_relevant(now, _s(modalities=("CR",)))
    assert not is_relevant(now, _s(modalities=("MG",)))


def test_a_study_without_patient_id_has_no_priors() -> None:
    now = StudySummary("a", "", "20261201", "", ("CT",), frozenset())
    assert not is_relevant(now, _s(patient=""))


@pytest.mark.parametrize(("texts", "regions"), [
    (["CT CHEST W/O"], {"chest"}),
    (["CT Thorax", "Lung 1.0"], {"chest"}),
    (["MRI HEAD", "T2 brain"], {"head"}),
    (["CT ABD/PELVIS"], {"abdomen", "pelvis"}),
    (["CT"], set()),
    (["Ct_chest"], {"chest"}),
])
def test_regions_from_descriptions(texts: list[str], regions: set[str]) -> None:
    assert regions_of(texts) == regions


@pytest.mark.parametrize(("current", "offset", "prior", "expected"), [
    (10.0, 0.0, [0.0, 5.0, 10.0, 15.0], 2),
    (10.0, 4.0, [0.0, 5.0, 10.0, 15.0], 3),  # 14 mm: nearest 15
    (10.0, -2.4, [0.0, 5.0, 10.0, 15.0], 2),  # 7.6 mm: nearest 10
    (10.0, 0.0, [15.0, 10.0, 5.0, 0.0], 1),  # any order: the index into the list given
    (10.0, 7.4, [0.0, 5.0, 10.0, 15.0], 3),  # 17.4: within half a spacing of the last
    (10.0, 7.6, [0.0, 5.0, 10.0, 15.0], None),  # 17.6: beyond it
    (-3.0, 0.0, [0.0, 5.0, 10.0], None),
    (2.5, 0.0, [0.0, 5.0], 0),  # halfway: the first
    (0.4, 0.0, [0.0], 0),
    (1.0, 0.0, [], None),
])
def test_paired_slice(current: float, offset: float, prior: list[float],
                      expected: int | None) -> None:
    assert paired_slice(current, offset, prior) == expected


# --- an archive with a study and its priors ------------------------------------------------


@dataclass
class Studies:
    root: Path
    now: str
    prior: str
    older: str
    mr: str
    other_patient: str
    files: dict[str, list[Path]]


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Studies:
    """A CT chest (6 series), two earlier CT chests, an MR brain of the same patient, and a CT
    chest of another patient; all but the newest prior in the archive `root/archive`."""
    root = tmp_path_factory.mktemp("priors")
    src = root / "src"
    files = {}
    now, files["now"] = write_study(src / "now", CT_CHEST_SERIES, study_date="20261201")
    prior, files["prior"] = write_study(src / "prior", CT_CHEST_SERIES[:4],
                                        study_date="20260601", study_description="CT THORAX")
    older, files["older"] = write_study(src / "older", CT_CHEST_SERIES[1:3],
                                        study_date="20250101")
    mr, files["mr"] = write_study(src / "mr", (SeriesSpec("MR", "T2", body_part="BRAIN"),),
                                  study_date="20260901", study_description="MR BRAIN")
    other, files["other"] = write_study(src / "other", CT_CHEST_SERIES[:2], patient_id="P2",
                                        study_date="20260101")
    with Archive(root / "archive") as archive:
        report = import_paths(archive, [src / "now", src / "older", src / "mr", src / "other"])
        assert not report.failed
    return Studies(root, now, prior, older, mr, other, files)


def test_relevant_priors_of_an_archive_study(studies: Studies, tmp_path: Path) -> None:
    with Archive(studies.root / "archive") as archive:
        assert [r.study_instance_uid for r in relevant_priors(archive.index, studies.now)] == [
            studies.older]
        assert relevant_priors(archive.index, "1.2.3.4") == []
        facts = study_facts(archive, studies.now)
    assert [s.series_description for s in facts.series] == [s.description for s in
                                                            CT_CHEST_SERIES]
    scout, lung, _, coronal, sagittal, _ = facts.series
    assert scout.image_type == ("ORIGINAL", "PRIMARY", "LOCALIZER")
    assert (lung.orientation, coronal.orientation, sagittal.orientation) == (
        Orientation.AXIAL, Orientation.CORONAL, Orientation.SAGITTAL)
    assert lung.body_part == "CHEST" and lung.modality == "CT" and lung.instances == 4
    assert "CT" not in NON_IMAGE_MODALITIES


def test_hang_an_archive_study_with_its_prior(studies: Studies) -> None:
    with Archive(studies.root / "archive") as archive:
        hanging = hang_archive_study(archive, studies.now, load_protocols().protocols)
        names = {s.series_instance_uid: s.series_description
                 for uid in (studies.now, studies.older)
                 for s in study_facts(archive, uid).series}
    assert hanging.protocol is not None and hanging.protocol.name == "CT chest with prior"
    axial, coronal = hanging.stages
    assert [(v.study_instance_uid, names.get(v.series_instance_uid or "")) for v in
            axial.viewports] == [(studies.now, "Lung 1.0 axial"),
                                 (studies.older, "Lung 1.0 axial")]
    # the older study has no coronal series: that viewport stays empty
    assert [names.get(v.series_instance_uid or "") for v in coronal.viewports] == [
        "Coronal MPR", None]


# --- the newest relevant prior from a PACS ----------------------------------------------------


@pytest.fixture(scope="module")
def pacs(studies: Studies, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """Orthanc holding every study of `studies` (the newest prior only there)."""
    with run_orthanc(tmp_path_factory.mktemp("orthanc")) as orthanc:
        orthanc.upload(*(p for paths in studies.files.values() for p in paths))
        yield Node("PACS", orthanc.ae_title, "127.0.0.1", orthanc.port)


@pytest.mark.timeout(180)
def test_fetch_the_newest_relevant_prior(studies: Studies, pacs: Node, tmp_path: Path) -> None:
    # a copy of the archive: the module's archive stays without the prior for other tests
    shutil.copytree(studies.root / "archive", tmp_path / "archive")
    with Archive(tmp_path / "archive") as archive:
        token = CancelToken()
        token.cancel()
        with pytest.raises(Cancelled):
            fetch_newest_prior(pacs, Local(), archive, studies.now, cancel=token)
        assert archive.index.get_study(studies.prior) is None

        fetched = fetch_newest_prior(pacs, Local(), archive, studies.now)
        assert fetched.prior is not None
        assert fetched.prior.study_instance_uid == studies.prior  # not the newer MR brain
        assert not fetched.already_in_archive
        assert fetched.report is not None and fetched.report.ok
        assert len(fetched.report.imported) == len(studies.files["prior"])
        assert "20260601 retrieved" in fetched.message
        assert [r.study_instance_uid for r in relevant_priors(archive.index, studies.now)] == [
            studies.prior, studies.older]
        hanging = hang_archive_study(archive, studies.now, load_protocols().protocols)
        assert hanging.stages[0].viewports[1].study_instance_uid == studies.prior

        again = fetch_newest_prior(pacs, Local(), archive, studies.now)
        assert again.already_in_archive and again.report is None
        assert again.prior is not None and again.prior.study_instance_uid == studies.prior


@pytest.mark.timeout(60)
def test_an_unreachable_pacs_is_a_peer_error(studies: Studies, tmp_path: Path) -> None:
    with Archive(studies.root / "archive") as archive, pytest.raises(PeerError):
        fetch_newest_prior(Node("NOWHERE", "NOWHERE", "127.0.0.1", free_port()), Local(),
                           archive, studies.now)


def test_an_unknown_study_is_refused(studies: Studies, pacs: Node) -> None:
    with Archive(studies.root / "archive") as archive, pytest.raises(ValueError, match="not in"):
        fetch_newest_prior(pacs, Local(), archive, "1.2.3.4")


# --- the setting: which node is asked for priors -------------------------------------------


@pytest.mark.timeout(180)
def test_the_configured_node_is_asked(studies: Studies, pacs: Node, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", {"PACS": (pacs.ae_title, pacs.port)})
    with Archive(studies.root / "archive") as archive:
        assert fetch_prior_if_configured(load_settings(config), archive, studies.now) is None
    config.write_text(config.read_text() + '\n[reading]\nprior_node = "PACS"\n')
    settings = load_settings(config)
    assert (settings.prior_node, settings.prior_retrieve) == ("PACS", "get")
    shutil.copytree(studies.root / "archive", tmp_path / "archive")
    with Archive(tmp_path / "archive") as archive:
        fetched = fetch_prior_if_configured(settings, archive, studies.now)
        assert fetched is not None and fetched.report is not None and fetched.report.ok
        assert archive.index.get_study(studies.prior) is not None


@pytest.mark.parametrize(("text", "says"), [
    ('[reading]\nprior_node = "NOWHERE"', "[reading] prior_node names 'NOWHERE'"),
    ('[reading]\nprior_node = 3', "[reading] prior_node must be text"),
    ('[reading]\nprior_retrieve = "ftp"', "[reading] prior_retrieve must be"),
])
def test_bad_reading_settings_name_the_file_and_key(tmp_path: Path, text: str,
                                                    says: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(f"{path}: ") and says in str(caught.value)


@pytest.mark.timeout(180)
def test_a_pacs_without_modalities_in_study(studies: Studies, tmp_path: Path) -> None:
    """dcmqrscp leaves Modalities in Study empty: each candidate's modalities come from a
    series-level C-FIND, so the newer MR brain is passed over for the CT chest."""
    files = [p for key in ("prior", "mr", "other") for p in studies.files[key]]
    with run_dcmqrscp(tmp_path / "qr", *files) as node:
        answer = find(node, Local(), "study", {"StudyInstanceUID": studies.mr,
                                               "ModalitiesInStudy": ""})
        assert answer.results and not answer.results[0].get("ModalitiesInStudy")
        shutil.copytree(studies.root / "archive", tmp_path / "archive")
        with Archive(tmp_path / "archive") as archive:
            fetched = fetch_newest_prior(node, Local(), archive, studies.now)
            assert fetched.prior is not None
            assert fetched.prior.study_instance_uid == studies.prior
            assert fetched.prior.modalities == ("CT",)
            assert fetched.report is not None and fetched.report.ok


@pytest.mark.timeout(180)
def test_fetch_by_c_move_as_configured(studies: Studies, tmp_path: Path) -> None:
    """`prior_retrieve = "move"`: Orthanc sends the prior to our Storage SCP, which the
    function runs on our [local] port for the duration."""
    port = free_port()
    with run_orthanc(tmp_path / "orthanc", {"US": (OUR_AE, "127.0.0.1", port)}) as orthanc:
        orthanc.upload(*studies.files["prior"], *studies.files["mr"])
        config = write_config(tmp_path / "config.toml",
                              {"PACS": (orthanc.ae_title, orthanc.port)}, local_port=port)
        config.write_text(config.read_text()
                          + '\n[reading]\nprior_node = "PACS"\nprior_retrieve = "move"\n')
        shutil.copytree(studies.root / "archive", tmp_path / "archive")
        with Archive(tmp_path / "archive") as archive:
            fetched = fetch_prior_if_configured(load_settings(config), archive, studies.now)
            assert fetched is not None and fetched.report is not None
            assert fetched.report.via == "move" and fetched.report.ok
            assert len(fetched.report.imported) == len(studies.files["prior"])
            assert archive.index.get_study(studies.prior) is not None
