"""The Engle-Granger kernel: OLS hedge ratio, ADF t-statistic and AR(1) slope per pair.

:func:`eg_many` runs :func:`_eg_pair` over many pairs in parallel (numba);
:func:`eg_many_python` runs the same per-pair code interpreted, so tests can
compare the two (and both with statsmodels' ``coint``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["eg_many", "eg_many_python"]


@numba.njit(cache=True)
def _solve_small(a: np.ndarray, b: np.ndarray, inv00: np.ndarray) -> np.ndarray:
    """Solve ``a c = b`` for a small SPD ``a`` by Gauss-Jordan; ``inv00[0]`` gets (a^-1)[0, 0]."""
    k = b.shape[0]
    m = np.empty((k, 2 * k))
    for i in range(k):
        for j in range(k):
            m[i, j] = a[i, j]
            m[i, k + j] = 1.0 if i == j else 0.0
    for c in range(k):
        piv = c
        for r in range(c + 1, k):
            if abs(m[r, c]) > abs(m[piv, c]):
                piv = r
        if piv != c:
            for j in range(2 * k):
                tmp = m[c, j]
                m[c, j] = m[piv, j]
                m[piv, j] = tmp
        d = m[c, c]
        for j in range(2 * k):
            m[c, j] /= d
        for r in range(k):
            if r != c:
                f = m[r, c]
                if f != 0.0:
                    for j in range(2 * k):
                        m[r, j] -= f * m[c, j]
    out = np.zeros(k)
    for i in range(k):
        s = 0.0
        for j in range(k):
            s += m[i, k + j] * b[j]
        out[i] = s
    inv00[0] = m[0, k]
    return out


@numba.njit(cache=True)
def _eg_pair(y: np.ndarray, x: np.ndarray, lags: int) -> tuple[float, float, float, float]:
    """(hedge ratio, intercept, ADF t-statistic, AR(1) slope) of one pair."""
    n = y.shape[0]
    my = 0.0
    mx = 0.0
    for t in range(n):
        my += y[t]
        mx += x[t]
    my /= n
    mx /= n
    sxx = 0.0
    sxy = 0.0
    syy = 0.0
    for t in range(n):
        dx = x[t] - mx
        dy = y[t] - my
        sxx += dx * dx
        sxy += dx * dy
        syy += dy * dy
    if sxx <= 0.0 or syy <= 0.0:
        return np.nan, np.nan, np.nan, np.nan
    beta = sxy / sxx
    alpha = my - beta * mx
    e = np.empty(n)
    for t in range(n):
        e[t] = y[t] - alpha - beta * x[t]
    # residual sum of squares too small: y is (almost) an exact multiple of x
    if syy - beta * sxy <= 1e-13 * syy:
        return beta, alpha, -np.inf, -1.0
    k = lags + 1
    gram = np.zeros((k, k))
    rhs = np.zeros(k)
    z = np.empty(k)
    dd = 0.0
    for t in range(lags + 1, n):
        d = e[t] - e[t - 1]
        z[0] = e[t - 1]
        for j in range(1, k):
            z[j] = e[t - j] - e[t - j - 1]
        for i in range(k):
            rhs[i] += z[i] * d
            for j in range(i + 1):
                gram[i, j] += z[i] * z[j]
        dd += d * d
    for i in range(k):
        for j in range(i + 1, k):
            gram[i, j] = gram[j, i]
    inv00 = np.empty(1)
    coef = _solve_small(gram, rhs, inv00)
    nobs = n - lags - 1
    ssr = dd
    for i in range(k):
        ssr -= coef[i] * rhs[i]
    sigma2 = ssr / (nobs - k)
    stat = coef[0] / math.sqrt(sigma2 * inv00[0]) if sigma2 > 0.0 else -np.inf
    # AR(1) with a constant on the spread: d e_t = c + b e_{t-1}
    m0 = 0.0
    m1 = 0.0
    for t in range(1, n):
        m0 += e[t - 1]
        m1 += e[t] - e[t - 1]
    m0 /= n - 1
    m1 /= n - 1
    s00 = 0.0
    s01 = 0.0
    for t in range(1, n):
        a0 = e[t - 1] - m0
        s00 += a0 * a0
        s01 += a0 * (e[t] - e[t - 1] - m1)
    slope = s01 / s00 if s00 > 0.0 else np.nan
    return beta, alpha, stat, slope


@numba.njit(cache=True, parallel=True)
def eg_many(logp: np.ndarray, ys: np.ndarray, xs: np.ndarray, lags: int, out: np.ndarray) -> None:
    """Fill ``out[p] = (hedge ratio, intercept, ADF t, AR(1) slope)`` for pairs (ys[p], xs[p]).

    ``logp`` is (asset, time), C-contiguous, so each series is one row.
    """
    for p in numba.prange(ys.shape[0]):
        r = _eg_pair(logp[ys[p]], logp[xs[p]], lags)
        out[p, 0] = r[0]
        out[p, 1] = r[1]
        out[p, 2] = r[2]
        out[p, 3] = r[3]


def eg_many_python(logp: np.ndarray, ys: np.ndarray, xs: np.ndarray, lags: int) -> np.ndarray:
    """The plain-Python twin of the kernel: the same per-pair code, interpreted (tests compare)."""
    out = np.empty((ys.shape[0], 4))
    for p in range(ys.shape[0]):
        out[p] = _eg_pair.py_func(logp[ys[p]], logp[xs[p]], lags)
    return out
