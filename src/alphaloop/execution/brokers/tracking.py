"""From a venue's view of an order to our order events, with no fill lost or doubled.

A venue reports an order's *cumulative* filled quantity and average price
(Alpaca's ``filled_qty``/``filled_avg_price``, ccxt's ``filled``/``average``).
:class:`OrderTracker` compares that with what the local
:class:`~alphaloop.execution.orders.Order` already holds and emits only the
difference: a repeated update emits nothing, and an update that arrives after
a dropped one emits the missed quantity at its exact average price. The same
function serves the stream, the polling loop and reconciliation, so they can
overlap in any order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from alphaloop.execution.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
)
from alphaloop.execution.orders import Order, OrderStatus

__all__ = ["OrderTracker", "VenueOrderState", "VenueStatus"]

log = logging.getLogger(__name__)

_QTY_RTOL = 1e-9


class VenueStatus(StrEnum):
    """A venue order status, reduced to what changes our order."""

    PENDING = "pending"  # received by the venue, not yet acknowledged
    OPEN = "open"  # working (new, accepted, partially filled, replaced)
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class VenueOrderState:
    """One snapshot of an order at the venue.

    ``filled`` is the cumulative filled quantity (base units), ``avg_price``
    the average price of those fills (quote currency per unit, None before
    the first fill), ``fee`` the cumulative fees in the quote currency.
    """

    client_id: str
    venue_id: str | None
    status: VenueStatus
    filled: float = 0.0
    avg_price: float | None = None
    fee: float = 0.0
    reason: str = ""


class OrderTracker:
    """Our orders by client order id, and the events a venue snapshot implies.

    Parameters
    ----------
    prefix : str
        Start of every client order id this tracker issues (``<prefix>-<order id>``).
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.orders: dict[int, Order] = {}
        self.venue_ids: dict[int, str] = {}
        self._fees: dict[int, float] = {}
        self._next_fill_id = 1

    def client_id(self, order_id: int) -> str:
        return f"{self.prefix}-{order_id}"

    def order_for(self, client_id: str) -> Order | None:
        head, _, tail = client_id.rpartition("-")
        if head != self.prefix or not tail.isdigit():
            return None
        return self.orders.get(int(tail))

    def track(self, order: Order, fee: float = 0.0) -> None:
        """Follow ``order``; ``fee`` = cumulative fees already applied (a restored order)."""
        self.orders[order.order_id] = order
        self._fees[order.order_id] = fee
        for event in order.events:  # fill ids stay unique after a restore
            fill_id = getattr(event, "fill_id", None)
            if fill_id is not None:
                self._next_fill_id = max(self._next_fill_id, fill_id + 1)

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open]

    def apply(self, state: VenueOrderState, row: int) -> list[OrderEvent]:
        """Apply one snapshot; return the events it implied (already applied to the order)."""
        order = self.order_for(state.client_id)
        if order is None:
            log.debug("update for an order this broker did not send: %s", state.client_id)
            return []
        if state.venue_id:
            self.venue_ids[order.order_id] = state.venue_id
        if not order.is_open or state.status is VenueStatus.PENDING:
            return []
        events: list[OrderEvent] = []
        oid = order.order_id
        if order.status is OrderStatus.SUBMITTED:
            if state.status is VenueStatus.REJECTED:
                return self._emit(order, OrderRejected(oid, row, state.reason or "rejected"))
            events += self._emit(order, OrderAccepted(oid, row))
        events += self._fills(order, state, row)
        if order.is_open:
            if state.status is VenueStatus.CANCELED or state.status is VenueStatus.REJECTED:
                events += self._emit(order, OrderCanceled(oid, row, state.reason or "canceled"))
            elif state.status is VenueStatus.EXPIRED:
                events += self._emit(order, OrderExpired(oid, row))
        return events

    def _fills(self, order: Order, state: VenueOrderState, row: int) -> list[OrderEvent]:
        done = order.filled_quantity
        delta = state.filled - done
        tol = _QTY_RTOL * order.quantity
        if delta <= tol:
            if delta < -tol:
                log.warning(
                    "stale update for order #%d: venue shows %g filled, %g already applied",
                    order.order_id,
                    state.filled,
                    done,
                )
            return []
        if state.avg_price is None or not state.avg_price > 0:
            log.warning("fill of order #%d without an average price; waiting", order.order_id)
            return []
        paid_before = 0.0 if done == 0.0 else order.avg_price * done
        price = (state.avg_price * state.filled - paid_before) / delta
        if not price > 0:  # rounding noise at the venue's precision
            price = state.avg_price
        fee = max(0.0, state.fee - self._fees[order.order_id])
        self._fees[order.order_id] = max(self._fees[order.order_id], state.fee)
        fill_id = self._next_fill_id
        self._next_fill_id += 1
        left = order.quantity - done
        if delta >= left - tol or state.status is VenueStatus.FILLED:
            event: OrderEvent = OrderFilled(
                order.order_id, row, fill_id, order.asset, order.side, left, price, fee
            )
        else:
            event = OrderPartiallyFilled(
                order.order_id, row, fill_id, order.asset, order.side, delta, price, fee
            )
        return self._emit(order, event)

    @staticmethod
    def _emit(order: Order, event: OrderEvent) -> list[OrderEvent]:
        order.apply(event)
        return [event]
