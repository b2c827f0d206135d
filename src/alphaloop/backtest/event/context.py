"""What a strategy sees and does on each bar: data up to now, the account, orders.

The context never shows a bar after the current one: :meth:`Context.price`
and :meth:`Context.history` read rows up to ``ctx.row`` (the bar whose close
was just reached). Orders placed on bar ``t`` are decided after its close and
fill per the fill timing (the next open by default).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import (
    CancelOrder,
    ExecAlgorithm,
    ModifyOrder,
    Order,
    OrderEvent,
    OrderSide,
    OrderType,
    Protection,
    RebalanceToWeights,
    SimulatedBroker,
    SubmitOrder,
    TimeInForce,
    make_parent,
    slice_quantities,
)
from alphaloop.execution.algos import volume_profile as _volume_profile

__all__ = ["Context"]


class Context:
    """The strategy's view of the market and its handle on the broker.

    Attributes
    ----------
    row : int
        The current bar (-1 in ``on_start``).
    assets : tuple of str
    index : DatetimeIndex
        The calendar; timestamps after ``row`` are known in advance, their
        data is not.
    """

    def __init__(self, panel: Panel, broker: SimulatedBroker) -> None:
        self.row = -1
        self.assets = panel.assets
        self.index = panel.index
        self._panel = panel
        self._broker = broker
        self._fields = {name: panel[name] for name in panel.field_names}
        self._pos = broker.market.asset_pos
        self.algos: list[ExecAlgorithm] = []
        self.algo_by_parent: dict[int, ExecAlgorithm] = {}
        self.algo_events: list[tuple[Order, OrderEvent]] = []

    # ------------------------------------------------------------------ data
    @property
    def time(self) -> pd.Timestamp:
        """Timestamp of the current bar."""
        self._need_bar("time")
        return self.index[self.row]

    def _need_bar(self, what: str) -> None:
        if self.row < 0:
            raise BacktestError(f"{what} is available from the first on_bar, not in on_start")

    def _column(self, asset: str) -> int:
        return self._broker.asset_column(asset)

    def _array(self, field: str) -> np.ndarray:
        try:
            return self._fields[field]
        except KeyError:
            raise BacktestError(
                f"unknown field {field!r}", hint=f"fields: {', '.join(self._fields)}"
            ) from None

    def price(self, asset: str, field: str = "close") -> float:
        """``field`` of ``asset`` on the current bar (NaN where missing)."""
        if self.row < 0:
            self._need_bar("price")
        try:
            return float(self._fields[field][self.row, self._pos[asset]])
        except KeyError:
            return float(self._array(field)[self.row, self._column(asset)])

    def history(self, field: str, n: int, asset: str | None = None) -> np.ndarray:
        """The last ``n`` bars of ``field`` up to and including the current one.

        Returns a read-only view of shape ``(k,)`` for one asset or ``(k,
        n_assets)``, with ``k = min(n, row + 1)``; oldest first.
        """
        if n < 1:
            raise BacktestError(f"history needs n >= 1 bars, got {n}")
        values = self._array(field)
        rows = slice(max(0, self.row - n + 1), self.row + 1)
        if asset is None:
            return values[rows]
        return values[rows, self._column(asset)]

    # --------------------------------------------------------------- account
    def position(self, asset: str) -> float:
        """Signed shares held."""
        return self._broker.position(asset)

    def positions(self) -> dict[str, float]:
        """Every non-zero position."""
        return self._broker.positions()

    @property
    def cash(self) -> float:
        return self._broker.cash

    @property
    def equity(self) -> float:
        """Cash plus positions at the current close (currency)."""
        return self._broker.equity

    def open_orders(self, asset: str | None = None) -> list[Order]:
        return self._broker.open_orders(asset)

    # ---------------------------------------------------------------- orders
    def order(
        self,
        asset: str,
        quantity: float,
        order_type: OrderType | str = OrderType.MARKET,
        *,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_fraction: float | None = None,
        time_in_force: TimeInForce | str = TimeInForce.GTC,
        protection: Protection | None = None,
        parent_id: int | None = None,
    ) -> Order:
        """Place an order for ``quantity`` shares (positive buys, negative sells).

        See :class:`~alphaloop.execution.orders.OrderType` for the
        prices each type needs. ``protection`` attaches stop-loss,
        take-profit or trailing-stop orders to the position it builds.
        """
        if self.row < 0:
            self._need_bar("order")
        if not (isinstance(quantity, (int, float)) and math.isfinite(quantity) and quantity):
            raise BacktestError(
                f"order quantity must be a non-zero number of shares, got {quantity!r}",
                hint="positive buys, negative sells",
            )
        if asset.__class__ is not str or asset not in self._pos:
            self._column(asset)  # the broker's error for an unknown asset
        broker = self._broker
        order = Order(
            broker.new_order_id(), asset,
            OrderSide.BUY if quantity > 0 else OrderSide.SELL, abs(float(quantity)),
            order_type, time_in_force, limit_price=limit_price,  # type: ignore[arg-type]
            stop_price=stop_price, trail_fraction=trail_fraction, parent_id=parent_id,
        )  # fmt: skip
        broker.submit(SubmitOrder(order, self.row, protection))
        return order

    def cancel(self, order: Order | int) -> bool:
        """Cancel a working order; False when it had already finished."""
        oid = order.order_id if isinstance(order, Order) else int(order)
        return self._broker.cancel(CancelOrder(oid, self.row))

    def kill_switch(self, reason: str) -> list[int]:
        """Halt the risk engine and cancel every working order now (needs risk limits).

        Returns the canceled order ids; later orders are refused until the
        run ends.
        """
        return self._broker.kill(reason)

    def modify(
        self,
        order: Order,
        *,
        quantity: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> None:
        """Change a working order's quantity (total, unsigned) or prices."""
        self._broker.modify(
            ModifyOrder(order.order_id, self.row, quantity, limit_price, stop_price)
        )

    def rebalance_to_weights(
        self,
        weights: Mapping[str, float] | np.ndarray,
        *,
        protection: Protection | None = None,
    ) -> None:
        """Trade to target weights of equity, sized at the fill prices.

        ``weights``: a mapping asset -> weight (other assets left alone) or an
        array with one entry per asset (NaN = leave alone). Sizing and the
        cash rule are the vectorized simulator's, so a weight schedule gives
        the same result in both engines.
        """
        self._need_bar("rebalance_to_weights")
        if isinstance(weights, Mapping):
            w = np.full(len(self.assets), np.nan)
            for asset, value in weights.items():
                w[self._column(asset)] = float(value)
        else:
            w = np.asarray(weights, dtype=np.float64)
        self._broker.rebalance(RebalanceToWeights(w, self.row, protection))

    # ------------------------------------------------------------ algorithms
    def twap(self, asset: str, quantity: float, bars: int) -> Order:
        """Trade ``quantity`` shares in ``bars`` equal slices, one per bar."""
        return self._start_algo(asset, quantity, bars, "twap", lambda fill_rows: None)

    def vwap(
        self,
        asset: str,
        quantity: float,
        bars: int,
        *,
        lookback: int = 20,
        profile: np.ndarray | None = None,
    ) -> Order:
        """Trade ``quantity`` shares over ``bars`` bars in proportion to expected volume.

        ``profile`` (one weight per slice) overrides the profile estimated
        from past volume (see :func:`~alphaloop.execution.algos.volume_profile`).
        """
        if profile is not None:
            return self._start_algo(asset, quantity, bars, "vwap", lambda rows: profile)
        volume = self._fields.get("volume")
        if volume is None:
            raise BacktestError("VWAP needs a 'volume' field", hint="use twap, or pass profile=")
        j = self._column(asset)
        return self._start_algo(
            asset, quantity, bars, "vwap",
            lambda rows: _volume_profile(volume[:, j], self.index, self.row, rows, lookback),
        )  # fmt: skip

    def _start_algo(self, asset: str, quantity: float, bars: int, name: str, weights_of) -> Order:
        self._need_bar(name)
        if not (isinstance(bars, int) and bars >= 1):
            raise BacktestError(f"{name} needs bars >= 1, got {bars!r}")
        j = self._column(asset)
        lag = self._broker.market.lag
        fill_rows = [self.row + k + lag for k in range(bars)]
        if fill_rows[-1] >= len(self.index):
            raise BacktestError(
                f"a {bars}-bar {name} decided at {self.time.isoformat()} would run past the "
                "last bar of the data",
                hint="use fewer bars",
            )
        parent = make_parent(self._broker.new_order_id(), asset, quantity, name)
        weights = weights_of(fill_rows)
        weights = np.ones(bars) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights.shape != (bars,):
            raise BacktestError(f"a {name} profile needs {bars} weights, got {weights.shape}")
        plan = slice_quantities(parent.quantity, weights, float(self._broker.lot_sizes[j]))
        sign = parent.side.sign

        def submit_child(q: float, parent_id: int) -> Order:
            return self.order(asset, sign * q, time_in_force=TimeInForce.IOC, parent_id=parent_id)

        algo = ExecAlgorithm(parent, plan, submit_child, self._emit_algo)
        algo.start(self.row)
        self.algos.append(algo)
        self.algo_by_parent[parent.order_id] = algo
        algo.step(self.row)
        return parent

    def _emit_algo(self, order: Order, event: OrderEvent) -> None:
        order.apply(event)
        self.algo_events.append((order, event))
