"""The gate in front of a broker: each autonomy level, the kill within one event, approvals
in the loop, compliance and risk refusals, and the audit of every decision.

The inner broker is the simulated broker on the bundled S&P 500 index bars (2015), driven
bar by bar as a paper session drives it: start the bar, let the strategy send, drain the
events, end the bar.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.data import Panel
from alphaloop.execution import (
    AutonomyError,
    ComplianceRules,
    CostModel,
    GatedBroker,
    Governance,
    MarketSnapshot,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    RiskEngine,
    RiskLimits,
    SimulatedBroker,
    SubmitOrder,
    TradingState,
)
from alphaloop.execution.events import CancelOrder, ModifyOrder, RebalanceToWeights
from alphaloop.execution.gate_decisions import ReplayMismatchError

from .governance_helpers import Clock

ASSET = "SP500"
LIMITS = RiskLimits(max_weight=0.5, max_gross=1.0, max_daily_loss=0.2)


@pytest.fixture(scope="module")
def panel(shared_workspace: Workspace) -> Panel:
    return shared_workspace.data.load("sp500-ohlcv").slice("2015-01-01", "2015-04-30")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path / "ws")
    yield w
    w.close()


class Session:
    """A gated simulated broker, a clock at 10:00 New York time of each bar's day, and prices."""

    def __init__(self, ws: Workspace, panel: Panel, level: str, **gate: object) -> None:
        self.panel = panel
        self.clock = Clock()
        self.gov = Governance.open(ws.db, clock=self.clock, approval_ttl_s=600)
        self.inner = SimulatedBroker(panel, costs=CostModel.zero(), initial_capital=1e6)
        self.market = MarketSnapshot()
        self.close = panel.field("close")[:, 0]
        self.volume = panel.field("volume")[:, 0]
        self.at(0)
        risk = gate.pop("risk", "default")
        if risk == "default":
            risk = RiskEngine(LIMITS, panel.assets, 1e6)
        self.gate = GatedBroker(
            self.inner, self.gov, level=level, session="s1", strategy="momo", risk=risk,
            limits_set_by=gate.pop("limits_set_by", "ann"), market=self.market,
            clock=self.clock, **gate,
        )  # fmt: skip

    def at(self, row: int) -> None:
        self.clock.now = self.panel.index[row].to_pydatetime() + timedelta(hours=15)
        # the strategy decides after the bar's close: its close and volume are known
        self.market.update({ASSET: float(self.close[row])}, {ASSET: float(self.volume[row])})

    def order(self, row: int, quantity: float = 10.0, **kw: object) -> Order:
        order = Order(self.gate.new_order_id(), ASSET, OrderSide.BUY, quantity, **kw)
        self.gate.submit(SubmitOrder(order, row))
        return order

    def run(self, rows: range, each_bar: Callable[[int], None]) -> list:
        events = []
        for row in rows:
            self.at(row)
            self.inner.start_bar(row)
            each_bar(row)
            events += self.gate.drain_events()
            self.inner.end_bar(row)
        return events

    def actions(self) -> list[str]:
        return [e.action for e in self.gov.audit.entries()]


# ------------------------------------------------------------------ autonomy levels
def test_l1_sends_nothing_and_records_each_signal(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L1", risk=None)
    orders: list[Order] = []
    s.run(range(5), lambda row: orders.append(s.order(row)))
    assert s.inner.orders == {}
    assert all(o.status is OrderStatus.REJECTED for o in orders)
    assert s.actions().count("order.refused") == 5
    refused = s.gov.audit.entries(action="order.refused")[0].data
    assert refused["stage"] == "autonomy"
    assert refused["order"]["quantity"] == 10.0
    s.gate.rebalance(RebalanceToWeights(np.array([0.5]), 5))
    assert s.actions()[-1] == "rebalance.refused"
    assert s.gov.audit.verify().ok


@pytest.mark.parametrize("level", ["L3", "L4", "L5"])
def test_automatic_levels_refuse_to_start_without_hard_limits(
    ws: Workspace, panel: Panel, level: str
) -> None:
    with pytest.raises(AutonomyError, match="no risk limit is set"):
        Session(ws, panel, level, risk=None)
    with pytest.raises(AutonomyError, match="no risk limit is set"):
        Session(ws, panel, level, risk=RiskEngine(RiskLimits(), panel.assets, 1e6))
    with pytest.raises(AutonomyError, match="named person"):
        Session(ws, panel, level, limits_set_by="")


@pytest.mark.parametrize("level", ["L4", "L5"])
def test_unattended_levels_need_a_loss_breaker(ws: Workspace, panel: Panel, level: str) -> None:
    no_breaker = RiskEngine(RiskLimits(max_weight=0.5), panel.assets, 1e6)
    with pytest.raises(AutonomyError, match="loss breaker"):
        Session(ws, panel, level, risk=no_breaker)
    Session(ws, panel, "L3", risk=no_breaker)  # L3: a person watches


def test_l3_trades_automatically_within_limits(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L3")
    small = s.order(0, 10.0)
    big = s.order(0, 1000.0)  # ~2.0e6 notional: above max_weight 0.5 of 1e6
    events = s.run(range(1, 3), lambda row: None)
    assert small.status is OrderStatus.FILLED
    assert big.status is OrderStatus.REJECTED
    assert "max_weight" in big.events[-1].reason
    assert big.order_id not in s.inner.orders  # refused before the broker
    assert any(type(e).__name__ == "OrderFilled" for e in events)
    assert "order.filled" in s.actions()
    assert s.gate.position(ASSET) == 10.0
    assert math.isclose(s.gate.risk.pos[0], 10.0)  # the engine follows the fills


def test_only_l5_lets_agents_change_the_strategy(ws: Workspace, panel: Panel) -> None:
    s4 = Session(ws, panel, "L4")
    with pytest.raises(AutonomyError, match="only at L5"):
        s4.gate.record_strategy_change("improver", {"k": 5})
    assert s4.actions()[-1] == "strategy.change_refused"
    s5 = Session(ws, panel, "L5")
    s5.gate.record_strategy_change("improver", {"k": 5})
    last = s5.gov.audit.entries()[-1]
    assert last.action == "strategy.changed"
    assert last.data == {"by": "improver", "change": {"k": 5}}


# --------------------------------------------------------------------- kill switch
def test_kill_from_another_process_halts_within_one_event(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L3")
    kill_row = 8
    sent_rows: dict[int, int] = {}

    def strategy(row: int) -> None:
        if row == kill_row:  # a person runs `alphaloop kill` while the session trades
            done = subprocess.run(
                [sys.executable, "-m", "alphaloop.cli", "--workspace", str(ws.root), "kill",
                 "--reason", "market gap", "--actor", "ops"],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        # a far limit buy that rests (working orders to cancel) and a small market buy
        px = s.market.price(ASSET)
        for order in (s.order(row, 1.0, order_type=OrderType.LIMIT, limit_price=px * 0.5),
                      s.order(row, 1.0)):  # fmt: skip
            sent_rows[order.order_id] = row

    s.run(range(15), strategy)
    at_broker = {oid: sent_rows[oid] for oid in s.inner.orders}
    assert at_broker  # orders did flow before the kill
    assert max(at_broker.values()) == kill_row - 1  # nothing reached the broker after it
    assert s.inner.open_orders() == []  # the resting limits were canceled
    canceled = [o for o in s.inner.orders.values() if o.status is OrderStatus.CANCELED]
    assert len(canceled) == kill_row  # one resting limit per bar before the kill
    assert s.gate.risk.state is TradingState.HALTED
    after = [s.inner.orders.get(oid) for oid, row in sent_rows.items() if row >= kill_row]
    assert after
    assert all(o is None for o in after)
    enforced = s.gov.audit.entries(action="kill.enforced")
    assert len(enforced) == 1
    assert enforced[0].data["kill"]["actor"] == "ops"
    assert sorted(enforced[0].data["canceled"]) == sorted(o.order_id for o in canceled)
    assert s.gov.audit.verify().ok

    # cleared by a person: the engine resumes and orders flow again
    s.gov.kill_switch.clear("gap closed", actor="ops")
    late = s.run(range(15, 17), lambda row: s.order(row, 1.0))
    assert s.gate.risk.state is TradingState.ACTIVE
    assert any(type(e).__name__ == "OrderAccepted" for e in late)
    assert "kill.released" in s.actions()


def test_kill_scoped_to_another_session_does_not_stop_this_one(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L3")
    s.gov.kill_switch.set("other desk", actor="ops", scope="session", target="s2")
    order = s.order(0)
    assert order.status is OrderStatus.ACCEPTED
    s.gov.kill_switch.set("this strategy", actor="ops", scope="strategy", target="momo")
    blocked = s.order(0)
    assert blocked.status is OrderStatus.REJECTED
    assert "strategy momo" in blocked.events[-1].reason


def test_a_risk_breaker_halt_persists_as_a_kill(ws: Workspace, panel: Panel) -> None:
    limits = RiskLimits(max_weight=1.0, max_consecutive_rejects=2, max_daily_loss=0.5)
    s = Session(ws, panel, "L4", risk=RiskEngine(limits, panel.assets, 1e6))
    s.order(0, 1000.0)  # refused: max_weight
    s.order(0, 1000.0)  # refused again: the breaker halts the engine
    s.gate.drain_events()
    kills = s.gov.kill_switch.active(refresh=True)
    assert [(k.scope.value, k.target, k.actor) for k in kills] == [("session", "s1", "risk-engine")]
    assert "consecutive rejects" in kills[0].reason
    assert s.order(0, 1.0).status is OrderStatus.REJECTED
    assert "risk.transition" in s.actions()


# ------------------------------------------------------------------------ approvals
def test_l2_order_waits_and_is_sent_when_approved(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L2", risk=None)
    order = s.order(0)
    assert order.status is OrderStatus.NEW
    assert s.inner.orders == {}
    assert s.gate.open_orders() == [order]
    (approval_id,) = s.gate.held_orders().values()
    s.clock.advance(300)  # within the time to live
    s.gate.drain_events()
    assert s.inner.orders == {}  # still waiting
    s.gov.approvals.approve(approval_id, actor="ann", reason="looks right")
    s.run(range(1, 3), lambda row: None)
    assert order.status is OrderStatus.FILLED
    assert s.gov.approvals.get(approval_id).status == "sent"
    sent = s.gov.audit.entries(action="order.sent")[0].data
    assert sent["approval"] == approval_id


def test_l2_rejected_and_expired_orders_are_rejected(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L2", risk=None)
    first, second = s.order(0), s.order(0)
    ids = s.gate.held_orders()
    s.gov.approvals.reject(ids[first.order_id], actor="ann", reason="too early")
    s.gate.drain_events()
    assert first.status is OrderStatus.REJECTED
    assert "rejected by ann: too early" in first.events[-1].reason
    assert second.status is OrderStatus.NEW
    s.clock.advance(601)  # past the 600 s time to live
    s.gate.drain_events()
    assert second.status is OrderStatus.REJECTED
    assert "expired" in second.events[-1].reason
    assert s.inner.orders == {}


def test_l2_order_changed_after_approval_is_refused(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L2", risk=None)
    order = s.order(0, 10.0)
    (approval_id,) = s.gate.held_orders().values()
    s.gov.approvals.approve(approval_id, actor="ann")
    s.gate.modify(ModifyOrder(order.order_id, 0, quantity=500.0))  # before the gate polls
    s.gate.drain_events()
    assert order.status is OrderStatus.REJECTED
    assert "quantity" in order.events[-1].reason
    assert s.inner.orders == {}
    assert s.gov.approvals.get(approval_id).status == "refused"


def test_l2_cancel_while_waiting(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L2", risk=None)
    order = s.order(0)
    (approval_id,) = s.gate.held_orders().values()
    assert s.gate.cancel(CancelOrder(order.order_id, 0))
    assert order.status is OrderStatus.CANCELED
    assert s.gov.approvals.get(approval_id).status == "refused"
    assert s.gate.open_orders() == []


def test_kill_refuses_orders_waiting_for_approval(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L2", risk=None)
    order = s.order(0)
    (approval_id,) = s.gate.held_orders().values()
    s.gov.kill_switch.set("stop", actor="ops")
    s.gate.drain_events()
    assert order.status is OrderStatus.REJECTED
    assert s.gov.approvals.get(approval_id).status == "refused"
    with pytest.raises(Exception, match="not pending"):
        s.gov.approvals.approve(approval_id, actor="ann")


# ----------------------------------------------------------------------- compliance
def test_compliance_refusals_come_before_the_risk_engine(ws: Workspace, panel: Panel) -> None:
    rules = ComplianceRules(restricted=("SP500",), calendar="XNYS")
    s = Session(ws, panel, "L3", compliance=rules)
    order = s.order(0)
    assert order.status is OrderStatus.REJECTED
    assert "restricted" in order.events[-1].reason
    assert s.gate.risk.n_checks == 0  # the risk engine never saw it
    data = s.gov.audit.entries(action="order.refused")[-1].data
    assert (data["stage"], data["rule"]) == ("compliance", "restricted")


def test_orders_outside_trading_hours_are_refused(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L3", compliance=ComplianceRules(calendar="XNYS"))
    s.clock.now = s.clock.now.replace(hour=22)  # 17:00 in New York: closed
    order = s.order(0)
    assert order.status is OrderStatus.REJECTED
    assert "outside XNYS trading hours" in order.events[-1].reason
    s.gate.rebalance(RebalanceToWeights(np.array([0.3]), 0))
    assert s.actions()[-1] == "rebalance.refused"


def test_participation_cap_uses_recent_volume(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L3", compliance=ComplianceRules(max_participation=1e-8))
    s.at(1)
    cap = 1e-8 * float(s.volume[1])
    ok = s.order(1, math.floor(cap))
    too_big = s.order(1, math.floor(cap) + 1.0)
    assert ok.status is OrderStatus.ACCEPTED
    assert too_big.status is OrderStatus.REJECTED
    assert "max_participation" in too_big.events[-1].reason


def test_bad_change_to_a_held_order_is_refused(ws: Workspace, panel: Panel) -> None:
    s = Session(ws, panel, "L2", risk=None)
    order = s.order(0, 10.0)
    s.gate.modify(ModifyOrder(order.order_id, 0, quantity=-5.0))
    assert order.quantity == 10.0
    refused = s.gov.audit.entries(action="order.modify_refused")[-1].data
    assert "quantity must be a positive number" in refused["message"]


# ----------------------------------------------------------------------- replay
def test_a_replay_repeats_the_recorded_decisions_and_audits_nothing(
    ws: Workspace, panel: Panel
) -> None:
    s = Session(ws, panel, "L3")
    first = s.order(0, 10.0)
    too_big = s.order(0, 1e6)  # past max_weight: refused by the risk engine
    decisions = s.gate.take_decisions()
    assert [(d.seq, d.action, d.stage) for d in decisions] == [
        (1, "sent", "gate"), (2, "refused", "risk"),
    ]
    assert first.status is not OrderStatus.REJECTED
    assert too_big.status is OrderStatus.REJECTED
    entries = len(s.actions())

    again = Session(ws, panel, "L3")
    again.gate.start_replay(decisions)
    replayed = [again.order(0, 10.0), again.order(0, 1e6)]
    again.gate.end_replay()
    assert [o.status for o in replayed] == [first.status, too_big.status]
    assert replayed[1].events[-1].reason == too_big.events[-1].reason
    assert again.gate.take_decisions() == []  # nothing decided again
    assert len(again.actions()) == entries + 1  # only the second gate's start

    other = Session(ws, panel, "L3")
    other.gate.start_replay(decisions[:1])
    other.order(0, 10.0)
    with pytest.raises(ReplayMismatchError, match="command 2 of the strategy is order"):
        other.order(0, 1e6)
