"""DICOMweb nodes (issue 18 item 1) against Orthanc 1.10 with its DICOMweb plugin on loopback:
`nodes add --dicomweb`, echo (a QIDO-RS probe), query with the same `--json` as a C-FIND of
the same Orthanc, WADO-RS retrieve byte-identical into the archive, STOW-RS send; basic
authentication (Orthanc's registered users) and https with a CA bundle; and the faults of
issue 18 from a scripted HTTP server: a cut multipart, a malformed boundary, broken QIDO JSON,
an HTML page, a STOW refusing some instances, and a server that decodes non-ASCII queries."""

from __future__ import annotations

import contextlib
import json
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydicom import dcmread

from tests.net.peers import free_port, write_config
from tests.net.pki import make_pki
from tests.net.web_peers import WebOrthanc, run_orthanc_web, scripted_server, send
from viewer.archive.archive import Archive
from viewer.cli import main
from viewer.config import ConfigError, DicomWebService, Node, load_settings
from viewer.dicom.demo import write_ct_series
from viewer.jobs import CancelToken
from viewer.net.retrieve import RetrieveProgress
from viewer.net.web import stow, wado

pytestmark = pytest.mark.timeout(180)


@dataclass
class Setup:
    web: WebOrthanc
    config: Path
    archive: Path
    files: list[Path]

    @property
    def study_uid(self) -> str:
        return str(dcmread(self.files[0], stop_before_pixels=True).StudyInstanceUID)


def _series(folder: Path, patient_id: str, name: str, date: str, slices: int = 3,
            charset: str = "") -> list[Path]:
    files = write_ct_series(folder / patient_id, slices, 16, 16, patient_name="PLACE^HOLDER",
                            patient_id=patient_id)
    for path in files:
        ds = dcmread(path)
        if charset:
            ds.SpecificCharacterSet = charset  # pydicom encodes the name in it on save
        ds.PatientName, ds.StudyDate = name, date
        ds.save_as(path)
    return files


def _add_web(config: Path, name: str, url: str, *options: str) -> None:
    assert main(["--config", str(config), "nodes", "add", name, "--dicomweb", url,
                 *options]) == 0


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("dicomweb")
    files = [*_series(tmp, "HX-0001", "DOE^JOHN", "20240102"),
             *_series(tmp, "HX-0002", "DOE^JANE", "20240115", slices=2),
             *_series(tmp, "HX-0003", "SMITH^ANNA", "20231231", slices=2),
             *_series(tmp, "HX-0004", "张^伟", "20220610", slices=1, charset="ISO_IR 192")]
    with run_orthanc_web(tmp / "orthanc") as web:
        web.orthanc.upload(*files)
        config = write_config(tmp / "config.toml", {"PACS": (web.orthanc.ae_title,
                                                              web.orthanc.port)})
        _add_web(config, "WEB", web.url)
        yield Setup(web, config, tmp / "archive", files)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what came before (nodes add) is not this verb's
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_nodes_add_replaces_and_keeps_credentials_out_of_sight(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    _add_web(config, "WEB", "http://127.0.0.1:1/dicom-web", "--auth-basic", "alice:s3cr3t pw")
    _add_web(config, "WEB", "http://127.0.0.1:2/dicom-web", "--auth-basic", "bob:0ther")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # it holds a password
    capsys.readouterr()
    code, out, _ = _run(capsys, "--config", str(config), "nodes", "list", "--json")
    assert code == 0
    nodes = json.loads(out)["nodes"]
    assert nodes == [{"name": "WEB", "dicomweb_url": "http://127.0.0.1:2/dicom-web",
                      "auth": "basic", "ca": None}]  # replaced, not added
    code, out, _ = _run(capsys, "--config", str(config), "nodes", "list")
    assert "0ther" not in out and "s3cr3t" not in out and "2/dicom-web" in out
    code, _, err = _run(capsys, "--config", str(config), "nodes", "add", "BAD", "--dicomweb",
                        "http://u:p@127.0.0.1/dicom-web")
    assert code == 2 and "credentials do not go in the URL" in err and "u:p" not in err


def test_echo_and_its_failures(pacs: Setup, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--config", str(pacs.config), "echo", "WEB")
    assert code == 0 and "QIDO-RS probe ok" in out
    config = tmp_path / "config.toml"
    base = f"http://127.0.0.1:{pacs.web.orthanc.http_port}"
    _add_web(config, "NOSERVER", f"http://127.0.0.1:{free_port()}/dicom-web")
    _add_web(config, "NOROOT", f"{base}/not-dicom-web")
    page = b"<html><body>Hospital intranet</body></html>"
    with scripted_server(lambda h, b: send(h, 200, page, "text/html")) as html:
        _add_web(config, "HTML", html.url)  # a web site answering every path with a page
        for name, expected in (("NOSERVER", "cannot connect"),
                               ("NOROOT", "not a DICOMweb service root"),
                               ("HTML", "not a DICOMweb service")):
            code, out, err = _run(capsys, "--config", str(config), "echo", name)
            lines = err.strip().splitlines()
            assert code == 2 and len(lines) == 1, (name, err)
            assert name in lines[0] and expected in lines[0], lines[0]


def _without_retrieve_ae(results: list[dict[str, object]]) -> list[dict[str, object]]:
    # Retrieve AE Title is a C-FIND answer's own: where to C-MOVE/C-GET from (PS3.4 C.4.1.1.3.2)
    return [{k: v for k, v in r.items() if k != "RetrieveAETitle"} for r in results]


def _sorted(results: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(results, key=lambda r: json.dumps(r, sort_keys=True))


@pytest.mark.parametrize("level,keys", [
    ("study", ["PatientName=DOE*"]),
    ("study", ["StudyDate=20240101-20240131"]),
    ("study", ["PatientID=HX-0003", "StudyDescription"]),
    ("study", ["PatientID=HX-0004"]),  # a Chinese name (Orthanc cannot match one, FACTS.md)
    ("series", ["Modality=CT"]),
    ("image", ["PatientID=HX-0002"]),
], ids=["name-wildcard", "date-range", "id-dash", "chinese-name", "series", "image"])
def test_query_json_is_the_dimse_query_json(pacs: Setup, level: str, keys: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    answers = []
    for node in ("PACS", "WEB"):
        code, out, err = _run(capsys, "--config", str(pacs.config), "query", node,
                              "--level", level, *keys, "--json")
        assert code == 0, err
        answers.append(json.loads(out))
    dimse, web = answers
    assert dimse, "the query must match something"
    assert _sorted(_without_retrieve_ae(dimse)) == _sorted(web)
    assert all(isinstance(r.get("ModalitiesInStudy", []), list) for r in web)
    if level == "study":
        assert all(isinstance(r["NumberOfStudyRelatedInstances"], int) for r in web)
    if "PatientID=HX-0004" in keys:
        assert web[0]["PatientName"] == "张^伟"


def test_query_patient_level_is_refused(pacs: Setup, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    code, _, err = _run(capsys, "--config", str(pacs.config), "query", "WEB", "--level",
                        "patient")
    assert code == 2 and "no patient level" in err


def test_retrieve_is_byte_identical_and_send_stores(pacs: Setup, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "archive"
    code, out, err = _run(capsys, "--config", str(pacs.config), "--archive", str(archive),
                          "retrieve", "WEB", pacs.study_uid, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["via"] == "wado-rs" and report["completed"] == 3
    assert [i["status"] for i in report["instances"]] == ["imported"] * 3
    with Archive(archive) as opened:
        stored = opened.study_files(pacs.study_uid)
    originals = {str(dcmread(p).SOPInstanceUID): dcmread(p).PixelData for p in pacs.files}
    assert len(stored) == 3
    for path in stored:
        ds = dcmread(path)
        assert ds.PixelData == originals[str(ds.SOPInstanceUID)]
    assert _run(capsys, "--archive", str(archive), "check")[0] == 0
    code, out, err = _run(capsys, "--config", str(pacs.config), "--archive", str(archive),
                          "retrieve", "WEB", "1.2.3.4")
    assert code == 1 and "QIDO-RS found no match" in err
    code, out, err = _run(capsys, "--config", str(pacs.config), "--archive", str(archive),
                          "retrieve", "WEB", "../../etc")
    assert code == 2 and "not a UID" in err

    # what a progressive viewer asks first: the metadata, then the instance it shows
    node = load_settings(pacs.config).node("WEB")
    first = dcmread(pacs.files[1])
    described = wado.metadata(node, pacs.study_uid)
    assert sorted(str(d.SOPInstanceUID) for d in described) == sorted(
        str(dcmread(p).SOPInstanceUID) for p in pacs.files[:3])  # the study's three
    assert all("PixelData" not in d or not d.PixelData for d in described)
    with Archive(tmp_path / "other") as opened:
        one = wado.retrieve(node, opened, pacs.study_uid, str(first.SeriesInstanceUID),
                            sop_instance_uid=str(first.SOPInstanceUID))
        assert [i.sop_instance_uid for i in one.imported] == [str(first.SOPInstanceUID)]
        assert dcmread(opened.study_files(pacs.study_uid)[0]).PixelData == first.PixelData

    # STOW-RS into a second, empty Orthanc
    with run_orthanc_web(tmp_path / "orthanc2") as second:
        config = tmp_path / "config.toml"
        _add_web(config, "WEB2", second.url)
        code, out, err = _run(capsys, "--config", str(config), "--archive", str(archive),
                              "send", "WEB2", pacs.study_uid, "--json")
        assert code == 0, err
        assert json.loads(out)["sent"] == 3 and second.orthanc.instance_count() == 3


def test_authentication(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _series(tmp_path, "HX-0009", "DOE^JOHN", "20240102", slices=1)
    token = tmp_path / "token"
    token.write_text("not-a-token-orthanc-knows\n")
    with run_orthanc_web(tmp_path / "orthanc", users={"alice": "s3cret"}) as web:
        config = tmp_path / "config.toml"
        _add_web(config, "NONE", web.url)
        _add_web(config, "WRONG", web.url, "--auth-basic", "alice:nope")
        _add_web(config, "TOKEN", web.url, "--token-file", str(token))
        _add_web(config, "RIGHT", web.url, "--auth-basic", "alice:s3cret")
        for name, expected in (("NONE", "authentication needed"),
                               ("WRONG", "authentication refused"),
                               ("TOKEN", "authentication refused")):
            code, _, err = _run(capsys, "--config", str(config), "echo", name)
            assert code == 2 and name in err and expected in err, err
            assert len(err.strip().splitlines()) == 1 and "nope" not in err
        code, _, err = _run(capsys, "--config", str(config), "send", "RIGHT", *map(str, files))
        assert code == 0, err
        code, out, err = _run(capsys, "--config", str(config), "query", "RIGHT", "--json")
        assert code == 0 and json.loads(out)[0]["PatientID"] == "HX-0009"


def test_https_with_a_ca_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Orthanc 1.10 (Debian) with SslEnabled completes the TLS handshake and then dies on the
    first request (checked with curl), so https is tested against a scripted server."""
    pki = make_pki(tmp_path / "pki")
    answer = _study_json("1.2.3", 1)
    with scripted_server(lambda h, b: send(h, 200, answer, "application/dicom+json"),
                         tls=(pki.server_cert, pki.server_key)) as web:
        config = tmp_path / "config.toml"
        _add_web(config, "TRUSTED", web.url, "--ca", str(pki.ca))
        _add_web(config, "ROGUE", web.url, "--ca", str(pki.rogue_ca))
        code, out, err = _run(capsys, "--config", str(config), "echo", "TRUSTED")
        assert code == 0, err
        code, _, err = _run(capsys, "--config", str(config), "echo", "ROGUE")
        assert code == 2 and "TLS handshake failed" in err and "ROGUE" in err


# --- faults, from a scripted server -------------------------------------------------------

def _study_json(uid: str, count: int, name: str = "DOE^JOHN") -> bytes:
    return json.dumps([{
        "00080005": {"vr": "CS", "Value": ["ISO_IR 192"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]},
        "0020000D": {"vr": "UI", "Value": [uid]},
        "00201208": {"vr": "IS", "Value": [count]},
    }]).encode()


def _multipart(parts: list[bytes], boundary: str = "b0undary") -> bytes:
    body = b"".join(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n"
                    + part + b"\r\n" for part in parts)
    return body + b"--" + boundary.encode() + b"--\r\n"


def _web_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text("[network]\nretries = 0\n")
    _add_web(config, "FAULTY", url)
    return config


@pytest.mark.parametrize("fault", ["cut", "boundary"])
def test_a_cut_or_malformed_multipart_keeps_only_complete_instances(
        tmp_path: Path, fault: str, capsys: pytest.CaptureFixture[str]) -> None:
    files = _series(tmp_path, "HX-0010", "DOE^JOHN", "20240102", slices=3)
    uid = str(dcmread(files[0]).StudyInstanceUID)
    datas = [p.read_bytes() for p in files]

    def respond(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if "/studies?" in handler.path:
            send(handler, 200, _study_json(uid, 3), "application/dicom+json")
        elif fault == "cut":  # two instances, then half of the third, then the end
            whole = _multipart(datas)
            cut = whole.index(datas[2]) + len(datas[2]) // 2
            send(handler, 200, whole[:cut], 'multipart/related; type="application/dicom"; '
                 "boundary=b0undary", length=len(whole))
        else:  # the body's delimiters are not the boundary the header names
            send(handler, 200, _multipart(datas, "other"),
                 'multipart/related; type="application/dicom"; boundary=b0undary')

    with scripted_server(respond) as server:
        config = _web_config(tmp_path, server.url)
        archive = tmp_path / "archive"
        code, out, err = _run(capsys, "--config", str(config), "--archive", str(archive),
                              "retrieve", "FAULTY", uid, "--json")
    assert code == 1
    report = json.loads(out)
    expected = 2 if fault == "cut" else 0
    assert [i["status"] for i in report["instances"]] == ["imported"] * expected
    assert ("cut short" if fault == "cut" else "malformed multipart") in report["error"]
    with Archive(archive) as opened:
        assert len(opened.study_files(uid)) == expected
    assert _run(capsys, "--archive", str(archive), "check")[0] == 0


@pytest.mark.parametrize("answer,expected", [
    (b'[{"00100010": {"vr": "PN", "Value": [', "not valid JSON"),
    (b"<html><body>Welcome</body></html>", "not a DICOMweb service"),
], ids=["broken-json", "html"])
def test_broken_qido_answers(tmp_path: Path, answer: bytes, expected: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    kind = "text/html" if answer.startswith(b"<") else "application/dicom+json"
    with scripted_server(lambda h, b: send(h, 200, answer, kind)) as server:
        config = _web_config(tmp_path, server.url)
        code, out, err = _run(capsys, "--config", str(config), "query", "FAULTY", "--json")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "FAULTY" in err and expected in err, err


def test_stow_refusals_are_listed_with_the_servers_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _series(tmp_path, "HX-0011", "DOE^JOHN", "20240102", slices=3)
    uids = [str(dcmread(p).SOPInstanceUID) for p in files]
    received: list[bytes] = []

    def respond(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        received.append(body)
        answer = {
            "00081199": {"vr": "SQ", "Value": [
                {"00081155": {"vr": "UI", "Value": [uids[0]]}}]},
            "00081198": {"vr": "SQ", "Value": [
                {"00081155": {"vr": "UI", "Value": [uid]},
                 "00081197": {"vr": "US", "Value": [0xA700]}} for uid in uids[1:]]},
        }
        send(handler, 202, json.dumps(answer).encode(), "application/dicom+json")

    with scripted_server(respond) as server:
        config = _web_config(tmp_path, server.url)
        code, out, err = _run(capsys, "--config", str(config), "send", "FAULTY",
                              *map(str, files), "--json")
        steps: list[tuple[int, int, str]] = []
        node = load_settings(config).node("FAULTY")
        stow.send(node, files, lambda done, total, name: steps.append((done, total, name)))
    assert steps == [(0, 3, ""), *((k, 3, files[k - 1].name) for k in (1, 2, 3))]
    assert code == 1
    assert len(received) == 2  # one request each, streamed from the files: each as it is
    assert all(p.read_bytes() in received[0] for p in files)
    report = json.loads(out)
    assert [i["status"] for i in report["instances"]] == ["success", "failure", "failure"]
    assert all("out of resources" in i["reason"] and i["code"] == "A700"
               for i in report["instances"][1:])
    assert err.count("failed A700") == 2


def test_non_ascii_query_reaches_a_server_that_decodes_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Orthanc 1.10 does not percent-decode QIDO values (FACTS.md): a server that does gets
    the name in UTF-8, and its UTF-8 answer comes back as the same text a C-FIND gives."""
    asked: list[dict[str, list[str]]] = []

    def respond(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        asked.append(parse_qs(urlsplit(handler.path).query))
        send(handler, 200, _study_json("1.2.3", 1, "张^伟=張^偉"), "application/dicom+json")

    with scripted_server(respond) as server:
        config = _web_config(tmp_path, server.url)
        code, out, err = _run(capsys, "--config", str(config), "query", "FAULTY",
                              "PatientName=张*", "--json")
    assert code == 0, err
    assert asked[0]["PatientName"] == ["张*"]
    result = json.loads(out)[0]
    assert result["PatientName"] == "张^伟=張^偉" and result["NumberOfStudyRelatedInstances"] == 1


def test_retrieve_progress_and_cancel(tmp_path: Path) -> None:
    """Cancelling after the first instance closes the connection: the first is kept, the
    part being received is dropped, and the report says cancelled."""
    files = _series(tmp_path, "HX-0012", "DOE^JOHN", "20240102", slices=3)
    uid = str(dcmread(files[0]).StudyInstanceUID)
    whole = _multipart([p.read_bytes() for p in files])
    second = whole.index(files[1].read_bytes())
    cancelled = threading.Event()

    def respond(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if "/studies?" in handler.path:
            send(handler, 200, _study_json(uid, 3), "application/dicom+json")
            return
        handler.send_response(200)
        handler.send_header("Content-Type", 'multipart/related; type="application/dicom"; '
                            "boundary=b0undary")
        handler.send_header("Content-Length", str(len(whole)))
        handler.end_headers()
        handler.wfile.write(whole[:second + 100])  # the first instance, a bit of the second
        handler.wfile.flush()
        cancelled.wait(10)
        with contextlib.suppress(OSError):  # we may have gone already
            handler.wfile.write(whole[second + 100:])

    seen: list[tuple[int, int | None]] = []
    token = CancelToken()

    def progress(p: RetrieveProgress) -> None:
        seen.append((p.received, p.expected))
        if p.received:
            token.cancel()
            cancelled.set()

    with scripted_server(respond) as server, Archive(tmp_path / "archive") as archive:
        node = Node("FAULTY", "", "", 0, None, DicomWebService(server.url))
        report = wado.retrieve(node, archive, uid, progress=progress, cancel=token)
        assert report.cancelled and not report.ok
        assert [i.sop_instance_uid for i in report.imported] == [
            str(dcmread(files[0]).SOPInstanceUID)]
        assert len(archive.study_files(uid)) == 1
    assert seen[0] == (1, 3)


def test_retries_and_timeouts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = iter([503, 200, 503, 200])

    def respond(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        status = next(answers, 200)
        send(handler, status, b"[]" if status == 200 else b"busy", "application/dicom+json")

    with scripted_server(respond) as server:
        config = tmp_path / "config.toml"
        config.write_text("[network]\nretries = 0\n")
        _add_web(config, "ONCE", server.url)
        code, _, err = _run(capsys, "--config", str(config), "echo", "ONCE")
        assert code == 2 and "HTTP 503" in err  # no retry: the first answer stands
        config.write_text("[network]\nretries = 1\n")
        _add_web(config, "AGAIN", server.url)
        code, out, err = _run(capsys, "--config", str(config), "echo", "AGAIN")
        assert code == 0, err  # the 503 was tried again

    def slow(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        time.sleep(2)
        with contextlib.suppress(OSError):
            send(handler, 200, b"[]", "application/dicom+json")

    with scripted_server(slow) as server:
        config.write_text("[network]\nretries = 0\n"
                          f'[nodes.SLOW]\ndicomweb_url = "{server.url}"\n'
                          "dicomweb_timeout = 0.5\n")
        code, _, err = _run(capsys, "--config", str(config), "echo", "SLOW")
        assert code == 2 and "SLOW" in err and "no answer within 0.5 s" in err, err


def test_config_refuses_both_kinds_of_authentication(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[nodes.WEB]\ndicomweb_url = "http://127.0.0.1/dicom-web"\n'
                      'dicomweb_user = "alice"\ndicomweb_password = "x"\n'
                      'dicomweb_token_file = "/tmp/token"\n')
    with pytest.raises(ConfigError, match="not both"):
        load_settings(config)
    config.write_text('[nodes.WEB]\ndicomweb_url = "ftp://127.0.0.1/dicom-web"\n')
    with pytest.raises(ConfigError, match="service root"):
        load_settings(config)
