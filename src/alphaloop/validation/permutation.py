"""Is a signal's edge luck? A permutation test against shuffled copies of the signal.

The observed statistic (mean rank IC or mean long-short return) is compared
with its distribution over signals whose link to the forward returns has been
broken, while everything else about the data is kept:

- ``method="cross_section"`` (default): on each date the signal values are
  shuffled across the assets that have both a signal and a forward return.
  Time structure (volatility clustering, the market factor, the signal's
  cross-sectional distribution) is kept; only which asset gets which value is
  random. The null is "the signal does not sort assets by their forward
  return on any date".
- ``method="circular_shift"``: the whole signal panel is rolled forward in
  time by a random shift in ``[min_shift, T - min_shift]`` bars (wrapping
  around), which keeps its autocorrelation and cross-section intact and
  breaks only its alignment with the returns. Use it when the signal is
  persistent and cross-sectional shuffling would be too easy a null.

Conventions
-----------
- ``signal[t]`` is known at bar ``t``; ``forward_returns[t]`` is the simple
  return realized after it (e.g. from ``t``'s close to ``t + h``'s close).
  The caller aligns them; nothing here shifts the returns.
- A cell counts when both the signal and the forward return are finite. A
  date counts when at least ``min_assets`` cells count and, for the rank IC,
  neither side is constant across them. The statistic is the mean over
  counted dates.
- ``"rank_ic"``: per date, the Spearman correlation (Pearson correlation of
  average ranks) of signal and forward return.
- ``"long_short"``: per date, the mean forward return of the
  ``max(1, floor(quantile * m))`` assets with the highest signal minus that of
  the same number with the lowest (``m`` counting assets); ties in the signal
  are broken by column order. A per-bar return over the forward horizon.
- p-values count permutations at least as extreme as the observed statistic
  (a relative tolerance of 1e-10 absorbs rounding) with the ``+1`` correction,
  ``(k + 1) / (n_permutations + 1)``, so they are never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.jsonsafe import json_number
from alphaloop.validation.sharpe import StatisticsError

__all__ = ["PermutationResult", "signal_permutation_test"]

PermutationStatistic = Literal["rank_ic", "long_short"]
PermutationMethod = Literal["cross_section", "circular_shift"]
Alternative = Literal["greater", "less", "two-sided"]

_STATISTICS = ("rank_ic", "long_short")
_METHODS = ("cross_section", "circular_shift")
_ALTERNATIVES = ("greater", "less", "two-sided")
_RELATIVE_TOLERANCE = 1e-10
_DEFAULT_MIN_SHIFT = 21


@dataclass(frozen=True)
class PermutationResult:
    """Outcome of :func:`signal_permutation_test`.

    Attributes
    ----------
    p_value : float
        ``(k + 1) / (n_permutations + 1)``, in (0, 1].
    observed : float
        The statistic of the real signal (rank IC: unitless; long-short: a
        per-bar return over the forward horizon).
    statistic : {"rank_ic", "long_short"}
    method : {"cross_section", "circular_shift"}
    alternative : {"greater", "less", "two-sided"}
        ``"greater"`` tests for a positive edge; ``"two-sided"`` measures
        distance from the null mean.
    n_permutations : int
    seed : int or None
    n_dates : int
        Dates that count (see the module conventions).
    null_mean, null_std : float
        Mean and standard deviation (ddof=1) of the null distribution.
    null_quantiles : dict of str to float
        5%, 50% and 95% quantiles of the null distribution.
    parameters : dict
        ``quantile``, ``min_assets`` and, for circular shifts, ``min_shift``.
    null_distribution : ndarray, shape (n_permutations,)
        The permuted statistics (read-only); left out of :meth:`to_dict`.
    """

    p_value: float
    observed: float
    statistic: PermutationStatistic
    method: PermutationMethod
    alternative: Alternative
    n_permutations: int
    seed: int | None
    n_dates: int
    null_mean: float
    null_std: float
    null_quantiles: dict[str, float]
    parameters: dict[str, Any]
    null_distribution: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary without the full null distribution."""
        return {
            "p_value": self.p_value,
            "observed": json_number(self.observed),
            "statistic": self.statistic,
            "method": self.method,
            "alternative": self.alternative,
            "n_permutations": self.n_permutations,
            "seed": self.seed,
            "n_dates": self.n_dates,
            "null_mean": json_number(self.null_mean),
            "null_std": json_number(self.null_std),
            "null_quantiles": {k: json_number(v) for k, v in self.null_quantiles.items()},
            "parameters": dict(self.parameters),
        }


def signal_permutation_test(
    signal: np.ndarray | pd.DataFrame,
    forward_returns: np.ndarray | pd.DataFrame,
    *,
    statistic: PermutationStatistic = "rank_ic",
    method: PermutationMethod = "cross_section",
    n_permutations: int = 1000,
    seed: int | None = 0,
    alternative: Alternative = "greater",
    quantile: float = 0.2,
    min_assets: int = 5,
    min_shift: int | None = None,
) -> PermutationResult:
    """Test a cross-sectional signal against shuffled copies of itself.

    Parameters
    ----------
    signal : ndarray or DataFrame, shape (T, N)
        Signal per date (rows) and asset (columns); NaN for "no signal".
    forward_returns : ndarray or DataFrame, shape (T, N)
        Simple forward returns stamped at the date the signal is known; NaN
        for missing. Two DataFrames are aligned on their common dates and
        assets.
    statistic : {"rank_ic", "long_short"}, default="rank_ic"
        Mean cross-sectional rank IC, or mean top-minus-bottom quantile
        forward return.
    method : {"cross_section", "circular_shift"}, default="cross_section"
        How the null signals are made (see the module docstring).
    n_permutations : int, default=1000
        Null draws. Cross-sectional shuffles cost about 2 ms each on a
        5000 x 20 panel; circular shifts re-rank the panel each time (about
        20 ms each), so a few hundred shifts is the practical range there.
    seed : int or None, default=0
        Seed of :func:`numpy.random.default_rng`; None is not reproducible.
    alternative : {"greater", "less", "two-sided"}, default="greater"
    quantile : float, default=0.2
        Fraction of the counting assets in each leg of ``"long_short"``, in
        (0, 0.5].
    min_assets : int, default=5
        Fewest counting assets for a date to count (at least 2).
    min_shift : int, optional
        Smallest circular shift in bars (default 21); choose it longer than
        the signal's memory plus the forward-return horizon.

    Returns
    -------
    PermutationResult

    Raises
    ------
    StatisticsError
        On mismatched shapes, invalid parameters, or when no date counts.
    """
    _check_choice(statistic, _STATISTICS, "statistic")
    _check_choice(method, _METHODS, "method")
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    if not isinstance(n_permutations, int | np.integer) or n_permutations < 1:
        raise StatisticsError(f"n_permutations must be a positive integer; got {n_permutations!r}")
    if not 0.0 < quantile <= 0.5:
        raise StatisticsError(f"quantile must be in (0, 0.5]; got {quantile!r}")
    if not isinstance(min_assets, int | np.integer) or min_assets < 2:
        raise StatisticsError(f"min_assets must be an integer >= 2; got {min_assets!r}")
    x, y = _aligned(signal, forward_returns)
    rng = np.random.default_rng(seed)
    observed_terms = _Terms.build(x, y, statistic, quantile, min_assets)
    if observed_terms.n_dates == 0:
        raise StatisticsError(
            f"no date has {min_assets} or more assets with both a signal and a forward return",
            hint="check that the two panels are aligned, or lower min_assets",
        )
    observed = observed_terms.value(observed_terms.order)
    parameters: dict[str, Any] = {"quantile": float(quantile), "min_assets": int(min_assets)}
    if method == "cross_section":
        null = _cross_section_null(observed_terms, int(n_permutations), rng)
    else:
        shift = _DEFAULT_MIN_SHIFT if min_shift is None else int(min_shift)
        n_times = x.shape[0]
        if shift < 1 or n_times - 2 * shift < 0:
            raise StatisticsError(
                f"min_shift must be in [1, {n_times // 2}] bars for {n_times} dates; got {shift}"
            )
        parameters["min_shift"] = shift
        shifts = rng.integers(shift, n_times - shift + 1, size=int(n_permutations))
        null = np.array(
            [
                _Terms.build(np.roll(x, s, axis=0), y, statistic, quantile, min_assets).observed()
                for s in shifts
            ]
        )
    return _result(
        observed, null, statistic, method, alternative, seed, observed_terms.n_dates, parameters
    )


# -- the statistic as a function of an ordering ---------------------------------


@dataclass(frozen=True)
class _Terms:
    """Per date, ``stat_t(order) = sum_j gathered[t, order[t, j]] * weights[t, j]``.

    Columns are compacted: the ``m_t`` counting assets of date ``t`` occupy
    columns ``0 .. m_t - 1`` (in asset order); the rest are zero. A shuffle
    of the signal across counting assets is then a random ``order`` whose
    first ``m_t`` entries permute ``0 .. m_t - 1``.

    rank IC: ``gathered`` = standardized signal ranks, ``weights`` =
    standardized return ranks, observed order = identity. long-short:
    ``gathered`` = forward returns, ``weights`` = +1/k on the first k slots
    and -1/k on the last k counting slots (``m_t - k .. m_t - 1``), observed
    order = signal sorted descending.
    """

    gathered: np.ndarray  # (D, N), counted dates only
    weights: np.ndarray  # (D, N)
    order: np.ndarray  # (D, N) int, the observed order
    n_valid: np.ndarray  # (D,)

    @property
    def n_dates(self) -> int:
        return int(self.n_valid.size)

    def value(self, order: np.ndarray) -> float:
        """Mean over counted dates of the per-date statistic under ``order``."""
        if self.n_dates == 0:
            return math.nan
        picked = np.take_along_axis(self.gathered, order, axis=1)
        return float((picked * self.weights).sum(axis=1).mean())

    def observed(self) -> float:
        return self.value(self.order)

    @classmethod
    def build(
        cls, x: np.ndarray, y: np.ndarray, statistic: str, quantile: float, min_assets: int
    ) -> _Terms:
        valid = np.isfinite(x) & np.isfinite(y)
        m = valid.sum(axis=1)
        compact = np.argsort(~valid, axis=1, kind="stable")
        slot = np.arange(x.shape[1])[None, :]
        inside = slot < m[:, None]
        xc = np.where(inside, np.take_along_axis(x, compact, axis=1), np.nan)
        yc = np.where(inside, np.take_along_axis(y, compact, axis=1), np.nan)
        counted = m >= min_assets
        if statistic == "rank_ic":
            zx, zy = _standard_ranks(xc, m), _standard_ranks(yc, m)
            counted &= np.isfinite(zx).all(axis=1) & np.isfinite(zy).all(axis=1)
            order = np.broadcast_to(slot, xc.shape)
            gathered, weights = zx, zy
        else:
            k = np.maximum(1, np.floor(quantile * m + 1e-12)).astype(np.int64)[:, None]
            bottom = (slot >= m[:, None] - k) & inside
            weights = np.where(slot < k, 1.0, np.where(bottom, -1.0, 0.0)) / k
            key = np.where(inside, -xc, np.inf)
            order = np.argsort(key, axis=1, kind="stable")
            gathered = np.where(inside, yc, 0.0)
        return cls(
            gathered=np.ascontiguousarray(gathered[counted]),
            weights=np.ascontiguousarray(weights[counted]),
            order=np.ascontiguousarray(order[counted]),
            n_valid=m[counted],
        )


def _standard_ranks(values: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Average ranks per row, centred and scaled to unit norm over the counting slots.

    Non-counting slots are 0; a row that is constant (zero norm) is all NaN.
    """
    from scipy.stats import rankdata

    ranks = rankdata(values, axis=1, nan_policy="omit")
    centred = np.where(np.isfinite(ranks), ranks - (m[:, None] + 1) / 2.0, 0.0)
    norm = np.sqrt((centred**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return centred / np.where(norm > 0, norm, np.nan)[:, None]


def _cross_section_null(terms: _Terms, n: int, rng: np.random.Generator) -> np.ndarray:
    """Statistic under ``n`` independent shuffles of each date's counting assets."""
    n_cols = terms.gathered.shape[1]
    outside = np.arange(n_cols)[None, :] >= terms.n_valid[:, None]
    null = np.empty(n)
    for i in range(n):
        keys = rng.random(terms.gathered.shape)
        keys[outside] = np.inf  # counting slots sort first, in random order
        null[i] = terms.value(np.argsort(keys, axis=1))
    return null


# -- inputs and outputs -----------------------------------------------------------


def _aligned(
    signal: np.ndarray | pd.DataFrame, forward_returns: np.ndarray | pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(signal, pd.DataFrame) and isinstance(forward_returns, pd.DataFrame):
        signal, forward_returns = signal.align(forward_returns, join="inner")
    x = np.asarray(signal, dtype=np.float64)
    y = np.asarray(forward_returns, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise StatisticsError(
            f"signal {x.shape} and forward_returns {y.shape} must be 2-D (date, asset) arrays "
            "of the same shape"
        )
    return x, y


def _result(
    observed: float,
    null: np.ndarray,
    statistic: PermutationStatistic,
    method: PermutationMethod,
    alternative: Alternative,
    seed: int | None,
    n_dates: int,
    parameters: dict[str, Any],
) -> PermutationResult:
    tol = _RELATIVE_TOLERANCE * abs(observed)
    if alternative == "greater":
        extreme = null >= observed - tol
    elif alternative == "less":
        extreme = null <= observed + tol
    else:
        centre = float(null.mean())
        extreme = np.abs(null - centre) >= abs(observed - centre) - tol
    null.flags.writeable = False
    q05, q50, q95 = (float(v) for v in np.quantile(null, [0.05, 0.5, 0.95]))
    return PermutationResult(
        p_value=(int(extreme.sum()) + 1) / (null.size + 1),
        observed=observed,
        statistic=statistic,
        method=method,
        alternative=alternative,
        n_permutations=int(null.size),
        seed=seed,
        n_dates=n_dates,
        null_mean=float(null.mean()),
        null_std=float(null.std(ddof=1)) if null.size > 1 else math.nan,
        null_quantiles={"q05": q05, "q50": q50, "q95": q95},
        parameters=parameters,
        null_distribution=null,
    )


def _check_choice(value: str, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise StatisticsError(f"unknown {name} {value!r}", hint=f"use one of {list(allowed)}")
