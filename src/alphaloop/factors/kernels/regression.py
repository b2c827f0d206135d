"""Rolling linear trend: slope, R-squared and last residual of an OLS fit on time.

Window, NaN and ``min_periods`` conventions: see :mod:`.sums`.

The fit regresses the window's valid values on their bar positions: a value
``k`` bars before the current one sits at time ``-k``. Missing bars are
dropped *and keep their place on the time axis*, so a gap stretches the
time between the values around it. This is Qlib 0.9.7's definition too
(its Cython ``Slope``/``Rsquare``/``Resi`` keep NaN slots in a fixed-size
deque and number positions 1..N), so slope and residual match Qlib whatever
their ``qlib`` flag says; ``rolling_rsquare(qlib=True)`` adds Qlib's mask of
near-constant windows.

Where Qlib differs, ours is the exact value: with one valid value Qlib
returns NaN or +-inf (0/0 after rounding drift in its running sums), ours
NaN; Qlib's plain running sums lose digits when the mean is large against
the spread (relative errors up to ~1e-4 in R-squared at mean/std ~ 1e5),
ours agree with exact rational arithmetic; +-inf poisons Qlib's running sums
for the rest of the series, ours treats it as missing.

Numerics: compensated running sums of time offsets from an origin ``t0`` and
of deviations from a reference value, both moved to the window (and the sums
rebuilt) every ``window`` rows and when the window mean drifts away.
"""

from __future__ import annotations

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

__all__ = ["rolling_resi", "rolling_rsquare", "rolling_slope"]

SLOPE, RSQUARE, RESI = 0, 1, 2


@register_jitable
def _window_sums(
    x: FloatArray, j: int, t: int, window: int, t0: int, ref: float
) -> tuple[float, float, float, float, float, float, float, float]:
    """Sums of p, p**2, d, d**2, p*d over the window, p = row - t0 and d = value - ref.

    The sums of d terms come as compensated pairs (see :mod:`.moments`).
    """
    sp = spp = sy = syy = spy = cy = cyy = cpy = 0.0
    for i in range(max(0, t - window + 1), t + 1):
        if is_value(x[i, j]):
            p = float(i - t0)
            d = x[i, j] - ref
            sp += p
            spp += p * p
            sy, cy = two_sum(sy, cy, d)
            syy, cyy = two_sum(syy, cyy, d * d)
            spy, cpy = two_sum(spy, cpy, p * d)
    return sp, spp, sy, cy, syy, cyy, spy, cpy


@register_jitable
def _fit(
    n: int,
    sp: float,
    spp: float,
    sy: float,
    syy: float,
    spy: float,
    p_now: float,
    d_now: float,
    mode: int,
) -> float:
    sxx = (n * spp - sp * sp) / n  # exact: integers well below 2**53
    sxy = spy - sp * (sy / n)
    slope = sxy / sxx
    if mode == SLOPE:
        return slope
    if mode == RESI:
        return d_now - (sy / n + slope * (p_now - sp / n))  # NaN when the current value is
    ss_total = syy - sy * (sy / n)
    if ss_total <= 0.0:
        return np.nan
    return min(sxy * sxy / (sxx * ss_total), 1.0)


def _regression(x: FloatArray, window: int, min_periods: int, mode: int) -> FloatArray:
    rows, cols = x.shape
    out = np.empty((cols, rows)).T  # each column contiguous: kernels walk columns
    least = max(min_periods, 2)
    for j in range(cols):
        n, since, run, last, t0 = 0, 0, 0, np.nan, 0
        ref = sp = spp = sy = syy = spy = cy = cyy = cpy = 0.0
        for t in range(rows):
            for i, sign in ((t - window, -1.0), (t, 1.0)):
                if i >= 0 and is_value(x[i, j]):
                    n += int(sign)
                    p = float(i - t0)
                    d = x[i, j] - ref
                    sp += sign * p
                    spp += sign * p * p
                    sy, cy = two_sum(sy, cy, sign * d)
                    syy, cyy = two_sum(syy, cyy, sign * d * d)
                    spy, cpy = two_sum(spy, cpy, sign * p * d)
            v = x[t, j]
            if is_value(v):
                run = run + 1 if v == last else 1
                last = v
            since += 1
            if n < least:
                out[t, j] = np.nan
                continue
            if run >= n:  # a flat window: slope 0, residual 0, R-squared undefined
                if mode == RSQUARE or (mode == RESI and not is_value(v)):
                    out[t, j] = np.nan
                else:
                    out[t, j] = 0.0
                continue
            mu = (sy + cy) / n
            if since >= window or mu * mu > CENTERING_RATIO * ((syy + cyy) / n - mu * mu):
                t0 = t - window
                ref += mu
                sp, spp, sy, cy, syy, cyy, spy, cpy = _window_sums(x, j, t, window, t0, ref)
                since = 0
            p_now = float(t - t0)
            d_now = v - ref if is_value(v) else np.nan
            out[t, j] = _fit(n, sp, spp, sy + cy, syy + cyy, spy + cpy, p_now, d_now, mode)
    return out


_regression_jit = compiled(_regression)


def rolling_slope(
    x: npt.ArrayLike, window: int, min_periods: int, qlib: bool = False
) -> FloatArray:
    """OLS slope of the valid values on time, in units of x per bar.

    NaN with fewer than ``max(2, min_periods)`` valid values; 0 for a flat
    window. ``qlib`` changes nothing (Qlib's ``Slope`` has this definition);
    it is accepted so that the three trend kernels take the same arguments.
    """
    window, min_periods = check_window(window, min_periods)
    return _regression_jit(as_panel(x), window, min_periods, SLOPE)


def rolling_rsquare(
    x: npt.ArrayLike, window: int, min_periods: int, qlib: bool = False
) -> FloatArray:
    """R-squared of the OLS fit on time, in [0, 1]; NaN for a flat window.

    ``qlib=True`` also sets NaN where the window's sample std (ddof=1, at
    least 2 valid values) is <= 2e-5, as Qlib's ``Rsquare`` does
    (``np.isclose(std, 0, atol=2e-05)``); note that this threshold is absolute.
    """
    window, min_periods = check_window(window, min_periods)
    x = as_panel(x)
    out = _regression_jit(x, window, min_periods, RSQUARE)
    if qlib:
        out[rolling_std(x, window, 1) <= QLIB_FLAT_STD] = np.nan
    return out


def rolling_resi(x: npt.ArrayLike, window: int, min_periods: int, qlib: bool = False) -> FloatArray:
    """Residual of the current bar from the window's OLS line on time, in units of x.

    NaN when the current value is missing or fewer than ``max(2, min_periods)``
    values are valid. ``qlib`` changes nothing (Qlib's ``Resi`` has this
    definition); it is accepted so that the three trend kernels take the same
    arguments.
    """
    window, min_periods = check_window(window, min_periods)
    return _regression_jit(as_panel(x), window, min_periods, RESI)
