"""The memory benchmark's arithmetic: RSS once warm and its growth afterwards."""

from __future__ import annotations

import pytest

from bench.memory import at_warm, growth_percent

SAMPLES = [(0.0, 30.0), (30.0, 38.0), (60.0, 40.0), (300.0, 41.0), (600.0, 42.0)]


def test_rss_is_read_once_warm_and_growth_from_there() -> None:
    assert at_warm(SAMPLES) == 40.0
    assert growth_percent(SAMPLES) == pytest.approx(5.0)
    assert growth_percent(SAMPLES, warm=0.0) == pytest.approx(40.0)


def test_too_few_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="fewer than two samples"):
        growth_percent(SAMPLES, warm=601.0)
    with pytest.raises(ValueError, match="no sample"):
        at_warm(SAMPLES, warm=601.0)
