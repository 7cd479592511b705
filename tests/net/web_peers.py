"""DICOMweb peers for the tests: Orthanc with its DICOMweb plugin (Debian orthanc-dicomweb) on
loopback, optionally with authentication or https, and a tiny misbehaving HTTP server
(http.server on a free loopback port) that answers what a test scripts."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.net.peers import LOOPBACK, Orthanc, run_orthanc
from tests.peers import peers_required

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def dicomweb_plugin() -> str:
    """The plugin's path; skip (or fail under CI) when orthanc-dicomweb is not installed."""
    if PLUGIN.is_file():
        return str(PLUGIN)
    message = f"{PLUGIN} not found (Debian package orthanc-dicomweb)"
    if peers_required():
        pytest.fail(f"VIEWER_REQUIRE_PEERS=1 but {message}")
    pytest.skip(message)
    raise AssertionError("unreachable")


@dataclass
class WebOrthanc:
    orthanc: Orthanc
    url: str  # the DICOMweb service root


@contextlib.contextmanager
def run_orthanc_web(folder: Path, https: tuple[Path, Path] | None = None,
                    users: dict[str, str] | None = None, **settings: object
                    ) -> Iterator[WebOrthanc]:
    """Orthanc serving DICOMweb at /dicom-web; `https`: (certificate, key) it serves TLS
    with (Debian's Orthanc 1.10 here completes the handshake, then dies on the first https
    request: tests/net/test_dicomweb.py tests https against a scripted server instead);
    `users`: AuthenticationEnabled with these registered users."""
    extra: dict[str, object] = {
        "Plugins": [dicomweb_plugin()],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "DefaultEncoding": "Utf8",
        **settings,
    }
    if users:
        extra.update(AuthenticationEnabled=True, RegisteredUsers=users)
    if https is not None:
        folder.mkdir(parents=True, exist_ok=True)
        pem = folder / "orthanc-tls.pem"  # Orthanc wants the certificate and key in one file
        pem.write_bytes(https[1].read_bytes() + https[0].read_bytes())
        extra.update(SslEnabled=True, SslCertificate=str(pem))
    with run_orthanc(folder, **extra) as orthanc:
        scheme = "https" if https else "http"
        yield WebOrthanc(orthanc, f"{scheme}://{LOOPBACK}:{orthanc.http_port}/dicom-web")


Responder = Callable[[BaseHTTPRequestHandler, bytes], None]


@dataclass
class ScriptedServer:
    """A loopback HTTP server: `respond(handler, request_body)` answers each request;
    `requests` keeps (method, path) of what came."""

    url: str
    requests: list[tuple[str, str]]


@contextlib.contextmanager
def scripted_server(respond: Responder, tls: tuple[Path, Path] | None = None
                    ) -> Iterator[ScriptedServer]:
    """`tls`: (certificate, key) to serve https with."""
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", 0) or 0)
            body = self.rfile.read(length) if length else b""
            seen.append((self.command, self.path))
            respond(self, body)

        do_GET = _answer  # noqa: N815 - http.server's names
        do_POST = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # the test output is no place for an access log

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    scheme = "http"
    if tls is not None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls[0], tls[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ScriptedServer(f"{scheme}://{LOOPBACK}:{server.server_address[1]}/dicom-web",
                             seen)
    finally:
        server.shutdown()
        server.server_close()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
         length: int | None = None) -> None:
    """An answer; `length` larger than the body announces bytes that never come (a cut)."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
    handler.close_connection = True
