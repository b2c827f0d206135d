"""Execution algorithms: TWAP and VWAP parent orders sliced into child orders.

A parent order of ``Q`` shares decided on bar ``t`` is split into ``bars``
child market orders, one decided on each of the bars ``t .. t + bars - 1``,
so each fills at the following auction (per the fill timing). The planned
slices sum to ``Q`` exactly; a child is immediate-or-cancel, and what it
could not fill (a participation cap) is added to the next slice. What is
left after the last slice is canceled on the parent.

- TWAP: equal slices.
- VWAP: slices in proportion to a volume profile known on bar ``t``: for each
  fill bar, the mean volume of the last ``lookback`` bars up to ``t`` in the
  same slot (the same time of day for intraday data, the same weekday for
  daily data). Bars after ``t`` are never read.

The parent is an :class:`~alphaloop.execution.orders.Order` the broker
never sees: its fills mirror its children's, through the same state machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from alphaloop.errors import BacktestError
from alphaloop.execution.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderPartiallyFilled,
    OrderSubmitted,
)
from alphaloop.execution.orders import Order, OrderSide, OrderType, TimeInForce
from alphaloop.execution.sizing import round_lot

__all__ = ["ExecAlgorithm", "make_parent", "slice_quantities", "volume_profile"]

_DAY_NS = 86_400_000_000_000


def slice_quantities(quantity: float, weights: np.ndarray, lot: float = 0.0) -> np.ndarray:
    """Split ``quantity`` in proportion to ``weights``; the slices sum to it exactly.

    With a lot size, cumulative targets are rounded toward zero to lots and
    the last slice takes the rest.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise BacktestError(f"slice weights must be finite, >= 0 and not all 0, got {w}")
    cum = np.cumsum(w) / w.sum() * quantity
    cum = np.array([round_lot(c, lot) for c in cum])
    out = np.diff(np.r_[0.0, cum])
    out[-1] = quantity - out[:-1].sum()
    return out


def volume_profile(
    volume: np.ndarray, index: pd.DatetimeIndex, decided_row: int, fill_rows: list[int],
    lookback: int,
) -> np.ndarray:  # fmt: skip
    """Expected relative volume of each fill bar, from bars up to ``decided_row`` only.

    Parameters
    ----------
    volume : ndarray, shape (time,)
        One asset's volume.
    index : DatetimeIndex
        The calendar (known in advance, so fill bars' slots are known).
    decided_row : int
        Last bar whose volume may be read.
    fill_rows : list of int
    lookback : int
        Bars of the same slot averaged.

    Returns
    -------
    ndarray
        One weight per fill bar; slots without history get the mean of the
        others, and all-equal weights when there is no volume at all.
    """
    ns = pd.DatetimeIndex(index).as_unit("ns").asi8
    steps = np.diff(ns[: decided_row + 2])
    intraday = len(steps) > 0 and float(np.median(steps)) < 20 * 3600e9
    slots = ns % _DAY_NS if intraday else pd.DatetimeIndex(index).day_of_week.to_numpy()
    past_slots = slots[: decided_row + 1]
    past = np.asarray(volume[: decided_row + 1], dtype=np.float64)
    finite = np.isfinite(past)
    out = np.full(len(fill_rows), np.nan)
    for k, u in enumerate(fill_rows):
        values = past[finite & (past_slots == slots[u])][-lookback:]
        if len(values):
            out[k] = values.mean()
    if np.isnan(out).all() or np.nansum(out) <= 0:
        return np.ones(len(fill_rows))
    return np.where(np.isnan(out), np.nanmean(out), out)


class ExecAlgorithm:
    """One TWAP or VWAP parent order and its children.

    Parameters
    ----------
    parent : Order
        A market order (never sent to the broker).
    plan : ndarray
        Planned child quantities (unsigned), one per bar.
    submit_child : callable
        ``submit_child(quantity, parent_id) -> Order``: sends one IOC market
        child order decided on the current bar.
    emit : callable
        Where the parent's own events go (the strategy's ``on_order``).
    """

    def __init__(
        self,
        parent: Order,
        plan: np.ndarray,
        submit_child: Callable[[float, int], Order],
        emit: Callable[[Order, OrderEvent], None],
    ) -> None:
        self.parent = parent
        self.plan = [float(q) for q in plan]
        self.children: list[Order] = []
        self._next = 0
        self._carry = 0.0
        self._waiting: Order | None = None
        self._submit_child = submit_child
        self._emit = emit

    @property
    def active(self) -> bool:
        return self.parent.is_open

    def start(self, row: int) -> None:
        """Submit and accept the parent on its decision bar."""
        self._emit(self.parent, OrderSubmitted(self.parent.order_id, row))
        self._emit(self.parent, OrderAccepted(self.parent.order_id, row))

    def step(self, row: int) -> None:
        """Decide the next child on bar ``row`` (after the strategy's ``on_bar``)."""
        if not self.active or (self._waiting is not None and self._waiting.is_open):
            return
        if self._next >= len(self.plan):
            self._finish(row)
            return
        quantity = self.plan[self._next] + self._carry
        self._next += 1
        self._carry = 0.0
        left = self.parent.leaves_quantity
        quantity = min(quantity, left) if self._next < len(self.plan) else left
        if quantity > 1e-12 * self.parent.quantity:
            child = self._submit_child(quantity, self.parent.order_id)
            self.children.append(child)
            self._waiting = child
        elif self._next >= len(self.plan):
            self._finish(row)

    def on_child_event(self, event: OrderEvent) -> None:
        """Mirror a child's fills on the parent; carry what it could not fill."""
        parent = self.parent
        if isinstance(event, OrderFilled | OrderPartiallyFilled):
            complete = event.quantity >= parent.leaves_quantity - 1e-9 * parent.quantity
            kind = OrderFilled if complete else OrderPartiallyFilled
            self._emit(
                parent,
                kind(
                    parent.order_id,
                    event.row,
                    event.fill_id,
                    parent.asset,
                    parent.side,
                    event.quantity,
                    event.price,
                    event.cost,
                ),
            )
        elif isinstance(event, OrderCanceled) and self._waiting is not None:
            self._carry += self._waiting.quantity - self._waiting.filled_quantity
        if self._waiting is not None and not self._waiting.is_open and self._next >= len(self.plan):
            self._finish(event.row)

    def _finish(self, row: int) -> None:
        if self.parent.is_open:
            left = self.parent.leaves_quantity
            self._emit(
                self.parent,
                OrderCanceled(
                    self.parent.order_id, row, f"the algorithm ended with {left:g} shares unfilled"
                ),
            )


def make_parent(order_id: int, asset: str, quantity: float, algo: str) -> Order:
    """The parent order of an algorithm (a GTC market order with reason ``algo``)."""
    if not (math.isfinite(quantity) and quantity != 0.0):
        raise BacktestError(f"an algorithm needs a non-zero quantity, got {quantity}")
    side = OrderSide.BUY if quantity > 0 else OrderSide.SELL
    return Order(
        order_id, asset, side, abs(quantity), OrderType.MARKET, TimeInForce.GTC, reason=algo
    )
