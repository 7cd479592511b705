"""Opening an SR file: `read_report(path) -> ContentTree`, the entry point of `sr` and the viewer.

Why not just `read_dataset`: pydicom parses a sequence of undefined length (what many modalities
and toolkits write) into a `Dataset` per item while it reads the file, 0.8 s of CPU here for a
5,000-item report before the tree is even built. So the header is read by pydicom up to the
root's Content Sequence, and the rest of the file by `raw_sequence`. Anything unusual (no
preamble, big endian, deflate, bytes that do not parse, a tag after the content where none is
expected) goes the ordinary way, `read_dataset`, with its one-line reasons.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydicom.filereader import read_partial
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from viewer.dicom.files import as_file_error, read_dataset
from viewer.dicom.text import pydicom_warnings
from viewer.reports.content_tree import (
    ContentTree,
    is_structured_report,
    read_content_tree,
)
from viewer.reports.raw_sequence import read_elements, sequence_of

_CONTENT_SEQUENCE = 0x0040A730
_SYNTAXES = {ExplicitVRLittleEndian: False, ImplicitVRLittleEndian: True}  # -> implicit VR


def _at_content(tag: BaseTag, vr: str | None, length: int) -> bool:
    return tag == _CONTENT_SEQUENCE


def read_report(path: str | os.PathLike[str]) -> ContentTree:
    """The content tree of the SR file `path`. Raises DicomFileError (a file that cannot be
    read, naming it and why) or ContentTreeError (a file that is no SR)."""
    p = Path(path)
    try:
        tree = _quick(p)
    except Exception:  # pydicom raises anything on damaged bytes, and so may MalformedSequence
        tree = None  # the full read below then says what is wrong, naming the file
    if tree is not None:
        return tree
    with pydicom_warnings():  # the reasons we raise say it; the library's text stays out
        ds = read_dataset(p)
    try:
        return read_content_tree(ds)
    except ValueError:
        raise
    except Exception as exc:  # a value pydicom could not convert, outside any item
        raise as_file_error(p, exc) from None


def _quick(p: Path) -> ContentTree | None:
    with p.open("rb") as fh, pydicom_warnings():
        header = read_partial(fh, stop_when=_at_content)
        syntax = header.file_meta.get("TransferSyntaxUID")
        if syntax not in _SYNTAXES or not is_structured_report(header):
            return None
        rest = fh.read()
    implicit = _SYNTAXES[syntax]
    tail = read_elements(rest, implicit)
    if _CONTENT_SEQUENCE not in tail.elements:
        return None  # read_partial stopped elsewhere (or the report has no content)
    content = sequence_of(tail, _CONTENT_SEQUENCE)
    if content is None:
        return None
    return read_content_tree(header, content)
