"""The account: cash, positions, fills, round trips, and the mark to market.

The accounting is the vectorized kernel's (:func:`alphaloop.backtest.kernel.
_fill` and its close mark) written for one fill at a time, so both engines
give the same numbers: a fill pays ``-shares * price - costs`` in cash, with
costs from the shared :func:`~alphaloop.execution.costs.fill_cost`; a
position's entry price is the average of its opening fills; a round trip
runs from flat to flat, and a reversal closes one and opens the next,
splitting the fill's cash flow and costs pro rata.

The mark is lazy. Between fills the positions do not change, so the equity
(cash plus positions at the last close), the gross exposure and the borrow
charged on shorts at each close are computed for whole spans of bars at
once, when a fill, a query or the end of the run needs them. Borrow:
``-shares * last_close * borrow_rate * years since the previous bar``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from alphaloop.errors import BacktestError
from alphaloop.execution.costs import CostModel, fill_cost, maker_params
from alphaloop.execution.market import MarketData

__all__ = ["LIQUIDITY", "REASONS", "Ledger"]

#: Trade reasons, as in the vectorized simulator's trade records.
REASONS: tuple[str, ...] = ("order", "stop_loss", "take_profit", "trailing_stop")
#: Liquidity flags of a fill, by its code in the trade records (0 taker, 1 maker).
LIQUIDITY: tuple[str, ...] = ("taker", "maker")
_REASON_CODE = {name: k for k, name in enumerate(REASONS)}
_IMPACT = 6  # position of the impact coefficient in CostModel.as_array()
_fill_cost_py = fill_cost.py_func
# spans with at most this many (bar, held asset) cells are marked in plain Python
_SMALL_SPAN = 24


# from this many bars on, one held asset without borrow is marked by the compiled loop
_ONE_ASSET_SPAN = 4


def _mark_one_py(
    last: np.ndarray,
    j: int,
    start: int,
    stop: int,
    shares: float,
    cash: float,
    equity: np.ndarray,
    gross: np.ndarray,
) -> None:
    """Equity and gross value of rows ``[start, stop)`` with ``shares`` of asset ``j``
    the only position and nothing charged (the same arithmetic as the general marks)."""
    for r in range(start, stop):
        v = shares * last[r, j]
        equity[r] = cash + v
        gross[r] = abs(v)


_mark_one = njit(cache=True, nogil=True)(_mark_one_py)


class Ledger:
    """Cash and positions of one simulated account.

    Attributes
    ----------
    cash : float
        After every fill and the borrow of every marked bar.
    shares : list of float
        Signed position per asset, in the panel's asset order.
    entry_price : list of float
        Average price of the fills that built each position (NaN when flat).
    opened : list of int
        How many times each asset's position was opened or reversed: the
        protection orders of a position know which position they guard.
    marked_through : int
        Last bar whose close has been marked (-1 before the first).
    equity, gross_value, bar_notional, bar_cost : ndarray, shape (time,)
        Per bar: equity at the close, gross position value, traded notional
        and costs (fills and borrow).
    """

    def __init__(self, market: MarketData, costs: CostModel, initial_capital: float) -> None:
        n_rows, n_assets = market.close.shape
        self._market = market
        self._params = costs.as_array()
        self._borrow_rate = costs.borrow_rate
        # the cost model as floats, priced by fill_cost's plain-Python twin (the same
        # arithmetic; a call costs less than the compiled one's dispatch)
        self._param_list: list[float] = self._params.tolist()
        # a maker fill's parameters (the same list when the model has no maker fee)
        maker = maker_params(self._params).tolist()
        self._maker_list: list[float] = self._param_list if maker == self._param_list else maker
        self._impact = self._param_list[_IMPACT] > 0.0
        self._tmp = [0.0] * 5
        # (row, asset, |shares|, price, total) of the last fill_cost, whose parts are in _tmp
        self._quoted: tuple | None = None
        self.initial_capital = float(initial_capital)
        self.cash = float(initial_capital)
        self.shares = [0.0] * n_assets
        self.entry_price = [math.nan] * n_assets
        self.opened = [0] * n_assets
        self.held: set[int] = set()
        # round-trip state per asset: entry row, cash flow, costs, entry notional
        self._trip = [[0, 0.0, 0.0, 0.0] for _ in range(n_assets)]
        self.cost_totals = [0.0] * 6
        self.trades: list[tuple] = []
        self.round_trips: list[tuple] = []
        self.marked_through = -1
        self.equity = np.full(n_rows, np.nan)
        self.gross_value = np.zeros(n_rows)
        self.bar_notional = np.zeros(n_rows)
        self.bar_cost = np.zeros(n_rows)

    @property
    def market(self) -> MarketData:
        """The bar data the ledger marks against."""
        return self._market

    @property
    def cost_params(self) -> np.ndarray:
        """The cost model as :func:`~alphaloop.execution.costs.fill_cost` reads it."""
        return self._params

    # ---------------------------------------------------------------- fills
    def _price(
        self, row: int, asset: int, shares: float, price: float, maker: bool = False
    ) -> float:
        """Total cost of a fill; its categories are left in ``self._tmp``."""
        if self._impact:
            m = self._market
            adv, sigma = float(m.adv[row, asset]), float(m.sigma[row, asset])
        else:
            adv = sigma = math.nan  # not read without impact
        params = self._maker_list if maker else self._param_list
        return float(_fill_cost_py(params, shares, price, adv, sigma, self._tmp))

    def fill_cost(
        self, row: int, asset: int, shares: float, price: float, maker: bool = False
    ) -> float:
        """Total cost of a fill, without booking it (``maker``: priced as a maker fill)."""
        total = self._price(row, asset, shares, price, maker)
        self._quoted = (row, asset, abs(shares), price, total, maker)
        return total

    def fill(
        self,
        row: int,
        asset: int,
        shares: float,
        price: float,
        reason: str,
        maker: bool = False,
    ) -> float:
        """Book one fill of ``shares`` (signed) at ``price`` on bar ``row``; return its cost.

        ``maker``: the fill provided liquidity (a resting limit order) and pays
        the cost model's maker commission (see :mod:`~alphaloop.execution.costs`).
        """
        marked = self.marked_through
        if row <= marked:
            raise BacktestError(
                f"internal: a fill on bar {row} after its close was marked",
                hint="please report this with the strategy that caused it",
            )
        if marked < row - 1:
            self.mark_through(row - 1)
        size = abs(shares)
        quoted, self._quoted = self._quoted, None
        if (
            quoted is not None
            and quoted[0] == row
            and quoted[1] == asset
            and quoted[2] == size
            and quoted[3] == price
            and quoted[5] == maker
        ):
            total = quoted[4]  # just priced by fill_cost: its categories are still in tmp
        else:
            total = self._price(row, asset, shares, price, maker)
        c0, c1, c2, c3, c4 = self._tmp
        flow = -shares * price - total
        self.cash += flow
        totals = self.cost_totals
        totals[0] += c0
        totals[1] += c1
        totals[2] += c2
        totals[3] += c3
        totals[4] += c4
        notional = size * price
        self.bar_notional[row] += notional
        self.bar_cost[row] += total
        prev = self.shares[asset]
        new = prev + shares
        if abs(new) < 1e-12 * (abs(prev) + size):
            new = 0.0
        self.shares[asset] = new
        if new == 0.0:
            self.held.discard(asset)
        else:
            self.held.add(asset)
        trip = self._trip[asset]
        if prev == 0.0:
            trip[:] = [row, flow, total, notional]
            self.entry_price[asset] = price
            self.opened[asset] += 1
        elif new == 0.0 or (new > 0.0) != (prev > 0.0):
            part = abs(prev) / size
            self.round_trips.append(
                (asset, trip[0], row, trip[1] + flow * part, trip[2] + total * part, trip[3])
            )
            if new != 0.0:
                trip[:] = [row, flow * (1.0 - part), total * (1.0 - part), abs(new) * price]
                self.entry_price[asset] = price
                self.opened[asset] += 1
            else:
                self.entry_price[asset] = math.nan
        else:
            trip[1] += flow
            trip[2] += total
            if abs(new) > abs(prev):
                self.entry_price[asset] = (prev * self.entry_price[asset] + shares * price) / new
                trip[3] += notional
        self.trades.append(
            (row, asset, _REASON_CODE[reason], shares, price, c0, c1, c2, c3, c4, flow, int(maker))
        )
        return total

    # ----------------------------------------------------------------- mark
    def value_at(self, row: int, prices: np.ndarray) -> float:
        """Positions valued at ``prices[row]`` (the last close before ``row`` where NaN)."""
        value = 0.0
        last = self._market.last_close
        for j in sorted(self.held):
            p = prices[row, j]
            if math.isnan(p):
                p = last[row - 1, j] if row > 0 else math.nan
            value += self.shares[j] * p
        return value

    def mark_through(self, row: int) -> None:
        """Mark every bar up to ``row`` at its close (charging borrow on shorts)."""
        start = self.marked_through + 1
        if row < start:
            return
        held = sorted(self.held)
        if not held:
            self.equity[start : row + 1] = self.cash
        elif (
            len(held) == 1
            and row - start >= _ONE_ASSET_SPAN
            and (self._borrow_rate <= 0.0 or self.shares[held[0]] > 0.0)
        ):
            j = held[0]
            _mark_one(
                self._market.last_close, j, start, row + 1, self.shares[j], self.cash,
                self.equity, self.gross_value,
            )  # fmt: skip
        elif (row - start + 1) * len(held) <= _SMALL_SPAN:
            self._mark_small(start, row, held)
        else:
            self._mark_span(start, row, held)
        self.marked_through = row

    def _mark_small(self, start: int, stop: int, held: list[int]) -> None:
        last = self._market.last_close
        year_frac = self._market.year_frac
        rate = self._borrow_rate
        shares = self.shares
        for r in range(start, stop + 1):
            value = 0.0
            gross = 0.0
            for j in held:
                q = shares[j]
                v = q * float(last[r, j])
                value += v
                gross += abs(v)
                if q < 0.0 and rate > 0.0:
                    fee = -v * rate * float(year_frac[r])
                    self.cash -= fee
                    self.cost_totals[5] += fee
                    self.bar_cost[r] += fee
                    trip = self._trip[j]
                    trip[1] -= fee
                    trip[2] += fee
            self.equity[r] = self.cash + value
            self.gross_value[r] = gross

    def _mark_span(self, start: int, stop: int, held: list[int]) -> None:
        sl = slice(start, stop + 1)
        q = np.array([self.shares[j] for j in held])
        last = self._market.last_close
        values = last[sl, held[0] : held[0] + 1] * q if len(held) == 1 else last[sl][:, held] * q
        self.gross_value[sl] = np.abs(values).sum(axis=1)
        value = values.sum(axis=1)
        if self._borrow_rate > 0.0 and (q < 0.0).any():
            fees = np.where(q < 0.0, -values, 0.0) * (
                self._borrow_rate * self._market.year_frac[sl, None]
            )
            per_bar = fees.sum(axis=1)
            cash = self.cash - np.cumsum(per_bar)
            self.bar_cost[sl] += per_bar
            self.cost_totals[5] += float(per_bar.sum())
            for k, j in enumerate(held):
                if q[k] < 0.0:
                    fee = float(fees[:, k].sum())
                    self._trip[j][1] -= fee
                    self._trip[j][2] += fee
            self.cash = float(cash[-1])
            self.equity[sl] = cash + value
        else:
            self.equity[sl] = self.cash + value

    def peek_equity(self, row: int) -> float:
        """Equity at ``row``'s close before that close is marked (no borrow for ``row``)."""
        if self.marked_through < row - 1:
            self.mark_through(row - 1)
        return self.cash + self.value_at(row, self._market.close)

    def open_trips(self) -> list[tuple]:
        """Round trips still open at the last marked bar, valued at its close."""
        row = self.marked_through
        out = []
        for j in sorted(self.held):
            trip = self._trip[j]
            value = self.shares[j] * float(self._market.last_close[row, j])
            out.append((j, trip[0], -1, trip[1] + value, trip[2], trip[3]))
        return out
