"""Export studies from the archive as a PS3.10 file-set with a DICOMDIR, ready for CD/DVD.

File-set layout and records come from pydicom's `FileSet` (PS3.3 Annex F): it assigns the File IDs
(`PTnnnnnn/STnnnnnn/SEnnnnnn/IMnnnnnn`, 1-8 components of [A-Z0-9_]{1,8} with no extension,
PS3.10 §8.5; six digits per folder level, so up to 10^6 images per series) and builds the
patient / study / series / image records from each instance's attributes.

Media application profiles (PS3.11): STD-GEN-CD carries Explicit VR Little Endian only, so
anything else is decompressed (or re-encoded) on the way out; the DVD/USB profiles also keep JPEG
or JPEG 2000 as stored. A file that cannot be converted is refused by name, the rest exported.

Crash and fault safety: the target must be empty (or absent); every file is written under a
temporary name and renamed; the DICOMDIR is written last, made durable after the files it names
(syncfs), and renamed into place. Any failure to write (disk full) removes what was written, so
no DICOMDIR ever names a file that is not there. Paths come only from File IDs, never from an
attribute. Files are copied (or written, when converted or de-identified) by two background
threads and made durable there (fdatasync), while the main thread parses the next header; see
`_Records` for why pydicom's `FileSet.add`/`write` are not called as they are.
"""

from __future__ import annotations

import ctypes
import errno
import io
import logging
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.filebase import DicomFileLike
from pydicom.fileset import DIRECTORY_RECORDERS, FileInstance, FileSet, RecordNode
from pydicom.filewriter import dcmwrite
from pydicom.uid import (
    JPEG2000,
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
)

from viewer.archive.archive import Archive
from viewer.archive.records import InstanceRow
from viewer.dicom import codecs
from viewer.dicom.files import DicomFileError, read_dataset
from viewer.dicom.native_stderr import native_stderr_silenced
from viewer.jobs import Cancelled, CancelToken, Failure, ProgressCallback, no_progress
from viewer.media.deid import Deidentifier, DeidOptions

LOGGER = logging.getLogger(__name__)

DICOMDIR = "DICOMDIR"
FILE_ID = re.compile(r"[A-Z0-9_]{1,8}")
_PARTIAL = ".partial"  # a temp suffix can never be a File ID (no "." allowed there)
_PIXEL_DATA = 0x7FE00010
_RAW_WORD_VRS = frozenset({"OW", "OF", "OD", "OL", "OV", "UN", "US or OW", "US or SS or OW"})


class ExportError(Exception):
    """The export could not be done: bad target, unknown study, or writing failed (disk full).
    Nothing is left in the target. The message is one line for the user."""


@dataclass(frozen=True)
class MediaProfile:
    """A PS3.11 general-purpose application profile: which transfer syntaxes stay as stored."""

    name: str
    kept: frozenset[str]
    description: str


_JPEG = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1})
_J2K = frozenset({JPEG2000Lossless, JPEG2000})
_LE = frozenset({ExplicitVRLittleEndian})

PROFILES: dict[str, MediaProfile] = {
    p.name: p
    for p in (
        MediaProfile("STD-GEN-CD", _LE, "General Purpose CD-R (PS3.11 Annex D)"),
        MediaProfile("STD-GEN-DVD-JPEG", _LE | _JPEG, "General Purpose DVD with JPEG"),
        MediaProfile("STD-GEN-DVD-J2K", _LE | _J2K, "General Purpose DVD with JPEG 2000"),
        MediaProfile("STD-GEN-USB-JPEG", _LE | _JPEG, "General Purpose USB/Flash with JPEG"),
        MediaProfile("STD-GEN-USB-J2K", _LE | _J2K, "General Purpose USB/Flash with JPEG 2000"),
    )
}


@dataclass(frozen=True)
class ExportedFile:
    """One file of the file-set: its File ID (with '/' between components) and its instance."""

    file_id: str
    sop_instance_uid: str  # as written (the new UID when de-identified)
    transfer_syntax_uid: str
    source: str  # store path of the archived original


@dataclass
class ExportReport:
    """What an export did. `failed`: instances refused (by file, with the reason); `excluded`:
    instances left out on purpose (burned-in annotation); `warnings`: exported with a note."""

    target: Path
    profile: str
    exported: list[ExportedFile] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    excluded: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    dicomdir: Path | None = None
    bytes_written: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class _Outcome:
    file: ExportedFile | None = None
    failure: Failure | None = None
    excluded: Failure | None = None


def export_studies(
    archive: Archive,
    study_uids: Iterable[str],
    target: Path,
    profile: str = "STD-GEN-CD",
    anonymize: DeidOptions | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    fileset_id: str = "",
    key_images_only: bool = False,
) -> ExportReport:
    """Write the studies as a file-set with a DICOMDIR in `target` (empty or absent).

    `key_images_only`: only the images the studies' Key Object Selection documents flag, with
    those documents and the presentation states their items name (`key_image_instances`);
    every other instance is left out.

    `profile`: a key of PROFILES. `anonymize`: de-identify (PS3.15 E.1) with these options;
    None exports the originals. `progress(done, total, file_id)` after each instance; `cancel`
    is polled between instances (Cancelled is raised after removing what was written).
    Raises ValueError for an unknown profile or a bad `fileset_id`, ExportError when nothing can
    be exported (target not empty or not writable, unknown study, disk full part-way).
    """
    if profile not in PROFILES:
        raise ValueError(f"profile: unknown {profile!r}; known: {', '.join(PROFILES)}")
    if fileset_id and not re.fullmatch(r"[A-Z0-9_ ]{1,16}", fileset_id):
        raise ValueError("fileset_id: up to 16 characters A-Z, 0-9, space and _ (CS)")
    media = PROFILES[profile]
    target = Path(target)
    rows = _instances(archive, list(dict.fromkeys(study_uids)))
    if key_images_only:
        wanted = key_image_instances(archive, list(dict.fromkeys(study_uids)))
        rows = [row for row in rows if row.sop_instance_uid in wanted]
    created_target = _prepare_target(target)
    report = ExportReport(target=target, profile=profile)
    writer = _Writer(target, created_target)
    deid = Deidentifier(anonymize) if anonymize is not None else None
    fs = _Records(fileset_id)
    invented: set[tuple[str, str]] = set()
    try:
        for done, row in enumerate(rows, 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            outcome = _export_one(archive, row, media, deid, fs, writer, invented, report)
            if outcome.file is not None:
                report.exported.append(outcome.file)
            if outcome.failure is not None:
                report.failed.append(outcome.failure)
            if outcome.excluded is not None:
                report.excluded.append(outcome.excluded)
            progress(done, len(rows), outcome.file.file_id if outcome.file else "")
        if report.exported:
            if cancel is not None:
                cancel.raise_if_cancelled()
            report.dicomdir = writer.write_dicomdir(fs, report.exported)
        else:
            writer.remove_all()
        report.bytes_written = writer.bytes_written
    except Cancelled:
        writer.remove_all()
        raise
    except OSError as exc:
        writer.remove_all()
        raise ExportError(_write_error(target, exc, len(report.exported), len(rows))) from None
    except BaseException:
        writer.remove_all()
        raise
    finally:
        writer.close()
    return report


def _instances(archive: Archive, study_uids: list[str]) -> list[InstanceRow]:
    if not study_uids:
        raise ExportError("no study given")
    rows: list[InstanceRow] = []
    for study_uid in study_uids:
        if archive.index.get_study(study_uid) is None:
            raise ExportError(f"{study_uid}: no such study in the archive")
        for series in archive.index.series(study_uid):
            rows.extend(archive.index.instances(series.series_instance_uid))
    return rows


def key_image_instances(archive: Archive, study_uids: list[str]) -> set[str]:
    """SOP Instance UIDs of what a key-images-only export carries: the flagged images the
    archive holds, the Key Object Selection documents flagging them and the presentation
    states their items name (those the archive holds). ExportError naming a study that has
    no key image in the archive: an export of nothing is refused, not written empty."""
    wanted: set[str] = set()
    for study_uid in study_uids:
        keys = [k for k in archive.index.key_images(study_uid) if k.store_path is not None]
        if not keys:
            raise ExportError(f"{study_uid}: no key image of this study is in the archive")
        for key in keys:
            wanted.add(key.sop_instance_uid)
            wanted.add(key.document_uid)
            state = key.presentation_state
            if state is not None and state.store_path is not None:
                wanted.add(state.sop_instance_uid)
    return wanted


def _prepare_target(target: Path) -> bool:
    """Check (and create) the target folder; True when we created it. Nothing is written when
    it is not empty or not writable."""
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise ExportError(f"{target}: not a folder")
        try:
            if any(target.iterdir()):
                raise ExportError(f"{target}: not empty (export needs an empty or new folder)")
        except PermissionError:
            raise ExportError(f"{target}: cannot read the folder (permission denied)") from None
        created = False
    else:
        try:
            target.mkdir(parents=True)
        except OSError as exc:
            raise ExportError(f"{target}: cannot create the folder: {_reason(exc)}") from None
        created = True
    try:  # os.access is not enough: root ignores modes, and a read-only mount says yes
        fd, probe = tempfile.mkstemp(prefix=".probe", suffix=_PARTIAL, dir=target)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        if created:
            target.rmdir()
        raise ExportError(f"{target}: not writable: {_reason(exc)}") from None
    return created


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _write_error(target: Path, exc: OSError, written: int, total: int) -> str:
    what = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else _reason(exc)
    return (
        f"{target}: {what} after {written} of {total} files; "
        "the partial file-set was removed"
    )


class _ReadError(Exception):
    pass


def _export_one(
    archive: Archive,
    row: InstanceRow,
    media: MediaProfile,
    deid: Deidentifier | None,
    fs: _Records,
    writer: _Writer,
    invented: set[tuple[str, str]],
    report: ExportReport,
) -> _Outcome:
    """One instance: read, convert, de-identify, add its records, write its file. Problems with
    the source are an outcome; an OSError writing the target propagates (the export stops)."""
    try:
        src = archive.store.absolute(row.store_path)
    except ValueError as exc:
        return _Outcome(failure=Failure(row.store_path, str(exc)))
    label = str(src)
    try:
        header = read_dataset(src, stop_before_pixels=True)
    except DicomFileError as exc:
        return _Outcome(failure=Failure(label, exc.reason))
    syntax = str(header.file_meta.get("TransferSyntaxUID", ""))
    as_stored = deid is None and syntax in media.kept and _proper_part10(header)
    ds: Dataset | None = None
    if not as_stored:
        try:
            ds = _converted(src, media)
        except _ReadError as exc:
            return _Outcome(failure=Failure(label, str(exc)))
        if deid is not None:
            why = deid.excluded(ds)
            if why:
                return _Outcome(excluded=Failure(label, why))
            deid.apply(ds)
        header = _header_of(ds)
        try:  # encoded before its records exist: a file that cannot be written has none
            encoded = _encoded(ds)
        except Exception as exc:  # pydicom's writer raises many types for a bad value
            return _Outcome(failure=Failure(label, f"cannot write the converted file: {exc}"))
    record_ds = _for_records(header, invented, report, label)
    try:
        file_id = fs.add(record_ds)
    except (ValueError, KeyError, AttributeError) as exc:
        return _Outcome(failure=Failure(label, f"no DICOMDIR record possible: {exc}"))
    if ds is None:
        writer.copy(src, file_id)
    else:
        writer.write(encoded, file_id)
    new_syntax = str(header.file_meta.TransferSyntaxUID)
    return _Outcome(file=ExportedFile(file_id, str(header.SOPInstanceUID), new_syntax,
                                      row.store_path))


def _proper_part10(ds: FileDataset) -> bool:
    """A file we may copy byte for byte: preamble, and file meta naming this instance."""
    meta = ds.file_meta
    return (
        ds.preamble is not None
        and meta.get("MediaStorageSOPInstanceUID") == ds.get("SOPInstanceUID")
        and meta.get("MediaStorageSOPClassUID") == ds.get("SOPClassUID")
    )


def _converted(src: Path, media: MediaProfile) -> Dataset:
    """The whole dataset in a transfer syntax of `media`: decompressed (our codec plugins) or
    re-encoded as Explicit VR Little Endian when its own syntax is not kept."""
    try:
        ds = read_dataset(src)
    except DicomFileError as exc:
        raise _ReadError(exc.reason) from None
    syntax = UID(str(ds.file_meta.get("TransferSyntaxUID", "")))
    if syntax not in media.kept:
        if syntax.is_compressed:
            _decompress(ds, syntax)
        elif syntax == ExplicitVRBigEndian:
            _to_little_endian(ds)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.preamble = b"\0" * 128  # the preamble is application-defined (PS3.10 §7.1): carry none
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return ds


def _to_little_endian(ds: Dataset) -> None:
    """Big endian (retired, PS3.5 A.3) to little: pydicom converts the values of numeric VRs
    when writing, not the raw bytes of OW/OF/... elements; pixel data is swapped here through
    its decoded array, and a file with other such elements is refused rather than corrupted."""
    words = [e.keyword or str(e.tag) for e in ds.iterall()
             if e.VR in _RAW_WORD_VRS and e.tag != _PIXEL_DATA]
    if words:
        raise _ReadError(f"big endian file with {', '.join(words)}: cannot convert")
    if "PixelData" in ds:
        arr = ds.pixel_array
        ds.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def _encoded(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    # dcmwrite, not save_as: save_as refuses to change endianness, which _to_little_endian did
    dcmwrite(buffer, ds, enforce_file_format=True, implicit_vr=False, little_endian=True)
    return buffer.getvalue()


def _decompress(ds: Dataset, syntax: UID) -> None:
    try:
        plugins = codecs.plugin_order(syntax)
    except codecs.NoDecoderError as exc:
        raise _ReadError(f"cannot decompress {codecs.syntax_name(syntax)}: {exc}") from None
    reasons = []
    for plugin in plugins:
        try:
            with native_stderr_silenced():
                # the decoded pixels are the same values, so the same instance (keep its UID)
                ds.decompress(decoding_plugin=plugin, generate_instance_uid=False)
            return
        except Exception as exc:  # a codec's own error types vary by back end
            reasons.append(f"{plugin}: {exc}")
    raise _ReadError(
        f"cannot decompress {codecs.syntax_name(syntax)} for this profile: {'; '.join(reasons)}"
    )


def _header_of(ds: Dataset) -> FileDataset:
    """`ds` without its pixel data, sharing elements (records need the header only)."""
    header = FileDataset(
        "", Dataset({t: ds.get_item(t) for t in ds.keys() if t < _PIXEL_DATA}),
        preamble=b"\0" * 128, file_meta=ds.file_meta,
    )
    return header


# DICOMDIR keys that PS3.3 F.5 makes Type 1 and an image may lack; invented for the record only,
# as DCMTK dcmmkdir +I does (the file itself is not changed).
_INVENT: dict[str, str | int] = {
    "PatientID": "UNKNOWN",
    "StudyDate": "19000101",
    "StudyTime": "000000",
    "StudyID": "1",
    "Modality": "OT",
    "SeriesNumber": 1,
    "InstanceNumber": 1,
}


def _for_records(
    header: FileDataset, invented: set[tuple[str, str]], report: ExportReport, label: str
) -> FileDataset:
    missing = [k for k in _INVENT if header.get(k) in (None, "")]
    if not missing:
        return header
    # a copy with new elements: those of `header` may be shared with the dataset being written
    rec = FileDataset("", Dataset({t: header.get_item(t) for t in header.keys()}),
                      preamble=b"\0" * 128, file_meta=header.file_meta)
    for keyword in missing:
        tag = keyword_dict[keyword]
        rec[tag] = DataElement(tag, dictionary_VR(keyword), _INVENT[keyword])
        key = (str(header.get("StudyInstanceUID", "")), keyword)
        if key not in invented:
            invented.add(key)
            report.warnings.append(
                Failure(label, f"{keyword} missing: invented for the DICOMDIR record")
            )
    return rec


def _check_file_id(file_id: str) -> None:
    parts = file_id.split("/")
    if not 1 <= len(parts) <= 8 or not all(FILE_ID.fullmatch(p) for p in parts):
        raise ExportError(f"internal: pydicom gave a non-conformant File ID {file_id!r}")


class _Records:
    """The DICOMDIR's record tree, built by pydicom's `FileSet` machinery (its record creators,
    `RecordNode` tree, File ID assignment and DICOMDIR encoder), minus what `FileSet.add` and
    `FileSet.write` cost on large file-sets: `add` scans every instance already added and every
    sibling record (quadratic: 75% of a 1,000-image export, measured with py-spy) and stages a
    copy of each file that `write` then copies again. Here records are found by key in a dict,
    nothing is staged (we write the files), and only the DICOMDIR is encoded. Uses pydicom 3.0
    internals (`_recordify`, `_tree`, `_instances`, `_write_dicomdir`), checked by the tests
    against DCMTK and pydicom's own `FileSet` loader.
    """

    def __init__(self, fileset_id: str = "") -> None:
        self.fs = FileSet()
        if fileset_id:
            self.fs.ID = fileset_id
        self._nodes: dict[tuple[str, ...], RecordNode] = {}
        self._uids: set[str] = set()
        self._leaf_types: dict[tuple[str, str, str, str], str] = {}
        self._series_paths: dict[tuple[str, str, str, str], tuple[str, ...]] = {}

    def add(self, ds: FileDataset) -> str:
        """Records for `ds`; its File ID ('/' between components). ValueError when a record
        cannot be made (a required key missing) or the instance is already in the file-set."""
        uid = str(ds.SOPInstanceUID)
        if uid in self._uids:
            raise ValueError(f"SOP Instance UID {uid} is already in the file-set")
        series_key = (str(ds.get("PatientID", "")), str(ds.get("StudyInstanceUID", "")),
                      str(ds.get("SeriesInstanceUID", "")), str(ds.SOPClassUID))
        leaf_type = self._leaf_types.get(series_key)
        if leaf_type is not None:
            # the series' records exist: only this instance's record is new (creating all
            # four per image cost 2 ms of the 7 ms an image took)
            parent = self._nodes[self._series_paths[series_key]]
            leaf = RecordNode(_leaf_record(ds, leaf_type))
        else:
            records = list(self.fs._recordify(ds))
            parent = self.fs._tree
            path: tuple[str, ...] = ()
            for record in records[:-1]:
                node = RecordNode(record)
                path = (*path, node.key)
                existing = self._nodes.get(path)
                if existing is None:
                    node.parent = parent
                    existing = self._nodes[path] = node
                parent = existing
            if len(records) == 4:
                self._leaf_types[series_key] = str(records[-1].DirectoryRecordType)
                self._series_paths[series_key] = path
            leaf = RecordNode(records[-1])
        leaf.parent = parent
        instance = FileInstance(leaf)
        leaf.instance = instance
        self.fs._instances.append(instance)
        self._uids.add(uid)
        file_id = instance.FileID.replace(os.sep, "/")
        _check_file_id(file_id)
        return file_id

    def write_dicomdir(self, fp: BinaryIO, written: list[str]) -> None:
        """Encode the DICOMDIR to `fp`; `written` are the File IDs of the files on disk, in
        the order they were added (they must be the IDs the records name)."""
        if len(written) != len(self.fs._instances):
            raise ExportError("internal: the DICOMDIR and the written files differ")
        for instance, file_id in zip(self.fs._instances, written, strict=True):
            now = instance.FileID.replace(os.sep, "/")
            if now != file_id:  # File IDs follow the tree: a later add must not move one
                raise ExportError(f"internal: File ID {file_id} became {now}")
            instance.node._record.ReferencedFileID = file_id.split("/")
        self.fs._write_dicomdir(DicomFileLike(fp))


def _leaf_record(ds: FileDataset, record_type: str) -> Dataset:
    """The lowest-level record of `ds`, as `FileSet._recordify` makes it (PS3.3 F.3-3)."""
    record = DIRECTORY_RECORDERS[record_type](ds)
    record.OffsetOfTheNextDirectoryRecord = 0
    record.RecordInUseFlag = 0xFFFF
    record.OffsetOfReferencedLowerLevelDirectoryEntity = 0
    record.DirectoryRecordType = record_type
    if "SpecificCharacterSet" in ds:
        record.SpecificCharacterSet = ds.SpecificCharacterSet
    record.ReferencedFileID = None
    record.ReferencedSOPClassUIDInFile = ds.SOPClassUID
    record.ReferencedSOPInstanceUIDInFile = ds.SOPInstanceUID
    record.ReferencedTransferSyntaxUIDInFile = ds.file_meta.TransferSyntaxUID
    return record


class _Writer:
    """Writes the files of one export under temporary names, and removes them all on failure."""

    def __init__(self, target: Path, created_target: bool) -> None:
        self.target = target
        self.created_target = created_target
        self.top: set[str] = set()  # top-level entries we made (patient folders, DICOMDIR)
        self.bytes_written = 0
        self._folders: set[Path] = set()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="export-copy")
        self._pending: deque[Future[int]] = deque()

    def _destination(self, file_id: str) -> Path:
        parts = file_id.split("/")
        self.top.add(parts[0])
        dst = self.target.joinpath(*parts)
        if dst.parent not in self._folders:
            dst.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(dst.parent)
        return dst

    def copy(self, src: Path, file_id: str) -> None:
        """Copy `src` to its File ID in the background: the kernel copies (sendfile, no GIL)
        while the next header is parsed. Errors surface at the next call or in `drain`."""
        self._raise_finished()
        dst = self._destination(file_id)
        self._pending.append(self._pool.submit(self._copy, src, dst))

    def _copy(self, src: Path, dst: Path) -> int:
        tmp = dst.with_name(dst.name + _PARTIAL)
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            size = os.fstat(fin.fileno()).st_size
            sent = 0
            while sent < size:  # sendfile: the kernel copies, this thread holds no GIL
                n = os.sendfile(fout.fileno(), fin.fileno(), sent, size - sent)
                if n == 0:
                    break
                sent += n
            # durable now, in this background thread, so the syncfs before the DICOMDIR
            # (which must not name files still in the page cache) has little left to do
            os.fdatasync(fout.fileno())
        os.replace(tmp, dst)
        return sent

    def _raise_finished(self) -> None:
        while self._pending and self._pending[0].done():
            self.bytes_written += self._pending.popleft().result()

    def drain(self) -> None:
        """Wait for the background copies; the first error is raised (others are cleaned)."""
        try:
            while self._pending:
                self.bytes_written += self._pending.popleft().result()
        finally:
            for future in self._pending:
                future.cancel()
            wait(self._pending)
            self._pending.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def write(self, data: bytes, file_id: str) -> None:
        """Write an encoded file to its File ID in the background (see `copy`)."""
        self._raise_finished()
        dst = self._destination(file_id)
        self._pending.append(self._pool.submit(self._write, data, dst))

    def _write(self, data: bytes, dst: Path) -> int:
        tmp = dst.with_name(dst.name + _PARTIAL)
        with open(tmp, "wb") as fout:
            fout.write(data)
            fout.flush()
            os.fdatasync(fout.fileno())
        os.replace(tmp, dst)
        return len(data)

    def write_dicomdir(self, fs: _Records, exported: list[ExportedFile]) -> Path:
        """The DICOMDIR, written last: after the files it names are durable, by rename."""
        self.drain()
        self.top.add(DICOMDIR)
        dst = self.target / DICOMDIR
        tmp = self.target / (DICOMDIR + _PARTIAL)
        with open(tmp, "wb") as f:
            fs.write_dicomdir(f, [e.file_id for e in exported])
            f.flush()
            _sync_filesystem(self.target)  # the files before the DICOMDIR that names them
            os.fsync(f.fileno())
        os.replace(tmp, dst)
        _fsync_dir(self.target)
        self.bytes_written += dst.stat().st_size
        return dst

    def remove_all(self) -> None:
        try:
            self.drain()
        except OSError:
            pass  # the failure being cleaned up after, or one of its consequences
        for name in self.top:
            for path in (self.target / name, self.target / (name + _PARTIAL)):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        self.top.clear()
        self._folders.clear()
        if self.created_target:
            try:
                self.target.rmdir()
            except OSError:
                LOGGER.warning("%s: could not remove the export folder", self.target)


def _sync_filesystem(folder: Path) -> None:
    """syncfs(2) on the target's file system (one call for all files; Linux), else sync."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(folder, os.O_RDONLY)
        try:
            if libc.syncfs(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
        finally:
            os.close(fd)
    except AttributeError:
        os.sync()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
