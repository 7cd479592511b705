"""The conformance statement lists exactly the IODs DICOMization creates (issue 18 item 5)."""

from __future__ import annotations

from viewer.capture.iods import SERIES_OF_KIND
from viewer.capture.sources import MAX_PDF_BYTES
from viewer.net.conformance import CREATED_IODS, conformance_statement


def test_created_iods_in_the_statement_are_those_capture_builds() -> None:
    built = {(str(uid), modality) for modality, uid in SERIES_OF_KIND.values()}
    assert {(uid, modality) for uid, modality, _, _ in CREATED_IODS} == built
    text = conformance_statement()
    for uid, _, syntaxes, _ in CREATED_IODS:
        assert f"`{uid}`" in text
        assert all(f"`{syntax}`" in text for syntax in syntaxes)
    assert f"at most {MAX_PDF_BYTES >> 20} MiB" in text  # the limit the code applies
