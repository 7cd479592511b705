"""What a DICOMweb server sends, damaged on purpose (issue 18, "Bad input and faults"; the house
rule "fuzz what reads network data"): seeded mutations of

- multipart/related bodies, fed to the streaming reader in chunks of random sizes: the reader
  either finishes or raises MultipartError, and every part it opened is ended exactly once
  (done or abandoned), never written to afterwards;
- QIDO-RS answers (DICOM JSON with wrong VRs, wrong value types, missing or extra members,
  junk), served by a loopback server to `query --json`: exit 0 with the matches, exit 1 when a
  match could not be read (one line naming the node and the match, which is left out), or exit
  2 with one line naming the node; never a traceback or a library's warning text;
- WADO-RS answers with real instances, the body mutated, retrieved into an archive: whatever
  the outcome, `check` then finds the archive consistent and each stored instance is one the
  server sent whole (a damaged part that still reads as DICOM is stored as sent).
"""

from __future__ import annotations

import copy
import json
import random
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.net.test_dicomweb import _multipart, _run, _series, _study_json, _web_config
from tests.net.web_peers import scripted_server, send
from viewer.archive.archive import Archive
from viewer.net.web.multipart import MultipartError, read_parts

pytestmark = pytest.mark.timeout(300)

BOUNDARY = "b0undary"


class _Sink:
    def __init__(self, log: list[_Sink]) -> None:
        self.data = bytearray()
        self.ended = ""
        log.append(self)

    def write(self, data: bytes) -> None:
        assert not self.ended, "written after its end"
        self.data += data

    def done(self) -> None:
        assert not self.ended, f"ended twice ({self.ended}, done)"
        self.ended = "done"

    def abandon(self) -> None:
        assert not self.ended, f"ended twice ({self.ended}, abandoned)"
        self.ended = "abandoned"


def _mutate(body: bytes, rng: random.Random) -> bytes:
    """One to three damages: bytes changed, a cut, bytes inserted or removed, a delimiter
    (or a piece of one) doubled or dropped where a part should be."""
    data = bytearray(body)
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["flip", "cut", "insert", "delete", "delimiter", "crlf"])
        at = rng.randrange(len(data) or 1)
        if kind == "flip" and data:
            for _ in range(rng.randint(1, 16)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif kind == "delete":
            del data[at:at + rng.randint(1, 200)]
        elif kind == "delimiter":
            piece = b"\r\n--" + BOUNDARY.encode()
            data[at:at] = piece[:rng.randint(1, len(piece))] + rng.choice([b"", b"--", b"\r\n"])
        elif kind == "crlf":
            data[at:at] = rng.choice([b"\r\n", b"\r\n\r\n", b"\n", b"\r"])
    return bytes(data)


def _chunks(body: bytes, rng: random.Random) -> list[bytes]:
    sizes = [1, 2, 7, 64, 1000, 65536]
    chunks, at = [], 0
    while at < len(body):
        size = rng.choice(sizes)
        chunks.append(body[at:at + size])
        at += size
    return chunks


def test_the_multipart_reader_survives_damaged_bodies() -> None:
    rng = random.Random(18)
    parts = [bytes(rng.randrange(256) for _ in range(n)) for n in (300, 1, 2000)]
    body = _multipart(parts, BOUNDARY)
    outcomes = {"complete": 0, "refused": 0}
    for _ in range(3000):
        mutant = _mutate(body, rng)
        sinks: list[_Sink] = []
        try:
            read_parts(_chunks(mutant, rng), BOUNDARY, lambda headers, log=sinks: _Sink(log))
            outcomes["complete"] += 1
        except MultipartError as exc:
            assert str(exc) and "\n" not in str(exc)
            outcomes["refused"] += 1
        assert all(sink.ended for sink in sinks), "a part left open"
        assert sum(len(s.data) for s in sinks) <= len(mutant)
    # both outcomes are exercised, or the mutations taught nothing
    assert outcomes["complete"] > 100 and outcomes["refused"] > 100, outcomes
    # the intact body, in any chunking, gives the parts exactly
    for _ in range(50):
        sinks = []
        assert read_parts(_chunks(body, rng), BOUNDARY, lambda headers, log=sinks: _Sink(log)) == 3
        assert [bytes(s.data) for s in sinks] == parts


def _json_mutant(document: list[dict[str, object]], rng: random.Random) -> bytes:
    """A DICOM JSON answer damaged where servers go wrong: VRs, value types, members."""
    doc = copy.deepcopy(document)
    junk: list[object] = [None, 7, -1e308, "x" * 300, [], {}, [None], ["a", 1], {"a": 1},
                          True, "2024-13-45", "\ud7ff"]
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["vr", "value", "drop", "add", "type", "top", "text"])
        match = rng.choice(doc) if doc else None
        if kind == "top":
            doc.append(rng.choice(junk))  # type: ignore[arg-type]
            continue
        if kind == "text":  # not an array of objects, or not JSON at all
            text = json.dumps(rng.choice([doc, doc[0] if doc else {}, "studies", 3]))
            return rng.choice([text, text[:rng.randrange(len(text))]]).encode()
        if not isinstance(match, dict) or not match:
            continue
        tag = rng.choice(list(match))
        element = match[tag]
        if kind == "vr" and isinstance(element, dict):
            element["vr"] = rng.choice(["XX", "", "SQ", "PN", "US", "DA", "UI", 5])
        elif kind == "value" and isinstance(element, dict):
            element["Value"] = rng.choice(junk)
        elif kind == "drop" and isinstance(element, dict):
            element.pop(rng.choice(["vr", "Value"]), None)
        elif kind == "add":
            match[rng.choice(["00100020", "zzzz", "0008103E", "00080020", "7FE00010"])] = (
                rng.choice([*junk, {"vr": "OB", "InlineBinary": "!!"},
                            {"vr": "OB", "BulkDataURI": "http://elsewhere/x"}]))
        elif kind == "type":
            match[tag] = rng.choice(junk)
    return json.dumps(doc).encode()


def test_damaged_qido_answers_give_matches_or_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(1818)
    base = json.loads(_study_json("1.2.3.4", 3, "DOE^JOHN")) + json.loads(
        _study_json("1.2.3.5", 1, "ROE^JANE"))
    answers: list[bytes] = []

    def respond(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        send(handler, 200, answers[-1], "application/dicom+json")

    exits = {0: 0, 1: 0, 2: 0}
    with scripted_server(respond) as server:
        config = _web_config(tmp_path, server.url)
        for n in range(150):
            answers.append(_json_mutant(base, rng))
            code, out, err = _run(capsys, "--config", str(config), "query", "FAULTY", "--json")
            context = f"mutant {n}: {answers[-1][:300]!r}\n{err}"
            assert "Traceback" not in err and "Warning" not in err, context
            assert code in exits, context
            exits[code] += 1
            if code == 2:
                assert out == "" and len(err.strip().splitlines()) == 1, context
                assert "FAULTY" in err, context
            else:  # exit 1: a match it could not read, a line naming the node and the match
                assert all("FAULTY" in line for line in err.strip().splitlines()), context
                results = json.loads(out)
                assert isinstance(results, list) and len(results) <= answers[-1].count(b"{")
    assert min(exits.values()) > 5, exits


def test_damaged_wado_answers_leave_the_archive_consistent(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(181818)
    files = _series(tmp_path, "HX-0018", "DOE^JOHN", "20240102", slices=3)
    uid = str(dcmread(files[0]).StudyInstanceUID)
    sent = {p.read_bytes() for p in files}
    whole = _multipart([p.read_bytes() for p in files], BOUNDARY)
    bodies: list[bytes] = []

    def respond(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if "/studies?" in handler.path or "/instances" in handler.path:
            send(handler, 200, _study_json(uid, 3), "application/dicom+json")
        else:
            send(handler, 200, bodies[-1],
                 f'multipart/related; type="application/dicom"; boundary={BOUNDARY}')

    archive = tmp_path / "archive"
    with scripted_server(respond) as server:
        config = _web_config(tmp_path, server.url)
        for n in range(60):
            bodies.append(_mutate(whole, rng))
            code, out, err = _run(capsys, "--config", str(config), "--archive", str(archive),
                                  "retrieve", "FAULTY", uid)
            context = f"mutant {n}\n{err}"
            assert code in (0, 1, 2), context
            assert "Traceback" not in err and "Warning" not in err, context
            assert _run(capsys, "--archive", str(archive), "check")[0] == 0, context
    with Archive(archive) as opened:
        stored = opened.study_files(uid)
    assert stored, "no mutant left an instance whole"
    for path in stored:  # whole instances only: an intact one, or a damaged one that reads
        assert path.read_bytes() in sent or dcmread(path).SOPInstanceUID
