"""Key images in the reading window, end to end on a real archive: K flags the active image
(with the presentation state it is seen with), the corner and the series strip show it, "Save
key images" stores a Key Object Selection that `keys --json` lists, the flags come back when the
study is opened again, "Key images only" shows them in order, and the print dialog prints them
through their presentation states on DCMTK's dcmprscp."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from pydicom import dcmread  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from tests.dicom.makers import save  # noqa: E402
from tests.dicom.referencing import presentation_state  # noqa: E402
from tests.net.peers import LOOPBACK  # noqa: E402
from tests.printing.dcmprscp import run_dcmprscp  # noqa: E402
from viewer.archive.archive import Archive  # noqa: E402
from viewer.cli import main as cli_main  # noqa: E402
from viewer.config import Node, Settings  # noqa: E402
from viewer.decode.cache import FrameCache  # noqa: E402
from viewer.decode.pool import DecodePool  # noqa: E402
from viewer.dicom.demo import write_ct_series  # noqa: E402
from viewer.gui.app import MainWindow  # noqa: E402
from viewer.gui.bridge import FrameBridge  # noqa: E402
from viewer.gui.print_dialog import PrintDialog  # noqa: E402
from viewer.gui.viewport import Viewport  # noqa: E402
from viewer.reports.create_kos import KeyObjectTitle  # noqa: E402

SCREENS = Path("/tmp/screens")
WAIT_MS = 60_000


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """An archive holding a 6-slice CT and a GSPS of one of its images (its SOP Instance UID
    in "seen"); returns the root, the study UID, and UIDs by name."""
    paths = write_ct_series(tmp_path / "ct", 6, 96, 96, series_description="Axial")
    images = [dcmread(p) for p in paths]
    ps = presentation_state(images[:1], "SEEN", "as the reader saw it")
    (tmp_path / "ps").mkdir()
    save(ps, tmp_path / "ps" / "ps.dcm")
    root = tmp_path / "archive"
    assert cli_main(["--archive", str(root), "import", str(tmp_path / "ct"),
                     str(tmp_path / "ps")]) == 0
    return root, str(images[0].StudyInstanceUID), {
        "seen": str(images[0].SOPInstanceUID), "ps": str(ps.SOPInstanceUID)}


@pytest.fixture
def pool() -> Iterator[DecodePool]:
    pool = DecodePool(1, cache=FrameCache(64 << 20))
    yield pool
    pool.close()


def opened(qtbot, archive: Archive, pool: DecodePool, study_uid: str,  # type: ignore[no-untyped-def]
           settings: Settings | None = None) -> MainWindow:
    """A window on the archive with the study open, every series complete and decoded."""
    main = MainWindow([], None, FrameBridge(pool), archive, settings=settings)
    qtbot.addWidget(main)
    main.resize(1000, 720)
    main.show()
    main.open_study(study_uid)
    qtbot.waitUntil(lambda: main.viewports[0].stack is not None
                    and len(main.viewports[0].stack.frames) == 6, timeout=WAIT_MS)
    qtbot.waitUntil(main.all_loaded, timeout=WAIT_MS)
    return main


def position_of(viewport: Viewport, sop_instance_uid: str) -> int:
    assert viewport.stack is not None
    uids = [str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)
            for path, _ in viewport.stack.frames]
    return uids.index(sop_instance_uid)


def press_k(qtbot, main: MainWindow, viewport: Viewport) -> None:  # type: ignore[no-untyped-def]
    main.activateWindow()
    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_K)


def test_flag_save_reopen_key_images_only_and_print(  # type: ignore[no-untyped-def]
    qtbot, study: tuple[Path, str, dict[str, str]], pool: DecodePool, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, study_uid, uids = study
    SCREENS.mkdir(parents=True, exist_ok=True)
    with Archive(root) as archive:
        main = opened(qtbot, archive, pool, study_uid)
        viewport = main.viewports[0]
        strip = main.reading.strip
        seen = position_of(viewport, uids["seen"])
        other = (seen + 3) % 6

        # the image seen with the GSPS (the viewport's accessor, which gui-ps fills in)
        viewport.set_position(seen)
        qtbot.waitUntil(lambda: viewport.loaded, timeout=WAIT_MS)
        viewport.presentation_state_uid = lambda: uids["ps"]  # type: ignore[method-assign]
        press_k(qtbot, main, viewport)
        assert "★ Key image (not saved) · PS " + uids["ps"][-8:] in viewport.overlay.content.notes
        assert main.key_images.presentation_state_for(viewport.current_key) == uids["ps"]
        assert strip.item(0).text().endswith("★ 1")
        del viewport.presentation_state_uid  # back to the class's: no state applied

        viewport.set_position(other)
        qtbot.waitUntil(lambda: viewport.loaded, timeout=WAIT_MS)
        assert not any("Key image" in n for n in viewport.overlay.content.notes)
        press_k(qtbot, main, viewport)
        assert "★ Key image (not saved)" in viewport.overlay.content.notes
        press_k(qtbot, main, viewport)  # K again: unflagged
        assert not any("Key image" in n for n in viewport.overlay.content.notes)
        assert strip.item(0).text().endswith("\n6  ★ 1")
        press_k(qtbot, main, viewport)
        assert strip.item(0).text().endswith("★ 2")
        assert main.grab().save(str(SCREENS / "key-images-flagged.png"))

        keys = main.key_images
        keys.open_study("1.2.826.0.1.3680043.9.7")  # another study read meanwhile: its own
        assert keys.selection.flags() == [] and strip.item(0).text().endswith("\n6")
        keys.open_study(study_uid)  # back: the unsaved flags are still there
        flags = keys.selection.unsaved()
        assert [f.presentation_state_uid for f in flags] == [uids["ps"], None]
        keys.save_flags(flags, KeyObjectTitle.FOR_TEACHING, "two findings, 两处")
        qtbot.waitUntil(lambda: not keys.selection.unsaved(), timeout=WAIT_MS)
        assert "★ Key image · For Teaching" in viewport.overlay.content.notes
        main.tasks.shutdown()

    # `keys --json` lists what the window saved, the first with its presentation state
    capsys.readouterr()
    assert cli_main(["--archive", str(root), "keys", study_uid, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["document_title"] for k in listed] == ["For Teaching"] * 2
    assert listed[0]["SOPInstanceUID"] == uids["seen"]
    assert listed[0]["presentation_state"] == {
        "SOPInstanceUID": uids["ps"], "ContentLabel": "SEEN", "in_archive": True}
    assert listed[1]["presentation_state"] is None
    with Archive(root) as archive:
        (document,) = archive.index.key_object_documents(study_uid)
        kos = dcmread(archive.store.absolute(document.store_path))
    assert kos.ContentSequence[0].TextValue == "two findings, 两处"

    # opened again: the flags come back from the archive; key images only, then print them
    with run_dcmprscp(tmp_path / "printer") as printer, Archive(root) as archive:
        node = Node("PRINTER", printer.ae_title, LOOPBACK, printer.port)
        again = opened(qtbot, archive, pool, study_uid, Settings(nodes=(node,)))
        viewport = again.viewports[0]
        assert again.reading.strip.item(0).text().endswith("★ 2")
        viewport.set_position(other)
        qtbot.waitUntil(lambda: viewport.loaded, timeout=WAIT_MS)
        assert "★ Key image · For Teaching" in viewport.overlay.content.notes
        flagged_paths = [viewport.stack.frames[i][0]  # type: ignore[union-attr]
                         for i in (seen, other)]

        # The study's one image series fills a 1x1 view (its PR and KO series are not hung):
        # a 2x1 layout shows that "key images only" gives it back as it was.
        again.reading.set_layout((2, 1))
        hung = again.reading.layout_shape
        assert again.key_images.show_key_images_only()
        shown = again.reading.active
        assert again.reading.layout_shape == (1, 1) and shown is not None
        assert shown.stack is not None
        assert [p for p, _ in shown.stack.frames] == flagged_paths
        qtbot.waitUntil(again.all_loaded, timeout=WAIT_MS)
        assert shown.frame is not None
        assert "★ Key image · For Teaching · PS SEEN" in shown.overlay.content.notes
        assert again.key_images.presentation_state_for(shown.stack.frames[0]) == uids["ps"]
        assert again.grab().save(str(SCREENS / "key-images-only.png"))

        assert again.key_images.show_key_images_only()  # again: the study as it was hung
        assert again.reading.layout_shape == hung
        assert again.viewports[0].stack is not None
        assert not again.viewports[0].stack.series_uid.startswith("key-images:")
        assert again.key_images.show_key_images_only()
        qtbot.waitUntil(again.all_loaded, timeout=WAIT_MS)
        again.open_print_dialog()
        dialog = again.print_dialog
        assert isinstance(dialog, PrintDialog) and dialog.keys_choice.isEnabled()
        dialog.keys_choice.setChecked(True)
        items = dialog.items()
        assert [i.source.path for i in items] == flagged_paths
        assert items[0].source.presentation_state is not None
        assert dcmread(items[0].source.presentation_state).SOPInstanceUID == uids["ps"]
        assert items[1].source.presentation_state is None
        qtbot.waitUntil(lambda: dialog.preview_film is not None
                        and dialog.preview_film.spec == dialog.film_spec(), timeout=WAIT_MS)
        assert dialog.grab().save(str(SCREENS / "key-images-print.png"))
        with qtbot.waitSignal(dialog.print_finished, timeout=WAIT_MS) as finished:
            dialog.start_print()
        outcome = finished.args[0]
        assert outcome is not None and outcome.result.ok and outcome.result.boxes == 2
        assert len(printer.films()) == 2  # the key images view is 1x1: one film each
        again.tasks.shutdown()


def test_saving_without_flags_or_archive_says_why(qtbot, pool: DecodePool,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path / "ct", 2, 64, 64)
    from viewer.dicom.stack import build_stacks

    stacks, _ = build_stacks(paths)
    main = MainWindow(stacks, (1, 1), FrameBridge(pool))
    qtbot.addWidget(main)
    main.show()
    qtbot.waitUntil(main.all_loaded, timeout=WAIT_MS)
    messages: list[str] = []
    main.key_images.message.connect(messages.append)
    assert not main.key_images.save(main)
    assert messages[-1] == "No unsaved key image: flag images with K first"
    assert not main.key_images.show_key_images_only()
    press_k(qtbot, main, main.viewports[0])
    assert messages[-1] == "Key image flagged (not saved yet)"
    assert not main.key_images.save(main)  # files opened without the archive
    assert "needs the archive" in messages[-1]
    assert main.key_images.show_key_images_only()
    main.tasks.shutdown()
