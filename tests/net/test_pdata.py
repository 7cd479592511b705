"""viewer.net.pdata: C-STORE messages framed without pynetdicom's per-fragment objects must be
byte for byte what pynetdicom sends, and what they stand in for is pinned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydicom.uid import CTImageStorage
from pynetdicom.dimse_messages import C_STORE_RQ, C_STORE_RSP, DIMSEMessage
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import split_dataset
from pynetdicom.pdu import P_DATA_TF

from viewer.dicom.demo import write_ct_series
from viewer.net import pdata

# sha256 of pynetdicom 3.0.4's DIMSEServiceProvider.send_msg, DIMSEMessage.encode_msg and
# DIMSEMessage.primitive_to_message, which viewer.net.pdata stands in for. When pynetdicom
# changes them this test fails: check that the framing and the two command sets still match
# (the tests below say whether they do), then update the hash.
PINNED = "716549426191dec754f92368b18e9e7e6c711885f2e2b5e6cedd26a1f8726d7a"

CONTEXT_ID = 5


def test_the_pynetdicom_code_it_stands_in_for_is_unchanged() -> None:
    assert pdata.pynetdicom_sources_hash() == PINNED


def pynetdicom_pdus(message: DIMSEMessage, primitive: C_STORE, max_pdu: int) -> bytes:
    """What pynetdicom sends for `primitive`: its message encoded, each P-DATA as a PDU."""
    message.primitive_to_message(primitive)
    return b"".join(P_DATA_TF(p).encode() for p in message.encode_msg(CONTEXT_ID, max_pdu))


def response(**values: object) -> C_STORE:
    rsp = C_STORE()
    rsp.MessageIDBeingRespondedTo = 7
    rsp.AffectedSOPClassUID = CTImageStorage
    rsp.AffectedSOPInstanceUID = "1.2.3.4.55"  # odd length: padded with NUL
    rsp.Status = 0x0000
    for name, value in values.items():
        setattr(rsp, name, value)
    return rsp


@pytest.mark.parametrize("values", [
    {},
    {"AffectedSOPInstanceUID": "1.2.3.4.5"},
    {"Status": 0xC000, "ErrorComment": "unknown transfer syntax"},  # odd: padded with space
    {"Status": 0xA700, "ErrorComment": "disk full"},
    {"Status": 0x0111, "ErrorComment": "x" * 64},
], ids=["success", "even-uid", "odd-comment", "odd-comment-2", "longest-comment"])
def test_a_store_response_is_encoded_as_pynetdicom_encodes_it(values: dict[str, object]) -> None:
    rsp = response(**values)
    command = pdata.encode_store_response(rsp)
    assert command is not None
    ours = pdata._pdv(CONTEXT_ID, 0x03, command)
    assert ours == pynetdicom_pdus(C_STORE_RSP(), rsp, 16384)


@pytest.mark.parametrize("values", [
    {"OffendingElement": [0x00100010]},
    {"Status": 0xC000, "ErrorComment": "Ärger"},
    {"AffectedSOPInstanceUID": None},
], ids=["offending-element", "non-ascii-comment", "no-uid"])
def test_other_store_responses_are_left_to_pynetdicom(values: dict[str, object]) -> None:
    assert pdata.encode_store_response(response(**values)) is None


def request(path: Path, **values: object) -> C_STORE:
    req = C_STORE()
    req.MessageID = 12
    req.Priority = 2
    req.AffectedSOPClassUID = CTImageStorage
    req.AffectedSOPInstanceUID = "1.2.3.4.5.6"
    req._dataset_path = (path, split_dataset(path)[1])
    for name, value in values.items():
        setattr(req, name, value)
    return req


@pytest.fixture(scope="module")
def ct_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ct")
    write_ct_series(folder, 1, 64, 48)
    return next(folder.glob("*.dcm"))


@pytest.mark.parametrize("max_pdu", [16384, 4096, 1000, 131072])
def test_a_request_from_a_file_is_framed_as_pynetdicom_frames_it(
    ct_file: Path, max_pdu: int
) -> None:
    req = request(ct_file)
    command = pdata.encode_store_request(req)
    assert command is not None
    path, offset = req._dataset_path
    ours = pdata._pdv(CONTEXT_ID, 0x03, command) + b"".join(
        pdata.data_set_pdus(path, offset, CONTEXT_ID, max_pdu))
    assert ours == pynetdicom_pdus(C_STORE_RQ(), req, max_pdu)


def test_batches_hold_whole_pdus_and_an_empty_data_set_is_one_last_fragment(
    tmp_path: Path
) -> None:
    data = os.urandom(1_000_003)
    (tmp_path / "data").write_bytes(b"x" * 10 + data)
    batches = list(pdata.data_set_pdus(tmp_path / "data", 10, 1, 16384))
    assert len(batches) > 1
    body = b""
    for batch in batches:  # each batch starts with a PDU header and ends with its last byte
        at = 0
        while at < len(batch):
            length = int.from_bytes(batch[at + 2:at + 6], "big")
            body += bytes(batch[at + 12:at + 6 + length])
            at += 6 + length
        assert at == len(batch)
    assert body == data
    (tmp_path / "empty").write_bytes(b"x" * 10)
    assert [bytes(b) for b in pdata.data_set_pdus(tmp_path / "empty", 10, 1, 16384)] == [
        bytes.fromhex("04000000000600000002") + b"\x01\x02"
    ]


def test_a_request_naming_a_move_originator_is_left_to_pynetdicom(ct_file: Path) -> None:
    req = request(ct_file, MoveOriginatorApplicationEntityTitle="PACS",
                  MoveOriginatorMessageID=3)
    assert pdata.encode_store_request(req) is None
