"""What the user points at (files, folders, `.zip` archives, CD/DVD media with a DICOMDIR) turned
into candidate files for the importer, refusing whatever could escape its root or fill the disk.

Media: PS3.10 §8 (File IDs, the DICOMDIR file), PS3.3 Annex F (Basic Directory IOD) and PS3.11
(media application profiles). Non-DICOM files are not filtered here: the importer reports them.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
import threading
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from viewer.dicom.files import DicomFileError, read_dataset
from viewer.jobs import Report

if TYPE_CHECKING:
    from pydicom.fileset import FileSet

LOGGER = logging.getLogger(__name__)

MiB = 1 << 20
GiB = 1 << 30
_CHUNK = MiB
_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[\\/]")
_ISO_VERSION = re.compile(r";\d+$")
OUTSIDE_MEDIA_ROOT = "refused: outside the media root"


class SourceError(Exception):
    """A candidate that cannot be materialised: its `label` and a one-line `reason`."""

    def __init__(self, label: str, reason: str) -> None:
        self.label = label
        self.reason = reason
        super().__init__(f"{label}: {reason}")


@dataclass(frozen=True)
class ZipLimits:
    """Zip-bomb limits, checked on the declared sizes while listing and again while extracting.

    The ratio (uncompressed / compressed) is only checked for entries above `ratio_min_bytes`:
    small runs of zeros compress far beyond 200:1 and are harmless.
    """

    max_entry_bytes: int = 2 * GiB
    max_total_bytes: int = 20 * GiB
    max_ratio: float = 200.0
    ratio_min_bytes: int = MiB


@dataclass(frozen=True)
class Candidate:
    """One file to offer to the importer. `label` is what reports show: the file's path,
    `archive.zip!dir/x.dcm`, or the path a DICOMDIR references. `path` is the local file for
    plain candidates and None for archive entries; `materialise()` works for both."""

    label: str
    path: Path | None = None
    _entry: _ZipEntry | None = field(default=None, repr=False, compare=False)

    @contextmanager
    def materialise(self) -> Iterator[Path]:
        """A readable local file for the duration of the `with` block. Archive entries are
        extracted under a generated name in a private temp dir, removed afterwards; raises
        SourceError when an entry breaks a limit while streaming or is damaged."""
        if self._entry is not None:
            with self._entry.archive.extract(self._entry.info, self.label) as extracted:
                yield extracted
        elif self.path is not None:
            yield self.path
        else:
            raise SourceError(self.label, "nothing to read")


class _LimitExceeded(Exception):
    pass


def _copy_limited(src: IO[bytes], dst: IO[bytes], limit: int) -> int:
    """Copy at most `limit` bytes; raise _LimitExceeded (before writing) when more arrive."""
    written = 0
    while True:
        chunk = src.read(min(_CHUNK, limit + 1 - written))
        if not chunk:
            return written
        if written + len(chunk) > limit:
            raise _LimitExceeded
        dst.write(chunk)
        written += len(chunk)


class _Archive:
    """One zip file, opened once for listing; entries are extracted on demand (thread-safe)."""

    def __init__(self, path: Path, limits: ZipLimits, temp_dir: Path | None) -> None:
        self.path = path
        self.limits = limits
        self.temp_dir = temp_dir
        self._lock = threading.Lock()
        self._zip: zipfile.ZipFile | None = None
        self._extracted = 0

    def open(self) -> zipfile.ZipFile:
        with self._lock:
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.path)
            return self._zip

    def close(self) -> None:
        # Open members keep the file alive (zipfile reference-counts it), so this is safe.
        with self._lock:
            if self._zip is not None:
                self._zip.close()
                self._zip = None

    @contextmanager
    def _member(self, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
        # Candidates kept after the walk closed the archive reopen it once (not once per entry:
        # parsing a large central directory each time made extraction 12x slower). That handle
        # is closed when the candidates are garbage-collected.
        archive = self.open()
        with self._lock:  # ZipFile.open counts its users without a lock of its own
            member = archive.open(info)
        try:
            yield member
        finally:
            member.close()

    def _stream_limit(self, info: zipfile.ZipInfo) -> tuple[int, str]:
        # Declared sizes can lie: bound the bytes actually produced, whatever the header says.
        lim = self.limits
        with self._lock:
            remaining = lim.max_total_bytes - self._extracted
        return min(
            (info.file_size, "entry holds more data than its declared size (lying header)"),
            (lim.max_entry_bytes, f"entry larger than the {lim.max_entry_bytes}-byte limit"),
            (
                max(lim.ratio_min_bytes, int(lim.max_ratio * info.compress_size)),
                f"compression ratio above {lim.max_ratio:g}:1 (zip bomb)",
            ),
            (remaining, f"archive larger than the {lim.max_total_bytes}-byte total limit"),
        )

    @contextmanager
    def extract(self, info: zipfile.ZipInfo, label: str) -> Iterator[Path]:
        limit, why = self._stream_limit(info)
        with tempfile.TemporaryDirectory(prefix="viewer-zip-", dir=self.temp_dir) as tmp:
            target = Path(tmp) / "entry.dcm"  # never a name taken from the archive
            try:
                with self._member(info) as src, target.open("xb") as dst:
                    written = _copy_limited(src, dst, limit)
            except _LimitExceeded:
                raise SourceError(label, f"refused: {why}") from None
            except zipfile.BadZipFile as exc:
                # zipfile stops at the declared size, so a lying header ends as a CRC error.
                reason = f"refused: damaged entry or lying header ({exc})"
                raise SourceError(label, reason) from None
            except (zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
                raise SourceError(label, f"cannot extract: {exc}") from None
            with self._lock:
                self._extracted += written
            yield target


@dataclass(frozen=True)
class _ZipEntry:
    archive: _Archive
    info: zipfile.ZipInfo


def _entry_refusal(info: zipfile.ZipInfo, limits: ZipLimits) -> str | None:
    """Why a zip entry is refused from its central-directory record alone, or None."""
    name = info.filename
    if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in _SEPARATORS.split(name):
        return "refused: unsafe path in archive (absolute, drive letter or '..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "refused: symbolic link entry in archive"
    if info.flag_bits & 0x1:
        return "refused: encrypted entry (password-protected archives are not supported)"
    if info.is_dir():
        return None
    if name.lower().endswith(".zip"):
        return "skipped: nested archive not opened"
    if info.file_size > limits.max_entry_bytes:
        return f"refused: declared size {info.file_size} bytes above the per-entry limit"
    if info.file_size > limits.ratio_min_bytes and (
        info.file_size > limits.max_ratio * max(info.compress_size, 1)
    ):
        ratio = info.file_size / max(info.compress_size, 1)
        return f"refused: compression ratio {ratio:.0f}:1 above {limits.max_ratio:g}:1 (zip bomb)"
    return None


def _is_dicomdir(name: str) -> bool:
    return name.upper() == "DICOMDIR"


def _skipped_name(name: str) -> bool:
    """Hidden files and folders, and the resource forks macOS adds to archives."""
    return (name.startswith(".") and name != ".") or name == "__MACOSX"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _file_id_text(value: str | Iterable[object]) -> str:
    return value if isinstance(value, str) else "\\".join(str(v) for v in value)


def _file_id_parts(value: str | Iterable[object]) -> list[str] | None:
    """The components of a Referenced File ID (0004,1500), or None when it could reach outside
    the media root: absolute, a drive letter, '..' or a NUL (PS3.10 §8.5 allows none of them)."""
    values = [value] if isinstance(value, str) else [str(v) for v in value]
    parts: list[str] = []
    for text in values:
        if text.startswith(("/", "\\")) or _DRIVE.match(text) or "\0" in text:
            return None
        parts += [p for p in _SEPARATORS.split(text) if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return parts


def _fold(name: str) -> str:
    # ISO 9660 names may keep their ';1' version and a trailing dot when mounted without Joliet.
    return _ISO_VERSION.sub("", name).rstrip(".").casefold()


class _CaseInsensitive:
    """Find File IDs (upper case on CDs) on file systems that show other cases; caches listings."""

    def __init__(self) -> None:
        self._listings: dict[Path, dict[str, list[str]]] = {}

    def find(self, root: Path, parts: Sequence[str]) -> Path | None:
        exact = root.joinpath(*parts)
        if os.path.lexists(exact):
            return exact
        current = root
        for part in parts:
            names = self._listing(current).get(_fold(part), [])
            if len(names) != 1:  # absent, or ambiguous: do not guess
                return None
            current = current / names[0]
        return current

    def _listing(self, folder: Path) -> dict[str, list[str]]:
        if folder not in self._listings:
            folded: dict[str, list[str]] = {}
            try:
                for name in os.listdir(folder):
                    folded.setdefault(_fold(name), []).append(name)
            except OSError:
                pass
            self._listings[folder] = folded
        return self._listings[folder]


def discard_fileset(fileset: FileSet) -> None:
    """Remove the staging folder every pydicom FileSet creates (left to the garbage collector
    otherwise). pydicom has no public call for it; tolerate its internals changing."""
    staging = getattr(fileset, "_stage", {}).get("t")
    if isinstance(staging, tempfile.TemporaryDirectory):
        staging.cleanup()


class _Unusable(Exception):
    """The DICOMDIR cannot drive the import; the message says why."""


class _Walk:
    def __init__(self, report: Report, limits: ZipLimits, temp_dir: Path | None) -> None:
        self.report = report
        self.limits = limits
        self.temp_dir = temp_dir
        self.seen: set[Path] = set()  # real paths already offered: overlaps and links

    def given(self, path: Path) -> Iterator[Candidate]:
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            self.report.fail(str(path), _os_reason(exc))
            return
        if stat.S_ISDIR(mode):
            yield from self.folder(path.resolve(), path, skip_dicomdir_in=None)
        elif stat.S_ISREG(mode) and _is_dicomdir(path.name):
            yield from self.media(path, path.resolve().parent)
        elif stat.S_ISREG(mode):
            yield from self.file(path)
        else:
            self.report.fail(str(path), "not a regular file or folder")

    def file(self, path: Path) -> Iterator[Candidate]:
        real = path.resolve()
        if real in self.seen:
            return
        self.seen.add(real)
        if path.suffix.lower() == ".zip":
            yield from self.zip(path)
        else:
            yield Candidate(str(path), path)

    def folder(self, root: Path, start: Path, skip_dicomdir_in: Path | None) -> Iterator[Candidate]:
        """Every regular file under `start` except hidden ones; a folder holding a DICOMDIR is
        read as media instead (unless it is `skip_dicomdir_in`, whose DICOMDIR was unusable)."""
        stack = [start]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as scan:
                    entries = sorted(scan, key=lambda e: e.name)
            except OSError as exc:
                self.report.fail(str(directory), f"cannot read folder: {_os_reason(exc)}")
                continue
            dicomdir = next(
                (e for e in entries if _is_dicomdir(e.name) and e.is_file(follow_symlinks=False)),
                None,
            )
            if dicomdir is not None and directory != skip_dicomdir_in:
                yield from self.media(Path(dicomdir.path), Path(directory).resolve())
                continue
            subfolders: list[Path] = []
            for entry in entries:
                path = Path(entry.path)
                if _skipped_name(entry.name) or entry is dicomdir:
                    continue
                if entry.is_symlink():
                    yield from self.link(path, root)
                elif entry.is_dir(follow_symlinks=False):
                    subfolders.append(path)
                elif entry.is_file(follow_symlinks=False):
                    yield from self.file(path)
                else:  # FIFOs, sockets, devices: reading one could block the import forever
                    self.report.fail(str(path), "not a regular file")
            stack.extend(reversed(subfolders))

    def link(self, path: Path, root: Path) -> Iterator[Candidate]:
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            self.report.fail(str(path), "broken symbolic link")
            return
        if not target.is_relative_to(root):
            self.report.fail(str(path), f"refused: symbolic link pointing outside {root}")
        elif target.is_file():
            yield from self.file(path)
        elif not target.is_dir():  # a folder inside the root is walked through its real path
            self.report.fail(str(path), "not a regular file")

    def zip(self, path: Path) -> Iterator[Candidate]:
        archive = _Archive(path, self.limits, self.temp_dir)
        try:
            infos = archive.open().infolist()
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
            self.report.fail(str(path), f"not a readable zip archive: {exc}")
            return
        try:
            declared = 0
            for info in infos:
                label = f"{path}!{info.filename}"
                reason = _entry_refusal(info, self.limits)
                if reason is None and (
                    info.is_dir()
                    or any(_skipped_name(p) for p in _SEPARATORS.split(info.filename))
                    or _is_dicomdir(_SEPARATORS.split(info.filename)[-1])
                ):
                    continue  # every entry is visited anyway; the DICOMDIR is only an index
                if reason is None and declared + info.file_size > self.limits.max_total_bytes:
                    reason = f"refused: archive beyond the {self.limits.max_total_bytes}-byte total"
                if reason is not None:
                    self.report.fail(label, reason)
                    continue
                declared += info.file_size
                yield Candidate(label, None, _ZipEntry(archive, info))
        finally:
            archive.close()

    def media(self, dicomdir: Path, root: Path) -> Iterator[Candidate]:
        """Files the DICOMDIR references (PS3.10 §8.6), in its patient/study/series order.
        Falls back to a folder scan when it is unusable, and adds one when it names missing
        files or files outside the media (the media and their index disagree: unlisted files
        may be the ones meant)."""
        self.seen.add(dicomdir.resolve())
        try:
            found, missing, refused = self._read_dicomdir(dicomdir, root)
        except _Unusable as exc:
            LOGGER.debug("DICOMDIR %s unusable (%s): scanning its folder", dicomdir, exc)
            self.report.fail(str(dicomdir), f"DICOMDIR unusable ({exc}); scanned the folder")
            yield from self.folder(root, dicomdir.parent, skip_dicomdir_in=dicomdir.parent)
            return
        for path in found:
            if path not in self.seen:  # referenced files are offered as they are, never unzipped
                self.seen.add(path)
                yield Candidate(str(path), path)
        if missing or refused:
            wrong = [f"{missing} missing file(s)"] if missing else []
            wrong += [f"{refused} file(s) outside the media root"] if refused else []
            self.report.fail(
                str(dicomdir),
                f"DICOMDIR names {' and '.join(wrong)}; scanned the folder for unlisted files",
            )
            yield from self.folder(root, dicomdir.parent, skip_dicomdir_in=dicomdir.parent)

    def _read_dicomdir(self, dicomdir: Path, root: Path) -> tuple[list[Path], int, int]:
        """The referenced files in DICOMDIR order; how many are missing; how many refused."""
        from pydicom.fileset import FileSet

        try:
            ds = read_dataset(dicomdir)
        except DicomFileError as exc:
            raise _Unusable(exc.reason) from None
        records = ds.get("DirectoryRecordSequence")
        if records is None:
            raise _Unusable("no Directory Record Sequence")
        # Screen every Referenced File ID ourselves first: pydicom refuses the whole file-set on
        # one ID outside the root and drops missing files with only a warning.
        lookup = _CaseInsensitive()
        referenced: list[Path] = []
        missing = refused = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lower-case names are not valid CS values
            for record in records:
                value = record.get("ReferencedFileID")
                if not value:
                    continue
                parts = _file_id_parts(value)
                real = None
                if parts is not None and (found := lookup.find(root, parts)) is not None:
                    real = found.resolve()
                if parts is None or (real is not None and not real.is_relative_to(root)):
                    label = f"{dicomdir}: File ID {_file_id_text(value)}"
                    self.report.fail(label, OUTSIDE_MEDIA_ROOT)
                    refused += 1
                elif real is None or not real.is_file():
                    self.report.fail(str(root.joinpath(*parts)), "missing (named by the DICOMDIR)")
                    missing += 1
                else:
                    referenced.append(real)
                    record.ReferencedFileID = list(real.relative_to(root).parts)
                    continue
                del record.ReferencedFileID
            fileset = FileSet()
            try:
                fileset.load(ds, include_orphans=False)
                ordered = [Path(instance.path).resolve() for instance in fileset]
            except Exception as exc:  # any failure of pydicom on a broken DICOMDIR means the same
                raise _Unusable(f"{type(exc).__name__}: {exc}") from None
            finally:
                discard_fileset(fileset)
        # Records outside the hierarchy (a damaged DICOMDIR) still name files on the media.
        listed = set(ordered)
        orphans = [p for p in referenced if p not in listed]
        if orphans:
            LOGGER.debug("%s: %d records outside the directory hierarchy", dicomdir, len(orphans))
        return ordered + orphans, missing, refused


def iter_candidates(
    paths: Iterable[Path],
    report: Report,
    *,
    limits: ZipLimits = ZipLimits(),  # noqa: B008 - frozen, so sharing the default is safe
    temp_dir: Path | None = None,
) -> Iterator[Candidate]:
    """Walk files, folders (recursively, any names), `.zip` archives and DICOMDIR media.

    Hidden files are skipped; symbolic links pointing outside the given folder, unsafe or
    oversized zip entries and File IDs outside the media root are reported through
    `report.fail(label, reason)` and the walk goes on. Each real file is offered once.
    `temp_dir` is where zip entries are extracted (default: the system temp dir).
    """
    walk = _Walk(report, limits, temp_dir)
    for path in paths:
        yield from walk.given(Path(path))
