"""Validation: tell skill from luck and keep test data out of training.

Statistics that discount a backtest for chance and for the number of trials
(PSR, DSR, MinTRL, MinBTL, PBO), multiple-testing adjustments, SPA/Reality
Check/StepM/MCS, permutation tests, regime sensitivity, gates, and
cross-validation splitters for labels that span time (purged k-fold,
walk-forward, combinatorial purged CV), which purge training labels that
overlap a test period and embargo the rows after it.

Public names load on first use (:func:`alphaloop.faces.load_public`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.validation.bootstrap import (
        BootstrapKind,
        BootstrapSettings,
        MCSResult,
        RealityCheckResult,
        SPAResult,
        StepMResult,
        model_confidence_set,
        reality_check,
        spa_test,
        stepm,
    )
    from alphaloop.validation.multiple import CorrectionMethod, MultipleTestResult, adjust_pvalues
    from alphaloop.validation.pbo import METRICS, PBOResult, probability_of_backtest_overfitting
    from alphaloop.validation.permutation import PermutationResult, signal_permutation_test
    from alphaloop.validation.policy import GateResult, ValidationPolicy, Verdict
    from alphaloop.validation.regimes import (
        DEFAULT_CRISES,
        CrisisWindow,
        RegimePerformance,
        RegimeReport,
        market_regimes,
        regime_performance,
    )
    from alphaloop.validation.report import validation_section
    from alphaloop.validation.sharpe import (
        NO_DEFLATION_BELOW,
        DSRResult,
        StatisticsError,
        deflated_sharpe_ratio,
        dsr,
        effective_number_of_trials,
        expected_max_sharpe,
        min_backtest_length,
        min_track_record_length,
        probabilistic_sharpe_ratio,
        psr,
        sharpe_ratio,
    )
    from alphaloop.validation.splits import (
        CombinatorialPurgedCV,
        PurgedKFold,
        SplitError,
        WalkForward,
    )
    from alphaloop.validation.walkforward import oos_is_ratio

_HOME: dict[str, str] = {
    "BootstrapKind": "alphaloop.validation.bootstrap",
    "BootstrapSettings": "alphaloop.validation.bootstrap",
    "MCSResult": "alphaloop.validation.bootstrap",
    "RealityCheckResult": "alphaloop.validation.bootstrap",
    "SPAResult": "alphaloop.validation.bootstrap",
    "StepMResult": "alphaloop.validation.bootstrap",
    "model_confidence_set": "alphaloop.validation.bootstrap",
    "reality_check": "alphaloop.validation.bootstrap",
    "spa_test": "alphaloop.validation.bootstrap",
    "stepm": "alphaloop.validation.bootstrap",
    "CorrectionMethod": "alphaloop.validation.multiple",
    "MultipleTestResult": "alphaloop.validation.multiple",
    "adjust_pvalues": "alphaloop.validation.multiple",
    "METRICS": "alphaloop.validation.pbo",
    "PBOResult": "alphaloop.validation.pbo",
    "probability_of_backtest_overfitting": "alphaloop.validation.pbo",
    "PermutationResult": "alphaloop.validation.permutation",
    "signal_permutation_test": "alphaloop.validation.permutation",
    "GateResult": "alphaloop.validation.policy",
    "ValidationPolicy": "alphaloop.validation.policy",
    "Verdict": "alphaloop.validation.policy",
    "CrisisWindow": "alphaloop.validation.regimes",
    "DEFAULT_CRISES": "alphaloop.validation.regimes",
    "RegimePerformance": "alphaloop.validation.regimes",
    "RegimeReport": "alphaloop.validation.regimes",
    "market_regimes": "alphaloop.validation.regimes",
    "regime_performance": "alphaloop.validation.regimes",
    "validation_section": "alphaloop.validation.report",
    "DSRResult": "alphaloop.validation.sharpe",
    "NO_DEFLATION_BELOW": "alphaloop.validation.sharpe",
    "StatisticsError": "alphaloop.validation.sharpe",
    "deflated_sharpe_ratio": "alphaloop.validation.sharpe",
    "dsr": "alphaloop.validation.sharpe",
    "effective_number_of_trials": "alphaloop.validation.sharpe",
    "expected_max_sharpe": "alphaloop.validation.sharpe",
    "min_backtest_length": "alphaloop.validation.sharpe",
    "min_track_record_length": "alphaloop.validation.sharpe",
    "probabilistic_sharpe_ratio": "alphaloop.validation.sharpe",
    "psr": "alphaloop.validation.sharpe",
    "sharpe_ratio": "alphaloop.validation.sharpe",
    "CombinatorialPurgedCV": "alphaloop.validation.splits",
    "PurgedKFold": "alphaloop.validation.splits",
    "SplitError": "alphaloop.validation.splits",
    "WalkForward": "alphaloop.validation.splits",
    "oos_is_ratio": "alphaloop.validation.walkforward",
}
"""Public name -> the module of this package that defines it."""

__all__ = [
    "DEFAULT_CRISES",
    "METRICS",
    "NO_DEFLATION_BELOW",
    "BootstrapKind",
    "BootstrapSettings",
    "CombinatorialPurgedCV",
    "CorrectionMethod",
    "CrisisWindow",
    "DSRResult",
    "GateResult",
    "MCSResult",
    "MultipleTestResult",
    "PBOResult",
    "PermutationResult",
    "PurgedKFold",
    "RealityCheckResult",
    "RegimePerformance",
    "RegimeReport",
    "SPAResult",
    "SplitError",
    "StatisticsError",
    "StepMResult",
    "ValidationPolicy",
    "Verdict",
    "WalkForward",
    "adjust_pvalues",
    "deflated_sharpe_ratio",
    "dsr",
    "effective_number_of_trials",
    "expected_max_sharpe",
    "market_regimes",
    "min_backtest_length",
    "min_track_record_length",
    "model_confidence_set",
    "oos_is_ratio",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "psr",
    "reality_check",
    "regime_performance",
    "sharpe_ratio",
    "signal_permutation_test",
    "spa_test",
    "stepm",
    "validation_section",
]


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
