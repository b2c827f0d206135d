"""Where a resting order trades within one bar: the price rules of the simulated broker.

A bar is seen as its open, then a path through its range that touches the
high and the low in an unknown order, then its close. So:

- A level the bar opens beyond fills at the open (a gap), the worse price
  for a stop and the better one for a limit.
- Otherwise a level inside the bar's range fills at the level itself.
- Stops are checked before limits on the same asset: when a stop and a
  take-profit are both inside one bar, the stop is assumed to come first
  (the conservative rule, as in the vectorized simulator).
- A stop-limit whose stop is reached inside the bar fills at the stop price
  if that is within its limit; if not, it is left as a limit order for the
  next bar, because the path after the trigger is unknown. Triggered at the
  open, it fills at the open when within its limit, else at the limit if the
  rest of the bar reaches it.
- Maker or taker (which commission a fill pays, see
  :mod:`~alphaloop.execution.costs`): only a limit order (a strategy's
  GTC or DAY limit, or a take-profit) can make liquidity. A strategy's limit
  order reaches the book at the open of the bar after it was submitted (or
  after its limit price was last changed): filled at that open, the bar
  opened through its limit and it was marketable on arrival, a taker; filled
  later in that bar's range, or on any later bar (at its limit, or at the
  open of a later bar that gapped through it), it had rested on the book, a
  maker. Where that bar's open is unknown (no ``open`` field or a missing
  value) a fill on it is a taker: whether the order was marketable on
  arrival cannot be told. A take-profit is placed when the fill that opens
  its position books, at a limit beyond the entry price, so it is resting
  from the start: its fills are makers. Market orders, auctions (rebalances,
  IOC and FOK limits), stops, stop-limits (also after the trigger) and
  trailing stops are takers.
- A trailing stop's level follows the best price (highest high for a sell,
  lowest low for a buy) from the order's start up to the previous bar, and
  is never looser than its ``stop_price`` when it has one; the bar's own
  extreme moves the level only after the bar is checked.
"""

from __future__ import annotations

import math

from alphaloop.execution.orders import Order, OrderSide, OrderType, Protection

__all__ = ["Ticket", "gap_price", "range_price"]

NAN = math.nan
_BUY = OrderSide.BUY


class Ticket:
    """A working order as the broker matches it.

    Attributes
    ----------
    order : Order
    asset : int
        Column of the order's asset.
    first_row : int
        First bar on which the order may trade.
    open_row : int
        First bar at whose open it may trade (protection orders placed at an
        open fill start inside that bar, after the open).
    expire_row : int
        Bar after which a DAY order expires (-1 = never).
    extreme : float
        Best price so far, for trailing stops, through bar ``extreme_through``.
    fired : bool
        A stop (or trailing stop) was triggered; its remainder trades at market.
    guard : Protection or None
        Set for protection orders; ``opened`` is the position they guard.
    touch_row : int
        Next bar on which the order may act (-1 = not known yet); the broker
        skips it until then (see :mod:`~alphaloop.execution.scan`).
    arrival_open : int
        The bar at whose open a limit order reaches the book (``first_row``,
        or the bar after its limit was changed); a fill at that open is a
        taker's. -1 for protection orders, which rest from their placement.
    """

    __slots__ = (
        "arrival_open",
        "asset",
        "expire_row",
        "extreme",
        "extreme_through",
        "fired",
        "first_row",
        "guard",
        "is_auction",
        "is_stop",
        "open_row",
        "opened",
        "order",
        "protection",
        "sign",
        "touch_row",
    )

    def __init__(
        self,
        order: Order,
        asset: int,
        first_row: int,
        open_row: int,
        expire_row: int = -1,
        extreme: float = NAN,
        protection: Protection | None = None,
    ) -> None:
        self.order = order
        self.asset = asset
        self.first_row = first_row
        self.arrival_open = first_row
        self.open_row = open_row
        self.expire_row = expire_row
        self.extreme = extreme
        self.extreme_through = first_row - 1
        self.touch_row = -1
        self.fired = False
        self.guard: Protection | None = None
        self.is_auction = False
        self.opened = -1
        self.protection = protection
        self.sign = 1 if order.side is _BUY else -1
        kind = order.order_type
        self.is_stop = (
            kind is not OrderType.MARKET
            and kind is not OrderType.LIMIT
            and (kind is not OrderType.STOP_LIMIT or not order.is_triggered)
        )

    def stop_level(self) -> float:
        """The price that triggers a stop, trailing stop or stop-limit."""
        o = self.order
        if o.order_type is not OrderType.TRAILING_STOP:
            assert o.stop_price is not None
            return o.stop_price
        assert o.trail_fraction is not None
        if self.sign < 0:  # sell: below the highest price
            level = self.extreme * (1.0 - o.trail_fraction)
            return level if o.stop_price is None else max(level, o.stop_price)
        level = self.extreme * (1.0 + o.trail_fraction)
        return level if o.stop_price is None else min(level, o.stop_price)

    def trails(self) -> bool:
        """True when the trailing part of a trailing stop is what sets its level."""
        o = self.order
        if o.order_type is not OrderType.TRAILING_STOP or o.stop_price is None:
            return o.order_type is OrderType.TRAILING_STOP
        level = self.stop_level()
        return level != o.stop_price

    def priority(self) -> tuple[int, float]:
        """Sort key: stops first (the level touched first first), then limits."""
        if self.is_stop:
            return (0, self.sign * self.stop_level())
        assert self.order.limit_price is not None
        return (1, -self.sign * self.order.limit_price)

    def makes(self, row: int, at_open: bool, open_known: bool) -> bool:
        """True when a fill of this order on bar ``row`` is a maker's (the module docstring).

        ``at_open``: the fill is at the bar's open; ``open_known``: the bar has an open.
        """
        if self.order.order_type is not OrderType.LIMIT:
            return False
        return row > self.arrival_open or (not at_open and open_known)

    def update_extreme(self, high: float, low: float) -> None:
        """Move a trailing stop's best price with the bar just checked."""
        if self.sign < 0:
            self.extreme = max(self.extreme, high)
        else:
            self.extreme = min(self.extreme, low)


def gap_price(is_stop: bool, sign: int, level: float, open_: float) -> float:
    """The open, when the bar opens at or beyond ``level``; else NaN.

    A buy stop (sign +1) is reached from below and a buy limit from above;
    sells mirror this.
    """
    if is_stop:
        hit = open_ >= level if sign > 0 else open_ <= level
    else:
        hit = open_ <= level if sign > 0 else open_ >= level
    return open_ if hit else NAN


def range_price(is_stop: bool, sign: int, level: float, high: float, low: float) -> float:
    """``level`` when the bar's range reaches it; else NaN."""
    if is_stop:
        hit = high >= level if sign > 0 else low <= level
    else:
        hit = low <= level if sign > 0 else high >= level
    return level if hit else NAN
