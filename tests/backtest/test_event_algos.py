"""TWAP and VWAP: slices sum to the parent, carry what a cap left, never read future volume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.event import EventEngine
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import OrderStatus
from alphaloop.execution.algos import slice_quantities, volume_profile
from alphaloop.execution.costs import CostModel

from .test_event_helpers import Script, bars, flat, run

PATTERN = np.array([400.0, 100.0, 100.0, 400.0])  # volume by hour of the day


def _intraday(days: int, rng: np.random.Generator | None = None) -> Panel:
    """Four hourly bars a day (14:00-17:00 UTC) with a U-shaped volume pattern."""
    dates = pd.bdate_range("2024-01-02", periods=days, tz="UTC")
    index = pd.DatetimeIndex([d + pd.Timedelta(hours=h) for d in dates for h in (14, 15, 16, 17)])
    n = len(index)
    volume = np.tile(PATTERN, days) * (1.0 if rng is None else rng.uniform(0.5, 1.5, n))
    price = np.full((n, 1), 50.0)
    fields = {"open": price, "high": price + 1, "low": price - 1, "close": price}
    return Panel(index, ["AAA"], {**fields, "volume": volume[:, None]})


def _children(result, parent_id: int) -> list:
    return [o for o in result.orders if o.parent_id == parent_id]


def test_twap_slices_equally_one_per_bar() -> None:
    result, script = run(bars(flat(8)), {0: lambda c: c.twap("AAA", 1000, 4)})
    parent = script.out[0]
    children = _children(result, parent.order_id)
    assert [c.quantity for c in children] == [250.0] * 4
    assert result.trades["shares"].tolist() == [250.0] * 4
    assert list(result.trades["time"]) == list(result.equity.index[1:5])
    assert parent.status is OrderStatus.FILLED
    assert parent.filled_quantity == 1000.0
    assert [type(e).__name__ for e in parent.events] == [
        "OrderSubmitted",
        "OrderAccepted",
        *["OrderPartiallyFilled"] * 3,
        "OrderFilled",
    ]
    assert parent in result.orders
    assert [e for e in script.events if e.order_id == parent.order_id] == parent.events


def test_twap_carries_what_the_cap_left_and_cancels_the_rest() -> None:
    panel = bars([(50.0, 51.0, 49.0, 50.0, 1000.0)] * 6)
    result, script = run(panel, {0: lambda c: c.twap("AAA", -600, 3)}, participation=0.1,
                         allow_short=True)  # fmt: skip
    parent = script.out[0]
    children = _children(result, parent.order_id)
    assert [c.quantity for c in children] == [200.0, 300.0, 400.0]
    assert result.trades["shares"].tolist() == [-100.0] * 3
    assert parent.status is OrderStatus.CANCELED
    assert parent.filled_quantity == 300.0
    assert "300 shares unfilled" in parent.events[-1].reason


def test_vwap_follows_the_volume_profile_of_past_days() -> None:
    panel = _intraday(8)
    decided = 4 * 5 - 1  # the last bar of day 5: fills over the 4 bars of day 6
    result, script = run(panel, {decided: lambda c: c.vwap("AAA", 1000, 4, lookback=3)})
    children = _children(result, script.out[decided].order_id)
    assert [c.quantity for c in children] == pytest.approx([400.0, 100.0, 100.0, 400.0])
    assert sum(c.quantity for c in children) == 1000.0
    rows = np.searchsorted(result.equity.index, result.trades["time"])
    assert rows.tolist() == [20, 21, 22, 23]


@pytest.mark.parametrize("seed", range(5))
def test_vwap_never_reads_volume_after_the_decision(seed: int) -> None:
    rng = np.random.default_rng(seed)
    panel = _intraday(10, rng)
    decided = int(rng.integers(8, 30))
    bars_ = int(rng.integers(1, 6))
    volume = np.asarray(panel["volume"])[:, 0]
    weights = volume_profile(
        volume, panel.index, decided, [decided + 1 + k for k in range(bars_)], 5
    )
    changed = volume.copy()
    changed[decided + 1 :] = rng.uniform(1, 1e6, len(volume) - decided - 1)
    again = volume_profile(
        changed, panel.index, decided, [decided + 1 + k for k in range(bars_)], 5
    )
    np.testing.assert_array_equal(weights, again)
    # and through the engine: the child orders are the same
    fields = {f: np.asarray(panel[f]) for f in panel.field_names}
    other = Panel(panel.index, panel.assets, {**fields, "volume": changed[:, None]})
    plans = []
    for p in (panel, other):
        strategy = Script({decided: lambda c: c.vwap("AAA", 777, bars_)})
        result = EventEngine(p, strategy, costs=CostModel.zero()).run()
        plans.append([o.quantity for o in _children(result, strategy.out[decided].order_id)])
    assert plans[0] == plans[1]
    assert sum(plans[0]) == pytest.approx(777.0, rel=1e-12)


def test_vwap_on_daily_bars_uses_the_weekday() -> None:
    index = pd.bdate_range("2024-01-01", periods=15, tz="UTC")  # Mon 1 Jan .. Fri 19 Jan
    volume = np.where(index.day_of_week == 0, 300.0, 100.0)
    w = volume_profile(volume, index, 9, [10, 11, 12], 2)  # Mon, Tue, Wed of week 3
    np.testing.assert_allclose(w, [300.0, 100.0, 100.0])


def test_slices_sum_to_the_parent_exactly() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        q = float(rng.uniform(1, 1e6))
        w = rng.uniform(0, 1, int(rng.integers(1, 20)))
        lot = float(rng.choice([0.0, 1.0, 100.0]))
        out = slice_quantities(q, w, lot)
        assert out.sum() == pytest.approx(q, rel=1e-15, abs=1e-9)
        if lot:
            assert np.allclose(out[:-1] / lot, np.round(out[:-1] / lot))
    with pytest.raises(BacktestError, match="not all 0"):
        slice_quantities(10.0, np.zeros(3))


def test_explicit_profile_and_bad_profiles() -> None:
    result, script = run(
        bars(flat(6)), {0: lambda c: c.vwap("AAA", 100, 2, profile=np.array([3.0, 1.0]))}
    )
    assert [c.quantity for c in _children(result, script.out[0].order_id)] == [75.0, 25.0]
    with pytest.raises(BacktestError, match="needs 2 weights"):
        run(bars(flat(6)), {0: lambda c: c.vwap("AAA", 100, 2, profile=np.ones(3))})
    with pytest.raises(BacktestError, match="bars >= 1"):
        run(bars(flat(6)), {0: lambda c: c.twap("AAA", 100, 0)})
