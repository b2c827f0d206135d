"""Strategies (top, recent, show, genealogy), research sessions (list, progress, report),
models (registry, show with lineage and drift alerts)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from alphaloop.api.deps import context, require
from alphaloop.api.routes._common import to_json

router = APIRouter(tags=["strategies", "research", "models"], dependencies=[require("read")])

StrategyRef = Annotated[
    str,
    Path(
        min_length=6,
        max_length=64,
        pattern=r"^[0-9a-fA-F]+$",
        description="Strategy hash or a unique prefix of at least 6 hex digits.",
    ),
]
SessionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Research session id.")]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/strategies/top", name="strategies.top")
def strategies_top(
    request: Request,
    metric: Annotated[str, Query(min_length=1, max_length=60)] = "sharpe",
    limit: Limit = 10,
    data: Annotated[str | None, Query(max_length=200)] = None,
    session: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    passed_only: bool = False,
) -> dict[str, Any]:
    """The best strategies by a metric (search-span numbers), with ``n_trials`` on the
    dataset next to them: every candidate evaluated counts."""
    db = context(request).ws.strategies
    rows = db.top(
        metric, limit, dataset=data, session_id=session, passed=True if passed_only else None
    )
    trials = {d: db.n_trials(d) for d in {r.get("dataset") for r in rows} if isinstance(d, str)}
    for row in rows:  # every Sharpe with the number of strategies tried on its dataset
        row["n_trials"] = trials.get(row.get("dataset"))
    doc: dict[str, Any] = {"strategies": rows}
    if data is not None:
        doc["n_trials"] = db.n_trials(data)
    return to_json(doc)  # type: ignore[no-any-return]


@router.get("/strategies/recent", name="strategies.recent")
def strategies_recent(
    request: Request, limit: Limit = 20, data: Annotated[str | None, Query(max_length=200)] = None
) -> dict[str, Any]:
    """The latest evaluations, any outcome, newest first."""
    return to_json({"strategies": context(request).ws.strategies.recent(limit, dataset=data)})  # type: ignore[no-any-return]


@router.get("/strategies/{ref}", name="strategies.show")
def strategies_show(ref: StrategyRef, request: Request) -> dict[str, Any]:
    """One strategy: spec, classification, parents, and every evaluation with its metrics
    and validation verdict (return series left out)."""
    db = context(request).ws.strategies
    record = db.get(ref)
    parentage = db.parentage(record.hash)
    evaluations = []
    for ev in db.strategy_evaluations(record.hash):
        doc = asdict(ev)
        returns = doc.pop("returns")
        doc["n_returns"] = None if returns is None else len(returns)
        evaluations.append(doc)
    return to_json(  # type: ignore[no-any-return]
        {
            **asdict(record),
            "parents": asdict(parentage) if parentage is not None else None,
            "evaluations": evaluations,
            "n_trials": db.n_trials(record.dataset),
        }
    )


@router.get("/strategies/{ref}/genealogy", name="strategies.genealogy")
def strategies_genealogy(
    ref: StrategyRef, request: Request, depth: Annotated[int, Query(ge=1, le=10)] = 3
) -> dict[str, Any]:
    """The strategy and its ancestors ``depth`` generations up (a tree)."""
    return to_json(context(request).ws.strategies.genealogy(ref, depth))  # type: ignore[no-any-return]


# --------------------------------------------------------------- research
@router.get("/research/sessions", name="research.list")
def research_list(request: Request, limit: Limit = 20) -> dict[str, Any]:
    """Research sessions, newest first, with their number of evaluations."""
    return to_json({"sessions": context(request).ws.strategies.sessions(limit)})  # type: ignore[no-any-return]


@router.get("/research/sessions/{session_id}", name="research.show")
def research_show(session_id: SessionId, request: Request) -> dict[str, Any]:
    """One session's progress: status, budget, evaluations, and its decisions so far."""
    db = context(request).ws.strategies
    doc = db.session(session_id)
    doc["n_decisions"] = len(db.decisions(session_id))
    return to_json(doc)  # type: ignore[no-any-return]


@router.get("/research/sessions/{session_id}/report", name="research.report")
def research_report(session_id: SessionId, request: Request, limit: Limit = 50) -> dict[str, Any]:
    """A session's report: its record and its candidates by Sharpe (search span), with
    the dataset's number of trials."""
    db = context(request).ws.strategies
    doc = db.session(session_id)
    doc["candidates"] = db.top("sharpe", limit, session_id=session_id)
    dataset = doc.get("dataset") or doc.get("data")
    if isinstance(dataset, str):
        doc["n_trials"] = db.n_trials(dataset)
    return to_json(doc)  # type: ignore[no-any-return]


# ----------------------------------------------------------------- models
@router.get("/models", name="models.list")
def models_list(
    request: Request,
    name: Annotated[str | None, Query(max_length=200)] = None,
    stage: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """Registered model versions, newest first, with their out-of-sample metrics."""
    versions = context(request).ws.models.list(name=name, stage=stage)
    return to_json({"models": [v.to_dict() for v in versions]})  # type: ignore[no-any-return]


@router.get("/models/{ref:path}", name="models.show")
def models_show(
    ref: Annotated[
        str, Path(min_length=1, max_length=300, description="NAME, NAME/vN or NAME@stage.")
    ],
    request: Request,
) -> dict[str, Any]:
    """One model version: metrics, rolling segments, lineage, usage by strategies, stage
    history and drift alerts (the monitor's findings)."""
    from alphaloop.app.models import rolling_segments

    reg = context(request).ws.models
    v = reg.get(ref)
    doc = v.to_dict()
    doc["segments"] = rolling_segments(v)
    doc["lineage"] = [x.ref for x in reg.lineage(v.ref)]
    doc["usage"] = [u.to_dict() for u in reg.usage(v.ref)]
    doc["stage_history"] = [c.to_dict() for c in reg.stage_history(v.ref)]
    doc["alerts"] = [asdict(a) for a in reg.alerts(v.ref)]
    return to_json(doc)  # type: ignore[no-any-return]
