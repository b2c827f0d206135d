"""The strategy database on SQLite and PostgreSQL: idempotent records, O(1) trial counters
that stay right under concurrent writers, prefix lookup, genealogy, coverage, returns."""

from __future__ import annotations

import math
import multiprocessing as mp
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.backtest import StrategySpec, quick_spec
from alphaloop.errors import (
    AmbiguousStrategyError,
    ConfigError,
    ResearchSessionNotFoundError,
    StrategyNotFoundError,
)
from alphaloop.research import (
    DecisionRecord,
    EvaluationRecord,
    Parentage,
    StrategyDB,
)
from alphaloop.store import Database

DATA = "sp500-stocks"
PPY = 252.0


def spec(window: int, data: str = DATA, **over: Any) -> StrategySpec:
    return quick_spec(f"$close / Ref($close, {window}) - 1", data, **over)


def ev(
    strategy_hash: str,
    sharpe: float | None = 1.0,
    *,
    protocol: str = "p1",
    status: str = "ok",
    passed: bool | None = None,
    session_id: int | None = None,
    returns: np.ndarray | None = None,
    metrics: dict[str, Any] | None = None,
) -> EvaluationRecord:
    return EvaluationRecord(
        strategy_hash=strategy_hash,
        protocol=protocol,
        status=status,
        reason=None if status == "ok" else "RuntimeError: boom",
        sharpe=sharpe,
        metrics={"periods_per_year": PPY} if metrics is None else metrics,
        folds=[{"start": "2010-01-01", "end": "2011-01-01", "sharpe": 0.5}],
        lookahead={"clean": True, "checked": 3, "findings": []},
        validation=None,
        passed=passed,
        returns=returns,
        provenance={"data_hash": "abc", "code_version": "0", "seed": 0},
        session_id=session_id,
    )


@pytest.fixture
def ws(tmp_path: Path, db_settings: dict[str, str]) -> Iterator[Workspace]:
    with Workspace(tmp_path / "ws", **db_settings) as workspace:
        yield workspace


@pytest.fixture
def sdb(ws: Workspace) -> StrategyDB:
    return ws.strategies


def test_a_strategy_is_stored_once_with_its_classification(sdb: StrategyDB) -> None:
    s = spec(20)
    first = sdb.record_strategy(s, family="momentum", origin="research")
    again = sdb.record_strategy(s, family="other", origin="manual")
    assert again == first
    assert (first.hash, first.dataset, first.family, first.logic) == (
        s.hash,
        DATA,
        "momentum",
        "top_k",
    )
    assert first.spec == s.model_dump(mode="json")
    assert StrategySpec.from_dict(first.spec).hash == s.hash
    assert sdb.get(s.hash) == first
    with pytest.raises(ConfigError, match="kind"):
        sdb.record_strategy(spec(21), kind="robot")


def test_lookup_by_unique_prefix_and_typed_errors(sdb: StrategyDB) -> None:
    # two specs whose hashes share 6 hex digits (a deterministic search)
    seen: dict[str, StrategySpec] = {}
    pair = None
    for window in range(2, 50_000):
        s = spec(window)
        other = seen.setdefault(s.hash[:6], s)
        if other is not s:
            pair = (other, s)
            break
    assert pair is not None
    a, b = pair
    sdb.record_strategy(a)
    sdb.record_strategy(b)
    with pytest.raises(AmbiguousStrategyError, match="more than one"):
        sdb.get(a.hash[:6])
    common = next(i for i in range(64) if a.hash[i] != b.hash[i])
    assert sdb.get(a.hash[: common + 1]).hash == a.hash
    assert sdb.get(b.hash[: common + 1].upper()).hash == b.hash
    with pytest.raises(StrategyNotFoundError, match="at least 6"):
        sdb.get(a.hash[:5])
    with pytest.raises(StrategyNotFoundError):
        sdb.get("zzzzzzzz")
    missing = "f" * 64 if not a.hash.startswith("ffffff") else "0" * 64
    with pytest.raises(StrategyNotFoundError):
        sdb.get(missing)
    assert not issubclass(StrategyNotFoundError, ConfigError)
    assert StrategyNotFoundError("x").exit_code == 2


def test_an_evaluation_is_recorded_once_and_counts_one_trial(sdb: StrategyDB) -> None:
    s = spec(20)
    sdb.record_strategy(s)
    assert sdb.n_trials(DATA) == 0
    assert sdb.record_evaluation(ev(s.hash, 1.0)) is True
    before = sdb.evaluation(s.hash, "p1")
    assert sdb.record_evaluation(ev(s.hash, 5.0, metrics={"x": 1})) is False
    assert sdb.evaluation(s.hash, "p1") == before
    assert sdb.n_trials(DATA) == 1
    # another protocol for the same strategy: stored, still one trial, Sharpe counted once
    assert sdb.record_evaluation(ev(s.hash, 2.0, protocol="p2")) is True
    assert sdb.n_trials(DATA) == 1
    n, mean, var = sdb.trial_sharpe_stats(DATA)
    assert (n, var) == (1, 0.0)
    assert mean == pytest.approx(1.0 / math.sqrt(PPY))
    assert [e.protocol for e in sdb.strategy_evaluations(s.hash)] == ["p1", "p2"]
    with pytest.raises(StrategyNotFoundError, match="record the strategy first"):
        sdb.record_evaluation(ev("a" * 64))
    with pytest.raises(ConfigError, match="status"):
        sdb.record_evaluation(ev(s.hash, protocol="p3", status="great"))


def test_failed_trials_count_and_sharpe_moments_follow_first_ok(sdb: StrategyDB) -> None:
    sharpes = [0.4, -0.2, 1.3]
    for window, sr in zip((5, 10, 15), sharpes, strict=True):
        s = spec(window)
        sdb.record_strategy(s)
        sdb.record_evaluation(ev(s.hash, sr))
    crashed = spec(30)
    sdb.record_strategy(crashed)
    sdb.record_evaluation(ev(crashed.hash, None, status="failed"))
    assert sdb.n_trials(DATA) == 4
    assert sdb.n_trials("other") == 0
    per_period = np.array(sharpes) / math.sqrt(PPY)
    n, mean, var = sdb.trial_sharpe_stats(DATA)
    assert n == 3
    assert mean == pytest.approx(per_period.mean())
    assert var == pytest.approx(per_period.var(ddof=1))
    # a later ok evaluation of the crashed strategy adds its Sharpe, not a trial
    sdb.record_evaluation(ev(crashed.hash, 0.9, protocol="p2", metrics={"sharpe_per_period": 0.05}))
    assert sdb.n_trials(DATA) == 4
    n, mean, _ = sdb.trial_sharpe_stats(DATA)
    assert n == 4
    assert mean == pytest.approx((per_period.sum() + 0.05) / 4)


def test_returns_round_trip_as_float32(sdb: StrategyDB) -> None:
    rng = np.random.default_rng(7)
    r = rng.normal(0, 0.01, 2_000)
    r[5] = np.nan
    s, t = spec(20), spec(25)
    sdb.record_strategy(s)
    sdb.record_strategy(t)
    sdb.record_evaluation(ev(s.hash, returns=r))
    sdb.record_evaluation(ev(t.hash, returns=None))
    back = sdb.evaluation(s.hash, "p1")
    assert back is not None
    assert back.returns is not None
    assert back.returns.dtype == np.float32
    np.testing.assert_array_equal(back.returns, r.astype(np.float32))
    back.returns[0] = 1.0  # a writable copy
    other = sdb.evaluation(t.hash, "p1")
    assert other is not None
    assert other.returns is None
    assert back.folds[0]["sharpe"] == 0.5
    assert back.lookahead["clean"] is True


def test_genealogy_walks_both_parents_to_the_depth_asked(sdb: StrategyDB) -> None:
    root, other, child, grandchild = spec(10), spec(20), spec(30), spec(40)
    sdb.record_strategy(root)
    sdb.record_strategy(other)
    sdb.record_strategy(
        child, parentage=Parentage(root.hash, None, "param", {"new_parameter": True})
    )
    sdb.record_strategy(
        grandchild,
        parentage=Parentage(child.hash, other.hash, "crossover", {"crossover": True}),
    )
    sdb.record_evaluation(ev(child.hash, 0.7))
    tree = sdb.genealogy(grandchild.hash[:10], depth=3)
    assert tree["operator"] == "crossover"
    assert tree["exploration"] == {"crossover": True}
    assert [p["hash"] for p in tree["parents"]] == [child.hash, other.hash]
    first = tree["parents"][0]
    assert first["sharpe"] == 0.7
    assert first["operator"] == "param"
    assert [p["hash"] for p in first["parents"]] == [root.hash]
    assert first["parents"][0]["parents"] == []
    assert first["parents"][0]["operator"] is None
    shallow = sdb.genealogy(grandchild.hash, depth=1)
    assert shallow["parents"][0]["parents"] == []
    assert shallow["parents"][0]["more"] is True
    assert shallow["parents"][1]["more"] is False
    assert sdb.genealogy(grandchild.hash, depth=0)["parents"] == []
    assert sdb.parentage(child.hash) == Parentage(root.hash, None, "param", {"new_parameter": True})
    assert sdb.parentage(root.hash) is None


def test_underexplored_groups_fewest_first(sdb: StrategyDB) -> None:
    plan = [  # (window, kind, family, sharpe, passed)
        (10, "pure_technical", "momentum", 1.0, True),
        (11, "pure_technical", "momentum", 0.0, False),
        (12, "pure_technical", "momentum", None, None),  # crashed
        (13, "pure_technical", "volatility", 0.6, None),
        (14, "hybrid_ml", "momentum", -0.4, True),
        (15, "hybrid_ml", "momentum", 0.2, False),
    ]
    for window, kind, family, sr, passed in plan:
        s = spec(window)
        sdb.record_strategy(s, kind=kind, family=family)
        status = "failed" if sr is None else "ok"
        sdb.record_evaluation(ev(s.hash, sr, status=status, passed=passed))
    sdb.record_strategy(spec(99), family="never_evaluated")
    rows = sdb.underexplored()
    assert [(r["kind"], r["family"], r["n"]) for r in rows] == [
        ("pure_technical", "volatility", 1),
        ("hybrid_ml", "momentum", 2),
        ("pure_technical", "momentum", 3),
    ]
    assert rows[1]["mean_sharpe"] == pytest.approx(-0.1)
    assert rows[2]["mean_sharpe"] == pytest.approx(0.5)  # the crash has no Sharpe
    assert [r["n_passed"] for r in rows] == [0, 1, 1]
    assert all(r["logic"] == "top_k" for r in rows)
    assert sdb.underexplored("other") == []


def test_top_recent_and_by_model(sdb: StrategyDB) -> None:
    session_id = sdb.create_session(DATA, "momentum", {}, {"budget": 3}, [])
    rows = [(10, 0.5, True, None), (11, 1.5, False, session_id), (12, 1.0, True, session_id)]
    for window, sr, passed, sid in rows:
        s = spec(window)
        sdb.record_strategy(s, session_id=sid)
        sdb.record_evaluation(
            ev(s.hash, sr, passed=passed, session_id=sid, metrics={"turnover": 10 - sr})
        )
    other = spec(20, data="sp500-index")
    sdb.record_strategy(other)
    sdb.record_evaluation(ev(other.hash, 9.0))
    assert [r["sharpe"] for r in sdb.top(limit=3)] == [9.0, 1.5, 1.0]
    assert [r["sharpe"] for r in sdb.top(dataset=DATA)] == [1.5, 1.0, 0.5]
    assert [r["sharpe"] for r in sdb.top(dataset=DATA, passed=True)] == [1.0, 0.5]
    assert [r["sharpe"] for r in sdb.top(session_id=session_id)] == [1.5, 1.0]
    assert [r["sharpe"] for r in sdb.top("turnover", dataset=DATA)] == [0.5, 1.0, 1.5]
    assert sdb.recent(2)[0]["hash"] == other.hash
    assert [r["dataset"] for r in sdb.recent(dataset=DATA)] == [DATA] * 3
    ml = StrategySpec.from_dict(spec(50).model_dump(mode="json") | {"signal": {"model": "m/v2"}})
    sdb.record_strategy(ml, kind="pure_ml", models=["m/v2"])
    sdb.record_strategy(spec(51), models=["m/v22"])
    assert [r["hash"] for r in sdb.by_model("m/v2")] == [ml.hash]
    assert sdb.by_model("m/v2")[0]["status"] is None  # not evaluated yet
    assert sdb.session(session_id)["n_evaluations"] == 2


def test_strategy_specs_are_the_latest_evaluated_oldest_first(sdb: StrategyDB) -> None:
    specs = [spec(w) for w in (10, 20, 30, 40)]
    for s in specs:
        sdb.record_strategy(s)
        sdb.record_evaluation(ev(s.hash))
    sdb.record_strategy(spec(50))  # never evaluated: not a trial
    got = sdb.strategy_specs(DATA, limit=3)
    assert [StrategySpec.from_dict(d).hash for d in got] == [s.hash for s in specs[1:]]
    assert sdb.strategy_specs("other") == []


def test_sessions_decisions_and_verdicts(sdb: StrategyDB) -> None:
    sid = sdb.create_session(DATA, "beat the index", {"long_only": True}, {"seed": 1}, ["m/v1"])
    assert sdb.session(sid)["status"] == "running"
    s = spec(10)
    sdb.record_strategy(s, origin="research", session_id=sid)
    decisions = [
        DecisionRecord(0, 0, "strategy", "seed", "random", s.hash, [], "first", {"arm": "a"}, 0),
        DecisionRecord(1, 0, "strategy", "explore", "random", None, [s.hash], "next", {}, 0),
    ]
    sdb.record_decisions(sid, decisions)
    assert sdb.decisions(sid) == decisions
    sdb.record_evaluation(ev(s.hash, 0.8, protocol="abcd", session_id=sid))
    sdb.set_verdict(s.hash, "abcd", {"dsr": 0.97, "reasons": ["ok"]}, True)
    (stored,) = sdb.session_evaluations(sid, "abcd")
    assert (stored.passed, stored.validation) == (True, {"dsr": 0.97, "reasons": ["ok"]})
    assert sdb.session_evaluations(sid, "other") == []
    sdb.update_session(sid, status="finished", n_batches=2, summary={"best": s.hash})
    doc = sdb.session(sid)
    assert (doc["status"], doc["n_batches"], doc["summary"]) == ("finished", 2, {"best": s.hash})
    assert [x["id"] for x in sdb.sessions()] == [sid]
    with pytest.raises(ConfigError, match="dataset"):
        sdb.update_session(sid, dataset="other")
    with pytest.raises(ConfigError, match="status"):
        sdb.update_session(sid, status="great")
    with pytest.raises(ResearchSessionNotFoundError):
        sdb.session(sid + 100)
    with pytest.raises(StrategyNotFoundError):
        sdb.set_verdict(s.hash, "missing", {}, False)


# ---------------------------------------------------------------- concurrency
SHARED, OWN = 12, 6  # strategies both writers evaluate; strategies each evaluates alone


def _writer(url: str, schema: str | None, me: int, barrier: Any, results: Any) -> None:
    sdb = StrategyDB(Database(url, schema=schema))
    windows = [*range(2, 2 + SHARED), *range(100 + me * OWN, 100 + (me + 1) * OWN)]
    barrier.wait()
    stored = []
    for window in windows:
        s = spec(window)
        sdb.record_strategy(s)
        if sdb.record_evaluation(ev(s.hash, window / 100)):
            stored.append(window)
    sdb.db.dispose()
    results.put(stored)


def test_two_processes_racing_count_every_trial_once(ws: Workspace) -> None:
    ctx = mp.get_context("spawn")
    url, schema = ws.database_url, ws.settings.database_schema
    _ = ws.strategies.n_trials(DATA)  # the schema exists before the writers start
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, schema, i, barrier, results)) for i in (0, 1)]
    for p in procs:
        p.start()
    stored = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    windows = sorted(stored[0] + stored[1])
    expected = sorted([*range(2, 2 + SHARED), *range(100, 100 + 2 * OWN)])
    assert windows == expected  # every evaluation stored by exactly one writer
    sdb = ws.strategies
    assert sdb.n_trials(DATA) == SHARED + 2 * OWN
    per_period = np.array(expected) / 100 / math.sqrt(PPY)
    n, mean, var = sdb.trial_sharpe_stats(DATA)
    assert n == len(expected)
    assert mean == pytest.approx(per_period.mean())
    assert var == pytest.approx(per_period.var(ddof=1))


def test_records_by_hash_and_protocol_history(sdb: StrategyDB) -> None:
    sid = sdb.create_session(DATA, "g", {}, {}, [])
    earlier, mine, elsewhere = spec(10), spec(20), spec(30, data="sp500-index")
    r = np.linspace(-0.01, 0.01, 50)
    for s, session_id in ((earlier, None), (mine, sid), (elsewhere, None)):
        sdb.record_strategy(s, session_id=session_id)
        sdb.record_evaluation(ev(s.hash, protocol="k1", session_id=session_id, returns=r))
    sdb.record_evaluation(ev(earlier.hash, protocol="k2"))
    hashes = [earlier.hash, mine.hash, "0" * 64]
    assert set(sdb.strategies(hashes)) == {earlier.hash, mine.hash}
    assert sdb.strategies(hashes)[mine.hash].session_id == sid
    with_returns = sdb.evaluations(hashes, "k1")
    assert set(with_returns) == {earlier.hash, mine.hash}
    assert with_returns[mine.hash].returns is not None
    without = sdb.evaluations(hashes, "k1", returns=False)
    assert without[mine.hash].returns is None
    assert without[mine.hash].sharpe == with_returns[mine.hash].sharpe
    assert set(sdb.evaluations(hashes, "k2")) == {earlier.hash}
    history = sdb.protocol_history(DATA, "k1")
    assert [(st.hash, e.protocol) for st, e in history] == [(earlier.hash, "k1"), (mine.hash, "k1")]
    assert all(e.returns is None for _, e in history)
    assert [st.hash for st, _ in sdb.protocol_history(DATA, "k1", exclude_session=sid)] == [
        earlier.hash
    ]
