"""The event engine and the vectorized simulator agree on every strategy both can run.

A target-weight schedule replayed through :class:`TargetWeightsStrategy`
must give the same equity curve (to 1e-9 relative), the same fills, round
trips and cost totals as :func:`simulate`, and the same errors, for every
fill timing, with stops mapped to protection orders. Also: skipping quiet
bars changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.backtest.event import Context, EventEngine, Strategy, TargetWeightsStrategy
from alphaloop.backtest.vectorized import SimulationResult, simulate
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import Protection
from alphaloop.execution.costs import CostModel
from alphaloop.execution.resting import RestingBook

REL = 1e-9
FILLS = ("next_open", "next_close", "same_close")
ASSETS = ("AAA", "BBB", "CCC", "DDD")


def assert_same(a: SimulationResult, b: SimulationResult) -> None:
    """Equity to 1e-9 relative, and the same fills, round trips and costs."""
    x, y = a.equity.to_numpy(), b.equity.to_numpy()
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    np.testing.assert_allclose(y, x, rtol=REL, atol=0, equal_nan=True)
    pd.testing.assert_frame_equal(
        a.trades.reset_index(drop=True), b.trades.reset_index(drop=True), rtol=REL, atol=1e-9
    )
    pd.testing.assert_frame_equal(a.round_trips, b.round_trips, rtol=REL, atol=1e-6)
    for k, v in a.costs.items():
        assert b.costs[k] == pytest.approx(v, rel=REL, abs=1e-9), k
    for name in ("turnover", "gross_exposure", "bar_costs", "returns"):
        np.testing.assert_allclose(
            getattr(b, name), getattr(a, name), rtol=1e-8, atol=1e-12, equal_nan=True
        )
    assert (a.fills, a.cost_model, a.has_volume) == (b.fills, b.cost_model, b.has_volume)


def both(panel: Panel, weights: np.ndarray, **kw: Any) -> tuple[Any, Any]:
    """(vectorized, event) results, or the error message of each."""
    stops = {k: kw.pop(k, 0.0) for k in ("stop_loss", "take_profit", "trailing_stop")}
    out = []
    for go in (
        lambda: simulate(panel, weights, **kw, **stops),
        lambda: EventEngine(panel, TargetWeightsStrategy(weights, **stops), **kw).run(),
    ):
        try:
            out.append(go())
        except BacktestError as exc:
            out.append(str(exc).split(" (")[0][:60])
    return out[0], out[1]


# -- random panels ------------------------------------------------------------------


def random_panel(rng: np.random.Generator, n_rows: int, n_assets: int, gaps: bool) -> Panel:
    """OHLCV random walks with 3% daily volatility (stops fire); ~3% missing cells with gaps."""
    shape = (n_rows, n_assets)
    start = rng.uniform(5.0, 200.0, n_assets)
    close = start * np.exp(np.cumsum(rng.normal(0.0, 0.03, shape), axis=0))
    prev = np.vstack([start, close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.01, shape))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.015, shape)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.015, shape)))
    fields = {"open": open_, "high": high, "low": low, "close": close}
    fields["volume"] = np.round(rng.lognormal(10.0, 1.0, shape))
    if gaps:
        missing = rng.random(shape) < 0.03
        for values in fields.values():
            values[missing] = np.nan
    index = pd.bdate_range("2024-01-03", periods=n_rows, tz="UTC")
    return Panel(index, ASSETS[:n_assets], fields)


def random_weights(rng: np.random.Generator, shape: tuple[int, int], lev: float, short: bool):
    weights = np.full(shape, np.nan)
    for t in np.flatnonzero(rng.random(shape[0]) < 0.3):
        w = rng.uniform(-1.0 if short else 0.0, 1.0, shape[1])
        w[rng.random(shape[1]) < 0.2] = 0.0
        w *= lev * rng.uniform(0.5, 1.05) / max(np.abs(w).sum(), 1e-9)
        w[rng.random(shape[1]) < 0.25] = np.nan
        weights[t] = w
    return weights


@pytest.mark.parametrize("seed", range(60))
def test_random_weight_schedules_agree(seed: int) -> None:
    rng = np.random.default_rng(seed)
    panel = random_panel(rng, int(rng.integers(5, 90)), int(rng.integers(1, 5)), rng.random() < 0.4)
    short = bool(rng.random() < 0.5)
    lev = float(rng.choice([1.0, 1.5, 2.0]))
    kw = {
        "fills": FILLS[seed % 3],
        "max_leverage": lev,
        "allow_short": short,
        "stop_loss": float(rng.choice([0.0, 0.03])),
        "take_profit": float(rng.choice([0.0, 0.05])),
        "trailing_stop": float(rng.choice([0.0, 0.04])),
        "lot_size": float(rng.choice([0.0, 1.0, 10.0])),
        "min_trade_value": float(rng.choice([0.0, 500.0])),
        "costs": CostModel() if rng.random() < 0.7 else CostModel(borrow_bps_annual=500.0),
        "initial_capital": float(rng.choice([1e4, 1e6])),
    }
    a, b = both(panel, random_weights(rng, panel.shape, lev, short), **kw)
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
    else:
        assert_same(a, b)


#: a percentage commission whose resting fills (the take-profits) earn a rebate instead
MAKER = CostModel(commission_bps=5.0, maker_commission_bps=-2.0)


def test_take_profits_pay_the_maker_fee_alike_in_both_engines() -> None:
    makers = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        panel = random_panel(rng, int(rng.integers(40, 120)), int(rng.integers(1, 4)), False)
        short = bool(rng.random() < 0.5)
        lev = 1.5 if short else 1.0
        kw = {
            "fills": FILLS[seed % 3],
            "max_leverage": lev,
            "allow_short": short,
            "stop_loss": float(rng.choice([0.0, 0.03])),
            "take_profit": 0.03,
            "costs": MAKER,
        }
        weights = np.full(panel.shape, np.nan)
        for t in range(0, panel.shape[0], 7):  # a full book every 7 bars, 80% of the cap
            w = rng.uniform(-1.0 if short else 0.0, 1.0, panel.shape[1])
            weights[t] = 0.8 * lev * w / max(np.abs(w).sum(), 1e-9)
        a, b = both(panel, weights, **kw)
        assert_same(a, b)  # the liquidity column included
        maker = a.trades["liquidity"] == "maker"
        assert (maker == (a.trades["reason"] == "take_profit")).all()
        pct = a.trades["commission"] - np.maximum(0.005 * a.trades["shares"].abs(), 1.0)
        expected = np.where(maker, -2e-4, 5e-4) * a.trades["notional"]
        np.testing.assert_allclose(pct, expected, rtol=1e-9, atol=1e-12)
        makers += int(maker.sum())
    assert makers > 20


class EveryBar(TargetWeightsStrategy):
    """The same replay, looking at every bar instead of only at decision rows."""

    def schedule(self, ctx: Context) -> None:
        return None


@pytest.mark.parametrize("fills", FILLS)
def test_skipping_quiet_bars_changes_nothing(fills: str) -> None:
    rng = np.random.default_rng(11)
    panel = random_panel(rng, 150, 3, gaps=False)
    weights = random_weights(rng, panel.shape, 0.9, False)
    weights[np.isnan(weights).any(axis=1)] = np.nan
    kw = {"fills": fills, "costs": CostModel()}
    protection = {"stop_loss": 0.04, "take_profit": 0.06, "trailing_stop": 0.05}
    sparse = EventEngine(panel, TargetWeightsStrategy(weights, **protection), **kw).run()
    dense = EventEngine(panel, EveryBar(weights, **protection), **kw).run()
    assert_same(sparse, dense)
    assert len(sparse.trades) > 20


# -- bundled real data ----------------------------------------------------------------


@pytest.fixture(scope="module")
def stocks(shared_workspace: Workspace) -> Panel:
    """The 20 bundled US stocks (close only), with an open, a range and a volume derived
    deterministically from the closes so every fill timing and market impact apply."""
    p = shared_workspace.data.load("sp500-stocks")
    close = np.asarray(p["close"], dtype=np.float64)
    open_ = (
        np.vstack([close[:1], close[:-1]]) * (1.0 + 0.002 * np.sin(np.arange(len(close))))[:, None]
    )
    volume = 1e6 * (1.5 + np.sin(np.arange(len(close))[:, None] * 0.37 + np.arange(p.n_assets)))
    fields = {
        "open": open_,
        "high": np.fmax(open_, close) * 1.004,
        "low": np.fmin(open_, close) * 0.996,
        "close": close,
        "volume": volume,
    }
    return Panel(p.index, p.assets, fields)


@pytest.fixture(scope="module")
def indices(shared_workspace: Workspace) -> Panel:
    """The S&P 500 and NASDAQ Composite, real daily OHLCV on one calendar."""
    a = shared_workspace.data.load("sp500-ohlcv")
    b = shared_workspace.data.load("nasdaq-ohlcv")
    assert a.index.equals(b.index)
    names = ("open", "high", "low", "close", "volume")
    return Panel(a.index, ["SP500", "NASDAQ"], {f: np.hstack([a[f], b[f]]) for f in names})


def momentum_weights(panel: Panel, top: int, bottom: int = 0, lookback: int = 126) -> np.ndarray:
    """Monthly: equal weights in the ``top`` assets by past return (``-`` for ``bottom``)."""
    close = pd.DataFrame(np.asarray(panel["close"]))
    mom = close.pct_change(lookback, fill_method=None).to_numpy()
    idx = panel.index
    month_end = np.r_[idx.month[1:] != idx.month[:-1], True]
    out = np.full(panel.shape, np.nan)
    for t in np.flatnonzero(month_end):
        if t <= lookback:
            continue
        ranked = np.argsort(-np.nan_to_num(mom[t], nan=-np.inf), kind="stable")
        row = np.zeros(panel.n_assets)
        row[ranked[:top]] = 1.0 / top
        if bottom:
            row[ranked[-bottom:]] = -1.0 / bottom
        out[t] = row
    return out


@pytest.mark.parametrize("fills", FILLS)
def test_top5_momentum_on_real_stocks_agrees(stocks: Panel, fills: str) -> None:
    weights = momentum_weights(stocks, 5)
    a, b = both(stocks, weights, fills=fills)
    assert_same(a, b)
    assert a.costs["impact"] > 0
    assert len(a.trades) > 1000


@pytest.mark.parametrize("fills", FILLS)
def test_long_short_momentum_with_leverage_and_borrow_agrees(stocks: Panel, fills: str) -> None:
    weights = momentum_weights(stocks, 5, 5)
    a, b = both(stocks, weights, fills=fills, max_leverage=2.0, allow_short=True)
    assert_same(a, b)
    assert a.costs["borrow"] > 0


@pytest.mark.parametrize("stops", [{"stop_loss": 0.08}, {"trailing_stop": 0.1, "take_profit": 0.2}])
@pytest.mark.parametrize("fills", FILLS)
def test_stops_map_to_protection_orders(stocks: Panel, fills: str, stops: dict) -> None:
    a, b = both(stocks, momentum_weights(stocks, 5), fills=fills, **stops)
    assert_same(a, b)
    assert (a.trades["reason"] != "order").sum() > 20


@pytest.mark.parametrize("fills", FILLS)
def test_real_ohlcv_indices_agree(indices: Panel, fills: str) -> None:
    for kw in (
        {},
        {"stop_loss": 0.05},
        {"max_leverage": 2.0, "allow_short": True},
    ):
        weights = momentum_weights(indices, 1, 1 if kw.get("allow_short") else 0)
        a, b = both(indices, weights, fills=fills, **kw)
        assert_same(a, b)


# -- skipping resting orders between touches is exact ------------------------------------


class RandomOrders(Strategy):
    """Random orders of every type on random bars (seeded); no market orders on
    data with gaps, where a market order due on a missing bar is an error."""

    def __init__(self, seed: int, every_bar: bool, gaps: bool) -> None:
        self.rng = np.random.default_rng(seed)
        self.every_bar = every_bar
        self.kinds = ["limit", "stop", "stop_limit", "trailing_stop"]
        if not gaps:
            self.kinds.append("market")

    def schedule(self, ctx: Context) -> np.ndarray | None:
        if self.every_bar:
            return None
        return np.random.default_rng(0).random(len(ctx.index)) < 0.2

    def on_bar(self, ctx: Context, row: int) -> None:
        rng = self.rng
        for asset in ctx.assets:
            price = ctx.price(asset)
            if not price > 0 or rng.random() < 0.5:
                continue
            qty = float(rng.choice([-1, 1]) * rng.integers(1, 50))
            kind = str(rng.choice(self.kinds))
            off = float(rng.uniform(0.0, 0.06))
            away = price * (1 - off if qty > 0 else 1 + off)
            toward = price * (1 + off if qty > 0 else 1 - off)
            kw: dict[str, Any] = {"time_in_force": str(rng.choice(["gtc", "gtc", "day"]))}
            if kind == "limit":
                kw["limit_price"] = away
            elif kind == "stop":
                kw["stop_price"] = toward
            elif kind == "stop_limit":
                kw.update(stop_price=toward, limit_price=toward * float(rng.uniform(0.98, 1.02)))
            elif kind == "trailing_stop":
                kw["trail_fraction"] = off + 0.01
            if rng.random() < 0.2:
                kw["protection"] = Protection(stop_loss=0.03, take_profit=0.05)
            ctx.order(asset, qty, kind, **kw)


def _bar_by_bar(self: RestingBook, start: int) -> None:
    for tickets in self.by_asset.values():
        for t in tickets:
            t.touch_row = -1
    self.horizon = start


@pytest.mark.parametrize("seed", range(6))
def test_resting_orders_skip_exactly(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(100 + seed)
    gaps = seed % 2 == 1
    panel = random_panel(rng, 120, 3, gaps=gaps)
    kw: dict[str, Any] = {
        "fills": FILLS[seed % 3],
        "allow_short": True,
        "max_leverage": 10.0,
        "participation": 0.001 if seed % 2 else None,
    }
    runs = {}
    for every_bar in (False, True):
        runs[every_bar] = EventEngine(panel, RandomOrders(seed, every_bar, gaps), **kw).run()
    with monkeypatch.context() as m:
        m.setattr(RestingBook, "refresh", _bar_by_bar)
        m.setattr(RestingBook, "scan_on_add", False)
        slow = EventEngine(panel, RandomOrders(seed, False, gaps), **kw).run()
        slow_dense = EventEngine(panel, RandomOrders(seed, True, gaps), **kw).run()
    assert_same(slow, runs[False])
    assert_same(slow_dense, runs[True])
    assert len(slow.trades) > 30
    kinds = {o.order_type.value for o in slow.orders if o.filled_quantity > 0}
    assert kinds >= {"limit", "stop", "trailing_stop"}
