"""The gate driven bar by bar, and its replay of recorded decisions after a restart.

:class:`GateSession` adds to :class:`~alphaloop.execution.gate_core.GateCore`
what a paper or live session needs. A driver that runs bar by bar calls
:meth:`GateSession.begin_bar` and :meth:`GateSession.end_bar`: decided
approvals then take effect only at the end of a bar, so an approved order
leaves with the bar it was released on and fills at the next one. Every
decision is kept as a :class:`~alphaloop.execution.gate_decisions.GateDecision`
(:meth:`GateSession.take_decisions`), and :meth:`GateSession.start_replay`
replays recorded ones after a restart (see :mod:`.gate_decisions`).
"""

from __future__ import annotations

import math

from alphaloop.execution.events import CancelOrder, RebalanceToWeights, SubmitOrder
from alphaloop.execution.gate_core import GateCore
from alphaloop.execution.gate_decisions import GateDecision, ReplayPlan
from alphaloop.execution.orders import Order

__all__ = ["GateSession"]


class GateSession(GateCore):
    """The gate's bar-by-bar driving and replay (see the module docstring)."""

    def take_decisions(self) -> list[GateDecision]:
        """The decisions since the last call, oldest first (a recorder stores them)."""
        out, self.decisions = self.decisions, []
        return out

    def order(self, order_id: int) -> Order | None:
        """An order the gate has seen (refused and held ones included), else None."""
        return self.orders.get(order_id)

    @property
    def has_events(self) -> bool:
        """Events wait in the gate or in the inner broker."""
        return bool(self._events) or bool(getattr(self.inner, "events", False))

    def held_rebalances(self) -> dict[int, int]:
        """Rebalances waiting for approval: command seq -> approval request id."""
        return {seq: approval for seq, (_, approval) in self._held_rebalances.items()}

    # ------------------------------------------------------- bar by bar
    def begin_bar(self, row: int) -> None:
        """A driver starts bar ``row``: approvals now take effect at :meth:`end_bar` only."""
        self._bar_mode = True
        self._row = row

    def end_bar(self, row: int) -> None:
        """The end of bar ``row``: act on decided approvals (or, replaying, on what the
        record says happened at this bar). Drain the events afterwards."""
        self._bar_mode = True
        self._row = row
        if self._plan is None:
            self.poll(decide=True)
            return
        for d in self._plan.due(row):
            self._replay_later(d)
        self._pull()

    # ----------------------------------------------------------- replay
    def start_replay(self, decisions: list[GateDecision]) -> None:
        """Replay ``decisions`` (recorded by an earlier run) instead of deciding.

        Until :meth:`end_replay`, orders and rebalances follow the record, nothing
        is audited, no approval is requested and the kill switch is not read;
        the risk engine follows the replayed orders and fills.
        """
        self._plan = ReplayPlan(decisions)

    def end_replay(self) -> None:
        """Back to deciding; commands still held wait for their recorded approvals."""
        plan, self._plan = self._plan, None
        if plan is not None:
            self._steps.update(plan.steps)
        if self.risk is not None:
            self._seen_transitions = len(self.risk.transitions)

    def _replay_later(self, d: GateDecision) -> None:
        """Apply a decision taken after its command arrived (released, refused, canceled)."""
        if d.kind == "cancel":
            self.inner.cancel(CancelOrder(int(d.order_id or 0), self._row))
        elif d.kind == "order":
            held = self._held.pop(int(d.order_id or 0), None)
            if held is None:
                return
            command = held[0]
            if d.action == "sent":
                self._risk_submit(command.order)
                self.inner.submit(SubmitOrder(command.order, self._row, command.protection))
            else:
                self._done_in_risk(command.order.order_id)
                self._reject(command.order, self._row, d.stage, d.stage, d.message)
        elif d.kind == "rebalance":
            held_rebalance = self._held_rebalances.pop(d.seq, None)
            if held_rebalance is not None and d.action == "sent":
                command_r = held_rebalance[0]
                self.inner.rebalance(
                    RebalanceToWeights(command_r.weights, self._row, command_r.protection)
                )

    def _risk_submit(self, order: Order) -> None:
        """Let the risk engine follow a replayed order (its verdict was recorded)."""
        if self.risk is None:
            return
        price = math.nan if self.market is None else self.market.price(order.asset)
        limit = order.limit_price if order.limit_price is not None else order.stop_price
        self.risk.submit(order.order_id, order.asset, order.signed_quantity, price,
                         limit_price=limit, now=self.clock().timestamp())  # fmt: skip

    def _replay_submit(self, seq: int, command: SubmitOrder) -> None:
        """Do to ``command`` what the record says was done to it."""
        assert self._plan is not None
        order = command.order
        d = self._plan.first(seq, "order", order.order_id)
        if d.action == "sent":
            self._risk_submit(order)
            self.inner.submit(command)
            self._pull()
        elif d.action == "held":
            self._held[order.order_id] = (command, int(d.approval_id or 0))
        else:
            self._reject(order, command.row, d.stage, d.stage, d.message)
