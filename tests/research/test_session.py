"""Research sessions end to end on bundled data: stored, reported, nothing evaluated twice,
and the sealed holdout out of every agent's reach."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.research import resume_research, start_research
from alphaloop.errors import GoalError, ResearchError
from alphaloop.research.policy import BanditPolicy, Candidate, ResearchView
from alphaloop.research.session import SessionConfig

GOAL = "long-only strategies, monthly rebalancing"


@pytest.fixture
def ws(tmp_path: Path) -> Any:
    # the default holdout (tests elsewhere run without one)
    with Workspace(tmp_path / "ws", holdout_fraction=0.2) as w:
        w.data.ensure_bundled()
        yield w


def _config(**kw: Any) -> SessionConfig:
    return SessionConfig(**{"budget": 24, "batch_size": 8, "workers": 1, "seed": 3, **kw})


class SpyPolicy:
    """The default policy, recording every view it is given."""

    name = "spy"

    def __init__(self) -> None:
        self.inner = BanditPolicy()
        self.views: list[ResearchView] = []

    def propose(self, view: ResearchView, n: int, rng: Any) -> Any:
        self.views.append(view)
        return self.inner.propose(view, n, rng)


def test_session_stores_gates_and_reports(ws: Workspace, tmp_path: Path) -> None:
    report = tmp_path / "session.html"
    result = start_research(ws, GOAL, "sp500-stocks", _config(), report=report)
    s = result.summary
    assert s["counts"]["evaluated"] == 24
    assert ws.strategies.n_trials("sp500-stocks") == 24
    assert sum(r["n"] for r in s["by_kind"]) == 24
    assert s["funnel"][0] == {"gate": "evaluated", "removed": 0, "left": 24}
    assert s["funnel"][-1]["left"] == s["n_survivors"]
    decisions = ws.strategies.decisions(result.session_id)
    assert all(d.rationale for d in decisions)
    assert {d.action for d in decisions} <= {"model", "seed", "exploit", "explore", "upgrade"}
    assert [d.agent for d in decisions if d.action == "model"] == ["ml_quant"]
    session = ws.strategies.session(result.session_id)
    assert session["status"] == "finished"
    assert report.exists()
    assert "sp500-stocks" in report.read_text()
    json.dumps(result.to_dict())


def test_second_identical_session_evaluates_nothing_twice(ws: Workspace) -> None:
    first = start_research(ws, GOAL, "sp500-stocks", _config(picks=0, ml=False))
    second = start_research(ws, GOAL, "sp500-stocks", _config(picks=0, ml=False))
    a = {
        d.strategy_hash for d in ws.strategies.decisions(first.session_id) if d.context["new_trial"]
    }
    b = {
        d.strategy_hash
        for d in ws.strategies.decisions(second.session_id)
        if d.context["new_trial"]
    }
    assert len(a) == 24
    assert len(b) == 24
    assert not a & b  # the second session proposed around what is stored
    assert ws.strategies.n_trials("sp500-stocks") == 48


def test_agents_never_see_the_holdout(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from alphaloop.research import executors

    shipped: list[Any] = []
    real = executors.make_executor

    def spy(kind: str, ctx: Any, **kw: Any) -> Any:
        shipped.append(ctx)
        return real(kind, ctx, **kw)

    monkeypatch.setattr(executors, "make_executor", spy)
    policy = SpyPolicy()
    result = start_research(ws, GOAL, "sp500-stocks", _config(budget=16), policy=policy)
    held = ws.data.holdouts.get("sp500-stocks")
    assert held is not None
    boundary = held.boundary
    assert boundary is not None
    assert shipped
    assert all(ctx.panel.index[-1] < boundary for ctx in shipped)
    # the market regime shown to the policy is the search span's, computed before it
    from alphaloop.research.regime_state import search_regimes

    search = ws.data.load("sp500-stocks")
    assert search.index[-1] < boundary
    for view in policy.views:
        assert view.regime == search_regimes(search)
        assert view.regime["as_of"] < boundary.date().isoformat()
    # no field of what a policy is shown can carry a holdout number
    for cls in (Candidate, ResearchView):
        assert not [f.name for f in fields(cls) if "holdout" in f.name.lower()]
    holdout = result.summary["holdout"]
    assert policy.views
    if holdout.get("evaluated"):
        numbers = {
            round(float(v), 10)
            for row in holdout["strategies"]
            for v in row["metrics"].values()
            if isinstance(v, float) and not math.isnan(v)
        }
        seen = {
            round(float(c.sharpe), 10)
            for view in policy.views
            for c in view.history
            if c.sharpe is not None
        }
        assert not numbers & seen
    # decisions and evaluations hold search-span results only
    for d in ws.strategies.decisions(result.session_id):
        assert "holdout" not in json.dumps(d.context)


def test_bad_input_fails_before_any_work(ws: Workspace) -> None:
    with pytest.raises(GoalError):
        start_research(ws, "", "sp500-stocks", _config())
    with pytest.raises(ResearchError, match="walk-forward"):
        start_research(ws, GOAL, "factor-etfs", _config(folds=30))
    assert ws.strategies.sessions() == []
    assert ws.strategies.n_trials("sp500-stocks") == 0


def test_resume_finishes_an_interrupted_session(ws: Workspace) -> None:
    class StopError(Exception):
        pass

    calls = {"n": 0}

    def stop_after_two(report: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StopError

    with pytest.raises(StopError):
        start_research(
            ws, GOAL, "sp500-stocks", _config(picks=0, ml=False), on_batch=stop_after_two
        )
    (session,) = ws.strategies.sessions()
    assert session["status"] == "failed"
    done = resume_research(ws, session["id"])
    assert done.summary["counts"]["evaluated"] == 24
    assert ws.strategies.n_trials("sp500-stocks") == 24
    with pytest.raises(ResearchError, match="finished already"):
        resume_research(ws, session["id"])
    assert pd.Timestamp(ws.strategies.session(session["id"])["created_at"]) is not None
