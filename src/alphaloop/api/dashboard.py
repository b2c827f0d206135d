"""Reading endpoints the dashboard needs beyond the resource routes (``/api/v1/web/...``).

- ``GET /web/leaderboard``: the best strategies with, next to every Sharpe, the
  deflated Sharpe ratio with the dataset's trial count *now*, the probability
  of backtest overfitting of the session that produced it (when it came from a
  search) and the number of trials.
- ``GET /web/strategies/{hash}/equity``: the growth of 1 over the strategy's
  stored returns (simple returns, compounded), at most ``points`` points.
- ``GET /web/strategies/{hash}/lifecycle``: its lifecycle state and transitions.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from alphaloop.api.deps import context, require
from alphaloop.api.routes._common import to_json

__all__ = ["router"]

router = APIRouter(tags=["dashboard"], dependencies=[require("read")])

StrategyRef = Annotated[
    str,
    Path(min_length=6, max_length=64, pattern=r"^[0-9a-fA-F]+$",
         description="Strategy hash or a unique prefix of at least 6 hex digits."),
]  # fmt: skip


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def _gate(validation: dict[str, Any] | None, name: str) -> float | None:
    for g in (validation or {}).get("gates", []):
        if g.get("name") == name:
            return _finite(g.get("value"))
    return None


@router.get("/web/leaderboard", name="web.leaderboard")
def leaderboard(
    request: Request,
    data: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """The best strategies on ``data`` by Sharpe ratio (search span), each with ``dsr``
    (deflated with the dataset's trial count now; None when no returns are stored),
    ``pbo`` (its session's, None for a strategy not from a search) and ``n_trials``."""
    from alphaloop.app.lifecycle_inputs import deflated_now

    ws = context(request).ws
    db = ws.strategies
    n_trials = db.n_trials(data)
    rows = []
    for row in db.top("sharpe", limit, dataset=data):
        ev = db.evaluation(row["hash"], row["protocol"])
        validation = ev.validation if ev is not None else None
        deflated = deflated_now(ws, row["hash"], data, {"protocol": row["protocol"]})
        pbo = (validation or {}).get("session_pbo")
        rows.append(
            {
                "hash": row["hash"],
                "name": row["name"],
                "kind": row["kind"],
                "origin": row["origin"],
                "session_id": row["session_id"],
                "protocol": row["protocol"],
                "sharpe": _finite(row["sharpe"]),
                "dsr": _finite(deflated.get("dsr")),
                "dsr_at_validation": _gate(validation, "dsr"),
                "pbo": _finite(pbo) if pbo is not None else _gate(validation, "pbo"),
                "passed": row["passed"],
                "n_trials": n_trials,
            }
        )
    return to_json({"dataset": data, "n_trials": n_trials, "strategies": rows})  # type: ignore[no-any-return]


@router.get("/web/strategies/{ref}/equity", name="web.strategy_equity")
def strategy_equity(
    ref: StrategyRef,
    request: Request,
    points: Annotated[int, Query(ge=2, le=2000)] = 400,
) -> dict[str, Any]:
    """Growth of 1 over the stored returns of the strategy's latest evaluation that kept
    them (``protocol`` says which); ``values`` is empty when none did."""
    db = context(request).ws.strategies
    record = db.get(ref)
    import numpy as np

    values: list[float] = []
    protocol = None
    for ev in reversed(db.strategy_evaluations(record.hash)):
        if ev.returns is not None and len(ev.returns):
            protocol = ev.protocol
            r = np.asarray(ev.returns, dtype=float)
            growth = np.cumprod(1.0 + np.where(np.isfinite(r), r, 0.0))
            values = [float(x) for x in growth]
            break
    step = max(1, math.ceil(len(values) / points))
    sampled = values[::step]
    if values and sampled[-1] != values[-1]:
        sampled.append(values[-1])
    return {"hash": record.hash, "protocol": protocol, "n": len(values), "values": sampled}


@router.get("/web/strategies/{ref}/lifecycle", name="web.strategy_lifecycle")
def strategy_lifecycle(ref: StrategyRef, request: Request) -> dict[str, Any]:
    """The strategy's lifecycle state (``backtest`` before its first move) and every
    transition, oldest first."""
    from alphaloop.app.lifecycle import lifecycle_store

    ws = context(request).ws
    record = ws.strategies.get(ref)
    store = lifecycle_store(ws)
    history = [t.to_dict() for t in store.transitions(record.hash)]
    return to_json(  # type: ignore[no-any-return]
        {"hash": record.hash, "state": store.get(record.hash).to_dict(), "history": history}
    )
