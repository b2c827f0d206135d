"""Shift, rolling count, rolling sum and rolling mean.

Conventions (shared by every rolling kernel): ``x`` is (time, asset); the
window at row ``t`` holds rows ``t - window + 1 .. t`` (the current bar
included; rows before the start count as missing); NaN and +-inf are
missing and skipped; the result is NaN when fewer than ``min_periods``
valid values are in the window (pandas ``rolling(window, min_periods)``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alphaloop.factors.kernels._common import (
    FloatArray,
    as_panel,
    check_window,
    compiled,
    is_value,
    two_sum,
)

__all__ = ["rolling_count", "rolling_mean", "rolling_sum", "shift"]


def shift(x: npt.ArrayLike, n: int) -> FloatArray:
    """``x[t - n]`` at row ``t``: ``n > 0`` looks back ``n`` bars, ``n < 0`` looks ahead.

    Rows whose source lies outside the array are NaN. Values are moved as
    they are (+-inf included). Refusing look-ahead is the evaluator's job.
    """
    x = as_panel(x)
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"n must be an integer, got {n!r}")
    n = int(n)
    out = np.full(x.shape, np.nan)
    rows = x.shape[0]
    if 0 <= n < rows:
        out[n:] = x[: rows - n]
    elif -rows < n < 0:
        out[:n] = x[-n:]
    return out


def _count(x, window, min_periods):
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    for j in range(cols):
        n = 0
        for t in range(rows):
            if t >= window and is_value(x[t - window, j]):
                n -= 1
            if is_value(x[t, j]):
                n += 1
            out[t, j] = n if min(t + 1, window) >= min_periods else np.nan
    return out


_count_jit = compiled(_count)


def rolling_count(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Number of valid (finite) values in the window, as float.

    As in pandas ``rolling(window, min_periods).count()``, ``min_periods``
    applies to the number of *rows* the window spans so far, not to valid
    values: the result is NaN only for the first ``min_periods - 1`` rows and
    otherwise a count in ``[0, window]`` (0 for an all-NaN window). Unlike
    pandas, +-inf is not counted (pandas counts it in ``count`` but treats it
    as missing in every other rolling method).
    """
    window, min_periods = check_window(window, min_periods)
    return _count_jit(as_panel(x), window, min_periods)


def _sum(x, window, min_periods, mean):
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    for j in range(cols):
        n = 0
        s = 0.0
        c = 0.0
        run = 0  # how many of the latest valid values equal `last`
        last = np.nan
        for t in range(rows):
            if t >= window:
                u = x[t - window, j]
                if is_value(u):
                    n -= 1
                    s, c = two_sum(s, c, -u)
            v = x[t, j]
            if is_value(v):
                n += 1
                s, c = two_sum(s, c, v)
                run = run + 1 if v == last else 1
                last = v
            if n < min_periods:
                out[t, j] = np.nan
            elif run >= n:  # every valid value in the window equals `last`: exact result
                out[t, j] = last if mean else last * n
            else:
                out[t, j] = (s + c) / n if mean else s + c
    return out


_sum_jit = compiled(_sum)


def rolling_sum(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Sum of the valid values in the window (compensated running sum, O(1) per cell).

    A window whose valid values are all equal returns ``value * count`` exactly.
    """
    window, min_periods = check_window(window, min_periods)
    return _sum_jit(as_panel(x), window, min_periods, False)


def rolling_mean(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Mean of the valid values in the window (compensated running sum, O(1) per cell).

    A window whose valid values are all equal returns that value exactly.
    """
    window, min_periods = check_window(window, min_periods)
    return _sum_jit(as_panel(x), window, min_periods, True)
