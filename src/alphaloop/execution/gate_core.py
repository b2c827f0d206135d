"""The gate's bookkeeping: the events it passes on, the audit of every decision, the
kill switch's enforcement and the outcome of approvals.

:class:`GateCore` holds what :class:`~alphaloop.execution.gated.GatedBroker`
knows between calls and does once per event (:meth:`GateCore.poll`); the
broker methods (submit, cancel, modify, rebalance) live in :mod:`.gated`.

Every decision is kept as a
:class:`~alphaloop.execution.gate_decisions.GateDecision`; driving the gate
bar by bar and replaying recorded decisions live in :mod:`.gate_session`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from alphaloop.execution.approvals import ApprovalError, order_fields
from alphaloop.execution.autonomy import (
    AutonomyError,
    AutonomyLevel,
    autonomy_level,
    check_autonomy_setup,
)
from alphaloop.execution.broker import Broker
from alphaloop.execution.compliance import ComplianceChecker, ComplianceRules
from alphaloop.execution.events import (
    CancelOrder,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    RebalanceToWeights,
    SubmitOrder,
)
from alphaloop.execution.gate_decisions import GateDecision, ReplayPlan
from alphaloop.execution.governance import Governance, MarketView
from alphaloop.execution.kill_switch import KillScope, KillState
from alphaloop.execution.orders import Order
from alphaloop.execution.risk_engine import RiskEngine, TradingState

__all__ = ["GateCore"]

_FILLS = (OrderFilled, OrderPartiallyFilled)
_AUDITED: dict[type, str] = {
    OrderAccepted: "order.accepted",
    OrderRejected: "order.rejected",
    OrderPartiallyFilled: "order.filled",
    OrderFilled: "order.filled",
    OrderCanceled: "order.canceled",
    OrderExpired: "order.expired",
}


def _weights(command: RebalanceToWeights) -> list[float | None]:
    """A rebalance's target weights as JSON (None = leave the asset alone)."""
    return [None if math.isnan(w) else float(w) for w in command.weights]


def _event_payload(event: OrderEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"event": type(event).__name__, "row": event.row}
    if isinstance(event, _FILLS):
        out.update(fill_id=event.fill_id, asset=event.asset, side=event.side.name.lower(),
                   quantity=event.quantity, price=event.price, cost=event.cost)  # fmt: skip
    reason = getattr(event, "reason", None)
    if reason is not None:
        out["reason"] = reason
    return out


class GateCore:
    """What the gate keeps between calls and does once per event.

    Takes the parameters of :class:`~alphaloop.execution.gated.GatedBroker`
    and refuses to start an autonomy level without what it needs.
    """

    def __init__(
        self,
        inner: Broker,
        governance: Governance,
        *,
        level: AutonomyLevel | str = AutonomyLevel.L3,
        session: str = "",
        strategy: str = "",
        risk: RiskEngine | None = None,
        limits_set_by: str | None = None,
        compliance: ComplianceRules | None = None,
        market: MarketView | None = None,
        clock: Callable[[], datetime] | None = None,
        actor: str = "system",
        simulated: bool = False,
        announce: bool = True,
    ) -> None:
        self.level = autonomy_level(level)
        check_autonomy_setup(self.level, None if risk is None else risk.limits, limits_set_by,
                             simulated=simulated)  # fmt: skip
        self.inner = inner
        self.gov = governance
        self.session = session
        self.strategy = strategy
        self.risk = risk
        self.compliance = None if compliance is None else ComplianceChecker(compliance)
        self.market = market
        self.clock = clock or governance.audit.clock
        self.actor = actor
        self._events: list[OrderEvent] = []
        self._held: dict[int, tuple[SubmitOrder, int]] = {}
        self._held_rebalances: dict[int, tuple[RebalanceToWeights, int]] = {}
        self._row = 0
        self._killed: KillState | None = None
        self._seen_transitions = 0 if risk is None else len(risk.transitions)
        #: every order the gate has seen, by id (refused and held ones never reach ``inner``)
        self.orders: dict[int, Order] = {}
        #: decisions not yet taken by :meth:`take_decisions`
        self.decisions: list[GateDecision] = []
        self._seq = 0
        self._seq_of: dict[int, int] = {}
        self._steps: dict[int, int] = {}
        self._plan: ReplayPlan | None = None
        self._bar_mode = False
        if announce:
            self._announce(risk, limits_set_by, compliance, simulated)
        self._check_kill()

    def _announce(self, risk: RiskEngine | None, limits_set_by: str | None,
                  compliance: ComplianceRules | None, simulated: bool) -> None:  # fmt: skip
        session, strategy = self.session, self.strategy
        self._audit("gate.started", self._subject, {
            "level": self.level.value, "session": session, "strategy": strategy,
            "simulated": simulated,
            "limits": None if risk is None else risk.limits.model_dump(mode="json"),
            "limits_set_by": limits_set_by,
            "compliance": None if compliance is None else compliance.model_dump(mode="json"),
        })  # fmt: skip

    # ------------------------------------------------------------ helpers
    @property
    def _subject(self) -> str:
        return f"session {self.session}" if self.session else f"strategy {self.strategy}"

    @property
    def replaying(self) -> bool:
        """Recorded decisions are being replayed (nothing is decided, audited or requested)."""
        return self._plan is not None

    def _audit(self, action: str, subject: str, payload: dict[str, Any]) -> None:
        if self._plan is None:
            self.gov.audit.append(self.actor, action, subject, payload, when=self.clock())

    def _next_seq(self, order_id: int | None = None) -> int:
        self._seq += 1
        if order_id is not None:
            self._seq_of[order_id] = self._seq
        return self._seq

    def _decide(self, seq: int, kind: str, order_id: int | None, action: str,
                stage: str = "gate", message: str = "", approval: int | None = None,
                detail: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Keep a decision (not while replaying: those are recorded already)."""
        if self._plan is not None:
            return
        step = self._steps.get(seq, 0)
        self._steps[seq] = step + 1
        self.decisions.append(GateDecision(seq, step, self._row, kind, order_id, action, stage,
                                           message, approval, detail or {}))  # fmt: skip

    def _fields(self, order: Order) -> dict[str, Any]:
        return order_fields(order, self.session, self.strategy)

    def _reject(self, order: Order, row: int, stage: str, rule: str, message: str,
                details: dict[str, Any] | None = None) -> None:  # fmt: skip
        if order.status.value == "new":
            order.apply(OrderSubmitted(order.order_id, row))
            self._events.append(order.events[-1])
        event = OrderRejected(order.order_id, row, message)
        order.apply(event)
        self._events.append(event)
        self._decide(self._seq_of.get(order.order_id, 0), "order", order.order_id, "refused",
                     stage, message, detail={"rule": rule})  # fmt: skip
        self._audit("order.refused", f"order {order.order_id}", {
            "stage": stage, "rule": rule, "message": message, "order": self._fields(order),
            **(details or {}),
        })  # fmt: skip

    def _pull(self) -> None:
        """Take the inner broker's events: follow them in the risk engine, audit them
        (the events of one call in one transaction)."""
        records = []
        for event in self.inner.drain_events():
            self._observe(event)
            self._events.append(event)
            action = _AUDITED.get(type(event))
            if action is not None:
                records.append((self.actor, action, f"order {event.order_id}",
                                _event_payload(event)))  # fmt: skip
        if records and self._plan is None:
            self.gov.audit.append_many(records, when=self.clock())

    def _observe(self, event: OrderEvent) -> None:
        risk = self.risk
        if risk is not None:
            now = self.clock().timestamp()
            if isinstance(event, _FILLS):
                risk.on_fill(event.order_id, event.asset, event.signed_quantity, event.price,
                             event.cost, now)  # fmt: skip
            elif isinstance(event, OrderCanceled | OrderExpired):
                risk.on_done(event.order_id, now=now)
            elif isinstance(event, OrderRejected) and event.order_id in risk.open:
                risk.on_done(event.order_id, rejected=True, now=now)

    # -------------------------------------------------------- kill switch
    def _check_kill(self) -> KillState | None:
        if self._plan is not None:  # a replay repeats what the kill did, it does not kill
            return None
        kill = self.gov.kill_switch.tripped(self.session, self.strategy)
        if kill is not None and self._killed is None:
            self._enforce_kill(kill)
        elif kill is None and self._killed is not None:
            released = self._killed
            self._killed = None
            if self.risk is not None and self.risk.state is TradingState.HALTED:
                self.risk.resume(f"kill switch cleared ({released.label})",
                                 self.clock().timestamp())  # fmt: skip
                self._seen_transitions = len(self.risk.transitions)
            self._audit("kill.released", self._subject, {"kill": released.to_dict()})
        return kill

    def _enforce_kill(self, kill: KillState) -> None:
        self._killed = kill
        if self.risk is not None:
            self.risk.kill(f"{kill.label}: {kill.reason}", self.clock().timestamp())
            self._seen_transitions = len(self.risk.transitions)
        canceled = []
        for order in list(self.inner.open_orders()):
            if self.inner.cancel(CancelOrder(order.order_id, self._row)):
                canceled.append(order.order_id)
                self._decide(0, "cancel", order.order_id, "canceled", "kill_switch",
                             f"kill switch ({kill.label}): {kill.reason}")  # fmt: skip
        self._pull()
        refused = []
        for oid, (command, approval_id) in list(self._held.items()):
            del self._held[oid]
            self.gov.approvals.close(approval_id, "refused", f"kill switch: {kill.reason}",
                                     actor=self.actor)  # fmt: skip
            self._done_in_risk(oid)
            self._reject(command.order, self._row, "kill_switch", "kill_switch",
                         f"kill switch ({kill.label}): {kill.reason}")  # fmt: skip
            refused.append(oid)
        for seq, (rebalance, approval_id) in list(self._held_rebalances.items()):
            del self._held_rebalances[seq]
            self._refuse_rebalance(seq, rebalance, approval_id, "kill_switch",
                                   f"kill switch ({kill.label}): {kill.reason}")  # fmt: skip
        self._audit("kill.enforced", self._subject, {"kill": kill.to_dict(),
                    "canceled": canceled, "refused_held": refused})  # fmt: skip

    def _refuse_rebalance(self, seq: int, command: RebalanceToWeights, approval_id: int | None,
                          stage: str, message: str) -> None:  # fmt: skip
        """Drop a held rebalance (its approval closed as refused when still open)."""
        if approval_id is not None and self._plan is None:
            self.gov.approvals.close(approval_id, "refused", message, actor=self.actor)
        payload = {"weights": _weights(command), "stage": stage, "message": message}
        self._decide(seq, "rebalance", None, "refused", stage, message, approval_id,
                     {"weights": payload["weights"]})  # fmt: skip
        self._audit("rebalance.refused", self._subject, payload)

    def _done_in_risk(self, order_id: int) -> None:
        if self.risk is not None and order_id in self.risk.open:
            self.risk.on_done(order_id, now=self.clock().timestamp())

    def _risk_transitions(self) -> None:
        """Audit the risk engine's state changes; a breaker's halt sets the kill switch."""
        risk = self.risk
        if risk is None or len(risk.transitions) == self._seen_transitions:
            return
        if self._plan is not None:  # replayed states were audited when they happened
            self._seen_transitions = len(risk.transitions)
            return
        new = risk.transitions[self._seen_transitions :]
        self._seen_transitions = len(risk.transitions)
        for t in new:
            self._audit("risk.transition", self._subject, {
                "before": t.before.value, "after": t.after.value, "reason": t.reason,
                "limit": t.limit, "value": t.value, "threshold": t.threshold,
            })  # fmt: skip
        last = new[-1]
        if last.after is TradingState.HALTED and last.limit != "kill_switch":
            scope, target = (
                (KillScope.SESSION, self.session) if self.session
                else (KillScope.STRATEGY, self.strategy) if self.strategy
                else (KillScope.ALL, None)
            )  # fmt: skip
            self.gov.kill_switch.set(
                f"risk engine halted: {last.reason} ({last.limit} {last.value:.6g} vs "
                f"{last.threshold:.6g})", actor="risk-engine", scope=scope, target=target,
            )  # fmt: skip
            self._check_kill()

    def _send(self, command: SubmitOrder, approval: int | None = None) -> None:
        if command.row < self._row:  # released later (approved): it leaves with this bar
            command = SubmitOrder(command.order, self._row, command.protection)
        payload: dict[str, Any] = {"order": self._fields(command.order), "level": self.level.value}
        if approval is not None:
            payload["approval"] = approval
        oid = command.order.order_id
        self._decide(self._seq_of.get(oid, 0), "order", oid, "sent", approval=approval)
        self._audit("order.sent", f"order {oid}", payload)
        self.inner.submit(command)
        self._pull()

    def _send_rebalance(self, seq: int, command: RebalanceToWeights,
                        approval: int | None = None) -> None:  # fmt: skip
        if command.row < self._row:
            command = RebalanceToWeights(command.weights, self._row, command.protection)
        weights = _weights(command)
        self._decide(seq, "rebalance", None, "sent", approval=approval, detail={"weights": weights})
        payload: dict[str, Any] = {"weights": weights}
        if approval is not None:
            payload["approval"] = approval
        self._audit("rebalance.sent", self._subject, payload)
        self.inner.rebalance(command)
        self._pull()

    # ------------------------------------------------------------ polling
    def poll(self, *, decide: bool | None = None) -> None:
        """Once per event: enforce the kill switch, act on decided approvals, audit states.

        ``decide`` (default: unless a driver calls :meth:`begin_bar`): act on approvals
        now; a bar-by-bar driver has them acted on at :meth:`end_bar` only.
        """
        if self._plan is not None:
            return
        self._risk_transitions()
        if decide is None:
            decide = not self._bar_mode
        if self._check_kill() is not None or not decide:
            return
        if not self._held and not self._held_rebalances:
            return
        approvals = self.gov.approvals
        approvals.expire_due()
        for oid, (command, approval_id) in list(self._held.items()):
            approval = approvals.get(approval_id)
            if approval.status == "pending":
                continue
            del self._held[oid]
            order = command.order
            if approval.status == "approved":
                try:
                    approvals.consume(approval_id, self._fields(order), actor=self.actor)
                except ApprovalError as exc:
                    self._done_in_risk(oid)
                    self._reject(order, self._row, "approval", "order_hash", str(exc))
                    continue
                self._send(command, approval_id)
            else:
                self._done_in_risk(oid)
                why = approval.reason or approval.status
                self._reject(order, self._row, "approval", approval.status,
                             f"approval {approval_id} {approval.status}"
                             f"{' by ' + approval.decided_by if approval.decided_by else ''}: "
                             f"{why}")  # fmt: skip
        for seq, (rebalance, approval_id) in list(self._held_rebalances.items()):
            approval = approvals.get(approval_id)
            if approval.status == "pending":
                continue
            del self._held_rebalances[seq]
            if approval.status == "approved":
                try:
                    approvals.consume(approval_id, approval.order, actor=self.actor)
                except ApprovalError as exc:
                    self._refuse_rebalance(seq, rebalance, None, "approval", str(exc))
                    continue
                self._send_rebalance(seq, rebalance, approval_id)
            else:
                by = f" by {approval.decided_by}" if approval.decided_by else ""
                self._refuse_rebalance(seq, rebalance, None, "approval",
                                       f"approval {approval_id} {approval.status}{by}: "
                                       f"{approval.reason or approval.status}")  # fmt: skip

    # ---------------------------------------------------------- L5 changes
    def record_strategy_change(self, actor: str, change: dict[str, Any]) -> None:
        """Record an agent's change of the strategy; allowed at L5 only (audited either way)."""
        if not self.level.agents_change_strategy:
            self._audit("strategy.change_refused", self._subject,
                        {"by": actor, "change": change, "level": self.level.value})  # fmt: skip
            raise AutonomyError(
                f"autonomy {self.level.value}: agents may not change the strategy "
                f"(only at L5); the change by {actor!r} was refused and recorded"
            )
        self._audit("strategy.changed", self._subject, {"by": actor, "change": change})
