"""The research gate: may an evaluated candidate count as a finding?

:func:`gate_candidate` applies a :class:`GatePolicy` to a
:class:`~alphaloop.research.evaluate.CandidateResult` and returns an
:class:`alphaloop.validation.Verdict` whose gates each say, in a sentence, why
they passed or failed. Every number is a search-span number; the trial count
is the dataset's (every candidate evaluated before this one, this one
included), so the deflated Sharpe ratio discounts the whole search. A value
that could not be measured fails its gate: an unmeasured quality is not a
passed one.

Gates, in order: ``evaluation`` (only for a failed evaluation), ``lookahead``,
the goal's constraints (``turnover``, ``drawdown``, ``min_sharpe``, when
set), ``dsr``, ``pbo``, ``round_trips``, ``years``, ``folds``, ``regimes``.

:func:`session_pbo` is the probability of backtest overfitting of choosing the
best of a session's candidates (CSCV, :func:`alphaloop.validation.
probability_of_backtest_overfitting`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from alphaloop.research.evaluate import CandidateResult
from alphaloop.validation.policy import GateResult, ValidationPolicy, Verdict

if TYPE_CHECKING:
    from alphaloop.research.goal import Constraints

__all__ = ["GatePolicy", "gate_candidate", "session_pbo"]


class GatePolicy(BaseModel):
    """Thresholds a research candidate must meet (defaults as :class:`ValidationPolicy`'s).

    Parameters
    ----------
    min_dsr : float, default 0.95
        Deflated Sharpe ratio against the dataset's trial count.
    max_pbo : float, default 0.5
        Probability of backtest overfitting of the session's selection.
    min_round_trips : int, default 30
    min_years : float, default 3.0
        Years of trading bars in the search span.
    min_regime_share : float, default 0.5
        Share of evaluated market regimes with a positive Sharpe ratio.
    require_clean_lookahead : bool, default True
        The lookahead scan must have run and found nothing.
    min_fold_share : float, default 0.6
        Share of walk-forward folds with a positive out-of-sample Sharpe ratio.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_dsr: float = Field(0.95, ge=0, le=1)
    max_pbo: float = Field(0.5, ge=0, le=1)
    min_round_trips: int = Field(30, ge=0)
    min_years: float = Field(3.0, ge=0)
    min_regime_share: float = Field(0.5, ge=0, le=1)
    require_clean_lookahead: bool = True
    min_fold_share: float = Field(0.6, ge=0, le=1)

    def as_validation_policy(self) -> ValidationPolicy:
        """The matching :class:`ValidationPolicy` (stored with the verdict)."""
        return ValidationPolicy(
            min_dsr=self.min_dsr,
            max_pbo=self.max_pbo,
            min_regime_share=self.min_regime_share,
            min_round_trips=self.min_round_trips,
            min_years=self.min_years,
        )


def _num(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _bound(name: str, value: Any, threshold: float, what: str, *, upper: bool) -> GateResult:
    v = _num(value)
    if v is None:
        return GateResult(name, False, None, threshold, f"{what} could not be measured.")
    ok = v <= threshold if upper else v >= threshold
    word = ("is within" if ok else "exceeds") if upper else ("meets" if ok else "is below")
    limit = "maximum" if upper else "minimum"
    return GateResult(
        name, ok, v, threshold, f"{what} {_fmt(v)} {word} the {limit} {_fmt(threshold)}."
    )


def _lookahead(result: CandidateResult, policy: GatePolicy) -> GateResult:
    clean = result.lookahead.get("clean")
    if not policy.require_clean_lookahead:
        return GateResult("lookahead", True, None, None, "The lookahead scan is not required.")
    if clean is None:
        return GateResult("lookahead", False, None, None, "The lookahead scan did not run.")
    checked = result.lookahead.get("checked", 0)
    if clean:
        return GateResult(
            "lookahead",
            True,
            1.0,
            1.0,
            f"The lookahead scan found no future data ({checked} re-runs).",
        )
    first = (result.lookahead.get("findings") or [{}])[0]
    where = f" in {first.get('output')} at {first.get('timestamp')}" if first else ""
    return GateResult(
        "lookahead",
        False,
        0.0,
        1.0,
        f"The lookahead scan found values that change when later data is removed{where}.",
    )


def _dsr(result: CandidateResult, n_trials: int, trial_sr_var: float) -> GateResult:
    from alphaloop.validation.sharpe import StatisticsError, deflated_sharpe_ratio

    m = result.metrics
    try:
        res = deflated_sharpe_ratio(
            float(m["sharpe_per_period"]),
            float(max(n_trials, 1)),
            float(max(trial_sr_var, 0.0)),
            int(m["n_obs"]),
            float(m["skew"]),
            float(m["kurtosis"]) + 3.0,  # compute_metrics reports excess kurtosis
        )
    except (StatisticsError, KeyError, ValueError, TypeError) as exc:
        return GateResult("dsr", False, None, None, f"The deflated Sharpe ratio failed: {exc}.")
    return GateResult("dsr", True, res.dsr, None, f"{res.sr0:.6g}")  # threshold set by caller


def _constraint_gates(result: CandidateResult, constraints: Any) -> list[GateResult]:
    if constraints is None:
        return []
    m = result.metrics
    gates = []
    if getattr(constraints, "max_turnover", None) is not None:
        gates.append(
            _bound(
                "turnover",
                m.get("turnover"),
                float(constraints.max_turnover),
                "Annual one-way turnover",
                upper=True,
            )
        )
    if getattr(constraints, "max_drawdown", None) is not None:
        dd = _num(m.get("max_drawdown"))
        gates.append(
            _bound(
                "drawdown",
                None if dd is None else abs(dd),
                float(constraints.max_drawdown),
                "Maximum drawdown",
                upper=True,
            )
        )
    if getattr(constraints, "min_sharpe", None) is not None:
        gates.append(
            _bound(
                "min_sharpe",
                m.get("sharpe"),
                float(constraints.min_sharpe),
                "Annualized Sharpe ratio",
                upper=False,
            )
        )
    return gates


def _regime_share(result: CandidateResult, benchmark: np.ndarray | None) -> float | None:
    if benchmark is None or result.returns is None:
        return _num(result.metrics.get("regime_share"))
    from alphaloop.validation.regimes import regime_performance

    market = np.asarray(benchmark, dtype=np.float64)
    r = np.asarray(result.returns, dtype=np.float64)
    if market.shape != r.shape:
        return None
    live = np.isfinite(r)
    index = pd.date_range("2000-01-03", periods=r.size, freq="B", tz="UTC")
    report = regime_performance(
        pd.Series(r[live], index=index[live]),
        pd.Series(np.nan_to_num(market), index=index),
        periods_per_year=float(result.metrics.get("periods_per_year", 252.0)),
        crisis_windows=(),
    )
    return _num(report.share_acceptable)


def gate_candidate(
    result: CandidateResult,
    *,
    n_trials: int,
    trial_sr_var: float,
    pbo: float | None,
    constraints: Constraints | None = None,
    policy: GatePolicy | None = None,
    benchmark: np.ndarray | None = None,
) -> Verdict:
    """Apply the gate to one evaluated candidate; deterministic.

    Parameters
    ----------
    result : CandidateResult
    n_trials : int
        Trials on the dataset so far, this one included (the DSR's ``N``).
    trial_sr_var : float
        Variance of the trials' per-period (not annualized) Sharpe ratios.
    pbo : float or None
        The session's probability of backtest overfitting (:func:`session_pbo`);
        None when it could not be measured, which fails the gate.
    constraints : Constraints, optional
        The goal's constraints: ``max_turnover`` (annual one-way),
        ``max_drawdown`` (positive fraction), ``min_sharpe`` (annualized).
    policy : GatePolicy, optional
        Default ``GatePolicy()``.
    benchmark : ndarray, optional
        Market returns on the same bars as ``result.returns``; when given the
        regime share is measured against it (volatility and trend regimes
        only: the bars carry no dates here), else the evaluation's
        ``regime_share`` against the equal-weight universe is used.

    Returns
    -------
    Verdict
        ``passed`` when every gate passed; ``policy`` is the matching
        :class:`ValidationPolicy`.
    """
    policy = policy or GatePolicy()
    vpolicy = policy.as_validation_policy()
    if result.status != "ok":
        reason = f"The evaluation failed: {result.reason}."
        return Verdict(False, [GateResult("evaluation", False, None, None, reason)], vpolicy)
    m = result.metrics
    gates = [_lookahead(result, policy), *_constraint_gates(result, constraints)]
    dsr = _dsr(result, n_trials, trial_sr_var)
    if dsr.value is None:
        gates.append(dsr)
    else:
        g = _bound("dsr", dsr.value, policy.min_dsr, "Deflated Sharpe ratio", upper=False)
        text = (
            g.reason[:-1]
            + f" after {n_trials:,} trials (expected best per-bar Sharpe {dsr.reason})."
        )
        gates.append(GateResult("dsr", g.passed, g.value, g.threshold, text))
    if pbo is None:
        gates.append(
            GateResult(
                "pbo", False, None, policy.max_pbo, "The session's PBO could not be measured."
            )
        )
    else:
        gates.append(
            _bound("pbo", pbo, policy.max_pbo, "Probability of backtest overfitting", upper=True)
        )
    gates += [
        _bound(
            "round_trips",
            m.get("n_round_trips"),
            policy.min_round_trips,
            "Round trips",
            upper=False,
        ),
        _bound("years", m.get("years"), policy.min_years, "Years of trading", upper=False),
        _bound(
            "folds",
            m.get("fold_share"),
            policy.min_fold_share,
            "Share of walk-forward folds with a positive Sharpe ratio",
            upper=False,
        ),
        _bound(
            "regimes",
            _regime_share(result, benchmark),
            policy.min_regime_share,
            "Share of market regimes with a positive Sharpe ratio",
            upper=False,
        ),
    ]
    return Verdict(all(g.passed for g in gates), gates, vpolicy)


def session_pbo(returns: np.ndarray, *, n_partitions: int = 16) -> float | None:
    """Probability of backtest overfitting of picking the best of a session's candidates.

    Combinatorially symmetric cross-validation over every column (no
    subsampling: the block statistics make a combination cost ``O(M S)``, so
    1,000 candidates over 8,000 bars take well under a second). Deterministic.

    Parameters
    ----------
    returns : ndarray, shape (T, M)
        Per-bar returns of the ``M`` candidates on the same bars; NaN (a
        candidate not yet trading) counts as 0, a flat book in cash. Rows
        where no candidate trades are dropped.
    n_partitions : int, default 16
        Blocks ``S`` (even); fewer when there are fewer than ``2 S`` rows.

    Returns
    -------
    float or None
        PBO in [0, 1]; None with fewer than 2 candidates or fewer than 4 rows.
    """
    from alphaloop.validation.pbo import probability_of_backtest_overfitting

    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        return None
    x = x[np.isfinite(x).any(axis=1)]
    x = np.where(np.isfinite(x), x, 0.0)
    s = min(n_partitions, (x.shape[0] // 2) // 2 * 2)
    if s < 2:
        return None
    return float(probability_of_backtest_overfitting(x, n_partitions=s).pbo)
