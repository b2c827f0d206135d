"""Where a position's protection orders exit it: the bar-by-bar matching of one pair, compiled.

A protected position carries at most two protection orders (see
:mod:`~alphaloop.execution.protection`): a stop (a fixed stop, or a trailing
stop with an optional stop-loss floor) and a take-profit limit, one cancels
the other. Left alone, their whole life is decided by the bars:
:func:`guard_exit` walks the bars from the pair's first working bar and
returns the first bar on which one of them trades, which one, and at what
price, by the rules of :mod:`~alphaloop.execution.matching` as the
resting book applies them bar by bar:

- bars with a missing high or low are skipped (the trailing stop's best price
  does not move on them);
- from ``open_row`` on, the open first: a stop the bar opens beyond fills at
  the open (a gap), then a take-profit the bar opens beyond, at the open;
- then the range: the stop at its level, then the take-profit at its limit
  (the stop first when both are inside one bar, the conservative rule);
- then the trailing stop's best price moves with the bar's high (a sell) or
  low (a buy); its level uses the best price up to the previous bar and is
  never looser than its floor.

The broker uses it when the whole bar stream is known in advance (a
backtest): it arms the pair with one call and settles the exit on its bar,
instead of checking the pair bar by bar (see :mod:`~alphaloop.execution.armed`).
The kernel is a plain Python function compiled next to itself
(``guard_exit_py`` / ``guard_exit``); the tests check both agree, and that
the broker's results are identical either way.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "EXIT_LIMIT",
    "EXIT_NONE",
    "EXIT_STOP",
    "STOP_FIXED",
    "STOP_NONE",
    "STOP_TRAILING",
    "guard_exit",
    "guard_exit_py",
]

STOP_NONE = 0  # no stop order in the pair
STOP_FIXED = 1  # a stop at a fixed level
STOP_TRAILING = 2  # a trailing stop (optionally floored by a fixed level)

EXIT_NONE = 0  # neither order traded before the last bar
EXIT_STOP = 1  # the stop (or trailing stop) traded
EXIT_LIMIT = 2  # the take-profit limit traded


def guard_exit_py(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, j: int, first: int, open_row: int,
    stop: int, sign: int, stop_kind: int, stop_price: float, trail: float, extreme: float,
    limit_price: float,
) -> tuple[int, int, float, bool]:  # fmt: skip
    """The first bar in ``[first, stop)`` on which the pair trades.

    Parameters
    ----------
    open_, high, low : ndarray, shape (time, asset)
        ``open_`` may have zero rows (no open field: no gap fills).
    j : int
        Asset column.
    first, open_row : int
        First bar the orders work on, and first bar whose open they may trade
        at (orders placed at an open fill work from the rest of that bar).
    stop : int
        One past the last bar to look at (the number of bars).
    sign : int
        Side of the protection orders: -1 sells (a long position), +1 buys.
    stop_kind : int
        ``STOP_NONE``, ``STOP_FIXED`` or ``STOP_TRAILING``.
    stop_price : float
        The fixed stop's level, or the trailing stop's floor (NaN: none).
    trail : float
        Trailing distance as a fraction of the best price (0 < trail < 1).
    extreme : float
        The trailing stop's best price so far (the position's entry price).
    limit_price : float
        The take-profit's limit (NaN: no take-profit).

    Returns
    -------
    row : int
        The bar of the exit, or ``stop`` when neither order trades.
    which : int
        ``EXIT_STOP``, ``EXIT_LIMIT`` or ``EXIT_NONE``.
    price : float
        The fill price (currency per share); NaN without an exit.
    trails : bool
        For a trailing stop's exit: its level came from the best price, not
        its floor (the trade's reason is ``trailing_stop``, else ``stop_loss``).
    """
    has_open = open_.shape[0] > 0
    has_limit = not np.isnan(limit_price)
    has_floor = not np.isnan(stop_price)
    for r in range(first, stop):
        h = high[r, j]
        lo = low[r, j]
        if np.isnan(h) or np.isnan(lo):
            continue
        level = stop_price
        trails = False
        if stop_kind == STOP_TRAILING:
            if sign < 0:  # a sell: under the highest high
                level = extreme * (1.0 - trail)
                if has_floor and stop_price > level:
                    level = stop_price
            else:
                level = extreme * (1.0 + trail)
                if has_floor and stop_price < level:
                    level = stop_price
            trails = not has_floor or level != stop_price
        o = open_[r, j] if has_open else np.nan
        if r >= open_row and not np.isnan(o):
            if stop_kind != STOP_NONE and (o >= level if sign > 0 else o <= level):
                return r, EXIT_STOP, o, trails
            if has_limit and (o <= limit_price if sign > 0 else o >= limit_price):
                return r, EXIT_LIMIT, o, False
        if stop_kind != STOP_NONE and (h >= level if sign > 0 else lo <= level):
            return r, EXIT_STOP, level, trails
        if has_limit and (lo <= limit_price if sign > 0 else h >= limit_price):
            return r, EXIT_LIMIT, limit_price, False
        if stop_kind == STOP_TRAILING:
            if sign < 0:
                extreme = max(extreme, h)
            elif lo < extreme:
                extreme = lo
    return stop, EXIT_NONE, np.nan, False


guard_exit = njit(cache=True, nogil=True)(guard_exit_py)
