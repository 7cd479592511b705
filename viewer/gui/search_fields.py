"""What the browser's and the PACS panel's search fields share: the modalities offered, typed
dates as range bounds, typed text as a DICOM wildcard pattern, and the study tables.

Both faces of the search (the archive's index and a PACS's C-FIND) read the fields the same way.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence

from PySide6.QtCore import QAbstractItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

COMMON_MODALITIES = (
    "CT", "MR", "CR", "DX", "US", "MG", "XA", "RF", "NM", "PT", "OT", "SC", "SR", "SEG", "RTSTRUCT",
)


def date_bound(value: str, end: bool) -> str | None:
    """A typed date as a 'YYYYMMDD' bound of a range: '' when empty, None when not a date.

    Accepts YYYY-MM-DD, YYYYMMDD, YYYY.MM.DD, YYYY/MM/DD, and YYYY-MM or YYYY, which stand for
    their first day (`end` False) or last day (`end` True)."""
    value = value.strip()
    if not value:
        return ""
    match = re.fullmatch(r"(\d{4})(?:[-./]?(\d{2})(?:[-./]?(\d{2}))?)?", value)
    if not match:
        return None
    year = int(match[1])
    month = int(match[2]) if match[2] else (12 if end else 1)
    if not 1 <= month <= 12 or year < 1:
        return None
    last = calendar.monthrange(year, month)[1]
    day = int(match[3]) if match[3] else (last if end else 1)
    if not 1 <= day <= last:
        return None
    return f"{year:04d}{month:02d}{day:02d}"


def search_pattern(value: str) -> str:
    """What the user typed as a DICOM wildcard pattern (PS3.4 C.2.2.2.4) matching values that
    begin with it, as typing narrows the list; blanks and commas between words match anything
    (so 'smith john' finds 'SMITH^JOHN')."""
    value = re.sub(r"[\s,]+", "*", value.strip())
    return value if not value or value.endswith("*") else value + "*"


def study_table(owner: QWidget, model: QAbstractItemModel, stretch: int,
                widths: Sequence[tuple[int, int]]) -> QTableView:
    """A read-only table of studies, whole rows selected (several at once), one line a row;
    `stretch` takes the spare width, `widths` gives (column, width in digits)."""
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(owner.fontMetrics().height() + 8)
    table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    digit = owner.fontMetrics().horizontalAdvance("0")
    for column, chars in widths:
        table.setColumnWidth(column, digit * chars)
    return table
