"""Real DICOM peers on loopback for the network tests: Orthanc and DCMTK's storescp, each on a
free port, in a temporary folder, stopped at the end. Under CI (VIEWER_REQUIRE_PEERS=1) a
missing peer fails the test instead of skipping it (tests.peers.require_tool)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.peers import require_tool
from viewer.config import Node

LOOPBACK = "127.0.0.1"
OUR_AE = "VIEWERTEST"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], what: str,
                   timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout_s:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@dataclass
class Storescp:
    """DCMTK storescp: what it received lands in `folder`."""

    ae_title: str
    port: int
    folder: Path

    def received(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())


@contextlib.contextmanager
def run_storescp(folder: Path, ae_title: str = "STORESCP", *extra: str) -> Iterator[Storescp]:
    """storescp accepting every storage SOP class and the usual transfer syntaxes; with
    TCP_NODELAY=1, without which Debian's DCMTK leaves Nagle's algorithm on."""
    exe = require_tool("storescp", "dcmtk")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "TCP_NODELAY": "1"}
    process = subprocess.Popen(
        [exe, "--aetitle", ae_title, "--output-directory", str(folder), "+xa", *extra, str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process, "storescp")
        yield Storescp(ae_title, port, folder)
    finally:
        stop(process)


@dataclass
class Orthanc:
    """An Orthanc PACS: DICOM on `port` as `ae_title`, REST on `http_port`."""

    ae_title: str
    port: int
    http_port: int

    def rest(self, path: str, data: bytes | None = None, method: str | None = None) -> object:
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{self.http_port}{path}", data=data, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def upload(self, *paths: Path) -> None:
        for path in paths:
            self.rest("/instances", path.read_bytes(), "POST")

    def instance_count(self) -> int:
        stats = self.rest("/statistics")
        assert isinstance(stats, dict)
        return int(stats["CountInstances"])


@contextlib.contextmanager
def run_orthanc(
    folder: Path, modalities: dict[str, tuple[str, str, int]] | None = None,
    **settings: object,
) -> Iterator[Orthanc]:
    """Orthanc with its own JSON config in `folder`; `modalities` are the C-MOVE destinations
    and callers it knows: name -> (AE title, host, port)."""
    exe = require_tool("Orthanc", "orthanc")
    folder.mkdir(parents=True, exist_ok=True)
    port, http_port = free_port(), free_port()
    config = {
        "Name": "test-pacs",
        "DicomAet": "ORTHANC",
        "DicomPort": port,
        "HttpPort": http_port,
        "DicomServerEnabled": True,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        "UnknownSopClassAccepted": True,
        "DicomModalities": {name: list(m) for name, m in (modalities or {}).items()},
        "Plugins": [],
        "HttpServerEnabled": True,
        "StableAge": 1,
        **settings,
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = open(folder / "orthanc.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen([exe, str(folder / "orthanc.json")], stdout=log, stderr=log)
    try:
        wait_listening(http_port, process, "Orthanc")
        wait_listening(port, process, "Orthanc")
        yield Orthanc("ORTHANC", port, http_port)
    finally:
        stop(process)
        log.close()


def write_config(path: Path, nodes: dict[str, tuple[str, int]], local_port: int = 0,
                 local_ae: str = OUR_AE, **network: float) -> Path:
    """A config file naming `nodes` (name -> (AE title, port) on loopback) and ourselves."""
    lines = ["[local]", f'ae_title = "{local_ae}"', f"port = {local_port or free_port()}", ""]
    if network:
        lines += ["[network]", *(f"{key}_timeout = {value}" for key, value in network.items()), ""]
    for name, (ae_title, port) in nodes.items():
        lines += [f"[nodes.{name}]", f'ae_title = "{ae_title}"', f'host = "{LOOPBACK}"',
                  f"port = {port}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@contextlib.contextmanager
def run_dcmqrscp(folder: Path, *files: Path, ae_title: str = "QRSCP") -> Iterator[Node]:
    """DCMTK's dcmqrscp with its database in `folder`, `files` stored into it with storescu."""
    exe = require_tool("dcmqrscp", "dcmtk")
    storescu = require_tool("storescu", "dcmtk")
    database = folder / "db"
    database.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "dcmqrscp.cfg"
    config.write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
        "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
        f"AETable BEGIN\n{ae_title} {database} RW (200, 1024mb) ANY\nAETable END\n"
    )
    env = {**os.environ, "TCP_NODELAY": "1"}
    log = open(folder / "dcmqrscp.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen([exe, "-c", str(config), str(port)], env=env, stdout=log,
                               stderr=log)
    try:
        wait_listening(port, process, "dcmqrscp")
        if files:
            subprocess.run([storescu, "-aec", ae_title, "127.0.0.1", str(port),
                            *map(str, files)], env=env, check=True, capture_output=True,
                           timeout=120)
        yield Node("QR", ae_title, "127.0.0.1", port)
    finally:
        stop(process)
        log.close()
