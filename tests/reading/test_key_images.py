"""The key image model of the reading window (viewer.reading.key_images, Qt-free): flags on
frames, the flags a stored document holds, and the document that saves new ones (read back by
DCMTK's dsrdump and by the archive's index, a frame of a multi-frame image included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.sr.codedict import codes

from tests.dicom.makers import save
from tests.dicom.referencing import ct_series, key_object_document, presentation_state
from tests.reports.dsrdump import dsrdump
from viewer.archive.archive import Archive
from viewer.archive.importer import import_paths
from viewer.reading.key_images import (
    KeyFlag,
    KeySelection,
    key_image_frames,
    saved_flags,
    write_key_object_document,
)
from viewer.reports.create_kos import KeyObjectTitle


def test_selection_flags_frames_and_keeps_saved_ones() -> None:
    keys = KeySelection()
    assert keys.toggle("a.dcm", None, "1.2.3") == KeyFlag("a.dcm", None, "1.2.3")
    assert keys.flagged("a.dcm", 0) is not None  # a whole image: its (only) frame
    assert keys.toggle("m.dcm", 2, None) is not None
    assert keys.flagged("m.dcm", 1) is not None and keys.flagged("m.dcm", 0) is None
    assert keys.count([("m.dcm", i) for i in range(3)] + [("a.dcm", 0)]) == 2
    assert keys.toggle("m.dcm", 2, None) is None  # unflagged
    keys.load_saved([KeyFlag("a.dcm", None, "1.2.3", document_title="For Teaching"),
                     KeyFlag("b.dcm", None)])
    assert [(f.path, f.saved) for f in keys.flags()] == [("a.dcm", True), ("b.dcm", True)]
    assert keys.unsaved() == []
    saved = keys.toggle("b.dcm", None, None)  # a stored document is not edited: stays
    assert saved is not None and saved.saved and len(keys.flags()) == 2


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[tuple[Archive, dict[str, str]]]:
    """A multi-frame image and two single-frame ones of one study, a GSPS of the first single,
    and a KOS ("Of Interest") flagging the second single."""
    study = ct_series(2)
    multi = ct_series(1, study_uid=study[0].StudyInstanceUID, frames=3, series_number=2)
    ps = presentation_state(study[:1], "SEEN")
    kos = key_object_document([study[1]], title=codes.DCM.OfInterest)
    src = tmp_path / "src"
    src.mkdir()
    for n, ds in enumerate([*study, *multi, ps, kos]):
        save(ds, src / f"{n}.dcm")
    with Archive(tmp_path / "archive") as opened:
        assert import_paths(opened, [src]).ok
        yield opened, {"study": study[0].StudyInstanceUID, "seen": study[0].SOPInstanceUID,
                       "flagged": study[1].SOPInstanceUID, "multi": multi[0].SOPInstanceUID,
                       "ps": ps.SOPInstanceUID}


def path_of(archive: Archive, uid: str) -> str:
    row = archive.index.get_instance(uid)
    assert row is not None
    return str(archive.store.absolute(row.store_path))


def test_saved_document_lists_frames_and_states(
    archive: tuple[Archive, dict[str, str]], tmp_path: Path
) -> None:
    opened, uids = archive
    (already,) = saved_flags(opened, uids["study"])
    assert already.path == path_of(opened, uids["flagged"]) and already.saved
    assert already.document_title == "Of Interest"
    flags = [KeyFlag(path_of(opened, uids["seen"]), None, uids["ps"]),
             KeyFlag(path_of(opened, uids["multi"]), 2)]
    out = tmp_path / "kos"
    out.mkdir()
    written = write_key_object_document(opened, flags, KeyObjectTitle.QUALITY_ISSUE,
                                        "motion, 运动", out)
    items = dsrdump(written)
    assert items[0].concept == "Quality Issue"
    assert [i.value_type for i in items[1:]] == ["TEXT", "IMAGE", "IMAGE"]
    assert items[1].value == '"motion, 运动"'
    assert import_paths(opened, [written]).ok
    rows = opened.index.key_images(uids["study"])
    mine = [r for r in rows if r.document_title == "Quality Issue"]
    assert [(r.sop_instance_uid, r.frame) for r in mine] == [(uids["seen"], None),
                                                            (uids["multi"], 2)]
    assert mine[0].presentation_state is not None
    assert mine[0].presentation_state.label == "SEEN"
    frames = key_image_frames(opened, saved_flags(opened, uids["study"]))
    by_path = {path: (index, state) for path, index, state in frames}
    assert by_path[path_of(opened, uids["multi"])] == (1, None)
    assert by_path[path_of(opened, uids["seen"])] == (0, path_of(opened, uids["ps"]))


def test_a_state_not_in_the_archive_is_named(
    archive: tuple[Archive, dict[str, str]], tmp_path: Path
) -> None:
    opened, uids = archive
    flag = KeyFlag(path_of(opened, uids["seen"]), None, "1.2.826.0.1.3680043.9.999")
    with pytest.raises(ValueError, match=r"presentation state 1\.2\.826\.0\.1\.3680043\.9\.999 "
                                         "of key image .* is not in the archive"):
        write_key_object_document(opened, [flag], KeyObjectTitle.OF_INTEREST, "", tmp_path)
    with pytest.raises(ValueError, match="no key image flagged"):
        write_key_object_document(opened, [], KeyObjectTitle.OF_INTEREST, "", tmp_path)
    assert list(tmp_path.glob("*.dcm")) == []
