"""DICOM over TLS (PS3.15 BCP 195) against DCMTK and Orthanc (issue 6 item 8): verified peers
work, an untrusted certificate is refused, plaintext to a TLS port is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.net.peers import OUR_AE, free_port, run_orthanc, run_storescp
from tests.net.pki import Pki, make_pki
from viewer.config import LocalNode, Node, TlsFiles
from viewer.net.association import Local, PeerError
from viewer.net.echo import echo

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def local() -> Local:
    return Local(LocalNode(OUR_AE, free_port()))


def test_tls_with_dcmtk_storescp(tmp_path: Path, pki: Pki) -> None:
    # storescp requires and verifies our client certificate (its default, -rc)
    with run_storescp(tmp_path / "scp", "SECURESCP", "+tls", str(pki.server_key),
                      str(pki.server_cert), "+cf", str(pki.ca)) as scp:
        ours = TlsFiles(ca=str(pki.ca), cert=str(pki.client_cert), key=str(pki.client_key))
        node = Node("SECURE", scp.ae_title, "127.0.0.1", scp.port, ours)
        assert echo(node, local()).status == 0
        # a peer we cannot verify (its certificate is signed by a CA we do not trust)
        untrusted = Node("SECURE", scp.ae_title, "127.0.0.1", scp.port,
                         TlsFiles(ca=str(pki.rogue_ca), cert=str(pki.client_cert),
                                  key=str(pki.client_key)))
        with pytest.raises(PeerError, match="TLS.*certificate verify failed"):
            echo(untrusted, local())
        # no client certificate: storescp refuses the handshake
        anonymous = Node("SECURE", scp.ae_title, "127.0.0.1", scp.port, TlsFiles(str(pki.ca)))
        with pytest.raises(PeerError, match="SECURE .*TLS"):
            echo(anonymous, local())
        # plaintext to the TLS port: no association
        plain = Node("SECURE", scp.ae_title, "127.0.0.1", scp.port)
        with pytest.raises(PeerError, match="SECURE "):
            echo(plain, local())


def test_a_server_presenting_an_untrusted_certificate_is_refused(tmp_path: Path,
                                                                 pki: Pki) -> None:
    with run_storescp(tmp_path / "scp", "ROGUE", "+tls", str(pki.rogue_key),
                      str(pki.rogue_cert), "+cf", str(pki.ca), "-ic") as scp:
        node = Node("ROGUE", scp.ae_title, "127.0.0.1", scp.port, TlsFiles(str(pki.ca)))
        with pytest.raises(PeerError, match="TLS.*certificate verify failed"):
            echo(node, local())


def test_tls_with_orthanc(tmp_path: Path, pki: Pki) -> None:
    with run_orthanc(
        tmp_path / "orthanc",
        DicomTlsEnabled=True,
        DicomTlsCertificate=str(pki.server_cert),
        DicomTlsPrivateKey=str(pki.server_key),
        DicomTlsTrustedCertificates=str(pki.ca),
        DicomTlsRemoteCertificateRequired=True,
    ) as pacs:
        ours = TlsFiles(ca=str(pki.ca), cert=str(pki.client_cert), key=str(pki.client_key))
        node = Node("PACS", pacs.ae_title, "127.0.0.1", pacs.port, ours)
        assert echo(node, local()).status == 0
        plain = Node("PACS", pacs.ae_title, "127.0.0.1", pacs.port)
        with pytest.raises(PeerError, match="PACS "):
            echo(plain, local())


def test_our_storage_scp_over_tls_with_dcmtk_storescu(tmp_path: Path, pki: Pki) -> None:
    """`listen` with [local] tls_cert/tls_key/tls_ca: a storescu with a certificate of the
    hospital CA stores; one with another CA's certificate, or in plaintext, does not."""
    import os
    import subprocess

    from tests.peers import require_tool
    from viewer.archive.archive import Archive
    from viewer.dicom.demo import write_ct_series
    from viewer.net.storage_scp import StorageSCP

    storescu = require_tool("storescu", "dcmtk")
    (image,) = write_ct_series(tmp_path / "ct", 1, 16, 16)
    tls = TlsFiles(ca=str(pki.ca), cert=str(pki.server_cert), key=str(pki.server_key))
    ours = Local(LocalNode(OUR_AE, 0, tls=tls))

    def send(*options: str) -> int:
        return subprocess.run(
            [storescu, *options, "-aet", "MODALITY", "-aec", OUR_AE, "127.0.0.1",
             str(scp.port), str(image)],
            env={**os.environ, "TCP_NODELAY": "1"}, capture_output=True, timeout=60,
            check=False).returncode

    with StorageSCP(tmp_path / "archive", ours, port=0) as scp:
        assert send("+tls", str(pki.client_key), str(pki.client_cert), "+cf",
                    str(pki.ca)) == 0
        assert send("+tls", str(pki.client_key), str(pki.client_cert), "+cf",
                    str(pki.rogue_ca)) != 0  # storescu cannot verify us: it gives up
        assert send("+tls", str(pki.rogue_key), str(pki.rogue_cert), "+cf",
                    str(pki.ca)) != 0  # a client certificate we do not trust: refused
        assert send() != 0  # plaintext to the TLS port
    with Archive(tmp_path / "archive") as archive:
        assert archive.index.search_studies()[0].number_of_instances == 1


def test_a_silent_connection_does_not_hold_up_our_tls_storage_scp(tmp_path: Path,
                                                                   pki: Pki) -> None:
    """pynetdicom's server did the TLS handshake in its accept loop: one connection that sent
    nothing kept every other caller waiting. The handshake now runs on its own thread."""
    import os
    import socket
    import subprocess

    from tests.peers import require_tool
    from viewer.config import NetworkTimeouts
    from viewer.dicom.demo import write_ct_series
    from viewer.net.storage_scp import StorageSCP

    storescu = require_tool("storescu", "dcmtk")
    (image,) = write_ct_series(tmp_path / "ct", 1, 16, 16)
    tls = TlsFiles(ca=str(pki.ca), cert=str(pki.server_cert), key=str(pki.server_key))
    ours = Local(LocalNode(OUR_AE, 0, tls=tls), NetworkTimeouts(acse=3))
    with StorageSCP(tmp_path / "archive", ours, port=0) as scp, \
            socket.create_connection(("127.0.0.1", scp.port)) as silent:
        done = subprocess.run(
            [storescu, "+tls", str(pki.client_key), str(pki.client_cert), "+cf", str(pki.ca),
             "-aet", "MODALITY", "-aec", OUR_AE, "127.0.0.1", str(scp.port), str(image)],
            env={**os.environ, "TCP_NODELAY": "1"}, capture_output=True, text=True, timeout=15,
            check=False)
        assert done.returncode == 0, done.stderr
        assert scp.received.summary().counts == {"imported": 1}
        silent.settimeout(30)
        assert silent.recv(100) == b""  # closed after the ACSE time-out, not held for ever
