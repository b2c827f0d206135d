"""Health, Prometheus metrics and the system overview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from alphaloop import __version__
from alphaloop.api.deps import context, require
from alphaloop.api.routes._common import to_json

router = APIRouter(tags=["system"])


@router.get("/health", name="health")
def health(request: Request) -> dict[str, Any]:
    """Liveness and the database's reachability (no credentials needed; says nothing else)."""
    ctx = context(request)
    try:
        with ctx.ws.db.session() as s:
            s.connection().exec_driver_sql("SELECT 1")
        db = "ok"
    except Exception:
        db = "unreachable"
    return {"status": "ok" if db == "ok" else "degraded", "version": __version__, "database": db}


@router.get(
    "/metrics",
    name="metrics",
    dependencies=[require("read")],
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics (text exposition format): requests, latency, WebSocket clients,
    jobs by status."""
    ctx = context(request)
    m = request.app.state.metrics
    m.ws_clients.set(ctx.hub.clients)
    counts: dict[str, int] = {}
    for job in ctx.jobs.list(limit=1000):
        counts[job["status"]] = counts.get(job["status"], 0) + 1
    for status in ("queued", "running", "succeeded", "failed", "cancelled", "interrupted"):
        m.jobs.labels(status).set(counts.get(status, 0))
    return Response(m.render(), media_type="text/plain; version=0.0.4")


@router.get("/status", name="status", dependencies=[require("read")])
def status(request: Request) -> dict[str, Any]:
    """The overview: risk mode, blocked names, strategies by lifecycle state, open paper
    and live sessions, production models and their ages, pending approvals, active kills."""
    from alphaloop.app.status import system_status

    return to_json(system_status(context(request).ws))  # type: ignore[no-any-return]
