"""Strategies for the event engine: the callback interface and a weight replayer.

A strategy subclasses :class:`Strategy` and overrides the hooks it needs;
every hook has a default that does nothing. The engine calls, in order:
``on_start(ctx)`` once; then for each bar ``r`` the broker's fills and
order events (``on_order(ctx, event)`` for every event of the strategy's
orders, ``on_fill(ctx, fill)`` for fills), then ``on_bar(ctx, r)`` with data
up to ``r``'s close; ``on_end(ctx)`` after the last bar.

``schedule(ctx)`` may return a boolean mask over the bars: ``on_bar`` then
runs only where it is True, and the engine skips quiet bars entirely (the
broker still visits every bar on which an order works). The mask decides
*when* the strategy looks, so it must be computable from what is known at
each bar (a calendar rule, or signals that only use past data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaloop.backtest.event.context import Context
from alphaloop.errors import BacktestError
from alphaloop.execution import FillEvent, OrderEvent, Protection

__all__ = ["Strategy", "TargetWeightsStrategy"]


class Strategy:
    """Base class of event-engine strategies (all hooks optional)."""

    def on_start(self, ctx: Context) -> None:
        """Before the first bar (``ctx.row == -1``; no prices yet)."""

    def schedule(self, ctx: Context) -> np.ndarray | None:
        """Bars on which ``on_bar`` runs (bool mask over the calendar); None = every bar."""
        return None

    def on_bar(self, ctx: Context, row: int) -> None:
        """After bar ``row``'s close: data up to it is visible; orders fill later."""

    def on_fill(self, ctx: Context, fill: FillEvent) -> None:
        """A fill of one of the strategy's orders (or of a protection order)."""

    def on_order(self, ctx: Context, event: OrderEvent) -> None:
        """Any order event (submitted, accepted, filled, canceled, ...)."""

    def on_end(self, ctx: Context) -> None:
        """After the last bar."""


def align_weights(weights: np.ndarray | pd.DataFrame, ctx: Context) -> np.ndarray:
    """A (time, asset) float64 array on the context's calendar and assets."""
    index, assets = ctx.index, ctx.assets
    if isinstance(weights, pd.DataFrame):
        extra = [a for a in weights.columns if str(a) not in assets]
        if extra:
            raise BacktestError(f"weights name assets not in the data: {extra[:5]}")
        idx = pd.DatetimeIndex(weights.index)
        if idx.tz is None:
            raise BacktestError("weights index must be timezone-aware (UTC)")
        if not idx.isin(index).all():
            bad = list(idx[~idx.isin(index)][:3])
            raise BacktestError(f"weights have timestamps not in the data, e.g. {bad}")
        weights = (
            weights.rename(columns=str)
            .reindex(index=index, columns=list(assets))
            .to_numpy(dtype=np.float64)
        )
    arr = np.asarray(weights, dtype=np.float64)
    if arr.shape != (len(index), len(assets)):
        raise BacktestError(
            f"weights have shape {arr.shape}; expected {(len(index), len(assets))} (time, asset)"
        )
    if np.isinf(arr).any():
        where = tuple(int(k) for k in np.argwhere(np.isinf(arr))[0])
        raise BacktestError(f"weights contain an infinite value at position {where}")
    return arr


class TargetWeightsStrategy(Strategy):
    """Replay a (time, asset) schedule of target weights through the event engine.

    Row ``t`` holds the weights decided after bar ``t``'s close (NaN = leave
    the asset as it is; a row of NaN = no rebalance), exactly as
    :func:`alphaloop.backtest.vectorized.simulate` reads them, so both
    engines give the same result.

    Parameters
    ----------
    weights : ndarray or DataFrame, shape (time, asset)
    stop_loss, take_profit, trailing_stop : float, default 0 (off)
        Protection attached to every position, as fractions of its entry
        price (see :class:`~alphaloop.execution.orders.Protection`).
    """

    def __init__(
        self,
        weights: np.ndarray | pd.DataFrame,
        *,
        stop_loss: float = 0.0,
        take_profit: float = 0.0,
        trailing_stop: float = 0.0,
    ) -> None:
        self.weights = weights
        self.protection = Protection(stop_loss, take_profit, trailing_stop)
        self._targets = np.empty((0, 0))

    def on_start(self, ctx: Context) -> None:
        self._targets = align_weights(self.weights, ctx)

    def schedule(self, ctx: Context) -> np.ndarray:
        return ~np.isnan(self._targets).all(axis=1)

    def on_bar(self, ctx: Context, row: int) -> None:
        protection = self.protection if self.protection.active else None
        ctx.rebalance_to_weights(self._targets[row], protection=protection)
