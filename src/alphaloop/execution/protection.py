"""Protection orders: the stop loss, take profit and trailing stop kept next to a position.

When a fill changes a position that carries a
:class:`~alphaloop.execution.orders.Protection`, the desk brings its
protection orders in line, as the vectorized simulator's stops work:

- a new (or reversed) position gets new orders for its whole size, priced
  from its entry price: a stop (or a trailing stop, never looser than the
  stop loss when both are set) and a take-profit limit; a trailing stop
  trails from the entry price;
- a position added to or reduced keeps its orders, resized and repriced
  from the new average entry (``OrderUpdated``); a trailing stop keeps its
  best price;
- a flat position loses them (``OrderCanceled``), which also makes the pair
  one-cancels-the-other: when one fills, the other is canceled.

Orders placed at an open fill work from the rest of that bar (not from its
open, which the position did not live through); others from the next bar.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from alphaloop.execution.armed import CLOSED_REASON, guard_order
from alphaloop.execution.events import OrderUpdated
from alphaloop.execution.matching import Ticket
from alphaloop.execution.orders import Order, OrderSide, OrderType, Protection

if TYPE_CHECKING:
    from alphaloop.execution.simulated import SimulatedBroker

__all__ = ["ProtectionDesk", "guard_levels"]

_BUY, _SELL = OrderSide.BUY, OrderSide.SELL
_REASON = {
    OrderType.STOP: "stop_loss",
    OrderType.TRAILING_STOP: "trailing_stop",
    OrderType.LIMIT: "take_profit",
}


def _validated(
    order_id: int,
    asset: str,
    side: OrderSide,
    quantity: float,
    kind: OrderType,
    limit: float | None,
    stop: float | None,
    trail: float | None,
    reason: str,
) -> Order:
    return Order(
        order_id, asset, side, quantity, kind,
        limit_price=limit, stop_price=stop, trail_fraction=trail, reason=reason,
    )  # fmt: skip


def guard_levels(p: Protection, entry: float, long: bool) -> dict[OrderType, float | None]:
    """Order type -> price of each protection order of a position entered at ``entry``
    (``None``: a trailing stop without a stop-loss floor)."""
    sign = 1.0 if long else -1.0
    out: dict[OrderType, float | None] = {}
    stop = entry * (1.0 - sign * p.stop_loss) if p.stop_loss > 0.0 else None
    if p.trailing_stop > 0.0:
        out[OrderType.TRAILING_STOP] = stop
    elif stop is not None:
        out[OrderType.STOP] = stop
    if p.take_profit > 0.0:
        out[OrderType.LIMIT] = entry * (1.0 + sign * p.take_profit)
    return out


class ProtectionDesk:
    """The protection of each asset's position and its working orders."""

    def __init__(self, broker: SimulatedBroker) -> None:
        self._broker = broker
        self.guards: dict[int, list[Ticket]] = {}
        self.protection: dict[int, Protection] = {}

    def attach(self, asset: int, protection: Protection) -> None:
        """The position of ``asset`` is protected by ``protection`` from now on."""
        self.protection[asset] = protection

    def watches(self, asset: int) -> bool:
        return asset in self.guards

    def forget(self, ticket: Ticket) -> None:
        """A protection order finished (filled or canceled)."""
        guards = self.guards.get(ticket.asset)
        if guards is not None and ticket in guards:
            guards.remove(ticket)

    def sync(self, j: int, row: int, at_open: bool) -> None:
        """Bring the protection orders of asset ``j`` in line with its position."""
        broker = self._broker
        ledger = broker.ledger
        pos = ledger.shares[j]
        guards = self.guards.get(j)
        protection = self.protection.get(j)
        if pos == 0.0:
            self.protection.pop(j, None)
        if pos == 0.0 or protection is None or not protection.active:
            if guards is not None:
                for g in list(guards):
                    broker.cancel_ticket(g, row, CLOSED_REASON)
                del self.guards[j]
            return
        side = _SELL if pos > 0.0 else _BUY
        entry = ledger.entry_price[j]
        levels = guard_levels(protection, entry, pos > 0.0)
        opened = ledger.opened[j]
        if guards:
            for g in guards:
                if g.opened != opened or g.guard is not protection or g.order.side is not side:
                    break
            else:  # the same position: resize and reprice its orders
                for g in guards:
                    self._update(g, row, g.order.filled_quantity + abs(pos), levels)
                return
            for g in list(guards):
                broker.cancel_ticket(g, row, "replaced: the position changed")
        first = row if at_open else row + 1
        pairs = list(levels.items())
        armed = broker.armed
        if armed.enabled and armed.can_arm(j, entry):
            armed.arm(j, row, first, pairs, protection, side, abs(pos), entry, opened)
            return
        self.place(j, row, first, pairs, protection, side, abs(pos), entry, opened)

    def place(
        self,
        j: int,
        row: int,
        first: int,
        levels: list[tuple[OrderType, float | None]],
        protection: Protection,
        side: OrderSide,
        quantity: float,
        entry: float,
        opened: int,
        ids: list[int] | None = None,
    ) -> None:
        """Place the protection orders ``levels`` of asset ``j``'s position, opened on
        bar ``row`` at ``entry``; they work from bar ``first`` (``ids``: order ids
        reserved for them, else new ones)."""
        broker = self._broker
        name = broker.market.assets[j]
        # prices from a positive, finite entry are valid: skip the order's own checks
        checked = 0.0 < entry < math.inf
        new: list[Ticket] = []
        orders = broker.orders
        for k, (kind, price) in enumerate(levels):
            oid = broker.new_order_id() if ids is None else ids[k]
            if checked:
                order = guard_order(oid, name, side, quantity, kind, price, protection)
            else:
                is_limit = kind is OrderType.LIMIT
                order = _validated(
                    oid, name, side, quantity, kind,
                    price if is_limit else None,
                    None if is_limit else price,
                    protection.trailing_stop if kind is OrderType.TRAILING_STOP else None,
                    _REASON[kind],
                )  # fmt: skip
            orders[oid] = order
            broker.accept_own(order, row)
            ticket = Ticket(order, j, first, row + 1, extreme=entry)
            ticket.arrival_open = -1  # rests from its placement (a maker, see matching)
            ticket.guard = protection
            ticket.opened = opened
            new.append(ticket)
        self.guards[j] = new
        for ticket in new:
            broker.register(ticket, auction=False)

    def _update(
        self, g: Ticket, row: int, quantity: float, levels: dict[OrderType, float | None]
    ) -> None:
        o = g.order
        new_qty = quantity if quantity != o.quantity else None
        price = levels[o.order_type]
        limit = stop = None
        if o.order_type is OrderType.LIMIT and price != o.limit_price:
            limit = price
        elif o.order_type is not OrderType.LIMIT and price not in (None, o.stop_price):
            stop = price
        if new_qty is not None or limit is not None or stop is not None:
            self._broker.emit(o, OrderUpdated(o.order_id, row, new_qty, limit, stop))
            self._broker.changed(g, row)
