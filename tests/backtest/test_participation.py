"""Participation caps in the vectorized simulator: the event engine where their models
coincide, the documented difference where they do not, the cap as a property, bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphaloop.backtest import StrategySpec, simulate
from alphaloop.backtest.event import Context, EventEngine, Strategy, TargetWeightsStrategy
from alphaloop.backtest.vectorized import SimulationResult, simulate_many
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError, SpecError
from alphaloop.execution.costs import CostModel

ASSETS = ("AAA", "BBB", "CCC")


def intraday_panel(seed: int, n_rows: int = 80, log_volume: float = 9.5) -> Panel:
    """Minute bars inside one UTC day (DAY orders work through all of them), with volume."""
    rng = np.random.default_rng(seed)
    shape = (n_rows, len(ASSETS))
    start = rng.uniform(20.0, 100.0, len(ASSETS))
    close = start * np.exp(np.cumsum(rng.normal(0.0, 0.004, shape), axis=0))
    prev = np.vstack([start, close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.002, shape))
    fields = {
        "open": open_,
        "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999,
        "close": close,
        "volume": np.round(rng.lognormal(log_volume, 0.3, shape)),
    }
    index = pd.date_range("2024-01-03 14:00", periods=n_rows, freq="1min", tz="UTC")
    return Panel(index, ASSETS, fields)


def spaced_targets(rng: np.random.Generator, n_rows: int, every: int, gross: float) -> np.ndarray:
    """Full rows of long weights summing to ``gross`` every ``every`` bars, NaN elsewhere."""
    targets = np.full((n_rows, len(ASSETS)), np.nan)
    for r in range(0, n_rows - 10, every):
        targets[r] = rng.dirichlet(np.ones(len(ASSETS))) * gross
    return targets


def traded_per_bar(result: SimulationResult, panel: Panel) -> np.ndarray:
    """Shares traded per (bar, asset), summed over the bar's fills."""
    out = np.zeros(panel.shape)
    trades = result.trades
    rows = panel.index.get_indexer(pd.DatetimeIndex(trades["time"]))
    cols = pd.Index(panel.assets).get_indexer(trades["asset"].astype(str))
    np.add.at(out, (rows, cols), np.abs(trades["shares"].to_numpy()))
    return out


def assert_same_run(vec: SimulationResult, ev: SimulationResult) -> None:
    atol = 1e-9 * vec.initial_capital
    np.testing.assert_allclose(ev.equity.to_numpy(), vec.equity.to_numpy(), rtol=0, atol=atol)
    assert len(ev.trades) == len(vec.trades)
    for name in ("shares", "price", "cash_flow"):
        np.testing.assert_allclose(
            ev.trades[name].to_numpy(), vec.trades[name].to_numpy(), rtol=1e-9, atol=1e-6
        )


# -- the event engine, where the two models coincide -----------------------------------


@pytest.mark.parametrize(
    ("fills", "max_leverage", "seed"),
    [("next_open", 1.0, 1), ("next_close", 1.0, 2), ("next_open", 2.0, 3), ("next_close", 2.0, 4)],
)
def test_capped_rebalances_equal_the_event_engine(
    fills: str, max_leverage: float, seed: int
) -> None:
    panel = intraday_panel(seed)
    targets = spaced_targets(np.random.default_rng(seed), panel.n_times, 15, 0.9)
    kw: dict[str, Any] = {
        "fills": fills, "costs": CostModel(), "max_leverage": max_leverage, "participation": 0.2,
    }  # fmt: skip
    vec = simulate(panel, targets, **kw)
    ev = EventEngine(panel, TargetWeightsStrategy(targets), **kw).run()
    assert_same_run(vec, ev)
    # the cap binds: fills of one rebalance spread over several bars, at the cap
    traded = traded_per_bar(vec, panel)
    at_cap = np.isclose(traded, 0.2 * panel["volume"], rtol=1e-12) & (traded > 0)
    assert at_cap.sum() >= 5
    uncapped = simulate(panel, targets, **{**kw, "participation": None})
    assert len(vec.trades) > len(uncapped.trades)


class ReplayOrders(Strategy):
    """Market orders (GTC) of a (time, asset) array of signed share quantities."""

    def __init__(self, orders: np.ndarray) -> None:
        self.orders = orders

    def on_bar(self, ctx: Context, row: int) -> None:
        for j, q in enumerate(self.orders[row]):
            if np.isfinite(q) and q != 0.0:
                ctx.order(ctx.assets[j], float(q))


@pytest.mark.parametrize("fills", ["next_open", "next_close"])
def test_capped_share_orders_equal_the_event_engines_gtc_orders(fills: str) -> None:
    panel = intraday_panel(11, log_volume=7.0)
    orders = np.full(panel.shape, np.nan)
    orders[0] = [3000.0, 2000.0, 0.0]
    orders[20] = [-3000.0, 0.0, 2500.0]
    orders[40] = [0.0, -2000.0, -2500.0]
    kw: dict[str, Any] = {"fills": fills, "costs": CostModel(), "participation": 0.3}
    vec = simulate(panel, orders, kind="orders", **kw)
    ev = EventEngine(panel, ReplayOrders(orders), **kw).run()
    assert_same_run(vec, ev)
    assert len(vec.trades) > 8  # each order took several bars
    assert np.allclose(vec.trades.groupby("asset", observed=True)["shares"].sum(), 0.0)


def test_daily_remainders_carry_where_the_event_engines_day_legs_expire() -> None:
    """The documented difference: a rebalance leg of the event engine is a DAY order."""
    index = pd.date_range("2024-01-02", periods=4, freq="D", tz="UTC")
    ones = np.ones((4, 1))
    panel = Panel(index, ("AAA",), {
        "open": 100.0 * ones, "close": 100.0 * ones, "volume": 1000.0 * ones,
    })  # fmt: skip
    targets = np.full((4, 1), np.nan)
    targets[0] = 0.5  # 5,000 shares of 100 on 1e6; the cap lets 100 a day trade
    kw: dict[str, Any] = {"costs": CostModel.zero(), "participation": 0.1}
    vec = simulate(panel, targets, **kw)
    ev = EventEngine(panel, TargetWeightsStrategy(targets), **kw).run()
    assert vec.trades["shares"].tolist() == [100.0, 100.0, 100.0]
    assert ev.trades["shares"].tolist() == [100.0]
    assert any("still working at the end: AAA" in n for n in vec.notes)


# -- the rules --------------------------------------------------------------------------


def test_a_new_target_replaces_the_remainder() -> None:
    index = pd.date_range("2024-01-02", periods=5, freq="D", tz="UTC")
    ones = np.ones((5, 1))
    panel = Panel(index, ("AAA",), {
        "open": 100.0 * ones, "close": 100.0 * ones, "volume": 1000.0 * ones,
    })  # fmt: skip
    targets = np.full((5, 1), np.nan)
    targets[0] = 0.5  # 5,000 shares wanted, 200 a bar
    targets[1] = 0.001  # 10 shares wanted: sells 190 of the 200 held
    result = simulate(panel, targets, costs=CostModel.zero(), participation=0.2)
    assert result.trades["shares"].tolist() == [200.0, -190.0]
    assert not any("still working" in n for n in result.notes)


def test_lots_round_the_capped_quantity_down() -> None:
    index = pd.date_range("2024-01-02", periods=4, freq="D", tz="UTC")
    ones = np.ones((4, 1))
    panel = Panel(index, ("AAA",), {
        "open": 10.0 * ones, "close": 10.0 * ones, "volume": 1234.0 * ones,
    })  # fmt: skip
    targets = np.full((4, 1), np.nan)
    targets[0] = 0.05  # 5,000 shares; the cap is 123.4 a bar, 100 in lots of 100
    result = simulate(panel, targets, costs=CostModel.zero(), participation=0.1, lot_size=100.0)
    assert result.trades["shares"].tolist() == [100.0, 100.0, 100.0]


def test_a_remainder_the_cash_no_longer_covers_is_dropped() -> None:
    index = pd.date_range("2024-01-02", periods=14, freq="D", tz="UTC")
    price = (100.0 + np.arange(14.0))[:, None]  # rising: the remainder gets dearer
    panel = Panel(index, ("AAA",), {
        "open": price, "close": price, "volume": np.full((14, 1), 1000.0),
    })  # fmt: skip
    targets = np.full((14, 1), np.nan)
    targets[0] = 1.0  # 1,000 shares at 100, 100 a bar
    result = simulate(
        panel, targets, costs=CostModel.zero(), initial_capital=1e5, participation=0.1
    )
    shares = result.trades["shares"].to_numpy()
    assert shares[:9].tolist() == [100.0] * 9
    assert len(shares) == 10
    assert 0.0 < shares[9] < 100.0  # the last one, scaled to the cash
    cash = 1e5 - (result.trades["shares"] * result.trades["price"]).sum()
    assert cash == pytest.approx(0.0, abs=1e-6)
    assert not any("still working" in n for n in result.notes)


@st.composite
def capped_cases(draw: st.DrawFn) -> dict[str, Any]:
    seed = draw(st.integers(0, 10_000))
    short = draw(st.booleans())
    return {
        "seed": seed,
        "fills": draw(st.sampled_from(["next_open", "next_close", "same_close"])),
        "participation": draw(st.sampled_from([0.01, 0.05, 0.3, 1.0])),
        "allow_short": short,
        "max_leverage": 2.0 if short else draw(st.sampled_from([1.0, 1.5])),
        "lot_size": draw(st.sampled_from([0.0, 10.0])),
        "every": draw(st.integers(1, 12)),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capped_cases())
def test_fills_never_exceed_the_cap_and_a_slack_cap_changes_nothing(case: dict[str, Any]) -> None:
    rng = np.random.default_rng(case["seed"])
    panel = intraday_panel(case["seed"], n_rows=60, log_volume=8.0)
    lev = case["max_leverage"]
    targets = np.full(panel.shape, np.nan)
    for r in range(0, panel.n_times - 1, case["every"]):
        w = rng.uniform(-1.0 if case["allow_short"] else 0.0, 1.0, len(ASSETS))
        w[rng.random(len(ASSETS)) < 0.2] = np.nan
        gross = np.nansum(np.abs(w))
        targets[r] = w / gross * lev * 0.3 if gross > 0 else w
    kw: dict[str, Any] = {
        "fills": case["fills"], "allow_short": case["allow_short"], "max_leverage": lev,
        "lot_size": case["lot_size"],
    }  # fmt: skip
    p = case["participation"]
    capped = simulate(panel, targets, participation=p, **kw)
    traded = traded_per_bar(capped, panel)
    assert (traded <= p * panel["volume"] * (1.0 + 1e-12)).all()
    assert np.isfinite(capped.equity.to_numpy()).all()
    # volume so large that the cap never binds: the uncapped results, bit for bit
    deep = Panel(panel.index, panel.assets, {
        **{f: panel[f] for f in ("open", "high", "low", "close")}, "volume": panel["volume"] * 1e9,
    })  # fmt: skip
    slack = simulate(deep, targets, participation=p, **kw)
    free = simulate(deep, targets, **kw)
    np.testing.assert_array_equal(slack.equity.to_numpy(), free.equity.to_numpy())
    pd.testing.assert_frame_equal(slack.trades, free.trades)


def test_sweeps_apply_the_cap_to_every_portfolio() -> None:
    panel = intraday_panel(5)
    rng = np.random.default_rng(5)
    stacked = np.stack([spaced_targets(rng, panel.n_times, 15, g) for g in (0.5, 0.9)])
    sweep = simulate_many(panel, stacked, participation=0.2)
    for p in range(2):
        single = simulate(panel, stacked[p], participation=0.2)
        np.testing.assert_allclose(sweep.equity[p], single.equity.to_numpy(), rtol=0, atol=1e-6)
        assert sweep.n_trades[p] == len(single.trades)


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_participation_outside_zero_one_is_refused(bad: float) -> None:
    panel = intraday_panel(0, n_rows=5)
    with pytest.raises(BacktestError, match=r"participation must be a fraction .*\(0, 1\]"):
        simulate(panel, np.full(panel.shape, np.nan), participation=bad)


def test_participation_needs_volume_and_no_stops() -> None:
    panel = intraday_panel(0, n_rows=5)
    no_volume = Panel(panel.index, panel.assets, {f: panel[f] for f in ("open", "close")})
    with pytest.raises(BacktestError, match="no 'volume' field"):
        simulate(no_volume, np.full(panel.shape, np.nan), participation=0.1)
    with pytest.raises(BacktestError, match="does not cap them by participation"):
        simulate(panel, np.full(panel.shape, np.nan), participation=0.1, stop_loss=0.05)


def test_spec_field_checks_and_keeps_old_hashes() -> None:
    base = {"data": "demo", "signal": {"expr": "Ref($close, 5) / $close"}}
    spec = StrategySpec.from_dict(base)
    assert "participation" not in spec.canonical()
    capped = StrategySpec.from_dict({**base, "participation": 0.05})
    assert capped.participation == 0.05
    assert capped.canonical()["participation"] == 0.05
    assert capped.hash != spec.hash
    for bad in (0, 1.5, -0.2):
        with pytest.raises(SpecError, match="participation"):
            StrategySpec.from_dict({**base, "participation": bad})
