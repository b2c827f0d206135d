"""The session loop on a synthetic panel: a peek never survives, pure noise yields no
survivor at the default gate, and a planted edge is found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from alphaloop.app import Workspace
from alphaloop.research.evaluate import EvalContext, EvaluationProtocol
from alphaloop.research.executors import make_executor
from alphaloop.research.gate import GatePolicy, gate_candidate, session_pbo
from alphaloop.research.goal import Constraints
from alphaloop.research.policy import Proposal, ResearchView
from alphaloop.research.session import SessionConfig, SessionLoop
from alphaloop.research.summary import session_summary

from .synthetic import N_NOISE, Predictor, make_info, make_panel, spec


class ListPolicy:
    """Proposes the recipes of a fixed list in order, skipping what is stored."""

    name = "list"

    def __init__(self, recipes: list[dict[str, Any]]) -> None:
        self.recipes = recipes

    def propose(self, view: ResearchView, n: int, rng: np.random.Generator) -> list[Proposal]:
        out = []
        for recipe in self.recipes:
            if _spec(recipe).hash in view.seen:
                continue
            out.append(
                Proposal(
                    recipe=recipe,
                    action="explore",
                    operator="fixed",
                    parents=(),
                    exploration={},
                    rationale=f"fixed list: {recipe['name']}",
                    context={"arm": "fixed"},
                )
            )
            if len(out) == n:
                break
        return out


def _spec(recipe: dict[str, Any]) -> Any:
    return spec(recipe["signal"], k=recipe.get("k", 5), name=recipe["name"])


def _noise(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        field = f"$noise{i % N_NOISE}"
        k = 3 + (i // N_NOISE) % 4
        out.append({"name": f"noise{i}", "signal": {"expr": field}, "k": k})
    return out


def _session(tmp_path: Path, recipes: list[dict[str, Any]], seed: int = 0) -> tuple[Any, int]:
    panel = make_panel()
    info = make_info(panel)
    ws = Workspace(tmp_path / "ws")
    db = ws.strategies
    constraints = Constraints()
    config = SessionConfig(budget=len(recipes), batch_size=8, workers=1, seed=seed, picks=0)
    protocol = EvaluationProtocol(
        data_hash=info.content_hash, search_end=panel.index[-1].date(), seed=seed
    )
    session_id = db.create_session("synth", "test", constraints.model_dump(mode="json"), {}, [])
    ctx = EvalContext(panel=panel, info=info, protocol=protocol, predictor=Predictor())

    def gate(result: Any, *, n_trials: int, trial_sr_var: float, pbo: float | None) -> Any:
        return gate_candidate(
            result,
            n_trials=n_trials,
            trial_sr_var=trial_sr_var,
            pbo=pbo,
            constraints=constraints,
            policy=GatePolicy(),
        )

    executor = make_executor("local", ctx, workers=1)
    loop = SessionLoop(
        db,
        session_id,
        policy=ListPolicy(recipes),
        executor=executor,
        protocol=protocol,
        constraints=constraints,
        config=config,
        models=(),
        gate=gate,
        pbo=session_pbo,
        to_spec=_spec,
        classify=lambda r: ("pure_technical", r["name"].rstrip("0123456789"), "top_k"),
    )
    try:
        loop.run()
    finally:
        executor.close()
    return loop, session_id


def _survivors(loop: Any, session_id: int) -> list[str]:
    summary = session_summary(loop.db, session_id, loop.protocol_key)
    return [s["name"] for s in summary["survivors"]]


def test_a_planted_peek_never_survives(tmp_path: Path) -> None:
    peek = {"name": "peek", "signal": {"model": "peek/v1"}}
    loop, sid = _session(tmp_path, [peek, *_noise(7)])
    ev = loop.db.evaluation(_spec(peek).hash, loop.protocol_key)
    assert ev is not None
    assert ev.status == "rejected"  # its lookahead scan found the peek
    assert ev.passed is False
    assert "peek" not in _survivors(loop, sid)
    assert loop.db.n_trials("synth") == 8  # the peek is a trial: it ran


def test_pure_noise_yields_no_survivor(tmp_path: Path) -> None:
    loop, sid = _session(tmp_path, _noise(24))
    assert loop.db.n_trials("synth") == 24
    assert _survivors(loop, sid) == []


def test_a_planted_edge_is_found_among_noise(tmp_path: Path) -> None:
    edge = {"name": "edge", "signal": {"expr": "$edge"}}
    loop, sid = _session(tmp_path, [*_noise(15), edge])
    assert _survivors(loop, sid)[:1] == ["edge"]


def test_a_crashing_candidate_is_a_counted_failed_trial_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    crash = {"name": "crash", "signal": {"model": "crash/v1"}}
    loop, sid = _session(tmp_path, [crash, *_noise(7)])
    ev = loop.db.evaluation(_spec(crash).hash, loop.protocol_key)
    assert ev is not None
    assert ev.status == "failed"
    assert "feature pipeline broke" in (ev.reason or "")
    assert loop.db.n_trials("synth") == 8  # counted, and the seven after it ran
    summary = session_summary(loop.db, sid, loop.protocol_key)
    assert summary["counts"]["failed"] == 1
    assert summary["funnel"][1] == {"gate": "crashed", "removed": 1, "left": 7}
