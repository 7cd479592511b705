"""A validation report as a table: one row per finding (a file's, then the series' and the
study's), and that table written as CSV or as an HTML page. The findings panel shows these
rows; its exports are these writers.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from viewer.quality.findings import ValidationReport

COLUMNS = ("Severity", "File", "Tag", "Keyword", "Module", "Message")


@dataclass(frozen=True)
class FindingRow:
    """One finding as a row; `file` is the file's path, or "Series <UID>" / "Study <UID>" for
    a consistency finding; `sop_instance_uid` is "" for those, `series_instance_uid` is
    that of a series finding ("" otherwise)."""

    severity: str
    file: str
    tag: str
    keyword: str
    module: str
    message: str
    sop_instance_uid: str = ""
    series_instance_uid: str = ""

    def cells(self) -> tuple[str, ...]:
        return (self.severity, self.file, self.tag, self.keyword, self.module, self.message)


def finding_rows(report: ValidationReport) -> list[FindingRow]:
    """Every finding of the report: files in their order, then series and study findings."""
    rows = [FindingRow(f.severity, r.path, f.tag, f.keyword, f.module, f.message,
                       r.sop_instance_uid)
            for r in report.files for f in r.findings]
    for s in report.study_findings:
        where = (f"Series {s.series_instance_uid}" if s.series_instance_uid
                 else f"Study {s.study_instance_uid}")
        rows.append(FindingRow(s.severity, where, "", "", s.kind, s.message,
                               series_instance_uid=s.series_instance_uid))
    return rows


def summary_text(report: ValidationReport) -> str:
    """'3 errors in 2 files, 1 warning' (study findings counted, not as files)."""
    rows = finding_rows(report)
    errors = [r for r in rows if r.severity == "error"]
    warnings = len(rows) - len(errors)
    files = len({r.file for r in errors if r.sop_instance_uid})
    if not rows:
        return f"no findings in {len(report.files)} files"
    parts = []
    if errors:
        where = f" in {files} file{'s' * (files != 1)}" if files else ""
        parts.append(f"{len(errors)} error{'s' * (len(errors) != 1)}{where}")
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    return ", ".join(parts)


def write_csv(rows: Sequence[FindingRow], path: Path) -> None:
    """The rows as CSV (UTF-8, a header line, RFC 4180 quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(r.cells() for r in rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_html(rows: Sequence[FindingRow], path: Path, title: str) -> None:
    """The rows as a self-contained HTML table. Every text is escaped: DICOM text (names,
    descriptions, dciodvfy's quotes of values) may hold '<' and '&'."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "\n".join(
        f'<tr class="{html.escape(r.severity)}">'
        + "".join(f"<td>{html.escape(c)}</td>" for c in r.cells()) + "</tr>"
        for r in rows)
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px;text-align:left;vertical-align:top}"
        "tr.error td:first-child{color:#b00}tr.warning td:first-child{color:#a60}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
        "</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
