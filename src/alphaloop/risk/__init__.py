"""Risk as pure computation: causal regimes, regime-conditional metrics, position sizing.

The public names below are importable from ``alphaloop.risk`` directly; each
is loaded from its module on first use, so ``import alphaloop.risk`` stays
cheap (no statsmodels or hmmlearn until a model is fitted). The modules:

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
    :func:`risk_contributions`, :func:`rolling_risk_parity`.

Errors raised on purpose are :class:`alphaloop.errors.RiskError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.risk.hurst import HURST_METHODS, hurst_exponent, hurst_regimes, rolling_hurst
    from alphaloop.risk.parity import (
        PARITY_METHODS,
        equal_risk_contribution,
        inverse_volatility,
        risk_contributions,
        rolling_risk_parity,
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

_HOME: dict[str, str] = {
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
    "risk_contributions": "parity",
    "rolling_risk_parity": "parity",
}
"""Public name -> the module of this package that defines it."""

_HOMES: dict[str, str] = {name: f"alphaloop.risk.{module}" for name, module in _HOME.items()}

__all__ = [
    "HURST_METHODS",
    "KELLY_HAIRCUTS",
    "METRIC_COLUMNS",
    "PARITY_METHODS",
    "REGIME_METHODS",
    "WARMUP",
    "GaussianHMMParams",
    "MarkovSwitchingParams",
    "RegimeLabels",
    "atr_position_size",
    "average_true_range",
    "detect_regimes",
    "equal_risk_contribution",
    "fit_gaussian_hmm",
    "fit_markov_switching",
    "fixed_fractional_size",
    "forward_filter",
    "hmm_regimes",
    "hurst_exponent",
    "hurst_regimes",
    "inverse_volatility",
    "kelly_fraction",
    "markov_filter",
    "markov_regimes",
    "regime_metrics",
    "regime_scale",
    "risk_contributions",
    "rolling_hurst",
    "rolling_kelly",
    "rolling_risk_parity",
    "trend_regimes",
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
