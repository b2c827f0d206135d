"""Compare models' out-of-sample predictions scored on the same rows: IC, turnover, DM test, DSR.

Every input is a (date, asset) array of the same shape: each model's
predictions, the realized forward return of the label, and the one-period
return of the implied portfolio. Cells that are NaN in a model's
predictions are not scored for that model; for a fair comparison the caller
gives every model predictions on the same cells
(:func:`alphaloop.app.model_compare.compare_models` does).

Conventions
-----------
IC, rank IC
    Per date, the cross-sectional Pearson (IC) or Spearman (rank IC)
    correlation of predictions with the simple forward return; dates with
    fewer than ``min_assets`` scored assets are skipped. ``ic`` and
    ``rank_ic`` are means over dates.
ICIR
    ``icir = mean / std`` (ddof=1) of the per-date IC, per date;
    ``icir_annual = icir * sqrt(periods_per_year)`` (252 for daily dates).
    With labels longer than one period the per-date ICs overlap and are
    autocorrelated: ``ic_tstat_hac`` (Newey-West) is the honest t-statistic.
Diebold-Mariano test of the IC difference
    For a pair (A, B), ``d_t = IC_A,t - IC_B,t`` on the dates where both are
    defined. ``stat = mean(d) / sqrt(LRV / T)`` with the Newey-West long-run
    variance (Bartlett kernel) and ``L = max(horizon - 1, floor(4 (T / 100)
    ** (2/9)))`` lags (:func:`alphaloop.factors.newey_west_lags`); two-sided
    p-value from the standard normal. A positive stat means A's IC is higher.
    Identical per-date ICs give ``stat = 0`` and ``p = 1``.
Implied portfolio
    Each date, long the top ``quantile`` of assets by prediction and short
    the bottom ``quantile`` (at least one asset per leg; ties broken by asset
    order), equal weight, dollar neutral, gross exposure 1 (long leg +0.5,
    short leg -0.5), rebalanced every scored date.
Turnover
    One-way turnover at a rebalance: ``0.5 * sum_i |w_t,i - w_t-1,i|``
    against the previous scored date's target weights (price drift ignored),
    in [0, 1]: 1 replaces the whole book. ``turnover`` is its mean over
    rebalances (the first scored date is not a rebalance).
Long-short returns and DSR
    The portfolio's return for date t is ``sum_i w_t,i * r_t,i`` with ``r`` the
    caller's one-period simple return after entry (the bar the position is
    held), minus ``cost_bps`` (bps of traded notional, ``2 * turnover``) at
    each rebalance. The DSR (:func:`alphaloop.validation.deflated_sharpe_ratio`)
    is computed on these **daily net long-short returns**, not on the IC
    series: per-period Sharpe ratio, ``n_trials`` trials and the variance of the
    compared models' per-period Sharpe ratios (ddof=1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alphaloop.factors import information_coefficient, mean_t_stat_hac, newey_west_lags
from alphaloop.models.errors import ModelError
from alphaloop.validation import DSRResult, deflated_sharpe_ratio, sharpe_ratio

__all__ = [
    "ComparisonStats",
    "ModelScores",
    "PairTest",
    "compare_predictions",
    "diebold_mariano",
    "long_short_weights",
    "one_way_turnover",
]


@dataclass(frozen=True)
class ModelScores:
    """One model's out-of-sample scores (see the module conventions for each)."""

    name: str
    ic: float
    rank_ic: float
    icir: float
    icir_annual: float
    ic_tstat_hac: float
    n_dates: int
    turnover: float
    ls_mean: float  # mean net long-short return per period (decimal)
    ls_sharpe: float  # per period
    ls_sharpe_annual: float
    dsr: DSRResult | None  # None when the long-short returns have no variance

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "dsr"}
        out["dsr"] = None if self.dsr is None else self.dsr.dsr
        out["dsr_sr0"] = None if self.dsr is None else self.dsr.sr0
        return out


@dataclass(frozen=True)
class PairTest:
    """Diebold-Mariano-style test of the per-date IC difference ``first - second``."""

    first: str
    second: str
    mean_difference: float
    stat: float
    p_value: float
    n_dates: int
    lags: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ComparisonStats:
    """Scores of every model, a test for every pair, and the series behind them.

    Attributes
    ----------
    models : tuple of ModelScores
        In the order given.
    pairs : tuple of PairTest
        Every unordered pair (i < j in the given order).
    n_trials : int
        Trials behind each DSR.
    settings : dict
        ``quantile``, ``cost_bps``, ``horizon``, ``periods_per_year``, ``min_assets``.
    ic : pandas.DataFrame
        Per-date IC, dates by model.
    long_short : pandas.DataFrame
        Per-date net long-short return, dates by model.
    """

    models: tuple[ModelScores, ...]
    pairs: tuple[PairTest, ...]
    n_trials: int
    settings: dict[str, Any]
    ic: pd.DataFrame = field(repr=False)
    long_short: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_trials": self.n_trials,
            "settings": dict(self.settings),
            "models": [m.to_dict() for m in self.models],
            "pairs": [p.to_dict() for p in self.pairs],
        }


def diebold_mariano(
    ic_first: np.ndarray, ic_second: np.ndarray, *, horizon: int = 1
) -> tuple[float, float, float, int, int]:
    """HAC test that two per-date IC series have the same mean (see module conventions).

    Parameters
    ----------
    ic_first, ic_second : ndarray of shape (T,)
        Per-date ICs on the same dates; dates where either is NaN are dropped.
    horizon : int, default=1
        Label horizon in periods: the HAC variance uses at least ``horizon - 1`` lags.

    Returns
    -------
    tuple
        ``(mean_difference, stat, p_value, n_dates, lags)``; ``stat`` and
        ``p_value`` are NaN with fewer than 2 dates or a degenerate variance.
    """
    a, b = np.asarray(ic_first, dtype=np.float64), np.asarray(ic_second, dtype=np.float64)
    if a.shape != b.shape:
        raise ModelError(f"IC series must have the same shape, got {a.shape} and {b.shape}")
    both = np.isfinite(a) & np.isfinite(b)
    d = a[both] - b[both]
    n = int(d.size)
    if n < 2:
        return math.nan, math.nan, math.nan, n, 0
    mean = float(d.mean())
    if np.all(d == 0.0):
        return 0.0, 0.0, 1.0, n, min(newey_west_lags(n, horizon), n - 1)
    stat, lags = mean_t_stat_hac(d, horizon=horizon)
    p = math.nan if math.isnan(stat) else float(2.0 * stats.norm.sf(abs(stat)))
    return mean, float(stat), p, n, int(lags)


def long_short_weights(predictions: np.ndarray, quantile: float = 0.2) -> np.ndarray:
    """Equal-weight long top / short bottom ``quantile`` weights per date (gross 1).

    Parameters
    ----------
    predictions : ndarray of shape (T, N)
        NaN cells are not held.
    quantile : float, default=0.2
        Share of a date's predicted assets in each leg, in (0, 0.5];
        ``max(1, floor(n * quantile))`` assets per leg.

    Returns
    -------
    ndarray of shape (T, N)
        Long leg +0.5 in total, short leg -0.5; all-zero rows on dates with
        fewer than 2 predicted assets.
    """
    if not 0.0 < quantile <= 0.5:
        raise ModelError(f"quantile must be in (0, 0.5], got {quantile!r}")
    pred = np.asarray(predictions, dtype=np.float64)
    weights = np.zeros_like(pred)
    for t in range(pred.shape[0]):
        held = np.flatnonzero(np.isfinite(pred[t]))
        if held.size < 2:
            continue
        k = max(1, math.floor(held.size * quantile))
        order = held[np.argsort(pred[t, held], kind="stable")]
        weights[t, order[-k:]] = 0.5 / k
        weights[t, order[:k]] = -0.5 / k
    return weights


def one_way_turnover(weights: np.ndarray) -> np.ndarray:
    """``0.5 * sum |w_t - w_t-1|`` per date (T,), NaN on the first date."""
    w = np.asarray(weights, dtype=np.float64)
    out = np.full(w.shape[0], np.nan)
    if w.shape[0] > 1:
        out[1:] = 0.5 * np.abs(np.diff(w, axis=0)).sum(axis=1)
    return out


def compare_predictions(
    predictions: Mapping[str, np.ndarray],
    forward_returns: np.ndarray,
    period_returns: np.ndarray,
    *,
    horizon: int = 1,
    n_trials: int | None = None,
    quantile: float = 0.2,
    cost_bps: float = 5.0,
    periods_per_year: float = 252.0,
    min_assets: int = 5,
    index: pd.Index | None = None,
) -> ComparisonStats:
    """Score each model's predictions and test every pair (see the module conventions).

    Parameters
    ----------
    predictions : mapping of str to ndarray of shape (T, N)
        Out-of-sample predictions per model, on the same (date, asset) grid.
    forward_returns : ndarray of shape (T, N)
        The label's simple forward return of each cell (for the IC).
    period_returns : ndarray of shape (T, N)
        Simple return of the one period a position taken at the date is held
        (for the long-short returns); NaN counts as 0 for held cells.
    horizon : int, default=1
        Label horizon in periods (HAC lags).
    n_trials : int, optional
        Models tried on this dataset (>= the number compared; default that number).
    quantile : float, default=0.2
        Leg size of the implied portfolio.
    cost_bps : float, default=5.0
        Cost per unit of traded notional, in bps, charged at each rebalance.
    periods_per_year : float, default=252
        Annualization of ``icir_annual`` and ``ls_sharpe_annual``.
    min_assets : int, default=5
        Dates with fewer scored assets have no IC (capped at the number of assets, >= 2).
    index : pandas.Index, optional
        Date labels of the rows.

    Returns
    -------
    ComparisonStats
    """
    names = list(predictions)
    if len(names) < 2:
        raise ModelError(f"compare needs at least 2 models, got {len(names)}")
    fwd = np.asarray(forward_returns, dtype=np.float64)
    ret = np.asarray(period_returns, dtype=np.float64)
    for name in names:
        if np.shape(predictions[name]) != fwd.shape or ret.shape != fwd.shape:
            raise ModelError(
                f"predictions of {name!r}, forward and period returns must share one (T, N) shape"
            )
    n_trials = len(names) if n_trials is None else int(n_trials)
    if n_trials < len(names):
        raise ModelError(f"n_trials ({n_trials}) is below the number of models ({len(names)})")
    if cost_bps < 0:
        raise ModelError(f"cost_bps must be >= 0, got {cost_bps!r}")
    index = pd.RangeIndex(fwd.shape[0]) if index is None else index
    floor_assets = min(min_assets, max(2, fwd.shape[1]))

    ic, rank_ic, ls, turnover = {}, {}, {}, {}
    for name in names:
        pred = np.asarray(predictions[name], dtype=np.float64)
        ic[name] = information_coefficient(pred, fwd, "pearson", min_assets=floor_assets).to_numpy()
        rank_ic[name] = information_coefficient(
            pred, fwd, "spearman", min_assets=floor_assets
        ).to_numpy()
        scored = np.isfinite(pred).any(axis=1)
        weights = long_short_weights(pred[scored], quantile)
        tau = one_way_turnover(weights)
        gross = (weights * np.nan_to_num(ret[scored])).sum(axis=1)
        net = gross - np.nan_to_num(tau) * 2.0 * cost_bps * 1e-4
        series = np.full(fwd.shape[0], np.nan)
        series[scored] = net
        ls[name], turnover[name] = series, float(np.nanmean(tau)) if tau.size > 1 else math.nan

    sharpe = {n: _sharpe(ls[n]) for n in names}
    finite_sr = [s for s in sharpe.values() if math.isfinite(s)]
    var_trials = float(np.var(finite_sr, ddof=1)) if len(finite_sr) > 1 else 0.0
    trials = (n_trials, var_trials, horizon, periods_per_year)
    models = tuple(
        _scores(name, ic[name], rank_ic[name], ls[name], turnover[name], sharpe[name], *trials)
        for name in names
    )
    pairs = []
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            mean, stat, p, n, lags = diebold_mariano(ic[first], ic[second], horizon=horizon)
            pairs.append(PairTest(first, second, mean, stat, p, n, lags))
    settings = {
        "quantile": quantile,
        "cost_bps": cost_bps,
        "horizon": horizon,
        "periods_per_year": periods_per_year,
        "min_assets": floor_assets,
        "dsr_on": "net daily long-short returns",
    }
    return ComparisonStats(
        models,
        tuple(pairs),
        n_trials,
        settings,
        ic=pd.DataFrame(ic, index=index),
        long_short=pd.DataFrame(ls, index=index),
    )


def _sharpe(returns: np.ndarray) -> float:
    x = returns[np.isfinite(returns)]
    if x.size < 2 or np.ptp(x) == 0.0:
        return math.nan
    return float(sharpe_ratio(x))


def _scores(
    name: str,
    ic: np.ndarray,
    rank_ic: np.ndarray,
    ls: np.ndarray,
    turnover: float,
    sr: float,
    n_trials: int,
    var_trials: float,
    horizon: int,
    periods_per_year: float,
) -> ModelScores:
    x = ic[np.isfinite(ic)]
    mean = float(x.mean()) if x.size else math.nan
    sd = float(x.std(ddof=1)) if x.size > 1 else math.nan
    icir = mean / sd if sd and math.isfinite(sd) else math.nan
    tstat = mean_t_stat_hac(x, horizon=horizon)[0] if x.size > 1 else math.nan
    r = ls[np.isfinite(ls)]
    dsr = None
    if math.isfinite(sr):
        skew = float(stats.skew(r, bias=True))
        kurt = float(stats.kurtosis(r, fisher=False, bias=True))
        dsr = deflated_sharpe_ratio(sr, n_trials, var_trials, int(r.size), skew, kurt)
    rx = rank_ic[np.isfinite(rank_ic)]
    return ModelScores(
        name=name,
        ic=mean,
        rank_ic=float(rx.mean()) if rx.size else math.nan,
        icir=icir,
        icir_annual=icir * math.sqrt(periods_per_year),
        ic_tstat_hac=float(tstat),
        n_dates=int(x.size),
        turnover=turnover,
        ls_mean=float(r.mean()) if r.size else math.nan,
        ls_sharpe=sr,
        ls_sharpe_annual=sr * math.sqrt(periods_per_year),
        dsr=dsr,
    )
