"""The conformance statement in docs/ is what the code generates (issue 6 item 9), and it
lists what the Storage SCP really accepts."""

from __future__ import annotations

from pathlib import Path

from viewer.net.conformance import conformance_statement
from viewer.net.sop_classes import SCP_TRANSFER_SYNTAXES, storage_scp_contexts

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance-statement.md"


def test_the_statement_in_the_repository_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == conformance_statement(), (
        "docs/conformance-statement.md is stale: run "
        "`python -m viewer.net.conformance --write docs/conformance-statement.md`"
    )


def test_every_negotiated_storage_context_is_listed() -> None:
    text = conformance_statement()
    for context in storage_scp_contexts():
        assert f"`{context.abstract_syntax}`" in text
    for uid, _ in SCP_TRANSFER_SYNTAXES:
        assert f"`{uid}`" in text
