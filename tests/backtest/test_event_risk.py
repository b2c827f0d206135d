"""The risk engine inside the event engine: refused orders, breakers, the kill switch."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.backtest.event import EventEngine, TargetWeightsStrategy
from alphaloop.execution import OrderRejected, OrderStatus, RiskLimits, TradingState
from alphaloop.execution.costs import CostModel

from .test_event_helpers import bars, event_names, flat, run


def test_without_limits_no_engine_is_built():
    result, _ = run(bars(flat(3)), {0: lambda c: c.order("AAA", 10)})
    assert result.risk_refusals == ()
    assert result.risk_transitions == ()


def test_a_refused_order_is_rejected_with_the_limit_value_and_threshold():
    limits = RiskLimits(max_order_notional=5_000)
    plan = {0: lambda c: c.order("AAA", 100), 1: lambda c: c.order("AAA", 10)}
    result, script = run(bars(flat(4)), plan, risk=limits)
    first, second = script.out[0], script.out[1]
    assert first.status is OrderStatus.REJECTED
    assert event_names(script.events, first.order_id) == ["OrderSubmitted", "OrderRejected"]
    reject = next(e for e in script.events if isinstance(e, OrderRejected))
    assert "max_order_notional" in reject.reason
    assert "10000" in reject.reason
    assert "5000" in reject.reason
    assert second.status is OrderStatus.FILLED
    (refusal,) = result.risk_refusals
    assert (refusal.limit, refusal.value, refusal.threshold) == ("max_order_notional", 1e4, 5e3)
    assert result.risk_refusal_counts == {"max_order_notional": 1}
    assert any("refused by the risk engine" in n for n in result.notes)
    assert len(result.trades) == 1


def test_a_loss_halts_trading_and_later_orders_are_refused():
    prices = [100.0, 100.0, 90.0, 90.0, 90.0]
    panel = bars([(p, p + 1, p - 1, p, 1e6) for p in prices])
    limits = RiskLimits(max_drawdown=0.05)
    plan = {0: lambda c: c.order("AAA", 8_000), 3: lambda c: c.order("AAA", 1)}
    result, script = run(panel, plan, risk=limits)
    assert script.out[0].status is OrderStatus.FILLED
    assert script.out[3].status is OrderStatus.REJECTED
    (halt,) = result.risk_transitions
    assert halt.after is TradingState.HALTED
    assert halt.limit == "max_drawdown"
    assert halt.value == pytest.approx(8_000 * 10 / 1e6)
    assert result.risk_refusals[-1].limit == "halted"


def test_kill_switch_cancels_working_orders_at_once():
    panel = bars(flat(5))

    def place(c):
        return [
            c.order("AAA", 5, "limit", limit_price=90),
            c.order("AAA", 5, "limit", limit_price=91),
        ]

    plan = {0: place, 1: lambda c: c.kill_switch("operator"), 2: lambda c: c.order("AAA", 1)}
    result, script = run(panel, plan, risk=RiskLimits(max_gross=1.0))
    killed = script.out[1]
    assert killed == [o.order_id for o in script.out[0]]
    assert all(o.status is OrderStatus.CANCELED for o in script.out[0])
    assert script.out[2].status is OrderStatus.REJECTED
    (t,) = result.risk_transitions
    assert (t.after, t.reason, t.now) == (TradingState.HALTED, "kill switch: operator", 1.0)
    assert result.open_orders == ()


def test_kill_switch_without_limits_is_a_clear_error():
    from alphaloop.errors import BacktestError

    with pytest.raises(BacktestError, match="needs risk limits"):
        run(bars(flat(3)), {0: lambda c: c.kill_switch("x")})


def test_rebalance_legs_pass_the_engine_too():
    panel = bars(flat(4))
    w = np.array([[0.5], [np.nan], [0.9], [np.nan]])
    limits = RiskLimits(max_weight=0.6, max_gross=1.0)
    result = EventEngine(panel, TargetWeightsStrategy(w), costs=CostModel.zero(),
                         risk=limits).run()  # fmt: skip
    assert [r.limit for r in result.risk_refusals] == ["max_weight"]
    assert result.gross_exposure.iloc[-1] == pytest.approx(0.5)
    plain = EventEngine(panel, TargetWeightsStrategy(w), costs=CostModel.zero()).run()
    assert plain.gross_exposure.iloc[-1] == pytest.approx(0.9)


def test_a_modification_past_a_limit_is_refused_and_the_order_works_on_unchanged():
    panel = bars(flat(5))
    plan = {
        0: lambda c: c.order("AAA", 10, "limit", limit_price=95),
        1: lambda c: c.modify(c.open_orders()[0], quantity=10_000),
        2: lambda c: c.modify(c.open_orders()[0], quantity=20),
    }
    result, script = run(panel, plan, risk=RiskLimits(max_weight=0.1))
    order = script.out[0]
    assert order.quantity == 20  # the second change passed
    (refusal,) = result.risk_refusals
    assert refusal.limit == "max_weight"
    assert refusal.value == pytest.approx(1.0)
