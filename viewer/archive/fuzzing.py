"""`bench fuzz`: damaged copies of real files of every transfer syntax fed to the readers of
outside data (import of folders, zips and DICOMDIR media; render; info; thumbnails), each run as
the user runs it, in its own process, and judged by what the user would see.

A crash is any of: a traceback or library warning text on stderr, a line on stderr that names
no file, an exit code other than 0 or 1 (2 means nothing could be started), a hang, or an
archive that `check` no longer finds consistent (something partial in the store). Each crashing
input is saved, with what happened, to a folder of its own so that it can become a regression
test. Everything is drawn from one seed: the same seed gives the same files.

Issue 17's objects (a presentation state, key objects, structured reports, segmentations, an RT
structure set, a hanging protocol: `viewer.archive.fuzz_objects`) join the seeds of the import,
and each round also feeds damaged copies of them to the verbs that read them: `render
--presentation-state`, `render --overlay`, `sr` (plain and --json), `keys` on the archive that
indexed them, and `hanging import`.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from viewer.archive.fuzz_objects import ObjectSeeds, write_object_seeds
from viewer.dicom.mutations import Layout, layout_of, mutate

# pydicom's own test files, one or more per transfer syntax, read from the installed package
# (never downloaded): explicit/implicit LE, big endian, deflate, RLE, JPEG, JPEG-LS, JPEG 2000.
PYDICOM_SEEDS = (
    "CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm",
    "SC_rgb_rle.dcm", "rtdose_rle_1frame.dcm", "SC_rgb_small_odd_jpeg.dcm", "JPEG-lossy.dcm",
    "SC_rgb_jpeg_gdcm.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPEGLSNearLossless_08.dcm",
    "MR_small_jp2klossless.dcm", "JPEG2000.dcm", "SC_rgb_small_odd_big_endian.dcm",
    "rtdose_1frame.dcm", "SC_rgb_2frame.dcm",
)
# Written by DCMTK, GDCM and OpenJPH from a small synthetic CT (`viewer.dicom.demo.transcode`):
# the syntaxes pydicom ships no small file of (JPEG lossless, HTJ2K) and the tools' encoders.
TOOL_SYNTAXES = (
    "explicit-le", "implicit-le", "big-endian", "deflate", "rle", "jpeg-baseline",
    "jpeg-extended", "jpeg-lossless", "jpeg-lossless-sv1", "jpeg-ls", "jpeg-ls-near", "j2k",
    "j2k-lossy", "htj2k", "htj2k-lossy",
)
FILES_PER_ROUND = 12
VOLUME_SLICES = 8  # the series `mpr` reads each round, two of its slices damaged
STEP_TIMEOUT_S = 120.0  # one CLI run on a dozen small files; beyond this it hangs
_WARNING_TEXT = re.compile(r"warn", re.IGNORECASE)
# Our own warnings name what they are about: "/path/of/series: warning: gap of ... filled"
_OWN_WARNING = re.compile(r"^/[^:]*: warning: ")


@dataclass(frozen=True)
class Seed:
    """A valid file to damage: its bytes, where its elements are, and a short name."""

    name: str
    data: bytes
    layout: Layout | None


@dataclass(frozen=True)
class Crash:
    """Something the user must never see, and where its inputs were saved."""

    step: str  # import-folder, import-zip, import-dicomdir, render, info, thumbnails, check,
    # import-objects, render-ps, render-seg, render-rtstruct, sr, sr-json, keys, hanging-import
    what: str  # one line: the symptom
    saved: str  # the folder holding the inputs and a note


@dataclass
class FuzzResult:
    seed: int
    seconds: float = 0.0
    rounds: int = 0
    files: int = 0
    runs: int = 0  # CLI processes started
    failures: Counter[str] = field(default_factory=Counter)  # reason class -> count
    crashes: list[Crash] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({
            "seed": self.seed, "seconds": round(self.seconds, 1), "rounds": self.rounds,
            "files": self.files, "runs": self.runs, "failures": dict(self.failures.most_common()),
            "crashes": [vars(c) for c in self.crashes],
        }, indent=2)

    def table(self) -> str:
        lines = [f"bench fuzz: seed {self.seed}, {self.seconds:.0f} s, {self.rounds} rounds, "
                 f"{self.files} damaged files, {self.runs} command runs"]
        lines.append("failures by reason (expected: each one line naming the file):")
        lines += [f"  {n:6d}  {reason}" for reason, n in self.failures.most_common(25)]
        lines.append(f"crashes: {len(self.crashes)}")
        lines += [f"  {c.step}: {c.what}  -> {c.saved}" for c in self.crashes]
        return "\n".join(lines)


def load_seeds(work: Path) -> list[Seed]:
    """pydicom's test files plus a small CT written in every syntax by DCMTK/GDCM/OpenJPH
    (cached in `work`); each with its own SOP Instance UID."""
    from pydicom.data import get_testdata_file

    from viewer.dicom.demo import TranscodeError, transcode, write_ct_series

    paths: list[Path] = []
    for name in PYDICOM_SEEDS:
        found = get_testdata_file(name, download=False)
        if isinstance(found, str):
            paths.append(Path(found))
    tools = work / "tool-seeds"
    if not tools.is_dir():
        source = write_ct_series(work / "ct", slices=1, rows=64, columns=64)
        for syntax in TOOL_SYNTAXES:
            try:
                transcode(source, syntax, tools / syntax)
            except TranscodeError:
                continue  # a tool missing here: that syntax comes from pydicom's files only
    paths += sorted(tools.glob("*/*.dcm"))
    seeds = [_seed(p, tools) for p in paths]
    # as they are: their UIDs reference each other (the key objects name the presentation
    # state, every object the CT); the hanging protocol belongs to no study and is never stored
    objects = load_object_seeds(work)
    for path in objects.objects:
        if path != objects.hanging_protocol:
            data = path.read_bytes()
            seeds.append(Seed(path.stem, data, layout_of(data)))
    return seeds


def load_object_seeds(work: Path) -> ObjectSeeds:
    """Issue 17's objects about the small CT of the tool seeds (made once, kept in `work`)."""
    from viewer.dicom.demo import write_ct_series

    image = work / "ct" / "CT0001.dcm"
    if not image.is_file():
        write_ct_series(work / "ct", slices=1, rows=64, columns=64)
    return write_object_seeds(image, work / "object-seeds")


def _seed(path: Path, tools: Path) -> Seed:
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    # a fresh SOP Instance UID each: seeds of one series never conflict with each other
    ds = dcmread(path)
    uid = generate_uid(entropy_srcs=[str(path)])
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    # an intact seed must import (some of pydicom's files lack these UIDs)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID"):
        if not ds.get(keyword):
            setattr(ds, keyword, generate_uid(entropy_srcs=[keyword, str(path)]))
    # what a DICOMDIR record needs (PS3.3 F.5), so that every seed can sit on media
    for keyword, value in (("PatientID", "FUZZ"), ("StudyDate", "20260101"),
                           ("StudyTime", "120000"), ("StudyID", "1"), ("Modality", "OT"),
                           ("SeriesNumber", 1), ("InstanceNumber", 1)):
        if not ds.get(keyword):
            setattr(ds, keyword, value)
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    name = f"{path.parent.name}-{path.stem}" if path.is_relative_to(tools) else path.stem
    return Seed(name, data, layout_of(data))


def run_fuzz(
    seconds: float, seed: int, work: Path, crashes_dir: Path,
    progress: Callable[[str], None] = lambda _: None,
) -> FuzzResult:
    """Damage files and run the readers on them for `seconds`; crashes saved in `crashes_dir`."""
    result = FuzzResult(seed)
    start = time.monotonic()
    seeds = load_seeds(work)
    objects = load_object_seeds(work)
    while time.monotonic() - start < seconds or result.rounds == 0:
        rng = random.Random(f"{seed}:{result.rounds}")
        round_dir = work / f"round-{result.rounds}"
        shutil.rmtree(round_dir, ignore_errors=True)
        fuzz_round(seeds, rng, round_dir, result, crashes_dir, objects)
        shutil.rmtree(round_dir, ignore_errors=True)
        result.rounds += 1
        progress(f"round {result.rounds}: {result.files} files, {len(result.crashes)} crashes")
    result.seconds = time.monotonic() - start
    return result


def write_mutants(seeds: list[Seed], rng: random.Random, folder: Path, count: int) -> list[Path]:
    """`count` damaged files (and one undamaged one, which must import) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        base = rng.choice(seeds)
        if i == 0:
            kind, data = "intact", base.data
        else:
            kind, data = mutate(base.data, base.layout, rng)
        path = folder / f"{i:03d}_{base.name}_{kind}.dcm"
        path.write_bytes(data)
        paths.append(path)
    return paths


def fuzz_round(
    seeds: list[Seed], rng: random.Random, round_dir: Path, result: FuzzResult,
    crashes_dir: Path, objects: ObjectSeeds | None = None,
) -> None:
    """One round: damaged files imported as a folder, a zip or DICOMDIR media (by turn); with
    `objects`, damaged copies of each imported beside their CT and read by their verbs
    (`fuzz_objects_round`); then the archive checked, the files rendered with two workers,
    thumbnailed, and some of them passed to `info`; then a small series with two damaged
    slices reformatted by `mpr`."""
    folder = round_dir / "files"
    mutants = write_mutants(seeds, rng, folder, FILES_PER_ROUND)
    result.files += len(mutants) - 1
    form = ("folder", "zip", "dicomdir")[result.rounds % 3]
    source = folder
    if form == "zip":
        source = round_dir / "files.zip"
        with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in mutants:
                archive.write(path, path.name)
    intact: str | None = mutants[0].name
    if form == "dicomdir":
        source, intact = make_media(mutants, seeds, round_dir / "media")
    archive_dir = round_dir / "archive"
    runner = _Runner(result, round_dir, crashes_dir, source)
    done = runner.cli(f"import-{form}", "--archive", str(archive_dir), "import", "--json",
                      str(source))
    if done is not None:
        what = judge_import(done.stdout, done.stderr, intact)
        if what:
            runner.crash(f"import-{form}", what, ["import", str(source)], done.stderr)
        _count_failures(done.stdout, result)
    if objects is not None:
        fuzz_objects_round(runner, objects, rng, round_dir)
    runner.cli("check", "--archive", str(archive_dir), "check", "--json", allowed=(0,))
    runner.cli("render", "render", str(folder), "-o", str(round_dir / "png"), "-j", "2")
    runner.python("thumbnails", "-m", "viewer.archive.fuzzing", str(archive_dir))
    for path in rng.sample(mutants, 3):
        runner.cli("info", "info", str(path), allowed=(0, 2))
    volume = write_volume_mutants(rng, round_dir / "volume")
    runner.cli("mpr", "mpr", str(volume), "--plane", "coronal", "-o",
               str(round_dir / "mpr.png"), allowed=(0, 2))


def fuzz_objects_round(
    runner: _Runner, objects: ObjectSeeds, rng: random.Random, round_dir: Path
) -> None:
    """Each of issue 17's objects damaged once; all but the hanging protocol imported with
    their intact CT into the round's archive (the reference index reads them), then: the CT
    rendered with the damaged presentation state, a segmentation and the structure set; `sr`
    on a report and on the key objects, plain and --json; `keys` of the CT's study; `hanging
    import` of the damaged hanging protocol into a config folder of the round's own."""
    folder = round_dir / "objects"
    folder.mkdir(parents=True, exist_ok=True)
    image = Path(shutil.copy(objects.image, folder / "ct.dcm"))
    damaged: dict[Path, Path] = {}
    for path in objects.objects:
        data = path.read_bytes()
        kind, data = mutate(data, layout_of(data), rng)
        where = round_dir / "hanging" if path == objects.hanging_protocol else folder
        where.mkdir(exist_ok=True)
        damaged[path] = where / f"{path.stem}_{kind}.dcm"
        damaged[path].write_bytes(data)
    runner.result.files += len(damaged)
    archive = str(round_dir / "archive")
    done = runner.cli("import-objects", "--archive", archive, "import", "--json", str(folder))
    if done is not None:
        what = judge_import(done.stdout, done.stderr, image.name)
        if what:
            runner.crash("import-objects", what, ["import", str(folder)], done.stderr)
        _count_failures(done.stdout, runner.result)
    png = round_dir / "objects-png"
    png.mkdir(exist_ok=True)
    overlays = (("render-ps", "--presentation-state", objects.presentation_state),
                ("render-seg", "--overlay", rng.choice(objects.segmentations)),
                ("render-rtstruct", "--overlay", objects.structure_set))
    for step, option, path in overlays:
        runner.cli(step, "render", str(image), option, str(damaged[path]), "-o",
                   str(png / f"{step}.png"), allowed=(0, 1, 2))
    for document in (rng.choice((objects.report, objects.dose_report)), objects.key_objects):
        runner.cli("sr", "sr", str(damaged[document]), allowed=(0, 1, 2))
        runner.cli("sr-json", "sr", "--json", str(damaged[document]), allowed=(0, 1, 2))
    from pydicom import dcmread

    study = str(dcmread(image, stop_before_pixels=True).StudyInstanceUID)
    runner.cli("keys", "--archive", archive, "keys", "--json", study, allowed=(0,))
    runner.cli("hanging-import", "--config", str(round_dir / "config" / "config.toml"),
               "hanging", "import", str(damaged[objects.hanging_protocol]), "--as", "fuzzed",
               allowed=(0, 2))


def write_volume_mutants(rng: random.Random, folder: Path) -> Path:
    """A small CT series, two of its slices damaged: what `mpr` reads as one volume (the
    volume planner reads every header's geometry and rescale, the loader every frame)."""
    from viewer.dicom.demo import write_ct_series

    paths = write_ct_series(folder, slices=VOLUME_SLICES, rows=32, columns=32,
                            seed=rng.randrange(1 << 16))
    for path in rng.sample(paths, 2):
        data = path.read_bytes()
        path.write_bytes(mutate(data, layout_of(data), rng)[1])
    return folder


def make_media(mutants: list[Path], seeds: list[Seed], media: Path) -> tuple[Path, str | None]:
    """A DICOMDIR naming the files before damage, then the files damaged under it; and the
    name the undamaged first file has there (None when pydicom could not list it)."""
    from io import BytesIO

    from pydicom import dcmread
    from pydicom.fileset import FileSet

    from viewer.archive.sources import discard_fileset

    by_name = {s.name: s for s in seeds}
    fileset = FileSet()
    damaged: dict[str, Path] = {}  # SOP Instance UID -> the damaged file
    try:
        for path in mutants:
            seed = by_name.get(path.name.split("_", 1)[1].rsplit("_", 1)[0])
            if seed is None:
                continue
            ds = dcmread(BytesIO(seed.data))
            if ds.SOPInstanceUID not in damaged:  # the same seed twice: one record
                try:
                    fileset.add(ds)
                except ValueError:  # pydicom cannot make a record of it: not on the media
                    continue
            if damaged.get(ds.SOPInstanceUID) != mutants[0]:  # the intact one stays
                damaged[ds.SOPInstanceUID] = path  # else the last damage wins
        fileset.write(media)
        intact = None
        for instance in fileset:
            source = damaged[instance.SOPInstanceUID]
            Path(instance.path).write_bytes(source.read_bytes())
            if source == mutants[0]:
                intact = Path(instance.path).name
    finally:
        discard_fileset(fileset)
    return media / "DICOMDIR", intact


class _Runner:
    """Runs one command of a round and turns what the user would see into crashes."""

    def __init__(self, result: FuzzResult, round_dir: Path, crashes_dir: Path, source: Path):
        self.result = result
        self.round_dir = round_dir
        self.crashes_dir = crashes_dir
        self.source = source

    def cli(
        self, step: str, *args: str, allowed: tuple[int, ...] = (0, 1)
    ) -> subprocess.CompletedProcess[str] | None:
        return self.python(step, "-m", "viewer", *args, allowed=allowed)

    def python(
        self, step: str, *args: str, allowed: tuple[int, ...] = (0, 1)
    ) -> subprocess.CompletedProcess[str] | None:
        self.result.runs += 1
        command = [sys.executable, *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                  timeout=STEP_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            self.crash(step, f"no answer within {STEP_TIMEOUT_S:.0f} s (hang)", command)
            return None
        what = judge(done.returncode, done.stderr, allowed)
        if what:
            self.crash(step, what, command, done.stderr)
        return done

    def crash(self, step: str, what: str, command: list[str], stderr: str = "") -> None:
        target = self.crashes_dir / f"{self.round_dir.name}-{step}-{len(self.result.crashes)}"
        shutil.copytree(self.round_dir / "files", target / "files", dirs_exist_ok=True)
        for part in ("volume", "objects", "hanging"):
            if (self.round_dir / part).is_dir():
                shutil.copytree(self.round_dir / part, target / part, dirs_exist_ok=True)
        if self.source.is_file() or self.source.name == "DICOMDIR":
            source = self.source.parent if self.source.name == "DICOMDIR" else self.source
            copy = shutil.copytree if source.is_dir() else shutil.copy2
            copy(source, target / source.name)
        note = f"step: {step}\nwhat: {what}\ncommand: {' '.join(command)}\n\nstderr:\n{stderr}"
        (target / "CRASH.txt").write_text(note, encoding="utf-8")
        self.result.crashes.append(Crash(step, what, str(target)))


def judge(returncode: int, stderr: str, allowed: tuple[int, ...]) -> str:
    """What is wrong with a run the user would see, or "" when nothing is."""
    if "Traceback" in stderr:
        return "traceback on stderr"
    library = [x for x in stderr.splitlines() if _WARNING_TEXT.search(_OWN_WARNING.sub("", x))]
    if library:
        return f"warning text on stderr: {library[0][:160]}"
    if returncode not in allowed:
        last = stderr.strip().splitlines()[-1:] or ["(no message)"]
        return f"exit {returncode}: {last[0][:160]}"
    for line in stderr.splitlines():
        if line.strip() and not _names_a_file(line):
            return f"stderr line naming no file: {line[:160]}"
    return ""


def judge_import(stdout: str, stderr: str, intact: str | None) -> str:
    """What is wrong with an import's report (--json): each failed file named on stderr, and
    the undamaged file `intact` (a file name) imported."""
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError:
        return "no JSON report on stdout"
    lines = stderr.splitlines()
    for item in document["failed"] + document["conflicts"]:
        if not any(line.startswith(f"{item['path']}: ") for line in lines):
            return f"failed file not named on stderr: {item['path']}"
    done = document["imported"] + document["already_present"]
    if intact is not None and not any(Path(label.split("!")[-1]).name == intact for label in done):
        return f"the undamaged file {intact} was not imported"
    return ""


def _names_a_file(line: str) -> bool:
    # "PATH: reason", "x.zip!entry: reason", "dicom-viewer info: PATH: reason"
    text = line.split(": ", 1)[1] if line.startswith("dicom-viewer ") else line
    return text.startswith(("/", "import stopped")) and ": " in text


def _count_failures(stdout: str, result: FuzzResult) -> None:
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError:
        return
    for item in document.get("failed", []) + document.get("conflicts", []):
        result.failures[reason_class(item.get("reason", ""))] += 1


def reason_class(reason: str) -> str:
    """A reason without its numbers, tags and quoted values: what kind of failure it was."""
    text = re.sub(r"\(.*", "", reason.split(": ", 1)[0] if ": " in reason[:40] else reason)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    return re.sub(r"\d+", "N", text).strip()[:80] or "(empty)"


def _thumbnails_main(archive_root: Path) -> int:
    """Make the thumbnail of every series of the archive through a decode pool, as the
    browser does; a series none of whose instances can be shown is one line naming it."""
    from viewer.archive.archive import Archive
    from viewer.archive.thumbnails import ThumbnailError, thumbnail
    from viewer.decode.pool import DecodePool

    failed = 0
    with Archive(archive_root) as archive, DecodePool(2) as pool:
        for study in archive.index.search_studies():
            for series in archive.index.series(study.study_instance_uid):
                try:
                    thumbnail(archive, series.series_instance_uid, pool)
                except ThumbnailError as exc:
                    print(f"{archive_root}: series {series.series_instance_uid}: {exc}",
                          file=sys.stderr)
                    failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    from viewer.dicom.quiet import quiet_libraries

    quiet_libraries()  # as the CLI and the GUI set up their processes
    raise SystemExit(_thumbnails_main(Path(sys.argv[1])))
