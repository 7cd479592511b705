"""measure_hanging runs on its synthetic archive and hangs what the target describes: the CT
chest protocol with the newest prior beside the current study (the time itself is judged by
`bench presentation` on a quiet machine)."""

from __future__ import annotations

import statistics

import pytest

from viewer.reading.benchmark import TARGET_S, measure_hanging


@pytest.mark.timeout(240)
def test_measure_hanging() -> None:
    result = measure_hanging(passes=3, slices=2)
    assert result["protocol"] == "CT chest with prior"
    assert result["first_stage_viewports_filled"] == 2
    assert len(result["passes_s"]) == 3 and all(s > 0 for s in result["passes_s"])
    assert result["median_s"] == statistics.median(result["passes_s"])
    assert result["target_s"] == TARGET_S
    assert result["pass"] is (result["median_s"] <= TARGET_S)
