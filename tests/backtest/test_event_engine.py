"""Order types, time in force, partial fills and callbacks on hand-built bars."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alphaloop.backtest.event import Context, EventEngine, Strategy
from alphaloop.execution import OrderStatus, Protection, SimulatedBroker
from alphaloop.execution.costs import CostModel

from .test_event_helpers import bars, event_names, flat, run

BASE = (100.0, 101.0, 99.0, 100.0, 1e6)


def _trade(result, k: int = 0) -> tuple[int, float, float, str]:
    t = result.trades.iloc[k]
    return (
        int(np.searchsorted(result.equity.index, t["time"])),
        float(t["shares"]),
        round(float(t["price"]), 9),
        str(t["reason"]),
    )


# -- market orders and fill timing ----------------------------------------------------


@pytest.mark.parametrize(
    ("fills", "row", "price"),
    [("next_open", 1, 102.0), ("next_close", 1, 102.5), ("same_close", 0, 100.0)],
)
def test_market_order_fills_per_timing(fills: str, row: int, price: float) -> None:
    panel = bars([BASE, (102.0, 103.0, 101.0, 102.5, 1e6), BASE])
    result, script = run(panel, {0: lambda c: c.order("AAA", 10)}, fills=fills)
    assert _trade(result) == (row, 10.0, price, "order")
    assert result.equity.iloc[1] == pytest.approx(1e6 - 10 * price + 10 * 102.5, rel=1e-12)
    assert [f.price for f in script.fills] == [price]
    assert result.fills.value == fills


def test_costs_are_the_shared_cost_model() -> None:
    panel = bars([BASE, BASE])
    costs = CostModel(commission_per_share=0.01, commission_min=0.0, impact="none")
    result, _ = run(panel, {0: lambda c: c.order("AAA", 1000)}, costs=costs)
    notional = 1000 * 100.0
    expected = 10.0 + notional * (0.3 + 2.0 + 1.0) * 1e-4
    assert result.trades["cash_flow"].iloc[0] == pytest.approx(-notional - expected)
    assert sum(result.costs.values()) == pytest.approx(expected)


# -- limit, stop, stop-limit, trailing stop ------------------------------------------------


def test_limit_not_reached_keeps_working() -> None:
    result, script = run(
        bars([BASE] * 4), {0: lambda c: c.order("AAA", 5, "limit", limit_price=95)}
    )
    order = script.out[0]
    assert result.trades.empty
    assert order.status is OrderStatus.ACCEPTED
    assert result.open_orders == (order,)
    assert any("still working" in n for n in result.notes)


@pytest.mark.parametrize(
    ("bar", "price"),
    [((100.0, 101.0, 94.0, 97.0, 1e6), 95.0), ((93.0, 96.0, 92.0, 95.0, 1e6), 93.0)],
    ids=["inside the bar: at the limit", "gap below: at the open"],
)
def test_limit_buy_fills_at_limit_or_better(bar: tuple, price: float) -> None:
    result, _ = run(bars([BASE, bar]), {0: lambda c: c.order("AAA", 5, "limit", limit_price=95)})
    assert _trade(result) == (1, 5.0, price, "order")


@pytest.mark.parametrize(
    ("bar", "price"),
    [((97.0, 98.0, 94.0, 96.0, 1e6), 95.0), ((90.0, 92.0, 88.0, 91.0, 1e6), 90.0)],
    ids=["inside the bar: at the stop", "gap through the stop: at the open"],
)
def test_sell_stop(bar: tuple, price: float) -> None:
    plan = {
        0: lambda c: c.order("AAA", 10),
        1: lambda c: c.order("AAA", -10, "stop", stop_price=95),
    }
    result, _ = run(bars([BASE, BASE, bar]), plan)
    assert _trade(result, 1) == (2, -10.0, price, "order")
    assert result.equity.iloc[-1] == pytest.approx(1e6 + 10 * (price - 100.0))


def test_stop_limit_triggered_but_not_filled_then_filled_as_limit() -> None:
    panel = bars([BASE, (100.0, 107.0, 99.0, 106.0, 1e6), (106.0, 106.5, 103.0, 105.0, 1e6)])
    plan = {0: lambda c: c.order("AAA", 3, "stop_limit", stop_price=105, limit_price=104)}
    result, script = run(panel, plan)
    order = script.out[0]
    names = event_names(script.events, order.order_id)
    assert names == ["OrderSubmitted", "OrderAccepted", "OrderTriggered", "OrderFilled"]
    trigger = next(e for e in script.events if type(e).__name__ == "OrderTriggered")
    assert (trigger.row, trigger.price) == (1, 105.0)
    assert _trade(result) == (2, 3.0, 104.0, "order")


def test_stop_limit_gap_above_limit_waits() -> None:
    panel = bars([BASE, (108.0, 109.0, 107.0, 108.0, 1e6), (107.0, 108.0, 105.5, 106.0, 1e6)])
    plan = {0: lambda c: c.order("AAA", 3, "stop_limit", stop_price=105, limit_price=106)}
    result, script = run(panel, plan)
    order = script.out[0]
    assert order.is_triggered
    assert _trade(result) == (2, 3.0, 106.0, "order")


def test_stop_limit_inside_the_bar_fills_at_the_stop() -> None:
    panel = bars([BASE, (100.0, 107.0, 99.0, 106.0, 1e6)])
    plan = {0: lambda c: c.order("AAA", 3, "stop_limit", stop_price=105, limit_price=106)}
    result, _ = run(panel, plan)
    assert _trade(result) == (1, 3.0, 105.0, "order")


def test_trailing_stop_ratchets_with_the_previous_bars_high() -> None:
    panel = bars(
        [
            BASE,
            BASE,
            (101.0, 110.0, 100.0, 108.0, 1e6),  # level 90; best price -> 110
            (108.0, 120.0, 100.0, 118.0, 1e6),  # level 99 (not 108: this bar's high counts later)
            (117.0, 118.0, 107.0, 110.0, 1e6),  # level 108 -> filled at 108
        ]
    )
    plan = {
        0: lambda c: c.order("AAA", 10),
        1: lambda c: c.order("AAA", -10, "trailing_stop", trail_fraction=0.1),
    }
    result, _ = run(panel, plan)
    assert _trade(result, 1) == (4, -10.0, 108.0, "order")


def test_modify_and_cancel() -> None:
    panel = bars([BASE, BASE, BASE, BASE])
    holder: dict[str, object] = {}

    def place(c: Context) -> None:
        holder["a"] = c.order("AAA", 5, "limit", limit_price=90)
        holder["b"] = c.order("AAA", 5, "limit", limit_price=90)

    plan = {
        0: place,
        1: lambda c: c.modify(holder["a"], limit_price=99.5),
        2: lambda c: (c.cancel(holder["b"]), c.cancel(holder["a"])),
    }
    result, script = run(panel, plan)
    assert _trade(result) == (2, 5.0, 99.5, "order")
    assert script.out[2] == (True, False)  # a had already filled
    assert holder["b"].status is OrderStatus.CANCELED


# -- time in force and participation ---------------------------------------------------


def test_partial_fills_across_bars_under_the_participation_cap() -> None:
    panel = bars([(*BASE[:4], 1000.0)] * 5)
    result, script = run(panel, {0: lambda c: c.order("AAA", 250)}, participation=0.1)
    order = script.out[0]
    assert [(_trade(result, k)[0], _trade(result, k)[1]) for k in range(3)] == [
        (1, 100.0),
        (2, 100.0),
        (3, 50.0),
    ]
    assert event_names(script.events, order.order_id)[2:] == [
        "OrderPartiallyFilled",
        "OrderPartiallyFilled",
        "OrderFilled",
    ]
    assert order.filled_quantity == 250.0


def test_orders_share_the_cap_of_their_asset() -> None:
    panel = bars([(*BASE[:4], 1000.0)] * 3)
    plan = {0: lambda c: (c.order("AAA", 80), c.order("AAA", 80))}
    result, _ = run(panel, plan, participation=0.1)
    assert result.trades["shares"].tolist() == [80.0, 20.0, 60.0]


def test_ioc_remainder_is_canceled() -> None:
    panel = bars([(*BASE[:4], 1000.0)] * 3)
    result, script = run(
        panel, {0: lambda c: c.order("AAA", 250, time_in_force="ioc")}, participation=0.1
    )
    order = script.out[0]
    assert result.trades["shares"].tolist() == [100.0]
    assert order.status is OrderStatus.CANCELED
    assert event_names(script.events, order.order_id)[2:] == [
        "OrderPartiallyFilled",
        "OrderCanceled",
    ]


@pytest.mark.parametrize(("quantity", "filled"), [(250, 0.0), (80, 80.0)])
def test_fok_all_or_nothing(quantity: int, filled: float) -> None:
    panel = bars([(*BASE[:4], 1000.0)] * 3)
    _, script = run(
        panel, {0: lambda c: c.order("AAA", quantity, time_in_force="fok")}, participation=0.1
    )
    order = script.out[0]
    assert order.filled_quantity == filled
    assert order.status is (OrderStatus.CANCELED if filled == 0 else OrderStatus.FILLED)


def test_ioc_limit_not_marketable_is_canceled() -> None:
    _, script = run(
        bars([BASE, BASE]),
        {0: lambda c: c.order("AAA", 5, "limit", limit_price=99, time_in_force="ioc")},
    )
    assert script.out[0].status is OrderStatus.CANCELED


def test_stop_orders_cannot_be_ioc() -> None:
    _, script = run(
        bars([BASE, BASE]),
        {0: lambda c: c.order("AAA", 5, "stop", stop_price=101, time_in_force="ioc")},
    )
    assert script.out[0].status is OrderStatus.REJECTED


def test_day_limit_expires_at_the_end_of_its_first_day() -> None:
    _, script = run(
        bars([BASE] * 4),
        {0: lambda c: c.order("AAA", 5, "limit", limit_price=90, time_in_force="day")},
    )
    order = script.out[0]
    assert order.status is OrderStatus.EXPIRED
    assert order.events[-1].row == 1


def test_day_order_on_intraday_bars_works_until_the_day_ends() -> None:
    # hourly bars: rows 0-3 are on 2024-01-02 (20:00-23:00 UTC), rows 4-5 on 2024-01-03
    panel = bars([(*BASE[:4], 1000.0)] * 6, freq="h", start="2024-01-02 20:00")
    result, script = run(
        panel, {0: lambda c: c.order("AAA", 500, time_in_force="day")}, participation=0.1
    )
    order = script.out[0]
    assert result.trades["shares"].tolist() == [100.0, 100.0, 100.0]
    assert order.status is OrderStatus.EXPIRED
    assert order.events[-1].row == 3


# -- protection (bracket) orders --------------------------------------------------------


@pytest.mark.parametrize(
    ("bar", "price", "reason"),
    [
        ((100.0, 111.0, 99.0, 105.0, 1e6), 110.0, "take_profit"),
        ((100.0, 111.0, 94.0, 105.0, 1e6), 95.0, "stop_loss"),  # both touched: stop first
        ((93.0, 111.0, 92.0, 105.0, 1e6), 93.0, "stop_loss"),  # gap through the stop
    ],
)
def test_protection_is_one_cancels_the_other(bar: tuple, price: float, reason: str) -> None:
    protect = Protection(stop_loss=0.05, take_profit=0.10)
    result, _ = run(
        bars([BASE, BASE, bar, BASE]), {0: lambda c: c.order("AAA", 10, protection=protect)}
    )
    assert _trade(result, 1) == (2, -10.0, price, reason)
    guards = [o for o in result.orders if o.reason in ("stop_loss", "take_profit")]
    assert sorted(o.status.value for o in guards) == ["canceled", "filled"]
    assert len(result.trades) == 2


# -- callbacks and what a strategy can see --------------------------------------------------


def test_on_bar_sees_only_bars_up_to_now() -> None:
    closes = [100.0, 101.0, 102.0, 103.0]
    panel = bars([(c, c + 1, c - 1, c, 1e6) for c in closes])
    lengths: list[int] = []
    plan = {r: (lambda c: lengths.append(len(c.history("close", 100)))) for r in range(4)}
    _, script = run(panel, plan)
    assert script.seen == list(enumerate(closes))
    assert lengths == [1, 2, 3, 4]


def test_context_account_queries_match_the_result() -> None:
    panel = bars([BASE, (102.0, 103.0, 101.0, 102.5, 1e6), BASE])
    seen: dict[str, float] = {}

    def look(c: Context) -> None:
        seen.update(equity=c.equity, cash=c.cash, pos=c.position("AAA"), price=c.price("AAA"))

    result, _ = run(panel, {0: lambda c: c.order("AAA", 10), 1: look})
    assert seen == {
        "equity": result.equity.iloc[1],
        "cash": 1e6 - 1020.0,
        "pos": 10.0,
        "price": 102.5,
    }


def test_schedule_limits_on_bar_and_skips_quiet_bars() -> None:
    class Sparse(Strategy):
        def __init__(self) -> None:
            self.rows: list[int] = []

        def schedule(self, ctx: Context) -> np.ndarray:
            mask = np.zeros(len(ctx.index), dtype=bool)
            mask[[1, 4]] = True
            return mask

        def on_bar(self, ctx: Context, row: int) -> None:
            self.rows.append(row)
            ctx.order("AAA", 1)

    strategy = Sparse()
    result = EventEngine(bars(flat(6)), strategy, costs=CostModel.zero()).run()
    assert strategy.rows == [1, 4]
    assert result.trades["time"].tolist() == list(result.equity.index[[2, 5]])
    assert np.isfinite(result.equity).all()


def test_a_broker_can_be_passed_in() -> None:
    panel = bars(flat(3))
    broker = SimulatedBroker(panel, costs=CostModel.zero(), initial_capital=5000.0)
    result = EventEngine(panel, Strategy(), broker=broker).run()
    assert result.final_value == 5000.0
    assert math.isclose(broker.equity, 5000.0)


def test_the_simulated_broker_is_a_broker() -> None:
    from alphaloop.execution import Broker

    assert isinstance(SimulatedBroker(bars(flat(2))), Broker)


def test_metrics_take_an_event_result() -> None:
    from alphaloop.backtest.metrics import compute_metrics

    panel = bars([(100.0 + k, 101.0 + k, 99.0 + k, 100.5 + k, 1e6) for k in range(30)])
    result, _ = run(panel, {0: lambda c: c.order("AAA", 10), 20: lambda c: c.order("AAA", -10)})
    stats = compute_metrics(
        result.returns,
        periods_per_year=252,
        round_trips=result.round_trips,
        gross_exposure=result.gross_exposure,
        turnover=result.turnover,
        costs=result.costs,
        initial_capital=result.initial_capital,
    )
    assert stats
    assert len(result.round_trips) == 1
    assert result.round_trips["pnl"].iloc[0] == pytest.approx(10 * (121.0 - 101.0))
