"""Statistics of return series behind the stylized facts (arrays in, arrays out).

Every function takes log returns of shape ``(paths, bars, assets)`` and
returns one value per series ``(paths, assets)`` (or per lag), so real data
(one path) and many synthetic paths are measured the same way.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "acf",
    "aggregate",
    "drawdown_correlation_rise",
    "excess_kurtosis",
    "hill_alpha",
    "leverage",
    "mean_pairwise_correlation",
    "quantile_asymmetry",
    "skewness",
]


def _std(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=1, keepdims=True)) / np.maximum(x.std(axis=1, keepdims=True), 1e-300)


def excess_kurtosis(x: np.ndarray) -> np.ndarray:
    """Excess kurtosis (0 for a normal) of each series."""
    return np.mean(_std(x) ** 4, axis=1) - 3.0


def skewness(x: np.ndarray) -> np.ndarray:
    """Sample skewness of each series."""
    return np.mean(_std(x) ** 3, axis=1)


def hill_alpha(x: np.ndarray, tail: float = 0.05) -> np.ndarray:
    """Hill's tail index of ``|r|`` on the largest ``tail`` share (at least 10) of each series.

    Lower is heavier: about 3 for daily stock returns; a normal's estimate
    rises with the sample size (no power tail).
    """
    a = np.sort(np.abs(x), axis=1)[:, ::-1]
    k = max(10, int(tail * x.shape[1]))
    top = np.maximum(a[:, :k], 1e-300)
    ref = np.maximum(a[:, k : k + 1], 1e-300)
    mean_log = np.mean(np.log(top / ref), axis=1)
    return 1.0 / np.maximum(mean_log, 1e-12)


def acf(x: np.ndarray, lags: int) -> np.ndarray:
    """Autocorrelation at lags ``1..lags``: shape ``(lags, paths, assets)``."""
    z = x - x.mean(axis=1, keepdims=True)
    var = np.maximum(np.sum(z * z, axis=1), 1e-300)
    return np.stack([np.sum(z[:, k:] * z[:, :-k], axis=1) / var for k in range(1, lags + 1)])


def leverage(x: np.ndarray, lags: int) -> np.ndarray:
    """Correlation of ``r_t`` with ``|r_{t+k}|`` for ``k = 1..lags``: ``(lags, paths, assets)``.

    Negative for stock returns: falls raise later volatility more than rises.
    """
    out = []
    for k in range(1, lags + 1):
        a = x[:, :-k]
        b = np.abs(x[:, k:])
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
        den = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))
        out.append(np.sum(a * b, axis=1) / np.maximum(den, 1e-300))
    return np.stack(out)


def quantile_asymmetry(x: np.ndarray, q: float = 0.01) -> np.ndarray:
    """``|quantile(q)| / quantile(1 - q)`` of each series' demeaned returns (> 1: losses larger)."""
    z = x - x.mean(axis=1, keepdims=True)
    lo = np.quantile(z, q, axis=1)
    hi = np.quantile(z, 1 - q, axis=1)
    return np.abs(lo) / np.maximum(hi, 1e-300)


def aggregate(x: np.ndarray, bars: int) -> np.ndarray:
    """Sums over non-overlapping windows of ``bars`` bars: ``(paths, windows, assets)``."""
    n = x.shape[1] // bars
    return x[:, : n * bars].reshape(x.shape[0], n, bars, x.shape[2]).sum(axis=2)


def _offdiag_mean(c: np.ndarray) -> np.ndarray:
    """Mean off-diagonal entry of correlation matrices ``(..., d, d)``."""
    d = c.shape[-1]
    return (np.sum(c, axis=(-1, -2)) - np.trace(c, axis1=-2, axis2=-1)) / (d * (d - 1))


def _corr(x: np.ndarray) -> np.ndarray:
    """Correlation matrices of ``(..., bars, assets)`` over bars."""
    z = x - x.mean(axis=-2, keepdims=True)
    cov = np.einsum("...ti,...tj->...ij", z, z)
    sd = np.sqrt(np.maximum(np.einsum("...ii->...i", cov), 1e-300))
    return cov / (sd[..., :, None] * sd[..., None, :])


def mean_pairwise_correlation(x: np.ndarray) -> np.ndarray:
    """Mean pairwise correlation of the assets in each path: ``(paths,)``."""
    return _offdiag_mean(_corr(x))


def drawdown_correlation_rise(x: np.ndarray, window: int = 63, worst: float = 0.2) -> np.ndarray:
    """How much the mean pairwise correlation rises in falling markets: ``(paths,)``.

    Bars are cut into non-overlapping windows of ``window`` bars; in each
    window the mean pairwise correlation of the assets and the equal-weight
    return are measured. The result is the mean correlation of the
    ``worst`` share of windows (lowest equal-weight return) minus that of
    the others. For i.i.d. normal returns it is about 0: a window's sample
    correlation is independent of its sample mean.
    """
    n = x.shape[1] // window
    w = x[:, : n * window].reshape(x.shape[0], n, window, x.shape[2])
    corr = _offdiag_mean(_corr(w))
    ret = w.mean(axis=3).sum(axis=2)
    k = max(1, round(worst * n))
    order = np.argsort(ret, axis=1)
    sorted_corr = np.take_along_axis(corr, order, axis=1)
    return sorted_corr[:, :k].mean(axis=1) - sorted_corr[:, k:].mean(axis=1)
