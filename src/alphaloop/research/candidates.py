"""Between the strategy database's records and what the session works with.

The policy's view of a stored candidate (search-span numbers only), the
stored status of an evaluation, an evaluation read back as a result for the
gate, and the variance of trial Sharpe ratios a batch is gated with.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from alphaloop.backtest import StrategySpec
    from alphaloop.research.evaluate import CandidateResult
    from alphaloop.research.policy import Candidate
    from alphaloop.research.strategy_db import DecisionRecord, EvaluationRecord

__all__ = [
    "candidate_from_records",
    "combined_variance",
    "failed_gates",
    "finite",
    "gate_value",
    "models_of",
    "result_from_record",
    "spec_of",
    "stored_status",
]


def failed_gates(validation: dict[str, Any] | None) -> list[str]:
    if not validation:
        return []
    return [g["name"] for g in validation.get("gates", []) if not g.get("passed")]


def candidate_from_records(
    strategy: Any, evaluation: EvaluationRecord | None, decision: DecisionRecord | None
) -> Candidate:
    """The policy's view of one stored candidate: search-span numbers only."""
    from alphaloop.research.policy import Candidate

    return Candidate(
        hash=strategy.hash,
        recipe=strategy.recipe or {},
        kind=strategy.kind,
        family=strategy.family,
        logic=strategy.logic,
        models=tuple(strategy.models),
        status=evaluation.status if evaluation else "pending",
        sharpe=evaluation.sharpe if evaluation and evaluation.status == "ok" else None,
        passed=evaluation.passed if evaluation else None,
        batch=decision.batch if decision else None,
        action=decision.action if decision else None,
        arm=(decision.context or {}).get("arm") if decision else None,
        parents=tuple(decision.parents) if decision else (),
    )


def stored_status(result: CandidateResult) -> str:
    """The stored status: refused (never ran, not a trial), failed (crashed), rejected
    (ran, but its lookahead scan found a peek: its numbers are never used), or ok."""
    if getattr(result, "refused", False):
        return "refused"
    if result.status != "ok":
        return "failed"
    if not (result.lookahead or {}).get("clean", True):
        return "rejected"
    return "ok"


def gate_value(validation: dict[str, Any] | None, name: str) -> float | None:
    for g in (validation or {}).get("gates", []):
        if g.get("name") == name:
            return g.get("value")
    return None


def finite(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def models_of(recipe: dict[str, Any]) -> list[str]:
    return list(recipe.get("models") or [])


def spec_of(strategy: Any) -> StrategySpec:
    from alphaloop.backtest import StrategySpec

    return StrategySpec.from_dict(strategy.spec, source=f"strategy {strategy.hash[:12]}")


def result_from_record(ev: EvaluationRecord) -> CandidateResult:
    from alphaloop.research.evaluate import CandidateResult

    return CandidateResult(
        spec_hash=ev.strategy_hash,
        status="ok" if ev.status == "rejected" else ev.status,
        reason=ev.reason,
        metrics=ev.metrics,
        folds=ev.folds,
        lookahead=ev.lookahead,
        returns=ev.returns,
        seconds={},
    )


def combined_variance(trials: dict[str, Any], batch_sharpes: list[float]) -> float:
    """Variance of per-period trial Sharpe ratios: earlier trials' moments plus this batch's."""
    n0 = int(trials.get("n") or 0)
    mean0 = float(trials.get("mean_sr") or 0.0)
    var0 = float(trials.get("var_sr") or 0.0)
    xs = np.asarray(batch_sharpes, dtype=np.float64)
    n1 = len(xs)
    n = n0 + n1
    if n < 2:
        return 0.0
    mean1 = float(xs.mean()) if n1 else 0.0
    ss0 = var0 * max(n0 - 1, 0)
    ss1 = float(((xs - mean1) ** 2).sum()) if n1 else 0.0
    delta = mean1 - mean0
    ss = ss0 + ss1 + (delta**2 * n0 * n1 / n if n0 and n1 else 0.0)
    return ss / (n - 1)
