"""A throw-away PKI for the TLS tests, made with the openssl command: a CA, a server certificate
for 127.0.0.1 and a client certificate it signed, and a second ("rogue") CA with its own server
certificate, which our side must refuse."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.peers import require_tool


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_ca: Path
    rogue_cert: Path
    rogue_key: Path


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def _leaf(folder: Path, name: str, ca: tuple[Path, Path], usage: str) -> tuple[Path, Path]:
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
    ext = folder / f"{name}.ext"
    ext.write_text(f"subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage={usage}\n")
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
         str(csr), "-subj", f"/CN={name}")
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
         "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return cert, key


def make_pki(folder: Path) -> Pki:
    require_tool("openssl", "openssl")
    folder.mkdir(parents=True, exist_ok=True)
    ca = _ca(folder, "hospital-ca")
    server = _leaf(folder, "pacs", ca, "serverAuth")
    client = _leaf(folder, "workstation", ca, "clientAuth")
    rogue = _ca(folder, "rogue-ca")
    rogue_server = _leaf(folder, "rogue-pacs", rogue, "serverAuth")
    return Pki(ca[0], server[0], server[1], client[0], client[1], rogue[0], rogue_server[0],
               rogue_server[1])
