"""Damaged SR files: whatever the bytes, opening one gives a tree or one of the two one-line
errors, never another exception (the sequence reader is ours: it must hold against garbage)."""

from __future__ import annotations

import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from pydicom.sequence import Sequence

from tests.peers import require_tool
from tests.reports import makers
from viewer.dicom.files import DicomFileError
from viewer.reports.benchmark import undefined_lengths
from viewer.reports.content_tree import ContentTreeError
from viewer.reports.describe import item_json, tree_lines
from viewer.reports.dose import dose_summary
from viewer.reports.measurements import measurements
from viewer.reports.report_file import read_report


def _open_everything(path: Path) -> str:
    """Open `path` as the sr verb does; "ok" or the error's class name."""
    try:
        tree = read_report(path)
    except (DicomFileError, ContentTreeError) as exc:
        assert "\n" not in str(exc)
        return type(exc).__name__
    tree_lines(tree)
    item_json(tree, tree.root)
    measurements(tree)
    dose_summary(tree)
    return "ok"


@pytest.mark.peers
@pytest.mark.parametrize("layout", ["defined", "undefined"])
def test_flipped_and_cut_bytes(tmp_path: Path, layout: str) -> None:
    source = makers.save(makers.tid1500_report(makers.ct_image()), tmp_path / "source.dcm")
    if layout == "undefined":
        converted = tmp_path / "undefined.dcm"
        subprocess.run([require_tool("dcmconv", "dcmtk"), "-e", str(source), str(converted)],
                       check=True, capture_output=True, timeout=60)
        source = converted
    whole = source.read_bytes()
    rng = random.Random(17)
    outcomes: dict[str, int] = {}
    path = tmp_path / "damaged.dcm"
    for attempt in range(300):
        data = bytearray(whole)
        if attempt % 3 == 0:
            data = data[: rng.randrange(132, len(data))]
        else:
            for _ in range(rng.randrange(1, 8)):
                # mostly inside the content, where lengths and tags of our reader are
                data[rng.randrange(len(data) // 3, len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = _open_everything(path)
        assert [str(w.message) for w in caught] == []
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert set(outcomes) <= {"ok", "DicomFileError", "ContentTreeError"}
    assert outcomes.get("ok", 0) > 0 and outcomes.get("DicomFileError", 0) > 0


@pytest.mark.parametrize("layout", ["defined", "undefined"])
def test_nesting_deeper_than_any_template(tmp_path: Path, layout: str) -> None:
    """230 nested containers: the tree stops reading at 200 levels with a reason; no
    RecursionError from our readers."""
    ds = makers.basic_text_sr()
    item = ds
    for _ in range(230):
        child = makers.content_item("CONTAINS", "CONTAINER", makers.code("1", "99T", "Level"),
                                    ContinuityOfContent="SEPARATE")
        item.ContentSequence = Sequence([child])
        item = child
    if layout == "undefined":
        undefined_lengths(ds)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)  # pydicom's writer recurses per level
    try:
        path = makers.save(ds, tmp_path / "deep.dcm")
    finally:
        sys.setrecursionlimit(limit)
    assert _open_everything(path) == "ok"
    deepest = max(read_report(path).walk(), key=lambda i: i.depth)
    assert deepest.depth == 200
    assert deepest.problem == "nested deeper than 200 levels; its content is not read"
