"""The book of resting orders: limit, stop, stop-limit and trailing-stop orders.

Each bar the book checks the orders of every asset against the bar, in the
order of :mod:`~alphaloop.execution.matching` (the open first, then
the range; stops before limits), and hands the ones that trade to the
broker. Between the bars on which an order can act it is not looked at:
:func:`~alphaloop.execution.scan.first_touch` finds its next such bar
(``Ticket.touch_row``) when the order is added and after each bar it was
checked on, and :attr:`RestingBook.horizon` is the earliest over the book
(the broker skips to it). A changed order is checked bar by bar again from
the bar of the change. The tests run every case both ways and require the
same fills.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from alphaloop.execution.events import OrderEvent, OrderTriggered
from alphaloop.execution.market import MarketData
from alphaloop.execution.matching import Ticket, gap_price, range_price
from alphaloop.execution.orders import Order, OrderType
from alphaloop.execution.scan import (
    KIND_FIRED,
    KIND_LIMIT,
    KIND_STOP,
    KIND_TRAILING,
    advance_extreme,
    first_touch,
)

__all__ = ["RestingBook"]


class RestingBook:
    """Resting orders by asset column.

    Parameters
    ----------
    market : MarketData
    trade : callable
        ``trade(ticket, row, price, maker)``: fill what the participation cap
        allows of the ticket's order at ``price`` on bar ``row``; ``maker``
        says whether the fill made liquidity (:meth:`Ticket.makes`).
    emit : callable
        ``emit(order, event)``: apply an event to an order and publish it.
    """

    #: find a new order's next bar when it is added (False: check it bar by bar
    #: until the next refresh; the tests compare both ways)
    scan_on_add = True

    def __init__(
        self,
        market: MarketData,
        trade: Callable[[Ticket, int, float, bool], None],
        emit: Callable[[Order, OrderEvent], None],
    ) -> None:
        self._market = market
        self._trade = trade
        self._emit = emit
        self._no_open = np.empty((0, len(market.assets)))
        self.by_asset: dict[int, list[Ticket]] = {}
        self._open_known = False  # the bar being matched has an open
        #: no resting order can act before this bar
        self.horizon = 0

    def __bool__(self) -> bool:
        return bool(self.by_asset)

    def add(self, ticket: Ticket) -> int:
        """Start matching ``ticket``; return the first bar on which it may act."""
        self.by_asset.setdefault(ticket.asset, []).append(ticket)
        first = ticket.first_row
        if self.scan_on_add and first < self._market.n_rows:
            first = ticket.touch_row = self._touch_row(ticket, first)
        self.horizon = min(self.horizon, first)
        return first

    def remove(self, ticket: Ticket) -> bool:
        """Drop a ticket; False when it was not in the book."""
        tickets = self.by_asset.get(ticket.asset)
        if tickets is None or ticket not in tickets:
            return False
        tickets.remove(ticket)
        if not tickets:
            del self.by_asset[ticket.asset]
        return True

    def match(self, row: int) -> None:
        """Check the resting orders that may act on bar ``row``; fill the ones that do."""
        if row < self.horizon:
            return
        m = self._market
        assert m.high is not None
        assert m.low is not None
        by_asset = self.by_asset
        for j in sorted(by_asset) if len(by_asset) > 1 else list(by_asset):
            resting = by_asset.get(j, ())
            for t in resting:
                if t.touch_row <= row and t.first_row <= row:
                    break
            else:
                continue  # no order of this asset can act on this bar
            tickets = [t for t in resting if t.first_row <= row]
            high = float(m.high[row, j])
            low = float(m.low[row, j])
            if math.isnan(high) or math.isnan(low):
                for t in tickets:
                    t.touch_row = -1
                continue
            for t in tickets:
                if t.order.order_type is OrderType.TRAILING_STOP:
                    self._advance(t, row)
            open_ = float(m.open[row, j]) if m.open is not None else math.nan
            self._open_known = not math.isnan(open_)
            if len(tickets) > 1:
                tickets.sort(key=Ticket.priority)
            # a ticket whose touch row is later cannot act now, unless it changes on the way
            if not math.isnan(open_):
                for t in tickets:
                    if t.order._open and t.open_row <= row and t.touch_row <= row:
                        self._at_open(t, row, open_)
            triggered_inside: list[Ticket] = []
            for t in tickets:
                if t.order._open and t.touch_row <= row and t not in triggered_inside:
                    self._in_range(t, row, high, low, triggered_inside)
            for t in tickets:
                t.touch_row = -1
                order = t.order
                if order._open and order.order_type is OrderType.TRAILING_STOP:
                    t.update_extreme(high, low)
                    t.extreme_through = row
        self.refresh(row + 1)

    def _advance(self, t: Ticket, row: int) -> None:
        """Bring a trailing stop's best price up to bar ``row - 1``."""
        if t.extreme_through < row - 1:
            m = self._market
            start = max(t.extreme_through + 1, t.first_row)
            t.extreme = advance_extreme(m.high, m.low, t.asset, start, row, t.sign, t.extreme)
            t.extreme_through = row - 1

    def refresh(self, start: int) -> None:
        """Find the next bar each resting order may act on, from ``start`` on."""
        m = self._market
        horizon = m.n_rows
        for tickets in self.by_asset.values():
            for t in tickets:
                if t.touch_row < start:
                    t.touch_row = self._touch_row(t, max(start, t.first_row))
                horizon = min(horizon, t.touch_row)
        self.horizon = horizon

    def _touch_row(self, t: Ticket, start: int) -> int:
        m = self._market
        o = t.order
        level = math.nan
        if t.is_stop and t.fired:
            kind = KIND_FIRED
        elif o.order_type is OrderType.TRAILING_STOP:
            kind = KIND_TRAILING
            self._advance(t, start)
            level = math.nan if o.stop_price is None else o.stop_price
        elif t.is_stop:
            kind = KIND_STOP
            level = o.stop_price
        else:
            kind = KIND_LIMIT
            level = o.limit_price
        return int(
            first_touch(
                m.open if m.open is not None else self._no_open,
                m.high,
                m.low,
                t.asset,
                start,
                m.n_rows,
                t.open_row,
                kind,
                t.sign,
                level,
                o.trail_fraction or 0.0,
                t.extreme,
            )
        )

    def changed(self, t: Ticket, row: int) -> None:
        """A resting order changed on bar ``row``: check it again from then on."""
        t.touch_row = -1
        self.horizon = min(self.horizon, max(t.first_row, row))

    def _at_open(self, t: Ticket, row: int, open_: float) -> None:
        order = t.order
        if t.is_stop:
            price = open_ if t.fired else gap_price(True, t.sign, t.stop_level(), open_)
            if math.isnan(price):
                return
            if order.order_type is OrderType.STOP_LIMIT:
                self._trigger(t, row, open_)
                assert order.limit_price is not None
                price = gap_price(False, t.sign, order.limit_price, open_)
                if math.isnan(price):
                    return  # now a limit order; the rest of the bar may reach it
            t.fired = True
        else:
            assert order.limit_price is not None
            price = gap_price(False, t.sign, order.limit_price, open_)
            if math.isnan(price):
                return
        self._trade(t, row, price, t.makes(row, True, True))

    def _in_range(
        self, t: Ticket, row: int, high: float, low: float, triggered: list[Ticket]
    ) -> None:
        order = t.order
        if t.is_stop:
            level = t.stop_level()
            price = range_price(True, t.sign, level, high, low)
            if math.isnan(price):
                return
            if order.order_type is OrderType.STOP_LIMIT:
                self._trigger(t, row, level)
                triggered.append(t)
                assert order.limit_price is not None
                if math.isnan(gap_price(False, t.sign, order.limit_price, level)):
                    return  # the path after the trigger is unknown: wait for the next bar
            t.fired = True
        else:
            assert order.limit_price is not None
            price = range_price(False, t.sign, order.limit_price, high, low)
            if math.isnan(price):
                return
        self._trade(t, row, price, t.makes(row, False, self._open_known))

    def _trigger(self, t: Ticket, row: int, price: float) -> None:
        self._emit(t.order, OrderTriggered(t.order.order_id, row, price))
        t.is_stop = False
