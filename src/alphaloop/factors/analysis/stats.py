"""t-statistics of a series' mean: classical and Newey-West (HAC)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from alphaloop.factors.analysis._common import newey_west_lags

__all__ = ["mean_t_stat", "mean_t_stat_hac", "spearman_correlation"]


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def mean_t_stat(values: Sequence[float] | np.ndarray) -> float:
    """Classical t-statistic of the mean: ``mean / (std / sqrt(n))`` (std with ddof=1).

    NaN values are dropped first. Valid for serially uncorrelated values; for
    overlapping multi-period returns use :func:`mean_t_stat_hac`. Returns NaN
    for fewer than 2 values or zero dispersion.
    """
    x = _finite(values)
    n = x.size
    if n < 2:
        return math.nan
    sd = float(np.std(x, ddof=1))
    if sd == 0.0:
        return math.nan
    return float(np.mean(x) / (sd / math.sqrt(n)))


def mean_t_stat_hac(
    values: Sequence[float] | np.ndarray, lags: int | None = None, *, horizon: int = 1
) -> tuple[float, int]:
    """Newey-West (HAC) t-statistic of the mean, and the lag count used.

    The long-run variance is ``g0 + 2 * sum_{l=1..L} (1 - l / (L + 1)) * g_l``
    with ``g_l = (1/n) * sum_t (x_t - m)(x_{t-l} - m)`` (Bartlett kernel, no
    small-sample correction); the t-statistic is ``m / sqrt(lrv / n)``. This
    equals statsmodels' ``OLS(x, 1).fit(cov_type="HAC",
    cov_kwds={"maxlags": L, "use_correction": False})``.

    Parameters
    ----------
    values : array-like
        The series (NaN dropped; the remaining values are treated as
        consecutive).
    lags : int, optional
        ``L``; default :func:`~alphaloop.factors.analysis._common.newey_west_lags`
        of ``n`` and ``horizon``.
    horizon : int, default=1
        Overlap of the underlying returns in periods: ``h``-period returns
        sampled every period are autocorrelated up to lag ``h - 1``.
    """
    x = _finite(values)
    n = x.size
    n_lags = newey_west_lags(n, horizon) if lags is None else int(lags)
    n_lags = min(n_lags, max(n - 1, 0))
    if n < 2:
        return math.nan, n_lags
    d = x - x.mean()
    lrv = float(d @ d) / n
    for lag in range(1, n_lags + 1):
        weight = 1.0 - lag / (n_lags + 1.0)
        lrv += 2.0 * weight * float(d[lag:] @ d[:-lag]) / n
    if lrv <= 0.0:
        return math.nan, n_lags
    return float(x.mean() / math.sqrt(lrv / n)), n_lags


def spearman_correlation(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation over the pairs where both are finite (average ranks for ties).

    NaN when fewer than 2 pairs remain or either side is constant.
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 2:
        return math.nan
    ra = pd.Series(a[keep]).rank().to_numpy()
    rb = pd.Series(b[keep]).rank().to_numpy()
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])
