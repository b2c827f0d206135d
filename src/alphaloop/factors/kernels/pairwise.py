"""Rolling covariance and correlation of two panels, column by column.

Window and ``min_periods`` conventions: see :mod:`.sums`, with one change: a
row counts only when *both* values are valid (pandas' pairwise rolling
``cov``/``corr``), and ``min_periods`` applies to those rows.

Numerics as in :mod:`.moments`: compensated sums of deviations from
reference values that follow the window, rebuilt every ``window`` rows and
when a window mean drifts; a side whose paired values are all equal is
detected exactly (covariance 0, correlation NaN).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba.extending import register_jitable

from alphaloop.factors.kernels._common import (
    CENTERING_RATIO,
    QLIB_FLAT_STD,
    FloatArray,
    as_panel,
    check_window,
    compiled,
    is_value,
    two_sum,
)
from alphaloop.factors.kernels.moments import rolling_std

__all__ = ["rolling_corr", "rolling_cov"]


@register_jitable
def _paired(x: FloatArray, y: FloatArray, i: int, j: int) -> bool:
    return is_value(x[i, j]) and is_value(y[i, j])


@register_jitable
def _pair_sums(
    x: FloatArray, y: FloatArray, j: int, t: int, window: int, rx: float, ry: float
) -> tuple[float, float, float, float, float, float, float, float, float, float]:
    """Sums of dx, dy, dx**2, dy**2, dx*dy over the window's paired rows, as compensated pairs."""
    sx = sy = sxx = syy = sxy = cx = cy = cxx = cyy = cxy = 0.0
    for i in range(max(0, t - window + 1), t + 1):
        if _paired(x, y, i, j):
            dx, dy = x[i, j] - rx, y[i, j] - ry
            sx, cx = two_sum(sx, cx, dx)
            sy, cy = two_sum(sy, cy, dy)
            sxx, cxx = two_sum(sxx, cxx, dx * dx)
            syy, cyy = two_sum(syy, cyy, dy * dy)
            sxy, cxy = two_sum(sxy, cxy, dx * dy)
    return sx, cx, sy, cy, sxx, cxx, syy, cyy, sxy, cxy


def _pairwise(
    x: FloatArray, y: FloatArray, window: int, min_periods: int, corr: bool
) -> FloatArray:
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    least = max(min_periods, 2)
    for j in range(cols):
        n, since, run_x, run_y, last_x, last_y = 0, 0, 0, 0, np.nan, np.nan
        rx = ry = sx = sy = sxx = syy = sxy = cx = cy = cxx = cyy = cxy = 0.0
        for t in range(rows):
            for i, sign in ((t - window, -1.0), (t, 1.0)):
                if i >= 0 and _paired(x, y, i, j):
                    n += int(sign)
                    dx, dy = x[i, j] - rx, y[i, j] - ry
                    sx, cx = two_sum(sx, cx, sign * dx)
                    sy, cy = two_sum(sy, cy, sign * dy)
                    sxx, cxx = two_sum(sxx, cxx, sign * dx * dx)
                    syy, cyy = two_sum(syy, cyy, sign * dy * dy)
                    sxy, cxy = two_sum(sxy, cxy, sign * dx * dy)
            if _paired(x, y, t, j):
                run_x = run_x + 1 if x[t, j] == last_x else 1
                run_y = run_y + 1 if y[t, j] == last_y else 1
                last_x, last_y = x[t, j], y[t, j]
            since += 1
            if n < least:
                out[t, j] = np.nan
                continue
            if run_x >= n or run_y >= n:  # one side is constant
                out[t, j] = np.nan if corr else 0.0
                continue
            mx, my = (sx + cx) / n, (sy + cy) / n
            if (
                since >= window
                or mx * mx > CENTERING_RATIO * ((sxx + cxx) / n - mx * mx)
                or my * my > CENTERING_RATIO * ((syy + cyy) / n - my * my)
            ):
                rx, ry = rx + mx, ry + my
                sx, cx, sy, cy, sxx, cxx, syy, cyy, sxy, cxy = _pair_sums(
                    x, y, j, t, window, rx, ry
                )
                since = 0
            sum_x, sum_y = sx + cx, sy + cy
            co = sxy + cxy - sum_x * (sum_y / n)
            if not corr:
                out[t, j] = co / (n - 1)
                continue
            var_x = sxx + cxx - sum_x * (sum_x / n)
            var_y = syy + cyy - sum_y * (sum_y / n)
            if var_x <= 0.0 or var_y <= 0.0:
                out[t, j] = np.nan
            else:
                out[t, j] = min(max(co / math.sqrt(var_x * var_y), -1.0), 1.0)
    return out


_pairwise_jit = compiled(_pairwise)


def _panels(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, y = as_panel(x, "x"), as_panel(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    return x, y


def rolling_cov(x: npt.ArrayLike, y: npt.ArrayLike, window: int, min_periods: int) -> FloatArray:
    """Sample covariance (ddof=1) over the rows where both are valid; NaN with fewer than 2."""
    window, min_periods = check_window(window, min_periods)
    x, y = _panels(x, y)
    return _pairwise_jit(x, y, window, min_periods, False)


def rolling_corr(
    x: npt.ArrayLike, y: npt.ArrayLike, window: int, min_periods: int, qlib: bool = False
) -> FloatArray:
    """Pearson correlation over the rows where both are valid, in [-1, 1].

    NaN with fewer than 2 paired rows or when either side's paired values are
    all equal. ``qlib=True`` also sets NaN where either series' own rolling
    sample std (its own valid values, at least 2) is <= 2e-5, as Qlib's
    ``Corr`` does (``np.isclose(std, 0, atol=2e-05)``; an absolute threshold).
    """
    window, min_periods = check_window(window, min_periods)
    x, y = _panels(x, y)
    out = _pairwise_jit(x, y, window, min_periods, True)
    if qlib:
        flat = (rolling_std(x, window, 1) <= QLIB_FLAT_STD) | (
            rolling_std(y, window, 1) <= QLIB_FLAT_STD
        )
        out[flat] = np.nan
    return out
