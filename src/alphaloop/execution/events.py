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

from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, TypeVar, dataclass_transform

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

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def _record(cls: type[_T]) -> type[_T]:
    """``@dataclass(frozen=True, slots=True)`` with a faster ``__init__``.

    The dataclass's own ``__init__`` of a frozen class goes through
    ``object.__setattr__`` for every field; the broker makes several events
    per order, so each field is set through its slot descriptor instead
    (same signature, defaults, and frozen instances afterwards).
    """
    cls = dataclass(frozen=True, slots=True)(cls)
    names = [f.name for f in fields(cls)]
    scope: dict[str, object] = {}
    params = []
    for i, f in enumerate(fields(cls)):
        scope[f"_set{i}"] = getattr(cls, f.name).__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            scope[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
    body = "".join(f"    _set{i}(self, {name})\n" for i, name in enumerate(names))
    exec(f"def __init__(self, {', '.join(params)}):\n{body}", scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    init.__doc__ = cls.__init__.__doc__  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


# ------------------------------------------------------------------ events
@_record
class OrderSubmitted:
    """The order left the strategy for the broker."""

    order_id: int
    row: int


@_record
class OrderAccepted:
    """The broker took the order; it now works until filled, canceled or expired."""

    order_id: int
    row: int


@_record
class OrderRejected:
    """The broker refused the order; ``reason`` says why."""

    order_id: int
    row: int
    reason: str


@_record
class OrderTriggered:
    """A stop-limit order's stop price was reached; it now works as a limit order."""

    order_id: int
    row: int
    price: float


@_record
class OrderUpdated:
    """The order's quantity or prices were changed (the new values, ``None`` = unchanged)."""

    order_id: int
    row: int
    quantity: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None


@_record
class _Fill:
    """The fields of a fill; an event is one of its two subclasses (see :data:`FillEvent`).

    ``quantity`` is this fill's unsigned share count, ``price`` its reference
    price, ``cost`` its total cost (commission, fees, spread, slippage,
    impact); ``fill_id`` is unique per run, so a fill cannot be applied twice.
    ``liquidity`` is ``"maker"`` for a fill of a limit order that rested on
    the book (see :mod:`~alphaloop.execution.matching`), else ``"taker"``
    (also the value of fills from live brokers, which do not report it).
    """

    order_id: int
    row: int
    fill_id: int
    asset: str
    side: OrderSide
    quantity: float
    price: float
    cost: float
    liquidity: str = "taker"

    @property
    def signed_quantity(self) -> float:
        """Shares bought (positive) or sold (negative) by this fill."""
        return self.quantity * self.side.sign


@_record
class OrderPartiallyFilled(_Fill):
    """Part of the order traded; some quantity is still working.

    ``quantity`` is this fill's unsigned share count, ``price`` its reference
    price, ``cost`` its total cost (commission, fees, spread, slippage,
    impact); ``fill_id`` is unique per run, so a fill cannot be applied twice.
    """


@_record
class OrderFilled(_Fill):
    """The order's last working quantity traded: it is complete (fields as
    :class:`OrderPartiallyFilled`)."""


@_record
class OrderCanceled:
    """The order's working quantity was canceled (by the strategy or a time-in-force rule)."""

    order_id: int
    row: int
    reason: str


@_record
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
@_record
class SubmitOrder:
    """Send a new order to the broker (decided on bar ``row``, after its close).

    ``protection`` (stop loss, take profit, trailing stop) is attached to the
    position the order's fills build; see :class:`~alphaloop.backtest.event.
    orders.Protection`.
    """

    order: Order
    row: int
    protection: Protection | None = None


@_record
class CancelOrder:
    """Cancel the working quantity of an order."""

    order_id: int
    row: int


@_record
class ModifyOrder:
    """Change a working order's quantity or prices (``None`` = keep)."""

    order_id: int
    row: int
    quantity: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None


@_record
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
