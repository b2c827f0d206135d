"""The result of a factor analysis: :class:`FactorReport` and the conventions it states."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from alphaloop.factors.analysis._common import json_number
from alphaloop.factors.analysis.ic import ICSummary
from alphaloop.factors.analysis.orthogonality import OrthogonalityResult
from alphaloop.factors.analysis.quantiles import QuantileReturns
from alphaloop.factors.analysis.regimes import RegimeReport
from alphaloop.factors.analysis.timeseries import TimeSeriesReport
from alphaloop.factors.analysis.turnover import TurnoverSummary

__all__ = [
    "ANALYSIS_MODES",
    "CONVENTIONS",
    "TIME_SERIES_CONVENTIONS",
    "AnalysisMode",
    "FactorReport",
    "ICDecayPoint",
]

#: ``auto`` picks one of the other two (see ``analyze_factor``).
AnalysisMode = Literal["auto", "cross-section", "time-series"]
ANALYSIS_MODES: tuple[str, ...] = ("auto", "cross-section", "time-series")

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
    "analysis_mode": (
        "cross-section (the measures above, across assets at each period) or time-series "
        "(each asset's factor against its own forward returns over time); auto picks "
        "time-series when the median number of assets with a price per period is below "
        "min_assets (default max(5, quantiles))"
    ),
}

#: The definitions of the time-series mode (shown instead of the cross-sectional ones).
TIME_SERIES_CONVENTIONS: dict[str, str] = {
    "timing": CONVENTIONS["timing"],
    "forward_return": CONVENTIONS["forward_return"],
    "analysis_mode": CONVENTIONS["analysis_mode"],
    "bars": (
        "a bar counts for an asset when its factor value and forward return are finite and "
        "it is a member at t"
    ),
    "ic": (
        "per asset, Pearson (IC) and Spearman (rank IC) correlation over time of the factor "
        "with the forward return; ranks and standardization use the whole span (descriptive, "
        "not tradable)"
    ),
    "t_stat_hac": (
        "Newey-West t-statistic (Bartlett kernel, at least h - 1 lags) of the mean of "
        "z(rank factor) * z(rank return), whose mean is the rank IC; pooled: of the per-bar "
        "mean of those products over assets"
    ),
    "hit_rate": (
        "share of bars where sign(factor) equals sign(forward return), over bars where "
        "neither is zero; the factor's sign is taken as given, so a factor that is never "
        "negative calls 'up' on every bar"
    ),
    "chance_hit_rate": (
        "p_f p_r + (1 - p_f)(1 - p_r): the hit rate if the factor's sign were unrelated "
        "to the return's, with p_f and p_r the shares of positive factor values and returns"
    ),
    "rolling_ic": (
        "Pearson correlation over the last N bars (current included), stamped at t; it uses "
        "returns up to t + h"
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

    In the cross-section mode every cross-sectional attribute is set and
    ``time_series`` is None; in the time-series mode (too few assets for a
    cross-section, or asked for) ``time_series`` is set and the
    cross-sectional attributes are None, with ``not_shown`` saying why.

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
        ``undefined`` (factor or returns constant across assets). Empty in
        the time-series mode.
    mode : {"cross-section", "time-series"}
    mode_reason : str
        Why this mode (asked for, or what ``auto`` saw).
    ic, rank_ic : pandas.Series or None
        Per-period IC and rank IC at ``horizon`` (NaN when skipped).
    ic_summary, rank_ic_summary : ICSummary or None
    ic_decay : dict of int to ICDecayPoint
        Empty in the time-series mode (see ``time_series.decay``).
    turnover : TurnoverSummary or None
        At lags 1 and ``horizon``.
    quantile_returns : QuantileReturns or None
        At ``horizon``.
    daily_quantile_returns : QuantileReturns or None
        At horizon 1 (non-overlapping): cumulative returns and orthogonality.
    orthogonality : OrthogonalityResult or None
    regimes : RegimeReport or None
    time_series : TimeSeriesReport or None
    caveats : tuple of str
        Shown with every rendering of the report.
    """

    horizon: int
    quantiles: int
    min_assets: int
    periods_per_year: int | None
    n_skipped: dict[str, int]
    ic_decay: dict[int, ICDecayPoint]
    mode: Literal["cross-section", "time-series"] = "cross-section"
    mode_reason: str = ""
    ic: pd.Series | None = field(default=None, repr=False)
    rank_ic: pd.Series | None = field(default=None, repr=False)
    ic_summary: ICSummary | None = None
    rank_ic_summary: ICSummary | None = None
    turnover: TurnoverSummary | None = None
    quantile_returns: QuantileReturns | None = field(default=None, repr=False)
    daily_quantile_returns: QuantileReturns | None = field(default=None, repr=False)
    orthogonality: OrthogonalityResult | None = None
    regimes: RegimeReport | None = None
    time_series: TimeSeriesReport | None = None
    caveats: tuple[str, ...] = ()

    @property
    def ic_mean(self) -> float:
        """Mean cross-sectional IC (NaN in the time-series mode)."""
        return self.ic_summary.mean if self.ic_summary else math.nan

    @property
    def rank_ic_mean(self) -> float:
        return self.rank_ic_summary.mean if self.rank_ic_summary else math.nan

    @property
    def icir(self) -> float:
        """Mean / std of the per-period IC (not annualized)."""
        return self.ic_summary.ir if self.ic_summary else math.nan

    @property
    def rank_icir(self) -> float:
        return self.rank_ic_summary.ir if self.rank_ic_summary else math.nan

    @property
    def n_periods(self) -> int:
        """Periods with a cross-sectional IC, or bars of the pooled time series."""
        if self.ic_summary is not None:
            return self.ic_summary.n_periods
        return int(self.time_series.pooled["n_bars"]) if self.time_series else 0

    @property
    def not_shown(self) -> dict[str, str]:
        """Measures left out in the time-series mode -> what each needs a cross-section for."""
        return dict(self.time_series.not_shown) if self.time_series else {}

    @property
    def start(self) -> pd.Timestamp | None:
        """First period with an IC (time-series mode: first counting bar)."""
        if self.ic is None:
            return self.time_series.start if self.time_series else None
        valid = self.ic.index[self.ic.notna().to_numpy()]
        return valid[0] if len(valid) else None

    @property
    def end(self) -> pd.Timestamp | None:
        """Last period with an IC (time-series mode: last counting bar)."""
        if self.ic is None:
            return self.time_series.end if self.time_series else None
        valid = self.ic.index[self.ic.notna().to_numpy()]
        return valid[-1] if len(valid) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN becomes None; horizons, lags and buckets are string keys).

        Both modes have the same keys: in the time-series mode the
        cross-sectional ones are None (``ic_decay`` empty), ``time_series``
        holds the measures and ``not_shown`` says what needs a cross-section.
        """
        start, end = self.start, self.end
        out: dict[str, Any] = {
            "analysis_mode": self.mode,
            "analysis_mode_reason": self.mode_reason,
            "horizon": self.horizon,
            "quantiles": self.quantiles,
            "min_assets": self.min_assets,
            "periods_per_year": self.periods_per_year,
            "start": start.isoformat() if isinstance(start, pd.Timestamp) else None,
            "end": end.isoformat() if isinstance(end, pd.Timestamp) else None,
            "n_periods": self.n_periods,
            "n_skipped": dict(self.n_skipped),
        }
        ic, rank = self.ic_summary, self.rank_ic_summary
        keys = {
            "ic_mean": "mean", "ic_std": "std", "icir": "ir", "icir_annualized": "ir_annualized",
            "t_stat": "t_stat", "t_stat_hac": "t_stat_hac", "hac_lags": "hac_lags",
        }  # fmt: skip
        for key, attr in keys.items():
            out[key] = json_number(getattr(ic, attr)) if ic is not None else None
        for key, attr in keys.items():
            if key == "hac_lags":
                continue
            out["rank_" + key] = json_number(getattr(rank, attr)) if rank is not None else None
        out["rank_n_periods"] = rank.n_periods if rank is not None else None
        out.update(
            {
                "ic_decay": {str(h): p.to_dict() for h, p in self.ic_decay.items()},
                "turnover": self.turnover.to_dict() if self.turnover else None,
                "quantile_returns": (
                    self.quantile_returns.to_dict() if self.quantile_returns else None
                ),
                "orthogonality": self.orthogonality.to_dict() if self.orthogonality else None,
                "regimes": self.regimes.to_dict() if self.regimes else None,
                "time_series": self.time_series.to_dict() if self.time_series else None,
                "not_shown": self.not_shown,
                "caveats": list(self.caveats),
                "conventions": dict(
                    TIME_SERIES_CONVENTIONS if self.mode == "time-series" else CONVENTIONS
                ),
            }
        )
        return out
