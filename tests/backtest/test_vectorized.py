"""The vectorized simulator: against a plain-Python reference, hand-computed cases,
parity with vectorbt on bundled data, and bad input."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from alphaloop.app import Workspace
from alphaloop.backtest.vectorized import (
    SimulationResult,
    simulate,
    simulate_many,
    simulate_signals,
)
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution.costs import CostModel

from .reference import CASH, LEVERAGE, PRICE, SHORT, Result, simulate_reference

ASSETS = ("AAA", "BBB", "CCC", "DDD")
REL = 1e-9
# the reference's error names -> words the kernel's BacktestError message must contain
ERROR_WORDS = {
    PRICE: "no valid price",
    CASH: "needs more cash",
    LEVERAGE: "leverage cap",
    SHORT: "shorts are off",
}


# -- random panels and decisions ---------------------------------------------------


def random_panel(rng: np.random.Generator, n_rows: int, n_assets: int, gaps: bool) -> Panel:
    """OHLCV random walks (3% daily volatility, so stops fire) on business days.

    With ``gaps``, about 3% of the (bar, asset) cells are missing in every field.
    """
    shape = (n_rows, n_assets)
    start = rng.uniform(5.0, 200.0, n_assets)
    close = start * np.exp(np.cumsum(rng.normal(0.0, 0.03, shape), axis=0))
    prev = np.vstack([start, close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.01, shape))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.015, shape)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.015, shape)))
    volume = np.round(rng.lognormal(10.0, 1.0, shape))
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    if gaps:
        missing = rng.random(shape) < 0.03
        for values in fields.values():
            values[missing] = np.nan
    index = pd.bdate_range("2024-01-03", periods=n_rows, tz="UTC")
    return Panel(index, ASSETS[:n_assets], fields)


def random_weights(
    rng: np.random.Generator, panel: Panel, density: float, max_leverage: float, short: bool
) -> np.ndarray:
    """Target weights on about ``density`` of the rows.

    A quarter of the cells are NaN and some 0; half the rows repeat the previous
    targets (small rebalancing trades); some rows are fully invested.
    """
    n_rows, n_assets = panel.shape
    out = np.full((n_rows, n_assets), np.nan)
    rows = np.flatnonzero(rng.random(n_rows) < density)
    w = np.zeros(n_assets)
    for t in [rng.integers(0, max(1, n_rows // 3)), *rows]:
        if rng.random() < 0.5:
            out[t] = w
            continue
        w = rng.uniform(-1.0 if short else 0.0, 1.0, n_assets)
        w[rng.random(n_assets) < 0.2] = 0.0
        if rng.random() < 0.3 and w.any():  # all in
            w *= max_leverage / np.abs(w).sum()
        else:
            w[rng.random(n_assets) < 0.25] = np.nan
            total = np.nansum(np.abs(w))
            room = max_leverage * (0.5 if np.isnan(w).any() else rng.uniform(0.3, 1.0))
            if total > room:
                w *= room / total
        out[t] = w
    return out


def random_orders(
    rng: np.random.Generator, panel: Panel, density: float, capital: float, short: bool
) -> np.ndarray:
    """Share quantities worth up to 30% of the capital per asset and row.

    Without shorts, sells are at most the shares bought so far (stops and lot
    rounding can still make one oversell: that is checked too).
    """
    n_rows, n_assets = panel.shape
    out = np.full((n_rows, n_assets), np.nan)
    price = np.nan_to_num(panel["close"], nan=100.0)
    held = np.zeros(n_assets)
    rows = np.flatnonzero(rng.random(n_rows) < density)
    for t in sorted({rng.integers(0, max(1, n_rows // 3)), *rows}):
        q = np.round(rng.uniform(-0.5, 1.0, n_assets) * 0.3 * capital / (n_assets * price[t]))
        if not short:
            q = np.maximum(q, -held)
        q[rng.random(n_assets) < 0.3] = np.nan
        held += np.nan_to_num(q)
        out[t] = q
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A random panel, decisions and simulator settings."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_rows = draw(st.integers(2, 60) | st.integers(30, 60))
    n_assets = draw(st.integers(1, 4))
    panel = random_panel(rng, n_rows, n_assets, gaps=draw(st.booleans()))
    kind = draw(st.sampled_from(["weights", "orders"]))
    short = draw(st.booleans())
    leverage = draw(st.sampled_from([1.0, 1.0, 1.5, 2.0]))
    capital = draw(st.sampled_from([1e6, 2e4]))
    density = draw(st.sampled_from([0.1, 0.3, 1.0]))
    if kind == "weights":
        decisions = random_weights(rng, panel, density, leverage, short)
        if draw(st.integers(0, 9)) == 0:  # now and then, targets that break a rule
            decisions = decisions * 1.6 - 0.1
    else:
        decisions = random_orders(rng, panel, density, capital, short)
    costs = draw(
        st.sampled_from(
            [
                CostModel(),
                CostModel.zero(),
                CostModel(impact_window=5, impact_coef=1.0, commission_bps=2.0),
                CostModel(commission_per_share=0.01, commission_min=5.0, borrow_bps_annual=300),
            ]
        )
    )
    lot = draw(st.sampled_from([0.0, 1.0, 100.0, "mixed"]))
    kwargs: dict[str, Any] = {
        "kind": kind,
        "fills": draw(st.sampled_from(["next_open", "next_close", "same_close"])),
        "costs": costs,
        "initial_capital": capital,
        "max_leverage": leverage,
        "allow_short": short,
        "lot_size": [0.0, 1.0, 10.0, 100.0][:n_assets] if lot == "mixed" else lot,
        "stop_loss": draw(st.sampled_from([0.0, 0.0, 0.02, 0.05])),
        "take_profit": draw(st.sampled_from([0.0, 0.0, 0.03, 0.1])),
        "trailing_stop": draw(st.sampled_from([0.0, 0.0, 0.04])),
        "min_trade_value": draw(st.sampled_from([0.0, 0.0, 500.0])),
    }
    history = draw(st.sampled_from([0, 0, 0, 25]))
    if history:  # the same decisions after 25 bars of history (volume and volatility)
        early = random_panel(rng, history, n_assets, gaps=False)
        fields = {name: np.vstack([early[name], panel[name]]) for name in panel.field_names}
        index = pd.bdate_range("2023-11-01", periods=history + n_rows, tz="UTC")
        panel = Panel(index, panel.assets, fields)
        kwargs["history"] = history
    return {"panel": panel, "decisions": decisions, "kwargs": kwargs}


# -- comparing the kernel with the reference -----------------------------------------


def close_enough(actual: Any, expected: Any, what: str, atol: float = 1e-9) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=REL,
        atol=atol,
        equal_nan=True,
        err_msg=what,
    )


def assert_matches_reference(panel: Panel, ref: Result, **kwargs: Any) -> SimulationResult | None:
    """The kernel (through ``simulate``) gives the reference's numbers, or its error."""
    decisions = kwargs.pop("decisions")
    shown = panel.iloc(slice(kwargs.get("history", 0), None))  # the rows traded
    if ref.error is not None:
        name, row, asset = ref.error
        event(f"error: {name}")
        with pytest.raises(BacktestError) as info:
            simulate(panel, decisions, **kwargs)
        message = str(info.value)
        assert ERROR_WORDS[name] in message
        assert shown.index[row].isoformat() in message
        if asset >= 0:
            assert shown.assets[asset] in message
        return None
    event("ran to the end")
    for path in ref.paths:
        event(path)
    res = simulate(panel, decisions, **kwargs)
    close_enough(res.equity, ref.equity, "equity")
    close_enough(res.turnover, ref.turnover, "turnover")
    close_enough(res.gross_exposure, ref.gross, "gross exposure")
    close_enough(res.bar_costs, ref.bar_costs, "bar costs")
    close_enough(list(res.costs.values()), list(ref.costs.values()), "cost totals")

    trades = res.trades
    assert len(trades) == len(ref.fills), "number of fills"
    if ref.fills:
        event(f"fills: {sorted({f.reason for f in ref.fills})}")
        assert list(trades["time"]) == [shown.index[f.row] for f in ref.fills]
        assert list(trades["asset"]) == [shown.assets[f.asset] for f in ref.fills]
        assert list(trades["reason"]) == [f.reason for f in ref.fills]
        close_enough(trades["shares"], [f.shares for f in ref.fills], "shares")
        close_enough(trades["price"], [f.price for f in ref.fills], "fill prices")
        names = ["commission", "fees", "spread", "slippage", "impact"]
        close_enough(trades[names], [f.costs for f in ref.fills], "fill costs")
        close_enough(trades["cash_flow"], [f.cash_flow for f in ref.fills], "cash flows")

    trips = res.round_trips
    assert len(trips) == len(ref.round_trips), "number of round trips"
    if ref.round_trips:
        assert list(trips["asset"]) == [shown.assets[t.asset] for t in ref.round_trips]
        assert list(trips["entry_time"]) == [shown.index[t.entry_row] for t in ref.round_trips]
        exits = [pd.NaT if t.exit_row is None else shown.index[t.exit_row] for t in ref.round_trips]
        assert trips["exit_time"].isna().tolist() == [t.exit_row is None for t in ref.round_trips]
        assert trips["exit_time"].dropna().tolist() == [e for e in exits if e is not pd.NaT]
        assert trips["open"].tolist() == [t.exit_row is None for t in ref.round_trips]
        close_enough(trips["pnl"], [t.pnl for t in ref.round_trips], "round-trip pnl")
        close_enough(trips["costs"], [t.costs for t in ref.round_trips], "round-trip costs")
        close_enough(
            trips["return"],
            [t.pnl / t.entry_notional for t in ref.round_trips],
            "round-trip returns",
        )
    return res


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_kernel_matches_reference(case: dict[str, Any]) -> None:
    panel, decisions, kwargs = case["panel"], case["decisions"], case["kwargs"]
    ref = simulate_reference(panel, decisions, **kwargs)
    res = assert_matches_reference(panel, ref, decisions=decisions, **kwargs)
    if res is not None and kwargs["max_leverage"] <= 1 and not kwargs["allow_short"]:
        # the cash rule, independently of how the kernel sizes the buys
        cash = kwargs["initial_capital"] + res.trades["cash_flow"].cumsum()
        assert (cash >= -2e-12 * kwargs["initial_capital"] - 2e-9).all()


# -- hand-computed cases ---------------------------------------------------------------


def make_panel(
    assets: tuple[str, ...] = ("AAA",), index: pd.DatetimeIndex | None = None, **fields: Any
) -> Panel:
    """A panel from per-bar values: a list of floats (one asset) or of rows (several)."""
    arrays = {name: np.array(v, dtype=float).reshape(len(v), -1) for name, v in fields.items()}
    n_rows = len(next(iter(arrays.values())))
    if index is None:
        index = pd.bdate_range("2024-01-02", periods=n_rows, tz="UTC")
    return Panel(index, assets, arrays)


def one_order(n_rows: int, value: float, row: int = 0, n_assets: int = 1) -> np.ndarray:
    """Decisions with ``value`` for every asset on ``row`` and NaN (no order) elsewhere."""
    out = np.full((n_rows, n_assets), np.nan)
    out[row] = value
    return out


ZERO = CostModel.zero()
BARS = {  # one asset, four bars
    "open": [100.0, 101.0, 102.0, 103.0],
    "high": [101.0, 103.0, 103.0, 105.0],
    "low": [99.0, 100.0, 101.0, 102.0],
    "close": [100.5, 102.0, 101.5, 104.0],
}


@pytest.mark.parametrize("capital", [10_000.0, 1_000_000.0])
def test_buy_and_hold_with_default_costs(capital: float) -> None:
    """All in at the next open: cash / (price * (1 + 3.3 bps) [+ 0.005/share]) shares.

    At 10,000 the commission is the $1 minimum (0.005 x 99 shares = 0.49 < 1);
    at 1,000,000 it is 0.005 per share. Fees 0.3 bps, half-spread 2 bps and
    slippage 1 bps of the notional; no volume, so no impact.
    """
    price, rate = 101.0, (0.3 + 2.0 + 1.0) * 1e-4
    if capital == 10_000.0:
        shares = (capital - 1.0) / (price * (1 + rate))
        commission = 1.0
    else:
        shares = capital / (price * (1 + rate) + 0.005)
        commission = 0.005 * shares
    res = simulate(make_panel(**BARS), one_order(4, 1.0), initial_capital=capital)
    notional = shares * price
    costs = {
        "commission": commission,
        "fees": 0.3e-4 * notional,
        "spread": 2e-4 * notional,
        "slippage": 1e-4 * notional,
        "impact": 0.0,
        "borrow": 0.0,
    }
    cash = capital - notional - sum(costs.values())
    assert abs(cash) < 1e-6  # all in, costs included
    (trade,) = res.trades.itertuples()
    assert trade.time == res.equity.index[1]
    assert trade.price == price
    assert trade.shares == pytest.approx(shares, rel=1e-12)
    for name, value in costs.items():
        assert res.costs[name] == pytest.approx(value, rel=1e-10, abs=1e-12)
    expected = [capital] + [cash + shares * c for c in BARS["close"][1:]]
    close_enough(res.equity, expected, "equity")
    (trip,) = res.round_trips.itertuples()
    assert trip.open
    assert trip.pnl == pytest.approx(expected[-1] - capital, rel=1e-9)
    assert trip.costs == pytest.approx(sum(costs.values()), rel=1e-12)
    assert "market impact not modelled: the dataset has no volume" in res.notes


def test_round_trip_pnl_is_net_of_costs() -> None:
    costs = ZERO.model_copy(update={"commission_bps": 10.0})
    decisions = np.array([[1.0], [np.nan], [0.0], [np.nan]])
    res = simulate(make_panel(**BARS), decisions, costs=costs, initial_capital=10_000.0)
    shares = 10_000.0 / (101.0 * 1.001)
    proceeds = shares * 103.0 * (1 - 0.001)
    assert res.trades["shares"].tolist() == pytest.approx([shares, -shares], rel=1e-12)
    (trip,) = res.round_trips.itertuples()
    assert not trip.open
    assert trip.exit_time == res.equity.index[3]
    assert trip.pnl == pytest.approx(proceeds - 10_000.0, rel=1e-9)
    assert trip.costs == pytest.approx(0.001 * shares * (101.0 + 103.0), rel=1e-9)
    assert res.round_trips["return"].iloc[0] == pytest.approx(
        trip.pnl / (shares * 101.0), rel=1e-12
    )
    assert res.final_value == pytest.approx(proceeds, rel=1e-12)


STOP_BARS = {  # entry at 100 on bar 1; bar 2 is replaced by each case
    "open": [100.0, 100.0, 0.0, 97.0],
    "high": [101.0, 102.0, 0.0, 98.0],
    "low": [99.0, 99.0, 0.0, 96.0],
    "close": [100.0, 100.0, 0.0, 97.0],
}


@pytest.mark.parametrize(
    ("bar2", "stops", "exit_price", "reason"),
    [
        # (open, high, low, close)
        ((98.0, 99.0, 94.0, 96.0), {"stop_loss": 0.05}, 95.0, "stop_loss"),
        ((93.0, 94.0, 92.0, 93.5), {"stop_loss": 0.05}, 93.0, "stop_loss"),  # gap: the open
        ((100.0, 104.0, 97.0, 103.0), {"take_profit": 0.03}, 103.0, "take_profit"),
        ((104.0, 106.0, 103.0, 105.0), {"take_profit": 0.03}, 104.0, "take_profit"),  # gap
        # both touched in one bar: the stop is assumed first
        ((100.0, 106.0, 94.0, 104.0), {"stop_loss": 0.05, "take_profit": 0.05}, 95.0, "stop_loss"),
    ],
)
def test_stops_on_a_long(
    bar2: tuple[float, ...], stops: dict[str, float], exit_price: float, reason: str
) -> None:
    fields = {k: list(v) for k, v in STOP_BARS.items()}
    for name, value in zip(("open", "high", "low", "close"), bar2, strict=True):
        fields[name][2] = value
    res = simulate(
        make_panel(**fields), one_order(4, 1.0), costs=ZERO, initial_capital=10_000.0, **stops
    )
    assert res.trades["reason"].tolist() == ["order", reason]
    assert res.trades["price"].tolist() == [100.0, exit_price]
    assert res.trades["time"].iloc[1] == res.equity.index[2]
    # flat after the exit: equity stays at the exit value
    assert res.equity.tolist() == [10_000.0, 10_000.0, 100 * exit_price, 100 * exit_price]


def test_stop_on_a_short() -> None:
    fields = {k: list(v) for k, v in STOP_BARS.items()}
    fields["open"][2], fields["high"][2], fields["low"][2], fields["close"][2] = 101, 106, 100, 102
    res = simulate(
        make_panel(**fields), one_order(4, -0.5), costs=ZERO, initial_capital=10_000.0,
        allow_short=True, stop_loss=0.05,
    )  # fmt: skip
    assert res.trades["shares"].tolist() == [-50.0, 50.0]
    assert res.trades["price"].tolist() == [100.0, 105.0]
    assert res.final_value == 10_000.0 - 50 * 5.0


def test_trailing_stop_ratchets_on_earlier_highs_only() -> None:
    """Entry 100; peaks 105 (bar 1) and 120 (bar 2) lift the 10% trail to 108.

    Bar 3 reaches 130 but exits at 108: the bar's own high does not count, as
    the order of high and low inside a bar is unknown.
    """
    panel = make_panel(
        open=[100, 100, 104, 115, 110],
        high=[100, 105, 120, 130, 111],
        low=[100, 99, 100, 107, 109],
        close=[100, 104, 115, 110, 110],
    )
    res = simulate(
        panel, one_order(5, 1.0), costs=ZERO, initial_capital=10_000.0, trailing_stop=0.1
    )
    assert res.trades["reason"].tolist() == ["order", "trailing_stop"]
    assert res.trades["price"].iloc[1] == pytest.approx(108.0, rel=1e-14)
    assert res.trades["time"].iloc[1] == panel.index[3]


def test_a_position_opened_at_the_open_is_not_stopped_by_its_own_gap() -> None:
    """Bought at an open of 90 (far below the previous close): no stop at that open."""
    panel = make_panel(
        open=[100, 90, 90], high=[100, 91, 91], low=[100, 89, 89], close=[100, 90, 90]
    )
    res = simulate(panel, one_order(3, 1.0), costs=ZERO, initial_capital=9_000.0, stop_loss=0.05)
    assert res.trades["reason"].tolist() == ["order"]


def test_short_borrow_is_charged_for_calendar_days() -> None:
    """Short from Friday's open; Monday's close pays three days (the weekend)."""
    index = pd.DatetimeIndex(
        ["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"], tz="UTC"
    )  # Thu, Fri, Mon, Tue
    closes = [50.0, 48.0, 52.0, 50.0]
    panel = make_panel(index=index, open=[50.0] * 4, close=closes)
    costs = ZERO.model_copy(update={"borrow_bps_annual": 50.0})
    res = simulate(
        panel, one_order(4, -0.5), costs=costs, initial_capital=10_000.0, allow_short=True
    )
    shares = -0.5 * 10_000.0 / 50.0
    fees = [0.0] + [
        -shares * c * 0.005 * d / 365 for c, d in zip(closes[1:], [1, 3, 1], strict=True)
    ]
    assert res.bar_costs.tolist() == pytest.approx(fees, rel=1e-12)
    assert res.costs["borrow"] == pytest.approx(sum(fees), rel=1e-12)
    cash = 10_000.0 - shares * 50.0 - np.cumsum(fees)
    close_enough(res.equity, cash + shares * np.array(closes), "equity")
    (trip,) = res.round_trips.itertuples()
    assert trip.costs == pytest.approx(sum(fees), rel=1e-12)


def test_leverage_two_long_short() -> None:
    panel = make_panel(
        assets=("AAA", "BBB"),
        open=[[100, 50], [100, 50], [110, 45]],
        close=[[100, 50], [110, 45], [120, 55]],
    )
    decisions = one_order(3, 0.0, n_assets=2)
    decisions[0] = [1.0, -1.0]
    res = simulate(
        panel, decisions, costs=ZERO, initial_capital=10_000.0, max_leverage=2.0,
        allow_short=True,
    )  # fmt: skip
    assert res.trades["shares"].tolist() == [-200.0, 100.0]  # sells first
    assert res.equity.tolist() == [10_000.0, 12_000.0, 11_000.0]
    assert res.gross_exposure.iloc[1] == pytest.approx((11_000 + 9_000) / 12_000, rel=1e-14)
    # long only with leverage 2: a margin loan, cash goes negative
    decisions[0] = [1.0, 1.0]
    res = simulate(panel, decisions, costs=ZERO, initial_capital=10_000.0, max_leverage=2.0)
    assert res.trades["shares"].tolist() == [100.0, 200.0]
    assert res.equity.iloc[2] == -10_000.0 + 100 * 120 + 200 * 55
    decisions[0] = [1.5, -1.0]
    with pytest.raises(BacktestError, match="leverage cap"):
        simulate(panel, decisions, costs=ZERO, max_leverage=2.0, allow_short=True)


def test_lot_sizes_round_toward_zero() -> None:
    panel = make_panel(assets=("AAA", "BBB"), open=[[33, 7], [33, 7]], close=[[33, 7], [33, 7]])
    decisions = one_order(2, 0.5, n_assets=2)
    res = simulate(panel, decisions, costs=ZERO, initial_capital=10_000.0, lot_size=[100, 1])
    assert res.trades["shares"].tolist() == [100.0, 714.0]  # 151.5 -> 100; 714.3 -> 714
    orders = one_order(2, 250.0, n_assets=2)
    res = simulate(panel, orders, kind="orders", costs=ZERO, initial_capital=1e5, lot_size=[100, 1])
    assert res.trades["shares"].tolist() == [200.0, 250.0]


def test_lot_rounding_never_spends_more_than_the_cash() -> None:
    """100 shares at 99.50 cost 9,950 + 50.75 commission > 10,000: buy 99.

    The proportional down-scaling stalls here (each step shaves 0.008 share off
    100.5, which still rounds to 100), so the kernel must search further.
    """
    costs = ZERO.model_copy(
        update={"commission_per_share": 0.005, "commission_min": 1.0, "commission_bps": 50.0}
    )
    panel = make_panel(open=[99.5, 99.5], close=[99.5, 99.5])
    res = simulate(panel, one_order(2, 1.0), costs=costs, initial_capital=10_000.0, lot_size=1)
    assert res.trades["shares"].tolist() == [99.0]
    cash = 10_000.0 + res.trades["cash_flow"].iloc[0]
    assert cash == pytest.approx(10_000.0 - 99 * 99.5 * 1.005 - 1.0, rel=1e-12)
    assert cash >= 0


def test_same_close_is_labelled_optimistic() -> None:
    res = simulate(make_panel(**BARS), one_order(4, 1.0), fills="same_close", costs=ZERO)
    assert res.fills.optimistic
    assert any("OPTIMISTIC" in note for note in res.notes)
    assert res.trades["time"].iloc[0] == res.equity.index[0]
    assert res.trades["price"].iloc[0] == BARS["close"][0]
    assert not any("OPTIMISTIC" in n for n in simulate(make_panel(**BARS), one_order(4, 1.0)).notes)


def test_next_close_fills_at_the_next_bars_close() -> None:
    panel = make_panel(close=BARS["close"])  # no open field needed
    res = simulate(panel, one_order(4, 1.0), fills="next_close", costs=ZERO)
    assert res.trades["time"].iloc[0] == panel.index[1]
    assert res.trades["price"].iloc[0] == BARS["close"][1]
    shares = 1e6 / BARS["close"][1]
    close_enough(res.equity, [1e6, 1e6, shares * 101.5, shares * 104.0], "equity")


def test_sweep_of_stops_equals_single_runs() -> None:
    """simulate_many with (P,) stop levels gives each portfolio's simulate equity."""
    rng = np.random.default_rng(5)
    panel = random_panel(rng, 60, 3, gaps=False)
    weights = random_weights(rng, panel, 0.2, 1.0, short=False)
    levels = np.array([0.0, 0.02, 0.05, 0.1])
    sweep = simulate_many(panel, np.stack([weights] * 4), stop_loss=levels, trailing_stop=0.03)
    for k, level in enumerate(levels):
        single = simulate(panel, weights, stop_loss=level, trailing_stop=0.03)
        close_enough(sweep.equity[k], single.equity, f"stop {level}", atol=0.0)
        assert sweep.n_trades[k] == len(single.trades)
    assert sweep.total_return == pytest.approx(sweep.equity[:, -1] / 1e6 - 1, rel=1e-15)


# -- bad input ----------------------------------------------------------------------------

TWO = make_panel(
    assets=("AAA", "BBB"),
    open=[[100, 50], [101, 51], [102, 52]],
    high=[[101, 51], [102, 52], [103, 53]],
    low=[[99, 49], [100, 50], [101, 51]],
    close=[[100, 50], [101, 51], [102, 52]],
)


def stamp(panel: Panel, row: int) -> str:
    """The time of a row as error messages show it, escaped for ``match``."""
    return re.escape(panel.index[row].isoformat())


def test_misaligned_shapes() -> None:
    with pytest.raises(BacktestError, match=r"shape \(4, 2\); expected \(3, 2\)"):
        simulate(TWO, np.zeros((4, 2)))
    with pytest.raises(BacktestError, match=r"shape \(3, 1\)"):
        simulate(TWO, np.zeros((3, 1)))
    with pytest.raises(BacktestError, match="use simulate_many"):
        simulate(TWO, np.zeros((2, 3, 2)))
    with pytest.raises(BacktestError, match=r"entries have shape \(3, 3\)"):
        simulate_signals(TWO, np.zeros((3, 3), bool), np.zeros((3, 3), bool))
    with pytest.raises(BacktestError, match="exits have shape"):
        simulate_signals(TWO, np.zeros((3, 2), bool), np.zeros((2, 2), bool))
    with pytest.raises(BacktestError, match="stop_loss has shape"):
        simulate_many(TWO, np.zeros((2, 3, 2)), stop_loss=[0.1, 0.1, 0.1])


def test_nan_price_where_an_order_is_due_names_asset_and_time() -> None:
    opens = np.array(TWO["open"])
    opens[1, 1] = np.nan
    panel = Panel(TWO.index, TWO.assets, {"open": opens, "close": TWO["close"]})
    decisions = one_order(3, 0.5, n_assets=2)
    with pytest.raises(BacktestError, match=f"no valid price for BBB at {stamp(panel, 1)}"):
        simulate(panel, decisions)
    # no order for BBB on that bar: fine
    decisions[0, 1] = np.nan
    assert len(simulate(panel, decisions).trades) == 1


def test_order_beyond_cash_without_leverage() -> None:
    orders = one_order(3, np.nan, n_assets=2)
    orders[1] = [50.0, 150.0]  # 5,100 + 7,800 > 10,000; the first buy is named
    with pytest.raises(BacktestError, match=f"AAA decided at {stamp(TWO, 1)} needs more cash"):
        simulate(TWO, orders, kind="orders", initial_capital=10_000.0, costs=ZERO)
    res = simulate(
        TWO, orders, kind="orders", initial_capital=10_000.0, costs=ZERO, max_leverage=2.0
    )
    assert res.trades["shares"].tolist() == [50.0, 150.0]


def test_targets_above_the_leverage_cap() -> None:
    decisions = one_order(3, np.nan, n_assets=2)
    decisions[1] = [0.8, 0.3]
    with pytest.raises(BacktestError, match=f"decided at {stamp(TWO, 1)} add up to more than"):
        simulate(TWO, decisions)
    # an untouched holding counts at its current weight
    decisions[0] = [0.6, np.nan]
    decisions[1] = [np.nan, 0.6]
    with pytest.raises(BacktestError, match="leverage cap"):
        simulate(TWO, decisions, costs=ZERO)


def test_short_targets_with_shorts_off() -> None:
    decisions = one_order(3, np.nan, n_assets=2)
    decisions[1] = [0.2, -0.2]
    with pytest.raises(BacktestError, match=f"BBB decided at {stamp(TWO, 1)} but shorts are off"):
        simulate(TWO, decisions)
    orders = one_order(3, np.nan, n_assets=2)
    orders[0] = [10.0, np.nan]
    orders[1] = [-11.0, np.nan]  # sells more than held
    with pytest.raises(BacktestError, match=f"AAA decided at {stamp(TWO, 1)} but shorts are off"):
        simulate(TWO, orders, kind="orders")


def test_dataframe_decisions_are_checked() -> None:
    frame = pd.DataFrame({"AAA": [0.5, np.nan, np.nan], "ZZZ": 0.0}, index=TWO.index)
    with pytest.raises(BacktestError, match="ZZZ"):
        simulate(TWO, frame)
    with pytest.raises(BacktestError, match="timezone-aware"):
        simulate(TWO, frame[["AAA"]].tz_localize(None))
    late = frame[["AAA"]].set_axis(TWO.index + pd.Timedelta(days=30))
    with pytest.raises(BacktestError, match="timestamps not in the data"):
        simulate(TWO, late)
    # a subset of assets and rows is aligned, the rest is NaN (no order)
    res = simulate(TWO, frame[["AAA"]].iloc[:1], costs=ZERO)
    assert res.trades["asset"].tolist() == ["AAA"]


def test_empty_date_range() -> None:
    empty = TWO.iloc(slice(0, 0))
    with pytest.raises(BacktestError, match="empty"):
        simulate(empty, np.zeros((0, 2)))
    with pytest.raises(BacktestError, match="empty"):
        simulate_signals(empty, np.zeros((0, 2), bool), np.zeros((0, 2), bool))


def test_missing_fields() -> None:
    closes = Panel(TWO.index, TWO.assets, {"close": TWO["close"]})
    with pytest.raises(BacktestError, match="next open need an 'open' field"):
        simulate(closes, one_order(3, 0.5, n_assets=2))
    no_range = Panel(TWO.index, TWO.assets, {"open": TWO["open"], "close": TWO["close"]})
    with pytest.raises(BacktestError, match="high and low"):
        simulate(no_range, one_order(3, 0.5, n_assets=2), stop_loss=0.05)
    with pytest.raises(BacktestError, match="no 'close' field"):
        simulate(Panel(TWO.index, TWO.assets, {"open": TWO["open"]}), one_order(3, 0.5, n_assets=2))


def test_infinite_values_name_asset_and_time() -> None:
    decisions = one_order(3, np.nan, n_assets=2)
    decisions[1, 1] = np.inf
    with pytest.raises(BacktestError, match=f"infinite value for BBB at {stamp(TWO, 1)}"):
        simulate(TWO, decisions)
    for name in ("open", "high", "close"):
        fields = {k: np.array(TWO[k]) for k in TWO.field_names}
        fields[name][2, 0] = np.inf
        panel = Panel(TWO.index, TWO.assets, fields)
        with pytest.raises(BacktestError, match=f"'{name}' of AAA at {stamp(TWO, 2)} is infinite"):
            simulate(panel, one_order(3, 0.5, n_assets=2), stop_loss=0.1)


def test_bad_settings() -> None:
    decisions = one_order(3, 0.5, n_assets=2)
    for kwargs, words in [
        ({"initial_capital": 0.0}, "initial capital"),
        ({"max_leverage": -1.0}, "max_leverage"),
        ({"stop_loss": -0.1}, "stop levels"),
        ({"lot_size": [1.0, -1.0]}, "lot sizes"),
        ({"kind": "targets"}, "kind must be"),
        ({"fills": "next_week"}, "next_week"),
    ]:
        with pytest.raises((BacktestError, ValueError), match=words):
            simulate(TWO, decisions, **kwargs)


# -- parity with vectorbt on bundled data ---------------------------------------------------

FEES = 0.001  # 10 bps a fill, vectorbt's `fees`
CASH0 = 100_000.0


@pytest.fixture(scope="module")
def bundled(shared_workspace: Workspace) -> dict[str, Panel]:
    """The S&P 500 index with OHLC (1999-2018), close only (1990-2022), and three stocks."""
    stocks = shared_workspace.data.load("sp500-stocks")
    return {
        "sp500-ohlcv": shared_workspace.data.load("sp500-ohlcv"),
        "sp500-index": shared_workspace.data.load("sp500-index"),
        **{name: stocks.select([name]) for name in ("AAPL", "JPM", "XOM")},
    }


def random_signals(seed: int, shape: tuple[int, ...], rate: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return rng.random(shape) < rate, rng.random(shape) < rate


def vectorbt_equity(panel: Panel, entries: np.ndarray, exits: np.ndarray, fills: str) -> np.ndarray:
    """vectorbt's value per bar, (T, P), configured as our fills: signals one bar later.

    ``entries``/``exits`` are (T, P), one column per portfolio, P >= 2 (vectorbt
    compiles a second set of kernels for single-column input, which costs seconds).
    """
    vbt = pytest.importorskip("vectorbt")
    shifted = []
    for signal in (entries, exits):
        later = np.zeros_like(signal)
        later[1:] = signal[:-1]
        shifted.append(later)
    n_port = entries.shape[1]
    close = np.repeat(panel["close"][:, :1], n_port, axis=1)
    price = np.repeat(panel["open"][:, :1], n_port, axis=1) if fills == "next_open" else close
    pf = vbt.Portfolio.from_signals(close, *shifted, price=price, fees=FEES, init_cash=CASH0)
    return pf.value().to_numpy()


def commission(fees: float) -> CostModel:
    return ZERO.model_copy(update={"commission_bps": fees * 1e4})


@pytest.mark.parametrize(
    ("dataset", "fills"),
    [
        ("sp500-ohlcv", "next_open"),
        ("sp500-ohlcv", "next_close"),
        ("sp500-index", "next_close"),
        ("AAPL", "next_close"),
        ("JPM", "next_close"),
        ("XOM", "next_close"),
    ],
)
def test_parity_with_vectorbt(bundled: dict[str, Panel], dataset: str, fills: str) -> None:
    """Three random signal sets (3% of the bars each), 10 bps fees: the same equity to 1e-9."""
    panel = bundled[dataset]
    entries, exits = random_signals(seed=1, shape=(panel.n_times, 3), rate=0.03)
    expected = vectorbt_equity(panel, entries, exits, fills)
    for k in range(3):
        res = simulate_signals(
            panel, entries[:, k : k + 1], exits[:, k : k + 1], fills=fills,
            costs=commission(FEES), initial_capital=CASH0,
        )  # fmt: skip
        assert len(res.trades) > 50
        close_enough(res.equity, expected[:, k], f"{dataset}, signal set {k}", atol=0.0)
        assert res.final_value == pytest.approx(expected[-1, k], rel=1e-12)


@pytest.mark.parametrize(
    ("dataset", "fills"), [("sp500-ohlcv", "next_open"), ("JPM", "next_close")]
)
def test_sweep_parity_with_vectorbt(bundled: dict[str, Panel], dataset: str, fills: str) -> None:
    """20 signal sets as (P, T, 1) arrays; vectorbt runs them as 20 columns."""
    panel = bundled[dataset]
    n_rows = panel.n_times
    entries, exits = random_signals(7, (n_rows, 20), rate=0.02)
    expected = vectorbt_equity(panel, entries, exits, fills)
    stacked = [np.ascontiguousarray(s.T[:, :, None]) for s in (entries, exits)]
    sweep = simulate_signals(
        panel, *stacked, fills=fills, costs=commission(FEES), initial_capital=CASH0
    )
    close_enough(sweep.equity, expected.T, "sweep equity", atol=0.0)
    # the same through simulate_many on the targets, and one portfolio through simulate
    single = simulate_signals(
        panel, entries[:, 3:4], exits[:, 3:4], fills=fills, costs=commission(FEES),
        initial_capital=CASH0,
    )  # fmt: skip
    close_enough(single.equity, sweep.equity[3], "single vs sweep", atol=0.0)
    assert sweep.n_trades[3] == len(single.trades)
    assert sweep.costs[3] == pytest.approx(list(single.costs.values()), rel=1e-12)
