"""Pair screening: correlation screen, cointegration tests, multiple-testing adjustment.

:func:`screen_pairs` takes log prices over one formation window and returns
the pairs whose spread is stationary at a family-wise or false-discovery
level, with what each test found:

1. **Correlation screen.** Pearson correlation of one-bar log returns over
   the window; a pair is a candidate when it is at least ``min_corr`` (and,
   with ``top_n``, among the ``top_n`` most correlated partners of one of its
   assets).
2. **Cointegration test** of every candidate:

   ``engle_granger``
       OLS of ``y`` (the pair's first asset in panel order) on a constant
       and ``x``, then an augmented Dickey-Fuller regression of the
       residual's change on its lagged level and ``adf_lags`` lagged changes
       (no constant); the statistic is the t-value of the lagged level and
       the p-value MacKinnon's (1994) asymptotic approximation for two
       variables with a constant (statsmodels' ``mackinnonp``). Equal to
       ``statsmodels.tsa.stattools.coint(y, x, maxlag=adf_lags,
       autolag=None)``; computed for all candidates at once by a numba
       kernel parallel over pairs.
   ``johansen``
       statsmodels' ``coint_johansen`` with a constant (``det_order=0``) and
       ``adf_lags`` lagged differences, one pair at a time (slower). The
       statistic is the trace statistic for rank 0, the hedge ratio comes
       from the first cointegrating vector. Johansen's test has no p-value
       in statsmodels; it is approximated by a gamma distribution matched to
       the test's 90/95/99% critical values (Doornik's approach), which is
       accurate near those levels and rougher deep in the tail.

3. **Multiple testing.** Testing thousands of pairs at 5% finds hundreds of
   "cointegrated" pairs in pure noise. P-values are adjusted over the
   number of pairs (``adjust_over="all"``: every pair of assets with a full
   window, the screened-out ones counted with p = 1, because the screen
   looked at them too; ``"tested"``: only the candidates) by ``bh``
   (Benjamini-Hochberg, the default: it controls the false discovery rate,
   and on pure noise, where every null is true, the chance of any
   selection, at ``alpha``), ``holm`` (family-wise error, stricter), or
   ``bonferroni``; ``none`` is available and says so in the diagnostics.

A pair is selected when its adjusted p-value is at most ``alpha`` and its
hedge ratio is positive (a negative hedge ratio is two longs or two
shorts, not a spread). Selected pairs are ordered by adjusted p-value, then
by statistic.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import optimize, stats

from alphaloop.errors import BacktestError
from alphaloop.strategies._cointegration_kernels import eg_many

__all__ = [
    "CointMethod",
    "Correction",
    "PairScreen",
    "PairTest",
    "adjust_pvalues",
    "engle_granger",
    "half_life",
    "mackinnon_pvalues",
    "screen_pairs",
]

CointMethod = Literal["engle_granger", "johansen"]
Correction = Literal["bh", "holm", "bonferroni", "none"]


@dataclass(frozen=True)
class PairTest:
    """One tested pair.

    Attributes
    ----------
    y, x : int
        Column indices of the pair's assets (``y`` < ``x``); the spread is
        ``log y - hedge_ratio * log x - intercept``.
    hedge_ratio : float
        Units of ``log x`` per unit of ``log y`` (OLS slope, or the Johansen
        cointegrating vector's).
    intercept : float
        Spread level (log units).
    statistic : float
        ADF t-statistic of the residual (Engle-Granger; more negative = more
        stationary) or Johansen's trace statistic for rank 0 (larger = more).
    p_value, p_adjusted : float
        Raw and multiple-testing-adjusted p-values.
    half_life : float
        Bars for a deviation of the spread to halve, from an AR(1) fit of the
        spread's change on its lagged level (inf when it does not revert).
    corr : float
        Correlation of the two assets' one-bar log returns in the window.
    """

    y: int
    x: int
    hedge_ratio: float
    intercept: float
    statistic: float
    p_value: float
    p_adjusted: float
    half_life: float
    corr: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (infinite half-lives become None)."""
        out = asdict(self)
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in out.items()
        }


@dataclass(frozen=True)
class PairScreen:
    """What one screen found.

    Attributes
    ----------
    selected : list of PairTest
        Pairs with ``p_adjusted <= alpha`` and a positive hedge ratio, best
        first (at most ``max_pairs``).
    n_assets : int
        Assets with a full window (finite log prices on every bar).
    n_pairs : int
        Pairs of those assets, ``n_assets * (n_assets - 1) / 2``.
    n_tested : int
        Candidates that passed the correlation screen and were tested.
    n_adjusted_over : int
        The number of tests the adjustment counted.
    method, correction : str
    """

    selected: list[PairTest]
    n_assets: int
    n_pairs: int
    n_tested: int
    n_adjusted_over: int
    method: str
    correction: str


def engle_granger(
    log_prices: np.ndarray, ys: np.ndarray, xs: np.ndarray, *, adf_lags: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Engle-Granger statistics of many pairs at once.

    Parameters
    ----------
    log_prices : ndarray, shape (time, asset)
        Finite log prices of every asset in ``ys`` and ``xs``.
    ys, xs : ndarray of int, shape (pairs,)
        Column indices: ``y`` is regressed on a constant and ``x``.
    adf_lags : int, default 1
        Lagged differences in the ADF regression (fixed, no automatic choice).

    Returns
    -------
    hedge_ratio, intercept, statistic, p_value, half_life : ndarray, shape (pairs,)
        ``statistic`` and ``p_value`` equal ``statsmodels.tsa.stattools.coint(y,
        x, maxlag=adf_lags, autolag=None)``'s; ``half_life`` in bars.
    """
    logp = np.ascontiguousarray(np.asarray(log_prices, dtype=np.float64).T)
    ys = np.ascontiguousarray(ys, dtype=np.int64)
    xs = np.ascontiguousarray(xs, dtype=np.int64)
    if logp.shape[1] < adf_lags + 4:
        raise BacktestError(
            f"{logp.shape[1]} bars are too few for an ADF regression with {adf_lags} lag(s)",
            hint="use a longer formation window",
        )
    out = np.empty((ys.shape[0], 4))
    if ys.shape[0]:
        eg_many(logp, ys, xs, int(adf_lags), out)
    return out[:, 0], out[:, 1], out[:, 2], mackinnon_pvalues(out[:, 2]), half_life(out[:, 3])


def half_life(slope: np.ndarray) -> np.ndarray:
    """Bars for a spread's deviation to halve: ``-ln 2 / ln(1 + slope)``.

    ``slope`` is ``b`` of the AR(1) fit ``d s_t = c + b * s_{t-1}``.

    Infinite where the spread does not revert (``slope >= 0``, or NaN);
    ``slope <= -1`` (overshooting every bar) gives the shortest, 0.
    """
    slope = np.asarray(slope, dtype=np.float64)
    out = np.full(slope.shape, np.inf)
    ok = np.isfinite(slope) & (slope < 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[ok] = np.where(slope[ok] > -1.0, -math.log(2.0) / np.log1p(slope[ok]), 0.0)
    return out


# ---------------------------------------------------------------- p-values
@functools.cache
def _mackinnon_tables() -> tuple[float, float, float, np.ndarray, np.ndarray] | None:
    """statsmodels' MacKinnon (1994) coefficients for N = 2 with a constant, or None."""
    try:
        from statsmodels.tsa import adfvalues as av
    except ImportError:  # pragma: no cover - statsmodels is a dependency
        return None
    try:
        n = 1  # N - 1 for two variables
        return (
            float(av._tau_maxs["c"][n]),
            float(av._tau_mins["c"][n]),
            float(av._tau_stars["c"][n]),
            np.asarray(av._tau_smallps["c"][n], dtype=np.float64),
            np.asarray(av._tau_largeps["c"][n], dtype=np.float64),
        )
    except (AttributeError, KeyError, IndexError):  # pragma: no cover - layout changed
        return None


def mackinnon_pvalues(statistic: np.ndarray) -> np.ndarray:
    """MacKinnon's asymptotic p-values of Engle-Granger statistics (two variables, constant).

    The same values as ``statsmodels.tsa.adfvalues.mackinnonp(s, "c", N=2)``
    for each ``s`` (its coefficients, evaluated for a whole array; NaN stays
    NaN).
    """
    s = np.asarray(statistic, dtype=np.float64)
    tables = _mackinnon_tables()
    if tables is None:  # pragma: no cover - fall back to the scalar function
        from statsmodels.tsa.adfvalues import mackinnonp

        return np.array(
            [np.nan if np.isnan(v) else mackinnonp(v, "c", 2) for v in s.ravel()]
        ).reshape(s.shape)
    smax, smin, sstar, small, large = tables
    with np.errstate(invalid="ignore", over="ignore"):
        z = np.where(s <= sstar, np.polyval(small[::-1], s), np.polyval(large[::-1], s))
        p = stats.norm.cdf(z)
    p = np.where(s > smax, 1.0, np.where(s < smin, 0.0, p))
    return np.where(np.isnan(s), np.nan, p)


@functools.cache
def _johansen_gamma(lags: int) -> tuple[float, float]:
    """(shape, scale) of a gamma matched to the rank-0 trace critical values of two series."""
    from statsmodels.tsa.vector_ar.vecm import coint_johansen

    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.standard_normal((60, 2)), axis=0)
    cv = np.asarray(coint_johansen(walk, 0, lags).cvt[0], dtype=np.float64)  # 90, 95, 99 %
    q = np.array([0.90, 0.95, 0.99])

    def loss(theta: np.ndarray) -> float:
        shape, scale = np.exp(theta)
        return float(np.sum((stats.gamma.ppf(q, shape, scale=scale) / cv - 1.0) ** 2))

    mean = cv[1] * 0.5
    fit = optimize.minimize(
        loss,
        np.log([mean / 2.0, 2.0]),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000},
    )
    shape, scale = np.exp(fit.x)
    return float(shape), float(scale)


def johansen_pvalue(trace: float, lags: int) -> float:
    """Approximate p-value of a rank-0 trace statistic of two series (gamma approximation)."""
    shape, scale = _johansen_gamma(int(lags))
    return float(stats.gamma.sf(trace, shape, scale=scale))


def _johansen(log_prices: np.ndarray, ys: np.ndarray, xs: np.ndarray, lags: int) -> np.ndarray:
    from statsmodels.tsa.vector_ar.vecm import coint_johansen

    out = np.full((ys.shape[0], 4), np.nan)
    for p, (i, j) in enumerate(zip(ys, xs, strict=True)):
        pair = log_prices[:, [i, j]]
        try:
            res = coint_johansen(pair, 0, lags)
        except np.linalg.LinAlgError:
            continue
        vec = res.evec[:, 0]
        if vec[0] == 0.0:
            continue
        beta = -vec[1] / vec[0]
        spread = pair[:, 0] - beta * pair[:, 1]
        lag, d = spread[:-1], np.diff(spread)
        lag_c = lag - lag.mean()
        denom = float(lag_c @ lag_c)
        slope = float(lag_c @ (d - d.mean())) / denom if denom > 0 else np.nan
        out[p] = (beta, float(spread.mean()), float(res.lr1[0]), slope)
    return out


# ---------------------------------------------------------------- multiple testing
def adjust_pvalues(
    p_values: np.ndarray, correction: Correction, n_tests: int | None = None
) -> np.ndarray:
    """Adjust p-values for the number of tests.

    Parameters
    ----------
    p_values : ndarray, shape (k,)
        Raw p-values (NaN is treated as 1).
    correction : {"bh", "holm", "bonferroni", "none"}
        Benjamini-Hochberg (false discovery rate), Holm's step-down and
        Bonferroni (family-wise error rate), or no adjustment.
    n_tests : int, optional
        The number of tests the family holds (default ``k``); tests not in
        ``p_values`` count as p = 1, which leaves the adjusted values of
        these the same as if the p = 1 tests had been passed.

    Returns
    -------
    ndarray, shape (k,)
        Adjusted p-values in [0, 1]; reject where ``<= alpha``.
    """
    p = np.where(np.isnan(p_values), 1.0, np.asarray(p_values, dtype=np.float64))
    k = p.shape[0]
    m = k if n_tests is None else int(n_tests)
    if m < k:
        raise ValueError(f"n_tests ({m}) is below the number of p-values ({k})")
    if correction == "none" or k == 0:
        return p.copy()
    if correction == "bonferroni":
        return np.minimum(1.0, p * m)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    rank = np.arange(1, k + 1, dtype=np.float64)
    if correction == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m - rank + 1.0) * ranked))
    elif correction == "bh":
        adj = np.minimum.accumulate((m / rank * ranked)[::-1])[::-1]
        adj = np.minimum(1.0, adj)
    else:
        raise ValueError(f"unknown correction {correction!r}; use bh, holm, bonferroni or none")
    out = np.empty(k)
    out[order] = adj
    return out


# ---------------------------------------------------------------- the screen
def _candidates(
    log_prices: np.ndarray, min_corr: float, top_n: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ys, xs, corr) of pairs whose one-bar log-return correlation passes the screen."""
    rets = np.diff(log_prices, axis=0)
    rets = rets - rets.mean(axis=0)
    sd = np.sqrt((rets * rets).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = rets / sd
    corr = z.T @ z
    n = corr.shape[0]
    ys, xs = np.triu_indices(n, k=1)
    c = corr[ys, xs]
    keep = np.isfinite(c) & (c >= min_corr)
    if top_n is not None and n > 1:
        masked = np.where(np.eye(n, dtype=bool) | ~np.isfinite(corr), -np.inf, corr)
        kth = min(top_n, n - 1)
        top = np.argpartition(-masked, kth - 1, axis=1)[:, :kth]
        in_top = np.zeros((n, n), dtype=bool)
        in_top[np.repeat(np.arange(n), kth), top.ravel()] = True
        keep &= in_top[ys, xs] | in_top[xs, ys]
    return ys[keep], xs[keep], c[keep]


def screen_pairs(
    log_prices: np.ndarray,
    *,
    method: CointMethod = "engle_granger",
    min_corr: float = 0.5,
    top_n: int | None = None,
    max_pairs: int | None = None,
    alpha: float = 0.05,
    correction: Correction = "bh",
    adjust_over: Literal["all", "tested"] = "all",
    adf_lags: int = 1,
) -> PairScreen:
    """Select cointegrated pairs from one formation window (see the module notes).

    Parameters
    ----------
    log_prices : ndarray, shape (time, asset)
        Natural logs of prices over the formation window only. Assets with a
        non-finite value anywhere in the window are left out.
    method : {"engle_granger", "johansen"}, default "engle_granger"
    min_corr : float, default 0.5
        Least correlation of one-bar log returns for a pair to be tested (-1 tests all).
    top_n : int, optional
        Also require the pair to be among the ``top_n`` most correlated
        partners of one of its two assets.
    max_pairs : int, optional
        Keep at most this many selected pairs (the best).
    alpha : float, default 0.05
        Level the adjusted p-value must reach.
    correction : {"bh", "holm", "bonferroni", "none"}, default "bh"
    adjust_over : {"all", "tested"}, default "all"
        Count every pair of assets with a full window (screened-out pairs as
        p = 1), or only the tested candidates.
    adf_lags : int, default 1
        Lagged differences in the ADF regression (Engle-Granger) or in the
        VECM (Johansen).

    Returns
    -------
    PairScreen
    """
    lp = np.asarray(log_prices, dtype=np.float64)
    if lp.ndim != 2:
        raise BacktestError(f"log prices must be (time, asset); got shape {lp.shape}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    if adf_lags < 0:
        raise ValueError(f"adf_lags must be >= 0; got {adf_lags}")
    full = np.flatnonzero(np.isfinite(lp).all(axis=0))
    n_assets = int(full.size)
    n_pairs = n_assets * (n_assets - 1) // 2
    if n_assets < 2:
        return PairScreen([], n_assets, n_pairs, 0, 0, method, correction)
    window = lp[:, full]
    ys, xs, corr = _candidates(window, min_corr, top_n)
    if method == "engle_granger":
        beta, icpt, stat, pval, hl = engle_granger(window, ys, xs, adf_lags=adf_lags)
    elif method == "johansen":
        res = _johansen(window, ys, xs, adf_lags)
        beta, icpt, stat = res[:, 0], res[:, 1], res[:, 2]
        pval = np.array([np.nan if np.isnan(s) else johansen_pvalue(s, adf_lags) for s in stat])
        hl = half_life(res[:, 3])
    else:
        raise ValueError(f"unknown method {method!r}; use engle_granger or johansen")
    m = n_pairs if adjust_over == "all" else int(ys.size)
    adj = adjust_pvalues(pval, correction, m)
    hit = np.flatnonzero((adj <= alpha) & (beta > 0.0))
    key = stat[hit] if method == "engle_granger" else -stat[hit]
    hit = hit[np.lexsort((key, adj[hit]))]
    if max_pairs is not None:
        hit = hit[:max_pairs]
    selected = [
        PairTest(
            int(full[ys[i]]),
            int(full[xs[i]]),
            float(beta[i]),
            float(icpt[i]),
            float(stat[i]),
            float(pval[i]),
            float(adj[i]),
            float(hl[i]),
            float(corr[i]),
        )
        for i in hit
    ]
    return PairScreen(selected, n_assets, n_pairs, int(ys.size), m, method, correction)
