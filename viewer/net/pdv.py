"""Received P-DATA-TF PDUs handed to the DIMSE layer without pynetdicom's per-PDU objects.

Profiled here (py-spy, 300 CT images of 512 KB from storescu into `listen`, 16 KiB PDUs: 32 per
image), pynetdicom's receiving thread spends per P-DATA-TF PDU: a copy of the PDU to bytes, a
P_DATA_TF object and a PresentationDataValueItem per fragment (`PDU.decode`), a P_DATA
primitive, and two queue crossings (the PDU onto `_recv_pdu`, Evt10 onto the state machine's
event queue) before the state machine's DT-2 hands the primitive to DIMSE, all on the thread
storescu waits for.

`EventDrivenDUL._read_pdu_data` (viewer.net.reactor) does DT-2 itself (PS3.8 9.2: Sta6 +
Evt10 -> P-DATA indication, stay in Sta6) with the primitive `decode_p_data` makes, when
nothing would see the difference: the association is in Sta6, no event or PDU waits in the
state machine's queues (so the order is kept), and no handler is bound to EVT_DATA_RECV,
EVT_PDU_RECV or EVT_FSM_TRANSITION (pynetdicom's logging handlers are off unless its logger is
at DEBUG, see viewer.net.association). The primitive holds the same (context ID, value) pairs
as pynetdicom's; a PDU whose items do not tile it exactly, or with an item too short to hold a
message control header, goes through pynetdicom unchanged, which reports it as it always did.
The tests compare the primitives, and `pynetdicom_sources_hash` pins the code this stands in
for.
"""

from __future__ import annotations

import hashlib
import inspect
import struct

from pynetdicom.dul import DULServiceProvider
from pynetdicom.fsm import DT_2, StateMachine
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_primitives import P_DATA

_ITEM_HEADER = struct.Struct(">IB")  # PDV item length, presentation context ID (PS3.8 9.3.5.1)
_PDU_HEADER = 6  # PDU type, reserved, PDU length


def decode_p_data(pdu: bytes | bytearray) -> P_DATA | None:
    """The P-DATA primitive of an encoded P-DATA-TF PDU (header included), as pynetdicom's
    `P_DATA_TF.decode` + `to_primitive` make it; None when pynetdicom must look at it (an item
    that overruns the PDU or holds less than a message control header)."""
    end = len(pdu)
    if end <= _PDU_HEADER:
        return None
    view = memoryview(pdu)
    values = []
    offset = _PDU_HEADER
    while offset < end:
        if offset + _ITEM_HEADER.size > end:
            return None
        length, context_id = _ITEM_HEADER.unpack_from(pdu, offset)
        last = offset + 4 + length
        if length < 2 or last > end:
            return None
        values.append((context_id, bytes(view[offset + _ITEM_HEADER.size:last])))
        offset = last
    primitive = P_DATA()
    primitive.presentation_data_value_list = []
    primitive.presentation_data_value_list.extend(values)  # tuples, as `to_primitive` adds them
    return primitive


def pynetdicom_sources_hash() -> str:
    """sha256 of the pynetdicom code the fast path stands in for: DULServiceProvider's
    _read_pdu_data and _decode_pdu, StateMachine.do_action, DT_2, and P_DATA_TF's
    _generate_items and to_primitive."""
    digest = hashlib.sha256()
    for function in (DULServiceProvider._read_pdu_data, DULServiceProvider._decode_pdu,
                     StateMachine.do_action, DT_2, P_DATA_TF._generate_items,
                     P_DATA_TF.to_primitive):
        digest.update(inspect.getsource(function).encode())
    return digest.hexdigest()
