"""What a background job can be: one function per kind, over the workspace, run in a worker.

Each kind is ``fn(ws, params, progress) -> dict``: the same application
calls the CLI and the MCP server make (no logic of its own here), with
``progress`` (see :mod:`alphaloop.progress`) reported to the job's record.
Parameters arrive as plain JSON (already validated by the route's request
model). The mapping is explicit so that grep finds every kind.

A kind may also have an ``after_stop(ws, job)`` hook (:data:`AFTER_STOP`),
which the job manager calls in the server when a job of that kind ends
without finishing (cancelled, interrupted by a restart, its worker killed):
the work's own records are put right there, since a killed worker cannot
do it itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from alphaloop.progress import Progress

if TYPE_CHECKING:
    from alphaloop.app import Workspace

__all__ = ["AFTER_STOP", "JOB_KINDS", "AfterStop", "JobFn", "JobProgress", "research_session_id"]


class JobProgress(Progress, Protocol):
    """What a job reports: ``progress(step, done, total)`` (see :mod:`alphaloop.progress`)
    and ``progress.note(detail)`` for a JSON-ready summary of the work so far (a research
    session's batch: candidates evaluated, passed, rejections by reason, the best so far)."""

    def note(self, detail: dict[str, Any]) -> None: ...


JobFn = Callable[["Workspace", dict[str, Any], JobProgress], dict[str, Any]]
AfterStop = Callable[["Workspace", dict[str, Any]], None]


def _spec(params: dict[str, Any]) -> Any:
    from alphaloop.backtest import StrategySpec

    return StrategySpec.from_dict(params["spec"], source="spec")


def factor_evaluate(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Evaluate one factor expression: coverage and summary statistics."""
    from alphaloop.app import evaluate_dataset

    progress("evaluating factor", 0, 1)
    expr = params["expression"]
    result = evaluate_dataset(
        ws.data,
        {expr: expr},
        params["data"],
        start=params.get("start"),
        end=params.get("end"),
        mode=params.get("compat", "strict"),
        workspace=ws,
    )
    progress("evaluating factor", 1, 1)
    summary = result.summary()
    summary["factor"] = summary.pop("factors")[expr]
    return summary


def factor_analyze(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Analyze a factor or a library against forward returns on the search span."""
    from alphaloop.app import analyze_dataset

    result = analyze_dataset(
        ws.data,
        params["target"],
        params["data"],
        horizon=params.get("horizon", 1),
        quantiles=params.get("quantiles", 5),
        start=params.get("start"),
        end=params.get("end"),
        mode=params.get("compat", "strict"),
        library_root=ws.root,
        workspace=ws,
        progress=progress,
    )
    return result.to_dict()


def backtest(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Backtest a spec (costs on, next-bar fills unless the spec says otherwise), recorded."""
    from alphaloop.app import run_backtest
    from alphaloop.backtest import render_backtest_report

    progress("backtest", 0, 1)
    result = run_backtest(ws, _spec(params), engine=params.get("engine", "vectorized"))
    progress("backtest", 1, 1)
    doc = result.to_dict(max_trades=0)
    doc.pop("round_trips", None)
    page = Path(params["_job_dir"]) / "tearsheet.html"
    render_backtest_report(result, page)
    doc["tearsheet"] = page.name
    return doc


def validate(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Validate a spec on the search span: DSR with every trial, PBO, walk-forward, gates."""
    from alphaloop.app import validate_spec

    return validate_spec(ws, _spec(params), progress=progress).to_dict()


def research(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """A research session to its budget (progress once per batch).

    The session's id is noted as soon as the session is stored (``progress.detail.
    session_id``, kept in every batch's note), so that the session can be stopped
    through its job and put right if the job ends without finishing it."""
    from alphaloop.app.research import start_research
    from alphaloop.research.session_config import SessionConfig

    config = SessionConfig(**params.get("config", {}))
    session: dict[str, int] = {}

    def on_session(session_id: int) -> None:
        session["session_id"] = session_id
        progress.note({"session_id": session_id})
        progress("research: candidates evaluated", 0, config.budget)

    def on_batch(report: Any) -> None:
        progress.note(
            {
                **session,
                "batch": report.batch,
                "evaluated": report.evaluated,
                "reused": report.reused,
                "ok": report.ok,
                "failed": report.failed,
                "passed": report.passed,
                "rejections": dict(report.rejections),
                "best": report.best,
                "elapsed_s": report.elapsed,
            }
        )
        progress("research: candidates evaluated", report.evaluated, config.budget)

    result = start_research(
        ws, params["goal"], params["data"], config, on_batch=on_batch, on_session=on_session
    )
    return result.to_dict()


def research_session_id(job: dict[str, Any]) -> int | None:
    """The research session a research job runs (from its progress note), None before the
    session is stored (or for a job of another kind)."""
    if job.get("kind") != "research":
        return None
    detail = (job.get("progress") or {}).get("detail") or {}
    value = detail.get("session_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def research_after_stop(ws: Workspace, job: dict[str, Any]) -> None:
    """A research job ended without finishing: its session, if still recorded ``running``,
    becomes ``interrupted`` (a finished or failed session is never changed; resume an
    interrupted one with ``alphaloop research resume SESSION``)."""
    session_id = research_session_id(job)
    if session_id is not None:
        ws.strategies.interrupt_session(session_id)


def risk_report(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """A strategy's risk report (VaR/ES with their backtests, stress, contributions), recorded."""
    from alphaloop.app import risk_report as report

    progress("risk report", 0, 1)
    doc = report(
        ws,
        _spec(params),
        confidence=params.get("confidence", 0.99),
        window=params.get("window", 250),
        seed=params.get("seed", 0),
    ).to_dict()
    progress("risk report", 1, 1)
    return doc


def model_monitor(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Drift of a registered model (IC drop, feature PSI) since its training; alerts recorded."""
    from alphaloop.app import monitor_model

    progress("model monitor", 0, 1)
    result = monitor_model(ws, params["ref"], params.get("data"))
    progress("model monitor", 1, 1)
    return result.to_dict()  # type: ignore[no-any-return]


JOB_KINDS: dict[str, JobFn] = {
    "factor.evaluate": factor_evaluate,
    "factor.analyze": factor_analyze,
    "backtest": backtest,
    "validate": validate,
    "research": research,
    "risk.report": risk_report,
    "model.monitor": model_monitor,
}
"""Job kind -> its function."""


AFTER_STOP: dict[str, AfterStop] = {
    "research": research_after_stop,
}
"""Job kind -> what the server does when a job of that kind ends without finishing."""
