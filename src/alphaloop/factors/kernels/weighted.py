"""Weighted means over time: linearly weighted (WMA) and exponentially weighted (EMA).

Window, NaN and ``min_periods`` conventions of the WMA: see :mod:`.sums`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba.extending import register_jitable

from alphaloop.factors.kernels._common import (
    FloatArray,
    as_panel,
    check_window,
    compiled,
    is_value,
    two_sum,
)

__all__ = ["ewm_mean", "rolling_wma"]


@register_jitable
def _weighted_sums(
    x: FloatArray, j: int, t: int, window: int, t0: int
) -> tuple[float, float, float, float, float]:
    """Sums of p, y and p*y over the window's valid values, p = row - t0.

    The sums of y terms come as compensated pairs ``(s, c)``.
    """
    sp = sy = spy = cy = cpy = 0.0
    for i in range(max(0, t - window + 1), t + 1):
        if is_value(x[i, j]):
            p = float(i - t0)
            sp += p
            sy, cy = two_sum(sy, cy, x[i, j])
            spy, cpy = two_sum(spy, cpy, p * x[i, j])
    return sp, sy, cy, spy, cpy


def _wma(x: FloatArray, window: int, min_periods: int, qlib: bool) -> FloatArray:
    """Row ``i`` weighs ``(i - t0) - shift`` = ``window - (t - i)`` at row ``t``."""
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    for j in range(cols):
        n, since, run, last, t0 = 0, 0, 0, np.nan, 0
        sp = sy = spy = cy = cpy = 0.0
        for t in range(rows):
            for i, sign in ((t - window, -1.0), (t, 1.0)):
                if i >= 0 and is_value(x[i, j]):
                    n += int(sign)
                    p = float(i - t0)
                    sp += sign * p
                    sy, cy = two_sum(sy, cy, sign * x[i, j])
                    spy, cpy = two_sum(spy, cpy, sign * p * x[i, j])
            if is_value(x[t, j]):
                run = run + 1 if x[t, j] == last else 1
                last = x[t, j]
            since += 1
            if n < min_periods:
                out[t, j] = np.nan
                continue
            if run >= n and not qlib:  # all valid values equal
                out[t, j] = last
                continue
            if since >= window:  # keep the offsets p small
                t0 = t - window
                sp, sy, cy, spy, cpy = _weighted_sums(x, j, t, window, t0)
                since = 0
            shift = float(t - t0 - window)
            if qlib:
                span = min(t + 1, window)  # rows in the (possibly partial) window
                shift += window - span
                out[t, j] = (spy + cpy - shift * (sy + cy)) / (span * (span + 1) / 2.0) / n
            else:
                out[t, j] = (spy + cpy - shift * (sy + cy)) / (sp - shift * n)
    return out


_wma_jit = compiled(_wma)


def rolling_wma(x: npt.ArrayLike, window: int, min_periods: int, qlib: bool = False) -> FloatArray:
    """Linearly weighted moving average.

    Default: the bar ``k`` bars back weighs ``window - k`` (the current bar
    ``window``, the oldest bar of the window 1); missing bars are skipped and
    the weights of the valid ones normalized to sum to 1, so a constant
    series returns the constant. A bar's weight depends only on its age, also
    in the first ``window - 1`` rows.

    ``qlib=True`` reproduces Qlib 0.9.7 ``WMA``, which is *not* a weighted
    mean: over the window's ``L = min(t + 1, window)`` rows it takes weights
    ``1..L`` (oldest first) normalized over all ``L`` rows, missing or not,
    and returns ``nanmean(w * x)`` = ``sum(w_i x_i over valid) / n_valid``,
    i.e. roughly the weighted mean divided by ``L`` (a constant 1 gives
    ``1 / L``). Use it only to reproduce Qlib factor values.
    """
    window, min_periods = check_window(window, min_periods)
    return _wma_jit(as_panel(x), window, min_periods, qlib)


def _ewm(x: FloatArray, alpha: float, min_periods: int, adjust: bool) -> FloatArray:
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    decay = 1.0 - alpha
    new_weight = 1.0 if adjust else alpha
    for j in range(cols):
        mean, started, seen, old_weight = np.nan, False, 0, 1.0
        for t in range(rows):
            v = x[t, j]
            valid = is_value(v)
            if valid:
                seen += 1
            if started:
                old_weight *= decay  # missing bars age the past too (ignore_na=False)
                if valid:
                    if mean != v:  # a constant series stays exact
                        mean = (old_weight * mean + new_weight * v) / (old_weight + new_weight)
                    old_weight = old_weight + new_weight if adjust else 1.0
            elif valid:
                mean, started = v, True
            out[t, j] = mean if seen >= min_periods else np.nan
    return out


_ewm_jit = compiled(_ewm)


def ewm_mean(
    x: npt.ArrayLike,
    span: float | None = None,
    min_periods: int = 1,
    adjust: bool = False,
    *,
    alpha: float | None = None,
) -> FloatArray:
    """Exponentially weighted moving average, ``alpha = 2 / (span + 1)``.

    Give ``span`` >= 1, or ``span=None`` and ``alpha`` in (0, 1] (Qlib's
    ``EMA(x, N)`` with ``0 < N < 1`` means ``alpha=N``). NaN until
    ``min_periods`` valid values have been seen since the start; after that a
    missing bar repeats the last value.

    ``adjust=False`` (our default): the recursion ``m = (1 - alpha) m + alpha v``
    seeded with the first valid value. ``adjust=True``: the weighted mean of
    all valid values so far with weights ``(1 - alpha)**age``, which is pandas'
    ``ewm(..., adjust=True)`` and Qlib's ``EMA`` (with ``min_periods=1``).
    Missing bars count in the ages (pandas ``ignore_na=False``): after ``k``
    missing bars, ``adjust=False`` gives the next value weight ``alpha``
    against ``(1 - alpha)**(k + 1)`` for the past, as pandas documents. (pandas
    3.1 deviates from its documentation for ``adjust=False`` when alpha is
    exactly 0.5: there the new value weighs ``1 - (1 - alpha)**(k + 1)``.)
    NaN and +-inf are missing.
    """
    if (span is None) == (alpha is None):
        raise ValueError("give exactly one of span and alpha")
    if alpha is None:
        if not 1.0 <= span < math.inf:
            raise ValueError(f"span must be a finite number >= 1, got {span}")
        center_of_mass = (span - 1.0) / 2.0
    elif 0.0 < alpha <= 1.0:
        center_of_mass = (1.0 - alpha) / alpha
    else:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    alpha = 1.0 / (1.0 + center_of_mass)  # rounded as pandas rounds it
    if isinstance(min_periods, bool) or not isinstance(min_periods, int | np.integer):
        raise TypeError(f"min_periods must be an integer, got {min_periods!r}")
    if min_periods < 1:
        raise ValueError(f"min_periods must be >= 1, got {min_periods}")
    return _ewm_jit(as_panel(x), float(alpha), int(min_periods), bool(adjust))
