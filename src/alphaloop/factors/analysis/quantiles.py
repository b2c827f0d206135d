"""Quantile buckets of a factor and the forward returns of each bucket.

Quantiles are assigned per period among the cells that count (finite factor
and forward return, member, period not skipped), with equal counts as in
``pandas.qcut(values, q, labels=False) + 1`` (what alphalens uses): the value
with 0-based position ``a`` among ``n`` sorted values goes to bucket
``max(1, ceil(a * q / (n - 1)))``, and tied values share the bucket of their
lowest position. Where ``pandas.qcut`` refuses a period because tied values
make two bucket edges equal, these rules still assign it (some buckets then
stay empty). Bucket 1 holds the lowest factor values, bucket ``q`` the highest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.factors.analysis._common import FactorAnalysisError, json_number, row_ranks
from alphaloop.factors.analysis.stats import mean_t_stat, mean_t_stat_hac, spearman_correlation

__all__ = ["QuantileReturns", "assign_quantiles", "monotonicity", "quantile_returns"]


def assign_quantiles(
    factor: np.ndarray, quantiles: int = 5, *, mask: np.ndarray | None = None
) -> np.ndarray:
    """Equal-count quantile bucket of each cell, per period.

    Parameters
    ----------
    factor : ndarray, shape (n_times, n_assets)
    quantiles : int, default=5
        Number of buckets ``q`` (>= 2).
    mask : ndarray of bool, optional
        Cells allowed to take part (default: every finite factor value).

    Returns
    -------
    ndarray of int64, shape (n_times, n_assets)
        Bucket 1..q; 0 where the cell takes no part (masked, NaN, or a period
        with fewer than 2 values).
    """
    if int(quantiles) != quantiles or quantiles < 2:
        raise FactorAnalysisError(f"quantiles must be an integer >= 2; got {quantiles!r}")
    q = int(quantiles)
    values = np.asarray(factor, dtype=np.float64)
    keep = np.isfinite(values) if mask is None else (np.asarray(mask, bool) & np.isfinite(values))
    lowest = row_ranks(np.where(keep, values, np.nan), method="min")
    n = keep.sum(axis=1)[:, None].astype(np.int64)
    pos = np.where(keep, lowest - 1.0, 0.0).astype(np.int64)
    denom = np.maximum(n - 1, 1)
    bucket = np.maximum(1, (pos * q + denom - 1) // denom)
    return np.where(keep & (n >= 2), bucket, 0).astype(np.int64)


def monotonicity(mean_returns: pd.Series | np.ndarray) -> float:
    """Spearman correlation between bucket number (1..q) and mean bucket return, in [-1, 1].

    +1: returns rise with every step up in the factor; -1: they fall. NaN
    buckets are left out; NaN when fewer than 2 remain or all are equal.
    """
    values = np.asarray(mean_returns, dtype=np.float64)
    return spearman_correlation(np.arange(1, values.size + 1), values)


@dataclass(frozen=True)
class QuantileReturns:
    """Forward returns by factor quantile.

    Attributes
    ----------
    horizon : int
        Forward-return horizon in periods.
    by_period : pandas.DataFrame
        Equal-weighted mean forward return (decimal) of each bucket (columns
        1..q) in each period (rows: the calendar; NaN for skipped periods).
    counts : pandas.DataFrame
        Number of assets in each bucket and period.
    mean : pandas.Series
        Mean over periods of ``by_period`` (each bucket over the periods it is
        non-empty), per bucket.
    spread : pandas.Series
        Top minus bottom bucket, per period (a 100 % long / 100 % short book;
        alphalens >= 0.5 halves this).
    spread_mean, spread_t_stat, spread_t_stat_hac : float
        Mean spread per period (decimal), classical and Newey-West t-statistic
        (``hac_lags`` lags, at least ``horizon - 1``).
    hac_lags : int
    monotonicity : float
        See :func:`monotonicity`.
    """

    horizon: int
    by_period: pd.DataFrame
    counts: pd.DataFrame
    mean: pd.Series
    spread: pd.Series
    spread_mean: float
    spread_t_stat: float
    spread_t_stat_hac: float
    hac_lags: int
    monotonicity: float

    @property
    def n_periods(self) -> int:
        """Periods with a defined spread."""
        return int(self.spread.notna().sum())

    def cumulative(self) -> pd.DataFrame:
        """Growth of 1 in each bucket, compounding ``by_period`` (meaningful for horizon 1).

        Skipped periods count as a zero return.
        """
        return (1.0 + self.by_period.fillna(0.0)).cumprod()

    def to_dict(self) -> dict[str, Any]:
        """``{"1": mean, ..., "q": mean, "spread": {...}, "monotonicity": m}`` (JSON-ready)."""
        out: dict[str, Any] = {str(k): json_number(v) for k, v in self.mean.items()}
        out["spread"] = {
            "mean": json_number(self.spread_mean),
            "t_stat": json_number(self.spread_t_stat),
            "t_stat_hac": json_number(self.spread_t_stat_hac),
            "hac_lags": self.hac_lags,
            "n_periods": self.n_periods,
        }
        out["monotonicity"] = json_number(self.monotonicity)
        out["horizon"] = self.horizon
        return out


def quantile_returns(
    labels: np.ndarray,
    forward_returns: np.ndarray,
    *,
    quantiles: int = 5,
    horizon: int = 1,
    index: pd.Index | None = None,
    hac_lags: int | None = None,
) -> QuantileReturns:
    """Mean forward return per bucket and period, the top-minus-bottom spread and its tests.

    Parameters
    ----------
    labels : ndarray of int, shape (n_times, n_assets)
        Buckets from :func:`assign_quantiles` (0 = no bucket).
    forward_returns : ndarray, shape (n_times, n_assets)
        Simple forward returns (decimals) over ``horizon`` periods.
    quantiles : int, default=5
    horizon : int, default=1
        Used for the HAC lag floor (``horizon - 1``) only.
    index : pandas.Index, optional
        Labels of the periods.
    hac_lags : int, optional
        Override the Newey-West lag count.
    """
    lab = np.asarray(labels)
    ret = np.asarray(forward_returns, dtype=np.float64)
    if lab.shape != ret.shape:
        raise FactorAnalysisError(f"labels have shape {lab.shape} but forward_returns {ret.shape}")
    cols = list(range(1, int(quantiles) + 1))
    means = np.full((lab.shape[0], len(cols)), np.nan)
    counts = np.zeros((lab.shape[0], len(cols)), dtype=np.int64)
    for j, k in enumerate(cols):
        sel = (lab == k) & np.isfinite(ret)
        counts[:, j] = sel.sum(axis=1)
        total = np.where(sel, ret, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[:, j] = np.where(counts[:, j] > 0, total / counts[:, j], np.nan)
    by_period = pd.DataFrame(means, index=index, columns=pd.Index(cols, name="quantile"))
    count_frame = pd.DataFrame(counts, index=index, columns=pd.Index(cols, name="quantile"))
    mean = by_period.mean(axis=0, skipna=True).rename("mean_return")
    spread = (by_period[cols[-1]] - by_period[cols[0]]).rename("spread")
    spread_values = spread.to_numpy()
    finite = spread_values[np.isfinite(spread_values)]
    t_hac, lags = mean_t_stat_hac(finite, hac_lags, horizon=horizon)
    return QuantileReturns(
        horizon=int(horizon),
        by_period=by_period,
        counts=count_frame,
        mean=mean,
        spread=spread,
        spread_mean=float(finite.mean()) if finite.size else math.nan,
        spread_t_stat=mean_t_stat(finite),
        spread_t_stat_hac=t_hac,
        hac_lags=lags,
        monotonicity=monotonicity(mean.to_numpy()),
    )
