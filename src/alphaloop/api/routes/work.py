"""Work as background jobs: factor evaluation and analysis, backtests, validations, research
sessions (start, stop); the jobs themselves (status, result, tearsheet, cancel); the run log.

Submitting answers 202 with the job (``id``, ``status: queued``); follow it at
``GET /jobs/{id}`` or on the WebSocket topic ``job``. Specs are checked when
submitted (a bad spec is a 422 at once, never a failed job).
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from alphaloop.api.deps import Principal, Researcher, audit_note, context, require
from alphaloop.api.errors import ConflictError, NotFoundError
from alphaloop.api.job_kinds import research_session_id
from alphaloop.api.routes._common import Body, JobOut, Reasoned, to_json

router = APIRouter(tags=["jobs"])

JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Job id.")]
SessionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Research session id.")]
Dataset = Annotated[str, Field(min_length=1, max_length=200, description="Dataset name.")]
IsoDate = Annotated[str | None, Field(None, max_length=40, description="ISO date.")]
Compat = Literal["strict", "qlib"]


class FactorEvaluate(Reasoned):
    expression: str = Field(min_length=1, max_length=5000, description="Factor expression.")
    data: Dataset
    start: IsoDate = None
    end: IsoDate = None
    compat: Compat = "strict"


class FactorAnalyze(Reasoned):
    target: str = Field(
        min_length=1, max_length=5000, description="A factor expression or a library's name."
    )
    data: Dataset
    horizon: int = Field(1, ge=1, le=252, description="Forward-return horizon in bars.")
    quantiles: int = Field(5, ge=2, le=20)
    start: IsoDate = None
    end: IsoDate = None
    compat: Compat = "strict"


class SpecBody(Reasoned):
    spec: dict[str, Any] = Field(
        description="A strategy spec (name, data, signal, portfolio, rebalance, fills, costs, "
        "...), as in a spec file."
    )


class BacktestBody(SpecBody):
    engine: Literal["vectorized", "event"] = "vectorized"


class RiskReportBody(SpecBody):
    confidence: float = Field(0.99, gt=0.5, lt=1.0, description="VaR/ES confidence level.")
    window: int = Field(250, ge=20, le=5000, description="Rolling window of the forecasts, bars.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the simulations.")


class MonitorBody(Reasoned):
    ref: str = Field(min_length=1, max_length=300, description="NAME, NAME/vN or NAME@stage.")
    data: str | None = Field(None, max_length=200, description="Dataset; default its own.")


class ResearchStart(Reasoned):
    goal: str = Field(min_length=1, max_length=2000, description="What to look for, in words.")
    data: Dataset
    budget: int = Field(20, ge=1, le=10_000, description="Candidates to evaluate.")
    batch_size: int = Field(8, ge=1, le=256, description="Candidates per batch.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the search.")


class ResearchStop(Body):
    reason: str = Field(min_length=1, max_length=2000, description="Why (required, audited).")


class ResearchStopOut(BaseModel):
    """A research session being stopped: its record and its (now cancelled) job."""

    session: dict[str, Any]
    job: JobOut


def _check_spec(spec: dict[str, Any]) -> None:
    from alphaloop.backtest import StrategySpec

    StrategySpec.from_dict(spec, source="spec")  # SpecError (422) with the field


def _submit(
    request: Request, who: Principal, kind: str, params: dict[str, Any], reason: str
) -> Any:
    job = context(request).jobs.submit(kind, params, who.name)
    audit_note(request, f"job:{job['id']}", reason, {"kind": kind})
    return job


@router.post("/factors/evaluate", name="factors.evaluate", response_model=JobOut, status_code=202)
def factors_evaluate(body: FactorEvaluate, request: Request, who: Researcher) -> dict[str, Any]:
    """Evaluate a factor expression on a dataset's search span, as a job."""
    from alphaloop.factors import parse

    parse(body.expression)  # ExpressionError (422) at once
    params = body.model_dump(exclude={"reason"})
    return _submit(request, who, "factor.evaluate", params, body.reason)  # type: ignore[no-any-return]


@router.post("/factors/analyze", name="factors.analyze", response_model=JobOut, status_code=202)
def factors_analyze(body: FactorAnalyze, request: Request, who: Researcher) -> dict[str, Any]:
    """Analyze a factor or a library (IC, rank IC, decay, turnover, quantiles, multiple
    testing) on the search span, as a job."""
    params = body.model_dump(exclude={"reason"})
    return _submit(request, who, "factor.analyze", params, body.reason)  # type: ignore[no-any-return]


@router.get("/factors/libraries", name="factors.libraries", dependencies=[require("read")])
def factor_libraries(request: Request) -> dict[str, Any]:
    """Built-in and workspace factor libraries with their factors' formulas."""
    from alphaloop.factors import list_libraries

    libs = list_libraries(context(request).ws.root)
    return to_json({"libraries": [lib.to_dict() for lib in libs]})  # type: ignore[no-any-return]


@router.post("/backtests", name="backtests.submit", response_model=JobOut, status_code=202)
def backtests_submit(body: BacktestBody, request: Request, who: Researcher) -> dict[str, Any]:
    """Backtest a spec (costs on, next-bar fills unless the spec says otherwise) as a job;
    recorded as a run and a trial. The result links an HTML tearsheet."""
    _check_spec(body.spec)
    params = {"spec": body.spec, "engine": body.engine}
    return _submit(request, who, "backtest", params, body.reason)  # type: ignore[no-any-return]


@router.post("/validations", name="validations.submit", response_model=JobOut, status_code=202)
def validations_submit(body: SpecBody, request: Request, who: Researcher) -> dict[str, Any]:
    """Validate a spec (deflated Sharpe with every trial counted, PBO, walk-forward, SPA,
    gates) on the search span, as a job."""
    _check_spec(body.spec)
    return _submit(request, who, "validate", {"spec": body.spec}, body.reason)  # type: ignore[no-any-return]


@router.post("/research/sessions", name="research.start", response_model=JobOut, status_code=202)
def research_start(body: ResearchStart, request: Request, who: Researcher) -> dict[str, Any]:
    """Start a research session as a job; the job's ``progress.detail.session_id`` names
    the session as soon as it is stored (stop it with ``POST /research/sessions/{id}/stop``)."""
    # one process per session: the job pool already runs several jobs side by side
    config = {"budget": body.budget, "batch_size": body.batch_size, "seed": body.seed, "workers": 1}
    params = {"goal": body.goal, "data": body.data, "config": config}
    return _submit(request, who, "research", params, body.reason)  # type: ignore[no-any-return]


@router.post(
    "/research/sessions/{session_id}/stop", name="research.stop", response_model=ResearchStopOut
)
def research_stop(
    session_id: SessionId, body: ResearchStop, request: Request, _: Researcher
) -> dict[str, Any]:
    """Stop a running research session run by a job of this service: the job is cancelled
    (its worker is interrupted as by Ctrl-C) and the session recorded ``interrupted``
    (its trials stay counted; ``alphaloop research resume ID`` runs it on). 404 for an
    unknown session; 409 when it is not running, or runs elsewhere than in this service."""
    ctx = context(request)
    session = ctx.ws.strategies.session(session_id)  # ResearchSessionNotFoundError: 404
    if session["status"] != "running":
        raise ConflictError(
            f"research session {session_id} is {session['status']}, not running; "
            "there is nothing to stop",
            hint=f"`alphaloop research resume {session_id}` runs an interrupted session on"
            if session["status"] == "interrupted"
            else None,
        )
    running = ctx.jobs.list(status="running", kind="research", limit=500)
    jobs = [j for j in running if research_session_id(j) == session_id]
    if not jobs:
        raise ConflictError(
            f"research session {session_id} is running, but not in a job of this service",
            hint="stop it where it runs: Ctrl-C (SIGINT) in the process that runs it "
            "(e.g. `alphaloop research`); it records itself as interrupted",
        )
    job = ctx.jobs.cancel(jobs[0]["id"])
    audit_note(request, f"research:{session_id}", body.reason, {"job": job["id"]})
    return to_json({"session": ctx.ws.strategies.session(session_id), "job": job})  # type: ignore[no-any-return]


@router.post("/risk/reports", name="risk.report", response_model=JobOut, status_code=202)
def risk_report_submit(body: RiskReportBody, request: Request, who: Researcher) -> dict[str, Any]:
    """A strategy's risk report as a job: VaR and ES with their backtests, stress scenarios,
    risk contributions (the backtest is recorded as a trial)."""
    _check_spec(body.spec)
    params = body.model_dump(exclude={"reason"})
    return _submit(request, who, "risk.report", params, body.reason)  # type: ignore[no-any-return]


@router.post("/models/monitor", name="models.monitor", response_model=JobOut, status_code=202)
def model_monitor_submit(body: MonitorBody, request: Request, who: Researcher) -> dict[str, Any]:
    """Check a model for drift as a job (IC drop against its out-of-sample IC, feature PSI);
    alerts are recorded with the model."""
    context(request).ws.models.get(body.ref)  # unknown model: 404 at once
    params = body.model_dump(exclude={"reason"})
    return _submit(request, who, "model.monitor", params, body.reason)  # type: ignore[no-any-return]


# ------------------------------------------------------------------- jobs
@router.get("/jobs", name="jobs.list", dependencies=[require("read")])
def jobs_list(
    request: Request,
    status: Annotated[
        Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"] | None,
        Query(),
    ] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Jobs, newest first."""
    return to_json({"jobs": context(request).jobs.list(status=status, kind=kind, limit=limit)})  # type: ignore[no-any-return]


@router.get(
    "/jobs/{job_id}", name="jobs.show", response_model=JobOut, dependencies=[require("read")]
)
def jobs_show(job_id: JobId, request: Request) -> dict[str, Any]:
    """A job's status and progress (``progress``: step, done, total)."""
    return to_json(context(request).jobs.get(job_id))  # type: ignore[no-any-return]


@router.get(
    "/jobs/{job_id}/result",
    name="jobs.result",
    response_model=JobOut,
    dependencies=[require("read")],
)
def jobs_result(job_id: JobId, request: Request) -> dict[str, Any]:
    """A finished job's result (409 while it runs)."""
    job = context(request).jobs.get(job_id, with_result=True)
    if job["status"] in ("queued", "running"):
        raise ConflictError(f"job {job_id} is {job['status']}; no result yet")
    return to_json(job)  # type: ignore[no-any-return]


@router.get(
    "/jobs/{job_id}/tearsheet",
    name="jobs.tearsheet",
    dependencies=[require("read")],
    response_class=HTMLResponse,
)
def jobs_tearsheet(job_id: JobId, request: Request) -> HTMLResponse:
    """The HTML tearsheet of a finished backtest job."""
    ctx = context(request)
    job = ctx.jobs.get(job_id, with_result=True)
    name = (job.get("result") or {}).get("tearsheet")
    if job["kind"] != "backtest" or job["status"] != "succeeded" or not name:
        raise NotFoundError(f"job {job_id} has no tearsheet (a succeeded backtest job has one)")
    page = FsPath(ctx.ws.root) / "service" / "jobs" / str(job_id) / FsPath(name).name
    if not page.is_file():
        raise NotFoundError(f"the tearsheet of job {job_id} is no longer on disk")
    return HTMLResponse(page.read_text(encoding="utf-8"))


@router.post("/jobs/{job_id}/cancel", name="jobs.cancel", response_model=JobOut)
def jobs_cancel(job_id: JobId, body: Reasoned, request: Request, _: Researcher) -> dict[str, Any]:
    """Cancel a queued or running job (a running one's process is stopped)."""
    job = context(request).jobs.cancel(job_id)
    audit_note(request, f"job:{job_id}", body.reason, {"kind": job["kind"]})
    return to_json(job)  # type: ignore[no-any-return]


# ------------------------------------------------------------------- runs
@router.get("/runs", name="runs.list", dependencies=[require("read")])
def runs_list(
    request: Request,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> dict[str, Any]:
    """Recent runs in the run log (backtests, validations, ...), newest first."""
    return to_json({"runs": context(request).ws.runs.list(kind, limit)})  # type: ignore[no-any-return]


@router.get("/runs/{run_id}", name="runs.show", dependencies=[require("read")])
def runs_show(run_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request) -> dict[str, Any]:
    """One run: parameters, result, data hashes, outcome and times."""
    return to_json(context(request).ws.runs.get(run_id))  # type: ignore[no-any-return]
