"""Information coefficient (IC): the cross-sectional correlation of a factor with forward returns.

Conventions
-----------
- ``factor[t]`` is known at period ``t``'s close; ``forward_returns[t]`` is the
  simple return from ``t``'s close to ``t + h``'s close (see
  :func:`~alphaloop.factors.analysis.forward_returns`).
- A cell counts when the factor and the forward return are both finite (and
  the asset is a member at ``t``, when a membership mask is given). A period
  with fewer than ``min_assets`` counting cells is skipped: its IC is NaN.
- ``method="pearson"`` is the IC, ``method="spearman"`` the rank IC (Pearson
  correlation of average ranks; equal to :func:`scipy.stats.spearmanr` and to
  alphalens's ``factor_information_coefficient``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.factors.analysis._common import (
    FactorAnalysisError,
    as_panel_array,
    json_number,
    row_correlation,
    row_ranks,
)
from alphaloop.factors.analysis.stats import mean_t_stat, mean_t_stat_hac

__all__ = ["ICSummary", "information_coefficient", "summarize_ic", "usable_mask"]

ICMethod = Literal["pearson", "spearman"]


def usable_mask(
    factor: np.ndarray,
    forward_returns: np.ndarray,
    membership: np.ndarray | None = None,
    *,
    min_assets: int = 1,
) -> np.ndarray:
    """Cells that count: finite factor and forward return, member at ``t``, in a period
    with at least ``min_assets`` such cells.

    Returns
    -------
    ndarray of bool, shape (n_times, n_assets)
    """
    f = as_panel_array(factor, "factor")
    r = as_panel_array(forward_returns, "forward_returns", f.shape)
    mask = np.isfinite(f) & np.isfinite(r)
    if membership is not None:
        mem = np.asarray(membership, dtype=bool)
        if mem.shape != f.shape:
            raise FactorAnalysisError(
                f"membership has shape {mem.shape}, expected {f.shape} (time, asset)"
            )
        mask &= mem
    enough = mask.sum(axis=1) >= max(int(min_assets), 1)
    return mask & enough[:, None]


def information_coefficient(
    factor: np.ndarray,
    forward_returns: np.ndarray,
    method: ICMethod = "pearson",
    *,
    index: pd.Index | None = None,
    membership: np.ndarray | None = None,
    min_assets: int = 5,
) -> pd.Series:
    """Per-period cross-sectional correlation of the factor with forward returns.

    Parameters
    ----------
    factor : ndarray, shape (n_times, n_assets)
        Factor values, known at each period's close.
    forward_returns : ndarray, shape (n_times, n_assets)
        Simple forward returns (decimals) stamped at the period they start.
    method : {"pearson", "spearman"}, default="pearson"
        ``"pearson"``: IC; ``"spearman"``: rank IC (average ranks for ties).
    index : pandas.Index, optional
        Labels of the periods (length ``n_times``); default a RangeIndex.
    membership : ndarray of bool, optional
        Only members at ``t`` count.
    min_assets : int, default=5
        Periods with fewer counting assets are skipped (NaN).

    Returns
    -------
    pandas.Series
        One IC per period (unitless, in [-1, 1]); NaN for skipped periods and
        for periods where either side is constant across assets.
    """
    if method not in ("pearson", "spearman"):
        raise FactorAnalysisError(
            f"unknown IC method {method!r}", hint="use 'pearson' (IC) or 'spearman' (rank IC)"
        )
    mask = usable_mask(factor, forward_returns, membership, min_assets=min_assets)
    f = np.where(mask, factor, np.nan)
    r = np.where(mask, forward_returns, np.nan)
    if method == "spearman":
        f, r = row_ranks(f), row_ranks(r)
    corr, _ = row_correlation(f, r)
    if index is not None and len(index) != len(corr):
        raise FactorAnalysisError(f"index has {len(index)} labels for {len(corr)} periods")
    name = "ic" if method == "pearson" else "rank_ic"
    return pd.Series(corr, index=index, name=name)


@dataclass(frozen=True)
class ICSummary:
    """Summary statistics of an IC series.

    Attributes
    ----------
    mean, std : float
        Mean and standard deviation (ddof=1) of the per-period IC.
    ir : float
        ``mean / std`` per period, **not annualized** (the IC information ratio).
    ir_annualized : float or None
        ``ir * sqrt(periods_per_year / horizon)``; None when the calendar has
        no annualization factor.
    t_stat : float
        ``mean / (std / sqrt(n))``: assumes independent periods, which
        overlapping ``horizon``-period returns are not (it overstates
        significance for ``horizon > 1``).
    t_stat_hac : float
        Newey-West t-statistic with ``hac_lags`` Bartlett lags (at least
        ``horizon - 1``), robust to that overlap.
    hac_lags : int
    n_periods : int
        Periods with a defined IC.
    """

    mean: float
    std: float
    ir: float
    ir_annualized: float | None
    t_stat: float
    t_stat_hac: float
    hac_lags: int
    n_periods: int

    def to_dict(self) -> dict[str, Any]:
        return {k: json_number(v) for k, v in asdict(self).items()}


def summarize_ic(
    ic: pd.Series | np.ndarray,
    *,
    horizon: int = 1,
    periods_per_year: float | None = None,
    hac_lags: int | None = None,
) -> ICSummary:
    """Mean, std, IR (per period and annualized), classical and HAC t-statistics of an IC series.

    Parameters
    ----------
    ic : Series or ndarray
        Per-period IC; NaN periods are ignored.
    horizon : int, default=1
        Forward-return horizon in periods (sets the minimum HAC lags and the
        annualization ``sqrt(periods_per_year / horizon)``).
    periods_per_year : float, optional
        e.g. 252 for daily; None leaves ``ir_annualized`` as None.
    hac_lags : int, optional
        Override the Newey-West lag count.
    """
    x = np.asarray(ic, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    ir = mean / std if n > 1 and std > 0 else math.nan
    ir_ann = None
    if periods_per_year is not None:
        ir_ann = ir * math.sqrt(float(periods_per_year) / horizon)
    t_hac, lags = mean_t_stat_hac(x, hac_lags, horizon=horizon)
    return ICSummary(mean, std, ir, ir_ann, mean_t_stat(x), t_hac, lags, n)
