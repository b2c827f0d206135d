"""LLM research sessions end to end on bundled data, against a local OpenAI-protocol server:
replay from the cache with the server gone gives the same database; no holdout number reaches
a prompt; LLM-proposed results are also reported after the model's knowledge cut-off."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.app.research import start_research
from alphaloop.app.research_llm import LLMOptions
from alphaloop.llm import LLMClient
from alphaloop.research.session import SessionConfig
from alphaloop.research.strategy_records import EvaluationRecord
from tests.llm.servers import Reply, openai_body
from tests.research.llm_support import researcher, settings_for

GOAL = "long-only strategies, monthly rebalancing"
DATA = "sp500-stocks"
CUTOFF = dt.date(2012, 1, 1)
WALL_CLOCK = {"created_at", "updated_at", "finished_at"}
TABLES = ("strategies", "strategy_parents", "evaluations", "dataset_trials", "agent_decisions")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("llm") / "base"
    with Workspace(root, holdout_fraction=0.2) as ws:
        ws.data.ensure_bundled()
    return root


@pytest.fixture
def copy(base: Path, tmp_path: Path) -> Iterator[Any]:
    opened: list[Workspace] = []

    def make(name: str) -> Workspace:
        shutil.copytree(base, tmp_path / name)
        ws = Workspace(tmp_path / name, holdout_fraction=0.2)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


def _config(**kw: Any) -> SessionConfig:
    return SessionConfig(
        **{
            "budget": 8,
            "batch_size": 4,
            "workers": 1,
            "seed": 5,
            "ml": False,
            "picks": 0,
            "policy": "llm",
            **kw,
        }
    )


def _contents(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """The research tables' rows without wall-clock columns, in a stable order."""
    out = {}
    with sqlite3.connect(db) as conn:
        for table in TABLES:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if c not in WALL_CLOCK]
            rows = conn.execute(f"SELECT {', '.join(keep)} FROM {table}").fetchall()
            out[table] = sorted(rows, key=repr)
    return out


def test_session_replays_from_its_cache_with_no_network(
    copy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "responses.sqlite"
    first = copy("first")
    with researcher() as server:
        server.script = [Reply(body=openai_body("no JSON here")), Reply(body=openai_body("{}"))]
        settings = settings_for(server.url, knowledge_cutoff=CUTOFF)
        recorded = start_research(
            first,
            GOAL,
            DATA,
            _config(),
            report=tmp_path / "first.html",
            llm=LLMOptions(cache="use", cache_path=cache, settings=settings),
        )
    n_requests = len(server.requests)
    decisions = first.strategies.decisions(recorded.session_id)
    origins = [d.context.get("origin") for d in decisions]
    assert origins.count("fallback") == 1  # the first answer and its repair were malformed
    assert origins.count("llm") >= 6
    assert all(d.rationale.startswith(("llm ", "fallback ")) for d in decisions)

    # the server is gone; any attempt to reach it would fail the test
    def no_network(self: LLMClient, request: dict[str, Any]) -> Any:
        raise AssertionError("replay made an HTTP call")

    monkeypatch.setattr(LLMClient, "_send", no_network)
    second = copy("second")
    replayed = start_research(
        second,
        GOAL,
        DATA,
        _config(),
        report=tmp_path / "second.html",
        llm=LLMOptions(cache="replay", cache_path=cache, settings=settings),
    )
    assert len(server.requests) == n_requests
    assert _contents(first.root / "alphaloop.db") == _contents(second.root / "alphaloop.db")
    assert recorded.summary["llm"] == replayed.summary["llm"]


def test_post_cutoff_figures_come_first(copy: Any, tmp_path: Path) -> None:
    ws = copy("guard")
    with researcher() as server:
        result = start_research(
            ws,
            GOAL,
            DATA,
            _config(budget=4),
            report=tmp_path / "guard.html",
            llm=LLMOptions(cache="off", settings=settings_for(server.url, knowledge_cutoff=CUTOFF)),
        )
    guard = result.summary["llm"]
    assert guard["knowledge_cutoff"] == "2012-01-01"
    assert guard["span"]["start"] >= "2012-01-02"
    assert guard["span"]["n_bars"] > 63
    assert guard["origins"] == {"llm": 4}
    boundary = ws.data.holdouts.get(DATA).boundary
    times = ws.data.load(DATA).index  # the search span: the catalog stops before the holdout
    assert times[-1] < boundary
    rows = [c for c in guard["candidates"] if c["status"] == "ok"]
    assert rows
    protocol = result.summary["session"]["config"]["protocol"]
    from alphaloop.research.evaluate import EvaluationProtocol

    key = EvaluationProtocol.model_validate(protocol).key()
    for row in rows:
        ev = ws.strategies.evaluation(row["hash"], key)
        returns = np.asarray(ev.returns, dtype=np.float64)
        t = times[-len(returns) :].tz_convert(None)
        x = returns[(t >= np.datetime64("2012-01-02")) & np.isfinite(returns)]
        expected = x.mean() / x.std(ddof=1) * math.sqrt(252)
        assert row["post_cutoff"]["n_bars"] == len(x)
        assert row["post_cutoff"]["sharpe"] == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert list(row)[:3] == ["hash", "name", "post_cutoff"]  # shown first
    html = (tmp_path / "guard.html").read_text()
    assert html.index("llm-guard-table") < html.index('id="counts"')
    assert html.index("post-cut-off Sharpe") < html.index("search-span Sharpe")


def test_no_holdout_number_reaches_a_prompt(copy: Any) -> None:
    ws = copy("sealed")
    earlier = start_research(ws, GOAL, DATA, _config(policy="bandit", budget=8, picks=1))
    # plant holdout results next to the search results an LLM prompt is built from
    planted = {"sharpe_ratio": 9.876, "annual_return": 0.8642, "max_drawdown": -0.0123}
    hashes = [
        d.strategy_hash for d in ws.strategies.decisions(earlier.session_id) if d.strategy_hash
    ]
    for h in hashes:
        ws.strategies.record_evaluation(
            EvaluationRecord(
                strategy_hash=h,
                protocol="holdout",
                status="ok",
                reason=None,
                sharpe=9.876,
                metrics=planted,
                folds=[],
                lookahead={},
                validation=None,
                passed=True,
                returns=None,
                provenance={},
                session_id=earlier.session_id,
            )
        )
    assert ws.strategies.evaluation(hashes[0], "holdout").sharpe == 9.876
    ws.strategies.update_session(
        earlier.session_id,
        holdout={"evaluated": True, "strategies": [{"name": "x", "metrics": planted}]},
    )
    with researcher() as server:
        start_research(
            ws,
            GOAL,
            DATA,
            _config(),
            llm=LLMOptions(cache="off", settings=settings_for(server.url)),
        )
    prompts = server.prompts()
    assert prompts
    text = "\n".join(prompts)
    assert "search Sharpe" in text
    assert any(h[:12] in text for h in hashes)  # the earlier session's results are in it
    for value in ("9.876", "0.864", "-0.012", "0.012"):
        assert value not in text
    assert "holdout" not in text.lower()
    for request in server.requests:
        assert "9.876" not in json.dumps(request["body"])
