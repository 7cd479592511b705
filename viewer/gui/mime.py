"""The drag-and-drop format for a series: from the browser's or the reading area's thumbnails
onto a viewport. One definition, so every drag source and drop target agree."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData

SERIES_MIME = "application/x-dicom-viewer-series"  # JSON {"study": uid, "series": uid}


def series_mime(study_uid: str, series_uid: str) -> QMimeData:
    data = QMimeData()
    data.setData(SERIES_MIME, json.dumps({"study": study_uid, "series": series_uid}).encode())
    return data


def dropped_series(data: QMimeData) -> tuple[str, str] | None:
    """(study UID, series UID) carried by `data`, or None when it holds no series."""
    if not data.hasFormat(SERIES_MIME):
        return None
    try:
        payload = json.loads(bytes(data.data(SERIES_MIME).data()).decode())
        return str(payload["study"]), str(payload["series"])
    except (ValueError, KeyError, TypeError):
        return None
