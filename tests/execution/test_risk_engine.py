"""The risk engine: per-order checks, portfolio limits, breakers, states, kill switch."""

from __future__ import annotations

import math

import pytest

from alphaloop.errors import SpecError
from alphaloop.execution import RiskEngine, RiskLimits, TradingState, risk_limits

ASSETS = ("AAA", "BBB", "CCC")


def engine(**limits) -> RiskEngine:
    eng = RiskEngine(RiskLimits(**limits), ASSETS, 100_000.0)
    eng.mark([100.0, 50.0, 20.0])
    return eng


def test_an_order_within_every_limit_passes_and_is_recorded_open():
    eng = engine(max_order_notional=20_000, max_weight=0.2, max_gross=1.0)
    assert eng.submit(1, "AAA", 100) is None
    assert eng.open == {1: (0, 100.0)}
    assert eng.gross == pytest.approx(10_000)


@pytest.mark.parametrize(
    ("limits", "quantity", "limit", "value", "threshold"),
    [
        ({"max_order_notional": 5_000}, 100, "max_order_notional", 10_000, 5_000),
        ({"max_weight": 0.05}, 100, "max_weight", 0.10, 0.05),
        ({"max_gross": 0.05}, -100, "max_gross", 0.10, 0.05),
        ({"lot_size": 30}, 100, "lot_size", 100, 30),
        ({"min_notional": 20_000}, 100, "min_notional", 10_000, 20_000),
        ({"restricted": ("AAA",)}, 100, "restricted", 10_000, 0.0),
        ({"max_net": 0.05}, 100, "max_net", 0.10, 0.05),
    ],
)
def test_each_refusal_names_the_limit_the_value_and_the_threshold(
    limits, quantity, limit, value, threshold
):
    eng = engine(**limits)
    refusal = eng.submit(7, "AAA", quantity, now=3.0)
    assert refusal is not None
    assert (refusal.limit, refusal.order_id, refusal.asset) == (limit, 7, "AAA")
    assert refusal.value == pytest.approx(value)
    assert refusal.threshold == pytest.approx(threshold)
    assert limit in refusal.message
    assert "AAA" in refusal.message
    assert eng.refusals == [refusal]
    assert eng.open == {}


def test_price_collar_is_checked_against_the_last_price():
    eng = engine(price_collar=0.05)
    assert eng.submit(1, "AAA", 10, limit_price=104.0) is None
    refusal = eng.submit(2, "AAA", 10, limit_price=90.0)
    assert refusal is not None
    assert refusal.limit == "price_collar"
    assert refusal.value == pytest.approx(0.10)


def test_working_orders_count_together_against_a_limit():
    eng = engine(max_weight=0.15)
    assert eng.submit(1, "AAA", 100) is None  # 10%
    refusal = eng.submit(2, "AAA", 100)  # 20% if both fill
    assert refusal is not None
    assert refusal.limit == "max_weight"
    eng.on_done(1)
    assert eng.submit(3, "AAA", 100) is None


def test_fills_move_open_quantity_into_the_position_and_cash():
    eng = engine()
    eng.submit(1, "AAA", 100)
    eng.on_fill(1, "AAA", 40, 101.0, cost=5.0)
    assert eng.pos[0] == 40
    assert eng.open_buy[0] == pytest.approx(60)
    eng.on_fill(1, "AAA", 60, 101.0)
    assert eng.open == {}
    assert eng.open_buy[0] == 0.0
    assert eng.cash == pytest.approx(100_000 - 100 * 101.0 - 5.0)
    assert eng.equity == pytest.approx(100_000 - 5.0)


def test_concentration_applies_once_the_book_is_large_enough():
    eng = engine(max_concentration=0.6, concentration_from=0.1)
    assert eng.submit(1, "AAA", 50) is None  # 5% gross: below concentration_from
    refusal = eng.submit(2, "AAA", 100)  # 15% gross, all in AAA
    assert refusal is not None
    assert refusal.limit == "max_concentration"
    assert refusal.value == pytest.approx(1.0)
    assert eng.submit(3, "CCC", 250) is None  # AAA 5k, CCC 5k: half each
    refusal = eng.submit(4, "CCC", 500)  # CCC 15k of 20k
    assert refusal is not None
    assert refusal.value == pytest.approx(0.75)


def test_group_caps_sum_the_group():
    eng = engine(groups={"AAA": "tech", "BBB": "tech"}, group_caps={"tech": 0.3})
    assert eng.submit(1, "AAA", 100) is None  # tech 10%
    assert eng.submit(2, "BBB", -300) is None  # tech 25%
    assert eng.submit(3, "CCC", 2000) is None  # not in the group
    refusal = eng.submit(4, "BBB", -200)  # tech 35%
    assert refusal is not None
    assert refusal.limit == "group_caps[tech]"
    assert refusal.value == pytest.approx(0.35)
    assert refusal.threshold == 0.3


def test_order_rate_limit_uses_a_sliding_window():
    eng = engine(max_orders=2, rate_window=10.0)
    assert eng.submit(1, "AAA", 1, now=0.0) is None
    assert eng.submit(2, "AAA", 1, now=5.0) is None
    refusal = eng.submit(3, "AAA", 1, now=9.0)
    assert refusal is not None
    assert refusal.limit == "max_orders"
    assert (refusal.value, refusal.threshold) == (3, 2)
    assert eng.submit(4, "AAA", 1, now=10.5) is None


def test_consecutive_rejects_halt_and_an_accepted_order_resets_the_count():
    eng = engine(max_order_notional=1_000, max_consecutive_rejects=3)
    eng.submit(1, "AAA", 100)
    eng.submit(2, "AAA", 100)
    assert eng.submit(3, "AAA", 1) is None
    eng.submit(4, "AAA", 100)
    eng.on_done(3, rejected=True)  # a venue reject counts too
    assert eng.state is TradingState.ACTIVE
    eng.submit(5, "AAA", 100, now=8.0)
    assert eng.state is TradingState.HALTED
    t = eng.transitions[-1]
    assert (t.limit, t.value, t.threshold, t.now) == ("max_consecutive_rejects", 3, 3, 8.0)


def test_daily_loss_halts_and_nothing_but_cancels_passes():
    eng = engine(max_daily_loss=0.05)
    eng.submit(1, "AAA", 500)
    eng.on_fill(1, "AAA", 500, 100.0)
    eng.mark([90.0, math.nan, math.nan], now=2.0)  # -5000 = 5%
    assert eng.state is TradingState.HALTED
    t = eng.transitions[-1]
    assert t.limit == "max_daily_loss"
    assert t.value == pytest.approx(0.05)
    refusal = eng.submit(2, "AAA", -500)
    assert refusal is not None
    assert refusal.limit == "halted"
    eng.resume("reviewed", now=3.0)
    assert eng.state is TradingState.ACTIVE
    assert [x.after for x in eng.transitions] == [TradingState.HALTED, TradingState.ACTIVE]


def test_daily_loss_restarts_each_day_but_drawdown_does_not():
    eng = engine(max_daily_loss=0.05, max_drawdown=0.08)
    eng.submit(1, "AAA", 500)
    eng.on_fill(1, "AAA", 500, 100.0)
    eng.mark([96.0, math.nan, math.nan])
    eng.mark([92.0, math.nan, math.nan], new_day=True)
    assert eng.state is TradingState.ACTIVE  # 2% today, 4% from peak
    eng.mark([84.0, math.nan, math.nan], new_day=True)  # 4% today, 8% from peak
    assert eng.state is TradingState.HALTED
    assert eng.transitions[-1].limit == "max_drawdown"


def test_marks_past_a_limit_allow_only_reductions_until_back_within():
    eng = engine(max_weight=0.2)
    eng.submit(1, "AAA", 200)
    eng.on_fill(1, "AAA", 200, 100.0)
    eng.mark([130.0, math.nan, math.nan])  # 26000 / 106000
    assert eng.state is TradingState.REDUCING
    assert eng.transitions[-1].limit == "max_weight"
    refusal = eng.submit(2, "BBB", 1)
    assert refusal is not None
    assert refusal.limit == "reducing_only"
    assert eng.submit(3, "AAA", -50) is None  # reduces
    eng.on_fill(3, "AAA", -50, 130.0)
    eng.mark([math.nan] * 3)
    assert eng.state is TradingState.ACTIVE
    assert eng.transitions[-1].reason == "back within limits"


def test_an_order_that_flips_the_position_is_not_a_reduction():
    eng = engine()
    eng.submit(1, "AAA", 10)
    eng.on_fill(1, "AAA", 10, 100.0)
    eng._restricted[0] = True
    assert eng.submit(2, "AAA", -10) is None
    eng.on_done(2)
    refusal = eng.submit(3, "AAA", -11)
    assert refusal is not None
    assert refusal.limit == "restricted"


def test_kill_switch_halts_and_returns_the_open_orders():
    eng = engine()
    eng.submit(1, "AAA", 10)
    eng.submit(2, "BBB", -10)
    assert eng.kill("operator", now=4.0) == [1, 2]
    assert eng.state is TradingState.HALTED
    t = eng.transitions[-1]
    assert t.reason == "kill switch: operator"
    assert t.now == 4.0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"max_weight": 0.5, "max_gross": 0.4}, "max_weight"),
        ({"max_net": 2.0, "max_gross": 1.0}, "max_net"),
        ({"max_order_notional": -1}, "max_order_notional"),
        ({"max_daily_loss": 1.5}, "max_daily_loss"),
        ({"group_caps": {"x": 0.1}}, "group_caps"),
        ({"max_wieght": 0.1}, "max_wieght"),
    ],
)
def test_contradictory_or_bad_limits_name_the_field(data, field):
    with pytest.raises(SpecError, match=field):
        risk_limits(data, "spec limits")


def test_limits_default_to_off():
    assert not RiskLimits().active
    assert RiskLimits(max_gross=1.0).active
