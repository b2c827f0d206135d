"""Strategy database: research sessions, strategies, parentage, evaluations, trial
counters and agent decisions; backfilled from the run log.

Every run that recorded a strategy spec (``params`` with ``spec_hash`` and
``spec``: backtests, validations, holdout evaluations) becomes one strategy
(origin ``manual``) with one evaluation under the ``backtest`` protocol, taken
from its first backtest run (a succeeded one when there is one): ``ok`` with
its Sharpe ratio when that run succeeded, else ``failed`` with its error. A
strategy only ever run on the sealed holdout keeps no holdout numbers (its
evaluation carries no metrics), but it was tried, so it counts. The trial
counter of each dataset is the number of those strategies, with the sums of
their per-period Sharpe ratios (``sharpe_ratio / sqrt(periods_per_year)``)
where known.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
BACKTEST = "backtest"
# the kinds of run whose numbers are not search-span backtests, ranked after the others
_KIND_RANK = {"validate": 1, "holdout": 2}


def upgrade() -> None:
    op.create_table(
        "research_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("constraints", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("n_batches", sa.Integer(), nullable=False),
        sa.Column("models_start", sa.JSON(), nullable=False),
        sa.Column("models_end", sa.JSON(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("holdout", sa.JSON(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
    )
    op.create_index("ix_research_sessions_dataset", "research_sessions", ["dataset"])
    strategies = op.create_table(
        "strategies",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("family", sa.String(100), nullable=False),
        sa.Column("logic", sa.String(50), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("recipe", sa.JSON(), nullable=True),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["research_sessions.id"], name="fk_strategies_session_id"
        ),
    )
    op.create_index("ix_strategies_dataset", "strategies", ["dataset"])
    op.create_index("ix_strategies_session_id", "strategies", ["session_id"])
    op.create_table(
        "strategy_parents",
        sa.Column("child_hash", sa.String(64), primary_key=True),
        sa.Column("parent_hash", sa.String(64), nullable=True),
        sa.Column("second_parent_hash", sa.String(64), nullable=True),
        sa.Column("operator", sa.String(50), nullable=False),
        sa.Column("exploration", sa.JSON(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_hash"], ["strategies.hash"], name="fk_strategy_parents_child_hash"
        ),
    )
    op.create_index("ix_strategy_parents_parent_hash", "strategy_parents", ["parent_hash"])
    evaluations = op.create_table(
        "evaluations",
        sa.Column("strategy_hash", sa.String(64), primary_key=True),
        sa.Column("protocol", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sharpe", sa.Float(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("folds", sa.JSON(), nullable=False),
        sa.Column("lookahead", sa.JSON(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("returns", sa.LargeBinary(), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_hash"], ["strategies.hash"], name="fk_evaluations_strategy_hash"
        ),
    )
    op.create_index("ix_evaluations_sharpe", "evaluations", ["sharpe"])
    op.create_index("ix_evaluations_session_id", "evaluations", ["session_id"])
    trials = op.create_table(
        "dataset_trials",
        sa.Column("dataset", sa.String(200), primary_key=True),
        sa.Column("n_trials", sa.Integer(), nullable=False),
        sa.Column("n_sr", sa.Integer(), nullable=False),
        sa.Column("sum_sr", sa.Float(), nullable=False),
        sa.Column("sum_sr2", sa.Float(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "agent_decisions",
        sa.Column("session_id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(20), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("operator", sa.String(50), nullable=False),
        sa.Column("strategy_hash", sa.String(64), nullable=True),
        sa.Column("parents", sa.JSON(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("trials_before", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["research_sessions.id"], name="fk_agent_decisions_session_id"
        ),
    )
    op.create_index("ix_agent_decisions_strategy_hash", "agent_decisions", ["strategy_hash"])
    _backfill(strategies, evaluations, trials)


def downgrade() -> None:
    op.drop_table("agent_decisions")
    op.drop_table("dataset_trials")
    op.drop_table("evaluations")
    op.drop_table("strategy_parents")
    op.drop_table("strategies")
    op.drop_table("research_sessions")


# ------------------------------------------------------------------ backfill
_RUNS = sa.table(
    "runs",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("status", sa.String()),
    sa.column("params", sa.JSON()),
    sa.column("result", sa.JSON()),
    sa.column("data_hashes", sa.JSON()),
    sa.column("code_version", sa.String()),
    sa.column("error", sa.Text()),
    sa.column("started_at", TZ),
    sa.column("finished_at", TZ),
)


def _backfill(strategies: sa.Table, evaluations: sa.Table, trials: sa.Table) -> None:
    conn = op.get_bind()
    by_hash: dict[str, list[Any]] = {}
    for run in conn.execute(sa.select(_RUNS).order_by(_RUNS.c.id)):
        params = run.params or {}
        spec, spec_hash = params.get("spec"), params.get("spec_hash")
        if isinstance(spec_hash, str) and isinstance(spec, dict) and spec.get("data"):
            by_hash.setdefault(spec_hash, []).append(run)
    now = datetime.now(UTC)
    strategy_rows, evaluation_rows = [], []
    counters: dict[str, dict[str, Any]] = {}
    for spec_hash, runs in by_hash.items():
        spec = runs[0].params["spec"]
        dataset = str(spec["data"])
        signal = spec.get("signal") or {}
        model = signal.get("model")
        method = (spec.get("portfolio") or {}).get("method", "top_k")
        strategy_rows.append(
            {
                "hash": spec_hash,
                "dataset": dataset,
                "name": str(spec.get("name") or "strategy")[:200],
                "spec": spec,
                "kind": "pure_ml" if model else "pure_technical",
                "family": "custom",
                "logic": "long_short" if method == "quantile_long_short" else str(method),
                "models": [model] if model else [],
                "recipe": None,
                "origin": "manual",
                "session_id": None,
                "created_at": runs[0].started_at or now,
            }
        )
        row, sr_per_period = _evaluation(spec_hash, dataset, runs, now)
        evaluation_rows.append(row)
        counter = counters.setdefault(
            dataset,
            {"dataset": dataset, "n_trials": 0, "n_sr": 0, "sum_sr": 0.0, "sum_sr2": 0.0},
        )
        counter["n_trials"] += 1
        if sr_per_period is not None:
            counter["n_sr"] += 1
            counter["sum_sr"] += sr_per_period
            counter["sum_sr2"] += sr_per_period**2
    if strategy_rows:
        conn.execute(strategies.insert(), strategy_rows)
        conn.execute(evaluations.insert(), evaluation_rows)
        conn.execute(trials.insert(), [c | {"updated_at": now} for c in counters.values()])


def _evaluation(
    spec_hash: str, dataset: str, runs: list[Any], now: datetime
) -> tuple[dict[str, Any], float | None]:
    """The ``backtest`` evaluation of a strategy from its runs, and its per-period Sharpe."""
    run = min(runs, key=lambda r: (_KIND_RANK.get(r.kind, 0), r.status != "succeeded", r.id))
    ok = run.status == "succeeded"
    metrics = (run.result or {}).get("metrics") if run.kind != "holdout" else None
    metrics = metrics if isinstance(metrics, dict) else {}
    sharpe = _finite(metrics.get("sharpe_ratio")) if ok else None
    ppy = _finite(metrics.get("periods_per_year"))
    per_period = sharpe / math.sqrt(ppy) if sharpe is not None and ppy and ppy > 0 else None
    reason = None
    if not ok:
        reason = run.error or f"run {run.id} ended {run.status}"
    elif run.kind == "holdout":
        reason = "tried on the sealed holdout only; its holdout numbers are not copied here"
    row = {
        "strategy_hash": spec_hash,
        "protocol": BACKTEST,
        "status": "ok" if ok else "failed",
        "reason": reason,
        "sharpe": sharpe,
        "metrics": metrics if ok else {},
        "folds": [],
        "lookahead": {},
        "validation": None,
        "passed": None,
        "returns": None,
        "provenance": {
            "data_hash": (run.data_hashes or {}).get(dataset),
            "code_version": run.code_version,
            "seed": None,
            "engine": (run.params or {}).get("engine"),
            "run_id": run.id,
            "backfilled": True,
        },
        "session_id": None,
        "created_at": run.finished_at or run.started_at or now,
    }
    return row, per_period if ok else None


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
