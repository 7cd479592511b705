"""Presentation state files are read off the GUI thread (issue 17, gap 2): the image shows as its
header says until its state is parsed, then again with it; scrolling fast never shows an image
with a state read for another (generation checks), and a read still queued for an image scrolled
past is dropped. A source whose `read` waits on a gate stands for a big state on a slow share;
the files are real (images by pydicom, states by viewer.reports.create_ps)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402

from tests.gui.test_presentation_view import _image  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.decode.requests import Frame  # noqa: E402
from viewer.dicom.pixels import decode_frame  # noqa: E402
from viewer.dicom.presentation_apply import PresentationStateFile  # noqa: E402
from viewer.dicom.presentation_state import PresentationStateError  # noqa: E402
from viewer.dicom.stack import Stack  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.measurements import MeasurementStore  # noqa: E402
from viewer.gui.presentation_layer import PresentationLayer  # noqa: E402
from viewer.gui.presentation_source import NEWEST, ListedState, ParsedStates  # noqa: E402
from viewer.gui.viewport import Viewport  # noqa: E402
from viewer.reports.create_ps import create_presentation_state  # noqa: E402
from viewer.reports.view_state import ViewedImage, ViewState  # noqa: E402

ROTATIONS = (90, 180, 270)  # image n's own state turns it by ROTATIONS[n]


class GatedStates(ParsedStates):
    """One state per image; each read waits until the test opens that state's gate, and
    records the thread it ran on."""

    def __init__(self, states: dict[str, ListedState]) -> None:
        super().__init__()
        self.default = NEWEST
        self.states = states  # image path -> its state
        self.uids = {path: f"image-{n}" for n, path in enumerate(states)}
        self.gates = {s.sop_instance_uid: threading.Event() for s in states.values()}
        self.reads: list[tuple[str, threading.Thread]] = []

    def sop_instance_uid(self, series_uid: str, path: str) -> str | None:
        return self.uids.get(path)

    def states_for(self, sop_instance_uid: str, frame: int) -> list[ListedState]:
        path = next(p for p, uid in self.uids.items() if uid == sop_instance_uid)
        return [self.states[path]]

    def read(self, listed: ListedState) -> PresentationStateFile | PresentationStateError:
        self.reads.append((listed.sop_instance_uid, threading.current_thread()))
        assert self.gates[listed.sop_instance_uid].wait(20)
        return super().read(listed)


@dataclass
class Scene:
    viewport: Viewport
    layer: PresentationLayer
    source: GatedStates
    frames: list[Frame]
    shown: list[tuple[str, str | None, int]]  # each picture shown: image, state, quarter turns


@pytest.fixture
def scene(qtbot: Any, tmp_path: Path) -> Iterator[Scene]:
    paths, states = [], {}
    for n, rotation in enumerate(ROTATIONS):
        path = _image(tmp_path / f"image{n}.dcm", InstanceNumber=n + 1)
        ds = dcmread(path)
        ps = create_presentation_state([ViewedImage.of(ds)], ViewState(rotation=rotation),
                                       label=f"TURN{rotation}")
        ps_path = tmp_path / f"ps{n}.dcm"
        ps.save_as(ps_path, enforce_file_format=True)
        states[str(path)] = ListedState(str(ps.SOPInstanceUID), ps.ContentLabel, "",
                                        "20261208", str(ps_path))
        paths.append(str(path))
    source = GatedStates(states)
    frames = []
    for path in paths:
        decoded = decode_frame(path)
        frames.append(Frame(path, 0, decoded.array, decoded.info))
    with DecodePool(1) as pool:
        viewport = Viewport(FrameBridge(pool), MeasurementStore())
        qtbot.addWidget(viewport)
        viewport.resize(300, 300)
        viewport.show()
        viewport.stack = Stack(dcmread(paths[0]).SeriesInstanceUID,
                               frames=[(p, 0) for p in paths])
        layer = PresentationLayer(viewport, source)
        shown: list[tuple[str, str | None, int]] = []
        recorded = layer.shown

        def record() -> None:  # after each picture: which image, with which state
            recorded()
            applied = layer.applied
            state = applied.listed.sop_instance_uid if applied else None
            assert viewport.frame is not None
            shown.append((viewport.frame.path, state, viewport.quarter_turns))

        layer.shown = record  # type: ignore[method-assign]
        yield Scene(viewport, layer, source, frames, shown)
        for gate in source.gates.values():
            gate.set()
        layer.reader.wait(20_000)
        viewport.close_viewport()


def _show(scene: Scene, index: int) -> None:
    scene.viewport.position, scene.viewport.frame = index, scene.frames[index]
    scene.viewport.redisplay()


def _state_of(scene: Scene, index: int) -> str:
    return scene.source.states[scene.frames[index].path].sop_instance_uid


def test_header_first_then_the_state_read_off_the_gui_thread(qtbot: Any, scene: Scene) -> None:
    _show(scene, 0)
    # the read waits on the slow share: the image is on screen, as its header says
    assert scene.layer.awaited is not None and scene.layer.applied is None
    assert scene.shown == [(scene.frames[0].path, None, 0)]
    assert scene.viewport.display_info() == scene.frames[0].info
    qtbot.waitUntil(lambda: len(scene.source.reads) == 1, timeout=5000)
    assert scene.source.reads[0][1] is not threading.main_thread()
    scene.source.gates[_state_of(scene, 0)].set()
    qtbot.waitUntil(lambda: scene.layer.awaited is None, timeout=10000)
    assert scene.layer.applied is not None
    assert scene.shown[-1] == (scene.frames[0].path, _state_of(scene, 0), 1)  # 90 degrees


def test_scrolling_fast_never_shows_a_state_on_another_image(qtbot: Any, scene: Scene) -> None:
    _show(scene, 0)  # its read starts, and waits
    qtbot.waitUntil(lambda: len(scene.source.reads) == 1, timeout=5000)
    _show(scene, 1)  # queued behind it (one reader thread)
    _show(scene, 2)  # image 1's queued read is dropped: nobody wants it now
    scene.source.gates[_state_of(scene, 0)].set()  # image 0's state arrives late
    qtbot.waitUntil(lambda: len(scene.source.reads) == 2, timeout=10000)
    assert [uid for uid, _ in scene.source.reads] == [_state_of(scene, 0), _state_of(scene, 2)]
    qtbot.wait(100)  # any stray redisplay would come now
    assert scene.layer.applied is None and scene.viewport.quarter_turns == 0
    scene.source.gates[_state_of(scene, 2)].set()
    qtbot.waitUntil(lambda: scene.layer.awaited is None, timeout=10000)
    assert scene.shown[-1] == (scene.frames[2].path, _state_of(scene, 2), 3)  # 270 degrees
    # back to image 0: its state was kept when it arrived, so it shows at once, unread again
    _show(scene, 0)
    assert scene.layer.awaited is None
    assert scene.shown[-1] == (scene.frames[0].path, _state_of(scene, 0), 1)
    assert len(scene.source.reads) == 2
    # every picture shown had its own image's state or none: never another image's
    own = {frame.path: _state_of(scene, n) for n, frame in enumerate(scene.frames)}
    assert all(state in (None, own[path]) for path, state, _ in scene.shown)
    turns = {_state_of(scene, n): (r // 90) for n, r in enumerate(ROTATIONS)}
    assert all(quarter == (turns[state] if state else 0) for _, state, quarter in scene.shown)
