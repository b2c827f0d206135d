"""Rolling quantile, median and time-series percentile rank.

Window, NaN and ``min_periods`` conventions: see :mod:`.sums`. Each column
keeps its window's valid values sorted in a small array. The leaving value
is found by binary search; when a new value enters at the same time it
takes the leaving one's slot and only the values lying between the two move
by one place, otherwise values are inserted or removed by binary search and
a move (O(log window) search plus an O(window) move of contiguous memory,
cheap for the windows factors use).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba.extending import register_jitable

from alphaloop.factors.kernels._common import FloatArray, as_panel, check_window, compiled, is_value

__all__ = ["rolling_median", "rolling_quantile", "rolling_rank"]

QUANTILE, MEDIAN, RANK = 0, 1, 2


@register_jitable
def _bisect(values: FloatArray, size: int, v: float, right: bool) -> int:
    """Index of the first of ``values[:size]`` that is > ``v`` (``right``) or >= ``v``."""
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < v or (right and values[mid] == v):
            lo = mid + 1
        else:
            hi = mid
    return lo


@register_jitable
def _insert(values: FloatArray, size: int, v: float) -> int:
    at = _bisect(values, size, v, True)
    for i in range(size, at, -1):
        values[i] = values[i - 1]
    values[at] = v
    return size + 1


@register_jitable
def _remove(values: FloatArray, size: int, v: float) -> int:
    at = _bisect(values, size, v, False)
    for i in range(at, size - 1):
        values[i] = values[i + 1]
    return size - 1


@register_jitable
def _replace(values: FloatArray, size: int, old: float, new: float) -> None:
    """Swap ``old`` for ``new``, moving only the values that lie between them."""
    at = _bisect(values, size, old, False)
    while at + 1 < size and values[at + 1] < new:
        values[at] = values[at + 1]
        at += 1
    while at > 0 and values[at - 1] > new:
        values[at] = values[at - 1]
        at -= 1
    values[at] = new


def _order(x: FloatArray, window: int, min_periods: int, q: float, mode: int) -> FloatArray:
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    values = np.empty(window)
    for j in range(cols):
        n = 0
        for t in range(rows):
            v = x[t, j]
            leaving = x[t - window, j] if t >= window else np.nan
            if is_value(leaving) and is_value(v):
                _replace(values, n, leaving, v)
            elif is_value(leaving):
                n = _remove(values, n, leaving)
            elif is_value(v):
                n = _insert(values, n, v)
            if n < min_periods:
                out[t, j] = np.nan
            elif mode == QUANTILE:
                at = q * (n - 1)
                lo = int(at)
                if lo == at:
                    out[t, j] = values[lo]
                else:
                    out[t, j] = values[lo] + (values[lo + 1] - values[lo]) * (at - lo)
            elif mode == MEDIAN:
                half = n // 2
                out[t, j] = values[half] if n % 2 else (values[half - 1] + values[half]) / 2.0
            elif not is_value(v):
                out[t, j] = np.nan
            else:
                below = _bisect(values, n, v, False)
                through = _bisect(values, n, v, True)
                out[t, j] = (below + through + 1) / (2.0 * n)
    return out


_order_jit = compiled(_order)


def rolling_quantile(x: npt.ArrayLike, window: int, min_periods: int, q: float) -> FloatArray:
    """The ``q`` quantile (0 <= q <= 1) of the valid values, linear interpolation.

    As pandas ``rolling.quantile(q)``: with ``n`` sorted values ``v``, the
    result is ``v[i] + (v[i+1] - v[i]) * f`` where ``q (n - 1) = i + f``.
    """
    window, min_periods = check_window(window, min_periods)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be between 0 and 1, got {q}")
    return _order_jit(as_panel(x), window, min_periods, float(q), QUANTILE)


def rolling_median(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Median of the valid values (the mean of the two middle ones for an even count)."""
    window, min_periods = check_window(window, min_periods)
    return _order_jit(as_panel(x), window, min_periods, 0.5, MEDIAN)


def rolling_rank(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Percentile rank of the current value among the window's valid values, in (0, 1].

    Qlib 0.9.7 ``Rank``: ``scipy.stats.percentileofscore(valid, current) / 100``
    with ``kind='rank'``, i.e. ``(below + through + 1) / (2 n)`` where
    ``below`` counts values < current and ``through`` values <= current;
    equal values share the average of their ranks (as pandas
    ``rolling.rank(pct=True)``, which Qlib calls). NaN when the current value
    is missing or fewer than ``min_periods`` values are valid.
    """
    window, min_periods = check_window(window, min_periods)
    return _order_jit(as_panel(x), window, min_periods, 0.5, RANK)
