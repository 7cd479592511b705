"""viewer.net.pdv: P-DATA-TF PDUs received in Sta6 go straight to DIMSE with the same primitive
pynetdicom makes; anything else goes through pynetdicom, and what this stands in for is pinned."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import CTImageStorage
from pynetdicom import evt
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import encode
from pynetdicom.pdu import P_DATA_TF

from tests.net.test_listen import rows_of, running_scp, storescu
from viewer.dicom.demo import write_ct_series
from viewer.net import pdv
from viewer.net.reactor import EventDrivenDUL

pytestmark = pytest.mark.timeout(300)

# sha256 of pynetdicom 3.0.4's DULServiceProvider._read_pdu_data and _decode_pdu,
# StateMachine.do_action, DT_2 and P_DATA_TF._generate_items and to_primitive, which
# viewer.net.pdv and EventDrivenDUL._read_pdu_data stand in for. When pynetdicom changes them
# this test fails: check that the copy in reactor.py and the primitives still match (the tests
# below say whether they do), then update the hash.
PINNED = "7b9f038616c4a10eb10e3d8e9038ccd1759a920cfd5e33e020fcdc478e11e4fc"


def test_the_pynetdicom_code_it_stands_in_for_is_unchanged() -> None:
    assert pdv.pynetdicom_sources_hash() == PINNED


def pynetdicom_list(pdu: bytes) -> list[tuple[int, bytes]]:
    decoded = P_DATA_TF()
    decoded.decode(pdu)
    return list(decoded.to_primitive().presentation_data_value_list)


def store_pdus(tmp_path: Path, max_pdu: int) -> Iterator[bytes]:
    """The PDUs pynetdicom sends for a C-STORE request of a small CT image."""
    path = write_ct_series(tmp_path / "ct", 1, 32, 32)[0]
    primitive = C_STORE()
    primitive.MessageID = 3
    primitive.AffectedSOPClassUID = CTImageStorage
    primitive.AffectedSOPInstanceUID = "1.2.3.4.55"
    primitive.Priority = 0
    ds = pydicom.dcmread(path)
    primitive.DataSet = BytesIO(encode(ds, True, True))
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    for p in message.encode_msg(7, max_pdu):
        yield P_DATA_TF(p).encode()


@pytest.mark.parametrize("max_pdu", [16384, 1000, 0], ids=["16k", "1000", "unlimited"])
def test_a_store_request_decodes_to_pynetdicoms_primitive(tmp_path: Path, max_pdu: int) -> None:
    pdus = list(store_pdus(tmp_path, max_pdu))
    assert pdus
    for pdu in pdus:
        ours = pdv.decode_p_data(bytearray(pdu))
        assert ours is not None
        assert ours.presentation_data_value_list == pynetdicom_list(pdu)


def item(context_id: int, value: bytes) -> bytes:
    return struct.pack(">IB", len(value) + 1, context_id) + value


def pdu_of(items: bytes) -> bytes:
    return struct.pack(">BBI", 0x04, 0, len(items)) + items


def test_several_values_in_one_pdu_keep_their_order() -> None:
    pdu = pdu_of(item(1, b"\x03command") + item(1, b"\x00data") + item(3, b"\x02last"))
    ours = pdv.decode_p_data(pdu)
    assert ours is not None
    assert ours.presentation_data_value_list == pynetdicom_list(pdu)
    assert [cid for cid, _ in ours.presentation_data_value_list] == [1, 1, 3]


@pytest.mark.parametrize("pdu", [
    pdu_of(b""),  # no item
    pdu_of(item(1, b"\x02abc")[:-1]),  # the item overruns the PDU
    pdu_of(item(1, b"\x02abc") + b"\x00\x00"),  # trailing bytes shorter than an item header
    pdu_of(struct.pack(">IB", 0, 1)),  # item length 0
    pdu_of(item(1, b"")),  # no message control header
], ids=["empty", "overrun", "trailing", "length-0", "no-header"])
def test_a_malformed_pdu_is_left_to_pynetdicom(pdu: bytes) -> None:
    assert pdv.decode_p_data(pdu) is None


def count_decoded_p_data(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """P-DATA-TF PDUs that went through pynetdicom's decoding, counted."""
    seen: list[int] = []
    original = EventDrivenDUL._decode_pdu

    def counting(self: EventDrivenDUL, bytestream: bytearray) -> object:
        if bytestream[0] == 0x04:
            seen.append(1)
        return original(self, bytestream)

    monkeypatch.setattr(EventDrivenDUL, "_decode_pdu", counting)
    return seen


@pytest.mark.parametrize("bind_pdu_handler", [False, True], ids=["straight", "pdu-handler"])
def test_storescu_data_sets_arrive_whole_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    bind_pdu_handler: bool) -> None:
    series = write_ct_series(tmp_path / "ct", 3, 256, 256)  # 128 KiB each: several PDUs
    decoded = count_decoded_p_data(monkeypatch)
    received: list[object] = []
    with running_scp(tmp_path / "archive") as scp:
        if bind_pdu_handler:  # someone watching PDUs: pynetdicom decodes every one
            assert scp._server is not None
            scp._server.bind(evt.EVT_PDU_RECV, lambda event: received.append(event.pdu))
        done = storescu(scp, series)
        assert done.returncode == 0, done.stderr
        assert scp.received.summary().counts == {"imported": 3}
    if bind_pdu_handler:
        assert len(decoded) >= 3 * 2
        assert sum(isinstance(pdu, P_DATA_TF) for pdu in received) == len(decoded)
    else:
        assert decoded == []
    stored = rows_of(tmp_path / "archive")
    archive_store = tmp_path / "archive"
    for source in series:
        original = pydicom.dcmread(source)
        path = stored[str(original.SOPInstanceUID)]
        copy = pydicom.dcmread(next(archive_store.rglob(Path(path).name)))
        assert copy == original
        assert copy.PixelData == original.PixelData
