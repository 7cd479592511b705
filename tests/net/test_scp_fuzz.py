"""Mutated data sets sent to a real `listen` process (issue 15 item 1): pydicom's test files in
eight transfer syntaxes (deflate included), each mutated with fixed seeds (bytes changed, cut
short, inserted, lengths made huge) after an intact File Meta Information, and sent as they are
(pynetdicom sends a file's data set bytes without decoding them). Each one is either stored
whole (the stored data set is byte for byte the one sent) or answered with a failure status
and a reason; the SCP never dies; its stderr shows no traceback and no library warning text;
`check` finds the archive consistent. Plus a Deflated Explicit VR Little Endian data set whose
zlib stream is broken: refused with a reason saying so."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.filereader import _read_file_meta_info, read_file_meta_info, read_preamble
from pydicom.uid import generate_uid
from pynetdicom import AE, _config
from pynetdicom.status import code_to_category

from tests.net.test_scp_faults import (
    SCP_AE,
    check_consistent,
    listening,
    no_traceback,
    problems,
)
from tests.peers import peers_required
from viewer.archive.archive import Archive

pytestmark = pytest.mark.timeout(180)

SOURCES = {  # pydicom's test file -> its transfer syntax, for the test ids
    "CT_small.dcm": "explicit-le",
    "MR_small_implicit.dcm": "implicit-le",
    "MR_small_bigendian.dcm": "explicit-be",
    "image_dfl.dcm": "deflated",
    "MR_small_RLE.dcm": "rle",
    "MR_small_jpeg_ls_lossless.dcm": "jpeg-ls",
    "JPEG2000.dcm": "jpeg2000",
    "SC_rgb_jpeg_gdcm.dcm": "jpeg-baseline",
}
SEEDS = range(12)


def split(path: Path) -> tuple[bytes, bytes]:
    """(preamble and File Meta Information, data set) of a PS3.10 file."""
    data = path.read_bytes()
    with open(path, "rb") as f:
        read_preamble(f, False)
        _read_file_meta_info(f)
        return data[:f.tell()], data[f.tell():]


def mutate(body: bytes, rng: random.Random) -> bytes:
    out = bytearray(body)
    kind = rng.randrange(4)
    if kind == 0:  # a few bytes changed
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif kind == 1:  # cut short
        del out[rng.randrange(len(out)):]
    elif kind == 2:  # bytes inserted
        at = rng.randrange(len(out))
        out[at:at] = rng.randbytes(rng.randint(1, 16))
    else:  # a length (or anything) made huge
        at = rng.randrange(max(1, len(out) - 4))
        out[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80"])
    return bytes(out)


def source(name: str) -> Path:
    found = get_testdata_file(name)
    if found is None:  # pydicom ships these; a missing one is a broken install
        message = f"pydicom's test file {name} is missing"
        if peers_required():
            pytest.fail(message)
        pytest.skip(message)
    return Path(str(found))


def mutated_files(folder: Path, name: str) -> Iterator[tuple[Path, bytes]]:
    """(file to send, its data set bytes) for each seed: the source with its own SOP Instance
    UID (so that no two collide), saved in its transfer syntax, its data set mutated."""
    original = pydicom.dcmread(source(name))
    for seed in SEEDS:
        ds = original.copy()
        ds.file_meta = original.file_meta.copy()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
            entropy_srcs=[name, str(seed)])
        path = folder / f"{Path(name).stem}-{seed}.dcm"
        ds.save_as(path)
        meta, body = split(path)
        mutated = mutate(body, random.Random(seed))
        path.write_bytes(meta + mutated)
        yield path, mutated


def send_as_is(port: int, files: list[Path]) -> list[tuple[int, str]]:
    """C-STORE each file's data set bytes undecoded; (status, ErrorComment) of each."""
    meta = read_file_meta_info(files[0])  # only the meta: a broken deflate stream stays unread
    ae = AE(ae_title="FUZZER")
    ae.add_requested_context(meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title=SCP_AE)
    assert assoc.is_established
    answers = []
    try:
        for path in files:
            answer = assoc.send_c_store(path)
            assert "Status" in answer, f"{path.name}: no answer (the association died)"
            answers.append((int(answer.Status), str(answer.get("ErrorComment", "") or "")))
        assoc.release()
    finally:
        ae.shutdown()
    return answers


def stored_data_sets(archive: Path) -> list[bytes]:
    with Archive(archive) as opened:
        return [split(archive / path)[1] for _, path, _ in opened.index.stored_checksums()]


def test_mutated_data_sets_are_stored_whole_or_refused_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # send the bytes as they are
    sent: list[tuple[str, bytes, int, str]] = []
    with listening(tmp_path) as scp:
        for name in SOURCES:
            folder = tmp_path / Path(name).stem
            folder.mkdir()
            files, bodies = zip(*mutated_files(folder, name), strict=True)
            answers = send_as_is(scp.port, list(files))
            sent += [(p.name, b, s, c) for p, b, (s, c) in zip(files, bodies, answers, strict=True)]
            assert scp.alive(), f"listen died on {name}"
        code, out, err = scp.stop()
    assert code == 0
    stored = stored_data_sets(scp.archive)
    successes = [body for _, body, status, _ in sent if status == 0]
    for label, body, status, comment in sent:
        if status == 0:
            assert body in stored, f"{label}: success, but not stored whole"
        else:
            assert code_to_category(status) == "Failure", (label, hex(status))
            assert comment, f"{label}: failure 0x{status:04X} without a reason"
    assert len(stored) == len(successes)
    assert 0 < len(successes) < len(sent)  # the seeds give both outcomes
    assert len(out) == len(sent)  # one line per instance
    assert problems(err) == [], err
    no_traceback(err)
    assert "dicom.nema.org" not in "\n".join(out + err)  # no pydicom warning text
    check_consistent(scp.archive)


def test_a_broken_deflate_stream_is_refused_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    meta, body = split(source("image_dfl.dcm"))
    assert read_file_meta_info(source("image_dfl.dcm")).TransferSyntaxUID == (
        pydicom.uid.DeflatedExplicitVRLittleEndian)
    broken = {
        "flipped": body[:40] + bytes(b ^ 0x5A for b in body[40:80]) + body[80:],
        "truncated": body[: len(body) // 2],
        "noise": random.Random(7).randbytes(len(body)),
    }
    files = []
    for label, data in broken.items():
        path = tmp_path / f"{label}.dcm"
        path.write_bytes(meta + data)
        files.append(path)
    with listening(tmp_path) as scp:
        answers = send_as_is(scp.port, files)
        code, out, err = scp.stop()
    assert code == 0
    for status, comment in answers:
        assert status == 0xC000, hex(status)
        assert comment.startswith("malformed DICOM: the deflated data set cannot be inflated")
    assert len(out) == 3
    assert all(" failed: malformed DICOM: the deflated data set cannot be inflated (Error -"
               in line for line in out), out
    no_traceback(err)
    assert stored_data_sets(scp.archive) == []
    check_consistent(scp.archive)
