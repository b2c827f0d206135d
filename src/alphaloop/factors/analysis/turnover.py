"""How fast a factor's ranking and its quantile memberships change.

Both measures follow alphalens's definitions (``factor_rank_autocorrelation``
and ``quantile_turnover``) and shift by positions on the calendar, so lag 1 is
the previous period whether or not it was skipped (a skipped period makes the
measure NaN, never reaches further back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.factors.analysis._common import (
    FactorAnalysisError,
    json_number,
    row_correlation,
    row_ranks,
)

__all__ = [
    "TurnoverSummary",
    "factor_rank_autocorrelation",
    "quantile_turnover",
    "summarize_turnover",
]


def _check_lag(lag: int) -> int:
    if int(lag) != lag or lag < 1:
        raise FactorAnalysisError(f"lag must be a positive integer; got {lag!r}")
    return int(lag)


def factor_rank_autocorrelation(
    factor: np.ndarray,
    *,
    lag: int = 1,
    mask: np.ndarray | None = None,
    index: pd.Index | None = None,
) -> pd.Series:
    """Correlation between each period's factor ranks and those ``lag`` periods earlier.

    Ranks (average for ties) are taken per period among the cells in ``mask``
    (default: finite factor values); the Pearson correlation of the two rank
    vectors is then computed over the assets ranked in both periods, without
    re-ranking them. 1 means the ordering did not change; near 0, a new
    ordering every period (high turnover).

    Returns
    -------
    pandas.Series
        Unitless, NaN for the first ``lag`` periods and where either period has
        fewer than 2 ranked assets in common.
    """
    lag = _check_lag(lag)
    values = np.asarray(factor, dtype=np.float64)
    keep = np.isfinite(values) if mask is None else (np.asarray(mask, bool) & np.isfinite(values))
    ranks = row_ranks(np.where(keep, values, np.nan))
    out = np.full(ranks.shape[0], np.nan)
    if lag < ranks.shape[0]:
        out[lag:], _ = row_correlation(ranks[lag:], ranks[:-lag])
    return pd.Series(out, index=index, name=f"rank_autocorrelation_lag{lag}")


def quantile_turnover(
    labels: np.ndarray, quantile: int, *, lag: int = 1, index: pd.Index | None = None
) -> pd.Series:
    """Share of a bucket's names that were not in it ``lag`` periods earlier.

    ``|Q_t \\ Q_{t-lag}| / |Q_t|`` where ``Q_t`` is the set of assets with
    label ``quantile`` at ``t`` (labels from
    :func:`~alphaloop.factors.analysis.assign_quantiles`).

    Returns
    -------
    pandas.Series
        In [0, 1]; NaN for the first ``lag`` periods and where either bucket is
        empty (as in alphalens).
    """
    lag = _check_lag(lag)
    member = np.asarray(labels) == int(quantile)
    out = np.full(member.shape[0], np.nan)
    if lag < member.shape[0]:
        now, before = member[lag:], member[:-lag]
        size = now.sum(axis=1)
        new = (now & ~before).sum(axis=1)
        defined = (size > 0) & (before.sum(axis=1) > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[lag:] = np.where(defined, new / size, np.nan)
    return pd.Series(out, index=index, name=f"quantile{quantile}_turnover_lag{lag}")


@dataclass(frozen=True)
class TurnoverSummary:
    """Mean turnover measures at a few lags (in periods).

    Attributes
    ----------
    rank_autocorrelation : dict of int to float
        Mean of :func:`factor_rank_autocorrelation` per lag.
    top_quantile_turnover, bottom_quantile_turnover : dict of int to float
        Mean of :func:`quantile_turnover` of the top (q) and bottom (1)
        buckets per lag.
    series : dict of str to pandas.Series
        The lag-1 series, for plotting.
    """

    rank_autocorrelation: dict[int, float]
    top_quantile_turnover: dict[int, float]
    bottom_quantile_turnover: dict[int, float]
    series: dict[str, pd.Series] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Lags become string keys (JSON objects have string keys)."""

        def by_lag(values: dict[int, float]) -> dict[str, Any]:
            return {str(k): json_number(v) for k, v in values.items()}

        return {
            "rank_autocorrelation": by_lag(self.rank_autocorrelation),
            "top_quantile_turnover": by_lag(self.top_quantile_turnover),
            "bottom_quantile_turnover": by_lag(self.bottom_quantile_turnover),
        }


def summarize_turnover(
    factor: np.ndarray,
    labels: np.ndarray,
    *,
    quantiles: int,
    lags: tuple[int, ...] = (1,),
    mask: np.ndarray | None = None,
    index: pd.Index | None = None,
) -> TurnoverSummary:
    """Rank autocorrelation and top/bottom bucket turnover, averaged over time, at ``lags``."""
    rank_ac: dict[int, float] = {}
    top: dict[int, float] = {}
    bottom: dict[int, float] = {}
    series: dict[str, pd.Series] = {}
    for lag in dict.fromkeys(int(x) for x in lags):
        ac = factor_rank_autocorrelation(factor, lag=lag, mask=mask, index=index)
        hi = quantile_turnover(labels, quantiles, lag=lag, index=index)
        lo = quantile_turnover(labels, 1, lag=lag, index=index)
        rank_ac[lag], top[lag], bottom[lag] = (float(s.mean()) for s in (ac, hi, lo))
        if lag == 1:
            series = {"rank_autocorrelation": ac, "top_quantile_turnover": hi}
    return TurnoverSummary(rank_ac, top, bottom, series)
