"""Look ahead for the broker (never for the strategy): the next bar a resting order can act.

Between the bars on which something happens, the simulated broker does not
visit its resting orders one bar at a time: :func:`first_touch` finds the
first bar on which an order's level is inside the bar (or beyond its open),
and the broker checks the order again only there. The result is the same as
a bar-by-bar check because the scan uses a superset of the conditions of
:mod:`~alphaloop.execution.matching` and is recomputed whenever the
order changes. :func:`advance_extreme` brings a trailing stop's best price
up to date over the skipped bars.

Each kernel is a plain Python function compiled next to itself with numba
(``first_touch`` / ``first_touch_py``); the tests check both agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "KIND_FIRED",
    "KIND_LIMIT",
    "KIND_STOP",
    "KIND_TRAILING",
    "advance_extreme",
    "advance_extreme_py",
    "first_touch",
    "first_touch_py",
]

KIND_STOP = 0  # a stop, or a stop-limit not yet triggered: reached through `level`
KIND_LIMIT = 1  # a limit (or a triggered stop-limit): reached at `level` or better
KIND_TRAILING = 2  # a trailing stop: the level follows `extreme`
KIND_FIRED = 3  # a triggered stop with quantity left: acts on the next valid bar


def first_touch_py(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, j: int, start: int, stop: int,
    open_row: int, kind: int, sign: int, level: float, trail: float, extreme: float,
) -> int:  # fmt: skip
    """First row in ``[start, stop)`` where the order may act, else ``stop``.

    Parameters
    ----------
    open_, high, low : ndarray, shape (time, asset)
        ``open_`` may have zero rows (no open field).
    j : int
        Asset column.
    open_row : int
        First row whose open the order may trade at.
    kind : int
        One of the ``KIND_*`` constants.
    sign : int
        +1 buy, -1 sell.
    level : float
        Stop or limit price; for trailing stops the floor (sell) or cap (buy),
        NaN for none.
    trail, extreme : float
        Trailing fraction and the best price through ``start - 1``.
    """
    has_open = open_.shape[0] > 0
    for r in range(start, stop):
        h = high[r, j]
        lo = low[r, j]
        if np.isnan(h) or np.isnan(lo):
            continue
        if kind == KIND_FIRED:
            return r
        o = open_[r, j] if has_open else np.nan
        use_open = r >= open_row and not np.isnan(o)
        lv = level
        if kind == KIND_TRAILING:
            if sign < 0:
                lv = extreme * (1.0 - trail)
                if not np.isnan(level) and level > lv:
                    lv = level
            else:
                lv = extreme * (1.0 + trail)
                if not np.isnan(level) and level < lv:
                    lv = level
        # a buy limit and a sell stop are reached from above, the others from below
        if (kind == KIND_LIMIT) == (sign > 0):
            hit = lo <= lv or (use_open and o <= lv)
        else:
            hit = h >= lv or (use_open and o >= lv)
        if hit:
            return r
        if kind == KIND_TRAILING:
            extreme = max(extreme, h) if sign < 0 else min(extreme, lo)
    return stop


def advance_extreme_py(
    high: np.ndarray, low: np.ndarray, j: int, start: int, stop: int, sign: int, extreme: float
) -> float:
    """A trailing stop's best price after rows ``[start, stop)`` (rows with a NaN high
    or low are skipped, as the bar-by-bar check skips them)."""
    for r in range(start, stop):
        h = high[r, j]
        lo = low[r, j]
        if np.isnan(h) or np.isnan(lo):
            continue
        extreme = max(extreme, h) if sign < 0 else min(extreme, lo)
    return extreme


first_touch = njit(cache=True, nogil=True)(first_touch_py)
advance_extreme = njit(cache=True, nogil=True)(advance_extreme_py)
