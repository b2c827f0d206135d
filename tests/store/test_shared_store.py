"""Eight processes writing to one store at once (SQLite in WAL mode and PostgreSQL):
strategies, evaluations, model versions, audit entries and runs; nothing lost, nothing
duplicated, version numbers without gaps, one valid audit chain."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from alphaloop.app import Workspace
from alphaloop.backtest import quick_spec
from alphaloop.execution.audit_log import AuditLog
from alphaloop.models.registry import ModelRegistry
from alphaloop.research import EvaluationRecord, StrategyDB
from alphaloop.store import Database, EvaluationRow, RunRecord, StrategyRow
from alphaloop.store.runs import RunLog

N_WORKERS = 8
SHARED = 10  # strategies every worker records and evaluates
OWN = 4  # strategies only one worker has
VERSIONS = 3  # model versions each worker registers under one name
APPENDS = 10  # audit entries each worker appends
RUNS = 2
DATA = "sp500-stocks"
PPY = 252.0
MODEL = "shared-model"


class Stub:
    """A saved model: a directory with its coefficient."""

    family = "stub"
    task = "regression"

    def __init__(self, coef: float) -> None:
        self.coef = coef

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return {"coef": self.coef}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True)
        (path / "model.json").write_text(json.dumps({"coef": self.coef}))
        return path


META: dict[str, Any] = {
    "features": ["mom_5"],
    "label": {"target": "forward_return", "horizon": 5},
    "dataset": DATA,
    "dataset_hash": "ab" * 32,
    "train_start": "2015-01-02",
    "train_end": "2019-12-31",
    "seed": 7,
}


def _windows(me: int) -> list[int]:
    shared = list(range(2, 2 + SHARED))
    k = me % SHARED
    own = list(range(100 + me * OWN, 100 + (me + 1) * OWN))
    return shared[k:] + own + shared[:k]  # every worker starts somewhere else


def _evaluation(strategy_hash: str, window: int) -> EvaluationRecord:
    return EvaluationRecord(
        strategy_hash=strategy_hash,
        protocol="p1",
        status="ok",
        reason=None,
        sharpe=window / 100,
        metrics={"periods_per_year": PPY},
        folds=[],
        lookahead={"clean": True},
        validation=None,
        passed=None,
        returns=None,
        provenance={"seed": 0},
        session_id=None,
    )


def _worker(url: str, schema: str | None, root: str, me: int, barrier: Any, out: Any) -> None:
    db = Database(url, schema=schema)
    sdb, registry = StrategyDB(db), ModelRegistry(db, root)
    audit, runs = AuditLog(db), RunLog(db)
    barrier.wait()
    stored, hashes, refs = [], [], []
    for i, window in enumerate(_windows(me)):
        spec = quick_spec(f"$close / Ref($close, {window}) - 1", DATA)
        hashes.append(sdb.record_strategy(spec, origin="research").hash)
        if sdb.record_evaluation(_evaluation(spec.hash, window)):
            stored.append(window)
        audit.append(f"w{me}", "test.evaluated", spec.hash, {"k": i})
        if i < VERSIONS:
            refs.append(registry.register(MODEL, Stub(me * 10 + i), **META).ref)
        if i < RUNS:
            with runs.start("stress", {"worker": me, "i": i}) as run:
                run.result = {"ok": True}
    db.dispose()
    out.put({"me": me, "stored": stored, "hashes": hashes, "refs": refs})


@pytest.mark.slow
def test_eight_writers_lose_nothing_and_duplicate_nothing(
    workspace: Workspace, tmp_path: Path
) -> None:
    db = workspace.db
    _ = db.engine  # the schema exists before the writers start
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(N_WORKERS), ctx.Queue()
    args = (db.url, db.schema, str(workspace.root))
    procs = [ctx.Process(target=_worker, args=(*args, me, barrier, out)) for me in range(N_WORKERS)]
    for p in procs:
        p.start()
    reports = sorted((out.get(timeout=300) for _ in procs), key=lambda r: r["me"])
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    # strategies: one row per distinct spec, whoever recorded it first
    expected = sorted([*range(2, 2 + SHARED), *range(100, 100 + N_WORKERS * OWN)])
    with db.session() as s:
        n_strategies = s.scalar(select(func.count()).select_from(StrategyRow))
        n_evaluations = s.scalar(select(func.count()).select_from(EvaluationRow))
        runs = s.scalars(select(RunRecord).where(RunRecord.kind == "stress")).all()
    distinct = {h for r in reports for h in r["hashes"]}
    assert n_strategies == len(distinct) == len(expected)
    # evaluations: each (strategy, protocol) stored by exactly one writer
    stored = sorted(w for r in reports for w in r["stored"])
    assert stored == expected
    assert n_evaluations == len(expected)
    sdb = StrategyDB(db)
    assert sdb.n_trials(DATA) == len(expected)
    n, mean, var = sdb.trial_sharpe_stats(DATA)
    per_period = np.array(expected) / 100 / math.sqrt(PPY)
    assert n == len(expected)
    assert mean == pytest.approx(per_period.mean())
    assert var == pytest.approx(per_period.var(ddof=1))

    # model versions: 1..N without gaps or repeats, each writer's artifacts its own
    registry = ModelRegistry(db, workspace.root)
    versions = registry.list(MODEL)
    assert [v.version for v in versions] == list(range(1, N_WORKERS * VERSIONS + 1))
    refs = [ref for r in reports for ref in r["refs"]]
    assert sorted(refs) == sorted(v.ref for v in versions)
    for v in versions:
        coef = json.loads((Path(v.artifact_path) / "model.json").read_text())["coef"]
        assert v.params == {"coef": coef}

    # the audit chain: every append there, in each writer's order, the chain intact
    log = AuditLog(db)
    check = log.verify()
    assert check.ok, check.problem
    entries = log.entries()
    assert check.n_entries == len(entries) == N_WORKERS * (SHARED + OWN)
    for r in reports:
        mine = [e.data["k"] for e in entries if e.actor == f"w{r['me']}"]
        assert mine == list(range(SHARED + OWN))
    assert len({e.actor for e in entries[: N_WORKERS * 3]}) > 1  # the writers interleaved

    # runs: every one recorded and finished
    assert len(runs) == N_WORKERS * RUNS
    assert {r.status for r in runs} == {"succeeded"}
    assert sorted((r.params["worker"], r.params["i"]) for r in runs) == sorted(
        (me, i) for me in range(N_WORKERS) for i in range(RUNS)
    )
