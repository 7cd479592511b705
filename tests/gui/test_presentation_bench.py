"""The viewport benchmark of issue 17's 2 ms target runs, applies its state (10 graphics, 3
texts and their anchor lines drawn as items) and reports per pass; the timing itself is judged
by `dicom-viewer bench` on a quiet machine, not here."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pytestqt")

from viewer.gui.benchmark_presentation import TARGET_MS, measure_viewport_presentation  # noqa: E402


def test_measure_viewport_presentation(qtbot: Any) -> None:
    result = measure_viewport_presentation(passes=2, repeats=3)
    assert result["applied"] is True
    assert result["items"] == 16  # 10 graphics, 3 texts, the 3 texts' anchor lines
    assert len(result["passes"]) == 2
    for row in result["passes"]:
        assert row["plain_ms"] > 0 and row["presentation_ms"] > 0
        assert row["added_ms"] == pytest.approx(row["presentation_ms"] - row["plain_ms"],
                                                abs=0.002)
    assert result["target_ms"] == TARGET_MS
    assert result["passed"] == (result["median_added_ms"] <= TARGET_MS)
