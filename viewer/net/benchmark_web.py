"""`bench web`: issue 18's DICOMweb targets against Orthanc with its DICOMweb plugin.

The benchmark starts its own Orthanc (Debian packages `orthanc` and `orthanc-dicomweb`) on
loopback with TCP_NODELAY=1 (FACTS.md: DCMTK, on which Orthanc is built, leaves Nagle's
algorithm on otherwise), stores N generated 512x512 CT images into it once with DCMTK
`storescu`, and measures, each row the median of `passes` passes with every pass kept in run
order (ours and the baseline alternate, which goes first alternating too):
- retrieve: WADO-RS of the study into a fresh archive against C-GET of the same study from the
  same Orthanc into a fresh archive, both through `viewer.net.transport.retrieve`: <= 1.0x.
- send: STOW-RS of the study's files (`transport.send`) against DCMTK `storescu` of the same
  files into the same Orthanc, the study deleted from Orthanc before each pass so that every
  pass is a real store: <= 1.2x.
- memory: the peak resident memory of a process sending the study by STOW-RS, above that
  process's memory once ready to send (the modules a send uses imported), for N and 2N images:
  <= 100 MB whatever the study size. The sender is a child process (this module's `main`):
  the benchmark itself holds data a sender would not. Its peak is the kernel's VmHWM, reset
  once the child is ready (`/proc/self/clear_refs`, Linux 4.0), so nothing sampled is missed.
The first image of a study opened from a DICOMweb node is the GUI's (viewer.gui.benchmark_web);
the command line adds that row with `WebPacs.url` while the Orthanc here still runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from viewer.archive.benchmark import release_files
from viewer.config import DicomWebService, Node
from viewer.net.benchmark import free_port, serving, storescu_send

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
ROWS = COLUMNS = 512
RETRIEVE_TARGET = 1.0  # x C-GET
SEND_TARGET = 1.2  # x storescu
MEMORY_TARGET_MB = 100.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Row:
    """One target: `passes` (ours, in run order) in `unit`; with `baseline_passes` the value
    is the ratio of the medians, else the median itself. `note`: why there is no number (the
    row then fails)."""

    name: str
    unit: str  # "x" (a ratio of seconds), "MB" or "s"
    passes: tuple[float, ...]
    target: float
    baseline: str = ""
    baseline_passes: tuple[float, ...] = ()
    note: str = ""

    @property
    def value(self) -> float | None:
        if not self.passes:
            return None
        ours = statistics.median(self.passes)
        if self.baseline_passes:
            return ours / statistics.median(self.baseline_passes)
        return float(ours)

    @property
    def met(self) -> bool:
        value = self.value
        return value is not None and value <= self.target

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "value": self.value, "met": self.met}


@dataclass
class WebPacs:
    """The running Orthanc: its DICOM port, its DICOMweb service root, the study stored."""

    folder: Path
    port: int
    http_port: int
    files: tuple[Path, ...]
    study_uid: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/dicom-web"

    def node(self, dicomweb: bool) -> Node:
        service = DicomWebService(self.url) if dicomweb else None
        return Node("WEB" if dicomweb else "PACS", "ORTHANC", "127.0.0.1", self.port,
                    dicomweb=service)

    def delete_study(self, study_uid: str) -> None:
        """Remove the study from Orthanc (its REST API), when it holds it."""
        base = f"http://127.0.0.1:{self.http_port}"
        lookup = urllib.request.Request(f"{base}/tools/lookup", data=study_uid.encode("ascii"),
                                        method="POST")
        with urllib.request.urlopen(lookup, timeout=60) as answer:  # noqa: S310 - loopback
            found = json.load(answer)
        for item in found:
            if item.get("Type") == "Study":
                request = urllib.request.Request(f"{base}/studies/{item['ID']}",
                                                 method="DELETE")
                with urllib.request.urlopen(request, timeout=120):  # noqa: S310 - loopback
                    pass

    def instances(self) -> int:
        """How many instances Orthanc holds (its REST /statistics)."""
        with urllib.request.urlopen(  # noqa: S310 - loopback
                f"http://127.0.0.1:{self.http_port}/statistics", timeout=60) as answer:
            return int(json.load(answer)["CountInstances"])


@contextlib.contextmanager
def web_pacs(work: Path, images: int, progress: Progress) -> Iterator[WebPacs]:
    """Orthanc with DICOMweb in `work`, the generated study of `images` CT slices stored."""
    exe = shutil.which("Orthanc")
    if exe is None:
        raise RuntimeError("Orthanc not found on PATH (Debian package orthanc)")
    if not PLUGIN.is_file():
        raise RuntimeError(f"{PLUGIN} not found (Debian package orthanc-dicomweb)")
    if shutil.which("storescu") is None:
        raise RuntimeError("storescu not found on PATH (Debian package dcmtk)")
    files = tuple(_series(work / f"ct-{images}", images, progress))
    folder = work / "orthanc"
    folder.mkdir(parents=True)
    port, http_port = free_port(), free_port()
    config = {
        "Name": "bench-web", "DicomAet": "ORTHANC", "DicomPort": port, "HttpPort": http_port,
        "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "index"),
        "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "DicomAlwaysAllowStore": True, "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowFind": True, "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "SyncStorageArea": True,  # its default, said here: it fsyncs before it answers
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    with open(folder / "orthanc.log", "wb") as log, \
            serving([exe, str(folder / "orthanc.json")], port, "Orthanc", log):
        _wait_listening(http_port)
        progress(f"storing {images} images into Orthanc")
        storescu_send("ORTHANC", port, files)
        from pydicom import dcmread

        study_uid = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
        yield WebPacs(folder, port, http_port, files, study_uid)


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Orthanc's HTTP port {port} is not listening after 30 s")
        time.sleep(0.02)


def _series(folder: Path, images: int, progress: Progress) -> list[Path]:
    from viewer.dicom.demo import write_ct_series

    progress(f"writing {images} synthetic CT slices")
    write_ct_series(folder, images, ROWS, COLUMNS)
    files = sorted(folder.glob("CT*.dcm"))
    for path in files:
        path.read_bytes()  # into the page cache, for every sender alike
    return files


def _alternate(passes: int, scratch: Path, name: str, baseline: Callable[[Path], float],
               ours: Callable[[Path], float], progress: Progress
               ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """`passes` timed passes of each side, in new folders, after an os.sync(); which goes
    first alternates. What a pass wrote is emptied, not deleted (see
    viewer.net.benchmark._passes: ext4 here taxes new files for a while after a mass
    deletion)."""
    baseline_runs: list[float] = []
    our_runs: list[float] = []
    for n in range(passes):
        folder = scratch / f"{name}-{n}"
        order = ("baseline", "ours") if n % 2 == 0 else ("ours", "baseline")
        progress(f"{name} pass {n + 1} of {passes}: {order[0]} first")
        for side in order:
            os.sync()
            if side == "baseline":
                baseline_runs.append(baseline(folder / "baseline"))
            else:
                our_runs.append(ours(folder / "ours"))
            if folder.exists():
                release_files(folder)
    return tuple(baseline_runs), tuple(our_runs)


def measure_retrieve(pacs: WebPacs, passes: int, scratch: Path, progress: Progress) -> Row:
    """WADO-RS against C-GET of the study, each into a fresh archive (transport.retrieve)."""
    from viewer.archive.archive import Archive
    from viewer.config import LocalNode
    from viewer.net import transport
    from viewer.net.association import Local

    local = Local(LocalNode("BENCHWEB"))

    def retrieve(dicomweb: bool, folder: Path) -> float:
        node = pacs.node(dicomweb)
        with Archive(folder) as archive:
            os.sync()  # after the new archive's index is created
            started = time.perf_counter()
            report = transport.retrieve(node, local, archive, pacs.study_uid,
                                        via="get")
            seconds = time.perf_counter() - started
        if len(report.imported) != len(pacs.files):
            raise RuntimeError(f"{report.via} imported {len(report.imported)} of "
                               f"{len(pacs.files)} ({report.error or report.status})")
        return seconds

    baseline, ours = _alternate(passes, scratch, "retrieve",
                                lambda f: retrieve(False, f), lambda f: retrieve(True, f),
                                progress)
    return Row(f"WADO-RS retrieve of {len(pacs.files)} images into a fresh archive", "x",
               ours, RETRIEVE_TARGET, "C-GET into a fresh archive", baseline)


def measure_send(pacs: WebPacs, passes: int, scratch: Path, progress: Progress) -> Row:
    """STOW-RS (transport.send) against storescu of the same files into the same Orthanc; the
    study is deleted from Orthanc before each pass."""
    from viewer.config import LocalNode
    from viewer.net import transport
    from viewer.net.association import Local

    local = Local(LocalNode("BENCHWEB"))
    count = len(pacs.files)

    def fresh() -> None:
        pacs.delete_study(pacs.study_uid)
        os.sync()  # Orthanc's deletions are not the next pass's to write back

    def storescu(folder: Path) -> float:
        del folder
        fresh()
        seconds = storescu_send("ORTHANC", pacs.port, pacs.files)
        _check_stored(pacs, count, "storescu")
        return seconds

    def stow(folder: Path) -> float:
        del folder
        fresh()
        started = time.perf_counter()
        report = transport.send(pacs.node(True), local, pacs.files)
        seconds = time.perf_counter() - started
        if not report.ok:
            raise RuntimeError(f"STOW-RS stored {len(report.succeeded)} of {count}")
        _check_stored(pacs, count, "STOW-RS")
        return seconds

    baseline, ours = _alternate(passes, scratch, "send", storescu, stow, progress)
    return Row(f"STOW-RS send of {count} images", "x", ours, SEND_TARGET,
               "storescu (TCP_NODELAY=1), same Orthanc", baseline)


def _check_stored(pacs: WebPacs, count: int, what: str) -> None:
    if pacs.instances() != count:
        raise RuntimeError(f"{what}: Orthanc holds {pacs.instances()} instances, not {count}")


def measure_send_memory(pacs: WebPacs, files: tuple[Path, ...], passes: int,
                        progress: Progress) -> Row:
    """Peak RSS above ready of a child process sending `files` by STOW-RS (MB, 10^6 bytes);
    their study is deleted from Orthanc before each pass and after the last."""
    from pydicom import dcmread

    study_uid = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    folder = files[0].parent
    above: list[float] = []
    for n in range(passes):
        progress(f"send memory, {len(files)} images, pass {n + 1} of {passes}")
        pacs.delete_study(study_uid)
        command = [sys.executable, "-m", "viewer.net.benchmark_web", pacs.url, str(folder)]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=600)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"the STOW-RS sender failed: {last}")
        measured = json.loads(done.stdout)
        if measured["stored"] != len(files):
            raise RuntimeError(f"the STOW-RS sender stored {measured['stored']} of "
                               f"{len(files)}")
        above.append((measured["peak_bytes"] - measured["ready_bytes"]) / 1e6)
    if study_uid != pacs.study_uid:
        pacs.delete_study(study_uid)
    return Row(f"memory sending {len(files)} images by STOW-RS (peak RSS above ready)", "MB",
               tuple(above), MEMORY_TARGET_MB)


def bigger_series(work: Path, images: int, progress: Progress) -> tuple[Path, ...]:
    """Another study of `images` slices for the memory row (its own Study Instance UID)."""
    return tuple(_series(work / f"ct-{images}-bigger", images, progress))


def _status_bytes(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field_name} in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    """The sender of the memory row: `python -m viewer.net.benchmark_web URL FOLDER` sends
    the .dcm files of FOLDER by STOW-RS and prints {"stored", "ready_bytes", "peak_bytes"}."""
    # what a send uses, imported before "ready" is measured: memory while sending, not the
    # code's own
    import dicomweb_client.session_utils  # noqa: F401
    import pydicom  # noqa: F401
    import requests  # noqa: F401

    from viewer.config import LocalNode
    from viewer.net import transport
    from viewer.net.association import Local

    url, folder = (argv if argv is not None else sys.argv[1:])
    files = sorted(Path(folder).glob("*.dcm"))
    node = Node("WEB", "", "127.0.0.1", 0, dicomweb=DicomWebService(url))
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS from here on
    ready = _status_bytes("VmRSS")
    report = transport.send(node, Local(LocalNode("BENCHWEB")), files)
    peak = _status_bytes("VmHWM")
    stored = len(report.succeeded) + len(report.warnings)
    print(json.dumps({"stored": stored, "ready_bytes": ready, "peak_bytes": peak}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
