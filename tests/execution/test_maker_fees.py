"""Maker fees: which fills make liquidity, what they pay, and that nothing moves without one.

Hand-built bars with one limit order each, worked out by hand: a limit the
bar opens through on arrival is a taker, one filled later in its first bar
or on a later bar (at its limit or at a later bar's open) is a maker, a
changed limit arrives again, a bar without an open cannot tell (taker);
market orders and stops take, take-profits make, in the bar-by-bar and
the compiled protection paths alike. The cost model's new field is bounded,
and left unset it changes no array, dump or spec hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alphaloop.backtest.event import Context, EventEngine, EventResult, Strategy
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import (
    CostModel,
    OrderFilled,
    Protection,
    SimulatedBroker,
    cost_preset,
    fill_cost,
    maker_params,
)
from tests.backtest.test_spec import PINNED

TAKER_BPS, MAKER_BPS = 10.0, -1.0
#: commission only: a taker pays 10 bps of notional, a maker earns a 1 bp rebate
FEES = CostModel(
    commission_per_share=0, commission_min=0, commission_bps=TAKER_BPS,
    maker_commission_bps=MAKER_BPS, exchange_fee_bps=0, half_spread_bps=0, slippage_bps=0,
    impact="none", borrow_bps_annual=0,
)  # fmt: skip

Action = Callable[[Context], None]


class Script(Strategy):
    """Runs ``actions[row]`` on bar ``row``; records the fill events it hears."""

    def __init__(self, actions: dict[int, list[Action]], listen: bool = True) -> None:
        self.actions = actions
        self.listen = listen
        self.fills: list[Any] = []

    def on_bar(self, ctx: Context, row: int) -> None:
        for act in self.actions.get(row, []):
            act(ctx)


class Listening(Script):
    def on_fill(self, ctx: Context, fill: Any) -> None:
        self.fills.append(fill)


def panel_of(bars: list[tuple[float, float, float, float]], with_open: bool = True) -> Panel:
    """One asset ``X``; ``bars`` are (open, high, low, close)."""
    ohlc = np.array(bars, dtype=float)
    index = pd.date_range("2024-01-01", periods=len(bars), freq="D", tz="UTC")
    fields = {"high": ohlc[:, 1:2], "low": ohlc[:, 2:3], "close": ohlc[:, 3:4]}
    if with_open:
        fields["open"] = ohlc[:, 0:1]
    return Panel(index, ["X"], fields)


def run(
    panel: Panel, actions: dict[int, list[Action]], costs: CostModel = FEES, **kw: Any
) -> tuple[EventResult, Listening]:
    strategy = Listening(actions)
    kw.setdefault("initial_capital", 1e5)
    return EventEngine(panel, strategy, costs=costs, **kw).run(), strategy


def buy_limit(price: float, qty: float = 10.0) -> Action:
    return lambda ctx: ctx.order("X", qty, "limit", limit_price=price)  # type: ignore[arg-type]


def commission(bps: float, shares: float, price: float) -> float:
    return bps * 1e-4 * shares * price


# --------------------------------------------------------------- the cost model
def test_the_maker_field_is_optional_bounded_and_invisible_when_unset() -> None:
    model = CostModel()
    assert model.maker_commission_bps is None
    assert model.maker_bps == model.commission_bps
    assert "maker_commission_bps" not in model.model_dump()
    assert "maker_commission_bps" not in model.model_dump(mode="json")
    np.testing.assert_array_equal(model.maker_array(), model.as_array())
    assert FEES.model_dump()["maker_commission_bps"] == MAKER_BPS
    assert FEES.as_array()[9] == MAKER_BPS * 1e-4
    assert maker_params(FEES.as_array())[2] == MAKER_BPS * 1e-4
    assert FEES.as_array()[2] == TAKER_BPS * 1e-4  # the taker's vector is untouched
    for bad in (-10.5, 100.5, float("inf"), float("nan")):
        with pytest.raises(ValidationError, match="maker_commission_bps"):
            CostModel(maker_commission_bps=bad)
    CostModel(maker_commission_bps=-10.0)  # the bounds themselves are allowed
    CostModel(maker_commission_bps=100.0)
    assert any("a rebate of 1 bps" in line for line in FEES.describe())
    assert not any("maker" in line for line in CostModel().describe())


def test_a_maker_fill_pays_the_maker_commission_and_nothing_else_changes() -> None:
    model = cost_preset("crypto").model_copy(update={"maker_commission_bps": 2.0})
    taker, maker = np.zeros(5), np.zeros(5)
    total_t = fill_cost(model.as_array(), 3.0, 200.0, 1e4, 0.02, taker)
    total_m = fill_cost(model.maker_array(), 3.0, 200.0, 1e4, 0.02, maker)
    assert taker[0] == pytest.approx(10e-4 * 600.0, rel=1e-15)
    assert maker[0] == pytest.approx(2e-4 * 600.0, rel=1e-15)
    np.testing.assert_array_equal(maker[1:], taker[1:])  # fees, spread, slippage, impact
    assert total_t - total_m == pytest.approx(8e-4 * 600.0, rel=1e-12)


def test_the_crypto_preset_keeps_its_taker_fee_and_no_maker_fee_of_its_own() -> None:
    crypto = cost_preset("crypto")
    assert crypto.commission_bps == 10.0
    assert crypto.maker_commission_bps is None


@pytest.mark.parametrize("expected", list(PINNED))
def test_spec_hashes_do_not_move_without_a_maker_fee(expected: str) -> None:
    data = dict(PINNED[expected])
    if "costs" not in data:
        data["costs"] = "crypto"
        expected = StrategySpec.from_dict(data).hash
    explicit = {**data, "costs": {**_costs_mapping(data["costs"]), "maker_commission_bps": None}}
    assert StrategySpec.from_dict(explicit).hash == expected
    assert "maker_commission_bps" not in StrategySpec.from_dict(explicit).canonical()["costs"]
    rebate = {**data, "costs": {**_costs_mapping(data["costs"]), "maker_commission_bps": -0.5}}
    spec = StrategySpec.from_dict(rebate)
    assert spec.hash != expected
    assert spec.costs is not None
    assert spec.costs.maker_commission_bps == -0.5


def _costs_mapping(costs: Any) -> dict[str, Any]:
    return {"preset": costs} if isinstance(costs, str) else dict(costs)


def test_a_spec_with_a_bad_maker_fee_fails_at_load_naming_the_field() -> None:
    with pytest.raises(Exception, match="maker_commission_bps"):
        StrategySpec.from_dict(
            {
                **PINNED[next(iter(PINNED))],
                "costs": {"preset": "crypto", "maker_commission_bps": -50},
            }
        )


# ------------------------------------------------------------------ the fill rule
def test_a_limit_the_bar_opens_through_on_arrival_is_a_taker() -> None:
    panel = panel_of([(100, 101, 99, 100), (98, 99, 97, 98.5)])
    res, heard = run(panel, {0: [buy_limit(99.0)]})
    (fill,) = heard.fills
    assert (fill.row, fill.price, fill.liquidity) == (1, 98.0, "taker")
    assert res.trades["liquidity"].tolist() == ["taker"]
    assert res.trades["commission"].iloc[0] == pytest.approx(commission(TAKER_BPS, 10, 98.0))


def test_a_limit_reached_inside_its_first_bar_is_a_maker() -> None:
    panel = panel_of([(100, 101, 99, 100), (100, 100.5, 98.5, 99.5)])
    res, heard = run(panel, {0: [buy_limit(99.0)]})
    (fill,) = heard.fills
    assert (fill.row, fill.price, fill.liquidity) == (1, 99.0, "maker")
    assert res.trades["commission"].iloc[0] == pytest.approx(commission(MAKER_BPS, 10, 99.0))
    assert fill.cost == pytest.approx(commission(MAKER_BPS, 10, 99.0))
    assert res.costs["commission"] < 0  # the rebate
    assert res.equity.iloc[-1] == pytest.approx(1e5 - 990.0 - fill.cost + 10 * 99.5)


def test_a_limit_that_rested_and_was_gapped_through_later_is_a_maker() -> None:
    panel = panel_of([(100, 101, 99, 100), (100, 101, 99.5, 100), (98, 99, 97, 98)])
    res, heard = run(panel, {0: [buy_limit(99.0)]})
    (fill,) = heard.fills
    assert (fill.row, fill.price, fill.liquidity) == (2, 98.0, "maker")
    assert res.trades["commission"].iloc[0] == pytest.approx(commission(MAKER_BPS, 10, 98.0))


def test_a_changed_limit_arrives_again_at_the_next_open() -> None:
    bars = [(100, 101, 99, 100), (100, 101, 99.5, 100.5), (100.2, 101, 100, 100.5)]

    def raise_limit(ctx: Context) -> None:
        (order,) = ctx.open_orders("X")
        ctx.modify(order, limit_price=101.0)

    _, heard = run(panel_of(bars), {0: [buy_limit(99.0)], 1: [raise_limit]})
    (fill,) = heard.fills
    assert (fill.row, fill.price, fill.liquidity) == (2, 100.2, "taker")  # marketable on arrival
    # a change that leaves it away from the price: it rests, and a later fill makes
    bars[2] = (100.4, 101, 99.8, 100.5)

    def lower_limit(ctx: Context) -> None:
        (order,) = ctx.open_orders("X")
        ctx.modify(order, limit_price=99.9)

    _, heard = run(panel_of(bars), {0: [buy_limit(99.0)], 1: [lower_limit]})
    (fill,) = heard.fills
    assert (fill.row, fill.price, fill.liquidity) == (2, 99.9, "maker")


def test_without_an_open_a_fill_on_the_arrival_bar_is_a_taker() -> None:
    bars = [(np.nan, 101, 99, 100), (np.nan, 100.5, 98.5, 99.5), (np.nan, 100, 97, 98)]
    panel = panel_of(bars, with_open=False)
    _, heard = run(panel, {0: [buy_limit(99.0)]}, fills="next_close")
    assert [(f.row, f.price, f.liquidity) for f in heard.fills] == [(1, 99.0, "taker")]
    bars[1] = (np.nan, 100.5, 99.5, 100)  # not reached on its first bar: it rested
    _, heard = run(panel_of(bars, with_open=False), {0: [buy_limit(99.0)]}, fills="next_close")
    assert [(f.row, f.price, f.liquidity) for f in heard.fills] == [(2, 99.0, "maker")]


def test_market_stop_and_auction_fills_take() -> None:
    bars = [(100, 101, 99, 100), (100, 101, 99, 100), (99, 99.5, 97, 98), (98, 99, 97.5, 98)]
    acts: dict[int, list[Action]] = {
        0: [lambda ctx: ctx.order("X", 10.0)],
        1: [lambda ctx: ctx.order("X", -10.0, "stop", stop_price=98.5)],
        2: [lambda ctx: ctx.order("X", 5.0, "limit", limit_price=99.0, time_in_force="ioc")],
    }
    res, heard = run(panel_of(bars), acts)
    assert [(f.row, f.liquidity) for f in heard.fills] == [(1, "taker"), (2, "taker"), (3, "taker")]
    assert res.trades["liquidity"].tolist() == ["taker"] * 3
    expected = [commission(TAKER_BPS, 10, 100.0), commission(TAKER_BPS, 10, 98.5),
                commission(TAKER_BPS, 5, 98.0)]  # fmt: skip
    np.testing.assert_allclose(res.trades["commission"], expected, rtol=1e-12)


@pytest.mark.parametrize("compiled", [False, True])
def test_a_take_profit_makes_and_a_stop_takes_in_both_protection_paths(compiled: bool) -> None:
    # long 10 at bar 1's open (100): take profit 102 (2%), stop 97 (3%)
    protect = Protection(stop_loss=0.03, take_profit=0.02)
    enter: dict[int, list[Action]] = {0: [lambda ctx: ctx.order("X", 10.0, protection=protect)]}
    up = [(100, 101, 99, 100), (100, 101, 99.5, 100.5), (101, 103, 100.5, 102.5)]
    down = [(100, 101, 99, 100), (100, 101, 99.5, 100.5), (99, 99.5, 96, 96.5)]
    for bars, reason, price, liquidity, bps in (
        (up, "take_profit", 102.0, "maker", MAKER_BPS),
        (down, "stop_loss", 97.0, "taker", TAKER_BPS),
    ):
        panel = panel_of(bars)
        broker = SimulatedBroker(panel, costs=FEES, initial_capital=1e5)
        res = EventEngine(panel, Script(enter), broker=broker, compiled_protection=compiled).run()
        assert broker.armed.counts["settled"] == int(compiled)
        exit_ = res.trades.iloc[-1]
        assert (exit_["reason"], exit_["price"], exit_["liquidity"]) == (reason, price, liquidity)
        assert exit_["commission"] == pytest.approx(commission(bps, 10, price), rel=1e-12)
        (filled,) = [e for o in res.orders if o.reason == reason for e in o.events
                     if isinstance(e, OrderFilled)]  # fmt: skip
        assert filled.liquidity == liquidity
        assert res.trades["liquidity"].iloc[0] == "taker"  # the market entry


def test_a_cash_check_prices_a_maker_fill_at_the_maker_rate() -> None:
    # exactly the cash for 10 shares at 99 with the maker's 1 bp rebate; a taker's fee would not fit
    cash = 10 * 99.0 + commission(MAKER_BPS, 10, 99.0)
    panel = panel_of([(100, 101, 99, 100), (100, 100.5, 98.5, 99.5)])
    res, heard = run(panel, {0: [buy_limit(99.0)]}, initial_capital=cash)
    assert [f.liquidity for f in heard.fills] == ["maker"]
    assert res.equity.iloc[-1] == pytest.approx(10 * 99.5, rel=1e-12)
    no_rebate = FEES.model_copy(update={"maker_commission_bps": None})
    with pytest.raises(BacktestError, match=r"needs 990\.99 in cash"):
        run(panel, {0: [buy_limit(99.0)]}, costs=no_rebate, initial_capital=cash)


def test_maker_equal_to_taker_changes_nothing() -> None:
    bars = [(100, 101, 99, 100), (100, 100.5, 98.5, 99.5), (98, 99, 97, 98), (99, 103, 98, 102)]
    protect = Protection(take_profit=0.03)
    acts: dict[int, list[Action]] = {
        0: [buy_limit(99.0)],
        1: [buy_limit(97.5, 5.0), lambda ctx: ctx.order("X", 3.0, protection=protect)],
    }
    base = FEES.model_copy(update={"maker_commission_bps": None})
    same = FEES.model_copy(update={"maker_commission_bps": TAKER_BPS})
    a, _ = run(panel_of(bars), acts, costs=base)
    b, _ = run(panel_of(bars), acts, costs=same)
    pd.testing.assert_frame_equal(a.trades, b.trades, check_exact=True)
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    assert a.costs == b.costs
    assert "maker" in a.trades["liquidity"].tolist()  # the flag is recorded either way
