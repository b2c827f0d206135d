"""Order events (past tense: what happened) and commands (imperative: what to do).

Events are the only way an :class:`~alphaloop.execution.orders.Order`
changes: the broker creates one, the order checks it against its transition
table in :meth:`Order.apply`, and the engine hands it to the strategy's
``on_order`` (and fills to ``on_fill``). Commands go the other way, from the
strategy's context to the broker.

Conventions: ``row`` is the bar index (into the panel's calendar) on which the
event happened; quantities are unsigned share counts, the direction is the
order's ``side``; prices and costs are in the account currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from alphaloop.execution.orders import Order, OrderSide, Protection

__all__ = [
    "CancelOrder",
    "Command",
    "FillEvent",
    "ModifyOrder",
    "OrderAccepted",
    "OrderCanceled",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderPartiallyFilled",
    "OrderRejected",
    "OrderSubmitted",
    "OrderTriggered",
    "OrderUpdated",
    "RebalanceToWeights",
    "SubmitOrder",
]


# ------------------------------------------------------------------ events
@dataclass(frozen=True, slots=True)
class OrderSubmitted:
    """The order left the strategy for the broker."""

    order_id: int
    row: int


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """The broker took the order; it now works until filled, canceled or expired."""

    order_id: int
    row: int


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The broker refused the order; ``reason`` says why."""

    order_id: int
    row: int
    reason: str


@dataclass(frozen=True, slots=True)
class OrderTriggered:
    """A stop-limit order's stop price was reached; it now works as a limit order."""

    order_id: int
    row: int
    price: float


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    """The order's quantity or prices were changed (the new values, ``None`` = unchanged)."""

    order_id: int
    row: int
    quantity: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None


@dataclass(frozen=True, slots=True)
class OrderPartiallyFilled:
    """Part of the order traded; some quantity is still working.

    ``quantity`` is this fill's unsigned share count, ``price`` its reference
    price, ``cost`` its total cost (commission, fees, spread, slippage,
    impact); ``fill_id`` is unique per run, so a fill cannot be applied twice.
    """

    order_id: int
    row: int
    fill_id: int
    asset: str
    side: OrderSide
    quantity: float
    price: float
    cost: float

    @property
    def signed_quantity(self) -> float:
        """Shares bought (positive) or sold (negative) by this fill."""
        return self.quantity * self.side.sign


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """The order's last working quantity traded: it is complete (fields as
    :class:`OrderPartiallyFilled`)."""

    order_id: int
    row: int
    fill_id: int
    asset: str
    side: OrderSide
    quantity: float
    price: float
    cost: float

    @property
    def signed_quantity(self) -> float:
        """Shares bought (positive) or sold (negative) by this fill."""
        return self.quantity * self.side.sign


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    """The order's working quantity was canceled (by the strategy or a time-in-force rule)."""

    order_id: int
    row: int
    reason: str


@dataclass(frozen=True, slots=True)
class OrderExpired:
    """A DAY order reached the end of its trading day with quantity left."""

    order_id: int
    row: int


OrderEvent = (
    OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderTriggered
    | OrderUpdated
    | OrderPartiallyFilled
    | OrderFilled
    | OrderCanceled
    | OrderExpired
)
FillEvent = OrderPartiallyFilled | OrderFilled


# ---------------------------------------------------------------- commands
@dataclass(frozen=True, slots=True)
class SubmitOrder:
    """Send a new order to the broker (decided on bar ``row``, after its close).

    ``protection`` (stop loss, take profit, trailing stop) is attached to the
    position the order's fills build; see :class:`~alphaloop.backtest.event.
    orders.Protection`.
    """

    order: Order
    row: int
    protection: Protection | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the working quantity of an order."""

    order_id: int
    row: int


@dataclass(frozen=True, slots=True)
class ModifyOrder:
    """Change a working order's quantity or prices (``None`` = keep)."""

    order_id: int
    row: int
    quantity: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None


@dataclass(frozen=True, slots=True)
class RebalanceToWeights:
    """Trade every asset with a finite weight to ``weight * equity`` at the fill price.

    ``weights`` has one entry per asset of the panel (NaN = leave the asset as
    it is). The broker sizes the basket at its fill price with the same rule
    as the vectorized simulator (see :mod:`alphaloop.execution.sizing`).
    ``protection`` (stop loss, take profit, trailing stop as fractions) is
    attached to every resulting position.
    """

    weights: np.ndarray
    row: int
    protection: Protection | None = None


Command = SubmitOrder | CancelOrder | ModifyOrder | RebalanceToWeights
