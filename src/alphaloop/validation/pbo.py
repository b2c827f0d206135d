"""Probability of backtest overfitting (PBO) by combinatorially symmetric cross-validation.

Bailey, Borwein, López de Prado & Zhu (2017), "The probability of backtest
overfitting", Journal of Computational Finance 20(4). The ``(T, N)`` matrix of
per-period returns of ``N`` candidate strategies (rows are time) is cut into
``S`` contiguous blocks of rows. Each of the ``C(S, S/2)`` ways of choosing
half of the blocks gives an in-sample (IS) set; the other half is the
out-of-sample (OOS) set. In every such combination the strategy with the best
IS performance is selected and its OOS performance ranked among all ``N``:

- relative rank ``w = rank / (N + 1)`` in (0, 1), rank 1 = worst OOS;
- logit ``lambda = ln(w / (1 - w))``; ``lambda < 0`` means the IS-best landed
  below the OOS median;
- ``PBO`` = share of combinations with ``lambda < 0``.

Conventions
-----------
- Blocks: as ``numpy.array_split``; when ``S`` does not divide ``T`` the
  first ``T mod S`` blocks hold one row more.
- Combination ``k`` takes ``itertools.combinations(range(S), S // 2)[k]`` as
  its **in-sample** blocks (the paper's ``J``). ``purgedcv`` enumerates the same
  tuples as *out-of-sample* blocks, so its per-combination arrays are ours in
  reverse order (the complement of the ``k``-th tuple is the ``(C-1-k)``-th).
- Ties: the IS-best is the first strategy (lowest column) with the maximal IS
  performance. OOS ranks are average ranks, so a strategy tied with ``m``
  others at the same OOS performance gets the mean of their positions.
  ``lambda == 0`` (selected strategy exactly at the OOS median, possible for
  odd ``N``) does not count as overfitting.
- ``metric="sharpe"``: per-period ``mean / std`` with ``ddof=1``, not
  annualized; a slice whose returns are all equal scores 0.
  ``metric="mean"``: per-period mean return.

Speed: per-block sums of centred returns and of their squares (and the block
minimum and maximum, to detect constant slices exactly) are computed once; the
Sharpe ratio of any union of blocks is then assembled from ``S / 2`` block
statistics, so a combination costs ``O(N S)`` instead of ``O(N T)``. The
combination loop is a numba kernel, parallel over combinations, with a
plain-Python twin that the tests hold it to.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numba
import numpy as np
import numpy.typing as npt
from numba.extending import register_jitable

from alphaloop.validation.sharpe import StatisticsError

__all__ = ["METRICS", "PBOResult", "probability_of_backtest_overfitting"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Metric = Callable[[FloatArray], npt.ArrayLike]
"""A performance metric: maps a (rows, N) slice of returns to N scores, larger is better."""

_SHARPE = 0
_MEAN = 1
METRICS: dict[str, int] = {"sharpe": _SHARPE, "mean": _MEAN}
"""Built-in metrics computed from block statistics, by name."""


@dataclass(frozen=True, eq=False)
class PBOResult:
    """Outcome of combinatorially symmetric cross-validation.

    Per-combination arrays have shape ``(n_combinations,)``, in the order of
    ``itertools.combinations(range(n_partitions), n_partitions // 2)`` taken
    as in-sample block sets.

    Attributes
    ----------
    pbo : float
        Probability of backtest overfitting: share of combinations whose
        IS-best strategy ranks below the OOS median (``logits < 0``). About
        0.5 when selection is no better than chance, near 0 when it works.
    logits : ndarray of float
        ``ln(w / (1 - w))`` of the relative OOS rank ``w``; their distribution
        is the paper's ``f(lambda)`` (see :meth:`logit_distribution`).
    relative_rank : ndarray of float
        ``w = oos_rank / (n_strategies + 1)``, in (0, 1).
    oos_rank : ndarray of float
        Average OOS rank of the IS-best strategy, 1 = worst, ``n_strategies`` = best.
    is_best : ndarray of int
        Column of the strategy selected in-sample.
    is_performance, oos_performance : ndarray of float
        Metric of the selected strategy in and out of sample (per period for
        the built-in metrics).
    slope, intercept, r_squared : float
        Performance degradation: OLS fit ``oos = intercept + slope * is``
        over the combinations (NaN if the IS performance never varies). A
        slope below 0 means in-sample strength predicts OOS weakness.
    prob_oos_loss : float
        Share of combinations where the selected strategy's OOS metric is
        negative (for ``"sharpe"``/``"mean"``: it lost money OOS).
    n_partitions : int
        ``S``, the number of blocks.
    n_combinations : int
        ``C(S, S/2)``.
    n_strategies, n_obs : int
        ``N`` and ``T``.
    metric : str
        Name of the metric used.
    """

    pbo: float
    logits: FloatArray
    relative_rank: FloatArray
    oos_rank: FloatArray
    is_best: IntArray
    is_performance: FloatArray
    oos_performance: FloatArray
    slope: float
    intercept: float
    r_squared: float
    prob_oos_loss: float
    n_partitions: int
    n_combinations: int
    n_strategies: int
    n_obs: int
    metric: str

    def logit_distribution(self, bins: int | npt.ArrayLike = 20) -> tuple[FloatArray, FloatArray]:
        """Histogram density of the logits: ``(density, bin_edges)`` as ``numpy.histogram``."""
        density, edges = np.histogram(self.logits, bins=bins, density=True)
        return density, edges


# ------------------------------------------------------------------ kernels
@register_jitable
def _block_sums(j: int, blocks: IntArray, s1: FloatArray, s2: FloatArray) -> tuple[float, float]:
    """Sums of centred returns and of their squares of strategy ``j`` over ``blocks``."""
    a = 0.0
    q = 0.0
    for k in range(blocks.shape[0]):
        b = blocks[k]
        a += s1[j, b]
        q += s2[j, b]
    return a, q


@register_jitable
def _is_flat(j: int, blocks: IntArray, lo: FloatArray, hi: FloatArray) -> bool:
    """Whether strategy ``j`` has one and the same return in every row of ``blocks``."""
    low = lo[j, blocks[0]]
    high = hi[j, blocks[0]]
    for k in range(1, blocks.shape[0]):
        low = min(low, lo[j, blocks[k]])
        high = max(high, hi[j, blocks[k]])
    return low == high


@register_jitable
def _score(a: float, q: float, n_rows: int, centre: float, flat: bool, metric: int) -> float:
    """Metric of a slice of ``n_rows`` returns from its centred sums ``a`` and ``q``."""
    mean = centre + a / n_rows
    if metric == _MEAN:
        return mean
    if flat:  # all returns equal: the Sharpe ratio is undefined, score 0
        return 0.0
    var = (q - a * a / n_rows) / (n_rows - 1)
    if not var > 0.0:
        return 0.0
    return mean / math.sqrt(var)


def _cscv(
    s1: FloatArray,
    s2: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    has_flat: npt.NDArray[np.bool_],
    centre: FloatArray,
    sizes: IntArray,
    is_blocks: IntArray,
    oos_blocks: IntArray,
    metric: int,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Score every combination from block statistics of shape (N, S).

    Returns, per combination: the IS-best column, its IS and OOS metric and
    its average OOS rank among all N strategies (1 = worst).
    """
    n_comb = is_blocks.shape[0]
    n_strat = s1.shape[0]
    best_out = np.empty(n_comb, dtype=np.int64)
    is_out = np.empty(n_comb)
    oos_out = np.empty(n_comb)
    rank_out = np.empty(n_comb)
    for c in numba.prange(n_comb):
        ins = is_blocks[c]
        outs = oos_blocks[c]
        n_is = 0
        n_oos = 0
        for k in range(ins.shape[0]):
            n_is += sizes[ins[k]]
            n_oos += sizes[outs[k]]
        oos = np.empty(n_strat)
        best = 0
        best_is = 0.0
        for j in range(n_strat):
            a, q = _block_sums(j, ins, s1, s2)
            flat = has_flat[j] and _is_flat(j, ins, lo, hi)
            value = _score(a, q, n_is, centre[j], flat, metric)
            a, q = _block_sums(j, outs, s1, s2)
            flat = has_flat[j] and _is_flat(j, outs, lo, hi)
            oos[j] = _score(a, q, n_oos, centre[j], flat, metric)
            if j == 0 or value > best_is:
                best = j
                best_is = value
        target = oos[best]
        below = 0
        equal = 0
        for j in range(n_strat):
            if oos[j] < target:
                below += 1
            elif oos[j] == target:
                equal += 1
        best_out[c] = best
        is_out[c] = best_is
        oos_out[c] = target
        rank_out[c] = below + (equal + 1) / 2.0
    return best_out, is_out, oos_out, rank_out


_cscv_jit = numba.njit(cache=True, parallel=True)(_cscv)


def _cscv_callable(
    x: FloatArray,
    bounds: IntArray,
    is_blocks: IntArray,
    oos_blocks: IntArray,
    metric: Metric,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """The same scores as :func:`_cscv` for a user metric applied to row slices."""
    n_comb, n_strat = is_blocks.shape[0], x.shape[1]
    best_out = np.empty(n_comb, dtype=np.int64)
    is_out, oos_out, rank_out = np.empty(n_comb), np.empty(n_comb), np.empty(n_comb)

    def score(blocks: IntArray) -> FloatArray:
        rows = np.concatenate([np.arange(bounds[b], bounds[b + 1]) for b in blocks])
        values = np.asarray(metric(x[rows]), dtype=np.float64)
        if values.shape != (n_strat,) or not np.isfinite(values).all():
            raise StatisticsError(
                f"metric must return {n_strat} finite scores (one per column) for a "
                f"({rows.size}, {n_strat}) slice, got shape {values.shape}"
                + ("" if values.shape != (n_strat,) else " with NaN or infinite values"),
                hint="return a finite fallback (e.g. 0.0) for degenerate slices",
            )
        return values

    for c in range(n_comb):
        is_perf, oos_perf = score(is_blocks[c]), score(oos_blocks[c])
        best = int(np.argmax(is_perf))
        target = oos_perf[best]
        below, equal = int(np.sum(oos_perf < target)), int(np.sum(oos_perf == target))
        best_out[c], is_out[c], oos_out[c] = best, is_perf[best], target
        rank_out[c] = below + (equal + 1) / 2.0
    return best_out, is_out, oos_out, rank_out


# ------------------------------------------------------------------ helpers
def block_bounds(n_obs: int, n_partitions: int) -> IntArray:
    """Row offsets ``(S + 1,)`` of ``S`` contiguous blocks, as ``numpy.array_split``."""
    size, extra = divmod(n_obs, n_partitions)
    sizes = np.full(n_partitions, size, dtype=np.int64)
    sizes[:extra] += 1
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _block_stats(
    x: FloatArray, bounds: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_], FloatArray]:
    """Per (strategy, block): sum and sum of squares of centred returns, min, max.

    Returns ``s1, s2, lo, hi`` of shape (N, S), ``has_flat`` (N,) marking
    strategies with a constant block, and the centring values (N,): the full
    sample means, which keep ``q - a**2 / n`` free of cancellation.
    """
    starts = bounds[:-1]
    centre = x.mean(axis=0)
    dev = x - centre
    s1 = np.add.reduceat(dev, starts, axis=0).T.copy()
    dev *= dev
    s2 = np.add.reduceat(dev, starts, axis=0).T.copy()
    lo = np.minimum.reduceat(x, starts, axis=0).T.copy()
    hi = np.maximum.reduceat(x, starts, axis=0).T.copy()
    has_flat = (lo == hi).any(axis=1)
    return s1, s2, lo, hi, has_flat, centre


def _validate(returns: npt.ArrayLike, n_partitions: int) -> FloatArray:
    if isinstance(n_partitions, bool) or not isinstance(n_partitions, int | np.integer):
        raise StatisticsError(f"n_partitions must be an integer, got {n_partitions!r}")
    if n_partitions < 2 or n_partitions % 2:
        raise StatisticsError(
            f"n_partitions must be an even integer >= 2, got {n_partitions}",
            hint="16 is the usual choice; C(16, 8) = 12,870 combinations",
        )
    x = np.ascontiguousarray(returns, dtype=np.float64)
    if x.ndim != 2:
        raise StatisticsError(
            f"returns must be 2-D (T, N) with time along rows, got shape {x.shape}"
        )
    n_obs, n_strat = x.shape
    if n_strat < 2:
        raise StatisticsError(
            f"returns needs at least 2 strategies (columns), got {n_strat}",
            hint="rows are time and columns strategies; transpose an (N, T) array",
        )
    if n_obs < 2 * n_partitions:
        raise StatisticsError(
            f"returns has {n_obs} rows, fewer than 2 per block for n_partitions={n_partitions}",
            hint="rows are time and columns strategies; transpose an (N, T) array",
        )
    if not np.isfinite(x).all():
        raise StatisticsError("returns contains NaN or infinite values")
    return x


def _degradation(is_perf: FloatArray, oos_perf: FloatArray) -> tuple[float, float, float]:
    """OLS slope, intercept and R² of ``oos_perf`` on ``is_perf``."""
    dx = is_perf - is_perf.mean()
    dy = oos_perf - oos_perf.mean()
    sxx = float(dx @ dx)
    if not sxx > 0.0:
        return math.nan, math.nan, math.nan
    slope = float(dx @ dy) / sxx
    syy = float(dy @ dy)
    r2 = float((dx @ dy) ** 2 / (sxx * syy)) if syy > 0.0 else math.nan
    return slope, float(oos_perf.mean() - slope * is_perf.mean()), r2


# --------------------------------------------------------------------- API
def probability_of_backtest_overfitting(
    returns: npt.ArrayLike,
    n_partitions: int = 16,
    metric: str | Metric = "sharpe",
) -> PBOResult:
    """Probability of backtest overfitting by combinatorially symmetric cross-validation.

    Parameters
    ----------
    returns : array-like of shape (T, N)
        Per-period returns of ``N`` candidate strategies (or configurations)
        over the same ``T`` periods; rows are time, columns strategies (the
        paper's layout; ``purgedcv`` takes the transpose). Finite values,
        ``N >= 2``, at least 2 rows per block.
    n_partitions : int, default=16
        ``S``, the number of contiguous blocks; even. The run scores
        ``C(S, S/2)`` combinations (12,870 for 16).
    metric : {"sharpe", "mean"} or callable, default="sharpe"
        Performance used to select in-sample and rank out-of-sample. A
        callable receives a ``(rows, N)`` slice and returns ``N`` finite
        scores (larger is better); it runs in Python, two calls per
        combination, so it is much slower than the built-in metrics.

    Returns
    -------
    PBOResult

    Raises
    ------
    StatisticsError
        Malformed ``returns``, odd or too large ``n_partitions``, unknown
        metric name, or a callable metric returning the wrong shape or
        non-finite scores.

    Notes
    -----
    Conventions (blocks, combination order, ties) are in the module docstring.
    """
    x = _validate(returns, n_partitions)
    n_obs, n_strat = x.shape
    bounds = block_bounds(n_obs, n_partitions)
    everything = set(range(n_partitions))
    is_blocks = np.array(list(combinations(range(n_partitions), n_partitions // 2)), np.int64)
    oos_blocks = np.array([sorted(everything - set(c)) for c in is_blocks], np.int64)
    if callable(metric):
        name = getattr(metric, "__name__", type(metric).__name__)
        scores = _cscv_callable(x, bounds, is_blocks, oos_blocks, metric)
    elif metric in METRICS:
        name = metric
        s1, s2, lo, hi, has_flat, centre = _block_stats(x, bounds)
        sizes = np.diff(bounds)
        scores = _cscv_jit(
            s1, s2, lo, hi, has_flat, centre, sizes, is_blocks, oos_blocks, METRICS[metric]
        )
    else:
        raise StatisticsError(
            f"unknown metric {metric!r}; use one of {sorted(METRICS)} or a callable"
        )
    best, is_perf, oos_perf, rank = scores
    relative = rank / (n_strat + 1)
    logits = np.log(relative / (1 - relative))
    slope, intercept, r2 = _degradation(is_perf, oos_perf)
    return PBOResult(
        pbo=float(np.mean(logits < 0)),
        logits=logits,
        relative_rank=relative,
        oos_rank=rank,
        is_best=best,
        is_performance=is_perf,
        oos_performance=oos_perf,
        slope=slope,
        intercept=intercept,
        r_squared=r2,
        prob_oos_loss=float(np.mean(oos_perf < 0)),
        n_partitions=n_partitions,
        n_combinations=len(is_blocks),
        n_strategies=n_strat,
        n_obs=n_obs,
        metric=name,
    )
