"""Hanging protocols and priors in the reading window (issue 17 items 6 and 7): a study opens
hung by the best protocol, stages step, sync groups act, a prior scrolls by an offset set once,
and a prior fetched from Orthanc in the background is hung when it arrives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402

from tests.net.peers import run_orthanc, write_config  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.archive.importer import import_paths  # noqa: E402
from viewer.config import Settings, load_settings  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.stack import Stack, build_stacks  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.hanging_session import _shown_layout  # noqa: E402
from viewer.reading.benchmark import CT_CHEST_SERIES, SeriesSpec, write_study  # noqa: E402

SCREENS = Path("/tmp/screens")
SLICES = 12


@dataclass(frozen=True)
class Studies:
    source: Path
    now: str
    prior: str  # the newest prior
    older: str
    mr: str


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Studies:
    """A 6-series CT chest, two earlier CT chests and an MR brain of one patient, as files."""
    src = tmp_path_factory.mktemp("hanging-gui")
    now, _ = write_study(src / "now", CT_CHEST_SERIES, study_date="20261201", slices=SLICES,
                         size=48)
    prior, _ = write_study(src / "prior", CT_CHEST_SERIES, study_date="20260601",
                           slices=SLICES, size=48)
    older, _ = write_study(src / "older", CT_CHEST_SERIES[1:3], study_date="20251201",
                           slices=SLICES, size=48)
    mr, _ = write_study(src / "mr", (SeriesSpec("MR", "T2 axial", body_part="BRAIN"),),
                        study_date="20260901", study_description="MR BRAIN", slices=4, size=48)
    return Studies(src, now, prior, older, mr)


def _archive(root: Path, studies: Studies, *names: str) -> Archive:
    archive = Archive(root)
    report = import_paths(archive, [studies.source / n for n in names])
    assert not report.failed
    return archive


@contextmanager
def window_on(qtbot, archive: Archive, protocol_dir: Path | None = None,  # type: ignore[no-untyped-def]
              settings: Settings | None = None) -> Iterator[MainWindow]:
    pool = DecodePool(1, cache=FrameCache(64 << 20))
    main = MainWindow([], None, FrameBridge(pool), archive, settings=settings,
                      protocol_dir=protocol_dir)
    qtbot.addWidget(main)
    main.resize(1000, 640)
    main.show()
    try:
        yield main
        qtbot.waitUntil(lambda: _complete(main), timeout=20000)  # nothing left to read
    finally:
        main.close()  # cancels the prior fetch and waits for the task runner
        archive.close()
        pool.close()


def _study_of(window: MainWindow, n: int) -> str:
    stack = window.viewports[n].stack
    assert stack is not None
    return stack.info.study_instance_uid


def _description(window: MainWindow, n: int) -> str:
    stack = window.viewports[n].stack
    return "" if stack is None else stack.description


def _complete(window: MainWindow) -> bool:
    return window.all_loaded() and all(
        v.stack is None or len(v.stack.frames) == v.stack.total_frames for v in window.viewports)


def _screenshot(window: MainWindow, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(SCREENS / name))


def test_a_study_opens_hung_by_the_best_protocol_and_steps_stages(
        qtbot, studies: Studies, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = _archive(tmp_path / "archive", studies, "now", "prior", "older", "mr")
    with window_on(qtbot, archive) as window:
        window.open_study(studies.now)
        session = window.hanging
        assert session is not None and session.opened is not None
        protocol = session.opened.hanging.protocol
        assert protocol is not None and protocol.name == "CT chest with prior"
        # stage 1: current axial (not the topogram) | the newest prior's axial
        assert window.reading.layout_shape == (2, 1)
        assert [_study_of(window, 0), _study_of(window, 1)] == [studies.now, studies.prior]
        assert [_description(window, n) for n in (0, 1)] == ["Lung 1.0 axial"] * 2
        assert session.button.text() == "CT chest with prior 1/2"
        assert session.button.toolTip() == "Axial: current | prior"
        qtbot.waitUntil(lambda: _complete(window), timeout=20000)
        assert all(v.frame is not None for v in window.viewports)
        strip = [window.reading.strip.item(n).text() for n in range(window.reading.strip.count())]
        assert any(t.startswith("2026-06-01") for t in strip)  # the prior's series, dated
        _screenshot(window, "hanging-stage1.png")

        window.activateWindow()
        window.viewports[0].setFocus()
        qtbot.keyClick(window.viewports[0], "N")  # next stage, as the menu says
        assert session.opened.stage == 1 and session.button.text() == "CT chest with prior 2/2"
        assert [_description(window, n) for n in (0, 1)] == ["Coronal MPR"] * 2
        assert [_study_of(window, 0), _study_of(window, 1)] == [studies.now, studies.prior]
        qtbot.waitUntil(window.all_loaded, timeout=20000)
        _screenshot(window, "hanging-stage2.png")
        qtbot.keyClick(window.viewports[0], "B")
        assert session.opened.stage == 0
        assert [_description(window, n) for n in (0, 1)] == ["Lung 1.0 axial"] * 2

        # another protocol from the menu; then the default hanging
        four_up = next(p for p in session.protocols if "4" in p.name)
        session.choose_protocol(four_up)
        assert window.reading.layout_shape == (2, 2)
        assert session.opened.hanging.protocol == four_up
        session.choose_protocol(None)
        assert window.reading.layout_shape == (3, 2)  # 6 series: one per viewport
        assert [_study_of(window, n) for n in range(6)] == [studies.now] * 6


def test_without_a_matching_protocol_the_default_hanging(
        qtbot, studies: Studies, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the user's files replace the two defaults an MR matches (MR brain, the generic 4-up)
    user = tmp_path / "hanging"
    user.mkdir()
    for name in ("mr-brain.toml", "generic-4up.toml"):
        (user / name).write_text(
            f'[protocol]\nname = "NM {name}"\n'
            '[[match]]\nattribute = "modality"\nvalues = ["NM"]\nrequired = true\n'
            '[[stage]]\nlayout = "1x2"\n', encoding="utf-8")
    archive = _archive(tmp_path / "archive", studies, "mr")
    with window_on(qtbot, archive, protocol_dir=user) as window:
        window.open_study(studies.mr)
        assert window.hanging is not None and window.hanging.opened is not None
        assert window.hanging.opened.hanging.protocol is None
        assert window.reading.layout_shape == (1, 1)  # today's: one series per viewport
        assert _description(window, 0) == "T2 axial"
        assert window.hanging.button.text() == "Hanging: default"
        assert not window.hanging.next_action.isEnabled()


def test_a_user_protocol_overrides_the_default(
        qtbot, studies: Studies, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    user = tmp_path / "hanging"
    user.mkdir()
    (user / "ct-chest-prior.toml").write_text(
        '[protocol]\nname = "My chest"\n'
        '[[match]]\nattribute = "modality"\nvalues = ["CT"]\nweight = 50\n'
        '[[stage]]\nlayout = "3x1"\n'
        '[[stage.viewport]]\nstudy = 0\nseries_description = ["Mediastinum*"]\n'
        '[[stage.viewport]]\nstudy = 1\nseries_description = ["Mediastinum*"]\n'
        '[[stage.viewport]]\nstudy = 2\nseries_description = ["Mediastinum*"]\n',
        encoding="utf-8")
    (user / "broken.toml").write_text('[protocol]\nname = "Broken"\nlayuot = "1x1"\n')
    archive = _archive(tmp_path / "archive", studies, "now", "prior", "older")
    with window_on(qtbot, archive, protocol_dir=user) as window:
        window.open_study(studies.now)
        session = window.hanging
        assert session is not None and session.opened is not None
        assert session.opened.hanging.protocol is not None
        assert session.opened.hanging.protocol.name == "My chest"
        assert "CT chest with prior" not in [p.name for p in session.protocols]
        assert "Broken" not in [p.name for p in session.protocols]
        assert "broken.toml" in window.statusBar().currentMessage()  # named, the rest loaded
        assert window.reading.layout_shape == (3, 1)
        assert [_study_of(window, n) for n in range(3)] == [studies.now, studies.prior,
                                                             studies.older]
        assert {_description(window, n) for n in range(3)} == {"Mediastinum 3.0 axial"}
        qtbot.waitUntil(window.all_loaded, timeout=20000)
        _screenshot(window, "hanging-user-protocol.png")


def test_sync_groups_and_a_prior_paired_by_an_offset(
        qtbot, studies: Studies, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = _archive(tmp_path / "archive", studies, "now", "prior")
    with window_on(qtbot, archive) as window:
        window.open_study(studies.now)
        qtbot.waitUntil(lambda: _complete(window), timeout=20000)
        current, prior = window.viewports
        assert current.stack is not None and prior.stack is not None
        assert current.frame_count == prior.frame_count == SLICES
        # window/level group: the prior takes the current's window
        current.set_window(-600, 1500)
        assert prior.state.window == (-600, 1500)
        # zoom group: the prior shows the same part of its image
        current.actual_pixels()
        assert prior.view.target == current.view.target and not prior._fit
        # scrolling: other Frames of Reference, paired by the head-end slices at first
        current.set_position(4)
        assert prior.position == 4
        # the reader lines them up once: prior at 7 while current shows 4
        prior.set_position(7, notify=False)
        window.reading._activate(current)
        window.hanging.link_with_offset()  # type: ignore[union-attr]
        current.set_position(2)
        assert prior.position == 5
        current.set_position(8)
        assert prior.position == SLICES - 1
        current.set_position(10)  # beyond the prior's last slice: it stays where it was
        assert prior.position == SLICES - 1
        # kept for the session: the pair opens again with the same offset
        window.hanging.next_action.trigger()  # type: ignore[union-attr]
        window.hanging.previous_action.trigger()  # type: ignore[union-attr]
        qtbot.waitUntil(lambda: _complete(window), timeout=20000)
        current, prior = window.viewports
        current.set_position(1)
        assert prior.position == 4
        _screenshot(window, "hanging-paired.png")


def test_compare_with_prior(qtbot, studies: Studies, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = _archive(tmp_path / "archive", studies, "now", "prior")
    with window_on(qtbot, archive) as window:
        window.open_study(studies.now)
        session = window.hanging
        assert session is not None
        session.choose_protocol(None)
        qtbot.waitUntil(lambda: _complete(window), timeout=20000)
        window.reading._activate(window.viewports[2])  # Mediastinum 3.0 axial
        session.compare_with_prior()
        assert window.reading.layout_shape == (2, 1)
        assert [_description(window, n) for n in (0, 1)] == ["Mediastinum 3.0 axial"] * 2
        assert [_study_of(window, 0), _study_of(window, 1)] == [studies.now, studies.prior]
        qtbot.waitUntil(window.all_loaded, timeout=20000)
        window.viewports[0].set_position(6)
        assert window.viewports[1].position == 6
        window.viewports[0].apply_preset(4)
        assert window.viewports[1].state.window == window.viewports[0].state.window


@pytest.mark.parametrize(("columns", "filled", "shown"), [
    (2, [0, 1], (2, 1)),  # a 2x2 stage with one row filled: one row
    (2, [0], (1, 1)),  # one cell filled: that cell
    (2, [1], (2, 1)),  # the cell keeps its place
    (2, [0, 2], (2, 2)),  # a cell of the second row: both rows, the empty ones stay
    (3, [0, 1, 2, 3, 4, 5], (3, 2)),
    (3, [], (1, 1)),  # nothing matched: one empty viewport
])
def test_empty_bottom_rows_are_left_out(columns: int, filled: list[int],
                                        shown: tuple[int, int]) -> None:
    cells: list[Stack | None] = [Stack(f"1.2.{n}") if n in filled else None
                                 for n in range(columns * 2)]
    assert _shown_layout(columns, cells) == shown


@pytest.mark.timeout(240)
def test_the_prior_fetched_from_orthanc_is_hung_when_it_arrives(
        qtbot, studies: Studies, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with run_orthanc(tmp_path / "orthanc") as orthanc:
        orthanc.upload(*sorted((studies.source / "prior").rglob("*.dcm")))
        config = write_config(tmp_path / "config.toml",
                              {"PACS": (orthanc.ae_title, orthanc.port)})
        config.write_text(config.read_text() + '\n[reading]\nprior_node = "PACS"\n')
        settings = load_settings(config)
        # the archive holds the older prior only: the study hangs with it first
        archive = _archive(tmp_path / "archive", studies, "now", "older")
        with window_on(qtbot, archive, settings=settings) as window:
            arrived: list[str] = []
            lines: list[str] = []  # the status bar's
            assert window.hanging is not None
            window.hanging.prior_arrived.connect(arrived.append)
            window.hanging.status.connect(lines.append)
            clock = QElapsedTimer()
            clock.start()
            gaps = {"last": 0, "max": 0}

            def beat() -> None:  # the event loop's heartbeat: the fetch must not block it
                now = clock.elapsed()
                gaps["max"] = max(gaps["max"], now - gaps["last"])
                gaps["last"] = now

            window.open_study(studies.now)
            assert _study_of(window, 1) == studies.older
            heartbeat = QTimer()
            heartbeat.timeout.connect(beat)
            gaps["last"] = clock.elapsed()
            heartbeat.start(5)
            qtbot.waitUntil(lambda: arrived == [studies.now], timeout=120000)
            heartbeat.stop()
            print(f"longest event-loop gap during the fetch: {gaps['max']} ms")
            assert gaps["max"] < 250  # a retrieve of seconds ran beside it
            assert archive.index.get_study(studies.prior) is not None
            assert _study_of(window, 0) == studies.now
            assert _study_of(window, 1) == studies.prior  # the newest prior now
            assert "retrieved" in window.statusBar().currentMessage()
            assert lines[0] == "Asking PACS for the newest relevant prior…"
            assert any(line.startswith("Prior from PACS: ") for line in lines)  # progress
            qtbot.waitUntil(window.all_loaded, timeout=20000)
            _screenshot(window, "hanging-prior-fetched.png")


def test_view_paths_of_an_archived_study_are_hung_with_its_prior(
        qtbot, studies: Studies, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stacks, errors = build_stacks(sorted((studies.source / "now").rglob("*.dcm")))
    assert not errors and len(stacks) == 6
    archive = _archive(tmp_path / "archive", studies, "now", "prior")
    pool = DecodePool(1, cache=FrameCache(64 << 20))
    try:
        # `view PATH` without --layout: by protocol, the files' own stacks beside the prior
        window = MainWindow(stacks, None, FrameBridge(pool), archive)
        qtbot.addWidget(window)
        assert window.reading.layout_shape == (2, 1)
        assert window.viewports[0].stack is stacks[1]  # Lung 1.0 axial, from the files
        assert _study_of(window, 1) == studies.prior
        assert window.viewports[1].frame_count == SLICES  # the prior whole, not a head
        qtbot.waitUntil(window.all_loaded, timeout=20000)
        window.close()
        # with --layout the reader's layout wins: one series per viewport
        window = MainWindow(stacks, (3, 2), FrameBridge(pool), archive)
        qtbot.addWidget(window)
        assert window.reading.layout_shape == (3, 2)
        assert [v.stack for v in window.viewports] == stacks
        qtbot.waitUntil(window.all_loaded, timeout=20000)
        window.close()
    finally:
        archive.close()
        pool.close()
