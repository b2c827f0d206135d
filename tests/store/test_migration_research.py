"""Migration 0005 builds the strategy database from the run log of an older workspace."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from alphaloop.app import Workspace
from alphaloop.backtest import quick_spec
from alphaloop.store.db import MIGRATIONS

DATA = "sp500-stocks"
RESEARCH_TABLES = (
    "research_sessions",
    "strategies",
    "strategy_parents",
    "evaluations",
    "dataset_trials",
    "agent_decisions",
)


def _spec(window: int, **over: object) -> dict:
    return quick_spec(f"$close / Ref($close, {window}) - 1", DATA, **over).model_dump(mode="json")


def _hash(spec: dict) -> str:
    from alphaloop.backtest import StrategySpec

    return StrategySpec.from_dict(spec).hash


def _insert_run(
    conn: sa.Connection, kind: str, status: str, params: dict, result: dict, error: str | None
) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO runs (kind, status, params, result, data_hashes, code_version, error, "
            "started_at, finished_at) VALUES (:kind, :status, :params, :result, :hashes, '0.1', "
            ":error, '2026-01-01 00:00:00+00:00', '2026-01-01 00:01:00+00:00')"
        ),
        {
            "kind": kind,
            "status": status,
            "params": json.dumps(params),
            "result": json.dumps(result),
            "hashes": json.dumps({DATA: "abc123"}),
            "error": error,
        },
    )


def test_runs_become_strategies_evaluations_and_trial_counts(
    tmp_path: Path, db_settings: dict[str, str]
) -> None:
    ws = Workspace(tmp_path / "ws", **db_settings)
    url, schema = ws.database_url, ws.settings.database_schema
    engine = sa.create_engine(
        url, connect_args={"options": f"-csearch_path={schema}"} if schema else {}
    )
    ok, crashed, model, holdout_only = _spec(20), _spec(40), _spec(60), _spec(80)
    model["signal"] = {"expr": None, "model": "tiny/v1", "mode": "strict"}
    long_short = _spec(120)
    long_short["portfolio"] |= {"method": "quantile_long_short", "k": None}
    long_short["limits"]["allow_short"] = True
    metrics = {"sharpe_ratio": 1.5, "periods_per_year": 252.0}
    with engine.begin() as conn:
        if schema:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")

        def run(kind: str, status: str, spec: dict, result: dict, error: str | None = None):
            params = {"spec": spec, "spec_hash": _hash(spec), "engine": "vectorized"}
            _insert_run(conn, kind, status, params, result, error)

        run("backtest", "failed", ok, {}, "RuntimeError: first try")
        run("backtest", "succeeded", ok, {"metrics": metrics})
        run("validate", "succeeded", ok, {"passed": False})
        run("backtest", "failed", crashed, {}, "RuntimeError: simulator crashed")
        run("backtest", "succeeded", model, {"metrics": {"sharpe_ratio": -0.5}})
        run("backtest", "succeeded", long_short, {"metrics": metrics | {"sharpe_ratio": 0.5}})
        run("holdout", "succeeded", holdout_only, {"metrics": {"sharpe_ratio": 9.0}})
        _insert_run(
            conn, "demo", "succeeded", {"datasets": [DATA]}, {}, None
        )  # no spec: not a trial
    engine.dispose()

    sdb = ws.strategies  # opening the workspace migrates it
    assert sdb.n_trials(DATA) == 5
    n, mean, var = sdb.trial_sharpe_stats(DATA)
    assert n == 2  # the two ok evaluations with periods_per_year
    per_period = [1.5 / math.sqrt(252), 0.5 / math.sqrt(252)]
    assert mean == pytest.approx(sum(per_period) / 2)
    assert var == pytest.approx((per_period[0] - per_period[1]) ** 2 / 2)

    first = sdb.evaluation(_hash(ok), "backtest")
    assert first is not None
    assert (first.status, first.sharpe, first.reason) == ("ok", 1.5, None)
    assert first.provenance["data_hash"] == "abc123"
    failed = sdb.evaluation(_hash(crashed), "backtest")
    assert failed is not None
    assert failed.status == "failed"
    assert "simulator crashed" in (failed.reason or "")
    assert failed.sharpe is None
    held = sdb.evaluation(_hash(holdout_only), "backtest")
    assert held is not None
    assert held.sharpe is None  # holdout numbers are not copied into the search record
    assert held.metrics == {}

    record = sdb.get(_hash(model))
    assert (record.kind, record.models, record.origin) == ("pure_ml", ["tiny/v1"], "manual")
    assert sdb.get(_hash(ok)).kind == "pure_technical"
    assert sdb.get(_hash(long_short)).logic == "long_short"
    assert {row["hash"] for row in sdb.top(limit=10)} == {
        _hash(ok),
        _hash(model),
        _hash(long_short),
    }
    with ws.db.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == ScriptDirectory.from_config(cfg).get_current_head()
    ws.close()


def test_an_empty_run_log_migrates_to_no_trials(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        assert ws.strategies.n_trials(DATA) == 0
        assert ws.strategies.trial_sharpe_stats(DATA) == (0, 0.0, 0.0)
        assert ws.strategies.top() == []


def test_the_migrated_tables_match_the_models(workspace: Workspace) -> None:
    from alphaloop.store.models import Base

    schema = workspace.settings.database_schema
    inspector = sa.inspect(workspace.db.engine)
    for name in RESEARCH_TABLES:
        model = Base.metadata.tables[name]
        columns = {c["name"]: c for c in inspector.get_columns(name, schema=schema)}
        assert set(columns) == {c.name for c in model.columns}, name
        for column in model.columns:
            assert columns[column.name]["nullable"] == column.nullable, (name, column.name)
        primary = inspector.get_pk_constraint(name, schema=schema)["constrained_columns"]
        assert set(primary) == {c.name for c in model.primary_key}, name
