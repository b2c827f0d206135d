"""The risk engine's shadow book: positions, working orders, cash and last prices.

Kept from what the caller reports (checks that pass, fills, cancels, marks),
with the sums the checks need kept in step on every change: each asset's
worst-case exposure ``max(|pos + open buys|, |pos - open sells|) * price``,
their total (gross), per group, and the net exposure on either side.
Plain lists of floats indexed by asset position, for a lean check path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from alphaloop.errors import BacktestError

__all__ = ["ShadowBook"]


class ShadowBook:
    """Positions, working orders and cash of one account, as the risk engine sees them.

    Parameters
    ----------
    assets : sequence of str
    initial_capital : float
        Starting cash (account currency).
    groups : sequence of int
        Group number of each asset (-1: none).
    n_groups : int
    """

    def __init__(
        self, assets: Sequence[str], initial_capital: float, groups: Sequence[int], n_groups: int
    ) -> None:
        if not (math.isfinite(initial_capital) and initial_capital > 0):
            raise BacktestError(f"initial_capital must be > 0, got {initial_capital}")
        self.assets = tuple(assets)
        n = len(self.assets)
        self._pos_of = {a: j for j, a in enumerate(self.assets)}
        self._group = list(groups)
        self.pos = [0.0] * n
        self.open_buy = [0.0] * n
        self.open_sell = [0.0] * n
        self.price = [math.nan] * n
        self._exp = [0.0] * n  # worst-case |exposure| per asset, currency
        self._gexp = [0.0] * n_groups
        self.gross = 0.0  # sum of _exp
        self._net_hi = 0.0  # sum (pos + open buys) * price
        self._net_lo = 0.0  # sum (pos - open sells) * price
        self.cash = float(initial_capital)
        self.equity = float(initial_capital)
        self.open: dict[int, tuple[int, float]] = {}  # order id -> (asset, signed remaining)

    def _exposure(self, j: int) -> float:
        pos = self.pos[j]
        px = self.price[j]
        if not px > 0.0:
            return 0.0
        return max(abs(pos + self.open_buy[j]), abs(pos - self.open_sell[j])) * px

    def _reprice(self, j: int, update: Callable[[], None]) -> None:
        """Apply ``update()`` to asset j's book and keep the sums in step."""
        px = self.price[j]
        old = self._exp[j]
        ok = px > 0.0
        if ok:
            self._net_hi -= (self.pos[j] + self.open_buy[j]) * px
            self._net_lo -= (self.pos[j] - self.open_sell[j]) * px
        update()
        px = self.price[j]
        new = self._exposure(j)
        if px > 0.0:
            self._net_hi += (self.pos[j] + self.open_buy[j]) * px
            self._net_lo += (self.pos[j] - self.open_sell[j]) * px
        self._exp[j] = new
        self.gross += new - old
        g = self._group[j]
        if g >= 0:
            self._gexp[g] += new - old

    def _set_price(self, j: int, price: float) -> None:
        if price != self.price[j] and price > 0.0:
            old = self.price[j]
            self._reprice(j, lambda: self.price.__setitem__(j, price))
            if old > 0.0:
                self.equity += self.pos[j] * (price - old)
            else:
                self.equity += self.pos[j] * price

    def _change_open(self, j: int, signed: float, amount: float) -> None:
        """Add ``amount`` shares (negative: remove) to the open side (sign of ``signed``)."""
        px = self.price[j]
        if signed > 0.0:
            before = self.open_buy[j]
            after = self.open_buy[j] = max(0.0, before + amount)
            if px > 0.0:
                self._net_hi += (after - before) * px
        else:
            before = self.open_sell[j]
            after = self.open_sell[j] = max(0.0, before + amount)
            if px > 0.0:
                self._net_lo -= (after - before) * px
        if not px > 0.0:
            return
        pos = self.pos[j]
        buy_side = pos + self.open_buy[j]
        sell_side = pos - self.open_sell[j]
        new = max(buy_side if buy_side > 0.0 else -buy_side,
                  sell_side if sell_side > 0.0 else -sell_side) * px  # fmt: skip
        delta = new - self._exp[j]
        self._exp[j] = new
        self.gross += delta
        g = self._group[j]
        if g >= 0:
            self._gexp[g] += delta
