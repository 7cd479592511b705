"""C-STORE messages framed into P-DATA-TF PDUs without pynetdicom's per-fragment objects.

Profiled here (py-spy, 300 CT images of 512 KB): pynetdicom spends per C-STORE
- on a C-STORE response (our Storage SCP, and the SCP a retrieve runs), about 0.7 ms building a
  pydicom Dataset for a command set of seven elements (every value validated on assignment) and
  encoding it twice (once to learn the group length);
- on a C-STORE request sent from a file (`send`), three copies of every fragment (read,
  prefixed with its message control header, copied again into the PDU) and a P_DATA and a
  P_DATA_TF object per fragment: 32 fragments per image at storescp's 16 KiB PDUs.

`FramingDIMSE` is pynetdicom's DIMSE service provider whose `send_msg` does those two cases
itself, when nothing would see the difference (no handler bound to EVT_DIMSE_SENT or
EVT_PDU_SENT: pynetdicom's logging handlers are off unless its logger is at DEBUG, see
viewer.net.association) and the association is in the state where P-DATA goes straight to the
socket (`EventDrivenDUL.send_encoded`):
- a C-STORE response with a status and at most an ASCII ErrorComment is encoded by
  `encode_store_response` (PS3.7 9.3.1.2, Implicit VR Little Endian, PS3.7 6.3.1);
- the data set of a C-STORE request sent from a file is framed by `data_set_pdus`, fragments
  read straight into the buffer written to the socket.
Everything else, and every other message, goes through pynetdicom unchanged. The PDUs are
byte for byte the ones pynetdicom makes (same fragment sizes, PS3.8 9.3.5 and Annex E); the
tests compare them, and `pynetdicom_sources_hash` pins the pynetdicom code this stands in for.
"""

from __future__ import annotations

import hashlib
import inspect
import struct
from collections.abc import Generator
from pathlib import Path
from typing import Any, cast

import pynetdicom.association
import pynetdicom.dimse_messages
from pynetdicom import evt
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_messages import DIMSEMessage
from pynetdicom.dimse_primitives import C_STORE

from viewer.net.reactor import COALESCE_BYTES, EventDrivenDUL

_PDV_HEADER = struct.Struct(">BBIIBB")  # PDU type, reserved, PDU length, item length, id, MCH
_ELEMENT = struct.Struct("<HHI")  # Implicit VR Little Endian: group, element, value length
_COMMAND = 0x01  # message control header bits (PS3.8 E.2): command, not data set
_LAST = 0x02
_C_STORE_RQ = 0x0001
_C_STORE_RSP = 0x8001
_DATA_SET = 0x0001  # CommandDataSetType: any value but 0x0101 says a data set follows
_NO_DATA_SET = 0x0101


def install() -> None:
    """Every association created from now on in this process uses `FramingDIMSE`."""
    pynetdicom.association.DIMSEServiceProvider = FramingDIMSE  # type: ignore[misc]


class FramingDIMSE(DIMSEServiceProvider):
    """pynetdicom's DIMSE service provider, framing C-STORE responses and data sets sent from
    files itself (module docstring)."""

    def send_msg(self, primitive: Any, context_id: int) -> None:
        dul = self.dul
        if (isinstance(dul, EventDrivenDUL) and isinstance(primitive, C_STORE)
                and not self.assoc.get_handlers(evt.EVT_DIMSE_SENT)
                and not self.assoc.get_handlers(evt.EVT_PDU_SENT)):
            max_pdu = self.maximum_pdu_size
            if primitive.MessageIDBeingRespondedTo is not None:
                command = encode_store_response(primitive)
                fits = command is not None and (max_pdu == 0 or len(command) <= max_pdu - 6)
                if command is not None and fits and dul.send_encoded(
                        [_pdv(context_id, _COMMAND | _LAST, command)]):
                    return
            elif getattr(primitive, "_dataset_path", None) is not None and max_pdu:
                self._send_request_from_file(primitive, context_id, max_pdu)
                return
        super().send_msg(primitive, context_id)

    def _send_request_from_file(self, primitive: C_STORE, context_id: int, max_pdu: int) -> None:
        """The command set, then the data set framed here; the whole message through
        pynetdicom when the DUL cannot take it (not in Sta6)."""
        encoded = encode_store_request(primitive)
        if encoded is not None and len(encoded) <= max_pdu - 6:
            command = [_pdv(context_id, _COMMAND | _LAST, encoded)]
        else:
            command = _command_pdus(primitive, context_id, max_pdu)
        path, offset = cast(tuple[Path, int], primitive._dataset_path)
        batches = data_set_pdus(path, offset, context_id, max_pdu)
        dul = cast(EventDrivenDUL, self.dul)
        if not dul.send_encoded([*command, next(batches)]):
            batches.close()
            super().send_msg(primitive, context_id)
            return
        for batch in batches:
            if not dul.send_encoded([batch]):
                break  # the association is going down (aborted): the rest has nowhere to go


def _command_pdus(primitive: C_STORE, context_id: int, max_pdu: int) -> list[bytes]:
    """The command set of a C-STORE request as pynetdicom encodes it, as PDUs."""
    message = pynetdicom.dimse_messages.C_STORE_RQ()
    message.primitive_to_message(primitive)
    message.context_id = context_id
    command = []
    for pdu in message.encode_msg(context_id, max_pdu):  # command fragments come first
        fragment = pdu.presentation_data_value_list[0][1]
        command.append(_pdv(context_id, fragment[0], fragment[1:]))
        if fragment[0] & _LAST:
            break
    return command


def _pdv(context_id: int, control: int, fragment: bytes) -> bytes:
    """One P-DATA-TF PDU holding one presentation data value item (PS3.8 9.3.5.1)."""
    n = len(fragment)
    return _PDV_HEADER.pack(0x04, 0, n + 6, n + 2, context_id, control) + fragment


def data_set_pdus(path: Path, offset: int, context_id: int,
                  max_pdu: int) -> Generator[memoryview, None, None]:
    """The data set of `path` from `offset` to its end as P-DATA-TF PDUs with fragments of
    `max_pdu - 6` bytes, as pynetdicom cuts them; each batch of about COALESCE_BYTES is one
    buffer, the fragments read straight into it behind their headers."""
    size = max_pdu - 6
    per_batch = max(1, COALESCE_BYTES // size)
    with open(path, "rb", buffering=0) as f:
        length = f.seek(0, 2) - offset
        f.seek(offset)
        count = max(1, -(-length // size))
        for first in range(0, count, per_batch):
            last = min(count, first + per_batch)
            sizes = [min(size, length - i * size) for i in range(first, last)]
            buffer = bytearray(sum(sizes) + _PDV_HEADER.size * len(sizes))
            view = memoryview(buffer)
            at = 0
            for i, n in enumerate(sizes, first):
                control = _LAST if i == count - 1 else 0
                _PDV_HEADER.pack_into(buffer, at, 0x04, 0, n + 6, n + 2, context_id, control)
                at += _PDV_HEADER.size
                _read_into(f, view[at:at + n], path)
                at += n
            yield view


def _read_into(f: Any, view: memoryview, path: Path) -> None:
    while view:
        got = f.readinto(view)
        if not got:
            raise OSError(f"{path}: the file became shorter while it was sent")
        view = view[got:]


def encode_store_response(primitive: C_STORE) -> bytes | None:
    """The command set of a C-STORE response (PS3.7 Table 9.3-2), encoded as pynetdicom's
    pydicom path does; None when it holds anything but the UIDs, the status and an ASCII
    ErrorComment (OffendingElement, a missing UID): those go through pynetdicom."""
    class_uid, instance_uid = primitive.AffectedSOPClassUID, primitive.AffectedSOPInstanceUID
    status, responding_to = primitive.Status, primitive.MessageIDBeingRespondedTo
    if status is None or responding_to is None or primitive.OffendingElement or \
            not class_uid or not instance_uid:
        return None
    try:
        comment = (primitive.ErrorComment or "").encode("ascii")
    except UnicodeEncodeError:
        return None
    return _command_set(
        _text(0x0002, str(class_uid).encode("ascii"), b"\0"),
        _us(0x0100, _C_STORE_RSP),
        _us(0x0120, responding_to),
        _us(0x0800, _NO_DATA_SET),
        _us(0x0900, status),
        _text(0x0902, comment, b" ") if comment else b"",
        _text(0x1000, str(instance_uid).encode("ascii"), b"\0"),
    )


def encode_store_request(primitive: C_STORE) -> bytes | None:
    """The command set of a C-STORE request with a data set (PS3.7 Table 9.3-1), encoded as
    pynetdicom's pydicom path does; None when it names a C-MOVE originator or misses a UID:
    those go through pynetdicom."""
    class_uid, instance_uid = primitive.AffectedSOPClassUID, primitive.AffectedSOPInstanceUID
    message_id, priority = primitive.MessageID, primitive.Priority
    if message_id is None or priority is None or not class_uid or not instance_uid or \
            primitive.MoveOriginatorApplicationEntityTitle or \
            primitive.MoveOriginatorMessageID is not None:
        return None
    return _command_set(
        _text(0x0002, str(class_uid).encode("ascii"), b"\0"),
        _us(0x0100, _C_STORE_RQ),
        _us(0x0110, message_id),
        _us(0x0700, priority),
        _us(0x0800, _DATA_SET),
        _text(0x1000, str(instance_uid).encode("ascii"), b"\0"),
    )


def _command_set(*elements: bytes) -> bytes:
    """Command Group Length (0000,0000) and then `elements`, in tag order (PS3.7 6.3.1)."""
    body = b"".join(elements)
    return _ELEMENT.pack(0, 0, 4) + struct.pack("<I", len(body)) + body


def _us(element: int, value: int) -> bytes:
    return _ELEMENT.pack(0, element, 2) + struct.pack("<H", value)


def _text(element: int, value: bytes, pad: bytes) -> bytes:
    if len(value) % 2:
        value += pad
    return _ELEMENT.pack(0, element, len(value)) + value


def pynetdicom_sources_hash() -> str:
    """sha256 of the pynetdicom code `FramingDIMSE` stands in for: DIMSEServiceProvider.send_msg,
    DIMSEMessage.encode_msg and DIMSEMessage.primitive_to_message."""
    digest = hashlib.sha256()
    for method in (DIMSEServiceProvider.send_msg, DIMSEMessage.encode_msg,
                   DIMSEMessage.primitive_to_message):
        digest.update(inspect.getsource(method).encode())
    return digest.hexdigest()
