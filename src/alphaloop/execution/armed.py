"""Protection orders matched by a compiled kernel: armed at the entry fill, settled on the exit bar.

In a backtest the whole bar stream is known in advance, so a position's
protection pair (stop or trailing stop, take profit; see
:mod:`~alphaloop.execution.protection`) need not be checked bar by bar:
when the desk would place the pair, the :class:`ArmedBook` instead reserves
its order ids, keeps its working slots in the broker's order table, and asks
:func:`~alphaloop.execution.guard_kernel.guard_exit` where the pair exits. On
that bar, in the resting orders' turn, it books the exit fill in the ledger
and builds the two finished orders (the fill, and the cancellation of the
sibling) with the events the bar-by-bar path gives them.

Anything that could change the pair's course before its exit hands it back to
the bar-by-bar path first ("materializes" it: the orders and tickets the desk
would have made when it armed, placed in the resting book): an order or a
fill on the asset, a cancel or modify of one of the pair, a look at the open
orders, the kill switch, a participation cap or a cash check that the exit
cannot pass whole, another resting order trading on the same bar, the end of
the run. The results (orders, events, fills, prices, bars, cash, positions)
are the same either way; the tests run both and compare them bit for bit.

The broker arms pairs only when :attr:`ArmedBook.enabled` (the event
engine sets it for a backtest whose strategy does not listen to order events
and has no risk limits: the pair's events are then not published while it is
armed). Paper and live sessions read every event per bar and keep the
bar-by-bar path.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from alphaloop.execution.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderSubmitted,
)
from alphaloop.execution.guard_kernel import (
    EXIT_LIMIT,
    EXIT_NONE,
    STOP_FIXED,
    STOP_NONE,
    STOP_TRAILING,
    guard_exit,
)
from alphaloop.execution.orders import Order, OrderSide, OrderStatus, OrderType, Protection

if TYPE_CHECKING:
    from alphaloop.execution.simulated import SimulatedBroker

__all__ = ["CLOSED_REASON", "Armed", "ArmedBook", "guard_order"]

#: the cancel reason of a protection order whose position was closed
CLOSED_REASON = "the position it protected is closed"
_REASON = {
    OrderType.STOP: "stop_loss",
    OrderType.TRAILING_STOP: "trailing_stop",
    OrderType.LIMIT: "take_profit",
}
_FILLED, _CANCELED = OrderStatus.FILLED, OrderStatus.CANCELED


def guard_order(
    order_id: int,
    asset: str,
    side: OrderSide,
    quantity: float,
    kind: OrderType,
    price: float | None,
    protection: Protection,
) -> Order:
    """A new protection order (GTC) of type ``kind`` at ``price``, fields already checked."""
    is_limit = kind is OrderType.LIMIT
    return Order._checked(
        order_id, asset, side, quantity, kind,
        price if is_limit else None,
        None if is_limit else price,
        protection.trailing_stop if kind is OrderType.TRAILING_STOP else None,
        _REASON[kind],
    )  # fmt: skip


class Armed:
    """One armed protection pair: what the desk would have placed, and where it exits.

    Attributes
    ----------
    asset : int
        Asset column.
    row, first : int
        Bar of the entry fill that armed the pair, and first bar the pair works.
    levels : list of (OrderType, float or None)
        The pair's orders in the desk's order (the stop first), with prices.
    ids : list of int
        Their reserved order ids.
    exit_row, which, price, trails
        :func:`~alphaloop.execution.guard_kernel.guard_exit`'s answer.
    """

    __slots__ = (
        "asset",
        "entry",
        "exit_row",
        "first",
        "ids",
        "levels",
        "opened",
        "price",
        "protection",
        "quantity",
        "row",
        "side",
        "trails",
        "which",
    )

    def __init__(
        self,
        asset: int,
        row: int,
        first: int,
        levels: list[tuple[OrderType, float | None]],
        ids: list[int],
        protection: Protection,
        side: OrderSide,
        quantity: float,
        entry: float,
        opened: int,
    ) -> None:
        self.asset = asset
        self.row = row
        self.first = first
        self.levels = levels
        self.ids = ids
        self.protection = protection
        self.side = side
        self.quantity = quantity
        self.entry = entry
        self.opened = opened
        self.exit_row = -1
        self.which = EXIT_NONE
        self.price = math.nan
        self.trails = False


class ArmedBook:
    """The armed protection pairs of one simulated broker, by asset column."""

    def __init__(self, broker: SimulatedBroker) -> None:
        self._broker = broker
        #: arm pairs instead of placing their orders (off: every pair bar by bar)
        self.enabled = False
        self.by_asset: dict[int, Armed] = {}
        #: pairs armed, settled by the compiled path, and handed back to the bar-by-bar path
        self.counts = {"armed": 0, "settled": 0, "materialized": 0}
        #: no armed pair exits before this bar
        self.due = broker.market.n_rows
        market = broker.market
        self._open = market.open if market.open is not None else np.empty((0, len(market.assets)))

    def __bool__(self) -> bool:
        return bool(self.by_asset)

    def can_arm(self, j: int, entry: float) -> bool:
        """The pair of asset ``j`` entered at ``entry`` may be armed now."""
        broker = self._broker
        return (
            self.enabled
            and broker.market.has_range
            and j not in broker.resting.by_asset  # no other resting order to interleave with
            and 0.0 < entry < math.inf
        )

    def arm(
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
    ) -> None:
        """Arm the pair the desk would place for asset ``j`` on bar ``row``."""
        broker = self._broker
        m = broker.market
        ids = [broker.new_order_id() for _ in levels]
        armed = Armed(j, row, first, levels, ids, protection, side, quantity, entry, opened)
        stop_kind, stop_price, limit_price = STOP_NONE, math.nan, math.nan
        for kind, price in levels:
            if kind is OrderType.LIMIT:
                limit_price = price  # type: ignore[assignment]
            else:
                stop_kind = STOP_TRAILING if kind is OrderType.TRAILING_STOP else STOP_FIXED
                stop_price = math.nan if price is None else price
        armed.exit_row, armed.which, armed.price, armed.trails = guard_exit(
            self._open, m.high, m.low, j, first, row + 1, m.n_rows, side.value, stop_kind,
            stop_price, protection.trailing_stop, entry, limit_price,
        )  # fmt: skip
        self.by_asset[j] = armed
        self.counts["armed"] += 1
        tickets = broker._tickets
        for oid in ids:  # hold the orders' places in the broker's table of working orders
            tickets[oid] = armed  # type: ignore[assignment]
        broker.pending += len(ids)
        self.due = min(self.due, armed.exit_row)
        broker.due_row = min(broker.due_row, armed.exit_row)

    # ------------------------------------------------------- back to bar by bar
    def materialize(self, j: int) -> None:
        """Hand asset ``j``'s pair to the bar-by-bar path: place its orders as armed."""
        armed = self.by_asset.pop(j)
        self.counts["materialized"] += 1
        self._refresh_due()
        broker = self._broker
        broker.pending -= len(armed.ids)  # registered again below
        broker.protection.place(
            j, armed.row, armed.first, armed.levels, armed.protection, armed.side,
            armed.quantity, armed.entry, armed.opened, armed.ids,
        )  # fmt: skip

    def materialize_all(self) -> None:
        for j in sorted(self.by_asset):
            self.materialize(j)

    def _refresh_due(self) -> None:
        by_asset = self.by_asset
        if not by_asset:
            self.due = self._broker.market.n_rows
        elif len(by_asset) == 1:
            for armed in by_asset.values():
                self.due = armed.exit_row
        else:
            self.due = min(a.exit_row for a in by_asset.values())

    # -------------------------------------------------------------- the exit
    def settle(self, row: int) -> None:
        """Book the exits due on bar ``row`` (the resting orders' turn of the bar).

        In asset order, as the resting book trades; a pair whose exit the
        compiled path cannot book whole (and every later one) goes back to the
        bar-by-bar path, as do all of them when another resting order may
        trade on this bar.
        """
        by_asset = self.by_asset
        if len(by_asset) == 1:
            due = [j for j in by_asset if by_asset[j].exit_row <= row]
        else:
            due = sorted(j for j, a in by_asset.items() if a.exit_row <= row)
        resting = self._broker.resting
        busy = bool(resting.by_asset) and row >= resting.horizon
        for k, j in enumerate(due):
            if busy or not self._settle(by_asset[j], row):
                for rest in due[k:]:
                    self.materialize(rest)
                return
            del by_asset[j]
        self._refresh_due()

    def _settle(self, armed: Armed, row: int) -> bool:
        """Fill the pair's exit on ``row`` and close the pair; False (nothing done)
        when the fill could not be whole."""
        broker = self._broker
        j = armed.asset
        quantity = armed.quantity
        if broker._participation is not None and broker._capacity(row, j, quantity) < quantity:
            return False
        price = armed.price
        limit = armed.which == EXIT_LIMIT
        k = len(armed.levels) - 1 if limit else 0
        sign = armed.side.value
        # a take-profit rests from its placement: a maker (see matching); a stop takes
        broker._check_fill(armed.ids[k], j, sign, row, quantity, price, limit)
        reason = "take_profit" if limit else ("trailing_stop" if armed.trails else "stop_loss")
        cost = broker.ledger.fill(row, j, quantity * sign, price, reason, limit)
        if broker._participation is not None:
            broker._taken[j] = broker._taken.get(j, 0.0) + quantity
        fill_id = broker._next_fill_id
        broker._next_fill_id += 1
        # the two finished orders, as the bar-by-bar path leaves them
        name = broker.market.assets[j]
        side, entry_row = armed.side, armed.row
        orders, tickets = broker.orders, broker._tickets
        for i, (kind, level) in enumerate(armed.levels):
            oid = armed.ids[i]
            order = guard_order(oid, name, side, quantity, kind, level, armed.protection)
            if i == k:
                last = OrderFilled(
                    oid, row, fill_id, name, side, quantity, price, cost,
                    "maker" if limit else "taker",
                )  # fmt: skip
                order.status = _FILLED
                order.filled_quantity = quantity
                order.avg_price = (0.0 + price * quantity) / (0.0 + quantity)
                order._fill_ids = fill_id
            else:
                last = OrderCanceled(oid, row, CLOSED_REASON)  # type: ignore[assignment]
                order.status = _CANCELED
            order._open = False
            order.events = [OrderSubmitted(oid, entry_row), OrderAccepted(oid, entry_row), last]
            orders[oid] = order
            del tickets[oid]
        broker.pending -= len(armed.ids)
        broker.protection.protection.pop(j, None)  # the position is flat
        self.counts["settled"] += 1
        return True
