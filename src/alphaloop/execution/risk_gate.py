"""The risk engine in front of the simulated broker: checks, marks and bookkeeping.

:class:`RiskGate` turns broker objects into :class:`RiskEngine` calls: an
order's check at the bar it is submitted on (marked at that bar's close,
the last price known when the strategy decided), a rebalance leg's check at
its fill bar (marked at the previous close, the leg at its fill price), and
every order event after it. ``now`` is the bar index; a new trading day
(UTC date) restarts the daily loss.
"""

from __future__ import annotations

import math
from collections import Counter

from alphaloop.execution.events import (
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
)
from alphaloop.execution.market import MarketData
from alphaloop.execution.orders import Order
from alphaloop.execution.risk_engine import RiskEngine
from alphaloop.execution.risk_limits import RiskLimits
from alphaloop.execution.risk_records import Refusal

__all__ = ["RiskGate"]

_FILLS = (OrderFilled, OrderPartiallyFilled)
_DONE = (OrderCanceled, OrderExpired)


class RiskGate:
    """A :class:`RiskEngine` fed from a :class:`MarketData` and the broker's events."""

    def __init__(self, limits: RiskLimits, market: MarketData, initial_capital: float) -> None:
        self.engine = RiskEngine(limits, market.assets, initial_capital)
        self.market = market
        self._marked = -1
        self._day = -1

    def mark(self, row: int) -> None:
        """Mark the engine at ``row``'s close (once per row; rows only go forward)."""
        if row <= self._marked or row < 0:
            return
        day = int(self.market.day_end_row[row])
        self.engine.mark(self.market.close[row].tolist(), float(row), new_day=day != self._day)
        self._day = day
        self._marked = row

    def check(
        self, order: Order, row: int, known_row: int, price: float = math.nan
    ) -> Refusal | None:
        """Check ``order`` decided with prices up to ``known_row``; ``price``: a fresher one."""
        self.mark(known_row)
        signed = order.quantity * order.side.sign
        limit = order.limit_price if order.limit_price is not None else order.stop_price
        return self.engine.submit(
            order.order_id, order.asset, signed, price, limit_price=limit, now=float(row)
        )

    def amend(
        self, order: Order, row: int, quantity: float | None, price: float | None
    ) -> Refusal | None:
        """Check a modification of ``order`` (new total ``quantity``, new limit or stop price)."""
        self.mark(row)
        total = order.quantity if quantity is None else quantity
        left = (total - order.filled_quantity) * order.side.sign
        if price is None:
            price = order.limit_price if order.limit_price is not None else order.stop_price
        return self.engine.amend(order.order_id, left, limit_price=price, now=float(row))

    def observe(self, event: OrderEvent) -> None:
        """Follow one event of an order (fills, cancels, expiries, venue rejects)."""
        if isinstance(event, _FILLS):
            self.engine.on_fill(
                event.order_id, event.asset, event.signed_quantity, event.price, event.cost,
                float(event.row),
            )  # fmt: skip
        elif isinstance(event, _DONE):
            self.engine.on_done(event.order_id, now=float(event.row))
        elif isinstance(event, OrderRejected) and event.order_id in self.engine.open:
            self.engine.on_done(event.order_id, rejected=True, now=float(event.row))

    def refusal_counts(self) -> dict[str, int]:
        """Refusals by limit."""
        return dict(Counter(r.limit for r in self.engine.refusals))
