"""The order model: types, time in force, status, and the state machine.

An :class:`Order` changes only through :meth:`Order.apply`, which looks the
pair (current status, event type) up in :data:`TRANSITIONS`. A pair not in
the table raises :class:`OrderStateError`; so does a fill that does not fit
(a repeated ``fill_id``, a quantity beyond what is left, an ``OrderFilled``
that would leave quantity working). Every check runs before any field
changes, so a refused event leaves the order exactly as it was.

States::

    NEW -> SUBMITTED -> ACCEPTED -> PARTIALLY_FILLED -> FILLED
                 |          |              |
                 v          +------+-------+--> CANCELED, EXPIRED
              REJECTED, CANCELED

``FILLED``, ``CANCELED``, ``REJECTED`` and ``EXPIRED`` are terminal.
``OrderTriggered`` (a stop-limit's stop reached) and ``OrderUpdated`` keep
the status and change fields only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import TypeVar

from alphaloop.errors import BacktestError
from alphaloop.execution.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)

__all__ = [
    "TRANSITIONS",
    "Order",
    "OrderSide",
    "OrderStateError",
    "OrderStatus",
    "OrderType",
    "Protection",
    "TimeInForce",
]

# relative tolerance when a fill's quantity is compared with what is left
_QTY_RTOL = 1e-9


class OrderSide(Enum):
    """Buy or sell; ``sign`` is +1 or -1."""

    BUY = 1
    SELL = -1

    @property
    def sign(self) -> int:
        return self.value


class OrderType(StrEnum):
    """How an order trades.

    ``market``: at the fill timing's reference price (the next open by
    default). ``limit``: at ``limit_price`` or better. ``stop``: a market
    order once the price reaches ``stop_price``. ``stop_limit``: a limit
    order once the price reaches ``stop_price``. ``trailing_stop``: a stop
    whose level follows the best price since the order started working by
    ``trail_fraction`` (optionally never looser than ``stop_price``).
    """

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    """How long an order works.

    ``gtc``: until filled or canceled. ``day``: until the end of the trading
    day (UTC date of the bar) on which it can first fill. ``ioc``: at its
    first matching opportunity only; what cannot fill then is canceled.
    ``fok``: at its first matching opportunity, all of it or nothing.
    """

    GTC = "gtc"
    DAY = "day"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    """Where an order is in its life (see the module docstring for the graph)."""

    NEW = "new"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_working(self) -> bool:
        """Accepted or partially filled: the broker may still fill it."""
        return self is OrderStatus.ACCEPTED or self is OrderStatus.PARTIALLY_FILLED


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

S = OrderStatus
#: (status, event type) -> status after the event. Anything else is refused.
TRANSITIONS: dict[tuple[OrderStatus, type], OrderStatus] = {
    (S.NEW, OrderSubmitted): S.SUBMITTED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderTriggered): S.ACCEPTED,
    (S.ACCEPTED, OrderUpdated): S.ACCEPTED,
    (S.ACCEPTED, OrderPartiallyFilled): S.PARTIALLY_FILLED,
    (S.ACCEPTED, OrderFilled): S.FILLED,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderTriggered): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderUpdated): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderPartiallyFilled): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderFilled): S.FILLED,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
}
del S


class OrderStateError(BacktestError):
    """An event that the order's state does not allow (or a fill that does not fit)."""


@dataclass(frozen=True, slots=True)
class Protection:
    """Exit orders the broker keeps next to a position, as fractions of its entry price.

    ``stop_loss``: a stop at ``entry * (1 - stop_loss)`` for a long
    (``1 + ...`` for a short). ``take_profit``: a limit at ``entry * (1 +
    take_profit)``. ``trailing_stop``: a stop that trails the best price since
    entry by this fraction. 0 = off. The entry price is the average price of
    the position's fills since it was opened; the orders are resized when the
    position changes, are one-cancels-the-other, and are dropped when it is
    flat. Same rules as the vectorized simulator's stops.
    """

    stop_loss: float = 0.0
    take_profit: float = 0.0
    trailing_stop: float = 0.0

    def __post_init__(self) -> None:
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value < 1.0):
                raise BacktestError(f"{name} must be a fraction in [0, 1), got {value}")

    @property
    def active(self) -> bool:
        return self.stop_loss > 0.0 or self.take_profit > 0.0 or self.trailing_stop > 0.0


E = TypeVar("E", bound=Enum)


def parse_enum(cls: type[E], value: object, what: str) -> E:
    """``cls(value)``, or a BacktestError that lists the allowed values."""
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise BacktestError(f"unknown {what} {value!r}", hint=f"allowed: {allowed}") from None


def _positive(value: float | None, name: str, order_type: OrderType) -> float:
    if value is None or not (math.isfinite(value) and value > 0.0):
        raise BacktestError(f"a {order_type.value} order needs a positive {name}, got {value}")
    return float(value)


def _checked_prices(
    order_type: OrderType,
    limit_price: float | None,
    stop_price: float | None,
    trail_fraction: float | None,
) -> tuple[float | None, float | None]:
    """The limit and stop prices an order of ``order_type`` needs, checked."""
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        limit_price = _positive(limit_price, "limit_price", order_type)
    elif limit_price is not None:
        raise BacktestError(f"a {order_type.value} order takes no limit_price")
    if order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        stop_price = _positive(stop_price, "stop_price", order_type)
    elif order_type is OrderType.TRAILING_STOP:
        if stop_price is not None:
            stop_price = _positive(stop_price, "stop_price", order_type)
        if trail_fraction is None or not (0.0 < trail_fraction < 1.0):
            raise BacktestError(
                f"a trailing_stop order needs 0 < trail_fraction < 1, got {trail_fraction}"
            )
    elif stop_price is not None:
        raise BacktestError(f"a {order_type.value} order takes no stop_price")
    if trail_fraction is not None and order_type is not OrderType.TRAILING_STOP:
        raise BacktestError("only trailing_stop orders take a trail_fraction")
    return limit_price, stop_price


class Order:
    """One order and its fills.

    Parameters
    ----------
    order_id : int
        Unique within a run.
    asset : str
    side : OrderSide
    quantity : float
        Shares, > 0.
    order_type : OrderType, default market
    time_in_force : TimeInForce, default gtc
    limit_price, stop_price : float, optional
        Required by the types that use them (see :class:`OrderType`).
    trail_fraction : float, optional
        For trailing stops: distance of the stop from the best price, as a
        fraction of that price (0 < x < 1).
    reason : str, default "order"
        Why the order exists; copied to its trades (``stop_loss``,
        ``take_profit`` and ``trailing_stop`` for protection orders).
    parent_id : int, optional
        The order or algorithm this order was created for.

    Attributes
    ----------
    status : OrderStatus
    filled_quantity : float
    avg_price : float
        Quantity-weighted average fill price (NaN before the first fill).
    is_triggered : bool
        For stop-limit orders: the stop price was reached.
    events : list
        Every event applied, in order.
    """

    __slots__ = (
        "_fill_ids",
        "_open",
        "asset",
        "avg_price",
        "events",
        "filled_quantity",
        "is_triggered",
        "limit_price",
        "order_id",
        "order_type",
        "parent_id",
        "quantity",
        "reason",
        "side",
        "status",
        "stop_price",
        "time_in_force",
        "trail_fraction",
    )

    def __init__(
        self,
        order_id: int,
        asset: str,
        side: OrderSide,
        quantity: float,
        order_type: OrderType = OrderType.MARKET,
        time_in_force: TimeInForce = TimeInForce.GTC,
        *,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_fraction: float | None = None,
        reason: str = "order",
        parent_id: int | None = None,
    ) -> None:
        if order_type.__class__ is not OrderType:
            order_type = parse_enum(OrderType, order_type, "order type")
        if not (math.isfinite(quantity) and quantity > 0.0):
            raise BacktestError(
                f"order quantity must be a positive number of shares, got {quantity}",
                hint="the side (buy or sell) carries the direction",
            )
        if not (
            order_type is OrderType.MARKET
            and limit_price is None
            and stop_price is None
            and trail_fraction is None
        ):  # a plain market order has no prices to check
            limit_price, stop_price = _checked_prices(
                order_type, limit_price, stop_price, trail_fraction
            )
        if time_in_force.__class__ is not TimeInForce:
            time_in_force = parse_enum(TimeInForce, time_in_force, "time in force")
        self.order_id = order_id
        self.asset = asset
        self.side = side
        self.quantity = float(quantity)
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.limit_price = limit_price
        self.stop_price = stop_price
        self.trail_fraction = None if trail_fraction is None else float(trail_fraction)
        self.reason = reason
        self.parent_id = parent_id
        self.status = OrderStatus.NEW
        self._open = True
        self.filled_quantity = 0.0
        self.avg_price = math.nan
        self.is_triggered = False
        self.events: list[OrderEvent] = []
        # ids of the fills applied: None before the first, an int for one, then a set
        self._fill_ids: int | set[int] | None = None

    @classmethod
    def _checked(
        cls,
        order_id: int,
        asset: str,
        side: OrderSide,
        quantity: float,
        order_type: OrderType,
        limit_price: float | None,
        stop_price: float | None,
        trail_fraction: float | None,
        reason: str,
    ) -> Order:
        """A GTC order whose fields the broker has already checked (no validation).

        For orders the broker makes itself from checked inputs (protection
        orders priced from a fill price): the fields must satisfy everything
        ``__init__`` requires; the state is a new order's.
        """
        self = object.__new__(cls)
        self.order_id = order_id
        self.asset = asset
        self.side = side
        self.quantity = quantity
        self.order_type = order_type
        self.time_in_force = TimeInForce.GTC
        self.limit_price = limit_price
        self.stop_price = stop_price
        self.trail_fraction = trail_fraction
        self.reason = reason
        self.parent_id = None
        self.status = OrderStatus.NEW
        self._open = True
        self.filled_quantity = 0.0
        self.avg_price = math.nan
        self.is_triggered = False
        self.events = []
        self._fill_ids = None
        return self

    # ---------------------------------------------------------------- views
    @property
    def leaves_quantity(self) -> float:
        """Shares still to fill (0 once terminal)."""
        if self._open:
            return self.quantity - self.filled_quantity
        return 0.0

    @property
    def signed_quantity(self) -> float:
        """The order's quantity with its direction (+ buy, - sell)."""
        return self.quantity * self.side.sign

    @property
    def is_open(self) -> bool:
        """Not yet in a terminal state."""
        return self._open

    def __repr__(self) -> str:
        prices = "".join(
            f" {k}={v:g}"
            for k, v in (
                ("limit", self.limit_price),
                ("stop", self.stop_price),
                ("trail", self.trail_fraction),
            )
            if v is not None
        )
        return (
            f"Order(#{self.order_id} {self.side.name} {self.quantity:g} {self.asset} "
            f"{self.order_type.value}{prices} {self.time_in_force.value} "
            f"{self.status.value} filled={self.filled_quantity:g})"
        )

    # -------------------------------------------------------- state machine
    def apply(self, event: OrderEvent) -> None:
        """Move the order to its next state, or raise :class:`OrderStateError`.

        Nothing changes when the event is refused.
        """
        kind = type(event)
        new = TRANSITIONS.get((self.status, kind))
        if new is None:
            allowed = sorted(e.__name__ for (s, e) in TRANSITIONS if s is self.status)
            raise OrderStateError(
                f"order #{self.order_id} is {self.status.value}; {kind.__name__} is not allowed",
                hint=f"allowed events: {', '.join(allowed) or 'none (terminal state)'}",
            )
        if event.order_id != self.order_id:
            raise OrderStateError(
                f"event for order #{event.order_id} applied to order #{self.order_id}"
            )
        if kind is OrderPartiallyFilled or kind is OrderFilled:
            self._check_fill(event)  # type: ignore[arg-type]
            total = self.filled_quantity + event.quantity
            prev = 0.0 if self.filled_quantity == 0.0 else self.avg_price * self.filled_quantity
            self.avg_price = (prev + event.price * event.quantity) / total
            self.filled_quantity = self.quantity if kind is OrderFilled else total
            ids = self._fill_ids
            if ids is None:
                self._fill_ids = event.fill_id  # type: ignore[union-attr]
            elif ids.__class__ is set:
                ids.add(event.fill_id)  # type: ignore[union-attr]
            else:
                self._fill_ids = {ids, event.fill_id}  # type: ignore[union-attr, arg-type]
        elif kind is OrderUpdated:
            self._apply_update(event)  # type: ignore[arg-type]
        elif kind is OrderTriggered:
            if self.order_type is not OrderType.STOP_LIMIT or self.is_triggered:
                raise OrderStateError(
                    f"order #{self.order_id} ({self.order_type.value}) cannot be triggered"
                    + (" twice" if self.is_triggered else "")
                )
            self.is_triggered = True
        self.status = new
        self._open = new not in _TERMINAL
        self.events.append(event)

    def _check_fill(self, event: OrderPartiallyFilled | OrderFilled) -> None:
        ids = self._fill_ids
        if ids is not None and (
            event.fill_id in ids if ids.__class__ is set else event.fill_id == ids
        ):
            raise OrderStateError(
                f"fill {event.fill_id} was already applied to order #{self.order_id}"
            )
        if event.asset != self.asset or event.side is not self.side:
            raise OrderStateError(
                f"fill {event.fill_id} ({event.side.name} {event.asset}) does not match "
                f"order #{self.order_id} ({self.side.name} {self.asset})"
            )
        left = self.quantity - self.filled_quantity
        tol = _QTY_RTOL * self.quantity
        if not (math.isfinite(event.price) and event.price > 0.0):
            raise OrderStateError(f"fill {event.fill_id} has no valid price: {event.price}")
        if not (event.quantity > 0.0 and event.quantity <= left + tol):
            raise OrderStateError(
                f"fill {event.fill_id} of {event.quantity:g} shares does not fit order "
                f"#{self.order_id}, which has {left:g} left"
            )
        complete = abs(event.quantity - left) <= tol
        if isinstance(event, OrderFilled) and not complete:
            raise OrderStateError(
                f"OrderFilled of {event.quantity:g} would leave {left - event.quantity:g} "
                f"shares of order #{self.order_id} working; use OrderPartiallyFilled"
            )
        if isinstance(event, OrderPartiallyFilled) and complete:
            raise OrderStateError(
                f"OrderPartiallyFilled of {event.quantity:g} completes order "
                f"#{self.order_id}; use OrderFilled"
            )

    def _apply_update(self, event: OrderUpdated) -> None:
        quantity = self.quantity if event.quantity is None else event.quantity
        if not (math.isfinite(quantity) and quantity > self.filled_quantity):
            raise OrderStateError(
                f"order #{self.order_id} cannot be resized to {quantity:g} shares: "
                f"{self.filled_quantity:g} are already filled"
            )
        if event.limit_price is not None and self.limit_price is None:
            raise OrderStateError(f"order #{self.order_id} has no limit price to update")
        if event.stop_price is not None and self.stop_price is None:
            raise OrderStateError(f"order #{self.order_id} has no stop price to update")
        for price in (event.limit_price, event.stop_price):
            if price is not None and not (math.isfinite(price) and price > 0.0):
                raise OrderStateError(f"order #{self.order_id}: invalid price {price}")
        self.quantity = float(quantity)
        if event.limit_price is not None:
            self.limit_price = float(event.limit_price)
        if event.stop_price is not None:
            self.stop_price = float(event.stop_price)
