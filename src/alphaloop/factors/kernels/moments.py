"""Rolling variance, standard deviation, skewness, kurtosis and mean absolute deviation.

Window, NaN and ``min_periods`` conventions: see :mod:`.sums`.

Numerics: the running sums hold powers of ``x - ref``, compensated (TwoSum),
where ``ref`` is a recent window mean. They are rebuilt from the window
(O(window), so O(1) amortized) every ``window`` rows and whenever the window
mean drifts more than 8 standard deviations from ``ref``. A window whose
valid values are all equal is detected exactly: variance 0, skew and
kurtosis NaN (as pandas). Deviations beyond ~1e75 overflow the 4th powers
that skew and kurtosis keep.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba.extending import register_jitable

from alphaloop.factors.kernels._common import (
    CENTERING_RATIO,
    FloatArray,
    as_panel,
    check_window,
    compiled,
    is_value,
    two_sum,
)

__all__ = ["rolling_kurt", "rolling_mad", "rolling_skew", "rolling_std", "rolling_var"]


@register_jitable
def _window_powers(
    x: FloatArray, j: int, t: int, window: int, ref: float
) -> tuple[float, float, float, float, float, float, float, float]:
    """Sums of the 1st to 4th powers of ``x - ref`` over the window ending at row ``t``.

    Returned as compensated pairs ``(s1, c1, ..., s4, c4)``: folding each pair
    into one float would round away digits that a later removal of a large
    value needs.
    """
    s1 = s2 = s3 = s4 = c1 = c2 = c3 = c4 = 0.0
    for i in range(max(0, t - window + 1), t + 1):
        if is_value(x[i, j]):
            d = x[i, j] - ref
            s1, c1 = two_sum(s1, c1, d)
            s2, c2 = two_sum(s2, c2, d * d)
            s3, c3 = two_sum(s3, c3, d * d * d)
            s4, c4 = two_sum(s4, c4, d * d * d * d)
    return s1, c1, s2, c2, s3, c3, s4, c4


def _variance(x: FloatArray, window: int, min_periods: int, root: bool) -> FloatArray:
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    least = max(min_periods, 2)
    for j in range(cols):
        n, since, run, last = 0, 0, 0, np.nan
        ref = s1 = s2 = c1 = c2 = 0.0
        for t in range(rows):
            for i, sign in ((t - window, -1.0), (t, 1.0)):  # the leaving row, then the new one
                if i >= 0 and is_value(x[i, j]):
                    n += int(sign)
                    d = x[i, j] - ref
                    s1, c1 = two_sum(s1, c1, sign * d)
                    s2, c2 = two_sum(s2, c2, sign * d * d)
            v = x[t, j]
            if is_value(v):
                run = run + 1 if v == last else 1
                last = v
            since += 1
            if n < least:
                out[t, j] = np.nan
                continue
            if run >= n:  # all valid values equal
                out[t, j] = 0.0
                continue
            mu = (s1 + c1) / n
            if since >= window or mu * mu > CENTERING_RATIO * ((s2 + c2) / n - mu * mu):
                ref += mu
                s1, c1, s2, c2, _, _, _, _ = _window_powers(x, j, t, window, ref)
                since = 0
            sum1 = s1 + c1
            var = max((s2 + c2 - sum1 * (sum1 / n)) / (n - 1), 0.0)
            out[t, j] = math.sqrt(var) if root else var
    return out


_variance_jit = compiled(_variance)


@register_jitable
def _shape_statistic(n: int, s1: float, s2: float, s3: float, s4: float, kurt: bool) -> float:
    """Skewness or excess kurtosis from power sums of deviations (bias-corrected like pandas)."""
    mu = s1 / n
    m2 = s2 / n - mu * mu
    if m2 <= 0.0:
        return np.nan
    m3 = s3 / n - 3.0 * mu * (s2 / n) + 2.0 * mu * mu * mu
    if not kurt:
        return math.sqrt(n * (n - 1.0)) / (n - 2.0) * m3 / (m2 * math.sqrt(m2))
    m4 = s4 / n - 4.0 * mu * (s3 / n) + 6.0 * mu * mu * (s2 / n) - 3.0 * mu * mu * mu * mu
    return ((n * n - 1.0) * m4 / (m2 * m2) - 3.0 * (n - 1.0) * (n - 1.0)) / ((n - 2.0) * (n - 3.0))


def _shape(x: FloatArray, window: int, min_periods: int, kurt: bool) -> FloatArray:
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    least = max(min_periods, 4 if kurt else 3)
    for j in range(cols):
        n, since, run, last = 0, 0, 0, np.nan
        ref = s1 = s2 = s3 = s4 = c1 = c2 = c3 = c4 = 0.0
        for t in range(rows):
            for i, sign in ((t - window, -1.0), (t, 1.0)):
                if i >= 0 and is_value(x[i, j]):
                    n += int(sign)
                    d = x[i, j] - ref
                    s1, c1 = two_sum(s1, c1, sign * d)
                    s2, c2 = two_sum(s2, c2, sign * d * d)
                    s3, c3 = two_sum(s3, c3, sign * d * d * d)
                    s4, c4 = two_sum(s4, c4, sign * d * d * d * d)
            v = x[t, j]
            if is_value(v):
                run = run + 1 if v == last else 1
                last = v
            since += 1
            if n < least or run >= n:  # too few values, or all equal
                out[t, j] = np.nan
                continue
            mu = (s1 + c1) / n
            if since >= window or mu * mu > CENTERING_RATIO * ((s2 + c2) / n - mu * mu):
                ref += mu
                s1, c1, s2, c2, s3, c3, s4, c4 = _window_powers(x, j, t, window, ref)
                since = 0
            out[t, j] = _shape_statistic(n, s1 + c1, s2 + c2, s3 + c3, s4 + c4, kurt)
    return out


_shape_jit = compiled(_shape)


def rolling_var(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Sample variance (ddof=1) of the valid values; NaN with fewer than 2 of them."""
    window, min_periods = check_window(window, min_periods)
    return _variance_jit(as_panel(x), window, min_periods, False)


def rolling_std(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Sample standard deviation (ddof=1); NaN with fewer than 2 valid values."""
    window, min_periods = check_window(window, min_periods)
    return _variance_jit(as_panel(x), window, min_periods, True)


def rolling_skew(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Bias-corrected sample skewness (pandas ``rolling.skew``; G1 of Joanes & Gill).

    ``sqrt(n (n-1)) / (n-2) * m3 / m2**1.5`` with ``m_k`` the central moments
    (divided by n). NaN with fewer than 3 valid values or when they are all equal.
    """
    window, min_periods = check_window(window, min_periods)
    return _shape_jit(as_panel(x), window, min_periods, False)


def rolling_kurt(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Bias-corrected sample excess kurtosis (pandas ``rolling.kurt``; G2).

    ``((n+1)(n-1) m4 / m2**2 - 3 (n-1)**2) / ((n-2)(n-3))``; 0 for a normal
    sample on average. NaN with fewer than 4 valid values or when they are all equal.
    """
    window, min_periods = check_window(window, min_periods)
    return _shape_jit(as_panel(x), window, min_periods, True)


def _mad(x: FloatArray, window: int, min_periods: int) -> FloatArray:
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    for j in range(cols):
        n = 0
        for t in range(rows):
            if t >= window and is_value(x[t - window, j]):
                n -= 1
            if is_value(x[t, j]):
                n += 1
            if n < min_periods:
                out[t, j] = np.nan
                continue
            first = max(0, t - window + 1)
            ref, acc, found = 0.0, 0.0, False
            for i in range(first, t + 1):
                if is_value(x[i, j]):
                    if not found:
                        ref, found = x[i, j], True
                    acc += x[i, j] - ref
            mean = ref + acc / n  # exactly ref when all values are equal
            dev = 0.0
            for i in range(first, t + 1):
                if is_value(x[i, j]):
                    dev += abs(x[i, j] - mean)
            out[t, j] = dev / n
    return out


_mad_jit = compiled(_mad)


def rolling_mad(x: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Mean absolute deviation around the window mean, over the valid values.

    Qlib's ``Mad``: ``mean(|v - mean(v)|)``; O(window) per cell.
    """
    window, min_periods = check_window(window, min_periods)
    return _mad_jit(as_panel(x), window, min_periods)
