"""Support for the live loop's resume tests: a workspace with a model in production,
a short loop configuration, and every record a run leaves, in comparable form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from alphaloop.app import Workspace
from alphaloop.app.models import promote_model, train_from_spec
from alphaloop.models.spec import ModelSpec
from alphaloop.store import (
    LifecycleTransitionRow,
    ModelStageChangeRecord,
    ModelVersionRecord,
    PolicyChangeRow,
    StrategyStateRow,
)

MODEL = {
    "name": "tiny",
    "data": "sp500-stocks",
    "start": "2001-01-01",
    "end": "2005-12-30",
    "features": {"mom20": "$close / Ref($close, 20) - 1", "rev5": "Ref($close, 5) / $close - 1"},
    "label": {"horizon": 5},
    "model": {"family": "ridge"},
    "training": {"n_splits": 3},
}


def loop_config(prefix: str, *, end: str = "2007-06-29") -> dict[str, Any]:
    """A loop over 2006-03 to ``end`` on the Redis bus under ``prefix``: strategies enter
    shadow and go live, the learning manager retrains and judges the model."""
    return {
        "name": "resume-drill",
        "data": "sp500-stocks",
        "start": "2006-03-01",
        "end": end,
        "styles": ["momentum", "mean_reversion", "breakout"],
        "bus": {"backend": "redis", "prefix": prefix},
        "lifecycle": {"shadow_bars": 42, "review_every": 21, "min_entry_sharpe": -5.0},
        "learning": {
            "model": "tiny",
            "every": 42,
            "policy": {"retrain_every_days": 90, "max_age_days": 3650, "shadow_days": 60},
        },
    }


def prepare(root: Path) -> Workspace:
    """A workspace with the bundled data and ``tiny/v1`` in production."""
    ws = Workspace(root)
    ws.data.ensure_bundled()
    v1 = train_from_spec(ws, ModelSpec.model_validate(MODEL)).version
    promote_model(ws, v1.ref, "production")
    return ws


def _rows(ws: Workspace, row: Any, cols: list[str], order: Any) -> list[tuple[Any, ...]]:
    with ws.db.session() as s:
        return [tuple(getattr(r, c) for c in cols) for r in s.scalars(select(row).order_by(order))]


def records(ws: Workspace, *, skip: tuple[str, ...] = ("loop.resumed", "loop.reconciled")
            ) -> dict[str, Any]:  # fmt: skip
    """Every record of the run without wall-clock times: audit entries (the loop's own
    notes of a resume left out), lifecycle, policy, model versions and stage changes,
    and the final checkpoint."""
    from alphaloop.execution.audit_log import AuditLog
    from alphaloop.live.loop_state import LoopCheckpoints

    audit = [(e.actor, e.action, e.subject, json.dumps(e.payload, sort_keys=True))
             for e in AuditLog(ws.db).entries() if e.action not in skip]  # fmt: skip
    cp = LoopCheckpoints(ws.db).get("resume-drill")
    return {
        "audit": audit,
        "transitions": _rows(
            ws,
            LifecycleTransitionRow,
            ["strategy_hash", "from_state", "to_state", "event", "actor", "reason", "inputs"],
            LifecycleTransitionRow.id,
        ),
        "states": _rows(
            ws,
            StrategyStateRow,
            ["strategy_hash", "state", "transition_id"],
            StrategyStateRow.strategy_hash,
        ),
        "policy": _rows(
            ws,
            PolicyChangeRow,
            ["actor", "reason", "change", "detail", "policy"],
            PolicyChangeRow.id,
        ),
        "models": _rows(
            ws,
            ModelVersionRecord,
            [
                "ref",
                "stage",
                "train_start",
                "train_end",
                "artifact_sha256",
                "metrics",
                "supersedes",
            ],
            ModelVersionRecord.id,
        ),
        "stages": _rows(
            ws,
            ModelStageChangeRecord,
            ["model_ref", "from_stage", "to_stage", "reason"],
            ModelStageChangeRecord.id,
        ),
        "checkpoint": None if cp is None else (cp.bars_done, cp.status, cp.state),
    }


def stream(url: str, prefix: str, topic: str) -> list[tuple[str, str, str]]:
    """``(id, type, payload JSON)`` of every entry of ``topic``'s stream, in order."""
    import redis

    from alphaloop.live.bus.events import decode

    client = redis.Redis.from_url(url)
    try:
        out = []
        for _, fields in client.xrange(f"{prefix}:{topic}"):
            e = decode(fields[b"event"])
            out.append((e.id, e.type, e.payload.model_dump_json()))
        return out
    finally:
        client.close()
