"""The span after a model's knowledge cut-off."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from alphaloop.llm import post_cutoff_span


def _days(start: str, n: int) -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=n)


def test_span_starts_the_day_after_the_cutoff() -> None:
    times = _days("2023-01-02", 300)
    span = post_cutoff_span(times, dt.date(2023, 3, 31), min_bars=20)
    assert span.available
    assert span.start == pd.Timestamp("2023-04-03")  # 31 March is a Friday: before the cut-off
    assert span.end == times[-1]
    assert span.n_bars == int((times > pd.Timestamp("2023-03-31")).sum())
    assert span.as_dict()["start"] == "2023-04-03"


def test_no_cutoff_no_span() -> None:
    span = post_cutoff_span(_days("2023-01-02", 300), None)
    assert not span.available
    assert span.reason is not None
    assert "no knowledge cut-off" in span.reason


def test_data_ending_before_the_cutoff_says_so() -> None:
    span = post_cutoff_span(_days("2010-01-04", 100), dt.date(2024, 6, 1))
    assert not span.available
    assert span.n_bars == 0
    assert span.reason is not None
    assert "before the cut-off" in span.reason


def test_too_few_bars_after_the_cutoff() -> None:
    times = _days("2023-01-02", 100)
    span = post_cutoff_span(times, times[-11].date(), min_bars=63)
    assert not span.available
    assert span.n_bars == 10
    assert span.reason is not None
    assert "only 10" in span.reason


def test_tz_aware_times_and_bad_min_bars() -> None:
    times = _days("2023-01-02", 200).tz_localize("UTC")
    assert post_cutoff_span(times, dt.date(2023, 2, 1), min_bars=5).available
    with pytest.raises(ValueError, match="min_bars"):
        post_cutoff_span(times, dt.date(2023, 2, 1), min_bars=0)
