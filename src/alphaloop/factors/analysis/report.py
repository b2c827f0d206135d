"""The result of a factor analysis: :class:`FactorReport` and the conventions it states."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from alphaloop.factors.analysis._common import json_number
from alphaloop.factors.analysis.ic import ICSummary
from alphaloop.factors.analysis.orthogonality import OrthogonalityResult
from alphaloop.factors.analysis.quantiles import QuantileReturns
from alphaloop.factors.analysis.regimes import RegimeReport
from alphaloop.factors.analysis.turnover import TurnoverSummary

__all__ = ["CONVENTIONS", "FactorReport", "ICDecayPoint"]

#: The definitions every report states (shown in the tearsheet and in ``to_dict()``).
CONVENTIONS: dict[str, str] = {
    "timing": "the factor value at t is known at t's close and could be traded from then on",
    "forward_return": (
        "simple return close[t+h] / close[t] - 1 (decimal), stamped at t; NaN where either "
        "price is missing (no forward fill) or t+h is beyond the data"
    ),
    "universe": (
        "a cell counts when the factor and the forward return are finite and the asset is a "
        "member at t; periods with fewer than min_assets such cells are skipped and counted"
    ),
    "ic": "per-period Pearson correlation across assets (IC); rank IC uses Spearman (average "
    "ranks for ties)",
    "icir": (
        "mean / std of the per-period IC, NOT annualized; icir_annualized multiplies by "
        "sqrt(periods_per_year / h)"
    ),
    "t_stat": (
        "t_stat = mean / (std / sqrt(n)) assumes independent periods; overlapping h-period "
        "returns are autocorrelated, so t_stat_hac (Newey-West, Bartlett kernel, at least "
        "h - 1 lags) is the one to trust for h > 1"
    ),
    "quantiles": (
        "equal-count buckets per period as pandas.qcut (alphalens); 1 = lowest factor values"
    ),
    "spread": (
        "top minus bottom bucket mean return per period: a 100% long / 100% short book "
        "(alphalens >= 0.5 reports half of this)"
    ),
    "turnover": (
        "rank autocorrelation and quantile turnover as in alphalens, lags in periods of the "
        "calendar"
    ),
    "orthogonality": (
        "OLS of the daily (1-period, non-overlapping) top-minus-bottom return on market and "
        "known factor returns, HAC standard errors; compounded to the known factors' calendar "
        "when it is coarser; alpha annualized arithmetically (x periods per year)"
    ),
}


@dataclass(frozen=True)
class ICDecayPoint:
    """IC at one forward horizon (periods)."""

    horizon: int
    ic_mean: float
    rank_ic_mean: float
    rank_ic_t_stat_hac: float
    n_periods: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ic_mean": json_number(self.ic_mean),
            "rank_ic_mean": json_number(self.rank_ic_mean),
            "rank_ic_t_stat_hac": json_number(self.rank_ic_t_stat_hac),
            "n_periods": self.n_periods,
        }


@dataclass(frozen=True)
class FactorReport:
    """Everything :func:`analyze_factor` measured about one factor.

    Attributes
    ----------
    horizon : int
        Forward-return horizon ``h`` in periods of the calendar.
    quantiles, min_assets : int
    periods_per_year : int or None
        Annualization factor of the calendar (252 for daily).
    n_skipped : dict of str to int
        Calendar periods without an IC: ``beyond_data`` (``t + h`` past the
        end), ``too_few_assets`` (fewer than ``min_assets`` cells counting),
        ``undefined`` (factor or returns constant across assets).
    ic, rank_ic : pandas.Series
        Per-period IC and rank IC at ``horizon`` (NaN when skipped).
    ic_summary, rank_ic_summary : ICSummary
    ic_decay : dict of int to ICDecayPoint
    turnover : TurnoverSummary
        At lags 1 and ``horizon``.
    quantile_returns : QuantileReturns
        At ``horizon``.
    daily_quantile_returns : QuantileReturns
        At horizon 1 (non-overlapping): cumulative returns and orthogonality.
    orthogonality : OrthogonalityResult or None
    regimes : RegimeReport or None
    caveats : tuple of str
        Shown with every rendering of the report.
    """

    horizon: int
    quantiles: int
    min_assets: int
    periods_per_year: int | None
    n_skipped: dict[str, int]
    ic: pd.Series = field(repr=False)
    rank_ic: pd.Series = field(repr=False)
    ic_summary: ICSummary
    rank_ic_summary: ICSummary
    ic_decay: dict[int, ICDecayPoint]
    turnover: TurnoverSummary
    quantile_returns: QuantileReturns = field(repr=False)
    daily_quantile_returns: QuantileReturns = field(repr=False)
    orthogonality: OrthogonalityResult | None
    regimes: RegimeReport | None
    caveats: tuple[str, ...]

    @property
    def ic_mean(self) -> float:
        return self.ic_summary.mean

    @property
    def rank_ic_mean(self) -> float:
        return self.rank_ic_summary.mean

    @property
    def icir(self) -> float:
        """Mean / std of the per-period IC (not annualized)."""
        return self.ic_summary.ir

    @property
    def rank_icir(self) -> float:
        return self.rank_ic_summary.ir

    @property
    def n_periods(self) -> int:
        return self.ic_summary.n_periods

    @property
    def start(self) -> pd.Timestamp | None:
        """First period with an IC."""
        valid = self.ic.index[self.ic.notna().to_numpy()]
        return valid[0] if len(valid) else None

    @property
    def end(self) -> pd.Timestamp | None:
        """Last period with an IC."""
        valid = self.ic.index[self.ic.notna().to_numpy()]
        return valid[-1] if len(valid) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN becomes None; horizons, lags and buckets are string keys)."""
        ic, rank = self.ic_summary, self.rank_ic_summary
        start, end = self.start, self.end
        return {
            "horizon": self.horizon,
            "quantiles": self.quantiles,
            "min_assets": self.min_assets,
            "periods_per_year": self.periods_per_year,
            "start": start.isoformat() if isinstance(start, pd.Timestamp) else None,
            "end": end.isoformat() if isinstance(end, pd.Timestamp) else None,
            "n_periods": ic.n_periods,
            "n_skipped": dict(self.n_skipped),
            "ic_mean": json_number(ic.mean),
            "ic_std": json_number(ic.std),
            "icir": json_number(ic.ir),
            "icir_annualized": json_number(ic.ir_annualized),
            "t_stat": json_number(ic.t_stat),
            "t_stat_hac": json_number(ic.t_stat_hac),
            "hac_lags": ic.hac_lags,
            "rank_ic_mean": json_number(rank.mean),
            "rank_ic_std": json_number(rank.std),
            "rank_icir": json_number(rank.ir),
            "rank_icir_annualized": json_number(rank.ir_annualized),
            "rank_t_stat": json_number(rank.t_stat),
            "rank_t_stat_hac": json_number(rank.t_stat_hac),
            "rank_n_periods": rank.n_periods,
            "ic_decay": {str(h): p.to_dict() for h, p in self.ic_decay.items()},
            "turnover": self.turnover.to_dict(),
            "quantile_returns": self.quantile_returns.to_dict(),
            "orthogonality": self.orthogonality.to_dict() if self.orthogonality else None,
            "regimes": self.regimes.to_dict() if self.regimes else None,
            "caveats": list(self.caveats),
            "conventions": dict(CONVENTIONS),
        }
