"""Risk as pure computation: VaR/CVaR, VaR backtests, exposures, stress tests, causal
regimes, regime-conditional metrics and position sizing.

Inputs are arrays, Series, DataFrames and Panels (:func:`panel_returns`);
nothing here knows the Workspace. Conventions everywhere: simple returns
per bar, losses positive as fractions of value, confidence strictly
between 0 and 1, horizons in bars; regime labels and sizes at t use data up
to t only (filtered, never smoothed). The public names below are importable
from ``alphaloop.risk`` directly and load from their module on first use
(no statsmodels or hmmlearn until a model is fitted). The modules:

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
:mod:`~alphaloop.risk.factor_sets`
    :func:`factor_set_exposure`: exposures to a bundled factor set (market,
    factor ETFs, Fama-French) on the calendar both share;
    :func:`monthly_returns` (compounded, whole months only).
:mod:`~alphaloop.risk.profile`
    :func:`risk_profile`: the VaR table at 95/99%, rolling VaR backtests,
    crisis windows, drawdown and factor exposures of one return series, as
    a :class:`RiskProfile` (what report risk sections show).
:mod:`~alphaloop.risk.scenarios`, :mod:`~alphaloop.risk.stress`, :mod:`~alphaloop.risk.stress_mc`
    :data:`SCENARIOS` (named crisis windows), :func:`replay_scenarios`,
    :func:`asset_shock`, :func:`factor_shock`, :func:`bootstrap_stress`.

:mod:`~alphaloop.risk.regimes`
    :class:`RegimeLabels`; :func:`volatility_regimes`, :func:`trend_regimes`
    and :func:`detect_regimes` (one entry point, ``REGIME_METHODS``). Labels
    are filtered: the label at t uses data up to t only.
:mod:`~alphaloop.risk.regimes_hmm`
    :func:`hmm_regimes`: a Gaussian HMM (hmmlearn, the ``risk`` extra) fitted
    walk-forward and labelled by our forward filter (:func:`forward_filter`),
    never by Viterbi or smoothing.
:mod:`~alphaloop.risk.regimes_markov`
    :func:`markov_regimes`: statsmodels' Markov switching, Hamilton-filtered.
:mod:`~alphaloop.risk.regimes_fit`
    The walk-forward scheme both share (fit on the past, filter forward).
:mod:`~alphaloop.risk.hurst`
    :func:`hurst_exponent`, :func:`rolling_hurst`, :func:`hurst_regimes`.
:mod:`~alphaloop.risk.regime_performance`
    :func:`regime_metrics`: per-regime return, volatility, Sharpe, drawdown,
    hit rate and share of time of any return stream.
:mod:`~alphaloop.risk.sizing`
    :func:`kelly_fraction` (with an estimation-error haircut),
    :func:`rolling_kelly`, :func:`volatility_target_scale`,
    :func:`average_true_range`, :func:`atr_position_size`,
    :func:`fixed_fractional_size`, :func:`regime_scale`.
:mod:`~alphaloop.risk.parity`
    :func:`inverse_volatility`, :func:`equal_risk_contribution`,
    :func:`variance_shares`, :func:`rolling_risk_parity`.

Errors raised on purpose derive from :class:`RiskError` (:mod:`~alphaloop.risk.errors`);
most name the offending input in ``field``.
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
    from alphaloop.risk.factor_sets import (
        MIN_FACTOR_OBS,
        FactorSetExposure,
        factor_set_exposure,
        monthly_returns,
    )
    from alphaloop.risk.hurst import HURST_METHODS, hurst_exponent, hurst_regimes, rolling_hurst
    from alphaloop.risk.parity import (
        PARITY_METHODS,
        equal_risk_contribution,
        inverse_volatility,
        rolling_risk_parity,
        variance_shares,
    )
    from alphaloop.risk.profile import (
        PROFILE_METHODS,
        DrawdownSummary,
        RiskProfile,
        drawdown_summary,
        risk_profile,
    )
    from alphaloop.risk.regime_performance import METRIC_COLUMNS, regime_metrics
    from alphaloop.risk.regimes import (
        REGIME_METHODS,
        WARMUP,
        RegimeLabels,
        detect_regimes,
        trend_regimes,
        volatility_regimes,
    )
    from alphaloop.risk.regimes_hmm import (
        GaussianHMMParams,
        fit_gaussian_hmm,
        forward_filter,
        hmm_regimes,
    )
    from alphaloop.risk.regimes_markov import (
        MarkovSwitchingParams,
        fit_markov_switching,
        markov_filter,
        markov_regimes,
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
    from alphaloop.risk.sizing import (
        KELLY_HAIRCUTS,
        atr_position_size,
        average_true_range,
        fixed_fractional_size,
        kelly_fraction,
        regime_scale,
        rolling_kelly,
        volatility_target_scale,
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
    # factor sets and the profile
    "MIN_FACTOR_OBS": "factor_sets",
    "FactorSetExposure": "factor_sets",
    "factor_set_exposure": "factor_sets",
    "monthly_returns": "factor_sets",
    "PROFILE_METHODS": "profile",
    "DrawdownSummary": "profile",
    "RiskProfile": "profile",
    "drawdown_summary": "profile",
    "risk_profile": "profile",
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
    # regimes
    "REGIME_METHODS": "regimes",
    "WARMUP": "regimes",
    "RegimeLabels": "regimes",
    "detect_regimes": "regimes",
    "trend_regimes": "regimes",
    "volatility_regimes": "regimes",
    "GaussianHMMParams": "regimes_hmm",
    "fit_gaussian_hmm": "regimes_hmm",
    "forward_filter": "regimes_hmm",
    "hmm_regimes": "regimes_hmm",
    "MarkovSwitchingParams": "regimes_markov",
    "fit_markov_switching": "regimes_markov",
    "markov_filter": "regimes_markov",
    "markov_regimes": "regimes_markov",
    "HURST_METHODS": "hurst",
    "hurst_exponent": "hurst",
    "hurst_regimes": "hurst",
    "rolling_hurst": "hurst",
    # regime-conditional metrics
    "METRIC_COLUMNS": "regime_performance",
    "regime_metrics": "regime_performance",
    # sizing
    "KELLY_HAIRCUTS": "sizing",
    "atr_position_size": "sizing",
    "average_true_range": "sizing",
    "fixed_fractional_size": "sizing",
    "kelly_fraction": "sizing",
    "regime_scale": "sizing",
    "rolling_kelly": "sizing",
    "volatility_target_scale": "sizing",
    "PARITY_METHODS": "parity",
    "equal_risk_contribution": "parity",
    "inverse_volatility": "parity",
    "variance_shares": "parity",
    "rolling_risk_parity": "parity",
}
"""Public name -> the module of this package that defines it."""

_HOMES: dict[str, str] = {name: f"alphaloop.risk.{module}" for name, module in _HOME.items()}

__all__ = [
    "HURST_METHODS",
    "KELLY_HAIRCUTS",
    "METRIC_COLUMNS",
    "MIN_FACTOR_OBS",
    "PARITY_METHODS",
    "PROFILE_METHODS",
    "REGIME_METHODS",
    "SCENARIOS",
    "VAR_METHODS",
    "WARMUP",
    "CovarianceError",
    "CoverageTest",
    "DrawdownSummary",
    "FactorExposure",
    "FactorSetExposure",
    "GaussianHMMParams",
    "GroupConcentration",
    "MarkovSwitchingParams",
    "MonteCarloStress",
    "RegimeLabels",
    "RiskContributions",
    "RiskError",
    "RiskInputError",
    "RiskProfile",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "StressLimits",
    "StressReport",
    "VarBacktest",
    "VarEstimate",
    "asset_betas",
    "asset_shock",
    "atr_position_size",
    "average_true_range",
    "backtest_var",
    "bootstrap_stress",
    "check_confidence",
    "christoffersen_conditional_coverage",
    "christoffersen_independence",
    "detect_regimes",
    "drawdown_summary",
    "equal_risk_contribution",
    "estimate_var",
    "factor_exposures",
    "factor_set_exposure",
    "factor_shock",
    "fit_gaussian_hmm",
    "fit_markov_switching",
    "fixed_fractional_size",
    "forward_filter",
    "group_concentration",
    "historical_var",
    "hmm_regimes",
    "hurst_exponent",
    "hurst_regimes",
    "inverse_volatility",
    "kelly_fraction",
    "kupiec_pof",
    "market_beta",
    "markov_filter",
    "markov_regimes",
    "max_drawdown",
    "monthly_returns",
    "panel_returns",
    "portfolio_returns",
    "regime_metrics",
    "regime_scale",
    "replay_scenarios",
    "risk_contributions",
    "risk_profile",
    "rolling_hurst",
    "rolling_kelly",
    "rolling_risk_parity",
    "rolling_var_forecasts",
    "scenario",
    "stationary_bootstrap_indices",
    "transition_counts",
    "trend_regimes",
    "var_table",
    "variance_shares",
    "volatility_regimes",
    "volatility_target_scale",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access (PEP 562)."""
    value = load_public(__name__, _HOMES, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
