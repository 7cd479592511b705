"""`bench net`: our DICOM networking against DCMTK's tools and Orthanc on the same files.

Issue 15's targets, each a ratio of medians to a baseline measured in the same run, on loopback:
- send: `send_files` of N uncompressed 512x512 CT slices over one association to a fresh
  `storescp` (writing files into a new folder) against DCMTK `storescu` sending the same files
  to the same kind of `storescp`: <= 2x (stretch 1.25x).
- listen: DCMTK `storescu` into our `dicom-viewer listen` (the whole process, as users run it:
  a child started from the command line, receiving into a new archive, one line per instance on
  stdout) against `storescu` into Orthanc: <= 1.0x. Orthanc is the fair peer: like us it answers
  a C-STORE only once the file is on disk (its SyncStorageArea, set here as it is by default)
  and keeps an SQLite index; storescp answers as soon as the bytes are in the page cache, which
  no receiver that fsyncs can match (issue 6's "2.5x storescp" is replaced by this line).
- retrieve: `retrieve --via move` of the study from Orthanc into a new archive against DCMTK
  `movescu` receiving it with its own storage SCP (`+P`): <= 1.5x.
And one of our own: listen-floor, our StorageSCP (in this process) with a handler that stores
nothing, against `storescu` into `storescp`: what pynetdicom itself costs per PDU and message.
Every DCMTK process and Orthanc run with the environment variable TCP_NODELAY=1: Debian's DCMTK
leaves Nagle's algorithm on without it (13 s instead of 0.6 s here). Baseline and ours alternate,
`repeat` passes each (at least 5 for a run whose numbers are quoted; which goes first alternates
too; what a pass wrote is emptied, not deleted, until the run ends: see `_passes`); the MEDIAN of
each side counts, and every pass is printed. Each timed run starts after an os.sync(): our
archive makes what it receives durable (fsync, or syncfs for a retrieve), and a syncfs would
otherwise also write back the baseline's 150 MB, which DCMTK leaves dirty in the page cache.
Any ratio above 4x is a failure of the run (`NetBenchmark.regressions`): that is what Nagle
against delayed ACKs looks like.

`storescp` receives PDUs of at most 16 KiB unless told otherwise (`--max-pdu`, up to 128 KiB):
the PDU size the sender uses is the receiver's choice, so both senders face the same peer and
`peer_max_pdu` changes it for both.

Sections: each is a function `(BenchContext) -> Measurement`, listed in SECTIONS; they share the
table, the JSON and the 4x check.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from viewer.archive.benchmark import release_files

ROWS = COLUMNS = 512
REGRESSION_RATIO = 4.0
DEFAULT_PEER_PDU = 16384  # storescp's default maximum receive PDU
Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    del message


@dataclass(frozen=True)
class Measurement:
    """Median wall times (s) of the baseline and of ours; `runs_*` keep every pass."""

    name: str
    baseline: str
    baseline_s: float
    ours_s: float
    target: float
    stretch: float
    runs_baseline: tuple[float, ...] = ()
    runs_ours: tuple[float, ...] = ()

    @classmethod
    def of_passes(
        cls, name: str, baseline: str, runs: tuple[tuple[float, ...], tuple[float, ...]],
        target: float, stretch: float,
    ) -> Measurement:
        """The medians of (baseline passes, our passes)."""
        baseline_runs, our_runs = runs
        return cls(name, baseline, statistics.median(baseline_runs), statistics.median(our_runs),
                   target, stretch, baseline_runs, our_runs)

    @property
    def ratio(self) -> float:
        return self.ours_s / self.baseline_s

    @property
    def met(self) -> bool:
        return self.ratio <= self.target

    @property
    def stretch_met(self) -> bool:
        return self.ratio <= self.stretch

    @property
    def regression(self) -> bool:
        return self.ratio > REGRESSION_RATIO


@dataclass
class NetBenchmark:
    images: int
    total_bytes: int
    peer_max_pdu: int
    measurements: list[Measurement] = field(default_factory=list)

    def targets(self) -> list[Measurement]:
        return self.measurements

    @property
    def regressions(self) -> list[Measurement]:
        return [m for m in self.measurements if m.regression]

    def to_json(self) -> str:
        document: dict[str, Any] = {
            "images": self.images, "total_bytes": self.total_bytes,
            "peer_max_pdu": self.peer_max_pdu,
            "measurements": [
                {**asdict(m), "ratio": m.ratio, "met": m.met, "stretch_met": m.stretch_met,
                 "regression": m.regression}
                for m in self.measurements
            ],
        }
        return json.dumps(document, indent=2)


@dataclass(frozen=True)
class BenchContext:
    """What every section works on: the generated files and a scratch folder."""

    files: tuple[Path, ...]
    scratch: Path
    repeat: int
    peer_max_pdu: int
    progress: Progress


def run_net_benchmark(
    images: int = 300,
    workdir: Path | None = None,
    repeat: int = 5,
    progress: Progress = _quiet,
    peer_max_pdu: int = DEFAULT_PEER_PDU,
    sections: tuple[str, ...] = (),
) -> NetBenchmark:
    """Run `sections` (default: all of SECTIONS); the CT series is kept in `workdir`."""
    if images < 1 or repeat < 1:
        raise ValueError("images and repeat must be at least 1")
    for tool in ("storescp", "storescu"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found on PATH (Debian package dcmtk)")
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-net-", dir=workdir) as scratch:
        files = _series(workdir or Path(scratch), images, progress)
        total = sum(len(p.read_bytes()) for p in files)  # also warms the page cache
        context = BenchContext(tuple(files), Path(scratch), repeat, peer_max_pdu, progress)
        result = NetBenchmark(images, total, peer_max_pdu)
        for name in sections or tuple(SECTIONS):
            result.measurements.append(SECTIONS[name](context))
    return result


def _series(folder: Path, images: int, progress: Progress) -> list[Path]:
    from viewer.dicom.demo import write_ct_series

    source = folder / f"ct-{images}"
    files = sorted(source.glob("CT*.dcm"))
    if len(files) != images:
        progress(f"writing {images} synthetic CT slices")
        shutil.rmtree(source, ignore_errors=True)
        write_ct_series(source, images, ROWS, COLUMNS)
        files = sorted(source.glob("CT*.dcm"))
    return files


def dcmtk_env() -> dict[str, str]:
    return {**os.environ, "TCP_NODELAY": "1"}


@contextlib.contextmanager
def storescp(folder: Path, max_pdu: int, ae_title: str = "STORESCP") -> Iterator[int]:
    """A DCMTK storescp writing into `folder` (created), TCP_NODELAY=1; yields its port."""
    folder.mkdir(parents=True)
    port = free_port()
    command = ["storescp", "--aetitle", ae_title, "--output-directory", str(folder), "+xa",
               "--max-pdu", str(max_pdu), str(port)]
    with serving(command, port, "storescp", subprocess.DEVNULL):
        yield port


@contextlib.contextmanager
def serving(command: list[str], port: int, what: str, log: Any,
            cwd: Path | None = None) -> Iterator[None]:
    """Run a server process (DCMTK environment) until the block ends; wait until it listens
    on `port` (at most 30 s), stop it afterwards."""
    process = subprocess.Popen(command, env=dcmtk_env(), stdout=log, stderr=log, cwd=cwd)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode} at start")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start listening within 30 s")
            time.sleep(0.02)
        yield
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _received(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if p.is_file())


def _passes(
    context: BenchContext, name: str, baseline: Callable[[Path], float],
    ours: Callable[[Path], float],
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """`context.repeat` timed passes of `baseline(folder)` and `ours(folder)`, each in a new
    folder, after an os.sync(); which goes first alternates. Nothing is deleted until the run
    ends: for ~30 s after a mass deletion ext4 here makes every new file skip the freed inodes
    one by one (recently_deleted()), which taxed whichever loop came next; instead each loop's
    files are emptied after it (`release_files`), so that no loop pays for page cache the
    earlier ones grew."""
    baseline_runs: list[float] = []
    our_runs: list[float] = []
    for n in range(context.repeat):
        folder = context.scratch / f"{name}-{n}"
        order = ("baseline", "ours") if n % 2 == 0 else ("ours", "baseline")
        context.progress(f"{name} pass {n + 1} of {context.repeat}: {order[0]} first")
        for side in order:
            os.sync()
            if side == "baseline":
                baseline_runs.append(baseline(folder / "baseline"))
            else:
                our_runs.append(ours(folder / "ours"))
            release_files(folder)
    return tuple(baseline_runs), tuple(our_runs)


def _into_storescp(folder: Path, files: tuple[Path, ...], peer_max_pdu: int) -> float:
    """Seconds for DCMTK storescu to send `files` into a new storescp writing to `folder`."""
    with storescp(folder, peer_max_pdu) as port:
        seconds = storescu_send("STORESCP", port, files)
    if _received(folder) != len(files):
        raise RuntimeError(f"storescp stored {_received(folder)} of {len(files)}")
    return seconds


def measure_send(context: BenchContext) -> Measurement:
    """`send_files` against `storescu`, same files, same kind of fresh storescp."""
    from viewer.config import LocalNode, Node
    from viewer.net.association import Local
    from viewer.net.store_scu import send_files

    files = context.files
    local = Local(LocalNode(ae_title="BENCH"))

    def ours(folder: Path) -> float:
        with storescp(folder, context.peer_max_pdu) as port:
            node = Node("BENCH-SCP", "STORESCP", "127.0.0.1", port, None)
            t0 = time.perf_counter()
            report = send_files(node, local, files)
            seconds = time.perf_counter() - t0
        if not report.ok or _received(folder) != len(files):
            raise RuntimeError(f"send_files stored {len(report.succeeded)} of {len(files)} "
                               f"({len(report.failed)} failed)")
        return seconds

    runs = _passes(
        context, "send", lambda f: _into_storescp(f, files, context.peer_max_pdu), ours
    )
    return Measurement.of_passes("send", "storescu -> storescp", runs, 2.0, 1.25)


def _into_receive_only_scp(archive: Path, files: tuple[Path, ...]) -> float:
    """Seconds for DCMTK storescu to send `files` into our StorageSCP (in this process) whose
    handler receives each data set and answers success without examining, storing or indexing
    it (pynetdicom's own cost); every file must be answered."""
    from viewer.archive.importer import ImportReport
    from viewer.config import LocalNode
    from viewer.net.association import Local
    from viewer.net.storage_scp import StorageSCP

    def receive_only(archive: object, path: object, label: str) -> ImportReport:
        return ImportReport(imported=[label])

    local = Local(LocalNode(ae_title="BENCHSCP", port=0))
    with StorageSCP(archive, local, port=0, import_one=receive_only) as scp:
        os.sync()  # after the new archive's index is created
        seconds = storescu_send("BENCHSCP", scp.port, files)
        counts = scp.received.summary().counts
    if counts.get("imported", 0) != len(files):
        raise RuntimeError(f"our Storage SCP: {counts} of {len(files)} files")
    return seconds


def _into_listen(archive: Path, files: tuple[Path, ...]) -> float:
    """Seconds for DCMTK storescu to send `files` into `dicom-viewer listen`, a child process
    started as users start it (this Python, `-m viewer`) on a new archive with default
    settings; every file must be imported (its stdout says so, one line per instance)."""
    archive.mkdir(parents=True)
    command = [sys.executable, "-m", "viewer", "--archive", str(archive),
               "--config", str(archive / "absent.toml"),
               "listen", "--port", "0", "--aet", "BENCHSCP"]
    with open(archive.parent / "listen.out", "w+b") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        try:
            port = _listening_port(process)
            os.sync()  # after the new archive's index is created
            seconds = storescu_send("BENCHSCP", port, files)
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=60)
        out.seek(0)
        imported = sum(1 for line in out if line.rstrip().endswith(b" imported"))
    if process.returncode != 0 or imported != len(files):
        raise RuntimeError(f"dicom-viewer listen imported {imported} of {len(files)} "
                           f"(exit {process.returncode}): "
                           f"{errors.decode(errors='replace').strip()[-300:]}")
    return seconds


def _listening_port(process: subprocess.Popen[bytes]) -> int:
    """The port of `dicom-viewer listen` from its 'listening as AET on HOST:PORT' line."""
    assert process.stderr is not None
    for line in process.stderr:
        text = line.decode(errors="replace").strip()
        if text.startswith("listening as "):
            return int(text.rsplit(":", 1)[1])
    process.wait(10)
    raise RuntimeError(f"dicom-viewer listen exited with {process.returncode} at start")


def measure_listen(context: BenchContext) -> Measurement:
    """DCMTK `storescu` into our `dicom-viewer listen` against `storescu` into Orthanc, same
    files, a new archive / Orthanc storage each pass; both fsync each instance before they
    answer, and both start before the clock does."""
    files = context.files

    def orthanc(folder: Path) -> float:
        with _orthanc(folder, {}) as port:
            os.sync()  # after Orthanc's start-up writes
            return storescu_send("ORTHANC", port, files)

    runs = _passes(context, "listen", orthanc, lambda f: _into_listen(f, files))
    return Measurement.of_passes("listen", "storescu -> Orthanc", runs, 1.0, 1.0)


def measure_listen_floor(context: BenchContext) -> Measurement:
    """What pynetdicom alone costs: `storescu` into our StorageSCP with a handler that answers
    success without examining, storing or indexing anything, against `storescu` into `storescp`.
    It shows how much of a receive is pynetdicom's per-PDU and per-message work."""
    files = context.files
    runs = _passes(
        context, "listen-floor", lambda f: _into_storescp(f, files, context.peer_max_pdu),
        lambda f: _into_receive_only_scp(f, files),
    )
    return Measurement.of_passes("listen-floor", "storescu -> storescp", runs, 2.5, 1.5)


def measure_retrieve(context: BenchContext) -> Measurement:
    """`retrieve --via move` of the study from Orthanc into a fresh archive (our Storage SCP,
    import included) against DCMTK `movescu` receiving the same study itself (`+P`)."""
    from pydicom import dcmread

    from viewer.archive.archive import Archive
    from viewer.config import LocalNode, Node
    from viewer.net.association import Local
    from viewer.net.retrieve import move

    files = context.files
    study_uid = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    dcmtk_port, our_port = free_port(), free_port()
    destinations = {"MOVESCU": ["MOVESCU", "127.0.0.1", dcmtk_port],
                    "VIEWER": ["BENCHVIEW", "127.0.0.1", our_port]}
    with _orthanc(context.scratch / "orthanc", destinations) as port:
        context.progress("loading the study into Orthanc")
        storescu_send("ORTHANC", port, files)
        node = Node("PACS", "ORTHANC", "127.0.0.1", port, None)
        local = Local(LocalNode("BENCHVIEW", our_port))

        def movescu(folder: Path) -> float:
            folder.mkdir(parents=True)
            command = ["movescu", "-S", "-aet", "MOVESCU", "-aem", "MOVESCU", "-aec",
                       "ORTHANC", "+P", str(dcmtk_port), "+xa", "-od", str(folder),
                       "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}",
                       "127.0.0.1", str(port)]
            t0 = time.perf_counter()
            done = subprocess.run(command, env=dcmtk_env(), capture_output=True, check=False)
            seconds = time.perf_counter() - t0
            if done.returncode != 0 or _received(folder) != len(files):
                raise RuntimeError(f"movescu received {_received(folder)} of {len(files)}: "
                                   f"{done.stderr.decode(errors='replace')[-300:]}")
            return seconds

        def ours(folder: Path) -> float:
            with Archive(folder) as archive:
                os.sync()  # after the new archive's index is created
                t0 = time.perf_counter()
                report = move(node, local, archive, study_uid)
                seconds = time.perf_counter() - t0
            if len(report.imported) != len(files):
                raise RuntimeError(f"retrieve imported {len(report.imported)} of {len(files)}"
                                   f" ({report.error or report.note or report.status})")
            return seconds

        runs = _passes(context, "retrieve", movescu, ours)
    return Measurement.of_passes("retrieve", "movescu (its own SCP)", runs, 1.5, 1.5)


@contextlib.contextmanager
def _orthanc(folder: Path, modalities: dict[str, list[object]]) -> Iterator[int]:
    """An Orthanc PACS in `folder` knowing `modalities` as C-MOVE destinations; yields its
    DICOM port."""
    exe = shutil.which("Orthanc")
    if exe is None:
        raise RuntimeError("Orthanc not found on PATH (Debian package orthanc)")
    folder.mkdir(parents=True)
    port, http_port = free_port(), free_port()
    config = {
        "Name": "bench", "DicomAet": "ORTHANC", "DicomPort": port, "HttpPort": http_port,
        "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "index"),
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "DicomAlwaysAllowStore": True, "DicomAlwaysAllowMove": True,
        "DicomAlwaysAllowFind": True, "DicomModalities": modalities, "Plugins": [],
        "SyncStorageArea": True,  # its default, said here: it fsyncs before it answers
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    with open(folder / "orthanc.log", "wb") as log, \
            serving([exe, str(folder / "orthanc.json")], port, "Orthanc", log):
        yield port


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def storescu_send(called_ae: str, port: int, files: tuple[Path, ...]) -> float:
    """Seconds for DCMTK storescu to send `files` over one association."""
    command = ["storescu", "-aet", "BENCH", "-aec", called_ae, "127.0.0.1", str(port),
               *map(str, files)]
    t0 = time.perf_counter()
    done = subprocess.run(command, env=dcmtk_env(), capture_output=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"storescu to {called_ae} failed ({done.returncode}): "
                           f"{done.stderr.decode(errors='replace').strip()[-300:]}")
    return seconds


SECTIONS: dict[str, Callable[[BenchContext], Measurement]] = {
    "send": measure_send,
    "listen": measure_listen,
    "listen-floor": measure_listen_floor,
    "retrieve": measure_retrieve,
}


def format_table(b: NetBenchmark) -> str:
    mb = b.total_bytes / 1e6
    lines = [
        f"net: {b.images} uncompressed {ROWS}x{COLUMNS} CT images ({mb:.1f} MB), one "
        f"association, loopback, peer max PDU {b.peer_max_pdu} bytes, DCMTK and Orthanc with "
        "TCP_NODELAY=1; medians of the passes below",
        f"{'':12s} {'baseline':24s} {'baseline s':>10s} {'ours s':>8s} {'ratio':>6s} "
        f"{'target':>7s} {'stretch':>7s}",
    ]
    for m in b.measurements:
        verdict = "REGRESSION" if m.regression else ("ok" if m.met else "MISSED")
        lines.append(
            f"{m.name:12s} {m.baseline:24s} {m.baseline_s:10.3f} {m.ours_s:8.3f} "
            f"{m.ratio:5.2f}x {m.target:6.2f}x {m.stretch:6.2f}x  {verdict}"
        )
        lines.append(f"{'':12s} passes: baseline "
                     + " ".join(f"{s:.3f}" for s in m.runs_baseline)
                     + " / ours " + " ".join(f"{s:.3f}" for s in m.runs_ours))
    lines.extend(
        f"FAIL: {m.name} is {m.ratio:.1f}x {m.baseline} (over {REGRESSION_RATIO:g}x: "
        f"{_suspect(b, m)})"
        for m in b.regressions
    )
    return "\n".join(lines)


def _suspect(b: NetBenchmark, m: Measurement) -> str:
    """What an over-4x ratio points to. For listen, listen-floor tells Nagle (pynetdicom itself
    stalls: the floor is over 4x too) from the work of our handler."""
    floor = next((f for f in b.measurements if f.name == "listen-floor"), None)
    if m.name == "listen" and floor is not None and not floor.regression:
        return (f"not Nagle: listen-floor is {floor.ratio:.1f}x, the rest is our handler's "
                "examine, fsyncs and index row")
    return "is Nagle's algorithm back on?"
