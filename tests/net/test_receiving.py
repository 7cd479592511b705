"""viewer.net.receiving: the File Meta Information written at the head of each received file
must be byte for byte pydicom's, and what it stands in for is pinned."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
)
from pynetdicom.dsutils import create_file_meta

from viewer.net import receiving

# sha256 of pynetdicom 3.0.4's DIMSEMessage.decode_msg and create_file_meta and pydicom 3's
# write_file_meta_info, which viewer.net.receiving stands in for. When they change this test
# fails: check that the bytes still match (the tests below say whether they do) and that
# decode_msg still calls them once per received data set, then update the hash.
PINNED = "c54dc60d410324e7f7373304bcc294486779e5b38c5514c79f544b1a531ff556"


def test_the_code_it_stands_in_for_is_unchanged() -> None:
    assert receiving.pynetdicom_sources_hash() == PINNED


def pydicom_bytes(sop_class: str, sop_instance: str, syntax: str) -> bytes:
    out = BytesIO()
    write_file_meta_info(out, create_file_meta(sop_class_uid=UID(sop_class),
                                               sop_instance_uid=UID(sop_instance),
                                               transfer_syntax=UID(syntax)))
    return out.getvalue()


@pytest.mark.parametrize(("sop_class", "sop_instance", "syntax"), [
    (CTImageStorage, "1.2.3.4.55", ImplicitVRLittleEndian),  # odd instance: NUL padded
    (CTImageStorage, "1.2.3.4.5", ExplicitVRLittleEndian),  # even everything
    ("1.2.840.10008.5.1.4.1.1.7", "1" * 64, JPEG2000Lossless),  # the longest UID
    ("1.2.840.10008.5.1.4.1.1.128", "2.25.1", "1.2.840.10008.1.2.4.50"),
], ids=["odd-instance", "even", "longest", "short"])
def test_the_file_meta_is_what_pydicom_writes(sop_class: str, sop_instance: str,
                                              syntax: str) -> None:
    meta = receiving.create_file_meta(sop_class_uid=UID(sop_class),
                                      sop_instance_uid=UID(sop_instance),
                                      transfer_syntax=UID(syntax))
    assert isinstance(meta, receiving.FileMeta)  # the fast path, not pydicom's
    out = BytesIO()
    receiving.write_file_meta_info(out, meta)
    assert out.getvalue() == pydicom_bytes(sop_class, sop_instance, syntax)


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI:UserWarning")
@pytest.mark.filterwarnings("ignore:The value length:UserWarning")  # pydicom on assignment
@pytest.mark.parametrize("sop_instance", ["1.2.3.x", "1" * 65, "", "1.2.é"],
                         ids=["letter", "too-long", "empty", "non-ascii"])
def test_anything_but_a_plain_uid_goes_through_pydicom(sop_instance: str) -> None:
    kwargs = {"sop_class_uid": UID(CTImageStorage), "sop_instance_uid": UID(sop_instance),
              "transfer_syntax": UID(ImplicitVRLittleEndian)}
    meta = receiving.create_file_meta(**kwargs)
    assert not isinstance(meta, receiving.FileMeta)
    assert meta == create_file_meta(**kwargs)


def test_install_replaces_the_names_decode_msg_calls() -> None:
    import pynetdicom.dimse_messages as messages

    receiving.install()
    assert messages.create_file_meta is receiving.create_file_meta
    assert messages.write_file_meta_info is receiving.write_file_meta_info
