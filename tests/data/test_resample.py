"""Resampling minute bars: OHLCV aggregation, stamps at availability, no lookahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.backtest.lookahead import scan_lookahead
from alphaloop.data.calendars import TradingCalendar
from alphaloop.data.panel import Panel
from alphaloop.data.resample import resample
from alphaloop.errors import ConfigError

MIN = 60 * 10**9
NYSE = TradingCalendar("XNYS")


def _minutes(start: str, end: str, n_assets: int = 2, seed: int = 0, holes: float = 0.0) -> Panel:
    """Random-walk minute bars on the NYSE sessions, ``holes`` of the cells missing."""
    stamps = NYSE.bar_stamps(start, end, "1min")
    index = pd.DatetimeIndex(stamps.view("datetime64[ns]")).tz_localize("UTC")
    rng = np.random.default_rng(seed)
    shape = (len(index), n_assets)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, shape), axis=0))
    open_ = close * np.exp(rng.normal(0, 5e-4, shape))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 1e-3, shape))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 1e-3, shape))
    volume = rng.integers(1, 1000, shape).astype(float)
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    if holes:
        missing = rng.random(shape) < holes
        fields = {k: np.where(missing, np.nan, v) for k, v in fields.items()}
    assets = tuple(f"A{i}" for i in range(n_assets))
    return Panel(index, assets, fields)


def test_ohlcv_aggregation_by_hand() -> None:
    index = pd.date_range("2024-01-02 14:30", periods=10, freq="min", tz="UTC")
    close = np.arange(1.0, 11.0)[:, None]
    fields = {
        "open": close - 0.5,
        "high": close + 1,
        "low": close - 1,
        "close": close,
        "volume": np.full((10, 1), 10.0),
        "spread": close / 100,
    }
    fields["close"][4, 0] = np.nan  # the last minute of the first bucket is missing
    out = resample(Panel(index, ("X",), fields), "5min", calendar="XNYS")
    p = out.panel
    assert list(p.index) == [
        pd.Timestamp("2024-01-02 14:35", tz="UTC"),
        pd.Timestamp("2024-01-02 14:40", tz="UTC"),
    ]
    assert p.field("open")[:, 0].tolist() == [0.5, 5.5]
    assert p.field("high")[:, 0].tolist() == [6.0, 11.0]
    assert p.field("low")[:, 0].tolist() == [0.0, 5.0]
    assert p.field("close")[:, 0].tolist() == [4.0, 10.0]  # the last present close
    assert p.field("volume")[:, 0].tolist() == [50.0, 50.0]
    assert p.field("spread")[:, 0].tolist() == [0.05, 0.10]
    assert out.available_at.tolist() == [int(t.value) for t in p.index]


def test_buckets_follow_sessions_early_closes_and_drop_outside_bars() -> None:
    panel = _minutes("2024-11-27", "2024-11-29")
    pre = pd.Timestamp("2024-11-27 13:00", tz="UTC")
    extra = Panel(
        panel.index.append(pd.DatetimeIndex([pre])).sort_values(),
        panel.assets,
        {k: np.vstack([panel.field(k)[:1], panel.field(k)]) for k in panel.field_names},
    )
    hourly = resample(extra, "1h", calendar="XNYS")
    assert hourly.dropped == 1
    stamps = [f"{t:%m-%d %H:%M}" for t in hourly.panel.index]
    assert stamps[:7] == [
        "11-27 15:30",
        "11-27 16:30",
        "11-27 17:30",
        "11-27 18:30",
        "11-27 19:30",
        "11-27 20:30",
        "11-27 21:00",
    ]
    assert stamps[-1] == "11-29 18:00"  # the 13:00 New York early close cuts the last bar
    daily = resample(panel, "daily", calendar="XNYS")
    assert [f"{t:%Y-%m-%d}" for t in daily.panel.index] == ["2024-11-27", "2024-11-29"]
    assert daily.available_at.tolist() == [
        pd.Timestamp("2024-11-27 21:00", tz="UTC").value,
        pd.Timestamp("2024-11-29 18:00", tz="UTC").value,
    ]
    np.testing.assert_allclose(daily.panel.field("volume").sum(0), panel.field("volume").sum(0))
    assert daily.panel.frequency == "daily"


def test_end_stamped_input_lands_in_the_same_buckets() -> None:
    panel = _minutes("2024-03-04", "2024-03-04")
    shifted = Panel(
        panel.index + pd.Timedelta(minutes=1),
        panel.assets,
        {k: panel.field(k) for k in panel.field_names},
    )
    a = resample(panel, "15min", calendar="XNYS")
    b = resample(shifted, "15min", calendar="XNYS", label="end")
    assert a.panel.equals(b.panel)
    np.testing.assert_array_equal(a.available_at, b.available_at)


def _known_by(panel: Panel, cut: int) -> Panel:
    """The minute bars that had closed by instant ``cut`` (start stamps: stamp + 1 min)."""
    n = int(np.searchsorted(panel.index.asi8 + MIN, cut, side="right"))
    return panel.iloc(slice(0, n))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    frequency=st.sampled_from(["5min", "15min", "1h", "daily"]),
    cut_at=st.floats(0.02, 0.98),
)
def test_no_resampled_value_uses_a_minute_after_its_availability(
    seed: int, frequency: str, cut_at: float
) -> None:
    panel = _minutes("2024-11-25", "2024-11-29", seed=seed, holes=0.05)
    full = resample(panel, frequency, calendar="XNYS")
    # every bar is available no earlier than the close of its last minute
    minute_ends = panel.index.asi8 + MIN
    bar_of = np.searchsorted(full.available_at, minute_ends, side="left")
    assert (bar_of < len(full.available_at)).all()
    # ... and each bar's volume is made of exactly the minutes that closed by then
    volume = panel.field("volume")
    expected = np.zeros(full.panel.shape)
    np.add.at(expected, bar_of, np.nan_to_num(volume))
    seen = np.zeros(full.panel.shape, dtype=bool)
    np.logical_or.at(seen, bar_of, ~np.isnan(volume))
    np.testing.assert_allclose(full.panel.field("volume"), np.where(seen, expected, np.nan))
    # truncation: the bars known at the cut come out the same from the minutes known then
    cut = int(panel.index.asi8[int(cut_at * (len(panel.index) - 1))]) + MIN // 2 * (seed % 3)
    known = full.available_at <= cut
    if not known.any():
        return
    part = resample(_known_by(panel, cut), frequency, calendar="XNYS")
    k = int(known.sum())
    np.testing.assert_array_equal(part.available_at[:k], full.available_at[:k])
    for name in panel.field_names:
        np.testing.assert_array_equal(part.panel.field(name)[:k], full.panel.field(name)[:k])


def _aligned(frequency: str, by_stamp: bool = False):  # type: ignore[no-untyped-def]
    def fn(panel: Panel) -> dict[str, np.ndarray]:
        out = resample(panel, frequency, calendar="XNYS")
        if by_stamp:  # the canary: a bar used from its stamp, as if known at the bucket's start
            starts = out.panel.index - pd.Timedelta(frequency)
            pos = np.searchsorted(starts.asi8, panel.index.asi8, side="right") - 1
            values = out.panel.field("close")[np.clip(pos, 0, None)]
            return {"close": np.where((pos >= 0)[:, None], values, np.nan)}
        return {"close": out.align(panel.index, "close")}

    return fn


def test_lookahead_scan_of_resampled_bars_aligned_to_minutes() -> None:
    panel = _minutes("2024-11-25", "2024-11-26", seed=3)
    kw = {"n_points": 12, "warmups": (), "min_history": 60, "max_decision_points": 40}
    clean = scan_lookahead(_aligned("15min"), panel, **kw)  # type: ignore[arg-type]
    assert clean.clean, clean.summary()
    caught = scan_lookahead(_aligned("15min", by_stamp=True), panel, **kw)  # type: ignore[arg-type]
    assert not caught.clean


def test_bad_targets_are_refused() -> None:
    panel = _minutes("2024-03-04", "2024-03-04")
    with pytest.raises(ConfigError, match="not finer"):
        resample(panel, "1min")
    with pytest.raises(ConfigError, match="bar size"):
        resample(panel, "weekly")
    with pytest.raises(ConfigError, match="label"):
        resample(panel, "5min", label="middle")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no bar"):
        resample(panel, "5min", calendar="XTKS")  # New York hours are not Tokyo's
