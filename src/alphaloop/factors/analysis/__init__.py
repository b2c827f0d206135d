"""Factor analysis: IC, rank IC, decay, turnover, quantile returns, orthogonality, regimes.

Pure functions on ``(time, asset)`` arrays and pandas objects; nothing here
reads a workspace. The entry point is :func:`analyze_factor`, which returns a
:class:`FactorReport`; :func:`render_tearsheet` writes it as an offline HTML
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
from alphaloop.factors.analysis.analyze import analyze_factor
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
from alphaloop.factors.analysis.report import CONVENTIONS, FactorReport, ICDecayPoint
from alphaloop.factors.analysis.stats import mean_t_stat, mean_t_stat_hac
from alphaloop.factors.analysis.tearsheet import render_tearsheet
from alphaloop.factors.analysis.turnover import (
    TurnoverSummary,
    factor_rank_autocorrelation,
    quantile_turnover,
    summarize_turnover,
)

__all__ = [
    "CONVENTIONS",
    "FactorAnalysisError",
    "FactorReport",
    "ICDecayPoint",
    "ICSummary",
    "OrthogonalityResult",
    "QuantileReturns",
    "RegimeReport",
    "TurnoverSummary",
    "analyze_factor",
    "assign_quantiles",
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
    "trend_regimes",
    "usable_mask",
    "volatility_regimes",
]
