"""Factor analysis: IC, rank IC, decay, turnover, quantile returns, orthogonality, regimes.

Pure functions on ``(time, asset)`` arrays and pandas objects; nothing here
reads a workspace. The entry point is :func:`analyze_factor`, which returns a
:class:`FactorReport` (across assets, or per asset over time when the data
has too few assets for a cross-section); :func:`render_tearsheet` writes it as an offline HTML
page. Conventions (timing, return definition, skipped periods) are in
``docs/factor-analysis.md`` and in :data:`CONVENTIONS`.
"""

from __future__ import annotations

from alphaloop.factors.analysis._common import (
    FactorAnalysisError,
    forward_returns,
    newey_west_lags,
    simple_returns,
)
from alphaloop.factors.analysis.analyze import analyze_factor, choose_analysis_mode
from alphaloop.factors.analysis.ic import (
    ICSummary,
    information_coefficient,
    summarize_ic,
    usable_mask,
)
from alphaloop.factors.analysis.orthogonality import (
    OrthogonalityResult,
    compound_to_calendar,
    factor_orthogonality,
)
from alphaloop.factors.analysis.quantiles import (
    QuantileReturns,
    assign_quantiles,
    monotonicity,
    quantile_returns,
)
from alphaloop.factors.analysis.regimes import (
    RegimeReport,
    mean_by_regime,
    regime_report,
    trend_regimes,
    volatility_regimes,
)
from alphaloop.factors.analysis.report import (
    ANALYSIS_MODES,
    CONVENTIONS,
    TIME_SERIES_CONVENTIONS,
    AnalysisMode,
    FactorReport,
    ICDecayPoint,
)
from alphaloop.factors.analysis.stats import mean_t_stat, mean_t_stat_hac
from alphaloop.factors.analysis.tearsheet import render_tearsheet
from alphaloop.factors.analysis.timeseries import (
    CROSS_SECTION_ONLY,
    AssetTimeSeries,
    TimeSeriesReport,
    time_series_analysis,
)
from alphaloop.factors.analysis.turnover import (
    TurnoverSummary,
    factor_rank_autocorrelation,
    quantile_turnover,
    summarize_turnover,
)

__all__ = [
    "ANALYSIS_MODES",
    "CONVENTIONS",
    "CROSS_SECTION_ONLY",
    "TIME_SERIES_CONVENTIONS",
    "AnalysisMode",
    "AssetTimeSeries",
    "FactorAnalysisError",
    "FactorReport",
    "ICDecayPoint",
    "ICSummary",
    "OrthogonalityResult",
    "QuantileReturns",
    "RegimeReport",
    "TimeSeriesReport",
    "TurnoverSummary",
    "analyze_factor",
    "assign_quantiles",
    "choose_analysis_mode",
    "compound_to_calendar",
    "factor_orthogonality",
    "factor_rank_autocorrelation",
    "forward_returns",
    "information_coefficient",
    "mean_by_regime",
    "mean_t_stat",
    "mean_t_stat_hac",
    "monotonicity",
    "newey_west_lags",
    "quantile_returns",
    "quantile_turnover",
    "regime_report",
    "render_tearsheet",
    "simple_returns",
    "summarize_ic",
    "summarize_turnover",
    "time_series_analysis",
    "trend_regimes",
    "usable_mask",
    "volatility_regimes",
]
