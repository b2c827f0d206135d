"""The research gate: a planted edge passes, noise and peeks fail, reasons are sentences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from alphaloop.research.evaluate import (
    CandidateResult,
    EvalContext,
    EvaluationProtocol,
    evaluate_candidate,
)
from alphaloop.research.gate import GatePolicy, gate_candidate, session_pbo
from alphaloop.validation import Verdict

from .synthetic import N_NOISE, Predictor, make_info, make_panel, spec

N_TRIALS = 1_000


@dataclass(frozen=True)
class Limits:
    """The goal constraints the gate reads (attribute names of research.goal.Constraints)."""

    max_turnover: float | None = None
    max_drawdown: float | None = None
    min_sharpe: float | None = None


@pytest.fixture(scope="module")
def ctx() -> EvalContext:
    panel = make_panel()
    info = make_info(panel)
    return EvalContext(panel, info, EvaluationProtocol(data_hash=info.content_hash), Predictor())


@pytest.fixture(scope="module")
def session(ctx: EvalContext) -> dict[str, CandidateResult]:
    specs = {f"noise{i}": spec({"expr": f"$noise{i}"}, rebalance="weekly") for i in range(N_NOISE)}
    specs["edge"] = spec({"expr": "$edge"})
    specs["peek"] = spec({"model": "peek/v1"})
    specs["crash"] = spec({"model": "crash/v1"})
    return {name: evaluate_candidate(ctx, s) for name, s in specs.items()}


def _var(session: dict[str, CandidateResult]) -> float:
    """Variance of the per-period Sharpe ratios of skill-less trials (the noise candidates)."""
    noise = [session[f"noise{i}"] for i in range(N_NOISE)]
    return float(np.var([r.metrics["sharpe_per_period"] for r in noise], ddof=1))


def _pbo(session: dict[str, CandidateResult]) -> float | None:
    ok = [r for r in session.values() if r.ok and r.lookahead["clean"]]
    return session_pbo(np.column_stack([r.returns for r in ok]))


def _gate(session: dict[str, CandidateResult], name: str, **kw: object) -> Verdict:
    args = {"n_trials": N_TRIALS, "trial_sr_var": _var(session), "pbo": _pbo(session)} | kw
    return gate_candidate(session[name], **args)  # type: ignore[arg-type]


def _gate_named(verdict: Verdict, name: str) -> bool:
    (g,) = [g for g in verdict.gates if g.name == name]
    return g.passed


def test_the_planted_edge_passes_every_gate(session: dict[str, CandidateResult]) -> None:
    verdict = _gate(session, "edge")
    assert verdict.passed, verdict.reasons
    names = [g.name for g in verdict.gates]
    assert names == ["lookahead", "dsr", "pbo", "round_trips", "years", "folds", "regimes"]
    assert all(r.endswith(".") for r in verdict.reasons)
    assert "1,000 trials" in verdict.gates[1].reason


def test_pure_noise_fails_the_deflated_sharpe_with_many_trials(
    session: dict[str, CandidateResult],
) -> None:
    for i in range(N_NOISE):
        verdict = _gate(session, f"noise{i}")
        assert not verdict.passed
        assert not _gate_named(verdict, "dsr"), verdict.gates[1].reason


def test_a_peek_fails_the_gate_on_the_lookahead_scan(session: dict[str, CandidateResult]) -> None:
    verdict = _gate(session, "peek")
    assert session["peek"].metrics["sharpe"] > 5  # the peek looks wonderful
    assert not verdict.passed
    assert not _gate_named(verdict, "lookahead")
    assert any("later data is removed" in r for r in verdict.reasons)
    relaxed = _gate(session, "peek", policy=GatePolicy(require_clean_lookahead=False))
    assert _gate_named(relaxed, "lookahead")


def test_a_failed_evaluation_fails_with_its_reason(session: dict[str, CandidateResult]) -> None:
    verdict = _gate(session, "crash")
    assert not verdict.passed
    assert verdict.reasons == [
        "The evaluation failed: RuntimeError: the model's feature pipeline broke."
    ]


def test_constraints_and_unmeasured_pbo(session: dict[str, CandidateResult]) -> None:
    tight = Limits(max_turnover=0.5, max_drawdown=0.01, min_sharpe=0.0)
    verdict = _gate(session, "edge", constraints=tight)
    failed = {g.name for g in verdict.gates if not g.passed}
    assert failed == {"turnover", "drawdown"}
    loose = Limits(max_turnover=1e6, max_drawdown=0.99, min_sharpe=1.0)
    assert _gate(session, "edge", constraints=loose).passed
    unmeasured = _gate(session, "edge", pbo=None)
    assert not unmeasured.passed
    assert not _gate_named(unmeasured, "pbo")


def test_the_gate_is_deterministic(session: dict[str, CandidateResult]) -> None:
    assert _gate(session, "edge").to_dict() == _gate(session, "edge").to_dict()
    assert _gate(session, "noise3").to_dict() == _gate(session, "noise3").to_dict()


def test_the_regime_gate_can_use_a_given_benchmark(
    ctx: EvalContext, session: dict[str, CandidateResult]
) -> None:
    close = np.asarray(ctx.panel["close"])
    market = np.r_[np.nan, np.nanmean(close[1:] / close[:-1] - 1.0, axis=1)]
    verdict = _gate(session, "edge", benchmark=market)
    assert _gate_named(verdict, "regimes")


def test_session_pbo_tells_selection_from_noise() -> None:
    rng = np.random.default_rng(3)
    noise = 0.01 * rng.standard_normal((2000, 40))
    assert 0.2 < session_pbo(noise) < 0.8  # type: ignore[operator]
    skilled = noise.copy()
    skilled[:, 0] += 0.004
    assert session_pbo(skilled) < 0.05  # type: ignore[operator]
    assert session_pbo(noise) == session_pbo(noise)
    assert session_pbo(noise[:, :1]) is None
    late = noise.copy()
    late[:500, 1:] = np.nan  # candidates that start later: flat before
    assert session_pbo(late) is not None
