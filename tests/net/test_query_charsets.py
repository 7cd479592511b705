"""C-FIND answers with broken character-set data (issue 15 item 1), from a scripted SCP (a
pynetdicom AE in the test, as pynetdicom's own tests script bad peers): an ISO 2022 escape
sequence that selects nothing known, bytes that are not valid in the declared character set, an
unknown Specific Character Set term, and an identifier that cannot be decoded at all. `query`
(and `worklist`, a C-FIND too) prints every row it can (bad bytes as U+FFFD), says once per
problem on stderr which peer, which match and which attribute (never the value, never pydicom's
own text), and exits 1 only when an answer was lost; never a traceback."""

from __future__ import annotations

import contextlib
import json
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import ImplicitVRLittleEndian
from pynetdicom import AE, evt, service_class
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityWorklistInformationFind,
    StudyRootQueryRetrieveInformationModelFind,
)

from tests.net.peers import LOOPBACK, write_config

pytestmark = pytest.mark.timeout(60)

PATIENT_NAME = Tag(0x00100010)


def answer(charset: str | None, patient_id: str, name: bytes, level: str = "STUDY") -> Dataset:
    """A match (at `level`; "" for a worklist item) whose Patient Name is `name`, bytes as they
    go on the wire."""
    ds = Dataset()
    if charset is not None:
        ds.SpecificCharacterSet = charset
    if level:
        ds.QueryRetrieveLevel = level
    ds.PatientID = patient_id
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.{len(patient_id)}{ord(patient_id[-1])}"
    # UN: written as the bytes given (a PN would be decoded and encoded again on the way out,
    # repairing what the test breaks); in Implicit VR the reader takes PN from the dictionary
    ds[PATIENT_NAME] = DataElement(PATIENT_NAME, "UN", name)
    return ds


ANSWERS = [
    answer(None, "GOOD", b"SMITH^ANNA"),
    # ESC $ ) Z designates nothing PS3.3 C.12.1.1.2 defines
    answer("\\ISO 2022 IR 87", "ESCAPE", b"YAMADA^\x1b$)Z\x3b\x33\x45\x44\x1b(B"),
    answer("ISO_IR 192", "INVALID", b"DOE^J\xff\xfeHN"),  # not UTF-8
    answer("ISO_IR 999", "UNKNOWN", b"M\xfcLLER^HANS"),  # no such term
]


@contextlib.contextmanager
def scripted_find_scp(answers: list[Dataset], tmp_path: Path,
                      sop_class: str = StudyRootQueryRetrieveInformationModelFind
                      ) -> Iterator[Path]:
    """A C-FIND SCP of `sop_class` answering every query with `answers` (Pending each, then
    Success); yields a config file naming it as node BAD."""
    def on_find(event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        for identifier in answers:
            yield 0xFF00, identifier
        yield 0x0000, None

    ae = AE(ae_title="BADCHARSETS")
    ae.add_supported_context(sop_class, ImplicitVRLittleEndian)
    server = ae.start_server((LOOPBACK, 0), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)])
    try:
        port = server.server_address[1]
        yield write_config(tmp_path / "config.toml", {"BAD": ("BADCHARSETS", port)})
    finally:
        ae.shutdown()


def query(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "viewer", "--config", str(config), "query",
                           "BAD", "PatientName=*", *args],
                          capture_output=True, text=True, timeout=30, check=False)


def test_broken_character_sets_are_shown_with_one_warning_each(tmp_path: Path) -> None:
    with scripted_find_scp(ANSWERS, tmp_path) as config:
        as_json = query(config, "--json")
        table = query(config)
    assert as_json.returncode == 0, as_json.stderr
    rows = {row["PatientID"]: row["PatientName"] for row in json.loads(as_json.stdout)}
    assert rows["GOOD"] == "SMITH^ANNA"
    assert rows["INVALID"].startswith("DOE^J") and "\ufffd" in rows["INVALID"]
    assert rows["UNKNOWN"].endswith("LLER^HANS")
    assert rows["ESCAPE"].startswith("YAMADA^")
    lines = as_json.stderr.splitlines()
    peer = "BAD (BADCHARSETS@127.0.0.1:"
    assert lines and all(line.startswith(peer) for line in lines), lines
    said = "\n".join(lines)
    invalid = "PatientName: bytes not valid in the declared character set"
    assert [line.split("): ", 1)[1] for line in lines] == [
        f"match 2: {invalid}; shown with replacement characters",
        f"match 3: {invalid}; shown with replacement characters",
        "match 4: unknown Specific Character Set 'ISO_IR 999'; using the default repertoire",
        "match 4: PatientName: bytes outside the declared character set's default repertoire; "
        "shown as ISO_IR 100",
    ]
    for secret in ("DOE", "MÜLLER", "M\ufffdLLER", "YAMADA"):
        assert secret not in said  # warnings name the attribute, never the value
    assert "Traceback" not in said and "pydicom" not in said and "dicom.nema.org" not in said
    assert table.returncode == 0, table.stderr
    assert table.stderr == as_json.stderr
    assert "SMITH, ANNA" in table.stdout and len(table.stdout.splitlines()) == 5


def cut_short_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripted SCP sends the identifier of PatientID "CUTSHORT" with a sequence item cut
    short: pynetdicom cannot decode it."""
    real_encode = service_class.encode

    def encode(ds: Dataset, *args: bool) -> bytes | None:
        encoded = real_encode(ds, *args)
        if encoded is None or ds.get("PatientID") != "CUTSHORT":
            return encoded
        # ReferencedStudySequence, undefined length, an item claiming 16 bytes holding 2
        return encoded + struct.pack("<HHL", 0x0008, 0x1110, 0xFFFFFFFF) + (
            b"\xfe\xff\x00\xe0\x10\x00\x00\x00ab")

    monkeypatch.setattr(service_class, "encode", encode)


def test_an_answer_that_cannot_be_decoded_is_counted_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other rows are printed; the lost one is named; exit 1."""
    cut_short_answers(monkeypatch)
    answers = [ANSWERS[0], answer(None, "CUTSHORT", b"CUT^SHORT"), answer(None, "LAST", b"L^A")]
    with scripted_find_scp(answers, tmp_path) as config:
        done = query(config, "--json")
    assert done.returncode == 1, done.stderr
    assert [row["PatientID"] for row in json.loads(done.stdout)] == ["GOOD", "LAST"]
    (line,) = done.stderr.splitlines()
    assert line.startswith("BAD (BADCHARSETS@127.0.0.1:")
    assert line.endswith("): match 2: the identifier could not be decoded; left out"), line


def test_worklist_answers_with_a_broken_name_and_one_cut_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cut_short_answers(monkeypatch)
    answers = [answer(None, "GOOD", b"SMITH^ANNA", level=""),
               answer("ISO_IR 192", "INVALID", b"DOE^J\xff\xfeHN", level=""),
               answer(None, "CUTSHORT", b"CUT^SHORT", level="")]
    with scripted_find_scp(answers, tmp_path, ModalityWorklistInformationFind) as config:
        done = subprocess.run([sys.executable, "-m", "viewer", "--config", str(config),
                               "worklist", "BAD", "--json"],
                              capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1, done.stderr
    items = {item["PatientID"]: item["PatientName"] for item in json.loads(done.stdout)}
    assert items["GOOD"] == "SMITH^ANNA" and "\ufffd" in items["INVALID"]
    assert [line.split("): ", 1)[1] for line in done.stderr.splitlines()] == [
        "match 2: PatientName: bytes not valid in the declared character set; shown with "
        "replacement characters",
        "match 3: the identifier could not be decoded; left out",
    ]
