"""Factors: an expression language (Qlib-compatible syntax), a factor library, analysis.

Public names load on first use (:func:`alphaloop.faces.load_public`).
Evaluating expressions is :func:`alphaloop.factors.evaluate.evaluate` and
validating them :func:`alphaloop.factors.validate.validate`: those functions
share their modules' names, so they are reached through the modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.factors.analysis import (
        CONVENTIONS,
        FactorAnalysisError,
        FactorReport,
        ICDecayPoint,
        ICSummary,
        OrthogonalityResult,
        QuantileReturns,
        RegimeReport,
        TurnoverSummary,
        analyze_factor,
        assign_quantiles,
        compound_to_calendar,
        factor_orthogonality,
        factor_rank_autocorrelation,
        forward_returns,
        information_coefficient,
        mean_by_regime,
        mean_t_stat,
        mean_t_stat_hac,
        monotonicity,
        newey_west_lags,
        quantile_returns,
        quantile_turnover,
        regime_report,
        render_tearsheet,
        simple_returns,
        summarize_ic,
        summarize_turnover,
        trend_regimes,
        usable_mask,
        volatility_regimes,
    )
    from alphaloop.factors.ast import Call, Const, Field, Node, Span
    from alphaloop.factors.cache import FactorCache
    from alphaloop.factors.library import (
        BUILTIN,
        FactorLibrary,
        get_library,
        list_libraries,
        load_library_file,
        save_library,
    )
    from alphaloop.factors.operators import ALIASES, BINARY_SYMBOLS, OPERATORS, OpSpec, resolve
    from alphaloop.factors.parser import MAX_DEPTH, parse
    from alphaloop.factors.report_pages import write_report
    from alphaloop.factors.validate import Expression, compile_expression, lookahead, warmup

_HOME: dict[str, str] = {
    "CONVENTIONS": "alphaloop.factors.analysis",
    "FactorAnalysisError": "alphaloop.factors.analysis",
    "FactorReport": "alphaloop.factors.analysis",
    "ICDecayPoint": "alphaloop.factors.analysis",
    "ICSummary": "alphaloop.factors.analysis",
    "OrthogonalityResult": "alphaloop.factors.analysis",
    "QuantileReturns": "alphaloop.factors.analysis",
    "RegimeReport": "alphaloop.factors.analysis",
    "TurnoverSummary": "alphaloop.factors.analysis",
    "analyze_factor": "alphaloop.factors.analysis",
    "assign_quantiles": "alphaloop.factors.analysis",
    "compound_to_calendar": "alphaloop.factors.analysis",
    "factor_orthogonality": "alphaloop.factors.analysis",
    "factor_rank_autocorrelation": "alphaloop.factors.analysis",
    "forward_returns": "alphaloop.factors.analysis",
    "information_coefficient": "alphaloop.factors.analysis",
    "mean_by_regime": "alphaloop.factors.analysis",
    "mean_t_stat": "alphaloop.factors.analysis",
    "mean_t_stat_hac": "alphaloop.factors.analysis",
    "monotonicity": "alphaloop.factors.analysis",
    "newey_west_lags": "alphaloop.factors.analysis",
    "quantile_returns": "alphaloop.factors.analysis",
    "quantile_turnover": "alphaloop.factors.analysis",
    "regime_report": "alphaloop.factors.analysis",
    "render_tearsheet": "alphaloop.factors.analysis",
    "simple_returns": "alphaloop.factors.analysis",
    "summarize_ic": "alphaloop.factors.analysis",
    "summarize_turnover": "alphaloop.factors.analysis",
    "trend_regimes": "alphaloop.factors.analysis",
    "usable_mask": "alphaloop.factors.analysis",
    "volatility_regimes": "alphaloop.factors.analysis",
    "Call": "alphaloop.factors.ast",
    "Const": "alphaloop.factors.ast",
    "Field": "alphaloop.factors.ast",
    "Node": "alphaloop.factors.ast",
    "Span": "alphaloop.factors.ast",
    "FactorCache": "alphaloop.factors.cache",
    "BUILTIN": "alphaloop.factors.library",
    "FactorLibrary": "alphaloop.factors.library",
    "get_library": "alphaloop.factors.library",
    "list_libraries": "alphaloop.factors.library",
    "load_library_file": "alphaloop.factors.library",
    "save_library": "alphaloop.factors.library",
    "ALIASES": "alphaloop.factors.operators",
    "BINARY_SYMBOLS": "alphaloop.factors.operators",
    "OPERATORS": "alphaloop.factors.operators",
    "OpSpec": "alphaloop.factors.operators",
    "resolve": "alphaloop.factors.operators",
    "MAX_DEPTH": "alphaloop.factors.parser",
    "parse": "alphaloop.factors.parser",
    "write_report": "alphaloop.factors.report_pages",
    "Expression": "alphaloop.factors.validate",
    "compile_expression": "alphaloop.factors.validate",
    "lookahead": "alphaloop.factors.validate",
    "warmup": "alphaloop.factors.validate",
}
"""Public name -> the module of this package that defines it."""

__all__ = [
    "ALIASES",
    "BINARY_SYMBOLS",
    "BUILTIN",
    "CONVENTIONS",
    "MAX_DEPTH",
    "OPERATORS",
    "Call",
    "Const",
    "Expression",
    "FactorAnalysisError",
    "FactorCache",
    "FactorLibrary",
    "FactorReport",
    "Field",
    "ICDecayPoint",
    "ICSummary",
    "Node",
    "OpSpec",
    "OrthogonalityResult",
    "QuantileReturns",
    "RegimeReport",
    "Span",
    "TurnoverSummary",
    "analyze_factor",
    "assign_quantiles",
    "compile_expression",
    "compound_to_calendar",
    "factor_orthogonality",
    "factor_rank_autocorrelation",
    "forward_returns",
    "get_library",
    "information_coefficient",
    "list_libraries",
    "load_library_file",
    "lookahead",
    "mean_by_regime",
    "mean_t_stat",
    "mean_t_stat_hac",
    "monotonicity",
    "newey_west_lags",
    "parse",
    "quantile_returns",
    "quantile_turnover",
    "regime_report",
    "render_tearsheet",
    "resolve",
    "save_library",
    "simple_returns",
    "summarize_ic",
    "summarize_turnover",
    "trend_regimes",
    "usable_mask",
    "volatility_regimes",
    "warmup",
    "write_report",
]


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
