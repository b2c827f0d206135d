"""The same session on the process pool and on Ray, and with the model improver alongside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alphaloop.app import Workspace
from alphaloop.app.research import start_research
from alphaloop.research.session import SessionConfig

GOAL = "long-only strategies, monthly rebalancing"


def _run(root: Path, **config: Any) -> tuple[Workspace, Any]:
    ws = Workspace(root, holdout_fraction=0.2)
    ws.data.ensure_bundled()
    cfg = SessionConfig(**{"budget": 16, "batch_size": 8, "seed": 5, "picks": 0, **config})
    return ws, start_research(ws, GOAL, "sp500-stocks", cfg)


def _stored(ws: Workspace, session_id: int) -> list[tuple[Any, ...]]:
    key = ws.strategies.session(session_id)["config"]["protocol"]
    from alphaloop.research.evaluate import EvaluationProtocol

    protocol = EvaluationProtocol.model_validate(key).key()
    decisions = ws.strategies.decisions(session_id)
    hashes = [d.strategy_hash for d in decisions if d.strategy_hash]
    evals = ws.strategies.evaluations(hashes, protocol, returns=True)
    return [
        (
            d.seq,
            d.action,
            d.strategy_hash,
            evals[d.strategy_hash].status if d.strategy_hash else None,
            evals[d.strategy_hash].metrics if d.strategy_hash else None,
            evals[d.strategy_hash].passed if d.strategy_hash else None,
            evals[d.strategy_hash].returns.tobytes() if d.strategy_hash else None,
        )
        for d in decisions
    ]


@pytest.mark.slow
def test_ray_and_the_process_pool_store_the_same_session(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    local_ws, local = _run(tmp_path / "local", workers=2, executor="local", ml=False)
    ray_ws, on_ray = _run(tmp_path / "ray", workers=2, executor="ray", ml=False)
    try:
        assert _stored(local_ws, local.session_id) == _stored(ray_ws, on_ray.session_id)
        assert local.summary["counts"] == on_ray.summary["counts"]
    finally:
        local_ws.close()
        ray_ws.close()


@pytest.mark.slow
def test_the_model_improver_runs_alongside_in_its_own_process(tmp_path: Path) -> None:
    ws, result = _run(tmp_path / "ws", workers=1, improve=True)
    try:
        improver = result.summary["improver"]
        assert improver["started"]
        assert improver["exit_code"] == 0, improver["error"]
        (model,) = result.summary["models_start"]
        assert improver["results"]
        assert {r["ref"] for r in improver["results"]} == {model}
        for r in improver["results"]:
            assert r["decision"] in ("registered", "kept", "no proposals")
            # a new version only with a significant paired win, recorded in its lineage
            if r["new_ref"]:
                assert ws.models.get(r["new_ref"]).version == 2
    finally:
        ws.close()
