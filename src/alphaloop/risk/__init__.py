"""Risk measurement: VaR/CVaR, VaR backtests, exposures and stress tests (pure computation).

Inputs are arrays, Series, DataFrames and Panels (:func:`panel_returns`);
nothing here knows the Workspace. Conventions everywhere: simple returns
per bar, losses positive as fractions of value, confidence strictly
between 0 and 1, horizons in bars. The public names below are importable
from ``alphaloop.risk`` directly and load from their module on first use.
The modules:

:mod:`~alphaloop.risk.var`
    :func:`estimate_var` (historical, normal, Student-t, Cornish-Fisher,
    filtered historical via GARCH, Monte Carlo) returning a :class:`VarEstimate`;
    :func:`var_table`; the simulated methods live in
    :mod:`~alphaloop.risk.var_simulation`, the empirical quantile convention
    (:func:`historical_var`) in :mod:`~alphaloop.risk.empirical`.
:mod:`~alphaloop.risk.contributions`
    :func:`risk_contributions`: marginal and component VaR (normal) or CVaR
    (historical) per asset.
:mod:`~alphaloop.risk.var_backtest`
    :func:`kupiec_pof`, :func:`christoffersen_independence`,
    :func:`christoffersen_conditional_coverage`, :func:`backtest_var`.
:mod:`~alphaloop.risk.rolling`
    :func:`rolling_var_forecasts`: out-of-sample forecasts from bars up to t-1.
:mod:`~alphaloop.risk.exposures`
    :func:`factor_exposures`, :func:`market_beta`, :func:`asset_betas`,
    :func:`group_concentration`.
:mod:`~alphaloop.risk.scenarios`, :mod:`~alphaloop.risk.stress`, :mod:`~alphaloop.risk.stress_mc`
    :data:`SCENARIOS` (named crisis windows), :func:`replay_scenarios`,
    :func:`asset_shock`, :func:`factor_shock`, :func:`bootstrap_stress`.

Errors raised on purpose derive from :class:`RiskError` (:mod:`~alphaloop.risk.errors`)
and name the offending input in ``field``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.risk._inputs import (
        check_confidence,
        panel_returns,
    )
    from alphaloop.risk.contributions import (
        RiskContributions,
        risk_contributions,
    )
    from alphaloop.risk.empirical import historical_var
    from alphaloop.risk.errors import (
        CovarianceError,
        RiskError,
        RiskInputError,
        ScenarioError,
    )
    from alphaloop.risk.exposures import (
        FactorExposure,
        GroupConcentration,
        asset_betas,
        factor_exposures,
        group_concentration,
        market_beta,
    )
    from alphaloop.risk.rolling import (
        portfolio_returns,
        rolling_var_forecasts,
    )
    from alphaloop.risk.scenarios import (
        SCENARIOS,
        Scenario,
        scenario,
    )
    from alphaloop.risk.stress import (
        ScenarioResult,
        StressLimits,
        StressReport,
        asset_shock,
        factor_shock,
        max_drawdown,
        replay_scenarios,
    )
    from alphaloop.risk.stress_mc import (
        MonteCarloStress,
        bootstrap_stress,
        stationary_bootstrap_indices,
    )
    from alphaloop.risk.var import (
        VAR_METHODS,
        VarEstimate,
        estimate_var,
        var_table,
    )
    from alphaloop.risk.var_backtest import (
        CoverageTest,
        VarBacktest,
        backtest_var,
        christoffersen_conditional_coverage,
        christoffersen_independence,
        kupiec_pof,
        transition_counts,
    )

_HOME: dict[str, str] = {
    # errors
    "CovarianceError": "errors",
    "RiskError": "errors",
    "RiskInputError": "errors",
    "ScenarioError": "errors",
    # _inputs
    "check_confidence": "_inputs",
    "panel_returns": "_inputs",
    # var
    "VAR_METHODS": "var",
    "VarEstimate": "var",
    "estimate_var": "var",
    "historical_var": "empirical",
    "var_table": "var",
    # contributions
    "RiskContributions": "contributions",
    "risk_contributions": "contributions",
    # var_backtest
    "CoverageTest": "var_backtest",
    "VarBacktest": "var_backtest",
    "backtest_var": "var_backtest",
    "christoffersen_conditional_coverage": "var_backtest",
    "christoffersen_independence": "var_backtest",
    "kupiec_pof": "var_backtest",
    "transition_counts": "var_backtest",
    # rolling
    "portfolio_returns": "rolling",
    "rolling_var_forecasts": "rolling",
    # exposures
    "FactorExposure": "exposures",
    "GroupConcentration": "exposures",
    "asset_betas": "exposures",
    "factor_exposures": "exposures",
    "group_concentration": "exposures",
    "market_beta": "exposures",
    # scenarios
    "SCENARIOS": "scenarios",
    "Scenario": "scenarios",
    "scenario": "scenarios",
    # stress
    "ScenarioResult": "stress",
    "StressLimits": "stress",
    "StressReport": "stress",
    "asset_shock": "stress",
    "factor_shock": "stress",
    "max_drawdown": "stress",
    "replay_scenarios": "stress",
    # stress_mc
    "MonteCarloStress": "stress_mc",
    "bootstrap_stress": "stress_mc",
    "stationary_bootstrap_indices": "stress_mc",
}
"""Public name -> the module of this package that defines it."""

_HOMES: dict[str, str] = {name: f"alphaloop.risk.{module}" for name, module in _HOME.items()}

__all__ = [
    "SCENARIOS",
    "VAR_METHODS",
    "CovarianceError",
    "CoverageTest",
    "FactorExposure",
    "GroupConcentration",
    "MonteCarloStress",
    "RiskContributions",
    "RiskError",
    "RiskInputError",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "StressLimits",
    "StressReport",
    "VarBacktest",
    "VarEstimate",
    "asset_betas",
    "asset_shock",
    "backtest_var",
    "bootstrap_stress",
    "check_confidence",
    "christoffersen_conditional_coverage",
    "christoffersen_independence",
    "estimate_var",
    "factor_exposures",
    "factor_shock",
    "group_concentration",
    "historical_var",
    "kupiec_pof",
    "market_beta",
    "max_drawdown",
    "panel_returns",
    "portfolio_returns",
    "replay_scenarios",
    "risk_contributions",
    "rolling_var_forecasts",
    "scenario",
    "stationary_bootstrap_indices",
    "transition_counts",
    "var_table",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access (PEP 562)."""
    value = load_public(__name__, _HOMES, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
