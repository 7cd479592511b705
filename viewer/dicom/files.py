"""Opening DICOM files with errors that name the file and the problem, never a traceback."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydicom import dcmread
from pydicom.datadict import dictionary_has_tag
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

PathLike = str | os.PathLike[str]

_UNDEFINED_LENGTH = 0xFFFFFFFF
_MAX_REASON = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel, Float, Double Float Pixel Data


# Not instances: the media directory (it describes a file-set), and hidden files (".DS_Store",
# macOS "._" resource forks on CDs written by Macs).
SKIPPED_NAMES = frozenset({"DICOMDIR"})


def files_under(root: Path) -> Iterator[Path]:
    """Every regular file below `root` in a stable order, DICOMDIR and hidden files excluded."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or name.upper() in SKIPPED_NAMES:
                continue
            yield Path(folder) / name


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files given, and the files under the folders given (`files_under`)."""
    files: list[Path] = []
    for path in paths:
        files.extend(files_under(path) if path.is_dir() else [path])
    return files


class DicomFileError(Exception):
    """A file that cannot be used: `path` and a one-line human `reason`."""

    def __init__(self, path: PathLike, reason: str) -> None:
        self.path = str(path)
        # one line of bounded length, whatever bytes of the file a reason quotes
        reason = one_line(reason)
        self.reason = reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"
        super().__init__(f"{self.path}: {self.reason}")


def one_line(text: str) -> str:
    """`text` with every control character (a line break in a damaged UID or name) as "?", so
    that a message stays the one line the user reads it as."""
    return _CONTROL.sub("?", text)


def read_dataset(
    path: PathLike, *, stop_before_pixels: bool = False, defer_size: int | None = None
) -> FileDataset:
    """Read a DICOM file (PS3.10; a file without preamble is accepted as DCMTK does).

    `defer_size`: elements larger than this many bytes are read only when accessed, so a header
    read does not pull in the pixel data. Raises DicomFileError naming the file for a missing,
    empty, non-DICOM or malformed file.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise DicomFileError(p, exc.strerror or str(exc)) from None
    if not p.is_file():
        raise DicomFileError(p, "not a regular file")
    if size == 0:
        raise DicomFileError(p, "empty file (0 bytes)")
    try:
        ds = dcmread(
            p, stop_before_pixels=stop_before_pixels, defer_size=defer_size, force=False
        )
    except InvalidDicomError:
        ds = _read_without_preamble(p, stop_before_pixels, defer_size)
    except OSError as exc:
        raise DicomFileError(p, f"cannot read: {exc.strerror or _short(exc)}") from None
    except zlib.error as exc:  # Deflated Explicit VR Little Endian: pydicom inflates it whole
        raise DicomFileError(p, f"malformed DICOM: the deflated data set cannot be inflated "
                                f"({_short(exc)})") from None
    except MemoryError:
        reason = "malformed DICOM: a length asks for more memory than there is"
        raise DicomFileError(p, reason) from None
    except Exception as exc:  # pydicom raises anything on damaged bytes (zlib.error,
        # struct.error, RecursionError, OverflowError...): each means the same to the user
        raise DicomFileError(p, f"malformed DICOM: {_short(exc)}") from None
    _check_plausible(ds, p, size)
    if "TransferSyntaxUID" not in ds.file_meta:
        _infer_transfer_syntax(p, ds)
    return ds


def _check_plausible(ds: FileDataset, p: Path, size: int) -> None:
    """Reject what pydicom reads leniently from garbage ('DICM' then random bytes): an element
    longer than the file, or no SOP Class UID and no attribute of the dictionary at all."""
    meta = getattr(ds, "file_meta", None)
    deflated = meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    for tag, element in ([] if deflated else ds.items()):
        length = getattr(element, "length", 0)
        if length != _UNDEFINED_LENGTH and length > size:
            raise DicomFileError(
                p, f"malformed DICOM: element {tag} claims {length} bytes, more than the file"
            )
        # pydicom keeps a last value cut short by the end of the file without a word (pixel
        # data is measured by `pixels.check_pixel_layout`, which says how much is missing)
        tell = getattr(element, "value_tell", None)
        if (length != _UNDEFINED_LENGTH and tell is not None and tell + length > size
                and tag not in _PIXEL_DATA_TAGS):
            raise DicomFileError(
                p, f"file cut short: element {tag} ends {tell + length - size} bytes after its end"
            )
    if "SOPClassUID" in ds or (meta is not None and "MediaStorageSOPClassUID" in meta):
        return
    if not any(dictionary_has_tag(tag) for tag in ds.keys()):
        raise DicomFileError(p, "not a DICOM dataset (no SOP Class UID, no known attribute)")


def _infer_transfer_syntax(p: Path, ds: FileDataset) -> None:
    """Old files without file meta: the encoding pydicom detected is the transfer syntax."""
    implicit, little = ds.original_encoding
    if implicit is None or little is None:
        raise DicomFileError(p, "no Transfer Syntax UID and the encoding cannot be detected")
    if implicit:
        ts = ImplicitVRLittleEndian
    else:
        ts = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    if "FileMetaInformationGroupLength" not in ds.file_meta and not hasattr(ds, "file_meta"):
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts


def _read_without_preamble(
    p: Path, stop_before_pixels: bool, defer_size: int | None
) -> FileDataset:
    """Accept a dataset without the 128-byte preamble only when it starts like one."""
    with p.open("rb") as fh:
        head = fh.read(132)
    # A group 0x0002 or 0x0008 tag at offset 0 (either byte order) is a headerless dataset.
    if len(head) < 8 or head[:2] not in (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08"):
        raise DicomFileError(p, "not a DICOM file (no 'DICM' prefix at byte 128)")
    try:
        ds = dcmread(p, stop_before_pixels=stop_before_pixels, defer_size=defer_size, force=True)
    except Exception as exc:
        raise DicomFileError(p, f"malformed DICOM: {_short(exc)}") from None
    if len(ds) == 0:
        raise DicomFileError(p, "not a DICOM file (no elements could be read)")
    return ds


def _short(exc: BaseException) -> str:
    return describe_error(exc)


_PARSED_TAG = re.compile(r"trying to parse (\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\))")


def describe_error(exc: BaseException) -> str:
    """What pydicom (or a codec) raised, as one short line for a report: its first line, at
    most 200 characters; a value whose length does not fit its VR is named by its tag (the
    library's own text runs to 400 characters and recommends a setting)."""
    text = str(exc).strip()
    if type(exc).__name__ == "BytesLengthException":
        found = _PARSED_TAG.search(text)
        where = f"element {found.group(1)}" if found else "a value"
        return f"{where}: the value's length does not fit its VR"
    lines = text.splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def as_file_error(path: PathLike, exc: Exception) -> DicomFileError:
    """A failure raised while reading values of `path` (pydicom converts them only when first
    used: a wrong VR or a lying length surfaces far from dcmread) as DicomFileError."""
    if isinstance(exc, DicomFileError):
        return exc
    return DicomFileError(path, f"malformed DICOM: {describe_error(exc)}")
