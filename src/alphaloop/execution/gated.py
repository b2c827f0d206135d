"""The gate every paper and live broker sits behind: kill switch, autonomy, compliance,
risk, approval, then the broker.

:class:`GatedBroker` implements the :class:`~alphaloop.execution.broker.Broker`
protocol around an inner broker. Each new order passes, in this order:

1. the **kill switch** (persisted; a kill set by any process is seen at the
   next check, see :mod:`.kill_switch`);
2. the **autonomy level** (L1: no order leaves; see :mod:`.autonomy`);
3. the **compliance rules** (restricted list, trading hours, participation
   cap, short sales; see :mod:`.compliance`);
4. the **risk engine** (limits, breakers, trading states);
5. at L2, a person's **approval** (the order waits, NEW, until approved,
   rejected or expired; see :mod:`.approvals`);
6. the **inner broker**.

A refused order gets ``OrderSubmitted`` then ``OrderRejected`` (the reason
names the stage, the rule and its values); every decision is an audit entry
(``order.sent``, ``order.refused``, ``order.held``, ``order.filled``, ...).

Once per event, :meth:`drain_events` (which every driver calls) also polls:
a kill that trips halts the risk engine, cancels every working order and
refuses every held one; a kill that is cleared resumes the engine; decided
approvals send or refuse their orders. A halt of the risk engine by one of
its breakers sets the persisted kill switch for this session (or strategy),
so only a person clears it (``alphaloop kill --clear``).

Rebalances (:class:`~alphaloop.execution.events.RebalanceToWeights`) pass
the kill switch, the autonomy level (refused at L1, where the weights are
recorded as the signal; at L2 a person approves the basket's target
weights, since a basket sized at its fill price cannot be approved order by
order) and the compliance hours and restricted list; their legs are checked
by the inner broker's own risk engine at the fill.

The risk engine's ``now`` is the clock's time in seconds (POSIX), so its
``rate_window`` is in seconds here.
"""

from __future__ import annotations

import math

import numpy as np

from alphaloop.execution.events import (
    CancelOrder,
    ModifyOrder,
    OrderCanceled,
    OrderEvent,
    OrderSubmitted,
    RebalanceToWeights,
    SubmitOrder,
)
from alphaloop.execution.gate_session import GateSession
from alphaloop.execution.orders import Order

__all__ = ["GatedBroker"]


def _recorded(weights: list[float | None]) -> np.ndarray:
    return np.array([np.nan if w is None else float(w) for w in weights], dtype=float)


class GatedBroker(GateSession):
    """A :class:`Broker` that enforces governance in front of ``inner``.

    Parameters
    ----------
    inner : Broker
        The broker orders go to once they pass (simulated, paper or live).
    governance : Governance
        Audit log, kill switch and approval queue (one database).
    level : AutonomyLevel or str, default L3
    session, strategy : str
        Ids the kill switch scopes and approvals refer to.
    risk : RiskEngine, optional
        Required from L3 on, with limits set (``limits_set_by`` names the
        person who set them).
    compliance : ComplianceRules, optional
    market : MarketView, optional
        Last prices (for the risk engine) and recent volumes (for the
        participation cap).
    clock : callable
        Now, timezone-aware (default: the audit log's clock).
    actor : str, default "system"
        Who the gate's own audit entries name.
    simulated : bool, default False
        ``inner`` is a simulated venue (paper trading): L3..L5 may run without
        hard limits (see :func:`~alphaloop.execution.autonomy.check_autonomy_setup`).
    announce : bool, default True
        Audit ``gate.started`` (a session that rebuilds its gate on every new bar
        of a live feed announces it once).
    """

    # ---------------------------------------------------------- protocol
    def new_order_id(self) -> int:
        return self.inner.new_order_id()

    def submit(self, command: SubmitOrder) -> None:
        """Pass ``command`` through the checks (see the module docstring)."""
        order, row = command.order, command.row
        self._row = row
        seq = self._next_seq(order.order_id)
        self.orders[order.order_id] = order
        if self._plan is not None:
            self._replay_submit(seq, command)
            return
        kill = self._check_kill()
        if kill is not None:
            self._reject(order, row, "kill_switch", "kill_switch",
                         f"kill switch ({kill.label}): {kill.reason}")  # fmt: skip
            return
        if not self.level.sends_orders:
            self._reject(order, row, "autonomy", "L1",
                         "autonomy L1: signals only, no order leaves the system")  # fmt: skip
            return
        signed = order.signed_quantity
        if self.compliance is not None:
            volume = None if self.market is None else self.market.recent_volume(order.asset)
            refusal = self.compliance.check(order.order_id, order.asset, signed, self.clock(),
                                            position=self.inner.position(order.asset),
                                            recent_volume=volume)  # fmt: skip
            if refusal is not None:
                self._reject(order, row, "compliance", refusal.rule, refusal.message,
                             {"refusal": refusal.to_dict()})  # fmt: skip
                return
        if self.risk is not None:
            price = math.nan if self.market is None else self.market.price(order.asset)
            limit = order.limit_price if order.limit_price is not None else order.stop_price
            refusal = self.risk.submit(order.order_id, order.asset, signed, price,
                                       limit_price=limit, now=self.clock().timestamp())  # fmt: skip
            if refusal is not None:
                self._reject(order, row, "risk", refusal.limit, refusal.message, {
                    "value": refusal.value, "threshold": refusal.threshold})  # fmt: skip
                self._risk_transitions()
                return
        if self.level.needs_approval:
            approval = self.gov.approvals.request(self._fields(order), actor=self.actor)
            self._held[order.order_id] = (command, approval.id)
            self._decide(seq, "order", order.order_id, "held", "approval",
                         f"waiting for approval {approval.id}", approval.id)  # fmt: skip
            self._audit("order.held", f"order {order.order_id}",
                        {"approval": approval.id, "order_hash": approval.order_hash})  # fmt: skip
            return
        self._send(command)

    def cancel(self, command: CancelOrder) -> bool:
        """Cancel a working or held order (always allowed, killed or not)."""
        self._row = command.row
        held = self._held.pop(command.order_id, None)
        if held is not None:
            sub, approval_id = held
            if self._plan is None:
                self.gov.approvals.close(approval_id, "refused", "order canceled while waiting",
                                         actor=self.actor)  # fmt: skip
            self._done_in_risk(command.order_id)
            order = sub.order
            for event in (OrderSubmitted(order.order_id, command.row),
                          OrderCanceled(order.order_id, command.row, "canceled while waiting "
                                        "for approval")):  # fmt: skip
                order.apply(event)
                self._events.append(event)
            self._audit("order.canceled", f"order {order.order_id}", {"held": True})
            return True
        done = self.inner.cancel(command)
        self._pull()
        return done

    def modify(self, command: ModifyOrder) -> None:
        """Change a working order (refused while killed) or a held one (its approval
        then no longer matches and the order is refused when approved)."""
        self._row = command.row
        subject = f"order {command.order_id}"
        change = {"quantity": command.quantity, "limit_price": command.limit_price,
                  "stop_price": command.stop_price}  # fmt: skip
        kill = self._check_kill()
        if kill is not None:
            self._audit("order.modify_refused", subject, {"change": change, "stage": "kill_switch",
                        "message": f"kill switch ({kill.label}): {kill.reason}"})  # fmt: skip
            return
        held = self._held.get(command.order_id)
        if held is not None:
            bad = [
                k for k, v in change.items() if v is not None and not (math.isfinite(v) and v > 0)
            ]
            if bad:
                self._audit("order.modify_refused", subject, {"change": change, "stage": "order",
                            "message": f"{', '.join(bad)} must be a positive number"})  # fmt: skip
                return
            order = held[0].order
            if command.quantity is not None:
                order.quantity = float(command.quantity)
            if command.limit_price is not None:
                order.limit_price = float(command.limit_price)
            if command.stop_price is not None:
                order.stop_price = float(command.stop_price)
            self._audit("order.modified", subject, {"change": change, "held": True})
            return
        if self.risk is not None:
            target = next((o for o in self.inner.open_orders() if o.order_id == command.order_id),
                          None)  # fmt: skip
            if target is not None:
                total = target.quantity if command.quantity is None else command.quantity
                left = (total - target.filled_quantity) * target.side.sign
                price = command.limit_price if command.limit_price is not None else (
                    command.stop_price)  # fmt: skip
                refusal = self.risk.amend(command.order_id, left, limit_price=price,
                                          now=self.clock().timestamp())  # fmt: skip
                if refusal is not None:
                    self._audit("order.modify_refused", subject, {"change": change,
                                "stage": "risk", "message": refusal.message})  # fmt: skip
                    return
        self._audit("order.modified", subject, {"change": change})
        self.inner.modify(command)
        self._pull()

    def rebalance(self, command: RebalanceToWeights) -> None:
        """Pass a rebalance through the kill switch, autonomy and compliance (see above)."""
        self._row = command.row
        seq = self._next_seq()
        weights = np.asarray(command.weights, dtype=float)
        if self._plan is not None:
            d = self._plan.first(seq, "rebalance", None)
            if "weights" in d.detail:  # the weights as decided then, whatever they are now
                command = RebalanceToWeights(_recorded(d.detail["weights"]), command.row,
                                             command.protection)  # fmt: skip
            if d.action == "sent":
                self.inner.rebalance(command)
                self._pull()
            elif d.action == "held":
                self._held_rebalances[seq] = (command, int(d.approval_id or 0))
            return
        targets = [None if math.isnan(w) else float(w) for w in weights]
        kill = self._check_kill()
        refusal: tuple[str, str] | None = None
        if kill is not None:
            refusal = ("kill_switch", f"kill switch ({kill.label}): {kill.reason}")
        elif not self.level.sends_orders:
            refusal = ("autonomy", "autonomy L1: signals only, no order leaves the system")
        elif self.compliance is not None:
            refusal = self._rebalance_compliance(weights)
        if refusal is not None:
            self._refuse_rebalance(seq, command, None, *refusal)
            return
        if self.level.needs_approval:
            fields = {"kind": "rebalance", "weights": targets, "assets": self._assets(),
                      "row": command.row, "session": self.session, "strategy": self.strategy}
            approval = self.gov.approvals.request(fields, actor=self.actor)
            self._held_rebalances[seq] = (command, approval.id)
            self._decide(seq, "rebalance", None, "held", "approval",
                         f"waiting for approval {approval.id}", approval.id,
                         {"weights": targets})  # fmt: skip
            self._audit("rebalance.held", self._subject,
                        {"weights": targets, "approval": approval.id,
                         "order_hash": approval.order_hash})  # fmt: skip
            return
        self._send_rebalance(seq, command)

    def _assets(self) -> list[str]:
        market = getattr(self.inner, "market", None)
        return [str(a) for a in getattr(market, "assets", ())]

    def _rebalance_compliance(self, weights: np.ndarray) -> tuple[str, str] | None:
        """Trading hours for any trade; the restricted list for targets other than exits."""
        checker = self.compliance
        assert checker is not None
        market = getattr(self.inner, "market", None)
        assets = tuple(getattr(market, "assets", ()))
        if len(assets) != len(weights):
            return ("compliance", "the gate cannot tell which asset each weight is for "
                    "(the inner broker has no market.assets of the weights' length)")  # fmt: skip
        now = self.clock()
        for j, w in enumerate(weights):
            if math.isnan(w):
                continue
            refusal = checker.check_hours(-1, assets[j], now)
            if refusal is None and w != 0.0 and assets[j] in checker.rules.restricted:
                refusal = checker.check(-1, assets[j], math.copysign(1.0, w), now)
            if refusal is not None:
                return ("compliance", refusal.message)
        return None

    # ------------------------------------------- what a strategy context reads
    def asset_column(self, asset: str) -> int:
        return self.inner.asset_column(asset)  # type: ignore[attr-defined]

    @property
    def lot_sizes(self) -> np.ndarray:
        return self.inner.lot_sizes  # type: ignore[attr-defined]

    def kill(self, reason: str) -> list[int]:
        """A strategy's own kill: set the persisted kill switch for this session (or
        strategy) and enforce it now; returns the ids of the orders it canceled."""
        from alphaloop.execution.kill_switch import KillScope

        if self._plan is not None:  # replaying: the kill was set then; cancel as it did
            ids = [o.order_id for o in self.inner.open_orders()]
            for oid in ids:
                self.inner.cancel(CancelOrder(oid, self._row))
            self._pull()
            return ids
        scope, target = (
            (KillScope.SESSION, self.session) if self.session
            else (KillScope.STRATEGY, self.strategy) if self.strategy
            else (KillScope.ALL, None)
        )  # fmt: skip
        before = {o.order_id for o in self.inner.open_orders()}
        self.gov.kill_switch.set(f"strategy: {reason}", actor=self.actor, scope=scope,
                                 target=target)  # fmt: skip
        self._check_kill()
        after = {o.order_id for o in self.inner.open_orders()}
        return sorted(before - after)

    def position(self, asset: str) -> float:
        return self.inner.position(asset)

    def positions(self) -> dict[str, float]:
        return self.inner.positions()

    @property
    def cash(self) -> float:
        return self.inner.cash

    @property
    def equity(self) -> float:
        return self.inner.equity

    def open_orders(self, asset: str | None = None) -> list[Order]:
        """Working orders of the inner broker, and orders held for approval."""
        held = [c.order for c, _ in self._held.values() if asset is None or c.order.asset == asset]
        return self.inner.open_orders(asset) + held

    def held_orders(self) -> dict[int, int]:
        """Orders waiting for approval: order id -> approval request id."""
        return {oid: approval for oid, (_, approval) in self._held.items()}

    def drain_events(self) -> list[OrderEvent]:
        """Poll (kill switch, approvals, risk states); then the events since the last call."""
        self.poll()
        self._pull()
        out, self._events = self._events, []
        return out
